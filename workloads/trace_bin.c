/*
 * trace_bin.c - the binary trace form (see trace_bin.h for the layout):
 * a zstd-compressed stream of access and text events, its reader, its
 * writer and the text-to-binary conversion.
 *
 * Sections: varints, reading, writing, conversion.
 *
 * Invariants:
 *   - the reader never hands out an event that was not decoded in full;
 *   - a decoded access passes the same checks as a parsed text line
 *     (size 1..512, address below 2^57).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "replay_sys.h"
#include "trace_bin.h"

/* Decompressed bytes kept at hand; an event must fit in TBIN_EVENT_MAX. */
#define TBIN_DBUF (1024 * 1024)
#define TBIN_TEXT_MAX 65536
#define TBIN_EVENT_MAX (TBIN_TEXT_MAX + 16)
#define TBIN_SIZE_ESC 63

bool trace_bin_is(const void *buf, size_t n)
{
	return n >= TRACE_BIN_MAGIC_LEN && memcmp(buf, TRACE_BIN_MAGIC, TRACE_BIN_MAGIC_LEN) == 0;
}

static uint32_t get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- reading ---- */

struct tbin_reader {
	int fd;
	ZSTD_DStream *z;
	unsigned char *in; /* compressed input: [in_pos, in_end) unread */
	size_t in_pos, in_end, in_cap;
	unsigned char *d; /* decompressed: [d_pos, d_end) undecoded */
	size_t d_pos, d_end;
	uint64_t d_base;   /* decompressed offset of d[0] */
	uint64_t file_off; /* compressed bytes read, header included */
	bool eof, frame_open, ended;
	size_t zret; /* last ZSTD_decompressStream() hint: 0 = frame complete */
	uint64_t accesses;
	uint64_t prev[2];
};

struct tbin_reader *tbin_open(int fd, const void *pre, size_t have, char *err, size_t errlen)
{
	struct tbin_reader *r = calloc(1, sizeof(*r));
	const unsigned char *h = pre;

	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (have < TRACE_BIN_HEADER_LEN || !trace_bin_is(pre, have)) {
		snprintf(err, errlen, "truncated compressed trace: header cut at byte %zu", have);
		free(r);
		return NULL;
	}
	if (get_le32(h + 8) != TRACE_BIN_VERSION || get_le32(h + 12) != 0) {
		snprintf(err, errlen,
			 "binary trace version %" PRIu32 " (flags %#" PRIx32
			 ") is not supported (this vmmu reads version %d)",
			 get_le32(h + 8), get_le32(h + 12), TRACE_BIN_VERSION);
		free(r);
		return NULL;
	}
	r->fd = fd;
	r->z = ZSTD_createDStream();
	r->in_cap = ZSTD_DStreamInSize() > have ? ZSTD_DStreamInSize() : have;
	r->in = malloc(r->in_cap);
	r->d = malloc(TBIN_DBUF);
	if (r->z == NULL || r->in == NULL || r->d == NULL) {
		snprintf(err, errlen, "out of memory");
		tbin_close(r);
		return NULL;
	}
	ZSTD_initDStream(r->z);
	memcpy(r->in, h + TRACE_BIN_HEADER_LEN, have - TRACE_BIN_HEADER_LEN);
	r->in_end = have - TRACE_BIN_HEADER_LEN;
	r->file_off = have;
	return r;
}

void tbin_close(struct tbin_reader *r)
{
	if (r == NULL)
		return;
	ZSTD_freeDStream(r->z);
	free(r->in);
	free(r->d);
	free(r);
}

/* Decompress until at least 'want' bytes are undecoded or the input ends.
 * Returns 0, or -1 with err set. */
static int fill(struct tbin_reader *r, size_t want, char *err, size_t errlen)
{
	while (r->d_end - r->d_pos < want) {
		ZSTD_outBuffer out;
		ZSTD_inBuffer zin;

		if (r->d_pos > 0 && TBIN_DBUF - r->d_end < TBIN_EVENT_MAX) {
			memmove(r->d, r->d + r->d_pos, r->d_end - r->d_pos);
			r->d_base += r->d_pos;
			r->d_end -= r->d_pos;
			r->d_pos = 0;
		}
		if (r->in_pos == r->in_end) {
			ssize_t got;
			if (r->eof)
				return 0;
			do
				got = read(r->fd, r->in, r->in_cap);
			while (got < 0 && errno == EINTR);
			if (got < 0) {
				snprintf(err, errlen, "read error: %s", strerror(errno));
				return -1;
			}
			r->in_pos = 0;
			r->in_end = (size_t)got;
			r->file_off += (uint64_t)got;
			if (got == 0) {
				r->eof = true;
				return 0;
			}
		}
		out = (ZSTD_outBuffer){r->d + r->d_end, TBIN_DBUF - r->d_end, 0};
		zin = (ZSTD_inBuffer){r->in + r->in_pos, r->in_end - r->in_pos, 0};
		r->zret = ZSTD_decompressStream(r->z, &out, &zin);
		if (ZSTD_isError(r->zret)) {
			snprintf(err, errlen,
				 "corrupt compressed trace near byte %" PRIu64 " of the file: %s",
				 r->file_off - (r->in_end - r->in_pos), ZSTD_getErrorName(r->zret));
			return -1;
		}
		r->in_pos += zin.pos;
		r->d_end += out.pos;
	}
	return 0;
}

