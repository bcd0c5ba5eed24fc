/* tiocsti MODE TEXT: pushes TEXT into the input queue of the tty on stdin,
 * after making it the controlling tty if it can. MODE "high" sets bit 32 of
 * the request (the kernel only looks at the low 32 bits). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	unsigned long cmd = TIOCSTI;
	if (strcmp(argv[1], "high") == 0)
		cmd |= 1UL << 32;
	long r = setsid();
	fprintf(stderr, "tiocsti: setsid %ld\n", r);
	r = ioctl(0, TIOCSCTTY, 0);
	fprintf(stderr, "tiocsti: TIOCSCTTY %ld %s\n", r, r < 0 ? strerror(errno) : "");
	for (const char *p = argv[2]; *p; p++) {
		r = syscall(SYS_ioctl, 0, cmd, p);
		if (r < 0) {
			fprintf(stderr, "tiocsti: TIOCSTI: %s\n", strerror(errno));
			break;
		}
	}
	return 0;
}
