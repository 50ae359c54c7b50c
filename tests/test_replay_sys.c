/*
 * test_replay_sys.c - unit tests of the system-call line parser
 * (workloads/replay_sys.c) and of the binary trace form
 * (workloads/trace_bin.c).
 *
 *   - rsys_classify() and rsys_parse() on lines as valgrind 3.19 prints
 *     them (taken from real recordings), with the exact fields;
 *   - malformed heads, each with its reason;
 *   - a binary round trip through a pipe: every record and text line comes
 *     back, in order; the stream cut at every length is reported as
 *     truncated, never read as a shorter trace.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../workloads/replay_sys.h"
#include "../workloads/trace_bin.h"

/* ---- the parser ---- */

static void test_classify(void **state)
{
	(void)state;
	assert_int_equal(rsys_classify("SYSCALL[1,1](9) sys_mmap", 24), RSYS_LINE_SYSCALL);
	assert_int_equal(rsys_classify(" --> [pre-success] Success(0x0) ", 32), RSYS_LINE_CONT);
	assert_int_equal(rsys_classify("--5573-- WARNING: x", 19), RSYS_LINE_NOTE);
	assert_int_equal(rsys_classify("==5573== Lackey", 15), RSYS_LINE_NONE);
	assert_int_equal(rsys_classify(" L 1fff000708,8", 15), RSYS_LINE_NONE);
	assert_int_equal(rsys_classify("--x-- a", 7), RSYS_LINE_NONE);
}

static void parse_ok(const char *line, struct rsys_call_line *sc)
{
	char why[160] = "";
	int rc = rsys_parse(line, strlen(line), sc, why, sizeof(why));
	if (rc != 0)
		fail_msg("'%s': %s", line, why);
}

static void test_parse_calls(void **state)
{
	struct rsys_call_line sc;
	const char *glued;

	(void)state;
	parse_ok("SYSCALL[2028,1](9) sys_mmap ( 0x0, 16400, 1, 2050, 3, 0 ) --> [pre-success] "
		 "Success(0x4837000) ",
		 &sc);
	assert_int_equal(sc.pid, 2028);
	assert_int_equal(sc.tid, 1);
	assert_int_equal(sc.nr, 9);
	assert_string_equal(sc.name, "sys_mmap");
	assert_int_equal(sc.nargs, 6);
	assert_int_equal(sc.arg[0], 0);
	assert_int_equal(sc.arg[1], 16400);
	assert_int_equal(sc.arg[2], 1);
	assert_int_equal(sc.arg[3], 2050);
	assert_int_equal(sc.arg[4], 3);
	assert_true(sc.has_result && sc.ok);
	assert_int_equal(sc.result, 0x4837000);
	assert_int_equal(sc.child, -1);

	parse_ok("SYSCALL[2028,1](11) sys_munmap ( 0x483c000, 41803 )[sync] --> Success(0x0) ",
		 &sc);
	assert_string_equal(sc.name, "sys_munmap");
	assert_int_equal(sc.nargs, 2);
	assert_int_equal(sc.arg[0], 0x483c000);
	assert_int_equal(sc.arg[1], 41803);
	assert_true(sc.ok);

	parse_ok("SYSCALL[2028,1](21) sys_access ( 0x402a2a0(/etc/ld.so.preload), 4 )[sync] --> "
		 "Failure(0x2) ",
		 &sc);
	assert_true(sc.has_result);
	assert_false(sc.ok);

	parse_ok("SYSCALL[2028,1](56) sys_clone ( 1200011, 0x0, 0x0, 0x4a29a10, 0x0 )   "
		 "clone(fork): process 2028 created child 2064",
		 &sc);
	assert_int_equal(sc.arg[0], 0x1200011); /* clone's flags: bare hex */
	assert_int_equal(sc.child, 2064);
	assert_false(sc.has_result);

	parse_ok("SYSCALL[2064,1](231) exit_group( 0 ) --> [pre-success] Success(0x0) ", &sc);
	assert_string_equal(sc.name, "exit_group");
	assert_int_equal(sc.nargs, 1);

	parse_ok("SYSCALL[9017,2](25) sys_mremap ( 0x522d000, 200704, 2002944, 0x1 ) --> "
		 "[pre-success] Success(0x525e000) ",
		 &sc);
	assert_int_equal(sc.nargs, 4);
	assert_int_equal(sc.arg[2], 2002944);
	assert_int_equal(sc.result, 0x525e000);

	/* A thread's first call glued to its parent's clone line. */
	glued = "SYSCALL[9017,1](56) sys_clone ( 3d0f00, 0x522bf70, 0x522c990, 0x522c990, "
		"0x522c6c0 ) --> [pre-success] Success(0x236d) SYSCALL[9017,2](273) "
		"sys_set_robust_list ( 0x522c9a0, 24 )[sync] --> Success(0x0) ";
	parse_ok(glued, &sc);
	assert_int_equal(sc.arg[0], 0x3d0f00);
	assert_int_equal(sc.result, 0x236d);
	assert_memory_equal(glued + sc.used, "SYSCALL[9017,2](273)", 20);
	parse_ok(glued + sc.used, &sc);
	assert_int_equal(sc.tid, 2);
	assert_string_equal(sc.name, "sys_set_robust_list");
	assert_int_equal(sc.rest, 0);

	/* A thread's first access glued to the clone line: left at rest. */
	glued = "SYSCALL[22849,1](56) sys_clone ( 3d0f00, 0x522bf70, 0x522c990, 0x522c990, "
		"0x522c6c0 ) --> [pre-success] Success(0x5959) I  0494fb42,3";
	parse_ok(glued, &sc);
	assert_int_equal(sc.used, strlen(glued));
	assert_string_equal(glued + sc.rest, "I  0494fb42,3");
}

