/*
 * kv.c - a memcached-like key-value store: a chained hash table of items,
 * read and written with Zipf-distributed keys.
 *
 * Regime: TLB-heavy with stable page tables, with skew. The hot keys are few
 * and their pages stay in the TLB; the long tail misses. A get is two
 * dependent random accesses at least (the bucket, then the item), as in
 * memcached, whose buckets point to items kept in separate slabs.
 *
 * Guest layout (two mappings):
 *   buckets  B words, B = the power of two >= items; 0 = empty chain
 *   items    one 64-byte item per line: key, value, next, 5 unused words
 * Items are placed in a random order, so hot keys are scattered.
 *
 *   populate  insert every key (item + bucket head): ~4 accesses per key
 *   ops       90% get: walk the chain, load and check the value;
 *             10% set: walk the chain, store a new value
 *   check     get every key once
 * Region of interest: the ops loop (the lookups), not the load or the check,
 * as YCSB reports its run phase apart from its load phase.
 * Keys follow Zipf(0.99) over the ranks (the YCSB default); the key of rank
 * r is a hash of r, never 0. Every value read is checked against the host
 * model and folded.
 *
 * Parameters: pages = item pages (default 2048, 8 MiB, 131072 keys; the
 * buckets add pages / 8); ops = operations (default 524288).
 */
#include <math.h>

#include "workload.h"

#define ITEM_BYTES 64
#define ITEMS_PER_PAGE (PAGE_SIZE / ITEM_BYTES)
#define KV_KEY 0
#define KV_VALUE 8
#define KV_NEXT 16
#define ZIPF_THETA 0.99
#define KV_SET_PERCENT 10

struct kv {
	gva_t buckets, items;
	uint64_t nbuckets, nkeys, salt;
	double *cdf;	 /* host: cumulative Zipf probabilities by rank */
	uint64_t *value; /* host: current value of each rank */
};

static uint64_t kv_key(const struct kv *kv, uint64_t rank)
{
	return wl_mix(kv->salt, rank) | 1;
}

static gva_t kv_bucket(const struct kv *kv, uint64_t key)
{
	return kv->buckets + ((key >> 7) & (kv->nbuckets - 1)) * 8;
}

