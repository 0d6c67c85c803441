/*
 * Process facts from /proc: see procinfo.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "sys/procinfo.h"

/* Read /proc/PID/stat; returns the part after the command's ')'. */
static int
procinfo_stat(pid_t pid, char *buf, size_t size, const char **rest)
{
	char	path[64];
	ssize_t	n;
	char	*p;
	int	fd;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -ESRCH;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = '\0';
	/* The command may contain anything, ')' included: take the last. */
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return -EINVAL;
	*rest = p + 2;
	return 0;
}

/*
 * Fields want[0..n-1] (ascending: 3 the state, 4 the parent, 6 the
 * session, 22 the start time ...) of /proc/PID/stat, each a number in
 * [0, max], from one read.  -ESRCH for a zombie: it is not alive.
 */
static int
procinfo_fields(pid_t pid, const int *want, size_t n, int64_t max,
    int64_t *ret)
{
	char		 buf[1024], num[32];
	const char	*p;
	int64_t		 v[8];
	size_t		 len, i;
	int		 field = 3, r;

	if (pid <= 0)
		return -ESRCH;
	if (n > sizeof v / sizeof v[0])
		return -EINVAL;
	if ((r = procinfo_stat(pid, buf, sizeof buf, &p)) < 0)
		return r;
	if (*p == 'Z' || *p == 'X')
		return -ESRCH;
	for (i = 0; i < n; i++) {
		for (; field < want[i]; field++) {
			if ((p = strchr(p, ' ')) == NULL)
				return -EINVAL;
			p++;
		}
		len = strcspn(p, " ");
		if (len == 0 || len >= sizeof num)
			return -EINVAL;
		memcpy(num, p, len);
		num[len] = '\0';
		if (util_parse_i64(num, 0, max, &v[i]) < 0)
			return -EINVAL;
	}
	memcpy(ret, v, n * sizeof v[0]);
	return 0;
}

static int
procinfo_field(pid_t pid, int n, int64_t max, int64_t *ret)
{
	return procinfo_fields(pid, &n, 1, max, ret);
}

int
procinfo_ids(pid_t pid, struct procinfo_ids *ret)
{
	static const int	want[] = { 4, 6, 22 };
	int64_t			v[3];
	int			r;

	if ((r = procinfo_fields(pid, want, 3, INT64_MAX, v)) < 0)
		return r;
	if (v[0] > INT32_MAX || v[1] > INT32_MAX)
		return -EINVAL;
	ret->parent = (pid_t)v[0];
	ret->sid = (pid_t)v[1];
	ret->start_ticks = (uint64_t)v[2];
	return 0;
}

int
procinfo_start_ticks(pid_t pid, uint64_t *ret)
{
	int64_t	v;
	int	r;

	if ((r = procinfo_field(pid, 22, INT64_MAX, &v)) < 0)
		return r;
	*ret = (uint64_t)v;
	return 0;
}

int64_t
procinfo_start_wall_ms(uint64_t start_ticks)
{
	struct timespec	real, boot;
	long		hz = sysconf(_SC_CLK_TCK);

	if (hz <= 0)
		hz = 100;
	(void)clock_gettime(CLOCK_REALTIME, &real);
	(void)clock_gettime(CLOCK_BOOTTIME, &boot);
	return ((int64_t)real.tv_sec - boot.tv_sec) * 1000 +
	    (real.tv_nsec - boot.tv_nsec) / 1000000 +
	    (int64_t)(start_ticks * 1000 / (uint64_t)hz);
}

int
procinfo_parent(pid_t pid, pid_t *ret)
{
	int64_t	v;
	int	r;

	if ((r = procinfo_field(pid, 4, INT32_MAX, &v)) < 0)
		return r;
	*ret = (pid_t)v;
	return 0;
}

bool
procinfo_alive(pid_t pid)
{
	uint64_t	t;

	return procinfo_start_ticks(pid, &t) == 0;
}

bool
procinfo_same(pid_t pid, uint64_t start_ticks)
{
	uint64_t	t;

	return start_ticks != 0 && procinfo_start_ticks(pid, &t) == 0 &&
	    t == start_ticks;
}

int
procinfo_scan_cwd(const char *dir, procinfo_cwd_cb cb, void *arg)
{
	struct dirent	*e;
	DIR		*d;
	char		 link[64], path[PATH_MAX];
	size_t		 len = strlen(dir);
	ssize_t		 n;
	long		 pid;
	char		*end;
	int		 r = 0;

	if ((d = opendir("/proc")) == NULL)
		return -errno;
	while (r == 0 && (e = readdir(d)) != NULL) {
		pid = strtol(e->d_name, &end, 10);
		if (*end != '\0' || pid <= 1)
			continue;
		snprintf(link, sizeof link, "/proc/%ld/cwd", pid);
		if ((n = readlink(link, path, sizeof path - 1)) < 0)
			continue;
		path[n] = '\0';
		if ((size_t)n < len || memcmp(path, dir, len) != 0 ||
		    (path[len] != '\0' && path[len] != '/'))
			continue;
		r = cb((pid_t)pid, path + len, arg);
	}
	closedir(d);
	return r;
}
