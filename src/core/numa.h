/*
 * numa.h - a simulated NUMA host: nodes for the vCPUs and the page-table
 * frames, local and remote walk references, and where page tables live.
 *
 * --host-nodes N (1 = no NUMA model, the default; up to 8) splits the host
 * into N nodes. vCPU i runs on node i mod N. Every page-table frame gets a
 * node when it is allocated, by the policy --pt-place:
 *   first-touch  the node of the vCPU that allocates it (Linux's default
 *                local allocation, and KVM's for EPT and shadow pages);
 *   interleave   frame number mod N (numactl --interleave);
 *   remote       the node after the allocating vCPU's: the worst case
 *                vMitosis (Panwar et al., ASPLOS'21) measures;
 *   replicate    a copy on every node (vMitosis's replication): every
 *                walk reads the local copy, and every store to a table is
 *                made on the N - 1 other copies too.
 * The policy applies to the guest's page tables (placed when the guest
 * kernel allocates a table frame: the guest sees the host's nodes, as a
 * vNUMA guest does), the shadow pages and the EPT tables (placed when the
 * VMM allocates them, on the vCPU that exits).
 *
 * A walk reference (vm_walk_ref(), vm_vmm_walk_ref()) to a table frame on
 * another node than the running vCPU's is remote: counted in
 * walk_refs_remote (else walk_refs_local), and when the cache model serves
 * it from DRAM it costs cost.ref_remote instead of cost.ref_dram. Data
 * accesses are not placed: they cost the same on every node.
 *
 * Invariants:
 *   - with host_nodes <= 1 nothing here runs and no counter moves;
 *   - node[hfn] is the node of host frame hfn's table, NUMA_NONE when the
 *     frame never held a table; gnode[gfn] the node the guest chose for its
 *     table in guest frame gfn, copied into node[] when the frame is backed.
 */
#ifndef VMMU_NUMA_H
#define VMMU_NUMA_H

#include "types.h"

struct vm;
struct vcpu;

#define NUMA_MAX_NODES 8
#define NUMA_NONE 0xff

/* Allocate the node maps when cfg.host_nodes > 1. 0, or -1 with err set. */
int numa_init(struct vm *vm, char *err, size_t errlen);
void numa_destroy(struct vm *vm);
/* The node of vCPU v. */
unsigned numa_vcpu_node(const struct vm *vm, const struct vcpu *v);
/* The VMM allocated host frame hfn for a table (shadow page, EPT table). */
void numa_place_vmm_table(struct vm *vm, hfn_t hfn);
/* The guest kernel allocated guest frame gfn for a page table. */
void numa_place_guest_table(struct vm *vm, gfn_t gfn);
/* The p2m backed gfn with hfn: the frame takes the guest's placement. */
void numa_backed(struct vm *vm, gfn_t gfn, hfn_t hfn);
/* Account a walk reference to the table entry at hpa, served at cache
 * level 'level'; returns its latency (the remote one when remote DRAM). */
uint32_t numa_walk_ref(struct vm *vm, uint64_t hpa, int level, uint32_t latency);
/* replicate: a store to a table entry is made on the other N - 1 copies
 * too (each a store to a remote line: cost.ref_remote, to cyc_guest for a
 * guest table, cyc_vmm for a VMM one). */
void numa_replica_store(struct vm *vm, bool guest);
/* Is the replicate policy in force (with more than one node)? */
bool numa_replicating(const struct vm *vm);

#endif
