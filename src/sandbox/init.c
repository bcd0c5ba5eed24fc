/*
 * init.c: the sandbox's pid 1. Runs in the child created by spawn.c, in new
 * user, mount, pid, net, ipc, uts and cgroup namespaces, as a forked copy of
 * the single-threaded supervisor. It:
 *
 *   1. dies with the supervisor (PDEATHSIG + the GO handshake),
 *   2. maps its uid/gid to themselves (a single-id map: allowed unprivileged),
 *   3. builds the new root from the plan and pivots into it (mounts.c logic
 *      inline below; every step aborts the launch with the path and errno),
 *   4. raises loopback, wipes the caller's argv/environ from its memory,
 *   5. fences itself: no_new_privs -> Landlock -> caps dropped -> seccomp,
 *   6. starts the command (pid 2) and execs it with the plan's environment
 *      (sharing pid 1's memory until its execve where Landlock nests it in a
 *      domain of its own, see spawn_command),
 *   7. reaps every orphan, forwards signals to the command, and exits with the
 *      command's status; its exit makes the kernel kill everything left in
 *      the pid namespace (setsid'd or double-forked daemons included).
 *
 * Assumptions: the plan's destination paths are canonical host paths (view.c),
 * so no symlink is followed inside the new root except ones the plan made.
 */
#define _GNU_SOURCE
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NEWROOT "/newroot"
#define OLDROOT "/oldroot"

static char *proc_strings_start, *proc_strings_end;

void hs_set_proc_strings_area(char *start, char *end)
{
	proc_strings_start = start;
	proc_strings_end = end;
}

static int g_sock = -1;

static void send_msg(char type, int value, const char *text)
{
	struct hs_msg m;
	memset(&m, 0, sizeof(m));
	m.type = type;
	m.value = value;
	if (text)
		snprintf(m.text, sizeof(m.text), "%s", text);
	(void)!send(g_sock, &m, sizeof(m), MSG_NOSIGNAL);
}

/* Reports a setup failure to the supervisor and ends the child. */
__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
	char buf[HS_ERR_MSG_MAX];
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (saved) {
		size_t n = strlen(buf);
		snprintf(buf + n, sizeof(buf) - n, ": %s", strerror(saved));
	}
	send_msg(HS_MSG_ERROR, saved, buf);
	_exit(HS_EXIT_HARNESS);
}

__attribute__((noreturn)) static void die_err(const struct hs_error *err)
{
	send_msg(HS_MSG_ERROR, err->sys_errno, err->msg);
	_exit(HS_EXIT_HARNESS);
}

/* ---- filesystem helpers (all paths absolute, in our private mount ns) ---- */

static void mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		die("mkdir %s", path);
	}
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			die("mkdir %s", buf);
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		die("mkdir %s", buf);
}

static void parent_dirs(const char *path)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	char *slash = strrchr(buf, '/');
	if (slash && slash != buf) {
		*slash = '\0';
		mkdir_p(buf, 0755);
	}
}

/* A mount point for a file: an empty file, unless something is there. */
static void ensure_file(const char *path)
{
	struct stat st;
	if (lstat(path, &st) == 0)
		return;
	parent_dirs(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0444);
	if (fd < 0)
		die("create mount point %s", path);
	close(fd);
}

static void ensure_dir(const char *path)
{
	struct stat st;
	if (lstat(path, &st) == 0)
		return;
	mkdir_p(path, 0755);
}

/* dst = a + "/" + b; a path that does not fit aborts the launch. */
static void path_join(char *dst, size_t len, const char *a, const char *b)
{
	int n = snprintf(dst, len, "%s/%s", a, b);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		die("path %s/%s", a, b);
	}
}

static void set_attr(const char *path, uint64_t attrs, bool recursive)
{
	struct mount_attr attr = {.attr_set = attrs};
	if (mount_setattr(AT_FDCWD, path, recursive ? AT_RECURSIVE : 0, &attr, sizeof(attr)) < 0)
		die("mount_setattr %s", path);
}

