/*
 * test_textdiff.c: unified diffs (workspace/textdiff.h). Hand cases for
 * the edges of the format (empty sides, missing final newlines, CRLF,
 * hunk merging at exactly 2 * context lines, function names, the indent
 * heuristic), then randomized texts compared byte for byte with what the
 * installed git prints for `git diff --no-index` (skipped when there is
 * no git), then the cost bounds: hostile inputs give HS_TEXTDIFF_TOO_BIG
 * within a few seconds and without growing memory past a bound.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "workspace/textdiff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct buf {
	char *p;
	size_t n, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		b->cap = (b->n + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static int collect(void *ctx, const char *s, size_t len)
{
	buf_add(ctx, s, len);
	return 0;
}

/* The diff of a and b as a string ("" when nothing was emitted). */
static char *diff_n(const char *a, size_t alen, const char *b, size_t blen, unsigned context,
		    int *rc, struct hs_textdiff_stats *st)
{
	struct buf out = {0};
	buf_add(&out, "", 0);
	*rc = hs_textdiff(a, alen, b, blen, context, collect, &out, st);
	return out.p;
}

/* Diffs two C strings with context 3 and checks the result code and
 * the exact output. */
static void expect(const char *a, const char *b, int want_rc, const char *want)
{
	int rc;
	struct hs_textdiff_stats st;
	char *got = diff_n(a, strlen(a), b, strlen(b), 3, &rc, &st);
	if (rc != want_rc || strcmp(got, want) != 0)
		fail_msg("diff of \"%s\" and \"%s\": rc %d, got\n%s\nwanted\n%s", a, b, rc, got,
			 want);
	/* the stats agree with the lines printed */
	size_t plus = 0, minus = 0, hunks = 0;
	for (const char *l = got; *l; l = strchr(l, '\n') + 1) {
		plus += *l == '+';
		minus += *l == '-';
		hunks += strncmp(l, "@@ ", 3) == 0;
	}
	assert_int_equal(st.added, plus);
	assert_int_equal(st.removed, minus);
	assert_int_equal(st.hunks, hunks);
	free(got);
}

static void test_empty_and_whole(void **state)
{
	(void)state;
	expect("", "", HS_TEXTDIFF_SAME, "");
	expect("same\n", "same\n", HS_TEXTDIFF_SAME, "");
	expect("", "a\nb\n", HS_TEXTDIFF_DIFFERENT, "@@ -0,0 +1,2 @@\n+a\n+b\n");
	expect("a\nb\n", "", HS_TEXTDIFF_DIFFERENT, "@@ -1,2 +0,0 @@\n-a\n-b\n");
	expect("", "x", HS_TEXTDIFF_DIFFERENT, "@@ -0,0 +1 @@\n+x\n\\ No newline at end of file\n");
	expect("x\n", "y\n", HS_TEXTDIFF_DIFFERENT, "@@ -1 +1 @@\n-x\n+y\n");
	expect("x", "y", HS_TEXTDIFF_DIFFERENT,
	       "@@ -1 +1 @@\n-x\n\\ No newline at end of file\n+y\n"
	       "\\ No newline at end of file\n");
}

static void test_final_newline(void **state)
{
	(void)state;
	expect("a\nb", "a\nb\n", HS_TEXTDIFF_DIFFERENT,
	       "@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n");
	expect("a\nb\n", "a\nb", HS_TEXTDIFF_DIFFERENT,
	       "@@ -1,2 +1,2 @@\n a\n-b\n+b\n\\ No newline at end of file\n");
	expect("a\nb", "a\nc", HS_TEXTDIFF_DIFFERENT,
	       "@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n"
	       "\\ No newline at end of file\n");
	/* an unchanged last line without newline is context as it is */
	expect("a\nb\nc", "A\nb\nc", HS_TEXTDIFF_DIFFERENT,
	       "@@ -1,3 +1,3 @@\n-a\n+A\n b\n c\n\\ No newline at end of file\n");
}

static void test_crlf(void **state)
{
	(void)state;
	/* '\r' stays in the line: only the '\r' differs here */
	expect("a\r\nb\r\n", "a\r\nb\n", HS_TEXTDIFF_DIFFERENT,
	       "@@ -1,2 +1,2 @@\n a\r\n-b\r\n+b\n");
	expect("one\r\ntwo\r\n", "one\r\n2\r\n", HS_TEXTDIFF_DIFFERENT,
	       "@@ -1,2 +1,2 @@\n one\r\n-two\r\n+2\r\n");
}

