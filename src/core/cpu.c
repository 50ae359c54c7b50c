/*
 * cpu.c - the slow path of the vCPU engine and the privileged operations.
 *
 * cpu_access_slow() runs when the inline TLB-hit path in cpu.h could not
 * complete an access. It asks the MMU mode to translate, inserts the fill,
 * delivers guest faults to guest-mm and retries, until the access is done.
 *
 * Accounting rules (each access is counted once):
 *   - accesses: counted by the inline path (an L0 hit through its
 *     TLB's l0_hits, folded in by vm_stats_fold());
 *   - tlb_misses: accesses that did not complete on their first lookup
 *     (a miss, or a hit without the rights or the dirty state needed);
 *     tlb_hits is derived as accesses - tlb_misses when a run ends;
 *   - walks / walk_refs: translations that ended in a TLB fill, with the
 *     hardware references they made; the _user variants for CPL 3;
 *   - fault_walk_refs: references of translations that ended otherwise.
 */
#include <string.h>

#include "cpu.h"
#include "walk.h"
#include "hypercall.h"

/* Bound on translate attempts for one access: each attempt makes progress
 * (a fault handled, an spte installed, a frame mapped); more than this means
 * the mode and the guest disagree forever. */
#define CPU_MAX_RETRIES 64

static uint64_t cpu_complete(struct vcpu *v, hpa_t page, enum page_size ps, struct mem_access *a)
{
	struct vm *vm = v->vm;
	uint64_t hpa = page.v + (a->gva & (page_bytes(ps) - 1));
	uint8_t *p = vm->hm.base + hpa;
	vm->st.cyc_access += a->kind == ACC_FETCH ? vm->cost.access : vm_data_ref(vm, hpa);
	if (a->kind == ACC_WRITE) {
		cpu_store_sized(p, a->size, a->value);
		return a->value;
	}
	if (a->kind == ACC_FETCH)
		return 0;
	return cpu_load_sized(p, a->size);
}

static void cpu_deliver_fault(struct vcpu *v, const struct guest_fault *f)
{
	struct vm *vm = v->vm;
	vm->st.guest_faults++;
	vm->st.cyc_guest += vm->cost.pf_delivery + vm->cost.pf_handler;
	TRACE(vm, .kind = TR_GUEST_FAULT, .gva = f->gva, .level = f->level,
	      .result = f->error_code, .cycles = vm->cost.pf_delivery + vm->cost.pf_handler,
	      .what = "page fault delivered to the guest kernel");
	const struct idt_entry *pf = &v->idt[VEC_PF];
	if (pf->fn == NULL)
		vm_abort(vm, "page fault at 0x%" PRIx64 " (error code %#x) with no #PF handler installed",
			 f->gva, f->error_code);
	bool user = v->user;
	v->user = false;
	pf->fn(v, f, pf->ctx);
	v->user = user;
}

void cpu_set_vector(struct vcpu *v, unsigned vec, vcpu_vector_fn fn, void *ctx)
{
	if (vec >= VEC_NR)
		vmmu_bug("vector<VEC_NR", "vector %u", vec);
	v->idt[vec] = (struct idt_entry){ .fn = fn, .ctx = ctx };
}

/* The TLB-hit check of the slow path: cpu_tlb_ok() with protection keys.
 * Without CR4.PKE it is cpu_tlb_ok(). With it, the rights come from
 * tlb_rights (which, unlike tlb_ok, pass a data access to a user page) and
 * the entry's key is checked against PKRU, which WRPKRU changes without a
 * TLB flush. */
static bool cpu_tlb_ok_pk(const struct vcpu *v, const struct tlb_entry *e, enum access_kind k,
			  bool user)
{
	if (likely(!v->ctl.pke))
		return cpu_tlb_ok(v, e, k, user);
	if (e == NULL || !((v->tlb_rights[k][user] >> ((e->flags >> 1) & 31)) & 1))
		return false;
	const struct mem_access a = {.kind = k, .user = user};
	return walk_check_pk(&v->hw_rights, v->pkru, e->flags, e->pkey, &a) == 0;
}

/* Translate and perform access a, retrying after faults and exits, without
 * counting it: the caller has counted the access and its TLB miss. */
