/*
 * fuzz_merge.c - the merge CSV reader (src/cli/merge.c), through
 * merge_main() itself: the input, up to its first NUL byte, is one CSV
 * file; what follows the NUL, if anything, is a --expect jobs file. Both are
 * memfds named by /proc/self/fd/N; OUT is /dev/null (written in place).
 * merge must return 0 or 2 (never 1: nothing here can fail to be written),
 * and never crash or leak.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "../../src/cli/cli.h"

static int memfd_of(const char *name, const uint8_t *data, size_t size, char *path, size_t len)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return -1;
	}
	snprintf(path, len, "/proc/self/fd/%d", fd);
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t csv_len = nul ? (size_t)(nul - data) : size;
	char csv[64], jobs[64];
	char *argv[8];
	int argc = 0, fd_csv, fd_jobs = -1, rc;

	fd_csv = memfd_of("fuzz.csv", data, csv_len, csv, sizeof(csv));
	if (fd_csv < 0)
		return 0;
	if (nul != NULL) {
		fd_jobs = memfd_of("fuzz-jobs", nul + 1, size - csv_len - 1, jobs, sizeof(jobs));
		if (fd_jobs < 0) {
			close(fd_csv);
			return 0;
		}
	}
	argv[argc++] = "merge";
	argv[argc++] = "/dev/null";
	argv[argc++] = csv;
	if (fd_jobs >= 0) {
		argv[argc++] = "--expect";
		argv[argc++] = jobs;
	}
	argv[argc] = NULL;
	rc = merge_main(argc, argv);
	if (rc != 0 && rc != 2)
		abort();
	close(fd_csv);
	if (fd_jobs >= 0)
		close(fd_jobs);
	return 0;
}
