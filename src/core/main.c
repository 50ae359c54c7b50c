/*
 * main.c - the vmmu command: dispatch to a subcommand, and the two small
 * ones, run and list.
 *
 *   vmmu run      one workload under one mode: a human summary, and CSV
 *   vmmu compare  every workload under every mode, in parallel (compare.c)
 *   vmmu list     the modes and the workloads
 *   vmmu bench    simulated accesses per second (bench.c)
 *
 * Exit statuses: 0 ok, 1 a run failed, 2 bad usage (see cli.h).
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "csv.h"
#include "mmu.h"
#include "run.h"
#include "stats.h"
#include "vm.h"

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
};

/* Subcommands that the plan names but that do not exist yet. */
static const char *const planned[] = {"sweep", "explain", "replay", "merge", "quiz"};

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: vmmu COMMAND [FLAGS]\n\n"
		   "vmmu runs guest workloads under native, shadow and nested (EPT) paging and\n"
		   "counts TLB misses, walk references, VM exits, faults and flushes.\n\n"
		   "Commands:\n");
	for (size_t k = 0; k < NELEMS(commands); k++)
		fprintf(f, "  %-10s %s\n", commands[k].name, commands[k].summary);
	fprintf(f, "\n`vmmu COMMAND --help` lists the flags of a command and their defaults.\n"
		   "Exit status: 0 ok, 1 a run failed, 2 bad usage.\n");
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	cmd = argv[1];
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
	for (size_t k = 0; k < NELEMS(planned); k++) {
		if (strcmp(cmd, planned[k]) == 0) {
			cli_error("%s: not built yet (see \"Not built yet\" in README.md)", cmd);
			return CLI_EXIT_USAGE;
		}
	}
	cli_error("unknown command '%s' (try `vmmu --help`)", cmd);
	return CLI_EXIT_USAGE;
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
	    "  --mode M                         MMU mode: native, shadow or nested (default: "
	    "native)\n"
	    "  --csv FILE|-                     also write a CSV header and row to FILE, "
	    "atomically;\n"
	    "                                   with '-', the CSV goes to stdout and the summary\n"
	    "                                   to stderr\n"
	    "  -v, --verbose                    print every counter, and placement notes\n"
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

/* Is the directory that will hold path there and writable? */
static int check_output_path(const char *flag, const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	struct stat sb;

	if (path[0] == '\0') {
		cli_error("%s: empty file name", flag);
		return -1;
	}
	if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		cli_error("%s: '%s' is a directory", flag, path);
		return -1;
	}
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		cli_error("%s: directory '%s' does not exist", flag, dir);
		return -1;
	}
	if (access(dir, W_OK) != 0) {
		cli_error("%s: directory '%s' is not writable: %s", flag, dir, strerror(errno));
		return -1;
	}
	return 0;
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0.0;
}

/* Cost parts (the cyc_* counters), largest first, into idx[]; returns how many. */
static size_t cost_parts_sorted(const struct stats *st, size_t *idx, size_t max)
{
	size_t n = 0;

	for (size_t k = 0; k < stat_nfields && n < max; k++)
		if (strncmp(stat_fields[k].name, "cyc_", 4) == 0)
			idx[n++] = k;
	for (size_t a = 1; a < n; a++)
		for (size_t b = a; b > 0 && stat_get(st, &stat_fields[idx[b]]) >
						stat_get(st, &stat_fields[idx[b - 1]]);
		     b--) {
			size_t t = idx[b];
			idx[b] = idx[b - 1];
			idx[b - 1] = t;
		}
	return n;
}

