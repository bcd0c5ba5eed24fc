/*
 * test_audit.c: the audit log (src/audit): the canonical form and the hash
 * chain against values computed outside harness (sha256sum, openssl
 * dgst); JSONL and SQLite stores written and verified; every kind of
 * tampering (edit, edit and re-hash, delete, insert, reorder, truncate)
 * caught and the right record named; HMAC keys; concurrent writers
 * (fork); failing closed on a full filesystem, a size limit, a removed or
 * replaced file; foreign files refused; query filters.
 *
 * Children (fork) never call cmocka: they report through their exit
 * status and the parent asserts.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "audit/audit-int.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CANON_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII)
#define SKIPPED 77

static const unsigned char test_key[] = "0123456789abcdef-key";
#define TEST_KEYLEN (sizeof(test_key) - 1)

struct fixture {
	char dir[64];
	char jsonl[128], sqlite[128]; /* specs */
	char jsonl_path[96], sqlite_path[96];
};

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(p);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/hs-audit-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->jsonl_path, sizeof(f->jsonl_path), "%s/audit.jsonl", f->dir);
	snprintf(f->sqlite_path, sizeof(f->sqlite_path), "%s/audit.db", f->dir);
	snprintf(f->jsonl, sizeof(f->jsonl), "jsonl:%s", f->jsonl_path);
	snprintf(f->sqlite, sizeof(f->sqlite), "sqlite:%s", f->sqlite_path);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* ---- helpers ---- */

static int open_one(struct hs_audit **a, const char *spec, const unsigned char *key,
		    const char *run_id, struct hs_error *err)
{
	struct hs_strv specs = {0};
	hs_strv_push(&specs, spec);
	int r = hs_audit_open(a, &specs, key, key ? TEST_KEYLEN : 0, false, run_id, "agent-1", err);
	hs_strv_clear(&specs);
	return r;
}

/* Writes n exec events (target /bin/tool-I) to one store. */
static void write_n(const char *spec, int n, const unsigned char *key)
{
	struct hs_audit *a;
	struct hs_error err;
	if (open_one(&a, spec, key, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	for (int i = 0; i < n; i++) {
		char target[64];
		snprintf(target, sizeof(target), "/bin/tool-%02d", i);
		json_t *meta = json_pack("{s:i}", "i", i);
		struct hs_audit_event ev = {.action_type = "exec", .target = target,
					    .outcome = HS_OUTCOME_ALLOWED, .metadata = meta};
		if (hs_audit_write(a, &ev, &err) < 0)
			fail_msg("%s", err.msg);
		json_decref(meta);
	}
	hs_audit_close(a);
}

/* Verifies; returns the result and leaves the message in msg. */
static int verify(const char *spec, const unsigned char *key, uint64_t *count, char *msg)
{
	struct hs_audit_summary sum;
	struct hs_error err;
	hs_error_clear(&err);
	int r = hs_audit_verify_store(spec, key, key ? TEST_KEYLEN : 0, &sum, &err);
	if (count)
		*count = sum.records;
	snprintf(msg, HS_ERR_MSG_MAX, "%s", err.msg);
	return r;
}

#define assert_verify_fails(spec, key, expect)                                                     \
	do {                                                                                       \
		char m_[HS_ERR_MSG_MAX];                                                           \
		assert_int_equal(verify(spec, key, NULL, m_), -1);                                 \
		if (!strstr(m_, expect))                                                           \
			fail_msg("verify said \"%s\"; expected \"%s\"", m_, expect);               \
	} while (0)

#define assert_contains(haystack, needle)                                                          \
	do {                                                                                       \
		if (!strstr(haystack, needle))                                                     \
			fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);              \
	} while (0)

/* A JSONL store as lines (without '\n'), to tamper with. */
struct lines {
	char *v[256];
	size_t n;
	bool last_newline;
};

static void read_lines(const char *path, struct lines *l)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	assert_non_null(fp);
	memset(l, 0, sizeof(*l));
	while ((n = getline(&line, &cap, fp)) > 0 && l->n < HS_ARRAY_LEN(l->v)) {
		l->last_newline = line[n - 1] == '\n';
		if (l->last_newline)
			line[n - 1] = '\0';
		l->v[l->n++] = strdup(line);
	}
	free(line);
	fclose(fp);
}

static void write_lines(const char *path, struct lines *l)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	for (size_t i = 0; i < l->n; i++) {
		fputs(l->v[i], fp);
		fputc('\n', fp);
		free(l->v[i]);
	}
	fclose(fp);
	l->n = 0;
}

static void replace_in(char **line, const char *from, const char *to)
{
	char *p = strstr(*line, from);
	assert_non_null(p);
	char *out = hs_xasprintf("%.*s%s%s", (int)(p - *line), *line, to, p + strlen(from));
	free(*line);
	*line = out;
}

/* Rewrites a line's record after changing it, with a correct hash over
 * the same prev_hash: what a forger without the key can do. */
static char *reseal(const char *line, const char *from, const char *to,
		    const unsigned char *key)
{
	json_t *rec = json_loads(line, 0, NULL);
	struct audit_hasher h;
	struct audit_rec r;
	struct hs_error err;
	char *scratch = hs_xmalloc(AUDIT_SCRATCH);
	assert_non_null(rec);
	const char *t = json_string_value(json_object_get(rec, "target"));
	assert_string_equal(t, from);
	json_object_set_new(rec, "target", json_string(to));
	audit_rec_from_json(&r, rec);
	assert_int_equal(audit_hasher_init(&h, key, key ? TEST_KEYLEN : 0, &err), 0);
	char prev[AUDIT_HASH_HEX + 1];
	snprintf(prev, sizeof(prev), "%s", r.prev_hash);
	assert_int_equal(audit_rec_seal(&h, &r, r.seq, prev, scratch, &err), 0);
	size_t n = audit_rec_serialize(&r, true, scratch, AUDIT_SCRATCH);
	char *out = strndup(scratch, n);
	audit_rec_free(&r);
	audit_hasher_free(&h);
	json_decref(rec);
	free(scratch);
	return out;
}

struct collect {
	json_t *all; /* array of the records passed */
	int damaged;
};

static int collect_fn(json_t *rec, void *ctx)
{
	struct collect *c = ctx;
	if (!rec)
		c->damaged++;
	else
		json_array_append(c->all, rec);
	return 0;
}

static size_t count_matching(const char *spec, const struct hs_audit_filter *f, int *damaged)
{
	struct collect c = {.all = json_array()};
	struct hs_error err;
	if (hs_audit_read(spec, f, collect_fn, &c, &err) < 0)
		fail_msg("%s", err.msg);
	size_t n = json_array_size(c.all);
	if (damaged)
		*damaged = c.damaged;
	json_decref(c.all);
	return n;
}

