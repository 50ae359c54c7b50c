/*
 * replay_sys.c - lackey's SYSCALL lines performed by the guest kernel (see
 * replay_sys.h for the model, docs/replay.md for the table of calls).
 *
 * Sections: the line parser (pure), known ranges, the process table, the
 * #PF vector, the calls.
 *
 * Linux is the rule book for what each call does to the address space:
 * mmap_region() maps at the address the real kernel chose (a fixed
 * placement here, since the trace tells it), __do_munmap() succeeds on a
 * range with nothing mapped, mprotect_fixup() changes the protection,
 * SYSCALL_DEFINE1(brk) grows the heap with do_brk_flags() and shrinks it
 * with do_vmi_munmap(), mremap_to()/move_vma() move a mapping, dup_mmap()
 * copies the address space copy-on-write on fork, exec_mmap() replaces it,
 * exit_mmap() tears it down. The guest kernel's gmm_* calls do the page
 * table work; this file only decides which call to make, and where.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/core/pte.h"
#include "../src/core/vm.h"
#include "replay_sys.h"

/* Linux flag values as the trace prints them. */
#define LX_MAP_FIXED 0x10
#define LX_CLONE_VM 0x100
#define LX_CLONE_THREAD 0x10000
#define LX_PROT_MASK 7 /* PROT_READ | PROT_WRITE | PROT_EXEC; GROWSDOWN etc. dropped */

static const char *const call_names[RSYS_NCALLS] = {
    [RSYS_MMAP] = "mmap", [RSYS_MUNMAP] = "munmap", [RSYS_MPROTECT] = "mprotect",
    [RSYS_BRK] = "brk",	  [RSYS_MREMAP] = "mremap", [RSYS_FORK] = "fork",
    [RSYS_EXEC] = "exec", [RSYS_EXIT] = "exit",	    [RSYS_THREAD] = "thread",
};

const char *rsys_call_name(enum rsys_call k)
{
	return k < RSYS_NCALLS ? call_names[k] : "?";
}

/* ---- the line parser ---- */

enum rsys_line rsys_classify(const char *line, size_t len)
{
	size_t k = 2;

	if (len >= 8 && memcmp(line, "SYSCALL[", 8) == 0)
		return RSYS_LINE_SYSCALL;
	if (len >= 5 && memcmp(line, " --> ", 5) == 0)
		return RSYS_LINE_CONT;
	if (len >= 5 && line[0] == '-' && line[1] == '-') {
		while (k < len && line[k] >= '0' && line[k] <= '9')
			k++;
		if (k > 2 && k + 1 < len && line[k] == '-' && line[k + 1] == '-')
			return RSYS_LINE_NOTE;
	}
	return RSYS_LINE_NONE;
}

