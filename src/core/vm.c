/*
 * vm.c - creating and destroying a simulated machine, host memory and its
 * NUMA placement, the shared p2m policy, guest-physical access for the VMM,
 * the guest-memory digest, and the two services every mode uses:
 * vm_walk_ref() and vm_exit().
 *
 * Invariants: those of vm.h. Host memory is reserved once; frames are never
 * returned to the host OS during a run.
 */
#include <errno.h>
#include <numa.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bounds.h"
#include "vm.h"

/* ---- errors ---- */

void vm_abort(struct vm *vm, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(vm->err, sizeof(vm->err), fmt, ap);
	va_end(ap);
	if (vm->abort_jmp)
		longjmp(*vm->abort_jmp, 1);
	fprintf(stderr, "vmmu: %s\n", vm->err);
	exit(3);
}

void vmmu_bug(const char *invariant, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "vmmu: internal invariant '%s' violated: ", invariant);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

const char *page_size_name(enum page_size ps)
{
	switch (ps) {
	case PG_4K: return "4k";
	case PG_2M: return "2m";
	case PG_1G: return "1g";
	default: return "?";
	}
}

/* ---- host memory ---- */

static uint64_t round_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) / a * a;
}

/* Place the reservation according to cfg.numa. Returns 0, or -1 with err. */
static int hostmem_place(struct vm *vm, char *err, size_t errlen)
{
	struct hostmem *hm = &vm->hm;
	if (numa_available() < 0) {
		if (vm->cfg.numa == NUMA_NODE && vm->cfg.numa_node != 0) {
			snprintf(err, errlen, "--numa node:%d: NUMA is not available on this machine",
				 vm->cfg.numa_node);
			return -1;
		}
		hm->numa_note = "NUMA not available: host memory uses the kernel's default placement";
		return 0;
	}
	int nodes = numa_num_configured_nodes();
	int maxnode = numa_max_node();
	switch (vm->cfg.numa) {
	case NUMA_LOCAL:
		numa_setlocal_memory(hm->base, hm->size);
		break;
	case NUMA_INTERLEAVE:
		numa_interleave_memory(hm->base, hm->size, numa_all_nodes_ptr);
		break;
	case NUMA_NODE:
		if (vm->cfg.numa_node < 0 || vm->cfg.numa_node > maxnode ||
		    !numa_bitmask_isbitset(numa_all_nodes_ptr, (unsigned)vm->cfg.numa_node)) {
			snprintf(err, errlen, "--numa node:%d: no such node (this machine has nodes 0..%d)",
				 vm->cfg.numa_node, maxnode);
			return -1;
		}
		numa_tonode_memory(hm->base, hm->size, vm->cfg.numa_node);
		break;
	}
	hm->numa_note = nodes <= 1 ? "one NUMA node: the placement policy has no effect"
				   : "host memory placed by the --numa policy";
	return 0;
}

static int hostmem_init(struct vm *vm, char *err, size_t errlen)
{
	struct hostmem *hm = &vm->hm;
	const struct vm_config *c = &vm->cfg;
	uint64_t chunk = page_bytes(c->host_page);
	uint64_t guest_region;
	if (vm->p2m.identity)
		guest_region = round_up(c->guest_mem, PAGE_SIZE);
	else /* one chunk more: chunk 0 is never handed out */
		guest_region = round_up(c->guest_mem, chunk) + chunk;
	uint64_t vmm_region = c->guest_mem / 4 + (UINT64_C(64) << 20);
	uint64_t total = guest_region + vmm_region;
	if (c->host_mem) {
		if (c->host_mem < guest_region + (UINT64_C(16) << 20)) {
			snprintf(err, errlen,
				 "--host-mem %" PRIu64 ": too small for %" PRIu64
				 " bytes of guest memory plus 16 MiB for the VMM (need at least %" PRIu64 ")",
				 c->host_mem, c->guest_mem, guest_region + (UINT64_C(16) << 20));
			return -1;
		}
		total = round_up(c->host_mem, PAGE_SIZE);
	}
	void *p = mmap(NULL, total, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "cannot reserve %" PRIu64 " bytes of host memory: %s", total,
			 strerror(errno));
		return -1;
	}
	hm->base = p;
	hm->size = total;
	hm->nframes = total >> PAGE_SHIFT;
	hm->guest_frames = guest_region >> PAGE_SHIFT;
	hm->guest_next = vm->p2m.identity ? 0 : hm->guest_frames;
	hm->vmm_next = hm->guest_frames;
	return hostmem_place(vm, err, errlen);
}

