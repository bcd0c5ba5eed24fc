/*
 * spawn.c: starts the sandbox. One clone3() creates pid 1 of the sandbox in
 * new user, mount, pid, net, ipc, uts and cgroup namespaces and hands us a
 * pidfd for it; a SOCK_SEQPACKET socketpair carries the numbered sync
 * points (see enum hs_msg_type):
 *
 *   supervisor                         child (init.c)
 *   clone3 ----------------------->    PDEATHSIG, wait for GO
 *   attach cgroup, send GO(uid,gid) -> id maps, mount view, fences, fork cmd
 *   wait for READY or ERROR  <------   READY(layers) | ERROR(text)
 *
 * Unprivileged: clone3 with CLONE_NEWUSER needs no capability; the child
 * maps only our own uid and gid.
 */
#define _GNU_SOURCE
#include "sandbox.h"

#include <errno.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long clone3_raw(struct clone_args *args)
{
	return syscall(SYS_clone3, args, sizeof(*args));
}

/* Why unprivileged user namespaces failed, with the remedy. */
static void userns_remedy(int e, char *buf, size_t len)
{
	char v[16] = "";
	FILE *f = fopen("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "re");
	if (f) {
		if (!fgets(v, sizeof(v), f))
			v[0] = '\0';
		fclose(f);
	}
	if (v[0] == '1') {
		snprintf(buf, len,
			 "AppArmor restricts unprivileged user namespaces on this system "
			 "(kernel.apparmor_restrict_unprivileged_userns=1, as on Ubuntu 24.04); "
			 "allow harness with an AppArmor profile ('userns,') or run "
			 "'sysctl kernel.apparmor_restrict_unprivileged_userns=0', or use "
			 "--best-effort (Landlock + seccomp + rlimits only)");
		return;
	}
	f = fopen("/proc/sys/user/max_user_namespaces", "re");
	if (f) {
		if (fgets(v, sizeof(v), f) && atoi(v) == 0) {
			fclose(f);
			snprintf(buf, len,
				 "user namespaces are disabled (user.max_user_namespaces=0); "
				 "enable them with 'sysctl user.max_user_namespaces=15000', or use "
				 "--best-effort");
			return;
		}
		fclose(f);
	}
	snprintf(buf, len,
		 "the kernel refused to create a user namespace (%s); inside a container "
		 "this usually means its seccomp profile forbids it (docker: "
		 "--security-opt seccomp=unconfined); 'harness check' shows what is "
		 "available; --best-effort runs with Landlock + seccomp + rlimits only",
		 strerror(e));
}

#define READY_FDS_MAX 7

/* One message, and the fds that came with it (SCM_RIGHTS), at most
 * READY_FDS_MAX. */
static ssize_t recv_msg_fds(int sock, struct hs_msg *m, int fds[READY_FDS_MAX], size_t *nfds)
{
	struct iovec iov = {.iov_base = m, .iov_len = sizeof(*m)};
	union {
		char buf[CMSG_SPACE(sizeof(int) * READY_FDS_MAX)];
		struct cmsghdr align;
	} c;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
			    .msg_controllen = sizeof(c.buf)};
	*nfds = 0;
	ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	for (struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL; cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(int))) {
			size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
				if (*nfds < READY_FDS_MAX)
					fds[(*nfds)++] = fd;
				else
					close(fd);
			}
		}
	return n;
}

static void close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

static int wait_ready(struct hs_child *c, struct hs_error *err)
{
	struct hs_msg m;
	for (;;) {
		int fds[READY_FDS_MAX];
		size_t nfds;
		ssize_t n = recv_msg_fds(c->sock, &m, fds, &nfds);
		if (nfds && (n <= 0 || m.type != HS_MSG_READY)) {
			close_fds(fds, nfds); /* only READY may carry fds */
			nfds = 0;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int status = 0;
			waitpid(c->pid, &status, 0);
			c->pid = -1;
			return hs_err(err, "the sandbox failed to start (its setup process exited "
					   "with status %d before reporting)", status);
		}
		if (m.type == HS_MSG_READY) {
			c->layers = (unsigned)m.value & 0xffff;
			c->landlock_abi = m.value >> 16;
			/* m.text names each fd: n(otify), h(ttp), s(ocks),
			 * t(ls), p(lain HTTP), d(ns). */
			m.text[sizeof(m.text) - 1] = '\0';
			if (strlen(m.text) != nfds) {
				close_fds(fds, nfds);
				return hs_err(err, "the sandbox reported %zu fds for \"%s\"", nfds,
					      m.text);
			}
			for (size_t i = 0; i < nfds; i++) {
				int *slot = m.text[i] == 'n' ? &c->notify_fd
					    : m.text[i] == 'h' ? &c->proxy_http_fd
					    : m.text[i] == 's' ? &c->proxy_socks_fd
					    : m.text[i] == 't' ? &c->proxy_tls_fd
					    : m.text[i] == 'p' ? &c->proxy_plain_fd
					    : m.text[i] == 'd' ? &c->proxy_dns_fd
					    : m.text[i] == 'u' ? &c->workspace_fd
							       : NULL;
				if (slot && *slot < 0)
					*slot = fds[i];
				else
					close(fds[i]);
			}
			return 0;
		}
		if (m.type == HS_MSG_ERROR) {
			waitpid(c->pid, NULL, 0);
			c->pid = -1;
			m.text[sizeof(m.text) - 1] = '\0';
			return hs_err(err, "sandbox setup failed: %s", m.text);
		}
		/* An EXECFAIL can arrive before READY only through a race we
		 * don't have (READY is sent after fork, EXECFAIL by the command):
		 * keep it for the supervisor by re-queueing is not possible on a
		 * socket, so treat it as authoritative here too. */
		if (m.type == HS_MSG_EXECFAIL) {
			c->exec_errno_early = m.value;
			continue;
		}
	}
}