static uint64_t cpu_resolve(struct vcpu *v, struct mem_access *a)
{
	struct vm *vm = v->vm;
	for (int tries = 0; tries < CPU_MAX_RETRIES; tries++) {
		if (tries > 0) {
			struct tlb_entry *e =
				tlb_lookup(&v->tlb, a->gva, v->vpid, vcpu_pcid(v), a->kind);
			if (cpu_tlb_ok_pk(v, e, a->kind, a->user))
				return cpu_complete(v, HPA(e->hpa), (enum page_size)e->size, a);
		}
		struct xlate x;
		memset(&x, 0, sizeof(x));
		uint64_t cyc_walk0 = vm->st.cyc_walk;
		enum xlate_result r = vm->mmu->translate(v, a, &x);
		switch (r) {
		case XLATE_OK:
			vm->st.walks++;
			vm->st.walk_refs += x.refs;
			if (a->user) {
				vm->st.walks_user++;
				vm->st.walk_refs_user += x.refs;
				vm->st.walk_cycles_user += vm->st.cyc_walk - cyc_walk0;
			}
			if (!cpu_tlb_ok_pk(v, &(struct tlb_entry){ .flags = x.fill.flags,
								     .pkey = x.fill.pkey },
					   a->kind, a->user))
				vmmu_bug("fill-grants-access",
					 "%s filled gva %#" PRIx64 " with flags %#x for access kind %d",
					 vm->mmu->name, a->gva, x.fill.flags, (int)a->kind);
			tlb_insert(&v->tlb, &x.fill, v->vpid, vcpu_pcid(v), a->kind);
			TRACE(vm, .kind = TR_TLB_FILL, .gva = a->gva, .addr = x.fill.hpa.v,
			      .level = (int)x.fill.size + 1, .result = x.fill.flags, .what = "TLB fill");
			return cpu_complete(v, x.fill.hpa, x.fill.size, a);
		case XLATE_FAULT:
			vm->st.fault_walk_refs += x.refs;
			cpu_deliver_fault(v, &x.fault);
			break;
		case XLATE_RETRY:
			vm->st.fault_walk_refs += x.refs;
			break;
		case XLATE_DONE:
			vm->st.fault_walk_refs += x.refs;
			return a->value;
		}
	}
	vmmu_bug("access-progress", "%s: access to gva %#" PRIx64 " made no progress in %d tries",
		 vm->mmu->name, a->gva, CPU_MAX_RETRIES);
}

uint64_t cpu_access_slow(struct vcpu *v, struct mem_access *a)
{
	struct vm *vm = v->vm;
	if (v->tlb_ctx != tlb_ctx(v->vpid, vcpu_pcid(v)))
		vmmu_bug("tlb-ctx", "vCPU %u: tlb_ctx %#x, vpid %u, pcid %u", v->id, v->tlb_ctx,
			 v->vpid, vcpu_pcid(v));
	if (unlikely(v->ctl.pke) && a->kind != ACC_FETCH) {
		/* CR4.PKE: a data access to a user page leaves the inline path
		 * (tlb_ok refuses it). A hit that the key allows completes here,
		 * as the hit it is; the look-up the inline path counted is not
		 * counted again. */
		struct tlb_counters c = v->tlb.c;
		struct tlb_entry *e = tlb_lookup(&v->tlb, a->gva, v->vpid, vcpu_pcid(v), a->kind);
		v->tlb.c = c;
		if (e != NULL && (e->flags & TLBF_U) && cpu_tlb_ok_pk(v, e, a->kind, a->user))
			return cpu_complete(v, HPA(e->hpa), (enum page_size)e->size, a);
	}
	vm->st.tlb_misses++;
	TRACE(vm, .kind = TR_TLB_MISS, .gva = a->gva, .access = a->kind, .user = a->user,
	      .what = "TLB miss");
	return cpu_resolve(v, a);
}

uint64_t cpu_load_any(struct vcpu *v, gva_t gva, unsigned size)
{
	uint64_t room = PAGE_SIZE - (gva & (PAGE_SIZE - 1));
	if (size <= room && (size == 1 || size == 2 || size == 4 || size == 8))
		return cpu_load(v, gva, size);
	uint64_t val = 0;
	for (unsigned i = 0; i < size;) {
		gva_t a = gva + i;
		unsigned left = (unsigned)(PAGE_SIZE - (a & (PAGE_SIZE - 1)));
		unsigned n = size - i < left ? size - i : left;
		unsigned chunk = n >= 8 ? 8 : n >= 4 ? 4 : n >= 2 ? 2 : 1;
		val |= cpu_load(v, a, chunk) << (8 * i);
		i += chunk;
	}
	return val;
}

