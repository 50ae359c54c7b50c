/*
 * gmm.h - the guest kernel's memory manager.
 *
 * It behaves as a small x86-64 kernel would: processes with their own top
 * table and PCID, VMAs, demand-zero faults, copy-on-write fork, mmap,
 * munmap, mprotect, exit and context switch. Its page tables are real
 * 64-bit entries in guest-physical memory. It reads and writes them through
 * the vCPU, as kernel stores to its direct map, so every store to a page
 * table is visible to (and may trap in) the MMU mode.
 *
 * Guest virtual layout (4-level; 5-level moves the direct map to LA57's):
 *   0x0000000000400000  text of a process (procs workload)
 *   0x0000000010000000  start of the mmap area, growing up
 *   0x00007ffffff00000  top of the stack area
 *   0xffff888000000000  direct map of all guest memory (GMM_DIRECT_BASE)
 * The direct map uses cfg.direct_map_page pages, is global and
 * supervisor-only, and its upper tables are shared by every process.
 *
 * Levels are numbered PT = 1, PD = 2, PDPT = 3, PML4 = 4, PML5 = 5, as in
 * the rest of the project; pt_index() (core/pte.h) picks a level's index.
 *
 * Bookkeeping (VMAs, frame refcounts, free lists, the process list) lives
 * in simulator memory; a real kernel keeps it in guest memory (struct page,
 * vm_area_struct), and the model does not charge for that traffic. What the
 * MMU modes must see goes through the vCPU: every page-table entry load and
 * store (8 bytes, kernel mode, at gmm_kva() of the entry), page zeroing and
 * page copying (cpu_zero_page/cpu_copy_page), CR3 loads, INVLPG and
 * flushes. Only boot writes guest memory directly.
 *
 * Invariants:
 *   - every present user PTE maps a frame whose refcount counts it;
 *   - a CoW page is read-only in every PTE that maps it while its refcount
 *     is above one;
 *   - page-table frames are owned by exactly one process, except the shared
 *     direct-map tables, owned by the kernel;
 *   - every mapped user leaf lies inside a VMA of its process, and every
 *     user table below the top one covers part of a VMA;
 *   - guest frame 0 is never handed out; the allocator reuses freed frames
 *     last-in first-out, so a run is a function of its inputs.
 * gmm_check() verifies these at run time.
 */
#ifndef VMMU_GMM_H
#define VMMU_GMM_H

#include "../core/mmu.h"
#include "../core/types.h"

#include <stddef.h>

struct vm;
struct gproc;

#define GMM_DIRECT_BASE_4L UINT64_C(0xffff888000000000)
#define GMM_DIRECT_BASE_5L UINT64_C(0xff11000000000000)
#define GMM_MMAP_BASE UINT64_C(0x0000000010000000)
#define GMM_TEXT_BASE UINT64_C(0x0000000000400000)
#define GMM_STACK_TOP UINT64_C(0x00007ffffff00000)

/* mmap protection and flags. On x86 a writable or executable user page is
 * also readable, so GPROT_WRITE and GPROT_EXEC imply GPROT_READ. */
#define GPROT_NONE 0
#define GPROT_READ 1
#define GPROT_WRITE 2
#define GPROT_EXEC 4
#define GMAP_HUGE 1  /* back with 2M pages: len rounded up, address 2M-aligned */
#define GMAP_FIXED 2 /* map exactly at addr */

/* Boot the guest kernel: frame allocator, direct map. Returns 0 or -1 with
 * vm->err set. Boot writes go to guest-physical memory directly (paging is
 * not yet on) and are not counted; statistics start after it. Boot ends
 * with a CR3 load of the kernel top table: callers that count
 * events reset vm->st after gmm_boot(). */
int gmm_boot(struct vm *vm);
/* Free the guest kernel's simulator memory (guest memory is the VM's). */
void gmm_shutdown(struct vm *vm);

/* Kernel virtual address of a guest-physical address (the direct map). */
gva_t gmm_kva(const struct vm *vm, gpa_t gpa);

