/*
 * sqlite.c: the SQLite sink (table agent_actions) and its readers.
 *
 * The store is recognised by PRAGMA application_id (AUDIT_SQLITE_APP_ID);
 * anything else that is not an empty database is refused. WAL mode, a busy
 * timeout, and BEGIN IMMEDIATE around each append: the write lock is taken
 * before the last seq and hash are read, so concurrent runs serialise and
 * never fork the chain. Every value goes through a bound parameter; the
 * only SQL text built at run time is a fixed set of WHERE fragments.
 *
 * Hardening for files we did not write: defensive mode, no triggers, no
 * views, untrusted schema (a planted trigger cannot rewrite what we insert).
 */
#define _GNU_SOURCE
#include "audit-int.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 10000
#define COLUMNS                                                                                    \
	"seq, ts, run_id, agent_id, action_type, target, outcome, duration_ms, metadata, "        \
	"approved_by, prev_hash, hash"

static const char schema_sql[] =
	"CREATE TABLE agent_actions(seq INTEGER PRIMARY KEY, ts TEXT NOT NULL,"
	" run_id TEXT NOT NULL, agent_id TEXT NOT NULL, action_type TEXT NOT NULL,"
	" target TEXT NOT NULL, outcome TEXT NOT NULL, duration_ms INTEGER NOT NULL,"
	" metadata TEXT NOT NULL, approved_by TEXT NOT NULL, prev_hash TEXT NOT NULL,"
	" hash TEXT NOT NULL);"
	"CREATE INDEX agent_actions_ts ON agent_actions(ts);"
	"CREATE INDEX agent_actions_outcome ON agent_actions(outcome, ts);"
	"CREATE INDEX agent_actions_run ON agent_actions(run_id);"
	"CREATE INDEX agent_actions_action ON agent_actions(action_type, ts);"
	"CREATE TABLE harness_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);";

struct sqlite_sink {
	struct audit_sink base;
	sqlite3 *db;
	sqlite3_stmt *begin, *commit, *rollback, *last, *insert;
	struct audit_hasher *hasher; /* borrowed */
	uint64_t last_seq;           /* our view of the chain's end */
	char *scratch;               /* AUDIT_SCRATCH bytes */
	bool trim_on_close;          /* checkpoint a long WAL at close (see open_store) */
};

/* A WAL longer than this is checkpointed when a run ends. The trade: a
 * checkpoint costs the run's exit its page copies and fsyncs, while every
 * frame left behind costs the next open a read and a checksum to rebuild
 * the WAL index (SQLite truncates the -shm when the first connection
 * opens), about 20 us a frame on the 2-CPU VM of bench/RESULTS.md. A short
 * run adds about 10 frames (run.start with the first exec, run.exit: the
 * row and four indexes each). Timed there with hyperfine, 150 runs of
 * `harness run -- /bin/true` per threshold, each in a fresh store, twice in
 * opposite orders: checkpoint at every close 28.3-28.7 ms (mean), 128 KiB
 * 26.5-27.1, 256 KiB 26.3-26.9, 1 MiB 27.1-27.6. */
#define WAL_TRIM_BYTES (256 * 1024)

/* "what: sqlite's message (errno text)" into err, naming the sink. */
static int db_err(sqlite3 *db, const char *name, const char *what, struct hs_error *err)
{
	int sys = db ? sqlite3_system_errno(db) : 0;
	const char *msg = db ? sqlite3_errmsg(db) : "out of memory";
	if (sys)
		return hs_err(err, "%s: %s: %s (%s)", name, what, msg, strerror(sys));
	return hs_err(err, "%s: %s: %s", name, what, msg);
}

static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