static void sql(const char *path, const char *stmt)
{
	sqlite3 *db;
	char *msg = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, stmt, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", stmt, msg);
	sqlite3_close(db);
}

/* ---- the canonical form and the hash, against outside tools ---- */

static void kat_record(struct audit_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->seq = 1;
	r->duration_ms = 5;
	r->ts = "2026-01-02T03:04:05.000006Z";
	r->run_id = "0123456789abcdef0123456789abcdef";
	r->agent_id = "agent-1";
	r->action_type = "exec";
	r->target = "/bin/ls";
	r->outcome = "allowed";
	r->approved_by = "";
	r->metadata = "{\"argv\":[\"ls\",\"-l\"]}";
	r->prev_hash = "";
	r->hash = "";
}

static void test_hash_known_answers(void **state)
{
	(void)state;
	/* printf '\n%s' "$CANON" | sha256sum ; ... | openssl dgst -sha256 -hmac KEY */
	static const char canon[] =
		"{\"action_type\":\"exec\",\"agent_id\":\"agent-1\",\"approved_by\":\"\","
		"\"duration_ms\":5,\"metadata\":{\"argv\":[\"ls\",\"-l\"]},\"outcome\":\"allowed\","
		"\"prev_hash\":\"\",\"run_id\":\"0123456789abcdef0123456789abcdef\",\"seq\":1,"
		"\"target\":\"/bin/ls\",\"ts\":\"2026-01-02T03:04:05.000006Z\"}";
	struct audit_rec r;
	struct audit_hasher plain, keyed;
	struct hs_error err;
	char *scratch = hs_xmalloc(AUDIT_SCRATCH);
	kat_record(&r);
	size_t n = audit_rec_serialize(&r, false, scratch, AUDIT_SCRATCH);
	assert_int_equal(n, strlen(canon));
	assert_memory_equal(scratch, canon, n);

	assert_int_equal(audit_hasher_init(&plain, NULL, 0, &err), 0);
	assert_int_equal(audit_rec_seal(&plain, &r, 1, "", scratch, &err), 0);
	assert_string_equal(r.hash,
			    "0d96766a3045282d25fececdc2faf4dc3b1dbb342f4c05fe465f131476928b2c");
	/* the next record chains on it: sha256(prev || "\n" || canonical) */
	char prev[AUDIT_HASH_HEX + 1];
	snprintf(prev, sizeof(prev), "%s", r.hash);
	assert_int_equal(audit_rec_seal(&plain, &r, 2, prev, scratch, &err), 0);
	assert_string_equal(r.hash,
			    "71e3578a251ef28de3156c9b6a815d23527c43d4a87aacbdde6b797dc837053f");

	kat_record(&r);
	assert_int_equal(audit_hasher_init(&keyed, test_key, TEST_KEYLEN, &err), 0);
	assert_int_equal(audit_rec_seal(&keyed, &r, 1, "", scratch, &err), 0);
	assert_string_equal(r.hash,
			    "ddd736b1dba8a12c2d01dcd9a206624db1bd005d51405a78f9bc094c9a7b6d54");
	audit_hasher_free(&plain);
	audit_hasher_free(&keyed);
	free(scratch);
}

/* Our serializer must print exactly what jansson prints (the canonical
 * form is defined by jansson's flags). */
static void test_serializer_matches_jansson(void **state)
{
	(void)state;
	static const char *const tricky[] = {
		"plain", "quote\" back\\slash /slash", "\x01\x1f ctl \b\f\n\r\t del\x7f",
		"caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80", "\xff\xfe invalid \x80", "",
	};
	struct audit_origin o = {.run_id = "run", .agent_id = "agent"};
	char *scratch = hs_xmalloc(AUDIT_SCRATCH);
	for (size_t i = 0; i < HS_ARRAY_LEN(tricky); i++) {
		json_t *meta = json_pack("{s:s, s:[i, f, b, n], s:{s:s}}", "s", "x\xc3\xa9\x01", "a",
					 -7, 0.1, 1, "o", "k\"", tricky[i][0] == '\xff' ? "x" : tricky[i]);
		struct hs_audit_event ev = {.action_type = tricky[i], .target = tricky[i],
					    .approved_by = tricky[i], .metadata = meta,
					    .duration_ms = UINT64_MAX};
		struct audit_rec r;
		audit_rec_from_event(&r, &o, &ev, 1234567);
		r.seq = 42;
		r.prev_hash = "p";
		r.hash = "h";
		size_t n = audit_rec_serialize(&r, true, scratch, AUDIT_SCRATCH);
		assert_true(n > 0);
		json_t *parsed = json_loadb(scratch, n, 0, NULL);
		assert_non_null(parsed);
		char *again = json_dumps(parsed, CANON_FLAGS);
		assert_int_equal(strlen(again), n);
		assert_memory_equal(again, scratch, n);
		free(again);
		json_decref(parsed);
		audit_rec_free(&r);
		json_decref(meta);
	}
	free(scratch);
}

/* Bytes from the sandbox that are not UTF-8 are kept, visibly. */
static void test_invalid_utf8_kept_as_hex(void **state)
{
	struct fixture *f = *state;
	struct hs_audit *a;
	struct hs_error err;
	char msg[HS_ERR_MSG_MAX];
	assert_int_equal(open_one(&a, f->jsonl, NULL, NULL, &err), 0);
	struct hs_audit_event ev = {.action_type = "exec", .target = "/tmp/\xff\xfe" "abc\x80"};
	assert_int_equal(hs_audit_write(a, &ev, &err), 0);
	hs_audit_close(a);
	struct hs_audit_filter fl = {.action = "exec"};
	struct collect c = {.all = json_array()};
	assert_int_equal(hs_audit_read(f->jsonl, &fl, collect_fn, &c, &err), 0);
	assert_int_equal(json_array_size(c.all), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(c.all, 0), "target")),
			    "/tmp/\\xFF\\xFEabc\\x80");
	json_decref(c.all);
	assert_int_equal(verify(f->jsonl, NULL, NULL, msg), 0);
}

