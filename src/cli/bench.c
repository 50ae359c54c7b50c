/*
 * bench.c - `vmmu bench`: how fast the engine simulates, measured against
 * the physical limit of the same op stream run with no translation at all.
 *
 * For each workload:
 *   record   the workload runs once under native with a recorder attached
 *            (p.rec): every user load, store and fetch is kept, with each
 *            distinct (process, page) given a compact index. The user op
 *            stream is the same under every mode (equivalence), so one
 *            recording serves them all. This run is not timed.
 *   flat     the recorded stream replayed on a flat host array,
 *            flat[index * 4096 + offset]: no TLB, no walk, no fault. This is
 *            the physical limit of the engine for that stream.
 * and for each mode:
 *   sim      the workload itself, through run_workload(); its rate is
 *            accesses / wall time, and user_accesses_per_s counts the user
 *            stream alone, which is what the flat replay runs;
 *   warm     (single-process streams) the recorded addresses replayed
 *            through cpu_load/cpu_store/cpu_fetch on a VM of that mode whose
 *            pages are already mapped, after one untimed warm-up pass: no
 *            faults, but every TLB miss the stream makes still walks;
 *   hitpath  the recorded stream folded into a window of pages that the L1
 *            TLB holds (index modulo the window), replayed through the cpu
 *            calls on a warm VM and on a flat array of the same window: the
 *            TLB-hit path against raw memory, with the same accesses. It
 *            runs twice: on the configured machine, and with the cache
 *            model off (hitpath_nocache_*), where every reference is an L1
 *            hit and no cache state is kept, so that the translation's own
 *            cost is seen apart from the data cache's.
 * Ratios are slowdowns (>= 1 means slower than the flat replay):
 *   flat_ratio    = flat_accesses_per_s / user_accesses_per_s
 *   warm_ratio    = flat_accesses_per_s / warm_accesses_per_s
 *   hitpath_ratio = hitpath_flat_accesses_per_s / hitpath_accesses_per_s
 *   hitpath_nocache_ratio = hitpath_flat_accesses_per_s /
 *                           hitpath_nocache_accesses_per_s
 * Replay rates are the best of --repeat timed samples; a sample replays the
 * whole stream as many times as it takes to last BENCH_MIN_SAMPLE_S. The
 * workload runs are the best of --runs. Timing is CLOCK_MONOTONIC.
 *
 * Instructions per access (--instr). Wall time on a shared machine is noisy;
 * host instruction counts are not. With --instr, once the timed rows are
 * done, bench runs itself again under `valgrind --tool=callgrind` with
 * --instr-pass: the child records each workload the same way and replays,
 * after an uncounted warm-up pass, the first BENCH_INSTR_RECORDS accesses of
 * the flat loop, of the folded flat loop and of each mode's hit path once,
 * with callgrind collecting only during that pass (client requests
 * CALLGRIND_TOGGLE_COLLECT and CALLGRIND_DUMP_STATS_AT). Each dump is named
 * after its pass; the parent reads the dumps' totals and divides by the
 * accesses replayed:
 *   flat_instr_per_access, hitpath_flat_instr_per_access,
 *   hitpath_instr_per_access, and
 *   hitpath_instr_ratio = hitpath_instr_per_access / hitpath_flat_instr_per_access,
 *   and the same two for the hit path with the cache model off
 *   (hitpath_nocache_instr_per_access, hitpath_nocache_instr_ratio).
 * Without valgrind (or its callgrind.h at build time) the columns stay
 * empty and bench says so.
 *
 * This is a benchmark: nothing here asserts a speed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define BENCH_HAVE_CALLGRIND 1
#endif
#endif
#ifndef BENCH_HAVE_CALLGRIND
#define BENCH_HAVE_CALLGRIND 0
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_TOGGLE_COLLECT
#define CALLGRIND_DUMP_STATS_AT(label) ((void)(label))
#endif

#include "cli.h"
#include "../report/csv.h"
#include "../report/output.h"
#include "../lib/run.h"
#include "../core/vm.h"
#include "../core/memstat.h"
#include "registry.h"

#define BENCH_DEFAULT_OUT "bench.csv"
#define BENCH_MAX_MODES 16
#define BENCH_MAX_WL 64
#define BENCH_DEFAULT_REPEAT 3
#define BENCH_DEFAULT_RUNS 1
#define BENCH_DEFAULT_RECORD (UINT64_C(1) << 22) /* accesses kept per workload */
#define BENCH_MAX_FLAT_PAGES (UINT32_C(1) << 16) /* 256 MiB flat array at most */
#define BENCH_MIN_SAMPLE_S 0.1			 /* seconds per timed sample, at least */
#define BENCH_WARM_SLACK (UINT64_C(64) << 20)	 /* guest memory beyond the replayed pages */
#define BENCH_MAX_WARM_MEM (UINT64_C(16) << 30)	 /* largest guest a warm replay asks for */
#define BENCH_INSTR_RECORDS (UINT64_C(1) << 20)	 /* accesses per counted pass (--instr) */
#define BENCH_INSTR_TAG "vmmu-bench"		 /* first word of a dump's label */

/* ---- types ---- */

struct bench {
	const char *out;
	struct vm_config cfg;
	struct wl_params p;
	const struct mmu_ops *modes[BENCH_MAX_MODES];
	size_t nmodes;
	const struct workload *wl[BENCH_MAX_WL];
	size_t nwl;
	unsigned repeat, runs;
	uint64_t record_limit;
	bool instr;	 /* count instructions per access under callgrind */
	bool instr_pass; /* the child: counted passes only, no CSV */
	int argc;
	char **argv;
	struct bench_row *rows;
	size_t nrows;
	bool quiet; /* -q: no progress, no table, no "wrote" line */
};

struct bench_row {
	const struct workload *w;
	const char *mode;
	bool quiet; /* the command's -q */
	bool ok;
	char err[256];
	struct run_result r;
	double sim_rate, user_rate;
	/* recording, shared by the rows of one workload */
	uint64_t recorded, dropped, distinct_pages, aliased;
	bool multi_proc;
	double flat_rate, flat_ratio;
	/* warm replay (single-process streams only) */
	bool has_warm;
	double warm_rate, warm_hit_pct, warm_ratio;
	/* hit path */
	bool has_hit;
	uint32_t window;
	double hit_rate, hit_l1_pct, hit_flat_rate, hit_ratio;
	/* the same hit path with --cache-model off (every reference an L1
	 * hit, no cache state): what translation alone costs */
	bool has_hit_nc;
	double hit_nc_rate, hit_nc_ratio;
	/* callgrind instructions per access (--instr); 0 = not measured */
	double flat_ipa, hit_flat_ipa, hit_ipa, hit_nc_ipa;
	/* what the run added to the process's resident set (the largest of
	 * --runs); has_rss: the kernel let the peak be reset */
	bool has_rss;
	uint64_t rss_run;
};