void cpu_store_any(struct vcpu *v, gva_t gva, unsigned size, uint64_t val)
{
	uint64_t room = PAGE_SIZE - (gva & (PAGE_SIZE - 1));
	if (size <= room && (size == 1 || size == 2 || size == 4 || size == 8)) {
		cpu_store(v, gva, size, val);
		return;
	}
	for (unsigned i = 0; i < size;) {
		gva_t a = gva + i;
		unsigned left = (unsigned)(PAGE_SIZE - (a & (PAGE_SIZE - 1)));
		unsigned n = size - i < left ? size - i : left;
		unsigned chunk = n >= 8 ? 8 : n >= 4 ? 4 : n >= 2 ? 2 : 1;
		cpu_store(v, a, chunk, i < 8 ? val >> (8 * i) : 0);
		i += chunk;
	}
}

static void cpu_count_flush(struct vm *vm, uint64_t dropped)
{
	vm->st.tlb_flushes++;
	vm->st.tlb_entries_flushed += dropped;
}

void cpu_rights_update(struct vcpu *v)
{
	struct paging_ctl hw = v->ctl;
	const struct mmu_ops *m = v->vm->mmu;
	if (m && m->hw_ctl) {
		m->hw_ctl(v, &hw);
	} else if (m && m->forces_wp_nx) {
		hw.wp = true;
		hw.nxe = true;
	}
	tlb_l0_clear(&v->tlb); /* its tags hold rights checked under the old ones */
	paging_rights_compute(&v->ctl, v->ac, &v->guest_rights);
	paging_rights_compute(&hw, v->ac, &v->hw_rights);
	/* TLB flags >> 1: bit 0 W, 1 U, 2 NX, 3 G, 4 D. */
	for (int k = ACC_READ; k <= ACC_FETCH; k++) {
		for (int u = 0; u < 2; u++) {
			uint32_t bits = 0;
			for (unsigned i = 0; i < 32; i++) {
				uint8_t flags = (uint8_t)(i << 1);
				bool ok = rights_allow(&hw, v->ac, flags & (TLBF_W | TLBF_U | TLBF_NX),
						       (enum access_kind)k, u);
				/* A store through a clean entry walks to set D. */
				if (k == ACC_WRITE && !(flags & TLBF_D))
					ok = false;
				if (ok)
					bits |= UINT32_C(1) << i;
			}
			v->tlb_rights[k][u] = bits;
			/* CR4.PKE: a data access to a user page takes the slow
			 * path, which checks the key (cpu_access_slow()). */
			if (v->ctl.pke && k != ACC_FETCH)
				for (unsigned i = 0; i < 32; i++)
					if ((i << 1) & TLBF_U)
						bits &= ~(UINT32_C(1) << i);
			v->tlb_ok[k][u] = bits;
		}
	}
}

void cpu_set_paging_ctl(struct vcpu *v, const struct paging_ctl *ctl)
{
	struct vm *vm = v->vm;
	if (v->ctl.wp == ctl->wp && v->ctl.smep == ctl->smep && v->ctl.smap == ctl->smap &&
	    v->ctl.nxe == ctl->nxe && v->ctl.pke == ctl->pke)
		return; /* nothing changes: no flush, no exit */
	v->ctl = *ctl;
	cpu_rights_update(v);
	uint64_t n = tlb_flush_vpid(&v->tlb, v->vpid);
	psc_flush_vpid(&v->psc, v->vpid);
	cpu_count_flush(vm, n);
	TRACE(vm, .kind = TR_GUEST_OP, .result = n,
	      .what = "paging controls written (CR0.WP, CR4.SMEP/SMAP, EFER.NXE)");
	if (vm->mmu->on_ctl_change)
		vm->mmu->on_ctl_change(v);
}

void cpu_set_pkru(struct vcpu *v, uint32_t pkru)
{
	/* WRPKRU: no TLB flush, no VM exit (PKRU is guest state). */
	v->pkru = pkru;
}

void cpu_set_ac(struct vcpu *v, bool ac)
{
	if (v->ac == ac)
		return;
	v->ac = ac;
	cpu_rights_update(v);
}

