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
 * names, IPv4, IPv6). Everything the sandbox sends is hostile: heads are
 * bounded, slow heads time out, connections are bounded in number, and
 * each relay buffers at most a fixed amount before it stops reading.
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
				 "net.close" (bytes, duration), "net.limit" */
	const char *via;      /* "http-connect", "http", "socks5" */
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

/* Starts serving on the two listening sockets (either may be -1); takes
 * ownership of them. */
struct hs_proxy *hs_proxy_new(struct event_base *base, const struct hs_proxy_config *cfg,
			      int http_fd, int socks_fd, struct hs_error *err);

/* Counts for the end of the run. */
struct hs_proxy_stats {
	uint64_t connections, refused, bytes_up, bytes_down;
};
void hs_proxy_stats(const struct hs_proxy *p, struct hs_proxy_stats *out);

/* Closes every connection (recording each) and the listeners. NULL is fine. */
void hs_proxy_free(struct hs_proxy *p);

#endif
