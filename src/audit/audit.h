/*
 * audit.h: the audit trail. One event shape for every sink; every record is
 * hash-chained to the one before it in the same store (SHA-256, or
 * HMAC-SHA-256 with a key), written by the supervisor only, outside the
 * sandbox, and written BEFORE the action it records proceeds. A sink that
 * cannot be written makes the caller fail closed.
 *
 * Event fields (the same in JSONL and SQLite, table agent_actions):
 *   seq          per-store sequence number, 1-based, no gaps
 *   ts           RFC 3339 UTC with microseconds ("2026-11-23T18:00:00.123456Z")
 *   run_id       one id per `harness run` (random, 32 hex chars)
 *   agent_id     the caller's label for the agent (--agent-id), "" if none
 *   action_type  "run.start", "run.exit", "limit", "exec", "approval", ...
 *   target       what the action was about (argv[0], a path, a host)
 *   outcome      allowed | blocked | flagged | approved | denied
 *   duration_ms  integer, 0 when not meaningful
 *   metadata     a JSON object (argv, layers, policy digest, status, ...)
 *   approved_by  who approved ("" if nobody)
 *   prev_hash    hash of the previous record in the store ("" for the first)
 *   hash         hex digest over prev_hash and the record's canonical JSON
 *
 * Canonical JSON of a record: the fields above except `hash`, as one JSON
 * object with keys sorted, no whitespace, UTF-8, integers as integers
 * (jansson JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII). hash =
 * hex(SHA256(prev_hash || "\n" || canonical)) or HMAC-SHA256 with the key.
 *
 * Concurrency: several runs may append to one store; each append takes an
 * exclusive lock (flock on the JSONL file; BEGIN IMMEDIATE in SQLite), reads
 * the last record's seq and hash, and appends after it, so chains never
 * interleave or fork.
 */
#ifndef HS_AUDIT_H
#define HS_AUDIT_H

#include "../common/common.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

enum hs_audit_outcome {
	HS_OUTCOME_ALLOWED,
	HS_OUTCOME_BLOCKED,
	HS_OUTCOME_FLAGGED,
	HS_OUTCOME_APPROVED,
	HS_OUTCOME_DENIED,
};
const char *hs_audit_outcome_name(enum hs_audit_outcome o);

/* An event before it is written (the sink fills seq, ts, hashes). */
struct hs_audit_event {
	const char *action_type;
	const char *target;
	enum hs_audit_outcome outcome;
	uint64_t duration_ms;
	json_t *metadata;        /* borrowed; NULL = {} */
	const char *approved_by; /* NULL = "" */
	int64_t ts_us;           /* when it happened (µs since the epoch); 0 = now */
};

/* The audit log of one run: zero or more sinks. Opaque. */
struct hs_audit;

/* Sink specs: "jsonl:PATH" or "sqlite:PATH". With none, the default is
 * sqlite:$XDG_STATE_HOME/harness/audit.db (~/.local/state/harness/audit.db),
 * its directory created 0700. key/keylen: HMAC key, or NULL for plain
 * SHA-256. sync: fsync (JSONL) / synchronous=FULL (SQLite) every record.
 * Fails (-1) if any sink cannot be opened or is not a harness audit store. */
int hs_audit_open(struct hs_audit **out, const struct hs_strv *specs, const unsigned char *key,
		  size_t keylen, bool sync, const char *run_id, const char *agent_id,
		  struct hs_error *err);

/* Writes one event to every sink, durably (per the sync setting), before
 * returning. -1 if any sink failed: the caller must refuse the action and
 * end the run (fail closed). */
int hs_audit_write(struct hs_audit *a, const struct hs_audit_event *ev, struct hs_error *err);

/* Writes n events (at most HS_AUDIT_BATCH_MAX) in order, as hs_audit_write
 * does one, under one lock and, in SQLite, one transaction: all of them or
 * none. (A JSONL sink may keep the first records of a batch whose later
 * record failed: each line is whole, and the caller ends the run.) */
#define HS_AUDIT_BATCH_MAX 4
int hs_audit_write_batch(struct hs_audit *a, const struct hs_audit_event *evs, size_t n,
			 struct hs_error *err);

/* Counts kept for the end-of-run summary. */
struct hs_audit_counts {
	uint64_t records, execs, blocked, approved, denied;
};
void hs_audit_counts(const struct hs_audit *a, struct hs_audit_counts *out);

