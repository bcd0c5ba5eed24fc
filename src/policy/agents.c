/*
 * agents.c: the agent profiles and what composing one does (agents.h).
 *
 * The profiles are data, here, in one table: what each agent CLI was seen
 * to need (docs/agents/NAME.md says why for every entry). `harness policy
 * show --agent NAME` prints a composed profile as an ordinary policy file.
 *
 * Files written: hs_agent_prepare_state() only, under the caller's own
 * state directory. The state directory of a project is writable from
 * inside the sandbox (that is its purpose), so what an earlier run left
 * there is treated as hostile: seeds replace whatever sits at their names
 * (symlinks are removed, never followed), and everything is done relative
 * to a directory fd opened without following links.
 */
#define _GNU_SOURCE
#include "agents.h"
#include "policy-int.h"
#include "net/rules.h"
#include "common/sha256.h"

#include <jansson.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the profiles ---- */

static const struct hs_agent_seed claude_seeds[] = {
    /* settings.json holds hooks and permissions: the CVE-2026-25725 path. */
    {"settings.json", false, "{}\n", true},
    {"settings.local.json", false, "{}\n", true},
    {"CLAUDE.md", false, "", true},
    {"commands", true, NULL, true},
    {"agents", true, NULL, true},
    {"skills", true, NULL, true},
    {"output-styles", true, NULL, true},
    {"hooks", true, NULL, true},
    /* Plugins bring hooks and MCP servers of their own: none inside. */
    {"plugins", true, NULL, false},
    {NULL, false, NULL, false},
};

static const struct hs_agent_seed codex_seeds[] = {
    /* config.toml: providers, MCP servers, notify commands, sandbox mode. */
    {"config.toml", false, "", true},
    /* lifecycle hooks: commands Codex runs on its own */
    {"hooks.json", false, "{}\n", true},
    {"AGENTS.md", false, "", true},
    {"AGENTS.override.md", false, "", true},
    {"prompts", true, NULL, true},
    {"rules", true, NULL, true},
    /* skills/ stays writable: Codex installs its system skills there at
     * every start (instructions, run inside the sandbox if at all). */
    {NULL, false, NULL, false},
};

static const struct hs_agent_seed no_seeds[] = {{NULL, false, NULL, false}};

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NONE ((const char *const[]){NULL})

