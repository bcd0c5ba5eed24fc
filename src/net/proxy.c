/*
 * proxy.c: the egress proxy (see proxy.h).
 *
 * One struct conn per accepted client connection, moving through:
 *
 *   HEAD        reading the request head (HTTP) or the SOCKS5 handshake,
 *               bounded in size and time;
 *   RESOLVING   the name was allowed; waiting for DNS (or an override);
 *   CONNECTING  the address was allowed and recorded; TCP connect upstream;
 *   RELAY       bytes both ways, with back-pressure: a side whose peer has
 *               more than RELAY_HIGH bytes waiting stops being read;
 *   then freed (with a net.close record) when both directions are done or
 *   either fails.
 *
 * A refusal is answered in the client's protocol (403 / SOCKS reply 0x02)
 * naming the host and the rule, recorded, and the connection closed once
 * the answer is written.
 */
#define _GNU_SOURCE
#include "proxy.h"
#include "net/dnsmsg.h"
#include "net/http1.h"
#include "net/rules.h"
#include "net/sni.h"
#include "net/socks5.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX (16 * 1024)       /* request head / SOCKS handshake bytes */
#define RELAY_HIGH (1024 * 1024)   /* bytes waiting for a slow side before we stop reading */
#define RELAY_LOW (256 * 1024)
#define RELAY_CHUNK (256 * 1024)        /* bytes a read or write call moves, at most */
/* A ClientHello: its body bound, plus a record header for each record it
 * may span, plus the handshake header. */
#define TLS_HEAD_MAX (HS_SNI_HELLO_MAX + HS_SNI_RECORDS_MAX * 5 + 4)
#define DNS_TTL 5                  /* seconds: answers are cheap, rules may be reloaded */
#define DNS_BATCH 64               /* datagrams read per wakeup */
#define DNS_RECORD_MAX 1000        /* refused lookups recorded per run */

enum state { HEAD, RESOLVING, CONNECTING, RELAY, REFUSING };
enum kind { K_HTTP, K_SOCKS, K_TLS, K_PLAIN };

struct conn {
	struct hs_proxy *px;
	struct conn *prev, *next;
	enum kind kind;
	enum state state;
	struct bufferevent *client, *up;
	struct evdns_getaddrinfo_request *dns;
	struct event *timer;   /* head, then resolve + connect deadline */
	struct hs_socks5 socks;
	struct hs_http_request rq; /* the parser keeps its state between reads */
	const char *via;
	bool is_connect;       /* HTTP CONNECT (a tunnel) rather than a forwarded request */
	char host[256];        /* printable, as asked */
	char name[256];        /* normalised name (or address text) used for the rules */
	uint16_t port;
	char addr[INET6_ADDRSTRLEN + 8];
	char rule[160];
	char *fwd;             /* the forwarded head of a plain-HTTP request */
	size_t fwd_len;
	uint64_t started_ms, bytes_up, bytes_down;
	bool client_eof, up_eof;
	bool connected;        /* recorded net.connect allowed, so net.close follows */
	bool limit_hit;        /* refused by network.rate_limits: recorded as net.limit */
	int lim;               /* index of the network.rate_limits entry, or -1 */
	/* The spliced relay (see below): fds taken over from the bufferevents,
	 * one pipe a direction (0: client to upstream, 1: back). */
	bool spliced;
	int fd[2];             /* client, upstream */
	struct pump {
		struct conn *c;
		int dir;
		int pipe[2];
		size_t in_pipe;
		bool eof, done;
		struct event *rd, *wr; /* src readable, dst writable */
	} pump[2];
};

/* The state of one network.rate_limits entry: a token bucket of
 * connections (full at the start, refilled at per_minute a minute) and the
 * bytes relayed so far. */
struct lim_state {
	double tokens;
	uint64_t last_ms;
	uint64_t bytes;
	bool started;
};

struct hs_proxy {
	struct event_base *base;
	struct hs_proxy_config cfg;
	struct evconnlistener *l_http, *l_socks, *l_tls, *l_plain;
	int dns_fd;
	struct event *dns_ev;
	uint64_t dns_recorded;
	char dns_last[HS_DNS_NAME_MAX + 1]; /* the last refused name (A and AAAA come in pairs) */
	uint64_t dns_last_ms;
	struct evdns_base *dns;
	struct conn *conns;
	unsigned nconns;
	bool limit_recorded;
	struct lim_state *lim;
	struct hs_proxy_stats stats;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct timeval tv_ms(uint64_t ms)
{
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000),
			     .tv_usec = (suseconds_t)(ms % 1000) * 1000};
	return tv;
}