static void print_summary(FILE *f, const char *wname, const struct vm_config *cfg,
			  const struct run_result *r)
{
	const struct stats *st = &r->st;
	const struct wl_params *p = &r->params;
	uint64_t est = stats_est_cycles(st);
	uint64_t lookups = st->tlb_hits + st->tlb_misses;
	size_t idx[16], nparts;
	bool any = false;

	fprintf(f,
		"vmmu run: workload %s, mode %s, seed %" PRIu64 " (pages %" PRIu64 ", ops %" PRIu64,
		wname, cfg->mode, p->seed, p->pages, p->ops);
	if (p->procs)
		fprintf(f, ", procs %" PRIu32, p->procs);
	if (p->switch_every)
		fprintf(f, ", switch every %" PRIu32, p->switch_every);
	fprintf(f, ")\n");
	fprintf(f, "  %-14s %" PRIu64 " (user %" PRIu64 ")\n", "accesses", st->accesses,
		st->user_accesses);
	fprintf(f,
		"  %-14s %" PRIu64 " misses in %" PRIu64 " lookups (miss rate %.3f%%), %" PRIu64
		" L2 hits\n",
		"TLB", st->tlb_misses, lookups, pct(st->tlb_misses, lookups), st->l2_tlb_hits);
	fprintf(f,
		"  %-14s %" PRIu64 " walks, %" PRIu64 " refs (%.2f refs/walk); user %" PRIu64
		" walks, %" PRIu64 " refs; %" PRIu64 " refs in faulting walks\n",
		"walks", st->walks, st->walk_refs, ratio(st->walk_refs, st->walks), st->walks_user,
		st->walk_refs_user, st->fault_walk_refs);
	fprintf(f, "  %-14s %" PRIu64 " (demand %" PRIu64 ", copy-on-write %" PRIu64 ")\n",
		"guest faults", st->guest_faults, st->demand_faults, st->cow_faults);
	fprintf(f, "  %-14s %" PRIu64, "VM exits", st->vm_exits);
	for (size_t k = 0; k < stat_nfields; k++) {
		uint64_t v = stat_get(st, &stat_fields[k]);
		if (strncmp(stat_fields[k].name, "exits_", 6) != 0 || v == 0)
			continue;
		fprintf(f, "%s%s %" PRIu64, any ? ", " : " (", stat_fields[k].name + 6, v);
		any = true;
	}
	fprintf(f, "%s\n", any ? ")" : "");
	fprintf(f,
		"  %-14s %" PRIu64 " (guest requested %" PRIu64 ", %" PRIu64 " entries dropped)\n",
		"TLB flushes", st->tlb_flushes, st->guest_tlb_flushes, st->tlb_entries_flushed);
	fprintf(f, "  %-14s %" PRIu64 " (%.2f cycles/access)", "est cycles", est,
		csv_cycles_per_access(r));
	nparts = cost_parts_sorted(st, idx, NELEMS(idx));
	any = false;
	for (size_t k = 0; k < nparts && k < 3; k++) {
		uint64_t v = stat_get(st, &stat_fields[idx[k]]);
		if (v == 0)
			break;
		fprintf(f, "%s%s %.1f%%", any ? ", " : ": ", stat_fields[idx[k]].name + 4,
			pct(v, est));
		any = true;
	}
	fputc('\n', f);
	fprintf(f, "  %-14s 0x%016" PRIx64 "\n", "checksum", r->checksum);
	fprintf(f, "  %-14s 0x%016" PRIx64 "\n", "guest digest", r->guest_digest);
	fprintf(f, "  %-14s %.3f s (%.2f M simulated accesses/s)\n", "wall time", r->wall_s,
		csv_accesses_per_s(r) / 1e6);
	if (cfg->verbose) {
		fprintf(f, "  all counters:\n");
		for (size_t k = 0; k < stat_nfields; k++)
			fprintf(f, "    %-22s %20" PRIu64 "  %s\n", stat_fields[k].name,
				stat_get(st, &stat_fields[k]), stat_fields[k].desc);
	}
}

struct run_csv {
	const char *workload;
	const struct vm_config *cfg;
	const struct run_result *r;
};

