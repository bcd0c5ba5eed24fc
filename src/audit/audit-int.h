/*
 * audit-int.h: the private side of src/audit: record building and the
 * canonical form (record.c), the hash and the chain checker (chain.c), the
 * two sinks (jsonl.c, sqlite.c) behind one small table of operations, and
 * bounded line reading (jsonl.c). Only src/audit, its unit test, the fuzz
 * target and the benchmark include this.
 *
 * Every store starts with one header record (seq 1, action_type
 * "audit.init") whose metadata names the format and the hash algorithm; the
 * SQLite store also keeps the algorithm in its harness_meta table. The
 * algorithm is fixed when the store is created: a keyed (HMAC) store is
 * never extended or verified without its key, an unkeyed one never with a
 * key, so a chain cannot switch algorithms halfway (see docs/audit.md).
 */
#ifndef HS_AUDIT_INT_H
#define HS_AUDIT_INT_H

#include "audit.h"
#include "common/sha256.h"

/* The longest record line (the JSON object, without its '\n'). Longer
 * input is cut (strings, then metadata) before it is hashed, never refused. */
#define AUDIT_RECORD_MAX (64 * 1024)
#define AUDIT_HASH_HEX 64 /* SHA-256 / HMAC-SHA-256 as lowercase hex */

#define AUDIT_FORMAT_NAME "harness-audit"
#define AUDIT_FORMAT_VERSION 1
#define AUDIT_HEADER_ACTION "audit.init"
#define AUDIT_ALG_SHA256 "sha256"
#define AUDIT_ALG_HMAC "hmac-sha256"
/* PRAGMA application_id of a harness SQLite store: "hAud" (0x68417564). */
#define AUDIT_SQLITE_APP_ID 0x68417564
#define AUDIT_KEY_MIN 16
#define AUDIT_KEY_MAX 1024

/* ---- record.c: building, canonical form, shape, time ---- */

/* The fields every record of one run shares. */
struct audit_origin {
	const char *run_id;
	const char *agent_id;
};

/* One record in C form: what the sinks write and what verify rehashes.
 * Strings are valid UTF-8 without NUL, either owned (listed in owned[])
 * or borrowed from a parsed JSON record; metadata is its canonical JSON. */
struct audit_rec {
	uint64_t seq, duration_ms;
	const char *ts, *run_id, *agent_id, *action_type, *target, *outcome, *approved_by;
	const char *metadata;
	const char *prev_hash, *hash;
	char ts_buf[32], prev_buf[AUDIT_HASH_HEX + 1], hash_buf[AUDIT_HASH_HEX + 1];
	char *owned[8];
	size_t nowned;
};

/* Scratch space for serializing one record (canonical or line). */
#define AUDIT_SCRATCH (2 * AUDIT_RECORD_MAX)

/* A record from an event: strings made valid UTF-8 and cut to their caps,
 * metadata cut so the line fits AUDIT_RECORD_MAX (cut, never refused).
 * seq, prev_hash and hash are set by audit_rec_seal. */
void audit_rec_from_event(struct audit_rec *r, const struct audit_origin *o,
			  const struct hs_audit_event *ev, int64_t ts_us);
/* The header record of a new store (seq 1). */
void audit_rec_header(struct audit_rec *r, const struct audit_origin *o, const char *alg,
		      int64_t ts_us);
/* A view of a parsed record that passed audit_record_shape_error (its
 * strings are borrowed from rec, which must outlive r). */
void audit_rec_from_json(struct audit_rec *r, json_t *rec);
void audit_rec_free(struct audit_rec *r);
/* The canonical JSON (with_hash false) or the stored line (with_hash true,
 * no newline) into buf: byte for byte what jansson prints for the record
 * object with JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII. Returns
 * the length, or 0 if it does not fit in cap. */
size_t audit_rec_serialize(const struct audit_rec *r, bool with_hash, char *buf, size_t cap);

/* NULL when rec has exactly the record fields with the right types, else a
 * short reason ("field seq is missing", "seq is not a positive integer"). */
const char *audit_record_shape_error(json_t *rec);
/* The header's hash algorithm, or NULL with *why set when rec (shape-
 * checked) is not a valid header record. */
const char *audit_header_alg(json_t *rec, const char **why);
/* Does rec (a shape-checked record) pass the filter? */
bool audit_filter_match(const struct hs_audit_filter *f, json_t *rec);

/* Day z (days since 1970-01-01, z >= 0) as a proleptic Gregorian date. */
void audit_civil_date(int64_t z, int *year, int *month, int *day);
/* "2026-11-23T18:00:00.123456Z" <-> microseconds since the epoch. */
void audit_format_ts(int64_t us, char out[32]);
int audit_parse_ts(const char *s, int64_t *us);
int64_t audit_now_us(void);

