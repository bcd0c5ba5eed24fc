/*
 * rules.c: host rules for the egress proxy (see rules.h).
 *
 * Every target arrives as raw bytes from inside the sandbox. It is either
 * an address literal (parsed into an address, so every spelling of one
 * address is one value) or a name (validated byte by byte, lower-cased, one
 * trailing dot dropped); anything else is refused before any rule is
 * consulted, so no NUL, space, '%' or empty label reaches a comparison.
 */
#define _GNU_SOURCE
#include "rules.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rule {
	struct hs_net_pattern pat;
	char label[HS_NET_RULE_LABEL_MAX];
};

struct limit {
	struct hs_net_pattern pat;
	struct hs_net_limit_spec spec; /* spec.host points at host */
	char *host;
};

struct hs_net_rules {
	struct rule *allow, *deny;
	size_t nallow, ndeny;
	struct hs_net_pin *pins;
	size_t npins;
	struct limit *limits;
	size_t nlimits;
};

/* ---- addresses ---- */

static void addr_normalise(struct hs_net_addr *a)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (a->family == AF_INET6 && memcmp(a->b, mapped, 12) == 0) {
		uint8_t v4[4];
		memcpy(v4, a->b + 12, 4);
		memset(a->b, 0, sizeof(a->b));
		memcpy(a->b, v4, 4);
		a->family = AF_INET;
	}
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* IPv6 text (no brackets, no zone, no prefix). */
static int parse_v6(const char *s, size_t len, struct hs_net_addr *out)
{
	char buf[INET6_ADDRSTRLEN + 1];
	if (len == 0 || len >= sizeof(buf))
		return -1;
	for (size_t i = 0; i < len; i++)
		if (!is_hex(s[i]) && s[i] != ':' && s[i] != '.')
			return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	struct in6_addr a6;
	if (inet_pton(AF_INET6, buf, &a6) != 1)
		return -1;
	memset(out, 0, sizeof(*out));
	out->family = AF_INET6;
	memcpy(out->b, &a6, 16);
	addr_normalise(out);
	return 0;
}

/* IPv4 in any spelling inet_aton takes; s holds only [0-9a-fx.]. */
static int parse_v4(const char *s, size_t len, struct hs_net_addr *out)
{
	char buf[64];
	if (len == 0 || len >= sizeof(buf))
		return -1;
	for (size_t i = 0; i < len; i++)
		if (!is_hex(s[i]) && s[i] != '.' && s[i] != 'x' && s[i] != 'X')
			return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	struct in_addr a4;
	if (inet_aton(buf, &a4) == 0)
		return -1;
	memset(out, 0, sizeof(*out));
	out->family = AF_INET;
	memcpy(out->b, &a4, 4);
	return 0;
}

/* Does this (validated, lower-case) name look like an IPv4 address, as a
 * browser would take it: its last label all digits, or 0x and hex? Such a
 * name is an address or nothing. */
static bool looks_numeric(const char *name)
{
	const char *last = strrchr(name, '.');
	last = last ? last + 1 : name;
	if (!*last)
		return false;
	if (last[0] == '0' && last[1] == 'x') {
		for (const char *p = last + 2; *p; p++)
			if (!is_hex(*p))
				return false;
		return true;
	}
	for (const char *p = last; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

int hs_net_addr_parse(const char *text, struct hs_net_addr *out)
{
	size_t len = strlen(text);
	if (len >= 2 && text[0] == '[' && text[len - 1] == ']')
		return parse_v6(text + 1, len - 2, out);
	if (memchr(text, ':', len))
		return parse_v6(text, len, out);
	return parse_v4(text, len, out);
}

void hs_net_addr_format(const struct hs_net_addr *a, char *buf, size_t cap)
{
	char tmp[INET6_ADDRSTRLEN];
	if (!inet_ntop(a->family == AF_INET ? AF_INET : AF_INET6, a->b, tmp, sizeof(tmp)))
		snprintf(tmp, sizeof(tmp), "?");
	snprintf(buf, cap, "%s", tmp);
}

void hs_net_addr_from_sockaddr(const struct sockaddr *sa, struct hs_net_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET) {
		out->family = AF_INET;
		memcpy(out->b, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		out->family = AF_INET6;
		memcpy(out->b, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
		addr_normalise(out);
	} else {
		out->family = AF_UNSPEC;
	}
}

socklen_t hs_net_addr_to_sockaddr(const struct hs_net_addr *a, uint16_t port,
				  struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	if (a->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)out;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, a->b, 4);
		return sizeof(*s4);
	}
	if (a->family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, a->b, 16);
		return sizeof(*s6);
	}
	return 0;
}

