/*
 * test_differential.c - the guest memory manager against a flat reference
 * model, under every MMU mode.
 *
 * A seeded random op program (map, read, write, fetch, fork, switch,
 * unmap, mprotect, exit) runs on the real engine: guest-mm keeps real page
 * tables in guest memory and the vCPU translates every user access through
 * the mode's MMU. The same program runs on a trivial model: per process, a
 * list of regions and a sorted map from 8-byte word address to the value
 * last written (zero when never written). Fork copies the map; munmap
 * drops the words of the range. Every user read is compared with the model
 * and folded into a checksum.
 *
 * The program is generated from the model's state alone, so it is the same
 * under every mode. Each mode that vm_create() accepts runs it; a mode that
 * fails with "not built" is skipped, any other failure fails the test.
 * Across modes the checksum and vm_guest_digest() (which covers the guest's
 * page tables, A/D bits included) must be equal: only counts may differ.
 *
 * After the digest, one deliberately induced fault proves that the
 * comparison can fail: a region is unmapped and then read, which must end
 * in vm_abort() with a segfault.
 *
 * The soak (make soak, tests/soak.sh) runs the same engine at length: with
 * VMMU_DIFF_SETTING=<name> (one of soak_settings[], 'list' prints them),
 * VMMU_DIFF_SEED and VMMU_DIFF_OPS in the environment, the binary runs that
 * one program under every mode, with --audit on, instead of its tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../src/core/cpu.h"
#include "../src/guest-mm/gmm.h"
#include "../src/cli/registry.h"

#define PG PAGE_SIZE
#define MB2 (UINT64_C(2) << 20)
#define MAX_PROCS 6
#define MAX_REGIONS 14
#define OPS 5000

/* ---- the reference model ---- */

struct region {
	gva_t start, end;
	int prot;
	bool huge;
};

struct word {
	gva_t va;
	uint64_t val;
};

struct rproc {
	struct gproc *gp;
	struct region *reg;
	size_t nreg;
	struct word *w; /* sorted by va */
	size_t nw, capw;
};

struct model {
	struct rproc p[MAX_PROCS];
	int n;
	int cur;
};

static size_t word_find(const struct rproc *p, gva_t va)
{
	size_t lo = 0, hi = p->nw;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->w[mid].va < va)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static uint64_t word_get(const struct rproc *p, gva_t va)
{
	size_t i = word_find(p, va);
	return i < p->nw && p->w[i].va == va ? p->w[i].val : 0;
}

static void word_set(struct rproc *p, gva_t va, uint64_t val)
{
	size_t i = word_find(p, va);
	if (i < p->nw && p->w[i].va == va) {
		p->w[i].val = val;
		return;
	}
	if (p->nw == p->capw) {
		p->capw = p->capw ? 2 * p->capw : 64;
		p->w = realloc(p->w, p->capw * sizeof(*p->w));
		assert_non_null(p->w);
	}
	memmove(&p->w[i + 1], &p->w[i], (p->nw - i) * sizeof(*p->w));
	p->w[i] = (struct word){.va = va, .val = val};
	p->nw++;
}

static void word_drop_range(struct rproc *p, gva_t a, gva_t b)
{
	size_t i = word_find(p, a), j = word_find(p, b);
	if (i == j)
		return;
	memmove(&p->w[i], &p->w[j], (p->nw - j) * sizeof(*p->w));
	p->nw -= j - i;
}

static void region_add(struct rproc *p, struct region r)
{
	p->reg = realloc(p->reg, (p->nreg + 1) * sizeof(*p->reg));
	assert_non_null(p->reg);
	p->reg[p->nreg++] = r;
}

static void region_del(struct rproc *p, size_t i)
{
	memmove(&p->reg[i], &p->reg[i + 1], (p->nreg - i - 1) * sizeof(*p->reg));
	p->nreg--;
}

/* Cut [a, b) out of region i, which contains it; returns the middle piece
 * when keep is set (with prot applied), else drops it. */
