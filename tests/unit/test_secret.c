/*
 * Tests of secret references: each form resolves to its value, each way it
 * can fail gives a message that names the reference and never the value,
 * and the value's memory is kept out of core dumps.  exec: is resolved as
 * the daemon's threads will: beside a reaper of every child, and from a
 * thread with every signal blocked.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/util.h"
#include "config/secret.h"

static char tmpdir[] = "/tmp/respawn-test-secret-XXXXXX";

static void
write_file(const char *name, const char *text, mode_t mode)
{
	char	 path[512];
	FILE	*f;

	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

/* Copy a case's reference, with '@' replaced by the test's directory. */
static void
expand(char *out, size_t size, const char *ref)
{
	const char	*at = strchr(ref, '@');

	if (at == NULL)
		snprintf(out, size, "%s", ref);
	else
		snprintf(out, size, "%.*s%s%s", (int)(at - ref), ref, tmpdir,
		    at + 1);
}

/* A reference, the value it must give, or the error and message part. */
struct resolve_case {
	const char	*ref;		/* '@' stands for the temp dir */
	const char	*want;		/* NULL: must fail */
	int		 want_err;
	const char	*err_part;
};

static const struct resolve_case resolve_cases[] = {
	{ "env:TEST_SECRET_A", "value-of-a", 0, NULL },
	{ "env:TEST_SECRET_UNSET", NULL, -ENOENT, "not set" },
	{ "env:TEST_SECRET_EMPTY", NULL, -ENODATA, "empty" },
	{ "file:@/ok.key", "file-secret", 0, NULL },
	{ "file:@/crlf.key", "crlf-secret", 0, NULL },
	{ "file:@/open.key", NULL, -EPERM, "chmod 600" },
	{ "file:@/group.key", NULL, -EPERM, "group or others" },
	{ "file:@/empty.key", NULL, -ENODATA, "empty" },
	{ "file:@/missing.key", NULL, -ENOENT, "No such file" },
	{ "file:@", NULL, -EINVAL, "not a regular file" },
	{ "file:cred.key", "from-credentials-dir", 0, NULL },
	{ "exec:printf exec-secret", "exec-secret", 0, NULL },
	{ "exec:echo 'quoted secret'", "quoted secret", 0, NULL },
	{ "exec:false", NULL, -EIO, "exit status 1" },
	{ "exec:/nonexistent/helper --x", NULL, -ENOENT, "cannot run" },
	{ "exec:true", NULL, -ENODATA, "printed nothing" },
	{ "exec:head -c 70000 /dev/zero", NULL, -ENOBUFS, "larger than" },
	{ "hunter2", NULL, -EINVAL, "env:, file:, exec:" },
	{ "projects/p/secrets/s", NULL, -EINVAL, "Google Secret Manager" },
	{ "projects/p/secrets/s/versions/1/x", NULL, -EINVAL,
	  "Google Secret Manager" },
};

static void
test_resolve(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(resolve_cases); i++) {
		const struct resolve_case *tc = &resolve_cases[i];
		struct secret	*s = NULL;
		char		 ref[600], err[SECRET_ERR_LEN];
		int		 r;

		expand(ref, sizeof ref, tc->ref);
		err[0] = '\0';
		r = secret_resolve(ref, &s, err);
		if (tc->want != NULL) {
			if (r != 0)
				fail_msg("%s: %d %s", ref, r, err);
			assert_string_equal(secret_value(s), tc->want);
			assert_int_equal(secret_len(s), strlen(tc->want));
			secret_free(s);
			continue;
		}
		if (r != tc->want_err)
			fail_msg("%s: got %d (%s), want %d", ref, r, err,
			    tc->want_err);
		assert_null(s);
		if (strstr(err, tc->err_part) == NULL)
			fail_msg("%s: message '%s' lacks '%s'", ref, err,
			    tc->err_part);
	}
}

/* A failing reference never repeats the value it read. */
static void
test_errors_hide_values(void **state)
{
	struct secret	*s = NULL;
	char		 ref[600], err[SECRET_ERR_LEN];

	(void)state;
	expand(ref, sizeof ref, "file:@/open.key");
	assert_int_not_equal(secret_resolve(ref, &s, err), 0);
	assert_null(strstr(err, "open-secret"));
}

/* A command that never finishes is killed at the time limit. */
static void
test_exec_timeout(void **state)
{
	struct secret	*s = NULL;
	char		 err[SECRET_ERR_LEN];
	int64_t		 t0;

	(void)state;
	t0 = util_mono_ms();
	assert_int_equal(secret_resolve("exec:sleep 30", &s, err), -ETIMEDOUT);
	assert_true(util_mono_ms() - t0 < SECRET_EXEC_TIMEOUT_MS + 3000);
	assert_non_null(strstr(err, "no answer"));
}

