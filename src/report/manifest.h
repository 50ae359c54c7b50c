/*
 * manifest.h - mark a set of output files as whole.
 *
 * A command that writes several files into one folder (compare) cannot
 * rename them all at once. Instead it removes the set's manifest before it
 * replaces the first file and writes the manifest last (atomically): one
 * line per file of the set, "SIZE NAME", after a comment line. A reader
 * trusts the set only when the manifest is there and every file has the
 * size it lists.
 *
 * Invariants:
 *   - while the manifest exists, every file it lists has the listed size
 *     (the writer never touches a listed file without removing it first).
 */
#ifndef VMMU_MANIFEST_H
#define VMMU_MANIFEST_H

#include <stddef.h>

/* Remove DIR/NAME (absent is fine). Returns 0, or -1 with err set. */
int manifest_remove(const char *dir, const char *name, char *err, size_t errlen);

/* Write DIR/NAME listing those of files[0..n-1] (paths under DIR) that
 * exist, with their sizes. Returns 0, or -1 with err set. */
int manifest_write(const char *dir, const char *name, const char *const *files, size_t n, char *err,
		   size_t errlen);

/* Is the set whole? 0 when DIR/NAME exists and every file it lists has its
 * size; -1 with err naming the first difference. */
int manifest_check(const char *dir, const char *name, char *err, size_t errlen);

#endif
