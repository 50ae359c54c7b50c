/*
 * manifest.c - mark a set of output files as whole (see manifest.h).
 */
#include "manifest.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csv.h"

struct manifest_ctx {
	const char *dir;
	const char *const *files;
	size_t n;
};

static int manifest_fill(FILE *f, void *ctx)
{
	const struct manifest_ctx *m = ctx;
	char path[PATH_MAX];
	struct stat sb;

	fprintf(f, "# vmmu: the files of this set and their sizes; written last\n");
	for (size_t k = 0; k < m->n; k++) {
		snprintf(path, sizeof(path), "%s/%s", m->dir, m->files[k]);
		if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
			fprintf(f, "%" PRIu64 " %s\n", (uint64_t)sb.st_size, m->files[k]);
	}
	return ferror(f) ? -1 : 0;
}

int manifest_remove(const char *dir, const char *name, char *err, size_t errlen)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (unlink(path) != 0 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove '%s': %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int manifest_write(const char *dir, const char *name, const char *const *files, size_t n, char *err,
		   size_t errlen)
{
	struct manifest_ctx m = {.dir = dir, .files = files, .n = n};
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return csv_write_atomic(path, manifest_fill, &m, err, errlen);
}

int manifest_check(const char *dir, const char *name, char *err, size_t errlen)
{
	char path[PATH_MAX + 16], line[PATH_MAX + 32], file[PATH_MAX];
	struct stat sb;
	uint64_t size;
	int rc = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errlen, "no manifest '%s': the set is not whole", path);
		return -1;
	}
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		if (line[0] == '#')
			continue;
		if (sscanf(line, "%" SCNu64 " %4095s", &size, file) != 2) {
			snprintf(err, errlen, "'%s': bad line", path);
			rc = -1;
			break;
		}
		snprintf(path, sizeof(path), "%.2000s/%.2000s", dir, file);
		if (stat(path, &sb) != 0 || (uint64_t)sb.st_size != size) {
			snprintf(err, errlen, "'%s' is missing or changed since the manifest",
				 path);
			rc = -1;
		}
	}
	fclose(f);
	return rc;
}