/* Oversized metadata is cut to fit, never refused; the record verifies. */
static void test_oversized_record_cut(void **state)
{
	struct fixture *f = *state;
	struct hs_audit *a;
	struct hs_error err;
	char msg[HS_ERR_MSG_MAX], *big = hs_xmalloc(200 * 1024 + 1);
	memset(big, 'A', 200 * 1024);
	big[200 * 1024] = '\0';
	json_t *one = json_pack("{s:s}", "blob", big);
	json_t *many = json_object();
	for (int i = 0; i < 5000; i++) {
		char k[16];
		snprintf(k, sizeof(k), "k%04d", i);
		json_object_set_new(many, k, json_string("0123456789"));
	}
	assert_int_equal(open_one(&a, f->jsonl, NULL, NULL, &err), 0);
	struct hs_audit_event ev = {.action_type = "exec", .target = big, .metadata = one};
	assert_int_equal(hs_audit_write(a, &ev, &err), 0);
	ev.metadata = many;
	assert_int_equal(hs_audit_write(a, &ev, &err), 0);
	hs_audit_close(a);

	struct lines l;
	read_lines(f->jsonl_path, &l);
	assert_int_equal(l.n, 3);
	for (size_t i = 0; i < l.n; i++)
		assert_true(strlen(l.v[i]) <= AUDIT_RECORD_MAX);
	assert_contains(l.v[1], "\"_truncated\":true");
	assert_contains(l.v[1], "...[truncated]");
	assert_contains(l.v[2], "\"original_bytes\":");
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i]);
	assert_int_equal(verify(f->jsonl, NULL, NULL, msg), 0);
	json_decref(one);
	json_decref(many);
	free(big);
}

/* ---- round trips ---- */

static void check_round_trip(const char *spec)
{
	uint64_t count;
	char msg[HS_ERR_MSG_MAX];
	write_n(spec, 30, NULL);
	assert_int_equal(verify(spec, NULL, &count, msg), 0);
	assert_int_equal(count, 31); /* the audit.init header + 30 */
	struct collect c = {.all = json_array()};
	struct hs_error err;
	assert_int_equal(hs_audit_read(spec, NULL, collect_fn, &c, &err), 0);
	assert_int_equal(json_array_size(c.all), 31);
	json_t *first = json_array_get(c.all, 0), *r5 = json_array_get(c.all, 5);
	assert_string_equal(json_string_value(json_object_get(first, "action_type")), "audit.init");
	assert_string_equal(json_string_value(json_object_get(first, "prev_hash")), "");
	assert_int_equal(json_integer_value(json_object_get(r5, "seq")), 6);
	assert_string_equal(json_string_value(json_object_get(r5, "target")), "/bin/tool-04");
	assert_string_equal(json_string_value(json_object_get(r5, "agent_id")), "agent-1");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r5, "metadata"), "i")),
			 4);
	int64_t ts;
	assert_int_equal(audit_parse_ts(json_string_value(json_object_get(r5, "ts")), &ts), 0);
	assert_true(llabs(ts - audit_now_us()) < 60 * 1000000LL);
	json_decref(c.all);
	/* a second run appends to the same chain */
	write_n(spec, 5, NULL);
	assert_int_equal(verify(spec, NULL, &count, msg), 0);
	assert_int_equal(count, 36);
}

static void test_jsonl_round_trip(void **state)
{
	check_round_trip(((struct fixture *)*state)->jsonl);
}

