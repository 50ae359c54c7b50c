/*
 * json_out.c - JSON output of run, compare and list (see json_out.h).
 */
#include "json_out.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "jobs.h"
#include "../core/machine.h"
#include "../report/csv.h"
#include "registry.h"

#define JSON_OUT_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))

/* ---- private helpers ---- */

static bool all_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t k = 0; k < n; k++)
		if (!isdigit((unsigned char)s[k]))
			return false;
	return true;
}

/* A decimal fraction: digits, one '.', digits, an optional exponent. */
static bool is_decimal(const char *s, size_t n)
{
	size_t k = 0, a, b;

	if (k < n && s[k] == '-')
		k++;
	a = k;
	while (k < n && isdigit((unsigned char)s[k]))
		k++;
	if (k == a || k == n || s[k] != '.')
		return false;
	b = ++k;
	while (k < n && isdigit((unsigned char)s[k]))
		k++;
	if (k == b)
		return false;
	if (k < n && (s[k] == 'e' || s[k] == 'E')) {
		k++;
		if (k < n && (s[k] == '-' || s[k] == '+'))
			k++;
		b = k;
		while (k < n && isdigit((unsigned char)s[k]))
			k++;
		if (k == b)
			return false;
	}
	return k == n;
}

static json_t *json_value(const char *s, size_t n)
{
	char buf[64];

	if (n < sizeof(buf) && all_digits(s, n)) {
		unsigned long long v;
		memcpy(buf, s, n);
		buf[n] = '\0';
		errno = 0;
		v = strtoull(buf, NULL, 10);
		if (errno == 0 && v <= (unsigned long long)LLONG_MAX)
			return json_integer((json_int_t)v);
	}
	if (n < sizeof(buf) && is_decimal(s, n)) {
		double d;
		memcpy(buf, s, n);
		buf[n] = '\0';
		d = strtod(buf, NULL);
		return isfinite(d) ? json_real(d) : json_null();
	}
	if ((n == 3 && (strncmp(s, "nan", 3) == 0 || strncmp(s, "inf", 3) == 0)) ||
	    (n == 4 && strncmp(s, "-inf", 4) == 0))
		return json_null();
	return json_stringn(s, n);
}

/* The object of a CSV header and row (both without their newline). */
static json_t *json_of_row(const char *hdr, const char *row)
{
	json_t *o = json_object();

	while (o != NULL && *hdr) {
		size_t hn = strcspn(hdr, ","), rn = strcspn(row, ",");
		char key[128];
		json_t *v;
		snprintf(key, sizeof(key), "%.*s", (int)(hn < 127 ? hn : 127), hdr);
		v = json_value(row, rn);
		if (v == NULL || json_object_set_new(o, key, v) < 0) {
			json_decref(o);
			return NULL;
		}
		hdr += hn + (hdr[hn] == ',');
		row += rn + (row[rn] == ',');
	}
	return o;
}

static int dump(FILE *f, json_t *v, int nl)
{
	int rc = v != NULL ? json_dumpf(v, f, JSON_OUT_FLAGS) : -1;

	json_decref(v);
	if (rc == 0 && nl)
		fputc('\n', f);
	return rc == 0 && !ferror(f) ? 0 : -1;
}

/* ---- API ---- */

int json_out_run(FILE *f, const char *workload, const struct vm_config *cfg,
		 const struct run_result *r, int nl)
{
	char *text = NULL, *row;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	int rc;

	if (m == NULL)
		return -1;
	if (csv_write_header(m) < 0 || csv_write_row(m, workload, cfg, r) < 0) {
		fclose(m);
		free(text);
		return -1;
	}
	if (fclose(m) != 0) {
		free(text);
		return -1;
	}
	row = strchr(text, '\n');
	if (row == NULL) {
		free(text);
		return -1;
	}
	*row++ = '\0';
	row[strcspn(row, "\n")] = '\0';
	rc = dump(f, json_of_row(text, row), nl);
	free(text);
	return rc;
}

static json_t *list_modes(void)
{
	json_t *a = json_array();
	struct vm_config def;
	char err[256];

	config_defaults(&def);
	for (size_t k = 0; a != NULL && mmu_modes[k] != NULL; k++) {
		const struct mmu_ops *m = mmu_modes[k];
		bool ok = jobs_mode_can_run(&def, m, err, sizeof(err));
		json_t *o = json_pack("{s:s, s:b, s:s}", "name", m->name, "available", ok,
				      ok ? "description" : "unavailable",
				      ok ? (m->desc ? m->desc : "") : err);
		if (o == NULL || json_array_append_new(a, o) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *list_workloads(void)
{
	json_t *a = json_array();

	for (size_t k = 0; a != NULL && workloads[k] != NULL; k++) {
		const struct workload *w = workloads[k];
		json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:s}", "name", w->name, "pages",
				      (json_int_t)w->def_pages, "ops", (json_int_t)w->def_ops,
				      "procs", (json_int_t)w->def_procs, "switch_every",
				      (json_int_t)w->def_switch_every, "description",
				      w->desc ? w->desc : "");
		if (o == NULL || json_array_append_new(a, o) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *list_machines(void)
{
	size_t n, nf;
	const struct machine_profile *m = machine_profiles(&n);
	const struct cost_field *f = cost_fields(&nf);
	json_t *a = json_array();

	for (size_t k = 0; a != NULL && k < n; k++) {
		json_t *cost = json_object();
		json_t *o;
		for (size_t j = 0; cost != NULL && j < nf; j++)
			json_object_set_new(
			    cost, f[j].name,
			    json_integer(
				*(const uint32_t *)(const void *)((const char *)&m[k].cost +
								  f[j].off)));
		o = json_pack("{s:s, s:s, s:b, s:o}", "name", m[k].name, "summary", m[k].summary,
			      "default", k == 0, "cost", cost);
		if (o == NULL || json_array_append_new(a, o) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

int json_out_list(const char *what)
{
	json_t *v;

	if (what != NULL && strcmp(what, "modes") == 0)
		v = list_modes();
	else if (what != NULL && strcmp(what, "workloads") == 0)
		v = list_workloads();
	else if (what != NULL)
		v = list_machines();
	else
		v = json_pack("{s:o, s:o, s:o}", "modes", list_modes(), "workloads",
			      list_workloads(), "machines", list_machines());
	return dump(stdout, v, 1);
}