/* Printable copy of untrusted bytes (for records and messages). */
static void printable(const char *s, size_t len, char *out, size_t cap)
{
	size_t j = 0;
	for (size_t i = 0; i < len && j + 1 < cap; i++) {
		unsigned char ch = (unsigned char)s[i];
		out[j++] = ch > 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	out[j] = '\0';
}

/* ---- records ---- */

static int record(struct conn *c, const char *action, bool allowed, const char *reason)
{
	struct hs_proxy *px = c->px;
	if (!px->cfg.record)
		return 0;
	struct hs_proxy_event ev = {.action = action,
				    .via = c->via ? c->via : "",
				    .host = c->host,
				    .port = c->port,
				    .addr = c->addr,
				    .allowed = allowed,
				    .rule = c->rule,
				    .reason = reason ? reason : "",
				    .bytes_up = c->bytes_up,
				    .bytes_down = c->bytes_down,
				    .duration_ms = now_ms() - c->started_ms};
	return px->cfg.record(px->cfg.ctx, &ev);
}

/* ---- lifetime ---- */

static void conn_free(struct conn *c)
{
	struct hs_proxy *px = c->px;
	if (c->connected) {
		(void)record(c, "net.close", true, NULL);
		px->stats.bytes_up += c->bytes_up;
		px->stats.bytes_down += c->bytes_down;
	}
	if (c->dns) {
		struct evdns_getaddrinfo_request *r = c->dns;
		c->dns = NULL;
		evdns_getaddrinfo_cancel(r); /* its callback sees c->dns == NULL... */
	}
	if (c->timer)
		event_free(c->timer);
	for (int d = 0; d < 2 && c->spliced; d++) {
		if (c->pump[d].rd)
			event_free(c->pump[d].rd);
		if (c->pump[d].wr)
			event_free(c->pump[d].wr);
		for (int k = 0; k < 2; k++)
			if (c->pump[d].pipe[k] >= 0)
				close(c->pump[d].pipe[k]);
	}
	for (int k = 0; k < 2 && c->spliced; k++)
		if (c->fd[k] >= 0)
			close(c->fd[k]);
	if (c->client)
		bufferevent_free(c->client);
	if (c->up)
		bufferevent_free(c->up);
	free(c->fwd);
	if (c->prev)
		c->prev->next = c->next;
	else
		px->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	px->nconns--;
	free(c);
}

/* Closes once what is queued for the client has been written. */
static void on_client_flushed(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_free(arg);
}

static void close_after_write(struct conn *c)
{
	if (c->up) {
		bufferevent_free(c->up);
		c->up = NULL;
	}
	if (c->timer)
		event_del(c->timer);
	bufferevent_disable(c->client, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->client)) == 0) {
		conn_free(c);
		return;
	}
	bufferevent_setwatermark(c->client, EV_WRITE, 0, 0);
	bufferevent_setcb(c->client, NULL, on_client_flushed, NULL, c);
	/* A client that never reads its refusal is dropped after a while. */
	struct timeval tv = tv_ms(5000);
	bufferevent_set_timeouts(c->client, NULL, &tv);
	bufferevent_enable(c->client, EV_WRITE);
}

/* Refuses in the client's protocol, records, closes. http_status: 403 for a
 * rule, 400 malformed, 502 upstream failure, 504 timeout... */
static void refuse(struct conn *c, int http_status, uint8_t socks_rep, const char *reason)
{
	struct hs_proxy *px = c->px;
	px->stats.refused++;
	c->state = REFUSING;
	(void)record(c, c->limit_hit ? "net.limit" : "net.connect", false, reason);
	struct evbuffer *out = bufferevent_get_output(c->client);
	if (c->kind == K_HTTP || c->kind == K_PLAIN) {
		char hdr[600], body[1200];
		/* The rule is named when it is what refused (403, 429); a
		 * failure after an allow rule admitted the host is not its. */
		const char *rule = http_status == 403 || http_status == 429 ? c->rule : "";
		snprintf(hdr, sizeof(hdr), "%s%s%s", c->host[0] ? c->host : "(request)",
			 rule[0] ? " by " : "", rule);
		/* The reason names the target and, for a policy refusal, how
		 * to allow it on purpose. */
		snprintf(body, sizeof(body), "harness refused this connection: %s\n%s%s%s", reason,
			 rule[0] ? "Rule: " : "", rule, rule[0] ? "\n" : "");
		if (http_status == 403)
			snprintf(body + strlen(body), sizeof(body) - strlen(body),
				 "Network rules: docs/network.md (harness run --allow-host, "
				 "network.allow in the policy).\n");
		char resp[2400];
		size_t n = hs_http_error_response(resp, sizeof(resp), http_status, NULL,
						  "X-Harness-Refused", hdr, body);
		evbuffer_add(out, resp, n);
	} else if (c->kind == K_TLS) {
		/* A fatal TLS alert, access_denied (49): the client reports it
		 * rather than a bare reset. The reason is on harness's stderr
		 * and in the audit record. */
		static const uint8_t alert[] = {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 49};
		evbuffer_add(out, alert, sizeof(alert));
	} else if (c->socks.state >= HS_SOCKS5_REQUEST || socks_rep == HS_SOCKS5_REP_CMD_UNSUPPORTED) {
		uint8_t rep[32];
		size_t n = hs_socks5_reply(rep, sizeof(rep), socks_rep, NULL);
		evbuffer_add(out, rep, n);
	}
	close_after_write(c);
}

/* ---- relay ---- */

static void relay_event(struct bufferevent *bev, short what, void *arg);

/* ---- byte caps (network.rate_limits "bytes") ---- */

/* Bytes c's entry still lets through, both ways together; UINT64_MAX when
 * it has no byte cap. */
static uint64_t cap_left(const struct conn *c)
{
	const struct hs_net_limit_spec *spec =
	    c->lim >= 0 ? hs_net_limit_get(c->px->cfg.rules, (size_t)c->lim) : NULL;
	if (!spec || !spec->bytes)
		return UINT64_MAX;
	uint64_t used = c->px->lim[c->lim].bytes;
	return spec->bytes > used ? spec->bytes - used : 0;
}

static void cap_take(struct conn *c, uint64_t n)
{
	if (c->lim >= 0)
		c->px->lim[c->lim].bytes += n;
}

/* The cap is used up: why, naming the target, the cap and its entry. */
static void cap_reason(const struct conn *c, const char *target, const char *tail, char *why,
		       size_t whylen)
{
	const struct hs_net_limit_spec *spec = hs_net_limit_get(c->px->cfg.rules, (size_t)c->lim);
	snprintf(why, whylen,
		 "%s:%u: the byte cap of %llu bytes set by network.rate_limits \"%s\" is used "
		 "up%s",
		 target, (unsigned)c->port, (unsigned long long)spec->bytes, spec->host, tail);
}

/* A relaying connection hit its cap: recorded (net.limit) before it closes. */
static void cap_hit(struct conn *c)
{
	char why[HS_NET_REASON_MAX];
	cap_reason(c, c->host, "; the connection is closed", why, sizeof(why));
	(void)record(c, "net.limit", false, why);
	c->px->stats.refused++;
}

