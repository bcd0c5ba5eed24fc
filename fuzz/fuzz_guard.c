/*
 * fuzz_guard.c: libFuzzer target for the review gate's linter
 * (workspace/guard.c): one hostile change through the built-in rules, or
 * through a guard adjusted by a policy (rules of its own, one of them with
 * a catastrophic pattern, a small size limit).
 *
 * Input: a control byte, then the path up to the first '\n', then the old
 * content up to the first 0x1e byte (ASCII record separator), then the
 * new content. Control byte: bits 0-2 the kind (mod 6), bit 3 the
 * configured guard, bit 4 no old content, bit 5 the new content was
 * truncated, bits 6-7 which mode bits the new side has.
 *
 * Invariants (violations abort):
 *   - hs_guard_check never fails on its own (no error without OOM);
 *   - every finding names a rule of the guard with that rule's severity,
 *     the change's path, a message that is the rule's (or the match-limit
 *     one naming a rule, or either with "(and N more in this file)");
 *   - a finding's line is 0 or a line of the new content; an excerpt
 *     belongs to a line, is at most HS_GUARD_EXCERPT_MAX bytes, holds no
 *     control character and no secret (checked by linting the excerpt
 *     itself: no secret.* rule may fire on it);
 *   - checking twice gives the same findings (no hidden state).
 */
#include "policy/policy.h"
#include "workspace/guard.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_guard: %s\n", what);
	abort();
}

static const char config[] =
    "{\"guard\": {\"rules\": ["
    "{\"id\": \"content.slow\", \"severity\": \"block\", \"message\": \"backtracks; avoid\","
    " \"content\": \"^(a|aa)+$\"},"
    "{\"id\": \"path.pem\", \"severity\": \"warn\", \"message\": \"a key file; keep keys out\","
    " \"path\": \"*.pem\"},"
    "{\"id\": \"sql.cascade\", \"severity\": \"info\", \"message\": \"cascades; check it\","
    " \"path\": \"*.sql\", \"content\": \"(?i)on\\\\s+delete\\\\s+cascade\"},"
    "{\"id\": \"secret.internal\", \"severity\": \"block\", \"message\": \"a token; use the "
    "vault\", \"content\": \"itk_[0-9a-f]{16}\"}],"
    " \"disable\": [\"path.ci\"], \"severity\": {\"mode.executable\": \"block\"},"
    " \"max_file_size\": \"2K\"}}";

static struct hs_guard *guards[2];

static struct hs_guard *guard(bool configured)
{
	struct hs_error err;
	if (guards[configured])
		return guards[configured];
	if (!configured) {
		guards[0] = hs_guard_new(NULL, &err);
	} else {
		struct hs_policy p;
		hs_policy_init(&p);
		check(hs_policy_load_buffer(&p, config, strlen(config), "fuzz", &err) == 0,
		      "the fixed policy does not load");
		guards[1] = hs_guard_new(&p.guard, &err);
		hs_policy_free(&p);
	}
	check(guards[configured] != NULL, "the guard does not compile");
	return guards[configured];
}

static size_t count_lines(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += s[i] == '\n';
	return n + (len > 0 && s[len - 1] != '\n');
}

static const struct hs_guard_rule_info *rule_of(const struct hs_guard *g, const char *id,
						struct hs_guard_rule_info *info)
{
	for (size_t i = 0; i < hs_guard_rule_count(g); i++) {
		hs_guard_rule_info(g, i, info);
		if (strcmp(info->id, id) == 0)
			return info;
	}
	return NULL;
}

static bool message_ok(const struct hs_guard *g, const struct hs_guard_finding *f,
		       const char *rule_message)
{
	const char *m = f->message, *more = strstr(m, " (and ");
	size_t n = more ? (size_t)(more - m) : strlen(m);
	struct hs_guard_rule_info info;
	if (more && (!strstr(more, " more in this file)") || more[strlen(more) - 1] != ')'))
		return false;
	if (strlen(rule_message) == n && strncmp(rule_message, m, n) == 0)
		return true;
	if (strcmp(f->rule_id, "guard.match-limit") != 0 || strncmp(m, "rule ", 5) != 0)
		return false;
	char id[128];
	size_t k = strcspn(m + 5, " ");
	if (k >= sizeof(id))
		return false;
	memcpy(id, m + 5, k);
	id[k] = '\0';
	return rule_of(g, id, &info) != NULL;
}

