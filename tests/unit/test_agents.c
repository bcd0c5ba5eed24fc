/*
 * test_agents.c: agent profiles (policy/agents.h): base-URL and config.toml
 * parsing, what composing a profile adds to a policy (hosts, environment,
 * state dir, protected seeds, install dirs), and the seeding of the state
 * directory, including over what a hostile earlier run left there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "policy/agents.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void write_text(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	chmod(path, mode);
}

static char *read_text(const char *path)
{
	static char buf[4096];
	int fd = open(path, O_RDONLY | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

/* ---- parsers ---- */

static void test_url_hostport(void **state)
{
	(void)state;
	static const struct {
		const char *url, *want; /* want NULL: refused */
	} cases[] = {
	    {"https://api.anthropic.com", "api.anthropic.com:443"},
	    {"https://api.anthropic.com/", "api.anthropic.com:443"},
	    {"HTTP://Example.com/v1", "Example.com:80"},
	    {"http://127.0.0.1:8089/v1", "127.0.0.1:8089"},
	    {"http://[::1]:9000", "[::1]:9000"},
	    {"https://[fd00::1]/x?y", "[fd00::1]:443"},
	    {"https://h.example:65535#frag", "h.example:65535"},
	    {"ftp://example.com", NULL},
	    {"example.com", NULL},
	    {"https://", NULL},
	    {"https://:443", NULL},
	    {"https://user:pw@example.com", NULL},
	    {"https://example.com:0", NULL},
	    {"https://example.com:65536", NULL},
	    {"https://example.com:", NULL},
	    {"https://example.com:12a", NULL},
	    {"https://exa mple.com", NULL},
	    {"https://exa%2emple.com", NULL},
	    {"https://exa_mple.com", NULL},
	    {"http://[::1", NULL},
	    {"http://[]:80", NULL},
	    {"http://[::g]", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[300];
		const char *why = NULL;
		int r = hs_agent_url_hostport(cases[i].url, out, sizeof(out), &why);
		if (cases[i].want) {
			if (r != 0)
				fail_msg("%s refused: %s", cases[i].url, why);
			assert_string_equal(out, cases[i].want);
		} else {
			if (r == 0)
				fail_msg("%s accepted as %s", cases[i].url, out);
			assert_non_null(why);
		}
	}
}

struct seen {
	char values[8][256];
	unsigned lines[8];
	int n;
};

static int collect(void *ctx, const char *v, unsigned line)
{
	struct seen *s = ctx;
	if (s->n < 8) {
		snprintf(s->values[s->n], sizeof(s->values[0]), "%s", v);
		s->lines[s->n++] = line;
	}
	return 0;
}

static void test_toml_base_urls(void **state)
{
	(void)state;
	const char *text = "model = \"x\"\n"
			   "[model_providers.fake]\n"
			   "base_url = \"http://127.0.0.1:9/v1\"\n"
			   "# base_url = \"http://commented.example\"\n"
			   "  base_url='https://lit.example:8443'\n"
			   "model_providers.y.base_url = \"https://dotted.example\"\n"
			   "not_base_url = \"https://no.example\"\n"
			   "base_url = \"esc\\\"aped\"\n"
			   "base_url = \"bad\\u0041escape\"\n"
			   "base_url = \"unterminated\n"
			   "base_url = 42\n"
			   "base_url = \"last\"\n"
			   "openai_base_url = \"http://builtin.example/v1\"";
	struct seen s = {0};
	assert_int_equal(hs_agent_toml_base_urls(text, strlen(text), collect, &s), 0);
	assert_int_equal(s.n, 6);
	assert_string_equal(s.values[5], "http://builtin.example/v1");
	assert_string_equal(s.values[0], "http://127.0.0.1:9/v1");
	assert_int_equal(s.lines[0], 3);
	assert_string_equal(s.values[1], "https://lit.example:8443");
	assert_int_equal(s.lines[1], 5);
	assert_string_equal(s.values[2], "https://dotted.example");
	assert_string_equal(s.values[3], "esc\"aped");
	assert_string_equal(s.values[4], "last");
	assert_int_equal(s.lines[4], 12);
}

/* ---- composing ---- */

struct fixture {
	char root[PATH_MAX];
	char home[PATH_MAX + 16], cwd[PATH_MAX + 16], state[PATH_MAX + 16], bin[PATH_MAX + 16];
	char nodebin[PATH_MAX + 16];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char tmpl[] = "/tmp/hs-agents-XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	assert_non_null(realpath(tmpl, f->root));
	snprintf(f->home, sizeof(f->home), "%s/home", f->root);
	snprintf(f->cwd, sizeof(f->cwd), "%s/proj", f->root);
	snprintf(f->state, sizeof(f->state), "%s/state", f->root);
	snprintf(f->bin, sizeof(f->bin), "%s/opt/bin", f->root);
	snprintf(f->nodebin, sizeof(f->nodebin), "%s/node/bin", f->root);
	mkdir(f->home, 0700);
	mkdir(f->cwd, 0700);
	char p[PATH_MAX + 64];
	snprintf(p, sizeof(p), "%s/opt", f->root);
	mkdir(p, 0755);
	mkdir(f->bin, 0755);
	snprintf(p, sizeof(p), "%s/node", f->root);
	mkdir(p, 0755);
	mkdir(f->nodebin, 0755);
	snprintf(p, sizeof(p), "%s/opt/lib", f->root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/opt/lib/node_modules", f->root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/opt/lib/node_modules/claude-code", f->root);
	mkdir(p, 0755);
	/* bin/claude -> ../lib/node_modules/claude-code/cli.js, run by env node */
	snprintf(p, sizeof(p), "%s/opt/lib/node_modules/claude-code/cli.js", f->root);
	write_text(p, "#!/usr/bin/env node\nconsole.log(1)\n", 0755);
	char link[PATH_MAX + 64];
	snprintf(link, sizeof(link), "%s/claude", f->bin);
	assert_int_equal(symlink("../lib/node_modules/claude-code/cli.js", link), 0);
	snprintf(p, sizeof(p), "%s/node", f->nodebin);
	write_text(p, "\177ELF", 0755);
	setenv("XDG_STATE_HOME", f->state, 1);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	hs_agent_remove_tree(f->root);
	unsetenv("XDG_STATE_HOME");
	free(f);
	return 0;
}

static bool has(const struct hs_strv *sv, const char *s)
{
	return hs_strv_contains(sv, s);
}

static bool has_prefix(const struct hs_strv *sv, const char *prefix)
{
	for (size_t i = 0; i < sv->n; i++)
		if (strncmp(sv->v[i], prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

static void test_compose_claude(void **state)
{
	struct fixture *f = *state;
	char pathv[2 * PATH_MAX + 64];
	snprintf(pathv, sizeof(pathv), "PATH=%s:%s:/usr/bin:/bin", f->bin, f->nodebin);
	char *env[] = {pathv, "ANTHROPIC_BASE_URL=http://127.0.0.1:8089/v1",
		       "ANTHROPIC_API_KEY=sk-secret", "ANTHROPIC_MODEL=m1", NULL};
	struct hs_policy p;
	struct hs_agent_setup s;
	struct hs_error err;
	hs_policy_init(&p);
	const struct hs_agent_profile *a = hs_agent_find("claude");
	assert_non_null(a);
	if (hs_agent_compose(&p, a, env, f->home, f->cwd, &s, &err) < 0)
		fail_msg("compose: %s", err.msg);

	assert_true(has(&p.net_allow, "api.anthropic.com:443"));
	assert_true(has(&p.net_allow, "127.0.0.1:8089"));
	assert_int_equal(p.net_allow.n, 2);
	/* the key passes only when named; the base URL and model do */
	assert_false(has(&p.env_pass, "ANTHROPIC_API_KEY"));
	assert_true(has(&p.env_pass, "ANTHROPIC_BASE_URL"));
	assert_true(has(&p.env_pass, "ANTHROPIC_MODEL"));
	assert_false(has(&p.env_pass, "ANTHROPIC_SMALL_FAST_MODEL")); /* not set */
	assert_true(has(&p.env_set, "IS_SANDBOX=1"));
	char want[PATH_MAX + 64];
	snprintf(want, sizeof(want), "CLAUDE_CONFIG_DIR=%s/harness/agents/claude/", f->state);
	assert_true(has_prefix(&p.env_set, want));
	assert_true(strncmp(s.state_dir, want + strlen("CLAUDE_CONFIG_DIR="),
			    strlen(want) - strlen("CLAUDE_CONFIG_DIR=")) == 0);
	assert_non_null(strstr(s.state_dir, "/proj-"));
	/* the state dir is granted read-write, its settings protected */
	bool granted = false;
	for (size_t i = 0; i < p.ngrants; i++)
		if (!strcmp(p.grants[i].path, s.state_dir))
			granted = p.grants[i].access == HS_ACCESS_WRITE && p.grants[i].create;
	assert_true(granted);
	snprintf(want, sizeof(want), "%s/settings.json", s.state_dir);
	assert_true(has(&p.protect_read_only, want));
	snprintf(want, sizeof(want), "%s/plugins", s.state_dir);
	assert_true(has(&p.protect_read_only, want));
	/* the install: bin dir, the node_modules, the interpreter's dir */
	char link[PATH_MAX + 64];
	snprintf(link, sizeof(link), "%s/claude", f->bin);
	assert_string_equal(s.binary_path, link);
	assert_true(has(&s.ro_dirs, f->bin));
	snprintf(want, sizeof(want), "%s/opt/lib/node_modules", f->root);
	assert_true(has(&s.ro_dirs, want));
	assert_true(has(&s.ro_dirs, f->nodebin));
	snprintf(want, sizeof(want), "%s/.claude", f->home);
	assert_string_equal(s.user_dir, want);
	hs_agent_setup_free(&s);
	hs_policy_free(&p);
}

static void test_compose_bad_base_url(void **state)
{
	struct fixture *f = *state;
	char *env[] = {"PATH=/usr/bin", "OPENAI_BASE_URL=https://user:pw@evil.example/v1", NULL};
	struct hs_policy p;
	struct hs_agent_setup s;
	struct hs_error err;
	hs_policy_init(&p);
	assert_int_equal(hs_agent_compose(&p, hs_agent_find("codex"), env, f->home, f->cwd, &s,
					  &err),
			 -1);
	assert_non_null(strstr(err.msg, "OPENAI_BASE_URL"));
	assert_non_null(strstr(err.msg, "user name or password"));
	hs_agent_setup_free(&s);
	hs_policy_free(&p);
}

static void test_compose_codex_toml(void **state)
{
	struct fixture *f = *state;
	char p1[PATH_MAX + 64];
	snprintf(p1, sizeof(p1), "%s/.codex", f->home);
	mkdir(p1, 0700);
	snprintf(p1, sizeof(p1), "%s/.codex/config.toml", f->home);
	write_text(p1,
		   "model_provider = \"fake\"\n[model_providers.fake]\n"
		   "base_url = \"http://127.0.0.1:7777/v1\"\nwire_api = \"responses\"\n"
		   "[model_providers.broken]\nbase_url = \"file:///etc/passwd\"\n",
		   0600);
	char *env[] = {"PATH=/usr/bin", NULL};
	struct hs_policy p;
	struct hs_agent_setup s;
	struct hs_error err;
	hs_policy_init(&p);
	if (hs_agent_compose(&p, hs_agent_find("codex"), env, f->home, f->cwd, &s, &err) < 0)
		fail_msg("compose: %s", err.msg);
	assert_true(has(&p.net_allow, "api.openai.com:443"));
	assert_true(has(&p.net_allow, "127.0.0.1:7777"));
	assert_int_equal(p.net_allow.n, 2);
	assert_int_equal(s.notes.n, 1); /* the broken one is named, not allowed */
	assert_non_null(strstr(s.notes.v[0], "config.toml:6"));
	assert_null(s.binary_path); /* codex is not on this PATH */
	hs_agent_setup_free(&s);
	hs_policy_free(&p);
}

static void test_compose_generic_xdg(void **state)
{
	struct fixture *f = *state;
	char *env[] = {"PATH=/usr/bin", "OPENAI_API_BASE=http://localhost:4000", NULL};
	struct hs_policy p;
	struct hs_agent_setup s;
	struct hs_error err;
	hs_policy_init(&p);
	if (hs_agent_compose(&p, hs_agent_find("generic"), env, f->home, f->cwd, &s, &err) < 0)
		fail_msg("compose: %s", err.msg);
	assert_true(has(&p.net_allow, "localhost:4000"));
	char want[PATH_MAX + 64];
	snprintf(want, sizeof(want), "XDG_CONFIG_HOME=%s/config", s.state_dir);
	assert_true(has(&p.env_set, want));
	assert_int_equal(hs_agent_prepare_state(&s, &err), 0);
	struct stat st;
	snprintf(want, sizeof(want), "%s/cache", s.state_dir);
	assert_int_equal(stat(want, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	hs_agent_setup_free(&s);
	hs_policy_free(&p);
}

/* Seeds come from the caller's own config; whatever an earlier run left at
 * their names (a symlink to a file outside, a directory) is replaced, and
 * never followed. */
static void test_prepare_state_seeds(void **state)
{
	struct fixture *f = *state;
	char p1[PATH_MAX + 64], p2[PATH_MAX + 64], outside[PATH_MAX + 64];
	snprintf(p1, sizeof(p1), "%s/.claude", f->home);
	mkdir(p1, 0700);
	snprintf(p1, sizeof(p1), "%s/.claude/settings.json", f->home);
	write_text(p1, "{\"user\": true}\n", 0600);
	snprintf(p1, sizeof(p1), "%s/.claude/commands", f->home);
	mkdir(p1, 0700);
	snprintf(p1, sizeof(p1), "%s/.claude/commands/review.md", f->home);
	write_text(p1, "review it\n", 0600);
	snprintf(outside, sizeof(outside), "%s/outside", f->root);
	write_text(outside, "untouched\n", 0600);

	char *env[] = {"PATH=/usr/bin", NULL};
	struct hs_policy p;
	struct hs_agent_setup s;
	struct hs_error err;
	hs_policy_init(&p);
	assert_int_equal(hs_agent_compose(&p, hs_agent_find("claude"), env, f->home, f->cwd, &s,
					  &err),
			 0);
	assert_int_equal(hs_agent_prepare_state(&s, &err), 0);
	snprintf(p2, sizeof(p2), "%s/settings.json", s.state_dir);
	assert_string_equal(read_text(p2), "{\"user\": true}\n");
	snprintf(p2, sizeof(p2), "%s/commands/review.md", s.state_dir);
	assert_string_equal(read_text(p2), "review it\n");
	snprintf(p2, sizeof(p2), "%s/CLAUDE.md", s.state_dir);
	assert_string_equal(read_text(p2), ""); /* the caller has none: empty */

	/* A hostile run replaced settings.json by a link to a file outside,
	 * and put a file where commands/ was, and wrote its own state. */
	snprintf(p2, sizeof(p2), "%s/settings.json", s.state_dir);
	unlink(p2);
	assert_int_equal(symlink(outside, p2), 0);
	snprintf(p2, sizeof(p2), "%s/commands", s.state_dir);
	assert_int_equal(hs_agent_remove_tree(p2), 0);
	write_text(p2, "planted\n", 0600);
	snprintf(p2, sizeof(p2), "%s/.claude.json", s.state_dir);
	write_text(p2, "{\"state\": 1}\n", 0600);
	/* the caller changed their settings meanwhile */
	write_text(p1, "review it, v2\n", 0600);
	snprintf(p1, sizeof(p1), "%s/.claude/settings.json", f->home);
	write_text(p1, "{\"user\": 2}\n", 0600);

	assert_int_equal(hs_agent_prepare_state(&s, &err), 0);
	assert_string_equal(read_text(outside), "untouched\n");
	snprintf(p2, sizeof(p2), "%s/settings.json", s.state_dir);
	struct stat st;
	assert_int_equal(lstat(p2, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_string_equal(read_text(p2), "{\"user\": 2}\n");
	snprintf(p2, sizeof(p2), "%s/commands/review.md", s.state_dir);
	assert_string_equal(read_text(p2), "review it, v2\n");
	/* the agent's own state stays */
	snprintf(p2, sizeof(p2), "%s/.claude.json", s.state_dir);
	assert_string_equal(read_text(p2), "{\"state\":1}"); /* rewritten compact */
	/* plugins are never copied in */
	snprintf(p2, sizeof(p2), "%s/plugins", s.state_dir);
	assert_int_equal(lstat(p2, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	hs_agent_setup_free(&s);
	hs_policy_free(&p);
}

/* Claude Code's .claude.json stays the agent's, but the MCP servers in it
 * (which start with the agent) become the caller's own before each run,
 * and backups/ (restored from when the file is damaged) is emptied. */
static void test_state_json_mcp_servers_reseeded(void **state)
{
	struct fixture *f = *state;
	char p1[PATH_MAX + 64], p2[PATH_MAX + 64];
	snprintf(p1, sizeof(p1), "%s/.claude.json", f->home);
	write_text(p1,
		   "{\"mcpServers\": {\"mine\": {\"command\": \"my-mcp\"}},"
		   " \"projects\": {\"/p\": {\"mcpServers\": {\"proj\": {\"command\": \"p-mcp\"}}}},"
		   " \"oauthAccount\": {\"secret\": 1}}",
		   0600);
	char *env[] = {"PATH=/usr/bin", NULL};
	struct hs_policy p;
	struct hs_agent_setup s;
	struct hs_error err;
	hs_policy_init(&p);
	assert_int_equal(hs_agent_compose(&p, hs_agent_find("claude"), env, f->home, f->cwd, &s,
					  &err),
			 0);
	assert_int_equal(hs_agent_prepare_state(&s, &err), 0);
	/* first run: only the caller's servers, nothing else of their file */
	snprintf(p2, sizeof(p2), "%s/.claude.json", s.state_dir);
	assert_string_equal(read_text(p2), "{\"mcpServers\":{\"mine\":{\"command\":\"my-mcp\"}}}");
	/* the agent planted servers and a backup holding more */
	write_text(p2,
		   "{\"numStartups\": 5, \"mcpServers\": {\"evil\": {\"command\": \"x\"}},"
		   " \"projects\": {\"/p\": {\"keep\": 1, \"mcpServers\": {\"e2\": {}}},"
		   " \"/q\": {\"mcpServers\": {\"e3\": {}}}}}",
		   0600);
	snprintf(p1, sizeof(p1), "%s/backups", s.state_dir);
	mkdir(p1, 0700);
	snprintf(p1, sizeof(p1), "%s/backups/.claude.json.backup.1", s.state_dir);
	write_text(p1, "{\"mcpServers\": {\"evil\": {}}}", 0600);
	assert_int_equal(hs_agent_prepare_state(&s, &err), 0);
	const char *got = read_text(p2);
	assert_non_null(strstr(got, "\"numStartups\":5"));
	assert_non_null(strstr(got, "\"keep\":1"));
	assert_null(strstr(got, "evil"));
	assert_null(strstr(got, "e2"));
	assert_null(strstr(got, "e3"));
	assert_null(strstr(got, "oauthAccount"));
	assert_non_null(strstr(got, "\"/p\":{\"keep\":1,\"mcpServers\":{\"proj\":{\"command\":\"p-mcp\"}}}"));
	struct stat st;
	snprintf(p1, sizeof(p1), "%s/backups", s.state_dir);
	assert_int_equal(lstat(p1, &st), -1);
	/* a file that is not a JSON object is dropped, a link never followed */
	char outside[PATH_MAX + 64];
	snprintf(outside, sizeof(outside), "%s/outside.json", f->root);
	write_text(outside, "{\"mcpServers\": {\"linked\": {}}}", 0600);
	unlink(p2);
	assert_int_equal(symlink(outside, p2), 0);
	assert_int_equal(hs_agent_prepare_state(&s, &err), 0);
	assert_int_equal(lstat(p2, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_null(strstr(read_text(p2), "linked"));
	assert_string_equal(read_text(outside), "{\"mcpServers\": {\"linked\": {}}}");
	hs_agent_setup_free(&s);
	hs_policy_free(&p);
}

static void test_unknown_agent(void **state)
{
	(void)state;
	struct hs_error err;
	assert_null(hs_agent_find("claud"));
	assert_int_equal(hs_agent_unknown("claud", &err), -1);
	assert_non_null(strstr(err.msg, "did you mean \"claude\""));
	assert_non_null(strstr(err.msg, "codex (Codex CLI)"));
	assert_non_null(strstr(err.msg, "generic"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_url_hostport),
	    cmocka_unit_test(test_toml_base_urls),
	    cmocka_unit_test(test_unknown_agent),
	    cmocka_unit_test_setup_teardown(test_compose_claude, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_compose_bad_base_url, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_compose_codex_toml, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_compose_generic_xdg, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prepare_state_seeds, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_state_json_mcp_servers_reseeded, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