/* What a replay workload (run through run_workload) is asked to do. */
struct replay_job {
	const struct wl_rec *rec;
	bool folded;	 /* hitpath: fold pages into 'window' pages */
	uint32_t window; /* power of two */
	unsigned repeat;
	const char *count_label; /* non-NULL: one counted pass (--instr-pass) */
	/* results */
	double rate, hit_pct, l1_hit_pct;
	uint64_t sink;
};

/* ---- private helpers: time and flat replay ---- */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t load64(const uint8_t *p)
{
	uint64_t x;
	memcpy(&x, p, 8);
	return x;
}

/*
 * One pass of the stream over a flat array. A fetch is replayed as a load:
 * a machine that executes instructions reads them. 'mask' folds page
 * indices (UINT32_MAX for none).
 */
static uint64_t flat_pass(const struct wl_rec *r, uint8_t *flat, uint32_t mask)
{
	uint64_t sink = 0;
	for (uint64_t i = 0; i < r->n; i++) {
		uint64_t op = r->op[i];
		uint8_t *p = flat + ((uint64_t)(r->page[i] & mask) << PAGE_SHIFT) +
			     (op & (PAGE_SIZE - 1) & ~WL_REC_KIND_MASK);
		if ((op & WL_REC_KIND_MASK) == ACC_WRITE)
			memcpy(p, &r->val[i], 8);
		else
			sink += load64(p);
	}
	return sink;
}

/* Best rate of 'repeat' samples of the flat replay over 'pages' pages. */
static double flat_rate(const struct wl_rec *r, uint32_t pages, uint32_t mask, unsigned repeat,
			uint64_t *sink)
{
	size_t bytes = (size_t)(pages ? pages : 1) * PAGE_SIZE;
	uint8_t *flat =
	    mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (flat == MAP_FAILED)
		return 0;
	memset(flat, 0, bytes);
	*sink += flat_pass(r, flat, mask); /* warm the host caches and TLB */
	double best = 0;
	for (unsigned s = 0; s < repeat; s++) {
		uint64_t done = 0;
		double t0 = now_s(), dt;
		do {
			*sink += flat_pass(r, flat, mask);
			done += r->n;
		} while ((dt = now_s() - t0) < BENCH_MIN_SAMPLE_S);
		if ((double)done / dt > best)
			best = (double)done / dt;
	}
	munmap(flat, bytes);
	return best;
}

/* The stream's first BENCH_INSTR_RECORDS accesses (the arrays are shared). */
static struct wl_rec rec_prefix(const struct wl_rec *r)
{
	struct wl_rec p = *r;
	if (p.n > BENCH_INSTR_RECORDS)
		p.n = BENCH_INSTR_RECORDS;
	return p;
}

/* Name a counted pass's callgrind dump: "vmmu-bench KIND WORKLOAD MODE N". */
static void count_label(char *buf, size_t len, const char *kind, const char *wl,
			const char *mode, uint64_t n)
{
	snprintf(buf, len, "%s %s %s %s %" PRIu64, BENCH_INSTR_TAG, kind, wl, mode, n);
}

/* One counted pass of the flat loop (--instr-pass), after a warm-up pass. */
static void flat_count(const struct wl_rec *r, uint32_t pages, uint32_t mask, const char *label,
		       uint64_t *sink)
{
	size_t bytes = (size_t)(pages ? pages : 1) * PAGE_SIZE;
	uint8_t *flat =
	    mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (flat == MAP_FAILED)
		return;
	memset(flat, 0, bytes);
	struct wl_rec p = rec_prefix(r);
	*sink += flat_pass(&p, flat, mask);
	CALLGRIND_START_INSTRUMENTATION;
	CALLGRIND_ZERO_STATS;
	CALLGRIND_TOGGLE_COLLECT;
	*sink += flat_pass(&p, flat, mask);
	CALLGRIND_TOGGLE_COLLECT;
	CALLGRIND_DUMP_STATS_AT(label);
	CALLGRIND_STOP_INSTRUMENTATION;
	munmap(flat, bytes);
}

/* ---- private helpers: replay on a VM ---- */

/* One pass of the stream through the vCPU. Folded passes address the
 * window at 'base'; unfolded ones the recorded addresses. Inlined once for
 * each value of 'folded' and 'cache_on' (vm_pass()), so that the loop tests
 * nothing per access that the flat loop does not. */
static inline __attribute__((always_inline)) uint64_t
vm_pass_loop(struct vcpu *v, const struct wl_rec *r, gva_t base, uint32_t mask, bool folded,
	     bool cache_on)
{
	uint64_t sink = 0;
	for (uint64_t i = 0; i < r->n; i++) {
		uint64_t op = r->op[i];
		gva_t va = op & ~WL_REC_KIND_MASK;
		if (folded)
			va = base + ((uint64_t)(r->page[i] & mask) << PAGE_SHIFT) +
			     (va & (PAGE_SIZE - 1));
		switch (op & WL_REC_KIND_MASK) {
		case ACC_WRITE:
			cpu_store_cm(v, va, 8, r->val[i], cache_on);
			break;
		case ACC_FETCH:
			cpu_fetch(v, va, 8);
			break;
		default:
			sink += cpu_load_cm(v, va, 8, cache_on);
			break;
		}
	}
	return sink;
}

static uint64_t vm_pass(struct vcpu *v, const struct wl_rec *r, gva_t base, uint32_t mask,
			bool folded)
{
	/* The cache model's flag is read once a pass, not at every access
	 * (cpu_load_cm()): the same accesses, the same work, the same counts. */
	bool cm = v->cache_on;

	if (folded)
		return cm ? vm_pass_loop(v, r, base, mask, true, true)
			  : vm_pass_loop(v, r, base, mask, true, false);
	return cm ? vm_pass_loop(v, r, base, mask, false, true)
		  : vm_pass_loop(v, r, base, mask, false, false);
}

/* Map what the replay touches: the window, or every recorded page at its
 * own address (runs of contiguous pages, in 2 MiB units with 2M guest
 * pages). Each mapped 4 KiB page is then stored into once, so the replay
 * never faults. Returns the window base (folded) or 0. */
