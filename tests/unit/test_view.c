/*
 * test_view.c: the plan compiler (src/sandbox/view.c): mount order, what is
 * granted how, protected and hidden paths (placeholders for missing ones and
 * their cleanup), the Landlock rules mirroring the mounts, and the command's
 * environment (secrets never pass unless named).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sandbox/sandbox.h"

/* buf = base + "/" + rel, failing the test if it does not fit. */
#define PJOIN(buf, base, rel) assert_true(snprintf(buf, sizeof(buf), "%s/%s", base, rel) < (int)sizeof(buf))

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

struct fixture {
	char root[PATH_MAX]; /* temp dir: project/ and home/ beneath */
	char proj[PATH_MAX];
	char home[PATH_MAX];
	struct hs_policy pol;
	struct hs_plan plan;
};

static void touch(const char *dir, const char *name, const char *content)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->root, sizeof(f->root), "/tmp/hs-view-XXXXXX");
	if (!mkdtemp(f->root))
		return -1;
	PJOIN(f->proj, f->root, "project");
	PJOIN(f->home, f->root, "home");
	mkdir(f->proj, 0755);
	mkdir(f->home, 0755);
	hs_policy_init(&f->pol);
	struct hs_error err;
	hs_error_clear(&err);
	if (hs_policy_apply_preset(&f->pol, "restrict", &err) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	hs_plan_cleanup_placeholders(&f->plan);
	hs_plan_free(&f->plan);
	hs_policy_free(&f->pol);
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static char *argv_true[] = {"/bin/true", NULL};

static void build(struct fixture *f, char **envp)
{
	struct hs_error err;
	hs_error_clear(&err);
	int r = hs_policy_resolve(&f->pol, f->proj, f->home, &err);
	if (r < 0)
		fail_msg("resolve: %s", err.msg);
	r = hs_plan_build(&f->pol, argv_true, envp, f->proj, f->home, false, &f->plan, &err);
	if (r < 0)
		fail_msg("plan: %s", err.msg);
}

static const struct hs_mount *find_mount(const struct hs_plan *pl, const char *dst,
					 enum hs_mount_kind kind)
{
	for (size_t i = 0; i < pl->nmounts; i++)
		if (strcmp(pl->mounts[i].dst, dst) == 0 && pl->mounts[i].kind == kind)
			return &pl->mounts[i];
	return NULL;
}

static void test_order_parents_first(void **state)
{
	struct fixture *f = *state;
	char *envp[] = {NULL};
	build(f, envp);
	for (size_t i = 0; i < f->plan.nmounts; i++)
		for (size_t j = i + 1; j < f->plan.nmounts; j++) {
			const char *a = f->plan.mounts[i].dst, *b = f->plan.mounts[j].dst;
			size_t n = strlen(b);
			/* nothing may be mounted after something beneath it */
			if (strncmp(a, b, n) == 0 && a[n] == '/')
				fail_msg("%s mounted before its parent %s", a, b);
		}
	assert_non_null(find_mount(&f->plan, "/usr", HS_MNT_BIND_RO));
	assert_non_null(find_mount(&f->plan, f->proj, HS_MNT_BIND_RW));
	assert_non_null(find_mount(&f->plan, f->home, HS_MNT_TMPFS));
	assert_non_null(find_mount(&f->plan, "/tmp", HS_MNT_TMPFS));
	assert_non_null(find_mount(&f->plan, "/proc", HS_MNT_PROC));
}

static void test_read_only_flag(void **state)
{
	struct fixture *f = *state;
	char *envp[] = {NULL};
	f->pol.read_only = true;
	build(f, envp);
	assert_null(find_mount(&f->plan, f->proj, HS_MNT_BIND_RW));
	assert_non_null(find_mount(&f->plan, f->proj, HS_MNT_BIND_RO));
}

static void test_home_granted_replaces_tmpfs(void **state)
{
	struct fixture *f = *state;
	char *envp[] = {NULL};
	hs_policy_add_grant(&f->pol, f->home, HS_ACCESS_READ, false, "test");
	build(f, envp);
	assert_null(find_mount(&f->plan, f->home, HS_MNT_TMPFS));
	assert_non_null(find_mount(&f->plan, f->home, HS_MNT_BIND_RO));
}

static void test_protect_existing_and_hidden(void **state)
{
	struct fixture *f = *state;
	char *envp[] = {NULL};
	char p[PATH_MAX];
	PJOIN(p, f->proj, ".git");
	mkdir(p, 0755);
	PJOIN(p, f->proj, ".git/hooks");
	mkdir(p, 0755);
	touch(f->proj, ".env", "SECRET=1");
	touch(f->proj, ".env.local", "SECRET=2");
	touch(f->proj, ".env-not-hidden", "x"); /* matches neither .env nor .env.* */
	build(f, envp);
	assert_non_null(find_mount(&f->plan, p, HS_MNT_PROTECT));
	PJOIN(p, f->proj, ".env");
	assert_non_null(find_mount(&f->plan, p, HS_MNT_HIDE));
	PJOIN(p, f->proj, ".env.local");
	assert_non_null(find_mount(&f->plan, p, HS_MNT_HIDE));
	PJOIN(p, f->proj, ".env-not-hidden");
	assert_null(find_mount(&f->plan, p, HS_MNT_HIDE));
}

static void test_placeholders_created_and_removed(void **state)
{
	struct fixture *f = *state;
	char *envp[] = {NULL};
	char git[PATH_MAX], mcp[PATH_MAX];
	struct stat st;
	PJOIN(git, f->proj, ".git");
	PJOIN(mcp, f->proj, ".mcp.json");
	build(f, envp);
	/* .git/hooks and .git/config are masked by one placeholder: .git */
	assert_int_equal(stat(git, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_non_null(find_mount(&f->plan, git, HS_MNT_PROTECT));
	char inner[PATH_MAX];
	PJOIN(inner, f->proj, ".git/config");
	assert_int_equal(lstat(inner, &st), -1); /* nothing created inside a placeholder */
	assert_int_equal(stat(mcp, &st), 0);
	assert_true(S_ISREG(st.st_mode)); /* file-like name: an empty file */
	assert_non_null(find_mount(&f->plan, mcp, HS_MNT_PROTECT));
	hs_plan_cleanup_placeholders(&f->plan);
	assert_int_equal(lstat(git, &st), -1);
	assert_int_equal(lstat(mcp, &st), -1);
}

static void test_placeholder_kept_when_replaced(void **state)
{
	struct fixture *f = *state;
	char *envp[] = {NULL};
	char mcp[PATH_MAX];
	PJOIN(mcp, f->proj, ".mcp.json");
	build(f, envp);
	/* Someone on the host replaced the placeholder with real content: keep it. */
	unlink(mcp);
	touch(f->proj, ".mcp.json", "{\"real\": true}");
	hs_plan_cleanup_placeholders(&f->plan);
	struct stat st;
	assert_int_equal(stat(mcp, &st), 0);
	assert_true(st.st_size > 0);
}

static void test_git_dir_pinned(void **state)
{
	struct fixture *f = *state;
	char *envp[] = {NULL};
	char git[PATH_MAX], hooks[PATH_MAX];
	PJOIN(git, f->proj, ".git");
	PJOIN(hooks, f->proj, ".git/hooks");
	mkdir(git, 0755);
	mkdir(hooks, 0755);
	build(f, envp);
	/* .git itself is a mount point (cannot be moved aside), hooks read-only */
	assert_non_null(find_mount(&f->plan, git, HS_MNT_PIN));
	assert_non_null(find_mount(&f->plan, hooks, HS_MNT_PROTECT));
	size_t pins = 0;
	for (size_t i = 0; i < f->plan.nmounts; i++)
		pins += f->plan.mounts[i].kind == HS_MNT_PIN;
	assert_int_equal(pins, 1); /* once, though two entries go through .git */
}

static void test_worktree_gitfile_protected(void **state)
{
	struct fixture *f = *state;
	char *envp[] = {NULL};
	char git[PATH_MAX];
	touch(f->proj, ".git", "gitdir: /elsewhere/.git/worktrees/x\n");
	PJOIN(git, f->proj, ".git");
	build(f, envp);
	const struct hs_mount *m = find_mount(&f->plan, git, HS_MNT_PROTECT);
	assert_non_null(m);
	assert_false(m->is_dir);
}

static void test_dry_run_creates_nothing(void **state)
{
	struct fixture *f = *state;
	char *envp[] = {NULL};
	struct hs_error err;
	char git[PATH_MAX];
	PJOIN(git, f->proj, ".git");
	hs_error_clear(&err);
	assert_int_equal(hs_policy_resolve(&f->pol, f->proj, f->home, &err), 0);
	assert_int_equal(hs_plan_build(&f->pol, argv_true, envp, f->proj, f->home, true, &f->plan,
				       &err),
			 0);
	struct stat st;
	assert_int_equal(lstat(git, &st), -1);
	assert_true(f->plan.nplaceholders > 0); /* still reported */
	assert_non_null(find_mount(&f->plan, git, HS_MNT_PROTECT));
}

static void test_concurrent_runs_share_placeholders(void **state)
{
	struct fixture *f = *state;
	char *envp[] = {NULL};
	char mcp[PATH_MAX];
	struct hs_error err;
	struct hs_plan second;
	PJOIN(mcp, f->proj, ".mcp.json");
	build(f, envp); /* first run creates the placeholder */
	hs_error_clear(&err);
	assert_int_equal(hs_plan_build(&f->pol, argv_true, envp, f->proj, f->home, false, &second,
				       &err),
			 0);
	/* The second run adopts it rather than failing or ignoring it. */
	assert_non_null(find_mount(&second, mcp, HS_MNT_PROTECT));
	/* The first run ends: the second still masks it, so it must stay. */
	hs_plan_cleanup_placeholders(&f->plan);
	struct stat st;
	assert_int_equal(lstat(mcp, &st), 0);
	/* The last run out removes it. */
	hs_plan_cleanup_placeholders(&second);
	assert_int_equal(lstat(mcp, &st), -1);
	hs_plan_free(&second);
}

static void test_stale_placeholder_adopted(void **state)
{
	struct fixture *f = *state;
	char *envp[] = {NULL};
	char git[PATH_MAX];
	struct hs_error err;
	struct hs_plan killed;
	PJOIN(git, f->proj, ".git");
	hs_error_clear(&err);
	/* A run that was SIGKILLed: its placeholders stay behind. */
	assert_int_equal(hs_policy_resolve(&f->pol, f->proj, f->home, &err), 0);
	assert_int_equal(hs_plan_build(&f->pol, argv_true, envp, f->proj, f->home, false, &killed,
				       &err),
			 0);
	hs_plan_free(&killed); /* no cleanup: as if killed */
	struct stat st;
	assert_int_equal(lstat(git, &st), 0);
	char v[8];
	if (lgetxattr(git, "user.harness.placeholder", v, sizeof(v)) < 0)
		skip(); /* this filesystem keeps no user xattrs: no marker to find */
	build(f, envp);
	/* The next run recognises it (no nested placeholder inside it) ... */
	assert_non_null(find_mount(&f->plan, git, HS_MNT_PROTECT));
	assert_null(find_mount(&f->plan, git, HS_MNT_PIN));
	/* ... and removes it at the end. */
	hs_plan_cleanup_placeholders(&f->plan);
	assert_int_equal(lstat(git, &st), -1);
}

static void test_user_empty_dir_not_taken(void **state)
{
	struct fixture *f = *state;
	char *envp[] = {NULL};
	char claude[PATH_MAX];
	PJOIN(claude, f->proj, ".claude");
	mkdir(claude, 0755); /* the user's own, empty, no marker */
	build(f, envp);
	assert_non_null(find_mount(&f->plan, claude, HS_MNT_PROTECT));
	hs_plan_cleanup_placeholders(&f->plan);
	struct stat st;
	assert_int_equal(lstat(claude, &st), 0); /* never removed */
}

static void mkdirs(const char *base, const char *rel)
{
	char p[PATH_MAX];
	PJOIN(p, base, rel);
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", p);
	assert_int_equal(system(cmd), 0);
}

static void test_scan_masks_deep_matches(void **state)
{
	struct fixture *f = *state;
	char *envp[] = {NULL};
	char p[PATH_MAX];
	mkdirs(f->proj, "packages/api");
	mkdirs(f->proj, "services/web/.git/hooks");
	mkdirs(f->proj, "node_modules/pkg");
	touch(f->proj, "packages/api/.env", "SECRET=1");
	touch(f->proj, "node_modules/pkg/.env", "x"); /* package caches are not scanned */
	build(f, envp);
	PJOIN(p, f->proj, "packages/api/.env");
	assert_non_null(find_mount(&f->plan, p, HS_MNT_HIDE));
	PJOIN(p, f->proj, "services/web/.git");
	assert_non_null(find_mount(&f->plan, p, HS_MNT_PIN));
	PJOIN(p, f->proj, "services/web/.git/hooks");
	assert_non_null(find_mount(&f->plan, p, HS_MNT_PROTECT));
	PJOIN(p, f->proj, "node_modules/pkg/.env");
	assert_null(find_mount(&f->plan, p, HS_MNT_HIDE));
	/* beneath the top, nothing missing is created: no .claude placeholders */
	PJOIN(p, f->proj, "packages/api/.claude");
	struct stat st;
	assert_int_equal(lstat(p, &st), -1);
}

static void test_hooks_path_protected(void **state)
{
	struct fixture *f = *state;
	char *envp[] = {NULL};
	char p[PATH_MAX];
	mkdirs(f->proj, ".git/hooks");
	mkdirs(f->proj, "tools/githooks");
	touch(f->proj, ".git/config",
	      "[user]\n\tname = x\n[Core]\n\tbare = false\n  HooksPath = \"tools/githooks\" \n");
	build(f, envp);
	PJOIN(p, f->proj, "tools/githooks");
	assert_non_null(find_mount(&f->plan, p, HS_MNT_PROTECT));
	PJOIN(p, f->proj, "tools"); /* pinned: cannot be moved aside */
	assert_non_null(find_mount(&f->plan, p, HS_MNT_PIN));
}

static void test_hide_host_path_in_a_writable_grant(void **state)
{
	struct fixture *f = *state;
	char *envp[] = {NULL};
	char store[PATH_MAX], p[PATH_MAX];
	struct hs_error err;
	mkdirs(f->proj, ".local/state/harness");
	touch(f->proj, ".local/state/harness/audit.db", "x");
	build(f, envp);
	PJOIN(store, f->proj, ".local/state/harness");
	assert_int_equal(hs_plan_hide_host_path(&f->plan, store, &err), 0);
	assert_non_null(find_mount(&f->plan, store, HS_MNT_HIDE));
	PJOIN(p, f->proj, ".local");
	assert_non_null(find_mount(&f->plan, p, HS_MNT_PIN));
	PJOIN(p, f->proj, ".local/state");
	assert_non_null(find_mount(&f->plan, p, HS_MNT_PIN));
	/* the grant itself cannot be hidden: refused, not ignored */
	assert_int_equal(hs_plan_hide_host_path(&f->plan, f->proj, &err), -1);
	/* not visible: nothing to do */
	assert_int_equal(hs_plan_hide_host_path(&f->plan, f->home, &err), 0);
	assert_null(find_mount(&f->plan, f->home, HS_MNT_HIDE));
}

static void test_unprotect(void **state)
{
	struct fixture *f = *state;
	char *envp[] = {NULL};
	char mcp[PATH_MAX];
	struct hs_error err;
	PJOIN(mcp, f->proj, ".mcp.json");
	assert_int_equal(hs_policy_add_protect(&f->pol, HS_PROTECT_UNPROTECT, ".mcp.json", &err), 0);
	build(f, envp);
	struct stat st;
	assert_int_equal(lstat(mcp, &st), -1);
	assert_null(find_mount(&f->plan, mcp, HS_MNT_PROTECT));
}

static void test_landlock_mirrors_mounts(void **state)
{
	struct fixture *f = *state;
	char *envp[] = {NULL};
	build(f, envp);
	bool proj_w = false, usr_r = false;
	for (size_t i = 0; i < f->plan.nll; i++) {
		if (strcmp(f->plan.ll[i].path, f->proj) == 0)
			proj_w = f->plan.ll[i].kind == HS_LL_WRITE;
		if (strcmp(f->plan.ll[i].path, "/usr") == 0)
			usr_r = f->plan.ll[i].kind == HS_LL_READ;
		assert_true(strcmp(f->plan.ll[i].path, f->root) != 0);
	}
	assert_true(proj_w);
	assert_true(usr_r);
	assert_true(f->plan.deny_tcp);
}

static bool env_has(const struct hs_plan *pl, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < pl->env.n; i++)
		if (strncmp(pl->env.v[i], name, n) == 0 && pl->env.v[i][n] == '=')
			return true;
	return false;
}

static void test_env_scrubbed(void **state)
{
	struct fixture *f = *state;
	char *envp[] = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8", "GITHUB_TOKEN=ghp_x",
			"AWS_SECRET_ACCESS_KEY=y", "MY_SECRET=z", "OPENAI_API_KEY=k",
			"RANDOM_VAR=1", "FOO_TOKEN=2", "HOME=/elsewhere", NULL};
	struct hs_error err;
	assert_int_equal(hs_policy_add_env(&f->pol, "FOO_TOKEN", &err), 0);
	assert_int_equal(hs_policy_add_env(&f->pol, "SET_ME=v", &err), 0);
	build(f, envp);
	assert_true(env_has(&f->plan, "PATH"));
	assert_true(env_has(&f->plan, "LANG"));
	assert_true(env_has(&f->plan, "FOO_TOKEN")); /* named: passes */
	assert_true(env_has(&f->plan, "SET_ME"));
	assert_false(env_has(&f->plan, "GITHUB_TOKEN"));
	assert_false(env_has(&f->plan, "AWS_SECRET_ACCESS_KEY"));
	assert_false(env_has(&f->plan, "MY_SECRET"));
	assert_false(env_has(&f->plan, "OPENAI_API_KEY"));
	assert_false(env_has(&f->plan, "RANDOM_VAR"));
	char want[PATH_MAX + 8];
	snprintf(want, sizeof(want), "HOME=%s", f->home);
	assert_true(hs_strv_contains(&f->plan.env, want));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_order_parents_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_home_granted_replaces_tmpfs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_protect_existing_and_hidden, setup, teardown),
		cmocka_unit_test_setup_teardown(test_placeholders_created_and_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_placeholder_kept_when_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_git_dir_pinned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_worktree_gitfile_protected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dry_run_creates_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_runs_share_placeholders, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_placeholder_adopted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_empty_dir_not_taken, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_masks_deep_matches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hooks_path_protected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hide_host_path_in_a_writable_grant, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unprotect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_landlock_mirrors_mounts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_scrubbed, setup, teardown),
	};
	return cmocka_run_group_tests_name("view", tests, NULL, NULL);
}
