/*
 * cmd_explain.c - `vmmu explain`: flags and address checks, then the
 * explainer of src/teach/ (explain_guest_build, explain_access and the
 * printers). `explain --scenario` hands over to scenario_main().
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "registry.h"
#include "../core/pte.h"
#include "../report/output.h"
#include "../teach/explain.h"

/* ---- the command line ---- */

static void explain_help(FILE *f)
{
	fprintf(f,
		"usage: vmmu explain [--mode M] --gva ADDR [--brief|--json] [--svg FILE]\n"
		"                    [--html FILE] [FLAGS]\n"
		"       vmmu explain --dma IOVA [--mode M] [--viommu off|on|shadow] [FLAGS]\n"
		"       vmmu explain --scenario NAME [--mode M|all] [--compare] [-v] [FLAGS]\n\n"
		"Build a small guest with ADDR mapped, then load 8 bytes from ADDR (or store\n"
		"them, or fetch an instruction: --access) with the TLB flushed, and print\n"
		"every page-walk reference the real walkers make: the\n"
		"index bits taken from the address, the table and entry addresses (gPA or\n"
		"hPA), the raw entry and its decoded bits, where the reference was served and\n"
		"its cycles; then the final translation gVA -> gPA -> hPA.\n\n"
		"  --mode M             an MMU mode of `vmmu list modes` (default: native);\n"
		"                       with --scenario, 'all' narrates every mode\n"
		"  --gva ADDR           the guest virtual address (hex with 0x, or decimal;\n"
		"                       required without --scenario)\n"
		"  --brief              each walk as a compact grid instead: one cell per\n"
		"                       reference, numbered, with where it was served\n"
		"  --json               print a JSON array: one object per reference, then\n"
		"                       the translation (see docs/explain.md)\n"
		"  --svg FILE           also draw the walk (the 2D grid for nested) as SVG\n"
		"  --html FILE          also write one self-contained page that steps through\n"
		"                       the references (Next, Back, arrow keys)\n"
		"  --access read|write|fetch\n"
		"                       the access explained (default: read); a store sets\n"
		"                       the D bits (and shows shadow paging's dirty-bit\n"
		"                       exit); fetch maps the pages executable\n"
		"  --map A,B,...        map these pages instead of ADDR's (ADDR may then be\n"
		"                       unmapped: the explanation ends at its fault)\n"
		"  --warm on|off        warm the walk caches with a load of the neighbouring\n"
		"                       page first (default: on when --walk-caches is on)\n"
		"  --first-touch on|off a user load of each mapped page before the explained\n"
		"                       one (default off: the guest kernel populates the pages,\n"
		"                       so shadow paging shows its hidden fault)\n"
		"  --dma IOVA           explain a DMA translation by the IOMMU instead: the\n"
		"                       device reads bus address IOVA (a gPA without\n"
		"                       --viommu; with it, 0x80000000 is the ring the guest\n"
		"                       mapped), one stage or two (docs/iommu.md)\n"
		"  --scenario NAME      narrate a scenario instead (`--scenario list`); its\n"
		"                       guest memory defaults to 64M (1G otherwise)\n"
		"  --compare            with --scenario: every mode side by side, the table\n"
		"                       alone\n"
		"  -v, --verbose        with --scenario: one line per walk reference\n"
		"  -h, --help           this help\n\n");
	cli_help_machine(f);
}

/* Parse "A,B,C" into map[]; returns the count or -1 with err set. */
static int xp_parse_list(const char *s, uint64_t *map, size_t max, char *err, size_t errlen)
{
	char buf[1024];
	size_t n = 0;
	if (strlen(s) >= sizeof(buf)) {
		snprintf(err, errlen, "--map: list too long");
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", s);
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char e[160];
		if (n == max) {
			snprintf(err, errlen, "--map: at most %zu addresses", max);
			return -1;
		}
		if (cli_parse_u64(tok, &map[n], e, sizeof(e)) != 0) {
			snprintf(err, errlen, "--map: %s", e);
			return -1;
		}
		n++;
	}
	if (n == 0) {
		snprintf(err, errlen,
			 "--map: expected a comma-separated list of addresses, got '%s'", s);
		return -1;
	}
	return (int)n;
}