static gva_t replay_map(struct wl_ctx *c, const struct replay_job *job)
{
	int prot = GPROT_READ | GPROT_WRITE | (job->rec->has_fetch ? GPROT_EXEC : 0);
	bool huge = c->vm->cfg.guest_page == PG_2M;
	int flags = huge ? GMAP_HUGE : 0;
	uint64_t unit = huge ? page_bytes(PG_2M) / PAGE_SIZE : 1; /* in 4 KiB pages */

	if (job->folded) {
		uint64_t pages = (job->window + unit - 1) / unit * unit;
		gva_t base = wl_mmap(c, pages * PAGE_SIZE, prot, flags);
		for (uint64_t pg = 0; pg < pages; pg++)
			cpu_store(&c->vm->vcpu, base + pg * PAGE_SIZE, 8, 0);
		return base;
	}
	uint64_t n;
	uint64_t *vpn = wl_rec_vpns(job->rec, &n);
	if (vpn == NULL)
		vm_abort(c->vm, "bench: host out of memory listing the recorded pages");
	for (uint64_t i = 0; i < n;) {
		/* One run: units that touch or overlap, [lo, hi) in pages. */
		uint64_t lo = vpn[i] / unit * unit, hi = lo + unit;
		for (i++; i < n && vpn[i] / unit * unit <= hi; i++)
			if (vpn[i] / unit * unit + unit > hi)
				hi = vpn[i] / unit * unit + unit;
		wl_mmap_at(c, lo * PAGE_SIZE, (hi - lo) * PAGE_SIZE, prot, flags);
		for (uint64_t pg = lo; pg < hi; pg++)
			cpu_store(&c->vm->vcpu, pg * PAGE_SIZE, 8, 0);
	}
	free(vpn);
	return 0;
}

/* The replay, as a workload run by run_workload() (p.arg = the job). */
static void replay_run(struct wl_ctx *c)
{
	struct replay_job *job = c->p.arg;
	const struct wl_rec *r = job->rec;
	struct vcpu *v = &c->vm->vcpu;
	uint32_t mask = job->folded ? job->window - 1 : UINT32_MAX;

	wl_proc_create(c);
	gva_t base = replay_map(c, job);
	job->sink += vm_pass(v, r, base, mask, job->folded); /* warm-up, untimed */
	if (job->count_label) {
		struct wl_rec p = rec_prefix(r);
		CALLGRIND_START_INSTRUMENTATION;
		CALLGRIND_ZERO_STATS;
		CALLGRIND_TOGGLE_COLLECT;
		job->sink += vm_pass(v, &p, base, mask, job->folded);
		CALLGRIND_TOGGLE_COLLECT;
		CALLGRIND_DUMP_STATS_AT(job->count_label);
		CALLGRIND_STOP_INSTRUMENTATION;
		return;
	}

	uint64_t acc0 = vm_accesses(c->vm), miss0 = c->vm->st.tlb_misses;
	uint64_t l1_0 = tlb_counters(&v->tlb).l1_hits;
	double best = 0;
	for (unsigned s = 0; s < job->repeat; s++) {
		uint64_t done = 0;
		double t0 = now_s(), dt;
		do {
			job->sink += vm_pass(v, r, base, mask, job->folded);
			done += r->n;
		} while ((dt = now_s() - t0) < BENCH_MIN_SAMPLE_S);
		if ((double)done / dt > best)
			best = (double)done / dt;
	}
	uint64_t acc = vm_accesses(c->vm) - acc0, miss = c->vm->st.tlb_misses - miss0;
	uint64_t l1 = tlb_counters(&v->tlb).l1_hits - l1_0;
	job->rate = best;
	job->hit_pct = acc ? 100.0 * (double)(acc - miss) / (double)acc : 0;
	job->l1_hit_pct = acc ? 100.0 * (double)l1 / (double)acc : 0;
}

static const struct workload replay_workload = {
    .name = "bench-replay",
    .desc = "replay of a recorded op stream (bench only)",
    .def_pages = 1,
    .def_ops = 1,
    .run = replay_run,
};

/* Replay on a fresh VM of cfg; returns 0 or -1 with err set. */
static int replay_on_vm(const struct vm_config *cfg, struct replay_job *job, char *err,
			size_t errlen)
{
	struct wl_params p = {.seed = 1, .arg = job};
	struct run_result *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int rc = run_workload(cfg, &replay_workload, &p, NULL, r);
	if (rc != 0)
		snprintf(err, errlen, "%s", r->err);
	free(r);
	return rc;
}

/*
 * Guest memory for a warm replay: every recorded page stays mapped at once
 * (in 2 MiB units with 2M guest pages), which a churning workload's stream
 * may need more of than the machine it ran on. Returns cfg's guest memory,
 * or more; 0 when the host cannot be asked for it (over BENCH_MAX_WARM_MEM).
 */
static uint64_t warm_guest_mem(const struct vm_config *cfg, const struct wl_rec *r)
{
	uint64_t n, units = 0;
	uint64_t unit = cfg->guest_page == PG_2M ? page_bytes(PG_2M) / PAGE_SIZE : 1;
	uint64_t *vpn = wl_rec_vpns(r, &n);
	if (vpn == NULL)
		return 0;
	for (uint64_t i = 0; i < n; i++)
		units += i == 0 || vpn[i] / unit != vpn[i - 1] / unit;
	free(vpn);
	uint64_t need = units * unit * PAGE_SIZE;
	need += need / 8 + BENCH_WARM_SLACK; /* page tables, direct map, kernel */
	if (need <= cfg->guest_mem)
		return cfg->guest_mem;
	if (need > BENCH_MAX_WARM_MEM)
		return 0;
	uint64_t gib = UINT64_C(1) << 30;
	return (need + gib - 1) / gib * gib;
}

/* Pages of the L1 data TLB the hit-path window uses: half its entries
 * (room for set conflicts), rounded down to a power of two. */
static uint32_t hit_window(const struct vm_config *cfg)
{
	uint64_t entries = (uint64_t)cfg->l1d.sets * cfg->l1d.ways / 2;
	uint32_t w = 1;
	while ((uint64_t)w * 2 <= entries)
		w *= 2;
	return w;
}

/* ---- the measurements ---- */

static void bench_progress(bool quiet, const char *what, const char *wl, const char *mode)
{
	if (!quiet)
		fprintf(stderr, "bench: %-10s %-12s %s\n", what, wl, mode ? mode : "");
}

/* The warm replay of a single-process stream on cfg's mode; fills row. */
static int bench_warm(const struct vm_config *cfg, const struct wl_rec *rec, unsigned repeat,
		      struct bench_row *row, uint64_t *sink)
{
	struct replay_job job = {.rec = rec, .repeat = repeat};
	struct vm_config wcfg = *cfg;
	char err[256];

