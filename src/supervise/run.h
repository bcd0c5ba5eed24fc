/*
 * run.h: one whole sandboxed run from a compiled plan: cgroup, spawn (with
 * the best-effort fallback when namespaces are refused), supervision, and
 * the facts needed to explain the outcome. Shared by the CLI and libharness;
 * it never prints: the caller is told through the result and the callback.
 */
#ifndef HS_RUN_H
#define HS_RUN_H

#include "net/proxy.h"
#include "supervise.h"

struct hs_run_result {
	struct hs_outcome out;  /* status, timeout, exec failure */
	bool oom_killed;        /* the memory cgroup killed something */
	bool pids_max_hit;      /* the pids cgroup refused a fork */
	unsigned layers;        /* HS_LAYER_* that came up */
	int landlock_abi;       /* 0: none */
	bool fell_back;         /* best effort: ran without namespaces */
	char fallback_why[HS_ERR_MSG_MAX]; /* why namespaces were refused */
	bool cgroup;            /* a cgroup held the sandbox's processes */
	struct hs_proxy_stats net; /* egress through the proxy */
	int workspace_fd;       /* plan->workspace: the upper layer's dir, owned by the
				   caller (close it); -1 if none or on failure */
};

/* Called once the sandbox is up, before the command's output can matter
 * (the CLI prints its "sandbox up" and best-effort lines from here). */
typedef void (*hs_run_started_fn)(const struct hs_run_result *res, void *ctx);

/* What the caller wants to hear about during the run (all optional). */
struct hs_run_hooks {
	/* Before the command may start, while the sandbox sets itself up
	 * (the audit's run.start); a failure ends the run, nothing started.
	 * Called again after a best-effort respawn: it must do its work once. */
	int (*prestart)(void *ctx, struct hs_error *err);
	hs_run_started_fn started;
	hs_exec_hook on_exec; /* with plan->intercept_exec: every execve, before it proceeds */
	void *ctx;
	struct event_base *base; /* the loop to supervise in (NULL: a private one); the
				    caller's own events on it run alongside */
	hs_proxy_record_fn on_net; /* with plan->proxy: every connection's decision and end */
};

/* Runs the plan to completion. Returns 0 when the command ran (whatever it
 * exited with: see res), -1 when the sandbox could not be set up or a hook
 * ended the run (err). */
int hs_run_plan(struct hs_plan *plan, const struct hs_run_hooks *hooks, struct hs_run_result *res,
		struct hs_error *err);

/* The exit status harness reports for a finished run (see docs/exit-codes.md). */
int hs_run_exit_code(const struct hs_run_result *res);

#endif