/* Do the first bits of a and b agree? */
static bool prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	if (memcmp(a, b, whole) != 0)
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

static bool addr_in(const struct hs_net_addr *a, const struct hs_net_addr *net, unsigned bits)
{
	return a->family == net->family && prefix_match(a->b, net->b, bits);
}

struct special {
	int family;
	uint8_t b[16];
	unsigned bits;
	const char *what;
};

#define V4(a, b, c, d) {(a), (b), (c), (d)}
/* Checked in order: the narrow metadata entries before the ranges holding
 * them. */
static const struct special specials[] = {
    {AF_INET, V4(169, 254, 169, 254), 32, "cloud metadata"},
    {AF_INET, V4(169, 254, 170, 2), 32, "cloud metadata"},	 /* ECS task metadata */
    {AF_INET, V4(100, 100, 100, 200), 32, "cloud metadata"}, /* Alibaba */
    {AF_INET, V4(168, 63, 129, 16), 32, "cloud metadata"},	 /* Azure wireserver */
    {AF_INET, V4(0, 0, 0, 0), 8, "unspecified (this host)"},
    {AF_INET, V4(10, 0, 0, 0), 8, "private"},
    {AF_INET, V4(100, 64, 0, 0), 10, "shared (carrier-grade NAT)"},
    {AF_INET, V4(127, 0, 0, 0), 8, "loopback"},
    {AF_INET, V4(169, 254, 0, 0), 16, "link-local"},
    {AF_INET, V4(172, 16, 0, 0), 12, "private"},
    {AF_INET, V4(192, 0, 0, 0), 24, "reserved (IETF)"},
    {AF_INET, V4(192, 0, 2, 0), 24, "documentation"},
    {AF_INET, V4(192, 168, 0, 0), 16, "private"},
    {AF_INET, V4(198, 18, 0, 0), 15, "benchmarking"},
    {AF_INET, V4(198, 51, 100, 0), 24, "documentation"},
    {AF_INET, V4(203, 0, 113, 0), 24, "documentation"},
    {AF_INET, V4(224, 0, 0, 0), 4, "multicast"},
    {AF_INET, V4(240, 0, 0, 0), 4, "reserved"},
    {AF_INET6, {0xfd, 0x00, 0x0e, 0xc2, [15] = 0x54, [14] = 0x02}, 128, "cloud metadata"},
    {AF_INET6, {0}, 128, "unspecified (this host)"},
    {AF_INET6, {[15] = 1}, 128, "loopback"},
    {AF_INET6, {0}, 96, "reserved (IPv4-compatible)"},
    {AF_INET6, {0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}, 48, "reserved (local NAT64)"},
    {AF_INET6, {0x01, 0x00}, 64, "reserved (discard)"},
    {AF_INET6, {0x20, 0x01, 0x0d, 0xb8}, 32, "documentation"},
    {AF_INET6, {0x20, 0x01, 0x00, 0x00}, 23, "reserved (IETF, Teredo)"},
    {AF_INET6, {0xfc}, 7, "private (unique local)"},
    {AF_INET6, {0xfe, 0x80}, 10, "link-local"},
    {AF_INET6, {0xfe, 0xc0}, 10, "private (site-local)"},
    {AF_INET6, {0xff}, 8, "multicast"},
};