/* Runs one fixed statement (no parameters), ignoring rows. */
static int exec1(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* A harness_meta value (malloc'd), NULL if missing. */
static char *meta_get(sqlite3 *db, const char *key)
{
	sqlite3_stmt *st;
	char *v = NULL;
	if (sqlite3_prepare_v2(db, "SELECT value FROM harness_meta WHERE key = ?1", -1, &st,
			       NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		v = hs_xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return v;
}

enum store_state { STORE_NEW, STORE_OURS, STORE_FOREIGN };

/* One statement, so one snapshot: read separately, a store another run
 * creates in between would show tables but no application id yet. */
static int classify(sqlite3 *db, enum store_state *state)
{
	sqlite3_stmt *st;
	int64_t app = 0, objects = 0;
	if (sqlite3_prepare_v2(db,
			       "SELECT (SELECT application_id FROM pragma_application_id()),"
			       " (SELECT count(*) FROM sqlite_master)",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		app = sqlite3_column_int64(st, 0);
		objects = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return -1;
	if (app == AUDIT_SQLITE_APP_ID)
		*state = STORE_OURS;
	else
		*state = app == 0 && objects == 0 ? STORE_NEW : STORE_FOREIGN;
	return 0;
}

static void harden(sqlite3 *db)
{
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, (int *)NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, (int *)NULL);
}

/* ---- writing one record ---- */

/* Binds r to the INSERT and runs it. */
static int insert_record(struct sqlite_sink *s, const struct audit_rec *r)
{
	const char *text[] = {r->ts,	 r->run_id,  r->agent_id, r->action_type,
			      r->target, r->outcome};
	sqlite3_stmt *st = s->insert;
	int i = 1;
	sqlite3_bind_int64(st, i++, (sqlite3_int64)r->seq);
	for (size_t k = 0; k < HS_ARRAY_LEN(text); k++)
		sqlite3_bind_text(st, i++, text[k], -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, i++, (sqlite3_int64)r->duration_ms);
	sqlite3_bind_text(st, i++, r->metadata, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, i++, r->approved_by, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, i++, r->prev_hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, i++, r->hash, -1, SQLITE_STATIC);
	int rc = step_done(st);
	sqlite3_clear_bindings(st);
	return rc;
}

/* Fails closed when the database file was unlinked or renamed away: what
 * SQLite wrote to the old inode would be lost with it. */
static int check_not_moved(struct sqlite_sink *s, struct hs_error *err)
{
	int moved = 0;
	if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) != SQLITE_OK)
		return db_err(s->db, s->base.spec, "cannot check the file", err);
	if (moved)
		return hs_err(err, "audit sink %s: the database file was removed or replaced",
			      s->base.spec);
	return 0;
}

/* Inside BEGIN IMMEDIATE: the chain's end as stored now. */
static int read_last(struct sqlite_sink *s, uint64_t *seq, char hash[AUDIT_HASH_HEX + 1],
		     struct hs_error *err)
{
	int rc = sqlite3_step(s->last);
	const char *h = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(s->last, 1) : NULL;
	int r = 0;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = db_err(s->db, s->base.spec, "cannot read the last record", err);
	else if (rc == SQLITE_DONE)
		r = hs_err(err, "audit sink %s: the store has no records (emptied); refusing to "
				"start a new chain in it",
			   s->base.spec);
	else if (!audit_is_hex_hash(h))
		r = hs_err(err, "audit sink %s: the last record has no valid hash; run 'harness "
				"audit verify --audit %s'",
			   s->base.spec, s->base.spec);
	else {
		*seq = (uint64_t)sqlite3_column_int64(s->last, 0);
		snprintf(hash, AUDIT_HASH_HEX + 1, "%s", h);
	}
	sqlite3_reset(s->last);
	return r;
}

/* Inside BEGIN IMMEDIATE: seals and inserts recs after the chain's end;
 * *seq gets the last one's seq. */
static int insert_in_txn(struct sqlite_sink *s, struct audit_rec *recs, size_t n, uint64_t *last,
			 struct hs_error *err)
{
	uint64_t seq = 0;
	char hash[AUDIT_HASH_HEX + 1];
	if (check_not_moved(s, err) < 0 || read_last(s, &seq, hash, err) < 0)
		return -1;
	if (seq < s->last_seq)
		return hs_err(err, "audit sink %s: the store lost records since our last write "
				   "(seq %llu, now %llu): truncated or rewritten",
			      s->base.spec, (unsigned long long)s->last_seq,
			      (unsigned long long)seq);
	for (size_t i = 0; i < n; i++) {
		if (audit_rec_seal(s->hasher, &recs[i], seq + 1, hash, s->scratch, err) < 0)
			return -1;
		if (insert_record(s, &recs[i]) < 0)
			return db_err(s->db, s->base.spec, "insert failed", err);
		seq++;
		memcpy(hash, recs[i].hash_buf, sizeof(hash));
	}
	*last = seq;
	return 0;
}

static int append_in_txn(struct sqlite_sink *s, struct audit_rec *recs, size_t n,
			 struct hs_error *err)
{
	uint64_t seq = 0;
	if (insert_in_txn(s, recs, n, &seq, err) < 0)
		return -1;
	if (step_done(s->commit) < 0)
		return db_err(s->db, s->base.spec, "commit failed", err);
	s->last_seq = seq;
	return 0;
}

static int sqlite_append(struct audit_sink *base, struct audit_rec *recs, size_t n,
			 struct hs_error *err)
{
	struct sqlite_sink *s = (struct sqlite_sink *)base;
	if (step_done(s->begin) < 0)
		return db_err(s->db, s->base.spec, "cannot lock", err);
	int r = append_in_txn(s, recs, n, err);
	if (r < 0 && !sqlite3_get_autocommit(s->db))
		step_done(s->rollback);
	return r;
}

static void finalize_all(struct sqlite_sink *s);

static void sqlite_close(struct audit_sink *base)
{
	struct sqlite_sink *s = (struct sqlite_sink *)base;
	if (!s)
		return;
	finalize_all(s);
	/* The next run's first connection rebuilds the WAL index by reading
	 * the whole WAL: a run that left a long one checkpoints it (one
	 * fsync); a short run, the common case, leaves it as it is. */
	struct stat st;
	const char *db_path = s->db ? sqlite3_db_filename(s->db, "main") : NULL;
	char *wal = db_path && *db_path ? hs_xasprintf("%s-wal", db_path) : NULL;
	if (s->trim_on_close && wal && stat(wal, &st) == 0 && st.st_size > WAL_TRIM_BYTES)
		(void)sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	free(wal);
	sqlite3_close(s->db);
	free(s->scratch);
	free(s->base.spec);
	free(s);
}

static const struct audit_sink_ops sqlite_ops = {
	.append = sqlite_append,
	.close = sqlite_close,
};

/* ---- opening ---- */

static void finalize_all(struct sqlite_sink *s)
{
	sqlite3_stmt **all[] = {&s->begin, &s->commit, &s->rollback, &s->last, &s->insert};
	for (size_t i = 0; i < HS_ARRAY_LEN(all); i++) {
		sqlite3_finalize(*all[i]);
		*all[i] = NULL;
	}
}

static int prepare_all(struct sqlite_sink *s)
{
	finalize_all(s);
	return sqlite3_prepare_v2(s->db, "BEGIN IMMEDIATE", -1, &s->begin, NULL) ||
	       sqlite3_prepare_v2(s->db, "COMMIT", -1, &s->commit, NULL) ||
	       sqlite3_prepare_v2(s->db, "ROLLBACK", -1, &s->rollback, NULL) ||
	       sqlite3_prepare_v2(s->db,
				  "SELECT seq, hash FROM agent_actions ORDER BY seq DESC LIMIT 1",
				  -1, &s->last, NULL) ||
	       sqlite3_prepare_v2(s->db,
				  "INSERT INTO agent_actions(" COLUMNS
				  ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
				  -1, &s->insert, NULL)
		       ? -1
		       : 0;
}

static int meta_put(sqlite3 *db, const char *key, const char *value)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "INSERT INTO harness_meta(key, value) VALUES (?1, ?2)", -1,
			       &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Inside BEGIN IMMEDIATE on an empty database: schema, meta, header. */
static int create_store(struct sqlite_sink *s, const struct audit_open_args *a,
			struct hs_error *err)
{
	char ver[16], app[64];
	snprintf(ver, sizeof(ver), "%d", AUDIT_FORMAT_VERSION);
	snprintf(app, sizeof(app), "PRAGMA application_id = %d", AUDIT_SQLITE_APP_ID);
	if (sqlite3_exec(s->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK ||
	    exec1(s->db, app) < 0 || exec1(s->db, "PRAGMA user_version = 1") < 0 ||
	    meta_put(s->db, "format", AUDIT_FORMAT_NAME) < 0 ||
	    meta_put(s->db, "version", ver) < 0 ||
	    meta_put(s->db, "hash_alg", audit_hasher_alg(a->hasher)) < 0 ||
	    meta_put(s->db, "created_by", "harness " HS_VERSION) < 0 || prepare_all(s) < 0)
		return db_err(s->db, s->base.spec, "cannot create the store", err);
	struct audit_rec hdr;
	audit_rec_header(&hdr, &a->origin, audit_hasher_alg(a->hasher), audit_now_us());
	int r = audit_rec_seal(s->hasher, &hdr, 1, "", s->scratch, err);
	if (r == 0 && insert_record(s, &hdr) < 0)
		r = db_err(s->db, s->base.spec, "cannot write the header record", err);
	audit_rec_free(&hdr);
	if (r == 0 && step_done(s->commit) < 0)
		r = db_err(s->db, s->base.spec, "cannot create the store", err);
	s->last_seq = 1;
	return r;
}

static int check_meta(struct sqlite_sink *s, struct hs_error *err)
{
	char *fmt = meta_get(s->db, "format"), *alg = meta_get(s->db, "hash_alg");
	int r = 0;
	if (!fmt || strcmp(fmt, AUDIT_FORMAT_NAME) || !alg)
		r = hs_err(err, "audit sink %s: harness_meta does not describe a harness audit "
				"store; run 'harness audit verify --audit %s'",
			   s->base.spec, s->base.spec);
	else if (strcmp(alg, audit_hasher_alg(s->hasher)))
		r = hs_err(err, "audit sink %s: %s", s->base.spec,
			   s->hasher->keyed ? "the store was created without a key (sha256) but "
					      "--audit-key was given; use another store for keyed "
					      "records"
					    : "the store is keyed (hmac-sha256): give its --audit-key");
	free(fmt);
	free(alg);
	return r;
}

static int refuse_foreign(struct sqlite_sink *s, struct hs_error *err)
{
	return hs_err(err, "audit sink %s: not a harness audit database (another program's "
			   "SQLite file); choose another file",
		      s->base.spec);
}

static bool is_busy(sqlite3 *db)
{
	int e = sqlite3_errcode(db) & 0xff;
	return e == SQLITE_BUSY || e == SQLITE_LOCKED;
}

/* New store: WAL first (it cannot change inside a transaction), then
 * create everything under the write lock; someone else may have won the
 * race, in which case the store is simply ours already. -2: busy, retry. */
static int init_store(struct sqlite_sink *s, const struct audit_open_args *a,
		      struct hs_error *err)
{
	enum store_state state;
	int r = -1;
	if (exec1(s->db, "PRAGMA journal_mode = WAL") < 0 ||
	    exec1(s->db, "BEGIN IMMEDIATE") < 0 || classify(s->db, &state) < 0) {
		r = is_busy(s->db) ? -2 : -1;
		db_err(s->db, s->base.spec, "cannot initialise", err);
		goto fail;
	}
	if (state == STORE_NEW && create_store(s, a, err) == 0)
		return 0;
	if (state == STORE_FOREIGN)
		refuse_foreign(s, err);
	if (state == STORE_OURS && exec1(s->db, "COMMIT") == 0)
		return check_meta(s, err) < 0 || prepare_all(s) < 0 ? -1 : 0;
fail:
	if (!sqlite3_get_autocommit(s->db))
		exec1(s->db, "ROLLBACK");
	return r;
}

/* Two runs creating one store at once: SQLite answers SQLITE_BUSY at once,
 * without the busy handler, where waiting could deadlock (a reader that
 * wants to write while another writer waits for it), so retry the whole
 * initialisation for as long as the busy timeout. */
static int init_store_retrying(struct sqlite_sink *s, const struct audit_open_args *a,
			       struct hs_error *err)
{
	for (int waited_ms = 0;; waited_ms += 5) {
		int r = init_store(s, a, err);
		if (r != -2 || waited_ms >= BUSY_TIMEOUT_MS)
			return r < 0 ? -1 : 0;
		usleep(5000);
	}
}

static int open_existing(struct sqlite_sink *s, struct hs_error *err)
{
	if (exec1(s->db, "PRAGMA journal_mode = WAL") < 0)
		return db_err(s->db, s->base.spec, "cannot switch to WAL", err);
	if (check_meta(s, err) < 0)
		return -1;
	if (prepare_all(s) < 0)
		return db_err(s->db, s->base.spec, "cannot prepare statements", err);
	return 0;
}

/* Creates the file 0600 ourselves (SQLite would use 0644); SQLite gives
 * its -wal and -shm files the database file's mode. */
static int precreate(const char *path, const char *spec, struct hs_error *err)
{
	struct stat st;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0)
		return hs_err_sys(err, "audit sink %s: cannot open", spec);
	int r = fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ? -1 : 0;
	close(fd);
	return r < 0 ? hs_err(err, "audit sink %s: not a regular file", spec) : 0;
}

static int open_db(const char *path, int flags, sqlite3 **db, const char *name,
		   struct hs_error *err)
{
	if (sqlite3_open_v2(path, db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		db_err(*db, name, "cannot open", err);
		sqlite3_close(*db);
		*db = NULL;
		return -1;
	}
	harden(*db);
	return 0;
}

static int open_store(struct sqlite_sink *s, const char *path, const struct audit_open_args *a,
		      struct hs_error *err)
{
	enum store_state state;
	if (precreate(path, s->base.spec, err) < 0 ||
	    open_db(path, SQLITE_OPEN_READWRITE, &s->db, s->base.spec, err) < 0)
		return -1;
	if (classify(s->db, &state) < 0)
		return db_err(s->db, s->base.spec, "not a harness audit database", err);
	if (state == STORE_FOREIGN)
		return refuse_foreign(s, err);
	if ((state == STORE_NEW ? init_store_retrying(s, a, err) : open_existing(s, err)) < 0)
		return -1;
	if (exec1(s->db, a->sync ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL"))
		return db_err(s->db, s->base.spec, "cannot set synchronous", err);
	/* A run is short and the store outlives it: do not checkpoint the WAL
	 * into the database (and fsync it) every time the last connection
	 * closes, which is every run. Durability is unchanged: a commit is in
	 * the WAL either way. During the run, SQLite's own automatic
	 * checkpoint bounds the WAL (4000 pages, 16 MiB, below): a small one
	 * checkpoints, and fsyncs, every few records, which a run recording
	 * hundreds of connections or execs a second cannot afford (measured:
	 * 32 pages cost about 0.7 ms a record). sqlite_close trims what is
	 * left. */
	if (!a->sync) {
		sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
		s->trim_on_close = true;
		/* About 6 pages a record (the row and four indexes): checkpoint
		 * (and fsync) every ~700 records rather than every ~170. */
		if (exec1(s->db, "PRAGMA wal_autocheckpoint = 4000") < 0)
			return db_err(s->db, s->base.spec, "cannot set wal_autocheckpoint", err);
	}
	return 0;
}

int audit_sqlite_open(const char *path, const struct audit_open_args *a, struct audit_sink **out,
		      struct hs_error *err)
{
	struct sqlite_sink *s = hs_xcalloc(1, sizeof(*s));
	s->base.ops = &sqlite_ops;
	s->base.spec = hs_xasprintf("sqlite:%s", path);
	s->hasher = a->hasher;
	s->scratch = hs_xmalloc(AUDIT_SCRATCH);
	if (open_store(s, path, a, err) < 0) {
		sqlite_close(&s->base);
		return -1;
	}
	*out = &s->base;
	return 0;
}

/* ---- reading ---- */

/* Opens an existing store read-only and checks it is ours. -1: cannot
 * open or read; -2: not a harness store. */
static int open_reader(const char *path, sqlite3 **db, struct hs_error *err)
{
	enum store_state state;
	struct stat st;
	if (stat(path, &st) < 0)
		return hs_err_sys(err, "%s: cannot open", path);
	if (open_db(path, SQLITE_OPEN_READONLY, db, path, err) < 0)
		return -1;
	if (classify(*db, &state) < 0) {
		db_err(*db, path, "not a harness audit database", err);
	} else if (state != STORE_OURS) {
		hs_err(err, "%s: not a harness audit database (application_id is not harness's)",
		       path);
	} else {
		return 0;
	}
	sqlite3_close(*db);
	*db = NULL;
	return -2;
}

static json_t *col_text(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) != SQLITE_TEXT)
		return NULL;
	const char *t = (const char *)sqlite3_column_text(st, i);
	return t ? json_stringn(t, (size_t)sqlite3_column_bytes(st, i)) : NULL;
}

static json_t *col_int(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) != SQLITE_INTEGER)
		return NULL;
	return json_integer(sqlite3_column_int64(st, i));
}

static json_t *col_object(sqlite3_stmt *st, int i)
{
	json_t *t = col_text(st, i);
	json_t *o = t ? json_loadb(json_string_value(t), json_string_length(t),
				   JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL)
		      : NULL;
	json_decref(t);
	if (o && !json_is_object(o)) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

/* A row of COLUMNS as a record object; NULL with *bad naming the column
 * that has the wrong type or is not valid text/JSON. */
static json_t *row_to_record(sqlite3_stmt *st, const char **bad)
{
	static const char *const names[] = {"seq",	   "ts",	  "run_id",  "agent_id",
					    "action_type", "target",	  "outcome", "duration_ms",
					    "metadata",	   "approved_by", "prev_hash", "hash"};
	json_t *rec = json_object();
	for (int i = 0; i < (int)HS_ARRAY_LEN(names); i++) {
		json_t *v = i == 0 || i == 7 ? col_int(st, i)
			    : i == 8	     ? col_object(st, i)
					     : col_text(st, i);
		if (!v) {
			*bad = names[i];
			json_decref(rec);
			return NULL;
		}
		json_object_set_new(rec, names[i], v);
	}
	return rec;
}

static int verify_rows(sqlite3 *db, const char *path, struct audit_verifier *v,
		       struct hs_error *err)
{
	sqlite3_stmt *st;
	int rc, r = 0;
	if (sqlite3_prepare_v2(db, "SELECT " COLUMNS " FROM agent_actions ORDER BY seq", -1, &st,
			       NULL) != SQLITE_OK)
		return db_err(db, path, "not a harness audit database", err);
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *bad = NULL;
		json_t *rec = row_to_record(st, &bad);
		if (!rec)
			r = hs_err(err, "%s: record seq %lld: column %s is damaged (not a record)", path,
				   (long long)sqlite3_column_int64(st, 0), bad);
		else
			r = audit_verifier_next(v, rec, path, err);
		json_decref(rec);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = db_err(db, path, "read error", err);
	sqlite3_finalize(st);
	return r;
}

int audit_sqlite_verify(const char *path, struct audit_verifier *v, struct hs_error *err)
{
	sqlite3 *db;
	int r = open_reader(path, &db, err);
	if (r < 0)
		return -2;
	if (exec1(db, "BEGIN") < 0) {
		db_err(db, path, "cannot read", err);
		r = -2;
	} else {
		char *alg = meta_get(db, "hash_alg");
		v->meta_alg = alg;
		if (!alg)
			r = hs_err(err, "%s: harness_meta has no hash_alg (edited)", path);
		else
			r = verify_rows(db, path, v, err);
		v->meta_alg = NULL;
		free(alg);
		exec1(db, "COMMIT");
	}
	sqlite3_close(db);
	return r;
}

/* The query for a filter: fixed fragments, every value a parameter. */
static char *filter_sql(const struct hs_audit_filter *f)
{
	char *sql = hs_xstrdup("SELECT " COLUMNS " FROM agent_actions WHERE seq > ?1");
	char *next;
#define ADD(cond, frag)                                                                            \
	if (cond) {                                                                                \
		next = hs_xasprintf("%s%s", sql, frag);                                            \
		free(sql);                                                                         \
		sql = next;                                                                        \
	}
	ADD(f->since_us, " AND ts >= ?2")
	ADD(f->outcome, " AND outcome = ?3")
	ADD(f->action, " AND (action_type = ?4 OR substr(action_type, 1, length(?5)) = ?5)")
	ADD(f->run_id, " AND run_id = ?6")
	ADD(f->agent_id, " AND agent_id = ?7")
	ADD(f->limit, " ORDER BY seq DESC LIMIT ?8")
#undef ADD
	next = hs_xasprintf("SELECT * FROM (%s) ORDER BY seq", sql);
	free(sql);
	return next;
}

static void bind_filter(sqlite3_stmt *st, const struct hs_audit_filter *f, char ts[32],
			char **action_dot)
{
	sqlite3_bind_int64(st, 1, (sqlite3_int64)(f->after_seq > INT64_MAX ? INT64_MAX
									    : f->after_seq));
	if (f->since_us) {
		audit_format_ts(f->since_us, ts);
		sqlite3_bind_text(st, 2, ts, -1, SQLITE_STATIC);
	}
	if (f->outcome)
		sqlite3_bind_text(st, 3, f->outcome, -1, SQLITE_STATIC);
	if (f->action) {
		size_t n = strlen(f->action);
		*action_dot = n && f->action[n - 1] == '.' ? hs_xstrdup(f->action)
							   : hs_xasprintf("%s.", f->action);
		sqlite3_bind_text(st, 4, f->action, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, *action_dot, -1, SQLITE_STATIC);
	}
	if (f->run_id)
		sqlite3_bind_text(st, 6, f->run_id, -1, SQLITE_STATIC);
	if (f->agent_id)
		sqlite3_bind_text(st, 7, f->agent_id, -1, SQLITE_STATIC);
	if (f->limit)
		sqlite3_bind_int64(st, 8, (sqlite3_int64)(f->limit > INT64_MAX ? INT64_MAX
									: f->limit));
}

static int read_rows(sqlite3 *db, const char *path, const struct hs_audit_filter *f,
		     hs_audit_record_fn fn, void *ctx, struct hs_error *err)
{
	static const struct hs_audit_filter all = {0};
	char *sql = filter_sql(f ? f : &all), ts[32], *action_dot = NULL;
	sqlite3_stmt *st;
	int rc = SQLITE_DONE, r = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		free(sql);
		return db_err(db, path, "not a harness audit database", err);
	}
	bind_filter(st, f ? f : &all, ts, &action_dot);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *bad;
		json_t *rec = row_to_record(st, &bad);
		int stop = fn(rec, ctx);
		json_decref(rec);
		if (stop)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = db_err(db, path, "read error", err);
	sqlite3_finalize(st);
	free(sql);
	free(action_dot);
	return r;
}

int audit_sqlite_read(const char *path, const struct hs_audit_filter *f, hs_audit_record_fn fn,
		      void *ctx, struct hs_error *err)
{
	sqlite3 *db;
	if (open_reader(path, &db, err) < 0)
		return -1;
	int r = read_rows(db, path, f, fn, ctx, err);
	sqlite3_close(db);
	return r;
}
