/*
 * audit.c: the public face of the audit log (audit.h): sink specs and the
 * default store, opening a run's sinks, writing one event to all of them
 * (fail closed: any sink failure is the caller's failure), counts, run ids,
 * keys, and the dispatch of verify and read to the sink that owns the
 * format.
 */
#define _GNU_SOURCE
#include "audit-int.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* One run's audit log. Owns its sinks, the hasher they share, and copies
 * of the run and agent ids. */
struct hs_audit {
	struct audit_sink **sinks;
	size_t n;
	struct audit_hasher hasher;
	char *run_id, *agent_id;
	struct hs_audit_counts counts;
};

/* ---- specs and the default store ---- */

int audit_parse_spec(const char *spec, enum audit_kind *kind, const char **path,
		     struct hs_error *err)
{
	static const struct {
		const char *prefix;
		enum audit_kind kind;
	} kinds[] = {{"jsonl:", AUDIT_JSONL}, {"sqlite:", AUDIT_SQLITE}};
	for (size_t i = 0; spec && i < HS_ARRAY_LEN(kinds); i++) {
		size_t n = strlen(kinds[i].prefix);
		if (strncmp(spec, kinds[i].prefix, n) == 0 && spec[n]) {
			*kind = kinds[i].kind;
			*path = spec + n;
			return 0;
		}
	}
	return hs_err(err, "--audit '%s': expected jsonl:PATH or sqlite:PATH", spec ? spec : "");
}

int hs_audit_check_spec(const char *spec, struct hs_error *err)
{
	enum audit_kind kind = AUDIT_JSONL;
	const char *path = NULL;
	return audit_parse_spec(spec, &kind, &path, err);
}

char *hs_audit_default_path(void)
{
	return hs_state_path("audit.db");
}

/* mkdir -p of path's directory; new directories are 0700. */
static int make_parent_dirs(const char *path, struct hs_error *err)
{
	return hs_mkdir_p(path, 0700, true) < 0
		   ? hs_err_sys(err, "cannot create the directory of %s", path)
		   : 0;
}

/* ---- opening, writing, closing ---- */

static int open_sink(struct hs_audit *a, const char *spec, bool sync, struct hs_error *err)
{
	struct audit_open_args args = {
		.hasher = &a->hasher,
		.sync = sync,
		.origin = {.run_id = a->run_id, .agent_id = a->agent_id},
	};
	enum audit_kind kind = AUDIT_JSONL;
	const char *path = NULL;
	struct audit_sink *s;
	if (audit_parse_spec(spec, &kind, &path, err) < 0)
		return -1;
	int r = kind == AUDIT_JSONL ? audit_jsonl_open(path, &args, &s, err)
				    : audit_sqlite_open(path, &args, &s, err);
	if (r < 0)
		return -1;
	a->sinks = hs_xrealloc(a->sinks, (a->n + 1) * sizeof(*a->sinks));
	a->sinks[a->n++] = s;
	return 0;
}

static int open_default(struct hs_audit *a, bool sync, struct hs_error *err)
{
	char *path = hs_audit_default_path();
	char *spec = hs_xasprintf("sqlite:%s", path);
	int r = make_parent_dirs(path, err);
	if (r == 0)
		r = open_sink(a, spec, sync, err);
	free(spec);
	free(path);
	return r;
}

int hs_audit_open(struct hs_audit **out, const struct hs_strv *specs, const unsigned char *key,
		  size_t keylen, bool sync, const char *run_id, const char *agent_id,
		  struct hs_error *err)
{
	struct hs_audit *a = hs_xcalloc(1, sizeof(*a));
	char id[33];
	if (!run_id) {
		hs_audit_new_run_id(id);
		run_id = id;
	}
	a->run_id = hs_xstrdup(run_id);
	a->agent_id = hs_xstrdup(agent_id ? agent_id : "");
	int r = audit_hasher_init(&a->hasher, key, keylen, err);
	if (r == 0 && (!specs || specs->n == 0))
		r = open_default(a, sync, err);
	for (size_t i = 0; r == 0 && specs && i < specs->n; i++)
		r = open_sink(a, specs->v[i], sync, err);
	if (r < 0) {
		hs_audit_close(a);
		return -1;
	}
	*out = a;
	return 0;
}

static void count(struct hs_audit_counts *c, const struct hs_audit_event *ev)
{
	c->records++;
	if (ev->action_type && !strcmp(ev->action_type, "exec"))
		c->execs++;
	c->blocked += ev->outcome == HS_OUTCOME_BLOCKED;
	c->approved += ev->outcome == HS_OUTCOME_APPROVED;
	c->denied += ev->outcome == HS_OUTCOME_DENIED;
}

int hs_audit_write_batch(struct hs_audit *a, const struct hs_audit_event *evs, size_t n,
			 struct hs_error *err)
{
	if (n == 0 || n > HS_AUDIT_BATCH_MAX)
		return hs_err(err, "audit: a batch of %zu records (1 to %d)", n, HS_AUDIT_BATCH_MAX);
	struct audit_origin o = {.run_id = a->run_id, .agent_id = a->agent_id};
	struct audit_rec recs[HS_AUDIT_BATCH_MAX];
	int64_t now = audit_now_us();
	int r = 0;
	for (size_t i = 0; i < n; i++)
		audit_rec_from_event(&recs[i], &o, &evs[i], evs[i].ts_us ? evs[i].ts_us : now);
	for (size_t i = 0; r == 0 && i < a->n; i++)
		r = a->sinks[i]->ops->append(a->sinks[i], recs, n, err);
	for (size_t i = 0; i < n; i++)
		audit_rec_free(&recs[i]);
	for (size_t i = 0; r == 0 && i < n; i++)
		count(&a->counts, &evs[i]);
	return r;
}

