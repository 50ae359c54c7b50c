/*
 * vm.h - one simulated machine: host memory, the p2m, the vCPU, the MMU
 * mode, the guest kernel, statistics and the cost model.
 *
 * All state of a run lives here and is passed explicitly; there are no
 * mutable globals, so one process can run several VMs side by side.
 *
 * Host memory is one MAP_NORESERVE reservation: touched frames alone cost
 * RAM. It has two regions:
 *   [0, guest_frames)          frames that back guest memory, handed out by
 *                              the p2m policy (identity in native mode;
 *                              in VMM modes on first touch, in chunks of
 *                              the host page size, from the top down, so
 *                              that a gPA and its hPA visibly differ);
 *   [guest_frames, nframes)    frames for VMM structures (shadow pages, EPT
 *                              tables), from hostmem_alloc_frame().
 * Host frame 0 and guest frame 0 are never handed out, so a zero frame
 * number is always a bug.
 *
 * Memory use scales with what the guest touches, not with its size: the
 * reservation is never touched wholesale, the p2m's slot array is zeroed
 * memory that is written only where a chunk is backed (native mode keeps
 * none), and the digest reads only the frames of the p2m's used set.
 *
 * Invariants:
 *   - p2m_lookup(gfn) is INVALID_HFN or a frame inside the guest region;
 *   - in native mode p2m_lookup(gfn) == gfn for every gfn;
 *   - a host-page-size chunk of guest frames maps to one aligned, contiguous
 *     chunk of host frames (this is what lets EPT use large leaves);
 *   - every guest frame whose content is not all zero is in the p2m's used
 *     set: the guest stores only to frames its allocator handed out (it
 *     marks them with p2m_mark_used()), and the VMM writes other guest
 *     frames only through gpa_write64(), which marks them too.
 */
#ifndef VMMU_VM_H
#define VMMU_VM_H

#include <setjmp.h>

#include "cache.h"
#include "config.h"
#include "cost.h"
#include "io.h"
#include "mmu.h"
#include "numa.h"
#include "pte.h"
#include "roi.h"
#include "stats.h"
#include "trace.h"
#include "../tlb/psc.h"
#include "../tlb/tlb.h"

/*
 * Interrupt and exception vectors. A guest kernel installs its handlers at
 * boot with cpu_set_vector(), as a kernel fills its IDT; core delivers
 * through the vector and never names the guest kernel. 'info' is the
 * vector's payload: a struct guest_fault for VEC_PF.
 */
#define VEC_PF 14 /* page fault (#PF), as on x86 */
#define VEC_NR 256
typedef void (*vcpu_vector_fn)(struct vcpu *v, const void *info, void *ctx);
struct idt_entry {
	vcpu_vector_fn fn; /* NULL: nothing installed */
	void *ctx;
};

struct hostmem {
	uint8_t *base;
	uint64_t size;          /* bytes reserved */
	uint64_t nframes;
	uint64_t guest_frames;  /* size of the guest region, in frames */
	uint64_t guest_next;    /* VMM modes: chunks below this frame are free; the p2m
				 * hands them out downwards from the top */
	uint64_t vmm_next;      /* next never-used frame in the VMM region */
	hfn_t *free;            /* freed VMM frames, reused first */
	uint64_t nfree, free_cap;
	uint64_t in_use, peak;  /* frames, both regions */
	uint64_t allocs;        /* allocations so far (VMM frames, guest chunks) */
	const char *numa_note;  /* what NUMA placement did, for -v */
};

struct p2m {
	hfn_t *slot;      /* VMM modes: gfn -> hfn, 0 when not backed yet (host frame
			   * 0 is never handed out); NULL in native mode. Read it
			   * through p2m_lookup(). */
	uint64_t nframes; /* guest frames */
	bool identity;    /* native: guest-physical is host-physical */
	/*
	 * The used set: one bit per guest frame that the guest's allocator ever
	 * handed out or the VMM ever wrote (bits are never cleared), and one
	 * summary bit per non-zero word of used[], so that a walk over the set
	 * skips untouched memory 4096 frames at a time.
	 */
	uint64_t *used;
	uint64_t *used_sum;
	uint64_t used_frames;   /* bits set in used[] */
	uint64_t digest_frames; /* frames the last vm_guest_digest() read */
	/* Paravirtual modes: the machine-to-physical table (Xen's
	 * machine_to_phys_mapping), hfn -> gfn over the guest region, kept by
	 * the mode and read-only to the guest; NULL otherwise. */
	const gfn_t *m2p;
};

