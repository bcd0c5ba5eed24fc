/*
 * test_guard.c: the review gate's linter (workspace/guard.h): every rule
 * class on a positive case and a near-miss, added lines as a multiset,
 * line numbers, masked excerpts, binary and large files, the match limit
 * against a catastrophic pattern, and the policy's "guard" section
 * (disable, severity, rules of one's own, patterns and examples refused
 * with their position, layering, the JSON round trip).
 */
#define _GNU_SOURCE
#include "policy/policy.h"
#include "workspace/guard.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Secrets are spelled in pieces so this file does not hold any. */
/* clang-format off */
#define AWS_KEY "AK" "IA2E0A8F3B244C9986"
#define GH_TOKEN "gh" "p_0123456789abcdefghijABCDEFGHIJ012345"
#define OPENAI_KEY "s" "k-proj-Ab12_Cd34-Ef56Gh78Ij90Kl12Mn34Op56"
#define ANTHROPIC_KEY "s" "k-ant-api03-AbCdEf0123456789_AbCdEf"
#define PRIVATE_KEY "-----BEGIN EC " "PRIVATE KEY-----"
#define STRIPE_LIVE "s" "k_live_51AbCdEf0123456789xyzAB"
#define STRIPE_TEST "s" "k_test_51AbCdEf0123456789xyzAB"
#define GOOGLE_KEY "AI" "zaSyD-0123456789abcdefghijklmnopqrstu"
#define GITLAB_TOKEN "glp" "at-0123456789abcdefghij"
#define SLACK_TOKEN "xox" "p-1234567890-1234567890-1234567890-abcdef0123456789"
/* clang-format on */

#define REG (S_IFREG | 0644)

/* ---- helpers ---- */

static struct hs_guard *guard_of(const struct hs_guard_config *cfg)
{
	struct hs_error e;
	struct hs_guard *g = hs_guard_new(cfg, &e);
	if (!g)
		fail_msg("hs_guard_new: %s", e.msg);
	return g;
}

static struct hs_change change(enum hs_change_kind kind, const char *path, const char *old_data,
			       const char *new_data)
{
	struct hs_change c = {.kind = kind, .path = path};
	if (old_data) {
		c.old_mode = REG;
		c.old_data = old_data;
		c.old_len = c.old_size = strlen(old_data);
	}
	if (new_data) {
		c.new_mode = REG;
		c.new_data = new_data;
		c.new_len = c.new_size = strlen(new_data);
	}
	return c;
}

static void check(const struct hs_guard *g, const struct hs_change *c, struct hs_guard_findings *f)
{
	struct hs_error e;
	memset(f, 0, sizeof(*f));
	if (hs_guard_check(g, c, f, &e) < 0)
		fail_msg("hs_guard_check: %s", e.msg);
	for (size_t i = 0; i < f->n; i++) {
		const struct hs_guard_finding *x = &f->v[i];
		assert_non_null(x->rule_id);
		assert_non_null(x->message);
		assert_string_equal(x->path, c->path);
		if (x->excerpt)
			assert_true(strlen(x->excerpt) <= HS_GUARD_EXCERPT_MAX);
	}
}

static const struct hs_guard_finding *find(const struct hs_guard_findings *f, const char *id)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->v[i].rule_id, id) == 0)
			return &f->v[i];
	return NULL;
}

static size_t count(const struct hs_guard_findings *f, const char *id)
{
	size_t n = 0;
	for (size_t i = 0; i < f->n; i++)
		n += strcmp(f->v[i].rule_id, id) == 0;
	return n;
}

/* Does rule `id` fire on content added to a new file? */
static bool content_fires(const struct hs_guard *g, const char *id, const char *content)
{
	struct hs_change c = change(HS_CHANGE_ADDED, "f.txt", NULL, content);
	struct hs_guard_findings f;
	check(g, &c, &f);
	bool r = find(&f, id) != NULL;
	hs_guard_findings_free(&f);
	return r;
}

static bool path_fires(const struct hs_guard *g, const char *id, enum hs_change_kind kind,
		       const char *path, const char *old_path)
{
	struct hs_change c = change(kind, path, kind == HS_CHANGE_ADDED ? NULL : "x\n",
				    kind == HS_CHANGE_DELETED ? NULL : "x\n");
	c.old_path = old_path;
	struct hs_guard_findings f;
	check(g, &c, &f);
	bool r = find(&f, id) != NULL;
	hs_guard_findings_free(&f);
	return r;
}

static void assert_contains(const char *haystack, const char *needle)
{
	if (!haystack || !strstr(haystack, needle))
		fail_msg("\"%s\"\n  does not contain \"%s\"", haystack ? haystack : "(null)",
			 needle);
}

