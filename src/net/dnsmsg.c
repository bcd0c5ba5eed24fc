/*
 * dnsmsg.c: DNS queries parsed, responses built (see dnsmsg.h).
 *
 * The parser reads the message once, front to back, checking each count
 * and length against the bytes left; it never follows a compression
 * pointer (it refuses them), so a hostile message cannot make it loop.
 * Responses are built front to back into the caller's buffer and stop at
 * the first record that does not fit.
 */
#define _GNU_SOURCE
#include "dnsmsg.h"

#include <string.h>

#define F_QR 0x8000
#define F_OPCODE 0x7800
#define F_TC 0x0200
#define F_RD 0x0100
#define F_RA 0x0080

static unsigned be16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static int fail(struct hs_dns_query *q, enum hs_dns_rcode rcode, const char *why)
{
	q->rcode = rcode;
	q->error = why;
	return -1;
}

/* The question's name at msg[*i]: labels up to the root, no pointers. */
static int read_qname(struct hs_dns_query *q, const uint8_t *msg, size_t len, size_t *i)
{
	size_t wire = 0, at = *i;
	for (;;) {
		if (at >= len)
			return fail(q, HS_DNS_FORMERR, "a truncated question");
		unsigned l = msg[at];
		if (l == 0) {
			at++;
			break;
		}
		if ((l & 0xc0) == 0xc0)
			return fail(q, HS_DNS_FORMERR, "a compression pointer in the question");
		if (l & 0xc0)
			return fail(q, HS_DNS_FORMERR, "a label of an unknown type");
		if (len - at - 1 < l)
			return fail(q, HS_DNS_FORMERR, "a truncated question");
		wire += 1 + l;
		if (wire + 1 > HS_DNS_WIRE_NAME_MAX)
			return fail(q, HS_DNS_FORMERR, "a name longer than 255 bytes");
		const uint8_t *label = msg + at + 1;
		if (memchr(label, '.', l) || memchr(label, '\0', l))
			return fail(q, HS_DNS_FORMERR, "a label holding '.' or NUL");
		/* wire <= 254 keeps the dotted form within 253 bytes */
		if (q->nlabels)
			q->name[q->name_len++] = '.';
		memcpy(q->name + q->name_len, label, l);
		q->name_len += l;
		q->nlabels++;
		at += 1 + l;
	}
	q->name[q->name_len] = '\0';
	*i = at;
	return 0;
}

/* The additional record: EDNS OPT only (root name, RFC 6891), checked for
 * shape and ignored. */
static int read_opt(struct hs_dns_query *q, const uint8_t *msg, size_t len, size_t *i)
{
	size_t at = *i;
	if (len - at < 11)
		return fail(q, HS_DNS_FORMERR, "a truncated additional record");
	if (msg[at] != 0 || be16(msg + at + 1) != HS_DNS_TYPE_OPT)
		return fail(q, HS_DNS_FORMERR, "an additional record other than EDNS OPT");
	size_t rdlen = be16(msg + at + 9);
	if (len - at - 11 < rdlen)
		return fail(q, HS_DNS_FORMERR, "a truncated additional record");
	*i = at + 11 + rdlen;
	return 0;
}

int hs_dns_parse_query(const uint8_t *msg, size_t len, struct hs_dns_query *q)
{
	memset(q, 0, sizeof(*q));
	if (len < HS_DNS_HEADER)
		return fail(q, HS_DNS_FORMERR, "shorter than a DNS header");
	q->id = (uint16_t)be16(msg);
	q->flags = (uint16_t)be16(msg + 2);
	if (q->flags & F_QR)
		return fail(q, HS_DNS_FORMERR, "a response, not a query");
	q->respond = true;
	if (q->flags & F_OPCODE)
		return fail(q, HS_DNS_NOTIMP, "an opcode other than QUERY");
	unsigned qd = be16(msg + 4), an = be16(msg + 6), ns = be16(msg + 8), ar = be16(msg + 10);
	if (qd != 1)
		return fail(q, HS_DNS_FORMERR, "not exactly one question");
	if (an || ns)
		return fail(q, HS_DNS_FORMERR, "a query with answer or authority records");
	if (ar > 1)
		return fail(q, HS_DNS_FORMERR, "more than one additional record");
	size_t i = HS_DNS_HEADER;
	if (read_qname(q, msg, len, &i) < 0)
		return -1;
	if (len - i < 4)
		return fail(q, HS_DNS_FORMERR, "a truncated question");
	q->qtype = (uint16_t)be16(msg + i);
	q->qclass = (uint16_t)be16(msg + i + 2);
	i += 4;
	q->question_len = i - HS_DNS_HEADER;
	memcpy(q->question, msg + HS_DNS_HEADER, q->question_len);
	q->has_question = true;
	if (ar && read_opt(q, msg, len, &i) < 0)
		return -1;
	if (i != len)
		return fail(q, HS_DNS_FORMERR, "bytes after the last record");
	if (q->qclass != HS_DNS_CLASS_IN)
		return fail(q, HS_DNS_REFUSED, "a class other than IN");
	return 0;
}

