/*
 * textdiff.c: unified diffs of two texts, byte for byte what
 * `git diff --no-index` prints from the first "@@" on (see textdiff.h).
 *
 * "What git prints" is a strong promise: git's xdiff is not a plain
 * minimal Myers diff, and each of its stages changes which lines it
 * reports. So this file redoes, stage by stage, what xdiff (git 2.39,
 * default options) does; the code is ours, the algorithms and constants
 * are xdiff's, and the comments name the xdiff function each stage
 * stands for so a reader can compare.
 *
 *   1. Records: the texts are split after each '\n' (the last line may
 *      lack one) and byte-equal lines share an equivalence class
 *      (xdl_prepare_ctx). With context 0, git first drops a common tail
 *      in 1 KiB blocks (xdiff-interface.c: trim_common_tail); so do we.
 *   2. Reduction (xdl_trim_ends, xdl_cleanup_records): the common head and
 *      tail are set aside; in between, a line with no twin in the other
 *      text is marked changed at once, and a line with very many twins is
 *      too when it sits in a run of such lines. Only the rest is searched.
 *   3. Search (xdl_recs_cmp, xdl_split): Myers' divide and conquer on the
 *      middle snake, in linear space, with xdiff's shortcuts: past an edit
 *      cost of 256 a split at a long snake may be taken, and past about
 *      sqrt(N) (at least 256) the furthest-reaching diagonal, instead of
 *      the optimum.
 *   4. Sliding (xdl_change_compact): each group of changed lines is slid
 *      over equal lines up and down, merged with groups it touches, lined
 *      up with a change in the other text if it can be, else placed by
 *      the indent heuristic (git's default since 2.14).
 *   5. Output (xdl_emit_diff, diff.c): hunks with `context` lines around
 *      them, merged when at most 2 * context lines separate them; after
 *      "@@ -a,b +c,d @@" the nearest line above the hunk in the old text
 *      that starts with a letter, '_' or '$' (cut to 80 bytes, trailing
 *      blanks dropped); the header line is then cut at its first byte
 *      that is not UTF-8, as diff.c's sane_truncate_line does.
 *
 * Cost: every loop whose length the texts control charges e->work, and
 * past HS_TEXTDIFF_MAX_COST the diff stops with HS_TEXTDIFF_TOO_BIG.
 * Nothing is emitted before the whole script is known, so a refusal
 * never leaves half a diff behind. Memory is a few arrays per line (at
 * most about 64 bytes a line, while the lines are classified), with the
 * line count capped (HS_TEXTDIFF_MAX_LINES) before any allocation; the
 * search keeps its pending boxes on a heap stack, not by recursion, so a
 * deep split cannot exhaust the C stack.
 */
#define _GNU_SOURCE
#include "textdiff.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* xdiff's tuning constants (same values; git's names in comments). */
#define SNAKE_CNT 20	  /* XDL_SNAKE_CNT: a run this long is a good snake */
#define HEUR_MIN_COST 256 /* XDL_HEUR_MIN_COST: good-snake shortcut from here */
#define MAX_COST_MIN 256  /* XDL_MAX_COST_MIN: floor of the give-up cost */
#define K_HEUR 4	  /* XDL_K_HEUR */
#define KPDIS_RUN 4	  /* XDL_KPDIS_RUN */
#define MAX_EQLIMIT 1024  /* XDL_MAX_EQLIMIT */
#define SIMSCAN_WINDOW 100
#define LINE_MAX_IDX LONG_MAX /* XDL_LINE_MAX */

/* The indent heuristic (xdiffi.c), weights found by git on a corpus. */
#define MAX_INDENT 200
#define MAX_BLANKS 20
#define START_OF_FILE_PENALTY 1
#define END_OF_FILE_PENALTY 21
#define TOTAL_BLANK_WEIGHT (-30)
#define POST_BLANK_WEIGHT 6
#define RELATIVE_INDENT_PENALTY (-4)
#define RELATIVE_INDENT_WITH_BLANK_PENALTY 10
#define RELATIVE_OUTDENT_PENALTY 24
#define RELATIVE_OUTDENT_WITH_BLANK_PENALTY 17
#define RELATIVE_DEDENT_PENALTY 23
#define RELATIVE_DEDENT_WITH_BLANK_PENALTY 17
#define INDENT_WEIGHT 60
#define INDENT_HEURISTIC_MAX_SLIDING 100

#define FUNC_MAX 80	       /* xemit.c: struct func_line's buffer */
#define HEADER_MAX 128	       /* xutils.c: xdl_emit_hunk_hdr's buffer */
#define TAIL_BLOCK 1024	       /* xdiff-interface.c: trim_common_tail */
#define BINARY_SNIFF 8000      /* xdiff-interface.c: buffer_is_binary */
#define HASH_BYTES_PER_UNIT 16 /* hashing is charged a unit per 16 bytes */

static const char no_newline[] = "\n\\ No newline at end of file\n";

/* One text as records. Owns its arrays; text is the caller's. */
struct tfile {
	const char *text;
	long nrec;
	size_t *off;		/* nrec + 1 offsets: line i is [off[i], off[i + 1]) */
	uint32_t *cls;		/* equivalence class of each line */
	unsigned char *chg_mem; /* nrec + 2 bytes */
	unsigned char *changed; /* chg_mem + 1, so changed[-1] and changed[nrec] are 0 */
	long dstart, dend;	/* the lines between the common head and tail */
	long *rindex;		/* lines left for the search, in order ... */
	uint32_t *ha;		/* ... and their classes */
	long nreff;
	uint64_t *work; /* the env's counter, for the group helpers */
};

/* An equivalence class: ptr/len is its first line (borrowed). */
struct tclass {
	uint64_t hash;
	const char *ptr;
	size_t len;
	uint32_t count[2]; /* lines of this class in each text */
};

/* A run of changed lines: i1/chg1 in the old text, i2/chg2 in the new. */
struct change {
	long i1, i2, chg1, chg2;
};

