/*
 * run.c: one whole sandboxed run (see run.h).
 */
#define _GNU_SOURCE
#include "run.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/wait.h>

#include <event2/event.h>

/* The sandbox could not be supervised: take it down (pid 1's death ends
 * the pid namespace) and reap it. */
static void kill_child(struct hs_child *c)
{
	syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0);
	siginfo_t si;
	waitid((idtype_t)P_PIDFD, (id_t)c->pidfd, &si, WEXITED);
	c->pid = -1;
}

int hs_run_plan(struct hs_plan *plan, const struct hs_run_hooks *hooks, struct hs_run_result *res,
		struct hs_error *err)
{
	static const struct hs_run_hooks none;
	if (!hooks)
		hooks = &none;
	struct hs_cgroup cg;
	struct hs_child child;
	sigset_t oldmask;
	memset(res, 0, sizeof(*res));
	res->workspace_fd = -1;
	/* Compiled here, in a process that owns its memory, rather than by
	 * pid 1 after the clone, where every page libseccomp touches is a
	 * copy-on-write fault on the sandbox's critical path. */
	hs_seccomp_prog_free(&plan->seccomp);
	if (hs_seccomp_build(&plan->seccomp, plan->intercept_exec, err) < 0)
		return -1;
	if (hs_cgroup_create(&plan->limits, &cg, err) < 0)
		return -1;
	res->cgroup = cg.kind[0] != '\0';
	/* Block the signals the loop takes before the child exists, so a
	 * Ctrl-C in between is forwarded rather than lost. */
	hs_supervise_block_signals(&oldmask);
	struct hs_prestart pre = {.fn = hooks->prestart, .ctx = hooks->ctx};
	int r = hs_spawn(plan, &cg, &child, &pre, err);
	/* No fallback for a workspace: without a mount namespace there is no
	 * overlay, and the command would write to the real tree. */
	if (r < 0 && plan->best_effort && plan->userns && !plan->workspace &&
	    strstr(err->msg, "namespaces")) {
		res->fell_back = true;
		snprintf(res->fallback_why, sizeof(res->fallback_why), "%s", err->msg);
		hs_plan_without_namespaces(plan);
		hs_error_clear(err);
		r = hs_spawn(plan, &cg, &child, &pre, err);
	}
	if (r < 0) {
		hs_cgroup_destroy(&cg);
		sigprocmask(SIG_SETMASK, &oldmask, NULL);
		return -1;
	}
	res->layers = child.layers;
	res->landlock_abi = child.landlock_abi;
	if (hooks->started)
		hooks->started(res, hooks->ctx);
	/* One loop for everything: the caller's, or ours. */
	struct event_base *base = hooks->base ? hooks->base : hs_event_base_new();
	struct hs_proxy *proxy = NULL;
	if (!base) {
		r = hs_err(err, "cannot set up the supervisor's event loop");
	} else if (child.proxy_http_fd >= 0 || child.proxy_socks_fd >= 0) {
		struct hs_proxy_config pc = {.rules = plan->net_rules, .record = hooks->on_net,
					     .ctx = hooks->ctx};
		struct hs_proxy_sockets ps = {.http = child.proxy_http_fd,
					      .socks = child.proxy_socks_fd,
					      .tls = child.proxy_tls_fd,
					      .plain = child.proxy_plain_fd,
					      .dns = child.proxy_dns_fd};
		proxy = hs_proxy_new(base, &pc, &ps, err);
		/* the proxy owns them */
		child.proxy_http_fd = child.proxy_socks_fd = -1;
		child.proxy_tls_fd = child.proxy_plain_fd = child.proxy_dns_fd = -1;
		r = proxy ? 0 : -1;
	} else if (plan->proxy) {
		r = hs_err(err, "the sandbox did not hand over the proxy's listeners");
	}
	if (r == 0)
		r = hs_supervise(&child, plan, base, hooks->on_exec, hooks->ctx, &res->out, err);
	else
		kill_child(&child);
	if (proxy) {
		hs_proxy_stats(proxy, &res->net);
		hs_proxy_free(proxy); /* records the connections still open */
	}
	if (base && base != hooks->base)
		event_base_free(base);
	if (!plan->userns)
		hs_cgroup_kill_all(&cg); /* no pid namespace took the leftovers down */
	hs_close(&child.sock);
	hs_close(&child.pidfd);
	hs_close(&child.notify_fd);
	hs_close(&child.proxy_http_fd);
	hs_close(&child.proxy_socks_fd);
	hs_close(&child.proxy_tls_fd);
	hs_close(&child.proxy_plain_fd);
	hs_close(&child.proxy_dns_fd);
	if (r == 0 && plan->workspace && child.workspace_fd < 0)
		r = hs_err(err, "the sandbox did not hand over its workspace");
	if (r == 0) {
		res->workspace_fd = child.workspace_fd;
		child.workspace_fd = -1;
	}
	hs_close(&child.workspace_fd);
	hs_cgroup_events(&cg, &res->oom_killed, &res->pids_max_hit);
	hs_cgroup_destroy(&cg);
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	return r;
}

int hs_run_exit_code(const struct hs_run_result *res)
{
	const struct hs_outcome *out = &res->out;
	if (out->timed_out)
		return HS_EXIT_TIMEOUT;
	if (out->setup_error[0])
		return HS_EXIT_HARNESS;
	if (out->exec_errno)
		return out->exec_errno == ENOENT ? HS_EXIT_NOTFOUND : HS_EXIT_NOEXEC;
	if (WIFEXITED(out->status))
		return WEXITSTATUS(out->status);
	return 128 + (WIFSIGNALED(out->status) ? WTERMSIG(out->status) : SIGKILL);
}
