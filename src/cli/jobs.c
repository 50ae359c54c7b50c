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
#include <sys/prctl.h>
#include <sys/signalfd.h>
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
	bool quiet; /* no progress: failures alone are reported */
	double t_start;
	pid_t parent;	  /* the runner's pid, for the child's orphan check */
	int sfd;	  /* signalfd for SIGINT and SIGTERM, or -1 */
	sigset_t old_mask; /* the mask to restore (and the children's) */
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
static _Noreturn void child_run(const struct runner *rn, const struct job *j, int fd)
{
	struct vm_config cfg = j->cfg;
	struct run_result r;
	int rc;

	/* Die with the parent, even by kill -9 (no orphan keeps computing);
	 * the check after it closes the race with a parent that died first. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != rn->parent)
		_exit(3);
	if (rn->sfd >= 0)
		close(rn->sfd);
	sigprocmask(SIG_SETMASK, &rn->old_mask, NULL);

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

static void job_start(const struct runner *rn, struct job *j)
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
		child_run(rn, j, fds[1]);
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
	if (rn->quiet)
		return;
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

	if ((rn->tty || rn->quiet) && j->state == JOB_OK)
		return;
	if (rn->quiet) {
		fprintf(stderr, "%s: %s/%s%s%s FAILED: %s\n", rn->who, j->w->name, j->m->name, sp,
			j->tag, j->err);
		return;
	}
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

/* ---- interruption ---- */

/* SIGINT or SIGTERM reached the runner: pass SIGTERM to every running
 * child, reap them all, and mark every unfinished job failed. */
static void jobs_interrupt(struct runner *rn, int sig)
{
	for (size_t k = 0; k < rn->njob; k++)
		if (rn->job[k].state == JOB_RUNNING)
			kill(rn->job[k].pid, SIGTERM);
	for (size_t k = 0; k < rn->njob; k++) {
		struct job *j = &rn->job[k];

		if (j->state == JOB_RUNNING) {
			close(j->fd);
			j->fd = -1;
			while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR)
				;
		}
		if (j->state == JOB_RUNNING || j->state == JOB_PENDING) {
			j->state = JOB_FAILED;
			snprintf(j->err, sizeof(j->err), "interrupted by %s", sigabbrev_np(sig));
		}
	}
}

void jobs_hold_signals(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, old);
}

void jobs_release_signals(const sigset_t *old)
{
	sigprocmask(SIG_SETMASK, old, NULL);
}

/* ---- the loop ---- */

int jobs_run(const char *who, struct job *job, size_t njob, unsigned par)
{
	return jobs_run_quiet(who, job, njob, par, false);
}

int jobs_run_quiet(const char *who, struct job *job, size_t njob, unsigned par, bool quiet)
{
	struct runner rn = {.who = who, .job = job, .njob = njob, .par = par, .quiet = quiet};
	size_t next = 0, done = 0, running = 0;
	struct pollfd *pfd;
	size_t *which;
	int sig = 0;

	if (rn.par < 1)
		rn.par = 1;
	if ((size_t)rn.par > njob)
		rn.par = (unsigned)(njob ? njob : 1);
	rn.tty = isatty(STDERR_FILENO);
	pfd = calloc(rn.par + 1u, sizeof(*pfd));
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
		return 0;
	}
	/* SIGINT and SIGTERM arrive through a descriptor polled with the pipes,
	 * so the runner can stop every child before it exits (no handler, no
	 * global flag). */
	rn.parent = getpid();
	jobs_hold_signals(&rn.old_mask);
	{
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGINT);
		sigaddset(&set, SIGTERM);
		rn.sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	}
	rn.t_start = jobs_now();
	while (done < njob) {
		size_t n = 0;

		while (running < rn.par && next < njob) {
			struct job *j = &job[next++];
			job_start(&rn, j);
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
		pfd[n] = (struct pollfd){.fd = rn.sfd, .events = POLLIN};
		if (poll(pfd, n + 1, rn.tty ? 500 : -1) < 0) {
			if (errno == EINTR)
				continue;
			/* Cannot wait on the pipes: fall back to reading them in order. */
			for (size_t k = 0; k < n; k++)
				pfd[k].revents = POLLIN;
			pfd[n].revents = 0;
		}
		if (pfd[n].revents != 0) {
			struct signalfd_siginfo si;
			if (read(rn.sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				sig = (int)si.ssi_signo;
				break;
			}
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
	if (sig != 0)
		jobs_interrupt(&rn, sig);
	if (rn.tty) {
		progress_bar(&rn, done, 0);
		fputc('\n', stderr);
	}
	if (rn.sfd >= 0)
		close(rn.sfd);
	jobs_release_signals(&rn.old_mask);
	free(pfd);
	free(which);
	return sig;
}