static size_t rdata_len(uint16_t type)
{
	return type == HS_DNS_TYPE_A ? 4 : type == HS_DNS_TYPE_AAAA ? 16 : 0;
}

size_t hs_dns_build_response(uint8_t *out, size_t cap, const struct hs_dns_query *q,
			     enum hs_dns_rcode rcode, const struct hs_dns_rr *rr, size_t nrr,
			     enum hs_dns_transport t)
{
	size_t pre = t == HS_DNS_TCP ? 2 : 0;
	size_t limit = t == HS_DNS_TCP ? HS_DNS_TCP_MAX : HS_DNS_UDP_MAX;
	size_t qlen = q->has_question ? q->question_len : 0;
	if (!q->respond || cap < pre)
		return 0;
	size_t room = cap - pre < limit ? cap - pre : limit;
	if (room < HS_DNS_HEADER + qlen)
		return 0;
	uint8_t *m = out + pre;
	unsigned flags = F_QR | (q->flags & (F_OPCODE | F_RD)) | F_RA | ((unsigned)rcode & 0xf);
	put16(m, q->id);
	put16(m + 4, q->has_question ? 1 : 0);
	put16(m + 8, 0);
	put16(m + 10, 0);
	memcpy(m + HS_DNS_HEADER, q->question, qlen);
	size_t n = HS_DNS_HEADER + qlen;
	unsigned count = 0;
	for (size_t k = 0; q->has_question && k < nrr; k++) {
		size_t rdlen = rdata_len(rr[k].type);
		if (!rdlen)
			continue;
		if (room - n < 12 + rdlen) {
			flags |= F_TC;
			break;
		}
		uint8_t *p = m + n;
		put16(p, 0xc000 | HS_DNS_HEADER); /* the question's name */
		put16(p + 2, rr[k].type);
		put16(p + 4, HS_DNS_CLASS_IN);
		put16(p + 6, rr[k].ttl >> 16);
		put16(p + 8, rr[k].ttl & 0xffff);
		put16(p + 10, (unsigned)rdlen);
		memcpy(p + 12, rr[k].addr, rdlen);
		n += 12 + rdlen;
		count++;
	}
	put16(m + 2, flags);
	put16(m + 6, count);
	if (pre)
		put16(out, (unsigned)n);
	return pre + n;
}

size_t hs_dns_answer_a(uint8_t *out, size_t cap, const struct hs_dns_query *q,
		       const uint8_t (*addrs)[4], size_t n, uint32_t ttl, enum hs_dns_transport t)
{
	struct hs_dns_rr rr[HS_DNS_ANSWERS_MAX];
	if (n > HS_DNS_ANSWERS_MAX)
		n = HS_DNS_ANSWERS_MAX;
	memset(rr, 0, sizeof(rr));
	for (size_t k = 0; k < n; k++) {
		rr[k].type = HS_DNS_TYPE_A;
		rr[k].ttl = ttl;
		memcpy(rr[k].addr, addrs[k], 4);
	}
	return hs_dns_build_response(out, cap, q, HS_DNS_NOERROR, rr, n, t);
}

size_t hs_dns_answer_aaaa(uint8_t *out, size_t cap, const struct hs_dns_query *q,
			  const uint8_t (*addrs)[16], size_t n, uint32_t ttl,
			  enum hs_dns_transport t)
{
	struct hs_dns_rr rr[HS_DNS_ANSWERS_MAX];
	if (n > HS_DNS_ANSWERS_MAX)
		n = HS_DNS_ANSWERS_MAX;
	memset(rr, 0, sizeof(rr));
	for (size_t k = 0; k < n; k++) {
		rr[k].type = HS_DNS_TYPE_AAAA;
		rr[k].ttl = ttl;
		memcpy(rr[k].addr, addrs[k], 16);
	}
	return hs_dns_build_response(out, cap, q, HS_DNS_NOERROR, rr, n, t);
}

size_t hs_dns_answer_rcode(uint8_t *out, size_t cap, const struct hs_dns_query *q,
			   enum hs_dns_rcode rcode, enum hs_dns_transport t)
{
	return hs_dns_build_response(out, cap, q, rcode, NULL, 0, t);
}

int hs_dns_tcp_next(const uint8_t *buf, size_t len, const uint8_t **msg, size_t *msg_len,
		    size_t *used)
{
	*msg = NULL;
	*msg_len = *used = 0;
	if (len < 2)
		return 0;
	size_t n = be16(buf);
	if (n < HS_DNS_HEADER)
		return -1;
	if (len - 2 < n)
		return 0;
	*msg = buf + 2;
	*msg_len = n;
	*used = 2 + n;
	return 1;
}
