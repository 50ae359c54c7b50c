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
#include "cpu.h"

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
	numa_place_vmm_table(vm, f);
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
		if (!n) {
			/* Freeing must not fail (it runs at teardown too): a
			 * frame the list has no room for is not reused. The
			 * region is unmapped whole at vm_destroy(). */
			hm->in_use--;
			return;
		}
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
	if (p->identity)
		return gfn;
	if (p->slot[gfn])
		return p->slot[gfn];
	uint64_t n = page_bytes(vm->cfg.host_page) >> PAGE_SHIFT;
	struct hostmem *hm = &vm->hm;
	hostmem_count_alloc(vm);
	/* Chunk 0 stays unused: host frame 0 is never handed out. */
	if (hm->guest_next < 2 * n)
		vmmu_bug("p2m-region", "guest region exhausted at gfn %#" PRIx64, gfn);
	hm->guest_next -= n;
	hfn_t base = hm->guest_next;
	gfn_t g0 = gfn & ~(n - 1);
	for (uint64_t i = 0; i < n && g0 + i < p->nframes; i++) {
		p->slot[g0 + i] = base + i;
		numa_backed(vm, g0 + i, base + i);
	}
	hm->in_use += n;
	if (hm->in_use > hm->peak)
		hm->peak = hm->in_use;
	return p->slot[gfn];
}

/*
 * Nothing here is O(guest memory) in time or in resident memory: the
 * allocator serves arrays this large from fresh zero pages (or zeroes
 * memory the process already holds), so a page of them costs RAM only once
 * written. Native mode needs no slot array (identity).
 */
static int p2m_init(struct vm *vm, char *err, size_t errlen)
{
	struct p2m *p = &vm->p2m;
	p->nframes = vm->cfg.guest_mem >> PAGE_SHIFT;
	uint64_t words = (p->nframes + 63) / 64;
	p->used = calloc(words, sizeof(*p->used));
	p->used_sum = calloc((words + 63) / 64, sizeof(*p->used_sum));
	if (!p->identity)
		p->slot = calloc(p->nframes, sizeof(*p->slot));
	if (!p->used || !p->used_sum || (!p->identity && !p->slot)) {
		snprintf(err, errlen, "out of memory for the p2m of %" PRIu64 " frames", p->nframes);
		return -1;
	}
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
	p2m_mark_used(vm, gpa_to_gfn(gpa));
	hpa_write64(vm, HPA((h << PAGE_SHIFT) | (gpa.v & (PAGE_SIZE - 1))), v);
}

/* ---- digest ---- */

static uint64_t mix64(uint64_t h, uint64_t v)
{
	h ^= v + UINT64_C(0x9e3779b97f4a7c15) + (h << 6) + (h >> 2);
	h *= UINT64_C(0xff51afd7ed558ccd);
	return h ^ (h >> 33);
}

/* Mix one frame into h: returns h unchanged when the frame is all zero. */
static uint64_t digest_frame(uint64_t h, gfn_t g, const uint64_t *w)
{
	uint64_t any = 0;
	for (unsigned i = 0; i < PAGE_SIZE / 8; i++)
		any |= w[i];
	if (!any)
		return h; /* an all-zero frame reads as an unbacked one */
	uint64_t ph = mix64(0, g);
	for (unsigned i = 0; i < PAGE_SIZE / 8; i++)
		ph = ph * UINT64_C(0x100000001b3) ^ w[i];
	return mix64(h, ph);
}

/* The words of host frame f as the digest reads them: the frame itself, or
 * the mode's canonical copy of it (mmu_ops.digest_canon) in the caller's
 * buffer. */
static const uint64_t *digest_words(struct vm *vm, hfn_t f, uint64_t *buf)
{
	const uint64_t *w = (const uint64_t *)(vm->hm.base + (f << PAGE_SHIFT));
	if (!vm->mmu->digest_canon)
		return w;
	memcpy(buf, w, PAGE_SIZE);
	vm->mmu->digest_canon(vm, f, buf);
	return buf;
}

#define DIGEST_SEED UINT64_C(0xcbf29ce484222325)

uint64_t vm_guest_digest(struct vm *vm)
{
	struct p2m *p = &vm->p2m;
	uint64_t h = DIGEST_SEED, nread = 0;
	uint64_t buf[PAGE_SIZE / 8];
	uint64_t words = (p->nframes + 63) / 64;
	for (uint64_t s = 0; s < (words + 63) / 64; s++) {
		for (uint64_t sum = p->used_sum[s]; sum; sum &= sum - 1) {
			uint64_t w = s * 64 + (uint64_t)__builtin_ctzll(sum);
			for (uint64_t bits = p->used[w]; bits; bits &= bits - 1) {
				gfn_t g = w * 64 + (uint64_t)__builtin_ctzll(bits);
				hfn_t f = p2m_lookup(vm, g);
				if (f == INVALID_HFN)
					continue;
				nread++;
				h = digest_frame(h, g, digest_words(vm, f, buf));
			}
		}
	}
	p->digest_frames = nread;
	return h;
}

