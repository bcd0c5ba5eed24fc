/*
 * fuzz_textdiff.c: libFuzzer target for the unified diff of two texts
 * (workspace/textdiff.c).
 *
 * Input: one control byte (context = its low 3 bits), two bytes giving
 * the old text's length (big-endian, taken modulo what is left), the old
 * text, then the new text. Invariants (violations abort):
 *   - HS_TEXTDIFF_SAME exactly when the texts are equal, with no output
 *     and zero stats; else HS_TEXTDIFF_DIFFERENT, or HS_TEXTDIFF_TOO_BIG
 *     with no output (only a contrived input this small could cost so
 *     much);
 *   - the output is unified hunks: "@@ -a[,b] +c[,d] @@" and anything up
 *     to the newline, then lines starting with ' ', '-', '+', each last
 *     line of a text that lacks a newline followed by
 *     "\ No newline at end of file"; the counts in the header match the
 *     lines of the hunk; hunks come in order with unchanged lines between
 *     them; no run of context is longer than the context asked for
 *     (2 * context inside a hunk);
 *   - applying the hunks to the old text gives the new text byte for byte
 *     (the small, strict patch applier below: context and removed lines
 *     must equal the old text's lines, final newline included);
 *   - the stats count the '+' lines, the '-' lines and the hunks;
 *   - a second run prints the same bytes, and an emit that fails makes
 *     the diff return HS_TEXTDIFF_ERROR.
 */
#include "workspace/textdiff.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define INPUT_MAX (1u << 16)

static const char no_newline[] = "\\ No newline at end of file\n";

static void check(bool ok, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_textdiff: %s\n", what);
	abort();
}

struct buf {
	char *p;
	size_t n, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		check(b->p != NULL, "out of memory");
	}
	if (n)
		memcpy(b->p + b->n, s, n);
	b->n += n;
}

static int collect(void *ctx, const char *s, size_t len)
{
	check(len > 0, "an empty piece emitted");
	buf_add(ctx, s, len);
	return 0;
}

static int refuse(void *ctx, const char *s, size_t len)
{
	(void)s;
	(void)len;
	++*(int *)ctx;
	return -1;
}

/* A text as lines: line i is [start[i], start[i + 1]). */
struct lines {
	const char *text;
	size_t *start;
	size_t n;
};

static void split_lines(struct lines *l, const char *text, size_t len)
{
	l->text = text;
	l->start = malloc((len + 2) * sizeof(*l->start));
	check(l->start != NULL, "out of memory");
	l->n = 0;
	size_t pos = 0;
	while (pos < len) {
		l->start[l->n++] = pos;
		const char *nl = memchr(text + pos, '\n', len - pos);
		pos = nl ? (size_t)(nl - text) + 1 : len;
	}
	l->start[l->n] = len;
}

/* Reads "N" or "N,M" at *p; the count defaults to 1. */
static bool parse_range(const char **p, const char *end, size_t *num, size_t *count)
{
	const char *s = *p;
	if (s >= end || *s < '0' || *s > '9')
		return false;
	*num = 0;
	while (s < end && *s >= '0' && *s <= '9')
		*num = *num * 10 + (size_t)(*s++ - '0');
	*count = 1;
	if (s < end && *s == ',') {
		s++;
		if (s >= end || *s < '0' || *s > '9')
			return false;
		*count = 0;
		while (s < end && *s >= '0' && *s <= '9')
			*count = *count * 10 + (size_t)(*s++ - '0');
	}
	*p = s;
	return true;
}

static bool starts(const char *p, const char *end, const char *lit)
{
	size_t n = strlen(lit);
	return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0;
}

/*
 * Applies the diff in out to the old text, checking the format on the
 * way; returns the new text (owned by the caller) and the counts of
 * added and removed lines and hunks.
 */
