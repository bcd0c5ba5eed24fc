/*
 * proxy.h: harness's egress proxy, run by the supervisor.
 *
 * The sandbox has a network namespace of its own with only loopback. Its
 * pid 1 binds two listening sockets there (HTTP on 127.0.0.1:3128, SOCKS5
 * on 127.0.0.1:1080) and hands them to the supervisor, which accepts on
 * them and alone reaches the outside: each connection's target is checked
 * against the host rules (rules.h) by name, resolved (policy overrides,
 * else asynchronous DNS), checked again by address (no loopback, private,
 * link-local or metadata address unless a rule names it), recorded, and
 * only then connected and relayed.
 *
 * Protocols: HTTP CONNECT (any TCP, HTTPS included), absolute-form plain
 * HTTP (one request per upstream connection: the client connection is
 * bound to the host of its first request), SOCKS5 CONNECT (no auth; domain
 * names, IPv4, IPv6).
 *
 * The transparent path, for clients that ignore the proxy variables: a DNS
 * stub on 127.0.0.1:53 answers 127.0.0.1 for names the rules allow on
 * port 443 or 80 (NXDOMAIN for the rest; nothing is ever forwarded to a
 * real resolver), and listeners on 127.0.0.1:443 and :80 take the host
 * from the TLS ClientHello's server name or the HTTP Host header, then
 * check, resolve, connect and relay as above. The ClientHello goes
 * upstream unchanged (no TLS is terminated); a ClientHello without a
 * server name, or with an encrypted one (ECH), is refused.
 *
 * Everything the sandbox sends is hostile: heads are bounded, slow heads
 * time out, connections are bounded in number, and each relay buffers at
 * most a fixed amount before it stops reading.
 */
#ifndef HS_NET_PROXY_H
#define HS_NET_PROXY_H

#include "common/common.h"

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct hs_net_rules;
struct hs_proxy;

/* One event for the audit trail. */
struct hs_proxy_event {
	const char *action;   /* "net.connect" (the decision, before connecting),
				 "net.close" (bytes, duration), "net.limit",
				 "net.dns" (a lookup the stub refused) */
	const char *via;      /* "http-connect", "http", "socks5", "tls" (transparent,
				 by SNI), "http-host" (transparent, by Host), "dns" */
	const char *host;     /* as asked (printable), "" if unknown */
	unsigned port;
	const char *addr;     /* the address connected to, "" if none */
	bool allowed;
	const char *rule;     /* the rule that decided, or "" */
	const char *reason;   /* why it was refused / what failed, or "" */
	uint64_t bytes_up, bytes_down; /* net.close: client->server, server->client */
	uint64_t duration_ms;
};

/* Records an event; returns 0, or -1 when it could not be recorded (the
 * proxy then refuses the connection; the callee ends the run). */
typedef int (*hs_proxy_record_fn)(void *ctx, const struct hs_proxy_event *ev);

struct hs_proxy_config {
	const struct hs_net_rules *rules;
	unsigned max_conns;          /* open client connections at once (default 1024) */
	uint64_t head_timeout_ms;    /* a request head or SOCKS handshake (default 30 s) */
	uint64_t connect_timeout_ms; /* DNS plus TCP connect (default 30 s) */
	hs_proxy_record_fn record;
	void *ctx;
};

/* The sockets pid 1 made inside the sandbox's network namespace; -1 for
 * none. */
struct hs_proxy_sockets {
	int http;  /* TCP 127.0.0.1:3128: HTTP proxy (CONNECT, absolute form) */
	int socks; /* TCP 127.0.0.1:1080: SOCKS5 */
	int tls;   /* TCP 127.0.0.1:443: transparent TLS, the host from SNI */
	int plain; /* TCP 127.0.0.1:80: transparent HTTP, the host from Host */
	int dns;   /* UDP 127.0.0.1:53: the DNS stub */
};

/* Starts serving on the sockets; takes ownership of them (closed on
 * failure too). */
struct hs_proxy *hs_proxy_new(struct event_base *base, const struct hs_proxy_config *cfg,
			      const struct hs_proxy_sockets *socks, struct hs_error *err);

/* Counts for the end of the run. */
struct hs_proxy_stats {
	uint64_t connections, refused, bytes_up, bytes_down;
};
void hs_proxy_stats(const struct hs_proxy *p, struct hs_proxy_stats *out);

/* Closes every connection (recording each) and the listeners. NULL is fine. */
void hs_proxy_free(struct hs_proxy *p);

#endif
