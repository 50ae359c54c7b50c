/*
 * cpu.h - the vCPU execution engine: loads, stores, fetches and the
 * privileged instructions the guest kernel uses.
 *
 * cpu_load/cpu_store/cpu_fetch look up the TLB. A hit whose permissions allow
 * the access goes straight to host memory: no allocation, no printing and no
 * indirect call on that path. A miss calls the mode's translate(); a guest
 * fault goes to guest-mm and the access is retried.
 *
 * A load or store first compares its page with the tag for its privilege
 * and kind in the TLB's L0 slot of that page (struct tlb_l0, a
 * direct-mapped array in front of the l1d, as QEMU's CPUTLBEntry keeps one
 * tag word per access kind): a match is a hit on the slot's l1d entry whose
 * rights were checked when the tag was set, and costs one compare, one
 * add (l0_hits[user], from which vm_stats_fold() derives the access's
 * counts) and the entry's LRU stamp, as the set search's hit would give
 * it. The vCPU empties the L0 when its PCID or its rights
 * change (cpu_write_cr3(), cpu_rights_update()); the TLB empties the slot
 * of an l1d entry it replaces or drops, and every slot at a flush.
 * Otherwise the inline 4K probe (tlb_lookup_4k_ctx()) runs with the context
 * word the vCPU keeps (v->tlb_ctx), then the rest of the lookup, and a hit
 * of the probe sets the L0 tag.
 *
 * A fetch tries the L0's fetch side the same way (cpu_fetch(): a tag per
 * privilege naming a 4K l1i entry, set by a hit of the fetch lookup); a
 * match is the l1i hit, stamped, and counted once (l0_fetch_hits).
 *
 * Every access is charged to cyc_access exactly once, when it completes: a
 * load or store the latency of the cache level that served its line
 * (vm_data_ref(), an inline last-line check then a direct call), a fetch the
 * flat cost.access (instruction caches are not modelled). An L0 hit with
 * the cache model off is charged cost.ref_l1, what vm_data_ref() gives
 * then, by vm_stats_fold(): it does no cache work at all.
 *
 * Caller's duty: an access never crosses a page (cpu_*_any split it), and
 * size is 1, 2, 4 or 8.
 */
#ifndef VMMU_CPU_H
#define VMMU_CPU_H

#include "vm.h"

uint64_t cpu_access_slow(struct vcpu *v, struct mem_access *a);

/* Hot path: TLB hit with sufficient rights. The rights under CR0.WP,
 * CR4.SMEP, CR4.SMAP with EFLAGS.AC are precomputed in v->tlb_ok (see
 * cpu_rights_update()), so the check is one shift, whatever the controls. */
static inline bool cpu_tlb_ok(const struct vcpu *v, const struct tlb_entry *e,
			      enum access_kind k, bool user)
{
	if (unlikely(e == NULL))
		return false;
	return (v->tlb_ok[k][user] >> ((e->flags >> 1) & 31)) & 1;
}

static inline uint64_t cpu_hit_hpa(const struct tlb_entry *e, gva_t gva)
{
	return e->hpa + (gva & (page_bytes((enum page_size)e->size) - 1));
}

static inline uint8_t *cpu_hit_ptr(struct vcpu *v, const struct tlb_entry *e, gva_t gva)
{
	return v->vm->hm.base + cpu_hit_hpa(e, gva);
}

static inline uint64_t cpu_load_sized(uint8_t *p, unsigned size)
{
	switch (size) {
	case 1: return *p;
	case 2: { uint16_t x; __builtin_memcpy(&x, p, 2); return x; }
	case 4: { uint32_t x; __builtin_memcpy(&x, p, 4); return x; }
	default: { uint64_t x; __builtin_memcpy(&x, p, 8); return x; }
	}
}
static inline void cpu_store_sized(uint8_t *p, unsigned size, uint64_t val)
{
	switch (size) {
	case 1: *p = (uint8_t)val; break;
	case 2: { uint16_t x = (uint16_t)val; __builtin_memcpy(p, &x, 2); break; }
	case 4: { uint32_t x = (uint32_t)val; __builtin_memcpy(p, &x, 4); break; }
	default: __builtin_memcpy(p, &val, 8); break;
	}
}

/*
 * The L0 hit: the TLB's L0 slot of va's page holds a tag for (user, kind)
 * that names that page (struct tlb_l0), so this access is a hit on the
 * slot's l1d entry with the rights it needs. It does what the probe below
 * does on that hit: the entry takes a new LRU stamp (tlb_l0_touch()), and
 * it counts one thing, l0_hits[user]. That one count stands for the
 * access (accesses, user_accesses), for the TLB's inline L1 hit, and with
 * the cache model off for the access's L1 reference and its cost.ref_l1
 * cycles, all of which it determines; vm_stats_fold() adds them where they
 * are read. With the model on, the access's line goes through the model,
 * the level that served it charged to cyc_access, as on every other path.
 * *pair gets the L0 pair of the hit (tlb_l0_index()). cache_on is
 * v->cache_on (cpu_load_cm()).
 */
