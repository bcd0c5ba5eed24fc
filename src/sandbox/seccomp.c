/*
 * seccomp.c: the seccomp fence, a deny list installed by the sandbox's pid 1
 * just before the command starts. Everything is allowed except kernel
 * interfaces that would undo the other layers (mount API, namespaces), reach
 * outside the sandbox (ptrace, process_vm_*, pidfd_getfd, file handles) or
 * expose large, often-exploited kernel surface (bpf, perf, io_uring,
 * userfaultfd, keyrings); those return EPERM. Foreign ABIs (i386 via
 * int 0x80, x32) kill the process, since a filter written for one syscall
 * table says nothing about another. docs/layers.md gives the reason for
 * every entry.
 *
 * Two filters are stacked: the libseccomp one, and a tiny hand-written one
 * for personality(2), because libseccomp cannot say "arg0 not in {a,b,c}"
 * (one comparison per argument per rule, and no ALLOW rule under a default
 * ALLOW action). The kernel runs both and the stricter answer wins.
 */
#define _GNU_SOURCE
#include "fence.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* Refused with EPERM whatever their arguments. */
/* clang-format off */
const char *const hs_seccomp_denied_names[] = {
	/* mount API, old and new: the view is final once pivoted */
	"mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen",
	"fsconfig", "fsmount", "fspick", "mount_setattr",
	/* namespaces: no new ones, no joining others */
	"unshare", "setns",
	/* kernel keyrings are not namespaced */
	"keyctl", "add_key", "request_key",
	/* large kernel attack surface, frequent exploit primitives */
	"bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
	"io_uring_register",
	/* file handles open files by inode number, bypassing path checks */
	"open_by_handle_at", "name_to_handle_at",
	/* host administration */
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
	"swapon", "swapoff", "acct", "syslog", "quotactl", "quotactl_fd", "lookup_dcookie",
	"vhangup", "uselib", "nfsservctl", "iopl", "ioperm", "fanotify_init",
	/* other processes' memory and file descriptors */
	"ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd",
	NULL,
};
/* clang-format on */

const char *const hs_seccomp_conditional_rules[] = {
    "clone: refused (EPERM) with any CLONE_NEW* flag",
    "clone3: ENOSYS (its flags are out of a filter's reach; libc falls back to clone)",
    "ioctl: TIOCSTI and TIOCLINUX refused (EPERM), compared on the low 32 bits",
    "personality: only 0, 0xffffffff (query) and ADDR_NO_RANDOMIZE allowed (else EPERM)",
    "foreign syscall ABIs (i386 int 0x80, x32): process killed",
    NULL,
};

/* Names that a libseccomp build or an architecture may not know: skipped
 * when unresolvable. Every other name in the lists above must resolve, or
 * the install fails rather than run with a silent gap. */
/* clang-format off */
static const char *const optional_names[] = {
	"mount_setattr", "quotactl_fd", "kexec_file_load", "lookup_dcookie", "uselib",
	"nfsservctl", "iopl", "ioperm", "pidfd_getfd",
};
/* clang-format on */

/* On x86_64 (and every arch but s390) clone's first argument is the flags. */
#if defined(__s390__) || defined(__s390x__)
#define HS_CLONE_FLAGS_ARG 1
#else
#define HS_CLONE_FLAGS_ARG 0
#endif

static bool is_optional(const char *name)
{
	for (size_t i = 0; i < HS_ARRAY_LEN(optional_names); i++)
		if (strcmp(optional_names[i], name) == 0)
			return true;
	return false;
}

/* libseccomp returns -errno; report it like a failed syscall. */
static int scmp_fail(int rc, struct hs_error *err, const char *what, const char *name)
{
	errno = -rc;
	return hs_err_sys(err, "seccomp: %s %s", what, name);
}

/* Resolves a name; returns 1 with *nr set, 0 to skip an optional unknown
 * name, -1 on an unknown required one. */
static int resolve(const char *name, int *nr, struct hs_error *err)
{
	*nr = seccomp_syscall_resolve_name(name);
	if (*nr != __NR_SCMP_ERROR)
		return 1;
	if (is_optional(name))
		return 0;
	return hs_err(err, "seccomp: libseccomp does not know the syscall %s; upgrade libseccomp",
		      name);
}

static int add_plain_denials(scmp_filter_ctx ctx, struct hs_error *err)
{
	for (size_t i = 0; hs_seccomp_denied_names[i]; i++) {
		const char *name = hs_seccomp_denied_names[i];
		int nr;
		int r = resolve(name, &nr, err);
		if (r <= 0) {
			if (r < 0)
				return -1;
			continue;
		}
		int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
		if (rc < 0 && !is_optional(name))
			return scmp_fail(rc, err, "cannot add a rule for", name);
	}
	return 0;
}

