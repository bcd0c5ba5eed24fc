/*
 * harness.h: the public C API of libharness.
 *
 * Runs a command in the same sandbox as `harness run`: a policy (a preset or
 * a policy file), optional extra grants, environment and limits, then one
 * call that runs the command to completion. Everything else in the source
 * tree is internal.
 *
 *   char err[256];
 *   hs_job *job = hs_job_new("restrict", err, sizeof(err));
 *   hs_job_allow_path(job, "/opt/data", 0);
 *   hs_job_set_limit(job, HS_LIMIT_TIMEOUT_MS, 60000);
 *   struct hs_result res;
 *   char *argv[] = {"make", "-j2", NULL};
 *   if (hs_job_run(job, argv, &res) == 0)
 *           printf("exit %d\n", res.exit_code);
 *   else
 *           fprintf(stderr, "%s\n", hs_job_error(job));
 *   hs_job_free(job);
 *
 * Conventions: functions return 0 on success and -1 on failure, with a
 * message (what was refused and how to fix it) from hs_job_error(). The
 * caller owns what it creates and frees it with the matching _free.
 *
 * Threads: hs_job_run forks the sandbox from the calling process; call it
 * from a single-threaded process (or before starting threads). For the run's
 * duration it blocks SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2,
 * SIGWINCH and SIGCONT in the calling thread and forwards them to the
 * sandboxed command.
 */
#ifndef HARNESS_HARNESS_H
#define HARNESS_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define HS_API __attribute__((visibility("default")))
#else
#define HS_API
#endif

/* A configured sandbox run; opaque. */
typedef struct hs_job hs_job;

enum hs_limit_kind {
	HS_LIMIT_TIMEOUT_MS,    /* wall clock of the whole sandbox */
	HS_LIMIT_CPU_SECONDS,   /* CPU time per process */
	HS_LIMIT_MEMORY_BYTES,  /* memory (cgroup, else RLIMIT_DATA) */
	HS_LIMIT_PROCESSES,     /* processes (cgroup, else RLIMIT_NPROC) */
	HS_LIMIT_FILE_SIZE,     /* largest file a process may write */
	HS_LIMIT_OPEN_FILES,    /* open files per process */
	HS_LIMIT_TMP_SIZE,      /* size of the private /tmp */
};

/* How a run ended. */
struct hs_result {
	int exit_code;           /* what `harness run` would exit with (docs/exit-codes.md) */
	int term_signal;         /* signal that killed the command, 0 if it exited */
	int timed_out;           /* the wall-clock limit killed the sandbox */
	int exec_errno;          /* the command could not be executed (ENOENT, EACCES...) */
	int memory_limit_hit;    /* the memory cgroup killed a process */
	int process_limit_hit;   /* the pids cgroup refused a fork */
	int without_namespaces;  /* best effort: ran with Landlock + seccomp only */
	int landlock_abi;        /* Landlock ABI in force, 0 if none */
	uint64_t elapsed_ms;     /* wall time of the run */
};

/* "harness 0.1.0" style version string. */
HS_API const char *hs_version(void);

/* A job from a preset ("restrict", "analyze", "scratch", "review", "full",
 * "0".."3"), a policy file (a path containing '/' or ending in .json), or
 * NULL for the default preset. NULL on error, with the message in err. */
HS_API hs_job *hs_job_new(const char *policy, char *err, size_t errlen);
HS_API void hs_job_free(hs_job *job);
/* The last error's message (never NULL). */
HS_API const char *hs_job_error(const hs_job *job);

/* Grants path (resolved when the job runs), read-write or read-only. */
HS_API int hs_job_allow_path(hs_job *job, const char *path, int writable);
/* Makes every grant read-only. */
HS_API int hs_job_set_read_only(hs_job *job, int read_only);
/* "NAME" passes the caller's variable, "NAME=VALUE" sets one. */
HS_API int hs_job_set_env(hs_job *job, const char *spec);
/* 0 means no limit. */
HS_API int hs_job_set_limit(hs_job *job, enum hs_limit_kind kind, uint64_t value);
/* Working directory of the command (and base of relative grants);
 * default: the caller's current directory. */
HS_API int hs_job_set_cwd(hs_job *job, const char *dir);
/* Runs with whatever layers are available instead of refusing. */
HS_API int hs_job_set_best_effort(hs_job *job, int best_effort);

/* Runs argv (NULL-terminated; argv[0] searched in the sandbox's PATH) to
 * completion. 0 when the sandbox ran, whatever the command did (see
 * *result); -1 when it could not be set up (hs_job_error). */
HS_API int hs_job_run(hs_job *job, char *const argv[], struct hs_result *result);

#ifdef __cplusplus
}
#endif

#endif