/* "1\n2\n...n\n" with lines k1 and k2 (1-based, 0 for none) changed. No
 * line starts with a letter in the old text, so no function names. */
static char *numbered(int n, int k1, int k2)
{
	struct buf b = {0};
	char line[32];
	for (int i = 1; i <= n; i++) {
		if (i == k1 || i == k2)
			snprintf(line, sizeof(line), "changed %d\n", i);
		else
			snprintf(line, sizeof(line), "%d\n", i);
		buf_add(&b, line, strlen(line));
	}
	return b.p;
}

static void test_start_end_and_merging(void **state)
{
	(void)state;
	char *a = numbered(20, 0, 0), *b;
	b = numbered(20, 1, 0);
	expect(a, b, HS_TEXTDIFF_DIFFERENT, "@@ -1,4 +1,4 @@\n-1\n+changed 1\n 2\n 3\n 4\n");
	free(b);
	b = numbered(20, 20, 0);
	expect(a, b, HS_TEXTDIFF_DIFFERENT, "@@ -17,4 +17,4 @@\n 17\n 18\n 19\n-20\n+changed 20\n");
	free(b);
	/* 6 unchanged lines between two changes: their contexts touch, one hunk */
	b = numbered(20, 3, 10);
	expect(a, b, HS_TEXTDIFF_DIFFERENT,
	       "@@ -1,13 +1,13 @@\n 1\n 2\n-3\n+changed 3\n 4\n 5\n 6\n 7\n 8\n 9\n-10\n"
	       "+changed 10\n 11\n 12\n 13\n");
	free(b);
	/* 7 unchanged lines: two hunks */
	b = numbered(20, 3, 11);
	expect(a, b, HS_TEXTDIFF_DIFFERENT,
	       "@@ -1,6 +1,6 @@\n 1\n 2\n-3\n+changed 3\n 4\n 5\n 6\n"
	       "@@ -8,7 +8,7 @@\n 8\n 9\n 10\n-11\n+changed 11\n 12\n 13\n 14\n");
	free(b);
	free(a);
}

static void test_function_names(void **state)
{
	(void)state;
	const char *a =
	    "int main(void)\n{\n\tint a;\n\tint b;\n\tint c;\n\tint d;\n\treturn 0;\n}\n";
	const char *b =
	    "int main(void)\n{\n\tint a;\n\tint b;\n\tint c;\n\tint d;\n\treturn 1;\n}\n";
	expect(a, b, HS_TEXTDIFF_DIFFERENT,
	       "@@ -4,5 +4,5 @@ int main(void)\n \tint b;\n \tint c;\n \tint d;\n-\treturn 0;\n"
	       "+\treturn 1;\n }\n");
	/* '_' and '$' start names too; trailing whitespace is dropped */
	expect("_f  \t\n1\n2\n3\n4\n", "_f  \t\n1\n2\n3\nX\n", HS_TEXTDIFF_DIFFERENT,
	       "@@ -2,4 +2,4 @@ _f\n 1\n 2\n 3\n-4\n+X\n");
	expect("$v\n1\n2\n3\n4\n", "$v\n1\n2\n3\nX\n", HS_TEXTDIFF_DIFFERENT,
	       "@@ -2,4 +2,4 @@ $v\n 1\n 2\n 3\n-4\n+X\n");
	/* cut to 80 bytes, and then at a UTF-8 character the cut split: the
	 * name is 79 'f' and a 2-byte character, so the header stops before it */
	char longa[256], longb[256], want[256];
	char name[100];
	memset(name, 'f', 79);
	memcpy(name + 79, "\xc3\xa9xyz", 6);
	snprintf(longa, sizeof(longa), "%s\n1\n2\n3\n4\n", name);
	snprintf(longb, sizeof(longb), "%s\n1\n2\n3\nX\n", name);
	snprintf(want, sizeof(want), "@@ -2,4 +2,4 @@ %.79s\n 1\n 2\n 3\n-4\n+X\n", name);
	expect(longa, longb, HS_TEXTDIFF_DIFFERENT, want);
}

