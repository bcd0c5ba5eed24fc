/*
 * probe.c: finds out which sandbox layers this kernel and this user can use,
 * for `harness check` and for the launcher's fail-closed decisions.
 *
 * Anything that changes process state (unshare, maps, mounts) runs in one
 * throwaway child that reports through a pipe; the parent only reads files
 * and asks side-effect-free questions (Landlock ABI version, seccomp action
 * availability, pidfd_open on itself). The whole probe takes a few ms.
 */
#define _GNU_SOURCE
#include "probe.h"

#include "../common/common.h"
#include "fence.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROBE_TIMEOUT_MS 2000

/* ---- small file readers ---- */

/* Reads the first line of a small file, newline stripped. */
static bool read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	bool ok = fgets(buf, (int)len, f) != NULL;
	fclose(f);
	if (ok)
		buf[strcspn(buf, "\n")] = '\0';
	return ok;
}

/* Reads a sysctl-like integer; false when the file is absent or garbled. */
static bool read_long(const char *path, long *out)
{
	char buf[64];
	if (!read_line(path, buf, sizeof(buf)))
		return false;
	char *end;
	errno = 0;
	*out = strtol(buf, &end, 10);
	return errno == 0 && end != buf;
}

static bool sysctl_is(const char *path, long want)
{
	long v;
	return read_long(path, &v) && v == want;
}

/* "Seccomp:\t2" in /proc/self/status: we already run under a filter. */
static bool under_seccomp_filter(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	if (!f)
		return false;
	char line[256];
	bool filtered = false;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "Seccomp:", 8) == 0)
			filtered = atoi(line + 8) == 2;
	fclose(f);
	return filtered;
}

/* ---- namespaces and overlayfs, in a throwaway child ---- */

static const int ns_flags[] = {CLONE_NEWNS,  CLONE_NEWPID, CLONE_NEWNET,
			       CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWCGROUP};
#define NS_COUNT (sizeof(ns_flags) / sizeof(ns_flags[0]))

/* What the child found; every field is an errno, 0 meaning success. */
struct ns_report {
	int userns_err;
	int map_err;
	int ns_err[NS_COUNT];
	int overlay_err;
};

/* Map strings are formatted before fork so the child stays simple. */
struct ns_maps {
	char uid_map[64];
	char gid_map[64];
};

static int write_maps(const struct ns_maps *maps)
{
	if (hs_write_file("/proc/self/setgroups", "deny") < 0 && errno != ENOENT)
		return errno;
	if (hs_write_file("/proc/self/uid_map", maps->uid_map) < 0)
		return errno;
	if (hs_write_file("/proc/self/gid_map", maps->gid_map) < 0)
		return errno;
	return 0;
}

static int mount_overlay(const char *opts)
{
	return mount("overlay", "/tmp/m", "overlay", 0, opts) < 0 ? errno : 0;
}

/* Mounts an overlay over tmpfs directories. Safety: only called in the
 * probe child after unshare(CLONE_NEWNS) succeeded, and everything is made
 * private first, so no mount made here is visible outside the child. */
static int try_overlay(void)
{
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return errno;
	if (mount("tmpfs", "/tmp", "tmpfs", 0, "size=64k,mode=0700") < 0)
		return errno;
	static const char *const dirs[] = {"/tmp/l", "/tmp/u", "/tmp/w", "/tmp/m"};
	for (size_t i = 0; i < HS_ARRAY_LEN(dirs); i++)
		if (mkdir(dirs[i], 0700) < 0)
			return errno;
	/* Exactly what the workspace mounts (init.c overlay_workspace): an
	 * upper layer on tmpfs, the marks in user.* xattrs. */
	return mount_overlay("lowerdir=/tmp/l,upperdir=/tmp/u,workdir=/tmp/w,userxattr,"
			     "redirect_dir=nofollow,metacopy=off");
}

static void ns_child(int fd, const struct ns_maps *maps)
{
	struct ns_report r;
	memset(&r, 0, sizeof(r));
	r.overlay_err = ENOTSUP;
	r.userns_err = unshare(CLONE_NEWUSER) < 0 ? errno : 0;
	if (r.userns_err == 0) {
		r.map_err = write_maps(maps);
		for (size_t i = 0; i < NS_COUNT; i++)
			r.ns_err[i] = unshare(ns_flags[i]) < 0 ? errno : 0;
		if (r.map_err == 0 && r.ns_err[0] == 0)
			r.overlay_err = try_overlay();
	}
	(void)!write(fd, &r, sizeof(r));
	_exit(0);
}

