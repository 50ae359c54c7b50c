/*
 * trace_bin.h - the compact binary form of a lackey trace: a version
 * header, then one zstd stream of events (docs/replay.md, "Binary form").
 *
 * File layout:
 *   bytes 0..7    magic "VMMUTRC\n"
 *   bytes 8..11   format version, little-endian (TRACE_BIN_VERSION)
 *   bytes 12..15  flags, little-endian, 0
 *   bytes 16..    zstd frames; decompressed, a sequence of events:
 *     tag byte T, kind = T & 3 (0 I, 1 L, 2 S, 3 M), size code = T >> 2:
 *       size code 1..62  an access of that many bytes, then its address
 *       size code 63     an access; its size (63..512) follows as a varint,
 *                        then its address
 *       size code 0      not an access; by kind:
 *         0  a text line: varint length, then its bytes (a SYSCALL line,
 *            its continuation, a ==PID== banner, a --PID-- note, or an
 *            empty line), exactly as lackey printed it
 *         1  the end: varint number of accesses in the trace; nothing
 *            may follow
 *     an address is a zigzag varint of its difference from the previous
 *     address of the same class (fetches, data), both starting at 0;
 *     a varint is LEB128 (7 bits a byte, low bits first, at most 10 bytes).
 *
 * Invariants:
 *   - a reader accepts a file only when the zstd stream ends on a frame
 *     boundary with the end event last and its count matching: a file cut
 *     anywhere is reported as truncated;
 *   - converting text to binary and replaying either gives the same run
 *     (the same records and lines, in the same order).
 */
#ifndef VMMU_TRACE_BIN_H
#define VMMU_TRACE_BIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "replay.h"

#define TRACE_BIN_MAGIC "VMMUTRC\n"
#define TRACE_BIN_MAGIC_LEN 8
#define TRACE_BIN_HEADER_LEN 16
#define TRACE_BIN_VERSION 1
/* zstd level of `vmmu trace convert`: a fast level, as traces are long. */
#define TRACE_BIN_ZSTD_LEVEL 3

/* Does buf (n bytes read so far) start with the magic? */
bool trace_bin_is(const void *buf, size_t n);

/* ---- reading ---- */

struct tbin_reader;

enum tbin_event_kind {
	TBIN_ACCESS,
	TBIN_TEXT,
};

struct tbin_event {
	enum tbin_event_kind kind;
	struct replay_rec rec; /* TBIN_ACCESS */
	const char *text;      /* TBIN_TEXT: valid until the next call */
	size_t len;
	uint64_t offset; /* byte offset of the event in the decompressed stream */
};

/*
 * A reader of the trace on fd, whose first 'have' bytes were read already
 * into 'pre' (the sniffed header, perhaps more). Returns NULL with 'err'
 * set on a bad header (wrong version) or no memory.
 */
struct tbin_reader *tbin_open(int fd, const void *pre, size_t have, char *err, size_t errlen);
/* The next event: 1, 0 at the clean end, -1 with 'err' set (truncated,
 * corrupt, a bad tag or size, a read error). 'err' names the byte offset. */
int tbin_next(struct tbin_reader *r, struct tbin_event *ev, char *err, size_t errlen);
void tbin_close(struct tbin_reader *r);

/* ---- writing ---- */

struct tbin_writer;

/* A writer to fd (header written at once). NULL with 'err' set. */
struct tbin_writer *tbin_create(int fd, char *err, size_t errlen);
int tbin_put_access(struct tbin_writer *w, const struct replay_rec *rec);
int tbin_put_text(struct tbin_writer *w, const char *line, size_t len);
/* Write the end event and flush; frees w. -1 with 'err' on a write error. */
int tbin_finish(struct tbin_writer *w, char *err, size_t errlen);
/* Free a writer without finishing (an error path). */
void tbin_abandon(struct tbin_writer *w);

/* ---- conversion (`vmmu trace convert`) ---- */

struct tbin_convert_stats {
	uint64_t lines, records, texts;
	uint64_t in_bytes, out_bytes;
};

/*
 * Convert the text trace on in_fd (named 'in_name' in messages) into the
 * binary form on out_fd. Every line is checked as `vmmu replay` checks it
 * (SYSCALL lines by their head only). Returns 0, 2 on bad input ('err' =
 * "NAME:LINE: reason: 'text'"), 1 on an I/O error.
 */
int tbin_convert(int in_fd, const char *in_name, int out_fd, struct tbin_convert_stats *st,
		 char *err, size_t errlen);

#endif
