/*
 * stats.h - every counter a run produces, in one list.
 *
 * STATS_COUNTERS is an X-macro: X(name, description). The struct, the CSV
 * header, the CSV row and the human summary are all generated from it, so a
 * new counter is one line here. Counters are exact event counts; the cyc_*
 * entries are estimated cycles, summed per cost part (docs/cost-model.md).
 *
 * Invariants (checked by stats_check(), except the first, which holds by
 * construction: vm_sync_stats() derives tlb_hits and cyc_access):
 *   - tlb_hits + tlb_misses == accesses (each access counts once);
 *   - walks_user <= walks, walk_refs_user <= walk_refs;
 *   - vm_exits == exits_hidden_fault + exits_pt_write + exits_cr3 +
 *                 exits_invlpg + exits_dirty + exits_fault_inject +
 *                 exits_ept_violation + exits_ept_misconfig + exits_viommu
 *                 + exits_ipi + exits_l1;
 *   - walk_refs == walk_refs_guest + walk_refs_host in nested mode;
 *   - walk_cycles_user <= cyc_walk.
 */
#ifndef VMMU_STATS_H
#define VMMU_STATS_H

#include "types.h"

#define STATS_COUNTERS(X)                                                                  \
	X(accesses, "memory accesses issued by guest code (user and kernel)")               \
	X(user_accesses, "accesses issued in user mode")                                     \
	X(tlb_hits, "TLB lookups that hit (L1 or L2)")                                       \
	X(tlb_misses, "TLB lookups that missed both levels")                                 \
	X(l2_tlb_hits, "TLB lookups that missed L1 and hit L2")                              \
	X(walks, "hardware walks that ended in a TLB fill")                                  \
	X(walk_refs, "memory references of those walks")                                     \
	X(walks_user, "walks for user-mode accesses")                                        \
	X(walk_refs_user, "references of walks for user-mode accesses")                      \
	X(fault_walk_refs, "references of walks that ended in a fault or an exit")           \
	X(psc_hits, "1D paging-structure cache hits (references skipped)")                   \
	X(guest_faults, "page faults delivered to the guest kernel")                         \
	X(demand_faults, "guest faults resolved by demand-zero allocation")                  \
	X(cow_faults, "guest faults resolved by copy-on-write")                              \
	X(pages_zeroed, "guest pages zeroed by the guest kernel")                            \
	X(pages_copied, "guest pages copied by the guest kernel")                            \
	X(cr3_loads, "MOV to CR3 by the guest")                                              \
	X(kernel_entries, "guest kernel entries: page faults, memory calls, switches")        \
	X(ctx_switches, "guest address-space switches (switch_mm)")                          \
	X(ctx_switch_flushes, "guest address-space switches that flushed the new PCID")      \
	X(invlpgs, "INVLPG by the guest")                                                    \
	X(guest_tlb_flushes, "full or per-PCID TLB flushes requested by the guest")         \
	X(tlb_flushes, "flush operations applied to the TLB (any kind)")                     \
	X(tlb_entries_flushed, "TLB entries dropped by flushes")                             \
	X(vm_exits, "VM exits, all reasons")                                                 \
	X(exits_hidden_fault, "shadow: exits that installed an spte (hidden fault)")         \
	X(exits_pt_write, "shadow: exits on a store to a write-protected guest table")      \
	X(exits_cr3, "shadow: exits on MOV to CR3")                                          \
	X(exits_invlpg, "shadow: exits on INVLPG")                                           \
	X(exits_dirty, "shadow: exits on the first write to a clean page (A/D emulation)") \
	X(exits_fault_inject, "shadow: exits that injected a #PF into the guest")           \
	X(injected_faults, "shadow: #PF injected into the guest")                            \
	X(shadow_pages_peak, "shadow: peak number of shadow pages")                          \
	X(shadow_bytes_peak, "shadow: peak bytes of shadow pages")                           \
	X(resyncs, "shadow: resyncs of unsync pages: whole page, or one entry on INVLPG")    \
	X(unshadows, "shadow: guest tables unshadowed by write-flood detection")             \
	X(shadow_zaps, "shadow: shadow pages zapped")                                        \
	X(shadow_evictions, "shadow, agile: shadow pages evicted by the cap")                \
	X(shadow_prefetches, "shadow, agile: sptes installed by prefetch")                   \
	X(root_cache_hits, "shadow, agile: CR3 loads served by the previous-root cache")     \
	X(vmm_walk_refs, "references of the VMM's software walks of guest tables")          \
	X(hypercalls, "pv: hypercalls by the guest kernel (a multicall counts once)")         \
	X(pv_batches, "pv: multicalls that carried a lazy-MMU batch")                        \
	X(pv_pt_updates, "pv: page-table entries written by mmu_update")                     \
	X(pv_mmuext_ops, "pv: mmuext operations (pin, unpin, new base, flushes)")            \
	X(pv_validated, "pv: entries the hypervisor examined to type or untype a table")    \
	X(pv_refused, "pv: updates and operations the hypervisor refused")                   \
	X(pv_type_flushes, "pv: TLB flushes when a direct-map extent gets its first table")  \
	X(exits_ept_violation, "nested: EPT violation exits")                                \
	X(exits_ept_misconfig, "nested: EPT misconfiguration exits")                         \
	X(exits_l1, "nested virt: L1's own exits to L0 (VMREAD, VMRESUME, INVEPT, EPT12 stores)") \
	X(l2_exits, "nested virt: exits from L2, all taken by L0 first (part of vm_exits)")  \
	X(reflected_exits, "nested virt: L2 exits that L0 reflected to L1")                  \
	X(pvm_switches, "pvm: switcher round trips L2 -> L1 -> L2 (not VM exits)")         \
	X(ept12_writes, "nested virt: L1's stores to EPT12 entries (trapped ones: exits_l1)") \
	X(l1_cycles, "nested virt: cycles of L1's handlers (part of cyc_vmm)")               \
	X(spt12_traps, "shadow on shadow: L1's stores to SPT12 tables L0 write-protects (part of exits_l1)") \
	X(spt02_pages_peak, "shadow on shadow: peak number of L0's SPT02 pages")             \
	X(ept_pages_peak, "nested: peak number of EPT table pages")                          \
	X(ept_bytes_peak, "nested: peak bytes of EPT table pages")                           \
	X(pwc_hits, "nested: 2D page-walk cache hits (references skipped)")                  \
	X(ntlb_hits, "nested: nested TLB hits")                                              \
	X(walk_refs_guest, "nested: walk references to guest table entries")                 \
	X(walk_refs_host, "nested: walk references to EPT entries")                          \
	X(walk_cycles_user, "cycles of the translations that ended in walks_user (part of cyc_walk)") \
	X(mode_switches, "switching: VM switches; agile: tables moved between modes")      \
	X(accesses_shadow, "switching: accesses run under shadow paging")                   \
	X(accesses_nested, "switching: accesses run under nested paging")                   \
	X(agile_walks_shadow, "agile: walks that completed in the shadow table")             \
	X(agile_walks_l1, "agile: walks that switched into the guest's level-1 table")        \
	X(agile_walks_l2, "agile: walks that switched into a level-2 guest table")            \
	X(agile_walks_l3, "agile: walks that switched into a level-3 guest table")            \
	X(agile_walks_l4, "agile: walks that switched into a level-4 guest table (LA57)")     \
	X(agile_walks_nested, "agile: walks fully nested (the guest root in nested mode)")  \
	X(dma_bytes, "dma: bytes the DMA device read or wrote in guest memory")              \
	X(dma_xlates, "dma: DMA requests the IOMMU translated (one per page a transfer touches)") \
	X(iotlb_hits, "iommu: DMA translations served by the IOTLB")                          \
	X(iotlb_misses, "iommu: DMA translations that walked the IOMMU tables")               \
	X(iommu_ctx_misses, "iommu: context-cache misses (root and context entry read)")      \
	X(iommu_walk_refs, "iommu: memory references of IOMMU walks, context entries included") \
	X(iommu_walk_refs_fs, "iommu: of those, references to first-stage (guest vIOMMU) entries") \
	X(iommu_faults, "iommu: DMA requests blocked and reported to the VMM")               \
	X(iommu_pt_pages_peak, "iommu: peak pages of the VMM's IOMMU tables (root, context, second level)") \
	X(dma_pins, "iommu: guest pages the VMM pinned for DMA (vfio_pin_pages_remote)")     \
	X(dma_unpins, "iommu: guest pages the VMM unpinned (vfio_unpin_pages_remote)")       \
	X(exits_viommu, "viommu: exits on the guest's vIOMMU register writes")                \
	X(viommu_invalidations, "viommu: IOTLB invalidations the guest issued")              \
	X(viommu_syncs, "viommu: shadow IOMMU entries the VMM wrote or cleared")             \
	X(shootdowns, "smp: flush_tlb_mm_range() calls that had other vCPUs in mm_cpumask")     \
	X(ipis_sent, "smp: TLB-flush IPIs sent, one per target vCPU")                           \
	X(ipi_flushes, "smp: flush_tlb_func() runs on target vCPUs")                           \
	X(exits_ipi, "smp: exits of IPIs without posted interrupts: ICR write, kick, EOI")   \
	X(pv_flushes_deferred, "smp: --pv-tlb-flush: preempted vCPUs marked KVM_VCPU_FLUSH_TLB, no IPI") \
	X(ipis_to_preempted, "smp: IPIs sent to a preempted vCPU (delivered when it runs again)") \
	X(remote_tlb_flushes, "smp: shadow kvm_flush_remote_tlbs() calls that reached other vCPUs") \
	X(remote_flush_kicks, "smp: vCPUs a remote flush request kicked out of guest mode")  \
	X(walk_refs_local, "numa: walk references to a table on the vCPU's own node")        \
	X(walk_refs_remote, "numa: walk references to a table on another node")             \
	X(pt_replica_stores, "numa: stores to the other nodes' copies of a replicated table") \
	X(host_frames_peak, "host frames in use at peak, guest and VMM")                     \
	X(vmm_heap_bytes, "simulator heap in use at the end (jemalloc stats.allocated)")     \
	X(cyc_access, "cycles: the data accesses themselves")                                \
	X(cyc_walk, "cycles: hardware page-walk references")                                 \
	X(cyc_exit, "cycles: VM exit and entry round trips (pvm: switcher ones too)")  \
	X(cyc_vmm, "cycles: VMM handler work, software walks included")                      \
	X(cyc_guest, "cycles: guest kernel fault handling, zeroing and copying")             \
	X(cyc_flush, "cycles: guest MOV CR3, INVLPG and TLB-flush instructions, flush IPIs")

struct stats {
#define X(n, d) uint64_t n;
	STATS_COUNTERS(X)
#undef X
};

/*
 * The counters of a region: out = end - begin for every counter except
 * vmm_heap_bytes, a gauge of the simulator's own heap (not an event count,
 * and it can shrink), which keeps end's value. Peaks (*_peak) are monotone,
 * so their difference is how much the region raised the peak. Caller's
 * duty: begin was read before end on the same run (every other counter only
 * grows). out may alias end.
 */
void stats_delta(struct stats *out, const struct stats *end, const struct stats *begin);
/* Is the counter of this name a gauge (kept, not subtracted, by stats_delta)? */
bool stats_is_gauge(const char *name);

/* Sum of the cyc_* parts. */
uint64_t stats_est_cycles(const struct stats *s);
/* Returns NULL when the invariants above hold, else the violated one's name. */
const char *stats_check(const struct stats *s, bool nested);

#endif
