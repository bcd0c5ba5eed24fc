/*
 * sandbox.h: the compiled plan for one run and the launcher that executes it.
 *
 * The plan is built in the supervisor from a resolved policy (view.c: pure
 * path logic plus lstat/readdir of the granted trees and the creation of
 * placeholders for protected paths that do not exist yet). The child (init.c)
 * consumes the plan without parsing anything: it only mounts, fences and
 * executes what the plan says.
 */
#ifndef HS_SANDBOX_H
#define HS_SANDBOX_H

#include "../common/common.h"
#include "../policy/policy.h"
#include "fence.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

enum hs_mount_kind {
	HS_MNT_BIND_RO,   /* recursive bind of host src at dst, read-only, nosuid, nodev */
	HS_MNT_BIND_RW,   /* recursive bind, read-write, nosuid, nodev */
	HS_MNT_TMPFS,     /* fresh tmpfs (size, mode) */
	HS_MNT_SYMLINK,   /* symlink dst -> src (merged-/usr /bin, /dev/fd, ...) */
	HS_MNT_PROC,      /* fresh proc for the sandbox's pid namespace */
	HS_MNT_DEV,       /* minimal /dev: tmpfs + device binds + devpts + shm */
	HS_MNT_PROTECT,   /* re-bind dst onto itself read-only (inside a writable grant) */
	HS_MNT_HIDE,      /* cover dst with an empty read-only file or dir */
	HS_MNT_PIN,       /* re-bind dst onto itself, writable: a mount point cannot be
	                     renamed or removed (keeps .git in place under its masks) */
	HS_MNT_PIN_LINK,  /* cover the symlink dst itself (not its target) with an empty
	                     read-only file: it can be neither followed nor replaced */
	HS_MNT_OVERLAY,   /* the workspace: overlay of host src (lower, never written)
	                     and an upper layer on a private tmpfs of `size` bytes;
	                     writes land in the upper layer only */
	HS_MNT_SNAPSHOT,  /* the workspace where overlayfs cannot be mounted: a
	                     read-write bind of src, a copy of the project dst
	                     the supervisor made (hs_plan_workspace_use_snapshot);
	                     src NULL until then, and pid 1 refuses to start */
};

struct hs_mount {
	enum hs_mount_kind kind;
	char *src;      /* owned; host path (binds), link target (symlinks), or the
	                   content of the file covering a symlink (PIN_LINK; NULL: empty) */
	char *dst;      /* owned; absolute path inside the sandbox */
	uint64_t size;  /* tmpfs size in bytes (0: kernel default) */
	unsigned mode;  /* tmpfs mode */
	bool is_dir;    /* bind/hide of a directory (else a file) */
};

/* A placeholder the supervisor created on the host so that a protected path
 * that did not exist can be masked; removed after the run if still empty. */
struct hs_placeholder {
	char *path; /* owned, absolute host path */
	bool is_dir;
	dev_t dev;
	ino_t ino;
	int fd;     /* open, holding our shared flock for the run; -1 in a dry run */
};

struct hs_net_rules;

struct hs_plan {
	struct hs_mount *mounts; /* owned, in mount order (parents first) */
	size_t nmounts;
	struct hs_ll_rule *ll;   /* Landlock rules; paths point into mounts[] */
	size_t nll;
	struct hs_placeholder *placeholders;
	size_t nplaceholders;
	int *lock_fds;     /* shared flocks on every masked host path, held for the run */
	struct hs_strv warnings; /* owned: what the plan could not do, for the user */
	size_t nlock_fds;