/* A pending part of the search: lines [off1, lim1) of the old text's
 * searched lines against [off2, lim2) of the new's. */
struct box {
	long off1, lim1, off2, lim2;
	bool need_min;
};

/* One diff's state; owns every array in it (env_free). */
struct env {
	struct tfile f[2];
	struct tclass *cls;
	uint32_t ncls;
	uint64_t work;
	long mxcost;
	long *kv, *kvdf, *kvdb; /* Myers' V arrays, indexed by diagonal */
	struct change *ch;
	size_t nch;
};

static bool over_budget(const struct env *e)
{
	return e->work > HS_TEXTDIFF_MAX_COST;
}

/* ASCII classes as git's sane_ctype has them (xdiff uses git's macros):
 * only ' ', '\t', '\n' and '\r' are space. */
static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* xdl_bogosqrt: a power of two near sqrt(n). */
static long bogosqrt(long n)
{
	long i;
	for (i = 1; n > 0; n >>= 2)
		i <<= 1;
	return i;
}

/* ---- 1. Records ---- */

static uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

/* Any decent hash will do: classes are decided by comparing bytes, the
 * hash only picks the slot. Eight bytes at a time. */
static uint64_t hash_bytes(const char *p, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = (h ^ w) * 0x100000001b3ull;
		h ^= h >> 29;
		p += 8;
		n -= 8;
	}
	uint64_t w = 0;
	memcpy(&w, p, n);
	return mix64(h ^ w);
}

/* Lines in s, counting stops a little past HS_TEXTDIFF_MAX_LINES. */
static long count_lines(const char *s, size_t len)
{
	long n = 0;
	const char *end = s + len, *p = s;
	while (p < end && n <= (long)HS_TEXTDIFF_MAX_LINES) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		n++;
		if (!nl)
			break;
		p = nl + 1;
	}
	return n;
}

/* Splits f into lines and classifies each through the open-addressing
 * table slots (class index + 1, 0 = free). */
static int load_file(struct env *e, int which, const char *text, size_t len, long nrec,
		     uint32_t *slots, size_t mask)
{
	struct tfile *f = &e->f[which];
	f->text = text;
	f->nrec = nrec;
	f->work = &e->work;
	f->off = malloc(((size_t)nrec + 1) * sizeof(*f->off));
	f->cls = malloc(((size_t)nrec + 1) * sizeof(*f->cls));
	f->chg_mem = calloc((size_t)nrec + 2, 1);
	f->rindex = malloc(((size_t)nrec + 1) * sizeof(*f->rindex));
	f->ha = malloc(((size_t)nrec + 1) * sizeof(*f->ha));
	if (!f->off || !f->cls || !f->chg_mem || !f->rindex || !f->ha)
		return HS_TEXTDIFF_ERROR;
	f->changed = f->chg_mem + 1;
	size_t pos = 0;
	for (long i = 0; i < nrec; i++) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) + 1 : len;
		const char *p = text + pos;
		size_t n = end - pos;
		uint64_t h = hash_bytes(p, n);
		size_t k = (size_t)h & mask;
		uint32_t c;
		f->off[i] = pos;
		for (;;) {
			uint32_t s = slots[k];
			if (s == 0) {
				c = e->ncls++;
				e->cls[c] = (struct tclass){h, p, n, {0, 0}};
				slots[k] = c + 1;
				break;
			}
			const struct tclass *t = &e->cls[s - 1];
			if (t->hash == h && t->len == n && memcmp(t->ptr, p, n) == 0) {
				c = s - 1;
				break;
			}
			k = (k + 1) & mask;
			e->work++; /* a collision chain is hostile input's lever */
		}
		e->cls[c].count[which]++;
		f->cls[i] = c;
		pos = end;
	}
	f->off[nrec] = len;
	e->work += len / HASH_BYTES_PER_UNIT + (size_t)nrec;
	return over_budget(e) ? HS_TEXTDIFF_TOO_BIG : 0;
}

static int load(struct env *e, const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen / HASH_BYTES_PER_UNIT + blen / HASH_BYTES_PER_UNIT > HS_TEXTDIFF_MAX_COST)
		return HS_TEXTDIFF_TOO_BIG;
	long n1 = count_lines(a, alen), n2 = count_lines(b, blen);
	if ((unsigned long)n1 + (unsigned long)n2 > HS_TEXTDIFF_MAX_LINES)
		return HS_TEXTDIFF_TOO_BIG;
	size_t total = (size_t)n1 + (size_t)n2, size = 16;
	while (size < 2 * total)
		size <<= 1;
	uint32_t *slots = calloc(size, sizeof(*slots));
	e->cls = malloc((total + 1) * sizeof(*e->cls));
	int r = HS_TEXTDIFF_ERROR;
	if (slots && e->cls) {
		r = load_file(e, 0, a, alen, n1, slots, size - 1);
		if (r == 0)
			r = load_file(e, 1, b, blen, n2, slots, size - 1);
	}
	free(slots);
	return r;
}

/* trim_common_tail (xdiff-interface.c), which git applies only when it
 * diffs with no context: drops the common tail in 1 KiB blocks, then
 * gives back the part of the last block up to and including its first
 * newline. */
static void trim_common_tail(const char *a, size_t *alen, const char *b, size_t *blen)
{
	size_t trimmed = 0, recovered = 0;
	size_t smaller = *alen < *blen ? *alen : *blen;
	while (TAIL_BLOCK + trimmed <= smaller &&
	       memcmp(a + *alen - trimmed - TAIL_BLOCK, b + *blen - trimmed - TAIL_BLOCK,
		      TAIL_BLOCK) == 0)
		trimmed += TAIL_BLOCK;
	const char *ap = a + *alen - trimmed;
	while (recovered < trimmed)
		if (ap[recovered++] == '\n')
			break;
	*alen -= trimmed - recovered;
	*blen -= trimmed - recovered;
}

/* ---- 2. Reduction ---- */