/* A varint at d[*k] (bounded by d_end). -1 when cut or too long. */
static int get_varint(const struct tbin_reader *r, size_t *k, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; shift < 70; shift += 7) {
		unsigned char b;
		if (*k >= r->d_end)
			return -1;
		b = r->d[(*k)++];
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return -1;
}

int tbin_next(struct tbin_reader *r, struct tbin_event *ev, char *err, size_t errlen)
{
	size_t k;
	uint64_t v;
	unsigned char tag;
	unsigned kind, code;

	if (r->ended) {
		if (fill(r, 1, err, errlen) < 0)
			return -1;
		if (r->d_end > r->d_pos) {
			snprintf(err, errlen,
				 "data after the end event at byte offset %" PRIu64
				 " of the decompressed stream",
				 r->d_base + r->d_pos);
			return -1;
		}
		if (r->zret != 0) {
			snprintf(err, errlen, "truncated compressed trace (the zstd frame is cut)");
			return -1;
		}
		return 0;
	}
	if (fill(r, TBIN_EVENT_MAX, err, errlen) < 0)
		return -1;
	ev->offset = r->d_base + r->d_pos;
	if (r->d_pos == r->d_end) {
		snprintf(err, errlen,
			 "truncated compressed trace: it ends at byte offset %" PRIu64
			 " of the decompressed stream, before its end event (%" PRIu64
			 " accesses read)",
			 ev->offset, r->accesses);
		return -1;
	}
	k = r->d_pos;
	tag = r->d[k++];
	kind = tag & 3;
	code = tag >> 2;
	if (code == 0) {
		if (kind == 0) {
			if (get_varint(r, &k, &v) < 0 || v > TBIN_TEXT_MAX || k + v > r->d_end)
				goto cut;
			ev->kind = TBIN_TEXT;
			ev->text = (const char *)r->d + k;
			ev->len = (size_t)v;
			r->d_pos = k + v;
			return 1;
		}
		if (kind == 1) {
			if (get_varint(r, &k, &v) < 0)
				goto cut;
			if (v != r->accesses) {
				snprintf(err, errlen,
					 "the end event at byte offset %" PRIu64 " counts %" PRIu64
					 " accesses, the stream held %" PRIu64,
					 ev->offset, v, r->accesses);
				return -1;
			}
			r->d_pos = k;
			r->ended = true;
			return tbin_next(r, ev, err, errlen);
		}
		snprintf(err, errlen, "unknown event tag 0x%02x at byte offset %" PRIu64, tag,
			 ev->offset);
		return -1;
	}
	ev->kind = TBIN_ACCESS;
	ev->rec.kind = "ILSM"[kind];
	if (code == TBIN_SIZE_ESC) {
		if (get_varint(r, &k, &v) < 0)
			goto cut;
		if (v < TBIN_SIZE_ESC || v > REPLAY_MAX_SIZE) {
			snprintf(err, errlen, "bad access size %" PRIu64 " at byte offset %" PRIu64,
				 v, ev->offset);
			return -1;
		}
		ev->rec.size = (unsigned)v;
	} else {
		ev->rec.size = code;
	}
	if (get_varint(r, &k, &v) < 0)
		goto cut;
	{
		int cls = kind == 0 ? 0 : 1;
		uint64_t delta = (v >> 1) ^ (0 - (v & 1));
		uint64_t addr = r->prev[cls] + delta;
		if (addr >= UINT64_C(1) << REPLAY_ADDR_BITS ||
		    addr + ev->rec.size > UINT64_C(1) << REPLAY_ADDR_BITS) {
			snprintf(err, errlen,
				 "address 0x%" PRIx64 " past 2^%d at byte offset %" PRIu64, addr,
				 REPLAY_ADDR_BITS, ev->offset);
			return -1;
		}
		r->prev[cls] = addr;
		ev->rec.addr = addr;
	}
	r->d_pos = k;
	r->accesses++;
	return 1;
cut:
	snprintf(err, errlen,
		 "truncated compressed trace: event cut at byte offset %" PRIu64
		 " of the decompressed stream",
		 ev->offset);
	return -1;
}

