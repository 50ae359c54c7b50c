/*
 * gmm-internal.h - private state of the guest memory manager, shared by the
 * files of src/guest-mm/ and by nothing else.
 *
 * Split of concerns:
 *   frame.c    guest-physical frame allocator and refcounts
 *   pgtable.c  page-table entries read and written through the vCPU, table
 *              allocation, range walks, table freeing
 *   vma.c      the sorted VMA array of a process
 *   proc.c     boot (direct map), processes, PCIDs, context switch, fork,
 *              exit, shutdown, the run-time check
 *   mmap.c     mmap, munmap, mprotect and the TLB invalidation they need
 *   fault.c    the page-fault handler: demand zero and copy-on-write
 *   pcid.c     the PCID of each address space (Linux's dynamic ASIDs or
 *              one per process) and the CR3 value of a context switch
 *   kpti.c     kernel page-table isolation: kernel entry and exit, the
 *              user PGD beside each kernel PGD, the entry trampoline
 *   pvops.c    the paravirt seam (Linux's pv_ops): the table of hooks every
 *              page-table store, CR3 load, INVLPG and TLB flush goes
 *              through, and the native hooks
 *   xen.c      the paravirtual hooks (Linux's arch/x86/xen/mmu_pv.c):
 *              machine frames in the tables, mmu_update and mmuext_op
 *              hypercalls, lazy-MMU batching into multicalls
 *
 * The bookkeeping kept here (VMAs, refcounts, free lists, the process list)
 * lives in simulator memory. A real kernel keeps the same information in
 * struct page and vm_area_struct, in guest memory; the model does not charge
 * for that traffic. Only page-table entries, page zeroing and page copying
 * go through the vCPU, because those are what the MMU modes see and trap.
 */
#ifndef VMMU_GMM_INTERNAL_H
#define VMMU_GMM_INTERNAL_H

#include "gmm.h"
#include "../core/pte.h"
#include "../core/vm.h"

/* Size of a huge (PD-level) page and its frame count. */
#define GMM_HUGE_SIZE (UINT64_C(1) << 21)
#define GMM_HUGE_FRAMES UINT64_C(512)

/*
 * Software bit of a user leaf (ignored by the walker, x86 bits 11:9 are
 * free for software): the leaf is PROT_NONE. P is clear, so every access
 * faults, but the entry still holds its frame and a reference to it, and
 * mprotect can make it present again.
 */
#define GMM_PTE_BIT_PROTNONE 9
#define GMM_PTE_PROTNONE (UINT64_C(1) << GMM_PTE_BIT_PROTNONE)

/* Entry of a user table that points at a lower table (no A: the walker sets it). */
#define GMM_UPPER_USER (GPTE_P | GPTE_RW | GPTE_US)
/* Entry of a direct-map table that points at a lower table (built at boot). */
#define GMM_UPPER_KERNEL (GPTE_P | GPTE_RW | GPTE_A)
/* Direct-map leaf: supervisor-only, global, never executable (NX is added
 * when the kernel runs with EFER.NXE, g->nx). With KPTI the kernel's
 * mappings are not global (Linux clears _PAGE_GLOBAL from
 * __default_kernel_pte_mask), so GPTE_G is dropped then. */
#define GMM_DIRECT_LEAF (GPTE_P | GPTE_RW | GPTE_A | GPTE_D | GPTE_PS | GPTE_G)

/*
 * Linux's dynamic ASIDs per CPU (arch/x86/include/asm/tlbflush.h,
 * TLB_NR_DYN_ASIDS). ASID a runs with PCID a + 1 (kern_pcid()); with KPTI
 * the user half runs with that PCID | bit 11 (user_pcid(),
 * X86_CR3_PTI_PCID_USER_BIT).
 */
#define GMM_NR_DYN_ASIDS 6
#define GMM_PCID_USER_BIT 11
#define GMM_PCID_USER (UINT64_C(1) << GMM_PCID_USER_BIT)
/* With KPTI the user PGD is the 4 KiB page after the kernel PGD (the PGD is
 * an order-1 allocation): CR3 bit 12 selects it (PTI_USER_PGTABLE_BIT). */
