/*
 * report.c - the summary and the one-row CSV of a single run (see report.h).
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "../report/csv.h"
#include "../report/output.h"
#include "jobs.h"
#include "json_out.h"
#include "../core/mmu.h"
#include "report.h"
#include "../core/stats.h"
#include "registry.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- private helpers ---- */

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

/* Can path take the output (output.h's rules)? Prints "vmmu: FLAG: ..."
 * and returns -1 when not; 0 when it can. */
static int report_check_output_path(const char *flag, const char *path)
{
	struct out_target t;
	char err[PATH_MAX + 128];

	if (out_resolve(path, &t, err, sizeof(err)) < 0) {
		cli_error("%s: %s", flag, err);
		return -1;
	}
	return 0;
}

/* The human summary of a completed run (every counter with cfg->verbose). */
static void report_summary(FILE *f, const char *wname, const struct vm_config *cfg,
			   const struct run_result *r)
{
	const struct stats *st = &r->st;
	const struct wl_params *p = &r->params;
	uint64_t est = stats_est_cycles(st);
	uint64_t lookups = st->tlb_hits + st->tlb_misses;
	size_t idx[16], nparts;
	bool any = false;

	fprintf(f, "vmmu run: workload %s, mode %s, seed %" PRIu64, wname, cfg->mode, p->seed);
	/* A replay has no size parameters (all zero): no parenthesis then. */
	if (p->pages || p->ops) {
		fprintf(f, " (pages %" PRIu64 ", ops %" PRIu64, p->pages, p->ops);
		if (p->procs)
			fprintf(f, ", procs %" PRIu32, p->procs);
		if (p->switch_every)
			fprintf(f, ", switch every %" PRIu32, p->switch_every);
		fprintf(f, ")");
	}
	fprintf(f, "\n  machine        %s, cache model %s\n", cfg->machine ? cfg->machine : "?",
		cfg->cache_model ? "on" : "off");
	if (r->region)
		fprintf(f,
			"  %-14s the workload's region of interest (whole run: %" PRIu64
			" accesses, %" PRIu64 " est cycles; --whole-run measures it all)\n",
			"measured", r->whole.accesses, stats_est_cycles(&r->whole));
	else
		fprintf(f, "  %-14s the whole run%s\n", "measured",
			cfg->whole_run ? " (--whole-run)" : " (the workload marks no region)");
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
	if (st->pvm_switches)
		fprintf(f,
			"  %-14s %" PRIu64
			" (L2 -> L1 -> L2 through PVM's switcher, not VM exits)\n",
			"PVM switches", st->pvm_switches);
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
	fprintf(f, "  %-14s %.3f s (workload %.3f s, %.2f M simulated accesses/s, peak RSS %.0f MiB)\n",
		"wall time", r->wall_s, r->sim_s, csv_accesses_per_s(r) / 1e6,
		(double)r->rss_bytes / (1 << 20));
	if (cfg->verbose) {
		fprintf(f, "  all counters:\n");
		for (size_t k = 0; k < stat_nfields; k++)
			fprintf(f, "    %-22s %20" PRIu64 "  %s\n", stat_fields[k].name,
				stat_get(st, &stat_fields[k]), stat_fields[k].desc);
	}
}

/* ---- API ---- */

int report_check_run(struct vm_config *cfg, const char *mode, const char *csv)
{
	const struct mmu_ops *m = mmu_find(mode);
	char err[512];

	if (m == NULL) {
		cli_error("--mode: unknown mode '%s' (see `vmmu list`)", mode);
		return -1;
	}
	cfg->mode = mode;
	if (csv != NULL && report_check_output_path("--csv", csv) < 0)
		return -1;
	if (!jobs_mode_can_run(cfg, m, err, sizeof(err))) {
		cli_error("--mode %s: cannot create the VM: %s", mode, err);
		return -1;
	}
	return 0;
}

FILE *report_stream(const char *csv)
{
	return csv != NULL && strcmp(csv, "-") == 0 ? stderr : stdout;
}

int report_finish(const char *cmd, const char *wname, const struct vm_config *cfg,
		  const struct run_result *r, const char *csv)
{
	return report_finish_opts(cmd, wname, cfg, r, csv, 0);
}

int report_finish_opts(const char *cmd, const char *wname, const struct vm_config *cfg,
		       const struct run_result *r, const char *csv, unsigned opts)
{
	FILE *out = opts & REPORT_JSON ? stderr : report_stream(csv);
	char err[512];
	const char *bad;

	/* Counters that break their invariants are a bug: publish nothing. */
	bad = stats_check(&r->st, mmu_find(cfg->mode)->two_dim);
	if (bad != NULL) {
		cli_error("%s %s/%s failed: counter invariant '%s' violated", cmd, wname, cfg->mode,
			  bad);
		return CLI_EXIT_FAIL;
	}
	if (!(opts & REPORT_QUIET))
		report_summary(out, wname, cfg, r);
	if (opts & REPORT_JSON) {
		fflush(out);
		if (json_out_run(stdout, wname, cfg, r, 1) < 0) {
			cli_error("--json: cannot write the run's JSON object");
			return CLI_EXIT_FAIL;
		}
	}
	if (csv != NULL) {
		struct run_csv c = {.workload = wname, .cfg = cfg, .r = r};
		fflush(out);
		if (csv_write_atomic(csv, run_csv_fill, &c, err, sizeof(err)) < 0) {
			cli_error("--csv: %s", err);
			return CLI_EXIT_FAIL;
		}
	}
	return CLI_EXIT_OK;
}