uint64_t vm_guest_digest_scan(struct vm *vm)
{
	uint64_t h = DIGEST_SEED;
	uint64_t buf[PAGE_SIZE / 8];
	for (gfn_t g = 0; g < vm->p2m.nframes; g++) {
		hfn_t f = p2m_lookup(vm, g);
		if (f != INVALID_HFN)
			h = digest_frame(h, g, digest_words(vm, f, buf));
	}
	return h;
}

void vm_stats_fold(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		if (vm->cpu[i] == NULL)
			continue; /* vm_create() failed part way */
		struct tlb_counters *c = &vm->cpu[i]->tlb.c;
		uint64_t n = c->l0_hits[0] + c->l0_hits[1];
		uint64_t nf = c->l0_fetch_hits[0] + c->l0_fetch_hits[1];

		if (nf != 0) {
			/* A fetch's hit: an access, an L1 hit, cost.access. */
			vm->st.accesses += nf;
			vm->st.user_accesses += c->l0_fetch_hits[1];
			vm->st.cyc_access += nf * vm->cost.access;
			c->lookups += nf;
			c->hits += nf;
			c->l1_hits += nf;
			c->l0_fetch_hits[0] = c->l0_fetch_hits[1] = 0;
		}
		if (n == 0)
			continue;
		vm->st.accesses += n;
		vm->st.user_accesses += c->l0_hits[1];
		c->l1d_hits += n;
		if (!vm->cache.on) {
			/* What vm_data_ref() does with the model off: an L1
			 * reference at cost.ref_l1. */
			vm->cache.served[0] += n;
			vm->st.cyc_access += n * vm->cost.ref_l1;
		}
		c->l0_hits[0] = c->l0_hits[1] = 0;
	}
}

void vm_sync_stats(struct vm *vm)
{
	vm_stats_fold(vm);
	vm->st.tlb_hits = vm->st.accesses - vm->st.tlb_misses;
}

/* ---- services for the modes ---- */

uint32_t vm_vmm_walk_ref(struct vm *vm, hpa_t entry, int *level)
{
	int l = CACHE_L1;
	uint32_t c = vm->cost.ref_l1;

	if (!cache_ref_last(&vm->cache, entry.v)) { /* as in vm_walk_ref() */
		l = cache_ref_rest(&vm->cache, entry.v);
		c = vm->ref_cycles[l];
	}
	if (unlikely(vm->numa.node != NULL))
		c = numa_walk_ref(vm, entry.v, l, c);
	vm->st.vmm_walk_refs++;
	vm->st.cyc_vmm += c;
	if (level)
		*level = l;
	return c;
}

void vm_emulated_access(struct vm *vm, hpa_t hpa)
{
	vm->st.cyc_access += vm_data_ref(vm, hpa.v);
}

static void vm_audit_by(struct vm *vm, const char *(*fn)(struct vm *, char *, size_t))
{
	if (!fn)
		return;
	char detail[200] = "";
	const char *bad = fn(vm, detail, sizeof(detail));
	if (bad)
		vm_abort(vm, "audit failed: invariant '%s' violated: %s", bad, detail);
}

void vm_audit(struct vm *vm)
{
	vm_audit_by(vm, vm->mmu->audit);
}

void vm_exit(struct vcpu *v, enum exit_reason reason, uint64_t *counter, uint32_t handler_cycles)
{
	struct vm *vm = v->vm;
	if (vm->exit_redirect) {
		vm->exit_redirect(v, reason, handler_cycles);
		if (vm->cfg.audit)
			vm_audit_by(vm, vm->mmu->audit_exit ? vm->mmu->audit_exit : vm->mmu->audit);
		return;
	}
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
		vm_audit_by(vm, vm->mmu->audit_exit ? vm->mmu->audit_exit : vm->mmu->audit);
}

/* ---- create and destroy ---- */

static const char *config_check(const struct vm_config *c)
{
	if (c->levels != 4 && c->levels != 5)
		return "levels must be 4 or 5";
	if (c->ept_levels != 4 && c->ept_levels != 5)
		return "EPT levels must be 4 or 5";
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
	if (c->vcpus > VMMU_MAX_VCPUS)
		return "vcpus must be 1..64";
	if (c->host_cpus > VMMU_MAX_VCPUS)
		return "host CPUs must be 0..64";
	if (c->host_nodes > NUMA_MAX_NODES)
		return "host nodes must be 1..8";
	return NULL;
}

/* After an init that failed: was it the simulator's heap (ENOMEM)? Then
 * say so in err. The geometries were bounded by config_check_bounds(). */
