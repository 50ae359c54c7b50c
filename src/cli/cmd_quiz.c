/*
 * cmd_quiz.c - `vmmu quiz`: flags, then the exercise that src/teach/quiz.c
 * prints.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "registry.h"
#include "../teach/explain.h"
#include "../teach/scenario.h"

static void quiz_help(FILE *f)
{
	fprintf(f,
		"usage: vmmu quiz [--kind K] [--mode M] [--seed N] [-n N] [-c] [FLAGS]\n\n"
		"Print a small translation exercise built on a real guest: the table pages\n"
		"that matter (non-zero entries only), CR3 (and the EPTP, or the p2m), and a\n"
		"few guest virtual addresses to translate by hand. The same seed gives the\n"
		"same problem. Walk caches are off unless a flag turns them on.\n\n"
		"  --kind K      translate (the above, default); exits: how many guest\n"
		"                faults and VM exits each of a few user loads and stores\n"
		"                takes under shadow and under nested paging (--mode does\n"
		"                not apply: both run); or pv-munmap: how many hypercalls\n"
		"                a munmap makes under pv, with and without lazy-MMU\n"
		"                batching (--mode does not apply); or nested: can a VMM\n"
		"                run in a VM, and which VMM handles an exit first and in\n"
		"                the end, on one L2 page fault (`vmmu explain --scenario\n"
		"                l2-fault`); --mode picks the nested design (default: the\n"
		"                seed picks), -n the exits asked about\n"
		"  --mode M      an MMU mode of `vmmu list modes` (default: native)\n"
		"  --seed N      the problem's seed (default: 1)\n"
		"  -n N          questions per seed, 1..%d (default: %d): addresses to\n"
		"                translate, accesses for --kind exits, or exits for --kind\n"
		"                nested (pv-munmap asks its two questions)\n"
		"  -c, --answers also print the worked answers, in `vmmu explain` form\n"
		"  -h, --help    this help\n\n",
		QUIZ_MAX_N, QUIZ_DEFAULT_N);
	cli_help_machine(f);
}

/*
 * --kind nested: --mode, when given, is one of the nested designs of the
 * l2-fault scenario; guest memory is the scenario's 64M unless a flag
 * says otherwise.
 */
static int quiz_nested(struct vm_config *cfg, const char *mode, uint64_t n, const char *seed_s,
		       bool answers, const char *flags)
{
	char err[512];
	if (mode && !(l2f_is_design(mode) && mmu_find(mode))) {
		cli_error("--kind nested: --mode: expected a nested design (see `vmmu explain "
			  "--scenario l2-fault`), got '%s'",
			  mode);
		return CLI_EXIT_USAGE;
	}
	uint64_t seed = CLI_DEFAULT_SEED;
	if (seed_s && cli_parse_u64(seed_s, &seed, err, sizeof(err)) != 0) {
		cli_error("--seed: %s", err);
		return CLI_EXIT_USAGE;
	}
	if (!strstr(flags, "--guest-mem"))
		cfg->guest_mem = SCENARIO_GUEST_MEM;
	int rc = quiz_nested_print(stdout, cfg, mode, seed, (unsigned)n, answers, flags, err,
				   sizeof(err));
	if (rc == QUIZ_OK)
		return CLI_EXIT_OK;
	cli_error("quiz: %s", err);
	return rc == QUIZ_BAD_MACHINE ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
}

