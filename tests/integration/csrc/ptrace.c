/*
 * ptrace kill PID     attach to PID and kill it through ptrace
 * ptrace pid1 INO     attach to pid 1 and kill it through ptrace, then create
 *                     ./survived; refuses (exit 3) when /proc/self/ns/pid has
 *                     inode INO, i.e. when it is not in a new pid namespace:
 *                     it must never touch the host's init.
 * Also tries process_vm_readv on the target.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static void attack(pid_t pid)
{
	char buf[64];
	struct iovec l = {buf, sizeof(buf)}, r = {(void *)0x400000, sizeof(buf)};
	long n = process_vm_readv(pid, &l, 1, &r, 1, 0);
	fprintf(stderr, "ptrace: process_vm_readv %ld %s\n", n, n < 0 ? strerror(errno) : "");
	long a = ptrace(PTRACE_ATTACH, pid, 0, 0);
	fprintf(stderr, "ptrace: attach %d -> %ld %s\n", (int)pid, a, a < 0 ? strerror(errno) : "");
	if (a == 0) {
		int st;
		waitpid(pid, &st, __WALL);
		ptrace(PTRACE_KILL, pid, 0, 0);
		kill(pid, SIGKILL);
	}
	a = ptrace(PTRACE_SEIZE, pid, 0, 0);
	fprintf(stderr, "ptrace: seize %d -> %ld %s\n", (int)pid, a, a < 0 ? strerror(errno) : "");
	if (a == 0) {
		int st;
		ptrace(PTRACE_INTERRUPT, pid, 0, 0);
		waitpid(pid, &st, __WALL);
		ptrace(PTRACE_KILL, pid, 0, 0);
	}
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	if (strcmp(argv[1], "kill") == 0) {
		attack((pid_t)atoi(argv[2]));
		return 0;
	}
	struct stat st;
	if (stat("/proc/self/ns/pid", &st) < 0 || st.st_ino == strtoull(argv[2], NULL, 10)) {
		fprintf(stderr, "ptrace: not in a new pid namespace; refusing to touch pid 1\n");
		return 3;
	}
	attack(1);
	usleep(300000);
	int fd = open("survived", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0)
		close(fd);
	return 0;
}
