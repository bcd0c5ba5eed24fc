/*
 * test_policy.c: unit tests of src/policy/: the loader (every key, every
 * error with its line:column), presets and levels, layering, environment
 * rules, path resolution against a scratch directory, the JSON printer's
 * round trip, and the size/duration parsers the loader relies on.
 */
#define _GNU_SOURCE
#include "policy/policy.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ---- */

static int load(struct hs_policy *p, const char *json, struct hs_error *e)
{
	return hs_policy_load_buffer(p, json, strlen(json), "t.json", e);
}

/* Line and column (1-based) of the first occurrence of marker in text. */
static void position_of(const char *text, const char *marker, int *line, int *col)
{
	const char *at = strstr(text, marker);
	if (!at)
		fail_msg("marker %s not in test input", marker);
	*line = 1;
	*col = 1;
	for (const char *c = text; c < at; c++) {
		if (*c == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (!haystack)
		fail_msg("NULL does not contain \"%s\"", needle);
	else if (!strstr(haystack, needle))
		fail_msg("\"%s\"\n  does not contain \"%s\"", haystack, needle);
}

/* Loading json onto an empty policy fails with msg, located at marker. */
static void assert_load_error(const char *json, const char *marker, const char *msg)
{
	struct hs_policy p;
	struct hs_error e;
	int line, col;
	hs_policy_init(&p);
	if (load(&p, json, &e) == 0)
		fail_msg("loaded without error: %s", json);
	assert_contains(e.msg, msg);
	assert_string_equal(e.file, "t.json");
	position_of(json, marker, &line, &col);
	if (e.line != line || e.column != col)
		fail_msg("%s: error at %d:%d, expected %d:%d (%s)", json, e.line, e.column, line,
			 col, e.msg);
	hs_policy_free(&p);
}

static const struct hs_grant *grant(const struct hs_policy *p, const char *path)
{
	for (size_t i = 0; i < p->ngrants; i++)
		if (strcmp(p->grants[i].path, path) == 0)
			return &p->grants[i];
	return NULL;
}

static void load_ok(struct hs_policy *p, const char *json)
{
	struct hs_error e;
	if (load(p, json, &e) < 0)
		fail_msg("%d:%d: %s", e.line, e.column, e.msg);
}

static void preset_ok(struct hs_policy *p, const char *name)
{
	struct hs_error e;
	if (hs_policy_apply_preset(p, name, &e) < 0)
		fail_msg("%s", e.msg);
}

/* ---- every key ---- */

static const char example[] =
    "{\n"
    "  \"extends\": \"restrict\",\n"
    "  \"filesystem\": {\n"
    "    \"read\":  [\"/opt/tools\", {\"path\": \"~/.gitconfig\", \"optional\": true}],\n"
    "    \"write\": [\".\", \"~/.cache/pip\", {\"path\": \"out\", \"create\": true}],\n"
    "    \"read_only\": false,\n"
    "    \"protect\": {\"read_only\": [\".git/hooks\", \"secrets/*.pem\"], \"hidden\": "
    "[\".env*\"], \"unprotect\": [\".vscode\"]},\n"
    "    \"tmp_size\": \"256M\"\n"
    "  },\n"
    "  \"network\": {\"allow\": [], \"deny\": [\"evil.example\"]},\n"
    "  \"env\": {\"pass\": [\"GITHUB_USER\"], \"set\": {\"FOO\": \"bar\", \"EMPTY\": \"\"}},\n"
    "  \"limits\": {\"timeout\": \"10m\", \"cpu\": \"5m\", \"memory\": \"2G\", \"processes\": "
    "512, \"file_size\": \"1G\", \"open_files\": 4096},\n"
    "  \"best_effort\": true\n"
    "}\n";

static void test_load_every_key(void **state)
{
	(void)state;
	struct hs_policy p;
	hs_policy_init(&p);
	load_ok(&p, example);

	assert_string_equal(p.name, "t.json");
	assert_int_equal(p.level, -1);
	assert_int_equal(p.ngrants, 5); /* restrict's "." is replaced by this file's "." */
	assert_string_equal(p.grants[0].path, ".");
	assert_int_equal(p.grants[0].access, HS_ACCESS_WRITE);
	assert_string_equal(p.grants[0].origin, "t.json:5:15");
	const struct hs_grant *g = grant(&p, "/opt/tools");
	assert_non_null(g);
	assert_int_equal(g->access, HS_ACCESS_READ);
	assert_false(g->optional);
	assert_string_equal(g->origin, "t.json:4:15");
	g = grant(&p, "~/.gitconfig");
	assert_non_null(g);
	assert_true(g->optional);
	assert_string_equal(g->origin, "t.json:4:29");
	assert_int_equal(grant(&p, "~/.cache/pip")->access, HS_ACCESS_WRITE);
	g = grant(&p, "out");
	assert_true(g->create);
	assert_int_equal(g->access, HS_ACCESS_WRITE);
	assert_false(p.read_only);

	assert_true(hs_strv_contains(&p.protect_read_only, ".git/hooks"));
	assert_true(hs_strv_contains(&p.protect_read_only, "secrets/*.pem"));
	assert_false(hs_strv_contains(&p.protect_read_only, ".vscode"));
	assert_true(hs_strv_contains(&p.protect_read_only, ".claude"));
	assert_true(hs_strv_contains(&p.protect_hidden, ".env*"));
	assert_true(hs_strv_contains(&p.protect_hidden, ".netrc"));
	assert_true(hs_strv_contains(&p.unprotect, ".vscode"));
	size_t hooks = 0;
	for (size_t i = 0; i < p.protect_read_only.n; i++)
		hooks += strcmp(p.protect_read_only.v[i], ".git/hooks") == 0;
	assert_int_equal(hooks, 1);

	assert_int_equal(p.net_allow.n, 0);
	assert_int_equal(p.net_deny.n, 1);
	assert_string_equal(p.net_deny.v[0], "evil.example");
	assert_true(hs_strv_contains(&p.env_pass, "GITHUB_USER"));
	assert_true(hs_strv_contains(&p.env_set, "FOO=bar"));
	assert_true(hs_strv_contains(&p.env_set, "EMPTY="));

	assert_int_equal(p.limits.timeout_ms, 600000);
	assert_int_equal(p.limits.cpu_seconds, 300);
	assert_int_equal(p.limits.memory_bytes, 2ULL << 30);
	assert_int_equal(p.limits.max_procs, 512);
	assert_int_equal(p.limits.max_file_size, 1ULL << 30);
	assert_int_equal(p.limits.max_open_files, 4096);
	assert_int_equal(p.limits.tmp_size, 256ULL << 20);
	assert_true(p.best_effort);
	hs_policy_free(&p);
}

static void test_load_numbers_and_comments(void **state)
{
	(void)state;
	struct hs_policy p;
	hs_policy_init(&p);
	load_ok(&p, "{\"$schema\": \"x\", \"description\": \"a note\", \"level\": 0,"
		    " \"filesystem\": {\"read_only\": true, \"tmp_size\": 4096},"
		    " \"limits\": {\"timeout\": 90, \"cpu\": 1500, \"memory\": 1048576,"
		    " \"file_size\": 0, \"processes\": 0, \"open_files\": 64}}");
	assert_int_equal(p.level, 0);
	assert_true(p.read_only);
	assert_int_equal(p.limits.tmp_size, 4096);
	assert_int_equal(p.limits.timeout_ms, 90000);
	assert_int_equal(p.limits.cpu_seconds, 1500);
	assert_int_equal(p.limits.memory_bytes, 1048576);
	assert_int_equal(p.limits.max_file_size, 0);
	assert_int_equal(p.limits.max_procs, 0);
	assert_int_equal(p.limits.max_open_files, 64);
	hs_policy_free(&p);
}

static void test_cpu_rounds_up_to_seconds(void **state)
{
	(void)state;
	struct hs_policy p;
	hs_policy_init(&p);
	load_ok(&p, "{\"limits\": {\"cpu\": \"500ms\"}}");
	assert_int_equal(p.limits.cpu_seconds, 1); /* never 0, which would mean no limit */
	load_ok(&p, "{\"limits\": {\"cpu\": \"2001ms\"}}");
	assert_int_equal(p.limits.cpu_seconds, 3);
	hs_policy_free(&p);
	/* found by the fuzzer's round-trip check: rounding up must not leave a
	 * value that `policy show` cannot print back in milliseconds */
	assert_load_error("{\"limits\": {\"cpu\": \"18446744073709551615ms\"}}", "\"1844",
			  "limits.cpu: is too long");
}

/* ---- layering ---- */

static void test_file_layers_on_base(void **state)
{
	(void)state;
	struct hs_policy p;
	hs_policy_init(&p);
	preset_ok(&p, "restrict");
	load_ok(&p, "{\"filesystem\": {\"read\": [\".\", \"/opt\"], \"protect\": "
		    "{\"read_only\": [\"Makefile\"], \"unprotect\": [\".idea\", \".npmrc\"]}},"
		    " \"env\": {\"set\": {\"A\": \"1\"}}, \"limits\": {\"memory\": \"1G\"}}");
	assert_int_equal(p.ngrants, 2);
	assert_int_equal(grant(&p, ".")->access, HS_ACCESS_READ); /* later grant overrides */
	assert_int_equal(grant(&p, "/opt")->access, HS_ACCESS_READ);
	assert_true(hs_strv_contains(&p.protect_read_only, "Makefile"));
	assert_true(hs_strv_contains(&p.protect_read_only, ".git/hooks"));
	assert_false(hs_strv_contains(&p.protect_read_only, ".idea"));
	assert_false(hs_strv_contains(&p.protect_hidden, ".npmrc"));
	assert_int_equal(p.limits.memory_bytes, 1ULL << 30);
	assert_int_equal(p.limits.max_procs, 1024); /* untouched keys keep the base */
	assert_int_equal(p.limits.max_open_files, 4096);

	load_ok(&p, "{\"filesystem\": {\"protect\": {\"read_only\": [\".idea\"]}},"
		    " \"env\": {\"set\": {\"A\": \"2\"}}}");
	assert_true(hs_strv_contains(&p.protect_read_only, ".idea")); /* protected again */
	assert_false(hs_strv_contains(&p.unprotect, ".idea"));
	assert_int_equal(p.env_set.n, 1);
	assert_string_equal(p.env_set.v[0], "A=2");
	hs_policy_free(&p);
}

static void test_extends_replaces_base(void **state)
{
	(void)state;
	struct hs_policy p;
	hs_policy_init(&p);
	preset_ok(&p, "full");
	hs_policy_add_grant(&p, "/srv", HS_ACCESS_WRITE, false, "--allow-dir");
	load_ok(&p, "{\"extends\": \"analyze\"}");
	assert_int_equal(p.level, 0);
	assert_null(grant(&p, "/srv"));
	assert_int_equal(grant(&p, ".")->access, HS_ACCESS_READ);
	hs_policy_free(&p);
}

static void test_write_wins_within_a_file(void **state)
{
	(void)state;
	struct hs_policy p;
	hs_policy_init(&p);
	/* whatever the key order, a file's "write" is applied after its "read" */
	load_ok(&p, "{\"filesystem\": {\"write\": [\"src\"], \"read\": [\"src\"]}}");
	assert_int_equal(p.ngrants, 1);
	assert_int_equal(p.grants[0].access, HS_ACCESS_WRITE);
	hs_policy_free(&p);
}

static void test_failed_load_leaves_policy_unchanged(void **state)
{
	(void)state;
	struct hs_policy p;
	struct hs_error e;
	hs_policy_init(&p);
	preset_ok(&p, "review");
	char *before = hs_policy_to_json(&p);
	assert_int_equal(load(&p,
			      "{\"extends\": \"full\", \"filesystem\": {\"write\": [\"/x\"]},"
			      " \"limits\": {\"memory\": \"lots\"}}",
			      &e),
			 -1);
	char *after = hs_policy_to_json(&p);
	assert_string_equal(before, after);
	assert_string_equal(p.name, "review");
	free(before);
	free(after);
	hs_policy_free(&p);
}

static void test_copy_is_deep(void **state)
{
	(void)state;
	struct hs_policy p, q;
	hs_policy_init(&p);
	load_ok(&p, example);
	hs_policy_copy(&q, &p);
	char *a = hs_policy_to_json(&p);
	hs_policy_free(&p);
	char *b = hs_policy_to_json(&q); /* would read freed memory if shallow */
	assert_string_equal(a, b);
	assert_string_equal(q.grants[0].origin, "t.json:5:15");
	free(a);
	free(b);
	hs_policy_free(&q);
}

/* ---- presets and levels ---- */

static const char *const default_ro[] = {
    ".git/hooks",     ".git/config",   ".git/commondir", ".git/modules", ".git/worktrees", ".gitmodules",   "~/.bashrc",   "~/.bash_profile",
    "~/.bash_login",  "~/.profile",    "~/.zshrc",      "~/.zprofile", "~/.zshenv",
    "~/.bash_logout", "~/.gitconfig",  "~/.config/git", ".claude",     ".codex",
    ".mcp.json",      ".vscode",       ".idea",         ".cursor",     ".aider.conf.yml",
};
static const char *const default_hidden[] = {
    ".env", ".env.*", ".npmrc", ".netrc", ".pypirc", ".git-credentials", ".ssh", ".aws",
    ".gnupg", ".kube", ".azure", ".docker/config.json", ".config/gcloud", ".config/gh",
    ".password-store", "~/.ssh", "~/.aws",
    "~/.gnupg", "~/.kube", "~/.azure", "~/.docker/config.json", "~/.config/gcloud",
    "~/.config/gh", "~/.password-store", "~/.npmrc", "~/.netrc", "~/.pypirc",
    "~/.git-credentials",
};

static void assert_defaults(const struct hs_policy *p)
{
	assert_int_equal(p->protect_read_only.n, HS_ARRAY_LEN(default_ro));
	for (size_t i = 0; i < HS_ARRAY_LEN(default_ro); i++)
		assert_string_equal(p->protect_read_only.v[i], default_ro[i]);
	assert_int_equal(p->protect_hidden.n, HS_ARRAY_LEN(default_hidden));
	for (size_t i = 0; i < HS_ARRAY_LEN(default_hidden); i++)
		assert_string_equal(p->protect_hidden.v[i], default_hidden[i]);
	assert_int_equal(p->unprotect.n, 0);
	assert_int_equal(p->net_allow.n + p->net_deny.n, 0);
	assert_int_equal(p->env_pass.n + p->env_set.n, 0);
	assert_int_equal(p->limits.timeout_ms, 0);
	assert_int_equal(p->limits.cpu_seconds, 0);
	assert_int_equal(p->limits.memory_bytes, 0);
	assert_int_equal(p->limits.max_file_size, 0);
	assert_int_equal(p->limits.max_procs, 1024);
	assert_int_equal(p->limits.max_open_files, 4096);
	assert_int_equal(p->limits.tmp_size, 1ULL << 30);
	assert_false(p->read_only);
	assert_false(p->best_effort);
}

static void test_every_preset_loads(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		int level;
		const char *read, *write;
		bool create;
	} want[] = {
	    {"restrict", -1, NULL, ".", false},	    {"analyze", 0, ".", NULL, false},
	    {"scratch", 1, NULL, ".", false},	    {"review", 2, NULL, ".", false},
	    {"full", 3, NULL, ".", false},
	};
	size_t n = 0;
	for (const char *const *name = hs_preset_names; *name; name++)
		n++;
	assert_int_equal(n, HS_ARRAY_LEN(want));
	for (size_t i = 0; i < HS_ARRAY_LEN(want); i++) {
		struct hs_policy p;
		hs_policy_init(&p);
		assert_string_equal(hs_preset_names[i], want[i].name);
		preset_ok(&p, want[i].name);
		assert_string_equal(p.name, want[i].name);
		assert_int_equal(p.level, want[i].level);
		assert_int_equal(p.ngrants, (want[i].read != NULL) + (want[i].write != NULL));
		if (want[i].read)
			assert_int_equal(grant(&p, want[i].read)->access, HS_ACCESS_READ);
		if (want[i].write) {
			const struct hs_grant *g = grant(&p, want[i].write);
			assert_int_equal(g->access, HS_ACCESS_WRITE);
			assert_int_equal(g->create, want[i].create);
			char origin[64];
			snprintf(origin, sizeof(origin), "preset %s", want[i].name);
			assert_string_equal(g->origin, origin);
		}
		assert_defaults(&p);
		hs_policy_free(&p);
	}
}

static void test_levels(void **state)
{
	(void)state;
	static const char *const names[] = {"analyze", "scratch", "review", "full"};
	struct hs_policy p;
	struct hs_error e;
	hs_policy_init(&p);
	for (int level = 0; level <= 3; level++) {
		char digit[2] = {(char)('0' + level), '\0'};
		assert_int_equal(hs_policy_apply_level(&p, level, &e), 0);
		assert_string_equal(p.name, names[level]);
		assert_int_equal(p.level, level);
		preset_ok(&p, digit);
		assert_string_equal(p.name, names[level]);
	}
	assert_int_equal(hs_policy_apply_level(&p, 4, &e), -1);
	assert_contains(e.msg, "level 4 does not exist");
	assert_int_equal(hs_policy_apply_level(&p, -1, &e), -1);
	assert_string_equal(p.name, "full"); /* unchanged by the failures */
	assert_int_equal(hs_policy_apply_preset(&p, "restrct", &e), -1);
	assert_contains(e.msg, "unknown preset \"restrct\" (did you mean \"restrict\"?)");
	assert_int_equal(hs_policy_apply_preset(&p, "4", &e), -1);
	hs_policy_free(&p);
}

static void test_level_and_extends_in_files(void **state)
{
	(void)state;
	struct hs_policy p;
	hs_policy_init(&p);
	load_ok(&p, "{\"level\": 1}");
	assert_int_equal(p.level, 1);
	assert_int_equal(p.workspace, HS_WORKSPACE_REVIEW); /* levels 1 and 2: review mode */
	load_ok(&p, "{\"workspace\": {\"mode\": \"direct\", \"max_disk\": \"2G\"}}");
	assert_int_equal(p.workspace, HS_WORKSPACE_DIRECT);
	assert_int_equal(p.workspace_max_disk, 2ULL << 30);
	load_ok(&p, "{\"extends\": \"2\"}");
	assert_int_equal(p.level, 2);
	load_ok(&p, "{\"extends\": \"restrict\"}");
	assert_int_equal(p.level, -1);
	hs_policy_free(&p);

	assert_load_error("{\"extends\": \"review\",\n \"level\": 2}", "\"level\"",
			  "level: \"level\" and \"extends\" both name the base; keep one of them");
	assert_load_error("{\"level\": 4}", "4", "level: expected a level 0, 1, 2 or 3");
	assert_load_error("{\"workspace\": {\"mode\": \"staged\"}}", "\"staged\"",
			  "workspace.mode: \"staged\" is not a workspace mode");
	assert_load_error("{\"workspace\": {\"max_disk\": \"10K\"}}", "\"10K\"",
			  "workspace.max_disk: is under 1M");
	assert_load_error("{\"workspace\": {\"modes\": \"review\"}}", "\"modes\"",
			  "did you mean \"mode\"");
	assert_load_error("{\"level\": \"1\"}", "\"1\"",
			  "expected a level 0, 1, 2 or 3, got a string");
	assert_load_error("{\"extends\": \"nope\"}", "\"nope\"",
			  "extends: unknown preset \"nope\"");
	assert_load_error("{\"extends\": 1}", "1", "extends: expected a preset name");
}

/* ---- unknown keys ---- */

static void test_unknown_keys(void **state)
{
	(void)state;
	assert_load_error("{\n  \"filesytem\": {}\n}", "\"filesytem\"",
			  "filesytem: unknown key; did you mean \"filesystem\"?");
	assert_load_error("{\"limits\": {\n  \"timeout\": 5,\n  \"memroy\": \"1G\"}}", "\"memroy\"",
			  "limits.memroy: unknown key; did you mean \"memory\"?");
	assert_load_error(
	    "{\"filesystem\": {\"read\": [\".\", {\"path\": \"x\", \"optinal\": true}]}}",
	    "\"optinal\"", "filesystem.read[1].optinal: unknown key; did you mean \"optional\"?");
	assert_load_error("{\"filesystem\": {\"protect\": {\"hiden\": []}}}", "\"hiden\"",
			  "filesystem.protect.hiden: unknown key; did you mean \"hidden\"?");
	assert_load_error("{\"network\": {\"proxy\": 1}}", "\"proxy\"",
			  "network.proxy: unknown key; the keys allowed here are: allow, deny, resolve, "
			  "rate_limits");
	assert_load_error("{\"memory\": \"1G\"}", "\"memory\"",
			  "memory: unknown key here; \"memory\" belongs in \"limits\"");
	assert_load_error("{\"limits\": {\"tmp_size\": \"1G\"}}", "\"tmp_size\"",
			  "\"tmp_size\" belongs in \"filesystem\"");
	/* an unknown key is found before any other problem */
	assert_load_error("{\"limits\": {\"memory\": \"x\"}, \"zzz\": 1}", "\"zzz\"",
			  "zzz: unknown key");
	/* keys written with escapes are found in the text all the same */
	assert_load_error("{\"lim\\u0069ts\": {\"mem\\u006fry\": 1,\n \"m\\u00e9mory\": 2}}",
			  "\"m\\u00e9mory\"",
			  "limits[\"m\xc3\xa9mory\"]: unknown key; did you mean \"memory\"?");
	/* non-identifier keys are quoted in the path */
	assert_load_error("{\"env\": {\"set\": {\"A B\": \"x\"}}}", "\"A B\"",
			  "env.set[\"A B\"]: \"A B\" is not a valid variable name");
}

/* ---- wrong types and bad values ---- */

static void test_wrong_types(void **state)
{
	(void)state;
	static const struct {
		const char *json, *marker, *msg;
	} cases[] = {
	    {"[]", "[", "a policy is a JSON object ({...}), not an array"},
	    {"{\"filesystem\": []}", "[", "filesystem: expected an object ({...}), got an array"},
	    {"{\"filesystem\": {\"read\": \".\"}}", "\".\"",
	     "filesystem.read: expected an array of paths ([...]), got a string"},
	    {"{\"filesystem\": {\"write\": [\".\", 7]}}", "7",
	     "filesystem.write[1]: expected a path or an object"},
	    {"{\"filesystem\": {\"read\": [{\"optional\": true}]}}", "{\"optional\"",
	     "filesystem.read[0]: missing \"path\""},
	    {"{\"filesystem\": {\"read\": [{\"path\": 1}]}}", "1",
	     "filesystem.read[0].path: expected a path string, got a number"},
	    {"{\"filesystem\": {\"read\": [{\"path\": \"x\", \"create\": \"yes\"}]}}", "\"yes\"",
	     "filesystem.read[0].create: expected true or false, got a string"},
	    {"{\"filesystem\": {\"read\": [\"\"]}}", "\"\"]",
	     "filesystem.read[0]: \"\" is empty; use \".\" for the working directory"},
	    {"{\"filesystem\": {\"read\": [\"~bob/x\"]}}", "\"~bob",
	     "\"~bob/x\" uses \"~user\", which is not expanded"},
	    {"{\"filesystem\": {\"read_only\": \"yes\"}}", "\"yes\"",
	     "filesystem.read_only: expected true or false, got a string"},
	    {"{\"filesystem\": {\"protect\": {\"hidden\": [\"a/../b\"]}}}", "\"a/..",
	     "filesystem.protect.hidden[0]: \"a/../b\" has a \".\" or \"..\" component"},
	    {"{\"filesystem\": {\"protect\": {\"read_only\": [\"*/x\"]}}}", "\"*/x\"",
	     "globs are allowed only in the last component"},
	    {"{\"env\": {\"set\": {\"A\": 1}}}", "1",
	     "env.set.A: expected a string, got a number; write numbers in quotes"},
	    {"{\"env\": {\"set\": []}}", "[", "env.set: expected an object like"},
	    {"{\"env\": {\"pass\": [\"OK\", \"1BAD\"]}}", "\"1BAD\"",
	     "env.pass[1]: \"1BAD\" is not a valid variable name"},
	    {"{\"limits\": {\"processes\": \"512\"}}", "\"512\"",
	     "limits.processes: expected a number, got a string; write it without quotes"},
	    {"{\"limits\": {\"processes\": -1}}", "-1", "limits.processes: -1 is not a count"},
	    {"{\"limits\": {\"open_files\": 1.5}}", "1.5", "1.5 is not a count"},
	    {"{\"limits\": {\"timeout\": true}}", "true",
	     "limits.timeout: expected a duration, got a boolean"},
	    {"{\"best_effort\": 1}", "1", "best_effort: expected true or false, got a number"},
	    {"{\"network\": {\"deny\": [null]}}", "null",
	     "network.deny[0]: expected a string, got null"},
	    {"{\"network\": {\"deny\": [\"\"]}}", "\"\"", "network.deny[0]: \"\" is empty"},
	    {"{\"description\": 5}", "5", "description: expected a string"},
	};
	for (size_t i = 0; i < HS_ARRAY_LEN(cases); i++)
		assert_load_error(cases[i].json, cases[i].marker, cases[i].msg);
}

static void test_bad_sizes_and_durations(void **state)
{
	(void)state;
	static const struct {
		const char *json, *marker, *msg;
	} cases[] = {
	    {"{\n  \"limits\": {\n    \"memory\": \"2 GB\"\n  }\n}", "\"2 GB\"",
	     "limits.memory: \"2 GB\" is not a size; use a number of bytes or a string like "
	     "\"512M\" or \"2G\""},
	    {"{\"limits\": {\"memory\": \"1.5G\"}}", "\"1.5G\"", "\"1.5G\" is not a size"},
	    {"{\"limits\": {\"memory\": 1.5}}", "1.5", "1.5 is not a size"},
	    {"{\"limits\": {\"memory\": -1}}", "-1", "-1 is not a size"},
	    {"{\"limits\": {\"file_size\": \"\"}}", "\"\"", "limits.file_size: \"\" is not a size"},
	    {"{\"limits\": {\"memory\": \"99999999999999999999\"}}", "\"9", "is not a size"},
	    {"{\"limits\": {\"memory\": \"16777216T\"}}", "\"1", "is not a size"},
	    {"{\"filesystem\": {\"tmp_size\": \"1X\"}}", "\"1X\"",
	     "filesystem.tmp_size: \"1X\" is not a size"},
	    {"{\"limits\": {\"timeout\": \"10 m\"}}", "\"10 m\"",
	     "limits.timeout: \"10 m\" is not a duration; use a number of seconds or a string "
	     "like \"500ms\", \"30s\", \"10m\" or \"2h\""},
	    {"{\"limits\": {\"timeout\": \"1.5h\"}}", "\"1.5h\"", "is not a duration"},
	    {"{\"limits\": {\"cpu\": \"-5s\"}}", "\"-5s\"",
	     "limits.cpu: \"-5s\" is not a duration"},
	    {"{\"limits\": {\"timeout\": 1.5}}", "1.5", "1.5 is not a duration"},
	    {"{\"limits\": {\"timeout\": 18446744073709552}}", "1844", "seconds is too long"},
	    {"{\"limits\": {\"timeout\": \"18446744073709551615\"}}", "\"1", "is not a duration"},
	};
	for (size_t i = 0; i < HS_ARRAY_LEN(cases); i++)
		assert_load_error(cases[i].json, cases[i].marker, cases[i].msg);
}

static void test_network_rules(void **state)
{
	(void)state;
	struct hs_policy p;
	hs_policy_init(&p);
	load_ok(&p, "{\"network\": {\"allow\": [\"pypi.org\", \"*.github.com:443\", "
		    "\"10.1.0.0/16\", \"[2001:db8::1]:8080\"], \"deny\": [\"gist.github.com\"], "
		    "\"resolve\": {\"Mirror.Internal.\": \"::ffff:10.1.2.3\"}, "
		    "\"rate_limits\": {\"pypi.org\": {\"connections_per_minute\": 60, "
		    "\"bytes\": \"1G\"}}}}");
	assert_int_equal(p.net_allow.n, 4);
	assert_string_equal(p.net_allow.v[1], "*.github.com:443");
	assert_int_equal(p.net_deny.n, 1);
	assert_int_equal(p.net_resolve.n, 1);
	assert_string_equal(p.net_resolve.v[0], "mirror.internal=10.1.2.3");
	assert_int_equal(p.n_net_rates, 1);
	assert_int_equal(p.net_rates[0].per_minute, 60);
	assert_int_equal(p.net_rates[0].bytes, 1ULL << 30);
	/* What the policy prints loads again to the same thing. */
	char *json = hs_policy_to_json(&p);
	struct hs_policy q;
	hs_policy_init(&q);
	load_ok(&q, json);
	assert_int_equal(q.net_allow.n, 4);
	assert_string_equal(q.net_resolve.v[0], "mirror.internal=10.1.2.3");
	assert_int_equal(q.net_rates[0].bytes, 1ULL << 30);
	free(json);
	hs_policy_free(&q);
	hs_policy_free(&p);

	assert_load_error("{\"network\": {\"allow\": [3]}}", "3",
			  "network.allow[0]: expected a string");
	assert_load_error("{\"network\": {\"allow\": [\"ok.example\", \"*\"]}}", "\"*\"",
			  "network.allow[1]: \"*\" would match every host");
	assert_load_error("{\"network\": {\"allow\": [\"*.com\"]}}", "\"*.com\"",
			  "top-level domain");
	assert_load_error("{\"network\": {\"allow\": [\"a..b\"]}}", "\"a..b\"", "empty label");
	assert_load_error("{\"network\": {\"allow\": [\"a.b:0\"]}}", "\"a.b:0\"",
			  "port outside 1 to 65535");
	assert_load_error("{\"network\": {\"allow\": [\"0.0.0.0/0\"]}}", "\"0.0.0.0/0\"",
			  "would match every address");
	assert_load_error("{\"network\": {\"allow\": [\"a*.b.c\"]}}", "\"a*", "only as a whole");
	assert_load_error("{\"network\": {\"deny\": [\"ex ample.com\"]}}", "\"ex", "a space");
	assert_load_error("{\"network\": {\"resolve\": {\"a_b.test\": \"10.0.0.1\"}}}", "\"a_b",
			  "network.resolve[\"a_b.test\"]: \"a_b.test\" contains '_'");
	assert_load_error("{\"network\": {\"resolve\": {\"a.test\": \"10.0.0.256\"}}}",
			  "\"10.0.0.256\"", "is not an IPv4 or IPv6 address");
	assert_load_error("{\"network\": {\"resolve\": {\"10.0.0.1\": \"10.0.0.2\"}}}",
			  "\"10.0.0.1\"", "is an address");
	assert_load_error("{\"network\": {\"resolve\": []}}", "[]", "expected an object");
	assert_load_error("{\"network\": {\"rate_limits\": {\"a.test\": {\"per_minute\": 1}}}}",
			  "\"per_minute\"", "unknown key");
	assert_load_error("{\"network\": {\"rate_limits\": {\"*\": {}}}}", "\"*\"",
			  "would match every host");
	assert_load_error("{\"network\": {\"rate_limits\": {\"a.test\": {\"bytes\": \"lots\"}}}}",
			  "\"lots\"", "is not a size");
	hs_policy_init(&p);
	load_ok(&p, "{\"network\": {\"allow\": []}}");
	hs_policy_free(&p);
}

/* ---- syntax, duplicates and hostile input ---- */

static void test_syntax_error_position(void **state)
{
	(void)state;
	struct hs_policy p;
	struct hs_error e;
	char buf[HS_ERR_MSG_MAX + 300];
	hs_policy_init(&p);
	assert_int_equal(load(&p, "{\n  \"limits\": {\n    \"memory\": 1,\n  }\n}", &e), -1);
	assert_int_equal(e.line, 4);
	assert_int_equal(e.column, 3);
	assert_contains(e.msg, "invalid JSON");
	hs_error_format(&e, buf, sizeof(buf));
	assert_contains(buf, "t.json:4:3: invalid JSON: ");

	assert_int_equal(load(&p, "", &e), -1);
	assert_int_equal(e.line, 1);
	assert_int_equal(load(&p, "{\"a\": 1} x", &e), -1);
	assert_contains(e.msg, "end of file expected");
	hs_policy_free(&p);
}

static void test_duplicate_keys(void **state)
{
	(void)state;
	struct hs_policy p;
	struct hs_error e;
	hs_policy_init(&p);
	assert_int_equal(load(&p, "{\"limits\": {\"memory\": 1,\n \"memory\": 2}}", &e), -1);
	assert_contains(e.msg, "duplicate object key");
	assert_contains(e.msg, "each key may appear only once");
	assert_int_equal(e.line, 2);
	assert_int_equal(load(&p, "{\"env\": {\"set\": {\"A\": \"1\", \"A\": \"2\"}}}", &e), -1);
	assert_contains(e.msg, "duplicate");
	hs_policy_free(&p);
}

static void test_nul_refused(void **state)
{
	(void)state;
	static const char raw[] = "{\"env\": {\"set\": {\"A\": \"x\"}}\0}";
	struct hs_policy p;
	struct hs_error e;
	hs_policy_init(&p);
	assert_int_equal(load(&p, "{\"env\": {\"set\": {\"A\": \"x\\u0000y\"}}}", &e), -1);
	assert_contains(e.msg, "\\u0000");
	assert_int_equal(hs_policy_load_buffer(&p, raw, sizeof(raw) - 1, "t.json", &e), -1);
	assert_contains(e.msg, "NUL byte");
	assert_int_equal(e.column, (int)strlen(raw) + 1);
	hs_policy_free(&p);
}

static char *nested(size_t depth)
{
	/* {"description": [[[...]]]} with `depth` brackets in all */
	char *s = malloc(2 * depth + 32);
	size_t o = (size_t)sprintf(s, "{\"description\": ");
	for (size_t i = 1; i < depth; i++)
		s[o++] = '[';
	for (size_t i = 1; i < depth; i++)
		s[o++] = ']';
	strcpy(s + o, "}");
	return s;
}

static void test_depth_and_size_limits(void **state)
{
	(void)state;
	struct hs_policy p;
	struct hs_error e;
	hs_policy_init(&p);
	char *ok = nested(32), *deep = nested(33);
	assert_int_equal(load(&p, ok, &e), -1);
	assert_contains(e.msg, "description: expected a string"); /* parsed, then refused */
	assert_int_equal(load(&p, deep, &e), -1);
	assert_contains(e.msg, "nested deeper than 32 levels");
	assert_int_equal(e.column, 16 + 32);
	free(ok);
	free(deep);

	size_t big = 1024 * 1024 + 1;
	char *s = malloc(big);
	memset(s, ' ', big);
	s[0] = '{';
	s[big - 1] = '}';
	assert_int_equal(hs_policy_load_buffer(&p, s, big, "t.json", &e), -1);
	assert_contains(e.msg, "a policy file may have at most 1048576");
	assert_int_equal(hs_policy_load_buffer(&p, s, big - 1, "t.json", &e), -1); /* no '}' */
	assert_contains(e.msg, "invalid JSON");
	s[big - 2] = '}';
	assert_int_equal(hs_policy_load_buffer(&p, s, big - 1, "t.json", &e), 0);
	free(s);
	hs_policy_free(&p);
}

static void test_list_limits(void **state)
{
	(void)state;
	struct hs_policy p;
	struct hs_error e;
	size_t n = 1025;
	char *s = malloc(n * 16 + 64), *o = s;
	o += sprintf(o, "{\"filesystem\": {\"read\": [");
	for (size_t i = 0; i < n; i++)
		o += sprintf(o, "%s\"/d%zu\"", i ? "," : "", i);
	strcpy(o, "]}}");
	hs_policy_init(&p);
	assert_int_equal(load(&p, s, &e), -1);
	assert_contains(e.msg, "filesystem.read: has 1025 entries; at most 1024 are allowed");
	/* 1024 fit in one list, but not once the base's grant is counted */
	strcpy(strstr(s, ",\"/d1024\""), "]}}");
	preset_ok(&p, "restrict");
	assert_int_equal(load(&p, s, &e), -1);
	assert_contains(e.msg, "filesystem.read[1023]: too many grants");
	hs_policy_free(&p);
	load_ok(&p, s);
	assert_int_equal(p.ngrants, 1024);
	free(s);
	hs_policy_free(&p);
}

static void test_load_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/hs-test-XXXXXX", path[PATH_MAX];
	struct hs_policy p;
	struct hs_error e;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/p.json", dir);
	FILE *f = fopen(path, "w");
	fputs("{\"limits\": {\"memory\": \"1G\",\n \"cpu\": \"x\"}}", f);
	fclose(f);
	hs_policy_init(&p);
	assert_int_equal(hs_policy_load_file(&p, path, &e), -1);
	assert_string_equal(e.file, path);
	assert_int_equal(e.line, 2);
	assert_int_equal(e.column, 9);
	f = fopen(path, "w");
	fputs("{\"limits\": {\"memory\": \"1G\"}}", f);
	fclose(f);
	assert_int_equal(hs_policy_load_file(&p, path, &e), 0);
	assert_string_equal(p.name, path);
	assert_int_equal(p.limits.memory_bytes, 1ULL << 30);

	assert_int_equal(hs_policy_load_file(&p, dir, &e), -1);
	assert_contains(e.msg, "not a regular file");
	snprintf(path, sizeof(path), "%s/missing.json", dir);
	assert_int_equal(hs_policy_load_file(&p, path, &e), -1);
	assert_int_equal(e.sys_errno, ENOENT);
	assert_string_equal(e.file, path);
	snprintf(path, sizeof(path), "%s/p.json", dir);
	unlink(path);
	rmdir(dir);
	hs_policy_free(&p);
}