const char *hs_net_addr_special(const struct hs_net_addr *in)
{
	struct hs_net_addr a = *in;
	addr_normalise(&a);
	/* Addresses that embed an IPv4 one (NAT64 64:ff9b::/96, 6to4
	 * 2002::/16) are as special as the one they embed. */
	static const uint8_t nat64[12] = {0x00, 0x64, 0xff, 0x9b};
	if (a.family == AF_INET6 && memcmp(a.b, nat64, 12) == 0) {
		struct hs_net_addr v4 = {.family = AF_INET};
		memcpy(v4.b, a.b + 12, 4);
		return hs_net_addr_special(&v4);
	}
	if (a.family == AF_INET6 && a.b[0] == 0x20 && a.b[1] == 0x02) {
		struct hs_net_addr v4 = {.family = AF_INET};
		memcpy(v4.b, a.b + 2, 4);
		return hs_net_addr_special(&v4);
	}
	for (size_t i = 0; i < HS_ARRAY_LEN(specials); i++) {
		const struct special *s = &specials[i];
		if (s->family == a.family && prefix_match(a.b, s->b, s->bits))
			return s->what;
	}
	if (a.family != AF_INET && a.family != AF_INET6)
		return "not an Internet address";
	return NULL;
}

/* ---- names ---- */

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.';
}

int hs_net_name_normalise(const char *raw, size_t len, char *out, const char **why)
{
	if (len == 0) {
		*why = "is empty";
		return -1;
	}
	if (len > 1 && raw[len - 1] == '.')
		len--; /* the root's dot: "example.com." is "example.com" */
	if (len > HS_NET_NAME_MAX) {
		*why = "is longer than 253 characters";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		char c = raw[i];
		if (name_char(c))
			continue;
		if (c == '\0')
			*why = "contains a NUL byte";
		else if (c == ' ' || c == '\t')
			*why = "contains a space";
		else if (c == '%')
			*why = "contains '%' (percent-encoding is not decoded)";
		else if (c == '_')
			*why = "contains '_' (host names are letters, digits, '-' and '.')";
		else
			*why = "contains a character other than letters, digits, '-' and '.'";
		return -1;
	}
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && raw[i] != '.')
			continue;
		size_t ll = i - start;
		if (ll == 0) {
			*why = "has an empty label (a leading dot or \"..\")";
			return -1;
		}
		if (ll > 63) {
			*why = "has a label longer than 63 characters";
			return -1;
		}
		if (raw[start] == '-' || raw[i - 1] == '-') {
			*why = "has a label starting or ending with '-'";
			return -1;
		}
		start = i + 1;
	}
	for (size_t i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)raw[i]);
	out[len] = '\0';
	return 0;
}

/* A target: an address literal or a valid name. 1 = address (in *a),
 * 0 = name (in name), -1 = neither (*why). */
static int parse_target(const char *raw, size_t len, char *name, struct hs_net_addr *a,
			const char **why)
{
	if (len > 0 && raw[0] == '[') {
		if (len < 2 || raw[len - 1] != ']' || parse_v6(raw + 1, len - 2, a) < 0) {
			*why = "is not a valid IPv6 address";
			return -1;
		}
		return 1;
	}
	if (memchr(raw, ':', len)) {
		if (parse_v6(raw, len, a) < 0) {
			*why = "is not a valid host name or IPv6 address";
			return -1;
		}
		return 1;
	}
	if (hs_net_name_normalise(raw, len, name, why) < 0)
		return -1;
	if (looks_numeric(name)) {
		if (parse_v4(name, strlen(name), a) < 0) {
			*why = "looks like an IPv4 address but is not one";
			return -1;
		}
		return 1;
	}
	return 0;
}

/* ---- patterns ---- */

