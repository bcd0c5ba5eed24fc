/*
 * load.c: the policy file loader.
 *
 * jansson parses the text (duplicate keys and NUL in strings refused; its
 * syntax errors carry line:column). Every key is then checked against the
 * tables below, unknown keys being errors with a "did you mean", and the
 * values are applied to a private copy of the base policy that replaces the
 * caller's only when the whole file is good.
 *
 * jansson keeps no positions for values, so semantic errors find theirs in
 * the raw text with the small lexer at the top of this file: given the path
 * of the offending key (e.g. limits.memory), it walks the text to that key
 * and its value. Nothing is indexed ahead of time; an error needs one walk,
 * and grant lists, whose positions are stored as origins, are visited with
 * a forward cursor. The lexer is iterative, reads only inside [0, len), and
 * the nesting depth is checked with it before jansson (which recurses) runs.
 */
#define _GNU_SOURCE
#include "policy-int.h"
#include "net/rules.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the position lexer (raw text, no allocation) ---- */

static size_t lx_ws(const char *b, size_t n, size_t i)
{
	while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r'))
		i++;
	return i;
}

/* b[i] is an opening quote; returns the offset after the closing one. */
static size_t lx_string_end(const char *b, size_t n, size_t i)
{
	for (i++; i < n; i++) {
		if (b[i] == '\\')
			i++;
		else if (b[i] == '"')
			return i + 1;
	}
	return n;
}

static bool lx_is_delim(char c)
{
	return c == ',' || c == '}' || c == ']' || c == ':' || c == ' ' || c == '\t' || c == '\n' ||
	       c == '\r' || c == '"' || c == '{' || c == '[';
}

/* Returns the offset just after the value starting at b[i]. */
static size_t lx_value_end(const char *b, size_t n, size_t i)
{
	size_t depth = 0;
	if (i >= n)
		return n;
	if (b[i] == '"')
		return lx_string_end(b, n, i);
	if (b[i] != '{' && b[i] != '[') {
		while (i < n && !lx_is_delim(b[i]))
			i++;
		return i;
	}
	while (i < n) {
		if (b[i] == '"') {
			i = lx_string_end(b, n, i);
			continue;
		}
		if (b[i] == '{' || b[i] == '[')
			depth++;
		else if ((b[i] == '}' || b[i] == ']') && --depth == 0)
			return i + 1;
		i++;
	}
	return n;
}

static int lx_hex4(const char *b, size_t n, size_t i, unsigned *out)
{
	unsigned v = 0;
	if (i + 4 > n)
		return -1;
	for (size_t k = i; k < i + 4; k++) {
		char c = b[k];
		unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
			     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
			     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
						    : 16u;
		if (d > 15)
			return -1;
		v = v * 16 + d;
	}
	*out = v;
	return 0;
}

static size_t lx_utf8(unsigned cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Decodes \uXXXX (and a following low surrogate) at b[*i]. */
static size_t lx_unicode(const char *b, size_t n, size_t *i, char out[4])
{
	unsigned cp, lo;
	if (lx_hex4(b, n, *i + 2, &cp) < 0)
		return 0;
	*i += 6;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (*i + 1 >= n || b[*i] != '\\' || b[*i + 1] != 'u' ||
		    lx_hex4(b, n, *i + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
			return 0;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		*i += 6;
	}
	return lx_utf8(cp, out);
}

/* Decodes one character of a JSON string at b[*i]; returns its byte count,
 * 0 when malformed. */
static size_t lx_char(const char *b, size_t n, size_t *i, char out[4])
{
	static const char esc[] = "\"\\/bfnrt", val[] = "\"\\/\b\f\n\r\t";
	if (b[*i] != '\\') {
		out[0] = b[(*i)++];
		return 1;
	}
	if (*i + 1 >= n || b[*i + 1] == '\0')
		return 0;
	const char *e = strchr(esc, b[*i + 1]);
	if (e) {
		out[0] = val[e - esc];
		*i += 2;
		return 1;
	}
	return b[*i + 1] == 'u' ? lx_unicode(b, n, i, out) : 0;
}

/* Does the JSON string at b[i] (opening quote) decode to s? */
static bool lx_string_equals(const char *b, size_t n, size_t i, const char *s)
{
	size_t k = 0, slen = strlen(s);
	char out[4];
	for (i++; i < n && b[i] != '"';) {
		size_t m = lx_char(b, n, &i, out);
		if (m == 0 || m > slen - k || memcmp(s + k, out, m) != 0)
			return false;
		k += m;
	}
	return i < n && k == slen;
}

/* Finds member `key` of the object at b[obj]. */
static bool lx_member(const char *b, size_t n, size_t obj, const char *key, size_t *key_at,
		      size_t *val_at)
{
	size_t i = lx_ws(b, n, obj);
	if (i >= n || b[i] != '{')
		return false;
	for (i = lx_ws(b, n, i + 1); i < n && b[i] == '"';) {
		size_t k = i;
		bool match = lx_string_equals(b, n, k, key);
		i = lx_ws(b, n, lx_string_end(b, n, k));
		if (i >= n || b[i] != ':')
			return false;
		i = lx_ws(b, n, i + 1);
		if (match) {
			*key_at = k;
			*val_at = i;
			return true;
		}
		i = lx_ws(b, n, lx_value_end(b, n, i));
		if (i >= n || b[i] != ',')
			return false;
		i = lx_ws(b, n, i + 1);
	}
	return false;
}

/* First element of the array at b[arr]. */
static bool lx_first(const char *b, size_t n, size_t arr, size_t *at)
{
	size_t i = lx_ws(b, n, arr);
	if (i >= n || b[i] != '[')
		return false;
	i = lx_ws(b, n, i + 1);
	if (i >= n || b[i] == ']')
		return false;
	*at = i;
	return true;
}

/* The element after the one at b[at]. */
static bool lx_next(const char *b, size_t n, size_t at, size_t *next)
{
	size_t i = lx_ws(b, n, lx_value_end(b, n, at));
	if (i >= n || b[i] != ',')
		return false;
	*next = lx_ws(b, n, i + 1);
	return true;
}

static bool lx_element(const char *b, size_t n, size_t arr, size_t index, size_t *at)
{
	if (!lx_first(b, n, arr, at))
		return false;
	for (size_t k = 0; k < index; k++)
		if (!lx_next(b, n, *at, at))
			return false;
	return true;
}

/* One step of a path: a member name, or (key NULL) an array index. */
struct jseg {
	const char *key;
	size_t index;
};

static bool lx_locate(const char *b, size_t n, const struct jseg *path, size_t depth,
		      size_t *key_at, size_t *val_at)
{
	size_t k = lx_ws(b, n, 0), v = k;
	for (size_t d = 0; d < depth; d++) {
		if (path[d].key ? !lx_member(b, n, v, path[d].key, &k, &v)
				: !lx_element(b, n, v, path[d].index, &v))
			return false;
		if (!path[d].key)
			k = v;
	}
	*key_at = k;
	*val_at = v;
	return true;
}

/* Offset of the first bracket nested deeper than max, or n if none. */
static size_t lx_too_deep(const char *b, size_t n, size_t max)
{
	size_t depth = 0;
	for (size_t i = 0; i < n;) {
		if (b[i] == '"') {
			i = lx_string_end(b, n, i);
			continue;
		}
		if ((b[i] == '{' || b[i] == '[') && ++depth > max)
			return i;
		if ((b[i] == '}' || b[i] == ']') && depth > 0)
			depth--;
		i++;
	}
	return n;
}

/* ---- load context, paths and errors ---- */

#define LD_PATH_MAX 8 /* deepest schema path: commands.deny[i].examples.match[j] */

struct ld {
	const char *buf;
	size_t len;
	const char *origin;
	struct hs_policy *p; /* the copy being built */
	struct hs_error *err;
	struct jseg path[LD_PATH_MAX]; /* where the loader is */
	size_t depth;
	size_t lc_off; /* line/column cache: position of lc_off */
	int lc_line, lc_col;
	struct hs_net_rate *rate; /* the network.rate_limits entry being loaded */
};

static void path_key(struct ld *l, const char *key)
{
	assert(l->depth < LD_PATH_MAX);
	l->path[l->depth++] = (struct jseg){key, 0};
}

static void path_index(struct ld *l, size_t index)
{
	assert(l->depth < LD_PATH_MAX);
	l->path[l->depth++] = (struct jseg){NULL, index};
}

static void path_pop(struct ld *l)
{
	assert(l->depth > 0);
	l->depth--;
}

/* Keys printed as is in paths; others are quoted (and cut when long). */
static bool is_plain_key(const char *k)
{
	if (!*k || strlen(k) > 48)
		return false;
	for (; *k; k++)
		if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
		      (*k >= '0' && *k <= '9') || *k == '_' || *k == '$' || *k == '-'))
			return false;
	return true;
}

