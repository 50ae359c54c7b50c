/*
 * cmd_replay.c - `vmmu replay`: flags, then one run of the trace-replay
 * workload (workloads/replay.c) published as `vmmu run` publishes a run.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli.h"
#include "report.h"
#include "../lib/run.h"
#include "../../workloads/replay.h"

/* ---- vmmu replay ---- */

static void replay_help(FILE *f)
{
	fprintf(
	    f,
	    "usage: vmmu replay --trace FILE|- [--mode M] [--warmup N] [--csv FILE|-] [-q] "
	    "[FLAGS]\n\n"
	    "Replay a valgrind lackey trace of a real program under one MMU mode, and\n"
	    "print the same summary (and CSV row) as `vmmu run`, for the workload\n"
	    "replay:<trace name>. Record a trace with\n"
	    "  valgrind --tool=lackey --trace-mem=yes --trace-syscalls=yes --log-fd=9 PROG "
	    "9>PROG.lackey\n"
	    "The guest kernel performs the program's mmap, munmap, mprotect, brk, mremap,\n"
	    "fork, exec and exit where the trace shows them, at the addresses the program\n"
	    "got; a fork's child replays its own accesses. An access outside every mapping\n"
	    "stops the run (exit status 2), as does a malformed line, naming its line (or\n"
	    "its byte offset in the binary form, see `vmmu trace convert`); both forms are\n"
	    "read, told apart by their first bytes. docs/replay.md gives the format.\n\n"
	    "  --trace FILE|-                   the trace, text or binary; '-' reads standard\n"
	    "                                   input (required)\n"
	    "  --no-syscalls                    ignore SYSCALL lines: one process, each 2 MiB\n"
	    "                                   region mapped on its first touch\n"
	    "  --warmup N                       the first N accesses (records) warm the TLB,\n"
	    "                                   walk caches and VMM state and are not measured\n"
	    "                                   (default 0: the whole replay is measured)\n"
	    "  --mode M                         MMU mode, one of `vmmu list modes` (default: "
	    "native)\n"
	    "  --csv FILE|-                     also write a CSV header and row to FILE, "
	    "atomically;\n"
	    "                                   with '-', the CSV goes to stdout and the summary\n"
	    "                                   to stderr\n"
	    "  -v, --verbose                    print every counter\n"
	    "  -q, --quiet                      print no summary (errors still go to stderr)\n"
	    "  -h, --help                       this help\n\n");
	cli_help_machine(f);
}

int replay_main(int argc, char **argv)
{
	struct vm_config cfg;
	struct wl_params p = {.seed = CLI_DEFAULT_SEED};
	const char *mode = "native", *trace = NULL, *csv = NULL, *warmup = NULL;
	uint64_t nwarm = 0;
	struct replay_workload *rw;
	struct run_result r;
	bool maxrss = false, no_syscalls = false, quiet = false;
	char err[512];
	FILE *out;
	int rc;

	config_defaults(&cfg);
	for (int i = 1; i < argc;) {
		const char *a = argv[i];

		if (cli_is_help(a)) {
			replay_help(stdout);
			return CLI_EXIT_OK;
		}
		if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			cfg.verbose++;
			i++;
			continue;
		}
		if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
			quiet = true;
			i++;
			continue;
		}
		if (strcmp(a, "--no-syscalls") == 0) {
			no_syscalls = true;
			i++;
			continue;
		}
		/* Not in --help: print the peak resident set (the streaming test). */
		if (strcmp(a, "--maxrss") == 0) {
			maxrss = true;
			i++;
			continue;
		}
		rc = cli_parse_machine(&cfg, argc, argv, &i, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--mode", argc, argv, &i, &mode, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--trace", argc, argv, &i, &trace, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--csv", argc, argv, &i, &csv, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--warmup", argc, argv, &i, &warmup, err, sizeof(err));
		if (rc != CLI_MATCHED)
			return cli_reject_arg("replay", rc, a, err);
	}
	if (warmup != NULL && cli_parse_u64(warmup, &nwarm, err, sizeof(err)) < 0) {
		cli_error("--warmup: %s", err);
		return CLI_EXIT_USAGE;
	}
	if (trace == NULL) {
		cli_error("replay: --trace is required (a lackey trace file, or '-')");
		return CLI_EXIT_USAGE;
	}
	if (report_check_run(&cfg, mode, csv) < 0)
		return CLI_EXIT_USAGE;

	rw = malloc(sizeof(*rw));
	if (rw == NULL) {
		cli_error("replay: out of memory");
		return CLI_EXIT_FAIL;
	}
	if (replay_workload_init(rw, trace) < 0) {
		cli_error("--trace: path too long");
		free(rw);
		return CLI_EXIT_USAGE;
	}
	rw->in.no_syscalls = no_syscalls;
	p.arg = &rw->in;
	rw->in.warmup = nwarm;
	rc = run_workload(&cfg, &rw->w, &p, NULL, &r);
	replay_input_close(&rw->in);
	if (rc != 0) {
		if (rw->in.bad_input)
			cli_error("replay: %s", rw->in.err);
		else
			cli_error("replay %s/%s failed: %s", rw->name, mode,
				  r.err[0] ? r.err : "unknown error");
		rc = rw->in.bad_input ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
		free(rw);
		return rc;
	}
	out = report_stream(csv);
	if (!quiet)
		fprintf(out,
			"trace %s: %" PRIu64 " lines, %" PRIu64 " records (I %" PRIu64
			", L %" PRIu64 ", S %" PRIu64 ", M %" PRIu64 "), %" PRIu64
			" across a page boundary, %" PRIu64 " regions of 2 MiB mapped\n",
			strcmp(trace, "-") == 0 ? "<stdin>" : trace, rw->in.lines, rw->in.records,
			rw->in.fetches, rw->in.loads, rw->in.stores, rw->in.modifies,
			rw->in.straddles, rw->in.regions);
	if (!no_syscalls && !quiet)
		replay_print_sys(out, &rw->in);
	rc = report_finish_opts("replay", rw->name, &cfg, &r, csv, quiet ? REPORT_QUIET : 0);
	if (maxrss) {
		struct rusage ru;
		if (getrusage(RUSAGE_SELF, &ru) == 0)
			fprintf(stderr, "vmmu: replay: max RSS %ld KiB\n", ru.ru_maxrss);
	}
	free(rw);
	return rc;
}