/*
 * Test hook: with cfg.fail_alloc_at = N, the Nth host allocation (a VMM
 * frame or a guest chunk of the p2m) fails as an exhausted host would, so
 * that tests can prove every such failure ends the run cleanly.
 */
static void hostmem_count_alloc(struct vm *vm)
{
	if (vm->cfg.fail_alloc_at && ++vm->hm.allocs == vm->cfg.fail_alloc_at)
		vm_abort(vm, "host memory allocation %" PRIu64 " failed (injected: VMMU_FAIL_ALLOC_AT)",
			 vm->hm.allocs);
}

hfn_t hostmem_alloc_frame(struct vm *vm)
{
	struct hostmem *hm = &vm->hm;
	hfn_t f;
	hostmem_count_alloc(vm);
	if (hm->nfree)
		f = hm->free[--hm->nfree];
	else if (hm->vmm_next < hm->nframes)
		f = hm->vmm_next++;
	else
		vm_abort(vm, "host memory exhausted: the VMM needs more than %" PRIu64
			     " bytes (raise --host-mem)", hm->size);
	memset(hm->base + (f << PAGE_SHIFT), 0, PAGE_SIZE);
	if (++hm->in_use > hm->peak)
		hm->peak = hm->in_use;
	return f;
}

void hostmem_free_frame(struct vm *vm, hfn_t hfn)
{
	struct hostmem *hm = &vm->hm;
	if (hfn < hm->guest_frames || hfn >= hm->nframes)
		vmmu_bug("vmm-frame-range", "freeing host frame %#" PRIx64 " outside the VMM region",
			 hfn);
	if (hm->nfree == hm->free_cap) {
		uint64_t cap = hm->free_cap ? hm->free_cap * 2 : 1024;
		hfn_t *n = realloc(hm->free, cap * sizeof(*n));
		if (!n)
			vm_abort(vm, "simulator out of memory");
		hm->free = n;
		hm->free_cap = cap;
	}
	hm->free[hm->nfree++] = hfn;
	hm->in_use--;
}

/* ---- p2m ---- */

enum page_size p2m_chunk_size(const struct vm *vm)
{
	return vm->p2m.identity ? PG_1G : vm->cfg.host_page;
}

hfn_t p2m_ensure(struct vm *vm, gfn_t gfn)
{
	struct p2m *p = &vm->p2m;
	if (gfn >= p->nframes)
		return INVALID_HFN;
	if (p->map[gfn] != INVALID_HFN)
		return p->map[gfn];
	uint64_t n = page_bytes(vm->cfg.host_page) >> PAGE_SHIFT;
	struct hostmem *hm = &vm->hm;
	hostmem_count_alloc(vm);
	/* Chunk 0 stays unused: host frame 0 is never handed out. */
	if (hm->guest_next < 2 * n)
		vmmu_bug("p2m-region", "guest region exhausted at gfn %#" PRIx64, gfn);
	hm->guest_next -= n;
	hfn_t base = hm->guest_next;
	gfn_t g0 = gfn & ~(n - 1);
	for (uint64_t i = 0; i < n && g0 + i < p->nframes; i++)
		p->map[g0 + i] = base + i;
	hm->in_use += n;
	if (hm->in_use > hm->peak)
		hm->peak = hm->in_use;
	return p->map[gfn];
}

static int p2m_init(struct vm *vm, char *err, size_t errlen)
{
	struct p2m *p = &vm->p2m;
	p->nframes = vm->cfg.guest_mem >> PAGE_SHIFT;
	p->map = malloc(p->nframes * sizeof(*p->map));
	if (!p->map) {
		snprintf(err, errlen, "out of memory for the p2m of %" PRIu64 " frames", p->nframes);
		return -1;
	}
	for (uint64_t i = 0; i < p->nframes; i++)
		p->map[i] = p->identity ? i : INVALID_HFN;
	return 0;
}

