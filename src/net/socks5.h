/*
 * socks5.h: the server side of a SOCKS5 handshake (RFC 1928), as the
 * egress proxy speaks it: method "no authentication" only, command CONNECT
 * only, addresses IPv4, domain name and IPv6. Pure code: no I/O, no
 * allocation.
 *
 *   client: VER=5 NMETHODS METHODS...        -> feed() answers 05 00 (or 05 FF)
 *   client: VER=5 CMD RSV ATYP ADDR PORT     -> feed() returns DONE with the target;
 *                                               the caller decides and answers
 *                                               with hs_socks5_reply()
 *
 * The domain name is returned as the raw bytes the client sent (1-255 of
 * them; NUL, dots, anything): the rules module (rules.h) validates names.
 * SOCKS4 and SOCKS4a are refused, with a SOCKS4 "rejected" reply so that
 * the client reports a refusal rather than a hang.
 */
#ifndef HS_NET_SOCKS5_H
#define HS_NET_SOCKS5_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sockaddr;

enum hs_socks5_result {
	HS_SOCKS5_ERROR = -1,
	HS_SOCKS5_NEED_MORE = 0,
	HS_SOCKS5_DONE = 1,
};

/* Where the handshake is. A failure leaves the state where it happened:
 * state >= HS_SOCKS5_REQUEST means the client is owed a reply
 * (error_reply) to its request. */
enum hs_socks5_state {
	HS_SOCKS5_GREETING = 0, /* waiting for the method offer */
	HS_SOCKS5_REQUEST,	/* method chosen; waiting for the request */
	HS_SOCKS5_READY,	/* request parsed (DONE): the caller decides */
};

enum hs_socks5_atyp {
	HS_SOCKS5_ATYP_IPV4 = 0x01,
	HS_SOCKS5_ATYP_DOMAIN = 0x03,
	HS_SOCKS5_ATYP_IPV6 = 0x04,
};

enum hs_socks5_cmd {
	HS_SOCKS5_CMD_CONNECT = 0x01,
	HS_SOCKS5_CMD_BIND = 0x02,
	HS_SOCKS5_CMD_UDP_ASSOCIATE = 0x03,
};

/* Reply codes (RFC 1928, section 6). */
enum hs_socks5_rep {
	HS_SOCKS5_REP_SUCCEEDED = 0x00,
	HS_SOCKS5_REP_GENERAL_FAILURE = 0x01,
	HS_SOCKS5_REP_NOT_ALLOWED = 0x02, /* connection not allowed by ruleset */
	HS_SOCKS5_REP_NET_UNREACHABLE = 0x03,
	HS_SOCKS5_REP_HOST_UNREACHABLE = 0x04,
	HS_SOCKS5_REP_CONN_REFUSED = 0x05,
	HS_SOCKS5_REP_TTL_EXPIRED = 0x06,
	HS_SOCKS5_REP_CMD_UNSUPPORTED = 0x07,
	HS_SOCKS5_REP_ATYP_UNSUPPORTED = 0x08,
};

#define HS_SOCKS5_GREETING_MAX (2 + 255)
#define HS_SOCKS5_REQUEST_MAX (4 + 1 + 255 + 2)
#define HS_SOCKS5_REPLY_MAX (4 + 16 + 2) /* an IPv6 bound address */

struct hs_socks5 {
	enum hs_socks5_state state;
	bool failed;

	/* The request, set on DONE (and, for a refused command, on ERROR). */
	uint8_t cmd;
	uint8_t atyp;
	uint8_t addr[16]; /* IPv4 (4 bytes) or IPv6 (16), network order */
	char host[256];	  /* the domain's raw bytes (host_len of them, may contain
			     NUL), or the address as text ("192.0.2.1",
			     "2001:db8::1", no brackets); NUL-terminated */
	size_t host_len;
	uint16_t port;

	/* Set on ERROR. */
	uint8_t error_reply; /* the reply code owed when state >= HS_SOCKS5_REQUEST */
	const char *error;   /* static text: never echoes input */
};

void hs_socks5_init(struct hs_socks5 *s);

/*
 * Feeds the bytes received and not yet consumed: buf[0..len). Consumes
 * whole messages only (*used bytes; the caller drops them and keeps the
 * rest for the next call). Bytes owed to the client right away are written
 * to reply (up to reply_cap, which must be >= 8; *reply_len bytes): the
 * method selection, or the refusal of a greeting (05 FF, or the SOCKS4
 * rejection). The reply to the request itself is the caller's, with
 * hs_socks5_reply(), once it has decided. Returns
 *   HS_SOCKS5_NEED_MORE  wait for more bytes (something may have been
 *                        consumed and a reply written);
 *   HS_SOCKS5_DONE       the request is in s (state READY); bytes after it
 *                        are the client's first data, not consumed;
 *   HS_SOCKS5_ERROR      s->error (and s->error_reply) set.
 * The result does not depend on how the input was split.
 */
int hs_socks5_feed(struct hs_socks5 *s, const uint8_t *buf, size_t len, size_t *used,
		   uint8_t *reply, size_t reply_cap, size_t *reply_len);

/*
 * A reply to the request: VER=5, REP=rep, RSV, the bound address (bound
 * NULL, or not AF_INET/AF_INET6: 0.0.0.0:0). Returns its length (10 or
 * 22), or 0 when cap is too small.
 */
size_t hs_socks5_reply(uint8_t *buf, size_t cap, uint8_t rep, const struct sockaddr *bound);

#endif
