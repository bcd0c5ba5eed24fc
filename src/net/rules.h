/*
 * rules.h: the network policy, compiled: which hosts the proxy may reach.
 *
 * Patterns (network.allow, network.deny, --allow-host, --deny-host):
 *
 *   example.com          that name exactly (any port)
 *   example.com:443      that name, that port
 *   *.example.com        any name below example.com (not example.com itself),
 *                        at least two labels after "*."
 *   192.0.2.7[:PORT]     an IPv4 address, in any spelling the C library's
 *                        inet_aton takes (2130706433, 0x7f000001, 127.1...),
 *                        stored as the address
 *   [2001:db8::1][:PORT] an IPv6 address (brackets needed with a port);
 *                        IPv4-mapped addresses become IPv4
 *   10.0.0.0/8, [fd00::]/8
 *                        an address range (CIDR)
 *
 * "*" alone, "*.com" (one label) and an allow range of /0 are refused: they
 * would allow everything. Names are letters, digits, '-' and '.', labels of
 * 1..63 characters, compared case-insensitively; one trailing dot is
 * dropped.
 *
 * A target (what the sandbox asked for: raw bytes, hostile) goes through
 * two checks:
 *
 *   hs_net_check_name   the name is validated strictly (no NUL, space,
 *                       '%', '_', empty label...) and normalised, or
 *                       parsed as an address; deny rules first (deny wins),
 *                       then allow rules; no allow rule means refused.
 *   hs_net_check_addr   every address the name resolves to: deny ranges,
 *                       then special addresses (loopback, private,
 *                       link-local, cloud metadata, multicast, reserved...)
 *                       are refused unless an allow rule names the address
 *                       (or its range) or the policy's own network.resolve
 *                       pinned the name to it. So an allowed name whose DNS
 *                       answer is 127.0.0.1 or 169.254.169.254 (rebinding)
 *                       is refused.
 *
 * Pure code: no I/O, no DNS; the proxy does the resolving.
 */
#ifndef HS_NET_RULES_H
#define HS_NET_RULES_H

#include "common/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define HS_NET_NAME_MAX 253
#define HS_NET_RULE_LABEL_MAX 160
#define HS_NET_REASON_MAX 400

/* An address: family AF_INET (b[0..3]) or AF_INET6 (b[0..15]). */
struct hs_net_addr {
	int family;
	uint8_t b[16];
};

enum hs_net_pat_kind {
	HS_NET_PAT_NAME,   /* exact name */
	HS_NET_PAT_SUFFIX, /* *.name */
	HS_NET_PAT_ADDR,   /* address or range */
};

struct hs_net_pattern {
	enum hs_net_pat_kind kind;
	char name[HS_NET_NAME_MAX + 1]; /* NAME / SUFFIX: normalised, without "*." */
	struct hs_net_addr addr;	/* ADDR */
	unsigned prefix;		/* ADDR: bits that must match (32/128 = one address) */
	uint16_t port;			/* 0 = any */
};

/* Parses one pattern. Returns 0, or -1 with *why a fixed sentence saying
 * what is wrong (for the loader's and the flags' messages). for_allow
 * refuses patterns that would allow everything. */
int hs_net_pattern_parse(const char *text, bool for_allow, struct hs_net_pattern *out,
			 const char **why);

/* Parses an address (any spelling above, brackets optional, no port) for
 * network.resolve. Returns 0 or -1. IPv4-mapped IPv6 becomes IPv4. */
int hs_net_addr_parse(const char *text, struct hs_net_addr *out);

/* Parses and normalises a host name for network.resolve and the rules:
 * 0, or -1 with *why. out has HS_NET_NAME_MAX + 1 bytes. */
int hs_net_name_normalise(const char *raw, size_t len, char *out, const char **why);

/* A per-host limit (network.rate_limits). */
struct hs_net_limit_spec {
	const char *host;	   /* a pattern, as in network.allow */
	unsigned per_minute;	   /* connections per minute, 0 = no limit */
	uint64_t bytes;		   /* bytes both ways over the run, 0 = no cap */
};

struct hs_net_rules;