/* ---- environment ---- */

static void test_env_names(void **state)
{
	(void)state;
	struct hs_policy p;
	struct hs_error e;
	hs_policy_init(&p);
	assert_int_equal(hs_policy_add_env(&p, "GITHUB_USER", &e), 0);
	assert_int_equal(hs_policy_add_env(&p, "_x9", &e), 0);
	assert_int_equal(hs_policy_add_env(&p, "GITHUB_USER", &e), 0);
	assert_int_equal(p.env_pass.n, 2);
	assert_int_equal(hs_policy_add_env(&p, "FOO=a=b", &e), 0);
	assert_int_equal(hs_policy_add_env(&p, "FOO=", &e), 0);
	assert_int_equal(hs_policy_add_env(&p, "BAR=1", &e), 0);
	assert_int_equal(p.env_set.n, 2);
	assert_string_equal(p.env_set.v[0], "FOO=");
	assert_string_equal(p.env_set.v[1], "BAR=1");
	static const char *const bad[] = {"", "=x", "1A", "A-B", "A B", "A.B=1", "\xc3\xa9", "A\n"};
	for (size_t i = 0; i < HS_ARRAY_LEN(bad); i++) {
		if (hs_policy_add_env(&p, bad[i], &e) == 0)
			fail_msg("accepted %s", bad[i]);
		assert_contains(e.msg, "is invalid");
	}
	assert_int_equal(hs_policy_add_env(&p, "A\x1b[31m=1", &e), -1);
	assert_null(strchr(e.msg, '\x1b')); /* control characters are escaped */
	assert_int_equal(p.env_pass.n + p.env_set.n, 4);
	hs_policy_free(&p);
}

