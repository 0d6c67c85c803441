/*
 * Corpus replay for the fuzz targets in ordinary builds.  Without libFuzzer
 * a fuzz target is linked with this main(), which feeds every file in the
 * directories (or the files) named on its command line to
 * LLVMFuzzerTestOneInput once, so each corpus runs as a regression test,
 * under the sanitizer build in particular.  A target reports a failure by
 * aborting; finding no input at all is a failure too, since it means the
 * test points at the wrong place.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A seed larger than this is a mistake, not a test case. */
#define REPLAY_MAX_INPUT	(1024 * 1024)

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Run one file; returns 0, or -1 if it cannot be read. */
static int
replay_file(const char *path)
{
	FILE	*f;
	uint8_t	*data, *exact;
	size_t	 n;

	if ((f = fopen(path, "rb")) == NULL) {
		perror(path);
		return -1;
	}
	data = malloc(REPLAY_MAX_INPUT + 1);
	if (data == NULL) {
		fclose(f);
		return -1;
	}
	n = fread(data, 1, REPLAY_MAX_INPUT + 1, f);
	fclose(f);
	if (n > REPLAY_MAX_INPUT) {
		fprintf(stderr, "%s: larger than %d bytes\n", path,
		    REPLAY_MAX_INPUT);
		free(data);
		return -1;
	}
	/* A copy of exactly n bytes, so reads past the end are caught. */
	exact = malloc(n == 0 ? 1 : n);
	if (exact == NULL) {
		free(data);
		return -1;
	}
	memcpy(exact, data, n);
	free(data);
	(void)LLVMFuzzerTestOneInput(exact, n);
	free(exact);
	return 0;
}

/* Run every regular file of a directory in name order. */
static int
replay_dir(const char *dir, size_t *count)
{
	struct dirent	**names;
	struct stat	  st;
	char		  path[4096];
	int		  i, n, r = 0;

	if ((n = scandir(dir, &names, NULL, alphasort)) < 0) {
		perror(dir);
		return -1;
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
		if (r == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if ((r = replay_file(path)) == 0)
				(*count)++;
		}
		free(names[i]);
	}
	free(names);
	return r;
}

int
main(int argc, char **argv)
{
	struct stat	st;
	size_t		count = 0;
	int		i;

	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) != 0) {
			perror(argv[i]);
			return 1;
		}
		if (S_ISDIR(st.st_mode) ? replay_dir(argv[i], &count) != 0 :
		    replay_file(argv[i]) != 0)
			return 1;
		if (!S_ISDIR(st.st_mode))
			count++;
	}
	if (count == 0) {
		fprintf(stderr, "usage: %s corpus-dir|file...: no input run\n",
		    argv[0]);
		return 1;
	}
	printf("%zu inputs replayed\n", count);
	return 0;
}
