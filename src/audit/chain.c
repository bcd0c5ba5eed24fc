/*
 * chain.c: the hash chain. hash = hex(SHA-256(prev_hash || "\n" ||
 * canonical)) or the same with HMAC-SHA-256 and a key (common/sha256.h;
 * the key is hashed into the HMAC states once per store, each record then
 * starts from a copy of them). The verifier walks records in store order
 * and stops at the first one whose content, position or link is wrong,
 * saying which and why.
 */
#define _GNU_SOURCE
#include "audit-int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int audit_hasher_init(struct audit_hasher *h, const unsigned char *key, size_t keylen,
		      struct hs_error *err)
{
	(void)err; /* nothing here can fail any more; kept for the callers */
	memset(h, 0, sizeof(*h));
	if (key) {
		/* The key lives on only as the HMAC's inner and outer states. */
		h->keyed = true;
		hs_hmac_sha256_init(&h->mac, key, keylen);
	}
	return 0;
}

void audit_hasher_free(struct audit_hasher *h)
{
	hs_hmac_sha256_clear(&h->mac);
	memset(h, 0, sizeof(*h));
}

const char *audit_hasher_alg(const struct audit_hasher *h)
{
	return h->keyed ? AUDIT_ALG_HMAC : AUDIT_ALG_SHA256;
}

int audit_hash(struct audit_hasher *h, const char *prev_hash, const char *canonical, size_t len,
	       char out[AUDIT_HASH_HEX + 1])
{
	unsigned char md[HS_SHA256_LEN];
	size_t plen = strlen(prev_hash);
	if (h->keyed) { /* h->mac is ready for a message after init and each final */
		hs_hmac_sha256_update(&h->mac, prev_hash, plen);
		hs_hmac_sha256_update(&h->mac, "\n", 1);
		hs_hmac_sha256_update(&h->mac, canonical, len);
		hs_hmac_sha256_final(&h->mac, md);
	} else {
		struct hs_sha256 s;
		hs_sha256_init(&s);
		hs_sha256_update(&s, prev_hash, plen);
		hs_sha256_update(&s, "\n", 1);
		hs_sha256_update(&s, canonical, len);
		hs_sha256_final(&s, md);
	}
	hs_sha256_hex(md, out);
	return 0;
}

int audit_rec_seal(struct audit_hasher *h, struct audit_rec *r, uint64_t seq,
		   const char *prev_hash, char *scratch, struct hs_error *err)
{
	if (seq == 0 || seq > INT64_MAX)
		return hs_err(err, "audit: sequence number %llu out of range",
			      (unsigned long long)seq);
	r->seq = seq;
	size_t plen = strnlen(prev_hash, AUDIT_HASH_HEX);
	memcpy(r->prev_buf, prev_hash, plen);
	r->prev_buf[plen] = '\0';
	r->prev_hash = r->prev_buf;
	size_t n = audit_rec_serialize(r, false, scratch, AUDIT_SCRATCH);
	if (n == 0)
		return hs_err(err, "audit: record too large");
	if (audit_hash(h, r->prev_hash, scratch, n, r->hash_buf) < 0)
		return hs_err(err, "audit: hashing a record failed");
	r->hash = r->hash_buf;
	return 0;
}

