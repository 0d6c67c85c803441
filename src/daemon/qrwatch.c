/*
 * New QR codes of starting connectors, announced: see qrwatch.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/intmap.h"
#include "base/xmalloc.h"
#include "config/config.h"
#include "daemon/ctx.h"
#include "daemon/ops.h"
#include "daemon/qrwatch.h"
#include "daemon/sessions.h"

/* The version of a session's qr.txt last announced. */
struct qrwatch_seen {
	ino_t	ino;
	int64_t	mtime_ns;
};

struct qrwatch {
	struct dctx	*c;
	struct sessions	*reg;
	struct ops	*ops;
	struct intmap	*seen;		/* id -> qrwatch_seen */
};

struct qrwatch *
qrwatch_new(struct dctx *c, struct sessions *reg, struct ops *ops)
{
	struct qrwatch	*w = xcalloc(1, sizeof *w);

	w->c = c;
	w->reg = reg;
	w->ops = ops;
	w->seen = intmap_new();
	return w;
}

static int
qrwatch_free_cb(int64_t key, void *value, void *arg)
{
	(void)key;
	(void)arg;
	free(value);
	return 0;
}

void
qrwatch_free(struct qrwatch *w)
{
	if (w == NULL)
		return;
	(void)intmap_walk(w->seen, qrwatch_free_cb, NULL);
	intmap_free(w->seen);
	free(w);
}

/* The text of a qr.txt (its line ending taken off): 0, or -errno. */
static int
qrwatch_read(const char *path, char *text, size_t len, struct stat *st)
{
	ssize_t	n;
	int	fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return -errno;
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		return -EINVAL;
	}
	n = read(fd, text, len - 1);
	close(fd);
	if (n <= 0)
		return -EINVAL;
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		n--;
	text[n] = '\0';
	return n > 0 ? 0 : -EINVAL;
}

static void
qrwatch_one(struct qrwatch *w, struct dsession *ds)
{
	struct qrwatch_seen	*seen = intmap_get(w->seen, ds->id);
	struct stat		 st;
	char			 path[1024], text[QRWATCH_TEXT_MAX + 1];
	int64_t			 mtime_ns;

	if ((size_t)snprintf(path, sizeof path, "%s/sessions/%lld/qr.txt",
	    w->c->cfg->state_dir, (long long)ds->id) >= sizeof path ||
	    stat(path, &st) < 0)
		return;
	mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 +
	    st.st_mtim.tv_nsec;
	if (seen != NULL && seen->ino == st.st_ino &&
	    seen->mtime_ns == mtime_ns)
		return;
	if (qrwatch_read(path, text, sizeof text, &st) < 0)
		return;
	if (seen == NULL) {
		seen = xcalloc(1, sizeof *seen);
		intmap_put(w->seen, ds->id, seen);
	}
	seen->ino = st.st_ino;
	seen->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 +
	    st.st_mtim.tv_nsec;
	ops_qr(w->ops, ds, text);
}

void
qrwatch_tick(struct qrwatch *w)
{
	struct dsession	*ds;

	/*
	 * One stat per starting session with a connector: a QR code is
	 * shown only while a connector waits for a scan, before READY=1.
	 */
	for (ds = sessions_first(w->reg); ds != NULL; ds = sessions_next(ds)) {
		if (ds->sv.state == SV_STARTING && ds->pid > 0)
			qrwatch_one(w, ds);
		else if (intmap_get(w->seen, ds->id) != NULL)
			free(intmap_del(w->seen, ds->id));
	}
}