/* xdl_trim_ends: the common head and tail, by class. */
static void trim_ends(struct env *e)
{
	struct tfile *f1 = &e->f[0], *f2 = &e->f[1];
	long lim = f1->nrec < f2->nrec ? f1->nrec : f2->nrec, i;
	for (i = 0; i < lim && f1->cls[i] == f2->cls[i]; i++)
		;
	f1->dstart = f2->dstart = i;
	lim -= i;
	for (i = 0; i < lim && f1->cls[f1->nrec - 1 - i] == f2->cls[f2->nrec - 1 - i]; i++)
		;
	f1->dend = f1->nrec - i - 1;
	f2->dend = f2->nrec - i - 1;
	e->work += (uint64_t)lim + (uint64_t)f1->dstart;
}

/* xdl_clean_mmatch: is line i (with many twins, dis 2) in the middle of a
 * run of twinless (dis 0) and many-twin lines, few of them many-twin?
 * Looks at most SIMSCAN_WINDOW lines each way. */
static bool clean_mmatch(struct env *e, const unsigned char *dis, long i, long s, long end)
{
	long r, rdis0 = 0, rpdis0 = 1, rdis1 = 0, rpdis1 = 1;
	if (i - s > SIMSCAN_WINDOW)
		s = i - SIMSCAN_WINDOW;
	if (end - i > SIMSCAN_WINDOW)
		end = i + SIMSCAN_WINDOW;
	for (r = 1; i - r >= s; r++) {
		if (!dis[i - r])
			rdis0++;
		else if (dis[i - r] == 2)
			rpdis0++;
		else
			break;
	}
	e->work += (uint64_t)r;
	if (rdis0 == 0)
		return false;
	for (r = 1; i + r <= end; r++) {
		if (!dis[i + r])
			rdis1++;
		else if (dis[i + r] == 2)
			rpdis1++;
		else
			break;
	}
	e->work += (uint64_t)r;
	if (rdis1 == 0)
		return false;
	rdis1 += rdis0;
	rpdis1 += rpdis0;
	return rpdis1 * KPDIS_RUN < rpdis1 + rdis1;
}

/* xdl_cleanup_records: which lines between dstart and dend the search
 * sees (rindex/ha); the others are changed already. A line's "twins" are
 * the lines of its class in the other text; "many" is bogosqrt of this
 * text's length, at most 1024. */
static int cleanup_records(struct env *e)
{
	for (int w = 0; w < 2; w++) {
		struct tfile *f = &e->f[w];
		if (f->dend < f->dstart) {
			f->nreff = 0;
			continue;
		}
		/* dis[j] is for line dstart + j: 0 no twin, 1 some, 2 many */
		long n = f->dend - f->dstart + 1;
		unsigned char *dis = malloc((size_t)n);
		if (!dis)
			return HS_TEXTDIFF_ERROR;
		long mlim = bogosqrt(f->nrec);
		if (mlim > MAX_EQLIMIT)
			mlim = MAX_EQLIMIT;
		for (long j = 0; j < n; j++) {
			long nm = e->cls[f->cls[f->dstart + j]].count[!w];
			dis[j] = (unsigned char)(nm == 0 ? 0 : nm >= mlim ? 2 : 1);
		}
		long nreff = 0;
		for (long j = 0; j < n; j++) {
			long i = f->dstart + j;
			if (dis[j] == 1 || (dis[j] == 2 && !clean_mmatch(e, dis, j, 0, n - 1))) {
				f->rindex[nreff] = i;
				f->ha[nreff] = f->cls[i];
				nreff++;
			} else {
				f->changed[i] = 1;
			}
		}
		f->nreff = nreff;
		free(dis);
		e->work += (uint64_t)n;
	}
	return over_budget(e) ? HS_TEXTDIFF_TOO_BIG : 0;
}

/* ---- 3. Search ---- */

struct split {
	long i1, i2;
	bool min_lo, min_hi;
};

/*
 * xdl_split: the middle snake of the box (off1, off2)-(lim1, lim2), found
 * by running Myers forward from the top-left corner and backward from
 * the bottom-right one, diagonal k = i1 - i2, until the paths overlap.
 * kvdf[k] / kvdb[k] hold the furthest i1 reached on diagonal k. Unless
 * need_min, two shortcuts bound the work:
 *   - past an edit cost of HEUR_MIN_COST, when some diagonal just ran a
 *     snake longer than SNAKE_CNT, split at the furthest such point that
 *     is far enough ahead of the cost (v > K_HEUR * ec) and ends a snake;
 *   - at e->mxcost, split at the furthest-reaching diagonal.
 * Either way one half of the split is searched with need_min off again.
 * Returns 0, or HS_TEXTDIFF_TOO_BIG past the budget.
 */
static int split_box(struct env *e, long off1, long lim1, long off2, long lim2, bool need_min,
		     struct split *spl)
{
	const uint32_t *ha1 = e->f[0].ha, *ha2 = e->f[1].ha;
	long *kvdf = e->kvdf, *kvdb = e->kvdb;
	long dmin = off1 - lim2, dmax = lim1 - off2;
	long fmid = off1 - off2, bmid = lim1 - lim2;
	bool odd = ((fmid - bmid) & 1) != 0;
	long fmin = fmid, fmax = fmid, bmin = bmid, bmax = bmid;
	long d, i1, i2, prev1;