	wcfg.guest_mem = warm_guest_mem(cfg, rec);
	if (wcfg.guest_mem == 0) {
		fprintf(stderr,
			"bench: %s: no warm replay: its pages need over %" PRIu64
			" GiB of guest memory\n",
			row->w->name, BENCH_MAX_WARM_MEM >> 30);
		return 0;
	}
	if (wcfg.guest_mem != cfg->guest_mem)
		wcfg.host_mem = 0; /* derived from the larger guest */
	bench_progress(row->quiet, "warm", row->w->name, row->mode);
	if (replay_on_vm(&wcfg, &job, err, sizeof(err)) != 0) {
		cli_error("bench: %s under %s: warm replay failed: %s", row->w->name, row->mode,
			  err);
		return -1;
	}
	row->has_warm = true;
	row->warm_rate = job.rate;
	row->warm_hit_pct = job.hit_pct;
	row->warm_ratio = job.rate > 0 ? row->flat_rate / job.rate : 0;
	*sink += job.sink;
	return 0;
}

/*
 * The hit-path replay (the stream folded into the window) on cfg; fills
 * row. Then the same with the cache model off (the *_nocache_* columns),
 * unless cfg has it off already, when those columns repeat the first.
 */
static int bench_hitpath(const struct vm_config *cfg, const struct wl_rec *rec, unsigned repeat,
			 struct bench_row *row, uint64_t *sink)
{
	struct replay_job job = {
	    .rec = rec, .folded = true, .window = row->window, .repeat = repeat};
	char err[256];

	bench_progress(row->quiet, "hitpath", row->w->name, row->mode);
	if (replay_on_vm(cfg, &job, err, sizeof(err)) != 0) {
		cli_error("bench: %s under %s: hit-path replay failed: %s", row->w->name, row->mode,
			  err);
		return -1;
	}
	row->has_hit = true;
	row->hit_rate = job.rate;
	row->hit_l1_pct = job.l1_hit_pct;
	row->hit_ratio = job.rate > 0 ? row->hit_flat_rate / job.rate : 0;
	*sink += job.sink;

	if (cfg->cache_model) {
		struct vm_config nc = *cfg;
		struct replay_job jnc = {
		    .rec = rec, .folded = true, .window = row->window, .repeat = repeat};

		nc.cache_model = false;
		bench_progress(row->quiet, "hitpath-nc", row->w->name, row->mode);
		if (replay_on_vm(&nc, &jnc, err, sizeof(err)) != 0) {
			cli_error("bench: %s under %s: hit-path replay with the cache model off "
				  "failed: %s",
				  row->w->name, row->mode, err);
			return -1;
		}
		job.rate = jnc.rate;
		*sink += jnc.sink;
	}
	row->has_hit_nc = true;
	row->hit_nc_rate = job.rate;
	row->hit_nc_ratio = job.rate > 0 ? row->hit_flat_rate / job.rate : 0;
	return 0;
}

/* The counted passes of one recorded workload (--instr-pass, under
 * callgrind): the flat loops, then each mode's hit path. */
static void bench_count_workload(struct bench *b, const struct workload *w,
				 const struct wl_rec *rec, uint32_t window, uint64_t *sink)
{
	char label[256];
	uint64_t n = rec_prefix(rec).n;

	if (n == 0)
		return;
	bench_progress(b->quiet, "count", w->name, "flat");
	count_label(label, sizeof(label), "flat", w->name, "-", n);
	flat_count(rec, rec->npages, UINT32_MAX, label, sink);
	count_label(label, sizeof(label), "hitflat", w->name, "-", n);
	flat_count(rec, window, window - 1, label, sink);
	for (size_t m = 0; m < b->nmodes; m++) {
		struct vm_config cfg = b->cfg;
		struct replay_job job = {
		    .rec = rec, .folded = true, .window = window, .repeat = 1, .count_label = label};
		char err[256];

		cfg.mode = b->modes[m]->name;
		bench_progress(b->quiet, "count", w->name, cfg.mode);
		count_label(label, sizeof(label), "hitpath", w->name, cfg.mode, n);
		if (replay_on_vm(&cfg, &job, err, sizeof(err)) != 0)
			cli_error("bench: %s under %s: counted hit-path pass failed: %s", w->name,
				  cfg.mode, err);
		*sink += job.sink;
		if (!cfg.cache_model)
			continue; /* the columns with the model off repeat these */
		struct replay_job jnc = job;

		cfg.cache_model = false;
		jnc.sink = 0;
		count_label(label, sizeof(label), "hitpath-nc", w->name, cfg.mode, n);
		if (replay_on_vm(&cfg, &jnc, err, sizeof(err)) != 0)
			cli_error("bench: %s under %s: counted hit-path pass with the cache model "
				  "off failed: %s",
				  w->name, cfg.mode, err);
		*sink += jnc.sink;
	}
}