/*
 * Processes. A new process gets a pid, a PCID (per-process policy; under
 * Linux's policy a PCID is chosen at each switch) and a zeroed top table with
 * the kernel's entries; when no process is current (the first one, or
 * after the last exit) it becomes current. Returns NULL with gmm_errno()
 * ENOMEM (no frame for the top table) or EAGAIN (per-process policy: all
 * 4095 PCIDs, 2047 with KPTI, in use).
 */
struct gproc *gmm_proc_create(struct vm *vm);
/* Fork the current process's address space copy-on-write; returns the child
 * (not yet running). Leaves of writable VMAs become read-only in both, each
 * shared frame (a 2 MiB page as one unit) gains a reference, and the
 * parent's PCID is flushed. NULL with ENOMEM when tables cannot be
 * allocated (the child is rolled back), or EAGAIN (no PCID). */
struct gproc *gmm_fork(struct vm *vm, struct gproc *parent);
/* Tear down an address space; switches to 'next' first if p is current
 * (to the kernel top table when next is NULL or p). Every present leaf is
 * cleared with a store of 0, frames lose a reference and are freed at
 * zero, then the user tables are freed. p is freed. */
void gmm_exit(struct vm *vm, struct gproc *p, struct gproc *next);
/* Context switch: MOV to CR3 with the PCID (and the no-flush bit when the
 * PCID's entries are still valid). Switching to the current process does
 * nothing. */
void gmm_switch_to(struct vm *vm, struct gproc *p);
struct gproc *gmm_current(const struct vm *vm);
/*
 * Several vCPUs (smp.c): the kernel code above runs on vm->cur, the vCPU
 * core's vm_switch_cpu() made current; gmm_switch_to() runs p there.
 * gmm_cpu_idle(): the task on this CPU ended; the CPU enters lazy TLB mode
 * (enter_lazy_tlb()), keeping its mm loaded and in mm_cpumask, and takes no
 * flush IPI for it until a page table is freed. munmap, mprotect, a
 * copy-on-write fault and fork shoot down the other CPUs in the mm's
 * mm_cpumask (flush_tlb_mm_range()); exit makes the lazy ones leave it.
 */
void gmm_cpu_idle(struct vm *vm);
/* pid of p (from 1, never reused), -1 for NULL. */
int gmm_proc_pid(const struct gproc *p);
/* Live processes. */
size_t gmm_nprocs(const struct vm *vm);

/*
 * Memory calls of the current process. On failure mmap returns 0 and
 * munmap/mprotect -1, with gmm_errno() set: EINVAL for bad arguments
 * (unaligned addr, len 0, unknown prot or flags, a range outside the user
 * half, a boundary inside a 2 MiB page of a GMAP_HUGE mapping), ENOMEM
 * when out of address space, when len exceeds guest memory, past 65530
 * mappings (Linux's max_map_count), or for mprotect of a range with
 * unmapped pages.
 *
 * mmap: len is rounded up to pages (2 MiB with GMAP_HUGE, whose address is
 * then 2 MiB-aligned). Without GMAP_FIXED, a non-zero free and aligned addr
 * is used as given, else the first free range at or above the process's
 * mmap cursor (then from GMM_MMAP_BASE) below GMM_STACK_TOP. GMAP_FIXED
 * unmaps what was there first. Huge pages are used only when asked for
 * with GMAP_HUGE (cfg.guest_page is the workloads' choice, not mmap's).
 * Pages are populated on first touch.
 *
 * munmap clears each mapped leaf with a store of 0, drops the frames,
 * frees tables whose whole span is now unmapped, then issues one INVLPG
 * per unmapped page (and per freed table not covered by one) when their
 * number is at most cfg.invlpg_threshold, else one cpu_flush_tlb(v, false).
 * mprotect rewrites the RW/NX bits of mapped leaves (a page with refcount
 * above one stays read-only; GPROT_NONE clears P) and invalidates the
 * changed ones the same way.
 */