static inline __attribute__((always_inline)) bool
cpu_l0_hit(struct vcpu *v, gva_t gva, bool user, enum access_kind k, size_t *pair, bool cache_on)
{
	struct tlb *t = &v->tlb;
	uint64_t vpn = gva >> PAGE_SHIFT;
	size_t u = user, x = tlb_l0_index(vpn, u);

	if (likely(t->l0.tag[k][x] == vpn)) {
		t->c.l0_hits[u]++;
		tlb_l0_touch(t, x);
		if (cache_on) {
			struct vm *vm = v->vm;

			vm->st.cyc_access += vm_data_ref(vm, gva + t->l0.delta[x]);
		}
		*pair = x;
		return true;
	}
	return false;
}

/*
 * The TLB probe of a data access that missed the L0: tlb_lookup() with its
 * inline 4K half taken apart, so that a 4K hit needs no page-size
 * arithmetic. A hit of the inline probe with the rights tags the entry in
 * the L0 for the next access of this kind and privilege to its page. Which
 * accesses set a tag changes no count, only which path finds the same hit.
 */
static inline __attribute__((always_inline)) bool
cpu_probe_hit(struct vcpu *v, gva_t gva, bool user, enum access_kind k, uint64_t *hpa)
{
	struct tlb *t = &v->tlb;
	struct tlb_entry *e = tlb_lookup_4k_ctx(t, gva, v->tlb_ctx);
	if (likely(e != NULL)) {
		if (unlikely(!cpu_tlb_ok(v, e, k, user)))
			return false;
		tlb_l0_set(t, user, k, gva, e, (uint64_t)(uintptr_t)v->vm->hm.base);
		*hpa = e->hpa + (gva & (PAGE_SIZE - 1));
		return true;
	}
	e = tlb_lookup_rest(t, gva, v->vpid, vcpu_pcid(v), k);
	if (likely(cpu_tlb_ok(v, e, k, user))) {
		*hpa = cpu_hit_hpa(e, gva);
		return true;
	}
	return false;
}

/*
 * Count an access that did not hit the L0. Two adds to neighbouring
 * counters are what the compiler likes to pair into one vector add, whose
 * operands it then builds at every access of a replay loop, L0 hits
 * included; the user count is a branch instead.
 */
static inline __attribute__((always_inline)) void cpu_count_access(struct vm *vm, bool user)
{
	vm->st.accesses++;
	if (user)
		vm->st.user_accesses++;
}

/* The host address of an L0 hit on gva through pair x. */
static inline __attribute__((always_inline)) uint8_t *cpu_l0_ptr(struct vcpu *v, size_t x,
								 gva_t gva)
{
	return (uint8_t *)(uintptr_t)(gva + v->tlb.l0.host[x]);
}

/*
 * cpu_load() and cpu_store() with the vCPU's cache_on given by the caller:
 * a caller that makes many accesses in a row may read v->cache_on once and
 * pass it as a constant, so that an L0 hit with the cache model off tests
 * nothing about the model (bench's replay does). Caller's duty: cache_on ==
 * v->cache_on (it never changes after vm_create()).
 */
static inline __attribute__((always_inline)) uint64_t cpu_load_cm(struct vcpu *v, gva_t gva,
								  unsigned size, bool cache_on)
{
	bool user = v->user;
	size_t x;
	if (likely(cpu_l0_hit(v, gva, user, ACC_READ, &x, cache_on))) {
		return cpu_load_sized(cpu_l0_ptr(v, x, gva), size);
	}
	struct vm *vm = v->vm;
	uint64_t hpa;
	cpu_count_access(vm, user);
	if (likely(cpu_probe_hit(v, gva, user, ACC_READ, &hpa))) {
		vm->st.cyc_access += vm_data_ref(vm, hpa);
		return cpu_load_sized(vm->hm.base + hpa, size);
	}
	struct mem_access a = { .gva = gva, .kind = ACC_READ, .size = (uint8_t)size, .user = user };
	return cpu_access_slow(v, &a);
}

static inline __attribute__((always_inline)) void
cpu_store_cm(struct vcpu *v, gva_t gva, unsigned size, uint64_t val, bool cache_on)
{
	bool user = v->user;
	size_t x;
	if (likely(cpu_l0_hit(v, gva, user, ACC_WRITE, &x, cache_on))) {
		cpu_store_sized(cpu_l0_ptr(v, x, gva), size, val);
		return;
	}
	struct vm *vm = v->vm;
	uint64_t hpa;
	cpu_count_access(vm, user);
	if (likely(cpu_probe_hit(v, gva, user, ACC_WRITE, &hpa))) {
		vm->st.cyc_access += vm_data_ref(vm, hpa);
		cpu_store_sized(vm->hm.base + hpa, size, val);
		return;
	}
	struct mem_access a = { .gva = gva, .kind = ACC_WRITE, .size = (uint8_t)size,
				.user = user, .value = val };
	cpu_access_slow(v, &a);
}