static void test_secret_names(void **state)
{
	(void)state;
	static const char *const secret[] = {
	    "GITHUB_TOKEN",
	    "github_token",
	    "NPM_TOKEN",
	    "MY_SECRET",
	    "DB_PASSWORD",
	    "PGPASSWD",
	    "GPG_PASSPHRASE",
	    "GOOGLE_APPLICATION_CREDENTIALS",
	    "PRIVATE_KEY",
	    "STRIPE_APIKEY",
	    "X_API_KEY",
	    "SIGNING_KEY",
	    "GITLAB_PAT",
	    "AWS_REGION",
	    "AZURE_TENANT",
	    "GCP_PROJECT",
	    "GOOGLE_CLOUD_PROJECT",
	    "GH_HOST",
	    "GITHUB_TOKEN_2",
	    "ANTHROPIC_BASE_URL",
	    "OPENAI_ORG",
	    "SSH_AUTH_SOCK",
	    "KUBECONFIG",
	    "kubeconfig",
	    "DOCKER_AUTH_CONFIG",
	    "VAULT_ADDR",
	    "Slack_Token",
	};
	static const char *const plain[] = {
	    "PATH",	   "HOME",     "KEYBOARD",    "MONKEY",	    "TURNKEY",
	    "GHOST",	   "AWSOME",   "GITHUB_USER", "GITHUB_REF", "SSH_TTY",
	    "DOCKER_HOST", "VAULTED",  "PAGER",	      "PATHS",	    "XDG_RUNTIME_DIR",
	    "LC_ALL",	   "TERM",     "KUBECONFIGS", "COMPATIBLE", "KEY",
	    "PAT",	   "SSH_AUTH", "OPENAI",      "AWS",
	};
	for (size_t i = 0; i < HS_ARRAY_LEN(secret); i++)
		if (!hs_env_name_is_secret(secret[i]))
			fail_msg("%s should be secret", secret[i]);
	for (size_t i = 0; i < HS_ARRAY_LEN(plain); i++)
		if (hs_env_name_is_secret(plain[i]))
			fail_msg("%s should not be secret", plain[i]);
}