static void load_ok(struct hs_policy *p, const char *json)
{
	struct hs_error e;
	if (hs_policy_load_buffer(p, json, strlen(json), "t.json", &e) < 0)
		fail_msg("%d:%d: %s", e.line, e.column, e.msg);
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

/* Loading json fails with msg, located at marker (plus `shift` columns). */
static void assert_load_error_at(const char *json, const char *marker, int shift, const char *msg)
{
	struct hs_policy p;
	struct hs_error e;
	int line, col;
	hs_policy_init(&p);
	if (hs_policy_load_buffer(&p, json, strlen(json), "t.json", &e) == 0)
		fail_msg("loaded without error: %s", json);
	assert_contains(e.msg, msg);
	assert_string_equal(e.file, "t.json");
	position_of(json, marker, &line, &col);
	if (e.line != line || e.column != col + shift)
		fail_msg("%s: error at %d:%d, expected %d:%d (%s)", json, e.line, e.column, line,
			 col + shift, e.msg);
	hs_policy_free(&p);
}

static void assert_load_error(const char *json, const char *marker, const char *msg)
{
	assert_load_error_at(json, marker, 0, msg);
}

/* ---- the built-in rules ---- */

static void test_builtin_examples(void **state)
{
	(void)state;
	struct hs_error e;
	if (hs_guard_self_test(&e) < 0)
		fail_msg("%s", e.msg);
}

static void test_rule_table(void **state)
{
	(void)state;
	struct hs_guard *g = guard_of(NULL);
	struct hs_guard_rule_info a, b;
	assert_int_equal(hs_guard_rule_count(g), hs_guard_builtin_count());
	for (size_t i = 0; i < hs_guard_rule_count(g); i++) {
		hs_guard_rule_info(g, i, &a);
		hs_guard_builtin_info(i, &b);
		assert_string_equal(a.id, b.id);
		assert_true(a.enabled);
		assert_int_equal(a.severity, b.severity);
		assert_non_null(strchr(a.id, '.'));
		assert_true(strlen(a.message) > 20);
		assert_non_null(strchr(a.message, ';')); /* what and why; how to proceed */
		for (size_t j = 0; j < i; j++) {
			hs_guard_rule_info(g, j, &b);
			assert_string_not_equal(a.id, b.id);
		}
	}
	hs_guard_free(g);
}

static void test_severity_names(void **state)
{
	(void)state;
	enum hs_guard_severity s;
	assert_string_equal(hs_guard_severity_name(HS_GUARD_INFO), "info");
	assert_string_equal(hs_guard_severity_name(HS_GUARD_WARN), "warn");
	assert_string_equal(hs_guard_severity_name(HS_GUARD_BLOCK), "block");
	assert_int_equal(hs_guard_severity_parse("warn", &s), 0);
	assert_int_equal(s, HS_GUARD_WARN);
	assert_int_equal(hs_guard_severity_parse("Block", &s), -1);
	assert_int_equal(hs_guard_severity_parse("", &s), -1);
}

/* ---- paths ---- */

static void test_sensitive_paths(void **state)
{
	(void)state;
	struct hs_guard *g = guard_of(NULL);
	static const struct {
		const char *id, *yes, *no;
	} cases[] = {
	    {"path.env", "api/.env.production", "api/.env.example"},
	    {"path.env", ".env.local", ".env.sample"},
	    {"path.env", "x/y/.env", ".env.template"},
	    {"path.git-hooks", ".git/hooks/pre-push", "scripts/hooks/pre-push"},
	    {"path.git-config", ".git/config", ".gitconfig.d/config"},
	    {"path.shell-rc", ".zshrc", "zshrc"},
	    {"path.shell-rc", ".bash_logout", "docs/.bash_logout.md"},
	    {"path.ssh", ".ssh/authorized_keys", "ssh/authorized_keys"},
	    {"path.credentials", ".aws/credentials", ".aws/README"},
	    {"path.credentials", ".npmrc", "npmrc"},
	    {"path.credentials", ".config/gcloud/application_default_credentials.json",
	     ".config/gcloudx"},
	    {"path.agent-config", ".claude/settings.local.json", "docs/claude/x"},
	    {"path.agent-config", ".mcp.json", "mcp.json"},
	    {"path.ci", ".github/workflows/release.yml", ".github/ISSUE_TEMPLATE/bug.md"},
	    {"path.ci", "Jenkinsfile", "Jenkinsfile.txt"},
	};
	for (size_t i = 0; i < HS_ARRAY_LEN(cases); i++) {
		if (!path_fires(g, cases[i].id, HS_CHANGE_ADDED, cases[i].yes, NULL))
			fail_msg("%s does not fire on %s", cases[i].id, cases[i].yes);
		if (path_fires(g, cases[i].id, HS_CHANGE_ADDED, cases[i].no, NULL))
			fail_msg("%s fires on %s", cases[i].id, cases[i].no);
	}
	hs_guard_free(g);
}

static void test_path_changes(void **state)
{
	(void)state;
	struct hs_guard *g = guard_of(NULL);
	struct hs_guard_findings f;
	/* deleting a sensitive file is a finding too */
	assert_true(
	    path_fires(g, "path.git-hooks", HS_CHANGE_DELETED, ".git/hooks/pre-commit", NULL));
	assert_true(path_fires(g, "path.env", HS_CHANGE_MODIFIED, ".env", NULL));
	/* a rename into, or out of, a sensitive path */
	assert_true(path_fires(g, "path.git-hooks", HS_CHANGE_RENAMED, ".git/hooks/post-checkout",
			       "tools/hook.sh"));
	assert_true(path_fires(g, "path.env", HS_CHANGE_RENAMED, "env.bak", ".env"));
	assert_false(path_fires(g, "path.env", HS_CHANGE_RENAMED, "b.txt", "a.txt"));

	/* severities, no line, no excerpt */
	struct hs_change c =
	    change(HS_CHANGE_ADDED, ".github/workflows/ci.yml", NULL, "on: push\n");
	check(g, &c, &f);
	assert_int_equal(f.n, 1);
	assert_string_equal(f.v[0].rule_id, "path.ci");
	assert_int_equal(f.v[0].severity, HS_GUARD_WARN);
	assert_int_equal(f.v[0].line, 0);
	assert_null(f.v[0].excerpt);
	assert_int_equal(hs_guard_findings_max(&f), HS_GUARD_WARN);
	hs_guard_findings_free(&f);

	c = change(HS_CHANGE_ADDED, "src/main.c", NULL, "int main(void) { return 0; }\n");
	check(g, &c, &f);
	assert_int_equal(f.n, 0);
	assert_int_equal(hs_guard_findings_max(&f), -1);
	hs_guard_findings_free(&f);
	hs_guard_free(g);
}

/* ---- modes ---- */

static size_t mode_findings(const struct hs_guard *g, enum hs_change_kind kind, mode_t old_mode,
			    mode_t new_mode, const char *id)
{
	struct hs_change c =
	    change(kind, "bin/tool", kind == HS_CHANGE_ADDED ? NULL : "x\n", "x\n");
	struct hs_guard_findings f;
	c.old_mode = old_mode;
	c.new_mode = new_mode;
	check(g, &c, &f);
	size_t n = count(&f, id);
	hs_guard_findings_free(&f);
	return n;
}

static void test_modes(void **state)
{
	(void)state;
	struct hs_guard *g = guard_of(NULL);
	assert_int_equal(mode_findings(g, HS_CHANGE_ADDED, 0, S_IFREG | 04755, "mode.setuid"), 1);
	assert_int_equal(
	    mode_findings(g, HS_CHANGE_MODE, S_IFREG | 0755, S_IFREG | 02755, "mode.setgid"), 1);
	/* already setuid before: not new */
	assert_int_equal(
	    mode_findings(g, HS_CHANGE_MODIFIED, S_IFREG | 04755, S_IFREG | 04755, "mode.setuid"),
	    0);
	/* a setgid directory is not an escalation */
	assert_int_equal(
	    mode_findings(g, HS_CHANGE_MODE, S_IFDIR | 0755, S_IFDIR | 02775, "mode.setgid"), 0);
	assert_int_equal(mode_findings(g, HS_CHANGE_ADDED, 0, S_IFREG | 0755, "mode.executable"),
			 1);
	assert_int_equal(
	    mode_findings(g, HS_CHANGE_MODE, S_IFREG | 0644, S_IFREG | 0744, "mode.executable"), 1);
	assert_int_equal(
	    mode_findings(g, HS_CHANGE_MODIFIED, S_IFREG | 0755, S_IFREG | 0775, "mode.executable"),
	    0);
	assert_int_equal(mode_findings(g, HS_CHANGE_ADDED, 0, S_IFREG | 0644, "mode.executable"),
			 0);
	/* a symlink's mode means nothing */
	assert_int_equal(mode_findings(g, HS_CHANGE_ADDED, 0, S_IFLNK | 0777, "mode.executable"),
			 0);

	struct hs_change c = change(HS_CHANGE_ADDED, "x", NULL, "x\n");
	struct hs_guard_findings f;
	c.new_mode = S_IFREG | 06755;
	check(g, &c, &f);
	assert_non_null(find(&f, "mode.setuid"));
	assert_non_null(find(&f, "mode.setgid"));
	assert_int_equal(find(&f, "mode.setuid")->severity, HS_GUARD_BLOCK);
	assert_int_equal(find(&f, "mode.executable")->severity, HS_GUARD_WARN);
	hs_guard_findings_free(&f);
	hs_guard_free(g);
}

/* ---- content ---- */

static void test_dangerous_content(void **state)
{
	(void)state;
	struct hs_guard *g = guard_of(NULL);
	static const struct {
		const char *id, *yes, *no;
	} cases[] = {
	    {"sql.drop", "DROP DATABASE prod;", "-- how we drop tables safely"},
	    {"sql.drop", "drop schema app cascade", "CREATE TABLE drop_log(x int);"},
	    {"sql.truncate", "TRUNCATE TABLE events;", "truncate -s 0 log"},
	    {"sql.delete-all", "DELETE FROM users;", "DELETE FROM t WHERE id=1"},
	    {"sql.delete-all", "delete from Sessions",
	     "delete from sessions where expires < now()"},
	    {"sql.delete-all", "db.exec(\"DELETE FROM t\")",
	     "db.exec(\"DELETE FROM t WHERE a=1\")"},
	    {"shell.rm-root", "rm -rf /", "rm -rf ./build"},
	    {"shell.rm-root", "rm -rf ~", "rm -rf ~/build"},
	    {"shell.rm-root", "rm -rf $HOME", "rm -rf $HOME_DIR"},
	    {"shell.rm-root", "rm -rf /*", "rm -rf /tmp/*"},
	    {"shell.chmod-777", "chmod 777 x", "chmod 775 x"},
	    {"shell.chmod-777", "chmod -R 777 .", "chmod -R 755 ."},
	    {"shell.sudo-rm", "sudo rm -f /etc/x", "sudo apt-get install -y rsync"},
	    {"shell.kubectl-delete", "kubectl delete ns prod", "kubectl get ns"},
	    {"shell.docker-rm-all", "docker rm -f $(docker ps -aq)", "docker rm -f web"},
	    {"shell.curl-pipe-sh", "curl -sSL https://get.example | bash", "curl -sSL x -o i.sh"},
	    {"shell.curl-pipe-sh", "wget -qO- https://x | sh", "wget -qO- https://x | tar xz"},
	};
	for (size_t i = 0; i < HS_ARRAY_LEN(cases); i++) {
		if (!content_fires(g, cases[i].id, cases[i].yes))
			fail_msg("%s does not fire on %s", cases[i].id, cases[i].yes);
		if (content_fires(g, cases[i].id, cases[i].no))
			fail_msg("%s fires on %s", cases[i].id, cases[i].no);
	}
	hs_guard_free(g);
}

static void test_delete_statement_across_lines(void **state)
{
	(void)state;
	struct hs_guard *g = guard_of(NULL);
	assert_false(content_fires(g, "sql.delete-all", "DELETE FROM users\nWHERE id = 1;\n"));
	assert_false(
	    content_fires(g, "sql.delete-all", "DELETE FROM users u\n  where u.id = $1\n"));
	assert_true(content_fires(g, "sql.delete-all", "DELETE FROM users\n;\n"));
	assert_true(content_fires(g, "sql.delete-all", "x = 1\nDELETE FROM users"));
	/* the WHERE is two lines on: the window does not reach it, so it fires */
	assert_true(content_fires(g, "sql.delete-all", "DELETE FROM users\n;\nWHERE x\n"));
	hs_guard_free(g);
}

static void test_secrets(void **state)
{
	(void)state;
	struct hs_guard *g = guard_of(NULL);
	static const struct {
		const char *id, *yes, *no;
	} cases[] = {
	    {"secret.aws-access-key", "key = " AWS_KEY,
	     "AWS key ids start with AKIA and are 20 characters long"},
	    {"secret.github-token", "GITHUB_TOKEN=" GH_TOKEN, "tokens look like ghp_..."},
	    {"secret.openai-key", "api_key = \"" OPENAI_KEY "\"", "from sklearn import svm"},
	    {"secret.anthropic-key", ANTHROPIC_KEY, "sk-ant-..."},
	    {"secret.private-key", PRIVATE_KEY, "-----BEGIN PUBLIC KEY-----"},
	    {"secret.stripe-live-key", STRIPE_LIVE, STRIPE_TEST},
	    {"secret.google-api-key", GOOGLE_KEY, "AIza"},
	    {"secret.gitlab-token", GITLAB_TOKEN, "glpat-"},
	    {"secret.slack-token", SLACK_TOKEN, "xoxp-EXAMPLE"},
	};
	for (size_t i = 0; i < HS_ARRAY_LEN(cases); i++) {
		if (!content_fires(g, cases[i].id, cases[i].yes))
			fail_msg("%s does not fire on %s", cases[i].id, cases[i].yes);
		if (content_fires(g, cases[i].id, cases[i].no))
			fail_msg("%s fires on %s", cases[i].id, cases[i].no);
	}
	/* a README naming the prefix in prose fires nothing at all */
	struct hs_change c = change(HS_CHANGE_ADDED, "README.md", NULL,
				    "# Keys\n\nAn AWS access key id starts with AKIA, like "
				    "AKIAXXXX; never commit one.\n");
	struct hs_guard_findings f;
	check(g, &c, &f);
	assert_int_equal(f.n, 0);
	hs_guard_findings_free(&f);
	hs_guard_free(g);
}

/* ---- added lines, line numbers ---- */

static void test_only_added_lines(void **state)
{
	(void)state;
	struct hs_guard *g = guard_of(NULL);
	struct hs_guard_findings f;
	/* the line was there before: an edit elsewhere does not fire it */
	struct hs_change c =
	    change(HS_CHANGE_MODIFIED, "db/reset.sql", "DROP TABLE t;\nSELECT 1;\n",
		   "-- reset\nDROP TABLE t;\nSELECT 2;\n");
	check(g, &c, &f);
	assert_int_equal(f.n, 0);
	hs_guard_findings_free(&f);

	/* moved within the file: still not added */
	c = change(HS_CHANGE_MODIFIED, "db/reset.sql", "DROP TABLE t;\nSELECT 1;\n",
		   "SELECT 1;\nDROP TABLE t;\n");
	check(g, &c, &f);
	assert_int_equal(f.n, 0);
	hs_guard_findings_free(&f);

	/* line endings changed: no line added */
	c = change(HS_CHANGE_MODIFIED, "x.sh", "rm -rf /\n", "rm -rf /\r\n");
	check(g, &c, &f);
	assert_int_equal(f.n, 0);
	hs_guard_findings_free(&f);

	/* a deleted file's content is not looked at */
	c = change(HS_CHANGE_DELETED, "x.sh", "rm -rf /\n", NULL);
	check(g, &c, &f);
	assert_int_equal(f.n, 0);
	hs_guard_findings_free(&f);
	hs_guard_free(g);
}

static void test_multiset(void **state)
{
	(void)state;
	struct hs_guard *g = guard_of(NULL);
	struct hs_guard_findings f;
	/* one copy before, three after: two are added (the later ones) */
	struct hs_change c = change(HS_CHANGE_MODIFIED, "m.sql", "a\nDROP TABLE t;\nb\n",
				    "DROP TABLE t;\na\nDROP TABLE t;\nb\nDROP TABLE t;\n");
	check(g, &c, &f);
	assert_int_equal(count(&f, "sql.drop"), 2);
	assert_int_equal(f.v[0].line, 3);
	assert_int_equal(f.v[1].line, 5);
	hs_guard_findings_free(&f);

	/* two before, one after: nothing added */
	c = change(HS_CHANGE_MODIFIED, "m.sql", "DROP TABLE t;\nDROP TABLE t;\n",
		   "DROP TABLE t;\n");
	check(g, &c, &f);
	assert_int_equal(f.n, 0);
	hs_guard_findings_free(&f);
	hs_guard_free(g);
}

static void test_line_numbers(void **state)
{
	(void)state;
	struct hs_guard *g = guard_of(NULL);
	struct hs_guard_findings f;
	struct hs_change c = change(HS_CHANGE_ADDED, "deploy.sh", NULL,
				    "#!/bin/sh\r\n\r\nset -e\nkubectl delete ns staging\n\n"
				    "curl -fsSL https://x | sh\nrm -rf /");
	check(g, &c, &f);
	assert_int_equal(f.n, 3);
	assert_string_equal(f.v[0].rule_id, "shell.kubectl-delete");
	assert_int_equal(f.v[0].line, 4);
	assert_string_equal(f.v[0].excerpt, "kubectl delete ns staging");
	assert_string_equal(f.v[1].rule_id, "shell.curl-pipe-sh");
	assert_int_equal(f.v[1].line, 6);
	assert_string_equal(f.v[2].rule_id, "shell.rm-root");
	assert_int_equal(f.v[2].line, 7); /* the last line has no newline */
	assert_int_equal(f.v[2].severity, HS_GUARD_BLOCK);
	hs_guard_findings_free(&f);
	hs_guard_free(g);
}

static void test_findings_capped(void **state)
{
	(void)state;
	struct hs_guard *g = guard_of(NULL);
	struct hs_guard_findings f;
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	for (int i = 0; i < HS_GUARD_MAX_PER_RULE + 7; i++)
		fprintf(m, "DROP TABLE t%d;\n", i);
	fclose(m);
	struct hs_change c = change(HS_CHANGE_ADDED, "many.sql", NULL, text);
	check(g, &c, &f);
	assert_int_equal(f.n, HS_GUARD_MAX_PER_RULE);
	assert_contains(f.v[f.n - 1].message, "(and 7 more in this file)");
	assert_int_equal(f.v[f.n - 1].line, HS_GUARD_MAX_PER_RULE);
	hs_guard_findings_free(&f);
	free(text);
	hs_guard_free(g);
}

/* ---- excerpts ---- */

static void assert_masked(const char *excerpt, const char *secret)
{
	char want[256];
	size_t n = strlen(secret);
	assert_true(n < sizeof(want));
	memcpy(want, secret, 4);
	memset(want + 4, '*', n - 4);
	want[n] = '\0';
	assert_contains(excerpt, want);
	assert_null(strstr(excerpt, secret + 4));
}

static void test_excerpt_masking(void **state)
{
	(void)state;
	struct hs_guard *g = guard_of(NULL);
	struct hs_guard_findings f;
	struct hs_change c = change(HS_CHANGE_ADDED, "config.py", NULL,
				    "AWS = \"" AWS_KEY "\"\nGH = '" GH_TOKEN "'\n"
				    "OPENAI = '" OPENAI_KEY "'\n");
	check(g, &c, &f);
	assert_int_equal(f.n, 3);
	assert_masked(f.v[0].excerpt, AWS_KEY);
	assert_string_equal(f.v[0].excerpt, "AWS = \"AKIA****************\"");
	assert_masked(f.v[1].excerpt, GH_TOKEN);
	assert_masked(f.v[2].excerpt, OPENAI_KEY);
	for (size_t i = 0; i < f.n; i++) {
		assert_null(strstr(f.v[i].message, "AKIA"));
		assert_int_equal(f.v[i].line, i + 1);
	}
	hs_guard_findings_free(&f);

	/* another rule's finding on a line holding a secret: masked too */
	c = change(HS_CHANGE_ADDED, "x.sql", NULL, "DROP TABLE keys; -- was " AWS_KEY "\n");
	check(g, &c, &f);
	assert_non_null(find(&f, "sql.drop"));
	for (size_t i = 0; i < f.n; i++)
		assert_masked(f.v[i].excerpt, AWS_KEY);
	hs_guard_findings_free(&f);
	hs_guard_free(g);
}

static void test_excerpt_window(void **state)
{
	(void)state;
	struct hs_guard *g = guard_of(NULL);
	struct hs_guard_findings f;
	char line[1200];
	/* a secret 500 bytes into a minified line: the excerpt shows it */
	memset(line, 'x', sizeof(line));
	memcpy(line + 500, " k=\"" GH_TOKEN "\" ", strlen(" k=\"" GH_TOKEN "\" "));
	line[sizeof(line) - 1] = '\0';
	struct hs_change c = change(HS_CHANGE_ADDED, "app.min.js", NULL, line);
	check(g, &c, &f);
	assert_int_equal(f.n, 1);
	assert_int_equal(strlen(f.v[0].excerpt), HS_GUARD_EXCERPT_MAX);
	assert_int_equal(strncmp(f.v[0].excerpt, "...", 3), 0);
	assert_int_equal(strcmp(f.v[0].excerpt + HS_GUARD_EXCERPT_MAX - 3, "..."), 0);
	assert_masked(f.v[0].excerpt, GH_TOKEN);
	hs_guard_findings_free(&f);

	/* control characters and broken UTF-8 are shown as '?' */
	c = change(HS_CHANGE_ADDED, "t.sh", NULL,
		   "rm -rf / \x1b[2J\x07 caf\xc3\xa9 \xff\xc2\x9b\n");
	check(g, &c, &f);
	assert_int_equal(f.n, 1);
	assert_string_equal(f.v[0].excerpt, "rm -rf / ?[2J? caf\xc3\xa9 ???");
	hs_guard_findings_free(&f);

	/* a cut never splits a UTF-8 sequence */
	char utf[400] = "DROP TABLE t; ";
	while (strlen(utf) + 2 < sizeof(utf))
		strcat(utf, "\xc3\xa9");
	c = change(HS_CHANGE_ADDED, "u.sql", NULL, utf);
	check(g, &c, &f);
	assert_int_equal(f.n, 1);
	size_t n = strlen(f.v[0].excerpt);
	assert_true(n <= HS_GUARD_EXCERPT_MAX);
	assert_string_equal(f.v[0].excerpt + n - 3, "...");
	assert_int_equal((unsigned char)f.v[0].excerpt[n - 4], 0xa9);
	hs_guard_findings_free(&f);
	hs_guard_free(g);
}

/* ---- binary, large ---- */

static void test_binary_and_large(void **state)
{
	(void)state;
	struct hs_guard *g = guard_of(NULL);
	struct hs_guard_findings f;
	static const char bin[] = "\x7f"
				  "ELF\0\0rm -rf /\n" AWS_KEY "\n";
	struct hs_change c = change(HS_CHANGE_ADDED, "a.out", NULL, "");
	c.new_data = bin;
	c.new_len = c.new_size = sizeof(bin) - 1;
	check(g, &c, &f);
	assert_int_equal(f.n, 1);
	assert_string_equal(f.v[0].rule_id, "content.binary");
	assert_int_equal(f.v[0].severity, HS_GUARD_INFO);
	hs_guard_findings_free(&f);

	/* over the limit: not scanned */
	c = change(HS_CHANGE_ADDED, "huge.sql", NULL, "DROP TABLE t;\n");
	c.new_size = HS_GUARD_DEFAULT_MAX_FILE + 1;
	check(g, &c, &f);
	assert_int_equal(f.n, 1);
	assert_string_equal(f.v[0].rule_id, "content.large");
	assert_int_equal(f.v[0].severity, HS_GUARD_WARN);
	hs_guard_findings_free(&f);

	/* the caller could not load it all */
	c = change(HS_CHANGE_MODIFIED, "huge.sql", "x\n", NULL);
	c.new_mode = REG;
	c.new_truncated = 1;
	c.new_size = 1ull << 32;
	check(g, &c, &f);
	assert_int_equal(f.n, 1);
	assert_string_equal(f.v[0].rule_id, "content.large");
	hs_guard_findings_free(&f);

	/* a mode change of a big file is no new content */
	c.kind = HS_CHANGE_MODE;
	check(g, &c, &f);
	assert_int_equal(f.n, 0);
	hs_guard_findings_free(&f);
	hs_guard_free(g);
}

/* ---- the policy's guard section ---- */

static struct hs_guard *guard_from(struct hs_policy *p, const char *json)
{
	hs_policy_init(p);
	load_ok(p, json);
	return guard_of(&p->guard);
}

static void test_config_disable_and_severity(void **state)
{
	(void)state;
	struct hs_policy p;
	struct hs_guard_findings f;
	struct hs_guard *g = guard_from(&p, "{\"guard\": {\"disable\": [\"sql.drop\", \"path.ci\"],"
					    " \"severity\": {\"mode.executable\": \"block\","
					    " \"secret.aws-access-key\": \"warn\"},"
					    " \"max_file_size\": \"1K\"}}");
	assert_false(content_fires(g, "sql.drop", "DROP TABLE t;"));
	assert_true(content_fires(g, "sql.truncate", "TRUNCATE TABLE t;"));
	assert_false(path_fires(g, "path.ci", HS_CHANGE_ADDED, ".gitlab-ci.yml", NULL));

	struct hs_change c = change(HS_CHANGE_ADDED, "run.sh", NULL, "k=" AWS_KEY "\n");
	c.new_mode = S_IFREG | 0755;
	check(g, &c, &f);
	assert_int_equal(find(&f, "mode.executable")->severity, HS_GUARD_BLOCK);
	assert_int_equal(find(&f, "secret.aws-access-key")->severity, HS_GUARD_WARN);
	hs_guard_findings_free(&f);

	struct hs_guard_rule_info info;
	bool seen = false;
	for (size_t i = 0; i < hs_guard_rule_count(g); i++) {
		hs_guard_rule_info(g, i, &info);
		if (strcmp(info.id, "sql.drop") == 0) {
			assert_false(info.enabled);
			seen = true;
		}
	}
	assert_true(seen);

	char big[2048];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	c = change(HS_CHANGE_ADDED, "big.txt", NULL, big);
	check(g, &c, &f);
	assert_int_equal(f.n, 1);
	assert_string_equal(f.v[0].rule_id, "content.large");
	hs_guard_findings_free(&f);
	hs_guard_free(g);
	hs_policy_free(&p);
}

static void test_config_user_rules(void **state)
{
	(void)state;
	struct hs_policy p;
	struct hs_guard_findings f;
	struct hs_guard *g = guard_from(
	    &p, "{\"guard\": {\"rules\": ["
		"{\"id\": \"content.todo\", \"severity\": \"info\", \"message\": \"adds a TODO; "
		"file an issue instead\", \"content\": \"\\\\bTODO\\\\b\","
		" \"examples\": {\"match\": [\"// TODO: x\"], \"no_match\": [\"TODOS\"]}},"
		"{\"id\": \"path.migrations\", \"severity\": \"warn\", \"message\": \"changes a "
		"migration; check it\", \"path\": \"migrations/*.sql\","
		" \"examples\": {\"match\": [\"migrations/001.sql\"], \"no_match\": "
		"[\"src/migrations/001.sql\"]}},"
		"{\"id\": \"path.pem\", \"severity\": \"block\", \"message\": \"adds a key file; "
		"keep keys out\", \"path\": \"*.pem\"},"
		"{\"id\": \"sql.no-cascade\", \"severity\": \"block\", \"message\": \"cascades; "
		"do not\", \"path\": \"*.sql\", \"content\": \"(?i)on\\\\s+delete\\\\s+cascade\"},"
		"{\"id\": \"secret.internal\", \"severity\": \"block\", \"message\": \"adds an "
		"internal token; use the vault\", \"content\": \"itk_[0-9a-f]{16}\"}],"
		" \"disable\": [\"path.pem\"], \"severity\": {\"content.todo\": \"warn\"}}}");
	assert_int_equal(hs_guard_rule_count(g), hs_guard_builtin_count() + 5);

	struct hs_change c = change(HS_CHANGE_ADDED, "src/a.c", NULL, "x;\n// TODO: later\n");
	check(g, &c, &f);
	assert_int_equal(f.n, 1);
	assert_string_equal(f.v[0].rule_id, "content.todo");
	assert_int_equal(f.v[0].severity, HS_GUARD_WARN); /* changed by guard.severity */
	assert_int_equal(f.v[0].line, 2);
	assert_string_equal(f.v[0].message, "adds a TODO; file an issue instead");
	hs_guard_findings_free(&f);

	assert_true(
	    path_fires(g, "path.migrations", HS_CHANGE_DELETED, "migrations/002.sql", NULL));
	assert_false(path_fires(g, "path.migrations", HS_CHANGE_ADDED, "db/002.sql", NULL));
	assert_false(
	    path_fires(g, "path.pem", HS_CHANGE_ADDED, "certs/a.pem", NULL)); /* disabled */

	/* path and content: both must match */
	assert_false(content_fires(g, "sql.no-cascade", "ON DELETE CASCADE")); /* f.txt */
	c = change(HS_CHANGE_ADDED, "db/schema.sql", NULL, "  ref int ON DELETE CASCADE,\n");
	check(g, &c, &f);
	assert_non_null(find(&f, "sql.no-cascade"));
	hs_guard_findings_free(&f);

	/* a rule of one's own named secret.* is masked like the built-in ones */
	c = change(HS_CHANGE_ADDED, "conf.ini", NULL, "token = itk_0123456789abcdef\n");
	check(g, &c, &f);
	assert_int_equal(f.n, 1);
	assert_string_equal(f.v[0].excerpt, "token = itk_****************");
	hs_guard_findings_free(&f);
	hs_guard_free(g);
	hs_policy_free(&p);
}

static void test_match_limit(void **state)
{
	(void)state;
	struct hs_policy p;
	struct hs_guard_findings f;
	char line[64];
	memset(line, 'a', 40);
	strcpy(line + 40, "!\n");
	struct hs_guard *g = guard_from(&p, "{\"guard\": {\"rules\": [{\"id\": \"content.slow\","
					    " \"severity\": \"block\", \"message\": \"backtracks; "
					    "avoid\", \"content\": \"^(a|aa)+$\"}]}}");
	struct hs_change c = change(HS_CHANGE_ADDED, "f.txt", NULL, "");
	char *text = hs_xasprintf("ok\n%s%s", line, line);
	c.new_data = text;
	c.new_len = c.new_size = strlen(text);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	check(g, &c, &f);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (secs > 5)
		fail_msg("matching took %.1f s; the match limit did not stop it", secs);
	/* a finding, not an error; one per line */
	assert_int_equal(f.n, 2);
	assert_string_equal(f.v[0].rule_id, "guard.match-limit");
	assert_int_equal(f.v[0].severity, HS_GUARD_WARN);
	assert_int_equal(f.v[0].line, 2);
	assert_contains(f.v[0].message, "content.slow");
	assert_non_null(f.v[0].excerpt);
	hs_guard_findings_free(&f);
	hs_guard_free(g);
	hs_policy_free(&p);
	free(text);

	/* the policy may make it block, or turn it off */
	g = guard_from(&p, "{\"guard\": {\"rules\": [{\"id\": \"content.slow\", \"severity\": "
			   "\"block\", \"message\": \"backtracks; avoid\", \"content\": "
			   "\"(x+x+)+$\"}], \"severity\": {\"guard.match-limit\": \"block\"}}}");
	assert_true(content_fires(g, "guard.match-limit", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx!"));
	hs_guard_free(g);
	hs_policy_free(&p);
	g = guard_from(&p, "{\"guard\": {\"rules\": [{\"id\": \"content.slow\", \"severity\": "
			   "\"block\", \"message\": \"backtracks; avoid\", \"content\": "
			   "\"(x+x+)+$\"}], \"disable\": [\"guard.match-limit\"]}}");
	assert_false(content_fires(g, "guard.match-limit", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx!"));
	hs_guard_free(g);
	hs_policy_free(&p);
}

/* Hostile lines against the built-in patterns: fast, and no limit hit. */
static void test_builtins_stay_linear(void **state)
{
	(void)state;
	static const char *const units[] = {
	    "curl ",	     "rm -r -r ",	"sudo ",	 "kubectl x ",
	    "DELETE FROM ",  "-----BEGIN A B ", "sk-Aa1",	 "AKIA",
	    "docker rm -f ", "chmod -R ",	"xoxb-1234567-", "rm -rf -- ",
	};
	struct hs_guard *g = guard_of(NULL);
	enum { SIZE = 1 << 20 };
	char *text = hs_xmalloc(SIZE + 1);
	for (size_t u = 0; u < HS_ARRAY_LEN(units); u++) {
		size_t n = strlen(units[u]), o = 0;
		for (; o + n <= SIZE; o += n)
			memcpy(text + o, units[u], n);
		text[o] = '\0';
		struct hs_change c = change(HS_CHANGE_ADDED, "f.txt", NULL, text);
		struct hs_guard_findings f;
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		check(g, &c, &f);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double secs =
		    (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		if (find(&f, "guard.match-limit"))
			fail_msg("\"%s\" repeated hits the match limit", units[u]);
		if (secs > 5) /* ~0.01 s on a laptop; generous for sanitizers */
			fail_msg("\"%s\" repeated took %.1f s", units[u], secs);
		hs_guard_findings_free(&f);
	}
	free(text);
	hs_guard_free(g);
}

/* ---- the loader ---- */

static void test_loader_errors(void **state)
{
	(void)state;
	assert_load_error("{\"guard\": {\"disable\": [\"sql.dorp\"]}}", "\"sql.dorp\"",
			  "guard.disable[0]: \"sql.dorp\" is not a guard rule; did you mean "
			  "\"sql.drop\"?");
	assert_load_error("{\"guard\": {\"disable\": [\"nothing.like.it\"]}}", "\"nothing",
			  "is not a guard rule; name a built-in rule");
	assert_load_error("{\"guard\": {\"severity\": {\"path.evn\": \"warn\"}}}", "\"path.evn\"",
			  "did you mean \"path.env\"?");
	assert_load_error("{\"guard\": {\"severity\": {\"path.env\": \"high\"}}}", "\"high\"",
			  "guard.severity[\"path.env\"]: \"high\" is not a severity; use \"info\", "
			  "\"warn\" or \"block\"");
	assert_load_error("{\"guard\": {\"max_file_size\": \"big\"}}", "\"big\"",
			  "guard.max_file_size: \"big\" is not a size");
	assert_load_error("{\"guard\": {\"rule\": []}}", "\"rule\"",
			  "guard.rule: unknown key; did you mean \"rules\"?");
	assert_load_error("{\"disable\": []}", "\"disable\"", "\"disable\" belongs in \"guard\"");
	assert_load_error("{\"guard\": {\"rules\": [{\"id\": \"a.b\", \"severity\": \"warn\","
			  " \"message\": \"m; n\", \"path\": \"x\", \"contnet\": \"y\"}]}}",
			  "\"contnet\"",
			  "guard.rules[0].contnet: unknown key; did you mean \"content\"?");
	assert_load_error("{\"guard\": {\"rules\": [{\"id\": \"a.b\", \"message\": \"m\","
			  " \"path\": \"x\"}]}}",
			  "{\"id\"", "guard.rules[0]: missing \"severity\"");
	assert_load_error("{\"guard\": {\"rules\": [{\"id\": \"a.b\", \"severity\": \"warn\","
			  " \"message\": \"m\"}]}}",
			  "{\"id\"", "a guard rule needs \"path\"");
	assert_load_error("{\"guard\": {\"rules\": [{\"id\": \"A b\", \"severity\": \"warn\","
			  " \"message\": \"m\", \"path\": \"x\"}]}}",
			  "\"A b\"", "guard.rules[0].id: \"A b\" does not start with a lower-case");
	assert_load_error("{\"guard\": {\"rules\": [{\"id\": \"sql.drop\", \"severity\": \"warn\","
			  " \"message\": \"m\", \"path\": \"x\"}]}}",
			  "\"sql.drop\"", "\"sql.drop\" is a built-in rule");
	assert_load_error("{\"guard\": {\"rules\": [{\"id\": \"a.b\", \"severity\": \"warn\","
			  " \"message\": \"m\", \"path\": \"x\"}, {\"id\": \"a.b\", \"severity\":"
			  " \"info\", \"message\": \"m\", \"path\": \"y\"}]}}",
			  "\"a.b\", \"severity\": \"info\"",
			  "guard.rules[1].id: \"a.b\" is already the id of guard.rules[0]");
	assert_load_error("{\"guard\": {\"rules\": [{\"id\": \"a.b\", \"severity\": \"warn\","
			  " \"message\": \"m\", \"path\": \"/etc/*\"}]}}",
			  "\"/etc", "guard.rules[0].path: \"/etc/*\" is absolute");
	assert_load_error("{\"guard\": {\"rules\": [{\"id\": \"a.b\", \"severity\": \"warn\","
			  " \"message\": \"two\\nlines\", \"path\": \"x\"}]}}",
			  "\"two", "has a control character");
	assert_load_error_at("{\"guard\": {\"rules\": [{\"id\": \"a.b\", \"severity\": \"warn\","
			     " \"message\": \"m\", \"content\": \"(*UTF)x\"}]}}",
			     "(*UTF", 6, "using UTF is disabled by the application");
}

static void test_loader_bad_regex_position(void **state)
{
	(void)state;
	/* PCRE2 stops at the end of "(ab" (offset 3): the column of that
	 * character inside the string, escapes counted as written */
	const char *json = "{\"guard\": {\"rules\": [\n"
			   "  {\"id\": \"a.b\", \"severity\": \"warn\", \"message\": \"m\",\n"
			   "   \"content\": \"(ab\"}]}}";
	assert_load_error_at(json, "(ab", 3,
			     "guard.rules[0].content: \"(ab\" is not a valid pattern: missing "
			     "closing parenthesis (PCRE2, at offset 3)");
	json = "{\"guard\": {\"rules\": [{\"id\": \"a.b\", \"severity\": \"warn\","
	       " \"message\": \"m\", \"content\": \"\\\\d+[a-\"}]}}";
	assert_load_error_at(json, "\\\\d+[a-", 7, "missing terminating ] for character class");
	assert_load_error_at("{\"guard\": {\"rules\": [{\"id\": \"a.b\", \"severity\": \"warn\","
			     " \"message\": \"m\", \"content\": \"x{2,1}\"}]}}",
			     "x{2,1}", 5, "numbers out of order in {} quantifier");
}

static void test_loader_self_test(void **state)
{
	(void)state;
	assert_load_error(
	    "{\"guard\": {\"rules\": [{\"id\": \"a.b\", \"severity\": \"warn\","
	    " \"message\": \"m\", \"content\": \"TODO\","
	    " \"examples\": {\"match\": [\"TODO x\", \"FIXME y\"]}}]}}",
	    "\"FIXME y\"",
	    "guard.rules[0].examples.match[1]: \"FIXME y\" is not matched by this rule");
	assert_load_error("{\"guard\": {\"rules\": [{\"id\": \"a.b\", \"severity\": \"warn\","
			  " \"message\": \"m\", \"content\": \"TODO\","
			  " \"examples\": {\"no_match\": [\"TODOS\"]}}]}}",
			  "\"TODOS\"", "is matched by this rule, but is listed under no_match");
	assert_load_error("{\"guard\": {\"rules\": [{\"id\": \"a.b\", \"severity\": \"warn\","
			  " \"message\": \"m\", \"path\": \"*.pem\","
			  " \"examples\": {\"match\": [\"k.pem\", \"k.key\"]}}]}}",
			  "\"k.key\"", "\"k.key\" is not matched by this rule");
	/* an example that hits the match limit is refused at load */
	assert_load_error(
	    "{\"guard\": {\"rules\": [{\"id\": \"a.b\", \"severity\": \"warn\","
	    " \"message\": \"m\", \"content\": \"(x+x+)+$\","
	    " \"examples\": {\"no_match\": [\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx!\"]}}]}}",
	    "\"xxx", "hits the PCRE2 match limit");
	assert_load_error(
	    "{\"guard\": {\"rules\": [{\"id\": \"a.b\", \"severity\": \"warn\","
	    " \"message\": \"m\", \"content\": \"x\", \"examples\": {\"match\": [\"\"]}}]}}",
	    "\"\"]", "is empty");
	/* content examples are content: several lines, any of which may match */
	struct hs_policy p;
	hs_policy_init(&p);
	load_ok(&p, "{\"guard\": {\"rules\": [{\"id\": \"a.b\", \"severity\": \"warn\","
		    " \"message\": \"m\", \"path\": \"*.sql\", \"content\": \"^DROP\","
		    " \"examples\": {\"match\": [\"SELECT 1;\\nDROP x\"],"
		    " \"no_match\": [\"SELECT 'DROP'\"]}}]}}");
	assert_int_equal(p.guard.nrules, 1);
	assert_string_equal(p.guard.rules[0].origin, "t.json:1:22");
	hs_policy_free(&p);
}

static void test_layers_and_round_trip(void **state)
{
	(void)state;
	struct hs_policy p, q;
	hs_policy_init(&p);
	assert_int_equal(p.guard.max_file_size, HS_GUARD_DEFAULT_MAX_FILE);
	load_ok(&p, "{\"guard\": {\"rules\": [{\"id\": \"content.todo\", \"severity\": \"info\","
		    " \"message\": \"a TODO; fine\", \"content\": \"TODO\"}],"
		    " \"disable\": [\"path.ci\"], \"severity\": {\"sql.drop\": \"warn\"}}}");
	/* a second layer: replaces the rule of the same id, adds to the lists */
	load_ok(&p, "{\"guard\": {\"rules\": [{\"id\": \"content.todo\", \"severity\": \"block\","
		    " \"message\": \"a TODO; no\", \"content\": \"TODO|FIXME\","
		    " \"examples\": {\"match\": [\"FIXME\"]}}],"
		    " \"disable\": [\"content.todo\", \"path.ci\"],"
		    " \"severity\": {\"sql.drop\": \"block\", \"content.todo\": \"warn\"},"
		    " \"max_file_size\": \"2M\"}}");
	assert_int_equal(p.guard.nrules, 1);
	assert_string_equal(p.guard.rules[0].content, "TODO|FIXME");
	assert_int_equal(p.guard.disable.n, 2);
	assert_int_equal(p.guard.nseverity, 2);
	assert_int_equal(p.guard.severity[0].severity, HS_GUARD_BLOCK);
	assert_int_equal(p.guard.max_file_size, 2u << 20);

	/* copy, print, load back */
	hs_policy_copy(&q, &p);
	char *a = hs_policy_to_json(&q);
	hs_policy_free(&q);
	assert_non_null(a);
	assert_contains(a, "\"guard\": {");
	assert_contains(a, "\"max_file_size\": \"2M\"");
	assert_contains(a, "\"content\": \"TODO|FIXME\"");
	hs_policy_init(&q);
	load_ok(&q, a);
	char *b = hs_policy_to_json(&q);
	assert_string_equal(a, b);
	struct hs_guard *g = guard_of(&q.guard);
	assert_false(content_fires(g, "content.todo", "TODO")); /* disabled */
	hs_guard_free(g);
	free(a);
	free(b);
	hs_policy_free(&p);
	hs_policy_free(&q);

	/* every preset carries the default guard section */
	for (const char *const *n = hs_preset_names; *n; n++) {
		struct hs_error e;
		hs_policy_init(&p);
		if (hs_policy_apply_preset(&p, *n, &e) < 0)
			fail_msg("%s: %s", *n, e.msg);
		assert_int_equal(p.guard.max_file_size, HS_GUARD_DEFAULT_MAX_FILE);
		assert_int_equal(p.guard.nrules, 0);
		hs_policy_free(&p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_builtin_examples),
	    cmocka_unit_test(test_rule_table),
	    cmocka_unit_test(test_severity_names),
	    cmocka_unit_test(test_sensitive_paths),
	    cmocka_unit_test(test_path_changes),
	    cmocka_unit_test(test_modes),
	    cmocka_unit_test(test_dangerous_content),
	    cmocka_unit_test(test_delete_statement_across_lines),
	    cmocka_unit_test(test_secrets),
	    cmocka_unit_test(test_only_added_lines),
	    cmocka_unit_test(test_multiset),
	    cmocka_unit_test(test_line_numbers),
	    cmocka_unit_test(test_findings_capped),
	    cmocka_unit_test(test_excerpt_masking),
	    cmocka_unit_test(test_excerpt_window),
	    cmocka_unit_test(test_binary_and_large),
	    cmocka_unit_test(test_config_disable_and_severity),
	    cmocka_unit_test(test_config_user_rules),
	    cmocka_unit_test(test_match_limit),
	    cmocka_unit_test(test_builtins_stay_linear),
	    cmocka_unit_test(test_loader_errors),
	    cmocka_unit_test(test_loader_bad_regex_position),
	    cmocka_unit_test(test_loader_self_test),
	    cmocka_unit_test(test_layers_and_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
