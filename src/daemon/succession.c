/*
 * A restarted daemon's predecessors: see succession.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "daemon/ctx.h"
#include "daemon/succession.h"
#include "sys/procinfo.h"

int
succession_load(const char *state_dir, char (*ids)[STORE_ID_LEN],
    size_t max)
{
	char	 path[DAEMON_PATH_MAX], line[SUCCESSION_LINE_MAX];
	FILE	*f;
	size_t	 n = 0, len;

	snprintf(path, sizeof path, "%s/" SUCCESSION_FILE, state_dir);
	if ((f = fopen(path, "re")) == NULL)
		return errno == ENOENT ? 0 : -errno;
	while (n < max && fgets(line, sizeof line, f) != NULL) {
		len = strcspn(line, "\n");
		/* A line too long to be an id is not one of ours. */
		if (len == 0 || len >= STORE_ID_LEN || line[len] != '\n')
			continue;
		line[len] = '\0';
		(void)util_strlcpy(ids[n++], line, STORE_ID_LEN);
	}
	fclose(f);
	return (int)n;
}

int
succession_save(const char *state_dir, const char (*ids)[STORE_ID_LEN],
    size_t n)
{
	char	 path[DAEMON_PATH_MAX], tmp[DAEMON_PATH_MAX];
	FILE	*f;
	size_t	 i;
	int	 fd, r = 0;

	snprintf(path, sizeof path, "%s/" SUCCESSION_FILE, state_dir);
	snprintf(tmp, sizeof tmp, "%s/" SUCCESSION_FILE ".tmp", state_dir);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) < 0)
		return -errno;
	if ((f = fdopen(fd, "w")) == NULL) {
		r = -errno;
		close(fd);
		return r;
	}
	for (i = 0; i < n; i++)
		if (fprintf(f, "%s\n", ids[i]) < 0)
			r = -EIO;
	if (fflush(f) != 0 || fsync(fd) < 0)
		r = -errno;
	if (fclose(f) != 0 && r == 0)
		r = -EIO;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		(void)unlink(tmp);
	return r;
}

struct succession_scan {
	char	(*ids)[STORE_ID_LEN];
	size_t	  n;
	bool	  keep[STORE_SUCCEED_MAX];
};

static int
succession_scan_cb(const struct instance *in, void *arg)
{
	struct succession_scan	*sc = arg;
	size_t			 i;

	/*
	 * A graceful stop released everything.  A dead one may still own
	 * sessions: marked dead by a peer's clean-up (another daemon of this
	 * host, or its lease ran out), its connectors are still ours to
	 * adopt, and what it owns no peer has claimed yet.
	 */
	if (in->status == INSTANCE_STOPPED)
		return 0;
	/* Alive: a daemon still running here (two on one directory). */
	if (in->pid != getpid() && procinfo_alive((pid_t)in->pid))
		return 0;
	for (i = 0; i < sc->n; i++)
		if (strcmp(sc->ids[i], in->id) == 0)
			sc->keep[i] = true;
	return 0;
}

int
succession_filter(struct store *st, char (*ids)[STORE_ID_LEN], size_t n)
{
	struct succession_scan	sc = { .ids = ids, .n = n };
	size_t			i, k = 0;
	int			r;

	if (n > STORE_SUCCEED_MAX)
		n = sc.n = STORE_SUCCEED_MAX;
	if (n == 0)
		return 0;
	if ((r = store_instance_list(st, succession_scan_cb, &sc)) < 0)
		return r;
	for (i = 0; i < n; i++)
		if (sc.keep[i] && k++ != i)
			memcpy(ids[k - 1], ids[i], STORE_ID_LEN);
	return (int)k;
}
