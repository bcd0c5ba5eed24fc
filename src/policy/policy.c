/*
 * policy.c: the policy model's lifetime (init, copy, free), the mutators the
 * loader and the CLI share (grants, env, protected paths) and the JSON
 * printer behind `harness policy show`.
 *
 * Ownership: a struct hs_policy owns every string it points to; the
 * mutators copy their arguments.
 */
#define _GNU_SOURCE
#include "policy-int.h"

#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hs_policy_init(struct hs_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->level = -1;
	p->commands_defaults = true;
	p->guard.max_file_size = HS_GUARD_DEFAULT_MAX_FILE;
}

void hs_guard_user_rule_free(struct hs_guard_user_rule *r)
{
	free(r->id);
	free(r->message);
	free(r->path);
	free(r->content);
	hs_strv_clear(&r->examples_match);
	hs_strv_clear(&r->examples_no_match);
	free(r->origin);
	memset(r, 0, sizeof(*r));
}

static void guard_config_free(struct hs_guard_config *g)
{
	hs_strv_clear(&g->disable);
	for (size_t i = 0; i < g->nseverity; i++)
		free(g->severity[i].id);
	free(g->severity);
	for (size_t i = 0; i < g->nrules; i++)
		hs_guard_user_rule_free(&g->rules[i]);
	free(g->rules);
	memset(g, 0, sizeof(*g));
}

static void grant_free(struct hs_grant *g)
{
	free(g->path);
	free(g->resolved);
	free(g->origin);
	memset(g, 0, sizeof(*g));
}

void hs_policy_free(struct hs_policy *p)
{
	for (size_t i = 0; i < p->ngrants; i++)
		grant_free(&p->grants[i]);
	free(p->grants);
	free(p->name);
	hs_strv_clear(&p->protect_read_only);
	hs_strv_clear(&p->protect_hidden);
	hs_strv_clear(&p->unprotect);
	hs_strv_clear(&p->env_pass);
	hs_strv_clear(&p->env_set);
	hs_strv_clear(&p->net_allow);
	hs_strv_clear(&p->net_deny);
	hs_strv_clear(&p->net_resolve);
	for (size_t i = 0; i < p->n_net_rates; i++)
		free(p->net_rates[i].host);
	free(p->net_rates);
	hs_cmd_rules_free(&p->commands);
	guard_config_free(&p->guard);
	hs_policy_init(p);
}

static char *strdup_or_null(const char *s)
{
	return s ? hs_xstrdup(s) : NULL;
}

static void guard_config_copy(struct hs_guard_config *dst, const struct hs_guard_config *src)
{
	hs_strv_copy(&dst->disable, &src->disable);
	dst->severity = hs_xcalloc(src->nseverity, sizeof(*dst->severity));
	for (size_t i = 0; i < src->nseverity; i++) {
		dst->severity[i].id = hs_xstrdup(src->severity[i].id);
		dst->severity[i].severity = src->severity[i].severity;
	}
	dst->nseverity = src->nseverity;
	dst->max_file_size = src->max_file_size;
	dst->rules = hs_xcalloc(src->nrules, sizeof(*dst->rules));
	for (size_t i = 0; i < src->nrules; i++) {
		const struct hs_guard_user_rule *s = &src->rules[i];
		struct hs_guard_user_rule *d = &dst->rules[i];
		d->id = hs_xstrdup(s->id);
		d->severity = s->severity;
		d->message = hs_xstrdup(s->message);
		d->path = strdup_or_null(s->path);
		d->content = strdup_or_null(s->content);
		hs_strv_copy(&d->examples_match, &s->examples_match);
		hs_strv_copy(&d->examples_no_match, &s->examples_no_match);
		d->origin = strdup_or_null(s->origin);
	}
	dst->nrules = src->nrules;
}

