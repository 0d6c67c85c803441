/*
 * Tests of the configuration: the precedence of its four layers, the
 * validation of every kind of key, the file format's errors, and that
 * check-config's output never carries a secret.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "base/util.h"
#include "config/config.h"

static char tmpdir[] = "/tmp/respawn-test-config-XXXXXX";

/* Write text to a file in the test's directory and return its path. */
static const char *
write_file(const char *name, const char *text)
{
	static char	path[512];
	FILE		*f;

	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* One layer set or not, and the value and source that must win. */
struct precedence_case {
	const char	*file;		/* MAX_RECONNECT_ATTEMPTS in the file */
	const char	*env;
	const char	*flag;
	int64_t		 want;
	const char	*want_source;
};

static const struct precedence_case precedence_cases[] = {
	{ NULL, NULL, NULL, 3, "default" },
	{ "4", NULL, NULL, 4, "file" },
	{ NULL, "5", NULL, 5, "env" },
	{ "4", "5", NULL, 5, "env" },
	{ "4", NULL, "6", 6, "flag" },
	{ NULL, "5", "6", 6, "flag" },
	{ "4", "5", "6", 6, "flag" },
};

static void
test_precedence(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(precedence_cases); i++) {
		const struct precedence_case *tc = &precedence_cases[i];
		struct config_input	 in = { 0 };
		struct config		*c = NULL;
		char			 err[CONFIG_ERR_LEN];
		char			 fbody[128], envv[64], flagv[64];
		char			*envp[2] = { NULL, NULL };
		const char		*ov[1];

		if (tc->file != NULL) {
			snprintf(fbody, sizeof fbody, "# test\n[respawn]\n"
			    "MAX_RECONNECT_ATTEMPTS = %s\n", tc->file);
			in.file = write_file("prec.ini", fbody);
		}
		if (tc->env != NULL) {
			snprintf(envv, sizeof envv, "MAX_RECONNECT_ATTEMPTS=%s",
			    tc->env);
			envp[0] = envv;
		}
		in.envp = envp;
		if (tc->flag != NULL) {
			snprintf(flagv, sizeof flagv,
			    "max_reconnect_attempts=%s", tc->flag);
			ov[0] = flagv;
			in.overrides = ov;
			in.n_overrides = 1;
		}
		assert_int_equal(config_load(&in, &c, err), 0);
		assert_int_equal(c->max_reconnect_attempts, tc->want);
		assert_non_null(strstr(config_source(c,
		    "MAX_RECONNECT_ATTEMPTS"), tc->want_source));
		config_free(c);
	}
}

/* Each value given for a key through --set, and whether it is accepted. */
struct value_case {
	const char	*kv;
	int		 ok;
	const char	*err_part;	/* expected in the message when not ok */
};

