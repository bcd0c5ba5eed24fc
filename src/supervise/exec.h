/*
 * exec.h: exec interception. The sandbox's seccomp filter stops every
 * execve/execveat in the kernel (user notification); the supervisor reads
 * what is being executed from the stopped process, asks the caller's hook,
 * and lets the call continue or fails it with an errno.
 *
 * What this is and is not: the path and argv are read from the memory of a
 * process the sandbox controls, after the fact; another thread of it could
 * change them between our read and the kernel's (a TOCTOU race). The
 * notification id is re-checked after reading, so a recycled pid is never
 * mistaken for the caller, but the contents can race. This makes exec
 * interception a guard layer (a record, and rules that hold against a
 * program that does not try to race them), not a boundary: the boundary is
 * the mount view, Landlock and seccomp, which hold whatever is executed.
 */
#ifndef HS_EXEC_H
#define HS_EXEC_H

#include "common/common.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define HS_EXEC_MAX_ARGS 1024     /* argv entries read; more: truncated */
#define HS_EXEC_MAX_ARG 4096      /* bytes of one argument */
#define HS_EXEC_MAX_TOTAL 65536   /* bytes of all arguments together */

struct hs_exec_request {
	int notify_fd;         /* the listener it came from, and its notification id: */
	uint64_t id;           /* what hs_exec_respond needs to answer a deferred one */
	pid_t pid;             /* the caller, in the supervisor's pid namespace */
	char path[4096];       /* as passed to execve (may be relative); "" if unreadable */
	struct hs_strv argv;   /* owned */
	bool truncated;        /* argv was cut at one of the bounds above */
	char cwd[4096];        /* the caller's working directory, "" if unknown */
	bool found;            /* path exists in the caller's view (else the exec will
	                          fail with ENOENT: execvp trying each PATH entry) */
};

/* The caller's decision: 0 lets the exec proceed, a positive errno fails it
 * with that error, -1 ends the run (fail closed: e.g. the audit log could
 * not be written), HS_EXEC_DEFER leaves it waiting in the kernel until the
 * hook's owner calls hs_exec_respond (a human is asked to approve it). */
#define HS_EXEC_DEFER (-2)
typedef int (*hs_exec_hook)(void *ctx, const struct hs_exec_request *req);

/* Writes msg to the stderr of process pid (a sandboxed caller whose exec
 * is being refused, so that the agent reads why). Best effort. */
void hs_exec_tell(pid_t pid, const char *msg);

/* Answers a deferred exec: error 0 lets it proceed, else it fails with
 * that errno. Returns 0, also when the caller has died meanwhile. */
int hs_exec_respond(int notify_fd, uint64_t id, int error);

/* Is the deferred exec still waiting (its caller alive, not yet answered)? */
bool hs_exec_pending(int notify_fd, uint64_t id);

/* Handles one pending notification on `fd`. Returns 0, or -1 when the
 * hook asked to end the run or the listener failed (err says why).
 * root_cache: the caller's slot (initially -1, closed by the caller when
 * the run ends) for the sandbox's root directory, opened once from the
 * first exec's /proc/PID/root: every process of a sandbox has that root
 * (none may chroot: no capabilities), so later execs need not look it up. */
int hs_exec_handle(int fd, hs_exec_hook hook, void *ctx, int *root_cache, struct hs_error *err);

#endif