/* A JSON string from arbitrary bytes, cut to max bytes (0 = no cap):
 * invalid UTF-8 bytes and NULs become the text "\xHH". */
json_t *audit_json_bytes(const char *s, size_t len, size_t max);

/* ---- chain.c: hashing and verification ---- */

struct audit_hasher {
	bool keyed;
	struct hs_hmac_sha256 mac; /* keyed: the key hashed in once, reused per record;
				      wiped on free */
};
int audit_hasher_init(struct audit_hasher *h, const unsigned char *key, size_t keylen,
		      struct hs_error *err);
void audit_hasher_free(struct audit_hasher *h);
const char *audit_hasher_alg(const struct audit_hasher *h);
/* out = hex(H(prev_hash || "\n" || canonical)). */
int audit_hash(struct audit_hasher *h, const char *prev_hash, const char *canonical, size_t len,
	       char out[AUDIT_HASH_HEX + 1]);
/* Sets seq and prev_hash on r and computes its hash (r->hash). scratch:
 * AUDIT_SCRATCH bytes, left holding the canonical JSON. */
int audit_rec_seal(struct audit_hasher *h, struct audit_rec *r, uint64_t seq,
		   const char *prev_hash, char *scratch, struct hs_error *err);
bool audit_is_hex_hash(const char *s);

/* Walks a store's records in order and stops at the first bad one. */
struct audit_verifier {
	struct audit_hasher hasher; /* set up from the header record */
	const unsigned char *key;   /* borrowed; NULL = no key given */
	size_t keylen;
	bool started;
	uint64_t count, last_seq;
	char last_hash[AUDIT_HASH_HEX + 1];
	char alg[16];
	const char *meta_alg; /* SQLite: harness_meta's algorithm, must agree */
	char *scratch;        /* AUDIT_SCRATCH bytes, owned */
};
void audit_verifier_init(struct audit_verifier *v, const unsigned char *key, size_t keylen);
void audit_verifier_free(struct audit_verifier *v);
/* Checks the next record. where: "PATH:LINE" or "PATH". Returns 0, -1 (bad
 * record: err says which and why) or -2 (cannot verify: key missing). */
int audit_verifier_next(struct audit_verifier *v, json_t *rec, const char *where,
			struct hs_error *err);

/* ---- sinks ---- */

struct audit_sink;
struct audit_sink_ops {
	/* Appends r[0..n) in order (seq, prev_hash, hash are filled in here,
	 * under the store's lock, taken once for all n). -1 with err on any
	 * failure: no record half-written (SQLite: none of the n). */
	int (*append)(struct audit_sink *s, struct audit_rec *r, size_t n, struct hs_error *err);
	void (*close)(struct audit_sink *s);
};
struct audit_sink {
	const struct audit_sink_ops *ops;
	char *spec; /* "jsonl:PATH", for messages; owned */
};

/* What the sinks need when they open (all borrowed). */
struct audit_open_args {
	struct audit_hasher *hasher;
	bool sync;
	struct audit_origin origin;
};

int audit_jsonl_open(const char *path, const struct audit_open_args *a, struct audit_sink **out,
		     struct hs_error *err);
int audit_sqlite_open(const char *path, const struct audit_open_args *a, struct audit_sink **out,
		      struct hs_error *err);

/* Reading. name: the store as shown in messages. -1: the store cannot be
 * read at all; -2 for verify: it cannot be checked (see audit_verifier). */
int audit_jsonl_verify_fd(int fd, const char *name, struct audit_verifier *v,
			  struct hs_error *err);
int audit_jsonl_read_fd(int fd, const char *name, const struct hs_audit_filter *f,
			hs_audit_record_fn fn, void *ctx, struct hs_error *err);
int audit_jsonl_verify(const char *path, struct audit_verifier *v, struct hs_error *err);
int audit_jsonl_read(const char *path, const struct hs_audit_filter *f, hs_audit_record_fn fn,
		     void *ctx, struct hs_error *err);
int audit_sqlite_verify(const char *path, struct audit_verifier *v, struct hs_error *err);
int audit_sqlite_read(const char *path, const struct hs_audit_filter *f, hs_audit_record_fn fn,
		      void *ctx, struct hs_error *err);

/* "jsonl:PATH" / "sqlite:PATH" -> kind and path (borrowed from spec). */
enum audit_kind { AUDIT_JSONL, AUDIT_SQLITE };
int audit_parse_spec(const char *spec, enum audit_kind *kind, const char **path,
		     struct hs_error *err);

#endif