/* "limits.memory", "filesystem.read[2]", "env.set[\"A B\"]" */
static void path_format(const struct ld *l, char *buf, size_t len)
{
	size_t o = 0;
	char q[64];
	buf[0] = '\0';
	for (size_t d = 0; d < l->depth && o < len; d++) {
		const struct jseg *s = &l->path[d];
		int w;
		if (!s->key)
			w = snprintf(buf + o, len - o, "[%zu]", s->index);
		else if (is_plain_key(s->key))
			w = snprintf(buf + o, len - o, "%s%s", d ? "." : "", s->key);
		else
			w = snprintf(buf + o, len - o, "[%s]", hs__quote(s->key, q, sizeof(q)));
		o += w > 0 ? (size_t)w : 0;
	}
}

/* 1-based line and column (in characters) of offset off. */
static void ld_position(struct ld *l, size_t off, int *line, int *col)
{
	if (off < l->lc_off || l->lc_line == 0) {
		l->lc_off = 0;
		l->lc_line = 1;
		l->lc_col = 1;
	}
	for (; l->lc_off < off && l->lc_off < l->len; l->lc_off++) {
		unsigned char c = (unsigned char)l->buf[l->lc_off];
		if (c == '\n') {
			l->lc_line++;
			l->lc_col = 1;
		} else if ((c & 0xc0) != 0x80) {
			l->lc_col++;
		}
	}
	*line = l->lc_line;
	*col = l->lc_col;
}

enum where { AT_KEY, AT_VALUE };

static void ld_locate_error(struct ld *l, enum where w)
{
	size_t key_at, val_at;
	int line = 0, col = 0;
	if (lx_locate(l->buf, l->len, l->path, l->depth, &key_at, &val_at))
		ld_position(l, w == AT_KEY ? key_at : val_at, &line, &col);
	hs_error_at(l->err, l->origin, line, col);
}

/* Records "PATH: message" at the current path's key or value; returns -1. */
static int fail(struct ld *l, enum where w, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct ld *l, enum where w, const char *fmt, ...)
{
	char msg[HS_ERR_MSG_MAX], path[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	path_format(l, path, sizeof(path));
	if (path[0])
		hs_err(l->err, "%s: %s", path, msg);
	else
		hs_err(l->err, "%s", msg);
	ld_locate_error(l, w);
	return -1;
}

static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "a number";
	case JSON_REAL:
		return "a number with a fraction";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		break;
	}
	return "null";
}

static int fail_type(struct ld *l, const json_t *v, const char *want)
{
	return fail(l, AT_VALUE, "expected %s, got %s", want, type_name(v));
}

/* "policy.json:4:13": where the current value is, for grant origins. */
static char *ld_origin_at(struct ld *l, size_t off)
{
	int line = 0, col = 0;
	if (off == SIZE_MAX)
		return hs_xstrdup(l->origin);
	ld_position(l, off, &line, &col);
	return hs_xasprintf("%s:%d:%d", l->origin, line, col);
}

/* ---- members, unknown keys, "did you mean" ---- */

struct member {
	const char *key;
	int (*apply)(struct ld *l, json_t *v); /* NULL: handled elsewhere */
};

static const struct member *find_member(const struct member *m, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(m[i].key, key) == 0)
			return &m[i];
	return NULL;
}

static const char *closest_key(const char *key, const struct member *m, size_t n)
{
	const char *best = NULL;
	size_t best_d = 3, klen = strlen(key);
	for (size_t i = 0; i < n; i++) {
		size_t d = hs__edit_distance(key, m[i].key);
		if (d < best_d && d < klen) {
			best = m[i].key;
			best_d = d;
		}
	}
	return best;
}

static void list_keys(const struct member *m, size_t n, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n && o < len; i++) {
		int w = snprintf(buf + o, len - o, "%s%s", i ? ", " : "", m[i].key);
		o += w > 0 ? (size_t)w : 0;
	}
}

static const char *section_of(const char *key); /* defined after the tables */

static int unknown_key(struct ld *l, const char *key, const struct member *m, size_t n)
{
	char known[256];
	const char *best = closest_key(key, m, n), *home = section_of(key);
	if (best)
		return fail(l, AT_KEY, "unknown key; did you mean \"%s\"?", best);
	if (home)
		return fail(l, AT_KEY, "unknown key here; \"%s\" belongs in \"%s\"", key, home);
	list_keys(m, n, known, sizeof(known));
	return fail(l, AT_KEY, "unknown key; the keys allowed here are: %s", known);
}

static int check_keys(struct ld *l, json_t *obj, const struct member *m, size_t n)
{
	for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
		const char *key = json_object_iter_key(it);
		if (!find_member(m, n, key)) {
			path_key(l, key);
			return unknown_key(l, key, m, n);
		}
	}
	return 0;
}

/* Applies the members present, in table order (so that, within one file,
 * "read" comes before "write" and "unprotect" after the protect lists). */
static int apply_members(struct ld *l, json_t *obj, const struct member *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_object_get(obj, m[i].key);
		if (!v || !m[i].apply)
			continue;
		path_key(l, m[i].key);
		if (m[i].apply(l, v) < 0)
			return -1;
		path_pop(l);
	}
	return 0;
}

static int ld_object(struct ld *l, json_t *v, const struct member *m, size_t n)
{
	if (!json_is_object(v))
		return fail_type(l, v, "an object ({...})");
	if (check_keys(l, v, m, n) < 0)
		return -1;
	return apply_members(l, v, m, n);
}

/* ---- scalar values ---- */

static int get_bool(struct ld *l, json_t *v, bool *out)
{
	if (!json_is_boolean(v))
		return fail_type(l, v, "true or false");
	*out = json_is_true(v);
	return 0;
}

static int get_size(struct ld *l, json_t *v, uint64_t *out)
{
	static const char fix[] = "use a number of bytes or a string like \"512M\" or \"2G\"";
	char q[96];
	if (json_is_string(v)) {
		if (hs_parse_size(json_string_value(v), out) == 0)
			return 0;
		return fail(l, AT_VALUE, "%s is not a size; %s",
			    hs__quote(json_string_value(v), q, sizeof(q)), fix);
	}
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (json_is_number(v))
		return fail(l, AT_VALUE, "%g is not a size; %s (0 means no limit)",
			    json_number_value(v), fix);
	return fail(l, AT_VALUE, "expected a size, got %s; %s", type_name(v), fix);
}

static int get_duration_ms(struct ld *l, json_t *v, uint64_t *ms)
{
	static const char fix[] =
	    "use a number of seconds or a string like \"500ms\", \"30s\", \"10m\" or \"2h\"";
	char q[96];
	if (json_is_string(v)) {
		if (hs_parse_duration_ms(json_string_value(v), ms) == 0)
			return 0;
		return fail(l, AT_VALUE, "%s is not a duration; %s",
			    hs__quote(json_string_value(v), q, sizeof(q)), fix);
	}
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		uint64_t s = (uint64_t)json_integer_value(v);
		if (s > UINT64_MAX / 1000)
			return fail(l, AT_VALUE, "%" PRIu64 " seconds is too long", s);
		*ms = s * 1000;
		return 0;
	}
	if (json_is_number(v))
		return fail(l, AT_VALUE, "%g is not a duration; %s (0 means no limit)",
			    json_number_value(v), fix);
	return fail(l, AT_VALUE, "expected a duration, got %s; %s", type_name(v), fix);
}

static int get_count(struct ld *l, json_t *v, uint64_t *out)
{
	static const char fix[] = "use a whole number like 512, or 0 for no limit";
	uint64_t n;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (json_is_string(v) && hs_parse_u64(json_string_value(v), &n) == 0)
		return fail(l, AT_VALUE,
			    "expected a number, got a string; write it without quotes");
	if (json_is_number(v))
		return fail(l, AT_VALUE, "%g is not a count; %s", json_number_value(v), fix);
	return fail(l, AT_VALUE, "expected a number, got %s; %s", type_name(v), fix);
}

/* ---- string lists ---- */

typedef int (*string_fn)(struct ld *l, const char *s);