static void check_excerpt(const struct hs_guard *g, const char *excerpt)
{
	check(strlen(excerpt) <= HS_GUARD_EXCERPT_MAX, "an excerpt is too long");
	for (const unsigned char *c = (const unsigned char *)excerpt; *c; c++)
		check(*c >= 0x20 && *c != 0x7f, "an excerpt holds a control character");
	struct hs_change c = {
	    .kind = HS_CHANGE_ADDED,
	    .path = "excerpt.txt",
	    .new_mode = S_IFREG | 0644,
	    .new_data = excerpt,
	    .new_len = strlen(excerpt),
	    .new_size = strlen(excerpt),
	};
	struct hs_guard_findings f = {0};
	struct hs_error err;
	check(hs_guard_check(g, &c, &f, &err) == 0, "checking an excerpt failed");
	for (size_t i = 0; i < f.n; i++)
		check(strncmp(f.v[i].rule_id, "secret.", 7) != 0, "an excerpt shows a secret");
	hs_guard_findings_free(&f);
}

static void check_findings(const struct hs_guard *g, const struct hs_change *c,
			   const struct hs_guard_findings *f)
{
	size_t lines = c->new_data ? count_lines(c->new_data, c->new_len) : 0;
	for (size_t i = 0; i < f->n; i++) {
		const struct hs_guard_finding *x = &f->v[i];
		struct hs_guard_rule_info info;
		check(x->rule_id && rule_of(g, x->rule_id, &info), "a finding of no rule");
		check(info.enabled, "a finding of a disabled rule");
		check(x->severity == info.severity,
		      "a finding with another severity than its rule");
		check(x->path && strcmp(x->path, c->path) == 0, "a finding with another path");
		check(x->message && message_ok(g, x, info.message), "a finding's message");
		check(x->line <= lines, "a finding past the last line");
		check(!x->excerpt || x->line > 0, "an excerpt without a line");
		if (x->excerpt)
			check_excerpt(g, x->excerpt);
	}
	check(hs_guard_findings_max(f) <= HS_GUARD_BLOCK, "findings_max out of range");
	check((hs_guard_findings_max(f) < 0) == (f->n == 0), "findings_max of nothing");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const mode_t modes[] = {0644, 0755, 04755, 02644};
	if (size < 1 || size > 8192)
		return 0;
	uint8_t ctl = data[0];
	const char *rest = (const char *)data + 1, *end = (const char *)data + size;
	const char *nl = memchr(rest, '\n', (size_t)(end - rest));
	size_t plen = nl ? (size_t)(nl - rest) : (size_t)(end - rest);
	char *path = strndup(rest, plen > 255 ? 255 : plen);
	if (!*path) {
		free(path);
		path = strdup("f");
	}
	const char *body = nl ? nl + 1 : end;
	const char *sep = memchr(body, 0x1e, (size_t)(end - body));
	const char *old = body, *new_ = sep ? sep + 1 : body;
	size_t old_len = sep ? (size_t)(sep - body) : 0, new_len = (size_t)(end - new_);
	/* own copies, so that a read past the end is caught */
	char *o = malloc(old_len + 1), *n = malloc(new_len + 1);
	memcpy(o, old, old_len);
	memcpy(n, new_, new_len);
	o[old_len] = n[new_len] = '\0';

	struct hs_change c = {
	    .kind = (enum hs_change_kind)((ctl & 7) % 6),
	    .path = path,
	    .old_path = (ctl & 7) % 6 == HS_CHANGE_RENAMED ? ".env" : NULL,
	    .old_mode = S_IFREG | 0644,
	    .new_mode = S_IFREG | modes[ctl >> 6],
	    .old_data = (ctl & 0x10) ? NULL : o,
	    .old_len = (ctl & 0x10) ? 0 : old_len,
	    .new_data = (ctl & 0x20) ? NULL : n,
	    .new_len = (ctl & 0x20) ? 0 : new_len,
	    .new_truncated = (ctl & 0x20) != 0,
	    .new_size = new_len,
	};
	if (c.kind == HS_CHANGE_DELETED) {
		c.new_mode = 0;
		c.new_data = NULL;
		c.new_len = 0;
		c.new_truncated = 0;
	}
	const struct hs_guard *g = guard((ctl & 8) != 0);
	struct hs_guard_findings f = {0}, f2 = {0};
	struct hs_error err;
	check(hs_guard_check(g, &c, &f, &err) == 0, "hs_guard_check failed");
	check_findings(g, &c, &f);
	check(hs_guard_check(g, &c, &f2, &err) == 0, "hs_guard_check failed the second time");
	check(f.n == f2.n, "two checks of one change differ");
	for (size_t i = 0; i < f.n; i++)
		check(strcmp(f.v[i].rule_id, f2.v[i].rule_id) == 0 && f.v[i].line == f2.v[i].line &&
			  (!f.v[i].excerpt) == (!f2.v[i].excerpt) &&
			  (!f.v[i].excerpt || strcmp(f.v[i].excerpt, f2.v[i].excerpt) == 0),
		      "two checks of one change differ");
	hs_guard_findings_free(&f);
	hs_guard_findings_free(&f2);
	free(path);
	free(o);
	free(n);
	return 0;
}
