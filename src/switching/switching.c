/*
 * switching.c - dynamic switching between shadow and nested paging, the
 * policy of Wang et al., "Selective Hardware/Software Memory
 * Virtualization", VEE'11: one const struct mmu_ops, switching_mmu_ops.
 *
 * The mode owns no paging mechanism of its own. It keeps the state of both
 * shadow paging and nested paging, built by their own init hooks, and
 * delegates every hook to the one that is active. It reaches them through
 * their public headers (src/shadow/api.h, src/nested/api.h) and nothing
 * else, so it never sees their private structures.
 *
 * Delegation: while a delegated hook runs, vm->mode_state is the active
 * mode's state and vm->mmu is that mode's ops, so that everything the
 * delegate reaches through core (vm_exit() calls the mode's
 * on_world_switch and audit) lands in that mode, exactly as when it runs
 * alone. Both are restored afterwards, and on a vm_abort() too: the
 * delegation runs under vm_call_guarded(), which interposes its own
 * landing point on vm->abort_jmp, restores the switching state and jumps
 * on to the caller's, so that vm_destroy() frees everything.
 *
 * The policy (VEE'11 §4.3). Every cfg.switch_interval accesses, the VMM
 * reads the TLB misses and the guest page faults of the interval that just
 * ended. Nested paging costs about 4 ns more than shadow paging per TLB
 * miss, shadow paging about 10 us more than nested per guest page fault,
 * so the cheaper mode for the next interval is
 *     nested   when faults x switch_ratio > misses,
 *     shadow   when faults x switch_ratio < misses,
 *     unchanged on a tie (an idle interval),
 * with switch_ratio = 10 us / 4 ns = 2500 by default. The decision is
 * taken at the first hook call after the interval ends: the first TLB
 * miss, CR3 load, INVLPG or flush (an interval without any of them costs
 * nothing under either mode).
 *
 * A switch has the cost of the real one:
 *   to nested   every shadow page is dropped (shadow_drop_all(): the
 *               handler's spte work is charged to cyc_vmm; the guest tables
 *               lose their write protection) and the TLB, the PSCs and the
 *               2D walk caches are flushed (INVEPT global);
 *   to shadow   the TLB and the walk caches are flushed; the shadow tables
 *               are built again lazily, by hidden faults, each guest table
 *               write-protected again as it is shadowed.
 * The switch piggybacks on the exit that ends the interval (VEE'11 samples
 * on a timer), so it adds no VM exit of its own.
 *
 * The hardware's paging controls are the active mode's: CR0.WP = 1 and
 * EFER.NXE = 1 while shadow paging runs (shadow_mmu_ops.forces_wp_nx),
 * the guest's under nested paging; switching_hw_ctl() answers core's
 * cpu_rights_update(), which a switch calls again. A guest write of
 * CR0.WP, CR4.SMEP/SMAP or EFER.NXE goes to the active mode's
 * on_ctl_change.
 *
 * Counters: mode_switches, and accesses_shadow / accesses_nested, the
 * accesses run under each mode (they add up to accesses).
 *
 * Invariants:
 *   - outside a delegated call vm->mode_state is the switching state and
 *     vm->mmu is &switching_mmu_ops;
 *   - while nested paging is active the shadow state holds no shadow page
 *     (so no guest frame is write-protected);
 *   - the EPT is valid in both modes (it only follows the p2m), so the
 *     nested audit runs in both; the shadow audit runs while shadow paging
 *     is active.
 */
#include <stdio.h>
#include <stdlib.h>

#include "../core/cpu.h"
#include "../core/guard.h"
#include "../core/vm.h"
#include "../shadow/api.h"
#include "../nested/api.h"

enum sw_mode { SW_SHADOW = 0, SW_NESTED = 1, SW_NR };

struct switching {
	void *sub[SW_NR]; /* each mode's own state */
	const struct mmu_ops *ops[SW_NR];
	enum sw_mode cur;
	/* Counters at the start of the current interval. */
	uint64_t mark_acc, mark_miss, mark_fault;
	/* Accesses before the current mode began, per mode, and where it began. */
	uint64_t acc_in[SW_NR];
	uint64_t mode_start;
};

