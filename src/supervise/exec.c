/*
 * exec.c: exec interception (see exec.h).
 */
#define _GNU_SOURCE
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/* Copies len bytes at addr in pid's memory (process_vm_readv: no
 * /proc/PID/mem to open, one call for many pieces). Returns the bytes read,
 * which stop at the first unreadable one. */
static ssize_t peek(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = {.iov_base = buf, .iov_len = len};
	struct iovec remote = {.iov_base = (void *)(uintptr_t)addr, .iov_len = len};
	return process_vm_readv(pid, &local, 1, &remote, 1, 0);
}

/* Reads a NUL-terminated string at addr, at most len-1 bytes. Returns its
 * length, or -1 if unreadable or not terminated within the bound. */
static ssize_t read_string(pid_t pid, uint64_t addr, char *buf, size_t len)
{
	size_t got = 0;
	while (got + 1 < len) {
		/* Read up to the end of the page: a string may end just before
		 * an unmapped one. */
		size_t page = 4096 - ((addr + got) & 4095);
		size_t want = len - 1 - got < page ? len - 1 - got : page;
		ssize_t n = peek(pid, addr + got, buf + got, want);
		if (n <= 0)
			return -1;
		char *nul = memchr(buf + got, '\0', (size_t)n);
		if (nul)
			return nul - buf;
		got += (size_t)n;
	}
	buf[len - 1] = '\0';
	return -1;
}

#define PTR_BATCH 64 /* argv pointers fetched per call */

static void read_argv(pid_t pid, uint64_t argv_addr, struct hs_exec_request *req)
{
	char arg[HS_EXEC_MAX_ARG];
	uint64_t ptrs[PTR_BATCH];
	size_t have = 0, base = 0, total = 0;
	for (size_t i = 0; argv_addr; i++) {
		if (i == HS_EXEC_MAX_ARGS || total >= HS_EXEC_MAX_TOTAL) {
			req->truncated = true;
			return;
		}
		if (i - base >= have) {
			/* The next batch of pointers, up to the end of their page
			 * (the array may end just before an unmapped one). */
			uint64_t at = argv_addr + i * sizeof(uint64_t);
			size_t room = (4096 - (at & 4095)) / sizeof(uint64_t);
			size_t want = room < PTR_BATCH ? room : PTR_BATCH;
			if (want == 0)
				want = 1;
			ssize_t n = peek(pid, at, ptrs, want * sizeof(uint64_t));
			if (n < (ssize_t)sizeof(uint64_t))
				return;
			base = i;
			have = (size_t)n / sizeof(uint64_t);
		}
		uint64_t p = ptrs[i - base];
		if (!p)
			return;
		ssize_t n = read_string(pid, p, arg, sizeof(arg));
		if (n < 0) {
			req->truncated = true;
			n = (ssize_t)strlen(arg);
		}
		total += (size_t)n + 1;
		hs_strv_push(&req->argv, arg);
	}
}

/* Does `path` name something in the caller's view of the filesystem?
 * execvp tries every PATH directory in turn; the misses fail with ENOENT and
 * are not worth a record. Resolved inside the caller's root (/proc/PID/root
 * with RESOLVE_IN_ROOT, so its absolute symlinks stay inside). When this
 * cannot be told (old kernel, no access), the answer is yes. */
static bool path_exists_inside(unsigned pid, const char *path, const char *cwd, int *root_cache)
{
	char p[64], abs[8192];
	if (!path[0])
		return true;
	if (*root_cache < 0) {
		snprintf(p, sizeof(p), "/proc/%u/root", pid);
		*root_cache = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	int root = *root_cache;
	if (root < 0)
		return true;
	if (path[0] == '/')
		snprintf(abs, sizeof(abs), "%s", path);
	else
		snprintf(abs, sizeof(abs), "%s/%s", cwd[0] ? cwd : "/", path);
	struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT};
	int fd = (int)syscall(SYS_openat2, root, abs, &how, sizeof(how));
	int e = errno;
	if (fd >= 0) {
		close(fd);
		return true;
	}
	return !(e == ENOENT || e == ENOTDIR);
}

