/* keyring DESC: looks for a "user" key named DESC in every keyring the
 * process can reach and prints its payload. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#define KEYCTL_SEARCH 10
#define KEYCTL_READ 11
static void dump(long key)
{
	char buf[4096];
	long n = syscall(SYS_keyctl, KEYCTL_READ, key, buf, sizeof(buf));
	fprintf(stderr, "keyring: read %ld -> %ld %s\n", key, n, n < 0 ? strerror(errno) : "");
	if (n > 0)
		(void)!write(1, buf, n > (long)sizeof(buf) ? sizeof(buf) : (size_t)n);
}
int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	const long rings[] = {-1, -2, -3, -4, -5}; /* thread process session user user-session */
	for (size_t i = 0; i < sizeof(rings) / sizeof(rings[0]); i++) {
		long k = syscall(SYS_keyctl, KEYCTL_SEARCH, rings[i], "user", argv[1], 0);
		fprintf(stderr, "keyring: search %ld -> %ld %s\n", rings[i], k, k < 0 ? strerror(errno) : "");
		if (k > 0)
			dump(k);
	}
	long k = syscall(SYS_request_key, "user", argv[1], NULL, 0);
	fprintf(stderr, "keyring: request_key -> %ld %s\n", k, k < 0 ? strerror(errno) : "");
	if (k > 0)
		dump(k);
	return 0;
}