	kvdf[fmid] = off1;
	kvdb[bmid] = lim1;
	for (long ec = 1;; ec++) {
		bool got_snake = false;

		/* Widen the forward diagonals by one each side, or narrow at
		 * the box edge; a -1 outside keeps the loop free of checks. */
		if (fmin > dmin)
			kvdf[--fmin - 1] = -1;
		else
			++fmin;
		if (fmax < dmax)
			kvdf[++fmax + 1] = -1;
		else
			--fmax;
		for (d = fmax; d >= fmin; d -= 2) {
			if (kvdf[d - 1] >= kvdf[d + 1])
				i1 = kvdf[d - 1] + 1;
			else
				i1 = kvdf[d + 1];
			prev1 = i1;
			i2 = i1 - d;
			while (i1 < lim1 && i2 < lim2 && ha1[i1] == ha2[i2]) {
				i1++;
				i2++;
			}
			e->work += (uint64_t)(i1 - prev1) + 1;
			if (i1 - prev1 > SNAKE_CNT)
				got_snake = true;
			kvdf[d] = i1;
			if (odd && bmin <= d && d <= bmax && kvdb[d] <= i1) {
				*spl = (struct split){i1, i2, true, true};
				return 0;
			}
		}

		if (bmin > dmin)
			kvdb[--bmin - 1] = LINE_MAX_IDX;
		else
			++bmin;
		if (bmax < dmax)
			kvdb[++bmax + 1] = LINE_MAX_IDX;
		else
			--bmax;
		for (d = bmax; d >= bmin; d -= 2) {
			if (kvdb[d - 1] < kvdb[d + 1])
				i1 = kvdb[d - 1];
			else
				i1 = kvdb[d + 1] - 1;
			prev1 = i1;
			i2 = i1 - d;
			while (i1 > off1 && i2 > off2 && ha1[i1 - 1] == ha2[i2 - 1]) {
				i1--;
				i2--;
			}
			e->work += (uint64_t)(prev1 - i1) + 1;
			if (prev1 - i1 > SNAKE_CNT)
				got_snake = true;
			kvdb[d] = i1;
			if (!odd && fmin <= d && d <= fmax && i1 <= kvdf[d]) {
				*spl = (struct split){i1, i2, true, true};
				return 0;
			}
		}

		if (over_budget(e))
			return HS_TEXTDIFF_TOO_BIG;
		if (need_min)
			continue;

		/* The good-snake shortcut: score each diagonal by how far it
		 * got from its corner less how far it strays from the middle
		 * diagonal; take the best that ends a SNAKE_CNT-long snake. */
		if (got_snake && ec > HEUR_MIN_COST) {
			long best = 0, dd, v, k;
			for (d = fmax; d >= fmin; d -= 2) {
				dd = d > fmid ? d - fmid : fmid - d;
				i1 = kvdf[d];
				i2 = i1 - d;
				v = (i1 - off1) + (i2 - off2) - dd;
				if (v > K_HEUR * ec && v > best && off1 + SNAKE_CNT <= i1 &&
				    i1 < lim1 && off2 + SNAKE_CNT <= i2 && i2 < lim2) {
					for (k = 1; ha1[i1 - k] == ha2[i2 - k]; k++)
						if (k == SNAKE_CNT) {
							best = v;
							spl->i1 = i1;
							spl->i2 = i2;
							break;
						}
				}
			}
			if (best > 0) {
				spl->min_lo = true;
				spl->min_hi = false;
				return 0;
			}
			for (best = 0, d = bmax; d >= bmin; d -= 2) {
				dd = d > bmid ? d - bmid : bmid - d;
				i1 = kvdb[d];
				i2 = i1 - d;
				v = (lim1 - i1) + (lim2 - i2) - dd;
				if (v > K_HEUR * ec && v > best && off1 < i1 &&
				    i1 <= lim1 - SNAKE_CNT && off2 < i2 && i2 <= lim2 - SNAKE_CNT) {
					for (k = 0; ha1[i1 + k] == ha2[i2 + k]; k++)
						if (k == SNAKE_CNT - 1) {
							best = v;
							spl->i1 = i1;
							spl->i2 = i2;
							break;
						}
				}
			}
			if (best > 0) {
				spl->min_lo = false;
				spl->min_hi = true;
				return 0;
			}
			e->work += (uint64_t)(fmax - fmin + bmax - bmin) * SNAKE_CNT / 2;
		}

		/* Enough: split at the furthest-reaching path (i1 + i2). */
		if (ec >= e->mxcost) {
			long fbest = -1, fbest1 = -1, bbest = LINE_MAX_IDX, bbest1 = LINE_MAX_IDX;
			for (d = fmax; d >= fmin; d -= 2) {
				i1 = kvdf[d] < lim1 ? kvdf[d] : lim1;
				i2 = i1 - d;
				if (lim2 < i2) {
					i1 = lim2 + d;
					i2 = lim2;
				}
				if (fbest < i1 + i2) {
					fbest = i1 + i2;
					fbest1 = i1;
				}
			}
			for (d = bmax; d >= bmin; d -= 2) {
				i1 = kvdb[d] > off1 ? kvdb[d] : off1;
				i2 = i1 - d;
				if (i2 < off2) {
					i1 = off2 + d;
					i2 = off2;
				}
				if (i1 + i2 < bbest) {
					bbest = i1 + i2;
					bbest1 = i1;
				}
			}
			if ((lim1 + lim2) - bbest < fbest - (off1 + off2))
				*spl = (struct split){fbest1, fbest - fbest1, true, false};
			else
				*spl = (struct split){bbest1, bbest - bbest1, false, true};
			return 0;
		}
	}
}

/* xdl_recs_cmp, with its recursion unrolled onto a heap stack: strip the
 * common ends of a box; if one side is then empty the other side's lines
 * are all changed, else split it and do both halves. The halves are
 * independent (each split starts its V arrays afresh), so the order they
 * are done in does not matter. */