/* One rule per flag: rules are OR'd, comparisons within a rule AND'd. */
static int add_clone_rules(scmp_filter_ctx ctx, struct hs_error *err)
{
	static const uint64_t ns_flags[] = {
	    CLONE_NEWUSER,
	    CLONE_NEWNS,
	    CLONE_NEWPID,
	    CLONE_NEWNET,
	    CLONE_NEWIPC,
	    CLONE_NEWUTS,
	    CLONE_NEWCGROUP,
	    /* 0x80 lies inside CSIGNAL for clone(2), so the kernel reads it
	     * as an (invalid) exit signal; refusing it costs nothing. */
	    CLONE_NEWTIME,
	};
	for (size_t i = 0; i < HS_ARRAY_LEN(ns_flags); i++) {
		struct scmp_arg_cmp cmp = {
		    .arg = HS_CLONE_FLAGS_ARG,
		    .op = SCMP_CMP_MASKED_EQ,
		    .datum_a = ns_flags[i],
		    .datum_b = ns_flags[i],
		};
		int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1, cmp);
		if (rc < 0)
			return scmp_fail(rc, err, "cannot add a rule for", "clone");
	}
	/* clone3 passes its flags in memory the filter cannot read; ENOSYS
	 * makes glibc fall back to clone(2), whose flags are checked above. */
	int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (rc < 0)
		return scmp_fail(rc, err, "cannot add a rule for", "clone3");
	return 0;
}

/* The kernel truncates ioctl's cmd to unsigned int, so the comparison is on
 * the low 32 bits only: a plain 64-bit EQ would let TIOCSTI | (1UL << 32)
 * through (CVE-2017-5226 class). Note libseccomp's SCMP_A1_32 only casts the
 * datum and still compares 64 bits; the explicit mask is what counts. */
static int add_ioctl_rules(scmp_filter_ctx ctx, struct hs_error *err)
{
	static const uint64_t cmds[] = {TIOCSTI, TIOCLINUX};
	for (size_t i = 0; i < HS_ARRAY_LEN(cmds); i++) {
		struct scmp_arg_cmp cmp = {
		    .arg = 1,
		    .op = SCMP_CMP_MASKED_EQ,
		    .datum_a = 0xFFFFFFFFu,
		    .datum_b = cmds[i],
		};
		int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1, cmp);
		if (rc < 0)
			return scmp_fail(rc, err, "cannot add a rule for", "ioctl");
	}
	return 0;
}

static int set_attrs(scmp_filter_ctx ctx, struct hs_error *err)
{
	/* Only the native ABI is in the filter; any other (i386 via int 0x80,
	 * and x32, which libseccomp routes to this action for x86_64 by
	 * itself) kills the whole process. */
	int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (rc < 0)
		return scmp_fail(rc, err, "cannot set", "the bad-architecture action");
	return 0;
}

/* prctl(PR_SET_DUMPABLE, 0) would make a process's memory unreadable to an
 * unprivileged supervisor, hiding the arguments of its next execve from
 * the exec record and the command rules: refused while exec is intercepted. */
static int add_dumpable_rule(scmp_filter_ctx ctx, struct hs_error *err)
{
	int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(prctl), 2,
				  SCMP_A0(SCMP_CMP_EQ, PR_SET_DUMPABLE), SCMP_A1(SCMP_CMP_EQ, 0));
	if (rc < 0)
		return scmp_fail(rc, err, "cannot add a rule for", "prctl(PR_SET_DUMPABLE)");
	return 0;
}

/* execve and execveat stop in the kernel until the supervisor, holding the
 * filter's listener fd, answers (seccomp user notification). */
static int add_exec_notify(scmp_filter_ctx ctx, struct hs_error *err)
{
	int rc = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(execve), 0);
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(execveat), 0);
	if (rc < 0)
		return scmp_fail(rc, err, "cannot add the exec notification to", "the filter");
	return 0;
}

/* The libseccomp filter as a classic BPF program: exported through a
 * memfd (libseccomp 2.5 exports to a file descriptor only). */
