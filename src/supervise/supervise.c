/*
 * supervise.c: the supervisor's event loop (see supervise.h). The only place
 * that decides what happens to a running sandbox: it forwards the caller's
 * signals to pid 1 (which forwards them to the command), kills the whole
 * sandbox when the wall-clock budget runs out (SIGKILL of pid 1 takes the
 * pid namespace with it, setsid'd and double-forked processes included), and
 * collects the command's status.
 *
 * The loop is a libevent base (epoll underneath), so that the approvals and
 * the egress proxy run in the same thread, on the same base, and nothing
 * here needs a lock.
 */
#define _GNU_SOURCE
#include "supervise.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <event2/event.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
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

struct event_base *hs_event_base_new(void)
{
	/* One thread: no locks. libevent's own signal handling is never used
	 * (signals arrive through a signalfd), so it installs no handlers. */
	struct event_config *cfg = event_config_new();
	if (!cfg)
		return NULL;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
	/* epoll: pidfds, signalfds, the seccomp listener and sockets all work
	 * with it, and it does not rescan every fd on each turn as poll does
	 * (EV_FEATURE_FDS, "any fd", would rule epoll out and pick poll: with
	 * the proxy's connections open that is O(connections) a turn). */
	event_config_require_features(cfg, EV_FEATURE_O1);
	struct event_base *b = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return b;
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

/* One supervisor: the loop's state, shared by its callbacks. */
struct sup {
	struct event_base *base;
	struct hs_child *c;
	hs_exec_hook on_exec;
	void *ctx;
	struct hs_outcome *out;
	struct hs_error *err;
	int sfd;
	bool sock_open;
	bool failed; /* a callback ended the run (err says why) */
	struct event *ev_pidfd, *ev_signal, *ev_sock, *ev_notify, *ev_timer;
	int root_fd; /* the sandbox's root, for exec requests (exec.h) */
};

static void on_sock(evutil_socket_t fd, short what, void *arg)
{
	struct sup *s = arg;
	(void)fd;
	(void)what;
	read_messages(s->c, s->out);
	/* EOF or error: pid 1 is gone or going; the pidfd tells the rest. */
	char b;
	if (recv(s->c->sock, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0) {
		event_del(s->ev_sock);
		s->sock_open = false;
	}
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
	struct sup *s = arg;
	struct signalfd_siginfo si;
	(void)what;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		s->out->signal_received = (int)si.ssi_signo;
		/* pid 1 forwards it to the command. */
		syscall(SYS_pidfd_send_signal, s->c->pidfd, (int)si.ssi_signo, NULL, 0);
	}
}

static void on_notify(evutil_socket_t fd, short what, void *arg)
{
	struct sup *s = arg;
	(void)what;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	/* POLLHUP: no process is left that could exec. */
	if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR)) && !(p.revents & POLLIN)) {
		event_del(s->ev_notify);
		return;
	}
	/* The exec waits in the kernel until it is answered; a hook that
	 * cannot record it ends the run. */
	if (hs_exec_handle(fd, s->on_exec, s->ctx, &s->root_fd, s->err) < 0) {
		s->failed = true;
		event_base_loopbreak(s->base);
	}
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct sup *s = arg;
	(void)fd;
	(void)what;
	s->out->timed_out = true;
	/* Kills pid 1 and with it every process of the namespace. */
	syscall(SYS_pidfd_send_signal, s->c->pidfd, SIGKILL, NULL, 0);
}

static void on_pidfd(evutil_socket_t fd, short what, void *arg)
{
	struct sup *s = arg;
	(void)fd;
	(void)what;
	if (s->sock_open)
		read_messages(s->c, s->out);
	reap(s->c, s->out);
	event_base_loopbreak(s->base);
}

int hs_supervise(struct hs_child *c, const struct hs_plan *plan, struct event_base *base,
		 hs_exec_hook on_exec, void *ctx, struct hs_outcome *out, struct hs_error *err)
{
	memset(out, 0, sizeof(*out));
	out->exec_errno = c->exec_errno_early;
	uint64_t start = now_ms();
	int rc = -1;
	sigset_t set;
	taken_set(&set);
	struct sup s = {.c = c, .on_exec = on_exec, .ctx = ctx, .out = out, .err = err,
			.sock_open = true, .root_fd = -1};
	/* Writes into the sandbox's pipes (refusal messages on a caller's
	 * stderr) must fail with EPIPE, not kill the supervisor. Set after
	 * the spawn, so the sandbox keeps the caller's disposition. */
	struct sigaction ign = {.sa_handler = SIG_IGN}, old_pipe;
	sigaction(SIGPIPE, &ign, &old_pipe);
	bool own_base = base == NULL;
	s.base = own_base ? hs_event_base_new() : base;
	s.sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (!s.base || s.sfd < 0) {
		hs_err_sys(err, "supervisor setup");
		goto done;
	}
	s.ev_pidfd = event_new(s.base, c->pidfd, EV_READ, on_pidfd, &s);
	s.ev_signal = event_new(s.base, s.sfd, EV_READ | EV_PERSIST, on_signal, &s);
	s.ev_sock = event_new(s.base, c->sock, EV_READ | EV_PERSIST, on_sock, &s);
	if (c->notify_fd >= 0)
		s.ev_notify = event_new(s.base, c->notify_fd, EV_READ | EV_PERSIST, on_notify, &s);
	if (plan->limits.timeout_ms)
		s.ev_timer = evtimer_new(s.base, on_timer, &s);
	struct timeval tv = {.tv_sec = (time_t)(plan->limits.timeout_ms / 1000),
			     .tv_usec = (suseconds_t)(plan->limits.timeout_ms % 1000) * 1000};
	if (!s.ev_pidfd || !s.ev_signal || !s.ev_sock || (c->notify_fd >= 0 && !s.ev_notify) ||
	    (plan->limits.timeout_ms && !s.ev_timer) || event_add(s.ev_pidfd, NULL) < 0 ||
	    event_add(s.ev_signal, NULL) < 0 || event_add(s.ev_sock, NULL) < 0 ||
	    (s.ev_notify && event_add(s.ev_notify, NULL) < 0) ||
	    (s.ev_timer && event_add(s.ev_timer, &tv) < 0)) {
		hs_err(err, "supervisor setup: cannot register its events");
		goto done;
	}
	/* Runs until pid 1 is reaped (on_pidfd breaks the loop), or until a
	 * callback ends the run: ours (s.failed) or another user of the same
	 * base (approvals, through hs_supervise_fail). */
	if (event_base_loop(s.base, 0) < 0) {
		hs_err(err, "supervisor event loop failed");
		goto done;
	}
	if (c->pid > 0) {
		if (!s.failed)
			hs_err(err, "the run was ended by its supervisor");
		goto done;
	}
	rc = 0;
done:
	out->elapsed_ms = now_ms() - start;
	if (c->pid > 0) { /* error path: never leave a sandbox behind */
		syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0);
		reap(c, out);
	}
	struct event *evs[] = {s.ev_pidfd, s.ev_signal, s.ev_sock, s.ev_notify, s.ev_timer};
	for (size_t i = 0; i < HS_ARRAY_LEN(evs); i++)
		if (evs[i])
			event_free(evs[i]);
	hs_close(&s.sfd);
	hs_close(&s.root_fd);
	sigaction(SIGPIPE, &old_pipe, NULL);
	if (own_base && s.base)
		event_base_free(s.base);
	return rc;
}

void hs_supervise_fail(struct event_base *base)
{
	event_base_loopbreak(base);
}
