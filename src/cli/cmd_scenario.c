/*
 * cmd_scenario.c - `vmmu explain --scenario NAME [--mode M|all] [--compare]
 * [-v] [machine flags]`: flags, then the runner and narrator of src/teach/.
 * --mode all and --compare take every mode of the registry.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "registry.h"
#include "../teach/scenario.h"

#define SCN_MAX_MODES 16

/* Narrate one scenario under cfg->mode to stdout; a CLI_EXIT_* status. */
static int narrate(const char *scn, const struct vm_config *cfg, int verbose, struct stats *t)
{
	char err[512];
	if (scenario_narrate(stdout, scn, cfg, verbose, t, err, sizeof(err)) != 0) {
		cli_error("explain: %s", err);
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

/*
 * l2-fault: every nested design the registry knows (the design table of
 * src/teach/l2fault.c), or the one --mode names; --compare prints the
 * table alone. -v changes nothing: the narration names every exit.
 */
static int l2_fault(const struct vm_config *cfg, const char *mode, bool compare, int verbose)
{
	char err[512];
	(void)verbose;
	if (mode && !(l2f_is_design(mode) && mmu_find(mode))) {
		char list[256] = "";
		size_t o = 0;
		for (size_t k = 0; k < l2f_ndesigns; k++)
			if (mmu_find(l2f_designs[k]) && o < sizeof(list))
				o += (size_t)snprintf(list + o, sizeof(list) - o, "%s, ",
						      l2f_designs[k]);
		cli_error("--mode: --scenario l2-fault runs the nested designs (%sor all), got "
			  "'%s'",
			  list, mode);
		return CLI_EXIT_USAGE;
	}
	if (l2f_narrate(stdout, cfg, mode, compare, err, sizeof(err)) != 0) {
		cli_error("explain: %s", err);
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

static void scenario_help(FILE *f)
{
	fprintf(f,
		"usage: vmmu explain --scenario NAME [--mode M|all] [--compare] [-v] [FLAGS]\n"
		"       vmmu explain --scenario list\n\n"
		"Run a short event sequence on a small guest and narrate every event the\n"
		"mechanism traces: the guest's action, the trap or its absence, what the VMM\n"
		"did, which tables and TLB entries changed, and the cycles charged. Each step\n"
		"ends with its counter deltas; the run ends with a summary.\n\n"
		"  --scenario NAME                  scenario to run, or 'list'\n"
		"  --mode M                         a mode of `vmmu list modes`, or all (narrate\n"
		"                                   each, then compare; default: native)\n"
		"  --compare                        run under every mode and print only the\n"
		"                                   side-by-side summary\n"
		"  -v, --verbose                    one line per walk reference\n"
		"  -h, --help                       this help\n\n"
		"Scenarios:\n");
	for (size_t k = 0; k < scenario_count; k++)
		fprintf(f, "  %-16s %s\n", scenario_list[k].name, scenario_list[k].summary);
	fprintf(f, "\nl2-fault runs every nested-virtualization design this build has, one after\n"
		   "the other, then compares them; --mode D tells one design, --compare prints\n"
		   "the table alone.\n");
	fprintf(f, "\nGuest memory defaults to 64M here. ");
	cli_help_machine(f);
}

int scenario_main(int argc, char **argv)
{
	const char *modes[SCN_MAX_MODES];
	size_t nmodes = 0;
	struct vm_config cfg;
	const char *scn = NULL, *mode = "native", *v;
	bool compare = false, mode_given = false;
	int verbose = 0;
	char err[512];

	config_defaults(&cfg);
	cfg.guest_mem = SCENARIO_GUEST_MEM;
	for (size_t k = 0; mmu_modes[k] && nmodes < SCN_MAX_MODES; k++)
		modes[nmodes++] = mmu_modes[k]->name;
	for (int i = 1; i < argc;) {
		int r;
		if (cli_is_help(argv[i])) {
			scenario_help(stdout);
			return CLI_EXIT_OK;
		}
		if (strcmp(argv[i], "--compare") == 0) {
			compare = true;
			i++;
			continue;
		}
		if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
			verbose = 1;
			i++;
			continue;
		}
		r = cli_take_value("--scenario", argc, argv, &i, &v, err, sizeof(err));
		if (r == CLI_MATCHED) {
			scn = v;
			continue;
		}
		if (r == CLI_NOMATCH) {
			r = cli_take_value("--mode", argc, argv, &i, &v, err, sizeof(err));
			if (r == CLI_MATCHED) {
				mode = v;
				mode_given = true;
				continue;
			}
		}
		if (r == CLI_NOMATCH)
			r = cli_parse_machine(&cfg, argc, argv, &i, err, sizeof(err));
		if (r == CLI_ERR) {
			cli_error("%s", err);
			return CLI_EXIT_USAGE;
		}
		if (r == CLI_NOMATCH) {
			cli_error("explain: unknown flag '%s' with --scenario (try `vmmu explain "
				  "--scenario list`)",
				  argv[i]);
			return CLI_EXIT_USAGE;
		}
	}
	if (!scn) {
		cli_error("explain: --scenario: missing scenario name (try `--scenario list`)");
		return CLI_EXIT_USAGE;
	}
	if (strcmp(scn, "list") == 0) {
		for (size_t k = 0; k < scenario_count; k++)
			printf("%-16s %s\n", scenario_list[k].name, scenario_list[k].summary);
		return CLI_EXIT_OK;
	}
	if (!scenario_exists(scn)) {
		cli_error("explain: --scenario: unknown scenario '%s' (try `--scenario list`)",
			  scn);
		return CLI_EXIT_USAGE;
	}
	bool all = strcmp(mode, "all") == 0;
	if (strcmp(scn, "l2-fault") == 0)
		return l2_fault(&cfg, mode_given && !all ? mode : NULL, compare, verbose);
	if (!all && !mmu_find(mode)) {
		cli_error("--mode: expected a mode of `vmmu list modes` or all, got '%s'", mode);
		return CLI_EXIT_USAGE;
	}
	if (!all && !compare) {
		struct stats t;
		cfg.mode = mode;
		return narrate(scn, &cfg, verbose, &t);
	}
	struct stats t[SCN_MAX_MODES];
	for (size_t m = 0; m < nmodes; m++) {
		cfg.mode = modes[m];
		if (compare) {
			if (scenario_run(scn, &cfg, NULL, &t[m], err, sizeof(err)) != 0) {
				cli_error("explain: %s", err);
				return CLI_EXIT_FAIL;
			}
			continue;
		}
		int rc = narrate(scn, &cfg, verbose, &t[m]);
		if (rc != CLI_EXIT_OK)
			return rc;
		printf("\n");
	}
	if (compare) {
		printf("== scenario %s in every mode\n", scn);
		cfg.mode = NULL;
		scenario_describe_machine(stdout, &cfg);
	}
	scenario_print_compare(stdout, scn, modes, t, (int)nmodes);
	return CLI_EXIT_OK;
}
