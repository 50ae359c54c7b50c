/*
 * fuzz.h - what the fuzz harnesses share.
 *
 * Each harness (tests/fuzz/fuzz_*.c) defines LLVMFuzzerTestOneInput() and
 * is built twice: with clang -fsanitize=fuzzer,address,undefined for
 * `make fuzz`, and with the normal compiler and replay_main.c as a plain
 * driver that `make test` runs over the seed corpus and every regression
 * input (tests/fuzz/corpus/NAME, tests/fuzz/regress/NAME).
 *
 * Invariant: a harness never exits, never writes outside /dev/null and its
 * own memfds, and frees what it allocates, so one process runs millions
 * of inputs.
 */
#ifndef VMMU_FUZZ_H
#define VMMU_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Replay data whole as a lackey trace (system-call lines included) on a
 * 16 MiB native guest, through a memfd named memfd_name
 * (support_replay.c, linked into every harness).
 */
void fuzz_replay_whole(const uint8_t *data, size_t size, const char *memfd_name);

/*
 * Replay the trace in fd, from its start, as a workload named name (whose
 * extension picks the reader: .lackey, .vmmutrc) on the same guest; fd is
 * the replay's, closed when it ends.
 */
void fuzz_replay_fd(int fd, const char *name);

/* Call fn on each '\n'-separated line of data (without its newline; the
 * last one even when empty or unterminated). */
static inline void fuzz_for_each_line(const uint8_t *data, size_t size,
				      void (*fn)(const char *line, size_t len))
{
	size_t start = 0;

	while (start <= size) {
		const uint8_t *nl = memchr(data + start, '\n', size - start);
		size_t len = nl ? (size_t)(nl - (data + start)) : size - start;

		fn((const char *)data + start, len);
		if (nl == NULL)
			break;
		start += len + 1;
	}
}

/*
 * Split data into at most max NUL-terminated tokens at each 'sep' byte,
 * copying into buf (size + 1 bytes). Returns the token count.
 */
static inline int fuzz_split(const uint8_t *data, size_t size, char sep, char *buf, char **tok,
			     int max)
{
	int n = 0;

	if (max <= 0)
		return 0;
	tok[n++] = buf;
	for (size_t k = 0; k < size; k++) {
		if (data[k] == (uint8_t)sep && n < max) {
			buf[k] = '\0';
			tok[n++] = buf + k + 1;
		} else {
			buf[k] = (char)data[k];
		}
	}
	buf[size] = '\0';
	return n;
}

#endif