static void test_default_pass(void **state)
{
	(void)state;
	static const char *const want[] = {
	    "PATH",	"HOME",	  "USER",      "LOGNAME",     "SHELL",	    "LANG",
	    "LANGUAGE", "LC_ALL", "LC_CTYPE",  "LC_MESSAGES", "LC_COLLATE", "LC_NUMERIC",
	    "LC_TIME",	"TERM",	  "COLORTERM", "TZ",	      "NO_COLOR",   "FORCE_COLOR",
	    "COLUMNS",	"LINES",  "EDITOR",    "PAGER",
	};
	size_t n = 0;
	for (const char *const *v = hs_env_default_pass; *v; v++, n++) {
		assert_false(hs_env_name_is_secret(*v));
		assert_string_equal(*v, want[n]);
	}
	assert_int_equal(n, HS_ARRAY_LEN(want));
}

/* ---- protected paths ---- */

static void test_protect_entries(void **state)
{
	(void)state;
	struct hs_policy p;
	struct hs_error e;
	static const char *const good[] = {".env*", "/etc/x", ".git/hooks", "a/*.pem",
					   "[ab]c", "x",      "~/.ssh",     "~/.config/gh"};
	static const char *const bad[] = {"",	 "..",	"../x", "a/../b", "./x", "*/x", "a/[b]/c",
					  "/",	 "a//b", "a/",	"~",	  "~bob/x", "~/", "~/../x"};
	hs_policy_init(&p);
	for (size_t i = 0; i < HS_ARRAY_LEN(good); i++)
		assert_int_equal(hs_policy_add_protect(&p, HS_PROTECT_HIDDEN, good[i], &e), 0);
	for (size_t i = 0; i < HS_ARRAY_LEN(bad); i++)
		if (hs_policy_add_protect(&p, HS_PROTECT_READ_ONLY, bad[i], &e) == 0)
			fail_msg("accepted %s", bad[i]);
	assert_int_equal(p.protect_read_only.n, 0);
	/* the last layer wins */
	assert_int_equal(hs_policy_add_protect(&p, HS_PROTECT_UNPROTECT, "x", &e), 0);
	assert_false(hs_strv_contains(&p.protect_hidden, "x"));
	assert_true(hs_strv_contains(&p.unprotect, "x"));
	assert_int_equal(hs_policy_add_protect(&p, HS_PROTECT_READ_ONLY, "x", &e), 0);
	assert_true(hs_strv_contains(&p.protect_read_only, "x"));
	assert_false(hs_strv_contains(&p.unprotect, "x"));
	hs_policy_free(&p);
}