const struct hs_agent_profile hs_agent_profiles[] = {
    {
	.name = "claude",
	.title = "Claude Code",
	.binary = "claude",
	.install = "npm install -g @anthropic-ai/claude-code",
	.doc = "docs/agents/claude.md",
	.state_vars = L("CLAUDE_CONFIG_DIR"),
	.user_dir_var = "CLAUDE_CONFIG_DIR",
	.user_dir = ".claude",
	.seeds = claude_seeds,
	.hosts = L("api.anthropic.com:443"),
	.base_url_vars = L("ANTHROPIC_BASE_URL"),
	.pass = L("ANTHROPIC_BASE_URL", "ANTHROPIC_MODEL", "ANTHROPIC_SMALL_FAST_MODEL",
		  "ANTHROPIC_DEFAULT_OPUS_MODEL", "ANTHROPIC_DEFAULT_SONNET_MODEL",
		  "ANTHROPIC_DEFAULT_HAIKU_MODEL", "CLAUDE_CODE_MAX_OUTPUT_TOKENS",
		  "MAX_THINKING_TOKENS"),
	/* IS_SANDBOX: Claude Code refuses --dangerously-skip-permissions as
	 * root without it (and this is a sandbox). The rest stops traffic
	 * to hosts the profile does not allow anyway. */
	.set = L("IS_SANDBOX=1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
		 "DISABLE_AUTOUPDATER=1", "DISABLE_TELEMETRY=1", "DISABLE_ERROR_REPORTING=1"),
	.credentials = L("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"),
	.state_json = ".claude.json",
    },
    {
	.name = "codex",
	.title = "Codex CLI",
	.binary = "codex",
	.install = "npm install -g @openai/codex",
	.doc = "docs/agents/codex.md",
	.state_vars = L("CODEX_HOME"),
	.user_dir_var = "CODEX_HOME",
	.user_dir = ".codex",
	.seeds = codex_seeds,
	.hosts = L("api.openai.com:443"),
	.base_url_vars = L("OPENAI_BASE_URL"),
	.pass = L("OPENAI_BASE_URL", "OPENAI_ORGANIZATION", "OPENAI_PROJECT"),
	.set = NONE, /* updates: check_for_update_on_startup in config.toml */
	.credentials = L("OPENAI_API_KEY", "CODEX_API_KEY"),
	.toml_base_urls = true,
    },
    {
	.name = "generic",
	.title = "an OpenAI- or Anthropic-compatible agent (aider, opencode, your own)",
	.binary = NULL,
	.install = NULL,
	.doc = "docs/agents/generic.md",
	.state_vars = L("XDG_CONFIG_HOME=config", "XDG_DATA_HOME=data", "XDG_STATE_HOME=state",
			"XDG_CACHE_HOME=cache"),
	.user_dir_var = NULL,
	.user_dir = NULL,
	.seeds = no_seeds,
	.hosts = L("api.anthropic.com:443", "api.openai.com:443"),
	.base_url_vars = L("ANTHROPIC_BASE_URL", "OPENAI_BASE_URL", "OPENAI_API_BASE"),
	.pass = L("ANTHROPIC_BASE_URL", "OPENAI_BASE_URL", "OPENAI_API_BASE", "ANTHROPIC_MODEL",
		  "OPENAI_MODEL"),
	.set = L("DISABLE_TELEMETRY=1"),
	.credentials = L("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "OPENAI_API_KEY"),
    },
    {.name = NULL},
};

const struct hs_agent_profile *hs_agent_find(const char *name)
{
	for (const struct hs_agent_profile *a = hs_agent_profiles; a->name; a++)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

int hs_agent_unknown(const char *name, struct hs_error *err)
{
	char q[96], known[512];
	size_t o = 0;
	const char *best = NULL;
	known[0] = '\0';
	for (const struct hs_agent_profile *a = hs_agent_profiles; a->name; a++) {
		int n = snprintf(known + o, sizeof(known) - o, "%s%s (%s)", o ? ", " : "", a->name,
				 a->title);
		if (n > 0 && (size_t)n < sizeof(known) - o)
			o += (size_t)n;
		if (!best && hs__edit_distance(name, a->name) <= 2)
			best = a->name;
	}
	return hs_err(err, "unknown agent %s%s%s%s; the profiles are: %s",
		      hs__quote(name, q, sizeof(q)), best ? " (did you mean \"" : "",
		      best ? best : "", best ? "\"?)" : "", known);
}

const char *hs_agent_env_get(char *const *env, const char *name)
{
	size_t n = strlen(name);
	for (; env && *env; env++)
		if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

/* ---- parsers: base URLs and config.toml ---- */

static bool host_char(char c)
{
	return isalnum((unsigned char)c) || c == '.' || c == '-';
}

int hs_agent_url_hostport(const char *url, char *out, size_t len, const char **why)
{
	const char *s;
	unsigned port;
	if (strncasecmp(url, "https://", 8) == 0) {
		s = url + 8;
		port = 443;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		s = url + 7;
		port = 80;
	} else {
		*why = "is not an http:// or https:// URL";
		return -1;
	}
	size_t alen = strcspn(s, "/?#");
	if (memchr(s, '@', alen)) {
		*why = "holds a user name or password (user@host); put credentials in the key "
		       "variable instead";
		return -1;
	}
	const char *h = s, *hend, *p;
	if (*s == '[') {
		hend = memchr(s, ']', alen);
		if (!hend || hend == s + 1) {
			*why = "has an unterminated or empty [IPv6] host";
			return -1;
		}
		for (const char *c = s + 1; c < hend; c++)
			if (!isxdigit((unsigned char)*c) && *c != ':' && *c != '.') {
				*why = "has a bad character in its [IPv6] host";
				return -1;
			}
		hend++;
		p = hend;
	} else {
		hend = s;
		while (hend < s + alen && *hend != ':')
			hend++;
		p = hend;
		if (hend == h) {
			*why = "has no host";
			return -1;
		}
		for (const char *c = h; c < hend; c++)
			if (!host_char(*c)) {
				*why = "has a bad character in its host";
				return -1;
			}
	}
	if (p < s + alen) {
		if (*p != ':' || p + 1 == s + alen) {
			*why = "has a bad port";
			return -1;
		}
		unsigned v = 0;
		for (const char *c = p + 1; c < s + alen; c++) {
			if (!isdigit((unsigned char)*c) || (v = v * 10 + (unsigned)(*c - '0')) > 65535) {
				*why = "has a bad port";
				return -1;
			}
		}
		if (v == 0) {
			*why = "has port 0";
			return -1;
		}
		port = v;
	}
	size_t hlen = (size_t)(hend - h);
	if (hlen > 255) {
		*why = "has a host name longer than 255 bytes";
		return -1;
	}
	int n = snprintf(out, len, "%.*s:%u", (int)hlen, h, port);
	if (n < 0 || (size_t)n >= len) {
		*why = "is too long";
		return -1;
	}
	return 0;
}

/* One value after `=`: a basic string ("...", with \" and \\ escapes) or a
 * literal one ('...'). 1 and the value in out, 0 when it is anything else. */
static int toml_string(const char *v, const char *end, char *out, size_t cap)
{
	size_t o = 0;
	if (v >= end || (*v != '"' && *v != '\''))
		return 0;
	char q = *v++;
	for (; v < end && *v != q; v++) {
		char c = *v;
		if (q == '"' && c == '\\') {
			if (v + 1 >= end || (v[1] != '"' && v[1] != '\\'))
				return 0; /* other escapes: not a URL we would take */
			c = *++v;
		}
		if ((unsigned char)c < 0x20 || o + 1 >= cap)
			return 0;
		out[o++] = c;
	}
	if (v >= end)
		return 0;
	out[o] = '\0';
	return 1;
}

int hs_agent_toml_base_urls(const char *buf, size_t len, hs_agent_toml_cb cb, void *ctx)
{
	char value[2049];
	unsigned line = 0;
	for (const char *s = buf, *end = buf + len; s < end;) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *e = nl ? nl : end;
		line++;
		const char *k = s;
		while (k < e && (*k == ' ' || *k == '\t'))
			k++;
		const char *kend = k;
		while (kend < e && *kend != '=' && *kend != ' ' && *kend != '\t')
			kend++;
		size_t klen = (size_t)(kend - k);
		bool is_key = (klen == 8 && memcmp(k, "base_url", 8) == 0) ||
			      (klen > 9 && memcmp(kend - 9, ".base_url", 9) == 0) ||
			      (klen == 15 && memcmp(k, "openai_base_url", 15) == 0);
		const char *v = kend;
		while (v < e && (*v == ' ' || *v == '\t'))
			v++;
		if (is_key && v < e && *v == '=') {
			v++;
			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			if (toml_string(v, e, value, sizeof(value))) {
				int r = cb(ctx, value, line);
				if (r)
					return r;
			}
		}
		s = nl ? nl + 1 : end;
	}
	return 0;
}

/* ---- composing ---- */

static bool under(const char *path, const char *root)
{
	size_t n = strlen(root);
	return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/' || n == 1);
}

/* Directories every sandbox already shows read-only. */
static bool is_system_path(const char *path)
{
	static const char *const roots[] = {"/usr", "/bin", "/sbin", "/lib", "/lib32",
					    "/lib64", "/libx32", "/etc"};
	for (size_t i = 0; i < HS_ARRAY_LEN(roots); i++)
		if (under(path, roots[i]))
			return true;
	return false;
}

/* "<basename>-<16 hex of SHA-256(cwd)>": readable in a listing, unique per
 * directory. */
static char *project_key(const char *cwd)
{
	unsigned char md[HS_SHA256_LEN];
	char hex[17], base[33];
	hs_sha256(cwd, strlen(cwd), md);
	for (int i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	const char *b = strrchr(cwd, '/');
	b = b && b[1] ? b + 1 : "root";
	size_t o = 0;
	for (; *b && o + 1 < sizeof(base); b++)
		base[o++] = isalnum((unsigned char)*b) || *b == '.' || *b == '_' || *b == '-' ? *b
											  : '_';
	base[o] = '\0';
	if (base[0] == '.')
		base[0] = '_';
	return hs_xasprintf("%s-%s", base, hex);
}

static void add_host(struct hs_policy *p, struct hs_agent_setup *out, const char *pattern,
		     char *why)
{
	if (!hs_strv_contains(&p->net_allow, pattern))
		hs_strv_push(&p->net_allow, pattern);
	if (!hs_strv_contains(&out->hosts, pattern)) {
		hs_strv_push(&out->hosts, pattern);
		hs_strv_push_owned(&out->host_why, why);
	} else {
		free(why);
	}
}

/* The host:port of a URL as an allow rule; -1 with the reason in *why. */
static int url_rule(const char *url, char *rule, size_t cap, const char **why)
{
	struct hs_net_pattern pat;
	if (hs_agent_url_hostport(url, rule, cap, why) < 0)
		return -1;
	return hs_net_pattern_parse(rule, true, &pat, why);
}

struct toml_ctx {
	struct hs_policy *p;
	struct hs_agent_setup *out;
	const char *file;
};

static int toml_url(void *vctx, const char *value, unsigned line)
{
	struct toml_ctx *c = vctx;
	char rule[300];
	const char *why;
	if (url_rule(value, rule, sizeof(rule), &why) < 0) {
		hs_strv_push_owned(&c->out->notes,
				   hs_xasprintf("%s:%u: base_url \"%.200s\" %s: not allowed", c->file,
						line, value, why));
		return 0;
	}
	add_host(c->p, c->out, rule, hs_xasprintf("base_url in %s:%u", c->file, line));
	return 0;
}

/* Reads at most 1 MiB of a regular file; NULL when missing or unreadable. */
static char *read_small(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 20)) {
		close(fd);
		return NULL;
	}
	char *buf = hs_xmalloc((size_t)st.st_size + 1);
	ssize_t n = read(fd, buf, (size_t)st.st_size);
	close(fd);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

/* NAME found as an executable on PATH (absolute entries only), or NULL. */
static char *path_lookup(const char *path_var, const char *name)
{
	if (!path_var || !*name)
		return NULL;
	char *copy = hs_xstrdup(path_var), *save = NULL;
	char *found = NULL;
	for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
		if (d[0] != '/')
			continue;
		char *cand = hs_xasprintf("%s/%s", d, name);
		struct stat st;
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
			found = cand;
		else
			free(cand);
	}
	free(copy);
	return found;
}

static void grant_ro_dir(struct hs_policy *p, struct hs_agent_setup *out, const char *dir,
			 const char *home, const char *cwd, const char *what)
{
	if (!dir || !*dir || is_system_path(dir) || under(cwd, dir) || under(dir, cwd) ||
	    hs_strv_contains(&out->ro_dirs, dir))
		return;
	if (under(home, dir) || strcmp(dir, "/") == 0) {
		hs_strv_push_owned(&out->notes,
				   hs_xasprintf("%s is in %s, which would expose your whole home; "
						"grant what it needs with --allow-read",
						what, dir));
		return;
	}
	char *origin = hs_xasprintf("agent %s: %s", out->profile->name, what);
	hs_policy_add_grant(p, dir, HS_ACCESS_READ, false, origin);
	free(origin);
	hs_strv_push(&out->ro_dirs, dir);
}

/* The directory to show for an installed program: the node_modules that
 * holds an npm package (its dependencies sit beside or beneath it), else
 * the directory of the file itself. */
static char *install_dir(const char *real)
{
	char *d = hs_xstrdup(real);
	char *slash = strrchr(d, '/');
	if (slash)
		*slash = '\0';
	for (char *c = d + strlen(d); c > d; c--) {
		if (*c != '/')
			continue;
		if (strncmp(c, "/node_modules", 13) == 0 && (c[13] == '/' || c[13] == '\0')) {
			c[13] = '\0';
			return d;
		}
	}
	return d;
}

/* Grants where the agent's binary and its interpreter live when they are
 * outside the system directories (npm prefixes in HOME or /opt). */
static void grant_install(struct hs_policy *p, struct hs_agent_setup *out, const char *pathv,
			  const char *home, const char *cwd)
{
	const char *found = out->binary_path;
	char real[PATH_MAX], buf[256];
	char *bindir = hs_xstrdup(found);
	*strrchr(bindir, '/') = '\0';
	grant_ro_dir(p, out, bindir, home, cwd, "the directory it is installed in");
	free(bindir);
	if (!realpath(found, real))
		return;
	char *dir = install_dir(real);
	grant_ro_dir(p, out, dir, home, cwd, "its installed package");
	free(dir);
	/* A script: show its interpreter too (#!/usr/bin/env node). */
	int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n < 3 || buf[0] != '#' || buf[1] != '!')
		return;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	char *save = NULL, *interp = strtok_r(buf + 2, " \t", &save), *arg;
	if (!interp)
		return;
	if (strcmp(strrchr(interp, '/') ? strrchr(interp, '/') + 1 : interp, "env") == 0) {
		while ((arg = strtok_r(NULL, " \t", &save)) && arg[0] == '-')
			;
		interp = arg;
	}
	if (!interp)
		return;
	char *ipath = interp[0] == '/' ? hs_xstrdup(interp) : path_lookup(pathv, interp);
	if (!ipath)
		return;
	char *idir = hs_xstrdup(ipath);
	*strrchr(idir, '/') = '\0';
	grant_ro_dir(p, out, idir, home, cwd, "its interpreter's directory");
	free(idir);
	if (realpath(ipath, real)) {
		idir = hs_xstrdup(real);
		*strrchr(idir, '/') = '\0';
		grant_ro_dir(p, out, idir, home, cwd, "its interpreter's directory");
		free(idir);
	}
	free(ipath);
}

