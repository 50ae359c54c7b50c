/*
 * fuzz_syscall.c - the SYSCALL-line parser of syscall replay
 * (workloads/replay_sys.c).
 *
 * Every line of the input goes through rsys_classify(), and every line it
 * calls a SYSCALL line through rsys_parse(), whose result is checked
 * against what it promises (replay_sys.h): an error always says why; on
 * success the pid is positive, the name is non-empty and NUL-terminated,
 * at most 6 arguments, 'used' within the line and 'rest' inside it, a
 * child pid of -1 or positive, and no "ok" without a result. Then a short
 * input is replayed whole, system calls on, through a memfd, on a small
 * native VM: the calls themselves (mmap, munmap, mprotect, brk, mremap,
 * clone, exec, exit), the process table and the unknown-territory rule.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "../../workloads/replay.h"

static void check_line(const char *line, size_t len)
{
	struct rsys_call_line sc;
	char why[128] = "";

	if (rsys_classify(line, len) != RSYS_LINE_SYSCALL)
		return;
	if (rsys_parse(line, len, &sc, why, sizeof(why)) != 0) {
		if (why[0] == '\0')
			abort(); /* an error must say why */
		return;
	}
	if (sc.pid <= 0 || sc.tid < 0 || sc.name[0] == '\0' ||
	    memchr(sc.name, '\0', sizeof(sc.name)) == NULL)
		abort();
	if (sc.nargs < 0 || sc.nargs > 6 || sc.used > len || sc.used == 0)
		abort();
	if (sc.rest != 0 && sc.rest >= sc.used)
		abort();
	if (sc.child != -1 && sc.child <= 0)
		abort();
	if (sc.ok && !sc.has_result)
		abort();
	/* A second call glued to this one parses on its own. */
	if (sc.used < len)
		check_line(line + sc.used, len - sc.used);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_for_each_line(data, size, check_line);
	if (size <= 4096)
		fuzz_replay_whole(data, size, "fuzz-syscall");
	return 0;
}