/* ---- resolve ---- */

struct tree {
	char root[256];
	char cwd[PATH_MAX], home[PATH_MAX];
};

static void mk(const struct tree *t, const char *rel)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", t->root, rel);
	if (mkdir(path, 0755) < 0)
		fail_msg("mkdir %s: %s", path, strerror(errno));
}

/* root/{proj/sub, home/x, target} and proj/link -> ../target */
static int tree_setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));
	char path[PATH_MAX], real[PATH_MAX];
	strcpy(t->root, "/tmp/hs-resolve-XXXXXX");
	if (!mkdtemp(t->root))
		return -1;
	if (!realpath(t->root, real)) /* /tmp itself may be a symlink */
		return -1;
	if (strlen(real) >= sizeof(t->root))
		return -1;
	strcpy(t->root, real);
	mk(t, "proj");
	mk(t, "proj/sub");
	mk(t, "home");
	mk(t, "home/x");
	mk(t, "target");
	snprintf(path, sizeof(path), "%s/proj/link", t->root);
	if (symlink("../target", path) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/proj/proc", t->root);
	if (symlink("/proc/self", path) < 0)
		return -1;
	snprintf(t->cwd, sizeof(t->cwd), "%s/proj", t->root);
	snprintf(t->home, sizeof(t->home), "%s/home", t->root);
	*state = t;
	return 0;
}