static int add_env(struct hs_policy *p, const char *spec, struct hs_error *err)
{
	if (hs_policy_add_env(p, spec, err) < 0)
		return hs_err(err, "agent profile: %s: %s", spec, err->msg);
	return 0;
}

int hs_agent_compose(struct hs_policy *p, const struct hs_agent_profile *a, char *const *env,
		     const char *home, const char *cwd, struct hs_agent_setup *out,
		     struct hs_error *err)
{
	memset(out, 0, sizeof(*out));
	out->profile = a;
	hs_error_clear(err);

	const char *ud = a->user_dir_var ? hs_agent_env_get(env, a->user_dir_var) : NULL;
	if (ud && ud[0] == '/')
		out->user_dir = hs_xstrdup(ud);
	else if (a->user_dir)
		out->user_dir = hs_xasprintf("%s/%s", strcmp(home, "/") ? home : "", a->user_dir);
	/* Claude Code keeps .claude.json beside its config dir (in HOME) unless
	 * CLAUDE_CONFIG_DIR names one, then inside it. */
	if (a->state_json && ud && ud[0] == '/')
		out->user_state_json = hs_xasprintf("%s/%s", ud, a->state_json);
	else if (a->state_json)
		out->user_state_json =
		    hs_xasprintf("%s/%s", strcmp(home, "/") ? home : "", a->state_json);

