/* int80: mkdir("int80dir") through the i386 entry (int 0x80) of a 64-bit
 * process. Built -no-pie so the path lives below 4 GiB. harness must kill it
 * with SIGSYS. */
#include <stdio.h>
static char dir[] = "int80dir";
int main(void)
{
	long ret;
	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(39L /* i386 mkdir */), "b"(dir), "c"(0755L)
			 : "memory");
	printf("int80 mkdir -> %ld\n", ret);
	return 0;
}
