/*
 * probe.h: what this kernel and this user can use, for `harness check` and
 * for the launcher's fail-closed decisions. Probes run in throwaway child
 * processes so nothing in the caller changes.
 */
#ifndef HS_PROBE_H
#define HS_PROBE_H

#include <stdbool.h>

struct hs_probe {
	bool userns;           /* unprivileged clone(CLONE_NEWUSER) works */
	char userns_why[256];  /* why not, with the remedy */
	bool mountns, pidns, netns, ipcns, utsns, cgroupns;
	int landlock_abi;      /* 0 = none */
	bool seccomp;          /* seccomp filter mode */
	bool seccomp_notify;   /* SECCOMP_RET_USER_NOTIF / NEW_LISTENER */
	bool cgroup2;          /* cgroup2 mounted */
	bool cgroup_delegated; /* a cgroup we may create children in, with memory+pids */
	char cgroup_path[256]; /* that cgroup's directory, or "" */
	char cgroup_kind[16];  /* "v2", "v1", or "none" */
	bool overlay_userns;   /* overlayfs mountable inside a user namespace */
	bool pidfd;            /* pidfd_open */
	char kernel[128];      /* uname release */
};

void hs_probe_run(struct hs_probe *out);

/* Only the workspace's overlay (the same mount as overlay_userns), in a
 * throwaway child with a user and a mount namespace: for a run that must
 * choose between the overlay and a snapshot copy. A few ms. */
bool hs_probe_overlay_userns(void);

#endif