	struct hs_strv argv; /* owned copy: the command (the caller's argv is wiped in pid 1) */
	struct hs_strv env; /* owned: "NAME=VALUE" for the command */
	char *cwd;         /* owned: working directory inside */
	char *home;        /* owned: HOME inside (same path as outside) */
	char *hostname;    /* owned */
	struct hs_limits limits;
	bool deny_tcp;     /* Landlock refuses TCP bind and connect, except connect
			      to the proxy's ports when there is a proxy */
	bool proxy;        /* egress through harness's proxy: pid 1 makes its
			      listeners on loopback (ports below) for the supervisor */
	uint16_t proxy_http_port, proxy_socks_port;
	bool transparent;  /* with the proxy: listeners on 127.0.0.1:80 and :443 and a
			      DNS stub on 127.0.0.1:53 (UDP), /etc/resolv.conf
			      pointing at it, for clients that ignore the proxy
			      variables */
	struct hs_net_rules *net_rules; /* owned: compiled network.allow/deny/resolve/rate_limits */
	bool best_effort;  /* degrade instead of failing on missing layers */
	bool userns;       /* false only in best-effort mode without user namespaces */
	bool intercept_exec; /* execve/execveat wait for the supervisor (seccomp notify) */
	struct hs_seccomp_prog seccomp; /* owned: compiled by hs_run_plan before the clone */
	char *workspace;   /* owned: the host dir mounted as an overlay (--ephemeral,
			      --review), NULL if none; see hs_plan_workspace */
};

/* Builds the plan; creates placeholders on the host (see struct above). */
int hs_plan_build(const struct hs_policy *p, char **argv, char **environ_in,
		  const char *cwd, const char *home, bool dry_run, struct hs_plan *plan,
		  struct hs_error *err);
void hs_plan_free(struct hs_plan *plan);
/* Hides a host path (the audit store) from the sandbox wherever a grant
 * makes it visible: an empty read-only mask, the directories on the way
 * pinned. Fails if the path is itself a whole grant. */
int hs_plan_hide_host_path(struct hs_plan *plan, const char *path, struct hs_error *err);

/* Turns the read-write grant holding the working directory into the
 * workspace (HS_MNT_OVERLAY with an upper layer of at most max_disk
 * bytes): the command's writes there land in a layer harness reads after
 * the run, never in the host dir. Every other read-write grant becomes
 * read-only (a warning says so), so nothing the command writes escapes the
 * workspace, except the host paths in keep_rw (an agent's own state dir:
 * nothing written there ever lands in the project). Fails when the working directory is not in a read-write
 * grant. Call after hs_plan_build, before the run. */
int hs_plan_workspace(struct hs_plan *plan, uint64_t max_disk, const struct hs_strv *keep_rw,
		      struct hs_error *err);
/* The workspace as a snapshot copy instead of an overlay: the workspace
 * mount becomes HS_MNT_SNAPSHOT, a read-write bind of dir (the copy, a
 * directory outside every sandbox's view) at the project's path. Call
 * after hs_plan_workspace. */
int hs_plan_workspace_use_snapshot(struct hs_plan *plan, const char *dir, struct hs_error *err);
/* The paths the plan hides beneath the workspace, relative to it (a
 * snapshot copy leaves them empty: their contents are never copied). */
void hs_plan_workspace_hidden(const struct hs_plan *plan, struct hs_strv *out);
/* Best effort without user namespaces: recomputes the Landlock rules for a
 * sandbox that shares the host's mounts (no private /tmp, HOME or /proc). */
void hs_plan_without_namespaces(struct hs_plan *plan);
/* Every core.hooksPath value in git config text (for the protection of
 * hooks directories; exposed for the fuzz target). */
void hs_gitconfig_hooks_paths(const char *buf, size_t len, struct hs_strv *out);
/* Removes the placeholders that are still empty and ours. */
void hs_plan_cleanup_placeholders(struct hs_plan *plan);
/* Human-readable description of the plan (for --dry-run and -v). */
void hs_plan_describe(const struct hs_plan *plan, FILE *out);

/* ---- limits.c: cgroups and rlimits ---- */
struct hs_cgroup {
	char kind[4];        /* "v2", "v1" or "" (none) */
	char dir[512];       /* v2: our cgroup dir */
	char mem_dir[512];   /* v1: memory cgroup dir, "" if none */
	char pids_dir[512];  /* v1: pids cgroup dir, "" if none */
	bool memory, pids;   /* which limits the cgroup enforces */
};
/* Creates a cgroup enforcing memory/process limits when one can be
 * delegated to us; otherwise leaves cg->kind empty (rlimits will do). */
int hs_cgroup_create(const struct hs_limits *lim, struct hs_cgroup *cg, struct hs_error *err);
int hs_cgroup_attach(const struct hs_cgroup *cg, pid_t pid, struct hs_error *err);
/* After the run: did the kernel hit the memory or pids limit? */
void hs_cgroup_events(const struct hs_cgroup *cg, bool *oom_killed, bool *pids_max_hit);
/* SIGKILLs every process left in the cgroup (cgroup.kill where the kernel
 * has it): used when there is no pid namespace to take them down. */
