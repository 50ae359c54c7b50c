/*
 * jobs.c - run many workload runs in forked children, a few at a time.
 *
 * Sections: helpers, one job (start, child, finish), progress, the loop.
 * See jobs.h for the contract.
 */
#include "jobs.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../report/csv.h"
#include "../core/stats.h"
#include "../core/vm.h"
#include "registry.h"
#include "replay_summary.h"

/* ---- types ---- */

struct runner {
	const char *who;
	struct job *job;
	size_t njob;
	unsigned par;
	bool tty;
	double t_start;
};

/* ---- helpers ---- */

/* Monotonic seconds. */
static double jobs_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

bool jobs_mode_can_run(const struct vm_config *cfg, const struct mmu_ops *m, char *err,
		       size_t errlen)
{
	struct vm_config c = *cfg;
	struct vm *vm;

	c.mode = m->name;
	vm = vm_create(&c, err, errlen);
	if (vm == NULL)
		return false;
	vm_destroy(vm);
	return true;
}

/* ---- one job ---- */

/* In the child: run one job, send the result, never return. */
static _Noreturn void child_run(const struct job *j, int fd)
{
	struct vm_config cfg = j->cfg;
	struct run_result r;
	int rc;

	memset(&r, 0, sizeof(r));
	cfg.mode = j->m->name;
	rc = run_workload(&cfg, j->w, &j->p, NULL, &r);
	r.ok = rc == 0;
	if (!r.ok && r.err[0] == '\0')
		snprintf(r.err, sizeof(r.err), "run failed without a message");
	if (r.ok) {
		/* Counters that break their invariants are a bug: no row for them. */
		const char *bad = stats_check(&r.st, j->m->two_dim);
		if (bad != NULL) {
			r.ok = false;
			snprintf(r.err, sizeof(r.err), "counter invariant '%s' violated", bad);
		}
	}
	replay_summary_counts(j->w, &r);
	if (write_all(fd, &r, sizeof(r)) < 0)
		_exit(3);
	_exit(r.ok ? 0 : 1);
}

