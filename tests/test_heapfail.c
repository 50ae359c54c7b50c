/*
 * test_heapfail.c - injected failures of the simulator's own heap.
 *
 * This binary is linked with -Wl,--wrap=malloc,--wrap=calloc,
 * --wrap=realloc,--wrap=strdup (a target-specific LDFLAGS line in the
 * Makefile): every call the test and libvmmu.a make to those functions
 * goes through the __wrap_ functions below, which count the calls and fail
 * the Nth one with NULL and ENOMEM, as an exhausted jemalloc would. Calls
 * made inside the C library or libzstd are not counted.
 *
 * For each mode of the registry and two small runs (fork: two processes,
 * copy-on-write, exit; and the replay of tests/data/syscalls.lackey, with
 * its system calls), a clean run counts its heap allocations, A
 * (vm_create, the TLBs and walk caches, the mode's own tables, the guest
 * kernel's frame tables, process and VMA arrays, the workload's buffers).
 * Then the run is repeated with allocation N failing, for every N in
 * 1..A: run_workload() must return -1 with r.ok false and a message that
 * says the simulator ran out of memory, never crash (an abort() would end
 * this binary), and N = A + 1 runs to the end with the clean run's
 * checksum and digest. One kind of failure is absorbed instead: growing
 * the list of free VMM frames (hostmem_free_frame(), which also runs at
 * teardown and must not fail); the frame is then not reused, and the run
 * must complete with the clean run's checksum and digest. Under `make SANITIZE=1 test` LeakSanitizer checks
 * that none of the failed runs leaked.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../src/cli/registry.h"
#include "../src/core/config.h"
#include "../src/lib/run.h"
#include "../workloads/replay.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);

/* The injection state: the only mutable file-scope state of the binary,
 * since the allocator itself has no context to carry it. */
static struct {
	uint64_t calls;	  /* counted calls since heap_arm() */
	uint64_t fail_at; /* 0 = never */
	bool armed;
} heap;

static bool heap_fail_now(void)
{
	if (!heap.armed)
		return false;
	heap.calls++;
	if (heap.fail_at != 0 && heap.calls == heap.fail_at) {
		errno = ENOMEM;
		return true;
	}
	return false;
}

void *__wrap_malloc(size_t n)
{
	return heap_fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t k, size_t n)
{
	return heap_fail_now() ? NULL : __real_calloc(k, n);
}

void *__wrap_realloc(void *p, size_t n)
{
	return heap_fail_now() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
	return heap_fail_now() ? NULL : __real_strdup(s);
}

static void heap_arm(uint64_t fail_at)
{
	heap.calls = 0;
	heap.fail_at = fail_at;
	heap.armed = true;
}

static uint64_t heap_disarm(void)
{
	heap.armed = false;
	return heap.calls;
}

static bool says_out_of_memory(const char *err)
{
	return strstr(err, "out of memory") != NULL;
}

/* One run of workload wname, or of the trace at path when wname is NULL
 * (a fresh replay input each time: it holds the trace's file). */
static int heap_run(const struct vm_config *c, const char *wname, const char *path,
		    struct run_result *r)
{
	struct wl_params p = {.seed = 7, .pages = 16, .ops = 100, .procs = 2};
	struct replay_workload *rw;
	int rc;

	if (wname != NULL) {
		const struct workload *w = workload_find(wname);
		assert_non_null(w);
		return run_workload(c, w, &p, NULL, r);
	}
	rw = __real_malloc(sizeof(*rw));
	assert_non_null(rw);
	assert_int_equal(replay_workload_init(rw, path), 0);
	p.arg = &rw->in;
	rc = run_workload(c, &rw->w, &p, NULL, r);
	replay_input_close(&rw->in);
	free(rw);
	return rc;
}

/* Every heap allocation of one small run, failed one at a time. */
static uint64_t sweep_heap(const char *mode, const char *wname, const char *path,
			   uint64_t *absorbed)
{
	struct vm_config c;
	struct run_result clean, r;
	uint64_t allocs;

	if (wname == NULL)
		wname = path;
	config_defaults(&c);
	c.guest_mem = UINT64_C(16) << 20;
	c.mode = mode;
	heap_arm(0);
	assert_int_equal(heap_run(&c, wname == path ? NULL : wname, path, &clean), 0);
	allocs = heap_disarm();
	for (uint64_t n = 1; n <= allocs; n++) {
		heap_arm(n);
		int rc = heap_run(&c, wname == path ? NULL : wname, path, &r);
		heap_disarm();
		if (rc == 0) {
			/* Absorbed: only a free list's growth may fail without
			 * ending the run (hostmem_free_frame(): the frame is
			 * not reused), and then nothing the guest sees changes. */
			if (!r.ok || r.checksum != clean.checksum ||
			    r.guest_digest != clean.guest_digest)
				fail_msg("%s/%s: heap allocation %" PRIu64 " of %" PRIu64
					 " failed, the run completed with other results",
					 wname, mode, n, allocs);
			(*absorbed)++;
			continue;
		}
		if (rc != -1 || r.ok)
			fail_msg("%s/%s: heap allocation %" PRIu64 " of %" PRIu64
				 " failed: rc %d, ok %d",
				 wname, mode, n, allocs, rc, r.ok);
		if (!says_out_of_memory(r.err))
			fail_msg("%s/%s: heap allocation %" PRIu64 " failed: message '%s' does not "
				 "say 'out of memory'",
				 wname, mode, n, r.err);
	}
	heap_arm(allocs + 1);
	assert_int_equal(heap_run(&c, wname == path ? NULL : wname, path, &r), 0);
	heap_disarm();
	assert_int_equal(r.checksum, clean.checksum);
	assert_int_equal(r.guest_digest, clean.guest_digest);
	return allocs;
}

static void test_every_heap_failure_every_mode(void **state)
{
	(void)state;
	for (int i = 0; mmu_modes[i]; i++) {
		uint64_t absorbed = 0;
		uint64_t a = sweep_heap(mmu_modes[i]->name, "fork", NULL, &absorbed);
		print_message("heapfail %-9s fork: %" PRIu64 " heap allocations, each failed once:"
			      " %" PRIu64 " ended the run, %" PRIu64 " absorbed\n",
			      mmu_modes[i]->name, a, a - absorbed, absorbed);
		assert_true(a > 10);
		assert_true(absorbed < a / 4);
	}
}

/* A replay with system calls (mmap, munmap, mprotect, brk, clone, exit):
 * the trace reader's buffers, the replay's process table and known
 * ranges. */
static void test_every_heap_failure_replay(void **state)
{
	(void)state;
	for (int i = 0; mmu_modes[i]; i++) {
		uint64_t absorbed = 0;
		uint64_t a =
		    sweep_heap(mmu_modes[i]->name, NULL, "tests/data/syscalls.lackey", &absorbed);
		print_message("heapfail %-9s replay syscalls.lackey: %" PRIu64
			      " heap allocations: %" PRIu64 " ended the run, %" PRIu64
			      " absorbed\n",
			      mmu_modes[i]->name, a, a - absorbed, absorbed);
		assert_true(a > 10);
		assert_true(absorbed < a / 4);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_heap_failure_every_mode),
	    cmocka_unit_test(test_every_heap_failure_replay),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
