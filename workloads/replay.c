/*
 * replay.c - `vmmu replay`: a valgrind lackey trace replayed as a guest
 * process (see replay.h for the model, docs/replay.md for the format).
 *
 * Sections: the line parser (pure), the streaming reader, the guest
 * address space (regions mapped on first touch), the replay workload, the
 * trace list that compare uses, and the command.
 *
 * Error convention: a malformed trace is the user's input, not a guest
 * error. The run records "FILE:LINE: reason: 'text'" in its replay_input,
 * sets bad_input and leaves through vm_abort(); the command then prints it
 * and exits with status 2.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../src/core/mmu.h"
#include "replay.h"
#include "replay_sys.h"
#include "trace_bin.h"
#include "../src/core/vm.h"

/* Bytes read from the trace at a time; a line must fit in it. */
#define REPLAY_BUF_BYTES (64 * 1024)
/* Characters of a bad line quoted in an error message. */
#define REPLAY_SHOW 80
/* First size of the set of mapped regions (entries, a power of two). */
#define REPLAY_SET_MIN 1024

static_assert(REPLAY_SYS_LINE_MAX < REPLAY_BUF_BYTES, "a line fits in the read buffer");

/* ---- the line parser ---- */

static int hex_digit(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* "==1234==" followed by anything: valgrind's banner. */
static bool is_banner(const char *line, size_t len)
{
	size_t k = 2;

	if (len < 5 || line[0] != '=' || line[1] != '=')
		return false;
	while (k < len && line[k] >= '0' && line[k] <= '9')
		k++;
	return k > 2 && k + 1 < len && line[k] == '=' && line[k + 1] == '=';
}

/* Is line (shorter than 3 bytes) the start of a record head "I  ", " L ", ...? */
static bool is_head_prefix(const char *line, size_t len)
{
	static const char *const heads[] = {"I  ", " L ", " S ", " M "};

	for (size_t h = 0; h < sizeof(heads) / sizeof(heads[0]); h++)
		if (len < 3 && memcmp(line, heads[h], len) == 0)
			return true;
	return false;
}

enum replay_line replay_parse_line(const char *line, size_t len, struct replay_rec *rec, char *why,
				   size_t whylen)
{
	const uint64_t limit = UINT64_C(1) << REPLAY_ADDR_BITS;
	uint64_t addr = 0, size = 0;
	bool past = false;
	size_t k, start;

	/* System-call lines first: they may quote paths of any bytes. */
	switch (rsys_classify(line, len)) {
	case RSYS_LINE_SYSCALL:
		return REPLAY_LINE_SYSCALL;
	case RSYS_LINE_CONT:
		return REPLAY_LINE_SYSCONT;
	case RSYS_LINE_NOTE:
		return REPLAY_LINE_NOTE;
	default:
		break;
	}
	/* Text only: printable ASCII. NUL or any other byte means binary; a
	 * carriage return that ends the line means DOS line endings. */
	for (k = 0; k < len; k++) {
		unsigned char ch = (unsigned char)line[k];
		if (ch == '\r' && k + 1 == len) {
			snprintf(why, whylen,
				 "CRLF line endings (a DOS file; convert it with dos2unix)");
			return REPLAY_LINE_ERROR;
		}
		if (ch < 0x20 || ch > 0x7e) {
			snprintf(why, whylen, "binary data (byte 0x%02x at column %zu)", ch, k + 1);
			return REPLAY_LINE_ERROR;
		}
	}
	if (len == 0)
		return REPLAY_LINE_EMPTY;
	if (line[0] == '=') {
		if (is_banner(line, len))
			return REPLAY_LINE_BANNER;
		snprintf(why, whylen, "not a lackey line");
		return REPLAY_LINE_ERROR;
	}
	if (len < 3 && is_head_prefix(line, len)) {
		snprintf(why, whylen, "truncated line");
		return REPLAY_LINE_ERROR;
	}
	if (len >= 3 && memcmp(line, "I  ", 3) == 0) {
		rec->kind = 'I';
	} else if (len >= 3 && line[0] == ' ' && line[2] == ' ' &&
		   (line[1] == 'L' || line[1] == 'S' || line[1] == 'M')) {
		rec->kind = line[1];
	} else {
		snprintf(why, whylen, "not a lackey line");
		return REPLAY_LINE_ERROR;
	}

	/* Address: hex digits up to the comma. */
	start = k = 3;
	if (k == len) {
		snprintf(why, whylen, "truncated line");
		return REPLAY_LINE_ERROR;
	}
	for (; k < len && line[k] != ','; k++) {
		int d = hex_digit((unsigned char)line[k]);
		if (d < 0) {
			snprintf(why, whylen, "bad hex digit '%c' in address", line[k]);
			return REPLAY_LINE_ERROR;
		}
		if (addr >= limit)
			past = true; /* keep scanning: a bad digit is reported first */
		else
			addr = addr << 4 | (uint64_t)d;
	}
	if (k == start) {
		snprintf(why, whylen, "missing address");
		return REPLAY_LINE_ERROR;
	}
	if (k == len || k + 1 == len) {
		snprintf(why, whylen, "missing size");
		return REPLAY_LINE_ERROR;
	}

	/* Size: decimal digits to the end of the line. */
	for (k++; k < len; k++) {
		if (line[k] < '0' || line[k] > '9') {
			snprintf(why, whylen, "bad size (character '%c')", line[k]);
			return REPLAY_LINE_ERROR;
		}
		if (size <= REPLAY_MAX_SIZE)
			size = size * 10 + (uint64_t)(line[k] - '0');
	}
	if (past || addr >= limit) {
		snprintf(why, whylen, "address past 2^%d", REPLAY_ADDR_BITS);
		return REPLAY_LINE_ERROR;
	}
	if (size == 0) {
		snprintf(why, whylen, "size 0");
		return REPLAY_LINE_ERROR;
	}
	if (size > REPLAY_MAX_SIZE) {
		snprintf(why, whylen, "size above the maximum of %d", REPLAY_MAX_SIZE);
		return REPLAY_LINE_ERROR;
	}
	if (addr + size > limit) {
		snprintf(why, whylen, "address past 2^%d", REPLAY_ADDR_BITS);
		return REPLAY_LINE_ERROR;
	}
	rec->addr = addr;
	rec->size = (unsigned)size;
	return REPLAY_LINE_RECORD;
}

size_t replay_line_max(const char *line, size_t have)
{
	if (have >= 2 && line[0] == '=' && line[1] == '=')
		return REPLAY_SYS_LINE_MAX;
	if (rsys_classify(line, have) != RSYS_LINE_NONE)
		return REPLAY_SYS_LINE_MAX;
	return REPLAY_LINE_MAX;
}

/* ---- one replay run ---- */

struct replay {
	struct wl_ctx *c;
	struct replay_input *in;
	const char *name; /* the trace as error messages name it */
	/* the reader: unread bytes are buf[start, end) */
	char *buf;
	size_t start, end;
	bool eof;
	uint64_t empty_line; /* first empty line not yet followed by EOF; 0 = none */
	/* mapped regions: open addressing, key = region number + 1, 0 = empty */
	uint64_t *set;
	uint64_t set_cap, set_n;
	uint64_t recent[2]; /* keys of the two regions used last */
	gva_t user_top;	    /* first address above the guest's user space */
	bool huge;	    /* map regions with 2 MiB pages (--guest-page 2m) */

	struct rsys *sys;	 /* system calls performed; NULL with --no-syscalls */
	bool after_sys;		 /* the last line was a SYSCALL line or its continuation */
	struct tbin_reader *bin; /* the binary form's reader; NULL for text */
	uint64_t bin_offset;	 /* binary: offset of the event being replayed */
};

/* Quote line for a message: printable bytes as they are, others as \xNN,
 * at most REPLAY_SHOW bytes of the line, then "...". */
static void quote_line(const char *line, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t k = 0; k < len && k < REPLAY_SHOW && o + 5 < outlen; k++) {
		unsigned char ch = (unsigned char)line[k];
		if (ch >= 0x20 && ch <= 0x7e)
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", ch);
	}
	if (len > REPLAY_SHOW && o + 4 < outlen) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* The trace is malformed: record why, stop the run. */
static _Noreturn void replay_reject(struct replay *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static _Noreturn void replay_reject(struct replay *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->in->err, sizeof(r->in->err), fmt, ap);
	va_end(ap);
	r->in->bad_input = true;
	vm_abort(r->c->vm, "%s", r->in->err);
}

/* The input could not be read (a closed stdin, an I/O error): not a fault
 * of the trace, so not bad input; the run fails (exit status 1). */
static _Noreturn void replay_fail_io(struct replay *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static _Noreturn void replay_fail_io(struct replay *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->in->err, sizeof(r->in->err), fmt, ap);
	va_end(ap);
	r->in->bad_input = false;
	vm_abort(r->c->vm, "%s", r->in->err);
}

static _Noreturn void replay_reject_line(struct replay *r, uint64_t lineno, const char *why,
					 const char *line, size_t len)
{
	char text[REPLAY_SHOW * 4 + 8];

	quote_line(line, len, text, sizeof(text));
	replay_reject(r, "%s:%" PRIu64 ": %s: '%s'", r->name, lineno, why, text);
}

/*
 * The next line of the trace, without its newline. Returns true with *line
 * and *len set (and *nl telling whether a newline ended it), false at the
 * end of the input. A line longer than REPLAY_LINE_MAX, or a read error,
 * stops the run.
 */
static bool replay_next_line(struct replay *r, const char **line, size_t *len, bool *nl)
{
	for (;;) {
		char *s = r->buf + r->start;
		size_t have = r->end - r->start;
		char *eol = memchr(s, '\n', have);
		size_t max = replay_line_max(s, have);
		ssize_t got;

		if (eol != NULL && (size_t)(eol - s) <= max) {
			*line = s;
			*len = (size_t)(eol - s);
			*nl = true;
			r->start += *len + 1;
			return true;
		}
		if (eol != NULL || have > max) {
			char why[96];
			size_t n = eol != NULL ? (size_t)(eol - s) : have;
			struct replay_rec rec;
			/* A binary file is named as such, whatever its line lengths. */
			if (replay_parse_line(s, n, &rec, why, sizeof(why)) != REPLAY_LINE_ERROR ||
			    strncmp(why, "binary", 6) != 0)
				snprintf(why, sizeof(why), "line longer than %zu bytes", max);
			replay_reject_line(r, r->in->lines + 1, why, s, n);
		}
		if (r->eof) {
			if (have == 0)
				return false;
			*line = s;
			*len = have;
			*nl = false;
			r->start = r->end;
			return true;
		}
		memmove(r->buf, s, have);
		r->start = 0;
		r->end = have;
		do
			got = read(r->in->fd, r->buf + r->end, REPLAY_BUF_BYTES - r->end);
		while (got < 0 && errno == EINTR);
		if (got < 0 && errno == EBADF && r->in->fd == STDIN_FILENO)
			replay_fail_io(r, "%s: stdin is closed", r->name);
		if (got < 0)
			replay_fail_io(r, "%s: read error: %s", r->name, strerror(errno));
		if (got == 0)
			r->eof = true;
		else
			r->end += (size_t)got;
	}
}

/* Map the aligned region holding va, unless it is mapped already. */
static void replay_map_region(struct replay *r, gva_t va)
{
	const uint64_t region = UINT64_C(1) << REPLAY_REGION_SHIFT;
	uint64_t key = (va >> REPLAY_REGION_SHIFT) + 1, mask, h;
	gva_t base, lo, hi;
	int flags = 0;

	if (key == r->recent[0])
		return;
	r->recent[1] = r->recent[0];
	r->recent[0] = key;
	mask = r->set_cap - 1;
	for (h = wl_mix(key, 0) & mask; r->set[h] != 0; h = (h + 1) & mask)
		if (r->set[h] == key)
			return;
	r->set[h] = key;
	r->set_n++;
	if (2 * r->set_n > r->set_cap) {
		uint64_t *old = r->set, cap = r->set_cap;
		r->set_cap *= 2;
		r->set = wl_host_alloc(r->c, r->set_cap, sizeof(*r->set));
		mask = r->set_cap - 1;
		for (uint64_t k = 0; k < cap; k++) {
			if (old[k] == 0)
				continue;
			for (h = wl_mix(old[k], 0) & mask; r->set[h] != 0; h = (h + 1) & mask)
				;
			r->set[h] = old[k];
		}
		wl_host_free(r->c, old);
	}

	/* The VMA only: each page of it faults in on its first touch. Page 0
	 * and the last user page are never mappable (gmm's rules). */
	base = (key - 1) << REPLAY_REGION_SHIFT;
	lo = base < PAGE_SIZE ? PAGE_SIZE : base;
	hi = base + region > r->user_top ? r->user_top : base + region;
	if (r->huge && lo == base && hi == base + region)
		flags = GMAP_HUGE;
	wl_mmap_at(r->c, lo, hi - lo, GPROT_READ | GPROT_WRITE | GPROT_EXEC, flags);
	r->in->regions++;
}

/* Replay one record: cut at page boundaries; see replay.h. */
static void replay_record(struct replay *r, const struct replay_rec *rec, uint64_t pos)
{
	struct wl_ctx *c = r->c;
	struct vcpu *v = &c->vm->vcpu;
	gva_t a = rec->addr, end = rec->addr + rec->size;

	if ((a & ~(PAGE_SIZE - 1)) != ((end - 1) & ~(PAGE_SIZE - 1)))
		r->in->straddles++;
	while (a < end) {
		uint64_t room = PAGE_SIZE - (a & (PAGE_SIZE - 1));
		uint64_t n = end - a < room ? end - a : room;

		if (r->sys != NULL)
			rsys_before_access(r->sys);
		else
			replay_map_region(r, a);
		if (rec->kind == 'I') {
			/* One fetch per page part; its value is not architectural. */
			cpu_fetch(v, a, n >= 8 ? 8 : n >= 4 ? 4 : n >= 2 ? 2 : 1);
			a += n;
			continue;
		}
		while (n > 0) {
			unsigned k = n >= 8 ? 8 : n >= 4 ? 4 : n >= 2 ? 2 : 1;
			if (rec->kind != 'S')
				wl_fold(c, cpu_load(v, a, k));
			if (rec->kind != 'L')
				cpu_store(v, a, k, wl_mix(a, pos));
			a += k;
			n -= k;
		}
	}
}

/* The pid of a "==PID==" banner line. */
static int banner_pid(const char *line, size_t len)
{
	long pid = 0;

	for (size_t k = 2; k < len && line[k] >= '0' && line[k] <= '9' && pid < INT32_MAX; k++)
		pid = pid * 10 + (line[k] - '0');
	return (int)pid;
}

/* Where the replay is, for the system-call module's messages. */
static void replay_where(void *ctx, char *buf, size_t len)
{
	struct replay *r = ctx;

	if (r->bin != NULL)
		snprintf(buf, len,
			 "%s: byte offset %" PRIu64 " of the decompressed stream (line %" PRIu64
			 ")",
			 r->name, r->bin_offset, r->in->lines);
	else
		snprintf(buf, len, "%s:%" PRIu64, r->name, r->in->lines);
}

static _Noreturn void replay_reject_msg(void *ctx, const char *msg)
{
	replay_reject(ctx, "%s", msg);
}

static void replay_access(struct replay *r, const struct replay_rec *rec, const char *line,
			  size_t len);

/* Text glued after a system call's result: a new thread's first access
 * (anything else there is valgrind's and is skipped). */
static void replay_glued(struct replay *r, const char *text, size_t len)
{
	struct replay_rec rec;
	char why[128];

	while (len > 0 && text[len - 1] == ' ')
		len--;
	if (replay_parse_line(text, len, &rec, why, sizeof(why)) == REPLAY_LINE_RECORD)
		replay_access(r, &rec, text, len);
}

/* A line that is not an access record: a banner, a system call, its
 * continuation or a note (with --no-syscalls all are skipped, but for an
 * access glued to a system call, which is replayed either way). */
static void replay_other_line(struct replay *r, const char *line, size_t len, enum replay_line kind)
{
	struct rsys_call_line sc;
	char why[160];

	r->after_sys = kind == REPLAY_LINE_SYSCALL || kind == REPLAY_LINE_SYSCONT;
	switch (kind) {
	case REPLAY_LINE_BANNER:
		if (r->sys != NULL)
			rsys_name_pid(r->sys, banner_pid(line, len), true);
		break;
	case REPLAY_LINE_SYSCONT:
		if (r->sys != NULL)
			rsys_continue(r->sys, line, len);
		break;
	case REPLAY_LINE_SYSCALL:
		/* One line may hold two calls: a new thread's first call is
		 * printed before the newline of its parent's clone. */
		while (len > 0) {
			if (rsys_parse(line, len, &sc, why, sizeof(why)) < 0)
				replay_reject_line(r, r->in->lines, why, line, len);
			if (r->sys != NULL)
				rsys_apply(r->sys, &sc);
			if (sc.rest != 0)
				replay_glued(r, line + sc.rest, sc.used - sc.rest);
			line += sc.used;
			len -= sc.used;
		}
		break;
	default:
		break;
	}
}

/* An access record: bounds, counts, replay. */
static void replay_access(struct replay *r, const struct replay_rec *rec, const char *line,
			  size_t len)
{
	struct replay_input *in = r->in;

	r->after_sys = false;
	if (rec->addr < PAGE_SIZE || rec->addr + rec->size > r->user_top) {
		char why[128], text[64];
		snprintf(why, sizeof(why),
			 "address outside the guest's user space [0x%" PRIx64 ", 0x%" PRIx64 ")",
			 PAGE_SIZE, r->user_top);
		if (line == NULL) {
			snprintf(text, sizeof(text), "%c 0x%" PRIx64 ",%u", rec->kind, rec->addr,
				 rec->size);
			line = text;
			len = strlen(text);
		}
		replay_reject_line(r, in->lines, why, line, len);
	}
	switch (rec->kind) {
	case 'I':
		in->fetches++;
		break;
	case 'L':
		in->loads++;
		break;
	case 'S':
		in->stores++;
		break;
	default:
		in->modifies++;
		break;
	}
	/* --warmup N: the region of interest begins after the Nth record. */
	if (in->warmup != 0 && in->records == in->warmup)
		wl_roi_begin(r->c);
	replay_record(r, rec, in->records++);
}

/* Read until the header of the binary form could be seen (or the end). */
static void replay_sniff(struct replay *r)
{
	while (r->end < TRACE_BIN_HEADER_LEN && !r->eof) {
		ssize_t got = read(r->in->fd, r->buf + r->end, REPLAY_BUF_BYTES - r->end);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && errno == EBADF && r->in->fd == STDIN_FILENO)
			replay_fail_io(r, "%s: stdin is closed", r->name);
		if (got < 0)
			replay_fail_io(r, "%s: read error: %s", r->name, strerror(errno));
		if (got == 0)
			r->eof = true;
		r->end += (size_t)got;
	}
}