static void test_parse_bad(void **state)
{
	static const char *const bad[] = {
	    "SYSCALL[",
	    "SYSCALL[12](9) sys_mmap",
	    "SYSCALL[x,1](9) sys_mmap",
	    "SYSCALL[0,1](9) sys_mmap",
	    "SYSCALL[12,1]9) sys_mmap",
	    "SYSCALL[12,1](9)sys_mmap",
	    "SYSCALL[12,1](9) ",
	};
	struct rsys_call_line sc;
	char why[160];

	(void)state;
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		if (rsys_parse(bad[k], strlen(bad[k]), &sc, why, sizeof(why)) == 0)
			fail_msg("'%s' parsed", bad[k]);
		assert_string_equal(
		    why, "malformed SYSCALL line (expected SYSCALL[PID,TID](NR) NAME ...)");
	}
	/* A name with a NUL or a control byte (a binary trace's text line can
	 * hold them; found by tests/fuzz/fuzz_syscall.c) is no name. */
	static const char nul_name[] = "SYSCALL[1,1](12) \0\0sys_brk ( 0x0 )";
	static const char ctl_name[] = "SYSCALL[1,1](12) sys\x01brk ( 0x0 )";
	assert_int_equal(rsys_parse(nul_name, sizeof(nul_name) - 1, &sc, why, sizeof(why)), -1);
	assert_string_equal(why, "malformed SYSCALL line (expected SYSCALL[PID,TID](NR) NAME ...)");
	assert_int_equal(rsys_parse(ctl_name, sizeof(ctl_name) - 1, &sc, why, sizeof(why)), -1);
	assert_int_equal(rsys_parse("SYSCALL[1,1](56) sys_clone ( 11 ) created child x", 49, &sc,
				    why, sizeof(why)),
			 -1);
	assert_string_equal(why, "malformed child pid in a clone line");
}

/* ---- the binary form ---- */

#define NREC 5000

static struct replay_rec rec_at(int k)
{
	static const char kinds[] = "ILSM";
	struct replay_rec r = {.kind = kinds[k % 4],
			       .addr = UINT64_C(0x400000) + (uint64_t)k * 4093 % 900000 +
				       (k % 7 == 0 ? UINT64_C(0x1fff000000) : 0),
			       .size = (unsigned)(k % 13 == 0 ? 512 : 1 + k % 61)};
	return r;
}