extern const struct mmu_ops switching_mmu_ops;

/* ---- delegation ---- */

enum sw_op {
	OP_TRANSLATE,
	OP_CR3,
	OP_INVLPG,
	OP_FLUSH,
	OP_WORLD,
	OP_CTL,
	OP_AUDIT,
	OP_STATS,
	OP_DESTROY,
	OP_DROP_SHADOW,
	OP_FLUSH_NESTED,
};

struct sw_call {
	enum sw_op op;
	struct vcpu *v;
	struct mem_access *a;
	struct xlate *out;
	uint64_t u; /* old CR3, gva */
	bool all;
	char *detail;
	size_t len;
	struct stats *s;
	enum xlate_result xr; /* out */
	const char *bad;      /* out */
};

static void sw_dispatch(struct vm *vm, const struct mmu_ops *o, struct sw_call *c)
{
	switch (c->op) {
	case OP_TRANSLATE:
		c->xr = o->translate(c->v, c->a, c->out);
		break;
	case OP_CR3:
		if (o->on_cr3_load)
			o->on_cr3_load(c->v, c->u);
		break;
	case OP_INVLPG:
		if (o->on_invlpg)
			o->on_invlpg(c->v, c->u);
		break;
	case OP_FLUSH:
		if (o->on_tlb_flush)
			o->on_tlb_flush(c->v, c->all);
		break;
	case OP_WORLD:
		if (o->on_world_switch)
			o->on_world_switch(c->v);
		break;
	case OP_CTL:
		if (o->on_ctl_change)
			o->on_ctl_change(c->v);
		break;
	case OP_AUDIT:
		c->bad = o->audit ? o->audit(vm, c->detail, c->len) : NULL;
		break;
	case OP_STATS:
		if (o->stats)
			o->stats(vm, c->s);
		break;
	case OP_DESTROY:
		o->destroy(vm);
		break;
	case OP_DROP_SHADOW:
		(void)shadow_drop_all(c->v);
		break;
	case OP_FLUSH_NESTED:
		nested_flush_all(c->v);
		break;
	}
}

/* A delegated call, as vm_call_guarded() runs it. */
struct sw_guarded {
	struct vm *vm;
	const struct mmu_ops *o;
	struct sw_call *c;
};

static void sw_guarded_fn(void *arg)
{
	struct sw_guarded *g = arg;
	sw_dispatch(g->vm, g->o, g->c);
}

/* Run c under mode m (see the head of the file). */
static void sw_delegate(struct vm *vm, struct switching *sw, enum sw_mode m, struct sw_call *c)
{
	struct sw_guarded g = {.vm = vm, .o = sw->ops[m], .c = c};
	vm->mode_state = sw->sub[m];
	vm->mmu = sw->ops[m];
	vm_call_guarded(vm, sw, &switching_mmu_ops, sw_guarded_fn, &g);
	vm->mode_state = sw;
	vm->mmu = &switching_mmu_ops;
}

/* ---- the policy ---- */

/* The statistics were reset after the guest booted: start counting anew. */
static void sw_check_reset(struct vm *vm, struct switching *sw)
{
	const struct stats *st = &vm->st;
	if (st->accesses >= sw->mark_acc && st->tlb_misses >= sw->mark_miss &&
	    st->guest_faults >= sw->mark_fault)
		return;
	sw->mark_acc = st->accesses;
	sw->mark_miss = st->tlb_misses;
	sw->mark_fault = st->guest_faults;
	sw->acc_in[SW_SHADOW] = sw->acc_in[SW_NESTED] = 0;
	sw->mode_start = 0;
}

