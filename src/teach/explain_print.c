/*
 * explain_print.c - the text and JSON forms of an explained access.
 *
 * Both printers read only the records of struct xp_trace (the trace events
 * of the real mechanism, annotated by explain.c). They decode entries with
 * the format helpers of pte.h and take index bits with pt_index(), so the
 * numbers they print are the walkers' own: a reference's index, table and
 * entry address come from its event, never from a walk of their own.
 *
 * Text: a header (machine, CR3, the address split into its index fields),
 * then every event in order: each reference as a block of lines, each VM
 * exit, VMM action, guest fault and TLB fill as one line; then the final
 * translation and the cost of the access.
 *
 * JSON: one array; one object per line; objects of type "reference" (one
 * per walk cell, in hardware order), "event" (anything else the mechanism
 * did), and a last one of type "translation". Addresses and entries are
 * strings of hex digits with 0x, because 64-bit values do not fit the
 * doubles many JSON readers use. docs/explain.md documents every field.
 */
#include <string.h>

#include "explain.h"
#include "../core/pte.h"

/* ---- shared helpers ---- */

const char *xp_level_name(int level)
{
	static const char *const names[] = {"?", "PT", "PD", "PDPT", "PML4", "PML5"};
	return level >= 1 && level <= 5 ? names[level] : "?";
}

/* Bits the index of 'level' takes: hi and lo bit numbers. */
static void xp_level_bits(int level, int *hi, int *lo)
{
	*lo = (int)level_shift(level);
	*hi = *lo + 8;
}

/* Is record r a reference whose index is taken from a guest-physical address? */
static bool xp_rec_host(const struct xp_rec *r)
{
	return r->ev.dim == DIM_HOST;
}

/* The address whose bits index the table of record r. */
static uint64_t xp_indexed(const struct xp_trace *t, const struct xp_rec *r)
{
	return xp_rec_host(r) ? r->ev.addr : t->gva;
}

static const char *xp_cache_name(int cl)
{
	static const char *const names[] = {"not modelled", "L1", "L2", "LLC", "DRAM"};
	return cl >= 0 && cl <= 4 ? names[cl] : "?";
}

static void xp_bin9(char *buf, unsigned v)
{
	for (int i = 0; i < 9; i++)
		buf[i] = (char)('0' + ((v >> (8 - i)) & 1));
	buf[9] = '\0';
}

static const char *xp_dim_name(const struct xp_rec *r)
{
	switch (r->ev.dim) {
	case DIM_NATIVE:
		return "native";
	case DIM_GUEST:
		return "guest";
	case DIM_HOST:
		return "host";
	case DIM_SHADOW:
		return "shadow";
	}
	return "?";
}

static const char *xp_served_name(enum trace_served s)
{
	switch (s) {
	case SERVED_MEMORY:
		return "memory";
	case SERVED_PSC:
	case SERVED_PWC:
		return "walk_cache";
	case SERVED_NTLB:
		return "nested_tlb";
	}
	return "?";
}

const char *xp_exit_name(uint64_t reason)
{
	switch (reason) {
	case EXIT_EXCEPTION:
		return "exception (#PF)";
	case EXIT_INVLPG:
		return "INVLPG";
	case EXIT_CR_ACCESS:
		return "CR access";
	case EXIT_EPT_VIOLATION:
		return "EPT violation";
	case EXIT_EPT_MISCONFIG:
		return "EPT misconfiguration";
	case EXIT_VMREAD:
		return "VMREAD";
	case EXIT_VMRESUME:
		return "VMRESUME";
	case EXIT_VMWRITE:
		return "VMWRITE";
	case EXIT_INVEPT:
		return "INVEPT";
	}
	return "other";
}

static void xp_pfec(char *buf, size_t len, uint64_t ec)
{
	snprintf(buf, len, "%s, %s, %s%s", (ec & PFEC_P) ? "protection" : "not present",
		 (ec & PFEC_W)	 ? "write"
		 : (ec & PFEC_I) ? "fetch"
				 : "read",
		 (ec & PFEC_U) ? "user" : "supervisor", (ec & PFEC_RSVD) ? ", reserved bit" : "");
}

