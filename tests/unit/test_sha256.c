/*
 * test_sha256.c: the digest wrapper (common/sha256.h). SHA-256 against
 * the FIPS 180-2 vectors (one shot, and one million 'a' fed in uneven
 * pieces); HMAC-SHA-256 against RFC 4231 cases 1-4, 6 and 7 (6 and 7 take
 * the long-key path); one keyed context reused for several messages gives
 * what fresh ones give; clear wipes; and random inputs compared with
 * OpenSSL's EVP one-shot functions (here only: the tree itself never
 * touches EVP).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/sha256.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void assert_sha256(const void *data, size_t len, const char *want)
{
	unsigned char md[HS_SHA256_LEN];
	char got[2 * HS_SHA256_LEN + 1];
	hs_sha256(data, len, md);
	hs_sha256_hex(md, got);
	assert_string_equal(got, want);
}

static void test_fips_vectors(void **state)
{
	(void)state;
	static const char l448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	assert_sha256("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_sha256(l448, strlen(l448),
		      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	assert_sha256("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

	/* The 448-bit message a byte at a time through update. */
	struct hs_sha256 s;
	unsigned char md[HS_SHA256_LEN];
	char got[2 * HS_SHA256_LEN + 1];
	hs_sha256_init(&s);
	for (size_t i = 0; i < strlen(l448); i++)
		hs_sha256_update(&s, l448 + i, 1);
	hs_sha256_final(&s, md);
	hs_sha256_hex(md, got);
	assert_string_equal(got,
			    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

/* One million 'a' in pieces that straddle the 64-byte block every way. */
static void test_million_a(void **state)
{
	(void)state;
	static const size_t pieces[] = {1, 3, 63, 64, 65, 127, 128, 1000, 4093, 0, 7};
	char *a = malloc(5000);
	assert_non_null(a);
	memset(a, 'a', 5000);
	struct hs_sha256 s;
	hs_sha256_init(&s);
	size_t left = 1000000;
	for (size_t i = 0; left; i++) {
		size_t n = pieces[i % (sizeof(pieces) / sizeof(pieces[0]))];
		if (n > left)
			n = left;
		hs_sha256_update(&s, a, n);
		left -= n;
	}
	unsigned char md[HS_SHA256_LEN];
	char got[2 * HS_SHA256_LEN + 1];
	hs_sha256_final(&s, md);
	hs_sha256_hex(md, got);
	assert_string_equal(got,
			    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(a);
}

static void test_hex(void **state)
{
	(void)state;
	unsigned char md[HS_SHA256_LEN];
	char out[2 * HS_SHA256_LEN + 2];
	for (size_t i = 0; i < HS_SHA256_LEN; i++)
		md[i] = (unsigned char)(i * 8 + 7);
	memset(out, 'X', sizeof(out));
	hs_sha256_hex(md, out);
	assert_string_equal(out,
			    "070f171f272f373f474f575f676f777f878f979fa7afb7bfc7cfd7dfe7eff7ff");
	assert_int_equal(out[2 * HS_SHA256_LEN + 1], 'X'); /* nothing past the NUL */
}

struct rfc4231 {
	const char *name;
	unsigned char key[131];
	size_t keylen;
	const char *data;
	size_t datalen;
	const char *mac;
};

static const char tc6_data[] = "Test Using Larger Than Block-Size Key - Hash Key First";
static const char tc7_data[] =
	"This is a test using a larger than block-size key and a larger than block-size "
	"data. The key needs to be hashed before being used by the HMAC algorithm.";
static const char tc6_mac[] = "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54";
static const char tc7_mac[] = "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2";

/* RFC 4231 section 4; case 5 (truncated output) does not apply. */
static void rfc4231_cases(struct rfc4231 tc[6], char dd[50], char cd[50])
{
	memset(dd, 0xdd, 50);
	memset(cd, 0xcd, 50);
	memset(tc, 0, 6 * sizeof(*tc));
	tc[0] = (struct rfc4231){"1", {0}, 20, "Hi There", 8,
				 "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"};
	memset(tc[0].key, 0x0b, 20);
	tc[1] = (struct rfc4231){"2", "Jefe", 4, "what do ya want for nothing?", 28,
				 "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"};
	tc[2] = (struct rfc4231){"3", {0}, 20, dd, 50,
				 "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"};
	memset(tc[2].key, 0xaa, 20);
	tc[3] = (struct rfc4231){"4", {0}, 25, cd, 50,
				 "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"};
	for (int i = 0; i < 25; i++)
		tc[3].key[i] = (unsigned char)(i + 1);
	tc[4] = (struct rfc4231){"6", {0}, 131, tc6_data, sizeof(tc6_data) - 1, tc6_mac};
	memset(tc[4].key, 0xaa, 131);
	tc[5] = (struct rfc4231){"7", {0}, 131, tc7_data, sizeof(tc7_data) - 1, tc7_mac};
	memset(tc[5].key, 0xaa, 131);
}

static void hmac_hex(struct hs_hmac_sha256 *h, const void *data, size_t len, char out[65])
{
	unsigned char md[HS_SHA256_LEN];
	hs_hmac_sha256_update(h, data, len);
	hs_hmac_sha256_final(h, md);
	hs_sha256_hex(md, out);
}

static void test_hmac_rfc4231(void **state)
{
	(void)state;
	struct rfc4231 tc[6];
	char dd[50], cd[50], got[65];
	rfc4231_cases(tc, dd, cd);
	for (int i = 0; i < 6; i++) {
		struct hs_hmac_sha256 h;
		hs_hmac_sha256_init(&h, tc[i].key, tc[i].keylen);
		hmac_hex(&h, tc[i].data, tc[i].datalen, got);
		if (strcmp(got, tc[i].mac))
			fail_msg("RFC 4231 case %s: got %s, want %s", tc[i].name, got, tc[i].mac);

		/* The same message split in two updates. */
		unsigned char md[HS_SHA256_LEN];
		size_t half = tc[i].datalen / 2;
		hs_hmac_sha256_init(&h, tc[i].key, tc[i].keylen);
		hs_hmac_sha256_update(&h, tc[i].data, half);
		hs_hmac_sha256_update(&h, tc[i].data + half, tc[i].datalen - half);
		hs_hmac_sha256_final(&h, md);
		hs_sha256_hex(md, got);
		if (strcmp(got, tc[i].mac))
			fail_msg("RFC 4231 case %s in two parts: got %s", tc[i].name, got);
		hs_hmac_sha256_clear(&h);
	}
}

/* One init, many messages: the same as a fresh init per message. Cases 6
 * and 7 share their key, so one context must give both RFC results. */
static void test_hmac_reuse(void **state)
{
	(void)state;
	unsigned char key[131];
	char got[65], fresh[65];
	memset(key, 0xaa, sizeof(key));
	struct hs_hmac_sha256 h, f;
	hs_hmac_sha256_init(&h, key, sizeof(key));
	hmac_hex(&h, tc6_data, strlen(tc6_data), got);
	assert_string_equal(got, tc6_mac);
	hmac_hex(&h, tc7_data, strlen(tc7_data), got);
	assert_string_equal(got, tc7_mac);
	hmac_hex(&h, tc6_data, strlen(tc6_data), got);
	assert_string_equal(got, tc6_mac);

	/* A short key, two messages, against fresh contexts. */
	static const char *const msgs[] = {"first message", "", "second, longer message "
								"that spans more than one 64-byte block of input"};
	hs_hmac_sha256_init(&h, "Jefe", 4);
	for (size_t i = 0; i < 3; i++) {
		hmac_hex(&h, msgs[i], strlen(msgs[i]), got);
		hs_hmac_sha256_init(&f, "Jefe", 4);
		hmac_hex(&f, msgs[i], strlen(msgs[i]), fresh);
		assert_string_equal(got, fresh);
	}
	/* ...and the results differ per message (state really is reset). */
	char a[65], b[65];
	hmac_hex(&h, msgs[0], strlen(msgs[0]), a);
	hmac_hex(&h, msgs[2], strlen(msgs[2]), b);
	assert_string_not_equal(a, b);
	hs_hmac_sha256_clear(&h);
	hs_hmac_sha256_clear(&f);
}

static void test_hmac_clear(void **state)
{
	(void)state;
	struct hs_hmac_sha256 h;
	hs_hmac_sha256_init(&h, "a secret key of some length", 27);
	hs_hmac_sha256_update(&h, "x", 1);
	hs_hmac_sha256_clear(&h);
	const unsigned char *p = (const unsigned char *)&h;
	for (size_t i = 0; i < sizeof(h); i++)
		if (p[i])
			fail_msg("byte %zu of the context survived clear", i);
}

/* Random lengths and keys (around the block size, 0, long) against EVP. */
static void test_against_evp(void **state)
{
	(void)state;
	static const size_t lens[] = {0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 4096, 65537};
	static const size_t keylens[] = {0, 1, 16, 32, 63, 64, 65, 131, 1024};
	unsigned char *data = malloc(65537), key[1024];
	assert_non_null(data);
	srand(20260512);
	for (size_t i = 0; i < 65537; i++)
		data[i] = (unsigned char)rand();
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char)rand();
	for (int round = 0; round < 40; round++) {
		size_t len = round < 13 ? lens[round] : (size_t)rand() % 65537;
		size_t off = (size_t)rand() % (65537 - len + 1);
		size_t keylen = keylens[(size_t)round % (sizeof(keylens) / sizeof(keylens[0]))];
		unsigned char want[EVP_MAX_MD_SIZE], got[HS_SHA256_LEN];
		unsigned n = 0;
		assert_int_equal(EVP_Digest(data + off, len, want, &n, EVP_sha256(), NULL), 1);
		assert_int_equal(n, HS_SHA256_LEN);
		hs_sha256(data + off, len, got);
		if (memcmp(got, want, HS_SHA256_LEN))
			fail_msg("SHA-256 of %zu bytes differs from EVP", len);

		n = 0;
		assert_non_null(HMAC(EVP_sha256(), key, (int)keylen, data + off, len, want, &n));
		assert_int_equal(n, HS_SHA256_LEN);
		struct hs_hmac_sha256 h;
		hs_hmac_sha256_init(&h, key, keylen);
		/* Uneven pieces through update. */
		for (size_t done = 0, step = 1; done < len; step = step * 3 + 1) {
			size_t k = step > len - done ? len - done : step;
			hs_hmac_sha256_update(&h, data + off + done, k);
			done += k;
		}
		hs_hmac_sha256_final(&h, got);
		if (memcmp(got, want, HS_SHA256_LEN))
			fail_msg("HMAC-SHA-256 of %zu bytes with a %zu-byte key differs from EVP", len,
				 keylen);
		hs_hmac_sha256_clear(&h);
	}
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fips_vectors),
	    cmocka_unit_test(test_million_a),
	    cmocka_unit_test(test_hex),
	    cmocka_unit_test(test_hmac_rfc4231),
	    cmocka_unit_test(test_hmac_reuse),
	    cmocka_unit_test(test_hmac_clear),
	    cmocka_unit_test(test_against_evp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