uint64_t gpa_read64(struct vm *vm, gpa_t gpa)
{
	hfn_t h = p2m_lookup(vm, gpa_to_gfn(gpa));
	if (h == INVALID_HFN)
		return 0;
	return hpa_read64(vm, HPA((h << PAGE_SHIFT) | (gpa.v & (PAGE_SIZE - 1))));
}

void gpa_write64(struct vm *vm, gpa_t gpa, uint64_t v)
{
	hfn_t h = p2m_ensure(vm, gpa_to_gfn(gpa));
	if (h == INVALID_HFN)
		vmmu_bug("gpa-range", "write to gpa %#" PRIx64 " outside guest memory", gpa.v);
	hpa_write64(vm, HPA((h << PAGE_SHIFT) | (gpa.v & (PAGE_SIZE - 1))), v);
}

/* ---- digest ---- */

static uint64_t mix64(uint64_t h, uint64_t v)
{
	h ^= v + UINT64_C(0x9e3779b97f4a7c15) + (h << 6) + (h >> 2);
	h *= UINT64_C(0xff51afd7ed558ccd);
	return h ^ (h >> 33);
}

uint64_t vm_guest_digest(struct vm *vm)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (gfn_t g = 0; g < vm->p2m.nframes; g++) {
		hfn_t f = vm->p2m.map[g];
		if (f == INVALID_HFN)
			continue;
		const uint64_t *w = (const uint64_t *)(vm->hm.base + (f << PAGE_SHIFT));
		uint64_t any = 0;
		for (unsigned i = 0; i < PAGE_SIZE / 8; i++)
			any |= w[i];
		if (!any)
			continue; /* an all-zero frame reads as an unbacked one */
		uint64_t ph = mix64(0, g);
		for (unsigned i = 0; i < PAGE_SIZE / 8; i++)
			ph = ph * UINT64_C(0x100000001b3) ^ w[i];
		h = mix64(h, ph);
	}
	return h;
}

void vm_sync_stats(struct vm *vm)
{
	vm->st.tlb_hits = vm->st.accesses - vm->st.tlb_misses;
	vm->st.cyc_access = vm->st.accesses * vm->cost.access;
}

/* ---- services for the modes ---- */

uint32_t vm_walk_ref(struct vm *vm, hpa_t entry, int *level)
{
	int l = ptcache_access(&vm->ptc, entry.v);
	uint32_t c = cost_ref_latency(&vm->cost, l);
	vm->st.cyc_walk += c;
	if (level)
		*level = l;
	return c;
}

uint32_t vm_vmm_walk_ref(struct vm *vm, hpa_t entry, int *level)
{
	int l = ptcache_access(&vm->ptc, entry.v);
	uint32_t c = cost_ref_latency(&vm->cost, l);
	vm->st.vmm_walk_refs++;
	vm->st.cyc_vmm += c;
	if (level)
		*level = l;
	return c;
}

void vm_audit(struct vm *vm)
{
	if (!vm->mmu->audit)
		return;
	char detail[200] = "";
	const char *bad = vm->mmu->audit(vm, detail, sizeof(detail));
	if (bad)
		vm_abort(vm, "audit failed: invariant '%s' violated: %s", bad, detail);
}

void vm_exit(struct vcpu *v, enum exit_reason reason, uint64_t *counter, uint32_t handler_cycles)
{
	struct vm *vm = v->vm;
	(*counter)++;
	vm->st.vm_exits++;
	vm->st.cyc_exit += vm->cost.vmexit;
	vm->st.cyc_vmm += handler_cycles;
	TRACE(vm, .kind = TR_VM_EXIT, .result = (uint64_t)reason,
	      .cycles = vm->cost.vmexit + handler_cycles, .what = "vm exit");
	if (!vm->cfg.vpid) {
		/* VPID off: VM exit and VM entry both flush VPID 0's entries. */
		uint64_t n = tlb_flush_vpid(&v->tlb, 0);
		psc_flush_vpid(&v->psc, 0);
		vm->st.tlb_flushes++;
		vm->st.tlb_entries_flushed += n;
		TRACE(vm, .kind = TR_TLB_FLUSH, .result = n, .what = "world-switch flush (VPID off)");
	}
	if (vm->mmu->on_world_switch)
		vm->mmu->on_world_switch(v);
	if (vm->cfg.audit)
		vm_audit(vm);
}

