/*
 * vmmu.h - the public C API of libvmmu.
 *
 * Two ways to use the engine from your own code:
 *
 *   1. Run a built-in workload and read its counters:
 *
 *        vmmu_config *c = vmmu_config_new();
 *        vmmu_config_set(c, "mode", "nested", err, sizeof err);
 *        vmmu_config_set(c, "host-page", "2m", err, sizeof err);
 *        vmmu_result *r = vmmu_run(c, "random", err, sizeof err);
 *        printf("%llu walk refs\n", (unsigned long long)vmmu_result_stat(r, "walk_refs"));
 *        vmmu_result_free(r);
 *
 *   2. Drive a guest yourself: create a machine (the guest kernel boots),
 *      create processes, map memory, load and store, fork, switch, and read
 *      the counters at any time.
 *
 * Every setting is named as its `vmmu run` flag without the dashes
 * ("mode", "levels", "guest-mem", "walk-caches", "seed", "pages", ...);
 * values are spelled as on the command line. Counter names are the CSV
 * column names (docs/csv.md).
 *
 * Errors: functions that can fail return -1 (or NULL) and describe the
 * failure in the caller's err buffer or through vmmu_error(). A guest-level
 * failure inside a machine (a segfault, guest out of memory) makes that
 * machine unusable: every later call on it fails; free it.
 *
 * Regions of interest: a run of a built-in workload measures the part of
 * it that the benchmark it imitates times (docs/workloads.md), unless the
 * "whole-run" setting is "on"; vmmu_result_stat() gives those counters and
 * vmmu_result_whole_stat() the whole run's. On your own machine, bracket
 * the part you want measured with vmmu_region_begin()/vmmu_region_end() and
 * read it with vmmu_region_stat().
 *
 * Link with: -lvmmu -ljemalloc -lnuma -lm, or after `make install`:
 *   cc prog.c $(pkg-config --cflags --libs vmmu)
 *
 * Version: VMMU_VERSION ("MAJOR.MINOR.PATCH") and VMMU_VERSION_NUMBER
 * (MAJOR * 10000 + MINOR * 100 + PATCH) come from vmmu-version.h, which the
 * build writes from the Makefile's VERSION and `make install` installs
 * beside this header; vmmu_version() gives the library's own.
 */
#ifndef VMMU_PUBLIC_H
#define VMMU_PUBLIC_H

#include <stddef.h>
#include <stdint.h>

#include "vmmu-version.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vmmu_config vmmu_config;
typedef struct vmmu_result vmmu_result;
typedef struct vmmu_machine vmmu_machine;

/* The version of the library linked in ("MAJOR.MINOR.PATCH"). */
const char *vmmu_version(void);

/* Configuration with every default of `vmmu run`. */
vmmu_config *vmmu_config_new(void);
void vmmu_config_free(vmmu_config *c);
/* Set one flag by name. Returns 0, or -1 with err naming the flag or value. */
int vmmu_config_set(vmmu_config *c, const char *name, const char *value, char *err,
		    size_t errlen);

/* Counters: how many there are and their names (the CSV columns). */
size_t vmmu_stat_count(void);
const char *vmmu_stat_name(size_t i);

/* Run a built-in workload (`vmmu list` names them) on a fresh machine.
 * Returns NULL with err set when the configuration or the run fails. */
vmmu_result *vmmu_run(const vmmu_config *c, const char *workload, char *err, size_t errlen);
/* A counter by name, of the measured part (the workload's region of
 * interest, or the whole run); UINT64_MAX for an unknown name. */
uint64_t vmmu_result_stat(const vmmu_result *r, const char *name);
/* 1 when the result's counters cover a region of interest, 0 when they
 * cover the whole run (the workload marks none, or "whole-run" is on). */
int vmmu_result_is_region(const vmmu_result *r);
/* The same counter over the whole run, set-up and checks included. */
uint64_t vmmu_result_whole_stat(const vmmu_result *r, const char *name);
uint64_t vmmu_result_whole_est_cycles(const vmmu_result *r);
uint64_t vmmu_result_checksum(const vmmu_result *r);
uint64_t vmmu_result_digest(const vmmu_result *r);
uint64_t vmmu_result_est_cycles(const vmmu_result *r);
void vmmu_result_free(vmmu_result *r);

/* A machine under your control. The guest kernel is booted and counters
 * start at zero; there is no process yet. */
vmmu_machine *vmmu_machine_new(const vmmu_config *c, char *err, size_t errlen);
void vmmu_machine_free(vmmu_machine *m);
const char *vmmu_error(const vmmu_machine *m);

/* Processes, named by pid. The first one created becomes current. */
int vmmu_proc_new(vmmu_machine *m);
int vmmu_fork(vmmu_machine *m);                  /* of the current process */
int vmmu_switch(vmmu_machine *m, int pid);
int vmmu_exit(vmmu_machine *m, int pid, int next_pid); /* next_pid runs if pid was current */

#define VMMU_PROT_READ 1
#define VMMU_PROT_WRITE 2
#define VMMU_PROT_EXEC 4
#define VMMU_MAP_HUGE 1

/* Memory of the current process. vmmu_mmap returns the address, or 0. */
uint64_t vmmu_mmap(vmmu_machine *m, uint64_t len, int prot, int flags);
int vmmu_munmap(vmmu_machine *m, uint64_t addr, uint64_t len);
int vmmu_mprotect(vmmu_machine *m, uint64_t addr, uint64_t len, int prot);
/* User-mode accesses of 1 to 8 bytes (may straddle a page). */
int vmmu_load(vmmu_machine *m, uint64_t addr, unsigned size, uint64_t *value);
int vmmu_store(vmmu_machine *m, uint64_t addr, unsigned size, uint64_t value);

/* Counters since the machine booted (the whole run). */
uint64_t vmmu_stat(const vmmu_machine *m, const char *name);
uint64_t vmmu_est_cycles(const vmmu_machine *m);

/*
 * The region of interest: one per machine. vmmu_region_begin() snapshots
 * every counter, vmmu_region_end() snapshots them again; the region's
 * counters are the differences (the gauge vmm_heap_bytes excepted, which
 * reads as now). Both return 0, -1 on a dead machine, or:
 *   VMMU_ERR_REGION_BEGUN       begin when a region was begun before (open
 *                               or already ended: one region per machine);
 *   VMMU_ERR_REGION_NOT_BEGUN   end when no region is open.
 * Neither error harms the machine.
 */
#define VMMU_ERR_REGION_BEGUN (-2)
#define VMMU_ERR_REGION_NOT_BEGUN (-3)
int vmmu_region_begin(vmmu_machine *m);
int vmmu_region_end(vmmu_machine *m);
/* A counter of the region: up to its end, or up to now while it is open.
 * UINT64_MAX for an unknown name or when no region was begun. */
uint64_t vmmu_region_stat(const vmmu_machine *m, const char *name);
uint64_t vmmu_region_est_cycles(const vmmu_machine *m);

/* The guest digest (docs/csv.md): a hash of the non-zero guest frames, the
 * same under every mode; it reads only the frames the guest touched. */
uint64_t vmmu_guest_digest(vmmu_machine *m);

#ifdef __cplusplus
}
#endif

#endif