/* All rows of one workload: record, flat replays, then each mode. */
static int bench_workload(struct bench *b, const struct workload *w, struct bench_row *rows)
{
	struct wl_rec rec;
	struct wl_params p = b->p;
	struct vm_config cfg = b->cfg;
	struct run_result *r = calloc(1, sizeof(*r));
	int rc = 0;

	if (r == NULL || wl_rec_init(&rec, b->record_limit, BENCH_MAX_FLAT_PAGES) != 0) {
		free(r);
		cli_error("bench: out of memory");
		return -1;
	}
	bench_progress(b->quiet, "record", w->name, "native");
	cfg.mode = "native";
	p.rec = &rec;
	if (run_workload(&cfg, w, &p, NULL, r) != 0) {
		cli_error("bench: %s: recording run failed: %s", w->name, r->err);
		for (size_t m = 0; m < b->nmodes; m++)
			snprintf(rows[m].err, sizeof(rows[m].err), "recording run failed");
		rc = -1;
		goto out;
	}
	p.rec = NULL;

	uint64_t sink = 0;
	uint32_t window = hit_window(&b->cfg);
	if (b->instr_pass) {
		bench_count_workload(b, w, &rec, window, &sink);
		goto out;
	}
	double flat = flat_rate(&rec, rec.npages, UINT32_MAX, b->repeat, &sink);
	double hit_flat = flat_rate(&rec, window, window - 1, b->repeat, &sink);

	for (size_t m = 0; m < b->nmodes; m++) {
		struct bench_row *row = &rows[m];

		row->w = w;
		row->mode = b->modes[m]->name;
		row->recorded = rec.n;
		row->dropped = rec.dropped;
		row->distinct_pages = rec.npages + rec.aliased;
		row->aliased = rec.aliased;
		row->multi_proc = rec.multi_proc;
		row->flat_rate = flat;
		row->hit_flat_rate = hit_flat;
		row->window = window;

		cfg = b->cfg;
		cfg.mode = row->mode;
		bench_progress(b->quiet, "run", w->name, row->mode);
		for (unsigned k = 0; k < b->runs; k++) {
			/* What the run adds to the resident set: the peak during
			 * the run over the resident set at its start (the
			 * recording and the earlier runs' retained heap are not
			 * the run's). The peak is reset first, so it starts at
			 * the resident set read just after. */
			bool rss_ok = memstat_peak_rss_reset();
			uint64_t rss0 = memstat_rss_bytes();
			rss_ok = rss_ok && rss0 > 0;
			if (run_workload(&cfg, w, &p, NULL, r) != 0) {
				snprintf(row->err, sizeof(row->err), "%s", r->err);
				break;
			}
			if (!row->ok || r->sim_s < row->r.sim_s)
				row->r = *r;
			row->ok = true;
			if (rss_ok) {
				/* The allocator may return pages meanwhile: a run
				 * that never rose above its start added nothing. */
				uint64_t grew = r->rss_bytes > rss0 ? r->rss_bytes - rss0 : 0;
				if (!row->has_rss || grew > row->rss_run)
					row->rss_run = grew;
				row->has_rss = true;
			}
		}
		if (!row->ok) {
			cli_error("bench: %s under %s failed: %s", w->name, row->mode, row->err);
			rc = -1;
			continue;
		}
		row->sim_rate = row->r.sim_s > 0 ? (double)row->r.whole.accesses / row->r.sim_s : 0;
		row->user_rate =
		    row->r.sim_s > 0 ? (double)row->r.whole.user_accesses / row->r.sim_s : 0;
		row->flat_ratio = row->user_rate > 0 ? flat / row->user_rate : 0;
		if (rec.n == 0)
			continue;

		if (!rec.multi_proc && bench_warm(&cfg, &rec, b->repeat, row, &sink) != 0)
			rc = -1;
		if (bench_hitpath(&cfg, &rec, b->repeat, row, &sink) != 0)
			rc = -1;
	}
	/* The replays' loaded values feed 'sink' so that no replay is dead code. */
	volatile uint64_t keep = sink;
	(void)keep;
out:
	wl_rec_free(&rec);
	free(r);
	return rc;
}

/* ---- instruction counts (--instr) ---- */

/* The row of (workload, mode), or NULL. */
static struct bench_row *bench_row_find(struct bench *b, const char *wl, const char *mode)
{
	for (size_t i = 0; i < b->nrows; i++)
		if (b->rows[i].w && strcmp(b->rows[i].w->name, wl) == 0 &&
		    strcmp(b->rows[i].mode, mode) == 0)
			return &b->rows[i];
	return NULL;
}

/* Read one callgrind dump: its label and its instruction total. */
static int read_dump(const char *path, char *label, size_t len, uint64_t *ir)
{
	FILE *f = fopen(path, "r");
	char line[512];
	bool have_label = false, have_ir = false;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		const char *pfx = "desc: Trigger: Client Request: ";
		if (strncmp(line, pfx, strlen(pfx)) == 0) {
			snprintf(label, len, "%s", line + strlen(pfx));
			label[strcspn(label, "\n")] = '\0';
			have_label = true;
		} else if (strncmp(line, "totals: ", 8) == 0 || strncmp(line, "summary: ", 9) == 0) {
			*ir = strtoull(strchr(line, ' ') + 1, NULL, 10);
			have_ir = true;
		}
	}
	fclose(f);
	return have_label && have_ir ? 0 : -1;
}

/* Fill the rows from one dump's label "vmmu-bench KIND WORKLOAD MODE N". */
static void bench_take_dump(struct bench *b, const char *label, uint64_t ir)
{
	char tag[32], kind[32], wl[64], mode[64];
	uint64_t n;

	if (sscanf(label, "%31s %31s %63s %63s %" SCNu64, tag, kind, wl, mode, &n) != 5 ||
	    strcmp(tag, BENCH_INSTR_TAG) != 0 || n == 0)
		return;
	double ipa = (double)ir / (double)n;
	for (size_t i = 0; i < b->nrows; i++) {
		struct bench_row *row = &b->rows[i];
		if (!row->w || strcmp(row->w->name, wl) != 0)
			continue;
		if (strcmp(kind, "flat") == 0)
			row->flat_ipa = ipa;
		else if (strcmp(kind, "hitflat") == 0)
			row->hit_flat_ipa = ipa;
	}
	struct bench_row *row = bench_row_find(b, wl, mode);
	if (row && strcmp(kind, "hitpath") == 0) {
		row->hit_ipa = ipa;
		if (!b->cfg.cache_model)
			row->hit_nc_ipa = ipa;
	} else if (row && strcmp(kind, "hitpath-nc") == 0) {
		row->hit_nc_ipa = ipa;
	}
}

/*
 * Run this bench again under callgrind with --instr-pass (same flags, so the
 * same workloads, modes and machine), then read its dumps into the rows.
 * Returns 0, or -1 when the counts could not be taken (columns stay empty).
 */
static int bench_instr(struct bench *b)
{
	char dir[] = "/tmp/vmmu-bench-XXXXXX", out[64], log[64], exe[4096];
	const char *tmp = getenv("TMPDIR");
	char dirbuf[4096];
	int rc = -1;

	if (!BENCH_HAVE_CALLGRIND) {
		cli_error("bench: --instr: built without valgrind/callgrind.h; no instruction "
			  "counts");
		return -1;
	}
	snprintf(dirbuf, sizeof(dirbuf), "%s/vmmu-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	char *d = mkdtemp(dirbuf);
	if (d == NULL) {
		d = mkdtemp(dir);
		if (d == NULL) {
			cli_error("bench: --instr: cannot make a scratch folder: %s", strerror(errno));
			return -1;
		}
	}
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len <= 0) {
		cli_error("bench: --instr: cannot find this executable: %s", strerror(errno));
		goto out;
	}
	exe[len] = '\0';
	char cgout[4200], cglog[4200];
	snprintf(out, sizeof(out), "cg.out");
	snprintf(log, sizeof(log), "valgrind.log");
	snprintf(cgout, sizeof(cgout), "--callgrind-out-file=%s/%s", d, out);
	snprintf(cglog, sizeof(cglog), "--log-file=%s/%s", d, log);

	char **av = calloc((size_t)b->argc + 10, sizeof(*av));
	if (av == NULL)
		goto out;
	int k = 0;
	av[k++] = "valgrind";
	av[k++] = "--tool=callgrind";
	av[k++] = "--instr-atstart=no";
	av[k++] = "--collect-atstart=no";
	av[k++] = cgout;
	av[k++] = cglog;
	av[k++] = exe;
	for (int i = 0; i < b->argc; i++)
		av[k++] = b->argv[i];
	av[k++] = "--instr-pass";
	av[k] = NULL;

	if (!b->quiet)
		fprintf(stderr, "bench: counting instructions under callgrind (a few minutes)\n");
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		execvp(av[0], av);
		_exit(127);
	}
	free(av);
	int st = 0;
	if (pid < 0 || waitpid(pid, &st, 0) < 0) {
		cli_error("bench: --instr: cannot run valgrind: %s", strerror(errno));
		goto out;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		cli_error("bench: --instr: valgrind %s (exit status %d); instruction columns left "
			  "empty",
			  WIFEXITED(st) && WEXITSTATUS(st) == 127 ? "not found" : "failed",
			  WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		goto out;
	}
	rc = 0;
	for (unsigned i = 1;; i++) {
		char path[4300], label[512];
		uint64_t ir = 0;
		snprintf(path, sizeof(path), "%s/%s.%u", d, out, i);
		if (access(path, F_OK) != 0)
			break;
		if (read_dump(path, label, sizeof(label), &ir) == 0)
			bench_take_dump(b, label, ir);
		unlink(path);
	}
out:
	{
		char path[4300];
		snprintf(path, sizeof(path), "%s/%s", d, out);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s", d, log);
		unlink(path);
		rmdir(d);
	}
	return rc;
}