static int parse_port(const char *s, size_t len, uint16_t *out, const char **why)
{
	unsigned v = 0;
	if (len == 0 || len > 5) {
		*why = len ? "has a port outside 1 to 65535" : "has an empty port after ':'";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			*why = "has a port that is not a number";
			return -1;
		}
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > 65535) {
		*why = "has a port outside 1 to 65535";
		return -1;
	}
	*out = (uint16_t)v;
	return 0;
}

int hs_net_pattern_parse(const char *text, bool for_allow, struct hs_net_pattern *out,
			 const char **why)
{
	memset(out, 0, sizeof(*out));
	size_t len = strlen(text);
	if (len == 0) {
		*why = "is empty; write a host like \"example.com\"";
		return -1;
	}
	if (strcmp(text, "*") == 0 || strncmp(text, "*:", 2) == 0) {
		*why = "would match every host; list the hosts the agent needs";
		return -1;
	}
	/* Split off the port, then a /prefix. */
	const char *host = text;
	size_t hlen = len;
	if (text[0] == '[') {
		const char *close = memchr(text, ']', len);
		if (!close) {
			*why = "has '[' without ']'";
			return -1;
		}
		const char *colon = memchr(close, ':', len - (size_t)(close - text));
		if (colon) {
			if (parse_port(colon + 1, len - (size_t)(colon + 1 - text), &out->port, why) <
			    0)
				return -1;
			hlen = (size_t)(colon - text);
		}
	} else {
		const char *colon = memchr(text, ':', len);
		if (colon && memchr(colon + 1, ':', len - (size_t)(colon + 1 - text))) {
			colon = NULL; /* a bare IPv6 address: no port */
		} else if (colon) {
			if (parse_port(colon + 1, len - (size_t)(colon + 1 - text), &out->port, why) <
			    0)
				return -1;
			hlen = (size_t)(colon - text);
		}
	}
	const char *slash = memchr(host, '/', hlen);
	long bits = -1;
	if (slash) {
		const char *p = slash + 1;
		size_t plen = hlen - (size_t)(p - host);
		if (plen == 0 || plen > 3) {
			*why = "has a range prefix that is not a number of bits";
			return -1;
		}
		bits = 0;
		for (size_t i = 0; i < plen; i++) {
			if (p[i] < '0' || p[i] > '9') {
				*why = "has a range prefix that is not a number of bits";
				return -1;
			}
			bits = bits * 10 + (p[i] - '0');
		}
		hlen = (size_t)(slash - host);
	}
	if (hlen == 0) {
		*why = "has no host before the port";
		return -1;
	}
	if (host[0] == '*') {
		if (slash || hlen < 3 || host[1] != '.') {
			*why = "may hold '*' only as a whole first label (*.example.com)";
			return -1;
		}
		struct hs_net_addr a;
		int t = parse_target(host + 2, hlen - 2, out->name, &a, why);
		if (t != 0) {
			if (t == 1)
				*why = "puts '*.' before an address; write the address or a range";
			return -1;
		}
		if (!strchr(out->name, '.')) {
			*why = "would match every host under a top-level domain; name the "
			       "domain (*.example.com)";
			return -1;
		}
		out->kind = HS_NET_PAT_SUFFIX;
		return 0;
	}
	if (memchr(host, '*', hlen)) {
		*why = "may hold '*' only as a whole first label (*.example.com)";
		return -1;
	}
	struct hs_net_addr a;
	int t = parse_target(host, hlen, out->name, &a, why);
	if (t < 0)
		return -1;
	if (t == 0) {
		if (slash) {
			*why = "has a range prefix after a name; ranges take an address";
			return -1;
		}
		out->kind = HS_NET_PAT_NAME;
		return 0;
	}
	unsigned max = a.family == AF_INET ? 32 : 128;
	if (bits < 0) {
		bits = (long)max;
	} else if (a.family == AF_INET && memchr(host, ':', hlen) && bits >= 96) {
		bits -= 96; /* ::ffff:a.b.c.d/104 became IPv4 */
	}
	if ((unsigned long)bits > max) {
		*why = a.family == AF_INET ? "has a range prefix above 32"
					   : "has a range prefix above 128";
		return -1;
	}
	if (for_allow && bits == 0) {
		*why = "would match every address; list the hosts the agent needs";
		return -1;
	}
	out->kind = HS_NET_PAT_ADDR;
	out->addr = a;
	out->prefix = (unsigned)bits;
	out->name[0] = '\0';
	return 0;
}