/* ---- writing ---- */

struct tbin_writer {
	int fd;
	ZSTD_CStream *z;
	unsigned char *buf; /* uncompressed events waiting */
	size_t n;
	unsigned char *out;
	size_t out_cap;
	uint64_t accesses, written;
	uint64_t prev[2];
	bool failed;
	int err_no;
};

#define TBIN_WBUF (256 * 1024)

static int write_all(struct tbin_writer *w, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n > 0) {
		ssize_t got = write(w->fd, b, n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			w->failed = true;
			w->err_no = got < 0 ? errno : EIO;
			return -1;
		}
		b += got;
		n -= (size_t)got;
		w->written += (uint64_t)got;
	}
	return 0;
}

static int compress(struct tbin_writer *w, ZSTD_EndDirective mode)
{
	ZSTD_inBuffer in = {w->buf, w->n, 0};

	for (;;) {
		ZSTD_outBuffer out = {w->out, w->out_cap, 0};
		size_t left = ZSTD_compressStream2(w->z, &out, &in, mode);
		if (ZSTD_isError(left)) {
			w->failed = true;
			w->err_no = EIO;
			return -1;
		}
		if (out.pos > 0 && write_all(w, w->out, out.pos) < 0)
			return -1;
		if (mode == ZSTD_e_continue ? in.pos == in.size : left == 0)
			break;
	}
	w->n = 0;
	return 0;
}

struct tbin_writer *tbin_create(int fd, char *err, size_t errlen)
{
	struct tbin_writer *w = calloc(1, sizeof(*w));
	unsigned char h[TRACE_BIN_HEADER_LEN] = {0};