#define GMM_PTI_USER_PGTABLE (UINT64_C(1) << PAGE_SHIFT)
/* Linux's CPU entry area (CPU_ENTRY_AREA_BASE), where the entry trampoline
 * that both PGDs map lives. */
#define GMM_ENTRY_AREA UINT64_C(0xfffffe0000000000)
/* Leaf of the trampoline page: present, read-only, supervisor, executable,
 * not global (KPTI). */
#define GMM_ENTRY_LEAF (GPTE_P | GPTE_A)

/* Linux's default vm.max_map_count. */
#define GMM_MAX_VMAS 65530

/* What a guest frame is used for. */
enum gframe_kind {
	GF_FREE = 0,
	GF_RESERVED,  /* frame 0, and frames past the last whole chunk */
	GF_KERNEL,    /* direct-map tables and the kernel top table: never freed */
	GF_TABLE,     /* a user page table owned by one process */
	GF_DATA,      /* a 4 KiB user page, refcounted */
	GF_HUGE,      /* first frame of a 2 MiB user page, refcounted as one unit */
	GF_HUGE_TAIL, /* the other 511 frames of a 2 MiB user page */
};

struct gvma {
	gva_t start, end; /* [start, end), page-aligned (2 MiB-aligned when huge) */
	int prot;	  /* GPROT_* */
	int flags;	  /* GMAP_HUGE only; GMAP_FIXED is not kept */
	int pkey;	  /* protection key of its leaves, 0..15 (Linux keeps it in
			   * vm_flags, VM_PKEY_BIT0..3: vma_pkey()) */
};

struct gproc {
	struct gproc *next; /* process list, in creation order */
	int pid;
	uint16_t pcid;	  /* 1..4095 with cfg.pcid, else 0 */
	/* Per-process PCIDs, one bit per CPU (bit n: vCPU n): pcid_loaded, the
	 * PCID was loaded there since allocation, a reload may keep its
	 * entries; tlb_stale, the tables changed while it was not current
	 * there, its next load flushes. */
	uint64_t pcid_loaded;
	uint64_t tlb_stale;
	/* Linux's mm_cpumask(): the CPUs that have this mm loaded (bit n: vCPU
	 * n), set and cleared by switch_mm_irqs_off(); flush IPIs go to them. */
	uint64_t cpumask;
	uint64_t ctx_id;  /* Linux's mm->context.ctx_id: unique, never reused */
	uint64_t tlb_gen; /* Linux's mm->context.tlb_gen: bumped by every flush of this mm */
	gpa_t top;	  /* PML4 (or PML5); with KPTI the kernel PGD, the user PGD follows it */
	struct gvma *vma; /* sorted by start, disjoint */
	size_t nvma, vma_cap;
	gva_t mmap_cursor; /* next address tried by a non-fixed mmap */
};

struct gmm;

/*
 * The paravirt seam, as Linux's pv_ops.mmu: the guest kernel picks one table
 * at boot (gmm_pv_select(): the paravirtual hooks when vm->mmu->paravirt,
 * else the native ones) and calls these hooks for every page-table store,
 * CR3 load, INVLPG and TLB flush after boot. Values passed in and returned
 * hold guest-physical frames; the hooks convert to and from what the tables
 * hold (make_pte and pte_val, Linux's pv_ops.mmu.make_pte/pte_val).
 * Every hook runs in kernel mode (the caller saved the privilege).
 */
struct gmm_pv_ops {
	const char *name;
	/* The entry value the tables hold for guest entry val at 'level'. */
	uint64_t (*make_pte)(struct gmm *g, uint64_t val, int level);
	/* The guest entry of a value read from a table. */
	uint64_t (*pte_val)(struct gmm *g, uint64_t raw, int level);
	/* Store guest entry val (converted by the hook) at 'entry' (set_pte,
	 * set_pmd, set_pud, set_p4d, set_pgd). */
	void (*set_pte)(struct gmm *g, gpa_t entry, uint64_t val, int level);
	/* MOV to CR3 of a guest-physical top table with PCID and no-flush bits. */
	void (*write_cr3)(struct gmm *g, uint64_t cr3);
	/* INVLPG (flush_tlb_one_user). */
	void (*flush_tlb_one_user)(struct gmm *g, gva_t va);
	/* Flush the current PCID, or everything incl. globals (flush_tlb_local,
	 * flush_tlb_global). */
	void (*flush_tlb)(struct gmm *g, bool all);
	/* arch_enter_lazy_mmu_mode()/arch_leave_lazy_mmu_mode(): updates in
	 * between may be deferred until leave; reads of entries updated in the
	 * section may return old values (Linux's rule), so callers read each
	 * entry before updating it. */
	void (*enter_lazy_mmu)(struct gmm *g);
	void (*leave_lazy_mmu)(struct gmm *g);
	/* A new top table, zeroed, becomes an address space's root, or stops
	 * being one before it is freed (Linux's xen_pgd_pin/xen_pgd_unpin). */
	void (*pgd_pin)(struct gmm *g, gfn_t top);
	void (*pgd_unpin)(struct gmm *g, gfn_t top);
};