static bool port_ok(const struct hs_net_pattern *p, uint16_t port)
{
	return p->port == 0 || p->port == port;
}

static bool name_matches(const struct hs_net_pattern *p, const char *name, uint16_t port)
{
	if (!port_ok(p, port))
		return false;
	if (p->kind == HS_NET_PAT_NAME)
		return strcmp(p->name, name) == 0;
	if (p->kind == HS_NET_PAT_SUFFIX) {
		size_t nl = strlen(name), sl = strlen(p->name);
		return nl > sl + 1 && name[nl - sl - 1] == '.' && strcmp(name + nl - sl, p->name) == 0;
	}
	return false;
}

static bool addr_matches(const struct hs_net_pattern *p, const struct hs_net_addr *a,
			 uint16_t port)
{
	return p->kind == HS_NET_PAT_ADDR && port_ok(p, port) && addr_in(a, &p->addr, p->prefix);
}

/* ---- compiling ---- */

static void quote_into(char *buf, size_t cap, const char *list, const char *text)
{
	char t[96];
	size_t n = strlen(text);
	if (n >= sizeof(t))
		snprintf(t, sizeof(t), "%.*s...", (int)sizeof(t) - 4, text);
	else
		snprintf(t, sizeof(t), "%s", text);
	snprintf(buf, cap, "%s \"%s\"", list, t);
}

static int compile_list(const struct hs_strv *sv, bool for_allow, const char *list,
			struct rule **out, size_t *n, struct hs_error *err)
{
	*out = NULL;
	*n = 0;
	if (!sv || sv->n == 0)
		return 0;
	*out = calloc(sv->n, sizeof(**out));
	if (!*out)
		return hs_err(err, "out of memory");
	for (size_t i = 0; i < sv->n; i++) {
		const char *why;
		struct rule *r = &(*out)[*n];
		if (hs_net_pattern_parse(sv->v[i], for_allow, &r->pat, &why) < 0)
			return hs_err(err, "%s entry \"%s\" %s", list, sv->v[i], why);
		quote_into(r->label, sizeof(r->label), list, sv->v[i]);
		(*n)++;
	}
	return 0;
}