static int run_csv_fill(FILE *f, void *ctx)
{
	const struct run_csv *c = ctx;

	if (csv_write_header(f) < 0)
		return -1;
	return csv_write_row(f, c->workload, c->cfg, c->r);
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
	struct vm *probe;
	const char *bad;
	FILE *out;

	config_defaults(&cfg);
	for (int i = 1; i < argc;) {
		const char *a = argv[i];
		int rc;

		if (cli_is_help(a)) {
			run_help(stdout);
			return CLI_EXIT_OK;
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
		if (rc == CLI_ERR) {
			cli_error("%s", err);
			return CLI_EXIT_USAGE;
		}
		if (rc == CLI_NOMATCH) {
			if (a[0] == '-')
				cli_error("run: unknown flag '%s' (see `vmmu run --help`)", a);
			else
				cli_error("run: unexpected argument '%s' (see `vmmu run --help`)",
					  a);
			return CLI_EXIT_USAGE;
		}
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
	if (mmu_find(mode) == NULL) {
		cli_error("--mode: unknown mode '%s' (see `vmmu list`)", mode);
		return CLI_EXIT_USAGE;
	}
	cfg.mode = mode;
	if (csv != NULL && strcmp(csv, "-") != 0 && check_output_path("--csv", csv) < 0)
		return CLI_EXIT_USAGE;

	/* A mode that is listed but not built, or a machine the engine refuses,
	 * is a usage error, reported before any work. */
	probe = vm_create(&cfg, err, sizeof(err));
	if (probe == NULL) {
		cli_error("--mode %s: cannot create the VM: %s", mode, err);
		return CLI_EXIT_USAGE;
	}
	vm_destroy(probe);

	if (run_workload(&cfg, w, &p, &hooks, &r) != 0) {
		cli_error("run %s/%s failed: %s", w->name, mode,
			  r.err[0] ? r.err : "unknown error");
		return CLI_EXIT_FAIL;
	}
	/* Counters that break their invariants are a bug: publish nothing. */
	bad = stats_check(&r.st, mmu_find(mode) == &nested_mmu_ops);
	if (bad != NULL) {
		cli_error("run %s/%s failed: counter invariant '%s' violated", w->name, mode, bad);
		return CLI_EXIT_FAIL;
	}

	out = csv != NULL && strcmp(csv, "-") == 0 ? stderr : stdout;
	print_summary(out, w->name, &cfg, &r);
	if (csv != NULL) {
		struct run_csv c = {.workload = w->name, .cfg = &cfg, .r = &r};
		fflush(out);
		if (csv_write_atomic(csv, run_csv_fill, &c, err, sizeof(err)) < 0) {
			cli_error("--csv: %s", err);
			return CLI_EXIT_FAIL;
		}
	}
	return CLI_EXIT_OK;
}

/* ---- vmmu list ---- */

static void list_help(FILE *f)
{
	fprintf(f, "usage: vmmu list [modes|workloads]\n\n"
		   "Without an argument, list the MMU modes and the workloads with their\n"
		   "descriptions and default sizes. With 'modes' or 'workloads', print only\n"
		   "the names, one per line (modes: only those that can run), for scripts.\n\n"
		   "  -h, --help   this help\n");
}

/* Can a VM of this mode be created on the default machine? */
static bool mode_available(const struct mmu_ops *m, char *err, size_t errlen)
{
	struct vm_config c;
	struct vm *vm;

	config_defaults(&c);
	c.mode = m->name;
	vm = vm_create(&c, err, errlen);
	if (vm == NULL)
		return false;
	vm_destroy(vm);
	return true;
}

static int list_main(int argc, char **argv)
{
	const char *only = NULL;
	char err[256];

	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			list_help(stdout);
			return CLI_EXIT_OK;
		}
		if (only == NULL &&
		    (strcmp(argv[i], "modes") == 0 || strcmp(argv[i], "workloads") == 0)) {
			only = argv[i];
			continue;
		}
		cli_error("list: unexpected argument '%s' (see `vmmu list --help`)", argv[i]);
		return CLI_EXIT_USAGE;
	}
	if (only != NULL && strcmp(only, "modes") == 0) {
		for (size_t k = 0; mmu_modes[k] != NULL; k++)
			if (mode_available(mmu_modes[k], err, sizeof(err)))
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
		if (mode_available(m, err, sizeof(err)))
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
