/*
 * quiz_pv.c - `vmmu quiz --kind pv-munmap`: how many hypercalls does a
 * munmap make under the paravirtual MMU, with and without lazy-MMU
 * batching?
 *
 * A seed picks the mapping (n pages, every one written, in one leaf
 * table) and the munmap (the whole mapping, or its first k pages). The
 * question states the guest kernel's rules, as Linux under Xen has them:
 * zap_pte_range() clears the leaf entries inside a lazy-MMU section
 * (xen_mc_flush() sends the queue when it is full or the section ends),
 * free_pgtables() unlinks each emptied table with one mmu_update, and the
 * TLB is invalidated by INVLPG per page or one flush past
 * --invlpg-threshold, each an mmuext_op call.
 *
 * The worked answer (-c) is the model's own count: the munmap is run on a
 * real pv guest twice, batching on and off, and every hypercall it made is
 * recorded from the trace events (the call, its element count, and what
 * the hypervisor did inside it), then grouped and added up. The rules'
 * formula is printed beside the count; the two agree because the rules
 * are what the guest kernel does, and tests/test_quiz_pv.c checks it.
 *
 * Invariant: the output is a function of the seed and the machine flags.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"
#include "../core/cpu.h"
#include "../core/vm.h"
#include "../guest-mm/gmm.h"
#include "../cli/registry.h"

#define QPV_MAX_CALLS 256
#define QPV_MC_BATCH 32 /* the guest kernel's queue (GMM_MC_BATCH, Linux's MC_BATCH) */

/* One hypercall of the munmap, and what the hypervisor did inside it. */
struct qpv_call {
	const char *name; /* "mmu_update", "mmuext_op", "multicall" */
	uint64_t count;	  /* elements (updates, ops, or multicall entries) */
	unsigned leaf;	  /* leaf (PT) entries written */
	unsigned upper;	  /* entries of upper tables written (an emptied table unlinked) */
	unsigned invlpg, flush;
	bool batched; /* sent by the end of a lazy-MMU section (or a full queue) */
};

struct qpv_rec {
	struct qpv_call call[QPV_MAX_CALLS];
	int n;
	bool lazy;   /* inside a lazy-MMU section */
	bool queued; /* the section queued operations not yet sent */
	bool overflow;
};

static void qpv_trace(void *ctx, const struct trace_event *ev)
{
	struct qpv_rec *r = ctx;
	const char *w = ev->what ? ev->what : "";
	if (ev->kind == TR_GUEST_OP && strcmp(w, "lazy mmu enter") == 0) {
		r->lazy = true;
		return;
	}
	if (ev->kind == TR_GUEST_OP && strcmp(w, "lazy mmu leave") == 0) {
		r->lazy = false;
		r->queued = ev->result > 0;
		return;
	}
	if (ev->kind == TR_GUEST_OP && strcmp(w, "guest pte write") == 0 && r->lazy) {
		r->queued = true;
		return;
	}
	if (ev->kind != TR_VMM_OP)
		return;
	if (strncmp(w, "hypercall ", 10) == 0) {
		if (r->n == QPV_MAX_CALLS) {
			r->overflow = true;
			return;
		}
		/* A call made while operations are queued is their batch. */
		r->call[r->n++] =
		    (struct qpv_call){.name = w + 10, .count = ev->result, .batched = r->queued};
		r->queued = false;
		return;
	}
	if (r->n == 0 || r->overflow)
		return;
	struct qpv_call *c = &r->call[r->n - 1];
	if (strcmp(w, "mmu_update validated") == 0) {
		if (ev->level == LVL_PT)
			c->leaf++;
		else
			c->upper++;
	} else if (strcmp(w, "mmuext INVLPG") == 0) {
		c->invlpg++;
	} else if (strcmp(w, "mmuext TLB flush") == 0) {
		c->flush++;
	}
}

/* The problem a seed picks. */
struct qpv_problem {
	unsigned pages; /* mapped and written */
	unsigned unmap; /* unmapped, from the start */
};

