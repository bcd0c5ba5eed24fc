/*
 * test_fence.c: unit tests for the in-process fences (seccomp, Landlock,
 * capabilities) and the kernel probe. Every fence is irreversible, so each
 * test forks a child, applies the fence there, lets the child try things and
 * report errno values through a pipe (or die of a signal), and the PARENT
 * decides. Children never call cmocka and always leave through _exit().
 *
 * The probes the children run are chosen to be harmless even if a fence
 * were missing (nonexistent paths, invalid magic numbers, bad fds), so a
 * regression shows up as a wrong errno, never as a change to the host.
 */
#define _GNU_SOURCE
#include "common/common.h"
#include "sandbox/fence.h"
#include "sandbox/probe.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/kcmp.h>
#include <linux/keyctl.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

/* ---- child plumbing ---- */

#define OUT_MAX 8192
#define CHILD_TIMEOUT_S 10

struct child_out {
	int status; /* waitpid status */
	unsigned char buf[OUT_MAX];
	size_t len; /* bytes the child wrote */
};

typedef void (*child_fn)(int out_fd, void *arg);

static void run_child(child_fn fn, void *arg, struct child_out *out)
{
	int p[2];
	memset(out, 0, sizeof(*out));
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		/* cmocka catches these to report a crashing test; in the child
		 * the crash is the result (int 0x80 without IA32 emulation
		 * faults), and its handler would resume the test runner here. */
		static const int crash[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGSYS};
		for (size_t i = 0; i < sizeof(crash) / sizeof(crash[0]); i++)
			signal(crash[i], SIG_DFL);
		alarm(CHILD_TIMEOUT_S); /* a hang fails the test (SIGALRM) */
		fn(p[1], arg);
		_exit(0);
	}
	close(p[1]);
	ssize_t n;
	while (out->len < sizeof(out->buf) &&
	       (n = read(p[0], out->buf + out->len, sizeof(out->buf) - out->len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n > 0);
		out->len += (size_t)n;
	}
	close(p[0]);
	assert_int_equal(waitpid(pid, &out->status, 0), pid);
}

static void put_int(int fd, int v)
{
	(void)!write(fd, &v, sizeof(v));
}

/* errno of a failed call, 0 when it succeeded. */
static int err_of(long r)
{
	return r < 0 ? errno : 0;
}

static int get_int(const struct child_out *out, size_t i)
{
	int v = -1;
	if ((i + 1) * sizeof(int) <= out->len)
		memcpy(&v, out->buf + i * sizeof(int), sizeof(int));
	return v;
}

static void assert_exited_ok(const struct child_out *out)
{
	if (!WIFEXITED(out->status) || WEXITSTATUS(out->status) != 0)
		fail_msg("child did not exit 0 (status 0x%x, signal %d)", out->status,
			 WIFSIGNALED(out->status) ? WTERMSIG(out->status) : 0);
}

static void install_seccomp_or_die(int fd)
{
	struct hs_error err;
	hs_error_clear(&err);
	if (hs_seccomp_install(&err) < 0) {
		(void)!write(fd, err.msg, strlen(err.msg));
		_exit(90);
	}
}

/* ---- seccomp: refused syscalls ---- */

#define NOPATH "/nonexistent-harness-test"

/* The probes read as a table, one per line. */
/* clang-format off */

static long op_mount(void) { return mount("none", NOPATH, "tmpfs", 0, NULL); }
static long op_umount2(void) { return umount2(NOPATH, 0); }
static long op_pivot_root(void) { return syscall(SYS_pivot_root, NOPATH, NOPATH "2"); }
static long op_chroot(void) { return chroot(NOPATH); }
static long op_move_mount(void) { return syscall(SYS_move_mount, -1, "", -1, "", 0); }
static long op_open_tree(void) { return syscall(SYS_open_tree, -1, NOPATH, 0); }
static long op_fsopen(void) { return syscall(SYS_fsopen, "harness-nofs", 0); }
static long op_mount_setattr(void) { return syscall(SYS_mount_setattr, -1, "", 0, NULL, 0); }
static long op_unshare_user(void) { return unshare(CLONE_NEWUSER); }
static long op_unshare_ns(void) { return unshare(CLONE_NEWNS); }
static long op_setns(void) { return setns(-1, 0); }

/* Raw clone(2) with fork semantics; a child that should not exist leaves at once. */
static long raw_clone(unsigned long flags)
{
	long r = syscall(SYS_clone, flags | SIGCHLD, 0, NULL, NULL, 0);
	if (r == 0)
		_exit(0);
	if (r > 0)
		waitpid((pid_t)r, NULL, 0);
	return r < 0 ? -1 : 0;
}

static long op_clone_newns(void) { return raw_clone(CLONE_NEWNS); }
static long op_clone_newuser(void) { return raw_clone(CLONE_NEWUSER); }
/* the kernel ignores clone's upper 32 flag bits; so must not the filter */
static long op_clone_newnet_hi(void) { return raw_clone(CLONE_NEWNET | (1UL << 40)); }
static long op_clone_plain(void) { return raw_clone(0); }
static long op_clone3(void) { return syscall(SYS_clone3, NULL, 0); }