static inline __attribute__((always_inline)) uint64_t cpu_load(struct vcpu *v, gva_t gva,
							       unsigned size)
{
	return cpu_load_cm(v, gva, size, v->cache_on);
}

static inline __attribute__((always_inline)) void cpu_store(struct vcpu *v, gva_t gva,
							    unsigned size, uint64_t val)
{
	cpu_store_cm(v, gva, size, val, v->cache_on);
}

/* Instruction fetch of 'size' bytes (value discarded). */
static inline __attribute__((always_inline)) void cpu_fetch(struct vcpu *v, gva_t gva,
							    unsigned size)
{
	/* The L0's fetch side first, as a load or store tries its tags: a
	 * match is the l1i hit the lookup would make, stamped as it stamps
	 * it, and counted once (l0_fetch_hits[user]): the access, its L1 hit
	 * and its flat cost.access cycles are derived (vm_stats_fold()). */
	struct tlb *t = &v->tlb;
	bool user = v->user;
	uint64_t vpn = gva >> PAGE_SHIFT;
	size_t u = user, x = tlb_l0_index(vpn, u);
	if (likely(t->l0.ftag[x] == vpn)) {
		t->c.l0_fetch_hits[u]++;
		tlb_l0_fetch_touch(t, x);
		return;
	}
	struct vm *vm = v->vm;
	cpu_count_access(vm, user);
	struct tlb_entry *e = tlb_lookup(t, gva, v->vpid, vcpu_pcid(v), ACC_FETCH);
	if (likely(cpu_tlb_ok(v, e, ACC_FETCH, user))) {
		vm->st.cyc_access += vm->cost.access;
		/* An l1i entry (an L1 hit, or the L2's refill): tag a 4K one. */
		if (e->size == PG_4K)
			tlb_l0_fetch_set(t, user, gva, e);
		return;
	}
	struct mem_access a = { .gva = gva, .kind = ACC_FETCH, .size = (uint8_t)size, .user = v->user };
	cpu_access_slow(v, &a);
}

/* Accesses of any size that may straddle a page: split into two. */
uint64_t cpu_load_any(struct vcpu *v, gva_t gva, unsigned size);
void cpu_store_any(struct vcpu *v, gva_t gva, unsigned size, uint64_t val);

/* Install handler fn for vector vec (< VEC_NR), as a kernel fills its IDT;
 * fn NULL removes it. A #PF with no handler installed ends the run with a
 * guest-level error, as a triple fault would. */
void cpu_set_vector(struct vcpu *v, unsigned vec, vcpu_vector_fn fn, void *ctx);

/* Privilege. */
static inline void cpu_set_user(struct vcpu *v, bool user)
{
	v->user = user;
}

/*
 * Paging controls. cpu_set_paging_ctl() is the guest's MOV to CR0/CR4 and
 * WRMSR to EFER for CR0.WP, CR4.SMEP, CR4.SMAP and EFER.NXE: it recomputes
 * the rights, flushes the vCPU's TLB and walk caches (every VPID-tagged
 * entry of this vCPU: more than the architecture asks, never less), then
 * calls mmu->on_ctl_change; a write that changes none of the four does
 * nothing. cpu_set_ac() is STAC/CLAC: EFLAGS.AC changes the
 * rights of supervisor data accesses to user pages under SMAP; no flush.
 * cpu_rights_update() recomputes v->guest_rights, v->hw_rights and
 * v->tlb_ok from v->ctl, v->ac and the mode (vm_create calls it).
 */
void cpu_set_paging_ctl(struct vcpu *v, const struct paging_ctl *ctl);
void cpu_set_ac(struct vcpu *v, bool ac);
/* WRPKRU: the protection-key rights register (CR4.PKE). It takes effect at
 * once, TLB entries included, with no flush. */
void cpu_set_pkru(struct vcpu *v, uint32_t pkru);
void cpu_rights_update(struct vcpu *v);

/* MOV to CR3. Bits 11:0 are the PCID when cfg.pcid; bit 63 asks not to
 * flush that PCID. Applies the architectural flush, then mmu->on_cr3_load. */
void cpu_write_cr3(struct vcpu *v, uint64_t cr3);
/* INVLPG: drops the TLB entries for gva and the walk-cache entries of the
 * current PCID, then mmu->on_invlpg. */
void cpu_invlpg(struct vcpu *v, gva_t gva);
/* Guest TLB flush: all = every entry incl. globals (INVPCID all-context);
 * otherwise the non-global entries of the current PCID. */
void cpu_flush_tlb(struct vcpu *v, bool all);

/* Kernel bulk operations on whole 4 KiB pages through their kernel
 * addresses: one translated store (or load+store) per page, then the copy;
 * charged cost.page_zero / page_copy. A destination the VMM write-protects
 * is written with emulated 8-byte stores until the VMM lets it go. */
void cpu_zero_page(struct vcpu *v, gva_t kva);
void cpu_copy_page(struct vcpu *v, gva_t dst_kva, gva_t src_kva);

#endif