extern const struct gmm_pv_ops gmm_native_pv_ops;
extern const struct gmm_pv_ops gmm_xen_pv_ops;

/* Lazy-MMU batch of the paravirtual hooks (Linux's multicall buffer,
 * arch/x86/xen/multicalls.h: MC_BATCH = 32 calls). */
#define GMM_MC_BATCH 32
struct gmm_mc_op {
	unsigned op; /* HYPERVISOR_mmu_update or HYPERVISOR_mmuext_op */
	uint64_t a, b, c; /* mmu_update: ptr, val; mmuext_op: cmd, arg, arg2 */
};

struct gmm {
	struct vm *vm;
	const struct gmm_pv_ops *pv; /* chosen at boot */
	bool lazy;                   /* in a lazy-MMU section */
	unsigned nmc;                /* queued operations */
	struct gmm_mc_op mc[GMM_MC_BATCH];
	int levels;	   /* 4 or 5 */
	gva_t direct_base; /* GMM_DIRECT_BASE_4L or _5L */
	gva_t user_top;	   /* end of the user half, less one guard page */
	/* GPTE_NX when the kernel runs with EFER.NXE, else 0: bit 63 is then
	 * reserved and never written (Linux's __supported_pte_mask). */
	uint64_t nx;

	/* Frame allocator (frame.c). Low frames are bump-allocated upward for
	 * 4 KiB use, 2 MiB blocks downward from the top; freed frames and
	 * blocks go on LIFO stacks and are reused first. */
	uint64_t nframes;
	uint32_t *ref; /* refcount per frame (huge pages: on the first frame) */
	uint8_t *kind; /* enum gframe_kind per frame */
	gfn_t *free4k;
	uint64_t nfree4k, cap4k;
	gfn_t *free2m;
	uint64_t nfree2m, cap2m;
	gfn_t low_next;	 /* next never-used 4 KiB frame */
	gfn_t high_next; /* first frame of the lowest block handed out from the top */
	uint64_t used;	 /* frames not free (frame 0 and reserved excluded) */
	uint64_t usable; /* frames that can ever be handed out */

	/* Kernel half (proc.c). */
	gpa_t kernel_top;		 /* the boot top table, loaded when no process runs */
	unsigned ktop_first, ktop_count; /* top-level indices of the direct map */

	/* Processes (proc.c). */
	struct gproc *procs, *current;
	int next_pid;
	uint16_t next_pcid;
	uint8_t pcid_used[4096];

	/* PCIDs (pcid.c). Linux's per-CPU cpu_tlbstate: the ASID slots with the
	 * mm (ctx_id) and tlb_gen their PCID holds, and the next slot to take. */
	struct gmm_asid {
		uint64_t ctx_id, tlb_gen;
	} asid[GMM_NR_DYN_ASIDS];
	unsigned next_asid;
	uint64_t next_ctx_id; /* Linux's last_mm_ctx_id; 1 is the kernel's (init_mm) */
	uint16_t kpcid;	      /* PCID of the address space in CR3 (its kernel half with KPTI) */
	/* KPTI (kpti.c). user_flush[k]: the user PCID of kernel PCID k must be
	 * flushed at the next return to user space (Linux's
	 * cpu_tlbstate.user_pcid_flush_mask, set by invalidate_user_asid()). */
	bool kpti;
	unsigned kdepth;      /* kernel entries in progress (0 = not in a kernel call) */
	bool user_cr3;	      /* the user PGD of the current process is in CR3 */
	unsigned entry_index; /* top-level index of the entry area */
	uint8_t user_flush[4096];