static int devnull_fd(void)
{
	static int fd = -1;
	if (fd < 0)
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	return fd;
}

static long op_tiocsti(void)
{
	char c = 'x';
	return syscall(SYS_ioctl, devnull_fd(), (unsigned long)TIOCSTI, &c);
}

/* CVE-2017-5226 class: the kernel truncates cmd to 32 bits. */
static long op_tiocsti_hi(void)
{
	char c = 'x';
	return syscall(SYS_ioctl, devnull_fd(), (1UL << 32) | TIOCSTI, &c);
}

static long op_tioclinux_hi(void)
{
	char c = 0;
	return syscall(SYS_ioctl, devnull_fd(), (0xdeadUL << 32) | TIOCLINUX, &c);
}

static long op_tcgets(void)
{
	struct termios t;
	return syscall(SYS_ioctl, devnull_fd(), (unsigned long)TCGETS, &t);
}

static long op_keyctl(void)
{
	return syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
}

static long op_add_key(void)
{
	return syscall(SYS_add_key, "user", "harness-test", "x", 1, KEY_SPEC_PROCESS_KEYRING);
}

static long op_request_key(void)
{
	return syscall(SYS_request_key, "user", "harness-none", NULL, 0);
}

static long op_bpf(void) { return syscall(SYS_bpf, -1, NULL, 0); }
static long op_perf(void) { return syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0); }
static long op_io_uring(void) { return syscall(SYS_io_uring_setup, 0, NULL); }
static long op_userfaultfd(void) { return syscall(SYS_userfaultfd, 0); }
/* pid 0 never exists: ESRCH without the filter, and nothing gets traced */
static long op_ptrace(void) { return ptrace(PTRACE_ATTACH, 0, NULL, NULL); }
static long op_vm_readv(void) { return syscall(SYS_process_vm_readv, getppid(), NULL, 0, NULL, 0, 0); }
static long op_pidfd_getfd(void) { return syscall(SYS_pidfd_getfd, -1, 0, 0); }
static long op_open_by_handle(void) { return syscall(SYS_open_by_handle_at, -1, NULL, 0); }
static long op_name_to_handle(void) { return syscall(SYS_name_to_handle_at, -1, "", NULL, NULL, 0); }
static long op_init_module(void) { return syscall(SYS_init_module, NULL, 0, ""); }
static long op_finit_module(void) { return syscall(SYS_finit_module, -1, "", 0); }
static long op_delete_module(void) { return syscall(SYS_delete_module, "harness_none", O_NONBLOCK); }
static long op_kexec_load(void) { return syscall(SYS_kexec_load, 0, 0, NULL, 0xdeadbeefUL); }
static long op_reboot(void) { return syscall(SYS_reboot, 0, 0, 0, NULL); } /* bad magic */
static long op_swapon(void) { return syscall(SYS_swapon, NOPATH, 0); }
static long op_syslog(void) { return syscall(SYS_syslog, 10 /* SIZE_BUFFER */, NULL, 0); }
static long op_quotactl(void) { return syscall(SYS_quotactl, 0, NULL, 0, NULL); }
static long op_fanotify(void) { return syscall(SYS_fanotify_init, 0xffffffffU, 0); }
static long op_vhangup(void) { return syscall(SYS_vhangup); } /* after setsid: no tty */
static long op_pers_linux32(void) { return personality(PER_LINUX32) == -1 ? -1 : 0; }

/* high bits set: the kernel keeps the low 32 (READ_IMPLIES_EXEC) */
static long op_pers_hi(void)
{
	return syscall(SYS_personality, (1UL << 32) | READ_IMPLIES_EXEC) == -1 ? -1 : 0;
}

static long op_pers_query(void) { return personality(0xffffffff) == -1 ? -1 : 0; }
static long op_pers_norandom(void) { return personality(ADDR_NO_RANDOMIZE) == -1 ? -1 : 0; }
static long op_pers_zero(void) { return personality(PER_LINUX) == -1 ? -1 : 0; }
static long op_getpid(void) { return getpid() > 0 ? 0 : -1; }

static long op_fork(void)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	return pid < 0 ? -1 : waitpid(pid, NULL, 0);
}

static void *thread_main(void *arg) { return arg; }

/* glibc tries clone3 first; our ENOSYS must make it fall back to clone. */
static long op_pthread(void)
{
	pthread_t t;
	int r = pthread_create(&t, NULL, thread_main, NULL);
	if (r != 0) {
		errno = r;
		return -1;
	}
	return pthread_join(t, NULL) == 0 ? 0 : -1;
}

static long op_kcmp(void) { return syscall(SYS_kcmp, getpid(), getpid(), KCMP_VM, 0, 0); }
/* clang-format on */

struct sc_case {
	const char *what;
	long (*op)(void);
	int want; /* errno, or 0 = must succeed */
};