static void relay_read(struct bufferevent *src, void *arg)
{
	struct conn *c = arg;
	struct bufferevent *dst = src == c->client ? c->up : c->client;
	struct evbuffer *in = bufferevent_get_input(src);
	size_t n = evbuffer_get_length(in);
	/* The byte cap: relay what is left of it, then close. */
	uint64_t left = cap_left(c);
	bool over = n > left;
	if (over)
		n = (size_t)left;
	cap_take(c, n);
	if (src == c->client)
		c->bytes_up += n;
	else
		c->bytes_down += n;
	if (over) {
		evbuffer_remove_buffer(in, bufferevent_get_output(dst), n);
		cap_hit(c);
		/* Close both ways once what was let through is written. */
		evbuffer_drain(in, evbuffer_get_length(in));
		c->client_eof = c->up_eof = true;
		bufferevent_disable(c->client, EV_READ);
		bufferevent_disable(c->up, EV_READ);
		if (evbuffer_get_length(bufferevent_get_output(c->client)) == 0 &&
		    evbuffer_get_length(bufferevent_get_output(c->up)) == 0) {
			conn_free(c);
			return;
		}
		bufferevent_setwatermark(c->client, EV_WRITE, 0, 0);
		bufferevent_setwatermark(c->up, EV_WRITE, 0, 0);
		return;
	}
	evbuffer_add_buffer(bufferevent_get_output(dst), in);
	if (evbuffer_get_length(bufferevent_get_output(dst)) >= RELAY_HIGH) {
		/* Back-pressure: stop reading until dst has drained to RELAY_LOW. */
		bufferevent_disable(src, EV_READ);
		bufferevent_setwatermark(dst, EV_WRITE, RELAY_LOW, 0);
	}
}

static void shutdown_write(struct bufferevent *bev)
{
	evutil_socket_t fd = bufferevent_getfd(bev);
	if (fd >= 0)
		shutdown(fd, SHUT_WR);
}

static void relay_write(struct bufferevent *dst, void *arg)
{
	struct conn *c = arg;
	struct bufferevent *src = dst == c->client ? c->up : c->client;
	bool src_eof = src == c->client ? c->client_eof : c->up_eof;
	if (evbuffer_get_length(bufferevent_get_output(dst)) <= RELAY_LOW && !src_eof) {
		bufferevent_enable(src, EV_READ);
		bufferevent_setwatermark(dst, EV_WRITE, 0, 0);
	}
	if (src_eof && evbuffer_get_length(bufferevent_get_output(dst)) == 0) {
		shutdown_write(dst);
		if (c->client_eof && c->up_eof)
			conn_free(c);
	}
}

static void relay_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		conn_free(c);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		struct bufferevent *dst = bev == c->client ? c->up : c->client;
		relay_read(bev, c); /* whatever came with the EOF */
		if (bev == c->client)
			c->client_eof = true;
		else
			c->up_eof = true;
		bufferevent_disable(bev, EV_READ);
		if (evbuffer_get_length(bufferevent_get_output(dst)) == 0) {
			shutdown_write(dst);
			if (c->client_eof && c->up_eof)
				conn_free(c);
		} else {
			bufferevent_setwatermark(dst, EV_WRITE, 0, 0); /* relay_write on drain */
		}
	}
}

/*
 * The spliced relay. Once a connection is relaying, each direction moves
 * through a pipe with splice(2): socket to pipe, pipe to socket, the bytes
 * never copied into the supervisor. A direction reads from its source only
 * while its pipe is empty, so at most one pipe's worth (1 MiB where the
 * kernel allows it, else 64 KiB) waits for a slow destination:
 * back-pressure, as with the buffered relay it replaces. EOF from a source
 * is passed on as a half-close once its pipe is drained; the connection
 * ends when both directions are done, or at once on an error.
 */
#define PUMP_TURNS 8		/* splices a direction makes per wakeup, at most */
#define PUMP_PIPE (1024 * 1024) /* pipe size asked for */

static void pump_run(struct conn *c, int d);

static void on_pump(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct pump *p = arg;
	pump_run(p->c, p->dir);
}

/* The direction is done: its destination gets the half-close; the
 * connection ends when both are done. */
static void pump_finish(struct conn *c, int d)
{
	struct pump *p = &c->pump[d];
	p->done = true;
	event_del(p->rd);
	event_del(p->wr);
	shutdown(c->fd[d == 0 ? 1 : 0], SHUT_WR);
	if (c->pump[0].done && c->pump[1].done)
		conn_free(c);
}

