/*
 * test_cli.c - unit tests of the command-line front end and the CSV
 * (src/cli/cli.c, src/report/csv.c).
 *
 * Parsing: sizes, on/off, TLB geometry and every kind of machine flag are
 * parsed to exact values, and every bad value is rejected with a message
 * that names the flag and quotes the value. Fixture configs start from
 * config_defaults() and are then set to sentinel values, so a parser that
 * writes the wrong field shows up.
 *
 * CSV: the header starts with the required columns in their exact order,
 * carries every STATS_COUNTERS name exactly once and nothing twice, a row
 * has exactly as many fields as the header, and docs/csv.md documents every
 * column (the tests run from the repository root). Atomic writes leave no
 * temporary file behind, on success or on failure.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <unistd.h>
#include <cmocka.h>

#include "../src/cli/cli.h"
#include "../src/report/csv.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ---- */

/* Parse one machine flag list; returns the last parser status. */
static int parse_machine_args(struct vm_config *c, int argc, char **argv, char *err, size_t len)
{
	int i = 0, rc = CLI_NOMATCH;

	while (i < argc) {
		rc = cli_parse_machine(c, argc, argv, &i, err, len);
		if (rc != CLI_MATCHED)
			return rc;
	}
	return rc;
}

/* Expect "flag value" to be rejected with a message that starts with the
 * flag and quotes the value. */