static void test_indent_heuristic(void **state)
{
	(void)state;
	/* Without the heuristic git puts the insertion after the first
	 * "\tx;"; with it (git's default), before. */
	expect("if (y)\n\n\tx;\n\n\t\tz;\n", "if (y)\n\n\tx;\n\tx;\nif (y)\n\tx;\n\n\t\tz;\n",
	       HS_TEXTDIFF_DIFFERENT,
	       "@@ -1,5 +1,8 @@\n if (y)\n \n+\tx;\n+\tx;\n+if (y)\n \tx;\n \n \t\tz;\n");
}

static void test_context_zero(void **state)
{
	(void)state;
	int rc;
	char *got = diff_n("a\nb\nc\n", 6, "a\nc\n", 4, 0, &rc, NULL);
	assert_int_equal(rc, HS_TEXTDIFF_DIFFERENT);
	assert_string_equal(got, "@@ -2 +1,0 @@ a\n-b\n");
	free(got);
	got = diff_n("a\nc\n", 4, "a\nb\nc\n", 6, 0, &rc, NULL);
	assert_string_equal(got, "@@ -1,0 +2 @@ a\n+b\n");
	free(got);
}

static int fail_after_one(void *ctx, const char *s, size_t len)
{
	(void)s;
	(void)len;
	return ++*(int *)ctx > 1;
}

static void test_emit_error_and_binary(void **state)
{
	(void)state;
	/* a diff longer than the output batch, so emit is called twice */
	struct buf a = {0}, b = {0};
	for (int i = 0; i < 4000; i++) {
		buf_add(&a, "some line of text\n", 18);
		buf_add(&b, i % 2 ? "some line of text\n" : "another line\n", i % 2 ? 18 : 13);
	}
	int calls = 0;
	assert_int_equal(hs_textdiff(a.p, a.n, b.p, b.n, 3, fail_after_one, &calls, NULL),
			 HS_TEXTDIFF_ERROR);
	free(a.p);
	free(b.p);

	/* no emit: the stats alone */
	struct hs_textdiff_stats st;
	assert_int_equal(hs_textdiff("a\nb\nc\n", 6, "a\nB\nc\nd\n", 8, 3, NULL, NULL, &st),
			 HS_TEXTDIFF_DIFFERENT);
	assert_int_equal(st.added, 2);
	assert_int_equal(st.removed, 1);
	assert_int_equal(st.hunks, 1);

	assert_false(hs_textdiff_is_binary("", 0));
	assert_false(hs_textdiff_is_binary("text\n", 5));
	assert_true(hs_textdiff_is_binary("a\0b", 3));
	char *big = calloc(9000, 1);
	memset(big, 'x', 9000);
	big[8000] = '\0';
	assert_false(hs_textdiff_is_binary(big, 9000)); /* past git's 8000 bytes */
	big[7999] = '\0';
	assert_true(hs_textdiff_is_binary(big, 9000));
	free(big);
}

/* ---- against git ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static unsigned below(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static bool have_git(void)
{
	return system("git --version >/dev/null 2>&1") == 0;
}

static void write_file(const char *path, const char *s, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(s, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* What git prints from the first "@@" line on. The files sit in a fresh
 * directory outside any repository, read with no system or user config,
 * so only git's defaults apply. */
static char *git_diff(const char *dir, unsigned context)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null "
		 "git diff --no-index --no-color -U%u a b",
		 dir, context);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	struct buf out = {0};
	char chunk[65536];
	size_t n;
	buf_add(&out, "", 0);
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		buf_add(&out, chunk, n);
	int st = pclose(p);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) <= 1);
	char *at = strncmp(out.p, "@@ ", 3) == 0 ? out.p : strstr(out.p, "\n@@ ");
	size_t skip = at ? (size_t)(at - out.p) + (at != out.p) : out.n;
	memmove(out.p, out.p + skip, out.n - skip + 1);
	return out.p;
}

static void compare_with_git(const char *dir, const struct buf *a, const struct buf *b,
			     unsigned context)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/a", dir);
	write_file(path, a->p, a->n);
	snprintf(path, sizeof(path), "%s/b", dir);
	write_file(path, b->p, b->n);
	char *want = git_diff(dir, context);
	int rc;
	char *got = diff_n(a->p, a->n, b->p, b->n, context, &rc, NULL);
	if (strcmp(got, want) != 0) {
		/* keep the pair for a look */
		snprintf(path, sizeof(path), "cp '%s/a' '%s/b' /tmp/ 2>/dev/null", dir, dir);
		if (system(path) != 0)
			print_message("could not keep the failing pair\n");
		fail_msg("differs from git (-U%u, pair kept as /tmp/a, /tmp/b):\n--- git\n%s\n"
			 "--- ours\n%s",
			 context, want, got);
	}
	assert_int_equal(rc, a->n == b->n && memcmp(a->p, b->p, a->n) == 0 ? HS_TEXTDIFF_SAME
									   : HS_TEXTDIFF_DIFFERENT);
	free(want);
	free(got);
}

