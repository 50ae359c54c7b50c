/*
 * csv.c - the CSV columns, generated from one function, and atomic writes.
 *
 * emit_columns() walks the columns in order and hands each one (name and
 * value) to a sink. The same walk writes the header (names), a row (values)
 * or a list of names (tests, docs checks), so the three can never disagree.
 * The counters after the parameters come from STATS_COUNTERS itself: a new
 * counter is a new column with no change here.
 *
 * Number formats: counters are unsigned decimal; checksum and guest_digest
 * are 0x-prefixed 16-digit hex; cycles_per_access has 4 decimals, wall_s
 * and sim_s 6, sim_accesses_per_s none; booleans are 1 or 0; page sizes are spelled as
 * the flags take them (4k, 2m, 1g).
 */
#include "csv.h"
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


/* ---- the counter table ---- */

#define X(n, d) {#n, d, offsetof(struct stats, n)},
const struct stat_field stat_fields[] = {STATS_COUNTERS(X)};
#undef X
const size_t stat_nfields = sizeof(stat_fields) / sizeof(stat_fields[0]);

/*
 * The counters among the required leading columns, in their order. The
 * order of the whole leading block is fixed by the project's CSV contract;
 * see emit_columns().
 */
#define CSV_LEAD_COUNTERS_A(X) \
	X(accesses)            \
	X(tlb_hits)            \
	X(tlb_misses)          \
	X(walks)               \
	X(walk_refs)           \
	X(walks_user)          \
	X(walk_refs_user)      \
	X(fault_walk_refs)     \
	X(guest_faults)        \
	X(vm_exits)            \
	X(tlb_flushes)

#define NAME(n) #n,
static const char *const lead_counters[] = {CSV_LEAD_COUNTERS_A(NAME)};
#undef NAME

static bool is_lead_counter(const char *name)
{
	for (size_t k = 0; k < sizeof(lead_counters) / sizeof(lead_counters[0]); k++)
		if (strcmp(lead_counters[k], name) == 0)
			return true;
	return false;
}

/* ---- sinks ---- */

enum sink_kind { SINK_HEADER, SINK_ROW, SINK_NAMES };

struct sink {
	enum sink_kind kind;
	FILE *f;
	const char **names; /* SINK_NAMES */
	size_t max;
	size_t n; /* columns so far */
};