/* The name of the address space a 1D walk of the guest's own tables reads:
 * physical (no VMM, guest-physical = host-physical) or machine (a
 * paravirtual guest's tables hold machine frames). */
static const char *xp_pa(const struct xp_trace *t)
{
	return t->machine ? "mPA" : "PA";
}

/* Decoded bits of an entry, and where it leads. */
static void xp_decode(char *buf, size_t len, const struct xp_trace *t, const struct xp_rec *r)
{
	uint64_t e = r->ev.entry;
	int l = r->ev.level;
	if (r->ev.dim == DIM_HOST) {
		bool leaf = l == LVL_PT || ((l == LVL_PD || l == LVL_PDPT) && (e & EPTE_PS));
		int n = snprintf(buf, len, "R=%d W=%d X=%d memtype=%u%s IPAT=%d PS=%d A=%d D=%d",
				 !!(e & EPTE_R), !!(e & EPTE_W), !!(e & EPTE_X), epte_memtype(e),
				 leaf && epte_memtype(e) == 6 ? "(WB)" : "", !!(e & EPTE_IPAT),
				 !!(e & EPTE_PS), !!(e & EPTE_A), !!(e & EPTE_D));
		if (n < 0 || (size_t)n >= len)
			return;
		if (!epte_present(e))
			snprintf(buf + n, len - (size_t)n, "  -> not present");
		else if (leaf)
			snprintf(buf + n, len - (size_t)n, "  -> %s page at hPA 0x%" PRIx64,
				 page_size_name(level_page_size(l)),
				 e & PTE_FRAME_MASK & ~(page_bytes(level_page_size(l)) - 1));
		else
			snprintf(buf + n, len - (size_t)n, "  -> next EPT table at hPA 0x%" PRIx64,
				 pte_frame(e));
		return;
	}
	const char *sp = r->ev.dim == DIM_SHADOW   ? "hPA"
			 : r->ev.dim == DIM_NATIVE ? xp_pa(t)
						   : "gPA";
	int n = snprintf(buf, len, "P=%d RW=%d US=%d A=%d D=%d PS=%d NX=%d G=%d", !!(e & GPTE_P),
			 !!(e & GPTE_RW), !!(e & GPTE_US), !!(e & GPTE_A), !!(e & GPTE_D),
			 !!(e & GPTE_PS), !!(e & GPTE_NX), !!(e & GPTE_G));
	if (n < 0 || (size_t)n >= len)
		return;
	if (!gpte_present(e))
		snprintf(buf + n, len - (size_t)n, "  -> not present");
	else if (l == LVL_PT || gpte_large(e, l))
		snprintf(buf + n, len - (size_t)n, "  -> %s page at %s 0x%" PRIx64,
			 page_size_name(level_page_size(l)), sp, gpte_leaf_frame(e, l));
	else
		snprintf(buf + n, len - (size_t)n, "  -> next table at %s 0x%" PRIx64, sp,
			 pte_frame(e));
}

/* ---- text ---- */

