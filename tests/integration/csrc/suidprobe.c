/* suidprobe: creates ./made-by-suid holding its own /proc/self/status. Built
 * setuid root by the test: the file's owner on the host and the Uid/Cap lines
 * show whether the setuid bit took effect inside the sandbox. */
#include <fcntl.h>
#include <unistd.h>
int main(void)
{
	char buf[8192];
	int in = open("/proc/self/status", O_RDONLY);
	int out = open("made-by-suid", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ssize_t n;
	while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		(void)!write(out, buf, (size_t)n);
	return out >= 0 ? 0 : 1;
}