/* Line pools that make git's choices matter: few distinct lines (so many
 * equal lines to slide over, and "many twins" lines), indentation and
 * blank lines (the indent heuristic), lines that name functions, CRLF,
 * and bytes that are not UTF-8 (the header cut). */
static const char *const pools[][24] = {
    {"a\n", "b\n", "c\n", "\n", "  x\n", "\tfoo\n", "}\n", "{\n", "int f()\n", "_x\n", "$y\n",
     NULL},
    {"x\n", "\n", "    a\n", "        b\n", "    }\n", "}\n", "if (x) {\n", "\t\tq\n", "\r\n",
     "z\r\n", " \t \n", NULL},
    {"fn \xc3\xa9t\xc3\xa9\n",
     "fn \xff\xfe\n",
     "1\n",
     "2\n",
     "\n",
     "\t\n",
     "f\xe2\x82\n",
     "\xf0\x9f\x98\x80 smile\n",
     "s\xed\xa0\x80 surrogate\n",
     "\v\f\n",
     "t\v\n",
     "\v\tx\n",
     "o\xc0\xaf\n",
     "e\xe0\x80\x80\n",
     "q\xef\xbf\xbe\n",
     "h\xf4\x90\x80\x80\n",
     "v\xf0\x80\x80\x80\n",
     "k\xc3\n",
     "u\xf0\x9f\x98\x80\n",
     "w\xe2\x82\xac\n",
     "x\xc2\xa0\n",
     NULL},
};

static void random_text(struct buf *t, int pool, unsigned n)
{
	const char *const *p = pools[pool];
	unsigned np = 0;
	while (p[np])
		np++;
	for (unsigned i = 0; i < n; i++) {
		const char *l = p[below(np)];
		buf_add(t, l, strlen(l));
	}
}

/* Lines found in one text only, mixed with a few lines repeated many
 * times in both: what decides whether git's reduction step drops a
 * repeated line (it does inside long runs of one-sided lines). */
static void mixed_text(struct buf *t, char side, unsigned n, unsigned uniq_pct)
{
	char line[32];
	for (unsigned i = 0; i < n; i++) {
		int len;
		if (below(100) < uniq_pct)
			len = snprintf(line, sizeof(line), "%c%u\n", side, below(1000000));
		else
			len = snprintf(line, sizeof(line), "%s\n", below(3) ? "x" : "  y");
		buf_add(t, line, (size_t)len);
	}
}

/* b = a with a few random inserts, deletes and replacements of lines. */
static void mutate(const struct buf *a, struct buf *b, int pool, unsigned edits)
{
	const char *const *p = pools[pool];
	unsigned np = 0;
	while (p[np])
		np++;
	size_t pos = 0;
	for (unsigned e = 0; e < edits && pos < a->n; e++) {
		size_t skip = below(8);
		while (skip-- && pos < a->n) {
			const char *nl = memchr(a->p + pos, '\n', a->n - pos);
			size_t end = nl ? (size_t)(nl - a->p) + 1 : a->n;
			buf_add(b, a->p + pos, end - pos);
			pos = end;
		}
		unsigned op = below(3);
		if (op != 0) { /* delete (or replace) up to 3 lines */
			for (unsigned k = 1 + below(3); k && pos < a->n; k--) {
				const char *nl = memchr(a->p + pos, '\n', a->n - pos);
				pos = nl ? (size_t)(nl - a->p) + 1 : a->n;
			}
		}
		if (op != 1) /* insert (or replace with) up to 4 lines */
			for (unsigned k = 1 + below(4); k; k--) {
				const char *l = p[below(np)];
				buf_add(b, l, strlen(l));
			}
	}
	if (pos < a->n)
		buf_add(b, a->p + pos, a->n - pos);
}