/* Write NREC records with a text line every 100 into a memory buffer. */
static unsigned char *make_stream(size_t *n)
{
	char path[] = "/tmp/test_replay_sys.XXXXXX", err[200];
	int fd = mkstemp(path);
	struct tbin_writer *w;
	unsigned char *buf;
	long len;

	assert_true(fd >= 0);
	unlink(path);
	w = tbin_create(fd, err, sizeof(err));
	assert_non_null(w);
	for (int k = 0; k < NREC; k++) {
		struct replay_rec r = rec_at(k);
		if (k % 100 == 0)
			assert_int_equal(tbin_put_text(w, "==7== hello", 11), 0);
		assert_int_equal(tbin_put_access(w, &r), 0);
	}
	assert_int_equal(tbin_finish(w, err, sizeof(err)), 0);
	len = lseek(fd, 0, SEEK_END);
	assert_true(len > TRACE_BIN_HEADER_LEN);
	buf = malloc((size_t)len);
	assert_int_equal(pread(fd, buf, (size_t)len, 0), len);
	close(fd);
	*n = (size_t)len;
	return buf;
}

/* Read the first n bytes of buf as a trace: 1 when complete, -1 on an
 * error (err set), with *records counted. */
static int read_stream(const unsigned char *buf, size_t n, int *records, char *err, size_t errlen)
{
	int p[2], rc;
	struct tbin_reader *r;
	struct tbin_event ev;
	size_t pre = n < TRACE_BIN_HEADER_LEN ? n : TRACE_BIN_HEADER_LEN;

	*records = 0;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], buf + pre, n - pre), (ssize_t)(n - pre));
	close(p[1]);
	r = tbin_open(p[0], buf, pre, err, errlen);
	if (r == NULL) {
		close(p[0]);
		return -1;
	}
	while ((rc = tbin_next(r, &ev, err, errlen)) == 1) {
		if (ev.kind == TBIN_ACCESS) {
			struct replay_rec want = rec_at(*records);
			assert_int_equal(ev.rec.kind, want.kind);
			assert_int_equal(ev.rec.addr, want.addr);
			assert_int_equal(ev.rec.size, want.size);
			(*records)++;
		} else {
			assert_int_equal(ev.len, 11);
			assert_memory_equal(ev.text, "==7== hello", 11);
		}
	}
	tbin_close(r);
	close(p[0]);
	return rc == 0 ? 1 : -1;
}

static void test_binary_round_trip(void **state)
{
	size_t n;
	unsigned char *buf = make_stream(&n);
	char err[300];
	int records;

	(void)state;
	assert_true(trace_bin_is(buf, n));
	assert_int_equal(read_stream(buf, n, &records, err, sizeof(err)), 1);
	assert_int_equal(records, NREC);
	free(buf);
}

static void test_binary_truncated(void **state)
{
	size_t n;
	unsigned char *buf = make_stream(&n);
	char err[300];
	int records;

	(void)state;
	/* Every cut: an error that says truncated (or a cut header), never a
	 * clean shorter trace. */
	for (size_t cut = 0; cut < n; cut += (cut < 64 || n - cut < 64) ? 1 : 97) {
		if (read_stream(buf, cut, &records, err, sizeof(err)) != -1)
			fail_msg("a stream cut at %zu of %zu bytes read as complete", cut, n);
		if (strstr(err, "truncated") == NULL && strstr(err, "corrupt") == NULL)
			fail_msg("cut at %zu: '%s'", cut, err);
	}
	/* A wrong version is named. */
	buf[8] = 9;
	assert_int_equal(read_stream(buf, n, &records, err, sizeof(err)), -1);
	assert_string_equal(err, "binary trace version 9 (flags 0) is not supported (this vmmu "
				 "reads version 1)");
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_classify),	     cmocka_unit_test(test_parse_calls),
	    cmocka_unit_test(test_parse_bad),	     cmocka_unit_test(test_binary_round_trip),
	    cmocka_unit_test(test_binary_truncated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