gva_t gmm_mmap(struct vm *vm, gva_t addr, uint64_t len, int prot, int flags);
int gmm_munmap(struct vm *vm, gva_t addr, uint64_t len);
int gmm_mprotect(struct vm *vm, gva_t addr, uint64_t len, int prot);
/*
 * pkey_mprotect(2): mprotect, and protection key pkey (0..15) for the
 * range: its VMAs keep the key (mprotect keeps it), and every leaf the
 * range maps, now or at a later fault, carries it in bits 62:59. Whether
 * the key then denies an access is PKRU's (cpu_set_pkru(), WRPKRU) and
 * takes effect only with CR4.PKE (--pke on). EINVAL for a key outside
 * 0..15, as for mprotect's other bad arguments. No pkey_alloc(): every
 * key is the process's.
 */
int gmm_pkey_mprotect(struct vm *vm, gva_t addr, uint64_t len, int prot, int pkey);
/*
 * The first VMA of the current process that ends above va: 0 with *start,
 * *end and *prot set, or -1 when there is none (or no current process).
 * Lets a caller walk the VMAs in address order (replay's consistency
 * checks); it changes nothing.
 */
int gmm_vma_next(const struct vm *vm, gva_t va, gva_t *start, gva_t *end, int *prot);
/* errno value of the last failed call (0 before any failure). */
int gmm_errno(const struct vm *vm);

/*
 * Kernel entry and exit, for callers that run kernel code of their own
 * between the calls above (explain's kernel loads). Every call above is
 * already one kernel entry. With cfg.kpti the outermost entry switches CR3
 * to the current process's kernel PGD and the matching exit back to its
 * user PGD (Linux's SWITCH_TO_KERNEL_CR3 and SWITCH_TO_USER_CR3); without
 * KPTI they only count kernel_entries. Calls nest.
 */
void gmm_kernel_enter(struct vm *vm);
void gmm_kernel_exit(struct vm *vm);

/* Page fault entry: installed at boot as the vCPU's #PF vector; resolves it or
 * vm_abort()s (segfault, guest out of memory). Counts demand_faults and
 * cow_faults; the caller counts guest_faults. */
void gmm_handle_fault(struct vm *vm, const struct guest_fault *f);

/*
 * The DMA block device's driver (dma.c, core/io.h, docs/iommu.md).
 * gmm_dma_probe() sets up the ring (and, with --viommu, the guest's IOMMU
 * table); it is idempotent. gmm_dma_rw() moves npages (1..GMM_DMA_BATCH)
 * whole pages between the current process's user buffer at va
 * (page-aligned) and blocks block .. block + npages - 1 of the device:
 * to_mem reads the blocks into the buffer, else the buffer is written to
 * the device and sums[i] (when not NULL) gets the fold the device computed
 * of page i. Pages are pinned, mapped, handed over in one doorbell,
 * unmapped and unpinned. Returns the descriptors that completed with an
 * error (0 when all went well), or -1 with gmm_errno() EINVAL (bad
 * arguments, no probe), EFAULT (a page outside a VMA that allows the
 * access) or ENOMEM.
 */
#define GMM_DMA_BATCH 64
#define GMM_DMA_IOVA_BASE UINT64_C(0x0000000080000000)
int gmm_dma_probe(struct vm *vm);
int gmm_dma_rw(struct vm *vm, gva_t va, unsigned npages, uint64_t block, bool to_mem,
	       uint64_t *sums);

/* Guest-physical frame allocator state (tests). */
uint64_t gmm_free_frames(const struct vm *vm);
/* Refcount of a guest frame (a 2 MiB page: of its first frame). */
uint32_t gmm_frame_refcount(const struct vm *vm, gfn_t gfn);

/*
 * Check the invariants above by reading every process's tables with
 * gpa_read64() (the VMM's view: nothing counted, no A/D bits set).
 * Returns NULL, or the violated invariant's name with an explanation in
 * 'detail'. Tests and audits only: it costs a pass over all tables.
 */
const char *gmm_check(struct vm *vm, char *detail, size_t len);

#endif