static int export_prog(scmp_filter_ctx ctx, struct hs_seccomp_prog *prog, struct hs_error *err)
{
	int fd = (int)syscall(SYS_memfd_create, "harness-seccomp", MFD_CLOEXEC);
	if (fd < 0)
		return hs_err_sys(err, "seccomp: memfd_create");
	int rc = seccomp_export_bpf(ctx, fd);
	if (rc < 0) {
		close(fd);
		return scmp_fail(rc, err, "cannot export", "the filter");
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) ||
	    st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS) {
		close(fd);
		return hs_err(err, "seccomp: libseccomp exported a filter of %lld bytes",
			      (long long)st.st_size);
	}
	prog->insns = hs_xmalloc((size_t)st.st_size);
	ssize_t n = pread(fd, prog->insns, (size_t)st.st_size, 0);
	close(fd);
	if (n != st.st_size) {
		free(prog->insns);
		prog->insns = NULL;
		return hs_err(err, "seccomp: cannot read the exported filter back");
	}
	prog->len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
	return 0;
}

int hs_seccomp_build(struct hs_seccomp_prog *prog, bool notify, struct hs_error *err)
{
	memset(prog, 0, sizeof(*prog));
	prog->notify = notify;
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return hs_err(err, "seccomp: cannot create a filter (libseccomp)");
	int r = set_attrs(ctx, err);
	if (r == 0)
		r = add_plain_denials(ctx, err);
	if (r == 0)
		r = add_clone_rules(ctx, err);
	if (r == 0)
		r = add_ioctl_rules(ctx, err);
	if (r == 0 && notify)
		r = add_exec_notify(ctx, err);
	if (r == 0 && notify)
		r = add_dumpable_rule(ctx, err);
	if (r == 0)
		r = export_prog(ctx, prog, err);
	seccomp_release(ctx);
	return r;
}

void hs_seccomp_prog_free(struct hs_seccomp_prog *prog)
{
	free(prog->insns);
	memset(prog, 0, sizeof(*prog));
}

static int load_personality_filter(struct hs_error *err);

int hs_seccomp_load(const struct hs_seccomp_prog *prog, int *notify_fd, struct hs_error *err)
{
	if (notify_fd)
		*notify_fd = -1;
	if (!prog->insns || !prog->len)
		return hs_err(err, "seccomp: no filter was compiled");
	struct sock_fprog fprog = {.len = prog->len, .filter = prog->insns};
	/* Safety: no_new_privs first (as libseccomp's seccomp_load did; the
	 * kernel refuses an unprivileged filter without it); the filter is
	 * inherited by every descendant and can never be removed. With the
	 * exec notification, the kernel hands back the listener, which goes
	 * to the supervisor. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return hs_err_sys(err, "seccomp: cannot set no_new_privs");
	long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			  prog->notify ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0, &fprog);
	if (rc < 0) {
		if (prog->notify && (errno == EINVAL || errno == ENOSYS))
			return hs_err(err, "seccomp: the kernel gave no notification listener "
					   "(needs Linux >= 5.0 for exec interception)");
		return hs_err_sys(err, "seccomp: cannot load the filter");
	}
	if (prog->notify) {
		if (!notify_fd) {
			close((int)rc);
			return hs_err(err, "seccomp: a notifying filter needs a listener slot");
		}
		*notify_fd = (int)rc; /* O_CLOEXEC (the kernel's): the command never has it */
	}
	return load_personality_filter(err);
}

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HS_ARG0_LO offsetof(struct seccomp_data, args[0])
#else
#define HS_ARG0_LO (offsetof(struct seccomp_data, args[0]) + 4)
#endif

/* personality: allow 0 (PER_LINUX), 0xffffffff (query) and
 * ADDR_NO_RANDOMIZE (setarch -R, debuggers); refuse everything else, e.g.
 * READ_IMPLIES_EXEC, MMAP_PAGE_ZERO, PER_LINUX32. The kernel takes the
 * argument as unsigned int, so only its low 32 bits are compared. */
static int load_personality_filter(struct hs_error *err)
{
	struct sock_filter prog[] = {
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, seccomp_arch_native(), 1, 0),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_personality, 1, 0),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, HS_ARG0_LO),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 3, 0),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xffffffffu, 2, 0),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x0040000u /* ADDR_NO_RANDOMIZE */, 1, 0),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
	    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog fprog = {.len = (unsigned short)HS_ARRAY_LEN(prog), .filter = prog};
	/* Safety: no_new_privs was set by hs_seccomp_load above; the filter only
	 * adds refusals and cannot be removed. */
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0) < 0)
		return hs_err_sys(err, "seccomp: cannot load the personality filter");
	return 0;
}

int hs_seccomp_install(struct hs_error *err)
{
	struct hs_seccomp_prog prog;
	int r = hs_seccomp_build(&prog, false, err);
	if (r == 0)
		r = hs_seccomp_load(&prog, NULL, err);
	hs_seccomp_prog_free(&prog);
	return r;
}