struct hs_net_rules *hs_net_rules_new(const struct hs_strv *allow, const struct hs_strv *deny,
				      const struct hs_strv *resolve,
				      const struct hs_net_limit_spec *limits, size_t nlimits,
				      struct hs_error *err)
{
	struct hs_net_rules *r = calloc(1, sizeof(*r));
	if (!r) {
		hs_err(err, "out of memory");
		return NULL;
	}
	if (compile_list(allow, true, "network.allow", &r->allow, &r->nallow, err) < 0 ||
	    compile_list(deny, false, "network.deny", &r->deny, &r->ndeny, err) < 0)
		goto fail;
	if (resolve && resolve->n) {
		r->pins = calloc(resolve->n, sizeof(*r->pins));
		if (!r->pins) {
			hs_err(err, "out of memory");
			goto fail;
		}
		for (size_t i = 0; i < resolve->n; i++) {
			const char *e = resolve->v[i], *eq = strchr(e, '='), *why = "";
			bool at_key;
			char key[HS_NET_NAME_MAX + 16];
			int bad = !eq || (size_t)(eq - e) >= sizeof(key);
			if (!bad) {
				snprintf(key, sizeof(key), "%.*s", (int)(eq - e), e);
				bad = hs_net_pin_parse(key, eq + 1, &r->pins[r->npins], &why,
						       &at_key) < 0;
			}
			if (bad) {
				hs_err(err, "network.resolve entry \"%s\" %s", e,
				       *why ? why : "is not name=address");
				goto fail;
			}
			r->npins++;
		}
	}
	if (nlimits) {
		r->limits = calloc(nlimits, sizeof(*r->limits));
		if (!r->limits) {
			hs_err(err, "out of memory");
			goto fail;
		}
		for (size_t i = 0; i < nlimits; i++) {
			struct limit *l = &r->limits[r->nlimits];
			const char *why;
			if (hs_net_pattern_parse(limits[i].host, false, &l->pat, &why) < 0) {
				hs_err(err, "network.rate_limits entry \"%s\" %s", limits[i].host, why);
				goto fail;
			}
			l->host = strdup(limits[i].host);
			if (!l->host) {
				hs_err(err, "out of memory");
				goto fail;
			}
			l->spec = limits[i];
			l->spec.host = l->host;
			r->nlimits++;
		}
	}
	return r;
fail:
	hs_net_rules_free(r);
	return NULL;
}

void hs_net_rules_free(struct hs_net_rules *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nlimits; i++)
		free(r->limits[i].host);
	free(r->limits);
	free(r->allow);
	free(r->deny);
	free(r->pins);
	free(r);
}

/* ---- checking ---- */

