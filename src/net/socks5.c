/*
 * socks5.c: the server side of a SOCKS5 handshake (see socks5.h).
 *
 * Each message is parsed from the start of the unconsumed bytes and
 * consumed only when whole (messages are at most 262 bytes, so looking at
 * a partial one again is cheap). Every decision depends only on the bytes
 * up to the one that decides it (a wrong version at byte 0, an unknown
 * address type at byte 3, the command once the request is whole), so the
 * result is the same however the input is split.
 */
#define _GNU_SOURCE
#include "socks5.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define VER5 0x05
#define VER4 0x04
#define METHOD_NONE 0x00
#define METHOD_REFUSED 0xff

void hs_socks5_init(struct hs_socks5 *s)
{
	memset(s, 0, sizeof(*s));
	s->state = HS_SOCKS5_GREETING;
}

static int fail(struct hs_socks5 *s, uint8_t rep, const char *why)
{
	s->failed = true;
	s->error_reply = rep;
	s->error = why;
	return HS_SOCKS5_ERROR;
}

static void emit(uint8_t *reply, size_t cap, size_t *reply_len, const uint8_t *b, size_t n)
{
	if (n <= cap - *reply_len) {
		memcpy(reply + *reply_len, b, n);
		*reply_len += n;
	}
}

/* VER NMETHODS METHODS... */
static int greeting(struct hs_socks5 *s, const uint8_t *b, size_t n, size_t *used, uint8_t *reply,
		    size_t cap, size_t *reply_len)
{
	if (n < 1)
		return HS_SOCKS5_NEED_MORE;
	if (b[0] == VER4) {
		/* VN=0 CD=91 "request rejected or failed" */
		static const uint8_t rej4[8] = {0x00, 0x5b};
		emit(reply, cap, reply_len, rej4, sizeof(rej4));
		return fail(s, HS_SOCKS5_REP_GENERAL_FAILURE,
			    "SOCKS4 is not supported: use SOCKS5 (socks5h://)");
	}
	if (b[0] != VER5) {
		if (b[0] >= 'A' && b[0] <= 'Z')
			return fail(s, HS_SOCKS5_REP_GENERAL_FAILURE,
				    "HTTP was sent to the SOCKS5 proxy port");
		return fail(s, HS_SOCKS5_REP_GENERAL_FAILURE, "not a SOCKS5 greeting");
	}
	if (n < 2)
		return HS_SOCKS5_NEED_MORE;
	size_t nmethods = b[1];
	if (n < 2 + nmethods)
		return HS_SOCKS5_NEED_MORE;
	*used = 2 + nmethods;
	if (!memchr(b + 2, METHOD_NONE, nmethods)) {
		static const uint8_t refused[2] = {VER5, METHOD_REFUSED};
		emit(reply, cap, reply_len, refused, sizeof(refused));
		return fail(s, HS_SOCKS5_REP_GENERAL_FAILURE,
			    "the client offers no method harness accepts (only \"no "
			    "authentication\")");
	}
	static const uint8_t ok[2] = {VER5, METHOD_NONE};
	emit(reply, cap, reply_len, ok, sizeof(ok));
	s->state = HS_SOCKS5_REQUEST;
	return HS_SOCKS5_NEED_MORE;
}

static void address_text(struct hs_socks5 *s)
{
	if (s->atyp == HS_SOCKS5_ATYP_IPV4) {
		snprintf(s->host, sizeof(s->host), "%u.%u.%u.%u", s->addr[0], s->addr[1],
			 s->addr[2], s->addr[3]);
	} else if (!inet_ntop(AF_INET6, s->addr, s->host, sizeof(s->host))) {
		s->host[0] = '\0';
	}
	s->host_len = strlen(s->host);
}

