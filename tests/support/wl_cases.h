/*
 * wl_cases.h - small parameters for every registered workload, shared by
 * the tests that run them all (test_workloads.c, test_smp.c). A workload
 * added to the registry needs one line in wl_cases.c; the tests fail with
 * its name until it has one.
 */
#ifndef VMMU_TEST_WL_CASES_H
#define VMMU_TEST_WL_CASES_H

#include <stddef.h>

#include "../../workloads/workload.h"

struct wl_case {
	const char *name;
	struct wl_params p;
};

/* Each run takes a few milliseconds natively. */
extern const struct wl_case wl_cases[];
extern const size_t wl_ncases;

/* The case of workload name, or NULL. */
const struct wl_case *wl_case_find(const char *name);

#endif
