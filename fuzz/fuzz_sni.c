/*
 * fuzz_sni.c: libFuzzer target for the ClientHello server name extractor
 * (net/sni.c).
 *
 * Input: two bytes choosing a prefix length and a record size, then the
 * first bytes of a TLS connection. Checked on every input:
 *   - the prefix gives NEED_MORE or the same answer as the whole (an
 *     answer never depends on bytes after the ones that decided it);
 *   - a name found is 1..255 bytes, NUL-terminated, and the ClientHello
 *     lies within the input;
 *   - a complete ClientHello that came in one record, cut into records of
 *     the chosen size, gives the same answer when it fits in 32 records
 *     (and an error when it does not): reassembly changes nothing.
 * Violations abort.
 */
#include "net/sni.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_sni: %s\n", what);
	abort();
}

static void same(int ra, const struct hs_sni *a, int rb, const struct hs_sni *b, const char *what)
{
	check(ra == rb, what);
	if (ra == HS_SNI_ERROR) {
		check(strcmp(a->error, b->error) == 0, what);
	} else if (ra != HS_SNI_NEED_MORE) {
		check(a->name_len == b->name_len &&
			  memcmp(a->name, b->name, sizeof(a->name)) == 0 && a->ech == b->ech &&
			  a->esni == b->esni && a->legacy_version == b->legacy_version,
		      what);
	}
}

/* The single record in[0..len) cut into records of `size` bytes. */
static size_t reframe(const uint8_t *in, size_t len, size_t size, uint8_t *out)
{
	size_t n = 0;
	for (size_t off = 5; off < len; off += size) {
		size_t k = len - off < size ? len - off : size;
		memcpy(out + n, in, 3);
		out[n + 3] = (uint8_t)(k >> 8);
		out[n + 4] = (uint8_t)k;
		memcpy(out + n + 5, in + off, k);
		n += 5 + k;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	const uint8_t *in = data + 2;
	size_t n = size - 2;
	struct hs_sni whole, part;
	int r = hs_sni_parse(in, n, &whole);

	size_t cut = n ? (size_t)data[0] * n / 255 : 0;
	uint8_t *copy = malloc(cut + 1);
	check(copy != NULL, "out of memory");
	memcpy(copy, in, cut);
	int rp = hs_sni_parse(copy, cut, &part);
	free(copy);
	if (rp != HS_SNI_NEED_MORE)
		same(r, &whole, rp, &part, "a prefix decided otherwise");

	if (r == HS_SNI_ERROR) {
		check(whole.error != NULL, "ERROR without a reason");
		return 0;
	}
	if (r == HS_SNI_NEED_MORE)
		return 0;
	check(whole.hello_bytes >= 9 && whole.hello_bytes <= n, "ClientHello outside the input");
	if (r == HS_SNI_FOUND)
		check(whole.name_len >= 1 && whole.name_len <= HS_SNI_NAME_MAX &&
			  whole.name[whole.name_len] == '\0',
		      "name out of bounds");
	else
		check(whole.name_len == 0, "a name without FOUND");

	size_t rec = (size_t)in[3] << 8 | in[4];
	if (rec + 5 != whole.hello_bytes)
		return 0; /* it came in several records already */
	size_t piece = 1 + (size_t)data[1] * 4, records = (rec + piece - 1) / piece;
	uint8_t *framed = malloc(rec + 5 * records);
	check(framed != NULL, "out of memory");
	size_t fn = reframe(in, whole.hello_bytes, piece, framed);
	struct hs_sni re;
	int rr = hs_sni_parse(framed, fn, &re);
	free(framed);
	if (records > HS_SNI_RECORDS_MAX)
		check(rr == HS_SNI_ERROR, "more than 32 records accepted");
	else
		same(r, &whole, rr, &re, "cut into records, it reads otherwise");
	return 0;
}