static struct buf apply(const struct lines *old, const struct buf *out, unsigned context,
			struct hs_textdiff_stats *seen)
{
	struct buf res = {0};
	const char *p = out->p, *end = out->p + out->n;
	size_t cursor = 0;    /* next old line to copy */
	size_t res_lines = 0; /* lines of the new text so far */
	bool first = true;
	memset(seen, 0, sizeof(*seen));
	while (p < end) {
		check(starts(p, end, "@@ -"), "a hunk does not start with \"@@ -\"");
		p += 4;
		size_t s1, c1, s2, c2;
		check(parse_range(&p, end, &s1, &c1), "bad old range");
		check(starts(p, end, " +"), "no \" +\" in the header");
		p += 2;
		check(parse_range(&p, end, &s2, &c2), "bad new range");
		check(starts(p, end, " @@"), "no \" @@\" in the header");
		p += 3;
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		check(nl != NULL, "an unterminated header");
		check(nl == p || *p == ' ', "the function name is not set off by a space");
		p = nl + 1;
		seen->hunks++;

		/* 0-based first old line; a count of 0 names the line before */
		size_t at = c1 ? s1 - 1 : s1;
		check(c1 == 0 || s1 >= 1, "a hunk at old line 0");
		check(first ? at >= cursor : at > cursor, "hunks overlap or touch");
		check(at <= old->n, "a hunk past the old text");
		for (; cursor < at; cursor++, res_lines++)
			buf_add(&res, old->text + old->start[cursor],
				old->start[cursor + 1] - old->start[cursor]);
		first = false;
		/* the new side starts where the new text has got to */
		check(c2 ? s2 == res_lines + 1 : s2 == res_lines,
		      "new start in the header is wrong");

		size_t n_ctx = 0, n_del = 0, n_add = 0, ctx_run = 0, changes = 0;
		bool lead = true;
		char last_kind = 0;
		while (p < end && !starts(p, end, "@@ ")) {
			char kind = *p;
			const char *line = p + 1;
			nl = memchr(line, '\n', (size_t)(end - line));
			check(nl != NULL, "an unterminated line");
			size_t len = (size_t)(nl + 1 - line);
			p = nl + 1;
			bool missing_nl = starts(p, end, no_newline);
			if (missing_nl) {
				p += sizeof(no_newline) - 1;
				len--; /* the newline was the marker's */
			}
			if (kind == ' ' || kind == '-') {
				check(cursor < old->n, "context or removal past the old text");
				size_t olen = old->start[cursor + 1] - old->start[cursor];
				check(olen == len &&
					  memcmp(old->text + old->start[cursor], line, len) == 0,
				      "context or removed line differs from the old text");
				check(!missing_nl || cursor + 1 == old->n,
				      "no-newline marker on an old line that is not the last");
				if (kind == ' ') {
					buf_add(&res, line, len);
					res_lines++;
				}
				cursor++;
			} else if (kind == '+') {
				buf_add(&res, line, len);
				res_lines++;
			} else {
				check(false, "a line that is not ' ', '-' or '+'");
			}
			if (kind == ' ') {
				n_ctx++;
				ctx_run++;
				check(ctx_run <= (lead ? context : 2 * context),
				      "more context than asked for");
			} else {
				if (kind == '-')
					n_del++;
				else
					n_add++;
				if (last_kind == ' ' || last_kind == 0)
					changes++;
				lead = false;
				ctx_run = 0;
			}
			last_kind = kind;
		}
		check(changes > 0, "a hunk without changes");
		check(ctx_run <= context, "more trailing context than asked for");
		check(n_ctx + n_del == c1, "old count in the header is wrong");
		check(n_ctx + n_add == c2, "new count in the header is wrong");
		seen->added += n_add;
		seen->removed += n_del;
	}
	for (; cursor < old->n; cursor++)
		buf_add(&res, old->text + old->start[cursor],
			old->start[cursor + 1] - old->start[cursor]);
	return res;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3 || size > INPUT_MAX)
		return 0;
	unsigned context = data[0] & 7;
	size_t rest = size - 3;
	size_t alen = ((size_t)data[1] << 8 | data[2]) % (rest + 1);
	const char *a = (const char *)data + 3, *b = a + alen;
	size_t blen = rest - alen;
	bool equal = alen == blen && memcmp(a, b, alen) == 0;

	struct buf out = {0};
	struct hs_textdiff_stats st;
	int rc = hs_textdiff(a, alen, b, blen, context, collect, &out, &st);
	if (equal) {
		check(rc == HS_TEXTDIFF_SAME, "equal texts not reported the same");
		check(out.n == 0 && st.added == 0 && st.removed == 0 && st.hunks == 0,
		      "output for equal texts");
		free(out.p);
		return 0;
	}
	if (rc == HS_TEXTDIFF_TOO_BIG) {
		check(out.n == 0, "output before giving up");
		free(out.p);
		return 0;
	}
	check(rc == HS_TEXTDIFF_DIFFERENT, "different texts not reported different");
	check(out.n > 0 && out.p[out.n - 1] == '\n', "output does not end a line");

	struct lines old;
	split_lines(&old, a, alen);
	struct hs_textdiff_stats seen;
	struct buf res = apply(&old, &out, context, &seen);
	check(res.n == blen && (blen == 0 || memcmp(res.p, b, blen) == 0),
	      "the hunks applied to the old text do not give the new text");
	check(seen.added == st.added && seen.removed == st.removed && seen.hunks == st.hunks,
	      "stats do not count the lines printed");

	struct buf again = {0};
	check(hs_textdiff(a, alen, b, blen, context, collect, &again, NULL) ==
		      HS_TEXTDIFF_DIFFERENT &&
		  again.n == out.n && memcmp(again.p, out.p, out.n) == 0,
	      "a second run differs");
	int calls = 0;
	check(hs_textdiff(a, alen, b, blen, context, refuse, &calls, NULL) == HS_TEXTDIFF_ERROR,
	      "a failing emit was not reported");
	check(calls == 1, "emit called again after it failed");

	free(old.start);
	free(res.p);
	free(again.p);
	free(out.p);
	return 0;
}
