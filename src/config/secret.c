/*
 * Secret references and the memory that holds their values: see secret.h.
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "base/argv.h"
#include "base/util.h"
#include "base/xmalloc.h"
#include "config/secret.h"
#include "sys/child.h"

struct secret {
	size_t	map_len;	/* bytes mapped, including this header */
	size_t	len;
	char	value[];	/* NUL-terminated */
};

static const char	*secret_gsm_url = SECRET_GSM_DEFAULT_URL;
static const char	*secret_metadata_url = SECRET_METADATA_DEFAULT_URL;

void
secret_set_google(const char *gsm_url, const char *metadata_url)
{
	secret_gsm_url = gsm_url != NULL && *gsm_url != '\0' ? gsm_url :
	    SECRET_GSM_DEFAULT_URL;
	secret_metadata_url = metadata_url != NULL && *metadata_url != '\0' ?
	    metadata_url : SECRET_METADATA_DEFAULT_URL;
}

/* projects/P/secrets/S/versions/V, each part [A-Za-z0-9_-]. */
static int
secret_gsm_check(const char *ref)
{
	static const char *const words[] = { "projects", "secrets", "versions" };
	const char	*p = ref;
	size_t		 i, n;

	for (i = 0; i < 3; i++) {
		n = strlen(words[i]);
		if (strncmp(p, words[i], n) != 0 || p[n] != '/')
			return -EINVAL;
		p += n + 1;
		n = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789_-");
		if (n == 0 || n > 255)
			return -EINVAL;
		p += n;
		if (i < 2 && *p++ != '/')
			return -EINVAL;
	}
	return *p == '\0' ? 0 : -EINVAL;
}

/* Error messages name the reference; a long one is cut, never overflows. */
static void __attribute__((format(printf, 2, 3)))
secret_errf(char *err, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	(void)vsnprintf(err, SECRET_ERR_LEN, fmt, ap);
	va_end(ap);
}

int
secret_ref_check(const char *ref, const char **why)
{
	if (ref == NULL || *ref == '\0') {
		*why = "is empty";
		return -EINVAL;
	}
	if (strncmp(ref, "env:", 4) == 0) {
		if (ref[4] == '\0' || strchr(ref + 4, '=') != NULL) {
			*why = "env: needs a variable name";
			return -EINVAL;
		}
		return 0;
	}
	if (strncmp(ref, "file:", 5) == 0) {
		if (ref[5] == '\0' || strlen(ref + 5) >= PATH_MAX) {
			*why = "file: needs a path";
			return -EINVAL;
		}
		return 0;
	}
	if (strncmp(ref, "exec:", 5) == 0) {
		char	**argv;
		int	  r;

		if ((r = argv_split(ref + 5, &argv)) < 0) {
			*why = r == -E2BIG ? "exec: command is too long" :
			    "exec: needs a command (check its quotes)";
			return -EINVAL;
		}
		argv_free(argv);
		return 0;
	}
	if (strncmp(ref, "projects/", 9) == 0) {
		if (secret_gsm_check(ref) < 0) {
			*why = "Google Secret Manager references look like "
			    "projects/P/secrets/S/versions/V";
			return -EINVAL;
		}
		return 0;
	}
	*why = "must start with env:, file:, exec: or projects/";
	return -EINVAL;
}

/*
 * Copy a value into its own mapping, kept out of core dumps and, when the
 * limits allow it, out of swap.
 */
