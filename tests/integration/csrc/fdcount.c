/* Exits 0 after writing, on stdout, how many of fds 0..63 are open: a static
 * program needs no fd of its own to start (test_limits.py). */
#include <fcntl.h>
#include <stdio.h>

int main(void)
{
	int n = 0;
	for (int fd = 0; fd < 64; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	printf("%d\n", n);
	return 0;
}