void cpu_write_cr3(struct vcpu *v, uint64_t cr3)
{
	struct vm *vm = v->vm;
	uint64_t old = v->cr3;
	bool pcide = vm->cfg.pcid;
	uint16_t pcid = pcide ? (uint16_t)(cr3 & CR3_PCID_MASK) : 0;
	bool noflush = pcide && (cr3 & CR3_NOFLUSH);
	vm->st.cr3_loads++;
	vm->st.cyc_flush += vm->cost.cr3_load;
	v->cr3 = (cr3 & PTE_FRAME_MASK) | pcid;
	v->tlb_ctx = tlb_ctx(v->vpid, pcid);
	tlb_l0_clear(&v->tlb); /* its tags were for the old PCID */
	v->cr3_noflush = noflush;
	uint64_t n = 0;
	if (!noflush) {
		n = tlb_flush_pcid(&v->tlb, v->vpid, pcid);
		psc_flush_pcid(&v->psc, v->vpid, pcid);
		cpu_count_flush(vm, n);
	}
	TRACE(vm, .kind = TR_GUEST_OP, .addr = v->cr3, .result = n, .cycles = vm->cost.cr3_load,
	      .what = noflush ? "mov cr3 (no flush)" : "mov cr3");
	if (vm->mmu->on_cr3_load)
		vm->mmu->on_cr3_load(v, old);
}

void cpu_invlpg(struct vcpu *v, gva_t gva)
{
	struct vm *vm = v->vm;
	vm->st.invlpgs++;
	v->n.invlpgs++;
	vm->st.cyc_flush += vm->cost.invlpg;
	uint64_t n = tlb_flush_addr(&v->tlb, v->vpid, vcpu_pcid(v), gva);
	/* SDM Vol. 3A §4.10.4.1: INVLPG also drops every paging-structure-cache
	 * entry of the current PCID, whatever linear address it covers. */
	psc_flush_pcid(&v->psc, v->vpid, vcpu_pcid(v));
	cpu_count_flush(vm, n);
	TRACE(vm, .kind = TR_GUEST_OP, .gva = gva, .result = n, .cycles = vm->cost.invlpg,
	      .what = "invlpg");
	if (vm->mmu->on_invlpg)
		vm->mmu->on_invlpg(v, gva);
}

void cpu_flush_tlb(struct vcpu *v, bool all)
{
	struct vm *vm = v->vm;
	vm->st.guest_tlb_flushes++;
	v->n.guest_flushes++;
	vm->st.cyc_flush += vm->cost.tlb_flush;
	uint64_t n;
	if (all) {
		n = tlb_flush_vpid(&v->tlb, v->vpid);
		psc_flush_vpid(&v->psc, v->vpid);
	} else {
		n = tlb_flush_pcid(&v->tlb, v->vpid, vcpu_pcid(v));
		psc_flush_pcid(&v->psc, v->vpid, vcpu_pcid(v));
	}
	cpu_count_flush(vm, n);
	TRACE(vm, .kind = TR_GUEST_OP, .result = n, .cycles = vm->cost.tlb_flush,
	      .what = all ? "tlb flush (all)" : "tlb flush (pcid)");
	if (vm->mmu->on_tlb_flush)
		vm->mmu->on_tlb_flush(v, all);
}

/*
 * Host pointer of a 4 KiB page whose translation allows 'kind', for the
 * bulk operations. The whole operation counts as one access, and as one TLB
 * miss when the first lookup does not allow it, whatever it takes to
 * resolve: the guest's clear_page or copy_page is the same instruction
 * stream under every mode. Faults and exits are resolved by ordinary
 * translated accesses. For a write the probes store words of 'src' (zeros
 * when NULL) at increasing offsets, so a store the VMM emulates (a
 * write-protected guest table) is never lost; *done gets the bytes already
 * written, and NULL is returned when every word went through emulation.
 */