static const struct value_case value_cases[] = {
	{ "AUTO_RECONNECT=false", 1, NULL },
	{ "AUTO_RECONNECT=maybe", 0, "AUTO_RECONNECT='maybe'" },
	{ "MAX_RECONNECT_ATTEMPTS=0", 1, NULL },
	{ "MAX_RECONNECT_ATTEMPTS=-1", 0, "out of range" },
	{ "MAX_RECONNECT_ATTEMPTS=3x", 0, "whole number" },
	{ "MAX_RECONNECT_ATTEMPTS=1001", 0, "out of range" },
	{ "RECONNECT_DELAY=5000", 1, NULL },
	{ "RECONNECT_DELAY=2s", 1, NULL },
	{ "RECONNECT_DELAY=2 s", 0, "duration" },
	{ "RECONNECT_DELAY=2h", 0, "out of range" },
	{ "PRIORITY_COUNTRIES=us,gb,de,fr,ca", 1, NULL },
	{ "PRIORITY_COUNTRIES=US, GB", 1, NULL },
	{ "PRIORITY_COUNTRIES=us,uk", 0, "'gb'" },
	{ "PRIORITY_COUNTRIES=us,zz", 0, "ISO 3166-1" },
	{ "PRIORITY_COUNTRIES=us,us", 0, "twice" },
	{ "PRIORITY_COUNTRIES=usa", 0, "PRIORITY_COUNTRIES" },
	{ "BRIGHT_DATA_PROXY_TYPE=residential", 1, NULL },
	{ "BRIGHT_DATA_PROXY_TYPE=datacenter", 0, "isp or residential" },
	{ "BRIGHT_DATA_API_URL=http://127.0.0.1:9", 1, NULL },
	{ "BRIGHT_DATA_API_URL=ftp://x", 0, "http" },
	{ "BRIGHT_DATA_PROXY_PORT=65536", 0, "out of range" },
	{ "BRIGHT_DATA_API_KEY_SECRET=env:BD_KEY", 1, NULL },
	{ "BRIGHT_DATA_API_KEY_SECRET=file:bd.key", 1, NULL },
	{ "BRIGHT_DATA_API_KEY_SECRET=exec:pass show bd", 1, NULL },
	{ "BRIGHT_DATA_API_KEY_SECRET=hunter2", 0, "env:, file:, exec:" },
	{ "BRIGHT_DATA_API_KEY_SECRET=exec:'oops", 0, "quotes" },
	{ "BRIGHT_DATA_API_KEY_SECRET=projects/p/secrets/s/versions/1", 1,
	  NULL },
	{ "BRIGHT_DATA_API_KEY_SECRET=projects/p/secrets/s", 0,
	  "Google Secret Manager" },
	{ "RESPAWN_GSM_URL=gopher://x", 0, "http" },
	{ "RESPAWN_API_LISTEN=127.0.0.1:8787", 1, NULL },
	{ "RESPAWN_API_LISTEN=127.0.0.1", 0, "host:port" },
	{ "RESPAWN_API_LISTEN=127.0.0.1:0", 1, NULL },	/* kernel picks */
	{ "RESPAWN_API_LISTEN=127.0.0.1:65536", 0, "port" },
	{ "RESPAWN_WEBHOOK_URLS=http://a/x, https://b:8443/y", 1, NULL },
	{ "RESPAWN_WEBHOOK_URLS=", 1, NULL },
	{ "RESPAWN_WEBHOOK_URLS=ftp://a/x", 0, "http" },
	{ "RESPAWN_WEBHOOK_URLS=http://a/x,b", 0, "http" },
	{ "RESPAWN_WEBHOOK_URLS=http://", 0, "http" },
	{ "RESPAWN_WEBHOOK_QUEUE=0", 0, "RESPAWN_WEBHOOK_QUEUE" },
	{ "RESPAWN_WEBHOOK_ATTEMPTS=101", 0, "RESPAWN_WEBHOOK_ATTEMPTS" },
	{ "RESPAWN_WEBHOOK_TIMEOUT=50ms", 0, "RESPAWN_WEBHOOK_TIMEOUT" },
	{ "RESPAWN_WEBHOOK_SECRET=env:WH", 1, NULL },
	{ "RESPAWN_WEBHOOK_SECRET=plain", 0, "RESPAWN_WEBHOOK_SECRET" },
	{ "RESPAWN_LOG_LEVEL=debug", 1, NULL },
	{ "RESPAWN_LOG_LEVEL=loud", 0, "debug, info" },
	{ "RESPAWN_LOG_FORMAT=json", 1, NULL },
	{ "RESPAWN_LOG_FORMAT=xml", 0, "logfmt or json" },
	{ "RESPAWN_DB=", 0, "must not be empty" },
	{ "RESPAWN_RECOVERY_WINDOW=86400", 1, NULL },
	{ "RESPAWN_RECOVERY_WINDOW=1s", 0, "out of range" },
	{ "RESPAWN_CONNECTOR=node 'my connector.js'", 1, NULL },
	{ "RESPAWN_CONNECTOR=node \"x", 0, "quotes" },
	{ "NO_SUCH_KEY=1", 0, "unknown key" },
	{ "MISSING_EQUALS", 0, "KEY=VALUE" },
	{ "BRIGHT_DATA_ZONE_PASSWORD=", 1, NULL },
};

static void
test_values(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(value_cases); i++) {
		const struct value_case	*tc = &value_cases[i];
		const char		*ov[1] = { tc->kv };
		struct config_input	 in = { .overrides = ov,
					    .n_overrides = 1 };
		struct config		*c = NULL;
		char			 err[CONFIG_ERR_LEN];
		int			 r;

		r = config_load(&in, &c, err);
		if (tc->ok) {
			if (r != 0)
				fail_msg("%s: rejected: %s", tc->kv, err);
		} else {
			if (r == 0)
				fail_msg("%s: accepted", tc->kv);
			if (strstr(err, tc->err_part) == NULL)
				fail_msg("%s: message '%s' lacks '%s'", tc->kv,
				    err, tc->err_part);
		}
		config_free(c);
	}
}