static int each_string(struct ld *l, json_t *arr, string_fn fn)
{
	if (!json_is_array(arr))
		return fail_type(l, arr, "an array of strings ([...])");
	if (json_array_size(arr) > HS_POLICY_MAX_LIST)
		return fail(l, AT_VALUE, "has %zu entries; at most %d are allowed",
			    json_array_size(arr), HS_POLICY_MAX_LIST);
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *e = json_array_get(arr, i);
		path_index(l, i);
		if (!json_is_string(e))
			return fail_type(l, e, "a string");
		if (fn(l, json_string_value(e)) < 0)
			return -1;
		path_pop(l);
	}
	return 0;
}

/* Lists are bounded in total too, across the layers of a policy. */
static int room_for(struct ld *l, const struct hs_strv *sv, const char *s)
{
	if (sv->n < HS_POLICY_MAX_LIST || hs_strv_contains(sv, s))
		return 0;
	return fail(l, AT_VALUE, "too many entries; at most %d are allowed", HS_POLICY_MAX_LIST);
}

static int protect_entry(struct ld *l, enum hs_protect_kind kind, struct hs_strv *sv, const char *s)
{
	char q[128];
	const char *why = hs__protect_problem(s);
	if (why)
		return fail(l, AT_VALUE, "%s %s", hs__quote(s, q, sizeof(q)), why);
	if (room_for(l, sv, s) < 0)
		return -1;
	hs__policy_protect(l->p, kind, s);
	return 0;
}

static int protect_ro_entry(struct ld *l, const char *s)
{
	return protect_entry(l, HS_PROTECT_READ_ONLY, &l->p->protect_read_only, s);
}

static int protect_hidden_entry(struct ld *l, const char *s)
{
	return protect_entry(l, HS_PROTECT_HIDDEN, &l->p->protect_hidden, s);
}

static int unprotect_entry(struct ld *l, const char *s)
{
	return protect_entry(l, HS_PROTECT_UNPROTECT, &l->p->unprotect, s);
}

static int env_name_check(struct ld *l, enum where w, const char *name)
{
	char q[128];
	if (hs__env_name_valid(name))
		return 0;
	return fail(l, w,
		    "%s is not a valid variable name; use letters, digits and \"_\", "
		    "not starting with a digit",
		    hs__quote(name, q, sizeof(q)));
}

static int env_pass_entry(struct ld *l, const char *s)
{
	if (env_name_check(l, AT_VALUE, s) < 0 || room_for(l, &l->p->env_pass, s) < 0)
		return -1;
	if (!hs_strv_contains(&l->p->env_pass, s))
		hs_strv_push(&l->p->env_pass, s);
	return 0;
}

/* A host pattern (src/net/rules.h), checked here so a bad one is refused
 * with its location, not when the run starts. */
static int net_pattern_entry(struct ld *l, struct hs_strv *sv, bool for_allow, const char *s)
{
	struct hs_net_pattern pat;
	const char *why;
	char q[128];
	if (hs_net_pattern_parse(s, for_allow, &pat, &why) < 0)
		return fail(l, AT_VALUE, "%s %s", hs__quote(s, q, sizeof(q)), why);
	if (room_for(l, sv, s) < 0)
		return -1;
	if (!hs_strv_contains(sv, s))
		hs_strv_push(sv, s);
	return 0;
}

static int net_deny_entry(struct ld *l, const char *s)
{
	return net_pattern_entry(l, &l->p->net_deny, false, s);
}

static int net_allow_entry(struct ld *l, const char *s)
{
	return net_pattern_entry(l, &l->p->net_allow, true, s);
}

/* ---- grants ---- */

static int check_grant_path(struct ld *l, const char *path)
{
	char q[128];
	const char *why = hs__grant_path_problem(path);
	return why ? fail(l, AT_VALUE, "%s %s", hs__quote(path, q, sizeof(q)), why) : 0;
}

struct grant_spec {
	const char *path;
	bool optional, create;
};

static const struct member grant_members[] = {
    {"path", NULL},
    {"optional", NULL},
    {"create", NULL},
    {"resolved", NULL}, /* printed by `harness policy show`; ignored on input */
};

static int grant_flag(struct ld *l, json_t *obj, const char *key, bool *out)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	path_key(l, key);
	if (get_bool(l, v, out) < 0)
		return -1;
	path_pop(l);
	return 0;
}

static int grant_object(struct ld *l, json_t *obj, struct grant_spec *g)
{
	json_t *path = json_object_get(obj, "path"), *res = json_object_get(obj, "resolved");
	if (check_keys(l, obj, grant_members, HS_ARRAY_LEN(grant_members)) < 0)
		return -1;
	if (!path)
		return fail(l, AT_VALUE, "missing \"path\"; write {\"path\": \"~/dir\", ...}");
	path_key(l, "path");
	if (!json_is_string(path))
		return fail_type(l, path, "a path string");
	g->path = json_string_value(path);
	if (check_grant_path(l, g->path) < 0)
		return -1;
	path_pop(l);
	if (grant_flag(l, obj, "optional", &g->optional) < 0 ||
	    grant_flag(l, obj, "create", &g->create) < 0)
		return -1;
	if (res && !json_is_string(res) && !json_is_null(res)) {
		path_key(l, "resolved");
		return fail_type(l, res, "a string or null");
	}
	return 0;
}

/* One entry of filesystem.read/write; `at` is its offset, for the origin. */
static int ld_grant(struct ld *l, json_t *e, enum hs_access access, size_t at)
{
	struct grant_spec g = {NULL, false, false};
	if (json_is_string(e)) {
		g.path = json_string_value(e);
		if (check_grant_path(l, g.path) < 0)
			return -1;
	} else if (!json_is_object(e)) {
		return fail_type(
		    l, e, "a path or an object like {\"path\": \"~/x\", \"optional\": true}");
	} else if (grant_object(l, e, &g) < 0) {
		return -1;
	}
	bool present = false;
	for (size_t i = 0; i < l->p->ngrants && !present; i++)
		present = strcmp(l->p->grants[i].path, g.path) == 0;
	if (!present && l->p->ngrants >= HS_POLICY_MAX_LIST)
		return fail(l, AT_VALUE, "too many grants; at most %d are allowed",
			    HS_POLICY_MAX_LIST);
	char *origin = ld_origin_at(l, at);
	hs__policy_put_grant(l->p, g.path, access, g.optional, g.create, origin);
	free(origin);
	return 0;
}

/* Calls fn for each element of a list-valued key, with the element's own
 * position in the text (so a grant or rule can name where it was written),
 * after checking the type and the list bound. */
typedef int (*ld_item_fn)(struct ld *l, json_t *item, size_t index, size_t at, void *ctx);

static int ld_each(struct ld *l, json_t *arr, const char *what, ld_item_fn fn, void *ctx)
{
	size_t key_at, arr_at, at = SIZE_MAX;
	if (!json_is_array(arr))
		return fail_type(l, arr, what);
	if (json_array_size(arr) > HS_POLICY_MAX_LIST)
		return fail(l, AT_VALUE, "has %zu entries; at most %d are allowed",
			    json_array_size(arr), HS_POLICY_MAX_LIST);
	if (!lx_locate(l->buf, l->len, l->path, l->depth, &key_at, &arr_at) ||
	    !lx_first(l->buf, l->len, arr_at, &at))
		at = SIZE_MAX;
	for (size_t i = 0; i < json_array_size(arr); i++) {
		path_index(l, i);
		if (fn(l, json_array_get(arr, i), i, at, ctx) < 0)
			return -1;
		path_pop(l);
		if (at != SIZE_MAX && !lx_next(l->buf, l->len, at, &at))
			at = SIZE_MAX;
	}
	return 0;
}

static int grant_item(struct ld *l, json_t *item, size_t index, size_t at, void *ctx)
{
	(void)index;
	return ld_grant(l, item, *(enum hs_access *)ctx, at);
}

static int ld_grants(struct ld *l, json_t *arr, enum hs_access access)
{
	return ld_each(l, arr, "an array of paths ([...])", grant_item, &access);
}

/* ---- sections ---- */

static int ld_read(struct ld *l, json_t *v)
{
	return ld_grants(l, v, HS_ACCESS_READ);
}

static int ld_write(struct ld *l, json_t *v)
{
	return ld_grants(l, v, HS_ACCESS_WRITE);
}

static int ld_read_only(struct ld *l, json_t *v)
{
	return get_bool(l, v, &l->p->read_only);
}

static int ld_tmp_size(struct ld *l, json_t *v)
{
	return get_size(l, v, &l->p->limits.tmp_size);
}

