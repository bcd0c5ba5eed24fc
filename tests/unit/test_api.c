/*
 * test_api.c: libharness's public API (include/harness/harness.h), driven
 * like an embedding program would: create a job, run real commands in the
 * sandbox, read the result. What the sandbox could do is decided here, on
 * the host side (files that appear or not).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness/harness.h"

#include <errno.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fixture {
	char dir[PATH_MAX];     /* the job's cwd, granted read-write */
	char outside[PATH_MAX]; /* a sibling the sandbox must not touch */
	hs_job *job;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];
	snprintf(f->dir, sizeof(f->dir), "/tmp/hs-api-XXXXXX");
	snprintf(f->outside, sizeof(f->outside), "/tmp/hs-api-out-XXXXXX");
	if (!mkdtemp(f->dir) || !mkdtemp(f->outside))
		return -1;
	f->job = hs_job_new(NULL, err, sizeof(err));
	if (!f->job || hs_job_set_cwd(f->job, f->dir) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[2 * PATH_MAX + 32];
	hs_job_free(f->job);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", f->dir, f->outside);
	int r = system(cmd);
	free(f);
	return r == 0 ? 0 : -1;
}

static bool exists(const char *dir, const char *name)
{
	char p[2 * PATH_MAX];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return stat(p, &st) == 0;
}

static void test_version(void **state)
{
	(void)state;
	assert_non_null(strstr(hs_version(), "harness "));
}

static void test_unknown_preset(void **state)
{
	(void)state;
	char err[256] = "";
	assert_null(hs_job_new("no-such-preset", err, sizeof(err)));
	assert_non_null(strstr(err, "restrict")); /* the message lists the known ones */
}

static void test_exit_code_and_writes(void **state)
{
	struct fixture *f = *state;
	struct hs_result res;
	char script[3 * PATH_MAX];
	snprintf(script, sizeof(script), "echo ok > inside.txt; echo x > '%s/escape.txt'; exit 3",
		 f->outside);
	char *argv[] = {"/bin/sh", "-c", script, NULL};
	assert_int_equal(hs_job_run(f->job, argv, &res), 0);
	assert_int_equal(res.exit_code, 3);
	assert_true(exists(f->dir, "inside.txt"));
	assert_false(exists(f->outside, "escape.txt"));
	assert_true(res.landlock_abi > 0 || res.without_namespaces);
}

static void test_extra_grant(void **state)
{
	struct fixture *f = *state;
	struct hs_result res;
	char script[3 * PATH_MAX];
	snprintf(script, sizeof(script), "echo x > '%s/granted.txt'", f->outside);
	char *argv[] = {"/bin/sh", "-c", script, NULL};
	assert_int_equal(hs_job_allow_path(f->job, f->outside, 1), 0);
	assert_int_equal(hs_job_run(f->job, argv, &res), 0);
	assert_int_equal(res.exit_code, 0);
	assert_true(exists(f->outside, "granted.txt"));
}

static void test_timeout(void **state)
{
	struct fixture *f = *state;
	struct hs_result res;
	char *argv[] = {"/bin/sleep", "30", NULL};
	assert_int_equal(hs_job_set_limit(f->job, HS_LIMIT_TIMEOUT_MS, 300), 0);
	assert_int_equal(hs_job_run(f->job, argv, &res), 0);
	assert_true(res.timed_out);
	assert_int_equal(res.exit_code, 124);
	assert_true(res.elapsed_ms < 10000);
}

static void test_not_found(void **state)
{
	struct fixture *f = *state;
	struct hs_result res;
	char *argv[] = {"no-such-command-hs", NULL};
	assert_int_equal(hs_job_run(f->job, argv, &res), 0);
	assert_int_equal(res.exec_errno, ENOENT);
	assert_int_equal(res.exit_code, 127);
}

static void test_env(void **state)
{
	struct fixture *f = *state;
	struct hs_result res;
	char *argv[] = {"/bin/sh", "-c", "test \"$HS_API_SET\" = yes && test -z \"$HS_API_TOKEN\"",
			NULL};
	setenv("HS_API_TOKEN", "secret", 1);
	assert_int_equal(hs_job_set_env(f->job, "HS_API_SET=yes"), 0);
	assert_int_equal(hs_job_set_env(f->job, "1BAD"), -1);
	assert_non_null(strstr(hs_job_error(f->job), "1BAD"));
	assert_int_equal(hs_job_run(f->job, argv, &res), 0);
	assert_int_equal(res.exit_code, 0);
	unsetenv("HS_API_TOKEN");
}

static void test_pid1_shows_nothing_of_ours(void **state)
{
	struct fixture *f = *state;
	struct hs_result res;
	/* Our own environment holds a secret; pid 1 of the sandbox is a copy of
	 * this process: its cmdline must not show our argv or environment. */
	setenv("HS_API_PID1_SECRET", "s3cr3t-value", 1);
	char *argv[] = {"/bin/sh", "-c",
			"tr '\\0' ' ' < /proc/1/cmdline > pid1.txt; cat /proc/1/environ >> pid1.txt "
			"2>/dev/null; true",
			NULL};
	assert_int_equal(hs_job_run(f->job, argv, &res), 0);
	char path[PATH_MAX + 16], buf[8192] = "";
	snprintf(path, sizeof(path), "%s/pid1.txt", f->dir);
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	unsetenv("HS_API_PID1_SECRET");
	assert_null(strstr(buf, "s3cr3t-value"));
	assert_null(strstr(buf, "test_api"));
}

static void test_missing_grant_fails(void **state)
{
	struct fixture *f = *state;
	struct hs_result res;
	char *argv[] = {"/bin/true", NULL};
	assert_int_equal(hs_job_allow_path(f->job, "/nonexistent/hs-api", 0), 0);
	assert_int_equal(hs_job_run(f->job, argv, &res), -1);
	assert_non_null(strstr(hs_job_error(f->job), "/nonexistent/hs-api"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_unknown_preset),
		cmocka_unit_test_setup_teardown(test_exit_code_and_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extra_grant, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pid1_shows_nothing_of_ours, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_grant_fails, setup, teardown),
	};
	return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}