/* Reads the child's report, killing it if it takes too long. */
static bool collect_report(pid_t pid, int fd, struct ns_report *r)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	bool ok = false;
	int n;
	do
		n = poll(&pfd, 1, PROBE_TIMEOUT_MS);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		ok = read(fd, r, sizeof(*r)) == (ssize_t)sizeof(*r);
	else
		kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return ok;
}

/* Forks a probe child running child(write end, maps of the caller's own
 * ids); returns its pid (-1 on failure) and the read end in *rfd. */
static pid_t fork_probe(void (*child)(int, const struct ns_maps *), int *rfd)
{
	struct ns_maps maps;
	snprintf(maps.uid_map, sizeof(maps.uid_map), "%u %u 1\n", getuid(), getuid());
	snprintf(maps.gid_map, sizeof(maps.gid_map), "%u %u 1\n", getgid(), getgid());
	int p[2];
	*rfd = -1;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		child(p[1], &maps);
	}
	close(p[1]);
	*rfd = p[0];
	return pid;
}

static bool run_ns_child(struct ns_report *r)
{
	int rfd;
	pid_t pid = fork_probe(ns_child, &rfd);
	bool ok = pid > 0 && collect_report(pid, rfd, r);
	if (rfd >= 0)
		close(rfd);
	return ok;
}

/* The workspace's overlay alone (hs_probe_overlay_userns): a user and a
 * mount namespace, nothing else, so that a run can ask cheaply. */
static void overlay_child(int fd, const struct ns_maps *maps)
{
	int e = ENOTSUP;
	if (unshare(CLONE_NEWUSER) == 0 && write_maps(maps) == 0 && unshare(CLONE_NEWNS) == 0)
		e = try_overlay();
	(void)!write(fd, &e, sizeof(e));
	_exit(0);
}