static int tree_teardown(void **state)
{
	struct tree *t = *state;
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->root);
	int r = system(cmd);
	free(t);
	return r == 0 ? 0 : -1;
}

static char *under(const struct tree *t, const char *rel)
{
	return hs_xasprintf("%s/%s", t->root, rel);
}

static int resolve(struct hs_policy *p, const struct tree *t, struct hs_error *e)
{
	return hs_policy_resolve(p, t->cwd, t->home, e);
}

static void test_resolve_paths(void **state)
{
	struct tree *t = *state;
	struct hs_policy p;
	struct hs_error e;
	hs_policy_init(&p);
	hs_policy_add_grant(&p, ".", HS_ACCESS_WRITE, false, "--allow-dir");
	hs_policy_add_grant(&p, "sub/", HS_ACCESS_READ, false, "--allow-read");
	hs_policy_add_grant(&p, "~", HS_ACCESS_READ, false, "--allow-read");
	hs_policy_add_grant(&p, "~/x", HS_ACCESS_READ, false, "--allow-read");
	hs_policy_add_grant(&p, "link", HS_ACCESS_READ, false, "--allow-read");
	hs_policy_add_grant(&p, "../home/./x/..", HS_ACCESS_WRITE, false, "--allow-dir");
	assert_int_equal(resolve(&p, t, &e), 0);
	char *want_sub = under(t, "proj/sub"), *want_x = under(t, "home/x"),
	     *want_target = under(t, "target");
	assert_string_equal(grant(&p, ".")->resolved, t->cwd);
	assert_string_equal(grant(&p, "sub/")->resolved, want_sub);
	assert_string_equal(grant(&p, "~/x")->resolved, want_x);
	assert_string_equal(grant(&p, "link")->resolved, want_target); /* symlink followed */
	/* "~" and "../home/./x/.." are the same directory: one grant, write wins */
	assert_null(grant(&p, "~"));
	assert_string_equal(grant(&p, "../home/./x/..")->resolved, t->home);
	assert_int_equal(grant(&p, "../home/./x/..")->access, HS_ACCESS_WRITE);
	assert_int_equal(p.ngrants, 5);
	/* resolving again gives the same result */
	assert_int_equal(resolve(&p, t, &e), 0);
	assert_int_equal(p.ngrants, 5);
	assert_string_equal(grant(&p, "link")->resolved, want_target);
	free(want_sub);
	free(want_x);
	free(want_target);
	hs_policy_free(&p);
}