static void replay_run_binary(struct replay *r)
{
	struct replay_input *in = r->in;
	struct tbin_event ev;
	char err[300];
	int rc;

	in->binary = true;
	/* Opened with a name so that a bad header is reported as such. */
	r->bin = tbin_open(in->fd, r->buf, r->end, err, sizeof(err));
	if (r->bin == NULL)
		replay_reject(r, "%s: %s", r->name, err);
	in->bin_state = r->bin;
	while ((rc = tbin_next(r->bin, &ev, err, sizeof(err))) == 1) {
		in->lines++;
		r->bin_offset = ev.offset;
		if (ev.kind == TBIN_ACCESS) {
			if (r->empty_line != 0)
				replay_reject(
				    r, "%s: byte offset %" PRIu64 ": empty line inside the trace",
				    r->name, ev.offset);
			replay_access(r, &ev.rec, NULL, 0);
			continue;
		}
		{
			struct replay_rec rec;
			char why[128];
			enum replay_line kind =
			    replay_parse_line(ev.text, ev.len, &rec, why, sizeof(why));
			if (kind == REPLAY_LINE_ERROR || kind == REPLAY_LINE_RECORD)
				replay_reject(r, "%s: byte offset %" PRIu64 ": bad text event (%s)",
					      r->name, ev.offset,
					      kind == REPLAY_LINE_ERROR ? why
									: "an access as text");
			if (kind == REPLAY_LINE_EMPTY) {
				if (!r->after_sys && r->empty_line == 0)
					r->empty_line = in->lines;
				continue;
			}
			r->empty_line = 0; /* valgrind's own text may follow one */
			replay_other_line(r, ev.text, ev.len, kind);
		}
	}
	if (rc < 0)
		replay_reject(r, "%s: %s", r->name, err);
	tbin_close(r->bin);
	r->bin = NULL;
	in->bin_state = NULL;
}