/*
 * The paging controls that decide access rights (SDM Vol. 3A §4.1.3,
 * §4.6): CR0.WP, CR4.SMEP, CR4.SMAP and IA32_EFER.NXE, as the guest kernel
 * wrote them (cpu_set_paging_ctl()).
 */
struct paging_ctl {
	bool wp;   /* CR0.WP: supervisor writes honour R/W */
	bool smep; /* CR4.SMEP: no supervisor fetch from a user page */
	bool smap; /* CR4.SMAP: no supervisor data access to a user page unless EFLAGS.AC */
	bool nxe;  /* EFER.NXE: bit 63 is XD; when clear, bit 63 is reserved */
	bool pke;  /* CR4.PKE: protection keys (PKRU) on user-mode addresses */
};

/*
 * The rights one set of controls grants, precomputed so that a check is
 * one shift (KVM's update_permission_bitmask() fills mmu->permissions[] for
 * the same reason). ok[kind][user] has bit i set when combined rights
 * i = (TLBF_W | TLBF_U | TLBF_NX) >> 1 allow the access; rsvd is the mask
 * of bits that are reserved in a present entry (KVM's
 * reset_guest_rsvds_bits_mask(): bit 63 without NXE); fetch_pfec says
 * whether a fetch fault reports PFEC_I (NXE or SMEP, SDM §4.7).
 */
struct paging_rights {
	uint8_t ok[3][2];
	uint64_t rsvd;
	bool fetch_pfec;
	/* Protection keys (CR4.PKE, SDM §4.6.2): pk_mask[write][user] are the
	 * PKRU bits of a key that deny a data access to a user-mode address
	 * (AD always; WD for a write at CPL 3 or with CR0.WP = 1); 0 without
	 * PKE. KVM's update_pkru_bitmask(). */
	uint8_t pk_mask[2][2];
};

struct vcpu {
	struct vm *vm;
	struct paging_ctl ctl; /* as the guest wrote it */
	bool ac;               /* EFLAGS.AC (STAC/CLAC), for SMAP */
	/* Rights under the guest's controls: the guest-table walkers (nested's
	 * 2D walk, the shadow VMM's software walk). */
	struct paging_rights guest_rights;
	/* Rights under the controls the hardware runs with: the guest's,
	 * except that a mode with forces_wp_nx runs with CR0.WP = 1 and
	 * EFER.NXE = 1 (or with what its hw_ctl hook says). Used by walk1d()
	 * and by the TLB-hit check. */
	struct paging_rights hw_rights;
	/* tlb_ok[kind][user] bit i: a TLB entry whose flags >> 1 & 31 == i
	 * (W, U, NX, G, D) allows the access; a write also needs D. */
	uint32_t tlb_ok[3][2];
	/* With CR4.PKE, tlb_ok refuses a data access to a user page, so that the
	 * inline hit path stays as it is; the slow path then checks
	 * tlb_rights[][] (tlb_ok without that) and the entry's key against
	 * PKRU. Equal to tlb_ok without PKE. */
	uint32_t tlb_rights[3][2];
	uint32_t pkru; /* PKRU: bits 2i (AD) and 2i + 1 (WD) of key i (WRPKRU) */
	uint64_t cr3;     /* guest CR3 as the guest last wrote it (PCID, no-flush cleared) */
	bool cr3_noflush; /* the last MOV to CR3 had bit 63 set (and PCIDs are on) */
	uint16_t vpid;    /* TLB tag: 1 with VPID on, 0 (shared with the host) off */
	uint32_t tlb_ctx; /* tlb_ctx(vpid, vcpu_pcid()): vm_create(), cpu_write_cr3() */
	bool user;        /* current privilege: true = CPL 3 */
	/* vm->cache.on, kept here for the TLB-hit path (vm_create()): an L0
	 * hit's reference goes through the cache model when set, and is
	 * derived from the hit count when not (cpu_l0_hit(),
	 * vm_stats_fold()). */
	bool cache_on;
	struct tlb tlb;
	struct psc psc;   /* 1D paging-structure caches */
	struct idt_entry idt[VEC_NR]; /* the guest kernel's handlers */
	/* Several vCPUs (smp.h): the index in vm->cpu[] (0: vm->vcpu, the boot
	 * vCPU), KVM_VCPU_FLUSH_TLB set by a paravirtual flush while the vCPU
	 * was preempted (applied at its next entry), and its own counts. */
	unsigned id;
	bool flush_pending;
	struct vcpu_counts {
		uint64_t invlpgs;	/* INVLPG it executed */
		uint64_t guest_flushes; /* cpu_flush_tlb() it executed */
		uint64_t ipis;		/* flush IPIs it received */
		uint64_t remote_flushes; /* kvm_flush_remote_tlbs() requests it served */
		uint64_t deferred_flushes; /* KVM_VCPU_FLUSH_TLB flushes applied at entry */
	} n;
};