/*
 * A reaper like the daemon's loop, which takes every child of the process
 * with waitpid(-1) as soon as it ends.
 */
struct reaper {
	pthread_t	 thread;
	volatile bool	 stop;
};

static void *
reaper_run(void *arg)
{
	struct reaper	*r = arg;
	int		 status;

	while (!r->stop)
		if (waitpid(-1, &status, 0) < 0)
			usleep(100);
	return NULL;
}

/*
 * The daemon resolves a rotated API key on a thread while its loop reaps
 * every child: the command's exit status must still reach secret_resolve,
 * whoever reaps what.
 */
static void
test_exec_beside_a_reaper(void **state)
{
	struct reaper	 r = { 0 };
	struct secret	*s;
	char		 err[SECRET_ERR_LEN];
	int		 i;

	(void)state;
	assert_int_equal(pthread_create(&r.thread, NULL, reaper_run, &r), 0);
	for (i = 0; i < 5; i++) {
		if (secret_resolve("exec:echo beside", &s, err) != 0)
			fail_msg("try %d: %s", i, err);
		assert_string_equal(secret_value(s), "beside");
		secret_free(s);
		assert_int_equal(secret_resolve("exec:sh -c 'echo x; exit 3'",
		    &s, err), -EIO);
		if (strstr(err, "exit status 3") == NULL)
			fail_msg("try %d: %s", i, err);
	}
	r.stop = true;
	assert_int_equal(pthread_join(r.thread, NULL), 0);
}

struct masked {
	int	 r;
	char	 value[512];
	char	 err[SECRET_ERR_LEN];
};

/* Like a storeq worker: every signal blocked, then resolve. */
static void *
masked_run(void *arg)
{
	struct masked	*m = arg;
	struct secret	*s;
	sigset_t	 all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	if ((m->r = secret_resolve("exec:grep ^Sig /proc/self/status", &s,
	    m->err)) == 0) {
		snprintf(m->value, sizeof m->value, "%s", secret_value(s));
		secret_free(s);
	}
	return NULL;
}

/*
 * The command starts as a program expects to, whatever thread resolved
 * it: no signal blocked, none ignored (the daemon ignores SIGPIPE).
 */
static void
test_exec_signals(void **state)
{
	struct masked	 m = { 0 };
	pthread_t	 t;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(pthread_create(&t, NULL, masked_run, &m), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	signal(SIGPIPE, SIG_DFL);
	if (m.r != 0)
		fail_msg("%s", m.err);
	if (strstr(m.value, "SigBlk:\t0000000000000000\n") == NULL ||
	    strstr(m.value, "SigIgn:\t0000000000000000\n") == NULL)
		fail_msg("%s", m.value);
}

/*
 * The value's pages carry the "dd" (do not dump) flag in /proc, so a core
 * dump of respawn does not contain it.
 */
static void
test_not_dumped(void **state)
{
	struct secret	*s;
	char		 err[SECRET_ERR_LEN], line[512];
	unsigned long	 lo, hi, addr;
	bool		 in_map = false, found = false;
	FILE		*f;

	(void)state;
	assert_int_equal(secret_resolve("env:TEST_SECRET_A", &s, err), 0);
	addr = (unsigned long)secret_value(s);
	f = fopen("/proc/self/smaps", "r");
	assert_non_null(f);
	while (fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, ':') != NULL && line[0] != 'V')
			in_map = addr >= lo && addr < hi;
		if (in_map && strncmp(line, "VmFlags:", 8) == 0) {
			found = strstr(line, " dd") != NULL;
			break;
		}
	}
	fclose(f);
	secret_free(s);
	assert_true(found);
}

static void
test_ref_check(void **state)
{
	static const struct {
		const char	*ref;
		int		 ok;
	} cases[] = {
		{ "env:X", 1 }, { "env:", 0 }, { "env:A=B", 0 },
		{ "file:/x", 1 }, { "file:", 0 }, { "exec:a b", 1 },
		{ "exec:", 0 }, { "exec:'a", 0 }, { "", 0 }, { "plain", 0 },
	};
	const char	*why;
	size_t		 i;

	(void)state;
	for (i = 0; i < nitems(cases); i++)
		assert_int_equal(secret_ref_check(cases[i].ref, &why) == 0,
		    cases[i].ok);
}