	out->state_dir = hs_agent_state_dir(a, cwd);

	/* The state dir: read-write, its seeds read-only inside. */
	char *origin = hs_xasprintf("agent %s: state", a->name);
	hs_policy_add_grant(p, out->state_dir, HS_ACCESS_WRITE, false, origin);
	free(origin);
	for (size_t i = 0; i < p->ngrants; i++)
		if (strcmp(p->grants[i].path, out->state_dir) == 0)
			p->grants[i].create = true;
	for (const struct hs_agent_seed *s = a->seeds; s->name; s++) {
		char *path = hs_xasprintf("%s/%s", out->state_dir, s->name);
		int r = hs_policy_add_protect(p, HS_PROTECT_READ_ONLY, path, err);
		free(path);
		if (r < 0)
			return -1;
	}
	for (const char *const *v = a->state_vars; *v; v++) {
		const char *eq = strchr(*v, '=');
		char *spec = eq ? hs_xasprintf("%.*s=%s/%s", (int)(eq - *v), *v, out->state_dir,
					       eq + 1)
				: hs_xasprintf("%s=%s", *v, out->state_dir);
		int r = add_env(p, spec, err);
		free(spec);
		if (r < 0)
			return -1;
	}
	for (const char *const *v = a->set; *v; v++)
		if (add_env(p, *v, err) < 0)
			return -1;
	for (const char *const *v = a->pass; *v; v++)
		if (hs_agent_env_get(env, *v) && add_env(p, *v, err) < 0)
			return -1;

