/*
 * fuzz_flags.c - the flag parser and the size and geometry values
 * (src/cli/cli.c), and the bounds they lead to (src/core/bounds.c).
 *
 * The input, split at newlines, is an argument vector for `vmmu run`'s
 * machine and workload flags, parsed as run_main() parses it. A parse that
 * succeeds must give a machine whose bounds and budget can be checked; a
 * parse that fails must say why. Each token is also fed to every value
 * parser (sizes, integers, on/off, SETSxWAYS, page sizes).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "../../src/cli/cli.h"
#include "../../src/core/bounds.h"
#include "../../src/core/config.h"
#include "../../src/lib/run.h"

#define FUZZ_MAX_ARGS 64

static void values(const char *s)
{
	char err[256];
	uint64_t v;
	bool b;
	struct tlb_geom g;
	enum page_size ps;

	err[0] = '\0';
	if (cli_parse_size(s, &v, err, sizeof(err)) != 0 && err[0] == '\0')
		abort();
	err[0] = '\0';
	if (cli_parse_u64(s, &v, err, sizeof(err)) != 0 && err[0] == '\0')
		abort();
	(void)cli_parse_onoff(s, &b, err, sizeof(err));
	if (cli_parse_geom(s, &g, err, sizeof(err)) == 0) {
		/* What the parser accepts, the bounds accept. */
		if (g.sets == 0 || g.ways == 0 || g.sets > BOUND_TLB_SETS ||
		    g.ways > BOUND_TLB_WAYS || (uint64_t)g.sets * g.ways > BOUND_TLB_ENTRIES)
			abort();
	}
	(void)cli_parse_page(s, ~0u, &ps, err, sizeof(err));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *tok[FUZZ_MAX_ARGS + 2], err[512];
	struct vm_config cfg;
	struct wl_params p = {0};
	int n, i;

	if (buf == NULL)
		return 0;
	tok[0] = "run";
	n = 1 + fuzz_split(data, size, '\n', buf, tok + 1, FUZZ_MAX_ARGS);
	tok[n] = NULL;
	for (int k = 1; k < n; k++)
		values(tok[k]);
	config_defaults(&cfg);
	for (i = 1; i < n;) {
		int rc;

		err[0] = '\0';
		rc = cli_parse_machine(&cfg, n, tok, &i, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_parse_wl(&p, n, tok, &i, err, sizeof(err));
		if (rc == CLI_NOMATCH) {
			i++;
			continue;
		}
		if (rc != CLI_MATCHED) {
			if (err[0] == '\0')
				abort(); /* a rejected flag must say why */
			break;
		}
	}
	if (i >= n) {
		(void)config_check_bounds(&cfg, err, sizeof(err));
		(void)config_check_budget(&cfg, UINT64_C(1) << 30, err, sizeof(err));
	}
	free(buf);
	return 0;
}