bool hs_probe_overlay_userns(void)
{
	int rfd;
	pid_t pid = fork_probe(overlay_child, &rfd);
	if (rfd < 0)
		return false;
	int e = ENOTSUP;
	struct pollfd pfd = {.fd = rfd, .events = POLLIN};
	int n = -1;
	while (pid > 0 && (n = poll(&pfd, 1, PROBE_TIMEOUT_MS)) < 0 && errno == EINTR)
		;
	if (n > 0 && read(rfd, &e, sizeof(e)) != (ssize_t)sizeof(e))
		e = ENOTSUP;
	if (pid > 0 && n <= 0)
		kill(pid, SIGKILL);
	while (pid > 0 && waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	close(rfd);
	return e == 0;
}

static void explain_userns_error(int e, char *why, size_t len)
{
	if (sysctl_is("/proc/sys/user/max_user_namespaces", 0))
		snprintf(why, len,
			 "user namespaces are disabled (user.max_user_namespaces = 0); "
			 "enable: sysctl -w user.max_user_namespaces=15000");
	else if (geteuid() != 0 && sysctl_is("/proc/sys/kernel/unprivileged_userns_clone", 0))
		snprintf(why, len,
			 "unprivileged user namespaces are disabled "
			 "(kernel.unprivileged_userns_clone = 0); enable: "
			 "sysctl -w kernel.unprivileged_userns_clone=1");
	else if (e == EPERM && under_seccomp_filter())
		snprintf(why, len,
			 "a seccomp filter refuses it (the default in Docker/Podman "
			 "containers); run the container with --security-opt "
			 "seccomp=unconfined, or a profile allowing CLONE_NEWUSER");
	else if (e == ENOSPC)
		snprintf(why, len,
			 "user namespace limit reached (user.max_user_namespaces, or "
			 "nesting deeper than 32)");
	else if (e == EPERM)
		snprintf(why, len,
			 "refused (EPERM): chrooted, or blocked by a security module or "
			 "container runtime");
	else
		snprintf(why, len, "unshare(CLONE_NEWUSER) failed: %s", strerror(e));
}

/* The namespace was created but is useless: its uid map or a mount
 * namespace inside it was refused. On Ubuntu >= 23.10 that is AppArmor,
 * which lets unshare succeed and then withholds every capability. */
static void explain_powerless_userns(const char *step, int e, char *why, size_t len)
{
	if (sysctl_is("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", 1))
		snprintf(why, len,
			 "AppArmor restricts unprivileged user namespaces (Ubuntu >= "
			 "23.10); allow: sysctl -w "
			 "kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor "
			 "profile for harness with the 'userns,' rule");
	else
		snprintf(why, len, "user namespace created but %s was refused inside it: %s", step,
			 strerror(e));
}

static void probe_namespaces(struct hs_probe *out)
{
	struct ns_report r;
	if (!run_ns_child(&r)) {
		snprintf(out->userns_why, sizeof(out->userns_why),
			 "the probe child died or hung before reporting (a seccomp filter or "
			 "security module that kills on unshare?)");
		return;
	}
	if (r.userns_err != 0) {
		explain_userns_error(r.userns_err, out->userns_why, sizeof(out->userns_why));
		return;
	}
	if (r.map_err != 0 || r.ns_err[0] != 0) {
		bool map = r.map_err != 0;
		explain_powerless_userns(map ? "the uid/gid map" : "a mount namespace",
					 map ? r.map_err : r.ns_err[0], out->userns_why,
					 sizeof(out->userns_why));
		return;
	}
	out->userns = true;
	bool *ns_ok[NS_COUNT] = {&out->mountns, &out->pidns, &out->netns,
				 &out->ipcns,	&out->utsns, &out->cgroupns};
	for (size_t i = 0; i < NS_COUNT; i++)
		*ns_ok[i] = r.ns_err[i] == 0;
	out->overlay_userns = r.overlay_err == 0;
}

/* ---- seccomp, pidfd, kernel ---- */

static bool seccomp_action_available(uint32_t action)
{
	return syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0;
}

static void probe_seccomp(struct hs_probe *out)
{
	/* The filter needs errno returns and KILL_PROCESS (for foreign ABIs). */
	out->seccomp = seccomp_action_available(SECCOMP_RET_ERRNO) &&
		       seccomp_action_available(SECCOMP_RET_KILL_PROCESS);
	out->seccomp_notify = out->seccomp && seccomp_action_available(SECCOMP_RET_USER_NOTIF);
}

static void probe_pidfd(struct hs_probe *out)
{
	int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	out->pidfd = fd >= 0;
	if (fd >= 0)
		close(fd);
}

static void probe_kernel(struct hs_probe *out)
{
	struct utsname u;
	if (uname(&u) == 0)
		snprintf(out->kernel, sizeof(out->kernel), "%s", u.release);
}

/* ---- cgroups ---- */

/* Our cgroup paths from /proc/self/cgroup ("" when absent). */
struct self_cgroups {
	char v2[PATH_MAX];
	char memory[PATH_MAX];
	char pids[PATH_MAX];
};

static bool list_has(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; p && *p;) {
		if (strncmp(p, word, n) == 0 && (p[n] == ',' || p[n] == '\0' || p[n] == ' '))
			return true;
		p = strpbrk(p, ", ");
		if (p)
			p++;
	}
	return false;
}

/* One line "hierarchy:controllers:path"; the path may contain ':'. */
static void parse_cgroup_line(char *line, struct self_cgroups *sc)
{
	line[strcspn(line, "\n")] = '\0';
	char *c1 = strchr(line, ':');
	char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (!c2)
		return;
	*c1 = *c2 = '\0';
	const char *ctrl = c1 + 1, *path = c2 + 1;
	if (strcmp(line, "0") == 0 && *ctrl == '\0')
		snprintf(sc->v2, sizeof(sc->v2), "%s", path);
	if (list_has(ctrl, "memory"))
		snprintf(sc->memory, sizeof(sc->memory), "%s", path);
	if (list_has(ctrl, "pids"))
		snprintf(sc->pids, sizeof(sc->pids), "%s", path);
}

static void read_self_cgroups(struct self_cgroups *sc)
{
	memset(sc, 0, sizeof(*sc));
	FILE *f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return;
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0)
		parse_cgroup_line(line, sc);
	free(line);
	fclose(f);
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

/* A cgroup mount: where it is mounted and which cgroup is its root. */
struct cg_mount {
	char dir[PATH_MAX];
	char root[PATH_MAX];
};

/* Matches one mountinfo line against fstype (and, for v1, a controller in
 * the super options). Fields: id parent dev root mountpoint opts ... - type
 * source superopts. */