void hs_cgroup_kill_all(const struct hs_cgroup *cg);
void hs_cgroup_destroy(struct hs_cgroup *cg);
/* Applies the rlimits for whatever the cgroup does not enforce (called in the child). */
int hs_rlimits_apply(const struct hs_limits *lim, const struct hs_cgroup *cg, struct hs_error *err);

/* ---- spawn.c / init.c ---- */

/* Messages on the supervisor <-> init socket (SOCK_SEQPACKET). */
enum hs_msg_type {
	HS_MSG_GO = 'G',      /* supervisor -> init: ids, proceed with the setup */
	HS_MSG_ATTACHED = 'C',/* supervisor -> init: cgroup attached, may fork the command */
	HS_MSG_READY = 'R',   /* init -> supervisor: fences up, command forked */
	HS_MSG_ERROR = 'E',   /* init -> supervisor: setup failed (text follows) */
	HS_MSG_EXECFAIL = 'X',/* command child -> supervisor: execve failed (errno) */
	HS_MSG_STATUS = 'S',  /* init -> supervisor: command's wait status */
};
struct hs_msg {
	char type;
	int value;            /* errno for X, wait status for S, layer bits for R */
	char text[HS_ERR_MSG_MAX];
};

/* Bits reported with HS_MSG_READY: which layers the child managed to set up. */
enum {
	HS_LAYER_USERNS = 1 << 0,
	HS_LAYER_MOUNT = 1 << 1,
	HS_LAYER_PID = 1 << 2,
	HS_LAYER_NET = 1 << 3,
	HS_LAYER_LANDLOCK = 1 << 4,
	HS_LAYER_SECCOMP = 1 << 5,
	HS_LAYER_CAPS = 1 << 6,
	HS_LAYER_EXEC_NOTIFY = 1 << 7,
};

struct hs_child {
	pid_t pid;   /* init's pid in the supervisor's namespace */
	int pidfd;   /* pidfd of init */
	int sock;    /* supervisor's end of the socketpair */
	int landlock_abi;
	unsigned layers;
	int exec_errno_early; /* execve failure reported before READY, else 0 */
	int notify_fd;        /* seccomp listener for the command's execs, -1 if none */
	int proxy_http_fd;    /* listening sockets inside the sandbox's network */
	int proxy_socks_fd;   /* namespace (plan->proxy), -1 if none */
	int proxy_tls_fd;     /* plan->transparent: 127.0.0.1:443, :80 (TCP), */
	int proxy_plain_fd;   /* and :53 (UDP), -1 if none */
	int proxy_dns_fd;
	int workspace_fd;     /* plan->workspace: the overlay's upper dir (O_RDONLY,
				 O_DIRECTORY), which outlives the sandbox's mounts,
				 or the snapshot copy's root; -1 if none */
};

/* Work the supervisor does while the child sets itself up, before the
 * command may start (a failure kills the child: nothing was started). */
struct hs_prestart {
	int (*fn)(void *ctx, struct hs_error *err);
	void *ctx;
};

/* Whether every execve of the command waits in the kernel for the
 * supervisor (exec interception inside a user namespace): then work that
 * must precede the command may still run after pid 1 is told to start it. */
bool hs_plan_exec_waits(const struct hs_plan *plan);

/* Starts the sandbox: clone into new namespaces, attach the cgroup, run
 * pre (may be NULL), let the command start, wait for READY. On failure
 * returns -1 with the child's message in err. */
int hs_spawn(const struct hs_plan *plan, const struct hs_cgroup *cg, struct hs_child *child,
	     const struct hs_prestart *pre, struct hs_error *err);

/* The child's side (runs as pid 1 of the sandbox; never returns). */
__attribute__((noreturn)) void hs_init_main(const struct hs_plan *plan, const struct hs_cgroup *cg,
					    int sock);

/* The area of the original argv/environ strings (set by main), which the
 * sandbox's pid 1 wipes so that /proc/1/cmdline and /proc/1/environ show
 * nothing of the caller's environment. */
void hs_set_proc_strings_area(char *start, char *end);

#endif