	/* Several vCPUs (smp.c). The per-CPU fields above (current, asid,
	 * next_asid, kpcid, kdepth, user_cr3, user_flush) and lazy_tlb are those
	 * of the CPU that runs, vm->cur; pcpu[n] keeps vCPU n's while another
	 * runs (gmm_smp_cpu_switch() moves them). lazy_tlb: the CPU has no task and
	 * keeps its last mm loaded (Linux's cpu_tlbstate_shared.is_lazy);
	 * lazy_stale: a flush IPI skipped it while lazy, so it flushes when it
	 * runs that mm again. inv_freed: the invalidation list's operation
	 * freed page tables (flush_tlb_info.freed_tables). */
	struct gmm_percpu *pcpu;
	bool lazy_tlb, lazy_stale;
	bool inv_freed;

	/* Scratch list of addresses to invalidate (mmap.c). */
	gva_t *inv;
	size_t ninv, inv_cap;
	bool inv_overflow; /* more than cfg.invlpg_threshold: one flush */

	int err; /* gmm_errno() */

	/* The DMA driver (dma.c); NULL until gmm_dma_probe(). */
	struct gmm_dma *dma;
};

static inline struct gmm *gmm_of(const struct vm *vm)
{
	return (struct gmm *)vm->guest;
}

/* ---- dma.c ---- */
void gmm_dma_shutdown(struct gmm *g);

/* ---- frame.c ---- */
int gmm_frames_init(struct gmm *g, uint64_t nframes);
void gmm_frames_destroy(struct gmm *g);
/* Allocate one 4 KiB frame of 'kind' (refcount 1). false when out of memory. */
bool gmm_alloc_frame(struct gmm *g, enum gframe_kind kind, gfn_t *out);
/* Allocate 512 contiguous, 2 MiB-aligned frames (refcount 1 on the first). */
bool gmm_alloc_huge(struct gmm *g, gfn_t *out);
/* Take one more reference to a data frame or huge page. */
void gmm_frame_get(struct gmm *g, gfn_t gfn);
/* Drop one reference; frees the frame (or the 512 frames) at zero.
 * Returns true when it was freed. */
bool gmm_frame_put(struct gmm *g, gfn_t gfn);
/* Free a page-table frame (GF_TABLE). */
void gmm_free_table_frame(struct gmm *g, gfn_t gfn);
/* Allocate two frames, the first even (an order-1 allocation, as Linux's
 * PGD with KPTI), of 'kind'. false when out of memory. */
bool gmm_alloc_pair(struct gmm *g, enum gframe_kind kind, gfn_t *out);

/* ---- pgtable.c ---- */
/* Kernel-mode 8-byte load or store of a table entry through the direct map. */
uint64_t gmm_pte_read(struct gmm *g, gpa_t entry);
void gmm_pte_write(struct gmm *g, gpa_t entry, uint64_t val, int level);
/* Zero or copy whole frames through the direct map. */
void gmm_zero_frame(struct gmm *g, gfn_t gfn);
void gmm_copy_frame(struct gmm *g, gfn_t dst, gfn_t src);
/* Allocate and zero a user page table. false when out of memory. */
bool gmm_table_alloc(struct gmm *g, gfn_t *out);

static inline gpa_t gmm_slot(gpa_t table, unsigned index)
{
	return GPA(table.v + 8 * (uint64_t)index);
}
/* An entry that maps a user page: present, or a PROT_NONE leaf. */
static inline bool gmm_pte_mapped(uint64_t e)
{
	return gpte_present(e) || (e & GMM_PTE_PROTNONE);
}
/* True when 'e' (mapped) is a leaf at 'level'. */
static inline bool gmm_pte_leaf(uint64_t e, int level)
{
	return level == LVL_PT || gpte_large(e, level);
}

/*
 * Find the entry slot that maps va at 'level' in p's tables, descending
 * from the top table. With alloc, missing tables are allocated, zeroed and
 * linked (P|RW|US); without, a missing table returns false. Returns false
 * with g->err = ENOMEM when a table cannot be allocated. A large leaf above
 * 'level' is a bug.
 */
bool gmm_pt_slot(struct gmm *g, struct gproc *p, gva_t va, int level, bool alloc, gpa_t *slot);