static void replay_run(struct wl_ctx *c)
{
	struct replay_input *in = c->p.arg;
	struct replay r = {.c = c, .in = in};
	const char *line;
	size_t len;
	bool nl;

	if (in == NULL)
		vmmu_bug("replay_arg", "the replay workload ran without its input");
	r.name = strcmp(in->path, "-") == 0 ? "<stdin>" : in->path;
	/* gmm's user space: [PAGE_SIZE, 2^47 - PAGE_SIZE), 2^56 with LA57. */
	r.user_top = (UINT64_C(1) << (c->vm->cfg.levels == 5 ? 56 : 47)) - PAGE_SIZE;
	r.huge = c->vm->cfg.guest_page == PG_2M;
	wl_begin(c);
	memset(&in->sys, 0, sizeof(in->sys));
	if (in->no_syscalls)
		wl_proc_create(c);
	else
		r.sys = in->sys_state =
		    rsys_start(c, &in->sys, replay_where, replay_reject_msg, &r);
	if (in->fd < 0) {
		in->fd = strcmp(in->path, "-") == 0 ? STDIN_FILENO
						    : open(in->path, O_RDONLY | O_CLOEXEC);
		if (in->fd < 0)
			replay_reject(&r, "--trace: cannot open '%s': %s", in->path,
				      strerror(errno));
	}
	r.buf = wl_host_alloc(c, 1, REPLAY_BUF_BYTES);
	r.set_cap = REPLAY_SET_MIN;
	r.set = wl_host_alloc(c, r.set_cap, sizeof(*r.set));

	replay_sniff(&r);
	if (trace_bin_is(r.buf, r.end)) {
		replay_run_binary(&r);
		goto done;
	}
	while (replay_next_line(&r, &line, &len, &nl)) {
		struct replay_rec rec;
		char why[128];
		enum replay_line kind;
		uint64_t lineno = ++in->lines;

		kind = replay_parse_line(line, len, &rec, why, sizeof(why));
		/* A last line without its newline was cut short, whatever it looks
		 * like (" S 1fff00" parses as far as it goes); binary data aside. */
		if (!nl && (kind != REPLAY_LINE_ERROR || strncmp(why, "binary", 6) != 0))
			replay_reject_line(
			    &r, lineno, "truncated line (no newline at end of input)", line, len);
		if (kind == REPLAY_LINE_ERROR)
			replay_reject_line(&r, lineno, why, line, len);
		/* An empty line may end the input, follow a SYSCALL line (a clone's
		 * report ends with one), or precede valgrind's own text (its report
		 * of a fatal signal has one); an access may not follow it. */
		if (kind == REPLAY_LINE_EMPTY) {
			if (!r.after_sys && r.empty_line == 0)
				r.empty_line = lineno;
			continue;
		}
		if (r.empty_line != 0 && kind == REPLAY_LINE_RECORD)
			replay_reject_line(&r, r.empty_line, "empty line inside the trace", "", 0);
		r.empty_line = 0;
		if (kind != REPLAY_LINE_RECORD) {
			replay_other_line(&r, line, len, kind);
			continue;
		}
		replay_access(&r, &rec, line, len);
	}
done:
	if (in->records == 0)
		replay_reject(&r, "%s: no accesses", r.name);
	if (in->warmup > in->records && !in->warmup_soft)
		replay_reject(&r,
			      "--warmup: %" PRIu64 " is more than the %" PRIu64
			      " accesses (records) of %s",
			      in->warmup, in->records, r.name);
	if (in->warmup != 0 && in->records == in->warmup && !in->warmup_soft)
		wl_roi_begin(c); /* an empty region: everything was warm-up */
	if (r.sys != NULL)
		rsys_stop(r.sys);
	in->sys_state = NULL;
}