static const struct sc_case sc_cases[] = {
    {"mount", op_mount, EPERM},
    {"umount2", op_umount2, EPERM},
    {"pivot_root", op_pivot_root, EPERM},
    {"chroot", op_chroot, EPERM},
    {"move_mount", op_move_mount, EPERM},
    {"open_tree", op_open_tree, EPERM},
    {"fsopen", op_fsopen, EPERM},
    {"mount_setattr", op_mount_setattr, EPERM},
    {"unshare(CLONE_NEWNS)", op_unshare_ns, EPERM},
    {"setns", op_setns, EPERM},
    {"clone(CLONE_NEWNS)", op_clone_newns, EPERM},
    {"clone(CLONE_NEWUSER)", op_clone_newuser, EPERM},
    {"clone(CLONE_NEWNET | 1<<40)", op_clone_newnet_hi, EPERM},
    {"clone3", op_clone3, ENOSYS},
    {"ioctl(TIOCSTI)", op_tiocsti, EPERM},
    {"ioctl(TIOCSTI | 1<<32)", op_tiocsti_hi, EPERM},
    {"ioctl(TIOCLINUX | 0xdead<<32)", op_tioclinux_hi, EPERM},
    {"ioctl(TCGETS) on /dev/null", op_tcgets, ENOTTY},
    {"keyctl", op_keyctl, EPERM},
    {"add_key", op_add_key, EPERM},
    {"request_key", op_request_key, EPERM},
    {"bpf", op_bpf, EPERM},
    {"perf_event_open", op_perf, EPERM},
    {"io_uring_setup", op_io_uring, EPERM},
    {"userfaultfd", op_userfaultfd, EPERM},
    {"ptrace(ATTACH)", op_ptrace, EPERM},
    {"process_vm_readv", op_vm_readv, EPERM},
    {"pidfd_getfd", op_pidfd_getfd, EPERM},
    {"open_by_handle_at", op_open_by_handle, EPERM},
    {"name_to_handle_at", op_name_to_handle, EPERM},
    {"init_module", op_init_module, EPERM},
    {"finit_module", op_finit_module, EPERM},
    {"delete_module", op_delete_module, EPERM},
    {"kexec_load", op_kexec_load, EPERM},
    {"reboot", op_reboot, EPERM},
    {"swapon", op_swapon, EPERM},
    {"syslog", op_syslog, EPERM},
    {"quotactl", op_quotactl, EPERM},
    {"fanotify_init", op_fanotify, EPERM},
    {"vhangup", op_vhangup, EPERM},
    {"personality(PER_LINUX32)", op_pers_linux32, EPERM},
    {"personality(1<<32 | READ_IMPLIES_EXEC)", op_pers_hi, EPERM},
    {"personality(0xffffffff)", op_pers_query, 0},
    {"personality(ADDR_NO_RANDOMIZE)", op_pers_norandom, 0},
    {"personality(0)", op_pers_zero, 0},
    {"getpid", op_getpid, 0},
    {"clone(SIGCHLD)", op_clone_plain, 0},
    {"fork", op_fork, 0},
    {"pthread_create", op_pthread, 0},
    {"kcmp", op_kcmp, 0},
    /* last: without the filter it would move us into a new user namespace
     * and make every later probe fail for the wrong reason */
    {"unshare(CLONE_NEWUSER)", op_unshare_user, EPERM},
};

static void seccomp_cases_child(int fd, void *arg)
{
	(void)arg;
	setsid(); /* no controlling tty, so vhangup could not touch ours */
	devnull_fd();
	install_seccomp_or_die(fd);
	for (size_t i = 0; i < HS_ARRAY_LEN(sc_cases); i++)
		put_int(fd, err_of(sc_cases[i].op()));
}