static void test_sqlite_round_trip(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	check_round_trip(f->sqlite);
	assert_int_equal(stat(f->sqlite_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

/* A batch lands in order, contiguous, chained, with the times it was
 * given; 0 or more than HS_AUDIT_BATCH_MAX records are refused. */
static void check_batch(const char *spec)
{
	struct hs_audit *a;
	struct hs_error err;
	char msg[HS_ERR_MSG_MAX];
	uint64_t count;
	write_n(spec, 2, NULL);
	if (open_one(&a, spec, NULL, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	int64_t then = audit_now_us() - 5 * 1000000LL;
	struct hs_audit_event evs[HS_AUDIT_BATCH_MAX + 1] = {
	    {.action_type = "run.start", .target = "/bin/sh", .outcome = HS_OUTCOME_ALLOWED,
	     .ts_us = then},
	    {.action_type = "exec", .target = "/bin/sh", .outcome = HS_OUTCOME_BLOCKED},
	};
	assert_int_equal(hs_audit_write_batch(a, evs, 0, &err), -1);
	assert_int_equal(hs_audit_write_batch(a, evs, HS_AUDIT_BATCH_MAX + 1, &err), -1);
	assert_int_equal(hs_audit_write_batch(a, evs, 2, &err), 0);
	struct hs_audit_counts c;
	hs_audit_counts(a, &c);
	assert_int_equal(c.records, 2);
	assert_int_equal(c.blocked, 1);
	hs_audit_close(a);
	assert_int_equal(verify(spec, NULL, &count, msg), 0);
	assert_int_equal(count, 5); /* the store's header, 2, the batch */
	struct collect col = {.all = json_array()};
	struct hs_audit_filter f = {.after_seq = 3};
	if (hs_audit_read(spec, &f, collect_fn, &col, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(json_array_size(col.all), 2);
	json_t *r3 = json_array_get(col.all, 0), *r4 = json_array_get(col.all, 1);
	assert_int_equal(json_integer_value(json_object_get(r3, "seq")), 4);
	assert_string_equal(json_string_value(json_object_get(r3, "action_type")), "run.start");
	assert_string_equal(json_string_value(json_object_get(r4, "action_type")), "exec");
	assert_string_equal(json_string_value(json_object_get(r4, "prev_hash")),
			    json_string_value(json_object_get(r3, "hash")));
	int64_t ts3, ts4;
	assert_int_equal(audit_parse_ts(json_string_value(json_object_get(r3, "ts")), &ts3), 0);
	assert_int_equal(audit_parse_ts(json_string_value(json_object_get(r4, "ts")), &ts4), 0);
	assert_true(ts3 == then);
	assert_true(ts4 > then + 4 * 1000000LL);
	json_decref(col.all);
}

static void test_jsonl_batch(void **state)
{
	check_batch(((struct fixture *)*state)->jsonl);
}

static void test_sqlite_batch(void **state)
{
	check_batch(((struct fixture *)*state)->sqlite);
}

/* A short run leaves its WAL for the next open to read (no checkpoint, no
 * fsync at exit); one that left more than 256 KiB checkpoints and truncates
 * it when it closes. Either way the chain stays whole. */
static void test_sqlite_wal_trimmed_only_when_long(void **state)
{
	struct fixture *f = *state;
	char wal[PATH_MAX], msg[HS_ERR_MSG_MAX];
	struct stat st;
	uint64_t count;
	snprintf(wal, sizeof(wal), "%s-wal", f->sqlite_path);
	write_n(f->sqlite, 3, NULL);
	assert_int_equal(stat(wal, &st), 0);
	assert_true(st.st_size > 0);
	assert_true(st.st_size < 256 * 1024);
	off_t short_run = st.st_size;
	write_n(f->sqlite, 3, NULL);
	assert_int_equal(stat(wal, &st), 0);
	assert_true(st.st_size > short_run); /* appended, not checkpointed */
	write_n(f->sqlite, 300, NULL); /* ~8 pages a record: well over 256 KiB */
	assert_int_equal(stat(wal, &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(verify(f->sqlite, NULL, &count, msg), 0);
	assert_int_equal(count, 307);
}

static void test_default_store(void **state)
{
	struct fixture *f = *state;
	char xdg[PATH_MAX + 8], msg[HS_ERR_MSG_MAX];
	struct hs_audit *a;
	struct hs_error err;
	uint64_t count;
	snprintf(xdg, sizeof(xdg), "%s/state", f->dir);
	setenv("XDG_STATE_HOME", xdg, 1);
	char *path = hs_audit_default_path();
	assert_string_equal(path + strlen(xdg), "/harness/audit.db");
	assert_int_equal(hs_audit_open(&a, NULL, NULL, 0, false, NULL, NULL, &err), 0);
	struct hs_audit_event ev = {.action_type = "run.start", .target = "true"};
	assert_int_equal(hs_audit_write(a, &ev, &err), 0);
	hs_audit_close(a);
	assert_int_equal(verify(NULL, NULL, &count, msg), 0);
	assert_int_equal(count, 2);
	struct stat st;
	char dir[PATH_MAX + 16];
	snprintf(dir, sizeof(dir), "%s/harness", xdg);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	unsetenv("XDG_STATE_HOME");
	free(path);
}

/* ---- tampering with a JSONL store (line N holds seq N) ---- */

static void test_jsonl_edit_detected(void **state)
{
	struct fixture *f = *state;
	struct lines l;
	write_n(f->jsonl, 30, NULL);
	read_lines(f->jsonl_path, &l);
	replace_in(&l.v[16], "tool-15", "tool-XX");
	write_lines(f->jsonl_path, &l);
	assert_verify_fails(f->jsonl, NULL,
			    "audit.jsonl:17: record seq 17: hash does not match its content (edited)");
}

static void test_jsonl_edit_and_rehash_detected(void **state)
{
	struct fixture *f = *state;
	struct lines l;
	write_n(f->jsonl, 30, NULL);
	read_lines(f->jsonl_path, &l);
	char *forged = reseal(l.v[16], "/bin/tool-15", "/bin/evil", NULL);
	free(l.v[16]);
	l.v[16] = forged;
	write_lines(f->jsonl_path, &l);
	assert_verify_fails(f->jsonl, NULL,
			    "audit.jsonl:18: record seq 18: prev_hash does not match record 17");
}

static void test_jsonl_delete_detected(void **state)
{
	struct fixture *f = *state;
	struct lines l;
	write_n(f->jsonl, 30, NULL);
	read_lines(f->jsonl_path, &l);
	free(l.v[16]);
	memmove(&l.v[16], &l.v[17], (l.n - 17) * sizeof(char *));
	l.n--;
	write_lines(f->jsonl_path, &l);
	assert_verify_fails(f->jsonl, NULL,
			    "audit.jsonl:17: record seq 18: seq jumps from 16 to 18 (a record was "
			    "deleted");
}

static void test_jsonl_insert_detected(void **state)
{
	struct fixture *f = *state;
	struct lines l;
	write_n(f->jsonl, 30, NULL);
	read_lines(f->jsonl_path, &l);
	/* a genuine record replayed later */
	memmove(&l.v[17], &l.v[16], (l.n - 16) * sizeof(char *));
	l.v[16] = strdup(l.v[9]);
	l.n++;
	write_lines(f->jsonl_path, &l);
	assert_verify_fails(f->jsonl, NULL,
			    "audit.jsonl:17: record seq 10: seq goes back from 16 to 10 (a record "
			    "was inserted");
}

static void test_jsonl_forged_insert_detected(void **state)
{
	struct fixture *f = *state;
	struct lines l;
	write_n(f->jsonl, 30, NULL);
	read_lines(f->jsonl_path, &l);
	/* a forged record with the right seq and a valid hash, linked to 16 */
	char *forged = reseal(l.v[16], "/bin/tool-15", "/bin/innocent", NULL);
	memmove(&l.v[17], &l.v[16], (l.n - 16) * sizeof(char *));
	l.v[16] = forged;
	l.n++;
	write_lines(f->jsonl_path, &l);
	assert_verify_fails(f->jsonl, NULL, "audit.jsonl:18: record seq 17: seq goes back from 17");
}

static void test_jsonl_reorder_detected(void **state)
{
	struct fixture *f = *state;
	struct lines l;
	write_n(f->jsonl, 30, NULL);
	read_lines(f->jsonl_path, &l);
	char *t = l.v[15];
	l.v[15] = l.v[16];
	l.v[16] = t;
	write_lines(f->jsonl_path, &l);
	assert_verify_fails(f->jsonl, NULL,
			    "audit.jsonl:16: record seq 17: seq jumps from 15 to 17");
}

static void test_jsonl_truncation_detected(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	write_n(f->jsonl, 30, NULL);
	assert_int_equal(stat(f->jsonl_path, &st), 0);
	assert_int_equal(truncate(f->jsonl_path, st.st_size - 10), 0);
	assert_verify_fails(f->jsonl, NULL, "audit.jsonl:31: incomplete record (truncated)");
	/* and nobody may append after a half record */
	struct hs_audit *a;
	struct hs_error err;
	assert_int_equal(open_one(&a, f->jsonl, NULL, NULL, &err), -1);
	assert_contains(err.msg, "ends with an incomplete record");
}

static void test_jsonl_head_deleted_detected(void **state)
{
	struct fixture *f = *state;
	struct lines l;
	write_n(f->jsonl, 5, NULL);
	read_lines(f->jsonl_path, &l);
	free(l.v[0]);
	memmove(&l.v[0], &l.v[1], (l.n - 1) * sizeof(char *));
	l.n--;
	write_lines(f->jsonl_path, &l);
	assert_verify_fails(f->jsonl, NULL,
			    "audit.jsonl:1: record seq 2: the store does not start at seq 1");
}

static void test_jsonl_garbage_line_detected(void **state)
{
	struct fixture *f = *state;
	struct lines l;
	int damaged;
	write_n(f->jsonl, 5, NULL);
	read_lines(f->jsonl_path, &l);
	free(l.v[3]);
	l.v[3] = strdup("{\"seq\": 4, \"oops");
	write_lines(f->jsonl_path, &l);
	assert_verify_fails(f->jsonl, NULL, "audit.jsonl:4: not a JSON record");
	/* query skips it, reports it once, and goes on */
	assert_int_equal(count_matching(f->jsonl, NULL, &damaged), 5);
	assert_int_equal(damaged, 1);
}

/* Records cut off the end at a line boundary, then appended to: the
 * writer notices the chain went backwards and refuses. */
static void test_jsonl_cut_under_writer_refused(void **state)
{
	struct fixture *f = *state;
	struct hs_audit *a;
	struct hs_error err;
	struct lines l;
	struct hs_audit_event ev = {.action_type = "exec", .target = "x"};
	assert_int_equal(open_one(&a, f->jsonl, NULL, NULL, &err), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(hs_audit_write(a, &ev, &err), 0);
	read_lines(f->jsonl_path, &l);
	for (size_t i = 4; i < l.n; i++)
		free(l.v[i]);
	l.n = 4;
	write_lines(f->jsonl_path, &l);
	assert_int_equal(hs_audit_write(a, &ev, &err), -1);
	assert_contains(err.msg, "lost records");
	hs_audit_close(a);
}

/* ---- tampering with a SQLite store ---- */

static void test_sqlite_edit_detected(void **state)
{
	struct fixture *f = *state;
	write_n(f->sqlite, 30, NULL);
	sql(f->sqlite_path, "UPDATE agent_actions SET outcome = 'approved' WHERE seq = 17");
	assert_verify_fails(f->sqlite, NULL,
			    "audit.db: record seq 17: hash does not match its content (edited)");
}

static void test_sqlite_delete_detected(void **state)
{
	struct fixture *f = *state;
	write_n(f->sqlite, 30, NULL);
	sql(f->sqlite_path, "DELETE FROM agent_actions WHERE seq = 17");
	assert_verify_fails(f->sqlite, NULL, "record seq 18: seq jumps from 16 to 18");
}

static void test_sqlite_reorder_detected(void **state)
{
	struct fixture *f = *state;
	write_n(f->sqlite, 30, NULL);
	sql(f->sqlite_path, "UPDATE agent_actions SET seq = -1 WHERE seq = 16;"
			    "UPDATE agent_actions SET seq = 16 WHERE seq = 17;"
			    "UPDATE agent_actions SET seq = 17 WHERE seq = -1;");
	assert_verify_fails(f->sqlite, NULL, "record seq 16: hash does not match its content");
}

static void test_sqlite_forged_row_detected(void **state)
{
	struct fixture *f = *state;
	write_n(f->sqlite, 30, NULL);
	/* a whole row copied over another one: its content and hash agree,
	 * its place in the chain does not */
	sql(f->sqlite_path, "DELETE FROM agent_actions WHERE seq = 20;"
			    "INSERT INTO agent_actions SELECT 20, ts, run_id, agent_id, action_type,"
			    " target, outcome, duration_ms, metadata, approved_by, prev_hash, hash"
			    " FROM agent_actions WHERE seq = 5;");
	assert_verify_fails(f->sqlite, NULL, "record seq 20: hash does not match");
}

static void test_sqlite_meta_edit_detected(void **state)
{
	struct fixture *f = *state;
	write_n(f->sqlite, 3, NULL);
	sql(f->sqlite_path, "UPDATE harness_meta SET value = 'hmac-sha256' WHERE key = 'hash_alg'");
	assert_verify_fails(f->sqlite, NULL, "harness_meta says hmac-sha256 (edited)");
}

static void test_sqlite_bad_column_type_detected(void **state)
{
	struct fixture *f = *state;
	int damaged;
	write_n(f->sqlite, 5, NULL);
	sql(f->sqlite_path, "UPDATE agent_actions SET metadata = 'not json' WHERE seq = 3");
	assert_verify_fails(f->sqlite, NULL, "record seq 3: column metadata is damaged");
	assert_int_equal(count_matching(f->sqlite, NULL, &damaged), 5);
	assert_int_equal(damaged, 1);
}

/* ---- HMAC ---- */

static void check_keyed(const char *spec)
{
	static const unsigned char other[] = "another-key-0123456789";
	char msg[HS_ERR_MSG_MAX];
	uint64_t count;
	struct hs_audit *a;
	struct hs_error err;
	write_n(spec, 10, test_key);
	assert_int_equal(verify(spec, test_key, &count, msg), 0);
	assert_int_equal(count, 11);
	assert_verify_fails(spec, other, "record seq 1: hash does not match its content (edited, "
					 "or the wrong --audit-key)");
	assert_int_equal(verify(spec, NULL, NULL, msg), -2);
	assert_contains(msg, "keyed (hmac-sha256): give --audit-key");
	/* no key, no writing either */
	assert_int_equal(open_one(&a, spec, NULL, NULL, &err), -1);
	assert_contains(err.msg, "keyed (hmac-sha256)");
}

static void test_jsonl_keyed(void **state)
{
	check_keyed(((struct fixture *)*state)->jsonl);
}

static void test_sqlite_keyed(void **state)
{
	check_keyed(((struct fixture *)*state)->sqlite);
}

/* Without the key, a forger can re-hash a record, but not so that it
 * verifies with the key. */
static void test_keyed_forgery_detected(void **state)
{
	struct fixture *f = *state;
	struct lines l;
	write_n(f->jsonl, 30, test_key);
	read_lines(f->jsonl_path, &l);
	char *forged = reseal(l.v[16], "/bin/tool-15", "/bin/evil", NULL);
	free(l.v[16]);
	l.v[16] = forged;
	write_lines(f->jsonl_path, &l);
	assert_verify_fails(f->jsonl, test_key,
			    "audit.jsonl:17: record seq 17: hash does not match its content");
}

/* A key given for an unkeyed store: the key was stripped, or never used. */
static void test_key_for_unkeyed_store(void **state)
{
	struct fixture *f = *state;
	struct hs_audit *a;
	struct hs_error err;
	write_n(f->jsonl, 3, NULL);
	assert_verify_fails(f->jsonl, test_key, "the header says the store is not keyed");
	assert_int_equal(open_one(&a, f->jsonl, test_key, NULL, &err), -1);
	assert_contains(err.msg, "created without a key");
}

static void test_read_key(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX + 8];
	unsigned char *key;
	size_t len;
	struct hs_error err;
	snprintf(path, sizeof(path), "%s/key", f->dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "0123456789abcdef0123\n", 21), 21);
	close(fd);
	assert_int_equal(hs_audit_read_key(path, &key, &len, &err), 0);
	assert_int_equal(len, 20);
	assert_memory_equal(key, "0123456789abcdef0123", 20);
	hs_audit_free_key(key, len);
	chmod(path, 0644);
	assert_int_equal(hs_audit_read_key(path, &key, &len, &err), -1);
	assert_contains(err.msg, "chmod 600");
	chmod(path, 0600);
	assert_int_equal(truncate(path, 8), 0);
	assert_int_equal(hs_audit_read_key(path, &key, &len, &err), -1);
	assert_contains(err.msg, "16 to 1024 bytes");
}

/* ---- concurrency ---- */

/* Child: waits for the go byte, then writes n records to the store. */
static void concurrent_child(const char *spec, int go_fd, const char *run_id, int n)
{
	struct hs_audit *a;
	struct hs_error err;
	char c;
	alarm(60);
	if (read(go_fd, &c, 1) != 1)
		_exit(2);
	if (open_one(&a, spec, NULL, run_id, &err) < 0) {
		fprintf(stderr, "child: %s\n", err.msg);
		_exit(3);
	}
	for (int i = 0; i < n; i++) {
		struct hs_audit_event ev = {.action_type = "exec", .target = run_id};
		if (hs_audit_write(a, &ev, &err) < 0) {
			fprintf(stderr, "child: %s\n", err.msg);
			_exit(4);
		}
	}
	hs_audit_close(a);
	_exit(0);
}

/* Two processes create the same new store at the same moment and append
 * 500 records each: one chain, seq 1..1001, 500 records per run. */
static void check_concurrent(const char *spec)
{
	static const char *const runs[] = {"run-a", "run-b"};
	pid_t pids[2];
	int go[2], status[2];
	char msg[HS_ERR_MSG_MAX];
	uint64_t count;
	assert_int_equal(pipe(go), 0);
	fflush(NULL);
	for (int i = 0; i < 2; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			close(go[1]);
			concurrent_child(spec, go[0], runs[i], 500);
		}
	}
	close(go[0]);
	assert_int_equal(write(go[1], "gg", 2), 2);
	close(go[1]);
	for (int i = 0; i < 2; i++) /* both, before any assert ends the test */
		assert_int_equal(waitpid(pids[i], &status[i], 0), pids[i]);
	for (int i = 0; i < 2; i++) {
		assert_true(WIFEXITED(status[i]));
		assert_int_equal(WEXITSTATUS(status[i]), 0);
	}
	if (verify(spec, NULL, &count, msg) != 0)
		fail_msg("%s", msg);
	assert_int_equal(count, 1001);
	for (int i = 0; i < 2; i++) {
		struct hs_audit_filter fl = {.run_id = runs[i], .action = "exec"};
		assert_int_equal(count_matching(spec, &fl, NULL), 500);
	}
}

/* Many runs creating the same new store at the same moment (a fresh
 * state dir, several agents started together): every one of them gets in,
 * none takes the half-made store for someone else's. 30 rounds of 6. */
static void test_concurrent_creation(void **state)
{
	struct fixture *f = *state;
	int failed = 0;
	for (int round = 0; round < 30; round++) {
		char spec[160];
		int go[2], status;
		snprintf(spec, sizeof(spec), "%s:%s/new-%d", round % 2 ? "jsonl" : "sqlite", f->dir,
			 round);
		assert_int_equal(pipe(go), 0);
		fflush(NULL);
		for (int i = 0; i < 6; i++) {
			pid_t pid = fork();
			assert_true(pid >= 0);
			if (pid == 0) {
				close(go[1]);
				concurrent_child(spec, go[0], "run", 2);
			}
		}
		close(go[0]);
		assert_int_equal(write(go[1], "gggggg", 6), 6);
		close(go[1]);
		while (wait(&status) > 0)
			failed += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
		char msg[HS_ERR_MSG_MAX];
		uint64_t count;
		if (verify(spec, NULL, &count, msg) != 0)
			fail_msg("%s", msg);
		assert_int_equal(count, 13);
	}
	assert_int_equal(failed, 0);
}

static void test_concurrent_jsonl(void **state)
{
	check_concurrent(((struct fixture *)*state)->jsonl);
}

static void test_concurrent_sqlite(void **state)
{
	check_concurrent(((struct fixture *)*state)->sqlite);
}

/* ---- failing closed ---- */

/* Child: writes until the store fails; exit 0 when the failure came with
 * a message naming the sink and `cause`, and the store still verifies. */
static int fill_until_failure(const char *spec, const char *cause)
{
	struct hs_audit *a;
	struct hs_error err;
	char msg[HS_ERR_MSG_MAX];
	json_t *meta = json_pack("{s:s}", "pad", "................................................");
	struct hs_audit_event ev = {.action_type = "exec", .target = "/bin/x", .metadata = meta};
	int i = 0;
	if (open_one(&a, spec, NULL, NULL, &err) < 0) {
		fprintf(stderr, "open: %s\n", err.msg);
		return 10;
	}
	while (i < 200000 && hs_audit_write(a, &ev, &err) == 0)
		i++;
	hs_audit_close(a);
	json_decref(meta);
	if (i == 200000 || !strstr(err.msg, spec) || !strstr(err.msg, cause)) {
		fprintf(stderr, "after %d records: %s\n", i, err.msg);
		return 11;
	}
	if (verify(spec, NULL, NULL, msg) != 0) {
		fprintf(stderr, "verify after failure: %s\n", msg);
		return 12;
	}
	return 0;
}

/* A mount namespace of our own: as root directly, otherwise inside a user
 * namespace that maps our ids to themselves (files on the tmpfs need an
 * owner). -1 where neither is allowed. */
static int own_mount_namespace(void)
{
	uid_t uid = getuid();
	gid_t gid = getgid();
	char map[64];
	if (uid == 0)
		return unshare(CLONE_NEWNS);
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		return -1;
	snprintf(map, sizeof(map), "%u %u 1", (unsigned)uid, (unsigned)uid);
	if (hs_write_file("/proc/self/uid_map", map) < 0 ||
	    hs_write_file("/proc/self/setgroups", "deny") < 0)
		return -1;
	snprintf(map, sizeof(map), "%u %u 1", (unsigned)gid, (unsigned)gid);
	return hs_write_file("/proc/self/gid_map", map);
}

static void tiny_fs_child(const struct fixture *f)
{
	char mnt[PATH_MAX + 8], spec[PATH_MAX + 64];
	int r = 0;
	alarm(60);
	if (own_mount_namespace() < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		_exit(SKIPPED);
	static const char *const kinds[][2] = {{"jsonl", "No space left on device"},
					       {"sqlite", "database or disk is full"}};
	for (int i = 0; i < 2; i++) {
		snprintf(mnt, sizeof(mnt), "%s/tiny-%s", f->dir, kinds[i][0]);
		if (mkdir(mnt, 0700) < 0 || mount("tmpfs", mnt, "tmpfs", 0, "size=128k") < 0)
			_exit(SKIPPED);
		snprintf(spec, sizeof(spec), "%s:%s/store", kinds[i][0], mnt);
		r |= fill_until_failure(spec, kinds[i][1]);
	}
	_exit(r);
}

static void fsize_child(const struct fixture *f)
{
	struct rlimit rl = {.rlim_cur = 48 * 1024, .rlim_max = RLIM_INFINITY};
	alarm(60);
	signal(SIGXFSZ, SIG_IGN);
	if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
		_exit(20);
	int r = fill_until_failure(f->jsonl, "File too large");
	r |= fill_until_failure(f->sqlite, "sqlite:");
	_exit(r);
}

static int run_child(void (*fn)(const struct fixture *), const struct fixture *f)
{
	int status;
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		fn(f);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_full_filesystem_fails_closed(void **state)
{
	int r = run_child(tiny_fs_child, *state);
	if (r == SKIPPED)
		skip(); /* no mount namespace here: the RLIMIT_FSIZE test covers it */
	assert_int_equal(r, 0);
}

static void test_file_size_limit_fails_closed(void **state)
{
	assert_int_equal(run_child(fsize_child, *state), 0);
}

static void check_removed(const char *spec, const char *path, bool replace)
{
	struct hs_audit *a;
	struct hs_error err;
	struct hs_audit_event ev = {.action_type = "exec", .target = "x"};
	assert_int_equal(open_one(&a, spec, NULL, NULL, &err), 0);
	assert_int_equal(hs_audit_write(a, &ev, &err), 0);
	if (replace) {
		char other[PATH_MAX + 8];
		snprintf(other, sizeof(other), "%s.new", path);
		FILE *fp = fopen(other, "w");
		assert_non_null(fp);
		fclose(fp);
		assert_int_equal(rename(other, path), 0);
	} else {
		assert_int_equal(unlink(path), 0);
	}
	assert_int_equal(hs_audit_write(a, &ev, &err), -1);
	assert_contains(err.msg, spec);
	assert_contains(err.msg, "removed or replaced");
	hs_audit_close(a);
}

static void test_removed_store_fails_closed(void **state)
{
	struct fixture *f = *state;
	check_removed(f->jsonl, f->jsonl_path, false);
	check_removed(f->sqlite, f->sqlite_path, false);
}

static void test_replaced_store_fails_closed(void **state)
{
	struct fixture *f = *state;
	check_removed(f->jsonl, f->jsonl_path, true);
	check_removed(f->sqlite, f->sqlite_path, true);
}

/* ---- foreign files ---- */

static void write_file(const char *path, const char *content)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(content, fp);
	fclose(fp);
}

static void test_foreign_jsonl_refused(void **state)
{
	struct fixture *f = *state;
	struct hs_audit *a;
	struct hs_error err;
	int damaged;
	write_file(f->jsonl_path, "{\"level\":\"info\",\"msg\":\"someone else's log\"}\n");
	assert_int_equal(open_one(&a, f->jsonl, NULL, NULL, &err), -1);
	assert_contains(err.msg, "not a harness audit store");
	assert_verify_fails(f->jsonl, NULL, "audit.jsonl:1: not a harness audit record");
	assert_int_equal(count_matching(f->jsonl, NULL, &damaged), 0);
	assert_int_equal(damaged, 1);
	write_file(f->jsonl_path, "hello\n");
	assert_int_equal(open_one(&a, f->jsonl, NULL, NULL, &err), -1);
	assert_int_equal(open_one(&a, "jsonl:/dev/null", NULL, NULL, &err), -1);
	assert_contains(err.msg, "not a regular file");
}

static void test_foreign_sqlite_refused(void **state)
{
	struct fixture *f = *state;
	struct hs_audit *a;
	struct hs_error err;
	char msg[HS_ERR_MSG_MAX];
	sql(f->sqlite_path, "CREATE TABLE notes(x); INSERT INTO notes VALUES (1);");
	assert_int_equal(open_one(&a, f->sqlite, NULL, NULL, &err), -1);
	assert_contains(err.msg, "not a harness audit database");
	assert_int_equal(verify(f->sqlite, NULL, NULL, msg), -2);
	assert_contains(msg, "not a harness audit database");
	assert_int_equal(hs_audit_read(f->sqlite, NULL, collect_fn, NULL, &err), -1);
	write_file(f->sqlite_path, "this is not a database at all, just text...\n");
	assert_int_equal(open_one(&a, f->sqlite, NULL, NULL, &err), -1);
	assert_contains(err.msg, "not a database");
}

static void test_bad_specs(void **state)
{
	(void)state;
	struct hs_error err;
	assert_int_equal(hs_audit_check_spec("jsonl:/x", &err), 0);
	assert_int_equal(hs_audit_check_spec("sqlite:x.db", &err), 0);
	assert_int_equal(hs_audit_check_spec("jsonl:", &err), -1);
	assert_int_equal(hs_audit_check_spec("csv:/x", &err), -1);
	assert_contains(err.msg, "expected jsonl:PATH or sqlite:PATH");
}

/* ---- query ---- */

static void write_mixed(const char *spec)
{
	static const struct {
		const char *run, *agent, *action;
		enum hs_audit_outcome outcome;
	} evs[] = {
		{"run-a", "", "run.start", HS_OUTCOME_ALLOWED},
		{"run-a", "", "exec", HS_OUTCOME_ALLOWED},
		{"run-a", "", "exec", HS_OUTCOME_BLOCKED},
		{"run-a", "", "exec", HS_OUTCOME_BLOCKED},
		{"run-a", "", "execute.other", HS_OUTCOME_ALLOWED},
		{"run-a", "", "limit", HS_OUTCOME_FLAGGED},
		{"run-b", "bot", "approval", HS_OUTCOME_APPROVED},
		{"run-b", "bot", "exec", HS_OUTCOME_DENIED},
		{"run-b", "bot", "run.exit", HS_OUTCOME_ALLOWED},
	};
	for (size_t i = 0; i < HS_ARRAY_LEN(evs); i++) {
		struct hs_strv specs = {0};
		struct hs_audit *a;
		struct hs_error err;
		hs_strv_push(&specs, spec);
		assert_int_equal(hs_audit_open(&a, &specs, NULL, 0, false, evs[i].run, evs[i].agent,
					       &err),
				 0);
		struct hs_audit_event ev = {.action_type = evs[i].action, .target = "t",
					    .outcome = evs[i].outcome};
		assert_int_equal(hs_audit_write(a, &ev, &err), 0);
		struct hs_audit_counts c;
		hs_audit_counts(a, &c);
		assert_int_equal(c.records, 1);
		assert_int_equal(c.execs, !strcmp(evs[i].action, "exec"));
		assert_int_equal(c.blocked, evs[i].outcome == HS_OUTCOME_BLOCKED);
		hs_audit_close(a);
		hs_strv_clear(&specs);
	}
}

static void check_filters(const char *spec)
{
	write_mixed(spec); /* 10 records: header (run-a) + 9 */
	struct hs_audit_filter fl = {0};
	assert_int_equal(count_matching(spec, &fl, NULL), 10);
	fl = (struct hs_audit_filter){.outcome = "blocked"};
	assert_int_equal(count_matching(spec, &fl, NULL), 2);
	fl = (struct hs_audit_filter){.action = "exec"};
	assert_int_equal(count_matching(spec, &fl, NULL), 4); /* not execute.other */
	fl = (struct hs_audit_filter){.action = "run"};
	assert_int_equal(count_matching(spec, &fl, NULL), 2); /* run.start, run.exit */
	fl = (struct hs_audit_filter){.run_id = "run-b"};
	assert_int_equal(count_matching(spec, &fl, NULL), 3);
	fl = (struct hs_audit_filter){.agent_id = "bot", .outcome = "denied"};
	assert_int_equal(count_matching(spec, &fl, NULL), 1);
	fl = (struct hs_audit_filter){.after_seq = 7};
	assert_int_equal(count_matching(spec, &fl, NULL), 3);
	fl = (struct hs_audit_filter){.since_us = audit_now_us() + 3600000000LL};
	assert_int_equal(count_matching(spec, &fl, NULL), 0);
	fl = (struct hs_audit_filter){.since_us = audit_now_us() - 3600000000LL};
	assert_int_equal(count_matching(spec, &fl, NULL), 10);
	/* the newest N, oldest first */
	struct collect c = {.all = json_array()};
	struct hs_error err;
	fl = (struct hs_audit_filter){.limit = 3, .run_id = "run-a"};
	assert_int_equal(hs_audit_read(spec, &fl, collect_fn, &c, &err), 0);
	assert_int_equal(json_array_size(c.all), 3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(c.all, 0), "seq")), 5);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(c.all, 2), "seq")), 7);
	json_decref(c.all);
}

static void test_jsonl_filters(void **state)
{
	check_filters(((struct fixture *)*state)->jsonl);
}

static void test_sqlite_filters(void **state)
{
	check_filters(((struct fixture *)*state)->sqlite);
}

static int stop_after_two(json_t *rec, void *ctx)
{
	(void)rec;
	return ++*(int *)ctx == 2;
}

static void test_read_stops_when_asked(void **state)
{
	struct fixture *f = *state;
	const char *specs[] = {f->jsonl, f->sqlite};
	for (int i = 0; i < 2; i++) {
		int calls = 0;
		struct hs_error err;
		write_n(specs[i], 10, NULL);
		assert_int_equal(hs_audit_read(specs[i], NULL, stop_after_two, &calls, &err), 0);
		assert_int_equal(calls, 2);
	}
}

static void test_parse_since(void **state)
{
	(void)state;
	const int64_t now = 1800000000LL * 1000000;
	int64_t t;
	assert_int_equal(hs_audit_parse_since("30s", now, &t), 0);
	assert_int_equal(t, now - 30000000LL);
	assert_int_equal(hs_audit_parse_since("15m", now, &t), 0);
	assert_int_equal(t, now - 900000000LL);
	assert_int_equal(hs_audit_parse_since("2h", now, &t), 0);
	assert_int_equal(t, now - 7200000000LL);
	assert_int_equal(hs_audit_parse_since("7d", now, &t), 0);
	assert_int_equal(t, now - 7 * 86400000000LL);
	assert_int_equal(hs_audit_parse_since("2w", now, &t), 0);
	assert_int_equal(t, now - 14 * 86400000000LL);
	assert_int_equal(hs_audit_parse_since("2026-11-23T18:00:00Z", now, &t), 0);
	assert_int_equal(t, 1795456800LL * 1000000);
	assert_int_equal(hs_audit_parse_since("2026-11-23T19:00:00.5+01:00", now, &t), 0);
	assert_int_equal(t, 1795456800LL * 1000000 + 500000);
	assert_int_equal(hs_audit_parse_since("2026-11-23", now, &t), 0);
	assert_int_equal(t, 1795392000LL * 1000000);
	static const char *const bad[] = {"", "7", "7x", "-1d", "d", "2026-13-01",
					  "2026-11-23T25:00:00Z", "2026-11-23T18:00:00",
					  "99999999999999999999d", "abc"};
	for (size_t i = 0; i < HS_ARRAY_LEN(bad); i++)
		if (hs_audit_parse_since(bad[i], now, &t) == 0)
			fail_msg("'%s' parsed", bad[i]);
	char ts[32];
	audit_format_ts(1795456800LL * 1000000 + 123456, ts);
	assert_string_equal(ts, "2026-11-23T18:00:00.123456Z");
	assert_int_equal(audit_parse_ts(ts, &t), 0);
	assert_int_equal(t, 1795456800LL * 1000000 + 123456);
}

/* The timestamps' date arithmetic agrees with the C library's gmtime_r
 * on every day from 1970 to 2400 (leap days, century years, 2000 and
 * 2100 and 2400 included) and at the last second of a day. */
static void test_ts_dates_match_gmtime(void **state)
{
	(void)state;
	for (int64_t day = 0; day <= 157000; day++) {
		int y, m, d;
		audit_civil_date(day, &y, &m, &d);
		time_t sec = (time_t)(day * 86400 + 86399);
		struct tm tm;
		assert_non_null(gmtime_r(&sec, &tm));
		if (y != tm.tm_year + 1900 || m != tm.tm_mon + 1 || d != tm.tm_mday)
			fail_msg("day %lld: %d-%d-%d, gmtime_r says %d-%d-%d", (long long)day, y, m, d,
				 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
		char ts[32], want[80];
		audit_format_ts((int64_t)sec * 1000000 + 999999, ts);
		snprintf(want, sizeof(want), "%04d-%02d-%02dT23:59:59.999999Z", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday);
		if (strcmp(ts, want) != 0)
			fail_msg("%s, want %s", ts, want);
	}
	char ts[32];
	audit_format_ts(951782400LL * 1000000, ts); /* the leap day of a 400th year */
	assert_string_equal(ts, "2000-02-29T00:00:00.000000Z");
	audit_format_ts(4107542400LL * 1000000 + 1, ts); /* 2100 is not a leap year */
	assert_string_equal(ts, "2100-03-01T00:00:00.000001Z");
	audit_format_ts(0, ts);
	assert_string_equal(ts, "1970-01-01T00:00:00.000000Z");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_known_answers),
		cmocka_unit_test(test_ts_dates_match_gmtime),
		cmocka_unit_test(test_serializer_matches_jansson),
		cmocka_unit_test_setup_teardown(test_invalid_utf8_kept_as_hex, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_record_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jsonl_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sqlite_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jsonl_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sqlite_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sqlite_wal_trimmed_only_when_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jsonl_edit_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jsonl_edit_and_rehash_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jsonl_delete_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jsonl_insert_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jsonl_forged_insert_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jsonl_reorder_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jsonl_truncation_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jsonl_head_deleted_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jsonl_garbage_line_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jsonl_cut_under_writer_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sqlite_edit_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sqlite_delete_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sqlite_reorder_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sqlite_forged_row_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sqlite_meta_edit_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sqlite_bad_column_type_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jsonl_keyed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sqlite_keyed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keyed_forgery_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_for_unkeyed_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_creation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_jsonl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_sqlite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_filesystem_fails_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_size_limit_fails_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_removed_store_fails_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replaced_store_fails_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_jsonl_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_sqlite_refused, setup, teardown),
		cmocka_unit_test(test_bad_specs),
		cmocka_unit_test_setup_teardown(test_jsonl_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sqlite_filters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_stops_when_asked, setup, teardown),
		cmocka_unit_test(test_parse_since),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