bool audit_is_hex_hash(const char *s)
{
	if (!s || strlen(s) != AUDIT_HASH_HEX)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* ---- verification ---- */

void audit_verifier_init(struct audit_verifier *v, const unsigned char *key, size_t keylen)
{
	memset(v, 0, sizeof(*v));
	v->key = key;
	v->keylen = keylen;
	v->scratch = hs_xmalloc(AUDIT_SCRATCH);
}

void audit_verifier_free(struct audit_verifier *v)
{
	audit_hasher_free(&v->hasher);
	free(v->scratch);
	v->scratch = NULL;
}

/* The header decides the algorithm; a key given for an unkeyed store is a
 * failure, since stripping the key is exactly what a forger would do. */
static int verifier_start(struct audit_verifier *v, json_t *rec, const char *where,
			  struct hs_error *err)
{
	const char *why, *alg;
	if (json_integer_value(json_object_get(rec, "seq")) != 1)
		return hs_err(err, "%s: record seq %lld: the store does not start at seq 1 "
				   "(its first records were deleted)",
			      where, (long long)json_integer_value(json_object_get(rec, "seq")));
	alg = audit_header_alg(rec, &why);
	if (!alg)
		return hs_err(err, "%s: not a harness audit store (%s)", where, why);
	if (v->meta_alg && strcmp(v->meta_alg, alg))
		return hs_err(err, "%s: record seq 1: the header says %s but harness_meta says %s "
				   "(edited)",
			      where, alg, v->meta_alg);
	if (!strcmp(alg, AUDIT_ALG_HMAC) && !v->key) {
		hs_err(err, "%s: the store is keyed (hmac-sha256): give --audit-key FILE to verify it",
		       where);
		return -2;
	}
	if (!strcmp(alg, AUDIT_ALG_SHA256) && v->key)
		return hs_err(err, "%s: record seq 1: the header says the store is not keyed "
				   "(sha256) but a key was given: the header was rewritten to drop "
				   "the key, or the store was never keyed (verify it without "
				   "--audit-key)",
			      where);
	if (audit_hasher_init(&v->hasher, v->key, v->keylen, err) < 0)
		return -2;
	snprintf(v->alg, sizeof(v->alg), "%s", alg);
	v->started = true;
	return 0;
}

static int check_content(struct audit_verifier *v, json_t *rec, uint64_t seq, const char *where,
			 struct hs_error *err)
{
	char want[AUDIT_HASH_HEX + 1];
	struct audit_rec r;
	audit_rec_from_json(&r, rec);
	size_t n = audit_rec_serialize(&r, false, v->scratch, AUDIT_SCRATCH);
	int rc = n ? audit_hash(&v->hasher, r.prev_hash, v->scratch, n, want) : -1;
	bool same = rc == 0 && !strcmp(want, r.hash);
	audit_rec_free(&r);
	if (n == 0)
		return hs_err(err, "%s: record seq %llu: too large to be a record", where,
			      (unsigned long long)seq);
	if (rc < 0)
		return hs_err(err, "%s: record seq %llu: cannot hash it", where,
			      (unsigned long long)seq);
	if (!same)
		return hs_err(err, "%s: record seq %llu: hash does not match its content (edited%s)",
			      where, (unsigned long long)seq,
			      v->count == 0 && v->hasher.keyed ? ", or the wrong --audit-key" : "");
	return 0;
}

static int check_position(struct audit_verifier *v, json_t *rec, uint64_t seq, const char *where,
			  struct hs_error *err)
{
	unsigned long long s = seq, last = v->last_seq;
	const char *prev = json_string_value(json_object_get(rec, "prev_hash"));
	if (v->count == 0)
		return prev[0] ? hs_err(err, "%s: record seq 1: prev_hash of the first record is "
					     "not empty (records before it were deleted)",
					where)
			       : 0;
	if (seq > v->last_seq + 1)
		return hs_err(err, "%s: record seq %llu: seq jumps from %llu to %llu (a record was "
				   "deleted, or records were reordered)",
			      where, s, last, s);
	if (seq <= v->last_seq)
		return hs_err(err, "%s: record seq %llu: seq goes back from %llu to %llu (a record "
				   "was inserted, duplicated or reordered)",
			      where, s, last, s);
	if (strcmp(prev, v->last_hash))
		return hs_err(err, "%s: record seq %llu: prev_hash does not match record %llu (a "
				   "record was inserted or replaced, or record %llu was edited and "
				   "re-hashed)",
			      where, s, last, last);
	return 0;
}

int audit_verifier_next(struct audit_verifier *v, json_t *rec, const char *where,
			struct hs_error *err)
{
	const char *shape = audit_record_shape_error(rec);
	if (shape)
		return hs_err(err, "%s: not a harness audit record (%s)", where, shape);
	uint64_t seq = (uint64_t)json_integer_value(json_object_get(rec, "seq"));
	if (!v->started) {
		int r = verifier_start(v, rec, where, err);
		if (r < 0)
			return r;
	}
	if (check_content(v, rec, seq, where, err) < 0 ||
	    check_position(v, rec, seq, where, err) < 0)
		return -1;
	v->count++;
	v->last_seq = seq;
	snprintf(v->last_hash, sizeof(v->last_hash), "%s",
		 json_string_value(json_object_get(rec, "hash")));
	return 0;
}