static void
test_parsed_fields(void **state)
{
	const char		*ov[] = { "PRIORITY_COUNTRIES=US,gb , de",
				    "RECONNECT_DELAY=2s",
				    "RESPAWN_RECOVERY_WINDOW=3600" };
	struct config_input	 in = { .overrides = ov, .n_overrides = 3 };
	struct config		*c;
	char			 err[CONFIG_ERR_LEN];

	(void)state;
	assert_int_equal(config_load(&in, &c, err), 0);
	assert_int_equal(c->n_priority_countries, 3);
	assert_string_equal(c->priority_countries[0], "us");
	assert_string_equal(c->priority_countries[1], "gb");
	assert_string_equal(c->priority_countries[2], "de");
	assert_int_equal(c->reconnect_delay_ms, 2000);
	assert_int_equal(c->recovery_window_ms, 3600 * 1000);
	assert_true(c->auto_reconnect);
	config_free(c);
}

/* Broken files, and the words their messages must contain. */
struct file_case {
	const char	*text;
	const char	*err_part;
};

static const struct file_case file_cases[] = {
	{ "[respawn]\nNOT_A_KEY = 1\n", "unknown key 'NOT_A_KEY'" },
	{ "[other]\nRESPAWN_DB = x\n", "unknown section" },
	{ "RESPAWN_DB x\n", "line 1" },
	{ "[respawn\nRESPAWN_DB = x\n", "line 1" },
	{ "AUTO_RECONNECT = perhaps\n", "AUTO_RECONNECT='perhaps' (from file" },
	{ "\n\nMAX_RECONNECT_ATTEMPTS = 9999\n", "line 3" },
};

static void
test_file_errors(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(file_cases); i++) {
		struct config_input	 in = { 0 };
		struct config		*c = NULL;
		char			 err[CONFIG_ERR_LEN];

		in.file = write_file("bad.ini", file_cases[i].text);
		assert_int_not_equal(config_load(&in, &c, err), 0);
		assert_null(c);
		if (strstr(err, file_cases[i].err_part) == NULL)
			fail_msg("case %zu: message '%s' lacks '%s'", i, err,
			    file_cases[i].err_part);
	}
}