/* Compiles the lists. allow/deny: patterns; resolve: "name=address"
 * entries. The entries were validated when the policy was loaded; an error
 * here names the entry. labels: how each list is named in messages
 * (e.g. "network.allow"). */
struct hs_net_rules *hs_net_rules_new(const struct hs_strv *allow, const struct hs_strv *deny,
				      const struct hs_strv *resolve,
				      const struct hs_net_limit_spec *limits, size_t nlimits,
				      struct hs_error *err);
void hs_net_rules_free(struct hs_net_rules *r);

struct hs_net_verdict {
	bool allowed;
	char rule[HS_NET_RULE_LABEL_MAX];  /* e.g. network.deny "bad.test", or "" */
	char reason[HS_NET_REASON_MAX];	   /* refusals: what and how to allow it */
	char name[HS_NET_NAME_MAX + 1];	   /* normalised name, or the address as text */
	bool is_address;		   /* the target was an address literal */
	struct hs_net_addr addr;	   /* ...this one */
};

/* The name check (see above). raw/len: the host as the client sent it. */
void hs_net_check_name(const struct hs_net_rules *r, const char *raw, size_t len, uint16_t port,
		       struct hs_net_verdict *v);

/* The address check for name (normalised, from a verdict) connecting to
 * addr:port. from_override: addr came from the policy's network.resolve. */
void hs_net_check_addr(const struct hs_net_rules *r, const char *name,
		       const struct hs_net_addr *addr, uint16_t port, bool from_override,
		       struct hs_net_verdict *v);

/* A network.resolve entry: "name[:port]": "address[:port]". Connections
 * to name (on that port, or any) go to address (on that port, or the one
 * asked for), without DNS. A pin does not allow the name: network.allow
 * does; it does vouch for the address (a special one is not refused). */
struct hs_net_pin {
	char name[HS_NET_NAME_MAX + 1];
	uint16_t port;	  /* 0 = any */
	struct hs_net_addr addr;
	uint16_t to_port; /* 0 = the port asked for */
};

/* Parses a pin: 0, or -1 with *why (and *at_key true when the key is the
 * culprit). */
int hs_net_pin_parse(const char *key, const char *value, struct hs_net_pin *out, const char **why,
		     bool *at_key);
/* Its normalised form, "name[:port]=address[:port]" (what hs_net_rules_new
 * takes in resolve). */
void hs_net_pin_format(const struct hs_net_pin *p, char *buf, size_t cap);

/* network.resolve: true, *out and *to_port set when the policy pins
 * name:port (an entry for that port first, then one for any port). */
bool hs_net_resolve_override(const struct hs_net_rules *r, const char *name, uint16_t port,
			     struct hs_net_addr *out, uint16_t *to_port);

/* Does an allow rule admit name (raw, validated here) on some port, deny
 * rules for that port aside? For messages only. */
bool hs_net_name_allowed_some_port(const struct hs_net_rules *r, const char *raw, size_t len);

/* The label of the allow rule that admits name:port ("" if none). */
void hs_net_last_allow_rule(const struct hs_net_rules *r, const char *name, uint16_t port,
			    char *buf, size_t cap);

/* The network.rate_limits entry that applies to name:port (the first that
 * matches), or -1. */
int hs_net_limit_index(const struct hs_net_rules *r, const char *name, uint16_t port);
size_t hs_net_limit_count(const struct hs_net_rules *r);
const struct hs_net_limit_spec *hs_net_limit_get(const struct hs_net_rules *r, size_t i);

/* What kind of special address this is ("loopback", "private",
 * "link-local", "cloud metadata", ...), or NULL for an ordinary one. */
const char *hs_net_addr_special(const struct hs_net_addr *a);

void hs_net_addr_from_sockaddr(const struct sockaddr *sa, struct hs_net_addr *out);
socklen_t hs_net_addr_to_sockaddr(const struct hs_net_addr *a, uint16_t port,
				  struct sockaddr_storage *out);
/* Text form (inet_ntop); buf of at least 46 bytes. */
void hs_net_addr_format(const struct hs_net_addr *a, char *buf, size_t cap);

#endif