static void job_start(struct job *j)
{
	int fds[2];

	j->cfg.mode = j->m->name;
	if (pipe2(fds, O_CLOEXEC) != 0) {
		j->state = JOB_FAILED;
		snprintf(j->err, sizeof(j->err), "pipe: %s", strerror(errno));
		return;
	}
	fflush(stdout);
	fflush(stderr);
	j->t0 = jobs_now();
	j->pid = fork();
	if (j->pid < 0) {
		j->state = JOB_FAILED;
		snprintf(j->err, sizeof(j->err), "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return;
	}
	if (j->pid == 0) {
		close(fds[0]);
		child_run(j, fds[1]);
	}
	close(fds[1]);
	j->fd = fds[0];
	j->got = 0;
	j->state = JOB_RUNNING;
}

/* The child closed its pipe: reap it and decide. */
static void job_finish(struct job *j)
{
	int status = 0;
	pid_t w;

	close(j->fd);
	j->fd = -1;
	do
		w = waitpid(j->pid, &status, 0);
	while (w < 0 && errno == EINTR);
	if (j->got == sizeof(j->r) && WIFEXITED(status) && WEXITSTATUS(status) == 0 && j->r.ok) {
		j->state = JOB_OK;
		return;
	}
	j->state = JOB_FAILED;
	if (j->got == sizeof(j->r) && !j->r.ok)
		snprintf(j->err, sizeof(j->err), "%s", j->r.err);
	else if (w < 0)
		snprintf(j->err, sizeof(j->err), "waitpid: %s", strerror(errno));
	else if (WIFSIGNALED(status))
		snprintf(j->err, sizeof(j->err), "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(j->err, sizeof(j->err), "exited with status %d without a result",
			 WEXITSTATUS(status));
}

/* ---- progress ---- */

static void fmt_duration(double s, char *buf, size_t len)
{
	long t = s < 0 ? 0 : lround(s);

	if (t >= 3600)
		snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
	else
		snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

static void progress_bar(const struct runner *rn, size_t done, size_t running)
{
	enum { WIDTH = 30 };
	double el = jobs_now() - rn->t_start;
	char bar[WIDTH + 1], elapsed[32], left[32];
	size_t fill = rn->njob ? done * WIDTH / rn->njob : WIDTH;

	for (size_t k = 0; k < WIDTH; k++)
		bar[k] = k < fill ? '#' : '-';
	bar[WIDTH] = '\0';
	fmt_duration(el, elapsed, sizeof(elapsed));
	if (done > 0 && done < rn->njob)
		fmt_duration(el / (double)done * (double)(rn->njob - done), left, sizeof(left));
	else
		snprintf(left, sizeof(left), done ? "0:00" : "?");
	fprintf(stderr, "\r[%s] %zu/%zu done, %zu running, elapsed %s, left ~%s\033[K", bar, done,
		rn->njob, running, elapsed, left);
	fflush(stderr);
}

/* One finished job: a plain line (always for failures; for successes only
 * when stderr is not a terminal). */
static void progress_line(const struct runner *rn, const struct job *j, size_t done)
{
	const char *sp = j->tag[0] ? " " : "";

	if (rn->tty && j->state == JOB_OK)
		return;
	if (rn->tty)
		fputs("\r\033[K", stderr);
	if (j->state == JOB_OK)
		fprintf(stderr, "%s: [%zu/%zu] %s/%s%s%s ok, %.2f s, %.2f cycles/access\n", rn->who,
			done, rn->njob, j->w->name, j->m->name, sp, j->tag, j->r.wall_s,
			csv_cycles_per_access(&j->r));
	else
		fprintf(stderr, "%s: [%zu/%zu] %s/%s%s%s FAILED: %s\n", rn->who, done, rn->njob,
			j->w->name, j->m->name, sp, j->tag, j->err);
}

/* ---- the loop ---- */

void jobs_run(const char *who, struct job *job, size_t njob, unsigned par)
{
	struct runner rn = {.who = who, .job = job, .njob = njob, .par = par};
	size_t next = 0, done = 0, running = 0;
	struct pollfd *pfd;
	size_t *which;

	if (rn.par < 1)
		rn.par = 1;
	if ((size_t)rn.par > njob)
		rn.par = (unsigned)(njob ? njob : 1);
	rn.tty = isatty(STDERR_FILENO);
	pfd = calloc(rn.par, sizeof(*pfd));
	which = calloc(rn.par, sizeof(*which));
	for (size_t k = 0; k < njob; k++) {
		job[k].state = JOB_PENDING;
		job[k].fd = -1;
	}
	if (pfd == NULL || which == NULL) {
		for (size_t k = 0; k < njob; k++) {
			job[k].state = JOB_FAILED;
			snprintf(job[k].err, sizeof(job[k].err), "out of memory");
		}
		free(pfd);
		free(which);
		return;
	}
	rn.t_start = jobs_now();
	while (done < njob) {
		size_t n = 0;

		while (running < rn.par && next < njob) {
			struct job *j = &job[next++];
			job_start(j);
			if (j->state == JOB_RUNNING) {
				running++;
			} else {
				done++;
				progress_line(&rn, j, done);
			}
		}
		if (rn.tty)
			progress_bar(&rn, done, running);
		if (running == 0)
			continue;
		for (size_t k = 0; k < njob && n < rn.par; k++) {
			if (job[k].state != JOB_RUNNING)
				continue;
			pfd[n] = (struct pollfd){.fd = job[k].fd, .events = POLLIN};
			which[n++] = k;
		}
		if (poll(pfd, n, rn.tty ? 500 : -1) < 0) {
			if (errno == EINTR)
				continue;
			/* Cannot wait on the pipes: fall back to reading them in order. */
			for (size_t k = 0; k < n; k++)
				pfd[k].revents = POLLIN;
		}
		for (size_t k = 0; k < n; k++) {
			struct job *j = &job[which[k]];
			char scratch[256];
			char *dst = scratch;
			size_t room = sizeof(scratch);
			ssize_t got;

			if (pfd[k].revents == 0)
				continue;
			/* Past a full result, anything more is drained and ignored. */
			if (j->got < sizeof(j->r)) {
				dst = (char *)&j->r + j->got;
				room = sizeof(j->r) - j->got;
			}
			got = read(j->fd, dst, room);
			if (got < 0 && errno == EINTR)
				continue;
			if (got > 0) {
				if (dst != scratch)
					j->got += (size_t)got;
				continue;
			}
			/* End of file (or a read error): the child is done. */
			job_finish(j);
			running--;
			done++;
			progress_line(&rn, j, done);
		}
	}
	if (rn.tty) {
		progress_bar(&rn, done, 0);
		fputc('\n', stderr);
	}
	free(pfd);
	free(which);
}
