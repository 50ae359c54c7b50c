/*
 * fuzz_lackey.c - the valgrind lackey trace reader (workloads/replay.c).
 *
 * Every line of the input goes through replay_parse_line(), whose result
 * is checked against the rules it promises: a record has a kind of I, L, S
 * or M, a size of 1..REPLAY_MAX_SIZE and an address below
 * 2^REPLAY_ADDR_BITS; an error always says why. Then a short input is
 * replayed whole, through a memfd, on a small native VM: the line
 * splitter, the truncated-last-line and empty-line rules, and the mapping of
 * the regions the trace touches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "../../src/cli/registry.h"
#include "../../src/core/config.h"
#include "../../src/lib/run.h"
#include "../../workloads/replay.h"

static void check_lines(const uint8_t *data, size_t size)
{
	size_t start = 0;

	while (start <= size) {
		const uint8_t *nl = memchr(data + start, '\n', size - start);
		size_t len = nl ? (size_t)(nl - (data + start)) : size - start;
		struct replay_rec rec;
		char why[128] = "";
		enum replay_line kind;

		kind = replay_parse_line((const char *)data + start, len, &rec, why, sizeof(why));
		if (kind == REPLAY_LINE_ERROR && why[0] == '\0')
			abort(); /* an error must say why */
		if (kind == REPLAY_LINE_RECORD) {
			if (rec.kind != 'I' && rec.kind != 'L' && rec.kind != 'S' &&
			    rec.kind != 'M')
				abort();
			if (rec.size == 0 || rec.size > REPLAY_MAX_SIZE ||
			    rec.addr >> REPLAY_ADDR_BITS != 0)
				abort();
		}
		if (nl == NULL)
			break;
		start += len + 1;
	}
}

static void replay_whole(const uint8_t *data, size_t size)
{
	struct replay_workload *rw = malloc(sizeof(*rw));
	struct wl_params p = {.seed = 1};
	struct vm_config cfg;
	struct run_result r;
	int fd;

	if (rw == NULL)
		return;
	fd = memfd_create("fuzz-lackey", MFD_CLOEXEC);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) != 0 ||
	    replay_workload_init(rw, "fuzz.lackey") != 0) {
		if (fd >= 0)
			close(fd);
		free(rw);
		return;
	}
	rw->in.fd = fd;
	config_defaults(&cfg);
	cfg.guest_mem = UINT64_C(16) << 20;
	cfg.mode = "native";
	p.arg = &rw->in;
	(void)run_workload(&cfg, &rw->w, &p, NULL, &r);
	replay_input_close(&rw->in);
	free(rw);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_lines(data, size);
	if (size <= 4096)
		replay_whole(data, size);
	return 0;
}