static int compare_all(struct env *e)
{
	struct tfile *f1 = &e->f[0], *f2 = &e->f[1];
	size_t cap = 64, n = 0;
	struct box *stack = malloc(cap * sizeof(*stack));
	if (!stack)
		return HS_TEXTDIFF_ERROR;
	stack[n++] = (struct box){0, f1->nreff, 0, f2->nreff, false};
	while (n) {
		struct box b = stack[--n];
		long off1 = b.off1, lim1 = b.lim1, off2 = b.off2, lim2 = b.lim2;
		long o = off1, l = lim1;
		while (off1 < lim1 && off2 < lim2 && f1->ha[off1] == f2->ha[off2]) {
			off1++;
			off2++;
		}
		while (off1 < lim1 && off2 < lim2 && f1->ha[lim1 - 1] == f2->ha[lim2 - 1]) {
			lim1--;
			lim2--;
		}
		e->work += (uint64_t)((off1 - o) + (l - lim1)) + 1;
		if (off1 == lim1) {
			for (; off2 < lim2; off2++)
				f2->changed[f2->rindex[off2]] = 1;
		} else if (off2 == lim2) {
			for (; off1 < lim1; off1++)
				f1->changed[f1->rindex[off1]] = 1;
		} else {
			struct split spl = {0, 0, false, false};
			int r = split_box(e, off1, lim1, off2, lim2, b.need_min, &spl);
			if (r) {
				free(stack);
				return r;
			}
			if (n + 2 > cap) {
				struct box *bigger = realloc(stack, 2 * cap * sizeof(*stack));
				if (!bigger) {
					free(stack);
					return HS_TEXTDIFF_ERROR;
				}
				stack = bigger;
				cap *= 2;
			}
			stack[n++] = (struct box){spl.i1, lim1, spl.i2, lim2, spl.min_hi};
			stack[n++] = (struct box){off1, spl.i1, off2, spl.i2, spl.min_lo};
		}
		if (over_budget(e)) {
			free(stack);
			return HS_TEXTDIFF_TOO_BIG;
		}
	}
	free(stack);
	return 0;
}

/* xdl_do_diff's Myers part: V arrays over the diagonals -(nreff2 + 1) ..
 * nreff1 + 1, and the give-up cost bogosqrt of their count. */
static int search(struct env *e)
{
	long n1 = e->f[0].nreff, n2 = e->f[1].nreff;
	long ndiags = n1 + n2 + 3;
	e->kv = malloc((2 * (size_t)ndiags + 2) * sizeof(*e->kv));
	if (!e->kv)
		return HS_TEXTDIFF_ERROR;
	e->kvdf = e->kv + n2 + 1;
	e->kvdb = e->kv + ndiags + n2 + 1;
	e->mxcost = bogosqrt(ndiags);
	if (e->mxcost < MAX_COST_MIN)
		e->mxcost = MAX_COST_MIN;
	int r = compare_all(e);
	free(e->kv);
	e->kv = e->kvdf = e->kvdb = NULL;
	return r;
}

/* ---- 4. Sliding ---- */

/* A group of changed lines [start, end) of one text; between two
 * unchanged lines there is always a group, most of them empty. */
struct group {
	long start, end;
};

static void group_init(const struct tfile *f, struct group *g)
{
	g->start = g->end = 0;
	while (f->changed[g->end])
		g->end++;
}

/* The next group; false at the end of the text. */
static bool group_next(const struct tfile *f, struct group *g)
{
	if (g->end == f->nrec)
		return false;
	g->start = g->end + 1;
	for (g->end = g->start; f->changed[g->end]; g->end++)
		;
	*f->work += (uint64_t)(g->end - g->start) + 1;
	return true;
}

static bool group_previous(const struct tfile *f, struct group *g)
{
	if (g->start == 0)
		return false;
	g->end = g->start - 1;
	for (g->start = g->end; f->changed[g->start - 1]; g->start--)
		;
	*f->work += (uint64_t)(g->end - g->start) + 1;
	return true;
}

/* Moves g one line down if its first line equals the line after it,
 * absorbing a group it then touches. */
static bool group_slide_down(struct tfile *f, struct group *g)
{
	if (g->end < f->nrec && f->cls[g->start] == f->cls[g->end]) {
		f->changed[g->start++] = 0;
		f->changed[g->end++] = 1;
		while (f->changed[g->end])
			g->end++;
		(*f->work)++;
		return true;
	}
	return false;
}

static bool group_slide_up(struct tfile *f, struct group *g)
{
	if (g->start > 0 && f->cls[g->start - 1] == f->cls[g->end - 1]) {
		f->changed[--g->start] = 1;
		f->changed[--g->end] = 0;
		while (f->changed[g->start - 1])
			g->start--;
		(*f->work)++;
		return true;
	}
	return false;
}

struct split_measurement {
	bool end_of_file; /* no line after the split */
	int indent;	  /* of the line after the split, -1 if blank */
	int pre_blank;	  /* blank lines just above the split */
	int pre_indent;	  /* of the nearest non-blank line above, -1 if none */
	int post_blank;	  /* blank lines after the line after the split */
	int post_indent;  /* of the nearest non-blank line after those, -1 if none */
};

struct split_score {
	int effective_indent;
	int penalty;
};

/* Indentation of line i, a tab going to the next multiple of 8; -1 for a
 * line of only whitespace; at most MAX_INDENT. */
static int get_indent(const struct tfile *f, long i)
{
	const char *p = f->text + f->off[i];
	size_t len = f->off[i + 1] - f->off[i];
	int ret = 0;
	for (size_t k = 0; k < len; k++) {
		char c = p[k];
		if (!is_space(c)) {
			*f->work += k + 1;
			return ret;
		} else if (c == ' ') {
			ret += 1;
		} else if (c == '\t') {
			ret += 8 - ret % 8;
		}
		if (ret >= MAX_INDENT) {
			*f->work += k + 1;
			return MAX_INDENT;
		}
	}
	*f->work += len + 1;
	return -1;
}

static void measure_split(const struct tfile *f, long split, struct split_measurement *m)
{
	long i;
	if (split >= f->nrec) {
		m->end_of_file = true;
		m->indent = -1;
	} else {
		m->end_of_file = false;
		m->indent = get_indent(f, split);
	}
	m->pre_blank = 0;
	m->pre_indent = -1;
	for (i = split - 1; i >= 0; i--) {
		m->pre_indent = get_indent(f, i);
		if (m->pre_indent != -1)
			break;
		m->pre_blank += 1;
		if (m->pre_blank == MAX_BLANKS) {
			m->pre_indent = 0;
			break;
		}
	}
	m->post_blank = 0;
	m->post_indent = -1;
	for (i = split + 1; i < f->nrec; i++) {
		m->post_indent = get_indent(f, i);
		if (m->post_indent != -1)
			break;
		m->post_blank += 1;
		if (m->post_blank == MAX_BLANKS) {
			m->post_indent = 0;
			break;
		}
	}
}