static int ld_protect_ro(struct ld *l, json_t *v)
{
	return each_string(l, v, protect_ro_entry);
}

static int ld_protect_hidden(struct ld *l, json_t *v)
{
	return each_string(l, v, protect_hidden_entry);
}

static int ld_unprotect(struct ld *l, json_t *v)
{
	return each_string(l, v, unprotect_entry);
}

static const struct member protect_members[] = {
    {"read_only", ld_protect_ro},
    {"hidden", ld_protect_hidden},
    {"unprotect", ld_unprotect},
};

static int ld_protect(struct ld *l, json_t *v)
{
	return ld_object(l, v, protect_members, HS_ARRAY_LEN(protect_members));
}

static const struct member filesystem_members[] = {
    {"read", ld_read},	     {"write", ld_write},	{"read_only", ld_read_only},
    {"protect", ld_protect}, {"tmp_size", ld_tmp_size},
};

static int ld_net_allow(struct ld *l, json_t *v)
{
	return each_string(l, v, net_allow_entry);
}

static int ld_net_deny(struct ld *l, json_t *v)
{
	return each_string(l, v, net_deny_entry);
}

/* "name[:port]": "address[:port]": the proxy connects name (on that port,
 * or any) to address without asking DNS, and the address is allowed even
 * when it is special (loopback...): the policy named it. It does not allow
 * the name; network.allow does. */
static int net_resolve_entry(struct ld *l, const char *key, json_t *v)
{
	struct hs_net_pin pin;
	const char *why;
	bool at_key;
	char q[128], norm[HS_NET_NAME_MAX + 64];
	if (!json_is_string(v))
		return fail_type(l, v, "an address string like \"192.0.2.10\" or \"10.0.0.5:8443\"");
	if (hs_net_pin_parse(key, json_string_value(v), &pin, &why, &at_key) < 0)
		return fail(l, at_key ? AT_KEY : AT_VALUE, "%s %s",
			    hs__quote(at_key ? key : json_string_value(v), q, sizeof(q)), why);
	hs_net_pin_format(&pin, norm, sizeof(norm));
	size_t n = strcspn(norm, "=") + 1; /* "name[:port]=" */
	for (size_t i = 0; i < l->p->net_resolve.n; i++) {
		char *e = l->p->net_resolve.v[i];
		if (strncmp(e, norm, n) == 0) {
			free(e);
			l->p->net_resolve.v[i] = hs_xstrdup(norm);
			return 0;
		}
	}
	if (l->p->net_resolve.n >= HS_POLICY_MAX_LIST)
		return fail(l, AT_KEY, "too many entries; at most %d are allowed", HS_POLICY_MAX_LIST);
	hs_strv_push(&l->p->net_resolve, norm);
	return 0;
}

static int ld_net_resolve(struct ld *l, json_t *obj)
{
	if (!json_is_object(obj))
		return fail_type(l, obj, "an object like {\"mirror.internal\": \"10.0.0.5\"}");
	for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
		path_key(l, json_object_iter_key(it));
		if (net_resolve_entry(l, json_object_iter_key(it), json_object_iter_value(it)) < 0)
			return -1;
		path_pop(l);
	}
	return 0;
}

static int ld_rate_per_minute(struct ld *l, json_t *v)
{
	return get_count(l, v, &l->rate->per_minute);
}

static int ld_rate_bytes(struct ld *l, json_t *v)
{
	return get_size(l, v, &l->rate->bytes);
}

static const struct member rate_members[] = {
    {"connections_per_minute", ld_rate_per_minute},
    {"bytes", ld_rate_bytes},
};

static int net_rate_entry(struct ld *l, const char *host, json_t *v)
{
	struct hs_net_pattern pat;
	const char *why;
	char q[128];
	struct hs_policy *p = l->p;
	if (hs_net_pattern_parse(host, false, &pat, &why) < 0)
		return fail(l, AT_KEY, "%s %s", hs__quote(host, q, sizeof(q)), why);
	struct hs_net_rate r = {0};
	l->rate = &r;
	int rc = ld_object(l, v, rate_members, HS_ARRAY_LEN(rate_members));
	l->rate = NULL;
	if (rc < 0)
		return -1;
	if (r.per_minute > 1000000)
		return fail(l, AT_VALUE, "connections_per_minute is above 1000000; use 0 for no limit");
	for (size_t i = 0; i < p->n_net_rates; i++) {
		if (strcmp(p->net_rates[i].host, host) == 0) {
			p->net_rates[i].per_minute = r.per_minute;
			p->net_rates[i].bytes = r.bytes;
			return 0;
		}
	}
	if (p->n_net_rates >= HS_POLICY_MAX_LIST)
		return fail(l, AT_KEY, "too many entries; at most %d are allowed", HS_POLICY_MAX_LIST);
	p->net_rates = hs_xrealloc(p->net_rates, (p->n_net_rates + 1) * sizeof(*p->net_rates));
	r.host = hs_xstrdup(host);
	p->net_rates[p->n_net_rates++] = r;
	return 0;
}

static int ld_net_rates(struct ld *l, json_t *obj)
{
	if (!json_is_object(obj))
		return fail_type(l, obj,
				 "an object like {\"api.example.com\": {\"connections_per_minute\": 60}}");
	for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
		path_key(l, json_object_iter_key(it));
		if (net_rate_entry(l, json_object_iter_key(it), json_object_iter_value(it)) < 0)
			return -1;
		path_pop(l);
	}
	return 0;
}

static const struct member network_members[] = {
    {"allow", ld_net_allow},
    {"deny", ld_net_deny},
    {"resolve", ld_net_resolve},
    {"rate_limits", ld_net_rates},
};

static int ld_env_pass(struct ld *l, json_t *v)
{
	return each_string(l, v, env_pass_entry);
}

static int env_set_entry(struct ld *l, const char *name, json_t *v)
{
	bool present = false;
	size_t n = strlen(name);
	if (env_name_check(l, AT_KEY, name) < 0)
		return -1;
	if (!json_is_string(v))
		return fail(l, AT_VALUE,
			    "expected a string, got %s; write numbers in quotes, like \"1\"",
			    type_name(v));
	for (size_t i = 0; i < l->p->env_set.n && !present; i++)
		present = strncmp(l->p->env_set.v[i], name, n) == 0 && l->p->env_set.v[i][n] == '=';
	if (!present && l->p->env_set.n >= HS_POLICY_MAX_LIST)
		return fail(l, AT_KEY, "too many variables; at most %d are allowed",
			    HS_POLICY_MAX_LIST);
	hs__policy_env_set(l->p, name, json_string_value(v));
	return 0;
}

static int ld_env_set(struct ld *l, json_t *obj)
{
	if (!json_is_object(obj))
		return fail_type(l, obj, "an object like {\"NAME\": \"value\"}");
	for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
		path_key(l, json_object_iter_key(it));
		if (env_set_entry(l, json_object_iter_key(it), json_object_iter_value(it)) < 0)
			return -1;
		path_pop(l);
	}
	return 0;
}

static const struct member env_members[] = {
    {"pass", ld_env_pass},
    {"set", ld_env_set},
};

static int ld_timeout(struct ld *l, json_t *v)
{
	return get_duration_ms(l, v, &l->p->limits.timeout_ms);
}

static int ld_cpu(struct ld *l, json_t *v)
{
	uint64_t ms;
	uint64_t s;
	if (get_duration_ms(l, v, &ms) < 0)
		return -1;
	s = ms / 1000 + (ms % 1000 != 0); /* RLIMIT_CPU is in seconds; never round to 0 */
	if (s > UINT64_MAX / 1000)	  /* keeps every loaded value printable in ms */
		return fail(l, AT_VALUE, "is too long; use 0 for no limit");
	l->p->limits.cpu_seconds = s;
	return 0;
}

static int ld_memory(struct ld *l, json_t *v)
{
	return get_size(l, v, &l->p->limits.memory_bytes);
}

static int ld_processes(struct ld *l, json_t *v)
{
	return get_count(l, v, &l->p->limits.max_procs);
}

static int ld_file_size(struct ld *l, json_t *v)
{
	return get_size(l, v, &l->p->limits.max_file_size);
}

static int ld_open_files(struct ld *l, json_t *v)
{
	return get_count(l, v, &l->p->limits.max_open_files);
}

static const struct member limits_members[] = {
    {"timeout", ld_timeout},	 {"cpu", ld_cpu},
    {"memory", ld_memory},	 {"processes", ld_processes},
    {"file_size", ld_file_size}, {"open_files", ld_open_files},
};

/* ---- command rules (commands.h) ---- */

