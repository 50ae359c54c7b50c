/*
 * test_explain.c - the explainer (src/teach/explain*.c): what it records of
 * one load is what the engine did, for every mode and page-size
 * combination.
 *
 * One table of machines runs under native, shadow and nested paging, guest
 * 4k/2m, host 4k/2m/1g, 4 and 5 levels, walk caches off. For each:
 *   - the reference count is exact (the 2D walk's (n+1)(m+1)-1 with large
 *     pages deleting rows and columns; the shadow miss, software walk and
 *     hardware walk again);
 *   - every reference is self-consistent: entry = table + 8 x index, the
 *     index is the level's bit field of the gVA (of the gPA being
 *     translated, for EPT references), each table is the frame of the
 *     entry before in its walk and dimension;
 *   - the final translation is the engine's: a fresh load through the same
 *     VM, after a flush, reads a sentinel written at the hPA, and the p2m
 *     maps the gPA's frame to the hPA's;
 *   - the JSON form parses as JSON and holds one object per reference.
 * Then: identical builds give identical records (what makes a quiz's
 * answers equal explain's), an unmapped address ends in the guest's
 * fault, warmed walk caches serve references without breaking the
 * numbering, and the SVG is written whole.
 *
 * Address used (4-level):   0x00007f0000201008
 *   PML4 0x0fe  PDPT 0x000  PD 0x001  PT 0x001  offset 0x008
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../src/core/cpu.h"
#include "../src/teach/explain.h"

#define GVA UINT64_C(0x00007f0000201008)
#define SENTINEL UINT64_C(0x5a5aa5a5c3c33c3c)

struct machine {
	const char *mode;
	enum page_size guest, host;
	int levels;
	int ept_levels; /* 0: the default (4, kvm_mmu_get_tdp_level()) */
};

static struct vm_config mcfg(const struct machine *m)
{
	struct vm_config c;
	config_defaults(&c);
	c.mode = m->mode;
	c.guest_page = m->guest;
	c.host_page = m->host;
	c.levels = m->levels;
	if (m->ept_levels)
		c.ept_levels = m->ept_levels;
	c.walk_caches = false;
	return c;
}

/* The number of references the machine's walks must make. */
static int expected_refs(const struct machine *m)
{
	int n = m->levels;
	int rows = m->guest == PG_2M ? n - 1 : n;
	int ept = m->ept_levels ? m->ept_levels : 4;
	int cols = ept - (int)m->host; /* EPT levels walked: 4k m, 2m m-1, 1g m-2 */
	if (strcmp(m->mode, "native") == 0)
		return rows;
	if (strcmp(m->mode, "nested") == 0)
		return rows * (cols + 1) + cols;
	/* shadow: the missing top spte, the VMM's walk, the walk again over
	 * the smaller of the guest and host pages */
	int hw = m->guest == PG_2M && m->host != PG_4K ? n - 1 : n;
	return 1 + rows + hw;
}

/* ---- a minimal JSON checker (values, objects, arrays) ---- */

static const char *js_ws(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

static const char *js_value(const char *p);

static const char *js_string(const char *p)
{
	if (*p != '"')
		return NULL;
	for (p++; *p && *p != '"'; p++) {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\' && !*++p)
			return NULL;
	}
	return *p == '"' ? p + 1 : NULL;
}

static const char *js_value(const char *p)
{
	p = js_ws(p);
	if (*p == '"')
		return js_string(p);
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';
		bool obj = *p == '{';
		p = js_ws(p + 1);
		if (*p == close)
			return p + 1;
		for (;;) {
			if (obj) {
				p = js_string(js_ws(p));
				if (!p)
					return NULL;
				p = js_ws(p);
				if (*p++ != ':')
					return NULL;
			}
			p = js_value(p);
			if (!p)
				return NULL;
			p = js_ws(p);
			if (*p == ',') {
				p++;
				continue;
			}
			return *p == close ? p + 1 : NULL;
		}
	}
	if (strncmp(p, "true", 4) == 0 || strncmp(p, "null", 4) == 0)
		return p + 4;
	if (strncmp(p, "false", 5) == 0)
		return p + 5;
	const char *s = p;
	if (*p == '-')
		p++;
	while ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' || *p == '+' ||
	       *p == '-')
		p++;
	return p > s ? p : NULL;
}

static size_t count_substr(const char *s, const char *what)
{
	size_t n = 0;
	for (const char *p = strstr(s, what); p; p = strstr(p + 1, what))
		n++;
	return n;
}

/* ---- checks ---- */

static uint64_t indexed_addr(const struct xp_trace *t, const struct xp_rec *r)
{
	return r->ev.dim == DIM_HOST ? r->ev.addr : t->gva;
}

