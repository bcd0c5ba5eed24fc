/*
 * fuzz_socks5.c: libFuzzer target for the SOCKS5 handshake (net/socks5.c).
 *
 * Input: one byte choosing a split point (as a share of the rest), then
 * the bytes a client sends. The handshake is run the way the proxy runs it
 * (the unconsumed bytes kept, fed again with more) three times: all bytes
 * at once, in two pieces split at the chosen point, and one byte at a
 * time. All three must end the same: result, bytes consumed, bytes
 * replied, state, target, error. Also checked: consumption and replies
 * stay within their buffers; a DONE target has 1..255 host bytes,
 * NUL-terminated; every reply code builds a reply of 10 or 22 bytes.
 * Violations abort.
 */
#include "net/socks5.h"

#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_IN 2048

static void check(bool ok, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_socks5: %s\n", what);
	abort();
}

struct run {
	int r;
	struct hs_socks5 s;
	uint8_t reply[256];
	size_t reply_len, used;
};

/* Feeds in[0..len) in pieces ending at cuts[0..ncuts) (the last is len). */
static void run(const uint8_t *in, size_t len, const size_t *cuts, size_t ncuts, struct run *out)
{
	uint8_t pend[MAX_IN];
	size_t np = 0, fed = 0;
	memset(out, 0, sizeof(*out));
	hs_socks5_init(&out->s);
	out->r = HS_SOCKS5_NEED_MORE;
	for (size_t c = 0; c < ncuts; c++) {
		check(cuts[c] >= fed && cuts[c] <= len, "cuts out of order");
		size_t take = cuts[c] - fed;
		memcpy(pend + np, in + fed, take);
		np += take;
		fed += take;
		for (;;) {
			uint8_t rep[16];
			size_t used = 99, rl = 99;
			out->r = hs_socks5_feed(&out->s, pend, np, &used, rep, sizeof(rep), &rl);
			check(used <= np, "consumed more than given");
			check(rl <= sizeof(rep), "replied beyond the buffer");
			check(out->reply_len + rl <= sizeof(out->reply), "too many replies");
			memcpy(out->reply + out->reply_len, rep, rl);
			out->reply_len += rl;
			memmove(pend, pend + used, np - used);
			np -= used;
			out->used += used;
			if (out->r != HS_SOCKS5_NEED_MORE)
				return;
			if (used == 0)
				break;
		}
	}
}

static void same(const struct run *a, const struct run *b)
{
	check(a->r == b->r && a->used == b->used && a->reply_len == b->reply_len &&
		  memcmp(a->reply, b->reply, a->reply_len) == 0,
	      "splits end differently");
	check(a->s.state == b->s.state && a->s.failed == b->s.failed && a->s.port == b->s.port &&
		  a->s.host_len == b->s.host_len && a->s.cmd == b->s.cmd &&
		  a->s.atyp == b->s.atyp && memcmp(a->s.host, b->s.host, sizeof(a->s.host)) == 0 &&
		  a->s.error_reply == b->s.error_reply && a->s.error == b->s.error,
	      "splits parse differently");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > MAX_IN)
		return 0;
	const uint8_t *in = data + 1;
	size_t n = size - 1, split = n * data[0] / 255;
	struct run whole, two, bytes;
	size_t all[1] = {n}, halves[2] = {split, n};
	size_t *each = malloc((n + 1) * sizeof(size_t));
	check(each != NULL, "out of memory");
	for (size_t i = 0; i < n; i++)
		each[i] = i + 1;

	run(in, n, all, 1, &whole);
	run(in, n, halves, 2, &two);
	run(in, n, each, n, &bytes);
	free(each);
	same(&whole, &two);
	same(&whole, &bytes);

	check(whole.used <= n, "consumed more than the input");
	if (whole.r == HS_SOCKS5_DONE) {
		check(whole.s.state == HS_SOCKS5_READY && !whole.s.failed, "DONE but not READY");
		check(whole.s.cmd == HS_SOCKS5_CMD_CONNECT,
		      "DONE for a command other than CONNECT");
		check(whole.s.host_len >= 1 && whole.s.host_len <= 255 &&
			  whole.s.host[whole.s.host_len] == '\0',
		      "host out of bounds");
		check(whole.reply_len == 2 && whole.reply[1] == 0,
		      "DONE without choosing a method");
	} else if (whole.r == HS_SOCKS5_ERROR) {
		check(whole.s.failed && whole.s.error != NULL, "ERROR without a reason");
		check(whole.s.error_reply >= 1 && whole.s.error_reply <= 8,
		      "error reply out of range");
	}

	uint8_t rep[HS_SOCKS5_REPLY_MAX];
	struct sockaddr_in6 in6;
	memset(&in6, 0, sizeof(in6));
	in6.sin6_family = (n & 1) ? AF_INET6 : AF_INET;
	memcpy(&in6.sin6_addr, in, n < 16 ? n : 16);
	for (unsigned code = 0; code <= 8; code++) {
		size_t k =
		    hs_socks5_reply(rep, sizeof(rep), (uint8_t)code, (struct sockaddr *)&in6);
		check(k == 10 || k == 22, "reply length");
		check(rep[0] == 5 && rep[1] == code && rep[2] == 0, "reply header");
	}
	return 0;
}