static void xp_text_header(FILE *f, const struct xp_trace *t)
{
	const bool nested = t->two_d;
	fprintf(f, "vmmu explain: %s %s of gVA 0x%016" PRIx64 " under %s paging\n",
		t->user ? "user" : "kernel", xp_access_noun(t->access), t->gva, t->mode);
	fprintf(f,
		"machine: %d-level guest tables%s, guest page %s, host page %s, walk caches %s%s\n",
		t->levels,
		nested ? (t->ept_levels == 5 ? " over a 5-level EPT" : " over a 4-level EPT") : "",
		page_size_name(t->guest_page), page_size_name(t->host_page),
		t->walk_caches ? "on" : "off",
		t->warmed ? " (warmed by a load of the neighbouring page)" : "");
	if (t->ept_note)
		fprintf(f, "tables: %s\n", t->ept_note);
	fprintf(f, "guest CR3: 0x%016" PRIx64 " (table at %s 0x%" PRIx64 ", PCID %" PRIu64 ")\n",
		t->cr3,
		t->identity  ? "PA"
		: t->machine ? "mPA"
			     : "gPA",
		pte_frame(t->cr3), t->cr3 & CR3_PCID_MASK);

	/* The address, split into its fields. */
	fprintf(f, "\ngVA 0x%016" PRIx64 " split into its fields:\n", t->gva);
	int sign_lo = t->levels == 5 ? 57 : 48;
	fprintf(f, "  %-6s bits 63:%-2d = 0x%" PRIx64 "%s\n", "sign", sign_lo, t->gva >> sign_lo,
		"  (copies of the top index bit: the address is canonical)");
	for (int l = t->levels; l >= 1; l--) {
		int hi, lo;
		char b[10];
		xp_level_bits(l, &hi, &lo);
		xp_bin9(b, pt_index(t->gva, l));
		fprintf(f, "  %-6s bits %d:%-2d = 0b%s = 0x%03x\n", xp_level_name(l), hi, lo, b,
			pt_index(t->gva, l));
	}
	fprintf(f, "  %-6s bits 11:0  = 0x%03" PRIx64 "\n\n", "offset", t->gva & 0xfff);
}

static void xp_text_title(FILE *f, const struct xp_trace *t, const struct xp_rec *r)
{
	const struct trace_event *ev = &r->ev;
	const char *ln = xp_level_name(ev->level);
	switch (ev->dim) {
	case DIM_NATIVE:
		fprintf(f, "%s: %s entry (level %d)",
			t->machine ? "1D walk of the guest's table" : "native walk", ln, ev->level);
		break;
	case DIM_SHADOW:
		fprintf(f, "hardware walk of the shadow table: %s entry (level %d)", ln, ev->level);
		break;
	case DIM_GUEST:
		if (r->soft)
			fprintf(f, "VMM software walk of the guest table: %s entry (level %d)", ln,
				ev->level);
		else
			fprintf(f, "guest %s entry (guest level %d)", ln, ev->level);
		break;
	case DIM_HOST:
		if (ev->guest_level > 0)
			fprintf(f,
				"%s %s entry (host level %d) for guest level %d: gPA 0x%" PRIx64
				" of the guest %s entry",
				t->ept, ln, ev->host_level, ev->guest_level, ev->addr,
				xp_level_name(ev->guest_level));
		else
			fprintf(f, "%s %s entry (host level %d) for the data: gPA 0x%" PRIx64,
				t->ept, ln, ev->host_level, ev->addr);
		break;
	}
	fputc('\n', f);
}