/* score_add_split: the badness of a split, lower is better. */
static void score_add_split(const struct split_measurement *m, struct split_score *s)
{
	int post_blank, total_blank, indent;
	bool any_blanks;

	if (m->pre_indent == -1 && m->pre_blank == 0)
		s->penalty += START_OF_FILE_PENALTY;
	if (m->end_of_file)
		s->penalty += END_OF_FILE_PENALTY;

	/* Blank lines after the split, the line right after it included. */
	post_blank = m->indent == -1 ? 1 + m->post_blank : 0;
	total_blank = m->pre_blank + post_blank;
	s->penalty += TOTAL_BLANK_WEIGHT * total_blank;
	s->penalty += POST_BLANK_WEIGHT * post_blank;

	indent = m->indent != -1 ? m->indent : m->post_indent;
	any_blanks = total_blank != 0;
	s->effective_indent += indent; /* -1 at the end of the text */

	if (indent == -1 || m->pre_indent == -1) {
		/* nothing more */
	} else if (indent > m->pre_indent) {
		s->penalty +=
		    any_blanks ? RELATIVE_INDENT_WITH_BLANK_PENALTY : RELATIVE_INDENT_PENALTY;
	} else if (indent == m->pre_indent) {
		/* same level as the line above */
	} else if (m->post_indent != -1 && m->post_indent > indent) {
		/* less than above, more below: likely the start of a block */
		s->penalty +=
		    any_blanks ? RELATIVE_OUTDENT_WITH_BLANK_PENALTY : RELATIVE_OUTDENT_PENALTY;
	} else {
		/* likely the end of a block */
		s->penalty +=
		    any_blanks ? RELATIVE_DEDENT_WITH_BLANK_PENALTY : RELATIVE_DEDENT_PENALTY;
	}
}

static int score_cmp(const struct split_score *s1, const struct split_score *s2)
{
	int cmp_indents = (s1->effective_indent > s2->effective_indent) -
			  (s1->effective_indent < s2->effective_indent);
	return INDENT_WEIGHT * cmp_indents + (s1->penalty - s2->penalty);
}

/* The indent heuristic for group g (slid as far down as it goes, its
 * highest end earliest_end): score every position it can take, at most
 * INDENT_HEURISTIC_MAX_SLIDING above, by its two splits; the lowest
 * score wins, the lower position on ties. */
static long best_indent_shift(const struct tfile *f, const struct group *g, long groupsize,
			      long earliest_end)
{
	long shift = earliest_end, best_shift = -1;
	struct split_score best = {0, 0};
	if (g->end - groupsize - 1 > shift)
		shift = g->end - groupsize - 1;
	if (g->end - INDENT_HEURISTIC_MAX_SLIDING > shift)
		shift = g->end - INDENT_HEURISTIC_MAX_SLIDING;
	for (; shift <= g->end; shift++) {
		struct split_measurement m;
		struct split_score score = {0, 0};
		measure_split(f, shift, &m);
		score_add_split(&m, &score);
		measure_split(f, shift - groupsize, &m);
		score_add_split(&m, &score);
		if (best_shift == -1 || score_cmp(&score, &best) <= 0) {
			best = score;
			best_shift = shift;
		}
	}
	return best_shift;
}

/*
 * xdl_change_compact for the changes of f, fo being the other text, whose
 * groups walk in step (between two unchanged lines of f there is one
 * group of each). Each non-empty group is slid up as far as it goes, then
 * down as far as it goes, again while that merged it with a neighbour.
 * Then it is moved back up: to line up with the last position where the
 * other text's group was non-empty (a change rather than a pure insert or
 * delete), else to where the indent heuristic likes it best.
 * A broken step (cannot happen) returns HS_TEXTDIFF_ERROR.
 */
static int change_compact(struct tfile *f, struct tfile *fo)
{
	struct group g, go;
	long earliest_end, end_matching_other, groupsize;

	group_init(f, &g);
	group_init(fo, &go);
	for (;;) {
		if (g.end != g.start) {
			do {
				groupsize = g.end - g.start;
				end_matching_other = -1;
				while (group_slide_up(f, &g))
					if (!group_previous(fo, &go))
						return HS_TEXTDIFF_ERROR;
				earliest_end = g.end;
				if (go.end > go.start)
					end_matching_other = g.end;
				while (group_slide_down(f, &g)) {
					if (!group_next(fo, &go))
						return HS_TEXTDIFF_ERROR;
					if (go.end > go.start)
						end_matching_other = g.end;
				}
				if (*f->work > HS_TEXTDIFF_MAX_COST)
					return HS_TEXTDIFF_TOO_BIG;
			} while (groupsize != g.end - g.start);

			if (g.end == earliest_end) {
				/* it could not move */
			} else if (end_matching_other != -1) {
				while (go.end == go.start) {
					if (!group_slide_up(f, &g) || !group_previous(fo, &go))
						return HS_TEXTDIFF_ERROR;
				}
			} else {
				long best = best_indent_shift(f, &g, groupsize, earliest_end);
				while (g.end > best) {
					if (!group_slide_up(f, &g) || !group_previous(fo, &go))
						return HS_TEXTDIFF_ERROR;
				}
			}
		}
		if (!group_next(f, &g))
			break;
		if (!group_next(fo, &go))
			return HS_TEXTDIFF_ERROR;
	}
	if (group_next(fo, &go))
		return HS_TEXTDIFF_ERROR;
	return *f->work > HS_TEXTDIFF_MAX_COST ? HS_TEXTDIFF_TOO_BIG : 0;
}

/* xdl_build_script, walking forward: each gap between two consecutive
 * unchanged line pairs that holds changed lines is one change. */