static void expect_bad(const char *flag, const char *value)
{
	struct vm_config c;
	char err[512] = "";
	char *argv[] = {(char *)flag, (char *)value};
	char quoted[256];
	int i = 0;

	config_defaults(&c);
	assert_int_equal(cli_parse_machine(&c, 2, argv, &i, err, sizeof(err)), CLI_ERR);
	assert_int_equal(strncmp(err, flag, strlen(flag)), 0);
	assert_int_equal(err[strlen(flag)], ':');
	snprintf(quoted, sizeof(quoted), "'%s'", value);
	assert_non_null(strstr(err, quoted));
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* ---- value parsers ---- */

static void test_size_parse(void **state)
{
	static const struct {
		const char *s;
		uint64_t v;
	} good[] = {
	    {"65536", 65536},
	    {"4G", UINT64_C(4) << 30},
	    {"4g", UINT64_C(4) << 30},
	    {"512M", UINT64_C(512) << 20},
	    {"64K", UINT64_C(64) << 10},
	    {"1GiB", UINT64_C(1) << 30},
	    {"2MB", UINT64_C(2) << 20},
	    {"1T", UINT64_C(1) << 40},
	    {"0", 0},
	};
	static const char *const bad[] = {
	    "", "4X", "-1", "4GG", "G", "4 G", "1.5G", "18446744073709551616", "16777216T", "0x10"};
	char err[256];
	uint64_t v;

	(void)state;
	for (size_t k = 0; k < NELEMS(good); k++) {
		v = 0x5a5a5a5a;
		assert_int_equal(cli_parse_size(good[k].s, &v, err, sizeof(err)), 0);
		assert_int_equal(v, good[k].v);
	}
	for (size_t k = 0; k < NELEMS(bad); k++) {
		v = 0x5a5a5a5a;
		assert_int_equal(cli_parse_size(bad[k], &v, err, sizeof(err)), -1);
		assert_int_equal(v, 0x5a5a5a5a);
		assert_non_null(strstr(err, "size"));
	}
}

static void test_u64_parse(void **state)
{
	char err[256];
	uint64_t v;

	(void)state;
	assert_int_equal(cli_parse_u64("42", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 42);
	assert_int_equal(cli_parse_u64("0x1F", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 31);
	assert_int_equal(cli_parse_u64("18446744073709551615", &v, err, sizeof(err)), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(cli_parse_u64("18446744073709551616", &v, err, sizeof(err)), -1);
	assert_int_equal(cli_parse_u64("-3", &v, err, sizeof(err)), -1);
	assert_int_equal(cli_parse_u64("12abc", &v, err, sizeof(err)), -1);
	assert_int_equal(cli_parse_u64("", &v, err, sizeof(err)), -1);
	assert_int_equal(cli_parse_u64("0x", &v, err, sizeof(err)), -1);
	assert_string_equal(err, "expected a non-negative integer, got '0x'");
}

static void test_onoff_parse(void **state)
{
	static const char *const on[] = {"on", "ON", "1", "yes", "true"};
	static const char *const off[] = {"off", "Off", "0", "no", "false"};
	char err[256];
	bool b;

	(void)state;
	for (size_t k = 0; k < NELEMS(on); k++) {
		b = false;
		assert_int_equal(cli_parse_onoff(on[k], &b, err, sizeof(err)), 0);
		assert_true(b);
	}
	for (size_t k = 0; k < NELEMS(off); k++) {
		b = true;
		assert_int_equal(cli_parse_onoff(off[k], &b, err, sizeof(err)), 0);
		assert_false(b);
	}
	assert_int_equal(cli_parse_onoff("maybe", &b, err, sizeof(err)), -1);
	assert_string_equal(err, "expected on or off, got 'maybe'");
}

static void test_geom_parse(void **state)
{
	static const char *const bad[] = {"16",	   "x4",   "16x",   "15x4",	"16x0",	  "0x4",
					  "16x4x", "16*4", "16x4:", "131072x4", "16x2000"};
	struct tlb_geom g = {0x5a, 0x5a};
	char err[256];

	(void)state;
	assert_int_equal(cli_parse_geom("16x4", &g, err, sizeof(err)), 0);
	assert_int_equal(g.sets, 16);
	assert_int_equal(g.ways, 4);
	assert_int_equal(cli_parse_geom("1X12", &g, err, sizeof(err)), 0);
	assert_int_equal(g.sets, 1);
	assert_int_equal(g.ways, 12);
	for (size_t k = 0; k < NELEMS(bad); k++) {
		g = (struct tlb_geom){0x5a, 0x5a};
		assert_int_equal(cli_parse_geom(bad[k], &g, err, sizeof(err)), -1);
		assert_int_equal(g.sets, 0x5a);
		assert_non_null(strstr(err, "SETSxWAYS"));
	}
}

static void test_page_parse(void **state)
{
	enum page_size ps = PG_NR;
	char err[256];

	(void)state;
	assert_int_equal(cli_parse_page("2m", 7u, &ps, err, sizeof(err)), 0);
	assert_int_equal(ps, PG_2M);
	assert_int_equal(cli_parse_page("1G", 7u, &ps, err, sizeof(err)), 0);
	assert_int_equal(ps, PG_1G);
	assert_int_equal(cli_parse_page("4KiB", 7u, &ps, err, sizeof(err)), 0);
	assert_int_equal(ps, PG_4K);
	assert_int_equal(cli_parse_page("1g", 3u, &ps, err, sizeof(err)), -1);
	assert_string_equal(err, "expected 4k or 2m, got '1g'");
	assert_int_equal(cli_parse_page("8k", 7u, &ps, err, sizeof(err)), -1);
	assert_string_equal(err, "expected 4k, 2m or 1g, got '8k'");
	assert_string_equal(config_page_name(PG_4K), "4k");
	assert_string_equal(config_page_name(PG_1G), "1g");
}

/* ---- table-driven parsing ---- */

static void test_machine_flags_set_fields(void **state)
{
	/* Flag and value; NULL for a flag that stands alone (incl. --flag=value). */
	static const char *const args[][2] = {
	    {"--guest-mem", "512M"},	 {"--host-mem=2G", NULL},  {"--levels", "5"},
	    {"--guest-page", "2m"},	 {"--host-page", "1g"},	   {"--direct-map", "1g"},
	    {"--walk-caches", "off"},	 {"--vpid", "off"},	   {"--pcid=off", NULL},
	    {"--invlpg-threshold", "7"}, {"--tlb", "32x4:256x8"},  {"--tlb-large", "4x2"},
	    {"--itlb", "8x4"},		 {"--psc", "16:8:4:1"},	   {"--numa", "node:1"},
	    {"--shadow-sync", "unsync"}, {"--shadow-roots", "5"},  {"--shadow-cap", "100"},
	    {"--prefetch", "off"},	 {"--prefetch-num", "4"},  {"--flood-threshold", "9"},
	    {"--ept-ad", "off"},	 {"--pwc", "off"},	   {"--pwc-entries", "64"},
	    {"--ntlb", "off"},		 {"--ntlb-entries", "16"}, {"--audit", NULL},
	    {"--wp", "off"},		 {"--smep", "off"},	   {"--smap=off", NULL},
	    {"--nxe", "off"},
	};
	char *argv[2 * NELEMS(args)];
	int argc = 0;
	struct vm_config c;
	char err[512] = "";

	(void)state;
	for (size_t k = 0; k < NELEMS(args); k++)
		for (int j = 0; j < 2; j++)
			if (args[k][j] != NULL)
				argv[argc++] = (char *)args[k][j];
	config_defaults(&c);
	assert_int_equal(parse_machine_args(&c, argc, argv, err, sizeof(err)), CLI_MATCHED);
	assert_string_equal(err, "");
	assert_true(c.guest_mem == UINT64_C(512) << 20);
	assert_true(c.host_mem == UINT64_C(2) << 30);
	assert_int_equal(c.levels, 5);
	assert_int_equal(c.guest_page, PG_2M);
	assert_int_equal(c.host_page, PG_1G);
	assert_int_equal(c.direct_map_page, PG_1G);
	assert_false(c.walk_caches);
	assert_false(c.vpid);
	assert_false(c.pcid);
	assert_false(c.cr0_wp);
	assert_false(c.cr4_smep);
	assert_false(c.cr4_smap);
	assert_false(c.efer_nxe);
	assert_int_equal(c.invlpg_threshold, 7);
	assert_int_equal(c.l1d.sets, 32);
	assert_int_equal(c.l1d.ways, 4);
	assert_int_equal(c.l2.sets, 256);
	assert_int_equal(c.l2.ways, 8);
	assert_int_equal(c.l1d_large.sets, 4);
	assert_int_equal(c.l1d_large.ways, 2);
	assert_int_equal(c.l1i.sets, 8);
	assert_int_equal(c.l1i.ways, 4);
	assert_int_equal(c.psc_entries[LVL_PD], 16);
	assert_int_equal(c.psc_entries[LVL_PDPT], 8);
	assert_int_equal(c.psc_entries[LVL_PML4], 4);
	assert_int_equal(c.psc_entries[LVL_PML5], 1);
	assert_int_equal(c.numa, NUMA_NODE);
	assert_int_equal(c.numa_node, 1);
	assert_int_equal(c.shadow_sync, SYNC_UNSYNC);
	assert_int_equal(c.shadow_roots, 5);
	assert_int_equal(c.shadow_cap, 100);
	assert_false(c.shadow_prefetch);
	assert_int_equal(c.prefetch_num, 4);
	assert_int_equal(c.flood_threshold, 9);
	assert_false(c.ept_ad);
	assert_false(c.pwc);
	assert_int_equal(c.pwc_entries, 64);
	assert_false(c.ntlb);
	assert_int_equal(c.ntlb_entries, 16);
	assert_true(c.audit);
	/* The mode is not a machine flag. */
	assert_string_equal(c.mode, "native");
}

/* --machine sets the profile; --tlb, --cache and --cost override single
 * fields of it whatever their order; the result is the same both ways. */
static void test_machine_profile_order_independent(void **state)
{
	char *a[] = {"--tlb",
		     "8x4:64x8",
		     "--cost",
		     "vmexit=999,ref_dram=300",
		     "--machine",
		     "zen2",
		     "--cache=64x8:512x8:1024x16"};
	char *b[] = {
	    "--machine=zen2", "--cache", "64x8:512x8:1024x16", "--cost", "vmexit=999,ref_dram=300",
	    "--tlb",	      "8x4:64x8"};
	struct vm_config x, y;
	char err[512] = "";

	(void)state;
	config_defaults(&x);
	config_defaults(&y);
	assert_string_equal(x.machine, "skylake-sp");
	assert_int_equal(parse_machine_args(&x, (int)NELEMS(a), a, err, sizeof(err)), CLI_MATCHED);
	assert_int_equal(parse_machine_args(&y, (int)NELEMS(b), b, err, sizeof(err)), CLI_MATCHED);
	assert_string_equal(x.machine, "zen2");
	assert_string_equal(y.machine, "zen2");
	assert_memory_equal(&x.cost, &y.cost, sizeof(x.cost));
	assert_int_equal(x.cost.vmexit, 999);
	assert_int_equal(x.cost.ref_dram, 300);
	assert_int_equal(x.cost.ref_llc, 38); /* the rest is zen2's */
	assert_int_equal(x.cost.vmm_inject, 5362);
	assert_int_equal(x.l1d.sets, 8);
	assert_int_equal(y.l1d.sets, 8);
	assert_int_equal(x.l2.ways, 8);
	assert_int_equal(x.l1i.ways, 64); /* not overridden: zen2's */
	assert_int_equal(x.cache[1].sets, 512);
	assert_int_equal(y.cache[2].ways, 16);
	assert_memory_equal(x.cache, y.cache, sizeof(x.cache));

	/* The same through cli_set (the library and sweep path). */
	struct wl_params p = {0};
	config_defaults(&x);
	assert_int_equal(cli_set(&x, &p, "cost", "vmexit=5", err, sizeof(err)), 0);
	assert_int_equal(cli_set(&x, &p, "--machine", "zen2", err, sizeof(err)), 0);
	assert_int_equal(x.cost.vmexit, 5);
	assert_int_equal(x.cost.ref_l2, 12);
	assert_int_equal(x.cache[2].sets, 4096);
}

static void test_machine_profile_errors(void **state)
{
	struct vm_config c;
	char err[512] = "";
	char *m[] = {"--machine", "pentium"};
	char *k[] = {"--cost", "vmexits=3"};
	int i = 0;

	(void)state;
	config_defaults(&c);
	assert_int_equal(cli_parse_machine(&c, 2, m, &i, err, sizeof(err)), CLI_ERR);
	assert_string_equal(
	    err, "--machine: unknown machine 'pentium'; expected one of skylake-sp, zen2");
	i = 0;
	assert_int_equal(cli_parse_machine(&c, 2, k, &i, err, sizeof(err)), CLI_ERR);
	assert_string_equal(err,
			    "--cost: unknown cost 'vmexits' (the fields are listed by `vmmu list "
			    "machines`)");
	expect_bad("--cost", "vmexit");
	expect_bad("--cost", "vmexit=");
	expect_bad("--cost", "vmexit=1,");
	expect_bad("--cost", "vmexit=99999999999");
	expect_bad("--cache", "64x8:1024x16");
	expect_bad("--cache", "64x8:1000x16:2048x11");
	expect_bad("--cache", "64x8:1024x33:2048x11");
	expect_bad("--cache-model", "maybe");
	/* Nothing was written by the failed flags. */
	assert_string_equal(c.machine, "skylake-sp");
	assert_int_equal(c.cost.vmexit, 2495);
	assert_int_equal(c.cost_overridden, 0);
}

static void test_machine_flags_reject_bad_values(void **state)
{
	static const char *const bad[][2] = {
	    {"--guest-mem", "lots"},
	    {"--guest-mem", "3M"},
	    {"--guest-mem", "8M"},
	    {"--guest-mem", "2T"},
	    {"--host-mem", "4097"},
	    {"--levels", "7"},
	    {"--levels", "four"},
	    {"--guest-page", "1g"},
	    {"--host-page", "3m"},
	    {"--direct-map", "4k"},
	    {"--walk-caches", "maybe"},
	    {"--vpid", "2"},
	    {"--pcid", ""},
	    {"--invlpg-threshold", "-1"},
	    {"--tlb", "16x4"},
	    {"--tlb", "16x4:100x12"},
	    {"--tlb-large", "3x4"},
	    {"--itlb", "16x4:1x1"},
	    {"--psc", "32:4:2"},
	    {"--psc", "32:4:2:2:2"},
	    {"--numa", "remote"},
	    {"--numa", "node:x"},
	    {"--shadow-sync", "lazy"},
	    {"--shadow-roots", "1025"},
	    {"--shadow-cap", "many"},
	    {"--prefetch", "sometimes"},
	    {"--flood-threshold", "1e3"},
	    {"--ept-ad", "yes please"},
	    {"--pwc", "2"},
	    {"--ntlb", "x"},
	    {"--pwc-entries", "99999999"},
	    {"--audit=perhaps", NULL},
	};

	(void)state;
	for (size_t k = 0; k < NELEMS(bad); k++) {
		if (bad[k][1] == NULL) {
			struct vm_config c;
			char err[512];
			char *argv[] = {(char *)bad[k][0]};
			int i = 0;
			config_defaults(&c);
			assert_int_equal(cli_parse_machine(&c, 1, argv, &i, err, sizeof(err)),
					 CLI_ERR);
			assert_string_equal(err, "--audit: expected on or off, got 'perhaps'");
			continue;
		}
		expect_bad(bad[k][0], bad[k][1]);
	}
}

static void test_exact_messages(void **state)
{
	struct vm_config c;
	char err[512];
	char *a1[] = {"--levels", "7"};
	char *a2[] = {"--levels"};
	char *a3[] = {"--walk-caches", "--vpid", "on"};
	int i;

	(void)state;
	config_defaults(&c);
	i = 0;
	assert_int_equal(cli_parse_machine(&c, 2, a1, &i, err, sizeof(err)), CLI_ERR);
	assert_string_equal(err, "--levels: expected 4 or 5, got '7'");
	assert_int_equal(c.levels, 4);
	i = 0;
	assert_int_equal(cli_parse_machine(&c, 1, a2, &i, err, sizeof(err)), CLI_ERR);
	assert_string_equal(err, "--levels: missing value (expected 4|5)");
	/* A flag is never taken as the value of the flag before it. */
	i = 0;
	assert_int_equal(cli_parse_machine(&c, 3, a3, &i, err, sizeof(err)), CLI_ERR);
	assert_string_equal(err, "--walk-caches: missing value (expected on|off)");
}

static void test_nomatch_leaves_index(void **state)
{
	struct vm_config c;
	struct wl_params p = {.seed = 0x5a};
	char err[256];
	char *argv[] = {"--workload", "seq", "--guest-memory", "1G", "--seed=9", "--pages", "12"};
	int i = 0;

	(void)state;
	config_defaults(&c);
	assert_int_equal(cli_parse_machine(&c, (int)NELEMS(argv), argv, &i, err, sizeof(err)),
			 CLI_NOMATCH);
	assert_int_equal(i, 0);
	i = 2; /* a prefix of a flag name is not that flag */
	assert_int_equal(cli_parse_machine(&c, (int)NELEMS(argv), argv, &i, err, sizeof(err)),
			 CLI_NOMATCH);
	assert_int_equal(i, 2);
	i = 4;
	assert_int_equal(cli_parse_machine(&c, (int)NELEMS(argv), argv, &i, err, sizeof(err)),
			 CLI_NOMATCH);
	assert_int_equal(cli_parse_wl(&p, (int)NELEMS(argv), argv, &i, err, sizeof(err)),
			 CLI_MATCHED);
	assert_int_equal(i, 5);
	assert_int_equal(p.seed, 9);
	assert_int_equal(cli_parse_wl(&p, (int)NELEMS(argv), argv, &i, err, sizeof(err)),
			 CLI_MATCHED);
	assert_int_equal(i, 7);
	assert_int_equal(p.pages, 12);
}

static void test_take_value(void **state)
{
	char err[256];
	const char *v = NULL;
	char *argv[] = {"-j4", "-j", "3", "--csv", "-", "--out=dir", "--outer", "x"};
	int i = 0;

	(void)state;
	assert_int_equal(cli_take_value("-j", 8, argv, &i, &v, err, sizeof(err)), CLI_MATCHED);
	assert_string_equal(v, "4");
	assert_int_equal(i, 1);
	assert_int_equal(cli_take_value("-j", 8, argv, &i, &v, err, sizeof(err)), CLI_MATCHED);
	assert_string_equal(v, "3");
	assert_int_equal(i, 3);
	assert_int_equal(cli_take_value("--csv", 8, argv, &i, &v, err, sizeof(err)), CLI_MATCHED);
	assert_string_equal(v, "-");
	assert_int_equal(i, 5);
	assert_int_equal(cli_take_value("--out", 8, argv, &i, &v, err, sizeof(err)), CLI_MATCHED);
	assert_string_equal(v, "dir");
	assert_int_equal(cli_take_value("--out", 8, argv, &i, &v, err, sizeof(err)), CLI_NOMATCH);
	assert_int_equal(i, 6);
}

static void test_cli_set(void **state)
{
	struct vm_config c;
	struct wl_params p = {0};
	char err[256];

	(void)state;
	config_defaults(&c);
	assert_int_equal(cli_set(&c, &p, "host-page", "2m", err, sizeof(err)), 0);
	assert_int_equal(c.host_page, PG_2M);
	assert_int_equal(cli_set(&c, &p, "--vpid", "off", err, sizeof(err)), 0);
	assert_false(c.vpid);
	assert_int_equal(cli_set(&c, &p, "pages", "4096", err, sizeof(err)), 0);
	assert_int_equal(p.pages, 4096);
	assert_int_equal(cli_set(&c, &p, "audit", "on", err, sizeof(err)), 0);
	assert_true(c.audit);
	assert_int_equal(cli_set(&c, &p, "levels", "6", err, sizeof(err)), -1);
	assert_string_equal(err, "--levels: expected 4 or 5, got '6'");
	assert_int_equal(cli_set(&c, &p, "warp-drive", "on", err, sizeof(err)), -1);
	assert_string_equal(err, "unknown parameter 'warp-drive'");
}

static void test_help_shows_defaults(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	static const char *const flags[] = {
	    "--guest-mem SIZE",
	    "--host-mem SIZE",
	    "--levels 4|5",
	    "--guest-page 4k|2m",
	    "--host-page 4k|2m|1g",
	    "--direct-map 2m|1g",
	    "--walk-caches on|off",
	    "--vpid on|off",
	    "--vmcs-shadow on|off",
	    "--pcid on|off",
	    "--wp on|off",
	    "--smep on|off",
	    "--smap on|off",
	    "--nxe on|off",
	    "--tlb L1:L2",
	    "--tlb-large SETSxWAYS",
	    "--itlb SETSxWAYS",
	    "--invlpg-threshold N",
	    "--numa local|interleave|node:N",
	    "--shadow-sync eager|unsync",
	    "--shadow-roots N",
	    "--shadow-cap N",
	    "--prefetch on|off",
	    "--flood-threshold N",
	    "--ept-ad on|off",
	    "--pwc on|off",
	    "--ntlb on|off",
	    "--audit",
	    "--seed N",
	    "--pages N",
	    "--ops N",
	    "--procs N",
	    "--switch-every N",
	};

	(void)state;
	assert_non_null(f);
	cli_help_wl(f);
	cli_help_machine(f);
	fclose(f);
	for (size_t k = 0; k < NELEMS(flags); k++)
		assert_non_null(strstr(buf, flags[k]));
	/* Defaults come from config_defaults(). */
	assert_non_null(strstr(buf, "(default: 1G)"));
	assert_non_null(strstr(buf, "(default: 16x4:128x12)"));
	assert_non_null(strstr(buf, "(default: 32:4:2:2)"));
	assert_non_null(strstr(buf, "(default: derived from --guest-mem)"));
	free(buf);
}

/* ---- CSV ---- */

static const char *const required[] = {
    "workload",		 "mode",	 "seed",	 "accesses",	"tlb_hits",
    "tlb_misses",	 "walks",	 "walk_refs",	 "walks_user",	"walk_refs_user",
    "fault_walk_refs",	 "guest_faults", "vm_exits",	 "tlb_flushes", "est_cycles",
    "cycles_per_access", "checksum",	 "guest_digest", "wall_s",	"sim_accesses_per_s",
};

#define MAX_COLS 512

static void test_csv_required_columns_first(void **state)
{
	const char *names[MAX_COLS];
	size_t n = csv_columns(names, MAX_COLS);

	(void)state;
	assert_true(n <= MAX_COLS);
	assert_true(n > NELEMS(required));
	for (size_t k = 0; k < NELEMS(required); k++)
		assert_string_equal(names[k], required[k]);
}

static void test_csv_every_counter_once(void **state)
{
	const char *names[MAX_COLS];
	size_t n = csv_columns(names, MAX_COLS);

	(void)state;
#define X(name, desc)                                                              \
	do {                                                                       \
		size_t seen = 0;                                                   \
		for (size_t k = 0; k < n; k++)                                     \
			seen += strcmp(names[k], #name) == 0;                      \
		if (seen != 1)                                                     \
			fail_msg("counter %s is a column %zu times", #name, seen); \
	} while (0);
	STATS_COUNTERS(X)
#undef X
	/* No column twice, and every name is a plain identifier. */
	for (size_t a = 0; a < n; a++) {
		for (const char *p = names[a]; *p; p++)
			assert_true((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
				    *p == '_');
		for (size_t b = a + 1; b < n; b++)
			if (strcmp(names[a], names[b]) == 0)
				fail_msg("column %s appears twice", names[a]);
	}
}

static size_t count_fields(const char *line)
{
	size_t n = 1;

	for (const char *p = line; *p && *p != '\n'; p++)
		n += *p == ',';
	return n;
}

static void test_csv_header_and_row(void **state)
{
	const char *names[MAX_COLS];
	size_t n = csv_columns(names, MAX_COLS);
	struct vm_config c;
	struct run_result r;
	char *buf = NULL, *expect, *row, *hex;
	size_t len = 0, off = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	config_defaults(&c);
	c.mode = "native";
	memset(&r, 0, sizeof(r));
	r.ok = true;
	r.params = (struct wl_params){.seed = 7, .pages = 512, .ops = 64};
	r.st.accesses = 1000;
	r.st.cyc_access = 3000;
	r.st.cyc_walk = 1000;
	r.checksum = 0xabc;
	r.guest_digest = UINT64_C(0x5a5a5a5a5a5a5a5a);
	r.wall_s = 0.5;  /* the whole run */
	r.sim_s = 0.25;  /* the workload: the simulation rate divides by it */
	r.rss_bytes = 12345678;
	r.whole = r.st; /* a run measured whole */
	assert_int_equal(csv_write_header(f), 0);
	assert_int_equal(csv_write_row(f, "faults", &c, &r), 0);
	fclose(f);

	/* The header is the column list joined by commas. */
	expect = calloc(1, 64 * MAX_COLS);
	if (expect == NULL) {
		fail_msg("out of memory");
		return;
	}
	for (size_t k = 0; k < n; k++)
		off += (size_t)snprintf(expect + off, 64 * MAX_COLS - off, "%s%s", k ? "," : "",
					names[k]);
	expect[off++] = '\n';
	assert_memory_equal(buf, expect, off);

	row = buf + off;
	assert_int_equal(count_fields(row), n);
	assert_null(strchr(buf, '"'));
	assert_null(strchr(buf, ' '));
	assert_int_equal(strncmp(row, "faults,native,7,1000,", 21), 0);
	/* est_cycles is the sum of the cost parts; 4 cycles per access. */
	assert_non_null(
	    strstr(row, ",4000,4.0000,0x0000000000000abc,0x5a5a5a5a5a5a5a5a,0.500000,4000,"));
	/* It says the counters are the whole run's, and gives the whole run
	 * beside them; the simulator's own measurements close the row. */
	assert_non_null(strstr(row, ",whole,1000,4000,4.0000,0.250000,12345678\n"));
	assert_string_equal(names[n - 2], "sim_s");
	assert_string_equal(names[n - 1], "rss_bytes");
	hex = strstr(row, "0x");
	assert_non_null(hex);
	free(expect);
	free(buf);
}

static void test_docs_describe_every_column(void **state)
{
	const char *names[MAX_COLS];
	size_t n = csv_columns(names, MAX_COLS);
	char *doc = read_file("docs/csv.md");
	char pat[128];

	(void)state;
	if (doc == NULL)
		fail_msg("cannot read docs/csv.md (run the tests from the repository root): %s",
			 strerror(errno));
	for (size_t k = 0; k < n; k++) {
		snprintf(pat, sizeof(pat), "| `%s` |", names[k]);
		if (strstr(doc, pat) == NULL)
			fail_msg("docs/csv.md does not document column %s (expected a row '%s')",
				 names[k], pat);
	}
	free(doc);
}

/* ---- atomic writes ---- */

static int fill_hello(FILE *f, void *ctx)
{
	(void)ctx;
	return fputs("a,b\n1,2\n", f) < 0 ? -1 : 0;
}

static int fill_fail(FILE *f, void *ctx)
{
	(void)ctx;
	fputs("partial", f);
	errno = ENOSPC;
	return -1;
}

/* Number of entries in dir other than . and .. */
static size_t dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static void test_atomic_write(void **state)
{
	char dir[] = "/tmp/vmmu-test-cli-XXXXXX";
	char path[256], bad[300], err[512];
	char *got;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/out.csv", dir);

	assert_int_equal(csv_write_atomic(path, fill_hello, NULL, err, sizeof(err)), 0);
	got = read_file(path);
	assert_non_null(got);
	assert_string_equal(got, "a,b\n1,2\n");
	free(got);
	assert_int_equal(dir_entries(dir), 1);

	/* A failed fill leaves the old file and no temporary file. */
	assert_int_equal(csv_write_atomic(path, fill_fail, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No space left on device"));
	assert_non_null(strstr(err, ".tmp."));
	got = read_file(path);
	assert_string_equal(got, "a,b\n1,2\n");
	free(got);
	assert_int_equal(dir_entries(dir), 1);

	/* A missing directory is an error that names the path. */
	snprintf(bad, sizeof(bad), "%s/no/such/dir/out.csv", dir);
	assert_int_equal(csv_write_atomic(bad, fill_hello, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no/such/dir"));

	unlink(path);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_size_parse),
	    cmocka_unit_test(test_u64_parse),
	    cmocka_unit_test(test_onoff_parse),
	    cmocka_unit_test(test_geom_parse),
	    cmocka_unit_test(test_page_parse),
	    cmocka_unit_test(test_machine_flags_set_fields),
	    cmocka_unit_test(test_machine_profile_order_independent),
	    cmocka_unit_test(test_machine_profile_errors),
	    cmocka_unit_test(test_machine_flags_reject_bad_values),
	    cmocka_unit_test(test_exact_messages),
	    cmocka_unit_test(test_nomatch_leaves_index),
	    cmocka_unit_test(test_take_value),
	    cmocka_unit_test(test_cli_set),
	    cmocka_unit_test(test_help_shows_defaults),
	    cmocka_unit_test(test_csv_required_columns_first),
	    cmocka_unit_test(test_csv_every_counter_once),
	    cmocka_unit_test(test_csv_header_and_row),
	    cmocka_unit_test(test_docs_describe_every_column),
	    cmocka_unit_test(test_atomic_write),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