/* ---- output ---- */

static const char *const bench_columns[] = {
    "workload",
    "mode",
    "seed",
    "pages",
    "ops",
    "procs",
    "switch_every",
    "guest_page",
    "host_page",
    "walk_caches",
    "vpid",
    "pcid",
    "accesses",
    "user_accesses",
    "tlb_misses",
    "guest_faults",
    "vm_exits",
    "checksum",
    "guest_digest",
    "wall_s",
    "sim_accesses_per_s",
    "user_accesses_per_s",
    "recorded_accesses",
    "distinct_pages",
    "aliased_pages",
    "flat_accesses_per_s",
    "flat_ratio",
    "warm_accesses_per_s",
    "warm_tlb_hit_pct",
    "warm_ratio",
    "hitpath_window_pages",
    "hitpath_accesses_per_s",
    "hitpath_l1_hit_pct",
    "hitpath_flat_accesses_per_s",
    "hitpath_ratio",
    "flat_instr_per_access",
    "hitpath_flat_instr_per_access",
    "hitpath_instr_per_access",
    "hitpath_instr_ratio",
    "rss_run_bytes",
    "hitpath_nocache_accesses_per_s",
    "hitpath_nocache_ratio",
    "hitpath_nocache_instr_per_access",
    "hitpath_nocache_instr_ratio",
};

static void put_opt(FILE *f, bool have, const char *fmt, double v)
{
	fputc(',', f);
	if (have)
		fprintf(f, fmt, v);
}

static int bench_csv_fill(FILE *f, void *ctx)
{
	const struct bench *b = ctx;
	size_t ncol = sizeof(bench_columns) / sizeof(bench_columns[0]);
	for (size_t i = 0; i < ncol; i++)
		fprintf(f, "%s%s", i ? "," : "", bench_columns[i]);
	fputc('\n', f);
	for (size_t i = 0; i < b->nrows; i++) {
		const struct bench_row *row = &b->rows[i];
		const struct wl_params *p = &row->r.params;
		if (!row->ok)
			continue;
		fprintf(f,
			"%s,%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu32 ",%" PRIu32
			",%s,%s,%s,%s,%s",
			row->w->name, row->mode, p->seed, p->pages, p->ops, p->procs,
			p->switch_every, config_page_name(b->cfg.guest_page),
			config_page_name(b->cfg.host_page), b->cfg.walk_caches ? "on" : "off",
			b->cfg.vpid ? "on" : "off", b->cfg.pcid ? "on" : "off");
		fprintf(f,
			",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",0x%016" PRIx64
			",0x%016" PRIx64 ",%.6f,%.0f,%.0f,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.0f",
			row->r.whole.accesses, row->r.whole.user_accesses, row->r.whole.tlb_misses,
			row->r.whole.guest_faults, row->r.whole.vm_exits, row->r.checksum,
			row->r.guest_digest, row->r.wall_s, row->sim_rate, row->user_rate,
			row->recorded, row->distinct_pages, row->aliased, row->flat_rate);
		put_opt(f, row->flat_ratio > 0, "%.3f", row->flat_ratio);
		put_opt(f, row->has_warm, "%.0f", row->warm_rate);
		put_opt(f, row->has_warm, "%.2f", row->warm_hit_pct);
		put_opt(f, row->has_warm, "%.3f", row->warm_ratio);
		fprintf(f, ",%" PRIu32, row->window);
		put_opt(f, row->has_hit, "%.0f", row->hit_rate);
		put_opt(f, row->has_hit, "%.2f", row->hit_l1_pct);
		put_opt(f, true, "%.0f", row->hit_flat_rate);
		put_opt(f, row->has_hit, "%.3f", row->hit_ratio);
		put_opt(f, row->flat_ipa > 0, "%.2f", row->flat_ipa);
		put_opt(f, row->hit_flat_ipa > 0, "%.2f", row->hit_flat_ipa);
		put_opt(f, row->hit_ipa > 0, "%.2f", row->hit_ipa);
		put_opt(f, row->hit_ipa > 0 && row->hit_flat_ipa > 0, "%.3f",
			row->hit_flat_ipa > 0 ? row->hit_ipa / row->hit_flat_ipa : 0);
		put_opt(f, row->has_rss, "%.0f", (double)row->rss_run);
		put_opt(f, row->has_hit_nc, "%.0f", row->hit_nc_rate);
		put_opt(f, row->has_hit_nc, "%.3f", row->hit_nc_ratio);
		put_opt(f, row->hit_nc_ipa > 0, "%.2f", row->hit_nc_ipa);
		put_opt(f, row->hit_nc_ipa > 0 && row->hit_flat_ipa > 0, "%.3f",
			row->hit_flat_ipa > 0 ? row->hit_nc_ipa / row->hit_flat_ipa : 0);
		fputc('\n', f);
	}
	return ferror(f) ? -1 : 0;
}

static void fmt_rate(char *buf, size_t len, bool have, double rate)
{
	if (have)
		snprintf(buf, len, "%.1f", rate / 1e6);
	else
		snprintf(buf, len, "-");
}

static void fmt_ratio(char *buf, size_t len, bool have, double ratio)
{
	if (have && ratio > 0)
		snprintf(buf, len, "%.2fx", ratio);
	else
		snprintf(buf, len, "-");
}