static int build_script(struct env *e)
{
	const struct tfile *f1 = &e->f[0], *f2 = &e->f[1];
	size_t cap = 0;
	long i1 = 0, i2 = 0;
	while (i1 < f1->nrec || i2 < f2->nrec) {
		if (!f1->changed[i1] && !f2->changed[i2]) {
			if (i1 >= f1->nrec || i2 >= f2->nrec)
				return HS_TEXTDIFF_ERROR; /* unchanged lines unpaired: a bug */
			i1++;
			i2++;
			continue;
		}
		struct change c = {i1, i2, 0, 0};
		while (f1->changed[i1])
			i1++;
		while (f2->changed[i2])
			i2++;
		c.chg1 = i1 - c.i1;
		c.chg2 = i2 - c.i2;
		if (e->nch == cap) {
			size_t ncap = cap ? 2 * cap : 64;
			struct change *bigger = realloc(e->ch, ncap * sizeof(*bigger));
			if (!bigger)
				return HS_TEXTDIFF_ERROR;
			e->ch = bigger;
			cap = ncap;
		}
		e->ch[e->nch++] = c;
	}
	return 0;
}

/* ---- 5. Output ---- */

/* Output batched into a fixed buffer; a long line goes straight through. */
struct out {
	hs_textdiff_emit emit;
	void *ctx;
	bool failed;
	size_t n;
	char buf[8192];
};

static void out_flush(struct out *o)
{
	if (!o->failed && o->n && o->emit(o->ctx, o->buf, o->n) != 0)
		o->failed = true;
	o->n = 0;
}

static void out_put(struct out *o, const char *s, size_t n)
{
	if (o->failed)
		return;
	if (n > sizeof(o->buf) - o->n) {
		out_flush(o);
		if (n >= sizeof(o->buf)) {
			if (!o->failed && o->emit(o->ctx, s, n) != 0)
				o->failed = true;
			return;
		}
	}
	memcpy(o->buf + o->n, s, n);
	o->n += n;
}

/* A line with its sign, and git's marker when it lacks a newline. */
static void out_line(struct out *o, char sign, const struct tfile *f, long i)
{
	const char *p = f->text + f->off[i];
	size_t len = f->off[i + 1] - f->off[i];
	out_put(o, &sign, 1);
	out_put(o, p, len);
	if (len > 0 && p[len - 1] != '\n')
		out_put(o, no_newline, sizeof(no_newline) - 1);
}

static size_t put_num(char *p, long v)
{
	char tmp[24];
	size_t n = 0;
	unsigned long u = v < 0 ? 0ul - (unsigned long)v : (unsigned long)v;
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	size_t k = 0;
	if (v < 0)
		p[k++] = '-';
	while (n)
		p[k++] = tmp[--n];
	return k;
}

/* Length of one UTF-8 character at s (n bytes left), 0 if it is not one:
 * git's pick_one_utf8_char, which also refuses overlong forms,
 * surrogates, U+FFFE/U+FFFF and anything past U+10FFFF. */
static size_t utf8_char_len(const unsigned char *s, size_t n)
{
	if (n < 1)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		if (n < 2 || (s[1] & 0xc0) != 0x80 || (s[0] & 0xfe) == 0xc0)
			return 0;
		return 2;
	}
	if ((s[0] & 0xf0) == 0xe0) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[0] == 0xe0 && (s[1] & 0xe0) == 0x80) ||
		    (s[0] == 0xed && (s[1] & 0xe0) == 0xa0) ||
		    (s[0] == 0xef && s[1] == 0xbf && (s[2] & 0xfe) == 0xbe))
			return 0;
		return 3;
	}
	if ((s[0] & 0xf8) == 0xf0) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80 || (s[0] == 0xf0 && (s[1] & 0xf0) == 0x80) ||
		    (s[0] == 0xf4 && s[1] > 0x8f) || s[0] > 0xf4)
			return 0;
		return 4;
	}
	return 0;
}

/* xdl_emit_hunk_hdr into its 128-byte buffer (the function name cut to
 * fit), then what diff.c does to it: cut at the first byte that does not
 * start a valid UTF-8 character, and end the line with '\n' again. */
static void out_header(struct out *o, long s1, long c1, long s2, long c2, const char *func,
		       size_t funclen)
{
	char buf[HEADER_MAX];
	size_t nb = 0;
	memcpy(buf + nb, "@@ -", 4);
	nb += 4;
	nb += put_num(buf + nb, c1 ? s1 : s1 - 1);
	if (c1 != 1) {
		buf[nb++] = ',';
		nb += put_num(buf + nb, c1);
	}
	memcpy(buf + nb, " +", 2);
	nb += 2;
	nb += put_num(buf + nb, c2 ? s2 : s2 - 1);
	if (c2 != 1) {
		buf[nb++] = ',';
		nb += put_num(buf + nb, c2);
	}
	memcpy(buf + nb, " @@", 3);
	nb += 3;
	if (funclen) {
		buf[nb++] = ' ';
		if (funclen > sizeof(buf) - nb - 1)
			funclen = sizeof(buf) - nb - 1;
		memcpy(buf + nb, func, funclen);
		nb += funclen;
	}
	buf[nb++] = '\n';

	size_t valid = 0;
	while (valid < nb) {
		size_t k = utf8_char_len((const unsigned char *)buf + valid, nb - valid);
		if (!k)
			break;
		valid += k;
	}
	out_put(o, buf, valid);
	if (buf[valid - 1] != '\n')
		out_put(o, "\n", 1);
}

/* xemit.c's def_ff: a line starting with a letter, '_' or '$' names a
 * function; its first 80 bytes less trailing whitespace. -1 if not. */
static long func_name(const struct tfile *f, long i, char *buf)
{
	const char *p = f->text + f->off[i];
	size_t len = f->off[i + 1] - f->off[i];
	if (len == 0 || !(is_alpha(p[0]) || p[0] == '_' || p[0] == '$'))
		return -1;
	if (len > FUNC_MAX)
		len = FUNC_MAX;
	while (len > 0 && is_space(p[len - 1]))
		len--;
	memcpy(buf, p, len);
	return (long)len;
}