/* ---- replay workloads ---- */

int replay_workload_init(struct replay_workload *rw, const char *path)
{
	const char *base = strrchr(path, '/');
	size_t n, o;

	memset(rw, 0, sizeof(*rw));
	if (strlen(path) >= sizeof(rw->path))
		return -1;
	snprintf(rw->path, sizeof(rw->path), "%s", path);
	base = base != NULL ? base + 1 : path;
	if (strcmp(path, "-") == 0)
		base = "stdin";
	n = strlen(base);
	if (n > 7 && strcmp(base + n - 7, ".lackey") == 0)
		n -= 7;
	else if (n > 7 && strcmp(base + n - 7, ".vtrace") == 0)
		n -= 7;
	o = (size_t)snprintf(rw->name, sizeof(rw->name), "replay:");
	for (size_t k = 0; k < n && o + 1 < sizeof(rw->name); k++) {
		char ch = base[k];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
		rw->name[o++] = ok ? ch : '_';
	}
	rw->name[o] = '\0';
	rw->in.path = rw->path;
	rw->in.fd = -1;
	rw->w = (struct workload){
	    .name = rw->name,
	    .desc = "replay of a valgrind lackey trace",
	    .run = replay_run,
	};
	return 0;
}

struct replay_input *replay_input_of(const struct workload *w)
{
	if (w == NULL || w->run != replay_run)
		return NULL;
	return &((struct replay_workload *)((char *)w - offsetof(struct replay_workload, w)))->in;
}