static void pump_run(struct conn *c, int d)
{
	struct pump *p = &c->pump[d];
	int src = c->fd[d], dst = c->fd[d == 0 ? 1 : 0];
	for (int turn = 0; turn < PUMP_TURNS && !p->done; turn++) {
		if (p->in_pipe) {
			ssize_t m = splice(p->pipe[0], NULL, dst, NULL, p->in_pipe,
					   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
			if (m < 0 && errno == EAGAIN) {
				/* The destination is full: wait for it, read nothing more. */
				event_del(p->rd);
				event_add(p->wr, NULL);
				return;
			}
			if (m <= 0) {
				conn_free(c); /* the destination is gone */
				return;
			}
			p->in_pipe -= (size_t)m;
			if (p->in_pipe)
				continue;
			event_del(p->wr);
		}
		if (p->eof) {
			pump_finish(c, d);
			return;
		}
		uint64_t left = cap_left(c);
		if (left == 0) {
			cap_hit(c);
			conn_free(c);
			return;
		}
		size_t want = left < RELAY_CHUNK ? (size_t)left : RELAY_CHUNK;
		ssize_t n = splice(src, NULL, p->pipe[1], NULL, want, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		if (n < 0 && errno == EAGAIN) {
			event_add(p->rd, NULL);
			return;
		}
		if (n < 0) {
			conn_free(c); /* the source failed (reset) */
			return;
		}
		if (n == 0) {
			p->eof = true;
			continue;
		}
		p->in_pipe = (size_t)n;
		cap_take(c, (uint64_t)n);
		if (d == 0)
			c->bytes_up += (uint64_t)n;
		else
			c->bytes_down += (uint64_t)n;
	}
	/* Turns used up with work left: come back on a later loop turn
	 * (level-triggered), so one busy connection cannot starve the others. */
	if (!p->done)
		event_add(p->in_pipe ? p->wr : p->rd, NULL);
}

/* Moves what a bufferevent still holds into a pump's pipe; false when it
 * did not all fit. */
static bool buffer_to_pipe(struct evbuffer *buf, struct pump *p)
{
	/* A bufferevent keeps the front of its output (and the end of its
	 * input) frozen for itself; we are taking over. */
	evbuffer_unfreeze(buf, 1);
	while (evbuffer_get_length(buf)) {
		size_t n = evbuffer_get_contiguous_space(buf);
		const void *data = evbuffer_pullup(buf, (ev_ssize_t)n);
		ssize_t w = write(p->pipe[1], data, n);
		if (w <= 0)
			return false;
		if (evbuffer_drain(buf, (size_t)w) < 0)
			return false;
		p->in_pipe += (size_t)w;
	}
	return true;
}

static void close_pipes(struct conn *c)
{
	for (int d = 0; d < 2; d++)
		for (int k = 0; k < 2; k++)
			if (c->pump[d].pipe[k] >= 0) {
				close(c->pump[d].pipe[k]);
				c->pump[d].pipe[k] = -1;
			}
}

/* Switches c to the spliced relay. Returns 1 when it did, 0 when it could
 * not before moving any byte (no pipes: c stays on the buffered relay),
 * -1 when it failed after (c was freed). */
static int start_splice(struct conn *c)
{
	for (int d = 0; d < 2; d++) {
		c->pump[d].pipe[0] = c->pump[d].pipe[1] = -1;
		c->pump[d].c = c;
		c->pump[d].dir = d;
	}
	for (int d = 0; d < 2; d++) {
		if (pipe2(c->pump[d].pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
			close_pipes(c);
			return 0;
		}
		(void)fcntl(c->pump[d].pipe[1], F_SETPIPE_SZ, PUMP_PIPE); /* else 64 KiB */
	}
	for (int d = 0; d < 2; d++) {
		struct pump *p = &c->pump[d];
		p->rd = event_new(c->px->base, bufferevent_getfd(d == 0 ? c->client : c->up),
				  EV_READ | EV_PERSIST, on_pump, p);
		p->wr = event_new(c->px->base, bufferevent_getfd(d == 0 ? c->up : c->client),
				  EV_WRITE | EV_PERSIST, on_pump, p);
	}
	c->spliced = true; /* from here conn_free releases the pumps */
	c->fd[0] = c->fd[1] = -1;
	/* Pending bytes, in order: what was queued upstream (a forwarded
	 * head) before the client's bytes after its head; what was queued for
	 * the client (the 200, the SOCKS reply). Heads are bounded (16 KiB),
	 * so they fit in any pipe. */
	if (!c->pump[0].rd || !c->pump[0].wr || !c->pump[1].rd || !c->pump[1].wr ||
	    !buffer_to_pipe(bufferevent_get_output(c->up), &c->pump[0]) ||
	    !buffer_to_pipe(bufferevent_get_input(c->client), &c->pump[0]) ||
	    !buffer_to_pipe(bufferevent_get_output(c->client), &c->pump[1]) ||
	    evbuffer_get_length(bufferevent_get_input(c->up))) {
		conn_free(c);
		return -1;
	}
	/* The pumps own the sockets now; the bufferevents let go of them. */
	c->fd[0] = bufferevent_getfd(c->client);
	c->fd[1] = bufferevent_getfd(c->up);
	bufferevent_setfd(c->client, -1);
	bufferevent_setfd(c->up, -1);
	bufferevent_free(c->client);
	bufferevent_free(c->up);
	c->client = c->up = NULL;
	pump_run(c, 1); /* may free c only after both directions end: not yet */
	pump_run(c, 0);
	return 1;
}

static void start_relay(struct conn *c)
{
	c->state = RELAY;
	if (c->timer)
		event_del(c->timer);
	int s = start_splice(c);
	if (s != 0)
		return; /* spliced, or freed */
	bufferevent_set_timeouts(c->client, NULL, NULL);
	bufferevent_set_timeouts(c->up, NULL, NULL);
	bufferevent_setcb(c->client, relay_read, relay_write, relay_event, c);
	bufferevent_setcb(c->up, relay_read, relay_write, relay_event, c);
	bufferevent_setwatermark(c->client, EV_READ, 0, 0);
	/* libevent reads and writes 16 KiB a call by default: a bulk transfer
	 * then costs a syscall (and a loop turn) per 16 KiB each way. */
	bufferevent_set_max_single_read(c->client, RELAY_CHUNK);
	bufferevent_set_max_single_read(c->up, RELAY_CHUNK);
	bufferevent_set_max_single_write(c->client, RELAY_CHUNK);
	bufferevent_set_max_single_write(c->up, RELAY_CHUNK);
	bufferevent_enable(c->client, EV_READ | EV_WRITE);
	bufferevent_enable(c->up, EV_READ | EV_WRITE);
	/* Bytes the client sent after its head (a TLS ClientHello right after
	 * CONNECT, a request body) go up first. */
	if (evbuffer_get_length(bufferevent_get_input(c->client)))
		relay_read(c->client, c);
}

/* ---- connecting ---- */

static void on_up_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		struct evbuffer *out = bufferevent_get_output(c->client);
		if (c->kind == K_TLS) {
			/* Nothing to answer: the ClientHello, still in the
			 * client's input, goes up first (start_relay). */
		} else if (c->kind == K_SOCKS) {
			uint8_t rep[32];
			size_t n = hs_socks5_reply(rep, sizeof(rep), HS_SOCKS5_REP_SUCCEEDED, NULL);
			evbuffer_add(out, rep, n);
		} else if (c->is_connect) {
			static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
			evbuffer_add(out, ok, sizeof(ok) - 1);
		} else {
			evbuffer_add(bufferevent_get_output(c->up), c->fwd, c->fwd_len);
			c->bytes_up += c->fwd_len;
		}
		start_relay(c);
		return;
	}
	char why[160];
	int e = EVUTIL_SOCKET_ERROR();
	snprintf(why, sizeof(why), "cannot connect to %s: %s", c->addr,
		 what & BEV_EVENT_TIMEOUT ? "timed out" : evutil_socket_error_to_string(e));
	c->connected = false; /* the allowed record stands; the failure is its own */
	refuse(c, 502, HS_SOCKS5_REP_HOST_UNREACHABLE, why);
}

static void connect_to(struct conn *c, const struct sockaddr *sa, socklen_t len)
{
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, c->addr,
			  sizeof(c->addr));
	else
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, c->addr,
			  sizeof(c->addr));
	/* The decision is recorded before the connection is made. */
	if (record(c, "net.connect", true, NULL) < 0) {
		refuse(c, 503, HS_SOCKS5_REP_GENERAL_FAILURE, "the audit record could not be written");
		return;
	}
	c->connected = true;
	c->px->stats.connections++;
	c->state = CONNECTING;
	c->up = bufferevent_socket_new(c->px->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!c->up) {
		refuse(c, 502, HS_SOCKS5_REP_GENERAL_FAILURE, "out of memory");
		return;
	}
	bufferevent_setcb(c->up, NULL, NULL, on_up_event, c);
	if (bufferevent_socket_connect(c->up, sa, (int)len) < 0) {
		char why[160];
		snprintf(why, sizeof(why), "cannot connect to %s", c->addr);
		c->connected = false; /* as on_up_event: the failure is its own record */
		refuse(c, 502, HS_SOCKS5_REP_HOST_UNREACHABLE, why);
	}
}