static void
test_file_limits(void **state)
{
	struct config_input	 in = { 0 };
	struct config		*c = NULL;
	char			 err[CONFIG_ERR_LEN];
	char			*big;

	(void)state;
	in.file = "/nonexistent/respawn.ini";
	assert_int_equal(config_load(&in, &c, err), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/respawn.ini"));

	/* A line longer than any value is refused, not split in two. */
	big = malloc(CONFIG_VALUE_MAX + 512);
	memset(big, 'a', CONFIG_VALUE_MAX + 500);
	memcpy(big, "RESPAWN_DB = ", 13);
	big[CONFIG_VALUE_MAX + 500] = '\0';
	in.file = write_file("long.ini", big);
	assert_int_equal(config_load(&in, &c, err), -E2BIG);
	assert_non_null(strstr(err, "too long"));
	free(big);

	in.file = write_file("nul.ini", "");
	assert_int_equal(config_load(&in, &c, err), 0);
	config_free(c);
}

/* RESPAWN_CONFIG in the environment names the file when no flag does. */
static void
test_env_names_file(void **state)
{
	struct config_input	 in = { 0 };
	struct config		*c = NULL;
	char			 err[CONFIG_ERR_LEN], envv[600];
	char			*envp[2] = { envv, NULL };
	const char		*path;

	(void)state;
	path = write_file("envfile.ini", "RESPAWN_DB = from-file.db\n");
	snprintf(envv, sizeof envv, "RESPAWN_CONFIG=%s", path);
	in.envp = envp;
	assert_int_equal(config_load(&in, &c, err), 0);
	assert_string_equal(c->db, "from-file.db");
	config_free(c);
}

/*
 * The zone password is a literal secret: an invalid value is not possible,
 * but it must never be printed, whatever the output format.
 */
static void
test_print_redacts(void **state)
{
	const char		*ov[] = {
		"BRIGHT_DATA_ZONE_PASSWORD=zone-pass-VALUE-1",
		"BRIGHT_DATA_API_KEY_SECRET=env:TEST_CONFIG_BD_KEY",
	};
	struct config_input	 in = { .overrides = ov, .n_overrides = 2 };
	struct config		*c;
	char			 err[CONFIG_ERR_LEN];
	char			*out;
	size_t			 len;
	FILE			*f;
	int			 json;

	(void)state;
	setenv("TEST_CONFIG_BD_KEY", "api-key-VALUE-2", 1);
	assert_int_equal(config_load(&in, &c, err), 0);
	for (json = 0; json <= 1; json++) {
		f = open_memstream(&out, &len);
		assert_int_equal(config_print(c, f, json, true), 0);
		fclose(f);
		assert_null(strstr(out, "zone-pass-VALUE-1"));
		assert_null(strstr(out, "api-key-VALUE-2"));
		assert_non_null(strstr(out, "<redacted>"));
		assert_non_null(strstr(out, "env:TEST_CONFIG_BD_KEY"));
		assert_non_null(strstr(out, "resolved"));
		free(out);
	}
	config_free(c);
	unsetenv("TEST_CONFIG_BD_KEY");
}

/*
 * URL-valued keys and free text may carry credentials: check-config shows
 * them without the password of the user information, without the values
 * of credential parameters, and says they were redacted.
 */
struct shown_case {
	const char	*set;		/* KEY=VALUE */
	const char	*secret;	/* never printed */
	const char	*shown;		/* what is printed instead */
};

static const struct shown_case shown_cases[] = {
	{ "RESPAWN_DB=postgresql://u:db-pw-1@h:5432/db", "db-pw-1",
	  "postgresql://u:<redacted>@h:5432/db" },
	{ "RESPAWN_DB=postgresql://u:db@pw@2@h/db", "pw@2",
	  "postgresql://u:<redacted>@h/db" },
	{ "RESPAWN_DB=postgresql://u@h/db?sslmode=require&password=db-pw-3",
	  "db-pw-3", "postgresql://u@h/db?sslmode=require&password=<redacted>" },
	{ "RESPAWN_DB=host=h password=db-pw-4", "db-pw-4",
	  "host=h password=<redacted>" },
	{ "RESPAWN_WEBHOOK_URLS=https://wu:wh-pw-5@h/hook,"
	  "http://h2:8080/x?token=wh-tok-5&a=1", "wh-",
	  "https://h/<redacted>,http://h2:8080/<redacted>" },
	{ "RESPAWN_WEBHOOK_URLS= https://h/x?sig=wh-sig-6 ", "wh-sig-6",
	  " https://h/<redacted> " },
	/* The path may be the credential (a chat service's hook). */
	{ "RESPAWN_WEBHOOK_URLS=https://hooks.example/services/wh-path-7",
	  "wh-path-7", "https://hooks.example/<redacted>" },
	{ "BRIGHT_DATA_API_URL=https://bu:bd-pw-7@h?api_key=bd-key-7", "-7",
	  "https://bu:<redacted>@h?api_key=<redacted>" },
	{ "RESPAWN_GSM_URL=http://gu:gsm-pw-8@h/", "gsm-pw-8",
	  "http://gu:<redacted>@h/" },
	{ "RESPAWN_METADATA_URL=http://h/?secret=md-9", "md-9",
	  "http://h/?secret=<redacted>" },
	{ "RESPAWN_CONNECTOR=node c.js --api-key=conn-10", "conn-10",
	  "node c.js --api-key=<redacted>" },
};

static void
test_print_redacts_urls(void **state)
{
	struct config		*c;
	char			 err[CONFIG_ERR_LEN];
	char			*out;
	size_t			 len, i;
	FILE			*f;
	int			 json;

	(void)state;
	for (i = 0; i < nitems(shown_cases); i++) {
		const char		*ov[] = { shown_cases[i].set,
		    "RESPAWN_WEBHOOK_SECRET=env:TEST_CONFIG_WH" };
		struct config_input	 in = { .overrides = ov,
		    .n_overrides = 2 };

		print_message("case %zu: %s\n", i, shown_cases[i].set);
		assert_int_equal(config_load(&in, &c, err), 0);
		for (json = 0; json <= 1; json++) {
			f = open_memstream(&out, &len);
			(void)config_print(c, f, json, false);
			fclose(f);
			assert_null(strstr(out, shown_cases[i].secret));
			assert_non_null(strstr(out, shown_cases[i].shown));
			if (json)
				assert_non_null(strstr(out,
				    "\"redacted\": true"));
			free(out);
		}
		config_free(c);
	}
}

/*
 * An invalid value is repeated in the error, but never with a password
 * or a credential parameter, not even when it is too long to be kept.
 */
static void
test_errors_redact(void **state)
{
	static const struct {
		const char	*set;
		const char	*secret;
	} cases[] = {
		{ "RESPAWN_WEBHOOK_URLS=https://u:wh-pw-1@h/,ftp://x",
		  "wh-pw-1" },
		{ "RESPAWN_WEBHOOK_URLS=ftp://u:wh-pw-2@h/?token=wh-tok-2",
		  "wh-" },
		{ "BRIGHT_DATA_API_URL=ftp://u:bd-pw-3@h", "bd-pw-3" },
		{ "RESPAWN_DB", "" },
		{ "RESPAWN_DBpostgresql://u:db-pw-4@h/db", "db-pw-4" },
	};
	struct config		*c;
	char			 err[CONFIG_ERR_LEN], *big;
	size_t			 i, n;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		const char		*ov[] = { cases[i].set };
		struct config_input	 in = { .overrides = ov,
		    .n_overrides = 1 };

		print_message("case %zu: %s\n", i, cases[i].set);
		assert_int_equal(config_load(&in, &c, err), -EINVAL);
		if (*cases[i].secret != '\0')
			assert_null(strstr(err, cases[i].secret));
	}
	/* Longer than a value may be: the password is still not repeated. */
	for (n = 0; n < 3; n++) {
		const char		*forms[] = {
			"RESPAWN_DB=postgresql://u:db-pw-long@h/db?x=",
			"RESPAWN_DB=postgresql://u@h/db?password=db-pw-long&x=",
			"RESPAWN_WEBHOOK_URLS=http://u:db-pw-long@h/?x=",
		};
		const char		*ov[1];
		struct config_input	 in = { .overrides = ov,
		    .n_overrides = 1 };

		big = malloc(CONFIG_VALUE_MAX + 200);
		assert_non_null(big);
		snprintf(big, CONFIG_VALUE_MAX + 200, "%s", forms[n]);
		memset(big + strlen(big), 'a', CONFIG_VALUE_MAX);
		big[strlen(forms[n]) + CONFIG_VALUE_MAX] = '\0';
		ov[0] = big;
		assert_int_equal(config_load(&in, &c, err), -E2BIG);
		print_message("%s\n", err);
		assert_non_null(strstr(err, "longer than"));
		assert_null(strstr(err, "db-pw-long"));
		free(big);
	}
}

