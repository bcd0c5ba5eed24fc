/*
 * nsprobe: tries to change the mount view from inside the sandbox. It never
 * decides anything: it does the same steps whatever each one returns, and the
 * test looks at where the files landed on the host.
 *
 *   nsprobe mount DIR          mount a tmpfs on DIR, then write DIR/flag
 *   nsprobe unshare DIR        unshare(NEWUSER|NEWNS), map ids, mount a tmpfs
 *                              on DIR, then write DIR/flag
 *   nsprobe clone DIR          the same in a child made by clone(NEWUSER|NEWNS)
 *                              (the parent does it itself if clone fails)
 *   nsprobe clone3 DIR         the same with clone3
 *   nsprobe unmask PATH...     umount2(MNT_DETACH) and remount-rw every PATH
 *   nsprobe setns FILE         setns() on every fd 3..255, then print FILE
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(const char *what, long r)
{
	fprintf(stderr, "nsprobe: %s -> %ld (%s)\n", what, r, r < 0 ? strerror(errno) : "ok");
}

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		(void)!write(fd, s, strlen(s));
		close(fd);
	}
	say(path, fd);
}

static void map_ids(uid_t uid, gid_t gid)
{
	char buf[64];
	write_file("/proc/self/setgroups", "deny");
	snprintf(buf, sizeof(buf), "0 %u 1", (unsigned)uid);
	write_file("/proc/self/uid_map", buf);
	snprintf(buf, sizeof(buf), "0 %u 1", (unsigned)gid);
	write_file("/proc/self/gid_map", buf);
}

/* The probe: mount over DIR, then write DIR/flag. If the mount took, the
 * flag lands in the tmpfs and the host never sees it. */
static void shadow(const char *dir, const char *who)
{
	char path[4096];
	say("mount tmpfs", mount("tmpfs", dir, "tmpfs", 0, "size=1m"));
	snprintf(path, sizeof(path), "%s/flag", dir);
	write_file(path, who);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: nsprobe MODE ARG...\n");
		return 2;
	}
	const char *mode = argv[1], *dir = argv[2];
	uid_t uid = getuid();
	gid_t gid = getgid();
	if (strcmp(mode, "mount") == 0) {
		shadow(dir, "mount");
	} else if (strcmp(mode, "unshare") == 0) {
		say("unshare", unshare(CLONE_NEWUSER | CLONE_NEWNS));
		map_ids(uid, gid);
		say("make-rprivate", mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
		shadow(dir, "unshare");
	} else if (strcmp(mode, "clone") == 0 || strcmp(mode, "clone3") == 0) {
		long pid;
		if (strcmp(mode, "clone") == 0) {
			pid = syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0);
		} else {
			struct clone_args ca;
			memset(&ca, 0, sizeof(ca));
			ca.flags = CLONE_NEWUSER | CLONE_NEWNS;
			ca.exit_signal = SIGCHLD;
			pid = syscall(SYS_clone3, &ca, sizeof(ca));
		}
		if (pid == 0) {
			map_ids(uid, gid);
			shadow(dir, "child");
			_exit(0);
		}
		say(mode, pid);
		if (pid < 0) {
			shadow(dir, "parent");
		} else {
			int st;
			waitpid((pid_t)pid, &st, 0);
		}
	} else if (strcmp(mode, "unmask") == 0) {
		for (int i = 2; i < argc; i++) {
			say("umount2", umount2(argv[i], MNT_DETACH));
			say("remount rw", mount(NULL, argv[i], NULL, MS_REMOUNT | MS_BIND, NULL));
			say("remount", mount(NULL, argv[i], NULL, MS_REMOUNT, NULL));
			say("bind over", mount(".", argv[i], NULL, MS_BIND, NULL));
		}
	} else if (strcmp(mode, "setns") == 0) {
		for (int fd = 3; fd < 256; fd++)
			if (fcntl(fd, F_GETFD) >= 0)
				say("setns", setns(fd, 0));
		say("chdir /", chdir("/"));
		int fd = open(dir, O_RDONLY);
		say(dir, fd);
		char buf[4096];
		ssize_t n;
		while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
			(void)!write(1, buf, (size_t)n);
	} else {
		fprintf(stderr, "nsprobe: unknown mode %s\n", mode);
		return 2;
	}
	return 0;
}