/* VER CMD RSV ATYP DST.ADDR DST.PORT */
static int request(struct hs_socks5 *s, const uint8_t *b, size_t n, size_t *used)
{
	size_t alen;
	if (n < 1)
		return HS_SOCKS5_NEED_MORE;
	if (b[0] != VER5)
		return fail(s, HS_SOCKS5_REP_GENERAL_FAILURE,
			    "a SOCKS request with a version other than 5");
	if (n < 3)
		return HS_SOCKS5_NEED_MORE;
	if (b[2] != 0x00)
		return fail(s, HS_SOCKS5_REP_GENERAL_FAILURE, "a SOCKS request with RSV not 0");
	if (n < 4)
		return HS_SOCKS5_NEED_MORE;
	switch (b[3]) {
	case HS_SOCKS5_ATYP_IPV4:
		alen = 4;
		break;
	case HS_SOCKS5_ATYP_IPV6:
		alen = 16;
		break;
	case HS_SOCKS5_ATYP_DOMAIN:
		if (n < 5)
			return HS_SOCKS5_NEED_MORE;
		if (b[4] == 0)
			return fail(s, HS_SOCKS5_REP_GENERAL_FAILURE, "an empty domain name");
		alen = 1 + (size_t)b[4];
		break;
	default:
		return fail(s, HS_SOCKS5_REP_ATYP_UNSUPPORTED, "an unknown address type");
	}
	if (n < 4 + alen + 2)
		return HS_SOCKS5_NEED_MORE;
	s->cmd = b[1];
	s->atyp = b[3];
	if (s->atyp == HS_SOCKS5_ATYP_DOMAIN) {
		s->host_len = alen - 1;
		memcpy(s->host, b + 5, s->host_len);
		s->host[s->host_len] = '\0';
	} else {
		memcpy(s->addr, b + 4, alen);
		address_text(s);
	}
	s->port = (uint16_t)((unsigned)b[4 + alen] << 8 | b[4 + alen + 1]);
	*used = 4 + alen + 2;
	/* The target is filled in first, so that a refused command is
	 * recorded with what it asked for. */
	if (s->cmd != HS_SOCKS5_CMD_CONNECT)
		return fail(s, HS_SOCKS5_REP_CMD_UNSUPPORTED,
			    s->cmd == HS_SOCKS5_CMD_BIND ? "SOCKS BIND is not supported"
			    : s->cmd == HS_SOCKS5_CMD_UDP_ASSOCIATE
				? "SOCKS UDP ASSOCIATE is not supported"
				: "an unknown SOCKS command");
	s->state = HS_SOCKS5_READY;
	return HS_SOCKS5_DONE;
}

int hs_socks5_feed(struct hs_socks5 *s, const uint8_t *buf, size_t len, size_t *used,
		   uint8_t *reply, size_t reply_cap, size_t *reply_len)
{
	size_t off = 0;
	int r = HS_SOCKS5_NEED_MORE;
	*used = 0;
	*reply_len = 0;
	if (s->failed)
		return HS_SOCKS5_ERROR;
	if (s->state == HS_SOCKS5_GREETING) {
		size_t n = 0;
		r = greeting(s, buf, len, &n, reply, reply_cap, reply_len);
		off += n;
		if (s->state == HS_SOCKS5_GREETING || r == HS_SOCKS5_ERROR) {
			*used = off;
			return r;
		}
	}
	if (s->state == HS_SOCKS5_REQUEST) {
		size_t n = 0;
		r = request(s, buf + off, len - off, &n);
		off += n;
	} else if (s->state == HS_SOCKS5_READY) {
		r = HS_SOCKS5_DONE;
	}
	*used = off;
	return r;
}

size_t hs_socks5_reply(uint8_t *buf, size_t cap, uint8_t rep, const struct sockaddr *bound)
{
	uint8_t out[HS_SOCKS5_REPLY_MAX] = {VER5, rep, 0x00, HS_SOCKS5_ATYP_IPV4};
	size_t n = 4 + 4 + 2;
	if (bound && bound->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)bound;
		memcpy(out + 4, &in->sin_addr, 4);
		memcpy(out + 8, &in->sin_port, 2);
	} else if (bound && bound->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)bound;
		out[3] = HS_SOCKS5_ATYP_IPV6;
		memcpy(out + 4, &in6->sin6_addr, 16);
		memcpy(out + 20, &in6->sin6_port, 2);
		n = 4 + 16 + 2;
	}
	if (cap < n)
		return 0;
	memcpy(buf, out, n);
	return n;
}
