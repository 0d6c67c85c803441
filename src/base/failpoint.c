/*
 * Failure and crash points for tests: see failpoint.h.
 */
#ifdef RESPAWN_FAILPOINTS

#include <sys/stat.h>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/failpoint.h"
#include "base/util.h"

#define FAILPOINT_RECHECK_MS	100
#define FAILPOINT_FILE_MAX	4096

enum failpoint_action {
	FAILPOINT_CRASH,
	FAILPOINT_FAIL,
};

struct failpoint_rule {
	char			name[FAILPOINT_NAME_MAX];
	bool			prefix;		/* name ended in '*' */
	enum failpoint_action	action;
	long			nth;		/* 0: every pass (fail) */
	long			passes;
};

static pthread_mutex_t		failpoint_lock = PTHREAD_MUTEX_INITIALIZER;
static bool			failpoint_loaded;
/* 1 once known that nothing is configured: the fast way out. */
static int			failpoint_none;
static struct failpoint_rule	failpoint_env[FAILPOINT_MAX];
static size_t			failpoint_nenv;
static struct failpoint_rule	failpoint_file[FAILPOINT_MAX];
static size_t			failpoint_nfile;
static const char		*failpoint_path;
static struct timespec		failpoint_mtime;
static int64_t			failpoint_checked;

/* Parse "name=action,..." (or one per line) into rules; bad ones skipped. */
static size_t
failpoint_parse(const char *spec, struct failpoint_rule *rules, size_t max)
{
	char	item[FAILPOINT_NAME_MAX + 32], *eq, *at;
	size_t	n = 0, len;

	while (*spec != '\0' && n < max) {
		spec += strspn(spec, ", \t\r\n");
		len = strcspn(spec, ",\r\n");
		if (len == 0 || len >= sizeof item) {
			spec += len;
			continue;
		}
		memcpy(item, spec, len);
		item[len] = '\0';
		spec += len;
		memset(&rules[n], 0, sizeof rules[n]);
		rules[n].action = FAILPOINT_CRASH;
		rules[n].nth = 1;
		if ((eq = strchr(item, '=')) != NULL) {
			*eq++ = '\0';
			if ((at = strchr(eq, '@')) != NULL)
				*at++ = '\0';
			if (strcmp(eq, "fail") == 0) {
				rules[n].action = FAILPOINT_FAIL;
				rules[n].nth = 0;
			} else if (strcmp(eq, "crash") != 0)
				continue;
			if (at != NULL && (rules[n].nth = strtol(at, NULL, 10)) < 1)
				continue;
		}
		len = strlen(item);
		if (len == 0 || len >= FAILPOINT_NAME_MAX)
			continue;
		if (item[len - 1] == '*') {
			rules[n].prefix = true;
			item[len - 1] = '\0';
		}
		memcpy(rules[n].name, item, strlen(item) + 1);
		n++;
	}
	return n;
}

/* The control file, re-read when it changed (or gone: no rules). */
static void
failpoint_reload(void)
{
	struct stat	st;
	char		buf[FAILPOINT_FILE_MAX];
	ssize_t		n;
	int		fd;

	if (failpoint_path == NULL)
		return;
	if (stat(failpoint_path, &st) < 0) {
		failpoint_nfile = 0;
		memset(&failpoint_mtime, 0, sizeof failpoint_mtime);
		return;
	}
	if (st.st_mtim.tv_sec == failpoint_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == failpoint_mtime.tv_nsec)
		return;
	failpoint_mtime = st.st_mtim;
	if ((fd = open(failpoint_path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	failpoint_nfile = failpoint_parse(buf, failpoint_file, FAILPOINT_MAX);
}

static bool
failpoint_match(const struct failpoint_rule *r, const char *name)
{
	return r->prefix ? strncmp(name, r->name, strlen(r->name)) == 0 :
	    strcmp(name, r->name) == 0;
}

static void
failpoint_crash(const char *name)
{
	const char	*mark = getenv("RESPAWN_CRASH_MARK");
	char		 line[FAILPOINT_NAME_MAX + 2];
	int		 fd, n;

	if (mark != NULL && (fd = open(mark, O_WRONLY | O_CREAT | O_APPEND |
	    O_CLOEXEC, 0600)) >= 0) {
		n = snprintf(line, sizeof line, "%s\n", name);
		if (n > 0)
			(void)!write(fd, line, (size_t)n);
		close(fd);
	}
	/* As kill -9 from outside: no handler, no flush, nothing written. */
	(void)kill(getpid(), SIGKILL);
	_exit(137);
}

/* One rule's verdict for a pass: 0 nothing, 1 fail, 2 crash. */
static int
failpoint_apply(struct failpoint_rule *r)
{
	r->passes++;
	if (r->nth != 0 && r->passes != r->nth)
		return 0;
	return r->action == FAILPOINT_CRASH ? 2 : 1;
}

bool
failpoint(const char *name)
{
	const char	*spec;
	int64_t		 now;
	size_t		 i;
	int		 v = 0;

	if (__atomic_load_n(&failpoint_none, __ATOMIC_ACQUIRE))
		return false;
	pthread_mutex_lock(&failpoint_lock);
	if (!failpoint_loaded) {
		failpoint_loaded = true;
		if ((spec = getenv("RESPAWN_FAILPOINTS")) != NULL)
			failpoint_nenv = failpoint_parse(spec, failpoint_env,
			    FAILPOINT_MAX);
		failpoint_path = getenv("RESPAWN_FAILPOINT_FILE");
		if (failpoint_nenv == 0 && failpoint_path == NULL) {
			__atomic_store_n(&failpoint_none, 1, __ATOMIC_RELEASE);
			pthread_mutex_unlock(&failpoint_lock);
			return false;
		}
	}
	now = util_mono_ms();
	if (failpoint_path != NULL && now - failpoint_checked >=
	    FAILPOINT_RECHECK_MS) {
		failpoint_checked = now;
		failpoint_reload();
	}
	for (i = 0; i < failpoint_nenv && v == 0; i++)
		if (failpoint_match(&failpoint_env[i], name))
			v = failpoint_apply(&failpoint_env[i]);
	for (i = 0; i < failpoint_nfile && v == 0; i++)
		if (failpoint_match(&failpoint_file[i], name))
			v = failpoint_apply(&failpoint_file[i]);
	pthread_mutex_unlock(&failpoint_lock);
	if (v == 2)
		failpoint_crash(name);
	return v == 1;
}

#else

/* ISO C wants a translation unit to declare something. */
typedef int	failpoint_unused;

#endif
