/*
 * common.c - the process and memory helpers that every workload shares.
 *
 * The helpers wrap guest-mm calls so that a workload reads like a user
 * program: a failed call is a guest-level error (vm_abort() with the
 * request in the message), and every call returns with the vCPU in user
 * mode, ready for the next load or store.
 */
#include <stdlib.h>
#include <string.h>

#include "workload.h"

/* ---- the measured region ---- */

void wl_roi_begin(struct wl_ctx *c)
{
	if (vm_roi_begin(c->vm) != 0)
		vm_abort(c->vm, "workload bug: its region of interest is begun twice");
}

void wl_roi_end(struct wl_ctx *c)
{
	if (vm_roi_end(c->vm) != 0)
		vm_abort(c->vm, "workload bug: its region of interest ends without a beginning");
}

/* ---- memory ---- */

gva_t wl_mmap(struct wl_ctx *c, uint64_t len, int prot, int flags)
{
	gva_t va = gmm_mmap(c->vm, 0, len, prot, flags & ~GMAP_FIXED);
	if (va == 0)
		vm_abort(c->vm, "mmap of %" PRIu64 " bytes (prot %d, flags %d) failed: %s", len,
			 prot, flags, strerror(gmm_errno(c->vm)));
	wl_user(c);
	return va;
}

gva_t wl_mmap_at(struct wl_ctx *c, gva_t addr, uint64_t len, int prot, int flags)
{
	gva_t va = gmm_mmap(c->vm, addr, len, prot, flags | GMAP_FIXED);
	if (va != addr)
		vm_abort(c->vm, "mmap of %" PRIu64 " bytes at 0x%" PRIx64 " (prot %d) failed: %s",
			 len, addr, prot, strerror(gmm_errno(c->vm)));
	wl_user(c);
	return va;
}

void wl_munmap(struct wl_ctx *c, gva_t addr, uint64_t len)
{
	if (gmm_munmap(c->vm, addr, len) != 0)
		vm_abort(c->vm, "munmap of %" PRIu64 " bytes at 0x%" PRIx64 " failed: %s", len,
			 addr, strerror(gmm_errno(c->vm)));
	wl_user(c);
}

void wl_mprotect(struct wl_ctx *c, gva_t addr, uint64_t len, int prot)
{
	if (gmm_mprotect(c->vm, addr, len, prot) != 0)
		vm_abort(c->vm, "mprotect of %" PRIu64 " bytes at 0x%" PRIx64 " to %d failed: %s",
			 len, addr, prot, strerror(gmm_errno(c->vm)));
	wl_user(c);
}

uint64_t wl_data_bytes(const struct wl_ctx *c, uint64_t pages)
{
	uint64_t bytes = pages * PAGE_SIZE;
	if (c->vm->cfg.guest_page == PG_2M) {
		uint64_t huge = page_bytes(PG_2M);
		bytes = (bytes + huge - 1) & ~(huge - 1);
	}
	return bytes;
}

gva_t wl_map_data(struct wl_ctx *c, uint64_t pages)
{
	int flags = c->vm->cfg.guest_page == PG_2M ? GMAP_HUGE : 0;
	return wl_mmap(c, wl_data_bytes(c, pages), GPROT_READ | GPROT_WRITE, flags);
}

/* ---- processes ---- */

struct gproc *wl_proc_create(struct wl_ctx *c)
{
	struct gproc *p = gmm_proc_create(c->vm);
	if (p == NULL)
		vm_abort(c->vm, "process creation failed: %s", strerror(gmm_errno(c->vm)));
	wl_user(c);
	return p;
}

struct gproc *wl_fork(struct wl_ctx *c)
{
	struct gproc *child = gmm_fork(c->vm, gmm_current(c->vm));
	if (child == NULL)
		vm_abort(c->vm, "fork of pid %d failed: %s", gmm_proc_pid(gmm_current(c->vm)),
			 strerror(gmm_errno(c->vm)));
	wl_user(c);
	return child;
}

void wl_switch(struct wl_ctx *c, struct gproc *p)
{
	gmm_switch_to(c->vm, p);
	wl_user(c);
}

void wl_exit(struct wl_ctx *c, struct gproc *p, struct gproc *next)
{
	gmm_exit(c->vm, p, next);
	wl_user(c);
}

/* ---- checks ---- */

void wl_expect(struct wl_ctx *c, gva_t va, uint64_t want, const char *what)
{
	uint64_t got = wl_load_fold(c, va);
	if (got != want)
		vm_abort(c->vm, "%s: 0x%" PRIx64 " read 0x%016" PRIx64 ", expected 0x%016" PRIx64,
			 what, va, got, want);
}

/* ---- host-side reference models ---- */

void *wl_host_alloc(struct wl_ctx *c, uint64_t n, uint64_t size)
{
	for (int i = 0; i < WL_HOST_BUFS; i++) {
		if (c->host[i] != NULL)
			continue;
		void *p = calloc(n ? n : 1, size ? size : 1);
		if (p == NULL)
			vm_abort(c->vm,
				 "host out of memory for a %" PRIu64 " x %" PRIu64
				 " byte reference model",
				 n, size);
		c->host[i] = p;
		return p;
	}
	vmmu_bug("wl_host_bufs", "a workload holds more than %d host buffers", WL_HOST_BUFS);
}

void wl_host_free(struct wl_ctx *c, void *buf)
{
	if (buf == NULL)
		return;
	for (int i = 0; i < WL_HOST_BUFS; i++) {
		if (c->host[i] == buf) {
			free(buf);
			c->host[i] = NULL;
			return;
		}
	}
	vmmu_bug("wl_host_bufs", "freeing a buffer that wl_host_alloc did not hand out");
}

void wl_ctx_release(struct wl_ctx *c)
{
	for (int i = 0; i < WL_HOST_BUFS; i++) {
		free(c->host[i]);
		c->host[i] = NULL;
	}
}