	if (w == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->fd = fd;
	w->z = ZSTD_createCStream();
	w->out_cap = ZSTD_CStreamOutSize();
	w->buf = malloc(TBIN_WBUF);
	w->out = malloc(w->out_cap);
	if (w->z == NULL || w->buf == NULL || w->out == NULL) {
		snprintf(err, errlen, "out of memory");
		tbin_abandon(w);
		return NULL;
	}
	ZSTD_CCtx_setParameter(w->z, ZSTD_c_compressionLevel, TRACE_BIN_ZSTD_LEVEL);
	ZSTD_CCtx_setParameter(w->z, ZSTD_c_checksumFlag, 1);
	memcpy(h, TRACE_BIN_MAGIC, TRACE_BIN_MAGIC_LEN);
	h[8] = TRACE_BIN_VERSION;
	if (write_all(w, h, sizeof(h)) < 0) {
		snprintf(err, errlen, "write error: %s", strerror(w->err_no));
		tbin_abandon(w);
		return NULL;
	}
	return w;
}

void tbin_abandon(struct tbin_writer *w)
{
	if (w == NULL)
		return;
	ZSTD_freeCStream(w->z);
	free(w->buf);
	free(w->out);
	free(w);
}

static int room(struct tbin_writer *w, size_t need)
{
	if (w->failed)
		return -1;
	if (w->n + need > TBIN_WBUF)
		return compress(w, ZSTD_e_continue);
	return 0;
}

static void put_varint(struct tbin_writer *w, uint64_t v)
{
	while (v >= 0x80) {
		w->buf[w->n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	w->buf[w->n++] = (unsigned char)v;
}

int tbin_put_access(struct tbin_writer *w, const struct replay_rec *rec)
{
	unsigned kind = rec->kind == 'I' ? 0 : rec->kind == 'L' ? 1 : rec->kind == 'S' ? 2 : 3;
	int cls = kind == 0 ? 0 : 1;
	uint64_t delta = rec->addr - w->prev[cls];

	if (room(w, 32) < 0)
		return -1;
	if (rec->size < TBIN_SIZE_ESC) {
		w->buf[w->n++] = (unsigned char)(rec->size << 2 | kind);
	} else {
		w->buf[w->n++] = (unsigned char)(TBIN_SIZE_ESC << 2 | kind);
		put_varint(w, rec->size);
	}
	/* zigzag of the signed difference */
	put_varint(w, (delta << 1) ^ (0 - (delta >> 63)));
	w->prev[cls] = rec->addr;
	w->accesses++;
	return 0;
}

int tbin_put_text(struct tbin_writer *w, const char *line, size_t len)
{
	if (len > TBIN_TEXT_MAX)
		len = TBIN_TEXT_MAX;
	if (room(w, len + 16) < 0)
		return -1;
	w->buf[w->n++] = 0;
	put_varint(w, len);
	memcpy(w->buf + w->n, line, len);
	w->n += len;
	return 0;
}

int tbin_finish(struct tbin_writer *w, char *err, size_t errlen)
{
	int rc = 0;

	if (room(w, 16) == 0) {
		w->buf[w->n++] = 1;
		put_varint(w, w->accesses);
		compress(w, ZSTD_e_end);
	}
	if (w->failed) {
		snprintf(err, errlen, "write error: %s", strerror(w->err_no));
		rc = -1;
	}
	tbin_abandon(w);
	return rc;
}

/* ---- conversion ---- */

#define CONV_BUF (256 * 1024)

int tbin_convert(int in_fd, const char *in_name, int out_fd, struct tbin_convert_stats *st,
		 char *err, size_t errlen)
{
	char *buf = malloc(CONV_BUF), why[160];
	size_t start = 0, end = 0;
	bool eof = false;
	struct tbin_writer *w;
	int rc = 0;

	memset(st, 0, sizeof(*st));
	if (buf == NULL) {
		snprintf(err, errlen, "out of memory");
		return 1;
	}
	w = tbin_create(out_fd, err, errlen);
	if (w == NULL) {
		free(buf);
		return 1;
	}
	for (;;) {
		char *s = buf + start, *eol = memchr(s, '\n', end - start);
		size_t len;
		struct replay_rec rec;
		enum replay_line kind;

		if (eol == NULL) {
			ssize_t got;
			if (end - start > REPLAY_SYS_LINE_MAX) {
				snprintf(err, errlen, "%s:%" PRIu64 ": line longer than %d bytes",
					 in_name, st->lines + 1, REPLAY_SYS_LINE_MAX);
				rc = 2;
				break;
			}
			if (eof) {
				if (end > start) {
					snprintf(err, errlen,
						 "%s:%" PRIu64
						 ": truncated line (no newline at end of input)",
						 in_name, st->lines + 1);
					rc = 2;
				}
				break;
			}
			memmove(buf, s, end - start);
			end -= start;
			start = 0;
			do
				got = read(in_fd, buf + end, CONV_BUF - end);
			while (got < 0 && errno == EINTR);
			if (got < 0) {
				snprintf(err, errlen, "%s: read error: %s", in_name,
					 strerror(errno));
				rc = 1;
				break;
			}
			if (got == 0)
				eof = true;
			if (st->lines == 0 && end == 0 && got > 0 &&
			    trace_bin_is(buf, (size_t)got)) {
				snprintf(err, errlen, "%s: already in the binary form", in_name);
				rc = 2;
				break;
			}
			st->in_bytes += (uint64_t)(got > 0 ? got : 0);
			end += (size_t)(got > 0 ? got : 0);
			continue;
		}
		len = (size_t)(eol - s);
		*eol = '\0'; /* for the message only: the parser takes len */
		start += len + 1;
		st->lines++;
		if (len > replay_line_max(s, len)) {
			snprintf(err, errlen, "%s:%" PRIu64 ": line longer than %zu bytes", in_name,
				 st->lines, replay_line_max(s, len));
			rc = 2;
			break;
		}
		/* Empty lines are kept: the replay decides where they may stand. */
		kind = replay_parse_line(s, len, &rec, why, sizeof(why));
		if (kind == REPLAY_LINE_SYSCALL) {
			struct rsys_call_line sc;
			if (rsys_parse(s, len, &sc, why, sizeof(why)) < 0)
				kind = REPLAY_LINE_ERROR;
		}
		if (kind == REPLAY_LINE_ERROR) {
			snprintf(err, errlen, "%s:%" PRIu64 ": %s: '%.80s'", in_name, st->lines,
				 why, s);
			rc = 2;
			break;
		}
		if (kind == REPLAY_LINE_RECORD) {
			st->records++;
			if (tbin_put_access(w, &rec) < 0)
				break;
		} else {
			st->texts++;
			if (tbin_put_text(w, s, len) < 0)
				break;
		}
	}
	if (rc != 0) {
		tbin_abandon(w);
	} else if (tbin_finish(w, err, errlen) < 0) {
		rc = 1;
	}
	st->out_bytes = 0;
	free(buf);
	return rc;
}