static void test_resolve_missing(void **state)
{
	struct tree *t = *state;
	struct hs_policy p;
	struct hs_error e;
	hs_policy_init(&p);
	load_ok(&p, "{\"filesystem\": {\"read\": [{\"path\": \"~/nope\", \"optional\": true},\n"
		    "  \"absent/dir\"]}}");
	assert_int_equal(resolve(&p, t, &e), -1);
	assert_contains(e.msg, "grant \"absent/dir\" (t.json:2:3): ");
	assert_contains(e.msg, "/proj/absent/dir does not exist; create it, or mark it optional");

	hs_policy_free(&p);
	load_ok(&p, "{\"filesystem\": {\"read\": [{\"path\": \"~/nope\", \"optional\": true},"
		    " {\"path\": \"sub/file/x\", \"optional\": true}, \"sub\"]}}");
	assert_int_equal(resolve(&p, t, &e), 0);
	assert_int_equal(p.ngrants, 3); /* optional and missing: kept, unresolved */
	assert_null(grant(&p, "~/nope")->resolved);
	assert_null(grant(&p, "sub/file/x")->resolved);
	assert_non_null(grant(&p, "sub")->resolved);
	hs_policy_free(&p);
}

static void assert_resolve_refused(const struct tree *t, const char *path, enum hs_access access,
				   const char *msg)
{
	struct hs_policy p;
	struct hs_error e;
	hs_policy_init(&p);
	hs_policy_add_grant(&p, path, access, true, "--test");
	if (resolve(&p, t, &e) == 0)
		fail_msg("granted %s", path);
	assert_contains(e.msg, msg);
	hs_policy_free(&p);
}

static void test_resolve_refuses(void **state)
{
	struct tree *t = *state;
	assert_resolve_refused(t, "/", HS_ACCESS_WRITE, "write access to \"/\" would expose");
	assert_resolve_refused(t, "/", HS_ACCESS_READ, "use --allow-read on specific directories");
	assert_resolve_refused(t, "../../../../../../../..", HS_ACCESS_READ,
			       "\"/\" is not granted");
	assert_resolve_refused(t, "/proc", HS_ACCESS_READ, "resolves under /proc");
	assert_resolve_refused(t, "/proc/self/fd", HS_ACCESS_READ, "resolves under /proc");
	assert_resolve_refused(t, "proc", HS_ACCESS_READ, "resolves under /proc"); /* via symlink */
	assert_resolve_refused(t, "/sys/kernel", HS_ACCESS_READ, "resolves under /sys");
	assert_resolve_refused(t, "/dev/null", HS_ACCESS_WRITE, "resolves under /dev");
	assert_resolve_refused(t, "/etc", HS_ACCESS_WRITE, "write access to /etc would let");
	assert_resolve_refused(t, "/usr", HS_ACCESS_WRITE, "write access to /usr would let");
	assert_resolve_refused(t, "/var", HS_ACCESS_WRITE, "write access to /var would let");
	assert_resolve_refused(t, "/usr/bin", HS_ACCESS_WRITE, "write access to /usr/bin would let");
	assert_resolve_refused(t, "/etc/default", HS_ACCESS_WRITE, "grant a directory of your own");
	assert_resolve_refused(t, "/bin", HS_ACCESS_WRITE, "would let"); /* merged /usr or not */
	assert_resolve_refused(t, "", HS_ACCESS_WRITE, "the path is empty"); /* not the cwd */
	assert_resolve_refused(t, "~root", HS_ACCESS_READ, "\"~user\", which is not expanded");

	struct hs_policy p;
	struct hs_error e;
	hs_policy_init(&p);
	hs_policy_add_grant(&p, "~/x", HS_ACCESS_READ, false, "--allow-read");
	assert_int_equal(hs_policy_resolve(&p, t->cwd, NULL, &e), -1);
	assert_contains(e.msg, "HOME is not set");
	assert_int_equal(hs_policy_resolve(&p, "relative", t->home, &e), -1);
	assert_contains(e.msg, "absolute");
	hs_policy_free(&p);
}

static void test_resolve_read_only(void **state)
{
	struct tree *t = *state;
	struct hs_policy p;
	struct hs_error e;
	hs_policy_init(&p);
	load_ok(&p, "{\"filesystem\": {\"write\": [\".\", \"~\"], \"read\": [\"sub\"],"
		    " \"read_only\": true}}");
	assert_int_equal(grant(&p, ".")->access, HS_ACCESS_WRITE);
	assert_int_equal(resolve(&p, t, &e), 0);
	for (size_t i = 0; i < p.ngrants; i++)
		assert_int_equal(p.grants[i].access, HS_ACCESS_READ);
	assert_int_equal(p.ngrants, 3);
	hs_policy_free(&p);
}