static void test_seccomp_refuses_escape_syscalls(void **state)
{
	(void)state;
	struct child_out out;
	run_child(seccomp_cases_child, NULL, &out);
	if (WIFEXITED(out.status) && WEXITSTATUS(out.status) == 90)
		fail_msg("hs_seccomp_install failed: %.*s", (int)out.len, (char *)out.buf);
	assert_exited_ok(&out);
	assert_int_equal(out.len, HS_ARRAY_LEN(sc_cases) * sizeof(int));
	int bad = 0;
	for (size_t i = 0; i < HS_ARRAY_LEN(sc_cases); i++) {
		int got = get_int(&out, i);
		if (got != sc_cases[i].want) {
			print_message("  %s: got %s, want %s\n", sc_cases[i].what,
				      got ? strerror(got) : "success",
				      sc_cases[i].want ? strerror(sc_cases[i].want) : "success");
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* ---- seccomp: foreign ABIs ---- */

#define X32_SYSCALL_BIT 0x40000000L

static void x32_child(int fd, void *arg)
{
	if (arg)
		install_seccomp_or_die(fd);
	put_int(fd, err_of(syscall(X32_SYSCALL_BIT | SYS_getpid)));
}

static void test_seccomp_kills_x32(void **state)
{
	(void)state;
	struct child_out out;
	run_child(x32_child, NULL, &out); /* baseline, no filter */
	assert_exited_ok(&out);
	print_message("  x32 getpid without filter: %s\n",
		      get_int(&out, 0) ? strerror(get_int(&out, 0)) : "works (x32 ABI enabled)");
	run_child(x32_child, (void *)1, &out);
	if (!WIFSIGNALED(out.status) || WTERMSIG(out.status) != SIGSYS)
		fail_msg("x32 syscall under the filter: status 0x%x, wanted death by SIGSYS",
			 out.status);
}

#if defined(__x86_64__)
static long int80_getpid(void)
{
	long ret;
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L /* i386 getpid */) : "memory");
	return ret;
}

static void int80_child(int fd, void *arg)
{
	if (arg)
		install_seccomp_or_die(fd);
	put_int(fd, int80_getpid() == getpid() ? 0 : 1);
}

static void test_seccomp_kills_int80(void **state)
{
	(void)state;
	struct child_out out;
	run_child(int80_child, NULL, &out); /* baseline, no filter */
	if (!WIFEXITED(out.status)) {
		print_message("  skipped: int 0x80 does not work here even without a filter "
			      "(signal %d; IA32 emulation off?)\n",
			      WIFSIGNALED(out.status) ? WTERMSIG(out.status) : 0);
		skip();
	}
	if (get_int(&out, 0) != 0) {
		/* Kernels built or booted without IA32 emulation (ia32_emulation=0)
		 * answer int 0x80 with -ENOSYS: there is no i386 ABI to fence. */
		print_message("  skipped: int 0x80 getpid does not work here even without a "
			      "filter (IA32 emulation off?)\n");
		skip();
	}
	run_child(int80_child, (void *)1, &out);
	if (!WIFSIGNALED(out.status) || WTERMSIG(out.status) != SIGSYS)
		fail_msg("int 0x80 under the filter: status 0x%x, wanted death by SIGSYS",
			 out.status);
}
#endif

static void test_seccomp_names_resolve(void **state)
{
	(void)state;
	size_t n = 0;
	for (; hs_seccomp_denied_names[n]; n++)
		if (seccomp_syscall_resolve_name(hs_seccomp_denied_names[n]) == __NR_SCMP_ERROR)
			print_message("  note: libseccomp does not know %s\n",
				      hs_seccomp_denied_names[n]);
	assert_true(n > 30);
	assert_non_null(hs_seccomp_conditional_rules[0]);
}

/* ---- Landlock ---- */

static bool landlock_or_skip(void)
{
	if (hs_landlock_abi() > 0)
		return true;
	print_message("  skipped: this kernel has no Landlock (landlock_create_ruleset "
		      "reports no ABI)\n");
	return false;
}

/* Landlock at ABI `min` or later, which `what` needs; else says why not. */
static bool landlock_abi_or_skip(int min, const char *what)
{
	if (!landlock_or_skip())
		return false;
	if (hs_landlock_abi() >= min)
		return true;
	print_message("  skipped: Landlock ABI %d < %d has no %s\n", hs_landlock_abi(), min, what);
	return false;
}

struct ll_dirs {
	char root[64];
	char a[96], b[96], c[96], d[96];
};

static void path_in(char *out, size_t len, const char *dir, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static void write_file_at(const char *dir, const char *name, const char *text)
{
	char p[160];
	path_in(p, sizeof(p), dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void make_ll_dirs(struct ll_dirs *d)
{
	snprintf(d->root, sizeof(d->root), "/tmp/hs-fence-XXXXXX");
	assert_non_null(mkdtemp(d->root));
	path_in(d->a, sizeof(d->a), d->root, "a");
	path_in(d->b, sizeof(d->b), d->root, "b");
	path_in(d->c, sizeof(d->c), d->root, "c");
	path_in(d->d, sizeof(d->d), d->root, "d");
	assert_int_equal(mkdir(d->a, 0755), 0);
	assert_int_equal(mkdir(d->b, 0755), 0);
	assert_int_equal(mkdir(d->c, 0755), 0);
	assert_int_equal(mkdir(d->d, 0755), 0);
	write_file_at(d->a, "f", "readable\n");
	write_file_at(d->c, "secret", "secret\n");
	write_file_at(d->d, "file", "file rule\n");
	write_file_at(d->d, "other", "no rule\n");
	char sub[160];
	path_in(sub, sizeof(sub), d->b, "s1");
	assert_int_equal(mkdir(sub, 0755), 0);
	write_file_at(sub, "f", "moves\n");
	path_in(sub, sizeof(sub), d->b, "s2");
	assert_int_equal(mkdir(sub, 0755), 0);
}

static void remove_tree(const char *dir)
{
	DIR *dh = opendir(dir);
	if (!dh)
		return;
	struct dirent *e;
	while ((e = readdir(dh))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char p[512];
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (e->d_type == DT_DIR)
			remove_tree(p);
		else
			unlink(p);
	}
	closedir(dh);
	rmdir(dir);
}

static int apply_ll(const struct hs_ll_rule *rules, size_t n, bool deny_tcp, int fd)
{
	struct hs_error err;
	int abi = -1;
	hs_error_clear(&err);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    hs_landlock_apply(rules, n, deny_tcp, NULL, false, &abi, &err) < 0) {
		(void)!write(fd, err.msg, strlen(err.msg));
		_exit(91);
	}
	return abi;
}

static int open_err(const char *dir, const char *name, int flags)
{
	char p[160];
	path_in(p, sizeof(p), dir, name);
	int fd = open(p, flags | O_CLOEXEC, 0644);
	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static int rename_err(const char *from_dir, const char *from, const char *to_dir, const char *to)
{
	char a[160], b[160];
	path_in(a, sizeof(a), from_dir, from);
	path_in(b, sizeof(b), to_dir, to);
	return err_of(rename(a, b));
}

enum {
	LL_READ_C_SECRET,
	LL_LIST_C,
	LL_READ_A_F,
	LL_WRITE_A_X,
	LL_WRITE_B_X,
	LL_RENAME_B_TO_C,
	LL_RENAME_B_TO_B,
	LL_RENAME_WITHIN_B, /* across directories: needs REFER handled and granted */
	LL_WRITE_D_FILE,
	LL_WRITE_D_OTHER,
	LL_READ_OUTSIDE,
	LL_NCASES,
};

static void landlock_fs_child(int fd, void *arg)
{
	const struct ll_dirs *d = arg;
	char file_rule[160];
	path_in(file_rule, sizeof(file_rule), d->d, "file");
	const struct hs_ll_rule rules[] = {
	    {d->a, HS_LL_READ},
	    {d->b, HS_LL_WRITE},
	    {file_rule, HS_LL_WRITE},			  /* a regular file: must not trip EINVAL */
	    {"/nonexistent-harness-test/x", HS_LL_WRITE}, /* skipped */
	};
	apply_ll(rules, HS_ARRAY_LEN(rules), false, fd);
	int r[LL_NCASES];
	r[LL_READ_C_SECRET] = open_err(d->c, "secret", O_RDONLY);
	r[LL_LIST_C] = open_err(d->c, "", O_RDONLY | O_DIRECTORY);
	r[LL_READ_A_F] = open_err(d->a, "f", O_RDONLY);
	r[LL_WRITE_A_X] = open_err(d->a, "x", O_WRONLY | O_CREAT);
	r[LL_WRITE_B_X] = open_err(d->b, "x", O_WRONLY | O_CREAT);
	r[LL_RENAME_B_TO_C] = rename_err(d->b, "x", d->c, "x");
	r[LL_RENAME_B_TO_B] = rename_err(d->b, "x", d->b, "y");
	r[LL_RENAME_WITHIN_B] = rename_err(d->b, "s1/f", d->b, "s2/f");
	r[LL_WRITE_D_FILE] = open_err(d->d, "file", O_WRONLY | O_TRUNC);
	r[LL_WRITE_D_OTHER] = open_err(d->d, "other", O_WRONLY);
	r[LL_READ_OUTSIDE] = open_err("/etc", "hostname", O_RDONLY);
	for (int i = 0; i < LL_NCASES; i++)
		put_int(fd, r[i]);
}

static void check_child_ll_ok(const struct child_out *out)
{
	if (WIFEXITED(out->status) && WEXITSTATUS(out->status) == 91)
		fail_msg("hs_landlock_apply failed: %.*s", (int)out->len, (char *)out->buf);
	assert_exited_ok(out);
}

static void test_landlock_filesystem(void **state)
{
	(void)state;
	if (!landlock_or_skip())
		skip();
	struct ll_dirs d;
	make_ll_dirs(&d);
	struct child_out out;
	run_child(landlock_fs_child, &d, &out);
	char moved[160];
	path_in(moved, sizeof(moved), d.c, "x");
	bool leaked = access(moved, F_OK) == 0;
	remove_tree(d.root);
	check_child_ll_ok(&out);
	assert_int_equal(out.len, LL_NCASES * sizeof(int));
	assert_int_equal(get_int(&out, LL_READ_C_SECRET), EACCES);
	assert_int_equal(get_int(&out, LL_LIST_C), EACCES);
	assert_int_equal(get_int(&out, LL_READ_A_F), 0);
	assert_int_equal(get_int(&out, LL_WRITE_A_X), EACCES);
	assert_int_equal(get_int(&out, LL_WRITE_B_X), 0);
	int mv = get_int(&out, LL_RENAME_B_TO_C);
	if (mv != EACCES && mv != EXDEV)
		fail_msg("rename b/x -> c/x: got %s, want EACCES or EXDEV", strerror(mv));
	assert_false(leaked);
	assert_int_equal(get_int(&out, LL_RENAME_B_TO_B), 0);
	if (hs_landlock_abi() >= 2)
		assert_int_equal(get_int(&out, LL_RENAME_WITHIN_B), 0);
	assert_int_equal(get_int(&out, LL_WRITE_D_FILE), 0);
	assert_int_equal(get_int(&out, LL_WRITE_D_OTHER), EACCES);
	assert_int_equal(get_int(&out, LL_READ_OUTSIDE), EACCES);
}

/* The command's nested domain (init.c): a process in it cannot reach its
 * parent's memory through /proc, though the parent is dumpable, and still
 * renames across directories where the outer domain allows it. The
 * control, a sibling left in the outer domain, can read it: without
 * hs_landlock_nest the first case would read 0, not an error. */
enum { NEST_MEM_NESTED, NEST_RENAME_NESTED, NEST_MEM_CONTROL, NEST_NCASES };

static int nest_grandchild(pid_t parent, const struct ll_dirs *d, bool nest, int *rename_r)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		int r[2] = {-1, -1};
		struct hs_error err;
		hs_error_clear(&err);
		if (!nest || hs_landlock_nest(hs_landlock_abi(), &err) == 0) {
			char mem[64];
			snprintf(mem, sizeof(mem), "/proc/%d/mem", (int)parent);
			int fd = open(mem, O_RDONLY | O_CLOEXEC);
			r[0] = fd < 0 ? errno : 0;
			if (fd >= 0)
				close(fd);
			r[1] = rename_err(d->b, "s1/f", d->b, "s2/f");
		}
		(void)!write(p[1], r, sizeof(r));
		_exit(0);
	}
	close(p[1]);
	int r[2] = {-1, -1};
	(void)!read(p[0], r, sizeof(r));
	close(p[0]);
	waitpid(pid, NULL, 0);
	if (rename_r)
		*rename_r = r[1];
	return r[0];
}

static void landlock_nest_child(int fd, void *arg)
{
	const struct ll_dirs *d = arg;
	const struct hs_ll_rule rules[] = {{"/proc", HS_LL_READ}, {d->b, HS_LL_WRITE}};
	apply_ll(rules, HS_ARRAY_LEN(rules), false, fd);
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	int r[NEST_NCASES];
	r[NEST_MEM_NESTED] = nest_grandchild(getpid(), d, true, &r[NEST_RENAME_NESTED]);
	r[NEST_MEM_CONTROL] = nest_grandchild(getpid(), d, false, NULL);
	for (int i = 0; i < NEST_NCASES; i++)
		put_int(fd, r[i]);
}

static void test_landlock_nest_keeps_parent_out(void **state)
{
	(void)state;
	if (!landlock_or_skip())
		skip();
	struct ll_dirs d;
	make_ll_dirs(&d);
	struct child_out out;
	run_child(landlock_nest_child, &d, &out);
	remove_tree(d.root);
	check_child_ll_ok(&out);
	assert_int_equal(out.len, NEST_NCASES * sizeof(int));
	assert_int_equal(get_int(&out, NEST_MEM_CONTROL), 0);
	int mem = get_int(&out, NEST_MEM_NESTED);
	if (mem != EACCES && mem != EPERM)
		fail_msg("/proc/PARENT/mem from the nested domain: got %d (%s), want EACCES or EPERM",
			 mem, mem > 0 ? strerror(mem) : "opened");
	if (hs_landlock_abi() >= 2)
		assert_int_equal(get_int(&out, NEST_RENAME_NESTED), 0);
}

static void landlock_tcp_child(int fd, void *arg)
{
	const struct sockaddr_in *addr = arg;
	int abi = apply_ll(NULL, 0, true, fd);
	put_int(fd, abi);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	put_int(fd, err_of(connect(s, (const struct sockaddr *)addr, sizeof(*addr))));
	int s2 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in any = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	put_int(fd, err_of(bind(s2, (const struct sockaddr *)&any, sizeof(any))));
}

static int loopback_listener(struct sockaddr_in *addr)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	assert_true(s >= 0);
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(*addr);
	assert_int_equal(bind(s, (struct sockaddr *)addr, sizeof(*addr)), 0);
	assert_int_equal(listen(s, 8), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)addr, &len), 0);
	return s;
}