static void region_cut(struct rproc *p, size_t i, gva_t a, gva_t b, bool keep, int prot)
{
	struct region r = p->reg[i];
	region_del(p, i);
	if (r.start < a)
		region_add(p, (struct region){r.start, a, r.prot, r.huge});
	if (keep)
		region_add(p, (struct region){a, b, prot, r.huge});
	if (b < r.end)
		region_add(p, (struct region){b, r.end, r.prot, r.huge});
}

static void rproc_free(struct rproc *p)
{
	free(p->reg);
	free(p->w);
	memset(p, 0, sizeof(*p));
}

static void rproc_copy(struct rproc *dst, const struct rproc *src)
{
	*dst = *src;
	dst->reg = malloc((src->nreg + 1) * sizeof(*dst->reg));
	dst->w = malloc((src->capw + 1) * sizeof(*dst->w));
	assert_non_null(dst->reg);
	assert_non_null(dst->w);
	if (src->nreg)
		memcpy(dst->reg, src->reg, src->nreg * sizeof(*dst->reg));
	if (src->nw)
		memcpy(dst->w, src->w, src->nw * sizeof(*dst->w));
}

/* ---- the program ---- */

struct run {
	struct vm *vm;
	struct vcpu *v;
	struct model m;
	uint64_t rng;
	uint64_t checksum;
	uint64_t seed;
	const char *mode;
	int op;
	int ops; /* operations in the program */
	unsigned reads, nonzero, writes, forks, exits, unmaps, protects;
};

