/*
 * guard.h - a delegated call under its own landing point on
 * vm->abort_jmp.
 *
 * A mode that composes other modes (switching; the nested-virtualization
 * modes of src/nvirt) runs a sibling's code with the sibling's state in
 * vm->mode_state and its ops in vm->mmu (the sibling's api.h duty). A
 * guest-level failure inside (vm_abort(): host or heap memory exhausted,
 * an audit failure) longjmps to vm->abort_jmp, and the run's teardown then
 * calls vm->mmu->destroy on vm->mode_state: without a landing point of its
 * own the composing mode would leave the sibling's half there, and its own
 * state, with the other half, would leak.
 *
 * Invariant: after vm_call_guarded() returns or aborts through it,
 * vm->abort_jmp is the caller's again; after an abort, vm->mode_state and
 * vm->mmu are the composing mode's (home_state, home_ops) and no
 * vm->exit_redirect is left set (a composing mode sets one around its
 * delegated calls only).
 */
#ifndef VMMU_GUARD_H
#define VMMU_GUARD_H

#include "vm.h"

/*
 * Run fn(arg). If it aborts the run, put home_state and home_ops back in
 * vm->mode_state and vm->mmu, then continue the abort at the caller's
 * landing point. Without one (vm->abort_jmp NULL: vm_abort() exits the
 * process) fn simply runs. On a normal return vm->mode_state and vm->mmu
 * are what fn left: restoring them is the caller's business.
 */
void vm_call_guarded(struct vm *vm, void *home_state, const struct mmu_ops *home_ops,
		     void (*fn)(void *arg), void *arg);

#endif
