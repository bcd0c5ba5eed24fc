/*
 * textdiff.h: unified diffs of two texts, for `harness diff` (the review
 * gate shows what an agent changed before it lands).
 *
 * Pure code: no I/O, no global state. The output matches what
 * `git diff --no-index` prints for the same two files (its default Myers
 * algorithm, 3 lines of context, hunks merged when their contexts touch,
 * "\ No newline at end of file" markers), from the first "@@" line on:
 * the caller prints the headers ("diff --git", "---", "+++") itself.
 *
 * Lines are split on '\n' only ("\r\n" keeps its '\r' in the line, as git
 * does). Inputs may be large (megabytes) and hostile (written by the
 * agent): time and memory are bounded by HS_TEXTDIFF_MAX_COST and
 * HS_TEXTDIFF_MAX_LINES; past them, hs_textdiff returns HS_TEXTDIFF_TOO_BIG
 * and the caller says the files differ without a line diff.
 *
 * Exactly which git: `git diff --no-index` of git 2.39 with no
 * configuration (GIT_CONFIG_NOSYSTEM=1, GIT_CONFIG_GLOBAL=/dev/null) and
 * no attributes: Myers with xdiff's shortcuts (not --minimal), the indent
 * heuristic on (git's default since 2.14), the default function-name rule
 * after "@@" (the nearest line above the hunk that starts with a letter,
 * '_' or '$', cut to 80 bytes and at the first byte that is not UTF-8),
 * and with context 0 the same common-tail trimming git does for -U0; any
 * context up to INT_MAX (git reads -U into an int). The unit test
 * compares byte for byte against the installed git.
 */
#ifndef HS_WORKSPACE_TEXTDIFF_H
#define HS_WORKSPACE_TEXTDIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Edit-graph work (D * (N + M) steps of Myers' algorithm, roughly) past
 * which a diff is given up. */
#define HS_TEXTDIFF_MAX_COST (200u * 1000u * 1000u)

/* Lines in the two texts together past which a diff is given up before
 * any allocation: the working memory is at most about 64 bytes a line,
 * so this caps it near 64 MiB. */
#define HS_TEXTDIFF_MAX_LINES (1u << 20)

enum {
	HS_TEXTDIFF_SAME = 0,	  /* identical: nothing emitted */
	HS_TEXTDIFF_DIFFERENT = 1,/* hunks emitted */
	HS_TEXTDIFF_TOO_BIG = 2,  /* gave up: nothing emitted */
	HS_TEXTDIFF_ERROR = -1,	  /* out of memory, or emit returned nonzero */
};

/* Receives the output in pieces (not NUL-terminated); returns 0 to go on. */
typedef int (*hs_textdiff_emit)(void *ctx, const char *s, size_t len);

struct hs_textdiff_stats {
	size_t added, removed; /* lines, as `git diff --numstat` counts them */
	size_t hunks;
};

/* Diffs a (the old text) against b (the new). context: lines of context
 * (3 for git's default). stats may be NULL; so may emit, to only count. */
int hs_textdiff(const char *a, size_t alen, const char *b, size_t blen, unsigned context,
		hs_textdiff_emit emit, void *ctx, struct hs_textdiff_stats *stats);

/* Does this content look binary, the way git decides it: a NUL byte in
 * the first 8000 bytes. */
bool hs_textdiff_is_binary(const char *s, size_t len);

#endif