#define LD_MAX_EXAMPLE 4096 /* bytes of one example command line */
#define LD_MAX_REASON 1024

static const struct member rule_members[] = {
    {"match", NULL}, {"glob", NULL}, {"pipe_from", NULL}, {"reason", NULL}, {"examples", NULL},
};

static const struct member examples_members[] = {
    {"match", NULL},
    {"no_match", NULL},
};

typedef int (*rule_check_fn)(const char *s, char *why, size_t len);

static int why_is(char *why, size_t len, const char *msg)
{
	snprintf(why, len, "%s", msg);
	return -1;
}

static int example_check(const char *s, char *why, size_t len)
{
	if (!*s)
		return why_is(why, len, "is empty; write a command line like \"git push -f\"");
	if (strlen(s) > LD_MAX_EXAMPLE)
		return why_is(why, len, "is longer than 4096 bytes");
	return 0;
}

static int reason_check(const char *s, char *why, size_t len)
{
	if (!*s)
		return why_is(why, len, "is empty; leave \"reason\" out instead");
	if (strlen(s) > LD_MAX_REASON)
		return why_is(why, len, "is longer than 1024 bytes");
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return why_is(
			    why, len,
			    "has a control character; the reason is shown to the agent on "
			    "one line");
	return 0;
}

/* A string member of a rule, checked. */
static int rule_string(struct ld *l, json_t *obj, const char *key, rule_check_fn check, char **out)
{
	json_t *v = json_object_get(obj, key);
	char why[256], q[128];
	if (!v)
		return 0;
	path_key(l, key);
	if (!json_is_string(v))
		return fail_type(l, v, "a string");
	if (check(json_string_value(v), why, sizeof(why)) < 0)
		return fail(l, AT_VALUE, "%s %s", hs__quote(json_string_value(v), q, sizeof(q)),
			    why);
	*out = hs_xstrdup(json_string_value(v));
	path_pop(l);
	return 0;
}

/* An array-of-strings member of obj into sv, each checked (NULL: any). */
static int rule_strings(struct ld *l, json_t *obj, const char *key, rule_check_fn check,
			struct hs_strv *sv)
{
	json_t *arr = json_object_get(obj, key);
	char why[256], q[128];
	if (!arr)
		return 0;
	path_key(l, key);
	if (!json_is_array(arr))
		return fail_type(l, arr, "an array of strings ([...])");
	if (json_array_size(arr) > HS_POLICY_MAX_LIST)
		return fail(l, AT_VALUE, "has %zu entries; at most %d are allowed",
			    json_array_size(arr), HS_POLICY_MAX_LIST);
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *e = json_array_get(arr, i);
		path_index(l, i);
		if (!json_is_string(e))
			return fail_type(l, e, "a string");
		if (check && check(json_string_value(e), why, sizeof(why)) < 0)
			return fail(l, AT_VALUE, "%s %s",
				    hs__quote(json_string_value(e), q, sizeof(q)), why);
		hs_strv_push(sv, json_string_value(e));
		path_pop(l);
	}
	path_pop(l);
	return 0;
}

static int rule_match(struct ld *l, json_t *obj, struct hs_cmd_rule *r)
{
	char why[256], q[128];
	size_t bad;
	if (!json_object_get(obj, "match"))
		return 0;
	if (rule_strings(l, obj, "match", NULL, &r->match) < 0)
		return -1;
	if (hs_cmd_match_check(&r->match, &bad, why, sizeof(why)) == 0)
		return 0;
	path_key(l, "match");
	if (bad >= r->match.n)
		return fail(l, AT_VALUE, "%s", why);
	path_index(l, bad);
	return fail(l, AT_VALUE, "%s %s", hs__quote(r->match.v[bad], q, sizeof(q)), why);
}

static int rule_glob(struct ld *l, json_t *obj, struct hs_cmd_rule *r)
{
	return rule_string(l, obj, "glob", hs_cmd_glob_check, &r->glob);
}

static int rule_examples(struct ld *l, json_t *obj, struct hs_cmd_rule *r)
{
	json_t *ex = json_object_get(obj, "examples");
	if (!ex)
		return 0;
	path_key(l, "examples");
	if (!json_is_object(ex))
		return fail_type(l, ex,
				 "an object like {\"match\": [\"git push -f\"], \"no_match\": "
				 "[\"git push\"]}");
	if (check_keys(l, ex, examples_members, HS_ARRAY_LEN(examples_members)) < 0 ||
	    rule_strings(l, ex, "match", example_check, &r->examples_match) < 0 ||
	    rule_strings(l, ex, "no_match", example_check, &r->examples_no_match) < 0)
		return -1;
	path_pop(l);
	return 0;
}

/* Rules that test themselves: each example must (not) be matched. */
static int rule_self_test(struct ld *l, const struct hs_cmd_rule *r, bool want,
			  const struct hs_strv *examples)
{
	char q[160], note[160] = "";
	for (size_t i = 0; i < examples->n; i++) {
		const char *unparsed = NULL;
		if (hs_cmd_rule_test(r, examples->v[i], &unparsed) == want)
			continue;
		path_key(l, "examples");
		path_key(l, want ? "match" : "no_match");
		path_index(l, i);
		if (unparsed)
			snprintf(note, sizeof(note), " (harness could not read all of it: %s)",
				 unparsed);
		hs__quote(examples->v[i], q, sizeof(q));
		if (want)
			return fail(l, AT_VALUE, "%s is not matched by this rule%s", q, note);
		return fail(l, AT_VALUE,
			    "%s is matched by this rule, but is listed under no_match%s", q, note);
	}
	return 0;
}

static int rule_fields(struct ld *l, json_t *obj, struct hs_cmd_rule *r)
{
	if (check_keys(l, obj, rule_members, HS_ARRAY_LEN(rule_members)) < 0)
		return -1;
	if (!json_object_get(obj, "match") && !json_object_get(obj, "glob"))
		return fail(l, AT_VALUE,
			    "a rule needs \"match\" (tokens, like [\"git\", \"push\", "
			    "\"-{f/force}\"]) or \"glob\" (a pattern of the command line, like "
			    "\"rm -rf /*\")");
	if (rule_match(l, obj, r) < 0 || rule_glob(l, obj, r) < 0 ||
	    rule_strings(l, obj, "pipe_from", hs_cmd_program_check, &r->pipe_from) < 0 ||
	    rule_string(l, obj, "reason", reason_check, &r->reason) < 0 ||
	    rule_examples(l, obj, r) < 0)
		return -1;
	if (rule_self_test(l, r, true, &r->examples_match) < 0 ||
	    rule_self_test(l, r, false, &r->examples_no_match) < 0)
		return -1;
	return 0;
}

/* One rule of commands.LIST[index]; `at` is its offset, for the origin. */
static int ld_rule(struct ld *l, json_t *e, enum hs_cmd_decision d, size_t index, size_t at)
{
	struct hs_cmd_rules *rules = &l->p->commands;
	struct hs_cmd_rule r;
	if (!json_is_object(e))
		return fail_type(
		    l, e,
		    "a rule object like {\"match\": [\"git\", \"push\", \"-{f/force}\"], "
		    "\"reason\": \"...\"}");
	if (rules->n >= HS_POLICY_MAX_LIST)
		return fail(l, AT_VALUE, "too many command rules; at most %d are allowed",
			    HS_POLICY_MAX_LIST);
	memset(&r, 0, sizeof(r));
	r.decision = d;
	if (rule_fields(l, e, &r) < 0) {
		hs_cmd_rule_free(&r);
		return -1;
	}
	r.id = hs_xasprintf("commands.%s[%zu]", hs_cmd_decision_name(d), index);
	r.origin = ld_origin_at(l, at);
	rules->v = hs_xrealloc(rules->v, (rules->n + 1) * sizeof(*rules->v));
	rules->v[rules->n++] = r; /* moved */
	return 0;
}

static int rule_item(struct ld *l, json_t *item, size_t index, size_t at, void *ctx)
{
	return ld_rule(l, item, *(enum hs_cmd_decision *)ctx, index, at);
}

static int ld_rules(struct ld *l, json_t *arr, enum hs_cmd_decision d)
{
	return ld_each(l, arr, "an array of rules ([{\"match\": [...]}, ...])", rule_item, &d);
}

static int ld_cmd_deny(struct ld *l, json_t *v)
{
	return ld_rules(l, v, HS_CMD_DENY);
}

static int ld_cmd_ask(struct ld *l, json_t *v)
{
	return ld_rules(l, v, HS_CMD_ASK);
}