/* The human table: rates in millions of accesses per second. */
static void bench_print(FILE *f, const struct bench *b)
{
	fprintf(f, "\nrates in M accesses/s; ratios are slowdowns against the flat "
		   "(no-translation) replay\n");
	fprintf(f, "%-11s %-7s %8s %8s %8s %8s %8s %6s %8s %8s %8s %8s %8s %8s\n", "workload",
		"mode", "sim", "user", "flat", "ratio", "warm", "hit%", "ratio", "hitpath", "flat-win",
		"ratio", "hit-nc", "ratio");
	for (size_t i = 0; i < b->nrows; i++) {
		const struct bench_row *row = &b->rows[i];
		char c[12][32];
		if (!row->ok) {
			fprintf(f, "%-11s %-7s failed: %s\n", row->w ? row->w->name : "?",
				row->mode ? row->mode : "?", row->err);
			continue;
		}
		fmt_rate(c[0], 32, true, row->sim_rate);
		fmt_rate(c[1], 32, true, row->user_rate);
		fmt_rate(c[2], 32, true, row->flat_rate);
		fmt_ratio(c[3], 32, true, row->flat_ratio);
		fmt_rate(c[4], 32, row->has_warm, row->warm_rate);
		if (row->has_warm)
			snprintf(c[5], 32, "%.1f", row->warm_hit_pct);
		else
			snprintf(c[5], 32, "-");
		fmt_ratio(c[6], 32, row->has_warm, row->warm_ratio);
		fmt_rate(c[7], 32, row->has_hit, row->hit_rate);
		fmt_rate(c[8], 32, true, row->hit_flat_rate);
		fmt_ratio(c[9], 32, row->has_hit, row->hit_ratio);
		fmt_rate(c[10], 32, row->has_hit_nc, row->hit_nc_rate);
		fmt_ratio(c[11], 32, row->has_hit_nc, row->hit_nc_ratio);
		fprintf(f, "%-11s %-7s %8s %8s %8s %8s %8s %6s %8s %8s %8s %8s %8s %8s\n",
			row->w->name, row->mode, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8],
			c[9], c[10], c[11]);
	}
}

/* ---- parsing ---- */

static void bench_help(FILE *f)
{
	fprintf(
	    f,
	    "usage: vmmu bench [--csv FILE] [--modes a,b,...] [--workloads a,b,...] [-q] "
	    "[FLAGS]\n\n"
	    "Measure how fast the engine simulates each workload under each mode, against\n"
	    "the same user op stream replayed with no translation at all (a flat array):\n"
	    "the physical limit of the engine. Also replays each single-process stream on a\n"
	    "warm VM (pages mapped, no faults), and each stream folded into a window the\n"
	    "L1 TLB holds (the TLB-hit path), once as configured and once with the cache\n"
	    "model off. Ratios are slowdowns against the flat replay.\n"
	    "Writes a CSV (one row per workload and mode) and prints a table.\n"
	    "This is a benchmark: numbers depend on the host. Exit status 1 if a run\n"
	    "failed, 2 on bad usage.\n\n"
	    "  --csv FILE                       CSV output, written atomically; - = stdout;\n"
	    "                                   its folder must exist\n"
	    "                                   (default: %s)\n"
	    "  --workloads a,b,...              workloads to run (default: all, see `vmmu list`)\n"
	    "  --modes a,b,...                  modes to run (default: every mode that can run)\n"
	    "  --repeat N                       timed samples per replay, best kept (default: %d)\n"
	    "  --runs N                         runs of each workload, fastest kept (default: %d)\n"
	    "  --record-limit N                 user accesses recorded per workload (default: "
	    "%" PRIu64 ")\n"
	    "  --instr                          also count host instructions per access: runs\n"
	    "                                   the flat loops and the hit paths once more\n"
	    "                                   under valgrind --tool=callgrind (a few minutes);\n"
	    "                                   needs valgrind\n"
	    "  --instr-pass                     the counted passes alone (what --instr runs\n"
	    "                                   under callgrind); writes no CSV\n"
	    "  -q, --quiet                      no progress, no table and no \"wrote\" line: the\n"
	    "                                   CSV alone (errors still go to stderr)\n"
	    "  -h, --help                       this help\n\n",
	    BENCH_DEFAULT_OUT, BENCH_DEFAULT_REPEAT, BENCH_DEFAULT_RUNS, BENCH_DEFAULT_RECORD);
	cli_help_wl(f);
	fputc('\n', f);
	cli_help_machine(f);
}

/* Split a comma list of names; take() looks each one up. */
static int bench_take_list(struct bench *b, const char *flag, const char *list, bool modes,
			   char *err, size_t errlen)
{
	char buf[1024];
	char *save = NULL;
	if (snprintf(buf, sizeof(buf), "%s", list) >= (int)sizeof(buf)) {
		snprintf(err, errlen, "%s: list too long", flag);
		return -1;
	}
	size_t got = 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save), got++) {
		if (modes) {
			const struct mmu_ops *m = mmu_find(t);
			if (m == NULL) {
				snprintf(err, errlen, "%s: unknown mode '%s' (see `vmmu list`)",
					 flag, t);
				return -1;
			}
			bool dup = false;
			for (size_t k = 0; k < b->nmodes; k++)
				dup |= b->modes[k] == m;
			if (!dup && b->nmodes < BENCH_MAX_MODES)
				b->modes[b->nmodes++] = m;
		} else {
			const struct workload *w = workload_find(t);
			if (w == NULL) {
				snprintf(err, errlen, "%s: unknown workload '%s' (see `vmmu list`)",
					 flag, t);
				return -1;
			}
			bool dup = false;
			for (size_t k = 0; k < b->nwl; k++)
				dup |= b->wl[k] == w;
			if (!dup && b->nwl < BENCH_MAX_WL)
				b->wl[b->nwl++] = w;
		}
	}
	if (got == 0) {
		snprintf(err, errlen, "%s: expected a comma-separated list of names, got '%s'",
			 flag, list);
		return -1;
	}
	return 0;
}

static int bench_take_count(const char *flag, const char *v, uint64_t min, uint64_t max,
			    uint64_t *out, char *err, size_t errlen)
{
	char msg[256];
	uint64_t n;
	if (cli_parse_u64(v, &n, msg, sizeof(msg)) < 0) {
		snprintf(err, errlen, "%s: %s", flag, msg);
		return -1;
	}
	if (n < min || n > max) {
		snprintf(err, errlen, "%s: expected %" PRIu64 "..%" PRIu64 ", got '%s'", flag, min,
			 max, v);
		return -1;
	}
	*out = n;
	return 0;
}