static void verdict_refuse(struct hs_net_verdict *v, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void verdict_refuse(struct hs_net_verdict *v, const char *rule, const char *fmt, ...)
{
	va_list ap;
	v->allowed = false;
	snprintf(v->rule, sizeof(v->rule), "%s", rule ? rule : "");
	va_start(ap, fmt);
	vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
	va_end(ap);
}

/* The target as it would be written in a rule: name:port, or [v6]:port. */
static void target_text(const struct hs_net_verdict *v, uint16_t port, char *buf, size_t cap)
{
	if (v->is_address && v->addr.family == AF_INET6)
		snprintf(buf, cap, "[%s]:%u", v->name, (unsigned)port);
	else
		snprintf(buf, cap, "%s:%u", v->name, (unsigned)port);
}

void hs_net_check_name(const struct hs_net_rules *r, const char *raw, size_t len, uint16_t port,
		       struct hs_net_verdict *v)
{
	memset(v, 0, sizeof(*v));
	const char *why = "";
	int t = parse_target(raw, len, v->name, &v->addr, &why);
	if (t < 0) {
		char shown[80];
		size_t j = 0;
		for (size_t i = 0; i < len && j + 4 < sizeof(shown); i++) {
			unsigned char c = (unsigned char)raw[i];
			shown[j++] = c > 0x20 && c < 0x7f && c != '"' ? (char)c : '?';
		}
		shown[j] = '\0';
		v->name[0] = '\0';
		verdict_refuse(v, "", "\"%s%s\" is not a valid host: it %s", shown,
			       j + 4 >= sizeof(shown) ? "..." : "", why);
		return;
	}
	v->is_address = t == 1;
	if (v->is_address)
		hs_net_addr_format(&v->addr, v->name, sizeof(v->name));
	char target[HS_NET_NAME_MAX + 16];
	target_text(v, port, target, sizeof(target));
	if (port == 0) {
		verdict_refuse(v, "", "%s: port 0 is not a port", v->name);
		return;
	}
	if (!r) {
		verdict_refuse(v, "", "%s is refused: the policy allows no network", target);
		return;
	}
	for (size_t i = 0; i < r->ndeny; i++) {
		const struct rule *d = &r->deny[i];
		if (v->is_address ? addr_matches(&d->pat, &v->addr, port)
				  : name_matches(&d->pat, v->name, port)) {
			verdict_refuse(v, d->label, "%s is refused by %s", target, d->label);
			return;
		}
	}
	for (size_t i = 0; i < r->nallow; i++) {
		const struct rule *a = &r->allow[i];
		if (v->is_address ? addr_matches(&a->pat, &v->addr, port)
				  : name_matches(&a->pat, v->name, port)) {
			v->allowed = true;
			snprintf(v->rule, sizeof(v->rule), "%s", a->label);
			return;
		}
	}
	verdict_refuse(v, "",
		       "%s is not in network.allow; to allow it on purpose, add it to "
		       "network.allow in the policy or pass --allow-host %s",
		       target, target);
}

void hs_net_check_addr(const struct hs_net_rules *r, const char *name,
		       const struct hs_net_addr *addr_in_, uint16_t port, bool from_override,
		       struct hs_net_verdict *v)
{
	memset(v, 0, sizeof(*v));
	struct hs_net_addr a = *addr_in_;
	addr_normalise(&a);
	snprintf(v->name, sizeof(v->name), "%s", name);
	v->addr = a;
	char at[INET6_ADDRSTRLEN + 8];
	hs_net_addr_format(&a, at, sizeof(at));
	char subject[HS_NET_NAME_MAX + 80];
	if (strcmp(name, at) == 0)
		snprintf(subject, sizeof(subject), "%s", at);
	else
		snprintf(subject, sizeof(subject), "%s resolves to %s, which", name, at);
	if (!r) {
		verdict_refuse(v, "", "%s is refused: the policy allows no network", name);
		return;
	}
	for (size_t i = 0; i < r->ndeny; i++) {
		if (addr_matches(&r->deny[i].pat, &a, port)) {
			verdict_refuse(v, r->deny[i].label, "%s is refused by %s", subject,
				       r->deny[i].label);
			return;
		}
	}
	const char *special = hs_net_addr_special(&a);
	if (!special || from_override) {
		v->allowed = true;
		return;
	}
	for (size_t i = 0; i < r->nallow; i++) {
		if (addr_matches(&r->allow[i].pat, &a, port)) {
			v->allowed = true;
			snprintf(v->rule, sizeof(v->rule), "%s", r->allow[i].label);
			return;
		}
	}
	char target[INET6_ADDRSTRLEN + 16];
	if (a.family == AF_INET6)
		snprintf(target, sizeof(target), "[%s]:%u", at, (unsigned)port);
	else
		snprintf(target, sizeof(target), "%s:%u", at, (unsigned)port);
	verdict_refuse(v, "",
		       "%s is a %s address; harness refuses loopback, private, link-local, "
		       "cloud-metadata and other special addresses unless a rule names them: "
		       "allow the address on purpose with --allow-host %s (or network.allow), "
		       "or pin the name with network.resolve",
		       subject, special, target);
}

bool hs_net_resolve_override(const struct hs_net_rules *r, const char *name, uint16_t port,
			     struct hs_net_addr *out, uint16_t *to_port)
{
	if (!r)
		return false;
	const struct hs_net_pin *any = NULL;
	for (size_t i = 0; i < r->npins; i++) {
		const struct hs_net_pin *p = &r->pins[i];
		if (strcmp(p->name, name) != 0)
			continue;
		if (p->port == port) {
			any = p;
			break;
		}
		if (p->port == 0 && !any)
			any = p;
	}
	if (!any)
		return false;
	*out = any->addr;
	*to_port = any->to_port ? any->to_port : port;
	return true;
}

/* "address[:port]": [v6]:port, v4:port, or a bare address. */
static int parse_addr_port(const char *text, struct hs_net_addr *a, uint16_t *port,
			   const char **why)
{
	size_t len = strlen(text);
	const char *colon = NULL;
	*port = 0;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (close && close[1] == ':')
			colon = close + 1;
		else if (close && close[1])
			len = 0; /* junk after ']' */
	} else {
		colon = strchr(text, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL; /* a bare IPv6 address */
	}
	char host[INET6_ADDRSTRLEN + 8];
	size_t hl = colon ? (size_t)(colon - text) : len;
	if (hl == 0 || hl >= sizeof(host)) {
		*why = "is not an IPv4 or IPv6 address";
		return -1;
	}
	memcpy(host, text, hl);
	host[hl] = '\0';
	if (colon && parse_port(colon + 1, strlen(colon + 1), port, why) < 0)
		return -1;
	if (hs_net_addr_parse(host, a) < 0) {
		*why = "is not an IPv4 or IPv6 address";
		return -1;
	}
	return 0;
}

int hs_net_pin_parse(const char *key, const char *value, struct hs_net_pin *out, const char **why,
		     bool *at_key)
{
	struct hs_net_pattern pat;
	memset(out, 0, sizeof(*out));
	*at_key = true;
	if (hs_net_pattern_parse(key, false, &pat, why) < 0)
		return -1;
	if (pat.kind != HS_NET_PAT_NAME) {
		*why = pat.kind == HS_NET_PAT_ADDR
			   ? "is an address; network.resolve maps names to addresses"
			   : "is a wildcard; network.resolve maps one name to an address";
		return -1;
	}
	snprintf(out->name, sizeof(out->name), "%s", pat.name);
	out->port = pat.port;
	*at_key = false;
	return parse_addr_port(value, &out->addr, &out->to_port, why);
}

void hs_net_pin_format(const struct hs_net_pin *p, char *buf, size_t cap)
{
	char a[INET6_ADDRSTRLEN], k[16] = "", v[16] = "";
	hs_net_addr_format(&p->addr, a, sizeof(a));
	if (p->port)
		snprintf(k, sizeof(k), ":%u", (unsigned)p->port);
	if (p->to_port)
		snprintf(v, sizeof(v), ":%u", (unsigned)p->to_port);
	bool br = p->addr.family == AF_INET6 && p->to_port;
	snprintf(buf, cap, "%s%s=%s%s%s%s", p->name, k, br ? "[" : "", a, br ? "]" : "", v);
}

bool hs_net_name_allowed_some_port(const struct hs_net_rules *r, const char *raw, size_t len)
{
	char name[HS_NET_NAME_MAX + 1];
	struct hs_net_addr a;
	const char *why;
	if (!r || parse_target(raw, len, name, &a, &why) != 0)
		return false;
	for (size_t i = 0; i < r->nallow; i++) {
		struct hs_net_pattern p = r->allow[i].pat;
		p.port = 0;
		if (name_matches(&p, name, 1))
			return true;
	}
	return false;
}

void hs_net_last_allow_rule(const struct hs_net_rules *r, const char *name, uint16_t port,
			    char *buf, size_t cap)
{
	struct hs_net_verdict v;
	hs_net_check_name(r, name, strlen(name), port, &v);
	snprintf(buf, cap, "%s", v.allowed ? v.rule : "");
}

int hs_net_limit_index(const struct hs_net_rules *r, const char *name, uint16_t port)
{
	if (!r)
		return -1;
	struct hs_net_addr a;
	const char *why;
	char norm[HS_NET_NAME_MAX + 1];
	int t = parse_target(name, strlen(name), norm, &a, &why);
	if (t < 0)
		return -1;
	for (size_t i = 0; i < r->nlimits; i++) {
		const struct hs_net_pattern *p = &r->limits[i].pat;
		if (t == 1 ? addr_matches(p, &a, port) : name_matches(p, norm, port))
			return (int)i;
	}
	return -1;
}

size_t hs_net_limit_count(const struct hs_net_rules *r)
{
	return r ? r->nlimits : 0;
}

const struct hs_net_limit_spec *hs_net_limit_get(const struct hs_net_rules *r, size_t i)
{
	return r && i < r->nlimits ? &r->limits[i].spec : NULL;
}
