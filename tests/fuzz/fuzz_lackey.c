/*
 * fuzz_lackey.c - the valgrind lackey trace reader (workloads/replay.c).
 *
 * Every line of the input goes through replay_parse_line(), whose result
 * is checked against the rules it promises: a record has a kind of I, L, S
 * or M, a size of 1..REPLAY_MAX_SIZE and an address below
 * 2^REPLAY_ADDR_BITS; an error always says why. Then a short input is
 * replayed whole, through a memfd, on a small native VM: the line
 * splitter, the truncated-last-line and empty-line rules, and the mapping of
 * the regions the trace touches (fuzz_replay_whole(), support_replay.c).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "../../src/cli/registry.h"
#include "../../workloads/replay.h"

static void check_line(const char *line, size_t len)
{
	struct replay_rec rec;
	char why[128] = "";
	enum replay_line kind = replay_parse_line(line, len, &rec, why, sizeof(why));

	if (kind == REPLAY_LINE_ERROR && why[0] == '\0')
		abort(); /* an error must say why */
	if (kind == REPLAY_LINE_RECORD) {
		if (rec.kind != 'I' && rec.kind != 'L' && rec.kind != 'S' && rec.kind != 'M')
			abort();
		if (rec.size == 0 || rec.size > REPLAY_MAX_SIZE ||
		    rec.addr >> REPLAY_ADDR_BITS != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_for_each_line(data, size, check_line);
	if (size <= 4096)
		fuzz_replay_whole(data, size, "fuzz-lackey");
	return 0;
}