bool hs_plan_exec_waits(const struct hs_plan *plan)
{
	return plan->intercept_exec && plan->userns;
}

int hs_spawn(const struct hs_plan *plan, const struct hs_cgroup *cg, struct hs_child *c,
	     const struct hs_prestart *pre, struct hs_error *err)
{
	int sv[2];
	memset(c, 0, sizeof(*c));
	c->pid = -1;
	c->pidfd = -1;
	c->sock = -1;
	c->notify_fd = -1;
	c->proxy_http_fd = -1;
	c->proxy_socks_fd = -1;
	c->proxy_tls_fd = -1;
	c->proxy_plain_fd = -1;
	c->proxy_dns_fd = -1;
	c->workspace_fd = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return hs_err_sys(err, "socketpair");

	int pidfd = -1;
	struct clone_args args;
	memset(&args, 0, sizeof(args));
	args.flags = CLONE_PIDFD;
	if (plan->userns)
		args.flags |= CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET |
			      CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP;
	args.pidfd = (uint64_t)(uintptr_t)&pidfd;
	args.exit_signal = SIGCHLD;

	uid_t uid = geteuid();
	gid_t gid = getegid();
	long pid = clone3_raw(&args);
	if (pid < 0 && errno == ENOSYS) {
		/* clone3 refused outright (Docker's default seccomp profile answers
		 * ENOSYS): the classic clone takes the same flags, and with
		 * CLONE_PIDFD returns the pidfd through its parent_tid argument.
		 * A zero stack makes it behave like fork. */
		pid = syscall(SYS_clone, (unsigned long)args.flags | SIGCHLD, 0UL, &pidfd, 0UL, 0UL);
	}
	if (pid < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		if (plan->userns && (e == EPERM || e == ENOSPC || e == EUSERS || e == EACCES)) {
			char why[512];
			userns_remedy(e, why, sizeof(why));
			return hs_err(err, "cannot create the sandbox's namespaces: %s", why);
		}
		errno = e;
		return hs_err_sys(err, "clone3");
	}
	if (pid == 0) {
		close(sv[0]);
		hs_init_main(plan, cg, sv[1]);
	}
	close(sv[1]);
	c->pid = (pid_t)pid;
	c->pidfd = pidfd;
	c->sock = sv[0];

	struct hs_msg go;
	memset(&go, 0, sizeof(go));
	go.type = HS_MSG_GO;
	go.value = (int)uid;
	snprintf(go.text, sizeof(go.text), "%u", (unsigned)gid);
	if (send(c->sock, &go, sizeof(go), MSG_NOSIGNAL) < 0) {
		hs_err_sys(err, "start the sandbox");
		goto fail;
	}
	/* Moving a task between cgroups waits for an RCU grace period (ms):
	 * we do it while the child builds its mount view, and the child waits
	 * for ATTACHED only before it forks the command. */
	if (cg && hs_cgroup_attach(cg, c->pid, err) < 0)
		goto fail;
	/* The caller's own start-up work (opening the audit stores, writing
	 * run.start) runs here, on this CPU, while the child builds its root
	 * and fences itself on another. The command must not start before it
	 * is done. With exec interception, the command's first execve stops
	 * in the kernel until the supervisor answers, which it does only
	 * after this: pid 1 may fork it at once. Without, ATTACHED (what lets
	 * pid 1 fork it) waits for the work. */
	bool exec_waits = hs_plan_exec_waits(plan);
	if (!exec_waits && pre && pre->fn && pre->fn(pre->ctx, err) < 0)
		goto fail;
	go.type = HS_MSG_ATTACHED;
	/* EPIPE: the child already failed; its ERROR message waits in the
	 * socket, and wait_ready reports it. */
	if (send(c->sock, &go, sizeof(go), MSG_NOSIGNAL) < 0 && errno != EPIPE &&
	    errno != ECONNRESET) {
		hs_err_sys(err, "start the sandbox");
		goto fail;
	}
	if (exec_waits && pre && pre->fn && pre->fn(pre->ctx, err) < 0)
		goto fail;
	if (wait_ready(c, err) < 0) {
		hs_close(&c->sock);
		hs_close(&c->pidfd);
		return -1;
	}
	return 0;
fail:
	kill(c->pid, SIGKILL);
	waitpid(c->pid, NULL, 0);
	c->pid = -1;
	hs_close(&c->sock);
	hs_close(&c->pidfd);
	return -1;
}
