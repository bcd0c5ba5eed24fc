/*
 * supervise.h: the supervisor's event loop. One thread, one epoll set:
 * the pidfd of the sandbox's pid 1, a timerfd for the wall-clock budget, a
 * signalfd for the signals we forward, and the socket pid 1 reports on.
 * Later the seccomp notification fd and the proxy join the same loop.
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

/* Runs until pid 1 exits; kills the sandbox when the budget runs out. */
int hs_supervise(struct hs_child *child, const struct hs_plan *plan, hs_exec_hook on_exec,
		 void *ctx, struct hs_outcome *out, struct hs_error *err);

#endif