/* Called for every mapped leaf in a range walk. */
typedef void (*gmm_leaf_fn)(struct gmm *g, struct gproc *p, gva_t va, int level, gpa_t slot,
			    uint64_t e, void *ctx);
/* Leaf callback: clear the leaf with a store of 0 and drop its frame; with
 * a non-NULL ctx, also queue a present leaf for invalidation. */
void gmm_pt_zap_leaf(struct gmm *g, struct gproc *p, gva_t va, int level, gpa_t slot, uint64_t e,
		     void *ctx);
/* Visit the mapped leaves of p in [start, end) in address order. */
void gmm_pt_visit(struct gmm *g, struct gproc *p, gva_t start, gva_t end, gmm_leaf_fn fn,
		  void *ctx);
/*
 * Free every table of p below the top table that covers part of
 * [start, end) and whose whole span overlaps no VMA of p: its parent entry
 * is cleared with a store of 0 and its frame freed. Caller's duty: the
 * leaves of those spans are already unmapped. With inv, the span start of
 * each freed table is offered to gmm_inv_add_span().
 */
void gmm_pt_free_range(struct gmm *g, struct gproc *p, gva_t start, gva_t end, bool inv);

/* ---- vma.c ---- */
/* The VMA that contains va, or NULL. */
struct gvma *gmm_vma_find(struct gproc *p, gva_t va);
/* Index of the first VMA whose end is above va (p->nvma when none). */
size_t gmm_vma_first_after(const struct gproc *p, gva_t va);
/* True when some VMA overlaps [start, end). */
bool gmm_vma_overlaps(const struct gproc *p, gva_t start, gva_t end);
/* Insert a VMA into a free range, merging with equal neighbours. -1 = ENOMEM. */
int gmm_vma_insert(struct gmm *g, struct gproc *p, gva_t start, gva_t end, int prot, int flags);
/* Make start and end VMA boundaries (split the VMAs they fall in). -1 = ENOMEM. */
int gmm_vma_split_at(struct gmm *g, struct gproc *p, gva_t start, gva_t end);
/* Remove the VMAs inside [start, end); caller split at start and end first. */
void gmm_vma_remove(struct gproc *p, gva_t start, gva_t end);
/* Merge VMAs around [start, end) with equal, adjacent neighbours. */
void gmm_vma_merge(struct gproc *p, gva_t start, gva_t end);
/* Copy src's VMAs to dst. -1 = ENOMEM (simulator memory). */
int gmm_vma_copy(struct gmm *g, struct gproc *dst, const struct gproc *src);

/* ---- mmap.c ---- */
void gmm_inv_reset(struct gmm *g);
void gmm_inv_add(struct gmm *g, gva_t va);
/* A freed table spans [s, s + span): add s unless an address in the list covers it. */
void gmm_inv_add_span(struct gmm *g, gva_t s, uint64_t span);
/* INVLPG each address, or one flush of the current PCID above the threshold. */
void gmm_inv_flush(struct gmm *g);

/* ---- proc.c ---- */
/* A failed allocation of simulator memory ends the run: vm_abort() with
 * "simulator out of memory" (never a crash). */
void *gmm_xrealloc(struct gmm *g, void *p, size_t n);
/* Context switch of this CPU to p (NULL: the kernel top table). */
void gmm_load_mm(struct gmm *g, struct gproc *p);
/* MOV to CR3 in kernel mode (the privilege is restored after it). */
void gmm_write_cr3(struct gmm *g, uint64_t cr3);

/* ---- pvops.c ---- */
/* Pick the hooks for this VM (boot). */
void gmm_pv_select(struct gmm *g);
/* A boot-time entry value (written with gpa_write64() before paging is on):
 * make_pte of the chosen hooks. */
uint64_t gmm_pv_make(struct gmm *g, uint64_t val, int level);
/* Read-side conversion of a boot-time read. */
uint64_t gmm_pv_val(struct gmm *g, uint64_t raw, int level);
/* The kernel-mode wrappers the rest of guest-mm calls. */
void gmm_lazy_enter(struct gmm *g);
void gmm_lazy_leave(struct gmm *g);
void gmm_invlpg(struct gmm *g, gva_t va);
void gmm_flush_tlb(struct gmm *g, bool all);

