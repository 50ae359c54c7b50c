/*
 * main.c - the vmmu command: dispatch to a subcommand, and the two small
 * ones, run and list.
 *
 *   vmmu run      one workload under one mode: a human summary, and CSV
 *   vmmu compare  every workload under every mode, in parallel (compare.c)
 *   vmmu list     the modes and the workloads
 *   vmmu bench    simulated accesses per second (bench.c)
 *   vmmu replay   a valgrind lackey trace under one mode (replay.c)
 *   vmmu trace    convert a trace to its binary form (cmd_trace.c)
 *   vmmu sweep    one parameter over a list of values, the crossover (sweep.c)
 *   vmmu merge    combine CSVs of jobs run elsewhere (merge.c)
 *   vmmu explain  one translation, reference by reference (explain.c), or a
 *                 narrated scenario (scenario.c)
 *   vmmu quiz     a seeded translation exercise (quiz.c)
 *
 * Exit statuses: 0 ok, 1 a run failed, 2 bad usage (see cli.h).
 */
#include <string.h>

#include "cli.h"
#include "../report/csv.h"
#include "../teach/explain.h"
#include "jobs.h"
#include "../core/mmu.h"
#include "../../workloads/replay.h"
#include "../core/machine.h"
#include "report.h"
#include "json_out.h"
#include "../lib/run.h"
#include "../core/stats.h"
#include "../core/vm.h"
#include "registry.h"
#include "vmmu-version.h"

/* ---- top level ---- */

struct command {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *summary;
};

static int run_main(int argc, char **argv);
static int list_main(int argc, char **argv);

static const struct command commands[] = {
    {"run", run_main, "run one workload under one MMU mode"},
    {"compare", compare_main, "run every workload under every mode; write CSV and a summary"},
    {"list", list_main, "list the MMU modes and the workloads"},
    {"bench", bench_main, "simulated accesses per second against a no-translation baseline"},
    {"replay", replay_main, "replay a valgrind lackey trace of a real program under one mode"},
    {"trace", trace_main, "convert a lackey trace to the compact binary form (trace convert)"},
    {"sweep", sweep_main, "vary one parameter under every mode; find the crossover"},
    {"merge", merge_main, "combine the CSVs of sweep jobs run elsewhere, checking completeness"},
    {"explain", explain_main, "one translation, reference by reference (or a narrated scenario)"},
    {"quiz", quiz_main, "a seeded translation exercise; -c prints the worked answers"},
};

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: vmmu COMMAND [FLAGS]\n\n"
		   "vmmu runs guest workloads under native, shadow and nested (EPT) paging, agile\n"
		   "paging and dynamic shadow/nested switching, and counts TLB misses, walk\n"
		   "references, VM exits, faults and flushes.\n\n"
		   "Commands:\n");
	for (size_t k = 0; k < NELEMS(commands); k++)
		fprintf(f, "  %-10s %s\n", commands[k].name, commands[k].summary);
	fprintf(f, "\n`vmmu COMMAND --help` lists the flags of a command and their defaults.\n"
		   "`vmmu --version` prints the version.\n"
		   "Exit status: 0 ok, 1 a run failed, 2 bad usage.\n");
}

static int dispatch(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	cmd = argv[1];
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0 ||
	    strcmp(cmd, "version") == 0) {
		printf("vmmu %s\n", VMMU_VERSION);
		return CLI_EXIT_OK;
	}
	if (cli_is_help(cmd)) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(cmd, "help") == 0) {
		if (argc < 3) {
			usage(stdout);
			return CLI_EXIT_OK;
		}
		/* "vmmu help run" is "vmmu run --help". */
		char *sub[] = {argv[2], "--help", NULL};
		for (size_t k = 0; k < NELEMS(commands); k++)
			if (strcmp(argv[2], commands[k].name) == 0)
				return commands[k].main(2, sub);
		cli_error("help: unknown command '%s' (try `vmmu --help`)", argv[2]);
		return CLI_EXIT_USAGE;
	}
	for (size_t k = 0; k < NELEMS(commands); k++)
		if (strcmp(cmd, commands[k].name) == 0)
			return commands[k].main(argc - 1, argv + 1);
	cli_error("unknown command '%s' (try `vmmu --help`)", cmd);
	return CLI_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	return cli_close_stdout(dispatch(argc, argv));
}

/* ---- vmmu run ---- */

static void run_help(FILE *f)
{
	fprintf(
	    f,
	    "usage: vmmu run --workload W [--mode M] [FLAGS]\n\n"
	    "Run one workload on a freshly booted guest under one MMU mode and print a\n"
	    "summary of its counters and estimated cycles.\n\n"
	    "  --workload W                     workload to run (required; see `vmmu list`)\n"
	    "  --mode M                         MMU mode, one of `vmmu list modes` (default: "
	    "native)\n"
	    "  --csv FILE|-                     also write a CSV header and row to FILE, "
	    "atomically;\n"
	    "                                   with '-', the CSV goes to stdout and the summary\n"
	    "                                   to stderr\n"
	    "  -v, --verbose                    print every counter, and placement notes\n"
	    "  -q, --quiet                      print no summary (errors still go to stderr)\n"
	    "  --json                           print the run as one JSON object on stdout, the\n"
	    "                                   CSV's columns as keys (the summary goes to\n"
	    "                                   stderr)\n"
	    "  -h, --help                       this help\n\n");
	cli_help_wl(f);
	fputc('\n', f);
	cli_help_machine(f);
}

