/*
 * sha256.c: SHA-256 and HMAC-SHA-256 on OpenSSL's low-level SHA256_Init /
 * _Update / _Final.
 *
 * Why not EVP: OpenSSL 3 sets up its provider machinery (library context,
 * default provider, method store) on the first EVP_MD_fetch / EVP_Digest /
 * EVP_MAC_fetch, about 1.5-2.5 ms of CPU, paid by every `harness run`;
 * the first SHA256_Init/Update/Final costs 0.06-0.2 ms since it calls the
 * block function directly. Those are deprecated in 3.0 but still shipped,
 * hence OPENSSL_SUPPRESS_DEPRECATED here and only here. No FIPS provider
 * is involved either way: harness never loads one. Keep every digest in
 * the tree behind this file so it can move to another implementation in
 * one place.
 *
 * HMAC is RFC 2104 on top: H((K^opad) || H((K^ipad) || m)), K hashed first
 * when longer than the 64-byte block, zero-padded to it.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "sha256.h"

#include <openssl/crypto.h>
#include <string.h>

void hs_sha256_init(struct hs_sha256 *s)
{
	SHA256_Init(&s->c);
}

void hs_sha256_update(struct hs_sha256 *s, const void *data, size_t len)
{
	SHA256_Update(&s->c, data, len);
}

void hs_sha256_final(struct hs_sha256 *s, unsigned char out[HS_SHA256_LEN])
{
	SHA256_Final(out, &s->c);
}

void hs_sha256(const void *data, size_t len, unsigned char out[HS_SHA256_LEN])
{
	struct hs_sha256 s;
	hs_sha256_init(&s);
	hs_sha256_update(&s, data, len);
	hs_sha256_final(&s, out);
}

void hs_sha256_hex(const unsigned char md[HS_SHA256_LEN], char out[2 * HS_SHA256_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < HS_SHA256_LEN; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[2 * HS_SHA256_LEN] = '\0';
}

void hs_hmac_sha256_init(struct hs_hmac_sha256 *h, const void *key, size_t keylen)
{
	unsigned char k[HS_SHA256_BLOCK] = {0}, pad[HS_SHA256_BLOCK];
	if (keylen > HS_SHA256_BLOCK)
		hs_sha256(key, keylen, k);
	else if (keylen)
		memcpy(k, key, keylen);
	for (size_t i = 0; i < HS_SHA256_BLOCK; i++)
		pad[i] = k[i] ^ 0x36;
	hs_sha256_init(&h->ikey);
	hs_sha256_update(&h->ikey, pad, sizeof(pad));
	for (size_t i = 0; i < HS_SHA256_BLOCK; i++)
		pad[i] = k[i] ^ 0x5c;
	hs_sha256_init(&h->okey);
	hs_sha256_update(&h->okey, pad, sizeof(pad));
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(pad, sizeof(pad));
	h->cur = h->ikey;
}

void hs_hmac_sha256_update(struct hs_hmac_sha256 *h, const void *data, size_t len)
{
	hs_sha256_update(&h->cur, data, len);
}

void hs_hmac_sha256_final(struct hs_hmac_sha256 *h, unsigned char out[HS_SHA256_LEN])
{
	unsigned char inner[HS_SHA256_LEN];
	hs_sha256_final(&h->cur, inner);
	struct hs_sha256 o = h->okey;
	hs_sha256_update(&o, inner, sizeof(inner));
	hs_sha256_final(&o, out);
	OPENSSL_cleanse(inner, sizeof(inner));
	OPENSSL_cleanse(&o, sizeof(o));
	h->cur = h->ikey; /* ready for the next message */
}

void hs_hmac_sha256_clear(struct hs_hmac_sha256 *h)
{
	OPENSSL_cleanse(h, sizeof(*h));
}