static void xp_text_ref(FILE *f, const struct xp_trace *t, const struct xp_rec *r)
{
	const struct trace_event *ev = &r->ev;
	char b[10], dec[200];
	int hi, lo;

	if (ev->served == SERVED_PSC) {
		int low = ev->level;
		fprintf(f, "%3d-%d. %s", r->step, r->step + r->nrefs - 1,
			ev->dim == DIM_SHADOW ? "hardware walk of the shadow table: " : "");
		for (int l = t->levels; l >= low; l--)
			fprintf(f, "%s%s", l == t->levels ? "" : ", ", xp_level_name(l));
		fprintf(f, " entries (levels %d..%d)\n", t->levels, low);
		fprintf(f,
			"       served  paging-structure cache: its %s-entry cache holds the "
			"table for this address, %" PRIu64 " cycle%s\n",
			xp_level_name(low), ev->cycles, ev->cycles == 1 ? "" : "s");
		fprintf(f, "       next    %s table at %s 0x%" PRIx64 "\n", xp_level_name(low - 1),
			ev->dim == DIM_SHADOW ? "hPA" : xp_pa(t), ev->table_addr);
		return;
	}
	fprintf(f, "%4d. ", r->step);
	xp_text_title(f, t, r);
	xp_level_bits(ev->level, &hi, &lo);
	xp_bin9(b, (unsigned)ev->index);
	fprintf(f, "       index   %s%s index = %s bits %d:%d = 0b%s = 0x%03" PRIx64 "\n",
		ev->dim == DIM_HOST ? "EPT " : "", xp_level_name(ev->level),
		ev->dim == DIM_HOST ? "gPA" : "gVA", hi, lo, b, ev->index);
	if (ev->served == SERVED_NTLB) {
		fprintf(f,
			"       served  nested TLB hit for gPA page 0x%" PRIx64
			": this EPT reference is skipped, %" PRIu64 " cycle%s\n",
			ev->addr & PAGE_MASK, ev->cycles, ev->cycles == 1 ? "" : "s");
		return;
	}
	switch (ev->dim) {
	case DIM_NATIVE:
		fprintf(f, "       table   %s 0x%016" PRIx64 " (%s)\n", xp_pa(t), ev->table_addr,
			t->machine ? "a machine address: the guest's own table holds machine frames"
				   : "guest-physical = host-physical");
		fprintf(f, "       entry   %s 0x%016" PRIx64 " = 0x%016" PRIx64 "\n", xp_pa(t),
			ev->entry_addr, ev->entry);
		break;
	case DIM_SHADOW:
	case DIM_HOST:
		fprintf(f, "       table   hPA 0x%016" PRIx64 "\n", ev->table_addr);
		fprintf(f, "       entry   hPA 0x%016" PRIx64 " = 0x%016" PRIx64 "\n",
			ev->entry_addr, ev->entry);
		break;
	case DIM_GUEST:
		fprintf(f, "       table   gPA 0x%016" PRIx64 "\n", ev->table_addr);
		fprintf(f,
			"       entry   gPA 0x%016" PRIx64 " (hPA 0x%016" PRIx64 ") = 0x%016" PRIx64
			"\n",
			ev->entry_addr, ev->addr, ev->entry);
		break;
	}
	xp_decode(dec, sizeof(dec), t, r);
	fprintf(f, "       bits    %s\n", dec);
	if (ev->served == SERVED_PWC)
		fprintf(f, "       served  2D page-walk cache hit, %" PRIu64 " cycle%s\n",
			ev->cycles, ev->cycles == 1 ? "" : "s");
	else
		fprintf(f, "       served  memory (%s), %" PRIu64 " cycles\n",
			xp_cache_name(ev->cache_level), ev->cycles);
}

void xp_print_ref(FILE *f, const struct xp_trace *t, const struct xp_rec *r)
{
	xp_text_ref(f, t, r);
}

