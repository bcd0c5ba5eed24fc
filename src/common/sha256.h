/*
 * sha256.h: SHA-256 and HMAC-SHA-256 (RFC 2104), the only digests harness
 * uses (audit hash chain, policy digest, agent state-dir names, workspace
 * file hashes). Every digest in the tree goes through here, so the
 * implementation behind it can change in one place (see sha256.c for why
 * it is OpenSSL's low-level SHA-256 and not EVP).
 *
 * None of these can fail; contexts live on the stack or inside their
 * owner, nothing is allocated.
 */
#ifndef HS_SHA256_H
#define HS_SHA256_H

#include <stddef.h>

#include <openssl/sha.h>

#define HS_SHA256_LEN 32
#define HS_SHA256_BLOCK 64

struct hs_sha256 {
	SHA256_CTX c; /* only sha256.c looks inside */
};

void hs_sha256_init(struct hs_sha256 *s);
void hs_sha256_update(struct hs_sha256 *s, const void *data, size_t len);
/* Writes the digest; s must be initialised again before further use. */
void hs_sha256_final(struct hs_sha256 *s, unsigned char out[HS_SHA256_LEN]);
/* One shot. */
void hs_sha256(const void *data, size_t len, unsigned char out[HS_SHA256_LEN]);
/* Lowercase hex, NUL-terminated. */
void hs_sha256_hex(const unsigned char md[HS_SHA256_LEN], char out[2 * HS_SHA256_LEN + 1]);

/*
 * HMAC-SHA-256 with one key for any number of messages: init hashes the
 * key into the inner and outer states once; each message then costs only
 * a copy of them. final leaves the context ready for the next message
 * with the same key. clear wipes the keyed states.
 */
struct hs_hmac_sha256 {
	struct hs_sha256 ikey, okey; /* after absorbing key^ipad / key^opad */
	struct hs_sha256 cur;        /* the message in progress */
};

void hs_hmac_sha256_init(struct hs_hmac_sha256 *h, const void *key, size_t keylen);
void hs_hmac_sha256_update(struct hs_hmac_sha256 *h, const void *data, size_t len);
void hs_hmac_sha256_final(struct hs_hmac_sha256 *h, unsigned char out[HS_SHA256_LEN]);
void hs_hmac_sha256_clear(struct hs_hmac_sha256 *h);

#endif
