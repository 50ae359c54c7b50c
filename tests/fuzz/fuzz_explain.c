/*
 * fuzz_explain.c - the explain --gva and --map inputs (src/cli/cmd_explain.c)
 * through explain_main() itself, on a small guest. The input's first byte
 * picks the mode (native, shadow, nested) and --json; the rest, split at
 * its first newline, is the --gva value and the --map list. explain must
 * return 0, 1 or 2 and never crash or leak.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "../../src/cli/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const modes[] = {"native", "shadow", "nested"};
	char *buf, *tok[2] = {NULL, NULL}, *argv[16];
	int argc = 0, n, rc;
	uint8_t pick;

	if (size < 1 || size > 4096)
		return 0;
	pick = data[0];
	buf = malloc(size);
	if (buf == NULL)
		return 0;
	n = fuzz_split(data + 1, size - 1, '\n', buf, tok, 2);
	argv[argc++] = "explain";
	argv[argc++] = "--guest-mem";
	argv[argc++] = "16M";
	argv[argc++] = "--mode";
	argv[argc++] = (char *)modes[pick % 3];
	if (pick & 4)
		argv[argc++] = "--json";
	argv[argc++] = "--gva";
	argv[argc++] = tok[0];
	if (n > 1) {
		argv[argc++] = "--map";
		argv[argc++] = tok[1];
	}
	argv[argc] = NULL;
	rc = explain_main(argc, argv);
	if (rc < 0 || rc > 2)
		abort();
	free(buf);
	return 0;
}
