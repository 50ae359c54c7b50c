/*
 * test_replay.c - unit tests of the lackey trace replay (workloads/replay.c).
 *
 * Two parts:
 *   - the line parser, one table of lines with the exact record or the exact
 *     reason each gives (docs/replay.md lists them);
 *   - whole replays of a small hand-written trace through run_workload(),
 *     under native, shadow and nested: exact fault and access counts, equal
 *     checksums and digests, and one deliberately malformed trace that must
 *     stop the run as bad input.
 *
 * The trace below (addresses in hex, pages of 4 KiB):
 *
 *   0x00400000 .. 0x00401004   code: a fetch that crosses into page 0x401
 *   0x10000000                 data: load, store, modify, 16-byte load
 *   0x1fff000ffc               stack: an 8-byte store across two pages
 *
 * touches pages 0x400, 0x401, 0x10000, 0x1fff000, 0x1fff001: 5 faults.
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

#include "../src/core/config.h"
#include "../workloads/replay.h"
#include "../src/lib/run.h"
#include "../src/cli/registry.h"

/* ---- the parser ---- */

struct parse_case {
	const char *line;
	size_t len; /* 0 = strlen(line) */
	enum replay_line want;
	char kind;
	uint64_t addr;
	unsigned size;
	const char *why; /* exact reason for REPLAY_LINE_ERROR */
};

static const struct parse_case parse_cases[] = {
    {"I  0401ab70,3", 0, REPLAY_LINE_RECORD, 'I', 0x0401ab70, 3, NULL},
    {" L 1fff000708,8", 0, REPLAY_LINE_RECORD, 'L', UINT64_C(0x1fff000708), 8, NULL},
    {" S 1FFF000700,16", 0, REPLAY_LINE_RECORD, 'S', UINT64_C(0x1fff000700), 16, NULL},
    {" M 0000000402c018,512", 0, REPLAY_LINE_RECORD, 'M', 0x402c018, 512, NULL},
    {" L 1ffffffffffffff,1", 0, REPLAY_LINE_RECORD, 'L', (UINT64_C(1) << 57) - 1, 1, NULL},
    {"==1234== Lackey, an example Valgrind tool", 0, REPLAY_LINE_BANNER, 0, 0, 0, NULL},
    {"==1== ", 0, REPLAY_LINE_BANNER, 0, 0, 0, NULL},
    {"", 0, REPLAY_LINE_EMPTY, 0, 0, 0, NULL},
    {"== banner ==", 0, REPLAY_LINE_ERROR, 0, 0, 0, "not a lackey line"},
    {"hello", 0, REPLAY_LINE_ERROR, 0, 0, 0, "not a lackey line"},
    {" X 1000,8", 0, REPLAY_LINE_ERROR, 0, 0, 0, "not a lackey line"},
    {"I 0401ab70,3", 0, REPLAY_LINE_ERROR, 0, 0, 0, "not a lackey line"},
    {"I", 0, REPLAY_LINE_ERROR, 0, 0, 0, "truncated line"},
    {" S", 0, REPLAY_LINE_ERROR, 0, 0, 0, "truncated line"},
    {"I  ", 0, REPLAY_LINE_ERROR, 0, 0, 0, "truncated line"},
    {"I  ,3", 0, REPLAY_LINE_ERROR, 0, 0, 0, "missing address"},
    {" S 1fff00g708,8", 0, REPLAY_LINE_ERROR, 0, 0, 0, "bad hex digit 'g' in address"},
    {" S 0x1fff0708,8", 0, REPLAY_LINE_ERROR, 0, 0, 0, "bad hex digit 'x' in address"},
    {"I  0401ab70", 0, REPLAY_LINE_ERROR, 0, 0, 0, "missing size"},
    {"I  0401ab70,", 0, REPLAY_LINE_ERROR, 0, 0, 0, "missing size"},
    {"I  0401ab70,3 ", 0, REPLAY_LINE_ERROR, 0, 0, 0, "bad size (character ' ')"},
    {" L 1000,0", 0, REPLAY_LINE_ERROR, 0, 0, 0, "size 0"},
    {" L 1000,513", 0, REPLAY_LINE_ERROR, 0, 0, 0, "size above the maximum of 512"},
    {" L 1000,99999999999999999999", 0, REPLAY_LINE_ERROR, 0, 0, 0,
     "size above the maximum of 512"},
    {" L 200000000000000,8", 0, REPLAY_LINE_ERROR, 0, 0, 0, "address past 2^57"},
    {" L 1fffffffffffffc,8", 0, REPLAY_LINE_ERROR, 0, 0, 0, "address past 2^57"},
    {" L fffffffffffffffffff,8", 0, REPLAY_LINE_ERROR, 0, 0, 0, "address past 2^57"},
    {"I  04\0001ab,3", 13, REPLAY_LINE_ERROR, 0, 0, 0, "binary data (byte 0x00 at column 6)"},
    {"\177ELF", 0, REPLAY_LINE_ERROR, 0, 0, 0, "binary data (byte 0x7f at column 1)"},
    {"I  0401ab70,3\r", 0, REPLAY_LINE_ERROR, 0, 0, 0,
     "CRLF line endings (a DOS file; convert it with dos2unix)"},
    {"I  0401\rab70,3", 0, REPLAY_LINE_ERROR, 0, 0, 0, "binary data (byte 0x0d at column 8)"},
};