static inline uint16_t vcpu_pcid(const struct vcpu *v)
{
	return (uint16_t)(v->cr3 & CR3_PCID_MASK);
}

struct vm {
	struct vm_config cfg;
	const struct mmu_ops *mmu;
	void *mode_state;
	struct hostmem hm;
	struct p2m p2m;
	struct vcpu vcpu;
	/* Several vCPUs (smp.h): cpu[0] is &vcpu, cpu[1..nr_vcpus) are
	 * allocated; cur is the vCPU whose instructions run now (&vcpu unless
	 * smp.c switched). host_last[c]: the vCPU that ran last on host CPU c
	 * (--host-cpus). guest_cpu_switch (set by the guest kernel at boot)
	 * moves its per-CPU state when cur changes. */
	struct vcpu *cpu[VMMU_MAX_VCPUS];
	unsigned nr_vcpus;
	struct vcpu *cur;
	unsigned host_last[VMMU_MAX_VCPUS];
	/* A simulated NUMA host (numa.h): the node of each host frame that
	 * holds a table, and of each guest table frame; NULL with one node. */
	struct {
		uint8_t *node, *gnode;
	} numa;
	void (*guest_cpu_switch)(struct vm *vm, struct vcpu *from, struct vcpu *to);
	/* The guest kernel's state, opaque to core; guest_shutdown (set by the
	 * kernel at boot) frees it when the VM is destroyed. */
	void *guest;
	void (*guest_shutdown)(struct vm *vm);
	/* The I/O platform (io.h): devices and the IOMMU, opaque to core;
	 * NULL when the VM was created without one. */
	const struct io_ops *io;
	void *io_state;
	struct stats st;
	struct vm_roi roi; /* the measured region, roi.h */
	struct cost_model cost;
	/* cost_ref_latency(&cost, level) for level CACHE_L1..CACHE_DRAM, as a
	 * table for the TLB-hit path (vm_create() fills it from cost). */
	uint32_t ref_cycles[CACHE_DRAM + 1];
	struct cache cache; /* data and page-table lines (cache.h) */
	trace_fn_t trace_fn;
	void *trace_ctx;
	jmp_buf *abort_jmp; /* where vm_abort() lands; NULL = exit(3) */
	/* While non-NULL, vm_exit() is not a VM exit but an entry into a
	 * hypervisor that runs inside the guest (pvm: L2 enters L1 through
	 * the PVM switcher, L0 sees nothing): vm_exit() calls this instead of
	 * counting and charging an exit, then runs the audit. Set by a mode
	 * around its own delegated calls only. */
	void (*exit_redirect)(struct vcpu *v, enum exit_reason reason, uint32_t handler_cycles);
	char err[256];
};

/* Create a VM for cfg under MMU mode 'mode' (cfg->mode is only its name,
 * for reports; the registry's vm_create() looks the mode up by that name).
 * Returns NULL with *err set. */
struct vm *vm_create_ops(const struct vm_config *cfg, const struct mmu_ops *mode, char *err,
			 size_t errlen);
void vm_destroy(struct vm *vm);

/* A guest-level failure (guest out of memory, segfault in a workload, audit
 * failure): record the message and longjmp to vm->abort_jmp. */
