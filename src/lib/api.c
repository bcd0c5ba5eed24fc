/*
 * api.c: libharness, the public C API of include/harness/harness.h, a thin
 * layer over the same policy, plan and run code the CLI uses.
 */
#define _GNU_SOURCE
#include "harness/harness.h"

#include "policy/policy.h"
#include "sandbox/sandbox.h"
#include "supervise/run.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct hs_job {
	struct hs_policy policy; /* as configured; copied and resolved per run */
	char *cwd;               /* owned; NULL: the caller's cwd at run time */
	char error[HS_ERR_MSG_MAX + 300];
};

static int job_fail(hs_job *job, const struct hs_error *err)
{
	hs_error_format(err, job->error, sizeof(job->error));
	return -1;
}

static int job_failf(hs_job *job, const char *msg)
{
	snprintf(job->error, sizeof(job->error), "%s", msg);
	return -1;
}

const char *hs_version(void)
{
	return "harness " HS_VERSION;
}

hs_job *hs_job_new(const char *policy, char *errbuf, size_t errlen)
{
	hs_job *job = hs_xcalloc(1, sizeof(*job));
	struct hs_error err;
	hs_error_clear(&err);
	hs_policy_init(&job->policy);
	if (hs_policy_start(&job->policy, policy, &err) < 0) {
		if (errbuf && errlen)
			hs_error_format(&err, errbuf, errlen);
		hs_job_free(job);
		return NULL;
	}
	return job;
}

void hs_job_free(hs_job *job)
{
	if (!job)
		return;
	hs_policy_free(&job->policy);
	free(job->cwd);
	free(job);
}

const char *hs_job_error(const hs_job *job)
{
	return job ? job->error : "no job";
}

int hs_job_allow_path(hs_job *job, const char *path, int writable)
{
	if (!path || !*path)
		return job_failf(job, "hs_job_allow_path: empty path");
	hs_policy_add_grant(&job->policy, path, writable ? HS_ACCESS_WRITE : HS_ACCESS_READ, false,
			    "hs_job_allow_path");
	return 0;
}

int hs_job_set_read_only(hs_job *job, int read_only)
{
	job->policy.read_only = read_only != 0;
	return 0;
}

int hs_job_set_env(hs_job *job, const char *spec)
{
	struct hs_error err;
	hs_error_clear(&err);
	return hs_policy_add_env(&job->policy, spec ? spec : "", &err) < 0 ? job_fail(job, &err)
									   : 0;
}

int hs_job_set_limit(hs_job *job, enum hs_limit_kind kind, uint64_t value)
{
	struct hs_limits *l = &job->policy.limits;
	switch (kind) {
	case HS_LIMIT_TIMEOUT_MS:
		l->timeout_ms = value;
		return 0;
	case HS_LIMIT_CPU_SECONDS:
		l->cpu_seconds = value;
		return 0;
	case HS_LIMIT_MEMORY_BYTES:
		l->memory_bytes = value;
		return 0;
	case HS_LIMIT_PROCESSES:
		l->max_procs = value;
		return 0;
	case HS_LIMIT_FILE_SIZE:
		l->max_file_size = value;
		return 0;
	case HS_LIMIT_OPEN_FILES:
		l->max_open_files = value;
		return 0;
	case HS_LIMIT_TMP_SIZE:
		l->tmp_size = value;
		return 0;
	}
	return job_failf(job, "hs_job_set_limit: unknown limit");
}

int hs_job_set_cwd(hs_job *job, const char *dir)
{
	char real[PATH_MAX];
	if (!dir || !realpath(dir, real)) {
		snprintf(job->error, sizeof(job->error), "hs_job_set_cwd: %s: %s", dir ? dir : "(null)",
			 strerror(errno));
		return -1;
	}
	free(job->cwd);
	job->cwd = hs_xstrdup(real);
	return 0;
}

int hs_job_set_best_effort(hs_job *job, int best_effort)
{
	job->policy.best_effort = best_effort != 0;
	return 0;
}

static void fill_result(const struct hs_run_result *rr, struct hs_result *out)
{
	memset(out, 0, sizeof(*out));
	out->exit_code = hs_run_exit_code(rr);
	out->timed_out = rr->out.timed_out;
	out->exec_errno = rr->out.exec_errno;
	if (!rr->out.timed_out && !rr->out.exec_errno && WIFSIGNALED(rr->out.status))
		out->term_signal = WTERMSIG(rr->out.status);
	out->memory_limit_hit = rr->oom_killed;
	out->process_limit_hit = rr->pids_max_hit;
	out->without_namespaces = rr->fell_back;
	out->landlock_abi = rr->landlock_abi;
	out->elapsed_ms = rr->out.elapsed_ms;
}

/* The embedding program's argv and environment strings, from
 * /proc/self/stat (arg_start .. env_end, fields 48 to 51), so that the
 * sandbox's pid 1 wipes its copy as it does for the CLI. */
static void find_proc_strings(void)
{
	char buf[2048];
	FILE *f = fopen("/proc/self/stat", "re");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')'); /* the command name may hold spaces */
	if (!p)
		return;
	unsigned long long v[52] = {0};
	int field = 2;
	for (char *tok = strtok(p + 1, " "); tok && field < 51; tok = strtok(NULL, " "))
		v[++field] = strtoull(tok, NULL, 10);
	if (field == 51 && v[48] && v[51] > v[48])
		hs_set_proc_strings_area((char *)(uintptr_t)v[48], (char *)(uintptr_t)v[51]);
}

int hs_job_run(hs_job *job, char *const argv[], struct hs_result *result)
{
	struct hs_error err;
	struct hs_policy pol;
	struct hs_plan plan;
	struct hs_run_result rr;
	char cwd[PATH_MAX];
	if (!argv || !argv[0] || !result)
		return job_failf(job, "hs_job_run: no command");
	if (job->cwd)
		snprintf(cwd, sizeof(cwd), "%s", job->cwd);
	else if (!getcwd(cwd, sizeof(cwd)))
		return job_failf(job, "hs_job_run: cannot determine the current directory");
	hs_error_clear(&err);
	hs_policy_copy(&pol, &job->policy);
	int r = hs_policy_resolve(&pol, cwd, hs_caller_home(), &err);
	if (r == 0)
		r = hs_plan_build(&pol, (char **)argv, environ, cwd, hs_caller_home(), false, &plan, &err);
	else
		memset(&plan, 0, sizeof(plan));
	if (r == 0) {
		find_proc_strings();
		r = hs_run_plan(&plan, NULL, &rr, &err);
	}
	if (r == 0)
		fill_result(&rr, result);
	else
		job_fail(job, &err);
	hs_plan_cleanup_placeholders(&plan);
	hs_plan_free(&plan);
	hs_policy_free(&pol);
	return r;
}
