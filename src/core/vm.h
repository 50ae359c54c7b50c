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
 * Invariants:
 *   - p2m.map[gfn] is INVALID_HFN or a frame inside the guest region;
 *   - in native mode p2m.map[gfn] == gfn for every gfn;
 *   - a host-page-size chunk of guest frames maps to one aligned, contiguous
 *     chunk of host frames (this is what lets EPT use large leaves).
 */
#ifndef VMMU_VM_H
#define VMMU_VM_H

#include <setjmp.h>

#include "config.h"
#include "cost.h"
#include "mmu.h"
#include "pte.h"
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
	hfn_t *map;       /* gfn -> hfn, INVALID_HFN when not backed yet */
	uint64_t nframes; /* guest frames */
	bool identity;    /* native: guest-physical is host-physical */
};

struct vcpu {
	struct vm *vm;
	uint64_t cr3;     /* guest CR3 as the guest last wrote it (PCID, no-flush cleared) */
	bool cr3_noflush; /* the last MOV to CR3 had bit 63 set (and PCIDs are on) */
	uint16_t vpid;    /* TLB tag: 1 with VPID on, 0 (shared with the host) off */
	bool user;        /* current privilege: true = CPL 3 */
	struct tlb tlb;
	struct psc psc;   /* 1D paging-structure caches */
	struct idt_entry idt[VEC_NR]; /* the guest kernel's handlers */
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
	/* The guest kernel's state, opaque to core; guest_shutdown (set by the
	 * kernel at boot) frees it when the VM is destroyed. */
	void *guest;
	void (*guest_shutdown)(struct vm *vm);
	struct stats st;
	struct cost_model cost;
	struct ptcache ptc;
	trace_fn_t trace_fn;
	void *trace_ctx;
	jmp_buf *abort_jmp; /* where vm_abort() lands; NULL = exit(3) */
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
static inline void hpa_write64(struct vm *vm, hpa_t hpa, uint64_t v)
{
	*(uint64_t *)(vm->hm.base + hpa.v) = v;
}
/* A zeroed frame for VMM structures; vm_abort()s when host memory is full. */
hfn_t hostmem_alloc_frame(struct vm *vm);
void hostmem_free_frame(struct vm *vm, hfn_t hfn);

/* The shared p2m policy. p2m_lookup() never allocates; p2m_ensure() backs the
 * gfn (and its whole host-page chunk) on first use. Both return INVALID_HFN
 * for a gfn outside guest memory. */
static inline hfn_t p2m_lookup(const struct vm *vm, gfn_t gfn)
{
	return gfn < vm->p2m.nframes ? vm->p2m.map[gfn] : INVALID_HFN;
}
hfn_t p2m_ensure(struct vm *vm, gfn_t gfn);
/* Host page size that backs gfn contiguously (<= cfg.host_page). */
enum page_size p2m_chunk_size(const struct vm *vm);

/* Guest-physical memory, as the VMM sees it (no trap, no TLB). */
uint64_t gpa_read64(struct vm *vm, gpa_t gpa);
void gpa_write64(struct vm *vm, gpa_t gpa, uint64_t v);

/* Bring the derived counters up to date: tlb_hits = accesses - tlb_misses,
 * cyc_access = accesses x cost.access (kept off the hot path). Call before
 * reading vm->st. */
void vm_sync_stats(struct vm *vm);

/* Hash of the whole guest-physical image (unbacked frames read as zero). */
uint64_t vm_guest_digest(struct vm *vm);

/*
 * Charge one walk reference to the entry at hpa: looks up the page-table
 * line cache, adds the latency to cyc_walk and returns it; *level gets the
 * cache level (1..4). Walkers call this for every reference that goes to
 * memory; a reference served by a walk cache is charged cost.ref_pwc.
 */
uint32_t vm_walk_ref(struct vm *vm, hpa_t entry, int *level);
/*
 * The same for a reference of the VMM's software walk (shadow mode reading
 * guest tables): same cache model, but counted in vmm_walk_refs and charged
 * to cyc_vmm, because it is handler work, not a hardware walk.
 */
uint32_t vm_vmm_walk_ref(struct vm *vm, hpa_t entry, int *level);

/*
 * Account one VM exit for 'reason', counted in *counter (one of the exits_*
 * fields) and in vm_exits. Charges cost.vmexit to cyc_exit and
 * handler_cycles to cyc_vmm. With VPID off it flushes the TLB and the walk
 * caches of VPID 0 (VM exit and VM entry both do). Then it calls the mode's
 * on_world_switch, and the mode's audit when cfg.audit is set.
 * Caller's duty: call it when the handler's work is done (the VM is about
 * to re-enter), so that the audit sees a consistent state.
 */
void vm_exit(struct vcpu *v, enum exit_reason reason, uint64_t *counter,
	     uint32_t handler_cycles);
/* Run the mode's audit now; vm_abort()s with the invariant's name on failure. */
void vm_audit(struct vm *vm);

#endif
