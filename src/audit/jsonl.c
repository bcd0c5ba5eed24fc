/*
 * jsonl.c: the JSONL sink (one record per line) and its readers.
 *
 * Append, under flock(LOCK_EX) on the store: check the file is still the one
 * we opened (not removed, not replaced), take seq and hash from the last
 * line (read backwards from the end, bounded; skipped when the file is
 * exactly as we left it), write the new line with one write(2) on an
 * O_APPEND fd, fdatasync when asked, unlock. A failed or short write is cut
 * back off the file so the store stays a valid chain, and reported.
 *
 * Readers take LOCK_SH only long enough to note the file's size, then read
 * up to it: appends are whole lines made under LOCK_EX, so that prefix is a
 * consistent snapshot and writers are not held up by a long verify. Lines
 * are read with a cap (AUDIT_RECORD_MAX); anything longer is not a record.
 */
#define _GNU_SOURCE
#include "audit-int.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOAD_FLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)
#define READ_BUF (4 * AUDIT_RECORD_MAX)
#define BACK_WINDOW 4096 /* first try when reading a line backwards */

struct jsonl_sink {
	struct audit_sink base;
	char *path; /* owned */
	int fd;     /* O_RDWR | O_APPEND */
	struct audit_hasher *hasher; /* borrowed from the hs_audit */
	bool sync;
	/* The chain's end as of our last append, and where the file ended
	 * then: if it still ends there, nobody appended since. */
	off_t end;
	uint64_t last_seq;
	char last_hash[AUDIT_HASH_HEX + 1];
	char *scratch; /* AUDIT_SCRATCH bytes: the record being written */
};

/* ---- locking ---- */

static int lock_fd(int fd, int op)
{
	while (flock(fd, op) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

static void unlock_fd(int fd)
{
	int saved = errno;
	flock(fd, LOCK_UN);
	errno = saved;
}

/* The size under a shared lock: everything before it is whole records. */
static int snapshot_size(int fd, off_t *size)
{
	struct stat st;
	bool locked = lock_fd(fd, LOCK_SH) == 0;
	int r = fstat(fd, &st);
	if (locked)
		unlock_fd(fd);
	if (r < 0)
		return -1;
	*size = st.st_size;
	return 0;
}

/* ---- reading lines ---- */

static ssize_t pread_full(int fd, char *buf, size_t n, off_t off)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(fd, buf + got, n - got, off + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* The line that ends at end - 1 (the byte there is its '\n'): a malloc'd,
 * NUL-terminated copy without the newline, and the offset where it starts.
 * -1 when it is longer than AUDIT_RECORD_MAX or cannot be read. */
static int line_before(int fd, off_t end, char **line, size_t *len, off_t *start)
{
	size_t windows[] = {BACK_WINDOW, AUDIT_RECORD_MAX + 1};
	for (size_t w = 0; w < HS_ARRAY_LEN(windows); w++) {
		off_t last = end - 1; /* the '\n' */
		off_t from = last > (off_t)windows[w] ? last - (off_t)windows[w] : 0;
		size_t n = (size_t)(last - from);
		char *buf = hs_xmalloc(n + 1);
		if (pread_full(fd, buf, n, from) != (ssize_t)n) {
			free(buf);
			return -1;
		}
		char *nl = memrchr(buf, '\n', n);
		if (nl || from == 0) {
			size_t skip = nl ? (size_t)(nl - buf) + 1 : 0;
			memmove(buf, buf + skip, n - skip);
			buf[n - skip] = '\0';
			*line = buf;
			*len = n - skip;
			*start = from + (off_t)skip;
			return 0;
		}
		free(buf);
	}
	return -1;
}

enum line_kind { LINE_EOF, LINE_OK, LINE_PARTIAL, LINE_LONG, LINE_ERROR };

/* A forward reader over [pos, limit) of a file with a bounded buffer. */
struct line_reader {
	int fd;
	off_t pos, limit; /* next byte to read; where to stop */
	char *buf;        /* READ_BUF + 1 */
	size_t start, len; /* unread lines are buf[start, len) */
	unsigned long long lineno;
};

static void reader_init(struct line_reader *r, int fd, off_t from, off_t limit)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->pos = from;
	r->limit = limit;
	r->buf = hs_xmalloc(READ_BUF + 1);
}

static int reader_fill(struct line_reader *r, size_t *got)
{
	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->len - r->start);
		r->len -= r->start;
		r->start = 0;
	}
	size_t want = READ_BUF - r->len;
	if ((off_t)want > r->limit - r->pos)
		want = (size_t)(r->limit - r->pos);
	ssize_t n = pread_full(r->fd, r->buf + r->len, want, r->pos);
	if (n < 0)
		return -1;
	r->pos += n;
	r->len += (size_t)n;
	*got = (size_t)n;
	return 0;
}