/* Rank drawn from Zipf(theta): the first rank whose CDF exceeds u. */
static uint64_t kv_zipf(struct wl_ctx *c, const struct kv *kv)
{
	double u = (double)(wl_rand(c) >> 11) * 0x1p-53;
	uint64_t lo = 0, hi = kv->nkeys - 1;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (kv->cdf[mid] > u)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* The item of key, walking its chain; vm_abort()s when it is missing. */
static gva_t kv_find(struct wl_ctx *c, const struct kv *kv, uint64_t key)
{
	gva_t it = wl_load_fold(c, kv_bucket(kv, key));
	while (it != 0) {
		if (wl_load_fold(c, it + KV_KEY) == key)
			return it;
		it = wl_load_fold(c, it + KV_NEXT);
	}
	vm_abort(c->vm, "kv: key 0x%016" PRIx64 " is missing from its chain", key);
}

/* Map the table and insert every key (the load phase). */
static void kv_setup(struct wl_ctx *c, struct kv *kv)
{
	*kv = (struct kv){.nkeys = c->p.pages * ITEMS_PER_PAGE, .salt = wl_rand(c)};
	kv->nbuckets = 1;
	while (kv->nbuckets < kv->nkeys)
		kv->nbuckets <<= 1;
	kv->buckets = wl_map_data(c, (kv->nbuckets * 8 + PAGE_SIZE - 1) / PAGE_SIZE);
	kv->items = wl_map_data(c, c->p.pages);

	kv->cdf = wl_host_alloc(c, kv->nkeys, sizeof(*kv->cdf));
	double sum = 0;
	for (uint64_t r = 0; r < kv->nkeys; r++)
		kv->cdf[r] = (sum += 1.0 / pow((double)(r + 1), ZIPF_THETA));
	for (uint64_t r = 0; r < kv->nkeys; r++)
		kv->cdf[r] /= sum;
	kv->cdf[kv->nkeys - 1] = 1.0;
	kv->value = wl_host_alloc(c, kv->nkeys, sizeof(*kv->value));

	/* Populate: rank order[i] goes to item slot i, in a random order. */
	uint64_t *order = wl_host_alloc(c, kv->nkeys, sizeof(*order));
	for (uint64_t i = 0; i < kv->nkeys; i++)
		order[i] = i;
	for (uint64_t i = kv->nkeys - 1; i > 0; i--) {
		uint64_t j = wl_rand_below(c, i + 1), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (uint64_t i = 0; i < kv->nkeys; i++) {
		uint64_t rank = order[i], key = kv_key(kv, rank);
		gva_t it = kv->items + i * ITEM_BYTES, b = kv_bucket(kv, key);
		kv->value[rank] = wl_mix(key, 0);
		wl_store(c, it + KV_KEY, key);
		wl_store(c, it + KV_VALUE, kv->value[rank]);
		wl_store(c, it + KV_NEXT, wl_load_fold(c, b));
		wl_store(c, b, it);
	}
	wl_host_free(c, order);
}

/* Operation number op: a get (checked) or a set, of a Zipf-drawn key. */
static void kv_op(struct wl_ctx *c, struct kv *kv, uint64_t op)
{
	uint64_t rank = kv_zipf(c, kv), key = kv_key(kv, rank);
	bool set = wl_rand_below(c, 100) < KV_SET_PERCENT;
	gva_t it = kv_find(c, kv, key);
	if (set) {
		kv->value[rank] = wl_mix(key, op + 1);
		wl_store(c, it + KV_VALUE, kv->value[rank]);
	} else {
		wl_expect(c, it + KV_VALUE, kv->value[rank], "kv: get");
	}
}

/* Get every key once, then free the host model. */
static void kv_final(struct wl_ctx *c, struct kv *kv)
{
	for (uint64_t rank = 0; rank < kv->nkeys; rank++) {
		uint64_t key = kv_key(kv, rank);
		wl_expect(c, kv_find(c, kv, key) + KV_VALUE, kv->value[rank], "kv: final get");
	}
	wl_host_free(c, kv->value);
	wl_host_free(c, kv->cdf);
}

static void kv_run(struct wl_ctx *c)
{
	wl_begin(c);
	wl_proc_create(c);
	struct kv kv;
	kv_setup(c, &kv);
	wl_roi_begin(c);
	for (uint64_t op = 0; op < c->p.ops; op++)
		kv_op(c, &kv, op);
	wl_roi_end(c);
	kv_final(c, &kv);
}

/*
 * kv-mt: the same store with lookups from every vCPU. The load phase and
 * the final check run on vCPU 0; the ops are split over one thread per
 * vCPU (thread k of n: ops / n, the first ops mod n one more), each
 * drawing keys from its own generator seeded by (seed, k); op numbers are
 * handed out in execution order, so a set's value is the same under every
 * mode. The threads interleave in round robin (wl_threads_run()).
 * Default ops: 131072, a quarter of kv's, to keep default-size runs short.
 */
struct kv_mt {
	struct kv kv;
	uint64_t next_op;
	uint64_t left[VMMU_MAX_VCPUS];
	uint64_t rng[VMMU_MAX_VCPUS];
};

static bool kv_mt_step(struct wl_ctx *c, unsigned t, void *arg)
{
	struct kv_mt *m = arg;
	if (m->left[t] == 0)
		return false;
	m->left[t]--;
	uint64_t keep = c->rng;
	c->rng = m->rng[t];
	kv_op(c, &m->kv, m->next_op++);
	m->rng[t] = c->rng;
	c->rng = keep;
	return true;
}

static void kv_mt_run(struct wl_ctx *c)
{
	wl_begin(c);
	wl_proc_create(c);
	struct kv_mt m = {0};
	kv_setup(c, &m.kv);
	unsigned n = wl_nthreads(c);
	for (unsigned t = 0; t < n; t++) {
		m.left[t] = c->p.ops / n + (t < c->p.ops % n);
		m.rng[t] = wl_mix(c->p.seed, UINT64_C(0x6b76) + t);
	}
	wl_roi_begin(c);
	wl_threads_run(c, n, kv_mt_step, &m);
	wl_roi_end(c);
	kv_final(c, &m.kv);
}

const struct workload workload_kv_mt = {
    .name = "kv-mt",
    .desc = "kv with lookups from one thread per vCPU over one shared table",
    .roi = "the lookups",
    .def_pages = 2048,
    .def_ops = 131072,
    .run = kv_mt_run,
};

const struct workload workload_kv = {
    .name = "kv",
    .desc = "memcached-like hash table, Zipf(0.99) gets and sets (TLB-heavy, skewed)",
    .roi = "the lookups",
    .def_pages = 2048,
    .def_ops = 524288,
    .run = kv_run,
};