/* A decimal number at line[*k]; advances *k. -1 when there is none. */
static int take_dec(const char *line, size_t len, size_t *k, uint64_t *v)
{
	size_t s = *k;

	*v = 0;
	while (*k < len && line[*k] >= '0' && line[*k] <= '9' && *k - s < 20)
		*v = *v * 10 + (uint64_t)(line[(*k)++] - '0');
	return *k > s ? 0 : -1;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Hex digits at line[*k] (no prefix); advances *k. */
static int take_hex(const char *line, size_t len, size_t *k, uint64_t *v)
{
	size_t s = *k;

	*v = 0;
	while (*k < len && hexval(line[*k]) >= 0 && *k - s < 16)
		*v = *v << 4 | (uint64_t)hexval(line[(*k)++]);
	return *k > s ? 0 : -1;
}

/* An argument as valgrind prints it: 0x-hex, or decimal (hex digits
 * without a prefix for clone's flags: 'hex_bare'). */
static int take_arg(const char *line, size_t len, size_t *k, uint64_t *v, bool hex_bare)
{
	if (*k + 1 < len && line[*k] == '0' && line[*k + 1] == 'x') {
		*k += 2;
		return take_hex(line, len, k, v);
	}
	return hex_bare ? take_hex(line, len, k, v) : take_dec(line, len, k, v);
}

/* First occurrence of needle in line[from, end), or NULL. */
static const char *find(const char *line, size_t from, size_t end, const char *needle)
{
	size_t n = strlen(needle);

	for (size_t k = from; k + n <= end; k++)
		if (memcmp(line + k, needle, n) == 0)
			return line + k;
	return NULL;
}

int rsys_parse(const char *line, size_t len, struct rsys_call_line *sc, char *why, size_t whylen)
{
	uint64_t v;
	size_t k = 8, n = 0, end;
	const char *next, *at;
	bool bare;

	memset(sc, 0, sizeof(*sc));
	sc->child = -1;
	if (rsys_classify(line, len) != RSYS_LINE_SYSCALL)
		goto bad_head;
	/* "SYSCALL[" pid "," tid "](" nr ") " */
	if (take_dec(line, len, &k, &v) < 0 || v == 0 || v > INT32_MAX || k >= len ||
	    line[k] != ',')
		goto bad_head;
	sc->pid = (int)v;
	k++;
	if (take_dec(line, len, &k, &v) < 0 || v > INT32_MAX || k + 1 >= len || line[k] != ']' ||
	    line[k + 1] != '(')
		goto bad_head;
	sc->tid = (int)v;
	k += 2;
	while (k < len && line[k] == ' ')
		k++;
	if (take_dec(line, len, &k, &v) < 0 || k + 1 >= len || line[k] != ')' || line[k + 1] != ' ')
		goto bad_head;
	sc->nr = (long)v;
	k += 2;
	/* A second call glued to this one ends it. */
	next = find(line, k, len, "SYSCALL[");
	end = next != NULL ? (size_t)(next - line) : len;
	sc->used = end;
	/* The name: up to a space or '('; printable ASCII only (a NUL or a
	 * control byte, which a binary trace's text line may hold, is no
	 * name). */
	while (k < end && line[k] != ' ' && line[k] != '(' && n + 1 < sizeof(sc->name)) {
		if (line[k] < '!' || line[k] > '~')
			goto bad_head;
		sc->name[n++] = line[k++];
	}
	sc->name[n] = '\0';
	if (n == 0)
		goto bad_head;
	/* The arguments, where they are numbers: "( a, b, ... )". */
	while (k < end && line[k] == ' ')
		k++;
	bare = strcmp(sc->name, "sys_clone") == 0;
	if (k < end && line[k] == '(' && strcmp(sc->name, "unimplemented") != 0) {
		k++;
		while (sc->nargs < 6) {
			while (k < end && line[k] == ' ')
				k++;
			if (k < end && line[k] == ')')
				break;
			if (take_arg(line, end, &k, &sc->arg[sc->nargs], bare && sc->nargs == 0) <
			    0)
				break;
			sc->nargs++;
			while (k < end && line[k] == ' ')
				k++;
			if (k < end && line[k] == ',')
				k++;
			else
				break;
		}
	}
	/* The result, when the call completed on this line. */
	if ((at = find(line, k, end, "Success(0x")) != NULL) {
		size_t r = (size_t)(at - line) + 10;
		sc->has_result = sc->ok = take_hex(line, end, &r, &sc->result) == 0;
		if (sc->ok && r < end && line[r] == ')') {
			r++;
			if (r < end && line[r] == ' ')
				r++;
			if (r < end && find(line, r, end, "-->") == NULL)
				sc->rest = r;
		}
	} else if ((at = find(line, k, end, "Failure(0x")) != NULL) {
		sc->has_result = true;
		sc->ok = false;
	}
	if ((at = find(line, k, end, "created child ")) != NULL) {
		size_t r = (size_t)(at - line) + 14;
		if (take_dec(line, end, &r, &v) < 0 || v == 0 || v > INT32_MAX) {
			snprintf(why, whylen, "malformed child pid in a clone line");
			return -1;
		}
		sc->child = (int)v;
	}
	return 0;
bad_head:
	snprintf(why, whylen, "malformed SYSCALL line (expected SYSCALL[PID,TID](NR) NAME ...)");
	return -1;
}

/* ---- known ranges: every range a system call of the process named ---- */

struct range {
	gva_t s, e;
};

struct ranges {
	struct range *v;
	size_t n, cap;
};

/* Add [s, e) to the sorted, disjoint, merged set. -1 when out of memory
 * (the set is unchanged). */
static int ranges_add(struct ranges *r, gva_t s, gva_t e)
{
	size_t i = 0, j;

	if (s >= e)
		return 0;
	while (i < r->n && r->v[i].e < s)
		i++;
	j = i;
	while (j < r->n && r->v[j].s <= e) {
		if (r->v[j].s < s)
			s = r->v[j].s;
		if (r->v[j].e > e)
			e = r->v[j].e;
		j++;
	}
	if (j == i) {
		if (r->n == r->cap) {
			size_t cap = r->cap ? 2 * r->cap : 16;
			struct range *v = realloc(r->v, cap * sizeof(*r->v));
			if (v == NULL)
				return -1;
			r->v = v;
			r->cap = cap;
		}
		memmove(&r->v[i + 1], &r->v[i], (r->n - i) * sizeof(*r->v));
		r->n++;
	} else if (j > i + 1) {
		memmove(&r->v[i + 1], &r->v[j], (r->n - j) * sizeof(*r->v));
		r->n -= j - i - 1;
	}
	r->v[i] = (struct range){s, e};
	return 0;
}

static bool ranges_has(const struct ranges *r, gva_t va)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->v[mid].e <= va)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < r->n && r->v[lo].s <= va;
}