/* Parse argv into b. Returns -1 to go on, else an exit status. */
static int bench_parse(struct bench *b, int argc, char **argv)
{
	char err[512];
	config_defaults(&b->cfg);
	b->p = (struct wl_params){.seed = CLI_DEFAULT_SEED};
	b->out = BENCH_DEFAULT_OUT;
	b->repeat = BENCH_DEFAULT_REPEAT;
	b->runs = BENCH_DEFAULT_RUNS;
	b->record_limit = BENCH_DEFAULT_RECORD;

	for (int i = 1; i < argc;) {
		const char *a = argv[i], *v = NULL;
		uint64_t n;
		int rc;
		if (cli_is_help(a)) {
			bench_help(stdout);
			return CLI_EXIT_OK;
		}
		if (strcmp(a, "--instr") == 0 || strcmp(a, "--instr-pass") == 0) {
			if (a[7] == '\0')
				b->instr = true;
			else
				b->instr_pass = true;
			i++;
			continue;
		}
		if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
			b->quiet = true;
			i++;
			continue;
		}
		rc = cli_parse_machine(&b->cfg, argc, argv, &i, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_parse_wl(&b->p, argc, argv, &i, err, sizeof(err));
		/* --out names a folder everywhere else; bench writes one file. */
		if (rc == CLI_NOMATCH && (strcmp(a, "--out") == 0 || strncmp(a, "--out=", 6) == 0)) {
			snprintf(err, sizeof(err),
				 "--out: bench writes one CSV file: use --csv FILE (--out names a "
				 "folder, in compare and sweep)");
			rc = CLI_ERR;
		}
		if (rc == CLI_NOMATCH && (rc = cli_take_value("--csv", argc, argv, &i, &v, err,
							      sizeof(err))) == CLI_MATCHED) {
			if (*v == '\0') {
				snprintf(err, sizeof(err), "--csv: expected a file name, got ''");
				rc = CLI_ERR;
			} else {
				b->out = v;
			}
		}
		if (rc == CLI_NOMATCH && (rc = cli_take_value("--modes", argc, argv, &i, &v, err,
							      sizeof(err))) == CLI_MATCHED)
			rc =
			    bench_take_list(b, "--modes", v, true, err, sizeof(err)) ? CLI_ERR : rc;
		if (rc == CLI_NOMATCH && (rc = cli_take_value("--workloads", argc, argv, &i, &v,
							      err, sizeof(err))) == CLI_MATCHED)
			rc = bench_take_list(b, "--workloads", v, false, err, sizeof(err)) ? CLI_ERR
											   : rc;
		if (rc == CLI_NOMATCH && (rc = cli_take_value("--repeat", argc, argv, &i, &v, err,
							      sizeof(err))) == CLI_MATCHED) {
			rc = bench_take_count("--repeat", v, 1, 1000, &n, err, sizeof(err))
				 ? CLI_ERR
				 : rc;
			b->repeat = (unsigned)n;
		}
		if (rc == CLI_NOMATCH && (rc = cli_take_value("--runs", argc, argv, &i, &v, err,
							      sizeof(err))) == CLI_MATCHED) {
			rc = bench_take_count("--runs", v, 1, 1000, &n, err, sizeof(err)) ? CLI_ERR
											  : rc;
			b->runs = (unsigned)n;
		}
		if (rc == CLI_NOMATCH && (rc = cli_take_value("--record-limit", argc, argv, &i, &v,
							      err, sizeof(err))) == CLI_MATCHED) {
			rc = bench_take_count("--record-limit", v, 1, UINT64_C(1) << 28, &n, err,
					      sizeof(err))
				 ? CLI_ERR
				 : rc;
			b->record_limit = n;
		}
		if (rc != CLI_MATCHED)
			return cli_reject_arg("bench", rc, a, err);
	}

	if (b->nwl == 0)
		for (const struct workload *const *w = workloads; *w && b->nwl < BENCH_MAX_WL; w++)
			b->wl[b->nwl++] = *w;
	if (b->nmodes == 0) {
		for (size_t m = 0; mmu_modes[m] && b->nmodes < BENCH_MAX_MODES; m++) {
			struct vm_config c = b->cfg;
			c.mode = mmu_modes[m]->name;
			struct vm *vm = vm_create(&c, err, sizeof(err));
			if (vm == NULL) {
				fprintf(stderr, "bench: skipping mode %s: %s\n", c.mode, err);
				continue;
			}
			vm_destroy(vm);
			b->modes[b->nmodes++] = mmu_modes[m];
		}
		if (b->nmodes == 0) {
			cli_error("bench: no mode can run on this machine configuration");
			return CLI_EXIT_FAIL;
		}
	}
	return -1;
}

/* ---- API ---- */

int bench_main(int argc, char **argv)
{
	struct bench *b = calloc(1, sizeof(*b));
	char err[512];
	int status;

	if (b == NULL) {
		cli_error("bench: out of memory");
		return CLI_EXIT_FAIL;
	}
	b->argc = argc;
	b->argv = argv;
	status = bench_parse(b, argc, argv);
	if (status >= 0)
		goto out;
	status = CLI_EXIT_OK;
	if (b->instr_pass)
		b->out = "-"; /* the child writes no file */
	{
		/* Before any run: a bad --csv costs nothing (no folder is created). */
		struct out_target t;
		if (out_resolve(b->out, &t, err, sizeof(err)) != 0) {
			cli_error("--csv: %s", err);
			status = CLI_EXIT_USAGE;
			goto out;
		}
	}
	b->rows = calloc(b->nwl * b->nmodes, sizeof(*b->rows));
	if (b->rows == NULL) {
		cli_error("bench: out of memory");
		status = CLI_EXIT_FAIL;
		goto out;
	}
	b->nrows = b->nwl * b->nmodes;
	for (size_t w = 0; w < b->nwl; w++) {
		struct bench_row *rows = &b->rows[w * b->nmodes];
		for (size_t m = 0; m < b->nmodes; m++) {
			rows[m].w = b->wl[w];
			rows[m].mode = b->modes[m]->name;
			rows[m].quiet = b->quiet;
		}
		if (bench_workload(b, b->wl[w], rows) != 0)
			status = CLI_EXIT_FAIL;
	}
	if (b->instr_pass)
		goto out; /* the counts are in callgrind's dumps */
	if (b->instr && !b->instr_pass)
		(void)bench_instr(b);
	if (csv_write_atomic(b->out, bench_csv_fill, b, err, sizeof(err)) != 0) {
		cli_error("bench: %s", err);
		status = CLI_EXIT_FAIL;
	}
	if (!b->quiet)
		bench_print(strcmp(b->out, "-") == 0 ? stderr : stdout, b);
	if (!b->quiet && strcmp(b->out, "-") != 0)
		fprintf(stdout, "\nwrote %s\n", b->out);
out:
	free(b->rows);
	free(b);
	return status;
}