	/* Hosts: the model API, then what the caller pointed the agent at. */
	for (const char *const *h = a->hosts; *h; h++)
		add_host(p, out, *h, hs_xasprintf("%s's model API", a->title));
	for (const char *const *v = a->base_url_vars; *v; v++) {
		const char *url = hs_agent_env_get(env, *v);
		char rule[300];
		const char *why;
		if (!url || !*url)
			continue;
		if (url_rule(url, rule, sizeof(rule), &why) < 0)
			return hs_err(err,
				      "%s=\"%.200s\" %s; fix it, or unset it to use the agent's "
				      "own API host",
				      *v, url, why);
		add_host(p, out, rule, hs_xasprintf("$%s", *v));
	}
	if (a->toml_base_urls && out->user_dir) {
		char *file = hs_xasprintf("%s/config.toml", out->user_dir);
		size_t len = 0;
		char *text = read_small(file, &len);
		if (text) {
			struct toml_ctx c = {.p = p, .out = out, .file = file};
			hs_agent_toml_base_urls(text, len, toml_url, &c);
			free(text);
		}
		free(file);
	}

	if (a->binary) {
		const char *pathv = hs_agent_env_get(env, "PATH");
		out->binary_path = path_lookup(pathv, a->binary);
		if (out->binary_path)
			grant_install(p, out, pathv, home, cwd);
	}
	return 0;
}