int hs_audit_write(struct hs_audit *a, const struct hs_audit_event *ev, struct hs_error *err)
{
	return hs_audit_write_batch(a, ev, 1, err);
}

void hs_audit_counts(const struct hs_audit *a, struct hs_audit_counts *out)
{
	*out = a->counts;
}

void hs_audit_close(struct hs_audit *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++)
		a->sinks[i]->ops->close(a->sinks[i]);
	free(a->sinks);
	audit_hasher_free(&a->hasher);
	free(a->run_id);
	free(a->agent_id);
	free(a);
}

void hs_audit_new_run_id(char out[33])
{
	unsigned char b[16];
	size_t got = 0;
	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
		if (n < 0 && errno != EINTR)
			abort(); /* no entropy at all: nothing sane to do */
		if (n > 0)
			got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* ---- keys ---- */

static int read_key_fd(int fd, const char *path, unsigned char **key, size_t *keylen,
		       struct hs_error *err)
{
	unsigned char *buf = hs_xmalloc(AUDIT_KEY_MAX + 3);
	size_t n = 0;
	ssize_t r;
	while (n < AUDIT_KEY_MAX + 3 && (r = read(fd, buf + n, AUDIT_KEY_MAX + 3 - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return hs_err_sys(err, "--audit-key %s: cannot read", path);
		}
		n += (size_t)r;
	}
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n < AUDIT_KEY_MIN || n > AUDIT_KEY_MAX) {
		hs_audit_free_key(buf, AUDIT_KEY_MAX + 3);
		return hs_err(err, "--audit-key %s: a key is %d to %d bytes (e.g. 'openssl rand "
				   "-hex 32 > FILE')",
			      path, AUDIT_KEY_MIN, AUDIT_KEY_MAX);
	}
	*key = buf;
	*keylen = n;
	return 0;
}

int hs_audit_read_key(const char *path, unsigned char **key, size_t *keylen,
		      struct hs_error *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	int r;
	if (fd < 0)
		return hs_err_sys(err, "--audit-key %s: cannot open", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		r = hs_err(err, "--audit-key %s: not a regular file", path);
	else if (st.st_mode & 077)
		r = hs_err(err, "--audit-key %s: the key file is accessible to group or others "
				"(mode %04o); chmod 600 %s",
			   path, (unsigned)(st.st_mode & 07777), path);
	else
		r = read_key_fd(fd, path, key, keylen, err);
	close(fd);
	return r;
}

void hs_audit_free_key(unsigned char *key, size_t keylen)
{
	if (!key)
		return;
	OPENSSL_cleanse(key, keylen);
	free(key);
}

/* ---- verify and read ---- */

static char *spec_or_default(const char *spec)
{
	if (spec)
		return hs_xstrdup(spec);
	char *path = hs_audit_default_path();
	char *s = hs_xasprintf("sqlite:%s", path);
	free(path);
	return s;
}

int hs_audit_verify_store(const char *spec, const unsigned char *key, size_t keylen,
			  struct hs_audit_summary *out, struct hs_error *err)
{
	struct audit_verifier v;
	enum audit_kind kind = AUDIT_JSONL;
	const char *path = NULL;
	char *s = spec_or_default(spec);
	int r = -2;
	audit_verifier_init(&v, key, keylen);
	if (audit_parse_spec(s, &kind, &path, err) == 0)
		r = kind == AUDIT_JSONL ? audit_jsonl_verify(path, &v, err)
					: audit_sqlite_verify(path, &v, err);
	if (out) {
		memset(out, 0, sizeof(*out));
		out->records = v.count;
		out->last_seq = v.last_seq;
		snprintf(out->last_hash, sizeof(out->last_hash), "%s", v.last_hash);
		snprintf(out->alg, sizeof(out->alg), "%s", v.alg);
	}
	audit_verifier_free(&v);
	free(s);
	return r;
}

int hs_audit_verify(const char *spec, const unsigned char *key, size_t keylen, uint64_t *count,
		    struct hs_error *err)
{
	struct hs_audit_summary sum;
	int r = hs_audit_verify_store(spec, key, keylen, &sum, err);
	if (count)
		*count = sum.records;
	return r < 0 ? -1 : 0;
}

int hs_audit_read(const char *spec, const struct hs_audit_filter *f, hs_audit_record_fn fn,
		  void *ctx, struct hs_error *err)
{
	enum audit_kind kind = AUDIT_JSONL;
	const char *path = NULL;
	char *s = spec_or_default(spec);
	int r = audit_parse_spec(s, &kind, &path, err);
	if (r == 0)
		r = kind == AUDIT_JSONL ? audit_jsonl_read(path, f, fn, ctx, err)
					: audit_sqlite_read(path, f, fn, ctx, err);
	free(s);
	return r;
}