/* One line for an event that is not a reference. */
static void xp_text_event(FILE *f, const struct xp_trace *t, const struct xp_rec *r)
{
	const struct trace_event *ev = &r->ev;
	char ec[80];
	switch (ev->kind) {
	case TR_TLB_MISS:
		if (ev->gva == t->gva)
			fprintf(f,
				"TLB miss: no entry for gVA 0x%" PRIx64 "; the hardware walks.\n\n",
				ev->gva);
		break;
	case TR_WALK_DONE:
		if (ev->gva != t->gva)
			break;
		if (ev->dim == DIM_GUEST && ev->host_level > 0)
			fprintf(f,
				"       => 2D walk complete: data gPA 0x%" PRIx64
				" (guest %s page, host %s page)\n\n",
				ev->addr, page_size_name(level_page_size(ev->level)),
				page_size_name(level_page_size(ev->host_level)));
		else if (ev->dim == DIM_HOST || ev->dim == DIM_GUEST)
			fprintf(f, "       => %s\n\n", ev->what ? ev->what : "walk ended");
		else
			fprintf(f, "       => walk complete: %s page at %s 0x%" PRIx64 "\n\n",
				page_size_name(level_page_size(ev->level)),
				ev->dim == DIM_NATIVE ? xp_pa(t) : "hPA", ev->result);
		break;
	case TR_GUEST_FAULT:
		xp_pfec(ec, sizeof(ec), ev->result);
		fprintf(f,
			"page fault delivered to the guest kernel: gVA 0x%" PRIx64
			", error code 0x%" PRIx64 " (%s), walk stopped at level %d; %" PRIu64
			" cycles\n",
			ev->gva, ev->result, ec, ev->level, ev->cycles);
		break;
	case TR_VM_EXIT:
		fprintf(f,
			"VM exit, reason %" PRIu64 " (%s): %" PRIu64
			" cycles (exit and entry plus the handler's work); the VM re-enters\n\n",
			ev->result, xp_exit_name(ev->result), ev->cycles);
		break;
	case TR_VMM_OP:
		fprintf(f, "VMM: %s", ev->what ? ev->what : "action");
		if (ev->level)
			fprintf(f, ", level %d", ev->level);
		if (ev->entry_addr)
			fprintf(f, ", entry at %s 0x%" PRIx64 " = 0x%" PRIx64,
				ev->dim == DIM_GUEST ? "gPA" : "hPA", ev->entry_addr, ev->entry);
		else if (ev->table_addr)
			fprintf(f, ", table at hPA 0x%" PRIx64, ev->table_addr);
		if (ev->addr)
			fprintf(f, " (gPA 0x%" PRIx64 ")", ev->addr);
		fputc('\n', f);
		break;
	case TR_GUEST_OP:
		fprintf(f, "guest kernel: %s", ev->what ? ev->what : "action");
		if (ev->addr)
			fprintf(f, " (0x%" PRIx64 ")", ev->addr);
		fputc('\n', f);
		break;
	case TR_TLB_FILL:
		if (ev->gva != t->gva)
			break;
		fprintf(f,
			"TLB fill: gVA page 0x%" PRIx64 " -> hPA 0x%" PRIx64
			", %s entry, flags%s%s%s%s%s\n",
			ev->gva & ~(page_bytes((enum page_size)(ev->level - 1)) - 1), ev->addr,
			page_size_name((enum page_size)(ev->level - 1)),
			(ev->result & 0x02) ? " W" : " R/O", (ev->result & 0x04) ? " U" : " S",
			(ev->result & 0x08) ? " NX" : "", (ev->result & 0x10) ? " G" : "",
			(ev->result & 0x20) ? " D" : "");
		break;
	case TR_TLB_FLUSH:
		fprintf(f, "TLB flush: %s, %" PRIu64 " entries dropped\n",
			ev->what ? ev->what : "flush", ev->result);
		break;
	case TR_WALK_REF:
		break;
	}
}

