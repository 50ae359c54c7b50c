/*
 * quiz_exits.c - `vmmu quiz --kind exits`: how many guest page faults and
 * how many VM exits does each of a few user accesses take, under shadow
 * paging and under nested paging?
 *
 * A seed picks a short sequence of user-mode 8-byte loads and stores over
 * a fresh anonymous mapping (read-write, nothing touched yet): the first
 * access touches a new page; each later one is a first load or a first
 * store of a new page, or a load or a store of a page touched before. The
 * guest kernel resolves a first touch by demand-zero allocation
 * (gmm's demand_zero(), Linux's do_anonymous_page()), allocating the
 * tables the address needs.
 *
 * The worked answers (-c) are the model's own counts: the sequence is run
 * on a fresh guest under shadow paging and again under nested paging, and
 * each access's counters (guest_faults, vm_exits and the exit reasons) are
 * read before and after it. Nothing is derived by a formula of our own,
 * so an answer is what `vmmu run` would count for that access.
 *
 * Invariant: the output is a function of the seed, the count and the
 * machine flags (the mode is not one of them: both modes always run).
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

/* The question kinds, in the words of the problem. */
enum qx_kind { QX_NEW_LOAD, QX_NEW_STORE, QX_OLD_LOAD, QX_OLD_STORE };

struct qx_access {
	enum qx_kind kind;
	unsigned page;	 /* page of the mapping */
	uint64_t offset; /* 8-byte aligned, in the page */
};

/* The counters of one access under one mode. */
struct qx_count {
	uint64_t faults, exits;
	uint64_t hidden, ptw, dirty, inject, cr3, invlpg, eptv, eptm;
};

