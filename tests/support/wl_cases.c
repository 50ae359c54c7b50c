/*
 * wl_cases.c - small parameters for every registered workload (wl_cases.h).
 */
#include "wl_cases.h"

#include <string.h>

const struct wl_case wl_cases[] = {
    {"seq", {.pages = 48, .ops = 3}},
    {"random", {.pages = 192, .ops = 4096}},
    {"ptrchase", {.pages = 48, .ops = 6000}},
    {"kv", {.pages = 24, .ops = 3000}},
    {"faults", {.pages = 24, .ops = 5}},
    {"fork", {.pages = 64, .ops = 2, .procs = 4}},
    {"ctxswitch", {.pages = 4, .ops = 6000, .procs = 3, .switch_every = 100}},
    {"mmap-churn", {.pages = 16, .ops = 160}},
    {"procs", {.pages = 16, .ops = 10, .procs = 3}},
    {"phases", {.pages = 96, .ops = 2}},
    {"dma", {.pages = 32, .ops = 4}},
    {"random-mt", {.pages = 192, .ops = 4096}},
    {"mmap-churn-mt", {.pages = 16, .ops = 160}},
    {"kv-mt", {.pages = 24, .ops = 3000}},
    {"fork-mt", {.pages = 64, .ops = 1}},
};

const size_t wl_ncases = sizeof(wl_cases) / sizeof(wl_cases[0]);

const struct wl_case *wl_case_find(const char *name)
{
	for (size_t k = 0; k < wl_ncases; k++)
		if (strcmp(wl_cases[k].name, name) == 0)
			return &wl_cases[k];
	return NULL;
}