void hs_audit_close(struct hs_audit *a);

/* A fresh random run id: 32 lowercase hex chars + NUL. */
void hs_audit_new_run_id(char out[33]);

/* The default store path (see hs_audit_open); owned by the caller. */
char *hs_audit_default_path(void);

/* ---- reading a store back (harness audit verify/query/tail/export) ---- */

/* Verifies a store's chain: seq contiguous from 1, every prev_hash equal to
 * the previous hash, every hash recomputed from the record. Returns 0 when
 * intact; -1 with err naming the first bad record (seq or line) and why
 * (edited, inserted, deleted, reordered, truncated, not a record). *count
 * gets the number of records checked. */
int hs_audit_verify(const char *spec, const unsigned char *key, size_t keylen, uint64_t *count,
		    struct hs_error *err);

/* Query filters; NULL/0 fields match everything. */
struct hs_audit_filter {
	int64_t since_us;       /* records at or after this time (µs since epoch) */
	const char *outcome;
	const char *action;     /* action_type prefix ("exec", "run") */
	const char *run_id;
	const char *agent_id;
	uint64_t after_seq;     /* records with seq > after_seq (tail -f) */
	uint64_t limit;         /* at most this many, newest last; 0 = all */
};
/* Calls fn for each matching record (a JSON object with every field), in
 * seq order. A corrupt line or row is reported to fn as NULL once and
 * skipped (query never crashes on a damaged store). */
typedef int (*hs_audit_record_fn)(json_t *record, void *ctx);
int hs_audit_read(const char *spec, const struct hs_audit_filter *f, hs_audit_record_fn fn,
		  void *ctx, struct hs_error *err);

/* ---- additions: helpers for `harness run` and `harness audit` ----
 *
 * hs_audit_read, precisely: fn's record is borrowed for the call (json_incref
 * to keep it); fn returns 0 to go on and anything else to stop the walk
 * (hs_audit_read then returns 0). hs_audit_read returns -1 only when the
 * store cannot be read at all (missing, unreadable, a foreign SQLite file);
 * damaged lines of a JSONL file are passed to fn as NULL. */

/* Checks the syntax of an --audit spec ("jsonl:PATH", "sqlite:PATH")
 * without touching the file, so option parsing can refuse it early. */
int hs_audit_check_spec(const char *spec, struct hs_error *err);

/* Reads an --audit-key FILE: its bytes, less one trailing newline, 16 to
 * 1024 bytes. Refused when the file can be read by group or others (the
 * key is what makes the chain unforgeable). *key is owned by the caller
 * and freed with hs_audit_free_key (which wipes it). */
int hs_audit_read_key(const char *path, unsigned char **key, size_t *keylen,
		      struct hs_error *err);
void hs_audit_free_key(unsigned char *key, size_t keylen);

/* A JSON string for metadata taken from bytes the sandbox controls (argv,
 * paths): invalid UTF-8 and NUL bytes become the text "\xHH"; cut to max
 * bytes (0 = no cap) with a "...[truncated]" marker. Never NULL. */
json_t *hs_audit_json_bytes(const char *s, size_t len, size_t max);

/* What `harness audit verify` reports about an intact store. */
struct hs_audit_summary {
	uint64_t records;  /* records checked, the header record included */
	uint64_t last_seq;
	char last_hash[65]; /* keep it elsewhere to detect a later cut */
	char alg[16];       /* "sha256" or "hmac-sha256" */
};
/* hs_audit_verify with a summary and a finer result: 0 intact, -1 damaged
 * or tampered (err names the first bad record), -2 the store cannot be
 * checked (missing, unreadable, not a harness store, keyed but no key). */
int hs_audit_verify_store(const char *spec, const unsigned char *key, size_t keylen,
			  struct hs_audit_summary *out, struct hs_error *err);

/* --since: "30s", "15m", "2h", "7d", "2w" before now_us, or an RFC 3339
 * time ("2026-11-23T18:00:00Z", fractions and +HH:MM offsets allowed) or a
 * date ("2026-11-23", midnight UTC). Microseconds since the epoch. */
int hs_audit_parse_since(const char *s, int64_t now_us, int64_t *out_us);
/* Does a record (as given to an hs_audit_record_fn) pass the filter?
 * (`harness audit tail -f` polls unfiltered and filters on its side.) */
bool hs_audit_filter_match(const struct hs_audit_filter *f, json_t *record);
int64_t hs_audit_now_us(void);

#endif