static void test_resolve_create(void **state)
{
	struct tree *t = *state;
	struct hs_policy p;
	struct hs_error e;
	struct stat st;
	char *scratch = under(t, "proj/scratch");
	hs_policy_init(&p);
	load_ok(&p, "{\"filesystem\": {\"write\": [{\"path\": \"./scratch\", \"create\": true}]}}");
	assert_int_equal(stat(scratch, &st), -1);
	assert_int_equal(resolve(&p, t, &e), 0);
	assert_int_equal(stat(scratch, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_string_equal(grant(&p, "./scratch")->resolved, scratch);
	assert_int_equal(resolve(&p, t, &e), 0); /* exists now: fine */

	hs_policy_free(&p);
	load_ok(&p,
		"{\"filesystem\": {\"write\": [{\"path\": \"no/such/dir\", \"create\": true}]}}");
	assert_int_equal(resolve(&p, t, &e), -1);
	assert_contains(e.msg, "cannot create");
	hs_policy_free(&p);
	rmdir(scratch);
	free(scratch);
}

static void test_resolve_applies_unprotect(void **state)
{
	struct tree *t = *state;
	struct hs_policy p;
	struct hs_error e;
	hs_policy_init(&p);
	hs_strv_push(&p.protect_read_only, ".vscode");
	hs_strv_push(&p.protect_hidden, ".env");
	hs_strv_push(&p.unprotect, ".vscode"); /* pushed directly, not via add_protect */
	assert_int_equal(resolve(&p, t, &e), 0);
	assert_int_equal(p.protect_read_only.n, 0);
	assert_int_equal(p.protect_hidden.n, 1);
	hs_policy_free(&p);
}

/* ---- JSON output ---- */

static void test_to_json_round_trip(void **state)
{
	struct tree *t = *state;
	struct hs_policy p, q;
	struct hs_error e;
	hs_policy_init(&p);
	preset_ok(&p, "review");
	load_ok(
	    &p,
	    "{\"filesystem\": {\"read\": [\"link\", {\"path\": \"~/gone\", \"optional\": "
	    "true}], \"write\": [\"~/x\"], \"protect\": {\"hidden\": [\"*.key\"],"
	    " \"unprotect\": [\".idea\"]}, \"tmp_size\": 1000},"
	    " \"network\": {\"deny\": [\"a.example\"]},"
	    " \"env\": {\"pass\": [\"A\"], \"set\": {\"B\": \"x\\\"y\\u00e9\\n\"}},"
	    " \"limits\": {\"timeout\": \"1500ms\", \"cpu\": 7200, \"memory\": \"3M\","
	    " \"processes\": 9, \"file_size\": 1025, \"open_files\": 0}, \"best_effort\": true}");
	hs_policy_add_grant(&p, "sub", HS_ACCESS_WRITE, false, "--allow-dir");
	assert_int_equal(hs_policy_add_env(&p, "C=1", &e), 0);
	assert_int_equal(resolve(&p, t, &e), 0);
	char *a = hs_policy_to_json(&p);
	assert_non_null(a);
	char *want = hs_xasprintf("\"resolved\": \"%s/target\"", t->root);
	assert_contains(a, want);
	assert_contains(a, "\"level\": 2");
	assert_contains(a, "\"timeout\": \"1500ms\"");
	assert_contains(a, "\"cpu\": \"2h\"");
	assert_contains(a, "\"tmp_size\": \"1000\"");

	hs_policy_init(&q);
	load_ok(&q, a);
	assert_int_equal(resolve(&q, t, &e), 0);
	char *b = hs_policy_to_json(&q);
	assert_string_equal(a, b);
	free(want);
	free(a);
	free(b);
	hs_policy_free(&p);
	hs_policy_free(&q);
}

static void test_to_json_unresolved(void **state)
{
	(void)state;
	struct hs_policy p, q;
	hs_policy_init(&p);
	load_ok(&p, example);
	char *a = hs_policy_to_json(&p);
	assert_contains(a, "\"resolved\": null");
	assert_null(strstr(a, "\"level\""));
	hs_policy_init(&q);
	load_ok(&q, a);
	char *b = hs_policy_to_json(&q);
	assert_string_equal(a, b);
	free(a);
	free(b);
	hs_policy_free(&p);
	hs_policy_free(&q);
}

/* ---- the parsers from common.c the loader relies on ---- */

static void test_parse_size(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		uint64_t v;
	} ok[] = {
	    {"0", 0},
	    {"512", 512},
	    {"64K", 65536},
	    {"64k", 65536},
	    {"2G", 2ULL << 30},
	    {"2gb", 2ULL << 30},
	    {"1KiB", 1024},
	    {"1T", 1ULL << 40},
	    {"16777215T", 16777215ULL << 40},
	    {"18446744073709551615", UINT64_MAX},
	};
	static const char *const bad[] = {
	    "",	   "1.5G", "-1", " 1", "1 G", "G", "1X", "16777216T", "18446744073709551616",
	    "1GG", "0x10"};
	uint64_t v;
	for (size_t i = 0; i < HS_ARRAY_LEN(ok); i++) {
		assert_int_equal(hs_parse_size(ok[i].s, &v), 0);
		assert_int_equal(v, ok[i].v);
	}
	for (size_t i = 0; i < HS_ARRAY_LEN(bad); i++)
		if (hs_parse_size(bad[i], &v) == 0)
			fail_msg("accepted size %s", bad[i]);
}

static void test_parse_duration(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		uint64_t ms;
	} ok[] = {
	    {"0", 0},	     {"30", 30000},
	    {"30s", 30000},  {"500ms", 500},
	    {"10m", 600000}, {"10min", 600000},
	    {"2h", 7200000}, {"18446744073709551615ms", UINT64_MAX},
	};
	static const char *const bad[] = {"",
					  "1.5s",
					  "-1s",
					  "10 m",
					  "10x",
					  "s",
					  "1d",
					  "18446744073709551615",
					  "18446744073709551616ms"};
	uint64_t v;
	for (size_t i = 0; i < HS_ARRAY_LEN(ok); i++) {
		assert_int_equal(hs_parse_duration_ms(ok[i].s, &v), 0);
		assert_int_equal(v, ok[i].ms);
	}
	for (size_t i = 0; i < HS_ARRAY_LEN(bad); i++)
		if (hs_parse_duration_ms(bad[i], &v) == 0)
			fail_msg("accepted duration %s", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_load_every_key),
	    cmocka_unit_test(test_load_numbers_and_comments),
	    cmocka_unit_test(test_cpu_rounds_up_to_seconds),
	    cmocka_unit_test(test_file_layers_on_base),
	    cmocka_unit_test(test_extends_replaces_base),
	    cmocka_unit_test(test_write_wins_within_a_file),
	    cmocka_unit_test(test_failed_load_leaves_policy_unchanged),
	    cmocka_unit_test(test_copy_is_deep),
	    cmocka_unit_test(test_every_preset_loads),
	    cmocka_unit_test(test_levels),
	    cmocka_unit_test(test_level_and_extends_in_files),
	    cmocka_unit_test(test_unknown_keys),
	    cmocka_unit_test(test_wrong_types),
	    cmocka_unit_test(test_bad_sizes_and_durations),
	    cmocka_unit_test(test_network_rules),
	    cmocka_unit_test(test_syntax_error_position),
	    cmocka_unit_test(test_duplicate_keys),
	    cmocka_unit_test(test_nul_refused),
	    cmocka_unit_test(test_depth_and_size_limits),
	    cmocka_unit_test(test_list_limits),
	    cmocka_unit_test(test_load_file),
	    cmocka_unit_test(test_env_names),
	    cmocka_unit_test(test_secret_names),
	    cmocka_unit_test(test_default_pass),
	    cmocka_unit_test(test_protect_entries),
	    cmocka_unit_test_setup_teardown(test_resolve_paths, tree_setup, tree_teardown),
	    cmocka_unit_test_setup_teardown(test_resolve_missing, tree_setup, tree_teardown),
	    cmocka_unit_test_setup_teardown(test_resolve_refuses, tree_setup, tree_teardown),
	    cmocka_unit_test_setup_teardown(test_resolve_read_only, tree_setup, tree_teardown),
	    cmocka_unit_test_setup_teardown(test_resolve_create, tree_setup, tree_teardown),
	    cmocka_unit_test_setup_teardown(test_resolve_applies_unprotect, tree_setup,
					    tree_teardown),
	    cmocka_unit_test_setup_teardown(test_to_json_round_trip, tree_setup, tree_teardown),
	    cmocka_unit_test(test_to_json_unresolved),
	    cmocka_unit_test(test_parse_size),
	    cmocka_unit_test(test_parse_duration),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
