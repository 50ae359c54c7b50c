/*
 * guard.c - a delegated call under its own landing point (guard.h).
 */
#include <setjmp.h>

#include "guard.h"

void vm_call_guarded(struct vm *vm, void *home_state, const struct mmu_ops *home_ops,
		     void (*fn)(void *arg), void *arg)
{
	jmp_buf *volatile outer = vm->abort_jmp;
	/* volatile: read after longjmp() returns through setjmp(). */
	void *volatile state = home_state;
	const struct mmu_ops *volatile ops = home_ops;
	jmp_buf jb;
	if (!outer) {
		fn(arg);
		return;
	}
	vm->abort_jmp = &jb;
	if (setjmp(jb) != 0) {
		vm->mode_state = state;
		vm->mmu = ops;
		vm->exit_redirect = NULL;
		vm->abort_jmp = outer;
		longjmp(*outer, 1);
	}
	fn(arg);
	vm->abort_jmp = outer;
}