void xp_print_text(FILE *f, const struct xp_trace *t)
{
	xp_text_header(f, t);
	uint64_t other = 0;
	int last_walk = 0;
	for (size_t i = 0; i < t->n; i++) {
		const struct xp_rec *r = &t->rec[i];
		if (r->ev.kind == TR_WALK_REF && r->other) {
			other++;
			continue;
		}
		if (other) {
			fprintf(f,
				"(the guest kernel's own accesses: %" PRIu64
				" walk references for other addresses, not shown)\n",
				other);
			other = 0;
		}
		if (r->ev.kind == TR_WALK_REF) {
			if (r->walk != last_walk) {
				if (r->soft)
					fprintf(
					    f,
					    "The hardware walk faulted, and the #PF exits to the "
					    "VMM. The VMM walks the guest's own tables in software "
					    "(walk %d):\n",
					    r->walk);
				else
					fprintf(f, "Walk %d (%s):\n", r->walk,
						r->ev.dim == DIM_SHADOW ? "hardware, shadow table"
						: r->ev.dim == DIM_NATIVE
						    ? "hardware, guest table"
						    : "hardware, two-dimensional");
				last_walk = r->walk;
			}
			xp_text_ref(f, t, r);
			continue;
		}
		xp_text_event(f, t, r);
	}
	if (other)
		fprintf(f,
			"(the guest kernel's own accesses: %" PRIu64
			" walk references for other addresses, not shown)\n",
			other);
	if (t->overflow)
		fprintf(f, "(more events than the recorder keeps: the list is cut short)\n");

	uint64_t mem = 0, cache = 0, ntlb = 0;
	for (size_t i = 0; i < t->n; i++) {
		const struct xp_rec *r = &t->rec[i];
		if (r->ev.kind != TR_WALK_REF || r->other)
			continue;
		if (r->ev.served == SERVED_MEMORY)
			mem++;
		else if (r->ev.served == SERVED_NTLB)
			ntlb += (uint64_t)r->nrefs;
		else
			cache += (uint64_t)r->nrefs;
	}
	fputc('\n', f);
	if (t->ok) {
		if (t->machine)
			fprintf(f,
				"translation: gVA 0x%" PRIx64 " -> mPA 0x%" PRIx64
				" (the guest's table held the machine frame; the m2p table names"
				" it guest frame gPA 0x%" PRIx64 ")\n",
				t->gva, t->hpa, t->gpa);
		else if (t->identity)
			fprintf(f,
				"translation: gVA 0x%" PRIx64 " -> PA 0x%" PRIx64
				" (guest-physical = host-physical)\n",
				t->gva, t->hpa);
		else if (t->gpa_known)
			fprintf(f,
				"translation: gVA 0x%" PRIx64 " -> gPA 0x%" PRIx64
				" -> hPA 0x%" PRIx64 "\n",
				t->gva, t->gpa, t->hpa);
		else
			fprintf(f,
				"translation: gVA 0x%" PRIx64 " -> gPA 0x%" PRIx64
				" (from the p2m: no walk read the guest table) -> hPA 0x%" PRIx64
				"\n",
				t->gva, t->gpa, t->hpa);
		fprintf(f, "  page: %s TLB entry", page_size_name(t->fill_size));
		if (t->guest_leaf)
			fprintf(f, " (guest page %s",
				page_size_name(level_page_size(t->guest_leaf)));
		if (t->guest_leaf && t->host_leaf)
			fprintf(f, ", host page %s)",
				page_size_name(level_page_size(t->host_leaf)));
		else if (t->guest_leaf)
			fputc(')', f);
		fputc('\n', f);
		if (t->access == ACC_READ)
			fprintf(f, "  value loaded: 0x%016" PRIx64 "\n", t->value);
		else if (t->access == ACC_WRITE)
			fprintf(f, "  value stored: 0x%016" PRIx64 "\n", t->value);
	} else {
		char ec[80];
		xp_pfec(ec, sizeof(ec), t->fault_ec);
		if (t->faulted)
			fprintf(f,
				"translation: gVA 0x%" PRIx64 " FAULTS at level %d (%s entry not "
				"usable; #PF error code 0x%" PRIx64 ": %s)\n",
				t->gva, t->fault_level, xp_level_name(t->fault_level), t->fault_ec,
				ec);
		else
			fprintf(f, "translation: gVA 0x%" PRIx64 " did not complete\n", t->gva);
		fprintf(f, "  the guest: %s\n", t->error[0] ? t->error : "(no message)");
	}
	const struct stats *d = &t->delta;
	fprintf(f,
		"  references: %d in %d walk%s: %" PRIu64 " from memory, %" PRIu64
		" from walk caches, %" PRIu64 " skipped by the nested TLB\n",
		t->refs, t->walks, t->walks == 1 ? "" : "s", mem, cache, ntlb);
	fprintf(f, "  VM exits: %" PRIu64 ", guest page faults: %" PRIu64 "\n", d->vm_exits,
		d->guest_faults);
	fprintf(f,
		"  cycles of this access: %" PRIu64 " (walk %" PRIu64 ", exit %" PRIu64
		", vmm %" PRIu64 ", guest %" PRIu64 ", access %" PRIu64 ")\n",
		stats_est_cycles(d), d->cyc_walk, d->cyc_exit, d->cyc_vmm, d->cyc_guest,
		d->cyc_access);
}

/* ---- JSON ---- */

static const char *xp_kind_name(enum trace_kind k)
{
	switch (k) {
	case TR_WALK_REF:
		return "walk_ref";
	case TR_WALK_DONE:
		return "walk_done";
	case TR_TLB_MISS:
		return "tlb_miss";
	case TR_TLB_FILL:
		return "tlb_fill";
	case TR_TLB_FLUSH:
		return "tlb_flush";
	case TR_GUEST_FAULT:
		return "guest_fault";
	case TR_GUEST_OP:
		return "guest_op";
	case TR_VM_EXIT:
		return "vm_exit";
	case TR_VMM_OP:
		return "vmm_op";
	}
	return "?";
}