static void check_consistent(const struct xp_trace *t, const char *what)
{
	/* previous entry and level per chain: walk x (dimension, nested row) */
	uint64_t prev_entry[8][8];
	int prev_level[8][8];
	memset(prev_level, 0, sizeof(prev_level));
	int step = 0;
	for (size_t i = 0; i < t->n; i++) {
		const struct xp_rec *r = &t->rec[i];
		const struct trace_event *ev = &r->ev;
		if (ev->kind != TR_WALK_REF || r->other)
			continue;
		if (r->step != step + 1)
			fail_msg("%s: reference numbered %d after %d", what, r->step, step);
		step = r->step + r->nrefs - 1;
		if (ev->served != SERVED_MEMORY)
			continue;
		if (ev->entry_addr != ev->table_addr + 8 * ev->index)
			fail_msg("%s: step %d: entry 0x%" PRIx64 " != table 0x%" PRIx64
				 " + 8 x %" PRIu64,
				 what, r->step, ev->entry_addr, ev->table_addr, ev->index);
		if (ev->index != pt_index(indexed_addr(t, r), ev->level))
			fail_msg("%s: step %d: index %" PRIu64 " is not level %d of 0x%" PRIx64,
				 what, r->step, ev->index, ev->level, indexed_addr(t, r));
		if (ev->dim != DIM_HOST && ev->gva != t->gva)
			fail_msg("%s: step %d: indexes another gVA", what, r->step);
		int w = r->walk & 7;
		int d = ev->dim == DIM_HOST ? 1 + (ev->guest_level & 7) : 0;
		if (d == 7)
			d = 6;
		if (prev_level[w][d] == ev->level + 1 &&
		    pte_frame(prev_entry[w][d]) != ev->table_addr)
			fail_msg("%s: step %d: table 0x%" PRIx64 " is not the frame of 0x%" PRIx64,
				 what, r->step, ev->table_addr, prev_entry[w][d]);
		prev_entry[w][d] = ev->entry;
		prev_level[w][d] = ev->level;
	}
	assert_int_equal(step, t->refs);
}

/* The explained translation is the engine's. */
static void check_translation(struct vm *vm, const struct xp_trace *t, const char *what)
{
	if (!t->ok)
		fail_msg("%s: the load did not complete: %s", what, t->error);
	assert_true(t->gpa_known);
	if (vm->p2m.identity)
		assert_int_equal(t->gpa, t->hpa);
	else
		assert_int_equal(p2m_lookup(vm, t->gpa >> PAGE_SHIFT), t->hpa >> PAGE_SHIFT);
	assert_int_equal(t->gpa & (PAGE_SIZE - 1), t->gva & (PAGE_SIZE - 1));
	hpa_write64(vm, HPA(t->hpa & ~UINT64_C(7)), SENTINEL);
	struct vcpu *v = &vm->vcpu;
	cpu_flush_tlb(v, true);
	cpu_set_user(v, true);
	uint64_t got = cpu_load(v, t->gva & ~UINT64_C(7), 8);
	cpu_set_user(v, false);
	if (got != SENTINEL)
		fail_msg("%s: a fresh load of gVA 0x%" PRIx64 " reads 0x%" PRIx64
			 ", not the sentinel at hPA 0x%" PRIx64,
			 what, t->gva, got, t->hpa);
}

static void check_json(const struct xp_trace *t, const char *what)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	xp_print_json(f, t);
	fclose(f);
	const char *end = js_value(buf);
	if (!end || *js_ws(end) != '\0')
		fail_msg("%s: the JSON does not parse near: %.80s", what, end ? end : buf);
	assert_int_equal(count_substr(buf, "\"type\":\"reference\""), (size_t)t->refs);
	assert_int_equal(count_substr(buf, "\"type\":\"translation\""), 1);
	free(buf);
}

/* ---- tests ---- */

