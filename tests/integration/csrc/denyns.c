/*
 * denyns.c: runs a command under a seccomp filter that imitates hostile
 * environments, to test harness's fallbacks from the outside:
 *   denyns docker -- CMD...   clone3 answers ENOSYS (Docker's default profile)
 *   denyns nouserns -- CMD... clone3 ENOSYS, and clone/unshare with
 *                             CLONE_NEWUSER answer EPERM (user namespaces
 *                             refused, as under Ubuntu's AppArmor rule or a
 *                             container)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 4 || strcmp(argv[2], "--") != 0) {
		fprintf(stderr, "usage: denyns docker|nouserns -- CMD...\n");
		return 2;
	}
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return 3;
	if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) < 0)
		return 3;
	if (strcmp(argv[1], "nouserns") == 0) {
		if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER)) < 0 ||
		    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER)) < 0)
			return 3;
	}
	if (seccomp_load(ctx) < 0)
		return 3;
	execvp(argv[3], argv + 3);
	perror("execvp");
	return 127;
}