void hs_policy_copy(struct hs_policy *dst, const struct hs_policy *src)
{
	hs_policy_init(dst);
	dst->name = strdup_or_null(src->name);
	dst->level = src->level;
	dst->grants = hs_xcalloc(src->ngrants, sizeof(*dst->grants));
	for (size_t i = 0; i < src->ngrants; i++) {
		const struct hs_grant *s = &src->grants[i];
		struct hs_grant *d = &dst->grants[i];
		*d = *s;
		d->path = hs_xstrdup(s->path);
		d->resolved = strdup_or_null(s->resolved);
		d->origin = strdup_or_null(s->origin);
	}
	dst->ngrants = src->ngrants;
	dst->read_only = src->read_only;
	hs_strv_copy(&dst->protect_read_only, &src->protect_read_only);
	hs_strv_copy(&dst->protect_hidden, &src->protect_hidden);
	hs_strv_copy(&dst->unprotect, &src->unprotect);
	hs_strv_copy(&dst->env_pass, &src->env_pass);
	hs_strv_copy(&dst->env_set, &src->env_set);
	hs_strv_copy(&dst->net_allow, &src->net_allow);
	hs_strv_copy(&dst->net_deny, &src->net_deny);
	hs_strv_copy(&dst->net_resolve, &src->net_resolve);
	dst->net_rates = hs_xcalloc(src->n_net_rates, sizeof(*dst->net_rates));
	for (size_t i = 0; i < src->n_net_rates; i++) {
		dst->net_rates[i] = src->net_rates[i];
		dst->net_rates[i].host = hs_xstrdup(src->net_rates[i].host);
	}
	dst->n_net_rates = src->n_net_rates;
	dst->limits = src->limits;
	dst->best_effort = src->best_effort;
	dst->workspace = src->workspace;
	dst->workspace_max_disk = src->workspace_max_disk;
	hs_cmd_rules_copy(&dst->commands, &src->commands);
	dst->commands_defaults = src->commands_defaults;
	guard_config_copy(&dst->guard, &src->guard);
}

/* ---- grants ---- */

static struct hs_grant *find_grant(struct hs_policy *p, const char *path)
{
	for (size_t i = 0; i < p->ngrants; i++)
		if (strcmp(p->grants[i].path, path) == 0)
			return &p->grants[i];
	return NULL;
}

struct hs_grant *hs__policy_put_grant(struct hs_policy *p, const char *path, enum hs_access access,
				      bool optional, bool create, const char *origin)
{
	struct hs_grant *g = find_grant(p, path);
	if (g) {
		free(g->resolved);
		free(g->origin);
	} else {
		p->grants = hs_xrealloc(p->grants, (p->ngrants + 1) * sizeof(*p->grants));
		g = &p->grants[p->ngrants++];
		g->path = hs_xstrdup(path);
	}
	g->resolved = NULL;
	g->origin = hs_xstrdup(origin ? origin : "(unknown)");
	g->access = access;
	g->optional = optional;
	g->create = create;
	return g;
}

const char *hs__grant_path_problem(const char *path)
{
	if (!*path)
		return "is empty; use \".\" for the working directory";
	if (strlen(path) >= PATH_MAX)
		return "is longer than PATH_MAX";
	if (path[0] == '~' && path[1] && path[1] != '/')
		return "uses \"~user\", which is not expanded; write \"~\", \"~/...\" or the full "
		       "path";
	return NULL;
}

void hs_policy_add_grant(struct hs_policy *p, const char *path, enum hs_access access,
			 bool optional, const char *origin)
{
	hs__policy_put_grant(p, path, access, optional, false, origin);
}

/* ---- environment ---- */

static void strv_remove_at(struct hs_strv *sv, size_t i)
{
	free(sv->v[i]);
	memmove(&sv->v[i], &sv->v[i + 1], (sv->n - i) * sizeof(char *)); /* moves the NULL too */
	sv->n--;
	if (sv->n == 0)
		hs_strv_clear(sv);
}

static void strv_remove(struct hs_strv *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0) {
			strv_remove_at(sv, i);
			return;
		}
}