/* The next line, NUL-terminated in the reader's buffer (valid until the
 * next call). A line longer than AUDIT_RECORD_MAX is skipped whole and
 * reported as LINE_LONG; bytes after the last '\n' as LINE_PARTIAL. */
static enum line_kind reader_next(struct line_reader *r, char **line, size_t *n)
{
	bool skipping = false;
	for (;;) {
		char *nl = memchr(r->buf + r->start, '\n', r->len - r->start);
		if (nl) {
			*line = r->buf + r->start;
			*n = (size_t)(nl - *line);
			*nl = '\0';
			r->start += *n + 1;
			r->lineno++;
			return skipping ? LINE_LONG : LINE_OK;
		}
		if (r->len - r->start > AUDIT_RECORD_MAX) {
			skipping = true;
			r->start = r->len;
		}
		size_t got;
		if (reader_fill(r, &got) < 0)
			return LINE_ERROR;
		if (got == 0) {
			if (r->len == r->start && !skipping)
				return LINE_EOF;
			*line = r->buf + r->start;
			*n = r->len - r->start;
			(*line)[*n] = '\0';
			r->start = r->len;
			r->lineno++;
			return skipping ? LINE_LONG : LINE_PARTIAL;
		}
	}
}

static json_t *parse_line(const char *line, size_t n, json_error_t *jerr)
{
	return json_loadb(line, n, LOAD_FLAGS, jerr);
}

/* seq and hash of the record on a line (shape-checked), else -1. */
static int record_position(const char *line, size_t n, uint64_t *seq,
			   char hash[AUDIT_HASH_HEX + 1])
{
	json_error_t jerr;
	json_t *rec = parse_line(line, n, &jerr);
	int r = -1;
	if (rec && !audit_record_shape_error(rec) &&
	    audit_is_hex_hash(json_string_value(json_object_get(rec, "hash")))) {
		*seq = (uint64_t)json_integer_value(json_object_get(rec, "seq"));
		snprintf(hash, AUDIT_HASH_HEX + 1, "%s",
			 json_string_value(json_object_get(rec, "hash")));
		r = 0;
	}
	json_decref(rec);
	return r;
}

/* ---- the sink: open ---- */

static int write_line(struct jsonl_sink *s, struct audit_rec *r, off_t old_size,
		      struct hs_error *err);