/* -1 when out of memory (dst empty). */
static int ranges_copy(struct ranges *dst, const struct ranges *src)
{
	dst->n = dst->cap = src->n;
	dst->v = NULL;
	if (src->n == 0)
		return 0;
	dst->v = malloc(src->n * sizeof(*dst->v));
	if (dst->v == NULL) {
		dst->n = dst->cap = 0;
		return -1;
	}
	memcpy(dst->v, src->v, src->n * sizeof(*dst->v));
	return 0;
}

/* ---- the process table ---- */

struct rproc {
	int pid;		  /* the trace's pid; 0 = not named yet (root of a bare trace) */
	struct gproc *gp;	  /* NULL after exit */
	int threads;		  /* threads besides the first */
	bool exec_pending;	  /* a successful-looking execve, waiting for the new banner */
	gva_t brk_start, brk_cur; /* 0 = no brk call seen */
	struct ranges known;
};

struct rsys {
	struct rsys_head head; /* first: rsys_before_access() reads it */
	struct wl_ctx *c;
	struct vm *vm;
	struct rsys_stats *st;
	rsys_where_fn where;
	rsys_reject_fn reject;
	void *ctx;
	struct rproc *proc;
	size_t nproc, cap;
	struct rproc *cur;	 /* the process whose accesses come now */
	enum rsys_call last;	 /* kind of the last SYSCALL line, for its continuation */
	struct rproc *last_proc; /* its process */
	gva_t user_top;
};