/* Check a guest virtual address given on the command line. */
static int xp_check_gva(const char *flag, uint64_t va, int levels, bool must_be_user, char *err,
			size_t errlen)
{
	if (!va_canonical(va, levels)) {
		snprintf(err, errlen,
			 "%s: 0x%" PRIx64 " is not canonical with %d-level paging (bits 63:%d must "
			 "all equal bit %d)",
			 flag, va, levels, levels == 5 ? 57 : 48, levels == 5 ? 56 : 47);
		return -1;
	}
	if (must_be_user && (!xp_user_half(va, levels) || va < PAGE_SIZE)) {
		snprintf(err, errlen,
			 "%s: 0x%" PRIx64 " is not in the user half (0x1000 .. 0x%" PRIx64 ")",
			 flag, va, (UINT64_C(1) << (levels == 5 ? 56 : 47)) - 1);
		return -1;
	}
	return 0;
}

int explain_main(int argc, char **argv)
{
	struct vm_config cfg;
	const char *mode = "native", *gva_s = NULL, *svg = NULL, *map_s = NULL;
	const char *warm_s = NULL, *touch_s = NULL, *html = NULL, *dma_s = NULL;
	const char *access_s = NULL;
	bool json = false, brief = false;
	char err[512];

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--scenario") == 0 || strncmp(argv[i], "--scenario=", 11) == 0)
			return scenario_main(argc, argv);

	config_defaults(&cfg);
	for (int i = 1; i < argc;) {
		const char *a = argv[i];
		int rc;
		if (cli_is_help(a)) {
			explain_help(stdout);
			return CLI_EXIT_OK;
		}
		if (strcmp(a, "--json") == 0 || strcmp(a, "--brief") == 0) {
			if (a[2] == 'j')
				json = true;
			else
				brief = true;
			i++;
			continue;
		}
		rc = cli_parse_machine(&cfg, argc, argv, &i, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--mode", argc, argv, &i, &mode, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--gva", argc, argv, &i, &gva_s, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--svg", argc, argv, &i, &svg, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--dma", argc, argv, &i, &dma_s, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--html", argc, argv, &i, &html, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--map", argc, argv, &i, &map_s, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--warm", argc, argv, &i, &warm_s, err, sizeof(err));
		if (rc == CLI_NOMATCH)
			rc = cli_take_value("--first-touch", argc, argv, &i, &touch_s, err,
					    sizeof(err));
		if (rc == CLI_NOMATCH)
			rc =
			    cli_take_value("--access", argc, argv, &i, &access_s, err, sizeof(err));
		if (rc != CLI_MATCHED)
			return cli_reject_arg("explain", rc, a, err);
	}
	const struct mmu_ops *m = mmu_find(mode);
	if (!m) {
		cli_error("--mode: unknown mode '%s' (see `vmmu list modes`)", mode);
		return CLI_EXIT_USAGE;
	}
	cfg.mode = m->name;
	if (dma_s) {
		uint64_t iova;
		if (gva_s || json || brief || svg || html || map_s || access_s) {
			cli_error("--dma: not with --gva, --json, --brief, --svg, --html, --map or "
				  "--access");
			return CLI_EXIT_USAGE;
		}
		if (cli_parse_u64(dma_s, &iova, err, sizeof(err)) != 0) {
			cli_error("--dma: %s", err);
			return CLI_EXIT_USAGE;
		}
		if (explain_dma(stdout, &cfg, iova, err, sizeof(err)) != 0) {
			cli_error("explain --dma: %s", err);
			return CLI_EXIT_USAGE;
		}
		return CLI_EXIT_OK;
	}
	if (json && brief) {
		cli_error("--brief: cannot be combined with --json (choose one form)");
		return CLI_EXIT_USAGE;
	}
	if (!gva_s) {
		cli_error("explain: --gva is required (e.g. --gva 0x7f0000001000)");
		return CLI_EXIT_USAGE;
	}
	uint64_t gva;
	if (cli_parse_u64(gva_s, &gva, err, sizeof(err)) != 0) {
		cli_error("--gva: %s", err);
		return CLI_EXIT_USAGE;
	}
	if (xp_check_gva("--gva", gva, cfg.levels, false, err, sizeof(err)) != 0) {
		cli_error("%s", err);
		return CLI_EXIT_USAGE;
	}
	bool warm = cfg.walk_caches && !map_s, touch = false;
	if (warm_s && cli_parse_onoff(warm_s, &warm, err, sizeof(err)) != 0) {
		cli_error("--warm: %s", err);
		return CLI_EXIT_USAGE;
	}
	if (touch_s && cli_parse_onoff(touch_s, &touch, err, sizeof(err)) != 0) {
		cli_error("--first-touch: %s", err);
		return CLI_EXIT_USAGE;
	}
	enum access_kind access = ACC_READ;
	if (access_s) {
		if (strcmp(access_s, "read") == 0)
			access = ACC_READ;
		else if (strcmp(access_s, "write") == 0)
			access = ACC_WRITE;
		else if (strcmp(access_s, "fetch") == 0)
			access = ACC_FETCH;
		else {
			cli_error("--access: expected read, write or fetch, got '%s'", access_s);
			return CLI_EXIT_USAGE;
		}
	}

	uint64_t map[XP_MAX_MAP + 1];
	size_t nmap = 0;
	const uint64_t ps = page_bytes(cfg.guest_page);
	const uint64_t warm_gva = gva ^ ps; /* the neighbouring page, same table */
	if (map_s) {
		int n = xp_parse_list(map_s, map, XP_MAX_MAP, err, sizeof(err));
		if (n < 0) {
			cli_error("%s", err);
			return CLI_EXIT_USAGE;
		}
		nmap = (size_t)n;
		for (size_t k = 0; k < nmap; k++)
			if (xp_check_gva("--map", map[k], cfg.levels, true, err, sizeof(err)) !=
			    0) {
				cli_error("%s", err);
				return CLI_EXIT_USAGE;
			}
		/* --warm on with --map: the neighbour must be mapped to be loaded. */
		if (warm && xp_user_half(warm_gva, cfg.levels) && warm_gva >= PAGE_SIZE)
			map[nmap++] = warm_gva;
	} else if (xp_user_half(gva, cfg.levels)) {
		if (gva < PAGE_SIZE) {
			cli_error("--gva: 0x%" PRIx64 " is in page 0, which the guest never maps",
				  gva);
			return CLI_EXIT_USAGE;
		}
		if (warm && xp_user_half(warm_gva, cfg.levels) && warm_gva >= PAGE_SIZE)
			map[nmap++] = warm_gva;
		map[nmap++] = gva;
	}
	if (svg) {
		struct out_target ot;
		if (out_resolve(svg, &ot, err, sizeof(err)) < 0) {
			cli_error("--svg: %s", err);
			return CLI_EXIT_USAGE;
		}
	}
	if (html) {
		struct out_target ot;
		if (out_resolve(html, &ot, err, sizeof(err)) < 0) {
			cli_error("--html: %s", err);
			return CLI_EXIT_USAGE;
		}
	}

	struct xp_opts o = {.map = map,
			    .nmap = nmap,
			    .first_touch = touch,
			    .warm = warm,
			    .warm_gva = warm_gva,
			    .access = access};
	struct vm *vm = explain_guest_build(&cfg, &o, err, sizeof(err));
	if (!vm) {
		cli_error("explain: %s", err);
		return CLI_EXIT_USAGE;
	}
	struct xp_trace t;
	if (explain_access(vm, gva, &o, &t) != 0) {
		vm_destroy(vm);
		cli_error("explain: out of memory");
		return CLI_EXIT_FAIL;
	}
	vm_destroy(vm);
	if (t.warm_failed) {
		cli_error("explain: the warm-up load of the neighbouring page 0x%" PRIx64
			  " failed (use --warm off): %s",
			  warm_gva, t.error);
		xp_trace_free(&t);
		return CLI_EXIT_FAIL;
	}
	if (json)
		xp_print_json(stdout, &t);
	else if (brief)
		xp_print_brief(stdout, &t);
	else
		xp_print_text(stdout, &t);
	int rc = CLI_EXIT_OK;
	if (svg && xp_write_svg(svg, &t, err, sizeof(err)) != 0) {
		cli_error("--svg: %s", err);
		rc = CLI_EXIT_FAIL;
	}
	if (html && xp_write_html(html, &t, err, sizeof(err)) != 0) {
		cli_error("--html: %s", err);
		rc = CLI_EXIT_FAIL;
	}
	xp_trace_free(&t);
	return rc;
}