void replay_print_sys(FILE *f, const struct replay_input *in)
{
	const struct rsys_stats *st = &in->sys;

	fprintf(f, "system calls:");
	for (int k = 0; k < RSYS_NCALLS; k++)
		fprintf(f, " %s %" PRIu64 ",", rsys_call_name(k), st->call[k].calls);
	fprintf(f,
		" others %" PRIu64 ", failed %" PRIu64 "; %" PRIu64 " processes, %" PRIu64
		" image pages%s\n",
		st->ignored, st->failed, st->procs, st->image_pages,
		in->binary ? " (binary trace)" : "");
	for (int k = 0; k < RSYS_NCALLS; k++) {
		const struct rsys_count *n = &st->call[k];
		if (n->invlpgs == 0 && n->tlb_flushes == 0 && n->pt_write_exits == 0)
			continue;
		fprintf(f,
			"  %-8s %" PRIu64 " INVLPG, %" PRIu64 " TLB flushes, %" PRIu64
			" page-table-write exits\n",
			rsys_call_name(k), n->invlpgs, n->tlb_flushes, n->pt_write_exits);
	}
}

void replay_input_close(struct replay_input *in)
{
	if (in->sys_state != NULL)
		rsys_stop(in->sys_state);
	in->sys_state = NULL;
	if (in->bin_state != NULL)
		tbin_close(in->bin_state);
	in->bin_state = NULL;
	if (in->fd > STDIN_FILENO)
		close(in->fd);
	in->fd = -1;
}