static int fsync_parent_dir(const char *path)
{
	char *copy = hs_xstrdup(path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = fd >= 0 ? fsync(fd) : -1;
	if (fd >= 0)
		close(fd);
	free(copy);
	return r;
}

static int create_header(struct jsonl_sink *s, const struct audit_open_args *a,
			 struct hs_error *err)
{
	struct audit_rec hdr;
	audit_rec_header(&hdr, &a->origin, audit_hasher_alg(a->hasher), audit_now_us());
	int r = audit_rec_seal(s->hasher, &hdr, 1, "", s->scratch, err);
	if (r == 0)
		r = write_line(s, &hdr, 0, err);
	if (r == 0) {
		s->last_seq = 1;
		memcpy(s->last_hash, hdr.hash_buf, sizeof(s->last_hash));
	}
	audit_rec_free(&hdr);
	if (r == 0 && s->sync && fsync_parent_dir(s->path) < 0)
		r = hs_err_sys(err, "audit sink %s: cannot sync its directory", s->base.spec);
	return r;
}

/* The store must start with a harness header whose algorithm matches the
 * key we were given (or not given). */
static int check_header(struct jsonl_sink *s, struct hs_error *err)
{
	char *buf = hs_xmalloc(AUDIT_RECORD_MAX + 2);
	ssize_t n = pread_full(s->fd, buf, AUDIT_RECORD_MAX + 1, 0);
	char *nl = n > 0 ? memchr(buf, '\n', (size_t)n) : NULL;
	json_error_t jerr;
	json_t *rec = nl ? parse_line(buf, (size_t)(nl - buf), &jerr) : NULL;
	const char *why = "line 1 is not a harness audit record", *alg = NULL;
	if (rec && !audit_record_shape_error(rec))
		alg = audit_header_alg(rec, &why);
	int r = 0;
	if (!alg)
		r = hs_err(err, "audit sink %s: not a harness audit store (%s); choose another file",
			   s->base.spec, why);
	else if (strcmp(alg, audit_hasher_alg(s->hasher)))
		r = hs_err(err, "audit sink %s: %s", s->base.spec,
			   s->hasher->keyed ? "the store was created without a key (sha256) but "
					      "--audit-key was given; use another store for keyed "
					      "records"
					    : "the store is keyed (hmac-sha256): give its --audit-key");
	json_decref(rec);
	free(buf);
	return r;
}

/* Reads seq and hash of the last record into the cache. */
static int load_tail(struct jsonl_sink *s, off_t size, struct hs_error *err)
{
	char last, *line;
	size_t n;
	off_t start;
	if (size == 0)
		return hs_err(err, "audit sink %s: the store was emptied since it was opened; "
				   "refusing to start a new chain in it",
			      s->base.spec);
	if (pread_full(s->fd, &last, 1, size - 1) != 1 || last != '\n')
		return hs_err(err, "audit sink %s: the store ends with an incomplete record; run "
				   "'harness audit verify --audit %s' and move the file aside",
			      s->base.spec, s->base.spec);
	if (line_before(s->fd, size, &line, &n, &start) < 0)
		return hs_err(err, "audit sink %s: cannot read its last record", s->base.spec);
	uint64_t seq;
	char hash[AUDIT_HASH_HEX + 1];
	int r = record_position(line, n, &seq, hash);
	free(line);
	if (r < 0)
		return hs_err(err, "audit sink %s: its last line is not a harness audit record; run "
				   "'harness audit verify --audit %s'",
			      s->base.spec, s->base.spec);
	if (seq < s->last_seq)
		return hs_err(err, "audit sink %s: the store lost records since our last write "
				   "(seq %llu, now %llu): truncated or rewritten",
			      s->base.spec, (unsigned long long)s->last_seq,
			      (unsigned long long)seq);
	s->last_seq = seq;
	memcpy(s->last_hash, hash, sizeof(hash));
	s->end = size;
	return 0;
}

/* Under the lock: create the header of a new store, or check an old one. */
static int open_locked(struct jsonl_sink *s, const struct audit_open_args *a,
		       struct hs_error *err)
{
	struct stat st;
	if (fstat(s->fd, &st) < 0)
		return hs_err_sys(err, "audit sink %s: fstat", s->base.spec);
	if (!S_ISREG(st.st_mode))
		return hs_err(err, "audit sink %s: not a regular file", s->base.spec);
	if (st.st_size == 0)
		return create_header(s, a, err);
	if (check_header(s, err) < 0)
		return -1;
	return load_tail(s, st.st_size, err);
}

static const struct audit_sink_ops jsonl_ops;

int audit_jsonl_open(const char *path, const struct audit_open_args *a, struct audit_sink **out,
		     struct hs_error *err)
{
	struct jsonl_sink *s = hs_xcalloc(1, sizeof(*s));
	s->base.ops = &jsonl_ops;
	s->base.spec = hs_xasprintf("jsonl:%s", path);
	s->path = hs_xstrdup(path);
	s->hasher = a->hasher;
	s->sync = a->sync;
	s->scratch = hs_xmalloc(AUDIT_SCRATCH);
	s->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	int r = s->fd < 0 ? hs_err_sys(err, "audit sink %s: cannot open", s->base.spec) : 0;
	if (r == 0 && lock_fd(s->fd, LOCK_EX) < 0)
		r = hs_err_sys(err, "audit sink %s: cannot lock", s->base.spec);
	else if (r == 0) {
		r = open_locked(s, a, err);
		unlock_fd(s->fd);
	}
	if (r < 0) {
		jsonl_ops.close(&s->base);
		return -1;
	}
	*out = &s->base;
	return 0;
}

/* ---- the sink: append ---- */

/* Fail closed when our file was removed, or replaced by a rename over
 * its name: either way it has no name left (st_nlink == 0), and records
 * written to it would be lost with the last fd. (A file renamed away keeps
 * a name and its records, so writing on is safe; no stat(path) per
 * record, which would cost a fifth of the append.) */
static int check_still_ours(struct jsonl_sink *s, struct stat *st, struct hs_error *err)
{
	if (fstat(s->fd, st) < 0)
		return hs_err_sys(err, "audit sink %s: fstat", s->base.spec);
	if (st->st_nlink == 0)
		return hs_err(err, "audit sink %s: the file was removed or replaced",
			      s->base.spec);
	return 0;
}

/* Writes the record as one line; on failure cuts the file back to
 * old_size so no partial line stays behind. */
static int write_line(struct jsonl_sink *s, struct audit_rec *r, off_t old_size,
		      struct hs_error *err)
{
	size_t n = audit_rec_serialize(r, true, s->scratch, AUDIT_RECORD_MAX);
	if (n == 0)
		return hs_err(err, "audit sink %s: record too large", s->base.spec);
	s->scratch[n++] = '\n';
	if (hs_write_all(s->fd, s->scratch, n) < 0) {
		int saved = errno;
		if (ftruncate(s->fd, old_size) < 0) {
			/* nothing more we can do; verify will say "truncated" */
		}
		errno = saved;
		return hs_err_sys(err, "audit sink %s: write failed", s->base.spec);
	}
	if (s->sync && fdatasync(s->fd) < 0)
		return hs_err_sys(err, "audit sink %s: fsync failed", s->base.spec);
	s->end = old_size + (off_t)n;
	return 0;
}

static int append_locked(struct jsonl_sink *s, struct audit_rec *r, struct hs_error *err)
{
	struct stat st;
	if (check_still_ours(s, &st, err) < 0)
		return -1;
	if (st.st_size != s->end && load_tail(s, st.st_size, err) < 0)
		return -1;
	if (audit_rec_seal(s->hasher, r, s->last_seq + 1, s->last_hash, s->scratch, err) < 0 ||
	    write_line(s, r, st.st_size, err) < 0)
		return -1;
	s->last_seq++;
	memcpy(s->last_hash, r->hash_buf, sizeof(s->last_hash));
	return 0;
}

static int jsonl_append(struct audit_sink *base, struct audit_rec *recs, size_t n,
			struct hs_error *err)
{
	struct jsonl_sink *s = (struct jsonl_sink *)base;
	if (lock_fd(s->fd, LOCK_EX) < 0)
		return hs_err_sys(err, "audit sink %s: cannot lock", s->base.spec);
	int r = 0;
	for (size_t i = 0; r == 0 && i < n; i++)
		r = append_locked(s, &recs[i], err);
	unlock_fd(s->fd);
	return r;
}

static void jsonl_close(struct audit_sink *base)
{
	struct jsonl_sink *s = (struct jsonl_sink *)base;
	if (!s)
		return;
	hs_close(&s->fd);
	free(s->scratch);
	free(s->path);
	free(s->base.spec);
	free(s);
}

static const struct audit_sink_ops jsonl_ops = {
	.append = jsonl_append,
	.close = jsonl_close,
};

/* ---- verify ---- */

static int verify_line(struct audit_verifier *v, enum line_kind k, char *line, size_t n,
		       const char *where, struct hs_error *err)
{
	json_error_t jerr;
	if (k == LINE_PARTIAL)
		return hs_err(err, "%s: incomplete record (truncated)", where);
	if (k == LINE_LONG)
		return hs_err(err, "%s: line longer than %d bytes (not a record)", where,
			      AUDIT_RECORD_MAX);
	json_t *rec = parse_line(line, n, &jerr);
	if (!rec) {
		/* jansson quotes the input near the error: keep it printable */
		for (char *c = jerr.text; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = '?';
		return hs_err(err, "%s: not a JSON record (%s at column %d)", where, jerr.text,
			      jerr.column);
	}
	int r = audit_verifier_next(v, rec, where, err);
	json_decref(rec);
	return r;
}

int audit_jsonl_verify_fd(int fd, const char *name, struct audit_verifier *v,
			  struct hs_error *err)
{
	struct line_reader r;
	off_t size;
	char *line, where[300];
	size_t n;
	int rc = 0;
	if (snapshot_size(fd, &size) < 0)
		return hs_err_sys(err, "%s: cannot read", name);
	reader_init(&r, fd, 0, size);
	for (;;) {
		enum line_kind k = reader_next(&r, &line, &n);
		if (k == LINE_EOF)
			break;
		if (k == LINE_ERROR) {
			rc = hs_err_sys(err, "%s: read error", name);
			break;
		}
		snprintf(where, sizeof(where), "%s:%llu", name, r.lineno);
		rc = verify_line(v, k, line, n, where, err);
		if (rc < 0)
			break;
	}
	free(r.buf);
	return rc;
}

static int open_for_reading(const char *path, struct hs_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	if (fd < 0) {
		hs_err_sys(err, "%s: cannot open", path);
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		hs_err(err, "%s: not a regular file", path);
		return -1;
	}
	return fd;
}

int audit_jsonl_verify(const char *path, struct audit_verifier *v, struct hs_error *err)
{
	int fd = open_for_reading(path, err);
	if (fd < 0)
		return -2;
	int r = audit_jsonl_verify_fd(fd, path, v, err);
	close(fd);
	return r;
}

/* ---- read (query, tail, export) ---- */

/* Keeps the last `limit` matches when the caller wants only the newest. */
struct emitter {
	hs_audit_record_fn fn;
	void *ctx;
	uint64_t limit;
	json_t **ring;
	size_t cap, n, head;
	bool stopped;
};

static void emit(struct emitter *e, json_t *rec)
{
	if (e->stopped)
		return;
	if (!rec || !e->limit) {
		e->stopped = e->fn(rec, e->ctx) != 0;
		return;
	}
	if (e->n < e->limit) {
		if (e->n == e->cap) {
			e->cap = e->cap ? e->cap * 2 : 64;
			e->ring = hs_xrealloc(e->ring, e->cap * sizeof(*e->ring));
		}
		e->ring[e->n++] = json_incref(rec);
		return;
	}
	json_decref(e->ring[e->head]);
	e->ring[e->head] = json_incref(rec);
	e->head = (e->head + 1) % e->n;
}

static void emit_flush(struct emitter *e)
{
	for (size_t i = 0; i < e->n; i++) {
		json_t *rec = e->ring[(e->head + i) % e->n];
		if (!e->stopped)
			e->stopped = e->fn(rec, e->ctx) != 0;
		json_decref(rec);
	}
	free(e->ring);
}

/* With after_seq, start after the last line whose seq is <= after_seq,
 * found by reading backwards (tail -f stays cheap on a large file). Any
 * surprise falls back to reading from the start, which is always right. */
static off_t start_after_seq(int fd, off_t size, uint64_t after_seq)
{
	off_t end = size, start;
	char last, *line, hash[AUDIT_HASH_HEX + 1];
	size_t n;
	uint64_t seq;
	if (size == 0 || pread_full(fd, &last, 1, size - 1) != 1 || last != '\n')
		return 0;
	while (end > 0 && line_before(fd, end, &line, &n, &start) == 0) {
		int r = record_position(line, n, &seq, hash);
		free(line);
		if (r == 0 && seq <= after_seq)
			return end;
		end = start;
	}
	return 0;
}

static void read_line(struct emitter *e, const struct hs_audit_filter *f, enum line_kind k,
		      const char *line, size_t n)
{
	json_error_t jerr;
	json_t *rec = k == LINE_OK ? parse_line(line, n, &jerr) : NULL;
	if (!rec || audit_record_shape_error(rec))
		emit(e, NULL);
	else if (audit_filter_match(f, rec))
		emit(e, rec);
	json_decref(rec);
}

int audit_jsonl_read_fd(int fd, const char *name, const struct hs_audit_filter *f,
			hs_audit_record_fn fn, void *ctx, struct hs_error *err)
{
	struct emitter e = {.fn = fn, .ctx = ctx, .limit = f ? f->limit : 0};
	struct line_reader r;
	off_t size;
	char *line;
	size_t n;
	int rc = 0;
	if (snapshot_size(fd, &size) < 0)
		return hs_err_sys(err, "%s: cannot read", name);
	reader_init(&r, fd, f && f->after_seq ? start_after_seq(fd, size, f->after_seq) : 0,
		    size);
	for (enum line_kind k; !e.stopped && (k = reader_next(&r, &line, &n)) != LINE_EOF;) {
		if (k == LINE_ERROR) {
			rc = hs_err_sys(err, "%s: read error", name);
			break;
		}
		read_line(&e, f, k, line, n);
	}
	emit_flush(&e);
	free(r.buf);
	return rc;
}

int audit_jsonl_read(const char *path, const struct hs_audit_filter *f, hs_audit_record_fn fn,
		     void *ctx, struct hs_error *err)
{
	int fd = open_for_reading(path, err);
	if (fd < 0)
		return -1;
	int r = audit_jsonl_read_fd(fd, path, f, fn, ctx, err);
	close(fd);
	return r;
}
