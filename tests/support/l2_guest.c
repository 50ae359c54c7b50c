/*
 * l2_guest.c - the hand-built L2 guest, the exit recorder, whole runs and
 * the CLI runner of the nested-virtualization tests (l2_guest.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
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

struct vm *l2_first_touch(const struct vm_config *c, struct l2_seq *s,
			  void (*attach)(struct vm *vm, struct l2_seq *s))
{
	struct vm *vm = l2_mk(c);

	l2_build_tables(vm);
	*s = (struct l2_seq){0};
	(attach ? attach : l2_seq_attach)(vm, s);
	cpu_store(&vm->vcpu, PG(0), 8, SENTINEL);
	vm->trace_fn = NULL;
	return vm;
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

void l2_audit_clean(struct vm *vm)
{
	char detail[256];
	const char *bad = vm->mmu->audit(vm, detail, sizeof(detail));
	if (bad)
		fail_msg("audit: %s: %s", bad, detail);
}

void l2_run(const struct vm_config *c, const char *wl, const struct wl_params *p,
	    struct run_result *r)
{
	const struct workload *w = workload_find(wl);
	if (!w)
		fail_msg("no workload '%s'", wl);
	struct wl_params dflt = {0};
	if (run_workload(c, w, p ? p : &dflt, NULL, r) != 0)
		fail_msg("%s under %s: %s", wl, c->mode, r->err);
}

int l2_cli(const char *argv0, const char *const *args, char *err, size_t len)
{
	/* build/tests/test_x -> build/vmmu */
	char path[4096];
	snprintf(path, sizeof(path), "%s", argv0);
	char *slash = strrchr(path, '/');
	snprintf(slash ? slash + 1 : path, sizeof(path) - (size_t)(slash ? slash + 1 - path : 0),
		 "../vmmu");
	if (access(path, X_OK) != 0)
		fail_msg("%s: %s (the test runs the built binary)", path, strerror(errno));
	int fd[2];
	assert_int_equal(pipe(fd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fd[1], 2);
		close(fd[0]);
		int devnull = open("/dev/null", O_WRONLY);
		dup2(devnull, 1);
		char *argv[32];
		int n = 0;
		argv[n++] = path;
		for (; args[n - 1] && n < 31; n++)
			argv[n] = (char *)args[n - 1];
		argv[n] = NULL;
		execv(path, argv);
		_exit(127);
	}
	close(fd[1]);
	size_t used = 0;
	char sink[256];
	for (;;) {
		/* Read to the end: a closed pipe would kill the writer. */
		ssize_t got = used + 1 < len ? read(fd[0], err + used, len - 1 - used)
					     : read(fd[0], sink, sizeof(sink));
		if (got <= 0)
			break;
		if (used + 1 < len)
			used += (size_t)got;
	}
	err[used] = '\0';
	close(fd[0]);
	int st = 0;
	if (waitpid(pid, &st, 0) != pid)
		fail_msg("waitpid: %s", strerror(errno));
	if (!WIFEXITED(st))
		fail_msg("%s: ended by signal %d", path, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	return WEXITSTATUS(st);
}
