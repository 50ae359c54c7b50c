/*
 * cli.h - the command-line front end: flag tables, value parsers, help, and
 * the subcommands that main() dispatches to.
 *
 * Every flag that describes the simulated machine (struct vm_config) or the
 * workload's parameters (struct wl_params) lives in one const table in
 * cli.c. run, compare and bench (and later sweep and explain) all parse
 * those flags through cli_parse_machine() and cli_parse_wl(), print them
 * through cli_help_machine() and cli_help_wl(), and so agree on spelling,
 * accepted values and defaults. The defaults that help prints come from
 * config_defaults(), never from a second copy.
 *
 * Error convention: a parser returns CLI_ERR and writes into err a message
 * that names the flag and the bad value, without the leading "vmmu: ", e.g.
 *   --levels: expected 4 or 5, got '7'
 * The caller prints it and exits with CLI_EXIT_USAGE.
 *
 * Both "--flag value" and "--flag=value" are accepted.
 */
#ifndef VMMU_CLI_H
#define VMMU_CLI_H

#include <stdio.h>

#include "../core/config.h"
#include "../../workloads/workload.h"

/* Process exit statuses of every subcommand. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1	 /* a run failed (guest error, I/O error) */
#define CLI_EXIT_USAGE 2 /* bad flag, bad value, unknown name */

/* Results of the argument parsers. */
#define CLI_NOMATCH 0 /* argv[*i] is not one of this table's flags */
#define CLI_MATCHED 1 /* consumed, *i advanced past the flag and its value */
#define CLI_ERR (-1)  /* a flag of this table with a bad or missing value */

/* Default seed of every subcommand. */
#define CLI_DEFAULT_SEED 1

/*
 * Value parsers. Each returns 0, or -1 with a message in err that describes
 * the expected form and quotes the bad text (the flag name is added by the
 * table-driven parsers below).
 */
/* "4G", "512M", "64K", "65536" (bytes); suffixes K/M/G/T are powers of 1024,
 * case-insensitive, optionally followed by "B" or "iB". */
int cli_parse_size(const char *s, uint64_t *out, char *err, size_t errlen);
/* Decimal, or hexadecimal with a 0x prefix. */
int cli_parse_u64(const char *s, uint64_t *out, char *err, size_t errlen);
/* "on" or "off" ("1", "0", "yes", "no", "true" and "false" are accepted too). */
int cli_parse_onoff(const char *s, bool *out, char *err, size_t errlen);
/* "SETSxWAYS", sets a power of two, ways >= 1, e.g. "16x4". */
int cli_parse_geom(const char *s, struct tlb_geom *out, char *err, size_t errlen);
/* "4k", "2m" or "1g", limited to the sizes set in 'allowed' (bit n = enum
 * page_size n). */
int cli_parse_page(const char *s, unsigned allowed, enum page_size *out, char *err, size_t errlen);

/* The spellings of page sizes, NUMA policies, sync and PCID policies are
 * config_page_name(), config_numa_name(), config_sync_name() and
 * config_pcid_policy_name() (config.h). */

/*
 * Table-driven parsers. Look at argv[*i]; if it is one of the table's flags,
 * parse its value (from "--flag=value" or from argv[*i + 1]) into *c or *p,
 * advance *i past what was consumed and return CLI_MATCHED. Return
 * CLI_NOMATCH, leaving *i alone, for anything else. Return CLI_ERR with err
 * set for a missing or bad value.
 */
int cli_parse_machine(struct vm_config *c, int argc, char **argv, int *i, char *err, size_t errlen);
int cli_parse_wl(struct wl_params *p, int argc, char **argv, int *i, char *err, size_t errlen);

/*
 * Set one knob by its flag name ("host-page" or "--host-page") to a value,
 * as if it had been given on the command line. Tries the machine table, then
 * the workload table. Returns 0, or -1 with err set (unknown name or bad
 * value). This is how a sweep applies its values.
 */
int cli_set(struct vm_config *c, struct wl_params *p, const char *name, const char *value,
	    char *err, size_t errlen);

/*
 * Call fn(name, value, ctx) for every flag of both tables (workload, then
 * machine), with name including its dashes and value spelled so that the
 * flag parses it back to the same field: numbers raw (0 included, sizes in
 * bytes), booleans and K_FLAG flags as on|off (use "--audit=off" form for
 * the latter). This is how self-contained command lines are written.
 */
void cli_each_flag(const struct vm_config *c, const struct wl_params *p,
		   void (*fn)(const char *name, const char *value, void *ctx), void *ctx);

/* Help for the two tables: one line per flag, with its default. */
void cli_help_machine(FILE *f);
void cli_help_wl(FILE *f);

/*
 * Take the value of a flag of the caller's own: when argv[*i] is "name" or
 * "name=value", store the value in *value, advance *i and return
 * CLI_MATCHED; CLI_NOMATCH otherwise; CLI_ERR with err set when the value is
 * missing. 'name' includes its dashes ("--out", "-j").
 */
int cli_take_value(const char *name, int argc, char **argv, int *i, const char **value, char *err,
		   size_t errlen);

/* True when s is "-h" or "--help". */
bool cli_is_help(const char *s);

/* Print "vmmu: <formatted message>\n" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Flush and close stdout; on a write error print "vmmu: write error on
 * stdout: ..." and return CLI_EXIT_FAIL if status was CLI_EXIT_OK, else
 * status (closeout.c; coreutils' close_stdout()). */
int cli_close_stdout(int status);

/*
 * Report argv entry a that the parsers of command cmd did not take: with rc
 * CLI_ERR, the parser's message err; with CLI_NOMATCH, "CMD: unknown flag
 * 'A' (see `vmmu CMD --help`)", or "unexpected argument" when a does not
 * start with a dash. Returns CLI_EXIT_USAGE, for the caller to return.
 */
int cli_reject_arg(const char *cmd, int rc, const char *a, const char *err);

/*
 * Subcommands. Each gets the arguments from the subcommand name on
 * (argv[0] is "run", "compare", ...) and returns a CLI_EXIT_* status.
 * run and list live in main.c, compare in compare.c, bench in bench.c,
 * sweep in sweep.c; merge, replay, explain, scenario and quiz in
 * cmd_<name>.c.
 */
int compare_main(int argc, char **argv);
int bench_main(int argc, char **argv);
int sweep_main(int argc, char **argv);
int merge_main(int argc, char **argv);
int replay_main(int argc, char **argv);
int trace_main(int argc, char **argv);
int explain_main(int argc, char **argv); /* also `explain --scenario` */
int scenario_main(int argc, char **argv);
int quiz_main(int argc, char **argv);

#endif