/* The address check, then connect. */
static bool addr_allowed(struct conn *c, const struct sockaddr *sa, bool from_override,
			 char *why, size_t whylen)
{
	struct hs_net_addr a;
	hs_net_addr_from_sockaddr(sa, &a);
	struct hs_net_verdict v;
	hs_net_check_addr(c->px->cfg.rules, c->name, &a, c->port, from_override, &v);
	if (v.allowed)
		return true;
	snprintf(c->rule, sizeof(c->rule), "%s", v.rule);
	snprintf(why, whylen, "%s", v.reason);
	return false;
}

static void on_resolved(int result, struct evutil_addrinfo *res, void *arg)
{
	struct conn *c = arg;
	if (result == EVUTIL_EAI_CANCEL)
		return; /* conn_free cancelled it; c is gone */
	c->dns = NULL;
	if (result != 0 || !res) {
		char why[HS_NET_REASON_MAX];
		snprintf(why, sizeof(why), "cannot resolve %s: %s", c->name,
			 evutil_gai_strerror(result));
		if (res)
			evutil_freeaddrinfo(res);
		refuse(c, 502, HS_SOCKS5_REP_HOST_UNREACHABLE, why);
		return;
	}
	/* The first address that passes; every one is checked (a name that
	 * resolves to a public and a private address gets the public one). */
	char why[HS_NET_REASON_MAX] = "";
	for (struct evutil_addrinfo *ai = res; ai; ai = ai->ai_next) {
		char w[HS_NET_REASON_MAX];
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		if (addr_allowed(c, ai->ai_addr, false, w, sizeof(w))) {
			c->rule[0] = '\0';
			hs_net_last_allow_rule(c->px->cfg.rules, c->name, c->port, c->rule,
					       sizeof(c->rule));
			connect_to(c, ai->ai_addr, (socklen_t)ai->ai_addrlen);
			evutil_freeaddrinfo(res);
			return;
		}
		if (!why[0])
			snprintf(why, sizeof(why), "%s", w);
	}
	evutil_freeaddrinfo(res);
	refuse(c, 403, HS_SOCKS5_REP_NOT_ALLOWED, why[0] ? why : "no usable address");
}

/* ---- deciding ---- */

/* network.rate_limits for a new connection to c->name:c->port: false (and
 * why) when its entry's connections per minute or byte cap are used up. */
static bool limit_admit(struct conn *c, char *why, size_t whylen)
{
	struct hs_proxy *px = c->px;
	c->lim = hs_net_limit_index(px->cfg.rules, c->name, c->port);
	if (c->lim < 0)
		return true;
	const struct hs_net_limit_spec *spec = hs_net_limit_get(px->cfg.rules, (size_t)c->lim);
	struct lim_state *st = &px->lim[c->lim];
	uint64_t now = now_ms();
	if (!st->started) {
		st->started = true;
		st->tokens = spec->per_minute;
		st->last_ms = now;
	}
	if (cap_left(c) == 0) {
		cap_reason(c, c->name, "", why, whylen);
		goto refused;
	}
	if (spec->per_minute) {
		st->tokens += (double)(now - st->last_ms) * spec->per_minute / 60000.0;
		if (st->tokens > spec->per_minute)
			st->tokens = spec->per_minute;
		st->last_ms = now;
		if (st->tokens < 1.0) {
			double wait = (1.0 - st->tokens) * 60.0 / spec->per_minute;
			snprintf(why, whylen,
				 "%s:%u: network.rate_limits \"%s\" allows %u connections a minute; "
				 "the next is possible in %.1f s",
				 c->name, (unsigned)c->port, spec->host, spec->per_minute, wait);
			goto refused;
		}
		st->tokens -= 1.0;
	}
	return true;
refused:
	c->limit_hit = true;
	snprintf(c->rule, sizeof(c->rule), "network.rate_limits \"%.100s\"", spec->host);
	return false;
}