/* ---- trace lists (compare) ---- */

struct name_list {
	char **v;
	size_t n, cap;
};

static int list_add(struct name_list *l, const char *s)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		char **v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n] = strdup(s);
	return l->v[l->n] == NULL ? -1 : (int)l->n++;
}

static void list_free(struct name_list *l)
{
	for (size_t k = 0; k < l->n; k++)
		free(l->v[k]);
	free(l->v);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Add the *.lackey files of directory dir, sorted by name. */
static int add_dir(struct name_list *l, const char *dir, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t first = l->n;
	char path[1024];

	if (d == NULL) {
		snprintf(err, errlen, "--traces: cannot open directory '%s': %s", dir,
			 strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		if (n <= 7 || (strcmp(e->d_name + n - 7, ".lackey") != 0 &&
			       strcmp(e->d_name + n - 7, ".vtrace") != 0))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= sizeof(path) ||
		    list_add(l, path) < 0) {
			snprintf(err, errlen, "--traces: cannot list '%.200s/%.200s'", dir,
				 e->d_name);
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	qsort(l->v + first, l->n - first, sizeof(*l->v), cmp_str);
	return 0;
}

long replay_find_traces(const char *list, bool must_exist, struct replay_workload **out, char *err,
			size_t errlen)
{
	struct name_list l = {0};
	char buf[4096], *save = NULL;
	struct replay_workload *rw;
	long n;

	*out = NULL;
	if (strcmp(list, "none") == 0)
		return 0;
	if (strlen(list) >= sizeof(buf)) {
		snprintf(err, errlen, "--traces: list too long");
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct stat sb;
		int rc;

		if (stat(tok, &sb) != 0) {
			if (!must_exist)
				continue;
			snprintf(err, errlen, "--traces: '%.200s': %s", tok, strerror(errno));
			list_free(&l);
			return -1;
		}
		if (S_ISDIR(sb.st_mode)) {
			rc = add_dir(&l, tok, err, errlen);
		} else {
			rc = list_add(&l, tok);
			if (rc < 0)
				snprintf(err, errlen, "--traces: out of memory");
		}
		if (rc < 0) {
			list_free(&l);
			return -1;
		}
	}
	if (l.n == 0) {
		list_free(&l);
		return 0;
	}
	rw = calloc(l.n, sizeof(*rw));
	if (rw == NULL) {
		snprintf(err, errlen, "--traces: out of memory");
		list_free(&l);
		return -1;
	}
	for (size_t k = 0; k < l.n; k++) {
		if (replay_workload_init(&rw[k], l.v[k]) < 0) {
			snprintf(err, errlen, "--traces: path too long: '%.200s'", l.v[k]);
			free(rw);
			list_free(&l);
			return -1;
		}
	}
	*out = rw;
	n = (long)l.n;
	list_free(&l);
	return n;
}
