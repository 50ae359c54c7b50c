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
 * Invariants:
 *   - every present user PTE maps a frame whose refcount counts it;
 *   - a CoW page is read-only in every PTE that maps it while its refcount
 *     is above one;
 *   - page-table frames are owned by exactly one process, except the shared
 *     direct-map tables, owned by the kernel.
 */
#ifndef VMMU_GMM_H
#define VMMU_GMM_H

#include "../core/mmu.h"
#include "../core/types.h"

struct vm;
struct gproc;

#define GMM_DIRECT_BASE_4L UINT64_C(0xffff888000000000)
#define GMM_DIRECT_BASE_5L UINT64_C(0xff11000000000000)
#define GMM_MMAP_BASE UINT64_C(0x0000000010000000)
#define GMM_TEXT_BASE UINT64_C(0x0000000000400000)
#define GMM_STACK_TOP UINT64_C(0x00007ffffff00000)

/* mmap protection and flags. */
#define GPROT_READ 1
#define GPROT_WRITE 2
#define GPROT_EXEC 4
#define GMAP_HUGE 1   /* back with 2M pages (region must be 2M-aligned in size) */
#define GMAP_FIXED 2  /* map exactly at addr */

/* Boot the guest kernel: frame allocator, direct map. Returns 0 or -1 with
 * vm->err set. Boot writes go to guest-physical memory directly (paging is
 * not yet on) and are not counted; statistics start after it. */
int gmm_boot(struct vm *vm);
void gmm_shutdown(struct vm *vm);

/* Kernel virtual address of a guest-physical address (the direct map). */
gva_t gmm_kva(const struct vm *vm, gpa_t gpa);

/* Processes. The first process created becomes current. */
struct gproc *gmm_proc_create(struct vm *vm);
/* Fork the current process's address space copy-on-write; returns the child
 * (not yet running). */
struct gproc *gmm_fork(struct vm *vm, struct gproc *parent);
/* Tear down an address space; switches to 'next' first if p is current. */
void gmm_exit(struct vm *vm, struct gproc *p, struct gproc *next);
/* Context switch: MOV to CR3 with the PCID (and the no-flush bit when the
 * PCID's entries are still valid). */
void gmm_switch_to(struct vm *vm, struct gproc *p);
struct gproc *gmm_current(const struct vm *vm);
int gmm_proc_pid(const struct gproc *p);

/* Memory calls of the current process. mmap returns 0 when out of address
 * space or guest memory (gmm_errno() says which). */
gva_t gmm_mmap(struct vm *vm, gva_t addr, uint64_t len, int prot, int flags);
int gmm_munmap(struct vm *vm, gva_t addr, uint64_t len);
int gmm_mprotect(struct vm *vm, gva_t addr, uint64_t len, int prot);

/* Page fault entry: called by core with the fault; resolves it or
 * vm_abort()s (segfault, guest out of memory). */
void gmm_handle_fault(struct vm *vm, const struct guest_fault *f);

/* Guest-physical frame allocator state (tests). */
uint64_t gmm_free_frames(const struct vm *vm);

#endif
