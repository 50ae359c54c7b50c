/*
 * output.h - where an output file goes, decided before anything runs.
 *
 * Every file vmmu writes (--csv, merge OUT, explain --svg, sweep
 * --emit-jobs, bench --out, the files of compare and sweep --out) is named
 * by the user. out_resolve() looks at the name once, before the first job,
 * and says how it will be written:
 *
 *   OUT_FD      "-", /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N:
 *               written in place to that open descriptor;
 *   OUT_DEVICE  a character device or a FIFO (or a symlink to one): opened
 *               and written in place, never created, replaced or truncated
 *               by rename (so --csv /dev/null leaves /dev/null alone);
 *   OUT_FILE    a regular file, or a new name in an existing folder: written
 *               to a temporary file in the same folder and renamed over the
 *               target. A symlink to a regular file is followed: the file it
 *               names is replaced, the link stays.
 *
 * Refused (with a message naming the path): a directory, a block device, a
 * socket, a dangling symlink, an existing file that is not writable, and a
 * name whose folder does not exist or is not writable. No folder is ever
 * created here: a missing parent folder is an error.
 *
 * Invariants:
 *   - out_resolve() has no side effect on the file system;
 *   - OUT_FILE's path names a regular file or nothing, in a writable folder.
 */
#ifndef VMMU_OUTPUT_H
#define VMMU_OUTPUT_H

#include <limits.h>
#include <stddef.h>

enum out_kind { OUT_FD, OUT_DEVICE, OUT_FILE };

struct out_target {
	enum out_kind kind;
	int fd;		     /* OUT_FD: the descriptor to write */
	char path[PATH_MAX]; /* OUT_DEVICE, OUT_FILE: what to open or replace */
};

/* Decide how PATH is written. Returns 0, or -1 with err saying why not. */
int out_resolve(const char *path, struct out_target *t, char *err, size_t errlen);

/*
 * Can DIR hold output? It exists and is a writable folder, or it does not
 * exist and its parent does and is writable (DIR alone will be created, by
 * out_make_dir()). Returns 0, or -1 with err set. No side effect.
 */
int out_check_dir(const char *dir, char *err, size_t errlen);

/*
 * Can DIR hold the files names[0..n-1] (and DIR/plots, when it exists)?
 * out_check_dir() on DIR, then out_resolve() on each DIR/NAME. Returns 0, or
 * -1 with err set. No side effect.
 */
int out_check_set(const char *dir, const char *const *names, size_t n, char *err, size_t errlen);

/* Create DIR if it is missing, never its parents. Returns 0, or -1 with err
 * set (also when DIR exists and is not a folder). */
int out_make_dir(const char *dir, char *err, size_t errlen);

#endif