static void col(struct sink *s, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void col(struct sink *s, const char *name, const char *fmt, ...)
{
	if (s->kind == SINK_NAMES) {
		if (s->n < s->max)
			s->names[s->n] = name;
		s->n++;
		return;
	}
	if (s->n++ > 0)
		fputc(',', s->f);
	if (s->kind == SINK_HEADER) {
		fputs(name, s->f);
		return;
	}

	char buf[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* No field may need quoting: replace what would. */
	for (char *p = buf; *p; p++)
		if (*p == ',' || *p == '"' || *p == '\n' || *p == '\r')
			*p = '_';
	fputs(buf, s->f);
}

static void col_u64(struct sink *s, const char *name, uint64_t v)
{
	col(s, name, "%" PRIu64, v);
}

static void col_hex(struct sink *s, const char *name, uint64_t v)
{
	col(s, name, "0x%016" PRIx64, v);
}

static void col_str(struct sink *s, const char *name, const char *v)
{
	col(s, name, "%s", v ? v : "");
}

static void col_bool(struct sink *s, const char *name, bool v)
{
	col(s, name, "%d", v ? 1 : 0);
}

/* ---- the columns ---- */

double csv_cycles_per_access(const struct run_result *r)
{
	return r->st.accesses ? (double)stats_est_cycles(&r->st) / (double)r->st.accesses : 0.0;
}

double csv_accesses_per_s(const struct run_result *r)
{
	return r->sim_s > 0 ? (double)r->whole.accesses / r->sim_s : 0.0;
}

static void emit_columns(struct sink *s, const char *workload, const struct vm_config *c,
			 const struct run_result *r)
{
	const struct stats *st = &r->st;
	const struct wl_params *p = &r->params;
	char numa[32];

	/* 1. Required leading columns, in this exact order. */
	col_str(s, "workload", workload);
	col_str(s, "mode", c->mode);
	col_u64(s, "seed", p->seed);
#define LEAD(n) col_u64(s, #n, st->n);
	CSV_LEAD_COUNTERS_A(LEAD)
#undef LEAD
	col_u64(s, "est_cycles", stats_est_cycles(st));
	col(s, "cycles_per_access", "%.4f", csv_cycles_per_access(r));
	col_hex(s, "checksum", r->checksum);
	col_hex(s, "guest_digest", r->guest_digest);
	col(s, "wall_s", "%.6f", r->wall_s);
	col(s, "sim_accesses_per_s", "%.0f", csv_accesses_per_s(r));

	/* 2. Parameters: workload, then machine. */
	col_u64(s, "pages", p->pages);
	col_u64(s, "ops", p->ops);
	col_u64(s, "procs", p->procs);
	col_u64(s, "switch_every", p->switch_every);
	col_u64(s, "guest_mem_bytes", c->guest_mem);
	col_u64(s, "host_mem_bytes", c->host_mem);
	col_u64(s, "levels", (uint64_t)c->levels);
	col_str(s, "guest_page", config_page_name(c->guest_page));
	col_str(s, "host_page", config_page_name(c->host_page));
	col_str(s, "direct_map_page", config_page_name(c->direct_map_page));
	col_bool(s, "walk_caches", c->walk_caches);
	col_bool(s, "vpid", c->vpid);
	col_bool(s, "vmcs_shadow", c->vmcs_shadow);
	col_bool(s, "pcid", c->pcid);
	col_u64(s, "invlpg_threshold_pages", c->invlpg_threshold);
	col_u64(s, "tlb_l1d_sets", c->l1d.sets);
	col_u64(s, "tlb_l1d_ways", c->l1d.ways);
	col_u64(s, "tlb_l1d_large_sets", c->l1d_large.sets);
	col_u64(s, "tlb_l1d_large_ways", c->l1d_large.ways);
	col_u64(s, "tlb_l1i_sets", c->l1i.sets);
	col_u64(s, "tlb_l1i_ways", c->l1i.ways);
	col_u64(s, "tlb_l2_sets", c->l2.sets);
	col_u64(s, "tlb_l2_ways", c->l2.ways);
	col_u64(s, "psc_pde_entries", c->psc_entries[LVL_PD]);
	col_u64(s, "psc_pdpte_entries", c->psc_entries[LVL_PDPT]);
	col_u64(s, "psc_pml4e_entries", c->psc_entries[LVL_PML4]);
	col_u64(s, "psc_pml5e_entries", c->psc_entries[LVL_PML5]);
	config_numa_name(c, numa, sizeof(numa));
	col_str(s, "numa", numa);
	col_str(s, "shadow_sync", config_sync_name(c->shadow_sync));
	col_u64(s, "shadow_roots", c->shadow_roots);
	col_u64(s, "shadow_cap_pages", c->shadow_cap);
	col_bool(s, "shadow_prefetch", c->shadow_prefetch);
	col_u64(s, "prefetch_num", c->prefetch_num);
	col_u64(s, "flood_threshold", c->flood_threshold);
	col_bool(s, "ept_ad", c->ept_ad);
	col_bool(s, "pwc", c->pwc);
	col_u64(s, "pwc_entries", c->pwc_entries);
	col_bool(s, "ntlb", c->ntlb);
	col_u64(s, "ntlb_entries", c->ntlb_entries);
	col_str(s, "machine", c->machine);
	col_bool(s, "cache_model", c->cache_model);
	col_bool(s, "audit", c->audit);
	col_u64(s, "ept_levels", (uint64_t)c->ept_levels);
	col_u64(s, "switch_interval", c->switch_interval);
	col_u64(s, "switch_ratio", c->switch_ratio);
	col_u64(s, "agile_writes", c->agile_writes);
	col_u64(s, "agile_interval", c->agile_interval);
	col_bool(s, "pv_batch", c->pv_batch);
	col_str(s, "pcid_policy", config_pcid_policy_name(c->pcid_policy));
	col_bool(s, "kpti", c->kpti);
	col_bool(s, "whole_run", c->whole_run);
	col_str(s, "viommu", config_viommu_name(c->viommu));
	col_bool(s, "iommu_share_ept", c->iommu_share_ept);
	col_u64(s, "iotlb_entries", c->iotlb_entries);
	col_u64(s, "vcpus", c->vcpus ? c->vcpus : 1);
	col_u64(s, "quantum", c->quantum);
	col_bool(s, "posted_ipi", c->posted_ipi);
	col_bool(s, "pv_tlb_flush", c->pv_tlb_flush);
	col_u64(s, "host_cpus", c->host_cpus);
	col_u64(s, "host_nodes", c->host_nodes ? c->host_nodes : 1);
	col_str(s, "pt_place", config_pt_place_name(c->pt_place));

	/* 3. Every other counter, in STATS_COUNTERS order. */
	for (size_t k = 0; k < stat_nfields; k++)
		if (!is_lead_counter(stat_fields[k].name))
			col_u64(s, stat_fields[k].name, stat_get(st, &stat_fields[k]));

	/* 4. What the counters cover, and the whole run beside the region. */
	col_str(s, "roi", r->region ? "region" : "whole");
	col_u64(s, "whole_accesses", r->whole.accesses);
	col_u64(s, "whole_est_cycles", stats_est_cycles(&r->whole));
	col(s, "whole_cycles_per_access", "%.4f",
	    r->whole.accesses ? (double)stats_est_cycles(&r->whole) / (double)r->whole.accesses
			      : 0.0);
	/* 5. Measurements of the simulator itself, appended last. */
	col(s, "sim_s", "%.6f", r->sim_s);
	col_u64(s, "rss_bytes", r->rss_bytes);
}

/* A row of zeros on the default machine: the walk needs values even when
 * only the names are wanted. */
static void emit_names(struct sink *s)
{
	static const struct run_result zero;
	struct vm_config c;

	config_defaults(&c);
	emit_columns(s, "", &c, &zero);
}

int csv_write_header(FILE *f)
{
	struct sink s = {.kind = SINK_HEADER, .f = f};

	emit_names(&s);
	fputc('\n', f);
	return ferror(f) ? -1 : 0;
}

int csv_write_row(FILE *f, const char *workload, const struct vm_config *cfg,
		  const struct run_result *r)
{
	struct sink s = {.kind = SINK_ROW, .f = f};

	emit_columns(&s, workload, cfg, r);
	fputc('\n', f);
	return ferror(f) ? -1 : 0;
}

size_t csv_columns(const char **names, size_t max)
{
	struct sink s = {.kind = SINK_NAMES, .names = names, .max = max};

	emit_names(&s);
	return s.n;
}

/* ---- atomic file output ---- */

void csv_dir_of(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		snprintf(dir, len, ".");
	else if (slash == path)
		snprintf(dir, len, "/");
	else
		snprintf(dir, len, "%.*s", (int)(slash - path), path);
}

/* Write fill()'s content in place to the open stream f (a descriptor or a
 * device), then flush it; closes f unless it is stdout or stderr. */
static int write_in_place(FILE *f, const char *what, csv_fill_fn fill, void *ctx, char *err,
			  size_t errlen)
{
	bool std = f == stdout || f == stderr;
	int rc = 0;

	errno = 0;
	if (fill(f, ctx) < 0 || fflush(f) != 0 || ferror(f))
		rc = -1;
	if (!std && fclose(f) != 0)
		rc = -1;
	if (rc < 0)
		snprintf(err, errlen, "cannot write to %s: %s", what,
			 strerror(errno ? errno : EIO));
	return rc;
}

int csv_write_atomic(const char *path, csv_fill_fn fill, void *ctx, char *err, size_t errlen)
{
	struct out_target t;
	char tmp[PATH_MAX + 32];
	const char *what = "write";
	FILE *f;
	int fd, e;

	if (out_resolve(path, &t, err, errlen) < 0)
		return -1;
	if (t.kind == OUT_FD) {
		if (t.fd == STDOUT_FILENO || t.fd == STDERR_FILENO)
			return write_in_place(t.fd == STDOUT_FILENO ? stdout : stderr,
					      t.fd == STDOUT_FILENO ? "stdout" : "stderr", fill,
					      ctx, err, errlen);
		fd = dup(t.fd);
		f = fd < 0 ? NULL : fdopen(fd, "w");
		if (f == NULL) {
			snprintf(err, errlen, "cannot write to '%s': %s", path, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		return write_in_place(f, path, fill, ctx, err, errlen);
	}
	if (t.kind == OUT_DEVICE) {
		/* Never created, truncated or replaced: written where it is. */
		fd = open(t.path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
		f = fd < 0 ? NULL : fdopen(fd, "w");
		if (f == NULL) {
			snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		return write_in_place(f, path, fill, ctx, err, errlen);
	}
	path = t.path;
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	(void)unlink(tmp); /* a leftover of a dead process with our pid */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create '%s': %s", tmp, strerror(errno));
		return -1;
	}
	f = fdopen(fd, "w");
	if (f == NULL) {
		e = errno;
		close(fd);
		goto fail_unlink;
	}
	errno = 0;
	if (fill(f, ctx) < 0 || fflush(f) != 0 || ferror(f)) {
		e = errno ? errno : EIO;
		fclose(f);
		goto fail_unlink;
	}
	if (fsync(fd) != 0) {
		e = errno;
		what = "fsync";
		fclose(f);
		goto fail_unlink;
	}
	if (fclose(f) != 0) {
		e = errno;
		goto fail_unlink;
	}
	if (rename(tmp, path) != 0) {
		e = errno;
		snprintf(err, errlen, "cannot rename '%s' to '%s': %s", tmp, path, strerror(e));
		unlink(tmp);
		return -1;
	}
	/* Make the rename itself durable. Best effort: some file systems refuse. */
	{
		char dir[PATH_MAX];
		int dfd;

		csv_dir_of(path, dir, sizeof(dir));
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			(void)fsync(dfd);
			close(dfd);
		}
	}
	return 0;

fail_unlink:
	snprintf(err, errlen, "cannot %s '%s': %s", what, tmp, strerror(e));
	unlink(tmp);
	return -1;
}

int csv_make_dirs(const char *path, char *err, size_t errlen)
{
	return out_make_dir(path, err, errlen);
}
