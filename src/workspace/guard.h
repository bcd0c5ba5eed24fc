/*
 * guard.h: the review gate's linter. Every change a --review run staged
 * is checked against rules before it can be applied; a finding of
 * severity "block" stops `harness apply` unless a human approves it.
 *
 * Rule classes (built in, each with an id, a severity and a message;
 * configurable by the policy's "guard" section: disable a rule, change
 * its severity, add rules of one's own):
 *   - sensitive paths: .env* (not .env.example/.env.sample/.env.template),
 *     .git/hooks (anything in it), .git/config, CI workflows (.github/workflows (anything in it),
 *     .gitlab-ci.yml, ...), shell rc files, SSH and cloud credential
 *     files, agent config dirs (.claude/, .codex/, .mcp.json, .vscode/);
 *   - dangerous content in added lines: destructive SQL (DROP DATABASE,
 *     DROP TABLE, TRUNCATE, DELETE FROM without WHERE), rm -rf of / or ~,
 *     chmod 777 / -R 777, sudo rm, kubectl delete, docker rm -f $(docker
 *     ps ...), curl|wget ... | sh;
 *   - secrets in added lines: private key headers, AWS access key ids,
 *     GitHub/GitLab/Slack/OpenAI/Anthropic/Google token formats;
 *   - new setuid/setgid bits, newly executable files;
 *   - files over a size limit, binary files.
 *
 * Content rules look at added lines only: lines of the new content that
 * the old content does not have (compared as a multiset of lines), so a
 * file that already held a matching line and was merely edited elsewhere
 * does not fire. Patterns are PCRE2 (Debian's libpcre2-8), compiled once,
 * with match limits (hostile input cannot make a match run away).
 */
#ifndef HS_WORKSPACE_GUARD_H
#define HS_WORKSPACE_GUARD_H

#include "common/common.h"
#include "workspace/change.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum hs_guard_severity { HS_GUARD_INFO, HS_GUARD_WARN, HS_GUARD_BLOCK };

const char *hs_guard_severity_name(enum hs_guard_severity s); /* "info", "warn", "block" */

struct hs_guard_finding {
	char *rule_id;	/* e.g. "secret.aws-access-key" */
	enum hs_guard_severity severity;
	char *path;	/* the change's path */
	unsigned line;	/* 1-based line in the new content, 0 when not about a line */
	char *message;	/* what and why, one sentence; never contains the secret */
	char *excerpt;	/* the matching line, cut to 120 bytes, secrets masked
			   (all but 4 characters replaced by '*'); NULL if none */
};

struct hs_guard_findings {
	struct hs_guard_finding *v;
	size_t n, cap;
};

void hs_guard_findings_free(struct hs_guard_findings *f);
/* The highest severity among the findings, or -1 when there are none. */
int hs_guard_findings_max(const struct hs_guard_findings *f);

struct hs_guard;

/* Compiles the built-in rules as the policy's guard section adjusts them
 * (see policy.h: struct hs_guard_config). NULL cfg: the built-ins as
 * shipped. */
struct hs_guard_config;
struct hs_guard *hs_guard_new(const struct hs_guard_config *cfg, struct hs_error *err);
void hs_guard_free(struct hs_guard *g);

/* Checks one change; appends its findings. Returns 0, or -1 on an
 * internal error (out of memory, a match limit hit is a finding, not an
 * error: rule "guard.match-limit", warn). */
int hs_guard_check(const struct hs_guard *g, const struct hs_change *c,
		   struct hs_guard_findings *out, struct hs_error *err);

/* The rules, for `harness policy show` and docs: id, severity, message. */
struct hs_guard_rule_info {
	const char *id, *message;
	enum hs_guard_severity severity;
	bool enabled;
};
size_t hs_guard_rule_count(const struct hs_guard *g);
void hs_guard_rule_info(const struct hs_guard *g, size_t i, struct hs_guard_rule_info *out);

/* ---- bounds (docs/guard.md) ---- */

#define HS_GUARD_EXCERPT_MAX 120	      /* bytes of an excerpt, "..." markers included */
#define HS_GUARD_DEFAULT_MAX_FILE (10u << 20) /* bigger content is not scanned */
#define HS_GUARD_MAX_PATTERN 4096	      /* bytes of a policy's pattern or glob */
#define HS_GUARD_MATCH_LIMIT 1000000u	      /* pcre2_set_match_limit, per line */
#define HS_GUARD_DEPTH_LIMIT 10000u	      /* pcre2_set_depth_limit */
#define HS_GUARD_HEAP_LIMIT (32u * 1024)      /* pcre2_set_heap_limit, KiB */
/* Findings of one rule in one change; the last one says how many more
 * lines matched ("(and N more in this file)"). */
#define HS_GUARD_MAX_PER_RULE 20

/* ---- for the policy loader (src/policy/load.c) and the tests ---- */

/* The built-in rules as shipped (enabled, default severity). Their ids
 * are the ones guard.disable and guard.severity may name. */
size_t hs_guard_builtin_count(void);
void hs_guard_builtin_info(size_t i, struct hs_guard_rule_info *out);

/* "info", "warn", "block" -> *out; -1 for anything else. */
int hs_guard_severity_parse(const char *s, enum hs_guard_severity *out);

/* Does this PCRE2 pattern (a policy rule's "content") compile the way
 * the guard compiles it? -1 with PCRE2's message in why[] and the byte
 * offset in the pattern where it went wrong in *offset. */
int hs_guard_pattern_check(const char *pattern, size_t *offset, char *why, size_t len);
/* Is this a usable "path" glob (relative, no "..", bounded)? */
int hs_guard_glob_check(const char *glob, char *why, size_t len);

/* Rules that test themselves (policy.h: struct hs_guard_user_rule): does
 * the rule match `example`? With "content", the example is file content
 * (any of its lines matching is a match); with only "path", it is a
 * relative path. -1 (why[] says) when the pattern does not compile or
 * the match limit is hit. */
struct hs_guard_user_rule;
int hs_guard_rule_test(const struct hs_guard_user_rule *r, const char *example, bool *matched,
		       char *why, size_t len);

/* Runs the examples of every built-in rule (each must fire on its
 * positives and stay quiet on its near-misses). -1 with the first
 * failure in err. */
int hs_guard_self_test(struct hs_error *err);

#endif
