/*
 * supervise.h: the supervisor's event loop. One thread, one epoll set:
 * the pidfd of the sandbox's pid 1, a timer for the wall-clock budget, a
 * signalfd for the signals we forward, the socket pid 1 reports on, and
 * the seccomp notification fd; approvals (and later the proxy) add their
 * own events to the same libevent base.
 */
#ifndef HS_SUPERVISE_H
#define HS_SUPERVISE_H

#include "exec.h"
#include "sandbox/sandbox.h"

#include <signal.h>

struct hs_outcome {
	bool have_status;   /* the command's wait status came from pid 1 */
	int status;         /* wait status (of the command, else of pid 1) */
	bool timed_out;     /* the wall-clock budget killed the sandbox */
	int exec_errno;     /* execve of the command failed with this errno */
	char setup_error[HS_ERR_MSG_MAX]; /* the command's setup failed before execve, "" if not */
	int signal_received;/* last signal forwarded from the caller, 0 if none */
	uint64_t elapsed_ms;
};

/* Blocks the signals the loop will take (call before hs_spawn so none is
 * lost in between); returns the previous mask in *old. */
void hs_supervise_block_signals(sigset_t *old);

struct event_base;

/* A libevent base set up for the supervisor (one thread, no locks, epoll). */
struct event_base *hs_event_base_new(void);

/* Runs until pid 1 exits; kills the sandbox when the budget runs out.
 * `base` may be NULL (a private one is made), or the caller's, whose other
 * events (approvals, the proxy) then run in the same loop. Returns 0, or -1
 * when a callback ended the run: the exec hook (err says why) or another
 * user of the base through hs_supervise_fail (that user knows why). The
 * sandbox is always gone when this returns. */
int hs_supervise(struct hs_child *child, const struct hs_plan *plan, struct event_base *base,
		 hs_exec_hook on_exec, void *ctx, struct hs_outcome *out, struct hs_error *err);

/* Ends the run from any callback of the base (fail closed: e.g. a decision
 * could not be recorded). hs_supervise then kills the sandbox and returns -1. */
void hs_supervise_fail(struct event_base *base);

#endif