/* ---- create and destroy ---- */

static const char *config_check(const struct vm_config *c)
{
	if (c->levels != 4 && c->levels != 5)
		return "levels must be 4 or 5";
	if (c->guest_mem < (UINT64_C(16) << 20))
		return "guest memory must be at least 16 MiB";
	if (c->guest_mem % (UINT64_C(2) << 20))
		return "guest memory must be a multiple of 2 MiB";
	if (c->guest_mem > (UINT64_C(1) << 40))
		return "guest memory must be at most 1 TiB";
	if (c->guest_page != PG_4K && c->guest_page != PG_2M)
		return "guest page size must be 4k or 2m";
	if (c->host_page >= PG_NR)
		return "host page size must be 4k, 2m or 1g";
	if (c->direct_map_page != PG_2M && c->direct_map_page != PG_1G)
		return "direct-map page size must be 2m or 1g";
	return NULL;
}

struct vm *vm_create_ops(const struct vm_config *cfg, const struct mmu_ops *mode, char *err,
			 size_t errlen)
{
	const char *bad = config_check(cfg);
	if (bad) {
		snprintf(err, errlen, "%s", bad);
		return NULL;
	}
	if (config_check_bounds(cfg, err, errlen) != 0 ||
	    config_check_budget(cfg, budget_available(), err, errlen) != 0)
		return NULL;
	if (!mode) {
		snprintf(err, errlen, "no MMU mode given");
		return NULL;
	}
	struct vm *vm = calloc(1, sizeof(*vm));
	if (!vm) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	vm->cfg = *cfg;
	vm->mmu = mode;
	vm->vcpu.vm = vm;
	vm->vcpu.vpid = cfg->vpid ? 1 : 0;
	vm->p2m.identity = mode->identity_p2m;
	cost_defaults(&vm->cost);
	if (ptcache_init(&vm->ptc) != 0) {
		snprintf(err, errlen, "out of memory for the page-table cache model");
		goto fail;
	}
	if (p2m_init(vm, err, errlen) || hostmem_init(vm, err, errlen))
		goto fail;
	struct tlb_shape shape = {
		.l1d = cfg->l1d, .l1d_large = cfg->l1d_large, .l1i = cfg->l1i, .l2 = cfg->l2
	};
	if (tlb_init(&vm->vcpu.tlb, &shape) != 0) {
		snprintf(err, errlen, "bad TLB geometry (sets must be a power of two, ways >= 1)");
		goto fail;
	}
	if (psc_init(&vm->vcpu.psc, cfg->psc_entries) != 0) {
		snprintf(err, errlen, "bad paging-structure cache sizes");
		goto fail;
	}
	if (mode->init) {
		/* A mode's init may allocate host frames, and a failed allocation
		 * aborts: land here, not in exit(3). */
		jmp_buf jb;
		vm->abort_jmp = &jb;
		if (setjmp(jb) != 0) {
			vm->abort_jmp = NULL;
			snprintf(err, errlen, "%s", vm->err);
			goto fail;
		}
		int rc = mode->init(vm);
		vm->abort_jmp = NULL;
		if (rc != 0) {
			snprintf(err, errlen, "%s", vm->err[0] ? vm->err : "mode initialisation failed");
			goto fail;
		}
	}
	return vm;
fail:
	vm_destroy(vm);
	return NULL;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	if (vm->guest && vm->guest_shutdown)
		vm->guest_shutdown(vm);
	if (vm->mode_state && vm->mmu->destroy)
		vm->mmu->destroy(vm);
	psc_destroy(&vm->vcpu.psc);
	tlb_destroy(&vm->vcpu.tlb);
	ptcache_destroy(&vm->ptc);
	if (vm->hm.base)
		munmap(vm->hm.base, vm->hm.size);
	free(vm->hm.free);
	free(vm->p2m.map);
	free(vm);
}
