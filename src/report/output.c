/*
 * output.c - where an output file goes (see output.h for the rules).
 *
 * The checks run before any job so that a bad output name costs nothing;
 * csv_write_atomic() resolves the name again when it writes, so a file
 * system that changed meanwhile is still never harmed (a FIFO made after
 * the check is written in place, not replaced).
 */
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csv.h"

/* ---- private helpers ---- */

/* "/dev/fd/N" or "/proc/self/fd/N" -> N; -1 when path is neither. */
static int fd_of_path(const char *path)
{
	static const char *const pre[] = {"/dev/fd/", "/proc/self/fd/"};

	if (strcmp(path, "-") == 0 || strcmp(path, "/dev/stdout") == 0)
		return STDOUT_FILENO;
	if (strcmp(path, "/dev/stderr") == 0)
		return STDERR_FILENO;
	for (size_t k = 0; k < sizeof(pre) / sizeof(pre[0]); k++) {
		size_t n = strlen(pre[k]);
		char *end;
		long v;

		if (strncmp(path, pre[k], n) != 0 || path[n] < '0' || path[n] > '9')
			continue;
		errno = 0;
		v = strtol(path + n, &end, 10);
		if (*end == '\0' && errno == 0 && v >= 0 && v <= INT32_MAX)
			return (int)v;
	}
	return -1;
}

static const char *type_name(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISSOCK(m))
		return "a socket";
	return "not a regular file";
}

/* The folder that will hold a new or replaced file: there and writable? */
static int check_parent(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	struct stat sb;

	csv_dir_of(path, dir, sizeof(dir));
	if (stat(dir, &sb) != 0) {
		snprintf(err, errlen, "folder '%s' does not exist (it is not created)", dir);
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "'%s' is not a folder", dir);
		return -1;
	}
	if (access(dir, W_OK | X_OK) != 0) {
		snprintf(err, errlen, "folder '%s' is not writable: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- API ---- */

int out_resolve(const char *path, struct out_target *t, char *err, size_t errlen)
{
	struct stat lsb, sb;
	int fd;

	memset(t, 0, sizeof(*t));
	t->fd = -1;
	if (path[0] == '\0') {
		snprintf(err, errlen, "empty file name");
		return -1;
	}
	if (strlen(path) + 32 >= sizeof(t->path)) {
		snprintf(err, errlen, "path too long");
		return -1;
	}
	fd = fd_of_path(path);
	if (fd >= 0) {
		if (fcntl(fd, F_GETFL) < 0) {
			snprintf(err, errlen, "'%s': descriptor %d is not open", path, fd);
			return -1;
		}
		t->kind = OUT_FD;
		t->fd = fd;
		return 0;
	}
	if (lstat(path, &lsb) != 0) {
		if (errno != ENOENT) {
			snprintf(err, errlen, "cannot use '%s': %s", path, strerror(errno));
			return -1;
		}
		t->kind = OUT_FILE;
		snprintf(t->path, sizeof(t->path), "%s", path);
		return check_parent(path, err, errlen);
	}
	if (stat(path, &sb) != 0) {
		snprintf(err, errlen, "'%s' is a symlink to a missing file (refused)", path);
		return -1;
	}
	if (S_ISCHR(sb.st_mode) || S_ISFIFO(sb.st_mode)) {
		if (access(path, W_OK) != 0) {
			snprintf(err, errlen, "'%s' is not writable: %s", path, strerror(errno));
			return -1;
		}
		t->kind = OUT_DEVICE;
		snprintf(t->path, sizeof(t->path), "%s", path);
		return 0;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "'%s' is %s", path, type_name(sb.st_mode));
		return -1;
	}
	if (access(path, W_OK) != 0) {
		snprintf(err, errlen, "'%s' is not writable: %s", path, strerror(errno));
		return -1;
	}
	t->kind = OUT_FILE;
	if (S_ISLNK(lsb.st_mode)) {
		/* Replace the file the link names; the link stays a link. */
		char *real = realpath(path, NULL);
		if (real == NULL || strlen(real) + 32 >= sizeof(t->path)) {
			snprintf(err, errlen, "cannot resolve the symlink '%s'", path);
			free(real);
			return -1;
		}
		snprintf(t->path, sizeof(t->path), "%s", real);
		free(real);
	} else {
		snprintf(t->path, sizeof(t->path), "%s", path);
	}
	return check_parent(t->path, err, errlen);
}

int out_check_dir(const char *dir, char *err, size_t errlen)
{
	struct stat sb;

	if (dir[0] == '\0') {
		snprintf(err, errlen, "empty folder name");
		return -1;
	}
	if (stat(dir, &sb) == 0) {
		if (!S_ISDIR(sb.st_mode)) {
			snprintf(err, errlen, "'%s' is not a folder", dir);
			return -1;
		}
		if (access(dir, W_OK | X_OK) != 0) {
			snprintf(err, errlen, "folder '%s' is not writable: %s", dir,
				 strerror(errno));
			return -1;
		}
		return 0;
	}
	if (errno != ENOENT) {
		snprintf(err, errlen, "cannot use folder '%s': %s", dir, strerror(errno));
		return -1;
	}
	return check_parent(dir, err, errlen);
}

int out_check_set(const char *dir, const char *const *names, size_t n, char *err, size_t errlen)
{
	char path[PATH_MAX], sub[PATH_MAX];
	struct out_target t;
	struct stat sb;

	if (out_check_dir(dir, err, errlen) < 0)
		return -1;
	if (stat(dir, &sb) != 0)
		return 0; /* new: nothing in it to check */
	for (size_t k = 0; k < n; k++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[k]) >= sizeof(path)) {
			snprintf(err, errlen, "path too long in folder '%s'", dir);
			return -1;
		}
		if (out_resolve(path, &t, sub, sizeof(sub)) < 0) {
			snprintf(err, errlen, "%s", sub);
			return -1;
		}
	}
	snprintf(path, sizeof(path), "%s/plots", dir);
	if (stat(path, &sb) == 0 && out_check_dir(path, sub, sizeof(sub)) < 0) {
		snprintf(err, errlen, "%s", sub);
		return -1;
	}
	return 0;
}

int out_make_dir(const char *dir, char *err, size_t errlen)
{
	struct stat sb;

	if (dir[0] == '\0') {
		snprintf(err, errlen, "empty folder name");
		return -1;
	}
	if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create folder '%s': %s", dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "'%s' is not a folder", dir);
		return -1;
	}
	return 0;
}