static uint64_t qx_rand(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* The sequence a seed picks: n accesses over a mapping of n pages. */
static void qx_make(uint64_t seed, unsigned n, struct qx_access *q)
{
	uint64_t s = seed;
	unsigned used = 0, order[QUIZ_MAX_N];

	/* The pages are touched in a seeded order, not 0, 1, 2, ... */
	for (unsigned i = 0; i < n; i++)
		order[i] = i;
	for (unsigned i = n - 1; i > 0; i--) {
		unsigned j = (unsigned)(qx_rand(&s) % (i + 1));
		unsigned t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (unsigned k = 0; k < n; k++) {
		unsigned r = (unsigned)(qx_rand(&s) % 4);
		if (used == 0)
			r %= 2; /* the first access touches a new page */
		if (r < 2) {
			q[k].kind = r == 0 ? QX_NEW_LOAD : QX_NEW_STORE;
			q[k].page = order[used++];
		} else {
			q[k].kind = r == 2 ? QX_OLD_LOAD : QX_OLD_STORE;
			q[k].page = order[qx_rand(&s) % used];
		}
		q[k].offset = 8 * (qx_rand(&s) % (PAGE_SIZE / 8));
	}
}

static void qx_snap(const struct stats *st, struct qx_count *c)
{
	*c = (struct qx_count){
	    .faults = st->guest_faults,
	    .exits = st->vm_exits,
	    .hidden = st->exits_hidden_fault,
	    .ptw = st->exits_pt_write,
	    .dirty = st->exits_dirty,
	    .inject = st->exits_fault_inject,
	    .cr3 = st->exits_cr3,
	    .invlpg = st->exits_invlpg,
	    .eptv = st->exits_ept_violation,
	    .eptm = st->exits_ept_misconfig,
	};
}

static void qx_diff(const struct qx_count *a, const struct qx_count *b, struct qx_count *d)
{
	d->faults = b->faults - a->faults;
	d->exits = b->exits - a->exits;
	d->hidden = b->hidden - a->hidden;
	d->ptw = b->ptw - a->ptw;
	d->dirty = b->dirty - a->dirty;
	d->inject = b->inject - a->inject;
	d->cr3 = b->cr3 - a->cr3;
	d->invlpg = b->invlpg - a->invlpg;
	d->eptv = b->eptv - a->eptv;
	d->eptm = b->eptm - a->eptm;
}

/* Run the sequence under 'mode' on a fresh guest; out[k] gets access k's
 * counts. */
static int qx_run(const struct vm_config *base, const char *mode, const struct qx_access *q,
		  unsigned n, struct qx_count *out, gva_t *addr, char *err, size_t errlen)
{
	struct vm_config c = *base;
	c.mode = mode;
	struct vm *vm = vm_create(&c, err, errlen);
	if (!vm)
		return QUIZ_BAD_MACHINE;
	jmp_buf jb;
	vm->abort_jmp = &jb;
	if (setjmp(jb) != 0) {
		snprintf(err, errlen, "%s: %s", mode, vm->err);
		vm_destroy(vm);
		return QUIZ_FAILED;
	}
	if (gmm_boot(vm) != 0) {
		snprintf(err, errlen, "guest boot under %s: %s", mode, vm->err);
		vm_destroy(vm);
		return QUIZ_BAD_MACHINE;
	}
	if (!gmm_proc_create(vm))
		vm_abort(vm, "no process (errno %d)", gmm_errno(vm));
	gva_t a = gmm_mmap(vm, 0, (uint64_t)n * PAGE_SIZE, GPROT_READ | GPROT_WRITE, 0);
	if (!a)
		vm_abort(vm, "mmap failed (errno %d)", gmm_errno(vm));
	*addr = a;
	cpu_set_user(&vm->vcpu, true);
	for (unsigned k = 0; k < n; k++) {
		struct qx_count before, after;
		gva_t va = a + (uint64_t)q[k].page * PAGE_SIZE + q[k].offset;
		qx_snap(&vm->st, &before);
		if (q[k].kind == QX_NEW_STORE || q[k].kind == QX_OLD_STORE)
			cpu_store(&vm->vcpu, va, 8, k + 1);
		else
			(void)cpu_load(&vm->vcpu, va, 8);
		qx_snap(&vm->st, &after);
		qx_diff(&before, &after, &out[k]);
	}
	cpu_set_user(&vm->vcpu, false);
	vm_destroy(vm);
	return QUIZ_OK;
}

static const char *qx_op(enum qx_kind k)
{
	return k == QX_NEW_STORE || k == QX_OLD_STORE ? "store" : "load ";
}

/* "3 (2 hidden fault, 1 #PF injected)", the reasons that are not 0. */
static void qx_exits_text(const struct qx_count *c, char *buf, size_t len)
{
	size_t o = 0;
	uint64_t rest = c->exits;
	const struct {
		uint64_t v;
		const char *name;
	} r[] = {
	    {c->hidden, "hidden fault"},
	    {c->ptw, "table write"},
	    {c->dirty, "dirty bit"},
	    {c->inject, "#PF injected"},
	    {c->cr3, "CR3"},
	    {c->invlpg, "INVLPG"},
	    {c->eptv, "EPT violation"},
	    {c->eptm, "EPT misconfig"},
	};
	o += (size_t)snprintf(buf, len, "%" PRIu64, c->exits);
	bool open = false;
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		if (!r[i].v)
			continue;
		rest -= r[i].v;
		o += (size_t)snprintf(buf + o, len > o ? len - o : 0, "%s%" PRIu64 " %s",
				      open ? ", " : " (", r[i].v, r[i].name);
		open = true;
	}
	if (rest)
		o += (size_t)snprintf(buf + o, len > o ? len - o : 0, "%s%" PRIu64 " other",
				      open ? ", " : " (", rest);
	if (open || rest)
		snprintf(buf + o, len > o ? len - o : 0, ")");
}

int quiz_exits_print(FILE *out, const struct vm_config *cfg, uint64_t seed, unsigned n,
		     bool answers, char *err, size_t errlen)
{
	struct qx_access q[QUIZ_MAX_N];
	struct qx_count sh[QUIZ_MAX_N], ne[QUIZ_MAX_N];
	gva_t a = 0, a2 = 0;

	if (n < 1 || n > QUIZ_MAX_N) {
		snprintf(err, errlen, "-n: expected 1..%d, got %u", QUIZ_MAX_N, n);
		return QUIZ_BAD_MACHINE;
	}
	qx_make(seed, n, q);
	int rc = qx_run(cfg, "shadow", q, n, sh, &a, err, errlen);
	if (rc == QUIZ_OK)
		rc = qx_run(cfg, "nested", q, n, ne, &a2, err, errlen);
	if (rc != QUIZ_OK)
		return rc;
	if (a != a2) {
		snprintf(err, errlen, "the mapping differs between the modes");
		return QUIZ_FAILED;
	}

	fprintf(out, "vmmu quiz --kind exits, seed %" PRIu64 "\n\n", seed);
	fprintf(out,
		"A guest process (%d-level paging, guest page %s) has just mapped %u page%s of\n"
		"anonymous memory, read-write, at gVA %#" PRIx64
		". Nothing of it has been touched:\n"
		"the guest kernel allocates each page on its first access (a demand-zero page\n"
		"fault), with any page table the address still needs. The process then makes\n"
		"these user-mode 8-byte accesses, in this order:\n\n",
		cfg->levels, page_size_name(cfg->guest_page), n, n == 1 ? "" : "s", a);
	for (unsigned k = 0; k < n; k++)
		fprintf(out, "  %2u. %s gVA %#018" PRIx64 "  (page %u of the mapping)\n", k + 1,
			qx_op(q[k].kind), a + (uint64_t)q[k].page * PAGE_SIZE + q[k].offset,
			q[k].page);
	fprintf(out,
		"\nFor each access: how many page faults does the guest take, and how many VM\n"
		"exits does it cost under shadow paging (`--mode shadow`) and under nested\n"
		"paging (`--mode nested`, EPT)? Which exit reasons?\n");
	if (!answers) {
		fprintf(out, "\n(answers: the same command with -c)\n");
		return QUIZ_OK;
	}
	fprintf(out, "\nAnswers, counted by the model (the accesses run under shadow and under "
		     "nested paging):\n\n");
	for (unsigned k = 0; k < n; k++) {
		char ts[256], tn[256];
		qx_exits_text(&sh[k], ts, sizeof(ts));
		qx_exits_text(&ne[k], tn, sizeof(tn));
		if (sh[k].faults != ne[k].faults) {
			snprintf(err, errlen,
				 "access %u: %" PRIu64 " guest faults under shadow, %" PRIu64
				 " under nested",
				 k + 1, sh[k].faults, ne[k].faults);
			return QUIZ_FAILED;
		}
		fprintf(out, "  %2u. %s page %-3u guest faults %" PRIu64 "\n", k + 1,
			qx_op(q[k].kind), q[k].page, sh[k].faults);
		fprintf(out, "      shadow exits %s\n", ts);
		fprintf(out, "      nested exits %s\n", tn);
	}
	fprintf(out,
		"\nUnder shadow paging the VMM builds the shadow table lazily: an access with\n"
		"no shadow entry exits, and the VMM walks the guest's tables. When the guest's\n"
		"entry is missing it injects the #PF; otherwise it installs the shadow entry\n"
		"(a hidden fault, unseen by the guest: the retried access, and the kernel's\n"
		"own first accesses, such as zeroing the new page). The tables it shadows are\n"
		"write-protected: the kernel's store to one exits, until the VMM lets that\n"
		"leaf table go out of sync\n"
		"(KVM's mmu_try_to_unsync_pages()); and the first store to a page the guest\n"
		"has only read exits so the VMM can set its dirty bit. Under nested paging\n"
		"the guest's faults and table stores stay in the guest; only the first touch\n"
		"of a guest frame the host has not backed yet exits (EPT violation): the new\n"
		"data page, and each new table page.\n");
	return QUIZ_OK;
}