static uint64_t qpv_rand(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static struct qpv_problem qpv_make(uint64_t seed)
{
	uint64_t s = seed;
	struct qpv_problem p;
	p.pages = 2 + (unsigned)(qpv_rand(&s) % 71); /* 2 .. 72 */
	/* Half of the problems unmap the whole mapping (its tables go too). */
	if (qpv_rand(&s) % 2)
		p.unmap = p.pages;
	else
		p.unmap = 1 + (unsigned)(qpv_rand(&s) % (p.pages - 1));
	return p;
}

/* Run the munmap on a fresh pv guest; r gets its hypercalls. */
static int qpv_run(const struct vm_config *base, const struct qpv_problem *p, bool batch,
		   struct qpv_rec *r, char *err, size_t errlen)
{
	struct vm_config c = *base;
	c.mode = "pv";
	c.pv_batch = batch;
	memset(r, 0, sizeof(*r));
	struct vm *vm = vm_create(&c, err, errlen);
	if (!vm)
		return QUIZ_BAD_MACHINE;
	jmp_buf jb;
	vm->abort_jmp = &jb;
	if (setjmp(jb) != 0) {
		snprintf(err, errlen, "pv munmap: %s", vm->err);
		vm->trace_fn = NULL;
		vm_destroy(vm);
		return QUIZ_FAILED;
	}
	if (gmm_boot(vm) != 0) {
		snprintf(err, errlen, "guest boot: %s", vm->err);
		vm_destroy(vm);
		return QUIZ_BAD_MACHINE;
	}
	if (!gmm_proc_create(vm))
		vm_abort(vm, "no process (errno %d)", gmm_errno(vm));
	gva_t a = gmm_mmap(vm, 0, (uint64_t)p->pages * PAGE_SIZE, GPROT_READ | GPROT_WRITE, 0);
	if (!a)
		vm_abort(vm, "mmap failed (errno %d)", gmm_errno(vm));
	cpu_set_user(&vm->vcpu, true);
	for (unsigned i = 0; i < p->pages; i++)
		cpu_store(&vm->vcpu, a + (uint64_t)i * PAGE_SIZE, 8, i + 1);
	cpu_set_user(&vm->vcpu, false);
	vm->trace_fn = qpv_trace;
	vm->trace_ctx = r;
	if (gmm_munmap(vm, a, (uint64_t)p->unmap * PAGE_SIZE) != 0)
		vm_abort(vm, "munmap failed (errno %d)", gmm_errno(vm));
	vm->trace_fn = NULL;
	vm_destroy(vm);
	if (r->overflow) {
		snprintf(err, errlen, "pv munmap: more than %d hypercalls recorded", QPV_MAX_CALLS);
		return QUIZ_FAILED;
	}
	return QUIZ_OK;
}

/* What one call did, in words. */
static void qpv_call_text(char *buf, size_t len, const struct qpv_call *c)
{
	size_t o = 0;
#define PUT(...) (o += (size_t)snprintf(buf + o, len > o ? len - o : 0, __VA_ARGS__))
	if (c->leaf)
		PUT("%u leaf entr%s cleared (zap_pte_range()%s)", c->leaf,
		    c->leaf == 1 ? "y" : "ies", c->batched ? ", the lazy-MMU batch" : "");
	if (c->upper)
		PUT("%s%u emptied table%s unlinked (free_pgtables())", o ? ", " : "", c->upper,
		    c->upper == 1 ? "" : "s");
	if (c->invlpg)
		PUT("%s%u INVLPG", o ? ", " : "", c->invlpg);
	if (c->flush)
		PUT("%s%u TLB flush", o ? ", " : "", c->flush);
#undef PUT
}

/* The calls of r, consecutive equal ones grouped; returns the total. */
static uint64_t qpv_print_calls(FILE *out, const struct qpv_rec *r)
{
	char what[256], prev[256] = "";
	const char *prev_name = NULL;
	uint64_t prev_count = 0;
	int run = 0;
	for (int i = 0; i <= r->n; i++) {
		const struct qpv_call *c = i < r->n ? &r->call[i] : NULL;
		if (c)
			qpv_call_text(what, sizeof(what), c);
		if (c && run && strcmp(c->name, prev_name) == 0 && c->count == prev_count &&
		    strcmp(what, prev) == 0) {
			run++;
			continue;
		}
		if (run)
			fprintf(out, "    %3d x %-10s of %" PRIu64 " element%s: %s\n", run,
				prev_name, prev_count, prev_count == 1 ? "" : "s", prev);
		if (!c)
			break;
		run = 1;
		prev_name = c->name;
		prev_count = c->count;
		snprintf(prev, sizeof(prev), "%s", what);
	}
	return (uint64_t)r->n;
}

static void qpv_sum(const struct qpv_rec *r, unsigned *leaf, unsigned *upper, unsigned *tlb)
{
	*leaf = *upper = *tlb = 0;
	for (int i = 0; i < r->n; i++) {
		*leaf += r->call[i].leaf;
		*upper += r->call[i].upper;
		*tlb += r->call[i].invlpg + r->call[i].flush;
	}
}

int quiz_pv_munmap_print(FILE *out, const struct vm_config *cfg, uint64_t seed, bool answers,
			 char *err, size_t errlen)
{
	struct qpv_problem p = qpv_make(seed);
	struct qpv_rec *on = malloc(sizeof(*on)), *off = malloc(sizeof(*off));
	int rc = QUIZ_FAILED;
	if (!on || !off) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = qpv_run(cfg, &p, true, on, err, errlen);
	if (rc == QUIZ_OK)
		rc = qpv_run(cfg, &p, false, off, err, errlen);
	if (rc != QUIZ_OK)
		goto out;

	fprintf(out, "vmmu quiz --kind pv-munmap, seed %" PRIu64 "\n\n", seed);
	fprintf(out,
		"A paravirtualized guest (Xen direct paging, `--mode pv`, %d-level tables) runs\n"
		"one process. It has %u pages mapped at %#" PRIx64
		", every one written, so %u leaf\n"
		"entries are present, all in one leaf table, and the tables above it serve this\n"
		"mapping alone. The process calls munmap(%#" PRIx64 ", %u pages)%s.\n\n",
		cfg->levels, p.pages, GMM_MMAP_BASE, p.pages, GMM_MMAP_BASE, p.unmap,
		p.unmap == p.pages ? ": the whole mapping" : "");
	fprintf(out,
		"The guest kernel follows Linux under Xen:\n"
		"  - zap_pte_range() clears each leaf entry inside a lazy-MMU section: the\n"
		"    updates queue, %d operations at most, and go to the hypervisor when the\n"
		"    queue is full or the section ends (xen_mc_flush()); a batch of updates\n"
		"    alone is one mmu_update call;\n"
		"  - free_pgtables() then unlinks each table the munmap emptied: one\n"
		"    mmu_update each, outside any lazy section;\n"
		"  - then the TLB: one INVLPG per page, each an mmuext_op call, or one TLB\n"
		"    flush (one mmuext_op) when more than %u pages go (--invlpg-threshold).\n\n",
		QPV_MC_BATCH, cfg->invlpg_threshold);
	fprintf(out, "Q1. How many hypercalls does the munmap make with lazy-MMU batching on?\n");
	fprintf(out, "Q2. And with batching off (--pv-batch off: every operation is its own "
		     "call)?\n");
	if (!answers) {
		fprintf(out, "\n(answers: the same command with -c)\n");
		goto out;
	}
	unsigned leaf, upper, tlb;
	qpv_sum(on, &leaf, &upper, &tlb);
	fprintf(out, "\nAnswers, counted by the model (the munmap run under pv, every hypercall "
		     "recorded):\n\n");
	fprintf(out, "Q1. batching on: %d hypercalls\n", on->n);
	qpv_print_calls(out, on);
	uint64_t batches = (leaf + QPV_MC_BATCH - 1) / QPV_MC_BATCH;
	fprintf(out,
		"    by the rules: ceil(%u leaf clears / %d) + %u unlinks + %u TLB call%s"
		" = %" PRIu64 " + %u + %u = %" PRIu64 "\n\n",
		leaf, QPV_MC_BATCH, upper, tlb, tlb == 1 ? "" : "s", batches, upper, tlb,
		batches + upper + tlb);
	qpv_sum(off, &leaf, &upper, &tlb);
	fprintf(out, "Q2. batching off: %d hypercalls\n", off->n);
	qpv_print_calls(out, off);
	fprintf(out, "    by the rules: %u leaf clears + %u unlinks + %u TLB call%s = %u\n\n", leaf,
		upper, tlb, tlb == 1 ? "" : "s", leaf + upper + tlb);
	fprintf(out,
		"Batching saves %d of %d calls: the leaf clears ride in %" PRIu64
		" call%s instead of %u.\n",
		off->n - on->n, off->n, batches, batches == 1 ? "" : "s", leaf);
out:
	free(on);
	free(off);
	return rc;
}