/* The target is known (c->host raw, c->port): check the name, then find an
 * address and check it, then connect. */
static void decide(struct conn *c, const char *raw, size_t rawlen)
{
	struct hs_proxy *px = c->px;
	printable(raw, rawlen, c->host, sizeof(c->host));
	if (c->timer)
		event_del(c->timer);
	struct timeval tv = tv_ms(px->cfg.connect_timeout_ms);
	event_add(c->timer, &tv);
	bufferevent_disable(c->client, EV_READ);
	bufferevent_set_timeouts(c->client, NULL, NULL);

	struct hs_net_verdict v;
	hs_net_check_name(px->cfg.rules, raw, rawlen, c->port, &v);
	snprintf(c->rule, sizeof(c->rule), "%s", v.rule);
	if (!v.allowed) {
		refuse(c, 403, HS_SOCKS5_REP_NOT_ALLOWED, v.reason);
		return;
	}
	snprintf(c->name, sizeof(c->name), "%s", v.name);
	char limwhy[HS_NET_REASON_MAX];
	if (!limit_admit(c, limwhy, sizeof(limwhy))) {
		refuse(c, 429, HS_SOCKS5_REP_NOT_ALLOWED, limwhy);
		return;
	}
	c->state = RESOLVING;

	/* An address literal, or a name the policy resolves itself. */
	struct sockaddr_storage ss;
	socklen_t sslen = 0;
	bool override = false;
	if (v.is_address) {
		sslen = hs_net_addr_to_sockaddr(&v.addr, c->port, &ss);
	} else {
		struct hs_net_addr a;
		uint16_t to_port;
		if (hs_net_resolve_override(px->cfg.rules, c->name, c->port, &a, &to_port)) {
			sslen = hs_net_addr_to_sockaddr(&a, to_port, &ss);
			override = true;
		}
	}
	if (sslen) {
		char why[HS_NET_REASON_MAX];
		if (!addr_allowed(c, (struct sockaddr *)&ss, override, why, sizeof(why))) {
			refuse(c, 403, HS_SOCKS5_REP_NOT_ALLOWED, why);
			return;
		}
		connect_to(c, (struct sockaddr *)&ss, sslen);
		return;
	}
	if (!px->dns) {
		px->dns = evdns_base_new(px->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
							   EVDNS_BASE_DISABLE_WHEN_INACTIVE);
		if (!px->dns) {
			refuse(c, 502, HS_SOCKS5_REP_GENERAL_FAILURE,
			       "cannot set up DNS (is /etc/resolv.conf readable?)");
			return;
		}
	}
	struct evutil_addrinfo hints;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	char service[8];
	snprintf(service, sizeof(service), "%u", (unsigned)c->port);
	/* The callback may run before this returns (a hosts-file answer); it
	 * then sees c->dns still NULL, as it should. */
	struct evdns_getaddrinfo_request *r =
		evdns_getaddrinfo(px->dns, c->name, service, &hints, on_resolved, c);
	if (r && c->state == RESOLVING)
		c->dns = r;
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd;
	(void)what;
	if (c->state == HEAD)
		refuse(c, 408, HS_SOCKS5_REP_GENERAL_FAILURE,
		       "the request did not arrive in time");
	else
		refuse(c, 504, HS_SOCKS5_REP_HOST_UNREACHABLE,
		       "resolving or connecting took too long");
}

/* ---- request heads ---- */

static void http_head(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->client);
	size_t len = evbuffer_get_length(in);
	size_t take = len < HEAD_MAX ? len : HEAD_MAX;
	const char *buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)take);
	struct hs_http_request *rqp = &c->rq;
	size_t used = 0;
	int r = hs_http_parse_request(buf, take, rqp, &used);
	if (r == HS_HTTP_NEED_MORE) {
		if (len >= HEAD_MAX)
			refuse(c, 431, 0, "the request head is larger than 16 KiB");
		return;
	}
	if (r != HS_HTTP_DONE) {
		refuse(c, rqp->error_status ? rqp->error_status : 400, 0, rqp->error);
		return;
	}
	const struct hs_http_request rq = *rqp;
	c->port = rq.port;
	if (rq.is_connect) {
		c->is_connect = true;
		c->via = "http-connect";
	} else {
		c->via = c->kind == K_PLAIN ? "http-host" : "http";
		/* One request per upstream connection: forward the head in
		 * origin form, hop-by-hop headers dropped, Connection: close. */
		size_t cap = used + HS_HTTP_FORWARD_EXTRA;
		c->fwd = malloc(cap);
		ssize_t n = c->fwd ? hs_http_forward_head(&rq, buf, c->fwd, cap) : -1;
		if (n < 0) {
			refuse(c, 400, 0, "the request cannot be forwarded");
			return;
		}
		c->fwd_len = (size_t)n;
	}
	char host[256];
	size_t hostlen = rq.host_len < sizeof(host) ? rq.host_len : sizeof(host) - 1;
	memcpy(host, rq.host, hostlen);
	evbuffer_drain(in, used);
	decide(c, host, hostlen);
}

static void socks_head(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->client);
	for (;;) {
		size_t len = evbuffer_get_length(in);
		if (len == 0)
			return;
		const uint8_t *buf = evbuffer_pullup(in, (ev_ssize_t)len);
		size_t used = 0;
		uint8_t reply[16];
		size_t reply_len = 0;
		int r = hs_socks5_feed(&c->socks, buf, len, &used, reply, sizeof(reply), &reply_len);
		evbuffer_drain(in, used);
		if (reply_len)
			evbuffer_add(bufferevent_get_output(c->client), reply, reply_len);
		if (r == HS_SOCKS5_NEED_MORE) {
			if (used == 0)
				return;
			continue;
		}
		if (r != HS_SOCKS5_DONE) {
			refuse(c, 0, c->socks.error_reply, c->socks.error);
			return;
		}
		c->port = c->socks.port;
		decide(c, c->socks.host, c->socks.host_len);
		return;
	}
}