/* Runs git once over two directories of numbered files (a pair per
 * number) and hands back, per number, what git printed for that pair
 * from its first "@@" line on (NULL where it printed nothing). A line
 * inside a hunk never starts with "diff --git ", so splitting on that
 * header is safe. The strings point into *all, which the caller frees. */
static void git_diff_dirs(const char *dir, unsigned context, size_t count, char **all,
			  char **per_pair)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null "
		 "git diff --no-index --no-color -U%u a%u b%u",
		 dir, context, context, context);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	struct buf out = {0};
	char chunk[65536];
	size_t n;
	buf_add(&out, "\n", 1); /* so that every header follows a newline */
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		buf_add(&out, chunk, n);
	int st = pclose(p);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) <= 1);

	char prefix[64];
	size_t plen = (size_t)snprintf(prefix, sizeof(prefix), "\ndiff --git a/a%u/", context);
	char **heads = calloc(count + 1, sizeof(*heads));
	size_t nh = 0;
	assert_non_null(heads);
	for (char *h = strstr(out.p, "\ndiff --git "); h; h = strstr(h + 1, "\ndiff --git ")) {
		assert_true(nh < count && strncmp(h, prefix, plen) == 0);
		heads[nh++] = h;
	}
	memset(per_pair, 0, count * sizeof(*per_pair));
	for (size_t k = 0; k < nh; k++) {
		unsigned long idx = strtoul(heads[k] + plen, NULL, 10);
		char *at = strstr(heads[k] + 1, "\n@@ ");
		assert_true(idx < count);
		if (at && (k + 1 == nh || at < heads[k + 1]))
			per_pair[idx] = at + 1;
	}
	for (size_t k = 0; k < nh; k++)
		heads[k][1] = '\0'; /* ends the pair before, after its last newline */
	free(heads);
	*all = out.p;
}

#define GIT_PAIRS 1000

/* Random pairs of small texts, each diffed with a random context, against
 * git: the pairs are written out first and git runs once per context. */
static void test_against_git(void **state)
{
	(void)state;
	if (!have_git())
		skip();
	static const unsigned contexts[] = {3, 3, 3, 0, 1, 2, 5};
	static const unsigned distinct[] = {0, 1, 2, 3, 5};
	char dir[] = "/tmp/hs-textdiff-XXXXXX", path[256];
	assert_non_null(mkdtemp(dir));
	for (size_t c = 0; c < 5; c++) {
		snprintf(path, sizeof(path), "%s/a%u", dir, distinct[c]);
		assert_int_equal(mkdir(path, 0700), 0);
		snprintf(path, sizeof(path), "%s/b%u", dir, distinct[c]);
		assert_int_equal(mkdir(path, 0700), 0);
	}
	struct buf *a = calloc(GIT_PAIRS, sizeof(*a)), *b = calloc(GIT_PAIRS, sizeof(*b));
	unsigned *ctx = calloc(GIT_PAIRS, sizeof(*ctx));
	assert_true(a && b && ctx);
	rng_state = 0x5eed1234abcdull;
	for (size_t i = 0; i < GIT_PAIRS; i++) {
		int pool = (int)(i % 4);
		buf_add(&a[i], "", 0);
		buf_add(&b[i], "", 0);
		if (pool == 3) {
			unsigned n = 20 + below(200), pct = 30 + below(60);
			mixed_text(&a[i], 'a', n, pct);
			mixed_text(&b[i], 'b', n, pct);
		} else {
			random_text(&a[i], pool, below(40));
			mutate(&a[i], &b[i], pool, below(6));
		}
		/* drop a final newline now and then */
		if (below(5) == 0 && a[i].n)
			a[i].p[--a[i].n] = '\0';
		if (below(5) == 0 && b[i].n)
			b[i].p[--b[i].n] = '\0';
		ctx[i] = contexts[below(7)];
		snprintf(path, sizeof(path), "%s/a%u/%05zu", dir, ctx[i], i);
		write_file(path, a[i].p, a[i].n);
		snprintf(path, sizeof(path), "%s/b%u/%05zu", dir, ctx[i], i);
		write_file(path, b[i].p, b[i].n);
	}
	char **want = calloc(GIT_PAIRS, sizeof(*want));
	assert_non_null(want);
	size_t compared = 0;
	for (size_t c = 0; c < 5; c++) {
		char *all;
		git_diff_dirs(dir, distinct[c], GIT_PAIRS, &all, want);
		for (size_t i = 0; i < GIT_PAIRS; i++) {
			if (ctx[i] != distinct[c])
				continue;
			int rc;
			char *got = diff_n(a[i].p, a[i].n, b[i].p, b[i].n, ctx[i], &rc, NULL);
			const char *w = want[i] ? want[i] : "";
			if (strcmp(got, w) != 0)
				fail_msg("pair %s/?%u/%05zu differs from git (-U%u):\n--- git\n%s\n"
					 "--- ours\n%s",
					 dir, ctx[i], i, ctx[i], w, got);
			assert_int_equal(rc, *w ? HS_TEXTDIFF_DIFFERENT : HS_TEXTDIFF_SAME);
			free(got);
			compared++;
		}
		free(all);
	}
	assert_int_equal(compared, GIT_PAIRS);
	for (size_t i = 0; i < GIT_PAIRS; i++) {
		free(a[i].p);
		free(b[i].p);
	}
	free(a);
	free(b);
	free(ctx);
	free(want);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* Bigger texts, so that the search's shortcuts (a split at a long snake
 * past cost 256, the furthest path at about sqrt(N)) and the reduction of
 * lines with many twins all come into play. */