static uint64_t rnd(struct run *r)
{
	uint64_t z = (r->rng += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint64_t below(struct run *r, uint64_t n)
{
	return n ? rnd(r) % n : 0;
}

static void fold(struct run *r, uint64_t v)
{
	r->checksum = (r->checksum ^ v) * UINT64_C(0x100000001b3) + 0x9e37;
}

static struct rproc *cur(struct run *r)
{
	return &r->m.p[r->m.cur];
}

/* A random region of the current process whose prot has all of 'need'
 * (need 0: any non-PROT_NONE region), or NULL. */
static struct region *pick_region(struct run *r, int need)
{
	struct rproc *p = cur(r);
	size_t ok[MAX_REGIONS * 2 + 4], n = 0;
	for (size_t i = 0; i < p->nreg; i++)
		if (p->reg[i].prot && (p->reg[i].prot & need) == need)
			ok[n++] = i;
	return n ? &p->reg[ok[below(r, n)]] : NULL;
}

/* A word of region g: one of four slots of a random page (first and last
 * words included), so that reads often meet earlier writes. */
static gva_t pick_word(struct run *r, const struct region *g)
{
	static const uint64_t slot[] = {0, 0x408, 0x810, PG - 8};
	uint64_t pages = (g->end - g->start) / PG;
	return g->start + below(r, pages) * PG + slot[below(r, 4)];
}

/* The region of the current process that contains va, or NULL. */
static const struct region *region_of(struct run *r, gva_t va)
{
	struct rproc *p = cur(r);
	for (size_t i = 0; i < p->nreg; i++)
		if (va >= p->reg[i].start && va < p->reg[i].end)
			return &p->reg[i];
	return NULL;
}

static void op_map(struct run *r)
{
	struct rproc *p = cur(r);
	if (p->nreg >= MAX_REGIONS)
		return;
	static const int prots[] = {GPROT_READ, GPROT_READ | GPROT_WRITE, GPROT_READ | GPROT_WRITE,
				    GPROT_READ | GPROT_WRITE | GPROT_EXEC};
	int prot = prots[below(r, 4)];
	bool huge = below(r, 10) == 0;
	uint64_t len = huge ? (1 + below(r, 2)) * MB2 : (1 + below(r, 40)) * PG;
	/* A 2 MiB multiple without GMAP_HUGE is a 4K mapping. */
	int flags = huge && below(r, 3) ? GMAP_HUGE : 0;
	huge = flags != 0;
	gva_t va = gmm_mmap(r->vm, 0, len, prot, flags);
	if (!va)
		fail_msg("%s seed %" PRIu64 " op %d: mmap of %" PRIu64 " bytes failed (errno %d)",
			 r->mode, r->seed, r->op, len, gmm_errno(r->vm));
	fold(r, va);
	region_add(p, (struct region){va, va + len, prot, huge});
}

static void op_read(struct run *r)
{
	struct rproc *p = cur(r);
	gva_t va = 0;
	if (p->nw && below(r, 2)) { /* half the time, a word written before */
		va = p->w[below(r, p->nw)].va;
		const struct region *g = region_of(r, va);
		if (!g || !g->prot)
			va = 0;
	}
	if (!va) {
		struct region *g = pick_region(r, 0);
		if (!g)
			return;
		va = pick_word(r, g);
	}
	cpu_set_user(r->v, true);
	uint64_t got = cpu_load(r->v, va, 8);
	uint64_t want = word_get(cur(r), va);
	if (got != want)
		fail_msg("%s seed %" PRIu64 " op %d: pid %d read 0x%" PRIx64 " = %#" PRIx64
			 ", model says %#" PRIx64,
			 r->mode, r->seed, r->op, gmm_proc_pid(cur(r)->gp), va, got, want);
	fold(r, got);
	r->reads++;
	r->nonzero += got != 0;
}

static void op_write(struct run *r)
{
	struct region *g = pick_region(r, GPROT_WRITE);
	if (!g)
		return;
	gva_t va = pick_word(r, g);
	uint64_t val = rnd(r) | 1;
	cpu_set_user(r->v, true);
	cpu_store(r->v, va, 8, val);
	word_set(cur(r), va, val);
	r->writes++;
}

static void op_fetch(struct run *r)
{
	struct region *g = pick_region(r, GPROT_EXEC);
	if (!g)
		return;
	cpu_set_user(r->v, true);
	cpu_fetch(r->v, pick_word(r, g), 4);
}

static void op_fork(struct run *r)
{
	if (r->m.n >= MAX_PROCS)
		return;
	struct gproc *c = gmm_fork(r->vm, cur(r)->gp);
	if (!c)
		fail_msg("%s seed %" PRIu64 " op %d: fork failed (errno %d)", r->mode, r->seed,
			 r->op, gmm_errno(r->vm));
	struct rproc *child = &r->m.p[r->m.n++];
	rproc_copy(child, cur(r));
	child->gp = c;
	fold(r, (uint64_t)gmm_proc_pid(c));
	r->forks++;
}

static void op_switch(struct run *r)
{
	r->m.cur = (int)below(r, (uint64_t)r->m.n);
	gmm_switch_to(r->vm, cur(r)->gp);
}

/* A random page-aligned (2M-aligned when huge) piece of region g. */
static void pick_piece(struct run *r, const struct region *g, gva_t *a, gva_t *b)
{
	uint64_t unit = g->huge ? MB2 : PG;
	uint64_t units = (g->end - g->start) / unit;
	uint64_t first = below(r, units);
	uint64_t n = 1 + below(r, units - first);
	if (below(r, 3) == 0) { /* the whole region, often */
		first = 0;
		n = units;
	}
	*a = g->start + first * unit;
	*b = *a + n * unit;
}

static void op_unmap(struct run *r)
{
	struct rproc *p = cur(r);
	if (!p->nreg)
		return;
	size_t i = below(r, p->nreg);
	gva_t a, b;
	pick_piece(r, &p->reg[i], &a, &b);
	if (p->nreg >= MAX_REGIONS * 2) { /* no more splits */
		a = p->reg[i].start;
		b = p->reg[i].end;
	}
	if (gmm_munmap(r->vm, a, b - a))
		fail_msg("%s seed %" PRIu64 " op %d: munmap failed (errno %d)", r->mode, r->seed,
			 r->op, gmm_errno(r->vm));
	word_drop_range(p, a, b);
	region_cut(p, i, a, b, false, 0);
	r->unmaps++;
}

static void op_protect(struct run *r)
{
	struct rproc *p = cur(r);
	if (!p->nreg || p->nreg + 2 > MAX_REGIONS * 2)
		return;
	static const int prots[] = {GPROT_NONE, GPROT_READ, GPROT_READ | GPROT_WRITE,
				    GPROT_READ | GPROT_WRITE | GPROT_EXEC};
	size_t i = below(r, p->nreg);
	int prot = prots[below(r, 4)];
	gva_t a, b;
	pick_piece(r, &p->reg[i], &a, &b);
	if (gmm_mprotect(r->vm, a, b - a, prot))
		fail_msg("%s seed %" PRIu64 " op %d: mprotect failed (errno %d)", r->mode, r->seed,
			 r->op, gmm_errno(r->vm));
	region_cut(p, i, a, b, true, prot);
	r->protects++;
}

static void op_exit(struct run *r)
{
	if (r->m.n < 2)
		return;
	int victim = (int)below(r, (uint64_t)r->m.n);
	int next = (int)below(r, (uint64_t)r->m.n - 1);
	if (next >= victim)
		next++;
	if (victim != r->m.cur)
		next = r->m.cur;
	gmm_exit(r->vm, r->m.p[victim].gp, r->m.p[next].gp);
	rproc_free(&r->m.p[victim]);
	r->m.p[victim] = r->m.p[r->m.n - 1];
	memset(&r->m.p[r->m.n - 1], 0, sizeof(r->m.p[0]));
	if (next == r->m.n - 1)
		next = victim;
	r->m.n--;
	r->m.cur = next;
	if (gmm_current(r->vm) != cur(r)->gp)
		fail_msg("%s seed %" PRIu64 " op %d: exit left the wrong process current", r->mode,
			 r->seed, r->op);
	r->exits++;
}

static void check_gmm(struct run *r)
{
	char detail[256];
	const char *bad = gmm_check(r->vm, detail, sizeof(detail));
	if (bad)
		fail_msg("%s seed %" PRIu64 " op %d: gmm_check: %s: %s", r->mode, r->seed, r->op,
			 bad, detail);
}

static void run_program(struct run *r)
{
	struct gproc *init = gmm_proc_create(r->vm);
	assert_non_null(init);
	r->m.p[0].gp = init;
	r->m.n = 1;
	r->m.cur = 0;
	for (r->op = 0; r->op < r->ops; r->op++) {
		uint64_t x = below(r, 100);
		if (x < 34)
			op_read(r);
		else if (x < 62)
			op_write(r);
		else if (x < 70)
			op_map(r);
		else if (x < 75)
			op_unmap(r);
		else if (x < 80)
			op_protect(r);
		else if (x < 84)
			op_fork(r);
		else if (x < 93)
			op_switch(r);
		else if (x < 96)
			op_exit(r);
		else
			op_fetch(r);
		if (r->op % 500 == 499)
			check_gmm(r);
	}
	check_gmm(r);
}

/* Unmap a readable region of the current process, then read it: the
 * access must end in a segfault. */
static void induce_fault(struct run *r)
{
	struct region *g = pick_region(r, 0);
	if (!g) {
		gva_t va = gmm_mmap(r->vm, 0, PG, GPROT_READ | GPROT_WRITE, 0);
		assert_int_not_equal(va, 0);
		region_add(cur(r), (struct region){va, va + PG, GPROT_READ | GPROT_WRITE, false});
		g = &cur(r)->reg[cur(r)->nreg - 1];
	}
	gva_t va = g->start;
	cpu_set_user(r->v, true);
	(void)cpu_load(r->v, va, 8); /* mapped now: the TLB may hold it */
	assert_int_equal(gmm_munmap(r->vm, g->start, g->end - g->start), 0);
	jmp_buf jb;
	r->vm->abort_jmp = &jb;
	if (setjmp(jb) == 0) {
		cpu_set_user(r->v, true);
		(void)cpu_load(r->v, va, 8);
		fail_msg("%s seed %" PRIu64 ": read after munmap of 0x%" PRIx64 " did not fault",
			 r->mode, r->seed, va);
	}
	r->vm->abort_jmp = NULL;
	if (!strstr(r->vm->err, "segfault"))
		fail_msg("%s seed %" PRIu64 ": induced fault gave '%s', not a segfault", r->mode,
			 r->seed, r->vm->err);
}

/* ---- the test ---- */

struct outcome {
	const char *mode;
	uint64_t checksum, digest;
	unsigned reads, nonzero;
};

typedef void (*tweak_fn)(struct vm_config *c);

/* Run the program in r->vm; a guest abort fails the test. */
static void run_guarded(struct run *r)
{
	jmp_buf jb;
	r->vm->abort_jmp = &jb;
	if (setjmp(jb) == 0)
		run_program(r);
	else
		fail_msg("%s seed %" PRIu64 " op %d: guest aborted: %s", r->mode, r->seed, r->op,
			 r->vm->err);
	r->vm->abort_jmp = NULL;
}

/* Run the program of 'ops' operations under one mode; false when the mode
 * is not built. */
static bool run_mode(const char *mode, uint64_t seed, tweak_fn tweak, int ops, struct outcome *out)
{
	struct vm_config c;
	config_defaults(&c);
	c.mode = mode;
	c.guest_mem = UINT64_C(128) << 20;
	if (tweak)
		tweak(&c);
	/* A mode that refuses CR0.WP = 0 (mmu_ops.refuses_wp0) runs such a
	 * setting with WP set: the guest kernel writes only through its
	 * read-write direct map, so WP changes no outcome it is compared on. */
	const struct mmu_ops *m = mmu_find(mode);
	if (m && m->refuses_wp0)
		c.cr0_wp = true;
	char err[256] = "";
	struct vm *vm = vm_create(&c, err, sizeof(err));
	if (!vm) {
		if (strstr(err, "not built"))
			return false;
		fail_msg("vm_create(%s): %s", mode, err);
	}
	if (gmm_boot(vm))
		fail_msg("gmm_boot(%s): %s", mode, vm->err);
	memset(&vm->st, 0, sizeof(vm->st));
	struct run *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	*r = (struct run){
	    .vm = vm, .v = &vm->vcpu, .rng = seed, .seed = seed, .mode = mode, .ops = ops};
	run_guarded(r);
	if (c.audit) {
		/* The incremental audit ran after every exit: now the full one. */
		jmp_buf jb;
		vm->abort_jmp = &jb;
		if (setjmp(jb) == 0)
			vm_audit(vm);
		else
			fail_msg("%s seed %" PRIu64 ": full audit at the end: %s", mode, seed,
				 vm->err);
		vm->abort_jmp = NULL;
	}
	const char *bad = stats_check(&vm->st, strcmp(mode, "nested") == 0);
	if (bad)
		fail_msg("%s seed %" PRIu64 ": stats invariant %s", mode, seed, bad);
	if (r->reads < (unsigned)ops / 5 || r->nonzero < r->reads / 3 ||
	    r->writes < (unsigned)ops / 6 || !r->forks ||
	    !r->exits || !r->unmaps || !r->protects)
		fail_msg("seed %" PRIu64 ": the program is too thin (%u reads, %u non-zero,"
			 " %u writes, %u forks, %u exits, %u unmaps, %u mprotects)",
			 seed, r->reads, r->nonzero, r->writes, r->forks, r->exits, r->unmaps,
			 r->protects);
	*out = (struct outcome){.mode = mode,
				.checksum = r->checksum,
				.digest = vm_guest_digest(vm),
				.reads = r->reads,
				.nonzero = r->nonzero};
	induce_fault(r);
	for (int k = 0; k < r->m.n; k++)
		rproc_free(&r->m.p[k]);
	free(r);
	vm_destroy(vm);
	return true;
}

static void differential_ops(uint64_t seed, tweak_fn tweak, int ops)
{
	struct outcome out[8] = {0};
	int nout = 0;
	for (int i = 0; mmu_modes[i] && nout < 8; i++)
		if (run_mode(mmu_modes[i]->name, seed, tweak, ops, &out[nout]))
			nout++;
	assert_true(nout >= 1);
	assert_string_equal(out[0].mode, "native");
	char names[128] = "";
	for (int k = 0; k < nout; k++)
		snprintf(names + strlen(names), sizeof(names) - strlen(names), " %s", out[k].mode);
	print_message("seed %" PRIu64 ": %d operations, %u reads (%u non-zero) compared under%s\n",
		      seed, ops, out[0].reads, out[0].nonzero, names);
	for (int k = 1; k < nout; k++) {
		if (out[k].checksum != out[0].checksum)
			fail_msg("seed %" PRIu64 ": checksum %s %#" PRIx64 " != native %#" PRIx64,
				 seed, out[k].mode, out[k].checksum, out[0].checksum);
		if (out[k].digest != out[0].digest)
			fail_msg("seed %" PRIu64 ": guest digest %s %#" PRIx64
				 " != native %#" PRIx64,
				 seed, out[k].mode, out[k].digest, out[0].digest);
	}
}

static void differential(uint64_t seed, tweak_fn tweak)
{
	differential_ops(seed, tweak, OPS);
}

static void cfg_5level_nopcid(struct vm_config *c)
{
	c->levels = 5;
	c->pcid = false;
}

static void cfg_nocache_1g(struct vm_config *c)
{
	c->walk_caches = false;
	c->direct_map_page = PG_1G;
	c->invlpg_threshold = 4;
	c->vpid = false;
}

static void cfg_host_2m(struct vm_config *c)
{
	c->host_page = PG_2M;
	c->ept_ad = false;
}

static void cfg_tiny_tlb(struct vm_config *c)
{
	c->l1d = (struct tlb_geom){.sets = 1, .ways = 2};
	c->l1d_large = (struct tlb_geom){.sets = 1, .ways = 1};
	c->l2 = (struct tlb_geom){.sets = 2, .ways = 2};
	c->host_page = PG_1G;
}

static void cfg_5level_flush(struct vm_config *c)
{
	c->levels = 5;
	c->invlpg_threshold = 0; /* every munmap and mprotect flushes */
	c->vpid = false;
}

/* ---- the soak's machine settings (tests/soak.sh, make soak) ----
 * Each keeps --audit on: the incremental audit after every exit, the full
 * one at the end of each mode's run. */

static void soak_defaults(struct vm_config *c)
{
	c->audit = true;
}

static void soak_host_2m(struct vm_config *c)
{
	c->audit = true;
	c->host_page = PG_2M;
}

static void soak_5level(struct vm_config *c)
{
	c->audit = true;
	c->levels = 5;
}

static void soak_eager(struct vm_config *c)
{
	c->audit = true;
	c->shadow_sync = SYNC_EAGER;
}

static void soak_novpid(struct vm_config *c)
{
	c->audit = true;
	c->vpid = false;
}

static void soak_nopcid(struct vm_config *c)
{
	c->audit = true;
	c->pcid = false;
}

static void soak_5level_2m_eager(struct vm_config *c)
{
	c->audit = true;
	c->levels = 5;
	c->host_page = PG_2M;
	c->shadow_sync = SYNC_EAGER;
	c->vpid = false;
	c->pcid = false;
}

static void soak_controls_off(struct vm_config *c)
{
	c->audit = true;
	c->cr0_wp = false;
	c->cr4_smep = false;
	c->cr4_smap = false;
	c->efer_nxe = false;
}

static const struct soak_setting {
	const char *name;
	const char *what;
	tweak_fn tweak;
} soak_settings[] = {
    {"defaults", "4K host pages, 4 levels, unsync, VPID and PCID on", soak_defaults},
    {"host2m", "2M host pages", soak_host_2m},
    {"5level", "5 levels (LA57, 5-level EPT)", soak_5level},
    {"eager", "eager shadow sync", soak_eager},
    {"novpid", "VPID off (a flush at every exit)", soak_novpid},
    {"nopcid", "PCID off", soak_nopcid},
    {"mix", "5 levels, 2M host pages, eager, VPID and PCID off", soak_5level_2m_eager},
    {"ctl-off", "CR0.WP, SMEP, SMAP and NXE off", soak_controls_off},
};

/* The soak's entry: VMMU_DIFF_SETTING, VMMU_DIFF_SEED and VMMU_DIFF_OPS
 * name one run (the rerun command tests/soak.sh prints for a mismatch). */
static const struct soak_setting *soak_setting;
static uint64_t soak_seed;
static int soak_ops;

static void test_soak_one(void **state)
{
	(void)state;
	differential_ops(soak_seed, soak_setting->tweak, soak_ops);
}

static int soak_main(const char *name)
{
	if (strcmp(name, "list") == 0) {
		for (size_t i = 0; i < sizeof(soak_settings) / sizeof(soak_settings[0]); i++)
			printf("%s\t%s\n", soak_settings[i].name, soak_settings[i].what);
		return 0;
	}
	for (size_t i = 0; i < sizeof(soak_settings) / sizeof(soak_settings[0]); i++)
		if (strcmp(name, soak_settings[i].name) == 0)
			soak_setting = &soak_settings[i];
	const char *seed = getenv("VMMU_DIFF_SEED");
	const char *ops = getenv("VMMU_DIFF_OPS");
	char *end = NULL;
	if (!soak_setting) {
		fprintf(stderr, "VMMU_DIFF_SETTING: unknown setting '%s' (try 'list')\n", name);
		return 2;
	}
	soak_seed = seed ? strtoull(seed, &end, 10) : 1;
	if (seed && (!*seed || *end)) {
		fprintf(stderr, "VMMU_DIFF_SEED: not a number: '%s'\n", seed);
		return 2;
	}
	long n = ops ? strtol(ops, &end, 10) : OPS;
	if (ops && (!*ops || *end || n < 100 || n > 100000000)) {
		fprintf(stderr, "VMMU_DIFF_OPS: want 100..100000000, not '%s'\n", ops);
		return 2;
	}
	soak_ops = (int)n;
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_soak_one)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

static void test_seed_defaults(void **state)
{
	(void)state;
	differential(1, NULL);
}

static void test_seed_5level_nopcid(void **state)
{
	(void)state;
	differential(2, cfg_5level_nopcid);
}

static void test_seed_nocache_1g(void **state)
{
	(void)state;
	differential(3, cfg_nocache_1g);
}

static void test_seed_host_2m(void **state)
{
	(void)state;
	differential(4, cfg_host_2m);
}

static void test_seed_tiny_tlb(void **state)
{
	(void)state;
	differential(5, cfg_tiny_tlb);
}

static void test_seed_5level_flush(void **state)
{
	(void)state;
	differential(6, cfg_5level_flush);
}

int main(void)
{
	const char *soak = getenv("VMMU_DIFF_SETTING");
	if (soak)
		return soak_main(soak);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seed_defaults),   cmocka_unit_test(test_seed_5level_nopcid),
	    cmocka_unit_test(test_seed_nocache_1g), cmocka_unit_test(test_seed_host_2m),
	    cmocka_unit_test(test_seed_tiny_tlb),   cmocka_unit_test(test_seed_5level_flush),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