/* The transparent TLS path: the host is the ClientHello's server name.
 * Nothing is consumed: the ClientHello goes upstream as it came. */
static void tls_head(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->client);
	size_t len = evbuffer_get_length(in);
	size_t take = len < TLS_HEAD_MAX ? len : TLS_HEAD_MAX;
	const uint8_t *buf = evbuffer_pullup(in, (ev_ssize_t)take);
	struct hs_sni sni;
	int r = hs_sni_parse(buf, take, &sni);
	c->port = 443;
	if (r == HS_SNI_NEED_MORE) {
		if (len >= TLS_HEAD_MAX)
			refuse(c, 400, 0, "the TLS ClientHello is larger than harness reads");
		return;
	}
	if (r == HS_SNI_ERROR) {
		char why[200];
		snprintf(why, sizeof(why), "%s on port 443: %s",
			 sni.not_tls ? "not TLS" : "a malformed TLS ClientHello", sni.error);
		refuse(c, 400, 0, why);
		return;
	}
	if (r == HS_SNI_NONE) {
		refuse(c, 403, 0,
		       "a TLS ClientHello without a server name (SNI): the transparent path "
		       "decides by name; connect by name, or through the proxy "
		       "(HTTPS_PROXY=http://127.0.0.1:3128)");
		return;
	}
	if (sni.ech || sni.esni) {
		printable(sni.name, sni.name_len, c->host, sizeof(c->host));
		refuse(c, 403, 0,
		       "the ClientHello encrypts the real server name (ECH); the name it shows "
		       "is not the one it connects to, so it is refused");
		return;
	}
	decide(c, sni.name, sni.name_len);
}

static void on_head_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	(void)bev;
	if (c->kind == K_HTTP || c->kind == K_PLAIN)
		http_head(c);
	else if (c->kind == K_TLS)
		tls_head(c);
	else
		socks_head(c);
}

static void on_head_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	(void)bev;
	(void)what;
	/* EOF or an error before a complete head: nothing was asked. */
	conn_free(c);
}

