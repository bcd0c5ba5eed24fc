/*
 * fence.h: the in-process fences applied by the sandbox's pid 1 after the
 * mount view is built and before the command is started: Landlock, dropped
 * capabilities, seccomp. Each runs in the child (a forked copy of the
 * supervisor, single-threaded), reports failures through struct hs_error and
 * never prints.
 *
 * Order (see init.c): no_new_privs -> hs_landlock_apply -> hs_caps_drop_all
 * -> hs_seccomp_load -> the command started (vfork-style, see init.c) ->
 * hs_landlock_nest -> execve(command).
 */
#ifndef HS_FENCE_H
#define HS_FENCE_H

#include "../common/common.h"

#include <linux/filter.h>

#include <stdbool.h>
#include <stdint.h>

/* ---- Landlock ---- */

enum hs_ll_kind {
	HS_LL_READ,  /* read files, list dirs, execute */
	HS_LL_WRITE, /* everything on files and dirs beneath */
	HS_LL_DEV,   /* like WRITE on files plus device ioctls (ABI 5): /dev */
	HS_LL_LIST,  /* list directories only (the root of the view: `ls /`) */
};

struct hs_ll_rule {
	const char *path; /* absolute path in the sandbox's (already pivoted) root */
	enum hs_ll_kind kind;
};

/* Highest Landlock ABI the kernel offers, 0 if none (ENOSYS/EOPNOTSUPP). */
int hs_landlock_abi(void);

/* Restricts the calling process (and its future children): filesystem access
 * only beneath the given rules; with deny_tcp (ABI >= 4) all TCP bind and
 * connect refused; with ABI >= 6 abstract unix sockets and signals scoped to
 * the sandbox. Paths that do not exist are skipped. Requires no_new_privs.
 * Returns the ABI used in *abi_used. Fails (-1) when the kernel has no
 * Landlock at all, unless best_effort, where it returns 0 with *abi_used 0. */
int hs_landlock_apply(const struct hs_ll_rule *rules, size_t nrules, bool deny_tcp,
		      const uint16_t *connect_ports, bool best_effort, int *abi_used,
		      struct hs_error *err);

/* Puts the calling process (and its future children) in a Landlock domain
 * of its own, nested in the current one, that changes no access outcome:
 * the kernel then refuses it ptrace access (/proc/PID/mem, environ, maps,
 * ptrace, process_vm_readv) to every process of the enclosing domain. The
 * command's, so that pid 1 is out of its reach. abi: the ABI in use
 * (hs_landlock_apply's). Requires Landlock and no_new_privs. */
int hs_landlock_nest(int abi, struct hs_error *err);

/* ---- capabilities ---- */

/* Empties the bounding, ambient, inheritable, permitted and effective sets
 * and locks securebits (NOROOT, NO_SETUID_FIXUP, KEEP_CAPS off, NO_CAP_AMBIENT_RAISE)
 * so that even uid 0 inside gains nothing across execve. */
int hs_caps_drop_all(struct hs_error *err);

/* ---- seccomp ---- */

/* Installs the deny-list filter (libseccomp): escape-relevant syscalls return
 * EPERM (clone3 returns ENOSYS so libc falls back to clone, whose flags are
 * checked), foreign ABIs (x32, i386 via int 0x80) kill the process.
 * Requires no_new_privs. */
int hs_seccomp_install(struct hs_error *err);

/* The same filters, compiled ahead (by the supervisor, before the clone:
 * libseccomp's compilation costs a fresh child about a millisecond of copy-
 * on-write faults) and loaded later by pid 1 with hs_seccomp_load. */
struct hs_seccomp_prog {
	struct sock_filter *insns; /* owned */
	unsigned short len;
	bool notify;               /* execve/execveat stop for the supervisor */
};
int hs_seccomp_build(struct hs_seccomp_prog *prog, bool notify, struct hs_error *err);
/* Loads it (no_new_privs must be set), then the personality filter; with
 * prog->notify, *notify_fd gets the listener. */
int hs_seccomp_load(const struct hs_seccomp_prog *prog, int *notify_fd, struct hs_error *err);
void hs_seccomp_prog_free(struct hs_seccomp_prog *prog);

/* Names of the syscalls refused, for docs and `harness check`. NULL-terminated. */
extern const char *const hs_seccomp_denied_names[];

/* One line per argument-dependent or non-EPERM rule (clone, clone3, ioctl,
 * personality, foreign ABIs), for docs and `harness check`. NULL-terminated. */
extern const char *const hs_seccomp_conditional_rules[];

#endif