static void xp_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

/* One reference object; 'level' may differ from the event's for the
 * levels a 1D walk-cache hit skipped. */
static void xp_json_ref(FILE *f, const struct xp_trace *t, const struct xp_rec *r, int step,
			int level, bool *first)
{
	const struct trace_event *ev = &r->ev;
	const bool psc = ev->served == SERVED_PSC;
	const bool host = xp_rec_host(r);
	const bool known = !psc && ev->served != SERVED_NTLB;
	uint64_t va = xp_indexed(t, r);
	int hi, lo;
	xp_level_bits(level, &hi, &lo);
	fprintf(f,
		"%s{\"type\":\"reference\",\"step\":%d,\"walk\":%d,\"dimension\":\"%s\","
		"\"walker\":\"%s\",\"level\":%d,\"level_name\":\"%s\"",
		*first ? "" : ",\n", step, r->walk, xp_dim_name(r), r->soft ? "vmm" : "hardware",
		level, xp_level_name(level));
	*first = false;
	if (ev->dim == DIM_GUEST || ev->dim == DIM_HOST)
		fprintf(f, ",\"guest_level\":%d,\"host_level\":%d",
			r->soft ? level : ev->guest_level, ev->host_level);
	fprintf(f,
		",\"translating\":\"0x%" PRIx64
		"\",\"translating_space\":\"%s\",\"bits\":\"%d:%d\","
		"\"index\":%u",
		va, host ? "gpa" : "gva", hi, lo, pt_index(va, level));
	const char *space = ev->dim == DIM_GUEST    ? "gpa"
			    : ev->dim == DIM_NATIVE ? (t->machine ? "mpa" : "pa")
						    : "hpa";
	if (known) {
		fprintf(f,
			",\"table_addr\":\"0x%" PRIx64 "\",\"table_space\":\"%s\","
			"\"entry_addr\":\"0x%" PRIx64 "\",\"entry\":\"0x%" PRIx64 "\"",
			ev->table_addr, space, ev->entry_addr, ev->entry);
		if (ev->dim == DIM_GUEST)
			fprintf(f, ",\"entry_hpa\":\"0x%" PRIx64 "\"", ev->addr);
		fprintf(f, ",\"present\":%s",
			(host ? epte_present(ev->entry) : gpte_present(ev->entry)) ? "true"
										   : "false");
	} else {
		fprintf(f,
			",\"table_addr\":null,\"table_space\":\"%s\",\"entry_addr\":null,"
			"\"entry\":null,\"present\":null",
			space);
	}
	if (psc && level == ev->level)
		fprintf(f, ",\"next_table\":\"0x%" PRIx64 "\"", ev->table_addr);
	fprintf(f, ",\"served_by\":\"%s\"", xp_served_name(ev->served));
	if (ev->served == SERVED_MEMORY)
		fprintf(f, ",\"cache\":\"%s\"", xp_cache_name(ev->cache_level));
	/* A 1D walk-cache hit is one lookup: its cycles go to its first cell. */
	fprintf(f, ",\"cycles\":%" PRIu64 "}", psc && level != t->levels ? 0 : ev->cycles);
}

static void xp_json_event(FILE *f, const struct xp_rec *r, bool *first)
{
	const struct trace_event *ev = &r->ev;
	fprintf(f, "%s{\"type\":\"event\",\"kind\":\"%s\",\"what\":", *first ? "" : ",\n",
		xp_kind_name(ev->kind));
	*first = false;
	xp_json_str(f, ev->what ? ev->what : "");
	fprintf(f,
		",\"gva\":\"0x%" PRIx64 "\",\"level\":%d,\"addr\":\"0x%" PRIx64
		"\",\"table_addr\":\"0x%" PRIx64 "\",\"entry_addr\":\"0x%" PRIx64
		"\",\"entry\":\"0x%" PRIx64 "\",\"result\":\"0x%" PRIx64 "\",\"cycles\":%" PRIu64
		"}",
		ev->gva, ev->level, ev->addr, ev->table_addr, ev->entry_addr, ev->entry, ev->result,
		ev->cycles);
}