static bool match_mount_line(char *line, const char *fstype, const char *controller,
			     struct cg_mount *m)
{
	char *sep = strstr(line, " - ");
	if (!sep)
		return false;
	*sep = '\0';
	char type[32], superopts[512];
	if (sscanf(sep + 3, "%31s %*s %511s", type, superopts) != 2 || strcmp(type, fstype) != 0)
		return false;
	if (controller && !list_has(superopts, controller))
		return false;
	char root[PATH_MAX], dir[PATH_MAX];
	if (sscanf(line, "%*s %*s %*s %4095s %4095s", root, dir) != 2)
		return false;
	unescape_octal(root);
	unescape_octal(dir);
	snprintf(m->root, sizeof(m->root), "%s", root);
	snprintf(m->dir, sizeof(m->dir), "%s", dir);
	return true;
}

static bool find_cgroup_mount(const char *fstype, const char *controller, struct cg_mount *m)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return false;
	char *line = NULL;
	size_t cap = 0;
	bool found = false;
	while (!found && getline(&line, &cap, f) > 0)
		found = match_mount_line(line, fstype, controller, m);
	free(line);
	fclose(f);
	return found;
}

/* Directory of cgroup `path` under mount m (the mount may show a subtree,
 * as in containers, whose root is then a prefix of our path). */
static bool cgroup_dir(const struct cg_mount *m, const char *path, char *out, size_t len)
{
	size_t rl = strlen(m->root);
	if (strcmp(m->root, "/") != 0 && strncmp(path, m->root, rl) == 0)
		path += rl;
	int n = snprintf(out, len, "%s%s%s", m->dir, *path == '/' ? "" : "/", path);
	return n > 0 && (size_t)n < len;
}

/* A path too long for the report is treated as unusable, never truncated. */
static bool set_cgroup_path(struct hs_probe *out, const char *dir)
{
	size_t n = strlen(dir);
	if (n >= sizeof(out->cgroup_path))
		return false;
	memcpy(out->cgroup_path, dir, n + 1);
	return true;
}

static bool v2_has_controllers(const char *dir)
{
	char path[PATH_MAX + 32], ctrls[512];
	snprintf(path, sizeof(path), "%s/cgroup.controllers", dir);
	return read_line(path, ctrls, sizeof(ctrls)) && list_has(ctrls, "memory") &&
	       list_has(ctrls, "pids");
}

static bool probe_cgroup_v2(struct hs_probe *out, const struct self_cgroups *sc)
{
	struct cg_mount m;
	if (!find_cgroup_mount("cgroup2", NULL, &m))
		return false;
	out->cgroup2 = true;
	char dir[PATH_MAX];
	if (!sc->v2[0] || !cgroup_dir(&m, sc->v2, dir, sizeof(dir)))
		return false;
	if (!v2_has_controllers(dir) || access(dir, W_OK) != 0)
		return false;
	return set_cgroup_path(out, dir);
}

/* v1 (hybrid hosts): writable memory and pids cgroups. cgroup_path names the
 * memory one; the pids one is found the same way by whoever uses it. */
static bool probe_cgroup_v1(struct hs_probe *out, const struct self_cgroups *sc)
{
	struct cg_mount mem, pids;
	char mem_dir[PATH_MAX], pids_dir[PATH_MAX];
	if (!sc->memory[0] || !sc->pids[0] || !find_cgroup_mount("cgroup", "memory", &mem) ||
	    !find_cgroup_mount("cgroup", "pids", &pids))
		return false;
	if (!cgroup_dir(&mem, sc->memory, mem_dir, sizeof(mem_dir)) ||
	    !cgroup_dir(&pids, sc->pids, pids_dir, sizeof(pids_dir)))
		return false;
	if (access(mem_dir, W_OK) != 0 || access(pids_dir, W_OK) != 0)
		return false;
	return set_cgroup_path(out, mem_dir);
}

static void probe_cgroup(struct hs_probe *out)
{
	struct self_cgroups *sc = hs_xmalloc(sizeof(*sc));
	read_self_cgroups(sc);
	const char *kind = "none";
	if (probe_cgroup_v2(out, sc)) {
		out->cgroup_delegated = true;
		kind = "v2";
	} else if (probe_cgroup_v1(out, sc)) {
		out->cgroup_delegated = true;
		kind = "v1";
	} else if (sc->memory[0]) {
		kind = "v1";
	} else if (out->cgroup2) {
		kind = "v2";
	}
	snprintf(out->cgroup_kind, sizeof(out->cgroup_kind), "%s", kind);
	free(sc);
}

void hs_probe_run(struct hs_probe *out)
{
	memset(out, 0, sizeof(*out));
	probe_kernel(out);
	probe_namespaces(out);
	out->landlock_abi = hs_landlock_abi();
	probe_seccomp(out);
	probe_pidfd(out);
	probe_cgroup(out);
}
