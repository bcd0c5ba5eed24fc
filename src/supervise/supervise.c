/*
 * supervise.c: the supervisor's event loop (see supervise.h). The only place
 * that decides what happens to a running sandbox: it forwards the caller's
 * signals to pid 1 (which forwards them to the command), kills the whole
 * sandbox when the wall-clock budget runs out (SIGKILL of pid 1 takes the
 * pid namespace with it, setsid'd and double-forked processes included), and
 * collects the command's status.
 */
#define _GNU_SOURCE
#include "supervise.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const int taken_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH,
				    SIGCONT};

static void taken_set(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < HS_ARRAY_LEN(taken_signals); i++)
		sigaddset(set, taken_signals[i]);
}

void hs_supervise_block_signals(sigset_t *old)
{
	sigset_t set;
	taken_set(&set);
	sigprocmask(SIG_BLOCK, &set, old);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

enum { EV_PIDFD = 1, EV_TIMER, EV_SIGNAL, EV_SOCK, EV_NOTIFY };

static int add_fd(int ep, int fd, uint32_t tag, struct hs_error *err)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = tag};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		return hs_err_sys(err, "epoll_ctl");
	return 0;
}

/* Drains pid 1's messages: the command's status, execve failures. */
static void read_messages(struct hs_child *c, struct hs_outcome *out)
{
	struct hs_msg m;
	for (;;) {
		ssize_t n = recv(c->sock, &m, sizeof(m), MSG_DONTWAIT);
		if (n <= 0)
			return;
		if (m.type == HS_MSG_STATUS) {
			out->have_status = true;
			out->status = m.value;
		} else if (m.type == HS_MSG_EXECFAIL) {
			out->exec_errno = m.value;
		} else if (m.type == HS_MSG_ERROR) {
			/* The command's own setup (rlimits) failed before execve. */
			m.text[sizeof(m.text) - 1] = '\0';
			snprintf(out->setup_error, sizeof(out->setup_error), "%s", m.text);
		}
	}
}

static int arm_timer(int tfd, uint64_t ms, struct hs_error *err)
{
	struct itimerspec its;
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = (time_t)(ms / 1000);
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	if (timerfd_settime(tfd, 0, &its, NULL) < 0)
		return hs_err_sys(err, "timerfd_settime");
	return 0;
}

static void reap(struct hs_child *c, struct hs_outcome *out)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	if (waitid((idtype_t)P_PIDFD, (id_t)c->pidfd, &si, WEXITED) < 0)
		return;
	if (!out->have_status)
		out->status = si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8 : si.si_status & 0x7f;
	c->pid = -1;
}

int hs_supervise(struct hs_child *c, const struct hs_plan *plan, hs_exec_hook on_exec,
		 void *ctx, struct hs_outcome *out, struct hs_error *err)
{
	memset(out, 0, sizeof(*out));
	out->exec_errno = c->exec_errno_early;
	uint64_t start = now_ms();
	int ep = -1, tfd = -1, sfd = -1, rc = -1;
	sigset_t set;
	taken_set(&set);

	ep = epoll_create1(EPOLL_CLOEXEC);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (ep < 0 || sfd < 0) {
		hs_err_sys(err, "supervisor setup");
		goto done;
	}
	if (add_fd(ep, c->pidfd, EV_PIDFD, err) < 0 || add_fd(ep, sfd, EV_SIGNAL, err) < 0 ||
	    add_fd(ep, c->sock, EV_SOCK, err) < 0 ||
	    (c->notify_fd >= 0 && add_fd(ep, c->notify_fd, EV_NOTIFY, err) < 0))
		goto done;
	if (plan->limits.timeout_ms) {
		tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (tfd < 0 || arm_timer(tfd, plan->limits.timeout_ms, err) < 0 ||
		    add_fd(ep, tfd, EV_TIMER, err) < 0) {
			if (tfd < 0)
				hs_err_sys(err, "timerfd_create");
			goto done;
		}
	}

	bool sock_open = true;
	while (c->pid > 0) {
		struct epoll_event evs[8];
		int n = epoll_wait(ep, evs, 8, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			hs_err_sys(err, "epoll_wait");
			goto done;
		}
		for (int i = 0; i < n; i++) {
			switch (evs[i].data.u32) {
			case EV_SOCK:
				read_messages(c, out);
				if (evs[i].events & (EPOLLHUP | EPOLLERR)) {
					epoll_ctl(ep, EPOLL_CTL_DEL, c->sock, NULL);
					sock_open = false;
				}
				break;
			case EV_SIGNAL: {
				struct signalfd_siginfo si;
				while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
					out->signal_received = (int)si.ssi_signo;
					/* pid 1 forwards it to the command. */
					syscall(SYS_pidfd_send_signal, c->pidfd, (int)si.ssi_signo, NULL, 0);
				}
				break;
			}
			case EV_NOTIFY:
				if (evs[i].events & (EPOLLHUP | EPOLLERR)) {
					/* No process left that could exec. */
					epoll_ctl(ep, EPOLL_CTL_DEL, c->notify_fd, NULL);
					break;
				}
				/* The exec waits in the kernel until we answer;
				 * a hook that cannot record it ends the run. */
				if (hs_exec_handle(c->notify_fd, on_exec, ctx, err) < 0)
					goto done;
				break;
			case EV_TIMER:
				out->timed_out = true;
				/* Kills pid 1 and with it every process of the namespace. */
				syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0);
				break;
			case EV_PIDFD:
				if (sock_open)
					read_messages(c, out);
				reap(c, out);
				break;
			}
		}
	}
	rc = 0;
done:
	out->elapsed_ms = now_ms() - start;
	if (c->pid > 0) { /* error path: never leave a sandbox behind */
		syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0);
		reap(c, out);
	}
	hs_close(&tfd);
	hs_close(&sfd);
	hs_close(&ep);
	return rc;
}