void xp_print_json(FILE *f, const struct xp_trace *t)
{
	bool first = true;
	uint64_t mem = 0, cache = 0, ntlb = 0, other = 0;
	fputs("[\n", f);
	for (size_t i = 0; i < t->n; i++) {
		const struct xp_rec *r = &t->rec[i];
		if (r->ev.kind != TR_WALK_REF) {
			xp_json_event(f, r, &first);
			continue;
		}
		if (r->other) {
			other++;
			continue;
		}
		if (r->ev.served == SERVED_PSC) {
			for (int k = 0; k < r->nrefs; k++)
				xp_json_ref(f, t, r, r->step + k, t->levels - k, &first);
			cache += (uint64_t)r->nrefs;
			continue;
		}
		xp_json_ref(f, t, r, r->step, r->ev.level, &first);
		if (r->ev.served == SERVED_MEMORY)
			mem++;
		else if (r->ev.served == SERVED_NTLB)
			ntlb++;
		else
			cache++;
	}
	const struct stats *d = &t->delta;
	fprintf(f,
		"%s{\"type\":\"translation\",\"mode\":\"%s\",\"levels\":%d,\"gva\":\"0x%" PRIx64
		"\",\"access\":\"%s\",\"user\":%s,\"ok\":%s",
		first ? "" : ",\n", t->mode, t->levels, t->gva,
		t->access == ACC_WRITE	 ? "write"
		: t->access == ACC_FETCH ? "fetch"
					 : "read",
		t->user ? "true" : "false", t->ok ? "true" : "false");
	if (t->ok) {
		if (t->gpa_known || t->gpa)
			fprintf(f, ",\"gpa\":\"0x%" PRIx64 "\"", t->gpa);
		else
			fprintf(f, ",\"gpa\":null");
		fprintf(f, ",\"gpa_from\":\"%s\",\"hpa\":\"0x%" PRIx64 "\",\"page_size\":\"%s\"",
			t->gpa_known ? "walk" : "p2m", t->hpa, page_size_name(t->fill_size));
		if (t->guest_leaf)
			fprintf(f, ",\"guest_page_size\":\"%s\"",
				page_size_name(level_page_size(t->guest_leaf)));
		if (t->host_leaf)
			fprintf(f, ",\"host_page_size\":\"%s\"",
				page_size_name(level_page_size(t->host_leaf)));
		if (t->access == ACC_FETCH)
			fprintf(f, ",\"value\":null,\"fault\":null");
		else
			fprintf(f, ",\"value\":\"0x%" PRIx64 "\",\"fault\":null", t->value);
	} else {
		fprintf(
		    f,
		    ",\"gpa\":null,\"hpa\":null,\"fault\":{\"level\":%d,\"error_code\":\"0x%" PRIx64
		    "\",\"message\":",
		    t->fault_level, t->fault_ec);
		xp_json_str(f, t->error);
		fputc('}', f);
	}
	fprintf(f,
		",\"references\":%d,\"walks\":%d,\"memory_references\":%" PRIu64
		",\"walk_cache_references\":%" PRIu64 ",\"nested_tlb_references\":%" PRIu64
		",\"other_references\":%" PRIu64 ",\"vm_exits\":%" PRIu64
		",\"guest_faults\":%" PRIu64 ",\"cycles\":%" PRIu64 ",\"cycles_walk\":%" PRIu64
		",\"cycles_exit\":%" PRIu64 ",\"cycles_vmm\":%" PRIu64 ",\"cycles_guest\":%" PRIu64
		"}\n]\n",
		t->refs, t->walks, mem, cache, ntlb, other, d->vm_exits, d->guest_faults,
		stats_est_cycles(d), d->cyc_walk, d->cyc_exit, d->cyc_vmm, d->cyc_guest);
}