static void test_every_machine(void **state)
{
	(void)state;
	static const char *const modes[] = {"native", "shadow", "nested"};
	int runs = 0;
	for (int mi = 0; mi < 3; mi++)
		for (int g = PG_4K; g <= PG_2M; g++)
			for (int h = PG_4K; h <= PG_1G; h++)
				for (int l = 4; l <= 5; l++)
					for (int e = 4; e <= 5; e++) {
						struct machine m = {modes[mi], (enum page_size)g,
								    (enum page_size)h, l, e};
						if (mi == 0 && h != PG_4K)
							continue;
						if (mi != 2 && e == 5)
							continue;
						char what[96], err[256];
						snprintf(what, sizeof(what),
							 "%s guest %s host %s levels %d ept %d",
							 m.mode, page_size_name(m.guest),
							 page_size_name(m.host), l, e);
						struct vm_config c = mcfg(&m);
						uint64_t map[1] = {GVA};
						struct xp_opts o = {.map = map, .nmap = 1};
						struct vm *vm =
						    explain_guest_build(&c, &o, err, sizeof(err));
						if (!vm)
							fail_msg("%s: %s", what, err);
						struct xp_trace t;
						assert_int_equal(explain_access(vm, GVA, &o, &t),
								 0);
						if (t.refs != expected_refs(&m))
							fail_msg("%s: %d references, expected %d",
								 what, t.refs, expected_refs(&m));
						check_consistent(&t, what);
						check_json(&t, what);
						check_translation(vm, &t, what);
						xp_trace_free(&t);
						vm_destroy(vm);
						runs++;
					}
	assert_int_equal(runs, 4 + 12 + 24);
}

/* Two builds of the same guest explain an address identically. */
static void test_deterministic(void **state)
{
	(void)state;
	struct machine m = {"shadow", PG_4K, PG_4K, 4, 0};
	struct vm_config c = mcfg(&m);
	uint64_t map[3] = {GVA, GVA + 0x3000, UINT64_C(0x0000100000000000)};
	struct xp_opts o = {.map = map, .nmap = 3};
	struct xp_trace t[2];
	char err[256];
	for (int k = 0; k < 2; k++) {
		struct vm *vm = explain_guest_build(&c, &o, err, sizeof(err));
		assert_non_null(vm);
		assert_int_equal(explain_access(vm, GVA + 0x3010, &o, &t[k]), 0);
		vm_destroy(vm);
	}
	assert_int_equal(t[0].n, t[1].n);
	for (size_t i = 0; i < t[0].n; i++) {
		const struct trace_event *a = &t[0].rec[i].ev, *b = &t[1].rec[i].ev;
		assert_int_equal(a->kind, b->kind);
		assert_int_equal(a->entry_addr, b->entry_addr);
		assert_int_equal(a->entry, b->entry);
		assert_int_equal(a->cycles, b->cycles);
	}
	assert_int_equal(t[0].hpa, t[1].hpa);
	for (int k = 0; k < 2; k++)
		xp_trace_free(&t[k]);
}

/* An address nothing maps: the walk stops at the missing entry, the guest
 * kernel gets the fault and ends the process; the explanation says so. */
static void test_fault(void **state)
{
	(void)state;
	static const char *const modes[] = {"native", "shadow", "nested"};
	for (int mi = 0; mi < 3; mi++) {
		struct machine m = {modes[mi], PG_4K, PG_4K, 4, 0};
		struct vm_config c = mcfg(&m);
		uint64_t map[1] = {GVA};
		struct xp_opts o = {.map = map, .nmap = 1};
		char err[256];
		struct vm *vm = explain_guest_build(&c, &o, err, sizeof(err));
		assert_non_null(vm);
		struct xp_trace t;
		/* Same PT as GVA, another entry: faults at level 1. */
		assert_int_equal(explain_access(vm, GVA + 0x5000, &o, &t), 0);
		assert_false(t.ok);
		assert_true(t.faulted);
		assert_int_equal(t.fault_level, LVL_PT);
		assert_int_equal(t.fault_ec, PFEC_U);
		assert_non_null(strstr(t.error, "segfault"));
		const struct xp_rec *last = NULL;
		for (size_t i = 0; i < t.n; i++)
			if (t.rec[i].ev.kind == TR_WALK_REF && !t.rec[i].other)
				last = &t.rec[i];
		assert_non_null(last);
		assert_int_equal(last->ev.level, LVL_PT);
		assert_false(gpte_present(last->ev.entry));
		check_json(&t, modes[mi]);
		xp_trace_free(&t);
		vm_destroy(vm);
	}
}

/* Walk caches on, warmed by the neighbouring page: some references are
 * served by a cache, and the numbering still counts every cell. */
