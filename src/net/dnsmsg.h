/*
 * dnsmsg.h: DNS messages (RFC 1035) for the stub resolver that answers the
 * sandbox's queries on its loopback: parse a query, build the response.
 * Pure code: no I/O, no allocation.
 *
 * A query is accepted only in its plain form: QR=0, OPCODE=QUERY, exactly
 * one question, no answer or authority records, at most one additional
 * record (the EDNS OPT record dig and the libc resolvers send, which is
 * checked for shape and otherwise ignored: responses carry no OPT and stay
 * within 512 bytes over UDP). The question's name is returned as dotted
 * text with each label's bytes raw (case kept; the rules module validates
 * names), but a label holding '.' or NUL is refused, so that "a.b" sent as
 * one label cannot pass for two. Compression pointers are refused, so no
 * pointer is ever followed: nothing precedes the question that a pointer in
 * its name could honestly name, and the only additional record accepted
 * (OPT) has the root as its name.
 */
#ifndef HS_NET_DNSMSG_H
#define HS_NET_DNSMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HS_DNS_HEADER 12
#define HS_DNS_NAME_MAX 253 /* dotted, no trailing dot */
#define HS_DNS_WIRE_NAME_MAX 255
#define HS_DNS_UDP_MAX 512   /* a response over UDP, without EDNS */
#define HS_DNS_TCP_MAX 65535 /* a message over TCP (its 2-byte length) */

enum hs_dns_rcode {
	HS_DNS_NOERROR = 0,
	HS_DNS_FORMERR = 1,
	HS_DNS_SERVFAIL = 2,
	HS_DNS_NXDOMAIN = 3,
	HS_DNS_NOTIMP = 4,
	HS_DNS_REFUSED = 5,
};

enum {
	HS_DNS_TYPE_A = 1,
	HS_DNS_TYPE_AAAA = 28,
	HS_DNS_TYPE_OPT = 41,
	HS_DNS_CLASS_IN = 1,
};

enum hs_dns_transport {
	HS_DNS_UDP, /* at most 512 bytes; TC set when answers are left out */
	HS_DNS_TCP, /* a 2-byte length prefix first */
};

struct hs_dns_query {
	bool respond; /* false: send nothing (too short to echo an id, or a
			 response rather than a query) */
	uint16_t id;
	uint16_t flags;			/* as received */
	bool has_question;		/* the question parsed: a response can echo it */
	char name[HS_DNS_NAME_MAX + 1]; /* "www.example.com", "" for the root */
	size_t name_len;
	unsigned nlabels;
	uint16_t qtype, qclass;
	uint8_t question[HS_DNS_WIRE_NAME_MAX + 4]; /* QNAME QTYPE QCLASS as received */
	size_t question_len;

	/* On error: what to answer (FORMERR, NOTIMP, REFUSED) when respond. */
	enum hs_dns_rcode rcode;
	const char *error; /* static text */
};

/* Parses one query message. Returns 0, or -1 with q->error, q->rcode and
 * q->respond set. A query of a class other than IN is refused (REFUSED);
 * the type is the caller's business. */
int hs_dns_parse_query(const uint8_t *msg, size_t len, struct hs_dns_query *q);

/* One address record of an answer. */
struct hs_dns_rr {
	uint16_t type; /* HS_DNS_TYPE_A (addr[0..4)) or HS_DNS_TYPE_AAAA (addr[0..16)) */
	uint32_t ttl;
	uint8_t addr[16];
};

/*
 * A response to q (q->respond must be true): the id and RD echoed, QR and
 * RA set, the question echoed when q has one, then the records (owner name
 * a pointer to the question). Records are left out from the first that does
 * not fit (512 bytes over UDP, with TC set; over TCP, cap bytes); over TCP
 * the 2-byte length comes first. Returns the bytes written, or 0 when not
 * even the header and question fit or q->respond is false.
 */
size_t hs_dns_build_response(uint8_t *out, size_t cap, const struct hs_dns_query *q,
			     enum hs_dns_rcode rcode, const struct hs_dns_rr *rr, size_t nrr,
			     enum hs_dns_transport t);

/* Answers of one kind, for the common cases (at most HS_DNS_ANSWERS_MAX
 * records; over UDP fewer fit anyway). */
#define HS_DNS_ANSWERS_MAX 64
size_t hs_dns_answer_a(uint8_t *out, size_t cap, const struct hs_dns_query *q,
		       const uint8_t (*addrs)[4], size_t n, uint32_t ttl, enum hs_dns_transport t);
size_t hs_dns_answer_aaaa(uint8_t *out, size_t cap, const struct hs_dns_query *q,
			  const uint8_t (*addrs)[16], size_t n, uint32_t ttl,
			  enum hs_dns_transport t);
/* No records: NXDOMAIN, REFUSED, SERVFAIL, FORMERR, NOTIMP, or NOERROR (the
 * name exists but has no record of this type, e.g. AAAA when only IPv4 is
 * served). */
size_t hs_dns_answer_rcode(uint8_t *out, size_t cap, const struct hs_dns_query *q,
			   enum hs_dns_rcode rcode, enum hs_dns_transport t);

/*
 * TCP framing: the next message in a stream buf[0..len) of 2-byte length
 * prefixed messages. Returns 1 with *msg, *msg_len and *used (prefix +
 * message) set, 0 when it is not complete yet, -1 when the length is
 * shorter than a DNS header (the connection should be closed).
 */
int hs_dns_tcp_next(const uint8_t *buf, size_t len, const uint8_t **msg, size_t *msg_len,
		    size_t *used);

#endif