static void test_parse_table(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(parse_cases) / sizeof(parse_cases[0]); k++) {
		const struct parse_case *t = &parse_cases[k];
		struct replay_rec rec = {.kind = '?', .addr = 0x5a5a, .size = 77};
		char why[128] = "";
		size_t len = t->len ? t->len : strlen(t->line);
		enum replay_line got = replay_parse_line(t->line, len, &rec, why, sizeof(why));

		if (got != t->want)
			fail_msg("case %zu '%s': got %d, want %d (%s)", k, t->line, got, t->want,
				 why);
		if (t->want == REPLAY_LINE_RECORD) {
			assert_int_equal(rec.kind, t->kind);
			assert_int_equal(rec.addr, t->addr);
			assert_int_equal(rec.size, t->size);
		}
		if (t->want == REPLAY_LINE_ERROR && strcmp(why, t->why) != 0)
			fail_msg("case %zu '%s': reason '%s', want '%s'", k, t->line, why, t->why);
	}
}

static void test_workload_names(void **state)
{
	struct replay_workload rw;

	(void)state;
	assert_int_equal(replay_workload_init(&rw, "dir/sort.lackey"), 0);
	assert_string_equal(rw.w.name, "replay:sort");
	assert_ptr_equal(replay_input_of(&rw.w), &rw.in);
	assert_int_equal(replay_workload_init(&rw, "a b,c.trace"), 0);
	assert_string_equal(rw.w.name, "replay:a_b_c.trace");
	assert_int_equal(replay_workload_init(&rw, "-"), 0);
	assert_string_equal(rw.w.name, "replay:stdin");
	assert_null(replay_input_of(workloads[0]));
}

/* ---- whole replays ---- */

static const char small_trace[] = "==42== Lackey, an example Valgrind tool\n"
				  "==42== \n"
				  "I  00400ff0,4\n"
				  "I  00400ffe,6\n" /* crosses into page 0x401 */
				  " L 10000000,8\n"
				  " S 10000000,8\n"
				  " M 10000008,4\n"
				  " L 10000000,16\n"  /* two 8-byte loads */
				  " S 1fff000ffc,8\n" /* 4 + 4 on two pages */
				  "I  00401004,3\n"
				  "==42== Exit code:       0\n";

/* Write text to a fresh temporary file; returns its malloc'ed path. */
static char *write_trace(const char *text, size_t len)
{
	char *path = strdup("/tmp/test_replay.XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

/* With system calls (the default) a trace without SYSCALL lines maps its
 * pages as the program image, one at a time; with --no-syscalls, in 2 MiB
 * regions. Either way each page takes one demand-zero fault. */
static int replay_file_as(const char *path, const char *mode, struct run_result *r, bool *bad,
			  bool no_syscalls)
{
	struct vm_config cfg;
	struct replay_workload rw;
	struct wl_params p = {.seed = 1};
	int rc;

	config_defaults(&cfg);
	cfg.mode = mode;
	assert_int_equal(replay_workload_init(&rw, path), 0);
	rw.in.no_syscalls = no_syscalls;
	p.arg = replay_input_of(&rw.w);
	rc = run_workload(&cfg, &rw.w, &p, NULL, r);
	replay_input_close(&rw.in);
	*bad = rw.in.bad_input;
	if (rc == 0) {
		assert_int_equal(rw.in.records, 8);
		assert_int_equal(rw.in.straddles, 2);
		assert_int_equal(rw.in.regions, no_syscalls ? 3 : 0);
		assert_int_equal(rw.in.sys.image_pages, no_syscalls ? 0 : 5);
	}
	return rc;
}

static int replay_file(const char *path, const char *mode, struct run_result *r, bool *bad)
{
	return replay_file_as(path, mode, r, bad, false);
}

static void test_replay_all_modes(void **state)
{
	static const char *const modes[] = {"native", "shadow", "nested"};
	char *path = write_trace(small_trace, sizeof(small_trace) - 1);
	struct run_result first;

	(void)state;
	for (size_t m = 0; m < 6; m++) {
		struct run_result r;
		bool bad;

		if (replay_file_as(path, modes[m % 3], &r, &bad, m >= 3) != 0)
			fail_msg("%s: %s", modes[m % 3], r.err);
		/* 5 distinct pages, each one demand-zero fault. */
		assert_int_equal(r.st.guest_faults, 5);
		assert_int_equal(r.st.demand_faults, 5);
		/* fetches 1 + 2 + 1; L 1, S 1, M 2, L16 2, S 2 */
		assert_int_equal(r.st.user_accesses, 4 + 1 + 1 + 2 + 2 + 2);
		if (m == 0) {
			first = r;
			continue;
		}
		assert_int_equal(r.checksum, first.checksum);
		assert_int_equal(r.guest_digest, first.guest_digest);
	}
	unlink(path);
	free(path);
}

/* The deliberate fault: one bad line after good ones stops the run as bad
 * input, under every mode. */
static void test_replay_rejects(void **state)
{
	static const char bad_trace[] = "I  00400ff0,4\n L 10000000,8\n S 1000zz00,8\n";
	char *path = write_trace(bad_trace, sizeof(bad_trace) - 1);
	struct run_result r;
	bool bad;
	char want[256];

	(void)state;
	assert_int_not_equal(replay_file(path, "shadow", &r, &bad), 0);
	assert_true(bad);
	snprintf(want, sizeof(want), "%s:3: bad hex digit 'z' in address: ' S 1000zz00,8'", path);
	assert_string_equal(r.err, want);
	unlink(path);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_table),
	    cmocka_unit_test(test_workload_names),
	    cmocka_unit_test(test_replay_all_modes),
	    cmocka_unit_test(test_replay_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
