/* x32 DIR: mkdir(DIR) through the x32 syscall ABI (nr | __X32_SYSCALL_BIT).
 * harness must kill it with SIGSYS. */
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "x32dir";
	long r = syscall(0x40000000L | SYS_mkdir, dir, 0755);
	long g = syscall(0x40000000L | SYS_getpid);
	printf("x32 mkdir -> %ld, getpid -> %ld\n", r, g);
	return 0;
}
