/*
 * fuzz_dns.c: libFuzzer target for DNS queries and responses
 * (net/dnsmsg.c).
 *
 * Input: one byte of choices (transport, answer count), one byte choosing
 * a split point, then a DNS message. Checked on every input:
 *   - a parsed query's name is within 253 bytes, NUL-free, and split at
 *     its dots gives back exactly the labels of the question as sent;
 *   - responses (A and AAAA answers, each rcode) fit the transport: at
 *     most 512 bytes over UDP (TC set when answers were left out), a
 *     correct length prefix over TCP; they echo the id and the question,
 *     count what they carry, and are never taken for a query;
 *   - the message as a TCP stream (length prefixed) comes out the same
 *     whether the stream arrives at once or split at the chosen point.
 * Violations abort.
 */
#include "net/dnsmsg.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_dns: %s\n", what);
	abort();
}

static unsigned be16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* The name, split at its dots, is the question's QNAME. */
static void check_name(const struct hs_dns_query *q)
{
	uint8_t wire[HS_DNS_WIRE_NAME_MAX + 1];
	size_t n = 0, start = 0;
	check(q->name_len <= HS_DNS_NAME_MAX && strlen(q->name) == q->name_len, "name length");
	for (size_t i = 0; q->name_len && i <= q->name_len; i++) {
		if (i < q->name_len && q->name[i] != '.')
			continue;
		size_t l = i - start;
		check(l >= 1 && l <= 63 && n + 1 + l < sizeof(wire), "label length");
		wire[n++] = (uint8_t)l;
		memcpy(wire + n, q->name + start, l);
		n += l;
		start = i + 1;
	}
	wire[n++] = 0;
	check(q->question_len == n + 4 && memcmp(q->question, wire, n) == 0,
	      "the name does not give back the question");
}

static void check_response(const struct hs_dns_query *q, const uint8_t *out, size_t len,
			   enum hs_dns_transport t, size_t wanted, enum hs_dns_rcode rcode)
{
	const uint8_t *m = out;
	if (t == HS_DNS_TCP) {
		check(len >= 2 && be16(out) == len - 2, "TCP length prefix");
		m += 2;
		len -= 2;
	} else {
		check(len <= HS_DNS_UDP_MAX, "a UDP response over 512 bytes");
	}
	check(len >= HS_DNS_HEADER + q->question_len, "response shorter than its question");
	unsigned flags = be16(m + 2), an = be16(m + 6);
	check(be16(m) == q->id, "id not echoed");
	check((flags & 0x8000) && (flags & 0xf) == rcode, "flags");
	check(be16(m + 4) == 1 && memcmp(m + 12, q->question, q->question_len) == 0,
	      "question not echoed");
	check(an <= wanted && ((flags & 0x0200) != 0) == (an < wanted), "TC and the answer count");
	struct hs_dns_query back;
	check(hs_dns_parse_query(m, len, &back) < 0 && !back.respond,
	      "a response taken for a query");
}

static void check_stream(const uint8_t *msg, size_t len, size_t split)
{
	uint8_t *stream = malloc(len + 2);
	const uint8_t *m1, *m2;
	size_t l1, l2, u1, u2;
	check(stream != NULL, "out of memory");
	stream[0] = (uint8_t)(len >> 8);
	stream[1] = (uint8_t)len;
	memcpy(stream + 2, msg, len);
	int r1 = hs_dns_tcp_next(stream, len + 2, &m1, &l1, &u1);
	int r2 = hs_dns_tcp_next(stream, split, &m2, &l2, &u2);
	if (r2 == 0)
		r2 = hs_dns_tcp_next(stream, len + 2, &m2, &l2, &u2);
	check(r1 == r2, "the stream reads differently when split");
	check(r1 == (len < HS_DNS_HEADER ? -1 : 1), "framing result");
	if (r1 == 1)
		check(m1 == stream + 2 && l1 == len && u1 == len + 2 && m2 == m1 && l2 == l1 &&
			  u2 == u1,
		      "framing");
	free(stream);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > HS_DNS_TCP_MAX)
		return 0;
	const uint8_t *msg = data + 2;
	size_t n = size - 2;
	check_stream(msg, n, (n + 2) * data[1] / 255);

	struct hs_dns_query q;
	int r = hs_dns_parse_query(msg, n, &q);
	if (r < 0) {
		check(q.error != NULL, "an error without a reason");
		if (!q.respond)
			return 0;
	} else {
		check(q.respond && q.has_question, "a query without its question");
		check_name(&q);
	}
	enum hs_dns_transport t = data[0] & 1 ? HS_DNS_TCP : HS_DNS_UDP;
	size_t count = (size_t)(data[0] >> 1) % (HS_DNS_ANSWERS_MAX + 1);
	static uint8_t out[HS_DNS_TCP_MAX + 2];
	uint8_t a[HS_DNS_ANSWERS_MAX][4], aaaa[HS_DNS_ANSWERS_MAX][16];
	memset(a, 0x0a, sizeof(a));
	memset(aaaa, 0x20, sizeof(aaaa));
	size_t len;
	if (q.has_question) {
		len = hs_dns_answer_a(out, sizeof(out), &q, (const uint8_t(*)[4])a, count, 60, t);
		check_response(&q, out, len, t, count, HS_DNS_NOERROR);
		len = hs_dns_answer_aaaa(out, sizeof(out), &q, (const uint8_t(*)[16])aaaa, count,
					 60, t);
		check_response(&q, out, len, t, count, HS_DNS_NOERROR);
		for (int rc = HS_DNS_NOERROR; rc <= HS_DNS_REFUSED; rc++) {
			len = hs_dns_answer_rcode(out, sizeof(out), &q, (enum hs_dns_rcode)rc, t);
			check_response(&q, out, len, t, 0, (enum hs_dns_rcode)rc);
		}
	} else {
		len = hs_dns_answer_rcode(out, sizeof(out), &q, q.rcode, t);
		size_t pre = t == HS_DNS_TCP ? 2 : 0;
		check(len == pre + HS_DNS_HEADER && be16(out + pre) == q.id &&
			  be16(out + pre + 4) == 0,
		      "an error response without a question");
	}
	return 0;
}