static void test_warm_caches(void **state)
{
	(void)state;
	static const char *const modes[] = {"native", "shadow", "nested"};
	for (int mi = 0; mi < 3; mi++) {
		struct machine m = {modes[mi], PG_4K, PG_4K, 4, 0};
		struct vm_config c = mcfg(&m);
		c.walk_caches = true;
		uint64_t map[2] = {GVA ^ PAGE_SIZE, GVA};
		struct xp_opts o = {
		    .map = map, .nmap = 2, .warm = true, .warm_gva = GVA ^ PAGE_SIZE};
		char err[256];
		struct vm *vm = explain_guest_build(&c, &o, err, sizeof(err));
		assert_non_null(vm);
		struct xp_trace t;
		assert_int_equal(explain_access(vm, GVA, &o, &t), 0);
		int cached = 0;
		for (size_t i = 0; i < t.n; i++)
			if (t.rec[i].ev.kind == TR_WALK_REF && !t.rec[i].other &&
			    t.rec[i].ev.served != SERVED_MEMORY)
				cached += t.rec[i].nrefs;
		if (cached == 0)
			fail_msg("%s: no reference served by a walk cache", modes[mi]);
		if (mi == 2)
			assert_int_equal(t.refs, 24); /* every cell of the grid, served or not */
		check_consistent(&t, modes[mi]);
		check_translation(vm, &t, modes[mi]);
		xp_trace_free(&t);
		vm_destroy(vm);
	}
}

static void test_svg(void **state)
{
	(void)state;
	struct machine m = {"nested", PG_4K, PG_2M, 4, 0};
	struct vm_config c = mcfg(&m);
	uint64_t map[1] = {GVA};
	struct xp_opts o = {.map = map, .nmap = 1};
	char err[256], path[64];
	struct vm *vm = explain_guest_build(&c, &o, err, sizeof(err));
	assert_non_null(vm);
	struct xp_trace t;
	assert_int_equal(explain_access(vm, GVA, &o, &t), 0);
	snprintf(path, sizeof(path), "/tmp/vmmu-test-explain-%ld.svg", (long)getpid());
	assert_int_equal(xp_write_svg(path, &t, err, sizeof(err)), 0);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char buf[1 << 16];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	unlink(path);
	assert_non_null(strstr(buf, "<svg "));
	assert_non_null(strstr(buf, "</svg>\n"));
	assert_int_equal(count_substr(buf, "class=\"n\""), 19); /* 4K over 2M host */
	assert_int_equal(xp_write_svg("/nonexistent-dir/x.svg", &t, err, sizeof(err)), -1);
	xp_trace_free(&t);
	vm_destroy(vm);
}

/*
 * The SVG says which level built each table, as the text does, for the
 * nested-virtualization modes: nept's guest tables are L2's and its EPT02
 * L0's; shadow-on-ept's guest dimension is L1's SPT12 over L0's EPT01. A
 * 4-level walk over a 4-level table with the caches off, after the first
 * touch (as `vmmu explain` does it): one walk, 24 cells. Plain
 * nested paging has no such line.
 */
static char *svg_of(const char *mode)
{
	struct machine m = {mode, PG_4K, PG_4K, 4, 0};
	struct vm_config c = mcfg(&m);
	uint64_t map[1] = {GVA};
	struct xp_opts o = {.map = map, .nmap = 1, .first_touch = true};
	char err[256], path[64];
	struct vm *vm = explain_guest_build(&c, &o, err, sizeof(err));
	if (!vm)
		fail_msg("%s: %s", mode, err);
	struct xp_trace t;
	assert_int_equal(explain_access(vm, GVA, &o, &t), 0);
	snprintf(path, sizeof(path), "/tmp/vmmu-test-explain-%ld.svg", (long)getpid());
	assert_int_equal(xp_write_svg(path, &t, err, sizeof(err)), 0);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char *buf = calloc(1, 1 << 17);
	assert_non_null(buf);
	size_t n = fread(buf, 1, (1 << 17) - 1, f);
	buf[n] = '\0';
	fclose(f);
	unlink(path);
	xp_trace_free(&t);
	vm_destroy(vm);
	return buf;
}

static void test_svg_tables(void **state)
{
	(void)state;
	char *s = svg_of("nept");
	assert_non_null(strstr(s,
			       "<text x=\"10\" y=\"54\" class=\"l\">tables: the guest tables "
			       "are L2's own (built by the L2 kernel); EPT02 is built by L0 from "
			       "L1's EPT12 and L0's EPT01</text>\n"));
	assert_int_equal(count_substr(s, "class=\"n\""), 24);
	free(s);
	s = svg_of("shadow-on-ept");
	assert_non_null(strstr(s, "<text x=\"10\" y=\"54\" class=\"l\">tables: the "
				  "guest-dimension table is L1's SPT12 (built by L1's shadow MMU); "
				  "EPT01 is L0's, one to one over L1's memory</text>\n"));
	assert_int_equal(count_substr(s, "class=\"n\""), 24);
	free(s);
	s = svg_of("nested");
	assert_null(strstr(s, ">tables: "));
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_machine), cmocka_unit_test(test_deterministic),
	    cmocka_unit_test(test_fault),	  cmocka_unit_test(test_warm_caches),
	    cmocka_unit_test(test_svg),		  cmocka_unit_test(test_svg_tables),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