static void bind_path(const char *src, const char *dst, bool is_dir, uint64_t attrs)
{
	if (is_dir)
		ensure_dir(dst);
	else
		ensure_file(dst);
	/* MS_REC: submounts of the source come along; set_attr then applies
	 * read-only/nosuid/nodev to all of them (mount_setattr AT_RECURSIVE),
	 * which a plain MS_REMOUNT could not do. */
	if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
		die("bind %s on %s", src, dst);
	set_attr(dst, attrs, true);
}

static void tmpfs(const char *dst, unsigned mode, uint64_t size, unsigned long flags)
{
	char opts[64];
	if (size)
		snprintf(opts, sizeof(opts), "mode=%o,size=%llu", mode, (unsigned long long)size);
	else
		snprintf(opts, sizeof(opts), "mode=%o", mode);
	ensure_dir(dst);
	if (mount("tmpfs", dst, "tmpfs", flags, opts) < 0)
		die("mount tmpfs on %s", dst);
}

static char *in_new(const char *path)
{
	static char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), NEWROOT "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		die("path %s", path);
	}
	return buf;
}

static char *in_old(const char *path)
{
	static char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), OLDROOT "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		die("path %s", path);
	}
	return buf;
}

/* Fresh proc for our pid namespace; the kernel knobs under it read-only. */
static void setup_proc(const char *dst)
{
	static const char *const ro[] = {"sys", "sysrq-trigger", "irq", "bus", "fs", NULL};
	char sub[PATH_MAX];
	ensure_dir(dst);
	if (mount("proc", dst, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		die("mount proc on %s", dst);
	for (size_t i = 0; ro[i]; i++) {
		struct stat st;
		path_join(sub, sizeof(sub), dst, ro[i]);
		if (lstat(sub, &st) < 0)
			continue;
		if (mount(sub, sub, NULL, MS_BIND | MS_REC, NULL) < 0)
			die("bind %s", sub);
		set_attr(sub, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, true);
	}
}

/* Minimal /dev: a few host device nodes bound in, a private devpts
 * instance (ptys of the sandbox only), /dev/shm, the usual symlinks. */
static void setup_dev(const char *dst)
{
	static const char *const nodes[] = {"null", "zero", "full", "random", "urandom", "tty", NULL};
	static const char *const links[][2] = {
		{"fd", "/proc/self/fd"},     {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
		{"stderr", "/proc/self/fd/2"}, {"ptmx", "pts/ptmx"},        {"core", "/proc/kcore"},
	};
	char p[PATH_MAX];
	tmpfs(dst, 0755, 1 << 20, MS_NOSUID | MS_NOEXEC);
	for (size_t i = 0; nodes[i]; i++) {
		path_join(p, sizeof(p), dst, nodes[i]);
		char src[64];
		snprintf(src, sizeof(src), OLDROOT "/dev/%s", nodes[i]);
		struct stat st;
		if (stat(src, &st) < 0)
			continue;
		ensure_file(p);
		if (mount(src, p, NULL, MS_BIND, NULL) < 0)
			die("bind %s on %s", src, p);
		set_attr(p, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, false);
	}
	for (size_t i = 0; i < HS_ARRAY_LEN(links); i++) {
		if (strcmp(links[i][0], "core") == 0)
			continue; /* no /proc/kcore link: nothing inside needs it */
		path_join(p, sizeof(p), dst, links[i][0]);
		if (symlink(links[i][1], p) < 0)
			die("symlink %s", p);
	}
	path_join(p, sizeof(p), dst, "pts");
	ensure_dir(p);
	if (mount("devpts", p, "devpts", MS_NOSUID | MS_NOEXEC,
		  "newinstance,ptmxmode=0666,mode=0620") < 0)
		die("mount devpts on %s", p);
	path_join(p, sizeof(p), dst, "shm");
	tmpfs(p, 01777, 64ULL << 20, MS_NOSUID | MS_NODEV);
	/* No new nodes can be made in /dev itself. */
	set_attr(dst, MOUNT_ATTR_RDONLY, false);
}

/* mount(2) follows a symlink at the target; move_mount without
 * MOVE_MOUNT_T_SYMLINKS does not, so the link itself becomes a mount point
 * (it can then be neither unlinked nor renamed). */
static void cover_symlink(const char *dst, const char *content)
{
	static unsigned n;
	char src[32] = "/empty-file";
	if (content) {
		/* A file of our own in the base tmpfs (gone with it after the
		 * pivot) holding what the covered link should read as. */
		snprintf(src, sizeof(src), "/cover-%u", n++);
		int wfd = open(src, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
		if (wfd < 0 || hs_write_all(wfd, content, strlen(content)) < 0)
			die("write %s", src);
		close(wfd);
	}
	int fd = open_tree(AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (fd < 0)
		die("open_tree for %s", dst);
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
					      MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC};
	if (mount_setattr(fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
		die("mount_setattr for %s", dst);
	if (move_mount(fd, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		die("cover symlink %s", dst);
	close(fd);
}

static int g_upper_fd = -1; /* the workspace's upper dir, for the supervisor */

/* Appends path to buf with the characters overlayfs's option parser
 * splits on (',' and ':') and its escape ('\\') escaped. */
static void overlay_escape(char *buf, size_t cap, const char *path)
{
	size_t n = strlen(buf);
	for (const char *p = path; *p; p++) {
		if (n + 3 >= cap) {
			errno = ENAMETOOLONG;
			die("overlay options for %s", path);
		}
		if (*p == ',' || *p == ':' || *p == '\\')
			buf[n++] = '\\';
		buf[n++] = *p;
	}
	buf[n] = '\0';
}

/*
 * The workspace: an overlay whose lower layer is the host dir (never
 * written: overlayfs copies a file up before changing it) and whose upper
 * and work dirs live on a tmpfs of the plan's size in the base (so the
 * command can fill at most that much, in memory charged to its cgroup,
 * never the user's disk). "userxattr": overlayfs in a user namespace
 * keeps its whiteout and opaque marks in user.overlay.* xattrs (Linux
 * 5.11+; tmpfs has user xattrs from 6.6). The upper dir is opened for the
 * supervisor, which reads the changes from it after the run: an open
 * directory keeps its tmpfs alive after the sandbox's mounts are gone.
 */
static void overlay_workspace(const struct hs_mount *m, const char *dst)
{
	if (g_upper_fd >= 0)
		errno = 0, die("more than one workspace in the plan");
	tmpfs("/ws", 0700, m->size, MS_NOSUID | MS_NODEV);
	if (mkdir("/ws/upper", 0755) < 0 || mkdir("/ws/work", 0700) < 0)
		die("mkdir in the workspace tmpfs");
	char opts[3 * PATH_MAX] = "lowerdir=";
	overlay_escape(opts, sizeof(opts), in_old(m->src));
	strncat(opts, ",upperdir=/ws/upper,workdir=/ws/work,userxattr,redirect_dir=nofollow,metacopy=off",
		sizeof(opts) - strlen(opts) - 1);
	ensure_dir(dst);
	if (mount("overlay", dst, "overlay", MS_NOSUID | MS_NODEV, opts) < 0)
		die("mount the workspace overlay on %s (overlayfs in a user namespace needs "
		    "Linux 5.11; run without --review/--ephemeral here)",
		    m->dst);
	g_upper_fd = open("/ws/upper", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (g_upper_fd < 0)
		die("open the workspace's upper dir");
}

/*
 * The workspace where overlayfs cannot be mounted: the supervisor copied
 * the project into a directory of its own (outside every sandbox's view),
 * which is bound read-write at the project's path. Its root is opened for
 * the supervisor like the overlay's upper dir, although the supervisor
 * reads the copy through the descriptor it kept itself.
 */
static void snapshot_workspace(const struct hs_mount *m, const char *dst)
{
	if (g_upper_fd >= 0)
		errno = 0, die("more than one workspace in the plan");
	if (!m->src)
		errno = 0, die("the workspace snapshot of %s was not made", m->dst);
	bind_path(in_old(m->src), dst, true, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
	g_upper_fd = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (g_upper_fd < 0)
		die("open the workspace snapshot");
}

static void mount_one(const struct hs_mount *m)
{
	const uint64_t ro = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
	const uint64_t rw = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
	char dst[PATH_MAX];
	snprintf(dst, sizeof(dst), "%s", in_new(m->dst));
	switch (m->kind) {
	case HS_MNT_SYMLINK:
		parent_dirs(dst);
		if (symlink(m->src, dst) < 0 && errno != EEXIST)
			die("symlink %s -> %s", dst, m->src);
		break;
	case HS_MNT_BIND_RO:
		bind_path(in_old(m->src), dst, m->is_dir, ro);
		break;
	case HS_MNT_BIND_RW:
		bind_path(in_old(m->src), dst, m->is_dir, rw);
		break;
	case HS_MNT_TMPFS:
		tmpfs(dst, m->mode, m->size, MS_NOSUID | MS_NODEV);
		break;
	case HS_MNT_PROC:
		setup_proc(dst);
		break;
	case HS_MNT_DEV:
		setup_dev(dst);
		break;
	case HS_MNT_PROTECT:
		/* Re-bind the (already visible) path onto itself, read-only. */
		bind_path(dst, dst, m->is_dir, ro);
		break;
	case HS_MNT_PIN:
		bind_path(dst, dst, true, rw);
		break;
	case HS_MNT_PIN_LINK:
		cover_symlink(dst, m->src);
		break;
	case HS_MNT_OVERLAY:
		overlay_workspace(m, dst);
		break;
	case HS_MNT_SNAPSHOT:
		snapshot_workspace(m, dst);
		break;
	case HS_MNT_HIDE:
		/* Cover with an empty, mode-000 dir or file from the base tmpfs. */
		bind_path(m->is_dir ? "/empty-dir" : "/empty-file", dst, m->is_dir, ro);
		break;
	}
}

/*
 * Builds the new root. We start in a private copy of the caller's mount
 * tree (new mount namespace, so nothing here is visible to the host):
 * a tmpfs on /tmp becomes the temporary root (pivot_root), with the old
 * root reachable at /oldroot as the source of every bind. The view is
 * assembled under /newroot, then pivoted into; /oldroot is detached, so no
 * path inside leads back to the host tree.
 */
/* Lexically normalises an absolute path in place ("." and ".." resolved,
 * ".." at the root staying at the root). */
static void normalise_path(char *p)
{
	char out[PATH_MAX] = "";
	size_t n = 0;
	for (char *save = NULL, *c = strtok_r(p, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (strcmp(c, ".") == 0)
			continue;
		if (strcmp(c, "..") == 0) {
			while (n > 0 && out[n - 1] != '/')
				n--;
			if (n > 0)
				n--;
			out[n] = '\0';
			continue;
		}
		int w = snprintf(out + n, sizeof(out) - n, "/%s", c);
		if (w < 0 || (size_t)w >= sizeof(out) - n)
			die("path too long");
		n += (size_t)w;
	}
	snprintf(p, PATH_MAX, "%s", n ? out : "/");
}

/*
 * The transparent path's DNS stub listens on 127.0.0.1:53: point the
 * resolver at it by covering /etc/resolv.conf with a file from the base
 * tmpfs. When /etc/resolv.conf is a symlink (systemd-resolved's
 * ../run/systemd/resolve/stub-resolv.conf), the file it names is covered
 * if the sandbox shows it; otherwise nothing is, and names simply do not
 * resolve inside (closed, as without the stub).
 */
static void cover_resolv_conf(void)
{
	static const char conf[] = "# harness: names resolve through its DNS stub; see "
				   "docs/network.md\nnameserver 127.0.0.1\noptions attempts:2 "
				   "timeout:2\n";
	int fd = open("/resolv.conf", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, conf, sizeof(conf) - 1) != (ssize_t)(sizeof(conf) - 1))
		die("write the sandbox's resolv.conf");
	close(fd);
	char inside[PATH_MAX] = "/etc/resolv.conf", path[PATH_MAX + 16], target[PATH_MAX];
	struct stat st;
	snprintf(path, sizeof(path), "%s%s", NEWROOT, inside);
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			return;
		target[n] = '\0';
		if (target[0] == '/')
			snprintf(inside, sizeof(inside), "%s", target);
		else if ((size_t)snprintf(inside, sizeof(inside), "/etc/%s", target) >= sizeof(inside))
			return;
		normalise_path(inside);
		snprintf(path, sizeof(path), "%s%s", NEWROOT, inside);
	}
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	bind_path("/resolv.conf", path, false,
		  MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
}

static void build_root(const struct hs_plan *plan)
{
	/* Safety: MS_PRIVATE so none of our mounts propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die("make / private");
	if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=4m") < 0)
		die("mount base tmpfs");
	if (chdir("/tmp") < 0)
		die("chdir base");
	if (mkdir("newroot", 0755) < 0 || mkdir("oldroot", 0755) < 0 ||
	    mkdir("empty-dir", 0) < 0)
		die("mkdir in base");
	int fd = open("empty-file", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0)
		die("create empty-file");
	close(fd);
	if (syscall(SYS_pivot_root, ".", "oldroot") < 0)
		die("pivot_root to base");
	if (chdir("/") < 0)
		die("chdir /");
	/* pivot_root needs the new root to be a mount point. */
	if (mount(NEWROOT, NEWROOT, NULL, MS_BIND, NULL) < 0)
		die("bind newroot");
	for (size_t i = 0; i < plan->nmounts; i++)
		mount_one(&plan->mounts[i]);
	if (plan->transparent)
		cover_resolv_conf();
	/* Nothing can be created in the root itself. */
	set_attr(NEWROOT, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, false);
	if (chdir(NEWROOT) < 0)
		die("chdir newroot");
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		die("pivot_root to new root");
	/* The old root now sits under "."; detach it so the host tree is gone. */
	if (umount2(".", MNT_DETACH) < 0)
		die("detach old root");
	if (chdir("/") < 0)
		die("chdir /");
}

static void write_id_maps(uid_t uid, gid_t gid)
{
	char buf[64];
	/* A single-id map of our own ids needs no privilege, but the kernel
	 * requires setgroups to be denied first for the gid map. */
	if (hs_write_file("/proc/self/setgroups", "deny") < 0 && errno != ENOENT)
		die("write /proc/self/setgroups");
	snprintf(buf, sizeof(buf), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
	if (hs_write_file("/proc/self/uid_map", buf) < 0)
		die("write uid_map");
	snprintf(buf, sizeof(buf), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
	if (hs_write_file("/proc/self/gid_map", buf) < 0)
		die("write gid_map");
}

static void loopback_up(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		die("socket for loopback");
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		die("get loopback flags");
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		die("bring loopback up");
	close(s);
}

/* Nothing of the caller's argv or environment stays readable in our memory
 * (a non-dumpable pid 1 already refuses /proc/1/environ; this is belt and
 * braces for /proc/1/cmdline and for anything that can read our pages). */
static void wipe_proc_strings(void)
{
	if (proc_strings_start && proc_strings_end > proc_strings_start) {
		memset(proc_strings_start, 0, (size_t)(proc_strings_end - proc_strings_start));
		snprintf(proc_strings_start, (size_t)(proc_strings_end - proc_strings_start),
			 "harness-init");
	}
	extern char **environ;
	environ = NULL;
}

static void close_fds_except(int keep)
{
	if (keep > 3)
		syscall(SYS_close_range, 3U, (unsigned)keep - 1, 0U);
	syscall(SYS_close_range, (unsigned)keep + 1, ~0U, 0U);
}

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};

static void noop_handler(int sig)
{
	(void)sig;
}

/* Runs in the command's process, which shares pid 1's memory (vfork
 * semantics; nest_abi > 0, the Landlock ABI in force) or has a copy of it
 * (fork; nest_abi 0), until execve. Shared:
 * every change must stay in this process's own kernel state (rlimits,
 * signal dispositions and mask, Landlock domain, fd table) or be one pid 1
 * does not mind (environ, errno), and nothing may take a lock pid 1 could
 * hold (pid 1 is suspended in clone, outside any). */
__attribute__((noreturn)) static void exec_command(const struct hs_plan *plan,
						  const struct hs_cgroup *cg, int nest_abi)
{
	sigset_t none;
	struct hs_error err;
	hs_error_clear(&err);
	/* The command's own Landlock domain, nested in pid 1's: the kernel
	 * then refuses it (and all it starts) ptrace access to pid 1, which
	 * covers /proc/1/mem, /proc/1/environ and /proc/1/maps, whether or
	 * not pid 1 is dumpable. Before the rlimits: it opens an fd, which a
	 * tiny --max-open-files would refuse. */
	bool shared_mm = nest_abi > 0;
	if (shared_mm && hs_landlock_nest(nest_abi, &err) < 0)
		die_err(&err);
	/* Limits bind the command and its descendants, not pid 1: our own
	 * allocations (and a sanitizer's shadow memory) stay out of them. */
	if (hs_rlimits_apply(&plan->limits, cg, &err) < 0)
		die_err(&err);
	extern char **environ;
	struct sigaction sa = {.sa_handler = SIG_DFL};
	for (size_t i = 0; i < HS_ARRAY_LEN(forwarded); i++)
		sigaction(forwarded[i], &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	/* A forked copy: pid 1 made itself non-dumpable and we inherited that:
	 * undo it, so the supervisor (not privileged over us when it runs
	 * unprivileged) can read our execve arguments. Nothing but pid 1
	 * exists yet to read this copy of its memory, and execve replaces it.
	 * (Shared memory: pid 1 saw to it, see spawn_command.) */
	if (!shared_mm)
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	/* The command starts with no signal blocked, whatever harness had. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* execvp searches the PATH of the environment it runs in: the plan's. */
	environ = plan->env.v;
	execvp(plan->argv.v[0], plan->argv.v);
	int e = errno;
	send_msg(HS_MSG_EXECFAIL, e, plan->argv.v[0]);
	_exit(e == ENOENT ? HS_EXIT_NOTFOUND : HS_EXIT_NOEXEC);
}

struct cmd_start {
	const struct hs_plan *plan;
	const struct hs_cgroup *cg;
	int abi;
};

/* The command's stack while it shares pid 1's memory, until its execve. */
static char cmd_stack[64 * 1024] __attribute__((aligned(64)));

static int cmd_entry(void *arg)
{
	const struct cmd_start *cs = arg;
	exec_command(cs->plan, cs->cg, cs->abi);
}

/* Starts the command. With Landlock, vfork-style (CLONE_VM | CLONE_VFORK):
 * no copy of pid 1's page tables to make, no copy-on-write faults on either
 * side, nothing to tear down at execve; pid 1 sleeps until the command's
 * execve has left its memory (or the command has exited). Two things
 * follow from sharing the memory:
 *   - with exec interception the supervisor reads the first execve's
 *     arguments from pid 1's memory, so that memory must be dumpable (an
 *     unprivileged supervisor has no CAP_SYS_PTRACE over it), and the
 *     interception filter, already in force, refuses making it undumpable
 *     again. What keeps the command out of pid 1 is then the nested
 *     Landlock domain (exec_command): Landlock refuses a process ptrace
 *     access to any process of an enclosing domain.
 *   - pid 1 must not hold a lock the command could need: it is
 *     single-threaded and calls clone outside any.
 * Without Landlock (--best-effort) there is no nested domain to rely on:
 * fork, and pid 1 stays undumpable. */
static pid_t spawn_command(const struct hs_plan *plan, const struct hs_cgroup *cg, int abi)
{
	if (abi <= 0) {
		pid_t pid = fork();
		if (pid == 0)
			exec_command(plan, cg, 0);
		return pid;
	}
	if (plan->intercept_exec && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
		die("prctl(PR_SET_DUMPABLE)");
	static struct cmd_start cs;
	cs.plan = plan;
	cs.cg = cg;
	cs.abi = abi;
	pid_t pid = clone(cmd_entry, cmd_stack + sizeof(cmd_stack), CLONE_VM | CLONE_VFORK | SIGCHLD,
			  &cs);
	extern char **environ;
	environ = NULL; /* the command set it to the plan's, for execvp */
	return pid;
}

/* Waits for the command, reaping every orphan on the way; forwards signals. */
__attribute__((noreturn)) static void reap_loop(pid_t cmd, const sigset_t *set)
{
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(set, &si);
		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			kill(cmd, sig);
			continue;
		}
		int status;
		pid_t p;
		while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
			if (p == cmd) {
				send_msg(HS_MSG_STATUS, status, NULL);
				/* Our exit makes the kernel SIGKILL the rest of the namespace. */
				_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
			}
		}
	}
}

/* The TCP ports the command may connect to: the proxy's (and 80 and 443
 * for the transparent path), or none. Zero-terminated. */
static const uint16_t *plan_ports(const struct hs_plan *plan)
{
	static uint16_t ports[5];
	size_t n = 0;
	if (plan->proxy) {
		ports[n++] = plan->proxy_http_port;
		ports[n++] = plan->proxy_socks_port;
		if (plan->transparent) {
			ports[n++] = 443;
			ports[n++] = 80;
		}
	}
	ports[n] = 0;
	return ports;
}

static void apply_fences(const struct hs_plan *plan, unsigned *layers, int *abi, int *notify_fd)
{
	struct hs_error err;
	hs_error_clear(&err);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die("prctl(NO_NEW_PRIVS)");
	if (hs_landlock_apply(plan->ll, plan->nll, plan->deny_tcp, plan_ports(plan), plan->best_effort,
			      abi, &err) < 0)
		die_err(&err);
	if (*abi > 0)
		*layers |= HS_LAYER_LANDLOCK;
	if (hs_caps_drop_all(&err) < 0)
		die_err(&err);
	*layers |= HS_LAYER_CAPS;
	if (hs_seccomp_load(&plan->seccomp, notify_fd, &err) < 0)
		die_err(&err);
	*layers |= HS_LAYER_SECCOMP;
	if (plan->intercept_exec)
		*layers |= HS_LAYER_EXEC_NOTIFY;
}

/* READY, with the fds the supervisor needs attached (SCM_RIGHTS), in the
 * order that m.text names them: 'n' the exec listener, 'h' and 's' the
 * proxy's HTTP and SOCKS listeners, 't', 'p' and 'd' the transparent
 * path's (443, 80, and the DNS stub's UDP socket). */
static void send_ready(int value, const int *fds, const char *tags)
{
	struct hs_msg m;
	memset(&m, 0, sizeof(m));
	m.type = HS_MSG_READY;
	m.value = value;
	size_t nfds = strlen(tags);
	snprintf(m.text, sizeof(m.text), "%s", tags);
	struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
	union {
		char buf[CMSG_SPACE(sizeof(int) * 7)];
		struct cmsghdr align;
	} c;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (nfds > 0) {
		memset(&c, 0, sizeof(c));
		mh.msg_control = c.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	if (sendmsg(g_sock, &mh, MSG_NOSIGNAL) < 0)
		_exit(HS_EXIT_HARNESS);
}

/* A listening TCP socket (or, udp, a bound UDP socket) on 127.0.0.1:port,
 * inside the sandbox's network namespace: the supervisor accepts (reads)
 * on it and relays (the sandbox itself only ever connects to it). Ports
 * below 1024 need CAP_NET_BIND_SERVICE, which pid 1 holds in the user
 * namespace that owns this network namespace (before the fences drop it). */
static int proxy_listener(uint16_t port, bool udp)
{
	int s = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		die("socket for the proxy");
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("bind the proxy to 127.0.0.1:%u%s", (unsigned)port, udp ? " (UDP)" : "");
	if (!udp && listen(s, 1024) < 0)
		die("listen on 127.0.0.1:%u", (unsigned)port);
	return s;
}

void hs_init_main(const struct hs_plan *plan, const struct hs_cgroup *cg, int sock)
{
	g_sock = sock;
	unsigned layers = 0;
	int abi = 0;
	int notify_fd = -1;

	/* 1. Die with the supervisor, and do nothing until it says GO (it
	 *    attaches our cgroup first). EOF means it is gone: leave. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		die("prctl(PDEATHSIG)");
	struct hs_msg go;
	if (recv(sock, &go, sizeof(go), 0) <= 0 || go.type != HS_MSG_GO)
		_exit(HS_EXIT_HARNESS);
	close_fds_except(sock);

	if (plan->userns) {
		write_id_maps((uid_t)go.value, (gid_t)atoi(go.text));
		layers |= HS_LAYER_USERNS | HS_LAYER_MOUNT | HS_LAYER_PID | HS_LAYER_NET;
		if (sethostname(plan->hostname, strlen(plan->hostname)) < 0)
			die("sethostname");
		build_root(plan);
		loopback_up();
	}
	/* The proxy's sockets, in the order of their READY tags. */
	static const char proxy_tags[] = "hstpd";
	int proxy_fds[5] = {-1, -1, -1, -1, -1};
	if (plan->proxy && plan->userns) {
		proxy_fds[0] = proxy_listener(plan->proxy_http_port, false);
		proxy_fds[1] = proxy_listener(plan->proxy_socks_port, false);
		if (plan->transparent) {
			proxy_fds[2] = proxy_listener(443, false);
			proxy_fds[3] = proxy_listener(80, false);
			proxy_fds[4] = proxy_listener(53, true);
		}
	}
	if (chdir(plan->cwd) < 0 && chdir(plan->home) < 0 && chdir("/") < 0)
		die("chdir %s", plan->cwd);
	if (setsid() < 0)
		die("setsid");

	/* pid 1 is not dumpable: /proc/1/{environ,mem,...} refuse the command.
	 * Before the fences: with exec interception, seccomp refuses
	 * prctl(PR_SET_DUMPABLE, 0) (see seccomp.c), and a failure here must
	 * stop the launch rather than leave pid 1 readable. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		die("prctl(PR_SET_DUMPABLE)");
	prctl(PR_SET_NAME, "harness-init", 0, 0, 0);
	wipe_proc_strings();
	apply_fences(plan, &layers, &abi, &notify_fd);

	/* Signals: pid 1 only receives what it has a handler for. Install
	 * no-op handlers, block the signals, and take them with sigwaitinfo. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	struct sigaction sa = {.sa_handler = noop_handler};
	for (size_t i = 0; i < HS_ARRAY_LEN(forwarded); i++) {
		sigaddset(&set, forwarded[i]);
		sigaction(forwarded[i], &sa, NULL);
	}
	sigaction(SIGCHLD, &sa, NULL);
	sigprocmask(SIG_BLOCK, &set, NULL);

	/* The command may start only inside its cgroup (pids, memory). */
	struct hs_msg att;
	if (recv(sock, &att, sizeof(att), 0) <= 0 || att.type != HS_MSG_ATTACHED)
		_exit(HS_EXIT_HARNESS);
	/* READY before the command exists: its first execve waits in the
	 * kernel until the supervisor, which gets the listener with READY,
	 * answers it (and pid 1 may be asleep in clone until then). */
	int fds[7];
	char tags[8] = "";
	size_t nfds = 0;
	if (notify_fd >= 0) {
		fds[nfds] = notify_fd;
		tags[nfds++] = 'n';
	}
	for (size_t i = 0; i < HS_ARRAY_LEN(proxy_fds); i++) {
		if (proxy_fds[i] >= 0) {
			fds[nfds] = proxy_fds[i];
			tags[nfds++] = proxy_tags[i];
		}
	}
	if (g_upper_fd >= 0) {
		fds[nfds] = g_upper_fd;
		tags[nfds++] = 'u';
	}
	send_ready((int)layers | (abi << 16), fds, tags);
	/* Only the supervisor answers notifications and accepts connections;
	 * the upper layer is reached through the overlay only. Closed before
	 * the command starts, so it never holds them. */
	for (size_t i = 0; i < nfds; i++)
		close(fds[i]);
	g_upper_fd = -1;
	pid_t cmd = spawn_command(plan, cg, abi);
	if (cmd < 0)
		die("start the command");
	reap_loop(cmd, &set);
}