static void strv_push_unique(struct hs_strv *sv, const char *s)
{
	if (!hs_strv_contains(sv, s))
		hs_strv_push(sv, s);
}

void hs__policy_env_set(struct hs_policy *p, const char *name, const char *value)
{
	size_t n = strlen(name);
	char *entry = hs_xasprintf("%s=%s", name, value);
	for (size_t i = 0; i < p->env_set.n; i++) {
		if (strncmp(p->env_set.v[i], name, n) == 0 && p->env_set.v[i][n] == '=') {
			free(p->env_set.v[i]);
			p->env_set.v[i] = entry;
			return;
		}
	}
	hs_strv_push_owned(&p->env_set, entry);
}

int hs_policy_add_env(struct hs_policy *p, const char *spec, struct hs_error *err)
{
	const char *eq = strchr(spec, '=');
	char *name = hs_xstrdup(spec);
	char q[128];
	int r = 0;
	if (eq)
		name[eq - spec] = '\0';
	if (!hs__env_name_valid(name))
		r = hs_err(
		    err,
		    "environment variable name %s is invalid; use letters, digits and \"_\", "
		    "not starting with a digit (NAME or NAME=VALUE)",
		    hs__quote(name, q, sizeof(q)));
	else if (eq)
		hs__policy_env_set(p, name, eq + 1);
	else
		strv_push_unique(&p->env_pass, name);
	free(name);
	return r;
}

/* ---- protected paths ---- */

static bool has_glob(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '*' || s[i] == '?' || s[i] == '[')
			return true;
	return false;
}

/* Checks one component [s, s+n) of a protect entry; `last` allows globs. */
static const char *component_problem(const char *s, size_t n, bool last)
{
	if (n == 0)
		return "has an empty component (\"//\" or a trailing \"/\"); write it as "
		       "\"dir/name\"";
	if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return "has a \".\" or \"..\" component; entries name paths beneath the granted "
		       "directories, write it without them";
	if (!last && has_glob(s, n))
		return "has a glob (*, ? or [) before the last component; globs are allowed "
		       "only in the last component";
	return NULL;
}

const char *hs__protect_problem(const char *pattern)
{
	size_t len = strlen(pattern);
	if (len == 0)
		return "is empty; name a file or directory, like \".env\"";
	if (len >= PATH_MAX)
		return "is longer than PATH_MAX";
	if (pattern[0] == '~' && pattern[1] != '/')
		return "starts with \"~\" but not \"~/\"; write \"~/name\" for a path in the home "
		       "directory, an absolute path, or a path relative to the granted directories";
	const char *s = pattern[0] == '/' ? pattern + 1 : pattern[0] == '~' ? pattern + 2 : pattern;
	if (!*s)
		return "is \"/\"; name a file or directory beneath it";
	for (;;) {
		const char *slash = strchr(s, '/');
		size_t n = slash ? (size_t)(slash - s) : strlen(s);
		const char *why = component_problem(s, n, !slash);
		if (why || !slash)
			return why;
		s = slash + 1;
	}
}

void hs__policy_protect(struct hs_policy *p, enum hs_protect_kind kind, const char *pattern)
{
	switch (kind) {
	case HS_PROTECT_READ_ONLY:
		strv_remove(&p->unprotect, pattern);
		strv_push_unique(&p->protect_read_only, pattern);
		break;
	case HS_PROTECT_HIDDEN:
		strv_remove(&p->unprotect, pattern);
		strv_push_unique(&p->protect_hidden, pattern);
		break;
	case HS_PROTECT_UNPROTECT:
		strv_remove(&p->protect_read_only, pattern);
		strv_remove(&p->protect_hidden, pattern);
		strv_push_unique(&p->unprotect, pattern);
		break;
	}
}

int hs_policy_add_protect(struct hs_policy *p, enum hs_protect_kind kind, const char *pattern,
			  struct hs_error *err)
{
	const char *why = hs__protect_problem(pattern);
	char q[128];
	if (why)
		return hs_err(err, "protected path %s %s", hs__quote(pattern, q, sizeof(q)), why);
	hs__policy_protect(p, kind, pattern);
	return 0;
}