static void test_landlock_denies_tcp(void **state)
{
	(void)state;
	if (!landlock_abi_or_skip(4, "TCP rights"))
		skip();
	struct sockaddr_in addr;
	int lsock = loopback_listener(&addr);
	struct child_out out;
	run_child(landlock_tcp_child, &addr, &out);
	int accepted = accept(lsock, NULL, NULL);
	int accept_errno = errno;
	close(lsock);
	check_child_ll_ok(&out);
	assert_true(get_int(&out, 0) >= 4);
	assert_int_equal(get_int(&out, 1), EACCES); /* connect */
	assert_int_equal(get_int(&out, 2), EACCES); /* bind */
	assert_true(accepted < 0);
	assert_int_equal(accept_errno, EAGAIN);
}

static void landlock_scope_child(int fd, void *arg)
{
	const struct sockaddr_un *addr = arg;
	apply_ll(NULL, 0, false, fd);
	put_int(fd, err_of(kill(getppid(), 0)));
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	socklen_t len =
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(addr->sun_path + 1));
	put_int(fd, err_of(connect(s, (const struct sockaddr *)addr, len)));
	put_int(fd, err_of(kill(getpid(), 0))); /* own domain: allowed */
}

static void test_landlock_scopes_signals_and_abstract_sockets(void **state)
{
	(void)state;
	if (!landlock_abi_or_skip(6, "scoping"))
		skip();
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1, "harness-test-%d", getpid());
	socklen_t len =
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(addr.sun_path + 1));
	int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(ls, (struct sockaddr *)&addr, len), 0);
	assert_int_equal(listen(ls, 4), 0);
	struct child_out out;
	run_child(landlock_scope_child, &addr, &out);
	close(ls);
	check_child_ll_ok(&out);
	assert_int_equal(get_int(&out, 0), EPERM);
	assert_int_equal(get_int(&out, 1), EPERM);
	assert_int_equal(get_int(&out, 2), 0);
}