static void test_against_git_large(void **state)
{
	(void)state;
	if (!have_git())
		skip();
	char dir[] = "/tmp/hs-textdiff-XXXXXX";
	assert_non_null(mkdtemp(dir));
	rng_state = 0xbadc0ffee0ddf00dull;
	for (int iter = 0; iter < 8; iter++) {
		struct buf a = {0}, b = {0};
		unsigned n = iter < 4 ? 3000 : 40000, kinds = iter % 2 ? 300 : 5000;
		char line[64];
		buf_add(&a, "", 0);
		buf_add(&b, "", 0);
		for (unsigned i = 0; i < n; i++) {
			int len = snprintf(line, sizeof(line), "%s%u\n", below(4) == 0 ? "\tf" : "",
					   below(kinds));
			buf_add(&a, line, (size_t)len);
		}
		/* b keeps runs of 25-80 lines of a with noise in between */
		size_t pos = 0;
		while (pos < a.n) {
			for (unsigned k = 25 + below(56); k && pos < a.n; k--) {
				const char *nl = memchr(a.p + pos, '\n', a.n - pos);
				size_t end = (size_t)(nl - a.p) + 1;
				buf_add(&b, a.p + pos, end - pos);
				pos = end;
			}
			for (unsigned k = below(30); k && pos < a.n; k--)
				pos =
				    (size_t)((char *)memchr(a.p + pos, '\n', a.n - pos) - a.p) + 1;
			for (unsigned k = below(30); k; k--) {
				int len = snprintf(line, sizeof(line), "%u\n", below(kinds));
				buf_add(&b, line, (size_t)len);
			}
		}
		compare_with_git(dir, &a, &b, iter % 3 ? 3 : 0);
		free(a.p);
		free(b.p);
	}
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* ---- cost bounds ---- */

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long max_rss_kib(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static int discard(void *ctx, const char *s, size_t len)
{
	(void)ctx;
	(void)s;
	(void)len;
	return 0;
}

/*
 * Runs one hostile diff in a child process: the texts are built first,
 * then the diff must return HS_TEXTDIFF_TOO_BIG within max_seconds and
 * raise the child's peak RSS by at most max_mib. (A child, so that the
 * peak is this diff's own.) kind 0: 25 MB texts of short lines (refused
 * by the line count); 1: 2 x 150k unique lines, one text a shuffle of the
 * other (the search runs out of budget); 2: close to the line cap, lines
 * of a 2-letter alphabet.
 */
static void hostile(int kind, double max_seconds, long max_mib)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		size_t cap = 30u << 20, na = 0, nb = 0;
		char *a = malloc(cap), *b = malloc(cap);
		if (!a || !b)
			_exit(10);
		rng_state = 0x1234567ull + (uint64_t)kind;
		if (kind == 0) {
			/* "0\n1\n...9\n" over and over; b differs in one byte */
			for (na = 0; na < (25u << 20); na += 2) {
				a[na] = (char)('0' + na / 2 % 10);
				a[na + 1] = '\n';
			}
			memcpy(b, a, na);
			nb = na;
			b[nb / 2] = 'x';
		} else if (kind == 1) {
			unsigned n = 150000, *perm = malloc(n * sizeof(*perm));
			for (unsigned i = 0; i < n; i++)
				perm[i] = i;
			for (unsigned i = n - 1; i > 0; i--) {
				unsigned j = below(i + 1), t = perm[i];
				perm[i] = perm[j];
				perm[j] = t;
			}
			for (unsigned i = 0; i < n; i++) {
				na += (size_t)snprintf(a + na, 32, "line %u\n", i);
				nb += (size_t)snprintf(b + nb, 32, "line %u\n", perm[i]);
			}
			free(perm);
		} else {
			for (unsigned i = 0; i < HS_TEXTDIFF_MAX_LINES / 2 - 10; i++) {
				a[na++] = (char)('a' + below(2));
				a[na++] = '\n';
				b[nb++] = (char)('a' + below(2));
				b[nb++] = '\n';
			}
		}
		long before = max_rss_kib();
		double t = now();
		int rc = hs_textdiff(a, na, b, nb, 3, discard, NULL, NULL);
		double dt = now() - t;
		long grew = (max_rss_kib() - before) / 1024;
		printf("hostile %d: rc %d in %.2f s, peak RSS +%ld MiB\n", kind, rc, dt, grew);
		fflush(stdout);
		if (rc != HS_TEXTDIFF_TOO_BIG)
			_exit(1);
		if (dt > max_seconds)
			_exit(2);
		if (grew > max_mib)
			_exit(3);
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_too_big(void **state)
{
	(void)state;
	/* Generous time limits: sanitizer builds run several times slower;
	 * an optimized build takes well under 2 s for each. */
	hostile(0, 2.0, 16);
	hostile(1, 30.0, 200);
	hostile(2, 30.0, 200);
}

/* A 1 MB text with about 1% of its lines changed: fast, and what git says. */
static void test_one_megabyte(void **state)
{
	(void)state;
	static const char *const words[] = {"int", "return", "if", "x", "y", "foo",  "{", "}",
					    "(",   ")",	     ";",  "=", "0", "char", "*"};
	struct buf a = {0}, b = {0};
	rng_state = 0xfeedull;
	buf_add(&a, "", 0);
	buf_add(&b, "", 0);
	while (a.n < (1u << 20)) {
		for (unsigned k = below(4); k; k--)
			buf_add(&a, "\t", 1);
		for (unsigned k = below(10); k; k--) {
			const char *w = words[below(15)];
			buf_add(&a, w, strlen(w));
			buf_add(&a, " ", 1);
		}
		buf_add(&a, "\n", 1);
	}
	size_t pos = 0;
	while (pos < a.n) {
		const char *nl = memchr(a.p + pos, '\n', a.n - pos);
		size_t end = (size_t)(nl - a.p) + 1;
		unsigned r = below(300);
		if (r == 0)
			buf_add(&b, "\tinserted line\n", 15);
		if (r != 1)
			buf_add(&b, a.p + pos, end - pos);
		if (r == 2)
			buf_add(&b, "changed\n", 8);
		pos = end;
	}
	int rc;
	double t = now();
	char *got = diff_n(a.p, a.n, b.p, b.n, 3, &rc, NULL);
	double dt = now() - t;
	print_message("1 MB, ~1%% of lines changed: %.3f s, %zu bytes of diff\n", dt, strlen(got));
	assert_int_equal(rc, HS_TEXTDIFF_DIFFERENT);
	assert_true(dt < 5.0);
	free(got);
	if (have_git()) {
		char dir[] = "/tmp/hs-textdiff-XXXXXX";
		assert_non_null(mkdtemp(dir));
		compare_with_git(dir, &a, &b, 3);
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		assert_int_equal(system(cmd), 0);
	}
	free(a.p);
	free(b.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty_and_whole),
	    cmocka_unit_test(test_final_newline),
	    cmocka_unit_test(test_crlf),
	    cmocka_unit_test(test_start_end_and_merging),
	    cmocka_unit_test(test_function_names),
	    cmocka_unit_test(test_indent_heuristic),
	    cmocka_unit_test(test_context_zero),
	    cmocka_unit_test(test_emit_error_and_binary),
	    cmocka_unit_test(test_against_git),
	    cmocka_unit_test(test_against_git_large),
	    cmocka_unit_test(test_one_megabyte),
	    cmocka_unit_test(test_too_big),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
