/*
 * replay_sys.h - the memory system calls of a replayed program: lackey's
 * SYSCALL lines (valgrind --trace-syscalls=yes) performed by the guest
 * kernel at the point of the trace where the real program made them.
 *
 * What a trace line does (docs/replay.md has the full table):
 *   SYSCALL[P,T](9)  sys_mmap ( a, len, prot, flags, fd, off ) --> ... Success(R)
 *       map [R, R + len) at R (GMAP_FIXED), anonymous or file-backed alike
 *   sys_munmap ( a, len )            unmap; an unmapped range is no error
 *   sys_mprotect ( a, len, prot )    change protection
 *   sys_brk ( x ) ... Success(R)     grow or shrink the heap [brk start, R)
 *   sys_mremap ( a, old, new, fl[, to] ) ... Success(R)   resize or move
 *   sys_clone ... created child C    fork: C gets a copy-on-write address space
 *   sys_clone (CLONE_THREAD) / exit  a thread of P: shares P's address space
 *   exit_group                       tear P's address space down
 *   sys_execve, then P's new banner  a fresh address space for P
 *   ==P== ... and SYSCALL[P,...]     the accesses that follow are P's
 * Any other system call is counted and ignored; a call that failed
 * (Failure(...)) changed nothing and is ignored.
 *
 * The program image (its executable, the dynamic loader, the stack) is
 * mapped by exec, which the trace does not show. A page that no system
 * call of the process has ever named ("unknown territory") is therefore
 * taken as part of the image and mapped (read, write, execute, 4 KiB) on
 * its first touch. A page that a system call did name and that is not
 * mapped now (after munmap, a brk shrink, ...) is not: touching it is the
 * fault that would have killed the program, and the replay stops there.
 *
 * Invariants:
 *   - the "known" ranges of a process only grow (until exec), and every
 *     VMA made by a system call lies inside them;
 *   - a page mapped as image lay outside them when it was mapped;
 *   - every guest process in the table is live; pids are the trace's.
 */
#ifndef VMMU_REPLAY_SYS_H
#define VMMU_REPLAY_SYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "workload.h"

/* Memory system calls the replay performs (order = report order). */
enum rsys_call {
	RSYS_MMAP,
	RSYS_MUNMAP,
	RSYS_MPROTECT,
	RSYS_BRK,
	RSYS_MREMAP,
	RSYS_FORK,
	RSYS_EXEC,
	RSYS_EXIT,
	RSYS_THREAD,
	RSYS_NCALLS
};

/* Per call kind: how often, and what it made the guest kernel do (deltas
 * of the VM's counters across the calls). */
struct rsys_count {
	uint64_t calls;
	uint64_t invlpgs;	 /* INVLPG by the guest */
	uint64_t tlb_flushes;	 /* full or per-PCID flushes by the guest */
	uint64_t pt_write_exits; /* shadow: exits on stores to guest tables */
};

struct rsys_stats {
	struct rsys_count call[RSYS_NCALLS];
	uint64_t ignored;     /* other system calls, and continuation lines */
	uint64_t failed;      /* memory calls that returned Failure(...) */
	uint64_t image_pages; /* pages mapped as the program image on first touch */
	uint64_t procs;	      /* processes created (root, forks) */
};

/* Short name of a call kind ("mmap", "munmap", ...). */
const char *rsys_call_name(enum rsys_call k);

/* What rsys_classify() found on a line that is not an access record. */
enum rsys_line {
	RSYS_LINE_NONE = 0, /* not a system-call line */
	RSYS_LINE_SYSCALL,  /* "SYSCALL[P,T](NR) ..." */
	RSYS_LINE_CONT,	    /* " --> ..." : the rest of the previous SYSCALL line */
	RSYS_LINE_NOTE,	    /* "--P-- ..." : a valgrind note of process P */
};

/* Which kind of line this is, by its head only (pure). */
enum rsys_line rsys_classify(const char *line, size_t len);

/* One parsed SYSCALL line. */
struct rsys_call_line {
	int pid, tid;
	long nr;
	char name[32];
	uint64_t arg[6];
	int nargs;
	bool has_result, ok; /* a "Success(R)" or "Failure(E)" on the line */
	uint64_t result;
	int child;   /* "created child C": C, else -1 */
	size_t used; /* bytes of the line this call took (another may follow) */
	size_t rest; /* text after the result, from here to 'used' (a thread's
		      * first access glued to its parent's clone); 0 = none */
};

/*
 * Parse the SYSCALL line at 'line' (pure). Returns 0 with *sc filled, or
 * -1 with 'why' set (e.g. "malformed SYSCALL head"). The arguments are
 * parsed for every call, as far as they are numbers; rsys_apply() says
 * which it needs. When a second "SYSCALL[" follows on the same line (a new
 * thread's first call printed before the newline), sc->used stops there.
 * Text after "Success(R) " is left at sc->rest: valgrind prints a new
 * thread's first access line there, before the clone line's newline.
 */
int rsys_parse(const char *line, size_t len, struct rsys_call_line *sc, char *why, size_t whylen);

/* The replay's system-call state. */
struct rsys;

/* Where the replay is in its trace, for messages: writes e.g. "FILE:12". */
typedef void (*rsys_where_fn)(void *ctx, char *buf, size_t len);
/* Stop the run on bad input: record the message, vm_abort(). */
typedef void (*rsys_reject_fn)(void *ctx, const char *msg); /* must not return */

/* Start: installs the replay's #PF vector in front of the guest kernel's
 * (it checks that a faulting access lies in a mapping, maps image pages,
 * then hands the fault on to gmm_handle_fault()). */
struct rsys *rsys_start(struct wl_ctx *c, struct rsys_stats *st, rsys_where_fn where,
			rsys_reject_fn reject, void *ctx);
/* A line naming pid P ("==P==" banner, SYSCALL[P,...], "--P--"): the
 * accesses that follow are P's. 'banner' tells whether it is a banner. */
void rsys_name_pid(struct rsys *s, int pid, bool banner);
/* Perform one parsed SYSCALL line. */
void rsys_apply(struct rsys *s, const struct rsys_call_line *sc);
/* A continuation line (" --> ...") of the last SYSCALL line. */
void rsys_continue(struct rsys *s, const char *line, size_t len);
/* Before an access: make the process that made it current. Cheap when it
 * already is. */
static inline void rsys_before_access(struct rsys *s);
/* Free the state (host memory only: the guest processes stay, the run's
 * end tears them down). Callable after the run stopped early. */
void rsys_stop(struct rsys *s);

/* ---- inline ---- */

struct rsys_head {
	bool need_switch; /* the named pid is not the current process */
};
void rsys_switch(struct rsys *s);

static inline void rsys_before_access(struct rsys *s)
{
	if (((struct rsys_head *)s)->need_switch)
		rsys_switch(s);
}

#endif