static uint8_t *cpu_page_ptr(struct vcpu *v, gva_t kva, enum access_kind kind,
			     const uint8_t *src, uint64_t *done)
{
	struct vm *vm = v->vm;
	vm->st.accesses++;
	vm->st.user_accesses += v->user;
	/* The bulk operation's data movement is priced by page_zero/page_copy:
	 * its one access is charged the flat cost.access, and the probes below
	 * (completed or emulated stores) leave cyc_access as they found it:
	 * L0 hits of the guest code that resolving runs included, which
	 * vm_stats_fold() adds before it is put back. */
	vm_stats_fold(vm);
	vm->st.cyc_access += vm->cost.access;
	const uint64_t cyc_access = vm->st.cyc_access;
	bool missed = false;
	int reads = 0;
	*done = 0;
	for (uint64_t off = 0; off < PAGE_SIZE;) {
		struct tlb_entry *e = tlb_lookup(&v->tlb, kva, v->vpid, vcpu_pcid(v), kind);
		if (cpu_tlb_ok_pk(v, e, kind, v->user)) {
			*done = off;
			vm_stats_fold(vm);
			vm->st.cyc_access = cyc_access;
			return cpu_hit_ptr(v, e, kva);
		}
		if (!missed) {
			missed = true;
			vm->st.tlb_misses++;
			TRACE(vm, .kind = TR_TLB_MISS, .gva = kva, .access = kind, .user = v->user,
			      .what = "TLB miss");
		}
		struct mem_access a = { .gva = kva + off, .kind = kind, .size = 8, .user = v->user };
		if (kind == ACC_READ) {
			/* Resolving a load maps the page; then look it up again. */
			if (++reads > 4)
				vmmu_bug("read-progress", "page %#" PRIx64 " stays unreadable", kva);
			a.gva = kva;
			(void)cpu_resolve(v, &a);
			continue;
		}
		if (src)
			memcpy(&a.value, src + off, 8);
		(void)cpu_resolve(v, &a);
		off += 8;
	}
	*done = PAGE_SIZE;
	vm_stats_fold(vm);
	vm->st.cyc_access = cyc_access;
	return NULL;
}

/*
 * The lines of a page that a bulk operation wrote or read pass through the
 * cache model, in address order: clear_page and copy_page leave them cached
 * (write-allocate). Their cycles are in page_zero/page_copy, not here.
 * cache_ref_page() is the 64 cache_ref() calls of the lines in one pass.
 */
static void cpu_cache_page(struct vm *vm, const uint8_t *p)
{
	cache_ref_page(&vm->cache, (uint64_t)(p - vm->hm.base) & PAGE_MASK);
}

void cpu_zero_page(struct vcpu *v, gva_t kva)
{
	struct vm *vm = v->vm;
	kva &= PAGE_MASK;
	vm->st.pages_zeroed++;
	vm->st.cyc_guest += vm->cost.page_zero;
	uint64_t done;
	uint8_t *p = cpu_page_ptr(v, kva, ACC_WRITE, NULL, &done);
	if (p) {
		memset(p + done, 0, PAGE_SIZE - done);
		cpu_cache_page(vm, p);
	}
	TRACE(vm, .kind = TR_GUEST_OP, .gva = kva, .cycles = vm->cost.page_zero,
	      .what = "zero page");
}

void cpu_copy_page(struct vcpu *v, gva_t dst_kva, gva_t src_kva)
{
	struct vm *vm = v->vm;
	dst_kva &= PAGE_MASK;
	src_kva &= PAGE_MASK;
	vm->st.pages_copied++;
	vm->st.cyc_guest += vm->cost.page_copy;
	uint64_t done;
	const uint8_t *s = cpu_page_ptr(v, src_kva, ACC_READ, NULL, &done);
	if (!s)
		vmmu_bug("copy-source", "source page %#" PRIx64 " could not be read", src_kva);
	uint8_t *d = cpu_page_ptr(v, dst_kva, ACC_WRITE, s, &done);
	cpu_cache_page(vm, s);
	if (d) {
		memcpy(d + done, s + done, PAGE_SIZE - done);
		cpu_cache_page(vm, d);
	}
	TRACE(vm, .kind = TR_GUEST_OP, .gva = dst_kva, .addr = src_kva,
	      .cycles = vm->cost.page_copy, .what = "copy page");
}

long cpu_hypercall(struct vcpu *v, unsigned nr, void *args, unsigned count)
{
	struct vm *vm = v->vm;
	if (!vm->mmu->hypercall)
		return -PV_ENOSYS;
	bool user = v->user;
	v->user = false;
	long r = vm->mmu->hypercall(v, nr, args, count);
	v->user = user;
	return r;
}

/* ---- MMIO to the I/O platform (io.h) ---- */

void io_mmio_write(struct vcpu *v, unsigned dev, unsigned reg, uint64_t val)
{
	if (!v->vm->io)
		vm_abort(v->vm, "MMIO write to device %u: no I/O platform is attached to this VM", dev);
	v->vm->io->mmio_write(v, dev, reg, val);
}

uint64_t io_mmio_read(struct vcpu *v, unsigned dev, unsigned reg)
{
	if (!v->vm->io)
		vm_abort(v->vm, "MMIO read of device %u: no I/O platform is attached to this VM", dev);
	return v->vm->io->mmio_read(v, dev, reg);
}