int quiz_main(int argc, char **argv)
{
	struct vm_config cfg;
	const char *mode = NULL, *seed_s = NULL, *kind = "translate", *n_s = NULL;
	bool answers = false;
	char err[512];
	char flags[1024] = "";
	size_t flen = 0;

	config_defaults(&cfg);
	cfg.walk_caches = false;
	for (int i = 1; i < argc;) {
		const char *a = argv[i];
		int at = i, rc;
		if (cli_is_help(a)) {
			quiz_help(stdout);
			return CLI_EXIT_OK;
		}
		if (strcmp(a, "-c") == 0 || strcmp(a, "--answers") == 0) {
			answers = true;
			i++;
			continue;
		}
		rc = cli_parse_machine(&cfg, argc, argv, &i, err, sizeof(err));
		if (rc == CLI_MATCHED) {
			/* Keep the machine flags for the explain command we print. */
			for (int k = at; k < i; k++) {
				int w =
				    snprintf(flags + flen, sizeof(flags) - flen, " %s", argv[k]);
				if (w < 0 || (size_t)w >= sizeof(flags) - flen) {
					cli_error("quiz: too many flags");
					return CLI_EXIT_USAGE;
				}
				flen += (size_t)w;
			}
			continue;
		}
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--mode", argc, argv, &i, &mode, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--seed", argc, argv, &i, &seed_s, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--kind", argc, argv, &i, &kind, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("-n", argc, argv, &i, &n_s, err, sizeof(err));
		if (rc != CLI_MATCHED)
			return cli_reject_arg("quiz", rc, a, err);
	}
	bool pv_munmap = strcmp(kind, "pv-munmap") == 0, exits = strcmp(kind, "exits") == 0;
	bool nested = strcmp(kind, "nested") == 0;
	if (!pv_munmap && !exits && !nested && strcmp(kind, "translate") != 0) {
		cli_error("--kind: unknown kind '%s' (expected translate, exits, pv-munmap or "
			  "nested)",
			  kind);
		return CLI_EXIT_USAGE;
	}
	uint64_t n = QUIZ_DEFAULT_N;
	if (n_s != NULL) {
		if (cli_parse_u64(n_s, &n, err, sizeof(err)) != 0 || n < 1 || n > QUIZ_MAX_N) {
			cli_error("-n: expected an integer from 1 to %d, got '%s'", QUIZ_MAX_N,
				  n_s);
			return CLI_EXIT_USAGE;
		}
		if (pv_munmap) {
			cli_error("-n: --kind pv-munmap asks its two questions per seed (use "
				  "--seed for another problem)");
			return CLI_EXIT_USAGE;
		}
	}
	if (exits && mode) {
		cli_error("--kind exits: the question runs shadow and nested paging both; "
			  "--mode %s does not apply",
			  mode);
		return CLI_EXIT_USAGE;
	}
	if (pv_munmap && mode && strcmp(mode, "pv") != 0) {
		cli_error("--kind pv-munmap: the question is about the pv mode; --mode %s does "
			  "not apply",
			  mode);
		return CLI_EXIT_USAGE;
	}
	if (nested)
		return quiz_nested(&cfg, mode, n, seed_s, answers, flags);
	const struct mmu_ops *m = mmu_find(mode ? mode : pv_munmap ? "pv" : "native");
	if (!m) {
		cli_error("--mode: unknown mode '%s' (see `vmmu list modes`)", mode);
		return CLI_EXIT_USAGE;
	}
	cfg.mode = m->name;
	uint64_t seed = CLI_DEFAULT_SEED;
	if (seed_s && cli_parse_u64(seed_s, &seed, err, sizeof(err)) != 0) {
		cli_error("--seed: %s", err);
		return CLI_EXIT_USAGE;
	}
	int rc =
	    pv_munmap ? quiz_pv_munmap_print(stdout, &cfg, seed, answers, err, sizeof(err))
	    : exits   ? quiz_exits_print(stdout, &cfg, seed, (unsigned)n, answers, err, sizeof(err))
		    : quiz_print(stdout, &cfg, seed, (unsigned)n, answers, flags, err, sizeof(err));
	switch (rc) {
	case QUIZ_OK:
		return CLI_EXIT_OK;
	case QUIZ_BAD_MACHINE:
		cli_error("quiz: %s", err);
		return CLI_EXIT_USAGE;
	default:
		cli_error("quiz: %s", err);
		return CLI_EXIT_FAIL;
	}
}