/* Well-formed base64 only: nothing of a value is ever dropped unseen. */
static void
test_b64_decode(void **state)
{
	static const struct {
		const char	*in;
		const char	*out;	/* NULL: refused */
	} cases[] = {
		{ "", "" }, { "YQ==", "a" }, { "YQ", "a" }, { "YWI=", "ab" },
		{ "YWI", "ab" }, { "YWJj", "abc" }, { "-_8", "\xfb\xff" },
		{ "+/8=", "\xfb\xff" }, { "Y", NULL }, { "YWJjZ", NULL },
		{ "YQ=", NULL }, { "YQ===", NULL }, { "YWJj=", NULL },
		{ "YQ==YQ==", NULL }, { "YQ==x", NULL }, { "YW Jj", NULL },
		{ "YWJj\n", NULL }, { "=", NULL },
	};
	char	buf[32];
	ssize_t	n;
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		(void)util_strlcpy(buf, cases[i].in, sizeof buf);
		n = secret_b64_decode(buf);
		if (cases[i].out == NULL) {
			assert_int_equal(n, -1);
			continue;
		}
		assert_int_equal(n, strlen(cases[i].out));
		assert_memory_equal(buf, cases[i].out, (size_t)n);
	}
}

/* The metadata server's token goes into a header: a Bearer token only. */
static void
test_gsm_token(void **state)
{
	static const struct {
		const char	*body;
		const char	*tok;	/* NULL: refused */
	} cases[] = {
		{ "{\"access_token\":\"ya29.a-b_c~d+e/f==\"}",
		  "ya29.a-b_c~d+e/f==" },
		{ "{\"access_token\":\"\"}", NULL },
		{ "{\"access_token\":\"a\\r\\nX-Evil: 1\"}", NULL },
		{ "{\"access_token\":\"a b\"}", NULL },
		{ "{\"access_token\":\"=abc\"}", NULL },
		{ "{\"access_token\":\"abc=d\"}", NULL },
		{ "{\"access_token\":7}", NULL },
		{ "{}", NULL }, { "[\"x\"]", NULL }, { "not json", NULL },
	};
	char	tok[SECRET_TOKEN_MAX + 1];
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		(void)util_strlcpy(tok, "untouched", sizeof tok);
		if (cases[i].tok == NULL) {
			assert_int_equal(secret_gsm_token(cases[i].body,
			    strlen(cases[i].body), tok), -EBADMSG);
			assert_string_equal(tok, "untouched");
		} else {
			assert_int_equal(secret_gsm_token(cases[i].body,
			    strlen(cases[i].body), tok), 0);
			assert_string_equal(tok, cases[i].tok);
		}
	}
}

/* Secret Manager's answer: payload.data decoded, never empty. */
static void
test_gsm_payload(void **state)
{
	static const struct {
		const char	*body;
		const char	*value;	/* NULL: refused with r */
		int		 r;
	} cases[] = {
		{ "{\"payload\":{\"data\":\"bGFiLWFwaS1rZXk=\"}}",
		  "lab-api-key", 0 },
		{ "{\"payload\":{\"data\":\"c2VjcmV0DQo=\"}}", "secret", 0 },
		{ "{\"payload\":{\"data\":\"\"}}", NULL, -ENODATA },
		{ "{\"payload\":{\"data\":\"Cg==\"}}", NULL, -ENODATA },
		{ "{\"payload\":{\"data\":\"QUJD=ZGVm\"}}", NULL, -EBADMSG },
		{ "{\"payload\":{}}", NULL, -EBADMSG },
		{ "{\"payload\":{\"data\":\"QUJD", NULL, -EBADMSG },
	};
	struct secret	*s;
	const char	*why;
	size_t		 i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		s = NULL;
		why = NULL;
		assert_int_equal(secret_gsm_payload(cases[i].body,
		    strlen(cases[i].body), &s, &why), cases[i].r);
		if (cases[i].value == NULL) {
			assert_null(s);
			assert_non_null(why);
			continue;
		}
		assert_string_equal(secret_value(s), cases[i].value);
		secret_free(s);
	}
}

static int
setup(void **state)
{
	char	dir[600];

	(void)state;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	setenv("TEST_SECRET_A", "value-of-a", 1);
	setenv("TEST_SECRET_EMPTY", "", 1);
	unsetenv("TEST_SECRET_UNSET");
	write_file("ok.key", "file-secret\n", 0600);
	write_file("crlf.key", "crlf-secret\r\n", 0400);
	write_file("open.key", "open-secret", 0644);
	write_file("group.key", "group-secret", 0640);
	write_file("empty.key", "", 0600);
	snprintf(dir, sizeof dir, "%s/creds", tmpdir);
	mkdir(dir, 0700);
	write_file("creds/cred.key", "from-credentials-dir", 0400);
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	return 0;
}

static int
teardown(void **state)
{
	char	cmd[600];

	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_errors_hide_values),
		cmocka_unit_test(test_exec_timeout),
		cmocka_unit_test(test_exec_beside_a_reaper),
		cmocka_unit_test(test_exec_signals),
		cmocka_unit_test(test_not_dumped),
		cmocka_unit_test(test_ref_check),
		cmocka_unit_test(test_b64_decode),
		cmocka_unit_test(test_gsm_token),
		cmocka_unit_test(test_gsm_payload),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