/*
 * xdl_emit_diff: groups changes into hunks and prints them. A hunk takes
 * in the next change while the unchanged lines between them are at most
 * 2 * ctx. Context lines are printed from the new text (equal to the old
 * ones anyway). The function name is searched upward from the line above
 * the hunk's first line down to where the previous hunk's search began;
 * found nothing, the previous name stands.
 */
static void emit_hunks(const struct env *e, long ctx, struct out *o, struct hs_textdiff_stats *st)
{
	const struct tfile *f1 = &e->f[0], *f2 = &e->f[1];
	const struct change *ch = e->ch;
	char func[FUNC_MAX];
	long funclen = 0, funclineprev = -1;

	for (size_t first = 0, last; first < e->nch; first = last + 1) {
		for (last = first; last + 1 < e->nch; last++)
			if (ch[last + 1].i1 - (ch[last].i1 + ch[last].chg1) > 2 * ctx)
				break;
		const struct change *xch = &ch[first], *xche = &ch[last];
		long s1 = xch->i1 - ctx > 0 ? xch->i1 - ctx : 0;
		long s2 = xch->i2 - ctx > 0 ? xch->i2 - ctx : 0;
		long lctx = ctx;
		if (lctx > f1->nrec - (xche->i1 + xche->chg1))
			lctx = f1->nrec - (xche->i1 + xche->chg1);
		if (lctx > f2->nrec - (xche->i2 + xche->chg2))
			lctx = f2->nrec - (xche->i2 + xche->chg2);
		long e1 = xche->i1 + xche->chg1 + lctx;
		long e2 = xche->i2 + xche->chg2 + lctx;

		long start = s1 - 1, step = start > funclineprev ? -1 : 1;
		for (long l = start; l != funclineprev && l >= 0 && l < f1->nrec; l += step) {
			long len = func_name(f1, l, func);
			if (len >= 0) {
				funclen = len;
				break;
			}
		}
		funclineprev = s1 - 1;
		out_header(o, s1 + 1, e1 - s1, s2 + 1, e2 - s2, func, (size_t)funclen);
		st->hunks++;

		for (; s2 < xch->i2; s2++)
			out_line(o, ' ', f2, s2);
		for (const struct change *c = xch;; c++) {
			for (; s1 < c->i1 && s2 < c->i2; s1++, s2++)
				out_line(o, ' ', f2, s2);
			for (s1 = c->i1; s1 < c->i1 + c->chg1; s1++)
				out_line(o, '-', f1, s1);
			for (s2 = c->i2; s2 < c->i2 + c->chg2; s2++)
				out_line(o, '+', f2, s2);
			st->removed += (size_t)c->chg1;
			st->added += (size_t)c->chg2;
			if (c == xche)
				break;
			s1 = c->i1 + c->chg1;
			s2 = c->i2 + c->chg2;
		}
		for (s2 = xche->i2 + xche->chg2; s2 < e2; s2++)
			out_line(o, ' ', f2, s2);
	}
	out_flush(o);
}

/* The emit of a caller that only wants the stats. */
static int emit_nothing(void *ctx, const char *s, size_t len)
{
	(void)ctx;
	(void)s;
	(void)len;
	return 0;
}

static void env_free(struct env *e)
{
	for (int w = 0; w < 2; w++) {
		free(e->f[w].off);
		free(e->f[w].cls);
		free(e->f[w].chg_mem);
		free(e->f[w].rindex);
		free(e->f[w].ha);
	}
	free(e->cls);
	free(e->kv);
	free(e->ch);
}

int hs_textdiff(const char *a, size_t alen, const char *b, size_t blen, unsigned context,
		hs_textdiff_emit emit, void *ctx, struct hs_textdiff_stats *stats)
{
	struct hs_textdiff_stats st = {0, 0, 0};
	if (stats)
		*stats = st;
	if ((!a && alen) || (!b && blen))
		return HS_TEXTDIFF_ERROR;
	if (!emit)
		emit = emit_nothing;
	if (!a)
		a = "";
	if (!b)
		b = "";
	if (alen == blen && memcmp(a, b, alen) == 0)
		return HS_TEXTDIFF_SAME;
	if (context == 0)
		trim_common_tail(a, &alen, b, &blen);

	struct env e;
	memset(&e, 0, sizeof(e));
	int r = load(&e, a, alen, b, blen);
	if (r == 0) {
		trim_ends(&e);
		r = cleanup_records(&e);
	}
	if (r == 0) {
		/* The class table is done with; free it before the search. */
		free(e.cls);
		e.cls = NULL;
		r = search(&e);
	}
	if (r == 0)
		r = change_compact(&e.f[0], &e.f[1]);
	if (r == 0)
		r = change_compact(&e.f[1], &e.f[0]);
	if (r == 0)
		r = build_script(&e);
	if (r == 0 && e.nch == 0)
		r = HS_TEXTDIFF_SAME; /* cannot happen: the texts differ */
	if (r == 0) {
		/* Context past the longer text changes nothing; clamping it
		 * keeps 2 * ctx from overflowing. */
		long nmax = e.f[0].nrec > e.f[1].nrec ? e.f[0].nrec : e.f[1].nrec;
		long ctxl = (unsigned long)context > (unsigned long)nmax ? nmax + 1 : (long)context;
		struct out *o = malloc(sizeof(*o));
		if (!o) {
			r = HS_TEXTDIFF_ERROR;
		} else {
			o->emit = emit;
			o->ctx = ctx;
			o->failed = false;
			o->n = 0;
			emit_hunks(&e, ctxl, o, &st);
			r = o->failed ? HS_TEXTDIFF_ERROR : HS_TEXTDIFF_DIFFERENT;
			free(o);
		}
	}
	env_free(&e);
	if (stats && r == HS_TEXTDIFF_DIFFERENT)
		*stats = st;
	return r;
}

bool hs_textdiff_is_binary(const char *s, size_t len)
{
	if (len > BINARY_SNIFF)
		len = BINARY_SNIFF;
	return len > 0 && memchr(s, 0, len) != NULL;
}