static _Noreturn void rsys_fail(struct rsys *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static _Noreturn void rsys_fail(struct rsys *s, const char *fmt, ...)
{
	char where[1100], what[400], msg[1600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	s->where(s->ctx, where, sizeof(where));
	snprintf(msg, sizeof(msg), "%s: %s", where, what);
	s->reject(s->ctx, msg);
	vmmu_bug("rsys-reject", "the reject callback returned");
}

/* The guest kernel failed (out of memory, a mapping larger than the
 * guest): not the trace's fault, a failed run (exit status 1). */
static _Noreturn void rsys_guest_fail(struct rsys *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static _Noreturn void rsys_guest_fail(struct rsys *s, const char *fmt, ...)
{
	char where[1100], what[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	s->where(s->ctx, where, sizeof(where));
	vm_abort(s->vm, "%s: %s", where, what);
}

/* Process p's system calls named [a, e). */
static void known_add(struct rsys *s, struct rproc *p, gva_t a, gva_t e)
{
	if (ranges_add(&p->known, a, e) < 0)
		rsys_guest_fail(s, "simulator out of memory (known ranges)");
}

static struct rproc *proc_find(struct rsys *s, int pid)
{
	for (size_t k = 0; k < s->nproc; k++)
		if (s->proc[k].pid == pid && s->proc[k].gp != NULL)
			return &s->proc[k];
	return NULL;
}

/* NULL when out of memory (the table is unchanged). */
static struct rproc *proc_add(struct rsys *s, int pid, struct gproc *gp)
{
	if (s->nproc == s->cap) {
		/* cur and last_proc point into the array: keep them as indices. */
		size_t cur = s->cur ? (size_t)(s->cur - s->proc) : SIZE_MAX;
		size_t last = s->last_proc ? (size_t)(s->last_proc - s->proc) : SIZE_MAX;
		size_t cap = s->cap ? 2 * s->cap : 8;
		struct rproc *t = realloc(s->proc, cap * sizeof(*s->proc));
		if (t == NULL)
			return NULL;
		s->proc = t;
		s->cap = cap;
		s->cur = cur == SIZE_MAX ? NULL : &s->proc[cur];
		s->last_proc = last == SIZE_MAX ? NULL : &s->proc[last];
	}
	s->proc[s->nproc] = (struct rproc){.pid = pid, .gp = gp};
	s->st->procs++;
	return &s->proc[s->nproc++];
}

/* Make p the running process (CR3 load when it is not). */
static void proc_run(struct rsys *s, struct rproc *p)
{
	if (gmm_current(s->vm) != p->gp)
		wl_switch(s->c, p->gp);
	s->head.need_switch = false;
}

void rsys_switch(struct rsys *s)
{
	if (s->cur == NULL || s->cur->gp == NULL)
		rsys_fail(s, "an access by pid %d, which has exited", s->cur ? s->cur->pid : -1);
	proc_run(s, s->cur);
}

/* The last entry of pid, live or not. */
static struct rproc *proc_last(struct rsys *s, int pid)
{
	for (size_t k = s->nproc; k-- > 0;)
		if (s->proc[k].pid == pid)
			return &s->proc[k];
	return NULL;
}

void rsys_name_pid(struct rsys *s, int pid, bool banner)
{
	struct rproc *p;

	if (s->nproc == 1 && s->proc[0].pid == 0)
		s->proc[0].pid = pid; /* the root: the first pid the trace names */
	p = proc_find(s, pid);
	if (p == NULL) {
		struct rproc *dead = proc_last(s, pid);
		if (dead != NULL && banner) {
			/* valgrind's summary after the exit: no accesses may follow. */
			s->cur = dead;
			s->head.need_switch = true;
			return;
		}
		if (dead != NULL)
			rsys_fail(s, "pid %d appears after its exit", pid);
		rsys_fail(s, "pid %d was never created (no fork or clone made it)", pid);
	}
	if (p->exec_pending) {
		p->exec_pending = false;
		if (banner) {
			/* exec_mmap(): the new program gets a fresh address space. */
			uint64_t before_inv = s->vm->st.invlpgs,
				 before_fl = s->vm->st.guest_tlb_flushes;
			uint64_t before_pt = s->vm->st.exits_pt_write;
			struct gproc *gp = wl_proc_create(s->c);
			struct rsys_count *cnt = &s->st->call[RSYS_EXEC];
			proc_run(s, p);
			wl_exit(s->c, p->gp, gp);
			p->gp = gp;
			p->threads = 0;
			p->brk_start = p->brk_cur = 0;
			p->known.n = 0;
			cnt->calls++;
			cnt->invlpgs += s->vm->st.invlpgs - before_inv;
			cnt->tlb_flushes += s->vm->st.guest_tlb_flushes - before_fl;
			cnt->pt_write_exits += s->vm->st.exits_pt_write - before_pt;
		}
	}
	s->cur = p;
	s->head.need_switch = gmm_current(s->vm) != p->gp;
}

/* ---- the #PF vector ---- */

static void map_image_page(struct rsys *s, gva_t va)
{
	gva_t page = va & ~(PAGE_SIZE - 1);

	if (gmm_mmap(s->vm, page, PAGE_SIZE, GPROT_READ | GPROT_WRITE | GPROT_EXEC, GMAP_FIXED) !=
	    page)
		rsys_guest_fail(s, "mapping the image page 0x%" PRIx64 " failed: %s", page,
				strerror(gmm_errno(s->vm)));
	s->st->image_pages++;
}

static void rsys_pf_vector(struct vcpu *v, const void *info, void *ctx)
{
	const struct guest_fault *f = info;
	struct rsys *s = ctx;
	gva_t start, end;
	int prot;

	if ((f->error_code & PFEC_U) && s->cur != NULL && s->cur->gp == gmm_current(s->vm)) {
		const char *what = f->error_code & PFEC_W   ? "write"
				   : f->error_code & PFEC_I ? "instruction fetch"
							    : "read";
		bool user = v->user;
		if (gmm_vma_next(s->vm, f->gva, &start, &end, &prot) < 0 || start > f->gva) {
			if (ranges_has(&s->cur->known, f->gva))
				rsys_fail(s,
					  "pid %d: %s at 0x%" PRIx64
					  " outside any mapping (a system call unmapped it or never"
					  " mapped it; the program would have died of SIGSEGV)",
					  s->cur->pid, what, f->gva);
			map_image_page(s, f->gva);
			cpu_set_user(v, user);
			prot = GPROT_READ | GPROT_WRITE | GPROT_EXEC;
		}
		if (((f->error_code & PFEC_W) && !(prot & GPROT_WRITE)) ||
		    ((f->error_code & PFEC_I) && !(prot & GPROT_EXEC)) || prot == GPROT_NONE)
			rsys_fail(
			    s,
			    "pid %d: %s at 0x%" PRIx64
			    " not allowed by its mapping (prot %d; the program would have died "
			    "of SIGSEGV)",
			    s->cur->pid, what, f->gva, prot);
	}
	gmm_handle_fault(v->vm, f);
}

struct rsys *rsys_start(struct wl_ctx *c, struct rsys_stats *st, rsys_where_fn where,
			rsys_reject_fn reject, void *ctx)
{
	/* The root process first: its creation may end the run (out of
	 * memory), and nothing of the replay's may be allocated then. */
	struct gproc *root = wl_proc_create(c);
	struct rsys *s = calloc(1, sizeof(*s));

	if (s == NULL)
		vm_abort(c->vm, "simulator out of memory (the replay's state)");
	s->c = c;
	s->vm = c->vm;
	s->st = st;
	s->where = where;
	s->reject = reject;
	s->ctx = ctx;
	s->user_top = (UINT64_C(1) << (c->vm->cfg.levels == 5 ? 56 : 47)) - PAGE_SIZE;
	cpu_set_vector(&c->vm->vcpu, VEC_PF, rsys_pf_vector, s);
	/* The root process, until a banner or SYSCALL line names its pid. */
	s->cur = proc_add(s, 0, root);
	if (s->cur == NULL) {
		free(s);
		vm_abort(c->vm, "simulator out of memory (the replay's process table)");
	}
	st->procs = 1;
	return s;
}

void rsys_stop(struct rsys *s)
{
	for (size_t k = 0; k < s->nproc; k++)
		free(s->proc[k].known.v);
	free(s->proc);
	free(s);
}

/* ---- the calls ---- */

static uint64_t page_up(uint64_t x)
{
	return (x + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
}

/* A range of a memory call: page-aligned start, inside the user space. */
static void check_range(struct rsys *s, const struct rsys_call_line *sc, gva_t a, uint64_t len)
{
	if (a & (PAGE_SIZE - 1) || len > s->user_top || a < PAGE_SIZE ||
	    a > s->user_top - page_up(len))
		rsys_fail(s,
			  "%s of [0x%" PRIx64 ", +%" PRIu64
			  ") succeeded in the trace but lies outside the guest's user space "
			  "(or is not page-aligned)",
			  sc->name, a, len);
}

static void do_mmap(struct rsys *s, struct rproc *p, gva_t a, uint64_t len, int prot)
{
	if (len == 0)
		return;
	if (gmm_mmap(s->vm, a, page_up(len), prot, GMAP_FIXED) != a)
		rsys_guest_fail(s,
				"the guest kernel could not map [0x%" PRIx64 ", +%" PRIu64
				") (%s; a larger --guest-mem may help)",
				a, len, strerror(gmm_errno(s->vm)));
	known_add(s, p, a, a + page_up(len));
}

static void do_munmap(struct rsys *s, struct rproc *p, gva_t a, uint64_t len)
{
	if (len == 0)
		return;
	if (gmm_munmap(s->vm, a, page_up(len)) != 0)
		rsys_guest_fail(
		    s, "the guest kernel could not unmap [0x%" PRIx64 ", +%" PRIu64 "): %s", a, len,
		    strerror(gmm_errno(s->vm)));
	known_add(s, p, a, a + page_up(len));
}

/* mmap without MAP_FIXED: the kernel picked a free range, so the result
 * may overlap no mapping a system call made (image pages aside, which the
 * model mapped without knowing their extent). */
static void check_free(struct rsys *s, struct rproc *p, gva_t a, uint64_t len)
{
	gva_t start, end, at = a, lim = a + page_up(len);
	int prot;

	while (at < lim && gmm_vma_next(s->vm, at, &start, &end, &prot) == 0 && start < lim) {
		gva_t lo = start > a ? start : a, hi = end < lim ? end : lim;
		for (size_t k = 0; k < p->known.n; k++)
			if (p->known.v[k].s < hi && p->known.v[k].e > lo)
				rsys_fail(s,
					  "mmap result 0x%" PRIx64 " (+%" PRIu64
					  ") overlaps the live mapping [0x%" PRIx64 ", 0x%" PRIx64
					  ") without MAP_FIXED",
					  a, len, start, end);
		at = end;
	}
}

/* mprotect of a range the real kernel had fully mapped: holes outside the
 * known ranges are image pages not touched yet; a hole inside them is an
 * inconsistent trace. */
static void fill_holes(struct rsys *s, struct rproc *p, gva_t a, uint64_t len)
{
	gva_t start, end, at = a, lim = a + page_up(len);
	int prot;

	while (at < lim) {
		gva_t hole_end = lim;
		if (gmm_vma_next(s->vm, at, &start, &end, &prot) == 0 && start <= at) {
			at = end;
			continue;
		}
		if (gmm_vma_next(s->vm, at, &start, &end, &prot) == 0 && start < lim)
			hole_end = start;
		for (gva_t pg = at; pg < hole_end; pg += PAGE_SIZE)
			if (ranges_has(&p->known, pg))
				rsys_fail(s,
					  "mprotect of [0x%" PRIx64 ", +%" PRIu64
					  ") succeeded in the trace, but 0x%" PRIx64
					  " was unmapped",
					  a, len, pg);
		if (gmm_mmap(s->vm, at, hole_end - at, GPROT_READ | GPROT_WRITE | GPROT_EXEC,
			     GMAP_FIXED) != at)
			rsys_guest_fail(s, "mapping image pages at 0x%" PRIx64 " failed: %s", at,
					strerror(gmm_errno(s->vm)));
		s->st->image_pages += (hole_end - at) / PAGE_SIZE;
		at = hole_end;
	}
}

static void apply_brk(struct rsys *s, struct rproc *p, const struct rsys_call_line *sc)
{
	gva_t r = sc->result, cur;

	if (p->brk_start == 0) {
		/* The first brk tells where the heap starts (brk(0) returns it). */
		p->brk_start = p->brk_cur = r;
		return;
	}
	cur = p->brk_cur;
	if (r < p->brk_start)
		rsys_fail(s, "brk returned 0x%" PRIx64 ", below the heap's start 0x%" PRIx64, r,
			  p->brk_start);
	if (page_up(r) > page_up(cur)) {
		check_range(s, sc, page_up(cur), page_up(r) - page_up(cur));
		do_mmap(s, p, page_up(cur), page_up(r) - page_up(cur), GPROT_READ | GPROT_WRITE);
	} else if (page_up(r) < page_up(cur)) {
		do_munmap(s, p, page_up(r), page_up(cur) - page_up(r));
	}
	p->brk_cur = r;
}

static void apply_mremap(struct rsys *s, struct rproc *p, const struct rsys_call_line *sc)
{
	gva_t old = sc->arg[0], to = sc->result, start, end;
	uint64_t olen = page_up(sc->arg[1]), nlen = page_up(sc->arg[2]);
	int prot = GPROT_READ | GPROT_WRITE;

	check_range(s, sc, old, olen);
	check_range(s, sc, to, nlen);
	if (gmm_vma_next(s->vm, old, &start, &end, &prot) < 0 || start > old)
		prot = GPROT_READ | GPROT_WRITE;
	if (to == old) {
		if (nlen > olen)
			do_mmap(s, p, old + olen, nlen - olen, prot);
		else if (nlen < olen)
			do_munmap(s, p, old + nlen, olen - nlen);
		return;
	}
	/* move_vma(): a new range, the old one unmapped. The model does not
	 * carry the pages' contents over: the moved pages fault in afresh. */
	do_mmap(s, p, to, nlen, prot);
	do_munmap(s, p, old, olen);
}

static bool is(const struct rsys_call_line *sc, const char *name)
{
	return strcmp(sc->name, name) == 0;
}

/* The call kind of a parsed line, or RSYS_NCALLS for any other call. */
static enum rsys_call kind_of(const struct rsys_call_line *sc)
{
	if (is(sc, "sys_mmap"))
		return RSYS_MMAP;
	if (is(sc, "sys_munmap"))
		return RSYS_MUNMAP;
	if (is(sc, "sys_mprotect"))
		return RSYS_MPROTECT;
	if (is(sc, "sys_brk"))
		return RSYS_BRK;
	if (is(sc, "sys_mremap"))
		return RSYS_MREMAP;
	if (sc->child >= 0)
		return RSYS_FORK;
	if (is(sc, "sys_clone") && sc->nargs >= 1 && (sc->arg[0] & LX_CLONE_THREAD) &&
	    (sc->arg[0] & LX_CLONE_VM))
		return RSYS_THREAD;
	if (is(sc, "exit_group") || is(sc, "exit"))
		return RSYS_EXIT;
	if (is(sc, "sys_execve"))
		return RSYS_EXEC;
	return RSYS_NCALLS;
}

static const int nargs_needed[RSYS_NCALLS] = {
    [RSYS_MMAP] = 4, [RSYS_MUNMAP] = 2, [RSYS_MPROTECT] = 3, [RSYS_BRK] = 1, [RSYS_MREMAP] = 3,
};

void rsys_apply(struct rsys *s, const struct rsys_call_line *sc)
{
	enum rsys_call k = kind_of(sc);
	struct rproc *p;
	struct rsys_count *cnt;
	uint64_t inv, fl, ptw;

	rsys_name_pid(s, sc->pid, false);
	p = s->cur;
	s->last = k;
	s->last_proc = p;
	if (k == RSYS_NCALLS) {
		s->st->ignored++;
		return;
	}
	if (k <= RSYS_MREMAP) {
		if (sc->nargs < nargs_needed[k])
			rsys_fail(s, "malformed %s line: %d arguments, %d expected", sc->name,
				  sc->nargs, nargs_needed[k]);
		if (!sc->has_result)
			rsys_fail(s, "malformed %s line: no Success(...) or Failure(...)",
				  sc->name);
		if (!sc->ok) {
			s->st->failed++;
			return;
		}
	}
	if (k == RSYS_EXEC) {
		/* Failed on this line: nothing. Else the new banner replaces the
		 * address space (rsys_name_pid()), unless a Failure follows. */
		if (!(sc->has_result && !sc->ok))
			p->exec_pending = true;
		return;
	}
	proc_run(s, p);
	cnt = &s->st->call[k];
	inv = s->vm->st.invlpgs;
	fl = s->vm->st.guest_tlb_flushes;
	ptw = s->vm->st.exits_pt_write;
	cnt->calls++;
	switch (k) {
	case RSYS_MMAP:
		check_range(s, sc, sc->result, sc->arg[1]);
		if (!(sc->arg[3] & LX_MAP_FIXED))
			check_free(s, p, sc->result, sc->arg[1]);
		do_mmap(s, p, sc->result, sc->arg[1], (int)(sc->arg[2] & LX_PROT_MASK));
		break;
	case RSYS_MUNMAP:
		check_range(s, sc, sc->arg[0], sc->arg[1]);
		do_munmap(s, p, sc->arg[0], sc->arg[1]);
		break;
	case RSYS_MPROTECT:
		check_range(s, sc, sc->arg[0], sc->arg[1]);
		if (sc->arg[1] == 0)
			break;
		fill_holes(s, p, sc->arg[0], sc->arg[1]);
		if (gmm_mprotect(s->vm, sc->arg[0], page_up(sc->arg[1]),
				 (int)(sc->arg[2] & LX_PROT_MASK)) != 0)
			rsys_guest_fail(s, "the guest kernel could not mprotect 0x%" PRIx64 ": %s",
					sc->arg[0], strerror(gmm_errno(s->vm)));
		known_add(s, p, sc->arg[0], sc->arg[0] + page_up(sc->arg[1]));
		break;
	case RSYS_BRK:
		apply_brk(s, p, sc);
		break;
	case RSYS_MREMAP:
		apply_mremap(s, p, sc);
		break;
	case RSYS_FORK: {
		struct rproc *child;
		int ppid = p->pid;
		struct ranges known;
		gva_t bs = p->brk_start, bc = p->brk_cur;
		if (proc_last(s, sc->child) != NULL)
			rsys_fail(s, "clone created child %d, a pid the trace used already",
				  sc->child);
		/* The fork first: it may end the run (out of memory), and the
		 * copy of the ranges must not be lost then. */
		struct gproc *gp = wl_fork(s->c);
		if (ranges_copy(&known, &p->known) < 0)
			rsys_guest_fail(s, "simulator out of memory (known ranges)");
		child = proc_add(s, sc->child, gp); /* may move the table */
		if (child == NULL) {
			free(known.v);
			rsys_guest_fail(s, "simulator out of memory (the process table)");
		}
		child->known = known;
		child->brk_start = bs;
		child->brk_cur = bc;
		s->cur = proc_find(s, ppid);
		s->last_proc = s->cur;
		break;
	}
	case RSYS_THREAD:
		p->threads++;
		break;
	case RSYS_EXIT:
		if (is(sc, "exit") && p->threads > 0) {
			p->threads--;
			cnt->calls--;
			break;
		}
		{
			/* exit_mmap(): hand the CPU to another live process. */
			struct gproc *next = NULL;
			for (size_t j = 0; j < s->nproc; j++)
				if (s->proc[j].gp != NULL && &s->proc[j] != p)
					next = s->proc[j].gp;
			wl_exit(s->c, p->gp, next);
			p->gp = NULL;
			free(p->known.v);
			p->known = (struct ranges){0};
			s->head.need_switch = true;
		}
		break;
	default:
		break;
	}
	cnt->invlpgs += s->vm->st.invlpgs - inv;
	cnt->tlb_flushes += s->vm->st.guest_tlb_flushes - fl;
	cnt->pt_write_exits += s->vm->st.exits_pt_write - ptw;
}

void rsys_continue(struct rsys *s, const char *line, size_t len)
{
	/* An execve that failed reports it on its continuation line. */
	if (s->last == RSYS_EXEC && s->last_proc != NULL && find(line, 0, len, "Failure(") != NULL)
		s->last_proc->exec_pending = false;
	s->st->ignored++;
}
