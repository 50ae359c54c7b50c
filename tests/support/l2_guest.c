/*
 * l2_guest.c - the hand-built L2 guest and the exit recorder of the
 * nested-virtualization tests (l2_guest.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "l2_guest.h"
#include "../../src/core/config.h"
#include "../../src/core/cpu.h"
#include "../../src/cli/registry.h"

struct vm_config l2_cfg(const char *mode, enum page_size host_page)
{
	struct vm_config c;
	config_defaults(&c);
	c.mode = mode;
	c.guest_mem = UINT64_C(64) << 20;
	c.walk_caches = false;
	c.host_page = host_page;
	c.audit = true;
	return c;
}

struct vm *l2_mk(const struct vm_config *c)
{
	char err[256] = "";
	struct vm *vm = vm_create(c, err, sizeof(err));
	if (!vm)
		fail_msg("vm_create: %s", err);
	return vm;
}

void l2_build_tables(struct vm *vm)
{
	gpa_write64(vm, GPA(TBL(0x11) + 8 * pt_index(VA_4K, 4)), TBL(0x12) | UP);
	gpa_write64(vm, GPA(TBL(0x12) + 8 * pt_index(VA_4K, 3)), TBL(0x13) | UP);
	gpa_write64(vm, GPA(TBL(0x13) + 8 * pt_index(VA_4K, 2)), TBL(0x14) | UP);
	for (unsigned i = 0; i < 16; i++)
		gpa_write64(vm, GPA(TBL(0x14) + 8 * pt_index(PG(i), 1)),
			    (i == 15 ? TBL(0x14) : TBL(0x100 + i)) | UP);
	cpu_write_cr3(&vm->vcpu, TBL(0x11));
	memset(&vm->st, 0, sizeof(vm->st));
	cpu_set_user(&vm->vcpu, true);
}

static void l2_seq_fn(void *ctx, const struct trace_event *ev)
{
	struct l2_seq *s = ctx;
	if (ev->kind == TR_VM_EXIT && s->n < L2_SEQ_MAX)
		s->reason[s->n++] = (int)ev->result;
}

void l2_seq_attach(struct vm *vm, struct l2_seq *s)
{
	vm->trace_fn = l2_seq_fn;
	vm->trace_ctx = s;
}

void l2_seq_expect(const struct l2_seq *s, const int *want, int n)
{
	char buf[512] = "";
	for (int i = 0; i < s->n && i < L2_SEQ_MAX; i++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), " %d", s->reason[i]);
	if (s->n != n)
		fail_msg("%d exits, want %d:%s", s->n, n, buf);
	for (int i = 0; i < n; i++)
		if (s->reason[i] != want[i])
			fail_msg("exit %d: reason %d, want %d:%s", i, s->reason[i], want[i], buf);
}