static int ld_cmd_allow(struct ld *l, json_t *v)
{
	return ld_rules(l, v, HS_CMD_ALLOW);
}

static int ld_cmd_defaults(struct ld *l, json_t *v)
{
	return get_bool(l, v, &l->p->commands_defaults);
}

static const struct member commands_members[] = {
    {"deny", ld_cmd_deny},
    {"ask", ld_cmd_ask},
    {"allow", ld_cmd_allow},
    {"defaults", ld_cmd_defaults},
};

static int ld_commands(struct ld *l, json_t *v)
{
	return ld_object(l, v, commands_members, HS_ARRAY_LEN(commands_members));
}

/* ---- guard: the review gate's linter (workspace/guard.h, docs/guard.md) ---- */

#define LD_MAX_GUARD_ID 64
#define LD_MAX_MESSAGE 1024

static const struct member guard_rule_members[] = {
    {"id", NULL},   {"severity", NULL}, {"message", NULL},
    {"path", NULL}, {"content", NULL},	{"examples", NULL},
};

static bool guard_id_known(const struct hs_policy *p, const char *id)
{
	struct hs_guard_rule_info info;
	for (size_t i = 0; i < hs_guard_builtin_count(); i++) {
		hs_guard_builtin_info(i, &info);
		if (strcmp(info.id, id) == 0)
			return true;
	}
	for (size_t i = 0; i < p->guard.nrules; i++)
		if (strcmp(p->guard.rules[i].id, id) == 0)
			return true;
	return false;
}

static const char *guard_id_closest(const struct hs_policy *p, const char *id)
{
	struct hs_guard_rule_info info;
	const char *best = NULL;
	size_t best_d = 4;
	for (size_t i = 0; i < hs_guard_builtin_count() + p->guard.nrules; i++) {
		const char *cand;
		if (i < hs_guard_builtin_count()) {
			hs_guard_builtin_info(i, &info);
			cand = info.id;
		} else {
			cand = p->guard.rules[i - hs_guard_builtin_count()].id;
		}
		size_t d = hs__edit_distance(id, cand);
		if (d < best_d) {
			best = cand;
			best_d = d;
		}
	}
	return best;
}

/* A rule id named by guard.disable or guard.severity must exist. */
static int guard_id_exists(struct ld *l, enum where w, const char *id)
{
	char q[128];
	const char *best;
	if (guard_id_known(l->p, id))
		return 0;
	hs__quote(id, q, sizeof(q));
	best = guard_id_closest(l->p, id);
	if (best)
		return fail(l, w, "%s is not a guard rule; did you mean \"%s\"?", q, best);
	return fail(l, w,
		    "%s is not a guard rule; name a built-in rule (docs/guard.md lists them) or "
		    "the id of a rule in guard.rules",
		    q);
}

static int guard_severity_value(struct ld *l, json_t *v, enum hs_guard_severity *out)
{
	char q[96];
	if (!json_is_string(v))
		return fail_type(l, v, "a severity: \"info\", \"warn\" or \"block\"");
	if (hs_guard_severity_parse(json_string_value(v), out) == 0)
		return 0;
	return fail(l, AT_VALUE, "%s is not a severity; use \"info\", \"warn\" or \"block\"",
		    hs__quote(json_string_value(v), q, sizeof(q)));
}

static int guard_id_check(const char *s, char *why, size_t len)
{
	size_t n = strlen(s);
	if (n == 0)
		return why_is(why, len, "is empty; name the rule like \"content.todo\"");
	if (n > LD_MAX_GUARD_ID)
		return why_is(why, len, "is longer than 64 bytes");
	if (s[0] < 'a' || s[0] > 'z')
		return why_is(why, len,
			      "does not start with a lower-case letter; write ids like "
			      "\"content.todo\"");
	for (const char *c = s; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '.' ||
		      *c == '-' || *c == '_'))
			return why_is(why, len,
				      "may hold only lower-case letters, digits, \".\", \"-\" and "
				      "\"_\"; write ids like \"content.todo\"");
	if (s[n - 1] == '.' || strstr(s, ".."))
		return why_is(why, len, "has an empty part between dots");
	return 0;
}

static int guard_message_check(const char *s, char *why, size_t len)
{
	if (!*s)
		return why_is(why, len,
			      "is empty; say what the rule found, why it matters and "
			      "what to do");
	if (strlen(s) > LD_MAX_MESSAGE)
		return why_is(why, len, "is longer than 1024 bytes");
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return why_is(why, len,
				      "has a control character; the message is shown on one line");
	return 0;
}

static int guard_example_check(const char *s, char *why, size_t len)
{
	if (!*s)
		return why_is(why, len,
			      "is empty; write a line of content (or a path for a "
			      "rule with only \"path\")");
	if (strlen(s) > LD_MAX_EXAMPLE)
		return why_is(why, len, "is longer than 4096 bytes");
	return 0;
}

/* Moves the error's location to the character of the current string value
 * that holds byte `off` of its decoded text (where PCRE2 stopped). */
static void locate_in_string(struct ld *l, size_t off)
{
	size_t key_at, i, k = 0;
	char out[4];
	int line, col;
	if (!lx_locate(l->buf, l->len, l->path, l->depth, &key_at, &i) || i >= l->len ||
	    l->buf[i] != '"')
		return;
	for (i++; k < off && i < l->len && l->buf[i] != '"';) {
		size_t m = lx_char(l->buf, l->len, &i, out);
		if (m == 0)
			return;
		k += m;
	}
	ld_position(l, i, &line, &col);
	hs_error_at(l->err, l->origin, line, col);
}

static int guard_rule_content(struct ld *l, json_t *obj, struct hs_guard_user_rule *r)
{
	char why[256], q[128];
	size_t off = 0;
	json_t *v = json_object_get(obj, "content");
	if (!v)
		return 0;
	path_key(l, "content");
	if (!json_is_string(v))
		return fail_type(l, v, "a PCRE2 pattern string");
	if (hs_guard_pattern_check(json_string_value(v), &off, why, sizeof(why)) < 0) {
		fail(l, AT_VALUE, "%s is not a valid pattern: %s (PCRE2, at offset %zu)",
		     hs__quote(json_string_value(v), q, sizeof(q)), why, off);
		locate_in_string(l, off);
		return -1;
	}
	r->content = hs_xstrdup(json_string_value(v));
	path_pop(l);
	return 0;
}

static int guard_rule_severity(struct ld *l, json_t *obj, struct hs_guard_user_rule *r)
{
	path_key(l, "severity");
	if (guard_severity_value(l, json_object_get(obj, "severity"), &r->severity) < 0)
		return -1;
	path_pop(l);
	return 0;
}

static int guard_rule_examples(struct ld *l, json_t *obj, struct hs_guard_user_rule *r)
{
	json_t *ex = json_object_get(obj, "examples");
	if (!ex)
		return 0;
	path_key(l, "examples");
	if (!json_is_object(ex))
		return fail_type(l, ex,
				 "an object like {\"match\": [\"TODO: x\"], \"no_match\": "
				 "[\"done\"]}");
	if (check_keys(l, ex, examples_members, HS_ARRAY_LEN(examples_members)) < 0 ||
	    rule_strings(l, ex, "match", guard_example_check, &r->examples_match) < 0 ||
	    rule_strings(l, ex, "no_match", guard_example_check, &r->examples_no_match) < 0)
		return -1;
	path_pop(l);
	return 0;
}

/* Guard rules test themselves too: each example must (not) be matched. */
static int guard_rule_self_test(struct ld *l, const struct hs_guard_user_rule *r, bool want,
				const struct hs_strv *examples)
{
	char q[160], why[256];
	for (size_t i = 0; i < examples->n; i++) {
		bool matched = false;
		int rc = hs_guard_rule_test(r, examples->v[i], &matched, why, sizeof(why));
		if (rc == 0 && matched == want)
			continue;
		path_key(l, "examples");
		path_key(l, want ? "match" : "no_match");
		path_index(l, i);
		hs__quote(examples->v[i], q, sizeof(q));
		if (rc < 0)
			return fail(l, AT_VALUE, "%s: %s", q, why);
		if (want)
			return fail(l, AT_VALUE, "%s is not matched by this rule", q);
		return fail(l, AT_VALUE, "%s is matched by this rule, but is listed under no_match",
			    q);
	}
	return 0;
}