char *hs_agent_state_root(const struct hs_agent_profile *a)
{
	char *sub = hs_xasprintf("agents/%s", a->name);
	char *root = hs_state_path(sub);
	free(sub);
	return root;
}

char *hs_agent_state_dir(const struct hs_agent_profile *a, const char *cwd)
{
	char *key = project_key(cwd);
	char *sub = hs_xasprintf("agents/%s/%s", a->name, key);
	char *dir = hs_state_path(sub);
	free(sub);
	free(key);
	return dir;
}

void hs_agent_setup_free(struct hs_agent_setup *s)
{
	free(s->state_dir);
	free(s->user_dir);
	free(s->user_state_json);
	free(s->binary_path);
	hs_strv_clear(&s->hosts);
	hs_strv_clear(&s->host_why);
	hs_strv_clear(&s->ro_dirs);
	hs_strv_clear(&s->notes);
	memset(s, 0, sizeof(*s));
}

/* ---- the state directory ---- */

/* Bounds on what one seed copy takes from the caller's config dir. */
#define SEED_MAX_DEPTH 8
#define SEED_MAX_ENTRIES 4096
#define SEED_MAX_BYTES (64ULL << 20)

struct budget {
	size_t entries;
	unsigned long long bytes;
	const char *what; /* the seed, for messages */
};

/* Removes NAME under parent, whatever it is, never following a link; a
 * tree of any depth (hs_tree_clear). */