static bool vm_heap_failed(char *err, size_t errlen, const char *what)
{
	if (errno != ENOMEM)
		return false;
	snprintf(err, errlen, "simulator out of memory (%s)", what);
	return true;
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
	if (cfg->cr4_pke && !mode->has_pke) {
		snprintf(err, errlen,
			 "%s: --pke on (CR4.PKE) is not modelled in this mode: KVM exposes "
			 "protection keys only with EPT/NPT, Xen only to HVM guests "
			 "(docs/conformance.md)",
			 mode->name);
		return NULL;
	}
	if (cfg->vcpus > 1 && !mode->smp) {
		snprintf(err, errlen,
			 "--vcpus %u: mode %s runs one vCPU only (several vCPUs: native, shadow, "
			 "nested)",
			 cfg->vcpus, mode->name);
		return NULL;
	}
	struct vm *vm = calloc(1, sizeof(*vm));
	if (!vm) {
		snprintf(err, errlen, "simulator out of memory (the VM)");
		return NULL;
	}
	vm->cfg = *cfg;
	vm->mmu = mode;
	vm->nr_vcpus = cfg->vcpus ? cfg->vcpus : 1;
	vm->cpu[0] = &vm->vcpu;
	vm->cur = &vm->vcpu;
	for (unsigned i = 0; i < VMMU_MAX_VCPUS; i++)
		vm->host_last[i] = i; /* each host CPU last ran its first vCPU */
	for (unsigned i = 1; i < vm->nr_vcpus; i++) {
		vm->cpu[i] = calloc(1, sizeof(struct vcpu));
		if (!vm->cpu[i]) {
			snprintf(err, errlen, "simulator out of memory (%u vCPUs)", vm->nr_vcpus);
			goto fail;
		}
	}
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = vm->cpu[i];
		v->vm = vm;
		v->id = i;
		/* KVM allocates one VPID per vCPU (allocate_vpid()). */
		v->vpid = cfg->vpid ? (uint16_t)(i + 1) : 0;
		v->tlb_ctx = tlb_ctx(v->vpid, vcpu_pcid(v));
		/* The controls the guest kernel will set at boot (it writes them
		 * with cpu_set_paging_ctl()); tables built by hand before any
		 * boot see the same ones. */
		v->ctl = (struct paging_ctl){ .wp = cfg->cr0_wp,
					      .smep = cfg->cr4_smep,
					      .smap = cfg->cr4_smap,
					      .nxe = cfg->efer_nxe,
					      .pke = cfg->cr4_pke };
		cpu_rights_update(v);
	}
	vm->p2m.identity = mode->identity_p2m;
	/* A paravirtual guest's direct map holds machine frames: the p2m hands
	 * out machine extents at least as large as its direct-map pages, so
	 * each direct-map leaf is machine-contiguous (docs/pv.md). */
	if (mode->paravirt && vm->cfg.host_page < cfg->direct_map_page)
		vm->cfg.host_page = cfg->direct_map_page;
	vm->cost = cfg->cost;
	for (int l = CACHE_L1; l <= CACHE_DRAM; l++)
		vm->ref_cycles[l] = cost_ref_latency(&vm->cost, l);
	errno = 0; /* an allocation that fails below leaves ENOMEM */
	if (cache_init(&vm->cache, cfg->cache, cfg->cache_model) != 0) {
		if (vm_heap_failed(err, errlen, "the cache model"))
			goto fail;
		snprintf(err, errlen,
			 "bad cache geometry (sets a power of two up to %" PRIu32
			 ", ways 1..%u) or out of memory",
			 CACHE_MAX_SETS, CACHE_MAX_WAYS);
		goto fail;
	}
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vm->cpu[i]->cache_on = vm->cache.on; /* for the TLB-hit path */
	if (p2m_init(vm, err, errlen) || hostmem_init(vm, err, errlen) ||
	    numa_init(vm, err, errlen))
		goto fail;
	struct tlb_shape shape = {
		.l1d = cfg->l1d, .l1d_large = cfg->l1d_large, .l1i = cfg->l1i, .l2 = cfg->l2
	};
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		if (tlb_init(&vm->cpu[i]->tlb, &shape) != 0) {
			if (vm_heap_failed(err, errlen, "the TLBs"))
				goto fail;
			snprintf(err, errlen,
				 "bad TLB geometry (sets must be a power of two, ways >= 1)");
			goto fail;
		}
		if (psc_init(&vm->cpu[i]->psc, cfg->psc_entries) != 0) {
			if (vm_heap_failed(err, errlen, "the paging-structure caches"))
				goto fail;
			snprintf(err, errlen, "bad paging-structure cache sizes");
			goto fail;
		}
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
	if (vm->io && vm->io->destroy)
		vm->io->destroy(vm);
	if (vm->mode_state && vm->mmu->destroy)
		vm->mmu->destroy(vm);
	for (unsigned i = vm->nr_vcpus; i-- > 0;) {
		if (!vm->cpu[i])
			continue;
		psc_destroy(&vm->cpu[i]->psc);
		tlb_destroy(&vm->cpu[i]->tlb);
		if (i > 0)
			free(vm->cpu[i]);
	}
	cache_destroy(&vm->cache);
	numa_destroy(vm);
	if (vm->hm.base)
		munmap(vm->hm.base, vm->hm.size);
	free(vm->hm.free);
	free(vm->p2m.slot);
	free(vm->p2m.used);
	free(vm->p2m.used_sum);
	free(vm);
}
