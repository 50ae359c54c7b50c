/*
 * fuzz_tbin.c - the binary (zstd) trace reader (workloads/trace_bin.c).
 *
 * Byte 0 of the input picks how the rest becomes a trace file:
 *   bit 0 clear  the rest is the decompressed event stream: the harness
 *                compresses it (one zstd frame) behind a valid header, so
 *                the fuzzer reaches the event decoder (tags, varints, sizes,
 *                addresses, text lines, the end event);
 *   bit 0 set    the rest is the whole file as it is (header and zstd
 *                frames), for the header checks and zstd's own errors.
 * The file is read through a memfd with tbin_open() and tbin_next() to its
 * end, checking what trace_bin.h promises: an error always says why; an
 * access has a kind of I, L, S or M, a size of 1..REPLAY_MAX_SIZE and
 * ends at or below 2^REPLAY_ADDR_BITS; a text event is at most 64 KiB.
 * A trace read cleanly is written again with tbin_create()/tbin_put_*()/
 * tbin_finish() and read back: the same events in the same order (the
 * round trip of the format). With bit 1 of byte 0 set, a short file is
 * also replayed whole on a small native VM (`vmmu replay` of a binary
 * trace, system calls on).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zstd.h>

#include "fuzz.h"
#include "../../src/core/config.h"
#include "../../src/lib/run.h"
#include "../../workloads/replay.h"
#include "../../workloads/trace_bin.h"

#define MAX_EVENTS 4096

struct ev_copy {
	int kind;
	struct replay_rec rec;
	size_t len;
	uint64_t hash; /* of the text */
};

static uint64_t text_hash(const char *p, size_t n)
{
	uint64_t h = UINT64_C(1469598103934665603);
	for (size_t k = 0; k < n; k++)
		h = (h ^ (unsigned char)p[k]) * UINT64_C(1099511628211);
	return h;
}

static int memfd_with(const void *p, size_t n)
{
	int fd = memfd_create("fuzz-tbin", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if ((n > 0 && write(fd, p, n) != (ssize_t)n) || lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Read the trace on fd to its end. Returns 1 clean, 0 with an error, -1
 * when the harness could not set up. Copies up to MAX_EVENTS events. When
 * 'keep' is set, the texts are written to w as they come (round trip). */
static int read_all(int fd, struct ev_copy *evs, size_t *nev, struct tbin_writer *w)
{
	unsigned char pre[TRACE_BIN_HEADER_LEN];
	char err[256] = "";
	ssize_t have = read(fd, pre, sizeof(pre));
	struct tbin_reader *r;
	struct tbin_event ev;
	int rc;

	*nev = 0;
	if (have < 0)
		return -1;
	r = tbin_open(fd, pre, (size_t)have, err, sizeof(err));
	if (r == NULL) {
		if (err[0] == '\0')
			abort();
		return 0;
	}
	while ((rc = tbin_next(r, &ev, err, sizeof(err))) == 1) {
		if (ev.kind == TBIN_ACCESS) {
			if (ev.rec.kind != 'I' && ev.rec.kind != 'L' && ev.rec.kind != 'S' &&
			    ev.rec.kind != 'M')
				abort();
			if (ev.rec.size == 0 || ev.rec.size > REPLAY_MAX_SIZE ||
			    ev.rec.addr + ev.rec.size > UINT64_C(1) << REPLAY_ADDR_BITS)
				abort();
			if (w != NULL && tbin_put_access(w, &ev.rec) < 0)
				abort();
		} else if (ev.kind == TBIN_TEXT) {
			if (ev.len > 65536 || (ev.len > 0 && ev.text == NULL))
				abort();
			if (w != NULL && tbin_put_text(w, ev.text, ev.len) < 0)
				abort();
		} else {
			abort();
		}
		if (*nev < MAX_EVENTS) {
			evs[*nev] = (struct ev_copy){.kind = ev.kind};
			if (ev.kind == TBIN_TEXT) {
				evs[*nev].len = ev.len;
				evs[*nev].hash = text_hash(ev.text, ev.len);
			} else {
				evs[*nev].rec = ev.rec;
			}
			(*nev)++;
		}
	}
	if (rc < 0 && err[0] == '\0')
		abort(); /* an error must say why */
	tbin_close(r);
	return rc == 0;
}

/* A trace read cleanly, written again and read back, gives the same events. */
static void round_trip(int fd)
{
	static struct ev_copy a[MAX_EVENTS], b[MAX_EVENTS];
	size_t na, nb;
	char err[256];
	int out = memfd_create("fuzz-tbin-out", MFD_CLOEXEC);
	struct tbin_writer *w;

	if (out < 0)
		return;
	w = tbin_create(out, err, sizeof(err));
	if (w == NULL) {
		close(out);
		return;
	}
	if (lseek(fd, 0, SEEK_SET) != 0 || read_all(fd, a, &na, w) != 1) {
		tbin_abandon(w);
		close(out);
		return;
	}
	if (tbin_finish(w, err, sizeof(err)) != 0 || lseek(out, 0, SEEK_SET) != 0)
		abort();
	if (read_all(out, b, &nb, NULL) != 1 || na != nb)
		abort(); /* the writer's output must read back cleanly */
	for (size_t k = 0; k < na; k++) {
		if (a[k].kind != b[k].kind || a[k].len != b[k].len || a[k].hash != b[k].hash)
			abort();
		if (a[k].kind == TBIN_ACCESS &&
		    (a[k].rec.kind != b[k].rec.kind || a[k].rec.addr != b[k].rec.addr ||
		     a[k].rec.size != b[k].rec.size))
			abort();
	}
	close(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ev_copy evs[MAX_EVENTS];
	unsigned char *file;
	size_t flen, nev;
	int fd, mode;

	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;
	if (mode & 1) {
		file = malloc(size ? size : 1);
		if (file == NULL)
			return 0;
		memcpy(file, data, size);
		flen = size;
	} else {
		size_t bound = ZSTD_compressBound(size);
		file = malloc(TRACE_BIN_HEADER_LEN + bound);
		if (file == NULL)
			return 0;
		memset(file, 0, TRACE_BIN_HEADER_LEN);
		memcpy(file, TRACE_BIN_MAGIC, TRACE_BIN_MAGIC_LEN);
		file[8] = TRACE_BIN_VERSION;
		flen = ZSTD_compress(file + TRACE_BIN_HEADER_LEN, bound, data, size, 1);
		if (ZSTD_isError(flen)) {
			free(file);
			return 0;
		}
		flen += TRACE_BIN_HEADER_LEN;
	}
	fd = memfd_with(file, flen);
	free(file);
	if (fd < 0)
		return 0;
	if (read_all(fd, evs, &nev, NULL) == 1)
		round_trip(fd);
	if ((mode & 2) && flen <= 8192) {
		int d = dup(fd); /* the replay closes its own */

		if (d >= 0)
			fuzz_replay_fd(d, "fuzz.vmmutrc");
	}
	close(fd);
	return 0;
}