_Noreturn void vm_abort(struct vm *vm, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* An impossible state: print the invariant's name and abort(). */
_Noreturn void vmmu_bug(const char *invariant, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Host memory. */
static inline void *hpa_ptr(struct vm *vm, hpa_t hpa)
{
	return vm->hm.base + hpa.v;
}
static inline uint64_t hpa_read64(struct vm *vm, hpa_t hpa)
{
	return *(uint64_t *)(vm->hm.base + hpa.v);
}
/* A store by the VMM or the walker (spte, EPT entry, A/D bit, guest table
 * set-up): its line passes through the cache model, uncharged (the handler or
 * walk that stores prices it), so that a walk that follows finds the line
 * where a real store would have left it. Reads (hpa_read64) do not touch the
 * model, so an audit changes nothing. */
static inline void hpa_write64(struct vm *vm, hpa_t hpa, uint64_t v)
{
	*(uint64_t *)(vm->hm.base + hpa.v) = v;
	(void)cache_ref(&vm->cache, hpa.v);
	/* A VMM table (a frame above the guest region) replicated on every
	 * node: the other copies are written too (numa.h). */
	if (unlikely(vm->numa.node != NULL) && (hpa.v >> PAGE_SHIFT) >= vm->hm.guest_frames)
		numa_replica_store(vm, false);
}
/* A zeroed frame for VMM structures; vm_abort()s when host memory is full. */
hfn_t hostmem_alloc_frame(struct vm *vm);
void hostmem_free_frame(struct vm *vm, hfn_t hfn);

/* The shared p2m policy. p2m_lookup() never allocates; p2m_ensure() backs the
 * gfn (and its whole host-page chunk) on first use. Both return INVALID_HFN
 * for a gfn outside guest memory. */
static inline hfn_t p2m_lookup(const struct vm *vm, gfn_t gfn)
{
	const struct p2m *p = &vm->p2m;
	if (gfn >= p->nframes)
		return INVALID_HFN;
	if (p->identity)
		return gfn;
	hfn_t h = p->slot[gfn];
	return h ? h : INVALID_HFN;
}
hfn_t p2m_ensure(struct vm *vm, gfn_t gfn);
/* Add gfn to the used set (the frames the digest reads). The guest's frame
 * allocator calls it for every frame it hands out. Caller's duty: gfn is
 * inside guest memory. */
static inline void p2m_mark_used(struct vm *vm, gfn_t gfn)
{
	struct p2m *p = &vm->p2m;
	uint64_t w = gfn >> 6, bit = UINT64_C(1) << (gfn & 63);
	if (p->used[w] & bit)
		return;
	p->used[w] |= bit;
	p->used_sum[w >> 6] |= UINT64_C(1) << (w & 63);
	p->used_frames++;
}
/* Host page size that backs gfn contiguously (<= cfg.host_page). */
enum page_size p2m_chunk_size(const struct vm *vm);

/* Guest-physical memory, as the VMM sees it (no trap, no TLB). */
uint64_t gpa_read64(struct vm *vm, gpa_t gpa);
void gpa_write64(struct vm *vm, gpa_t gpa, uint64_t v);

/* Bring the derived counters up to date: vm_stats_fold(), then tlb_hits =
 * accesses - tlb_misses. Call before reading vm->st. */
void vm_sync_stats(struct vm *vm);

/*
 * Fold the TLB-hit path's one count into the counters it stands for. An
 * access that hits a vCPU's L0 (cpu_l0_hit()) bumps only its TLB's
 * c.l0_hits[user]; each such hit is one access (accesses, and
 * user_accesses when user), one inline L1 hit of that TLB (c.l1d_hits),
 * and with the cache model off one L1 reference of the cache model
 * (cache.served[0]) charged cost.ref_l1 to cyc_access. A fetch that hits
 * the L0's fetch side (cpu_fetch()) bumps only c.l0_fetch_hits[user]: one
 * access, one L1 hit of the TLB, cost.access cycles. This adds every
 * vCPU's hit counts to those counters and zeroes them: the sums are the
 * same whenever it runs, and it may run any number of times. Whoever reads
 * accesses, user_accesses or cyc_access while the guest runs (a mode's
 * policy, a workload's quantum), or saves and restores or zeroes them,
 * calls it first (vm_sync_stats() and vm_accesses() do).
 */
void vm_stats_fold(struct vm *vm);

/* accesses and user_accesses as of now (vm_stats_fold() first). */
static inline uint64_t vm_accesses(struct vm *vm)
{
	vm_stats_fold(vm);
	return vm->st.accesses;
}
static inline uint64_t vm_user_accesses(struct vm *vm)
{
	vm_stats_fold(vm);
	return vm->st.user_accesses;
}

/*
 * The guest digest: a hash of the guest-physical image, the same under every
 * mode for the same guest. Definition: for every guest frame whose 4 KiB of
 * content is not all zero, in ascending gfn order, a hash of (gfn, its 512
 * words) is mixed into the digest; an all-zero frame and an unbacked frame
 * contribute nothing, so host layout (which frame backs a gfn, whether it is
 * backed at all) never shows. vm_guest_digest() examines only the frames of
 * the p2m's used set, which holds every non-zero frame (vm.h invariants):
 * its cost is O(frames the guest touched), and it sets p2m.digest_frames to
 * the number of frames it read. vm_guest_digest_scan() computes the same
 * value by reading every guest frame: the reference for tests, O(guest
 * memory).
 */
uint64_t vm_guest_digest(struct vm *vm);
uint64_t vm_guest_digest_scan(struct vm *vm);

/*
 * Cycles of one data access at host-physical address hpa: the latency of
 * the cache level that served it (cost.ref_l1 with --cache-model off). The
 * caller adds them to cyc_access. Inline: the TLB-hit path calls it.
 */
static inline __attribute__((always_inline)) uint32_t vm_data_ref(struct vm *vm, uint64_t hpa)
{
	if (likely(cache_ref_last(&vm->cache, hpa)))
		return vm->cost.ref_l1;
	return vm->ref_cycles[cache_ref_rest(&vm->cache, hpa)];
}

/*
 * Charge one walk reference to the entry at hpa: looks up the cache model,
 * adds the latency to cyc_walk and returns it; *level gets the cache level
 * (1..4). Walkers call this for every reference that goes to memory; a
 * reference served by a walk cache is charged cost.ref_pwc. Inline: a 2D
 * walk makes up to 35 of them.
 */
static inline uint32_t vm_walk_ref(struct vm *vm, hpa_t entry, int *level)
{
	int l = CACHE_L1;
	uint32_t c = vm->cost.ref_l1;

	/* cache_ref() split as in vm_data_ref(): a last-line hit costs
	 * ref_l1 with no lookup; else ref_cycles[l], which is
	 * cost_ref_latency(&vm->cost, l) (vm->cost is fixed once the VM is
	 * created): a load, not a chain of compares. */
	if (!cache_ref_last(&vm->cache, entry.v)) {
		l = cache_ref_rest(&vm->cache, entry.v);
		c = vm->ref_cycles[l];
	}
	if (unlikely(vm->numa.node != NULL))
		c = numa_walk_ref(vm, entry.v, l, c);
	vm->st.cyc_walk += c;
	if (level)
		*level = l;
	return c;
}
/*
 * The same for a reference of the VMM's software walk (shadow mode reading
 * guest tables): same cache model, but counted in vmm_walk_refs and charged
 * to cyc_vmm, because it is handler work, not a hardware walk.
 */
uint32_t vm_vmm_walk_ref(struct vm *vm, hpa_t entry, int *level);
/*
 * A guest access that the VMM performs for the guest (an emulated store to
 * a write-protected table): goes through the cache model like the access
 * itself would, and is charged to cyc_access, once, as every access is.
 */
void vm_emulated_access(struct vm *vm, hpa_t hpa);

/*
 * Account one VM exit for 'reason', counted in *counter (one of the exits_*
 * fields) and in vm_exits. Charges cost.vmexit to cyc_exit and
 * handler_cycles to cyc_vmm. With VPID off it flushes the TLB and the walk
 * caches of VPID 0 (VM exit and VM entry both do). Then it calls the mode's
 * on_world_switch, and the mode's audit when cfg.audit is set: its
 * incremental audit_exit when it has one (the entries this exit touched),
 * else the full one.
 * With vm->exit_redirect set, none of that but the audit: the hook counts
 * and charges the event (*counter untouched).
 * Caller's duty: call it when the handler's work is done (the VM is about
 * to re-enter), so that the audit sees a consistent state.
 */
void vm_exit(struct vcpu *v, enum exit_reason reason, uint64_t *counter,
	     uint32_t handler_cycles);
/* Run the mode's full audit now; vm_abort()s with the invariant's name on
 * failure. */
void vm_audit(struct vm *vm);

#endif