static int
secret_new(const char *value, size_t len, struct secret **ret)
{
	struct secret	*s;
	size_t		 page, map_len;
	void		*p;

	/* Files and commands end their output with a newline. */
	if (len > 0 && value[len - 1] == '\n')
		len--;
	if (len > 0 && value[len - 1] == '\r')
		len--;
	if (len == 0)
		return -ENODATA;
	page = (size_t)sysconf(_SC_PAGESIZE);
	map_len = (sizeof *s + len + 1 + page - 1) / page * page;
	p = mmap(NULL, map_len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	(void)madvise(p, map_len, MADV_DONTDUMP);
	(void)mlock(p, map_len);
	s = p;
	s->map_len = map_len;
	s->len = len;
	memcpy(s->value, value, len);
	s->value[len] = '\0';
	*ret = s;
	return 0;
}

void
secret_free(struct secret *s)
{
	size_t	map_len;

	if (s == NULL)
		return;
	map_len = s->map_len;
	util_wipe(s, map_len);
	(void)munlock(s, map_len);
	(void)munmap(s, map_len);
}

const char *
secret_value(const struct secret *s)
{
	return s->value;
}

size_t
secret_len(const struct secret *s)
{
	return s->len;
}

/*
 * Values are read into one buffer of the maximum size, allocated once, so
 * that no copy is left behind in freed memory by a growing buffer.
 */
struct secret_acc {
	char	*p;
	size_t	 len;
};

static void
secret_acc_init(struct secret_acc *a)
{
	a->p = xmalloc(SECRET_VALUE_MAX);
	a->len = 0;
}

static int
secret_acc_add(struct secret_acc *a, const char *p, size_t n)
{
	if (n > SECRET_VALUE_MAX - a->len)
		return -ENOBUFS;
	memcpy(a->p + a->len, p, n);
	a->len += n;
	return 0;
}

static void
secret_acc_free(struct secret_acc *a)
{
	util_wipe(a->p, SECRET_VALUE_MAX);
	free(a->p);
	a->p = NULL;
}

/* Answers are gathered into a bounded buffer, wiped when freed. */
static size_t
secret_http_write(char *p, size_t size, size_t n, void *arg)
{
	struct secret_acc	*a = arg;

	if (secret_acc_add(a, p, size * n) < 0)
		return 0;	/* too big: curl stops with a write error */
	return size * n;
}

/*
 * One blocking GET, bounded in size and time.  It runs at start, in
 * check-config and when a rotated key is re-read, like exec:.
 */
static int
secret_http_get(const char *url, const char *header, struct secret_acc *a,
    long *ret_status, char *err, const char *what)
{
	struct curl_slist	*h = NULL;
	CURL			*c;
	CURLcode		 rc;
	long			 status = 0;

	if ((c = curl_easy_init()) == NULL)
		return -ENOMEM;
	h = curl_slist_append(h, header);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)SECRET_HTTP_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, secret_http_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	/* The header may hold a token: wipe it. */
	util_wipe(h->data, strlen(h->data));
	curl_slist_free_all(h);
	if (rc != CURLE_OK) {
		secret_errf(err, "%s: %s", what, rc == CURLE_WRITE_ERROR ?
		    "answer too large" : curl_easy_strerror(rc));
		return rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
	}
	*ret_status = status;
	return 0;
}

static int
secret_b64_value(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '-')
		return 62;
	if (ch == '/' || ch == '_')
		return 63;
	return -1;
}

