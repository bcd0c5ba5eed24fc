/* execstatus OUT CMD ARGS...: runs CMD (stdin /dev/null) and copies its
 * /proc/PID/status, as seen once the exec is complete, to OUT. Used to see
 * which uid and capabilities a setuid binary really gets. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
static ssize_t slurp(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}
int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);
		dup2(fd, 0);
		execv(argv[2], argv + 2);
		_exit(127);
	}
	char path[64], buf[8192];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	for (int i = 0; i < 3000; i++) {
		if (slurp(path, buf, sizeof(buf)) > 0 && !strstr(buf, "Name:\texecstatus"))
			break;
		usleep(1000);
	}
	usleep(200000); /* comm is set before the new creds are committed */
	ssize_t n = slurp(path, buf, sizeof(buf));
	int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0 && n > 0)
		(void)!write(fd, buf, (size_t)n);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return 0;
}