/* Simulates a kernel without Landlock: a filter makes the syscall ENOSYS. */
static void landlock_missing_child(int fd, void *arg)
{
	(void)arg;
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(landlock_create_ruleset), 0) <
		0 ||
	    seccomp_load(ctx) < 0)
		_exit(92);
	seccomp_release(ctx);
	struct hs_error err;
	hs_error_clear(&err);
	int abi = -1;
	put_int(fd, hs_landlock_abi());
	put_int(fd, hs_landlock_apply(NULL, 0, true, NULL, false, &abi, &err));
	put_int(fd, strstr(err.msg, "Landlock is not available") != NULL);
	put_int(fd, strstr(err.msg, "--best-effort") != NULL);
	abi = -1;
	put_int(fd, hs_landlock_apply(NULL, 0, true, NULL, true, &abi, &err));
	put_int(fd, abi);
}

static void test_landlock_missing_fails_closed(void **state)
{
	(void)state;
	struct child_out out;
	run_child(landlock_missing_child, NULL, &out);
	assert_exited_ok(&out);
	assert_int_equal(get_int(&out, 0), 0);	/* no ABI */
	assert_int_equal(get_int(&out, 1), -1); /* refused */
	assert_int_equal(get_int(&out, 2), 1);
	assert_int_equal(get_int(&out, 3), 1);
	assert_int_equal(get_int(&out, 4), 0); /* best effort: runs */
	assert_int_equal(get_int(&out, 5), 0); /* ... with no ABI */
}