static void read_request(const struct seccomp_notif *n, struct hs_exec_request *req,
			 int *root_cache)
{
	char p[64];
	memset(req, 0, sizeof(*req));
	req->id = n->id;
	req->pid = (pid_t)n->pid;
	bool at = n->data.nr == (int)SYS_execveat;
	uint64_t path = at ? n->data.args[1] : n->data.args[0];
	uint64_t argv = at ? n->data.args[2] : n->data.args[1];
	if (read_string((pid_t)n->pid, path, req->path, sizeof(req->path)) < 0)
		req->path[0] = '\0';
	read_argv((pid_t)n->pid, argv, req);
	snprintf(p, sizeof(p), "/proc/%u/cwd", n->pid);
	ssize_t len = readlink(p, req->cwd, sizeof(req->cwd) - 1);
	req->cwd[len > 0 ? len : 0] = '\0';
	req->found = path_exists_inside(n->pid, req->path, req->cwd, root_cache);
}

int hs_exec_handle(int fd, hs_exec_hook hook, void *ctx, int *root_cache, struct hs_error *err)
{
	struct seccomp_notif n;
	struct seccomp_notif_resp resp;
	struct hs_exec_request req;
	int rc = 0;
	memset(&n, 0, sizeof(n)); /* the kernel insists */
	if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &n) < 0) {
		/* ENOENT: the caller died before we got to it; nothing to do. */
		if (errno == ENOENT || errno == EINTR)
			return 0;
		return hs_err_sys(err, "exec interception: receive");
	}
	read_request(&n, &req, root_cache);
	req.notify_fd = fd;
	/* What we read belongs to this very call only if the notification is
	 * still pending (the pid could have died and been reused). */
	if (ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &n.id) < 0) {
		hs_strv_clear(&req.argv);
		return 0;
	}
	/* Arguments we cannot read cannot be recorded or judged: refuse the
	 * exec (the kernel would have failed a bad pointer anyway). */
	int decision = !req.path[0] ? EPERM : hook ? hook(ctx, &req) : 0;
	if (decision == HS_EXEC_DEFER) { /* the hook's owner answers later */
		hs_strv_clear(&req.argv);
		return 0;
	}
	if (!req.path[0])
		hs_exec_tell(req.pid, "harness: refused an exec whose path could not be read by the "
				      "supervisor\n");
	memset(&resp, 0, sizeof(resp));
	resp.id = n.id;
	if (decision == 0) {
		resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	} else {
		resp.error = -(decision > 0 ? decision : EPERM);
		if (decision < 0)
			rc = hs_err(err, "exec of %s refused: the run is ending",
				    req.path[0] ? req.path : "(unreadable)");
	}
	/* ENOENT: the caller died meanwhile; fine. */
	if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0 && errno != ENOENT && rc == 0)
		rc = hs_err_sys(err, "exec interception: respond");
	hs_strv_clear(&req.argv);
	return rc;
}

int hs_exec_respond(int notify_fd, uint64_t id, int error)
{
	struct seccomp_notif_resp resp;
	memset(&resp, 0, sizeof(resp));
	resp.id = id;
	if (error == 0)
		resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	else
		resp.error = -error;
	/* ENOENT: the caller died meanwhile (or the sandbox is gone). */
	if (ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

bool hs_exec_pending(int notify_fd, uint64_t id)
{
	return ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

void hs_exec_tell(pid_t pid, const char *msg)
{
	/* The caller's own stderr (its fd 2, which may be a pipe its parent
	 * reads, not the terminal), borrowed through its pidfd. */
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return;
	int fd = (int)syscall(SYS_pidfd_getfd, pidfd, 2, 0);
	close(pidfd);
	if (fd < 0)
		return;
	/* The sandbox controls that fd: a full pipe must not stall the
	 * supervisor (its loop also runs the wall-clock limit). Write only if
	 * it is writable now, at most one pipe buffer, in one call. */
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	size_t len = strlen(msg);
	if (len > 512)
		len = 512;
	if (poll(&p, 1, 0) == 1 && (p.revents & POLLOUT))
		(void)!write(fd, msg, len);
	close(fd);
}