/* ---- small helpers shared with load.c ---- */

static size_t quote_char(unsigned char c, unsigned char next, char *out)
{
	if (c == '"' || c == '\\')
		return (size_t)sprintf(out, "\\%c", c);
	if (c == '\n')
		return (size_t)sprintf(out, "\\n");
	if (c == '\t')
		return (size_t)sprintf(out, "\\t");
	/* C0, DEL and the UTF-8 encoding of C1 controls (C2 80..9F) */
	if (c < 0x20 || c == 0x7f || (c == 0xc2 && next >= 0x80 && next <= 0x9f))
		return (size_t)sprintf(out, "\\x%02x", c);
	out[0] = (char)c;
	return 1;
}

const char *hs__quote(const char *s, char *buf, size_t len)
{
	size_t o = 0;
	char tmp[8];
	if (len < 8) {
		if (len)
			buf[0] = '\0';
		return buf;
	}
	buf[o++] = '"';
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		size_t n = quote_char(c[0], c[1], tmp);
		if (o + n + 5 > len) { /* room for `..."` and NUL */
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(buf + o, tmp, n);
		o += n;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

size_t hs__edit_distance(const char *a, const char *b)
{
	enum { MAX = 64 };
	size_t n = strlen(a), m = strlen(b);
	size_t prev[MAX + 1], cur[MAX + 1];
	if (n > MAX || m > MAX)
		return SIZE_MAX;
	for (size_t j = 0; j <= m; j++)
		prev[j] = j;
	for (size_t i = 1; i <= n; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= m; j++) {
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
		memcpy(prev, cur, sizeof(prev));
	}
	return prev[m];
}

/* ---- JSON output (harness policy show) ---- */

/* A JSON string; bytes that are not valid UTF-8 (possible in paths) become
 * "?" so the document stays valid. */
static json_t *jstr(const char *s)
{
	json_t *j = json_string(s);
	if (j)
		return j;
	char *copy = hs_xstrdup(s);
	for (unsigned char *c = (unsigned char *)copy; *c; c++)
		if (*c >= 0x80)
			*c = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

static json_t *jstr_owned(char *s)
{
	json_t *j = jstr(s);
	free(s);
	return j;
}

static json_t *strv_json(const struct hs_strv *sv)
{
	json_t *a = json_array();
	for (size_t i = 0; i < sv->n; i++)
		json_array_append_new(a, jstr(sv->v[i]));
	return a;
}

static json_t *size_json(uint64_t v)
{
	static const struct {
		char unit;
		unsigned shift;
	} units[] = {{'T', 40}, {'G', 30}, {'M', 20}, {'K', 10}};
	if (v == 0)
		return json_integer(0);
	for (size_t i = 0; i < HS_ARRAY_LEN(units); i++)
		if ((v & ((1ULL << units[i].shift) - 1)) == 0)
			return jstr_owned(
			    hs_xasprintf("%" PRIu64 "%c", v >> units[i].shift, units[i].unit));
	return jstr_owned(hs_xasprintf("%" PRIu64, v));
}

static json_t *duration_json(uint64_t ms)
{
	if (ms == 0)
		return json_integer(0);
	if (ms % 3600000 == 0)
		return jstr_owned(hs_xasprintf("%" PRIu64 "h", ms / 3600000));
	if (ms % 60000 == 0)
		return jstr_owned(hs_xasprintf("%" PRIu64 "m", ms / 60000));
	if (ms % 1000 == 0)
		return jstr_owned(hs_xasprintf("%" PRIu64 "s", ms / 1000));
	return jstr_owned(hs_xasprintf("%" PRIu64 "ms", ms));
}

static json_t *seconds_json(uint64_t s)
{
	if (s > UINT64_MAX / 1000) /* not loadable; only a caller can set it */
		return jstr_owned(hs_xasprintf("%" PRIu64 "s", s));
	return duration_json(s * 1000);
}

static json_t *count_json(uint64_t v)
{
	return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static json_t *grant_json(const struct hs_grant *g)
{
	json_t *o = json_object();
	json_object_set_new(o, "path", jstr(g->path));
	json_object_set_new(o, "resolved", g->resolved ? jstr(g->resolved) : json_null());
	if (g->optional)
		json_object_set_new(o, "optional", json_true());
	if (g->create)
		json_object_set_new(o, "create", json_true());
	return o;
}

static json_t *grants_json(const struct hs_policy *p, enum hs_access access)
{
	json_t *a = json_array();
	for (size_t i = 0; i < p->ngrants; i++)
		if (p->grants[i].access == access)
			json_array_append_new(a, grant_json(&p->grants[i]));
	return a;
}

static json_t *filesystem_json(const struct hs_policy *p)
{
	json_t *fs = json_object(), *prot = json_object();
	json_object_set_new(fs, "read", grants_json(p, HS_ACCESS_READ));
	json_object_set_new(fs, "write", grants_json(p, HS_ACCESS_WRITE));
	json_object_set_new(fs, "read_only", json_boolean(p->read_only));
	json_object_set_new(prot, "read_only", strv_json(&p->protect_read_only));
	json_object_set_new(prot, "hidden", strv_json(&p->protect_hidden));
	json_object_set_new(prot, "unprotect", strv_json(&p->unprotect));
	json_object_set_new(fs, "protect", prot);
	json_object_set_new(fs, "tmp_size", size_json(p->limits.tmp_size));
	return fs;
}

static json_t *env_json(const struct hs_policy *p)
{
	json_t *env = json_object(), *set = json_object();
	json_object_set_new(env, "pass", strv_json(&p->env_pass));
	for (size_t i = 0; i < p->env_set.n; i++) {
		char *name = hs_xstrdup(p->env_set.v[i]);
		char *eq = strchr(name, '=');
		if (eq) {
			*eq = '\0';
			json_object_set_new(set, name, jstr(eq + 1));
		}
		free(name);
	}
	json_object_set_new(env, "set", set);
	return env;
}

static json_t *limits_json(const struct hs_limits *l)
{
	json_t *o = json_object();
	json_object_set_new(o, "timeout", duration_json(l->timeout_ms));
	json_object_set_new(o, "cpu", seconds_json(l->cpu_seconds));
	json_object_set_new(o, "memory", size_json(l->memory_bytes));
	json_object_set_new(o, "processes", count_json(l->max_procs));
	json_object_set_new(o, "file_size", size_json(l->max_file_size));
	json_object_set_new(o, "open_files", count_json(l->max_open_files));
	return o;
}

/* A command rule as written in a policy file (id and origin are not
 * printed: loading the output gives them again). */
static json_t *cmd_rule_json(const struct hs_cmd_rule *r)
{
	json_t *o = json_object();
	if (r->match.n)
		json_object_set_new(o, "match", strv_json(&r->match));
	if (r->glob)
		json_object_set_new(o, "glob", jstr(r->glob));
	if (r->pipe_from.n)
		json_object_set_new(o, "pipe_from", strv_json(&r->pipe_from));
	if (r->reason)
		json_object_set_new(o, "reason", jstr(r->reason));
	if (r->examples_match.n || r->examples_no_match.n) {
		json_t *ex = json_object();
		if (r->examples_match.n)
			json_object_set_new(ex, "match", strv_json(&r->examples_match));
		if (r->examples_no_match.n)
			json_object_set_new(ex, "no_match", strv_json(&r->examples_no_match));
		json_object_set_new(o, "examples", ex);
	}
	return o;
}

static json_t *commands_json(const struct hs_policy *p)
{
	static const enum hs_cmd_decision order[] = {HS_CMD_DENY, HS_CMD_ASK, HS_CMD_ALLOW};
	json_t *c = json_object();
	for (size_t d = 0; d < HS_ARRAY_LEN(order); d++) {
		json_t *a = json_array();
		for (size_t i = 0; i < p->commands.n; i++)
			if (p->commands.v[i].decision == order[d])
				json_array_append_new(a, cmd_rule_json(&p->commands.v[i]));
		json_object_set_new(c, hs_cmd_decision_name(order[d]), a);
	}
	json_object_set_new(c, "defaults", json_boolean(p->commands_defaults));
	return c;
}

/* A guard rule as written in a policy file (origin is not printed). */
static json_t *guard_rule_json(const struct hs_guard_user_rule *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", jstr(r->id));
	json_object_set_new(o, "severity", json_string(hs_guard_severity_name(r->severity)));
	json_object_set_new(o, "message", jstr(r->message));
	if (r->path)
		json_object_set_new(o, "path", jstr(r->path));
	if (r->content)
		json_object_set_new(o, "content", jstr(r->content));
	if (r->examples_match.n || r->examples_no_match.n) {
		json_t *ex = json_object();
		if (r->examples_match.n)
			json_object_set_new(ex, "match", strv_json(&r->examples_match));
		if (r->examples_no_match.n)
			json_object_set_new(ex, "no_match", strv_json(&r->examples_no_match));
		json_object_set_new(o, "examples", ex);
	}
	return o;
}

static json_t *guard_json(const struct hs_guard_config *g)
{
	json_t *o = json_object(), *sev = json_object(), *rules = json_array();
	json_object_set_new(o, "disable", strv_json(&g->disable));
	for (size_t i = 0; i < g->nseverity; i++)
		json_object_set_new(sev, g->severity[i].id,
				    json_string(hs_guard_severity_name(g->severity[i].severity)));
	json_object_set_new(o, "severity", sev);
	json_object_set_new(o, "max_file_size", size_json(g->max_file_size));
	for (size_t i = 0; i < g->nrules; i++)
		json_array_append_new(rules, guard_rule_json(&g->rules[i]));
	json_object_set_new(o, "rules", rules);
	return o;
}

char *hs_policy_to_json(const struct hs_policy *p)
{
	json_t *root = json_object(), *net = json_object();
	if (p->level >= 0)
		json_object_set_new(root, "level", json_integer(p->level));
	json_object_set_new(root, "filesystem", filesystem_json(p));
	json_object_set_new(net, "allow", strv_json(&p->net_allow));
	json_object_set_new(net, "deny", strv_json(&p->net_deny));
	json_t *res = json_object();
	for (size_t i = 0; i < p->net_resolve.n; i++) {
		const char *e = p->net_resolve.v[i], *eq = strchr(e, '=');
		char *name = hs_xasprintf("%.*s", (int)(eq - e), e);
		json_object_set_new(res, name, json_string(eq + 1));
		free(name);
	}
	json_object_set_new(net, "resolve", res);
	json_t *rates = json_object();
	for (size_t i = 0; i < p->n_net_rates; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "connections_per_minute",
				    json_integer((json_int_t)p->net_rates[i].per_minute));
		json_object_set_new(o, "bytes", json_integer((json_int_t)p->net_rates[i].bytes));
		json_object_set_new(rates, p->net_rates[i].host, o);
	}
	json_object_set_new(net, "rate_limits", rates);
	json_object_set_new(root, "network", net);
	json_object_set_new(root, "commands", commands_json(p));
	json_object_set_new(root, "guard", guard_json(&p->guard));
	json_object_set_new(root, "env", env_json(p));
	json_object_set_new(root, "limits", limits_json(&p->limits));
	json_object_set_new(root, "best_effort", json_boolean(p->best_effort));
	static const char *const modes[] = {"direct", "ephemeral", "review"};
	json_t *ws = json_object();
	json_object_set_new(ws, "mode", json_string(modes[p->workspace]));
	json_object_set_new(ws, "max_disk", json_integer((json_int_t)p->workspace_max_disk));
	json_object_set_new(root, "workspace", ws);
	char *out = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	return out;
}