static void sw_switch(struct vcpu *v, struct switching *sw, enum sw_mode to, uint64_t misses,
		      uint64_t faults)
{
	struct vm *vm = v->vm;
	struct sw_call c = {.v = v};
	sw->acc_in[sw->cur] += vm->st.accesses - sw->mode_start;
	sw->mode_start = vm->st.accesses;
	if (to == SW_NESTED) {
		c.op = OP_DROP_SHADOW;
		sw_delegate(vm, sw, SW_SHADOW, &c);
	} else {
		psc_flush_vpid(&v->psc, v->vpid);
	}
	/* Both directions flush the TLB and the 2D walk caches. */
	c.op = OP_FLUSH_NESTED;
	sw_delegate(vm, sw, SW_NESTED, &c);
	TRACE(vm, .kind = TR_VMM_OP, .dim = to == SW_NESTED ? DIM_HOST : DIM_SHADOW, .addr = faults,
	      .result = misses, .index = vm->st.accesses,
	      .what = to == SW_NESTED ? "mode switch: shadow -> nested"
				      : "mode switch: nested -> shadow");
	sw->cur = to;
	vm->st.mode_switches++;
	/* The hardware's controls are the new mode's: CR0.WP = 1 and
	 * EFER.NXE = 1 under shadow paging, the guest's under nested paging
	 * (switching_hw_ctl()). The TLB was flushed above. */
	cpu_rights_update(v);
}

/* Called at every hook: end the interval when it is over. */
static void sw_tick(struct vcpu *v, struct switching *sw)
{
	struct vm *vm = v->vm;
	vm_stats_fold(vm); /* accesses as of now */
	sw_check_reset(vm, sw);
	if (vm->st.accesses - sw->mark_acc < vm->cfg.switch_interval)
		return;
	uint64_t misses = vm->st.tlb_misses - sw->mark_miss;
	uint64_t faults = vm->st.guest_faults - sw->mark_fault;
	uint64_t ratio = vm->cfg.switch_ratio;
	uint64_t weighted = faults > UINT64_MAX / ratio ? UINT64_MAX : faults * ratio;
	enum sw_mode want = sw->cur;
	if (weighted > misses)
		want = SW_NESTED;
	else if (weighted < misses)
		want = SW_SHADOW;
	if (want != sw->cur)
		sw_switch(v, sw, want, misses, faults);
	sw->mark_acc = vm->st.accesses;
	sw->mark_miss = vm->st.tlb_misses;
	sw->mark_fault = vm->st.guest_faults;
}

static struct switching *sw_of(struct vm *vm)
{
	return vm->mode_state;
}

/* ---- mmu_ops ---- */

static void switching_destroy(struct vm *vm);

static int switching_init(struct vm *vm)
{
	struct switching *sw = calloc(1, sizeof(*sw));
	if (!sw) {
		snprintf(vm->err, sizeof(vm->err), "out of memory for the switching state");
		return -1;
	}
	sw->ops[SW_SHADOW] = &shadow_mmu_ops;
	sw->ops[SW_NESTED] = &nested_mmu_ops;
	/* Start under nested paging, the default of Xen and KVM on hardware
	 * with EPT; the first interval decides from there. */
	sw->cur = SW_NESTED;
	for (int m = 0; m < SW_NR; m++) {
		vm->mode_state = NULL;
		int rc = sw->ops[m]->init(vm);
		sw->sub[m] = vm->mode_state;
		if (rc != 0) {
			vm->mode_state = sw;
			switching_destroy(vm);
			return -1;
		}
	}
	vm->mode_state = sw;
	return 0;
}

static void switching_destroy(struct vm *vm)
{
	struct switching *sw = sw_of(vm);
	if (!sw)
		return;
	for (int m = 0; m < SW_NR; m++) {
		if (!sw->sub[m])
			continue;
		vm->mode_state = sw->sub[m];
		sw->ops[m]->destroy(vm);
	}
	free(sw);
	vm->mode_state = NULL;
}

static enum xlate_result switching_translate(struct vcpu *v, struct mem_access *a,
					     struct xlate *out)
{
	struct vm *vm = v->vm;
	struct switching *sw = sw_of(vm);
	sw_tick(v, sw);
	struct sw_call c = {.op = OP_TRANSLATE, .v = v, .a = a, .out = out};
	sw_delegate(vm, sw, sw->cur, &c);
	return c.xr;
}