/* ---- capabilities ---- */

/* Writes "PreEff:", "PrePrm:", "PreInh:" (capget, before exec) and
 * "Secbits:" lines in the same hex format as /proc/self/status. */
static void report_own_caps(int fd)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {{0}};
	if (syscall(SYS_capget, &hdr, d) < 0)
		_exit(94);
	char text[256];
	int n = snprintf(text, sizeof(text),
			 "PreEff:\t%x%08x\nPrePrm:\t%x%08x\nPreInh:\t%x%08x\n"
			 "Secbits:\t%x\n",
			 d[1].effective, d[0].effective, d[1].permitted, d[0].permitted,
			 d[1].inheritable, d[0].inheritable, prctl(PR_GET_SECUREBITS, 0, 0, 0, 0));
	(void)!write(fd, text, (size_t)n);
}

/* Child: optionally drops everything, then as uid 0 execs grep to print
 * its own Cap* lines into the pipe. */
static void caps_exec_child(int fd, void *arg)
{
	if (arg) {
		struct hs_error err;
		hs_error_clear(&err);
		if (hs_caps_drop_all(&err) < 0) {
			(void)!write(fd, err.msg, strlen(err.msg));
			_exit(93);
		}
		report_own_caps(fd);
	}
	if (setuid(0) < 0 || dup2(fd, STDOUT_FILENO) < 0)
		_exit(95);
	char *const argv[] = {"grep", "^Cap", "/proc/self/status", NULL};
	char *const envp[] = {NULL};
	execve("/bin/grep", argv, envp);
	_exit(96);
}

/* Parses "CapEff:\t0000..." from the child's output. */
static unsigned long long cap_field(const struct child_out *out, const char *name)
{
	char text[OUT_MAX + 1];
	memcpy(text, out->buf, out->len);
	text[out->len] = '\0';
	const char *p = strstr(text, name);
	if (!p)
		fail_msg("no %s line in: %s", name, text);
	return strtoull(p + strlen(name) + 1, NULL, 16);
}

static void test_caps_dropped_across_exec(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		print_message("  skipped: needs root (or CAP_SETPCAP) to exercise the drop\n");
		skip();
	}
	struct child_out out;
	run_child(caps_exec_child, NULL, &out); /* baseline: root keeps caps */
	assert_exited_ok(&out);
	assert_true(cap_field(&out, "CapEff:") != 0);

	run_child(caps_exec_child, (void *)1, &out);
	if (WIFEXITED(out.status) && WEXITSTATUS(out.status) == 93)
		fail_msg("hs_caps_drop_all failed: %.*s", (int)out.len, (char *)out.buf);
	assert_exited_ok(&out);
	static const char *const fields[] = {
	    "PreEff:", "PrePrm:", "PreInh:", "CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"};
	for (size_t i = 0; i < HS_ARRAY_LEN(fields); i++)
		if (cap_field(&out, fields[i]) != 0)
			fail_msg("%s is %llx after drop (+ exec as uid 0)", fields[i],
				 cap_field(&out, fields[i]));
	/* NOROOT, NO_SETUID_FIXUP, NO_CAP_AMBIENT_RAISE on and locked,
	 * KEEP_CAPS off and locked: 0xef */
	assert_int_equal(cap_field(&out, "Secbits:"), 0xef);
}