static int remove_at(int parent, const char *name)
{
	struct stat st;
	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(parent, name, 0) < 0 && errno != ENOENT ? -1 : 0;
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct hs_error err;
	int r = hs_tree_clear(fd, &err);
	close(fd);
	if (r == 0 && unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		r = -1;
	return r;
}

int hs_agent_remove_tree(const char *path)
{
	char *copy = hs_xstrdup(path);
	char *slash = strrchr(copy, '/');
	int r = -1;
	if (slash && slash[1]) {
		*slash = '\0';
		int dfd = open(slash == copy ? "/" : copy, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			r = remove_at(dfd, slash + 1);
			int saved = errno;
			close(dfd);
			errno = saved;
		}
	} else {
		errno = EINVAL;
	}
	free(copy);
	return r;
}

static int write_new(int parent, const char *name, int srcfd, const char *content, mode_t mode,
		     struct budget *b, struct hs_error *err)
{
	int fd = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return hs_err_sys(err, "agent state: cannot create %s", name);
	int r = 0;
	if (content) {
		r = hs_write_all(fd, content, strlen(content));
	} else {
		char buf[65536];
		ssize_t n;
		while (r == 0 && (n = read(srcfd, buf, sizeof(buf))) != 0) {
			if (n < 0 || (b->bytes += (unsigned long long)n) > SEED_MAX_BYTES) {
				if (n >= 0)
					errno = EFBIG;
				r = -1;
				break;
			}
			r = hs_write_all(fd, buf, (size_t)n);
		}
	}
	if (r < 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		if (saved == EFBIG)
			return hs_err(err,
				      "agent state: %s holds more than %llu MiB; the profile copies "
				      "it into the agent's state before each run: make it smaller",
				      b->what, SEED_MAX_BYTES >> 20);
		return hs_err_sys(err, "agent state: cannot copy %s", name);
	}
	close(fd);
	return 0;
}

/* Copies the caller's srcfd (file or directory, links followed: it is
 * their own config) to a new NAME under dirfd. */
static int copy_in(int srcfd, int parent, const char *name, int depth, struct budget *b,
		   struct hs_error *err)
{
	struct stat st;
	if (fstat(srcfd, &st) < 0)
		return hs_err_sys(err, "agent state: cannot read %s", b->what);
	if (++b->entries > SEED_MAX_ENTRIES || depth > SEED_MAX_DEPTH)
		return hs_err(err,
			      "agent state: %s holds more than %d entries or %d levels; the "
			      "profile copies it into the agent's state before each run: make it "
			      "smaller",
			      b->what, SEED_MAX_ENTRIES, SEED_MAX_DEPTH);
	if (S_ISREG(st.st_mode))
		return write_new(parent, name, srcfd, NULL, (st.st_mode & 0700) | 0600, b, err);
	if (!S_ISDIR(st.st_mode))
		return 0; /* sockets, fifos, devices: not settings */
	if (mkdirat(parent, name, 0700) < 0)
		return hs_err_sys(err, "agent state: cannot create %s", name);
	int dfd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int sfd = dup(srcfd);
	DIR *d = sfd >= 0 ? fdopendir(sfd) : NULL;
	if (dfd < 0 || !d) {
		if (dfd >= 0)
			close(dfd);
		if (sfd >= 0 && !d)
			close(sfd);
		if (d)
			closedir(d);
		return hs_err_sys(err, "agent state: cannot copy %s", b->what);
	}
	int r = 0;
	struct dirent *e;
	while (r == 0 && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		int cfd = openat(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (cfd < 0)
			continue; /* a dangling link, a file we may not read */
		r = copy_in(cfd, dfd, e->d_name, depth + 1, b, err);
		close(cfd);
	}
	closedir(d);
	close(dfd);
	return r;
}

/* The largest agent state file read back (Claude Code's grows with its
 * project history; it is rewritten, never trusted). */
#define STATE_JSON_MAX (32 << 20)

/* Parses a JSON object from fd, or NULL. At most STATE_JSON_MAX bytes are
 * read whatever the size said (a running sandbox may be appending). */
static json_t *load_json_fd(int fd)
{
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > STATE_JSON_MAX)
		return NULL;
	size_t cap = (size_t)st.st_size + 1, len = 0;
	char *buf = hs_xmalloc(cap);
	ssize_t n;
	while (len < cap && (n = read(fd, buf + len, cap - len)) > 0)
		len += (size_t)n;
	json_t *j = len < cap ? json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
	free(buf);
	if (j && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* obj.mcpServers := from.mcpServers (a copy), or removed when from has none. */
static void reseed_servers(json_t *obj, json_t *from)
{
	json_t *v = from ? json_object_get(from, "mcpServers") : NULL;
	if (v && json_is_object(v))
		json_object_set_new(obj, "mcpServers", json_deep_copy(v));
	else
		json_object_del(obj, "mcpServers");
}

/* The agent's JSON state keeps what the agent wrote, except the MCP servers
 * (top level and per project), which become the caller's own. A file that
 * is not a JSON object is removed: the agent starts a fresh one. */
static int reseed_state_json(int dfd, const struct hs_agent_setup *s, struct hs_error *err)
{
	const char *name = s->profile->state_json;
	int ufd = s->user_state_json
		      ? open(s->user_state_json, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
		      : -1;
	json_t *user = load_json_fd(ufd);
	if (ufd >= 0)
		close(ufd);
	int sfd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	json_t *st = load_json_fd(sfd);
	if (sfd >= 0)
		close(sfd);
	int r = 0;
	if (remove_at(dfd, name) < 0 || remove_at(dfd, "backups") < 0) {
		r = hs_err_sys(err,
			       "agent %s: cannot replace %s/%s (harness agent reset %s clears the "
			       "state)",
			       s->profile->name, s->state_dir, name, s->profile->name);
		goto out;
	}
	json_t *servers = user ? json_object_get(user, "mcpServers") : NULL;
	if (!st && !(servers && json_is_object(servers)))
		goto out; /* nothing to keep, nothing to give */
	if (!st)
		st = json_object();
	reseed_servers(st, user);
	json_t *projects = json_object_get(st, "projects");
	json_t *uprojects = user ? json_object_get(user, "projects") : NULL;
	const char *key;
	json_t *proj;
	json_object_foreach(projects, key, proj)
	{
		if (json_is_object(proj))
			reseed_servers(proj, uprojects ? json_object_get(uprojects, key) : NULL);
	}
	char *text = json_dumps(st, JSON_COMPACT);
	struct budget b = {.what = name};
	r = text ? write_new(dfd, name, -1, text, 0600, &b, err)
		 : hs_err(err, "agent %s: out of memory", s->profile->name);
	free(text);
out:
	json_decref(user);
	json_decref(st);
	return r;
}

int hs_agent_prepare_state(const struct hs_agent_setup *s, struct hs_error *err)
{
	const struct hs_agent_profile *a = s->profile;
	hs_error_clear(err);
	if (hs_mkdir_p(s->state_dir, 0700, false) < 0)
		return hs_err_sys(err, "agent %s: cannot create its state directory %s", a->name,
				  s->state_dir);
	int dfd = open(s->state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return hs_err_sys(err, "agent %s: cannot open its state directory %s", a->name,
				  s->state_dir);
	/* Two runs of one agent in one project seed one at a time. */
	if (flock(dfd, LOCK_EX) < 0) {
		close(dfd);
		return hs_err_sys(err, "agent %s: cannot lock %s", a->name, s->state_dir);
	}
	int r = 0;
	for (const struct hs_agent_seed *seed = a->seeds; r == 0 && seed->name; seed++) {
		char *src = s->user_dir ? hs_xasprintf("%s/%s", s->user_dir, seed->name) : NULL;
		struct budget b = {.what = src ? src : seed->name};
		if (remove_at(dfd, seed->name) < 0) {
			r = hs_err_sys(err,
				       "agent %s: cannot replace %s/%s (harness agent reset %s "
				       "clears the state)",
				       a->name, s->state_dir, seed->name, a->name);
			free(src);
			break;
		}
		int sfd = seed->copy && src ? open(src, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
					    : -1;
		struct stat st;
		if (sfd >= 0 && (fstat(sfd, &st) < 0 || S_ISDIR(st.st_mode) != seed->dir))
			hs_close(&sfd); /* not what the agent expects there: as if absent */
		if (sfd >= 0)
			r = copy_in(sfd, dfd, seed->name, 0, &b, err);
		else if (seed->dir)
			r = mkdirat(dfd, seed->name, 0700) < 0
				? hs_err_sys(err, "agent %s: cannot create %s/%s", a->name,
					     s->state_dir, seed->name)
				: 0;
		else
			r = write_new(dfd, seed->name, -1, seed->fallback ? seed->fallback : "",
				      0600, &b, err);
		if (sfd >= 0)
			close(sfd);
		free(src);
	}
	if (r == 0 && a->state_json)
		r = reseed_state_json(dfd, s, err);
	for (const char *const *v = a->state_vars; r == 0 && *v; v++) {
		const char *eq = strchr(*v, '=');
		if (eq && mkdirat(dfd, eq + 1, 0700) < 0 && errno != EEXIST)
			r = hs_err_sys(err, "agent %s: cannot create %s/%s", a->name, s->state_dir,
				       eq + 1);
	}
	close(dfd);
	return r;
}