static void switching_on_cr3_load(struct vcpu *v, uint64_t old_cr3)
{
	struct switching *sw = sw_of(v->vm);
	sw_tick(v, sw);
	struct sw_call c = {.op = OP_CR3, .v = v, .u = old_cr3};
	sw_delegate(v->vm, sw, sw->cur, &c);
}

static void switching_on_invlpg(struct vcpu *v, gva_t gva)
{
	struct switching *sw = sw_of(v->vm);
	sw_tick(v, sw);
	struct sw_call c = {.op = OP_INVLPG, .v = v, .u = gva};
	sw_delegate(v->vm, sw, sw->cur, &c);
}

static void switching_on_tlb_flush(struct vcpu *v, bool all)
{
	struct switching *sw = sw_of(v->vm);
	sw_tick(v, sw);
	struct sw_call c = {.op = OP_FLUSH, .v = v, .all = all};
	sw_delegate(v->vm, sw, sw->cur, &c);
}

/* The guest wrote CR0.WP, CR4.SMEP/SMAP or EFER.NXE: the active mode
 * handles it (shadow paging drops its roots and exits, KVM's
 * kvm_mmu_reset_context(); nested paging has nothing to do). The other
 * mode needs nothing: while nested paging runs, shadow paging holds no
 * shadow page, and the EPT does not depend on the guest's controls. */
static void switching_on_ctl_change(struct vcpu *v)
{
	struct switching *sw = sw_of(v->vm);
	struct sw_call c = {.op = OP_CTL, .v = v};
	sw_delegate(v->vm, sw, sw->cur, &c);
}

/* The controls the hardware runs with are the active mode's (mmu.h). */
static void switching_hw_ctl(const struct vcpu *v, struct paging_ctl *hw)
{
	const struct switching *sw = v->vm->mode_state;
	if (!sw)
		return; /* before init (vm_create): the run starts under nested paging */
	const struct mmu_ops *o = sw->ops[sw->cur];
	if (o->hw_ctl) {
		o->hw_ctl(v, hw);
	} else if (o->forces_wp_nx) {
		hw->wp = true;
		hw->nxe = true;
	}
}

static void switching_on_world_switch(struct vcpu *v)
{
	struct switching *sw = sw_of(v->vm);
	struct sw_call c = {.op = OP_WORLD, .v = v};
	sw_delegate(v->vm, sw, sw->cur, &c);
}

static const char *switching_audit(struct vm *vm, char *detail, size_t len)
{
	struct switching *sw = sw_of(vm);
	struct sw_call c = {.op = OP_AUDIT, .detail = detail, .len = len};
	sw_delegate(vm, sw, SW_NESTED, &c);
	if (c.bad || sw->cur != SW_SHADOW)
		return c.bad;
	sw_delegate(vm, sw, SW_SHADOW, &c);
	return c.bad;
}

static void switching_stats(struct vm *vm, struct stats *s)
{
	struct switching *sw = sw_of(vm);
	struct sw_call c = {.op = OP_STATS, .s = s};
	sw_delegate(vm, sw, SW_SHADOW, &c);
	sw_delegate(vm, sw, SW_NESTED, &c);
	sw_check_reset(vm, sw);
	for (int m = 0; m < SW_NR; m++) {
		uint64_t n = sw->acc_in[m];
		if ((enum sw_mode)m == sw->cur)
			n += vm->st.accesses - sw->mode_start;
		if (m == SW_SHADOW)
			s->accesses_shadow = n;
		else
			s->accesses_nested = n;
	}
}

const struct mmu_ops switching_mmu_ops = {
    .name = "switching",
    .desc = "dynamic shadow/nested switching (Wang et al., VEE'11): per interval, by TLB-miss "
	    "and guest-fault rates",
    .init = switching_init,
    .destroy = switching_destroy,
    .translate = switching_translate,
    .on_cr3_load = switching_on_cr3_load,
    .on_invlpg = switching_on_invlpg,
    .on_tlb_flush = switching_on_tlb_flush,
    .on_ctl_change = switching_on_ctl_change,
    .on_world_switch = switching_on_world_switch,
    .hw_ctl = switching_hw_ctl,
    .audit = switching_audit,
    .stats = switching_stats,
};