/* -v: say once where host memory went (NUMA fallback included). */
static void run_after_boot(struct vm *vm, void *ctx)
{
	(void)ctx;
	if (vm->cfg.verbose && vm->hm.numa_note != NULL)
		fprintf(stderr, "vmmu: numa: %s\n", vm->hm.numa_note);
}

/* -v: the switch log of a mode that switches (src/switching): one line per
 * "mode switch" event, with the interval's TLB misses and guest faults. */
static void run_trace_switch(void *ctx, const struct trace_event *ev)
{
	(void)ctx;
	if (ev->kind != TR_VMM_OP || ev->what == NULL || strncmp(ev->what, "mode switch", 11) != 0)
		return;
	fprintf(stderr,
		"vmmu: %s at access %" PRIu64 " (interval: %" PRIu64 " TLB misses, %" PRIu64
		" guest faults)\n",
		ev->what, ev->index, ev->result, ev->addr);
}

static int run_main(int argc, char **argv)
{
	struct vm_config cfg;
	struct wl_params p = {.seed = CLI_DEFAULT_SEED};
	const char *mode = "native", *wname = NULL, *csv = NULL;
	const struct workload *w;
	struct run_hooks hooks = {.after_boot = run_after_boot};
	struct run_result r;
	char err[512];
	unsigned opts = 0;

	config_defaults(&cfg);
	for (int i = 1; i < argc;) {
		const char *a = argv[i];
		int rc;

		if (cli_is_help(a)) {
			run_help(stdout);
			return CLI_EXIT_OK;
		}
		if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0 || strcmp(a, "--json") == 0) {
			opts |= a[2] == 'j' ? REPORT_JSON : REPORT_QUIET;
			i++;
			continue;
		}
		if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			cfg.verbose++;
			i++;
			continue;
		}
		rc = cli_parse_machine(&cfg, argc, argv, &i, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_parse_wl(&p, argc, argv, &i, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--mode", argc, argv, &i, &mode, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--workload", argc, argv, &i, &wname, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--csv", argc, argv, &i, &csv, err, sizeof(err));
		if (rc != CLI_MATCHED)
			return cli_reject_arg("run", rc, a, err);
	}
	if (wname == NULL) {
		cli_error("run: --workload is required (see `vmmu list`)");
		return CLI_EXIT_USAGE;
	}
	w = workload_find(wname);
	if (w == NULL) {
		cli_error("--workload: unknown workload '%s' (see `vmmu list`)", wname);
		return CLI_EXIT_USAGE;
	}
	if ((opts & REPORT_JSON) && csv != NULL && strcmp(csv, "-") == 0) {
		cli_error("--json: the JSON object goes to stdout, and so does --csv -; give --csv "
			  "FILE");
		return CLI_EXIT_USAGE;
	}
	if (report_check_run(&cfg, mode, csv) < 0)
		return CLI_EXIT_USAGE;
	if (cfg.verbose)
		hooks.trace_fn = run_trace_switch;

	if (run_workload(&cfg, w, &p, &hooks, &r) != 0) {
		cli_error("run %s/%s failed: %s", w->name, mode,
			  r.err[0] ? r.err : "unknown error");
		return CLI_EXIT_FAIL;
	}
	return report_finish_opts("run", w->name, &cfg, &r, csv, opts);
}

/* ---- vmmu list ---- */

/* The machine profiles side by side, default first. */
static void list_machines(void)
{
	size_t n, nf;
	const struct machine_profile *m = machine_profiles(&n);
	const struct cost_field *f = cost_fields(&nf);
	char buf[64];

	printf("Machine profiles (--machine NAME; the first is the default; sources in "
	       "docs/cost-model.md):\n");
	for (size_t k = 0; k < n; k++)
		printf("  %-12s %s\n", m[k].name, m[k].summary);
	printf("\n  %-18s", "");
	for (size_t k = 0; k < n; k++)
		printf(" %16s", m[k].name);
	printf("\n");
#define ROW(label, fmt, ...)                                          \
	do {                                                          \
		printf("  %-18s", label);                             \
		for (size_t k = 0; k < n; k++) {                      \
			snprintf(buf, sizeof(buf), fmt, __VA_ARGS__); \
			printf(" %16s", buf);                         \
		}                                                     \
		printf("\n");                                         \
	} while (0)
	ROW("tlb (L1:L2)", "%ux%u:%ux%u", m[k].l1d.sets, m[k].l1d.ways, m[k].l2.sets, m[k].l2.ways);
	ROW("tlb-large", "%ux%u", m[k].l1d_large.sets, m[k].l1d_large.ways);
	ROW("itlb", "%ux%u", m[k].l1i.sets, m[k].l1i.ways);
	ROW("psc", "%u:%u:%u:%u", m[k].psc_entries[LVL_PD], m[k].psc_entries[LVL_PDPT],
	    m[k].psc_entries[LVL_PML4], m[k].psc_entries[LVL_PML5]);
	ROW("pwc/ntlb entries", "%u/%u", m[k].pwc_entries, m[k].ntlb_entries);
	ROW("cache L1D", "%ux%u", m[k].cache[0].sets, m[k].cache[0].ways);
	ROW("cache L2", "%ux%u", m[k].cache[1].sets, m[k].cache[1].ways);
	ROW("cache LLC", "%ux%u", m[k].cache[2].sets, m[k].cache[2].ways);
	printf("  cost fields (cycles):\n");
	for (size_t j = 0; j < nf; j++)
		ROW(f[j].name, "%u",
		    *(const uint32_t *)(const void *)((const char *)&m[k].cost + f[j].off));
#undef ROW
}