/* Without CAP_SETPCAP (best-effort as an ordinary user) the drop must
 * insist on no_new_privs, and then still empty the process sets. */
static void caps_no_setpcap_child(int fd, void *arg)
{
	(void)arg;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1) {
		put_int(fd, 2); /* set by whatever runs the tests (bwrap, a container) */
		return;
	}
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {{0}};
	if (syscall(SYS_capget, &hdr, d) < 0)
		_exit(97);
	d[CAP_TO_INDEX(CAP_SETPCAP)].effective &= ~CAP_TO_MASK(CAP_SETPCAP);
	if (syscall(SYS_capset, &hdr, d) < 0)
		_exit(98);
	struct hs_error err;
	hs_error_clear(&err);
	put_int(fd, hs_caps_drop_all(&err)); /* no NNP yet: refused */
	put_int(fd, strstr(err.msg, "no_new_privs") != NULL);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	put_int(fd, hs_caps_drop_all(&err));
	memset(d, 0, sizeof(d));
	syscall(SYS_capget, &hdr, d);
	put_int(fd, (int)(d[0].permitted | d[1].permitted | d[0].effective | d[1].effective));
}

static void test_caps_without_setpcap_needs_nnp(void **state)
{
	(void)state;
	struct child_out out;
	run_child(caps_no_setpcap_child, NULL, &out);
	assert_exited_ok(&out);
	if (get_int(&out, 0) == 2) {
		print_message("  skipped: no_new_privs is already set for the tests (run inside a "
			      "sandbox or container), so the refusal without it cannot be shown\n");
		skip();
	}
	assert_int_equal(get_int(&out, 0), -1);
	assert_int_equal(get_int(&out, 1), 1);
	assert_int_equal(get_int(&out, 2), 0);
	assert_int_equal(get_int(&out, 3), 0);
}

/* ---- probe ---- */

static void test_probe_reports_this_kernel(void **state)
{
	(void)state;
	struct hs_probe p;
	hs_probe_run(&p);
	assert_true(p.kernel[0] != '\0');
	assert_int_equal(p.landlock_abi, hs_landlock_abi());
	assert_true(strcmp(p.cgroup_kind, "v1") == 0 || strcmp(p.cgroup_kind, "v2") == 0 ||
		    strcmp(p.cgroup_kind, "none") == 0);
	if (p.userns)
		assert_true(p.userns_why[0] == '\0');
	else
		assert_true(p.userns_why[0] != '\0');
	if (p.cgroup_delegated)
		assert_int_equal(access(p.cgroup_path, W_OK), 0);
	print_message("  userns=%d mnt=%d pid=%d net=%d landlock=%d seccomp=%d notify=%d "
		      "cgroup=%s%s overlay=%d %s\n",
		      p.userns, p.mountns, p.pidns, p.netns, p.landlock_abi, p.seccomp,
		      p.seccomp_notify, p.cgroup_kind, p.cgroup_delegated ? "(delegated)" : "",
		      p.overlay_userns, p.userns_why);
}

/* Under our own filter unshare(CLONE_NEWUSER) is refused: the probe must
 * say so and name seccomp, as it would inside a default Docker container. */
static void probe_under_filter_child(int fd, void *arg)
{
	(void)arg;
	install_seccomp_or_die(fd);
	struct hs_probe p;
	hs_probe_run(&p);
	put_int(fd, p.userns);
	put_int(fd, strstr(p.userns_why, "seccomp") != NULL);
}

static void test_probe_explains_seccomp_refusal(void **state)
{
	(void)state;
	struct child_out out;
	run_child(probe_under_filter_child, NULL, &out);
	assert_exited_ok(&out);
	assert_int_equal(get_int(&out, 0), 0);
	assert_int_equal(get_int(&out, 1), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seccomp_refuses_escape_syscalls),
		cmocka_unit_test(test_seccomp_kills_x32),
#if defined(__x86_64__)
		cmocka_unit_test(test_seccomp_kills_int80),
#endif
		cmocka_unit_test(test_seccomp_names_resolve),
		cmocka_unit_test(test_landlock_filesystem),
		cmocka_unit_test(test_landlock_denies_tcp),
		cmocka_unit_test(test_landlock_scopes_signals_and_abstract_sockets),
		cmocka_unit_test(test_landlock_missing_fails_closed),
		cmocka_unit_test(test_landlock_nest_keeps_parent_out),
		cmocka_unit_test(test_caps_dropped_across_exec),
		cmocka_unit_test(test_caps_without_setpcap_needs_nnp),
		cmocka_unit_test(test_probe_reports_this_kernel),
		cmocka_unit_test(test_probe_explains_seccomp_refusal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