static void
test_print_reports_unresolved(void **state)
{
	const char		*ov[] = {
		"BRIGHT_DATA_API_KEY_SECRET=env:TEST_CONFIG_UNSET_VAR" };
	struct config_input	 in = { .overrides = ov, .n_overrides = 1 };
	struct config		*c;
	char			 err[CONFIG_ERR_LEN];
	char			*out;
	size_t			 len;
	FILE			*f;

	(void)state;
	unsetenv("TEST_CONFIG_UNSET_VAR");
	assert_int_equal(config_load(&in, &c, err), 0);
	f = open_memstream(&out, &len);
	assert_int_equal(config_print(c, f, false, true), 1);
	fclose(f);
	assert_non_null(strstr(out, "not set"));
	free(out);
	config_free(c);
}

/*
 * JSON holds only UTF-8: a value that is not is shown with U+FFFD for its
 * bytes past ASCII, never left out of check-config --json.
 */
static void
test_print_json_not_utf8(void **state)
{
	const char		*ov[] = { "RESPAWN_STATE_DIR=/srv/caf\xe9" };
	struct config_input	 in = { .overrides = ov, .n_overrides = 1 };
	struct config		*c;
	char			 err[CONFIG_ERR_LEN];
	char			*out;
	size_t			 len;
	FILE			*f;
	json_t			*j;

	(void)state;
	assert_int_equal(config_load(&in, &c, err), 0);
	f = open_memstream(&out, &len);
	assert_int_equal(config_print(c, f, true, false), 0);
	fclose(f);
	j = json_loads(out, 0, NULL);
	assert_non_null(j);
	assert_int_equal(json_object_size(j), config_key_count());
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(j, "RESPAWN_STATE_DIR"), "value")), "/srv/caf\xef\xbf\xbd");
	json_decref(j);
	free(out);
	config_free(c);
}

/* Every key has a help text, and no two keys share a name. */
static void
test_key_table(void **state)
{
	size_t	i, j;

	(void)state;
	assert_true(config_key_count() >= 20);
	for (i = 0; i < config_key_count(); i++) {
		assert_non_null(config_key_help(i));
		assert_true(strlen(config_key_help(i)) > 10);
		for (j = i + 1; j < config_key_count(); j++)
			assert_string_not_equal(config_key_name(i),
			    config_key_name(j));
	}
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
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
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_parsed_fields),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_file_limits),
		cmocka_unit_test(test_env_names_file),
		cmocka_unit_test(test_print_redacts),
		cmocka_unit_test(test_print_redacts_urls),
		cmocka_unit_test(test_errors_redact),
		cmocka_unit_test(test_print_reports_unresolved),
		cmocka_unit_test(test_print_json_not_utf8),
		cmocka_unit_test(test_key_table),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
