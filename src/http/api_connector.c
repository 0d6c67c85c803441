/*
 * The routes that read and write what a session's connector keeps on disk
 * (docs/CONNECTORS.md, "Pairing"): its QR code (qr.txt, drawn as a PNG by
 * qrpng.c), the pairing code it was asked for (pairing-code.request in,
 * pairing-code.txt out) and the tail of its log.  Each checks the session
 * in the store first, so an unknown id is a 404 whatever lies on disk.
 *
 * The files are those of this instance's state directory: in fleet mode a
 * session run by another instance has its files there.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/failpoint.h"
#include "base/log.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "config/config.h"
#include "http/api.h"
#include "http/api_impl.h"
#include "http/qrpng.h"
#include "store/store.h"

/* A session directory's file, or a log, into path; -ENAMETOOLONG. */
static int
api_connector_path(const struct api *a, int64_t id, const char *name,
    char *path, size_t len)
{
	int	n;

	if (strcmp(name, "log") == 0)
		n = snprintf(path, len, "%s/logs/%lld.log", a->cfg->state_dir,
		    (long long)id);
	else
		n = snprintf(path, len, "%s/sessions/%lld/%s",
		    a->cfg->state_dir, (long long)id, name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * Read at most max bytes of a file (the last max when tail), into out:
 * 0, -ENOENT, or another negative errno.
 */
static int
api_connector_read(const char *path, size_t max, bool tail, struct buf *out,
    int64_t *ret_mtime_ms)
{
	struct stat	 st;
	char		*p;
	ssize_t		 n;
	size_t		 want, got = 0;
	int		 fd, r = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -ENOENT;
	}
	want = (size_t)st.st_size < max ? (size_t)st.st_size : max;
	if (tail && (size_t)st.st_size > max &&
	    lseek(fd, st.st_size - (off_t)max, SEEK_SET) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	p = xmalloc(want + 1);
	while (got < want) {
		if ((n = read(fd, p + got, want - got)) < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (r == 0 && buf_append(out, p, got) < 0)
		r = -ENOBUFS;
	free(p);
	if (r == 0 && ret_mtime_ms != NULL)
		*ret_mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 +
		    st.st_mtim.tv_nsec / 1000000;
	return r;
}

bool
api_connector_wants_text(const char *accept)
{
	const char	*t, *png;

	/*
	 * The image unless text/plain is asked for before (or without)
	 * image/png: a browser's <img> asks for image/..., curl for * / *.
	 */
	if (accept == NULL || (t = strcasestr(accept, "text/plain")) == NULL)
		return false;
	png = strcasestr(accept, "image/png");
	return png == NULL || t < png;
}

/* The QR code's text, its line ending taken off; -ENOENT when none. */
static int
api_connector_qr_text(struct api *a, int64_t id, struct buf *txt)
{
	char	path[1024];
	int	r;

	if ((r = api_connector_path(a, id, "qr.txt", path, sizeof path)) < 0 ||
	    (r = api_connector_read(path, QRPNG_TEXT_MAX + 2, false, txt,
	    NULL)) < 0)
		return r;
	while (txt->len > 0 && (txt->data[txt->len - 1] == '\n' ||
	    txt->data[txt->len - 1] == '\r'))
		txt->data[--txt->len] = '\0';
	return txt->len == 0 ? -ENOENT : 0;
}

/*
 * In fleet mode, a session another instance owns runs there, and so do
 * its connector and the files it keeps (they live in that instance's state
 * directory): the answer names the owner rather than saying "none" or
 * writing a request no connector here will read.  status (404 or 409) and
 * true when so.
 */
static bool
api_connector_elsewhere(const struct api *a, const struct httpd_request *rq,
    const struct session *s, int status, struct httpd_response *rs)
{
	if (a->d.instance_id == NULL || s->owner[0] == '\0' ||
	    strcmp(s->owner, a->d.instance_id) == 0 ||
	    strcmp(store_backend(api_st(a, rq)), "postgresql") != 0)
		return false;
	httpd_error(rs, status, NULL, "session %lld is run by instance %s, "
	    "not this one (%s): its connector and its files are there; ask "
	    "that instance's API", (long long)s->id, s->owner,
	    a->d.instance_id);
	return true;
}

void
api_connector_qr(void *arg, const struct httpd_request *rq,
    struct httpd_response *rs)
{
	static const char *const allowed[] = { NULL };
	struct api	*a = arg;
	struct session	 s;
	struct buf	 txt;
	char		 path[1024];
	int		 r;

	if (httpd_query_check(rq, allowed, rs) < 0 ||
	    api_sessions_of(a, rq, &s, rs) < 0 ||
	    api_connector_elsewhere(a, rq, &s, 404, rs))
		return;
	buf_init(&txt, QRPNG_TEXT_MAX + 3);
	r = api_connector_qr_text(a, s.id, &txt);
	if (r == 0 && api_connector_wants_text(rq->accept)) {
		if (buf_append(&rs->text, txt.data, txt.len) < 0)
			r = -ENOBUFS;
		rs->content_type = "text/plain; charset=utf-8";
	} else if (r == 0) {
		r = qrpng_render(txt.data, txt.len, &rs->text);
		rs->content_type = "image/png";
	} else if (r == -ENOENT && !api_connector_wants_text(rq->accept) &&
	    api_connector_path(a, s.id, "qr.png", path, sizeof path) == 0) {
		/* A connector that wrote only the image. */
		r = api_connector_read(path, HTTPD_TEXT_MAX, false, &rs->text,
		    NULL);
		rs->content_type = "image/png";
	}
	buf_free(&txt);
	if (r == -ENOENT || r == -ENOTDIR || r == -ELOOP) {
		buf_reset(&rs->text);
		rs->content_type = NULL;
		httpd_error(rs, 404, NULL, "session %lld shows no QR code (%s)",
		    (long long)s.id, s.status == SESSION_STATUS_READY ?
		    "it is paired and ready" : "none written by its connector: "
		    "a QR code appears while a started connector waits for a "
		    "scan");
		return;
	}
	if (r < 0) {
		buf_reset(&rs->text);
		rs->content_type = NULL;
		log_warn("api.qr_unreadable", LOGF_I("session", s.id),
		    LOGF_I("error", r));
		httpd_error(rs, 500, NULL, "the QR code of session %lld cannot "
		    "be read or drawn", (long long)s.id);
	}
}

/* Write path atomically (a temporary name, then rename). */
static int
api_connector_write(const char *path, const char *data, size_t len)
{
	char	tmp[1100];
	int	fd, r = 0;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
		return -ENAMETOOLONG;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) < 0)
		return -errno;
	if (write(fd, data, len) != (ssize_t)len)
		r = errno != 0 ? -errno : -EIO;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		(void)unlink(tmp);
	return r;
}

void
api_connector_pair(void *arg, const struct httpd_request *rq,
    struct httpd_response *rs)
{
	struct api	*a = arg;
	struct store	*st = api_st(a, rq);
	struct session	 s;
	char		 dir[1024], path[1100], line[64];
	int		 r, n;

	if (rq->bodylen > 0) {
		httpd_error(rs, 400, NULL, "this action takes no body");
		return;
	}
	if (api_sessions_of(a, rq, &s, rs) < 0 ||
	    api_connector_elsewhere(a, rq, &s, 409, rs))
		return;
	if (s.status == SESSION_STATUS_READY) {
		httpd_error(rs, 409, NULL, "session %lld is paired and ready: "
		    "there is nothing to pair", (long long)s.id);
		return;
	}
	/*
	 * The request is a file the connector reads when it starts; the
	 * session is then started (restarted, by the after hook), so a
	 * connector showing a QR code comes back asking for a code instead.
	 */
	snprintf(dir, sizeof dir, "%s/sessions/%lld", a->cfg->state_dir,
	    (long long)s.id);
	n = snprintf(line, sizeof line, "%s\n", s.phone);
	if ((mkdir(dir, 0700) < 0 && errno != EEXIST) ||
	    api_connector_path(a, s.id, "pairing-code.txt", path,
	    sizeof path) < 0 || (unlink(path) < 0 && errno != ENOENT) ||
	    api_connector_path(a, s.id, "pairing-code.request", path,
	    sizeof path) < 0 ||
	    (r = api_connector_write(path, line, (size_t)n)) < 0) {
		log_warn("api.pairing_request_unwritable", LOGF_I("session",
		    s.id), LOGF_S("error", strerror(errno)));
		httpd_error(rs, 500, NULL, "the pairing request of session "
		    "%lld cannot be written: see the daemon's log",
		    (long long)s.id);
		return;
	}
	if ((r = store_session_set_desired(st, s.id, SESSION_DESIRED_RUNNING,
	    API_ACTOR, util_now_ms())) < 0) {
		api_store_error(st, rs, r);
		return;
	}
	/* Asked for and recorded; the running connector not restarted yet. */
	(void)failpoint("pairing.requested");
	rs->status = 202;
	rs->json = json_pack("{s:I, s:s, s:s}", "sessionId", (json_int_t)s.id,
	    "phoneNumber", s.phone, "state", "requested");
}

void
api_connector_pairing_code(void *arg, const struct httpd_request *rq,
    struct httpd_response *rs)
{
	static const char *const allowed[] = { NULL };
	struct api	*a = arg;
	struct session	 s;
	struct buf	 code;
	char		 path[1024];
	int64_t		 at = 0;
	int		 r;

	if (httpd_query_check(rq, allowed, rs) < 0 ||
	    api_sessions_of(a, rq, &s, rs) < 0 ||
	    api_connector_elsewhere(a, rq, &s, 404, rs))
		return;
	buf_init(&code, API_PAIRING_CODE_MAX + 2);
	if ((r = api_connector_path(a, s.id, "pairing-code.txt", path,
	    sizeof path)) == 0)
		r = api_connector_read(path, API_PAIRING_CODE_MAX + 1, false,
		    &code, &at);
	while (r == 0 && code.len > 0 && (code.data[code.len - 1] == '\n' ||
	    code.data[code.len - 1] == '\r'))
		code.data[--code.len] = '\0';
	if (r == 0 && (code.len == 0 || code.len > API_PAIRING_CODE_MAX))
		r = -EINVAL;
	if (r == -ENOENT || r == -ENOTDIR) {
		httpd_error(rs, 404, NULL, "session %lld has no pairing code: "
		    "ask for one with POST /api/sessions/%lld/pairing-code",
		    (long long)s.id, (long long)s.id);
	} else if (r < 0) {
		httpd_error(rs, 500, NULL, "the pairing code of session %lld "
		    "cannot be read", (long long)s.id);
	} else if ((rs->json = json_pack("{s:I, s:s, s:s, s:o}", "sessionId",
	    (json_int_t)s.id, "phoneNumber", s.phone, "code", code.data,
	    "writtenAt", api_time(at))) == NULL) {
		/* Not UTF-8: not a code. */
		httpd_error(rs, 500, NULL, "the pairing code of session %lld "
		    "is not text", (long long)s.id);
	}
	buf_free(&code);
}

void
api_connector_log(void *arg, const struct httpd_request *rq,
    struct httpd_response *rs)
{
	static const char *const allowed[] = { "bytes", NULL };
	struct api	*a = arg;
	struct session	 s;
	char		 path[1024], *nl;
	int64_t		 bytes;
	size_t		 skip;
	int		 r;

	if (httpd_query_check(rq, allowed, rs) < 0 ||
	    httpd_query_i64(rq, "bytes", API_LOG_TAIL_DEFAULT, 1,
	    API_LOG_TAIL_MAX, &bytes, rs) < 0 ||
	    api_sessions_of(a, rq, &s, rs) < 0 ||
	    api_connector_elsewhere(a, rq, &s, 404, rs))
		return;
	if ((r = api_connector_path(a, s.id, "log", path, sizeof path)) == 0)
		r = api_connector_read(path, (size_t)bytes, true, &rs->text,
		    NULL);
	if (r == -ENOENT) {
		buf_reset(&rs->text);
		r = 0;
	}
	if (r < 0) {
		buf_reset(&rs->text);
		httpd_error(rs, 500, NULL, "the log of session %lld cannot be "
		    "read", (long long)s.id);
		return;
	}
	/* A tail starts at a whole line when there is one. */
	if (rs->text.len == (size_t)bytes && (nl = memchr(rs->text.data, '\n',
	    rs->text.len)) != NULL && (size_t)(nl - rs->text.data) + 1 <
	    rs->text.len) {
		skip = (size_t)(nl - rs->text.data) + 1;
		memmove(rs->text.data, rs->text.data + skip,
		    rs->text.len - skip + 1);
		rs->text.len -= skip;
	}
	rs->content_type = "text/plain; charset=utf-8";
}