static int guard_rule_fields(struct ld *l, json_t *obj, struct hs_guard_user_rule *r)
{
	static const char *const required[] = {"id", "severity", "message"};
	if (check_keys(l, obj, guard_rule_members, HS_ARRAY_LEN(guard_rule_members)) < 0)
		return -1;
	for (size_t i = 0; i < HS_ARRAY_LEN(required); i++)
		if (!json_object_get(obj, required[i]))
			return fail(l, AT_VALUE,
				    "missing \"%s\"; a guard rule needs \"id\", \"severity\" and "
				    "\"message\"",
				    required[i]);
	if (!json_object_get(obj, "path") && !json_object_get(obj, "content"))
		return fail(l, AT_VALUE,
			    "a guard rule needs \"path\" (a glob, like \"migrations/*.sql\") or "
			    "\"content\" (a PCRE2 pattern for added lines), or both");
	if (rule_string(l, obj, "id", guard_id_check, &r->id) < 0 ||
	    guard_rule_severity(l, obj, r) < 0 ||
	    rule_string(l, obj, "message", guard_message_check, &r->message) < 0 ||
	    rule_string(l, obj, "path", hs_guard_glob_check, &r->path) < 0 ||
	    guard_rule_content(l, obj, r) < 0 || guard_rule_examples(l, obj, r) < 0)
		return -1;
	return 0;
}

/* Refuses a built-in id, or an id an earlier element of this file's list
 * took; returns the index of the earlier layer's rule it replaces, or
 * nrules. */
static int guard_rule_place(struct ld *l, json_t *arr, size_t index, const char *id, size_t *at)
{
	struct hs_guard_rule_info info;
	char q[128];
	for (size_t i = 0; i < hs_guard_builtin_count(); i++) {
		hs_guard_builtin_info(i, &info);
		if (strcmp(info.id, id) == 0) {
			path_key(l, "id");
			return fail(l, AT_VALUE,
				    "%s is a built-in rule; change it with guard.severity or "
				    "guard.disable, or give this rule another id",
				    hs__quote(id, q, sizeof(q)));
		}
	}
	for (size_t i = 0; i < index; i++) {
		json_t *other = json_object_get(json_array_get(arr, i), "id");
		if (json_is_string(other) && strcmp(json_string_value(other), id) == 0) {
			path_key(l, "id");
			return fail(l, AT_VALUE, "%s is already the id of guard.rules[%zu]",
				    hs__quote(id, q, sizeof(q)), i);
		}
	}
	for (*at = 0; *at < l->p->guard.nrules; (*at)++)
		if (strcmp(l->p->guard.rules[*at].id, id) == 0)
			break;
	return 0;
}

static int guard_rule_item(struct ld *l, json_t *e, size_t index, size_t at, void *ctx)
{
	struct hs_guard_config *g = &l->p->guard;
	struct hs_guard_user_rule r;
	size_t slot = 0;
	if (!json_is_object(e))
		return fail_type(l, e,
				 "a rule object like {\"id\": \"content.todo\", \"severity\": "
				 "\"warn\", \"message\": \"...\", \"content\": \"TODO\"}");
	memset(&r, 0, sizeof(r));
	if (guard_rule_fields(l, e, &r) < 0 || guard_rule_place(l, ctx, index, r.id, &slot) < 0 ||
	    guard_rule_self_test(l, &r, true, &r.examples_match) < 0 ||
	    guard_rule_self_test(l, &r, false, &r.examples_no_match) < 0) {
		hs_guard_user_rule_free(&r);
		return -1;
	}
	if (slot == g->nrules && g->nrules >= HS_POLICY_MAX_LIST) {
		hs_guard_user_rule_free(&r);
		return fail(l, AT_VALUE, "too many guard rules; at most %d are allowed",
			    HS_POLICY_MAX_LIST);
	}
	r.origin = ld_origin_at(l, at);
	if (slot < g->nrules) {
		hs_guard_user_rule_free(&g->rules[slot]);
		g->rules[slot] = r; /* moved: an earlier layer's rule replaced */
		return 0;
	}
	g->rules = hs_xrealloc(g->rules, (g->nrules + 1) * sizeof(*g->rules));
	g->rules[g->nrules++] = r; /* moved */
	return 0;
}

static int ld_guard_rules(struct ld *l, json_t *v)
{
	return ld_each(l, v, "an array of rules ([{\"id\": ..., \"content\": ...}, ...])",
		       guard_rule_item, v);
}

static int guard_disable_entry(struct ld *l, const char *id)
{
	if (guard_id_exists(l, AT_VALUE, id) < 0 || room_for(l, &l->p->guard.disable, id) < 0)
		return -1;
	if (!hs_strv_contains(&l->p->guard.disable, id))
		hs_strv_push(&l->p->guard.disable, id);
	return 0;
}

static int ld_guard_disable(struct ld *l, json_t *v)
{
	return each_string(l, v, guard_disable_entry);
}

static int guard_severity_entry(struct ld *l, const char *id, json_t *v)
{
	struct hs_guard_config *g = &l->p->guard;
	enum hs_guard_severity sev;
	if (guard_id_exists(l, AT_KEY, id) < 0 || guard_severity_value(l, v, &sev) < 0)
		return -1;
	for (size_t i = 0; i < g->nseverity; i++) {
		if (strcmp(g->severity[i].id, id) == 0) {
			g->severity[i].severity = sev;
			return 0;
		}
	}
	if (g->nseverity >= HS_POLICY_MAX_LIST)
		return fail(l, AT_KEY, "too many entries; at most %d are allowed",
			    HS_POLICY_MAX_LIST);
	g->severity = hs_xrealloc(g->severity, (g->nseverity + 1) * sizeof(*g->severity));
	g->severity[g->nseverity].id = hs_xstrdup(id);
	g->severity[g->nseverity++].severity = sev;
	return 0;
}

static int ld_guard_severity(struct ld *l, json_t *obj)
{
	if (!json_is_object(obj))
		return fail_type(l, obj, "an object like {\"mode.executable\": \"block\"}");
	for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
		path_key(l, json_object_iter_key(it));
		if (guard_severity_entry(l, json_object_iter_key(it), json_object_iter_value(it)) <
		    0)
			return -1;
		path_pop(l);
	}
	return 0;
}

static int ld_guard_max_file_size(struct ld *l, json_t *v)
{
	return get_size(l, v, &l->p->guard.max_file_size);
}

/* "rules" first: disable and severity may name the rules a file adds. */
static const struct member guard_members[] = {
    {"rules", ld_guard_rules},
    {"disable", ld_guard_disable},
    {"severity", ld_guard_severity},
    {"max_file_size", ld_guard_max_file_size},
};

static int ld_guard(struct ld *l, json_t *v)
{
	return ld_object(l, v, guard_members, HS_ARRAY_LEN(guard_members));
}

static int ld_filesystem(struct ld *l, json_t *v)
{
	return ld_object(l, v, filesystem_members, HS_ARRAY_LEN(filesystem_members));
}

static int ld_network(struct ld *l, json_t *v)
{
	return ld_object(l, v, network_members, HS_ARRAY_LEN(network_members));
}

static int ld_env(struct ld *l, json_t *v)
{
	return ld_object(l, v, env_members, HS_ARRAY_LEN(env_members));
}

static int ld_limits(struct ld *l, json_t *v)
{
	return ld_object(l, v, limits_members, HS_ARRAY_LEN(limits_members));
}

static int ld_ws_mode(struct ld *l, json_t *v)
{
	static const char *const modes[] = {"direct", "ephemeral", "review"};
	char q[96];
	if (!json_is_string(v))
		return fail_type(l, v, "\"direct\", \"ephemeral\" or \"review\"");
	for (size_t i = 0; i < HS_ARRAY_LEN(modes); i++)
		if (strcmp(json_string_value(v), modes[i]) == 0) {
			l->p->workspace = (enum hs_workspace_mode)i;
			return 0;
		}
	return fail(l, AT_VALUE,
		    "%s is not a workspace mode; use \"direct\" (write the project), "
		    "\"ephemeral\" (discard every change) or \"review\" (stage the changes "
		    "for harness diff and apply)",
		    hs__quote(json_string_value(v), q, sizeof(q)));
}

static int ld_ws_max_disk(struct ld *l, json_t *v)
{
	uint64_t n;
	if (get_size(l, v, &n) < 0)
		return -1;
	if (n && n < (1u << 20))
		return fail(l, AT_VALUE, "is under 1M; use a size like \"512M\" or \"4G\", or 0 "
					 "for the default (1G)");
	l->p->workspace_max_disk = n;
	return 0;
}

static const struct member workspace_members[] = {
    {"mode", ld_ws_mode},
    {"max_disk", ld_ws_max_disk},
};