/* Decode base64 (standard or URL alphabet) in place; returns the length. */
ssize_t
secret_b64_decode(char *s)
{
	size_t		i, o = 0, pad;
	uint32_t	acc = 0;
	int		bits = 0, v;

	for (i = 0; s[i] != '\0' && s[i] != '='; i++) {
		if ((v = secret_b64_value((unsigned char)s[i])) < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			s[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	/*
	 * Padding only at the end and only to a multiple of four, never a
	 * lone last character: no part of a value is dropped unseen.  The
	 * output is behind i, so s[i] onwards is still the input.
	 */
	pad = strspn(s + i, "=");
	if (s[i + pad] != '\0' || i % 4 == 1 || pad > 2 ||
	    (pad > 0 && (i + pad) % 4 != 0))
		return -1;
	return (ssize_t)o;
}

/*
 * The token goes into a request header: it must be a Bearer token as
 * RFC 6750 writes one (b64token), so that nothing else can ride along.
 */
static bool
secret_bearer_ok(const char *t)
{
	size_t	n;

	n = strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-._~+/");
	return n > 0 && t[n + strspn(t + n, "=")] == '\0';
}

int
secret_gsm_token(const char *body, size_t len,
    char tok[SECRET_TOKEN_MAX + 1])
{
	json_t		*root;
	const char	*t;
	size_t		 n;
	int		 r = -EBADMSG;

	if ((root = json_loadb(body, len, 0, NULL)) == NULL)
		return -EBADMSG;
	if ((t = json_string_value(json_object_get(root,
	    "access_token"))) != NULL) {
		n = strlen(t);
		if (n <= SECRET_TOKEN_MAX && secret_bearer_ok(t)) {
			memcpy(tok, t, n + 1);
			r = 0;
		}
		util_wipe((char *)t, n);
	}
	json_decref(root);
	return r;
}

int
secret_gsm_payload(const char *body, size_t len, struct secret **ret,
    const char **why)
{
	struct secret_acc	 a;
	json_t			*root;
	const char		*data;
	ssize_t			 n;
	int			 r;

	if ((root = json_loadb(body, len, 0, NULL)) == NULL ||
	    (data = json_string_value(json_object_get(json_object_get(root,
	    "payload"), "data"))) == NULL) {
		json_decref(root);
		*why = "malformed answer from Secret Manager";
		return -EBADMSG;
	}
	/* Decode into our own buffer, so jansson's copy can be wiped. */
	secret_acc_init(&a);
	r = secret_acc_add(&a, data, strlen(data) + 1);
	util_wipe((char *)data, strlen(data));
	json_decref(root);
	if (r < 0) {
		*why = "value too large";
	} else if ((n = secret_b64_decode(a.p)) < 0) {
		*why = "payload is not base64";
		r = -EBADMSG;
	} else if ((r = secret_new(a.p, (size_t)n, ret)) < 0) {
		*why = "secret is empty";
	}
	secret_acc_free(&a);
	return r;
}

static int
secret_from_gsm(const char *ref, struct secret **ret, char *err)
{
	struct secret_acc	 a;
	const char		*why;
	char			 url[2048], header[4096];
	char			 tok[SECRET_TOKEN_MAX + 1];
	long			 status = 0;
	int			 r;

	secret_acc_init(&a);
	snprintf(url, sizeof url, "%s/computeMetadata/v1/instance/"
	    "service-accounts/default/token", secret_metadata_url);
	if ((r = secret_http_get(url, "Metadata-Flavor: Google", &a, &status,
	    err, "metadata server")) < 0)
		goto out;
	if (status != 200 || secret_gsm_token(a.p, a.len, tok) < 0) {
		secret_errf(err, "%s: metadata server gave no access token "
		    "(HTTP %ld)", ref, status);
		r = -EACCES;
		goto out;
	}
	snprintf(header, sizeof header, "Authorization: Bearer %s", tok);
	util_wipe(tok, sizeof tok);
	util_wipe(a.p, a.len);
	a.len = 0;
	if (snprintf(url, sizeof url, "%s/v1/%s:access", secret_gsm_url, ref) >=
	    (int)sizeof url) {
		util_wipe(header, sizeof header);
		secret_errf(err, "%s: Secret Manager URL too long", ref);
		r = -E2BIG;
		goto out;
	}
	r = secret_http_get(url, header, &a, &status, err,
	    "Secret Manager");
	util_wipe(header, sizeof header);
	if (r < 0)
		goto out;
	if (status != 200) {
		secret_errf(err, "%s: Secret Manager answered HTTP %ld", ref,
		    status);
		r = status == 404 ? -ENOENT : status == 401 || status == 403 ?
		    -EACCES : -EIO;
		goto out;
	}
	if ((r = secret_gsm_payload(a.p, a.len, ret, &why)) < 0)
		secret_errf(err, "%s: %s", ref, why);
out:
	secret_acc_free(&a);
	return r;
}

static int
secret_from_env(const char *name, struct secret **ret, char *err)
{
	const char	*v;
	int		 r;

	if ((v = getenv(name)) == NULL) {
		snprintf(err, SECRET_ERR_LEN,
		    "env:%s: environment variable is not set", name);
		return -ENOENT;
	}
	if (strlen(v) > SECRET_VALUE_MAX) {
		secret_errf(err, "env:%s: value is too long", name);
		return -E2BIG;
	}
	if ((r = secret_new(v, strlen(v), ret)) < 0)
		secret_errf(err, "env:%s: value is empty", name);
	return r;
}

static int
secret_from_file(const char *path, struct secret **ret, char *err)
{
	char		 full[PATH_MAX];
	const char	*dir;
	struct stat	 st;
	struct secret_acc b;
	char		 chunk[4096];
	ssize_t		 n;
	int		 fd, r;

	if (path[0] != '/') {
		/* Relative names are systemd credentials (LoadCredential=). */
		if ((dir = getenv("CREDENTIALS_DIRECTORY")) == NULL) {
			secret_errf(err, "file:%s: relative path "
			    "but $CREDENTIALS_DIRECTORY is not set", path);
			return -ENOENT;
		}
		if (snprintf(full, sizeof full, "%s/%s", dir, path) >=
		    (int)sizeof full) {
			secret_errf(err, "file:%s: path too long",
			    path);
			return -ENAMETOOLONG;
		}
		path = full;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		r = -errno;
		secret_errf(err, "file:%s: %s", path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		secret_errf(err, "file:%s: not a regular file",
		    path);
		return -EINVAL;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		close(fd);
		secret_errf(err, "file:%s: mode %04o lets group or "
		    "others read it; chmod 600 it", path,
		    (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	secret_acc_init(&b);
	r = 0;
	while ((n = read(fd, chunk, sizeof chunk)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if ((r = secret_acc_add(&b, chunk, (size_t)n)) < 0)
			break;
	}
	close(fd);
	util_wipe(chunk, sizeof chunk);
	if (r == 0 && (r = secret_new(b.p, b.len, ret)) < 0)
		secret_errf(err, "file:%s: file is empty", path);
	else if (r == -ENOBUFS)
		secret_errf(err, "file:%s: larger than %d bytes",
		    path, SECRET_VALUE_MAX);
	else if (r < 0)
		secret_errf(err, "file:%s: %s", path, strerror(-r));
	secret_acc_free(&b);
	return r;
}

/*
 * The command's side of exec:.  Any failure before exec is reported
 * through the CLOEXEC error pipe, so "could not run" is never mistaken for
 * "ran".
 */
static void __attribute__((noreturn))
secret_exec_child(char **argv, int out_fd, int err_fd)
{
	int	null_fd, e;

	child_signals_reset();
	if ((null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0 ||
	    dup2(null_fd, STDIN_FILENO) < 0 ||
	    dup2(out_fd, STDOUT_FILENO) < 0)
		goto fail;
	execvp(argv[0], argv);
fail:
	e = errno;
	(void)!write(err_fd, &e, sizeof e);
	_exit(127);
}

/*
 * The middle of exec:, a child of ours that runs nothing itself: it starts
 * the command (vfork, then secret_exec_child), waits for it and writes its
 * wait status to status_fd.  A daemon reaps every child it sees end, with
 * waitpid(-1) when SIGCHLD comes, and a secret may be resolved on a thread
 * of its while the loop does (the API key's re-read): the command is the
 * middle's child, not the daemon's, so its status reaches secret_from_exec
 * through the pipe whoever reaps the middle.  Forked from a process with
 * threads, it calls only what is safe after fork().
 */
static void __attribute__((noreturn))
secret_exec_middle(char **argv, int out_fd, int err_fd, int status_fd)
{
	pid_t		pid;
	sigset_t	all;
	int		status, e;

	/*
	 * No handler of the parent's (a copy, writing to its descriptors)
	 * may run here; the command resets its own (secret_exec_child).
	 */
	sigfillset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, NULL);
	/* The command inherits the group: one kill(-pid) takes both. */
	(void)setpgid(0, 0);
	if ((pid = vfork()) == 0)
		secret_exec_child(argv, out_fd, err_fd);
	if (pid < 0) {
		e = errno;
		(void)!write(err_fd, &e, sizeof e);
		_exit(127);
	}
	/* The pipes end when the command closes them, not when we do. */
	(void)close(out_fd);
	(void)close(err_fd);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			_exit(127);
	(void)!write(status_fd, &status, sizeof status);
	_exit(0);
}

/*
 * One read from fd, waiting at most until deadline (monotonic ms): the
 * bytes read, 0 at the end, -ETIMEDOUT or a negative errno.
 */
static ssize_t
secret_read_by(int fd, void *buf, size_t len, int64_t deadline)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLIN };
	int64_t		left;
	ssize_t		n;

	for (;;) {
		if ((left = deadline - util_mono_ms()) <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfd.revents == 0)
			continue;
		if ((n = read(fd, buf, len)) >= 0)
			return n;
		if (errno != EINTR)
			return -errno;
	}
}

/* Reap the middle, unless the daemon's loop already did. */
static void
secret_reap(pid_t pid)
{
	int	status;

	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

static int
secret_from_exec(const char *cmd, struct secret **ret, char *err)
{
	char		**argv = NULL;
	int		  out[2] = { -1, -1 }, errp[2] = { -1, -1 },
			  st[2] = { -1, -1 };
	int		  r, status = 0, child_errno;
	pid_t		  pid;
	struct secret_acc b;
	char		  chunk[4096];
	ssize_t		  n;
	int64_t		  deadline;

	if ((r = argv_split(cmd, &argv)) < 0) {
		secret_errf(err, "exec: cannot split the command");
		return r;
	}
	secret_acc_init(&b);
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
	    pipe2(st, O_CLOEXEC) < 0) {
		r = -errno;
		secret_errf(err, "exec:%s: pipe: %s", argv[0],
		    strerror(-r));
		goto out;
	}
	if ((pid = fork()) < 0) {
		r = -errno;
		secret_errf(err, "exec:%s: fork: %s", argv[0],
		    strerror(-r));
		goto out;
	}
	if (pid == 0)
		secret_exec_middle(argv, out[1], errp[1], st[1]);
	close(out[1]);
	close(errp[1]);
	close(st[1]);
	out[1] = errp[1] = st[1] = -1;

	n = read(errp[0], &child_errno, sizeof child_errno);
	if (n == (ssize_t)sizeof child_errno) {
		secret_reap(pid);
		secret_errf(err, "exec:%s: cannot run: %s",
		    argv[0], strerror(child_errno));
		r = -child_errno;
		goto out;
	}

	deadline = util_mono_ms() + SECRET_EXEC_TIMEOUT_MS;
	for (;;) {
		if ((n = secret_read_by(out[0], chunk, sizeof chunk,
		    deadline)) <= 0) {
			r = (int)n;
			break;
		}
		if ((r = secret_acc_add(&b, chunk, (size_t)n)) < 0)
			break;
	}
	util_wipe(chunk, sizeof chunk);
	/* Its output ended; now how it ended, within the same time. */
	if (r == 0 && (n = secret_read_by(st[0], &status, sizeof status,
	    deadline)) != (ssize_t)sizeof status)
		r = n < 0 ? (int)n : -ECHILD;
	if (r < 0)
		(void)kill(-pid, SIGKILL);
	secret_reap(pid);
	if (r == -ETIMEDOUT) {
		secret_errf(err, "exec:%s: no answer within %d ms",
		    argv[0], SECRET_EXEC_TIMEOUT_MS);
	} else if (r == -ENOBUFS) {
		secret_errf(err, "exec:%s: output larger than %d "
		    "bytes", argv[0], SECRET_VALUE_MAX);
	} else if (r == -ECHILD) {
		secret_errf(err, "exec:%s: ended without an exit status",
		    argv[0]);
	} else if (r < 0) {
		secret_errf(err, "exec:%s: %s", argv[0],
		    strerror(-r));
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		secret_errf(err, "exec:%s: command failed (%s %d)",
		    argv[0], WIFEXITED(status) ? "exit status" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		r = -EIO;
	} else if ((r = secret_new(b.p, b.len, ret)) < 0) {
		secret_errf(err, "exec:%s: command printed nothing",
		    argv[0]);
	}
out:
	secret_acc_free(&b);
	if (out[0] >= 0)
		close(out[0]);
	if (out[1] >= 0)
		close(out[1]);
	if (errp[0] >= 0)
		close(errp[0]);
	if (errp[1] >= 0)
		close(errp[1]);
	if (st[0] >= 0)
		close(st[0]);
	if (st[1] >= 0)
		close(st[1]);
	argv_free(argv);
	return r;
}

int
secret_resolve(const char *ref, struct secret **ret, char err[SECRET_ERR_LEN])
{
	const char	*why;
	int		 r;

	if ((r = secret_ref_check(ref, &why)) < 0) {
		secret_errf(err, "secret reference %s", why);
		return r;
	}
	if (strncmp(ref, "env:", 4) == 0)
		return secret_from_env(ref + 4, ret, err);
	if (strncmp(ref, "projects/", 9) == 0)
		return secret_from_gsm(ref, ret, err);
	if (strncmp(ref, "file:", 5) == 0)
		return secret_from_file(ref + 5, ret, err);
	return secret_from_exec(ref + 5, ret, err);
}