/* ---- accepting ---- */

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
		      void *arg)
{
	struct hs_proxy *px = arg;
	(void)sa;
	(void)len;
	if (px->nconns >= px->cfg.max_conns) {
		evutil_closesocket(fd);
		px->stats.refused++;
		if (!px->limit_recorded && px->cfg.record) {
			px->limit_recorded = true; /* once a run: a flood must not flood the log */
			struct hs_proxy_event ev = {.action = "net.limit", .via = "", .host = "",
						    .addr = "", .rule = "",
						    .reason = "too many open connections; further "
							      "connections are closed at once"};
			(void)px->cfg.record(px->cfg.ctx, &ev);
		}
		return;
	}
	struct conn *c = calloc(1, sizeof(*c));
	if (!c) {
		evutil_closesocket(fd);
		return;
	}
	c->px = px;
	c->lim = -1;
	c->kind = l == px->l_http ? K_HTTP : l == px->l_socks ? K_SOCKS : l == px->l_tls ? K_TLS : K_PLAIN;
	c->via = c->kind == K_HTTP ? "http" : c->kind == K_SOCKS ? "socks5" : c->kind == K_TLS ? "tls" : "http-host";
	c->started_ms = now_ms();
	c->client = bufferevent_socket_new(px->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->timer = evtimer_new(px->base, on_deadline, c);
	c->next = px->conns;
	if (px->conns)
		px->conns->prev = c;
	px->conns = c;
	px->nconns++;
	if (!c->client || !c->timer) {
		if (!c->client)
			evutil_closesocket(fd);
		conn_free(c);
		return;
	}
	hs_socks5_init(&c->socks);
	hs_http_request_init(&c->rq);
	bufferevent_setcb(c->client, on_head_read, NULL, on_head_event, c);
	bufferevent_setwatermark(c->client, EV_READ, 0, c->kind == K_TLS ? TLS_HEAD_MAX : HEAD_MAX);
	struct timeval tv = tv_ms(px->cfg.head_timeout_ms);
	event_add(c->timer, &tv);
	bufferevent_enable(c->client, EV_READ | EV_WRITE);
}

/* ---- the DNS stub ---- */

/* A lookup the stub refused, recorded (the first DNS_RECORD_MAX of a run,
 * then one net.limit: a loop of lookups must not flood the log). */
static void dns_refused(struct hs_proxy *px, const char *name, const char *reason)
{
	if (!px->cfg.record || px->dns_recorded > DNS_RECORD_MAX)
		return;
	uint64_t now = now_ms();
	if (strcmp(px->dns_last, name) == 0 && now - px->dns_last_ms < 2000)
		return; /* the same lookup again (AAAA after A, a retry) */
	snprintf(px->dns_last, sizeof(px->dns_last), "%s", name);
	px->dns_last_ms = now;
	bool last = px->dns_recorded++ == DNS_RECORD_MAX;
	struct hs_proxy_event ev = {.action = last ? "net.limit" : "net.dns",
				    .via = "dns",
				    .host = last ? "" : name,
				    .addr = "",
				    .rule = "",
				    .reason = last ? "more than 1000 refused DNS lookups; further ones "
						     "are refused without a record"
						   : reason};
	(void)px->cfg.record(px->cfg.ctx, &ev);
}

/* Is name one the transparent path serves: allowed on port 443 or 80? */
static bool dns_name_allowed(struct hs_proxy *px, const char *name, size_t len, char *why,
			     size_t whylen)
{
	struct hs_net_verdict v;
	hs_net_check_name(px->cfg.rules, name, len, 443, &v);
	if (v.allowed && !v.is_address)
		return true;
	snprintf(why, whylen, "%s", v.is_address ? "an address, not a name" : v.reason);
	hs_net_check_name(px->cfg.rules, name, len, 80, &v);
	if (v.allowed && !v.is_address)
		return true;
	if (hs_net_name_allowed_some_port(px->cfg.rules, name, len))
		snprintf(why, whylen,
			 "%.120s is allowed on other ports than 443 and 80, and names resolved inside "
			 "reach only those two (the transparent path); connect through the proxy "
			 "instead (HTTP_PROXY=http://127.0.0.1:3128, or SOCKS5 127.0.0.1:1080)",
			 v.name);
	return false;
}

static void on_dns(evutil_socket_t fd, short what, void *arg)
{
	struct hs_proxy *px = arg;
	(void)what;
	for (int i = 0; i < DNS_BATCH; i++) {
		uint8_t msg[1500], out[HS_DNS_UDP_MAX];
		struct sockaddr_storage from;
		socklen_t fromlen = sizeof(from);
		ssize_t n = recvfrom(fd, msg, sizeof(msg), MSG_TRUNC | MSG_DONTWAIT,
				     (struct sockaddr *)&from, &fromlen);
		if (n < 0)
			return; /* EAGAIN: all read */
		if ((size_t)n > sizeof(msg))
			continue; /* truncated: no query is this long */
		struct hs_dns_query q;
		size_t olen = 0;
		if (hs_dns_parse_query(msg, (size_t)n, &q) < 0) {
			if (q.respond)
				olen = hs_dns_answer_rcode(out, sizeof(out), &q, q.rcode, HS_DNS_UDP);
		} else {
			char why[HS_NET_REASON_MAX], shown[HS_DNS_NAME_MAX + 1];
			if (!dns_name_allowed(px, q.name, q.name_len, why, sizeof(why))) {
				printable(q.name, q.name_len, shown, sizeof(shown));
				dns_refused(px, shown, why);
				olen = hs_dns_answer_rcode(out, sizeof(out), &q, HS_DNS_NXDOMAIN,
							   HS_DNS_UDP);
			} else if (q.qtype == HS_DNS_TYPE_A) {
				/* Every allowed name is 127.0.0.1 inside: the
				 * listeners there take the real name from SNI or
				 * Host and resolve it outside. */
				static const uint8_t lo[1][4] = {{127, 0, 0, 1}};
				olen = hs_dns_answer_a(out, sizeof(out), &q, lo, 1, DNS_TTL, HS_DNS_UDP);
			} else {
				/* AAAA and the rest: the name exists, with no
				 * record of that type (IPv4 only inside). */
				olen = hs_dns_answer_rcode(out, sizeof(out), &q, HS_DNS_NOERROR,
							   HS_DNS_UDP);
			}
		}
		if (olen)
			(void)sendto(fd, out, olen, MSG_DONTWAIT, (struct sockaddr *)&from, fromlen);
	}
}

/* ---- starting and stopping ---- */

struct hs_proxy *hs_proxy_new(struct event_base *base, const struct hs_proxy_config *cfg,
			      const struct hs_proxy_sockets *sk, struct hs_error *err)
{
	struct hs_proxy *px = hs_xcalloc(1, sizeof(*px));
	px->base = base;
	px->cfg = *cfg;
	px->dns_fd = -1;
	px->lim = hs_xcalloc(hs_net_limit_count(cfg->rules) + 1, sizeof(*px->lim));
	if (!px->cfg.max_conns)
		px->cfg.max_conns = 1024;
	if (!px->cfg.head_timeout_ms)
		px->cfg.head_timeout_ms = 30000;
	if (!px->cfg.connect_timeout_ms)
		px->cfg.connect_timeout_ms = 30000;
	/* Two fds a connection: the caller sees to RLIMIT_NOFILE (the CLI
	 * raises its soft limit; a library caller's limits are its own). */
	const unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC;
	struct {
		int fd;
		struct evconnlistener **l;
	} tcp[] = {{sk->http, &px->l_http},
		   {sk->socks, &px->l_socks},
		   {sk->tls, &px->l_tls},
		   {sk->plain, &px->l_plain}};
	bool ok = true;
	for (size_t i = 0; i < HS_ARRAY_LEN(tcp); i++) {
		if (tcp[i].fd < 0)
			continue;
		if (ok)
			*tcp[i].l = evconnlistener_new(base, on_accept, px, flags, -1, tcp[i].fd);
		if (!*tcp[i].l) {
			close(tcp[i].fd);
			ok = false;
		}
	}
	if (sk->dns >= 0) {
		px->dns_fd = sk->dns;
		if (ok) {
			px->dns_ev = event_new(base, sk->dns, EV_READ | EV_PERSIST, on_dns, px);
			ok = px->dns_ev && event_add(px->dns_ev, NULL) == 0;
		} else {
			ok = false;
		}
	}
	if (!ok) {
		hs_proxy_free(px);
		hs_err(err, "cannot start the egress proxy's listeners");
		return NULL;
	}
	return px;
}

void hs_proxy_stats(const struct hs_proxy *px, struct hs_proxy_stats *out)
{
	*out = px->stats;
}

void hs_proxy_free(struct hs_proxy *px)
{
	if (!px)
		return;
	while (px->conns)
		conn_free(px->conns);
	if (px->l_http)
		evconnlistener_free(px->l_http);
	if (px->l_socks)
		evconnlistener_free(px->l_socks);
	if (px->l_tls)
		evconnlistener_free(px->l_tls);
	if (px->l_plain)
		evconnlistener_free(px->l_plain);
	if (px->dns_ev)
		event_free(px->dns_ev);
	if (px->dns_fd >= 0)
		close(px->dns_fd);
	if (px->dns)
		evdns_base_free(px->dns, 1);
	free(px->lim);
	free(px);
}