static int ld_workspace(struct ld *l, json_t *v)
{
	return ld_object(l, v, workspace_members, HS_ARRAY_LEN(workspace_members));
}

static int ld_best_effort(struct ld *l, json_t *v)
{
	return get_bool(l, v, &l->p->best_effort);
}

static int ld_comment(struct ld *l, json_t *v)
{
	return json_is_string(v) ? 0 : fail_type(l, v, "a string");
}

static const struct member top_members[] = {
    {"$schema", ld_comment},   {"description", ld_comment},   {"extends", NULL},
    {"level", NULL},	       {"filesystem", ld_filesystem}, {"network", ld_network},
    {"env", ld_env},	       {"limits", ld_limits},	      {"best_effort", ld_best_effort},
    {"commands", ld_commands}, {"guard", ld_guard},	      {"workspace", ld_workspace},
};

/* For a key in the wrong place: which section it belongs in. */
static const char *section_of(const char *key)
{
	static const struct {
		const char *name;
		const struct member *m;
		size_t n;
	} sections[] = {
	    {"filesystem", filesystem_members, HS_ARRAY_LEN(filesystem_members)},
	    {"filesystem.protect", protect_members, HS_ARRAY_LEN(protect_members)},
	    {"network", network_members, HS_ARRAY_LEN(network_members)},
	    {"network.rate_limits[\"HOST\"]", rate_members, HS_ARRAY_LEN(rate_members)},
	    {"env", env_members, HS_ARRAY_LEN(env_members)},
	    {"limits", limits_members, HS_ARRAY_LEN(limits_members)},
	    {"commands", commands_members, HS_ARRAY_LEN(commands_members)},
	    {"a command rule (commands.deny[i], ...)", rule_members, HS_ARRAY_LEN(rule_members)},
	    {"guard", guard_members, HS_ARRAY_LEN(guard_members)},
	    {"workspace", workspace_members, HS_ARRAY_LEN(workspace_members)},
	    {"the top level", top_members, HS_ARRAY_LEN(top_members)},
	};
	for (size_t i = 0; i < HS_ARRAY_LEN(sections); i++)
		if (find_member(sections[i].m, sections[i].n, key))
			return sections[i].name;
	return NULL;
}

/* ---- the base: "extends" or "level", else the policy loaded into ---- */

static int ld_extends(struct ld *l, json_t *v)
{
	struct hs_error e;
	path_key(l, "extends");
	if (!json_is_string(v))
		return fail_type(l, v, "a preset name like \"restrict\"");
	if (hs_policy_apply_preset(l->p, json_string_value(v), &e) < 0)
		return fail(l, AT_VALUE, "%s", e.msg);
	path_pop(l);
	return 0;
}

static int ld_level(struct ld *l, json_t *v)
{
	struct hs_error e;
	path_key(l, "level");
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 3)
		return fail(l, AT_VALUE, "expected a level 0, 1, 2 or 3, got %s",
			    json_is_integer(v) ? "a number out of range" : type_name(v));
	if (hs_policy_apply_level(l->p, (int)json_integer_value(v), &e) < 0)
		return fail(l, AT_VALUE, "%s", e.msg);
	path_pop(l);
	return 0;
}

static int ld_base(struct ld *l, json_t *root, const struct hs_policy *base, bool allow_extends)
{
	json_t *ext = json_object_get(root, "extends"), *lvl = json_object_get(root, "level");
	if ((ext || lvl) && !allow_extends) {
		path_key(l, ext ? "extends" : "level");
		return fail(l, AT_KEY, "a preset cannot extend another");
	}
	if (ext && lvl) {
		path_key(l, "level");
		return fail(l, AT_KEY,
			    "\"level\" and \"extends\" both name the base; keep one of them");
	}
	if (ext)
		return ld_extends(l, ext);
	if (lvl)
		return ld_level(l, lvl);
	hs_policy_copy(l->p, base);
	return 0;
}

/* ---- entry points ---- */

/* jansson's messages quote the input near the error; keep them printable. */
static void sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static json_t *ld_parse(struct ld *l)
{
	json_error_t je;
	json_t *root = json_loadb(l->buf, l->len, JSON_REJECT_DUPLICATES, &je);
	if (root && json_is_object(root))
		return root;
	if (root) {
		const char *type = type_name(root);
		fail(l, AT_VALUE, "a policy is a JSON object ({...}), not %s", type);
		json_decref(root);
		return NULL;
	}
	enum json_error_code code = json_error_code(&je); /* read before sanitize */
	sanitize(je.text);
	hs_error_at(l->err, l->origin, je.line > 0 ? je.line : 1, je.column > 0 ? je.column : 1);
	if (code == json_error_duplicate_key)
		hs_err(l->err, "%s; each key may appear only once in an object", je.text);
	else if (code == json_error_null_character)
		hs_err(l->err, "invalid JSON: a string holds \\u0000 (NUL), which policies do not "
			       "allow");
	else
		hs_err(l->err, "invalid JSON: %s", je.text);
	return NULL;
}

static int ld_check_bounds(struct ld *l)
{
	size_t deep;
	int line, col;
	if (l->len > HS_POLICY_MAX_FILE) {
		hs_error_at(l->err, l->origin, 0, 0);
		return hs_err(l->err, "is %zu bytes; a policy file may have at most %d", l->len,
			      HS_POLICY_MAX_FILE);
	}
	const char *nul = memchr(l->buf, '\0', l->len);
	if (nul) {
		ld_position(l, (size_t)(nul - l->buf), &line, &col);
		hs_error_at(l->err, l->origin, line, col);
		return hs_err(l->err, "invalid JSON: a NUL byte; a policy file is text");
	}
	deep = lx_too_deep(l->buf, l->len, HS_POLICY_MAX_DEPTH);
	if (deep == l->len)
		return 0;
	ld_position(l, deep, &line, &col);
	hs_error_at(l->err, l->origin, line, col);
	return hs_err(l->err, "nested deeper than %d levels; a policy needs at most 4",
		      HS_POLICY_MAX_DEPTH);
}

int hs__policy_load(struct hs_policy *p, const char *buf, size_t len, const char *origin,
		    bool allow_extends, struct hs_error *err)
{
	struct hs_policy tmp;
	struct ld l = {.buf = buf ? buf : "", .len = buf ? len : 0, .err = err, .p = &tmp};
	json_t *root;
	hs_error_clear(err);
	l.origin = origin ? origin : "policy";
	if (ld_check_bounds(&l) < 0 || !(root = ld_parse(&l)))
		return -1;
	hs_policy_init(&tmp);
	int r = check_keys(&l, root, top_members, HS_ARRAY_LEN(top_members));
	if (r == 0)
		r = ld_base(&l, root, p, allow_extends);
	if (r == 0)
		r = apply_members(&l, root, top_members, HS_ARRAY_LEN(top_members));
	json_decref(root);
	if (r < 0) {
		hs_policy_free(&tmp);
		return -1;
	}
	free(tmp.name);
	tmp.name = hs_xstrdup(l.origin);
	hs_policy_free(p);
	*p = tmp;
	return 0;
}

int hs_policy_load_buffer(struct hs_policy *p, const char *buf, size_t len, const char *origin,
			  struct hs_error *err)
{
	return hs__policy_load(p, buf, len, origin, true, err);
}

/* Reads at most HS_POLICY_MAX_FILE + 1 bytes (one more tells "too big").
 * Regular files and pipes (--policy <(...)) only. */
static int read_bounded(const char *path, char **out, size_t *len, struct hs_error *err)
{
	struct stat st;
	size_t cap = HS_POLICY_MAX_FILE + 1, n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return hs_err_sys(err, "cannot open the policy file");
	if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode)) ||
	    fcntl(fd, F_SETFL, 0) < 0) {
		close(fd);
		return hs_err(err, "not a regular file; give the path of a JSON policy file");
	}
	char *buf = hs_xmalloc(cap);
	while (n < cap) {
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			hs_err_sys(err, "cannot read the policy file");
			close(fd);
			free(buf);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*out = buf;
	*len = n;
	return 0;
}

int hs_policy_load_file(struct hs_policy *p, const char *path, struct hs_error *err)
{
	char *buf = NULL;
	size_t len = 0;
	hs_error_clear(err);
	if (read_bounded(path, &buf, &len, err) < 0) {
		hs_error_at(err, path, 0, 0);
		return -1;
	}
	int r = hs__policy_load(p, buf, len, path, true, err);
	free(buf);
	return r;
}
