/*
 * cmd_trace.c - `vmmu trace convert IN OUT`: a lackey text trace into the
 * compact binary form (workloads/trace_bin.h), which `vmmu replay` reads
 * as it reads the text. OUT is written to a temporary file in its
 * directory and renamed at the end, so a failed conversion leaves no
 * partial trace behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "../../workloads/trace_bin.h"

static void trace_help(FILE *f)
{
	fprintf(f,
		"usage: vmmu trace convert IN|- OUT|-\n\n"
		"Convert a valgrind lackey trace (text, with or without SYSCALL lines) into\n"
		"the compact binary form: a version header and a zstd-compressed stream of\n"
		"accesses and the trace's other lines, in order (docs/replay.md). `vmmu replay\n"
		"--trace` reads either form. Every line is checked as the replay checks it: a\n"
		"malformed line stops the conversion with its line number (exit status 2).\n"
		"IN '-' reads standard input, so a recording need not touch the disk:\n"
		"  valgrind --tool=lackey --trace-mem=yes --trace-syscalls=yes --log-fd=9 PROG \\\n"
		"      9>&1 >/dev/null | vmmu trace convert - PROG.vtrace\n"
		"OUT '-' writes standard output. One line on stderr gives the counts.\n\n"
		"  -h, --help   this help\n");
}

static int trace_convert_main(const char *in, const char *out)
{
	struct tbin_convert_stats st;
	char err[600], tmp[4200];
	int in_fd = STDIN_FILENO, out_fd = STDOUT_FILENO, rc;
	bool to_file = strcmp(out, "-") != 0;
	struct stat sb;

	if (strcmp(in, "-") != 0) {
		in_fd = open(in, O_RDONLY | O_CLOEXEC);
		if (in_fd < 0) {
			cli_error("trace convert: cannot open '%s': %s", in, strerror(errno));
			return CLI_EXIT_USAGE;
		}
	}
	if (to_file) {
		if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", out, (long)getpid()) >=
		    sizeof(tmp)) {
			cli_error("trace convert: OUT path too long");
			return CLI_EXIT_USAGE;
		}
		out_fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (out_fd < 0) {
			cli_error("trace convert: cannot create '%s': %s", tmp, strerror(errno));
			if (in_fd != STDIN_FILENO)
				close(in_fd);
			return CLI_EXIT_USAGE;
		}
	}
	rc = tbin_convert(in_fd, strcmp(in, "-") == 0 ? "<stdin>" : in, out_fd, &st, err,
			  sizeof(err));
	if (in_fd != STDIN_FILENO)
		close(in_fd);
	if (to_file) {
		if (close(out_fd) != 0 && rc == 0) {
			snprintf(err, sizeof(err), "%.400s: %s", tmp, strerror(errno));
			rc = 1;
		}
		if (rc == 0 && rename(tmp, out) != 0) {
			snprintf(err, sizeof(err), "cannot rename to '%.400s': %s", out,
				 strerror(errno));
			rc = 1;
		}
		if (rc != 0)
			unlink(tmp);
	}
	if (rc != 0) {
		cli_error("trace convert: %s", err);
		return rc == 2 ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
	}
	if (to_file && stat(out, &sb) == 0)
		st.out_bytes = (uint64_t)sb.st_size;
	fprintf(stderr,
		"vmmu: trace convert: %" PRIu64 " lines, %" PRIu64 " accesses, %" PRIu64
		" other lines; %" PRIu64 " bytes in, %" PRIu64 " bytes out\n",
		st.lines, st.records, st.texts, st.in_bytes, st.out_bytes);
	return CLI_EXIT_OK;
}

int trace_main(int argc, char **argv)
{
	if (argc >= 2 && cli_is_help(argv[1])) {
		trace_help(stdout);
		return CLI_EXIT_OK;
	}
	if (argc < 2 || strcmp(argv[1], "convert") != 0) {
		cli_error("trace: unknown or missing action '%s' (expected: convert)",
			  argc < 2 ? "" : argv[1]);
		trace_help(stderr);
		return CLI_EXIT_USAGE;
	}
	for (int i = 2; i < argc; i++)
		if (cli_is_help(argv[i])) {
			trace_help(stdout);
			return CLI_EXIT_OK;
		}
	if (argc != 4) {
		cli_error("trace convert: expected IN and OUT, got %d arguments", argc - 2);
		return CLI_EXIT_USAGE;
	}
	return trace_convert_main(argv[2], argv[3]);
}