static void list_help(FILE *f)
{
	fprintf(f, "usage: vmmu list [modes|workloads|machines] [--json] [-q]\n\n"
		   "Without an argument, list the MMU modes and the workloads with their\n"
		   "descriptions and default sizes. With 'modes' or 'workloads', print only\n"
		   "the names, one per line (modes: only those that can run), for scripts.\n"
		   "With 'machines', show the machine profiles (--machine) side by side:\n"
		   "geometry and every cost field (the names --cost takes).\n\n"
		   "  --json       print the same as one JSON value: an object with the keys\n"
		   "               modes, workloads and machines, or the one array asked for\n"
		   "  -q, --quiet  names only, one per line, without headings (as 'modes' and\n"
		   "               'workloads' print them; with 'machines', the profile names;\n"
		   "               with no argument, 'mode NAME' and 'workload NAME' lines)\n"
		   "  -h, --help   this help\n");
}

static int list_main(int argc, char **argv)
{
	const char *only = NULL;
	struct vm_config def;
	char err[256];
	bool json = false, quiet = false;

	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			list_help(stdout);
			return CLI_EXIT_OK;
		}
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
			continue;
		}
		if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) {
			quiet = true;
			continue;
		}
		if (only == NULL &&
		    (strcmp(argv[i], "modes") == 0 || strcmp(argv[i], "workloads") == 0 ||
		     strcmp(argv[i], "machines") == 0)) {
			only = argv[i];
			continue;
		}
		cli_error("list: unexpected argument '%s' (see `vmmu list --help`)", argv[i]);
		return CLI_EXIT_USAGE;
	}
	config_defaults(&def);
	if (json) {
		if (json_out_list(only) < 0) {
			cli_error("list: --json: cannot write the JSON");
			return CLI_EXIT_FAIL;
		}
		return CLI_EXIT_OK;
	}
	if (quiet && only != NULL && strcmp(only, "machines") == 0) {
		size_t n;
		const struct machine_profile *m = machine_profiles(&n);
		for (size_t k = 0; k < n; k++)
			printf("%s\n", m[k].name);
		return CLI_EXIT_OK;
	}
	if (only != NULL && strcmp(only, "machines") == 0) {
		list_machines();
		return CLI_EXIT_OK;
	}
	if (quiet && only == NULL) {
		for (size_t k = 0; mmu_modes[k] != NULL; k++)
			if (jobs_mode_can_run(&def, mmu_modes[k], err, sizeof(err)))
				printf("mode %s\n", mmu_modes[k]->name);
		for (size_t k = 0; workloads[k] != NULL; k++)
			printf("workload %s\n", workloads[k]->name);
		return CLI_EXIT_OK;
	}
	if (only != NULL && strcmp(only, "modes") == 0) {
		for (size_t k = 0; mmu_modes[k] != NULL; k++)
			if (jobs_mode_can_run(&def, mmu_modes[k], err, sizeof(err)))
				printf("%s\n", mmu_modes[k]->name);
		return CLI_EXIT_OK;
	}
	if (only != NULL) {
		for (size_t k = 0; workloads[k] != NULL; k++)
			printf("%s\n", workloads[k]->name);
		return CLI_EXIT_OK;
	}
	printf("Modes:\n");
	for (size_t k = 0; mmu_modes[k] != NULL; k++) {
		const struct mmu_ops *m = mmu_modes[k];
		if (jobs_mode_can_run(&def, m, err, sizeof(err)))
			printf("  %-12s %s\n", m->name, m->desc ? m->desc : "");
		else
			printf("  %-12s unavailable: %s\n", m->name, err);
	}
	printf("\nWorkloads (default sizes; override with --pages, --ops, --procs, "
	       "--switch-every):\n");
	printf("  %-12s %10s %12s %6s %8s  %s\n", "NAME", "PAGES", "OPS", "PROCS", "SWITCH",
	       "DESCRIPTION");
	for (size_t k = 0; workloads[k] != NULL; k++) {
		const struct workload *w = workloads[k];
		printf("  %-12s %10" PRIu64 " %12" PRIu64 " %6" PRIu32 " %8" PRIu32 "  %s\n",
		       w->name, w->def_pages, w->def_ops, w->def_procs, w->def_switch_every,
		       w->desc ? w->desc : "");
	}
	return CLI_EXIT_OK;
}
