/*
 * support_replay.c - the replay of one fuzz input as a whole trace, shared
 * by the harnesses of the trace readers (fuzz_lackey.c and fuzz_syscall.c
 * replay their input as a lackey trace, fuzz_tbin.c the binary file its
 * writer made): the input is written to a memfd and replayed, system
 * calls on, on a 16 MiB native guest (run_workload() of src/lib/run.h), so
 * the line splitter, the truncated-last-line and empty-line rules, the
 * mapping of the regions the trace touches and the system calls all see
 * it. A run that fails is an answer, not a finding; the harness's
 * sanitizers catch what is.
 *
 * Invariant (fuzz.h): writes nothing but its memfd, frees what it takes.
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "../../src/core/config.h"
#include "../../src/lib/run.h"
#include "../../workloads/replay.h"

void fuzz_replay_fd(int fd, const char *name)
{
	struct replay_workload *rw = malloc(sizeof(*rw));
	struct wl_params p = {.seed = 1};
	struct vm_config cfg;
	struct run_result r;

	if (rw == NULL || lseek(fd, 0, SEEK_SET) != 0 || replay_workload_init(rw, name) != 0) {
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

void fuzz_replay_whole(const uint8_t *data, size_t size, const char *memfd_name)
{
	int fd = memfd_create(memfd_name, MFD_CLOEXEC);

	if (fd < 0)
		return;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return;
	}
	fuzz_replay_fd(fd, "fuzz.lackey");
}