/* ---- pcid.c ---- */
/* Boot: the kernel (init_mm) holds ASID 0 (initialize_tlbstate_and_flush()). */
void gmm_pcid_init(struct gmm *g);
/* A new address space's ctx_id (init_new_context()). */
uint64_t gmm_pcid_new_ctx(struct gmm *g);
/* The PCID a process holds for its lifetime (per-process policy), 0 when
 * PCIDs are off or the policy is Linux's; 0 with EAGAIN when none is free. */
uint16_t gmm_pcid_alloc(struct gmm *g, bool *exhausted);
void gmm_pcid_free(struct gmm *g, struct gproc *p);
/*
 * The CR3 value that switches to p (NULL: the kernel top table), as
 * switch_mm_irqs_off() builds it, and the ASID bookkeeping of the switch;
 * *flush tells whether it flushes the new PCID. With KPTI this is the
 * kernel PGD; a flush also marks the user PCID for flushing.
 */
uint64_t gmm_pcid_switch(struct gmm *g, struct gproc *p, bool *flush);
/* The kernel flushed p's translations (p current: on this CPU, its PCID;
 * p not current: its tables changed, its next load must flush). */
void gmm_pcid_flushed(struct gmm *g, struct gproc *p);
/* This CPU flushed p's translations for a flush that p's tlb_gen already
 * counts (the local half of gmm_pcid_flushed(), and a flush IPI's). */
void gmm_pcid_synced(struct gmm *g, struct gproc *p);

/* The per-CPU state of a CPU that does not run (smp.c). */
struct gmm_percpu {
	struct gproc *current;
	struct gmm_asid asid[GMM_NR_DYN_ASIDS];
	unsigned next_asid;
	uint16_t kpcid;
	unsigned kdepth;
	bool user_cr3;
	bool lazy_tlb, lazy_stale;
	uint8_t user_flush[4096];
};

/* ---- smp.c ---- */
/* Boot the secondary vCPUs (start_secondary()): #PF vector, paging
 * controls, the kernel top table in CR3. Returns 0 or -1 with vm->err. */
int gmm_smp_boot(struct gmm *g);
void gmm_smp_shutdown(struct gmm *g);
/* switch_mm_irqs_off()'s mm_cpumask update: this CPU leaves prev and
 * enters next (either may be NULL, the kernel's init_mm). */
void gmm_smp_switch_mm(struct gmm *g, struct gproc *prev, struct gproc *next);
/* flush_tlb_mm_range()'s remote part: the invalidation list (or a full
 * flush when it overflowed) reaches every other CPU in p's mm_cpumask
 * through flush_tlb_multi(). Caller's duty: the local flush is done and
 * p's tlb_gen already moved on (gmm_pcid_flushed()). */
void gmm_smp_shootdown(struct gmm *g, struct gproc *p);
/* The same for one page (flush_tlb_page(), a copy-on-write fault) and for
 * the whole mm (flush_tlb_mm(), fork's write protection). */
void gmm_smp_shootdown_page(struct gmm *g, struct gproc *p, gva_t va);
void gmm_smp_shootdown_mm(struct gmm *g, struct gproc *p);
/* exit_mmap(): the other CPUs that still have p loaded (lazily) leave it. */
void gmm_smp_release(struct gmm *g, struct gproc *p);

/* ---- kpti.c ---- */
/* Boot with KPTI: map the entry trampoline page in the kernel top table. */
int gmm_kpti_boot(struct gmm *g);
/* A new process's user PGD (top + 4 KiB): zeroed, with the trampoline entry.
 * The kernel PGD gets the trampoline entry too. */
void gmm_kpti_proc_init(struct gmm *g, gpa_t top);
/*
 * A store of val to a top-level user-half entry of a kernel PGD, with KPTI:
 * the same entry goes first into the user PGD, and the kernel's copy gets
 * NX when it maps user memory (Linux's __pti_set_user_pgtbl()). Returns the
 * value to store in the kernel PGD.
 */
uint64_t gmm_kpti_set_user_pgtbl(struct gmm *g, gpa_t entry, uint64_t val);
/* True when 'entry' is a user-half slot of a process's top table. */
bool gmm_kpti_user_top_slot(const struct gmm *g, gpa_t entry, int level);

#endif
