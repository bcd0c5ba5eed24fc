/*
 * test_net_rules.c: host rules for the egress proxy (net/rules.h): pattern
 * parsing, strict name validation, address spellings, deny winning, and
 * the special-address check that stops DNS rebinding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "net/rules.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct hs_net_rules *rules_of(const char *const *allow, const char *const *deny,
				     const char *const *resolve)
{
	struct hs_strv a = {0}, d = {0}, r = {0};
	for (; allow && *allow; allow++)
		hs_strv_push(&a, *allow);
	for (; deny && *deny; deny++)
		hs_strv_push(&d, *deny);
	for (; resolve && *resolve; resolve++)
		hs_strv_push(&r, *resolve);
	struct hs_error err;
	hs_error_clear(&err);
	struct hs_net_rules *rules = hs_net_rules_new(&a, &d, &r, NULL, 0, &err);
	if (!rules)
		fail_msg("rules: %s", err.msg);
	hs_strv_clear(&a);
	hs_strv_clear(&d);
	hs_strv_clear(&r);
	return rules;
}

static bool allowed(const struct hs_net_rules *r, const char *target, uint16_t port)
{
	struct hs_net_verdict v;
	hs_net_check_name(r, target, strlen(target), port, &v);
	return v.allowed;
}

static void parse_fails(const char *text, bool for_allow, const char *why_part)
{
	struct hs_net_pattern p;
	const char *why = NULL;
	if (hs_net_pattern_parse(text, for_allow, &p, &why) == 0)
		fail_msg("pattern \"%s\" parsed", text);
	if (!strstr(why, why_part))
		fail_msg("pattern \"%s\": \"%s\" lacks \"%s\"", text, why, why_part);
}

static void test_patterns(void **state)
{
	(void)state;
	struct hs_net_pattern p;
	const char *why;
	assert_int_equal(hs_net_pattern_parse("GitHub.COM.", true, &p, &why), 0);
	assert_int_equal(p.kind, HS_NET_PAT_NAME);
	assert_string_equal(p.name, "github.com");
	assert_int_equal(p.port, 0);
	assert_int_equal(hs_net_pattern_parse("*.github.com:443", true, &p, &why), 0);
	assert_int_equal(p.kind, HS_NET_PAT_SUFFIX);
	assert_string_equal(p.name, "github.com");
	assert_int_equal(p.port, 443);
	assert_int_equal(hs_net_pattern_parse("10.1.0.0/16:5432", true, &p, &why), 0);
	assert_int_equal(p.kind, HS_NET_PAT_ADDR);
	assert_int_equal(p.prefix, 16);
	assert_int_equal(p.port, 5432);
	assert_int_equal(hs_net_pattern_parse("[2001:db8::1]:8080", true, &p, &why), 0);
	assert_int_equal(p.addr.family, AF_INET6);
	assert_int_equal(p.prefix, 128);
	assert_int_equal(hs_net_pattern_parse("fd00::/8", false, &p, &why), 0);
	assert_int_equal(p.prefix, 8);
	assert_int_equal(hs_net_pattern_parse("[::ffff:127.0.0.1]", true, &p, &why), 0);
	assert_int_equal(p.addr.family, AF_INET);
	assert_int_equal(p.prefix, 32);
	assert_int_equal(hs_net_pattern_parse("0.0.0.0/0", false, &p, &why), 0); /* deny all */

	parse_fails("", true, "is empty");
	parse_fails("*", true, "every host");
	parse_fails("*:443", false, "every host");
	parse_fails("*.com", true, "top-level domain");
	parse_fails("*.", true, "only as a whole first label");
	parse_fails("a.*.com", true, "only as a whole first label");
	parse_fails("*github.com", true, "only as a whole first label");
	parse_fails("*.10.0.0.1", true, "before an address");
	parse_fails("0.0.0.0/0", true, "every address");
	parse_fails("::/0", true, "every address");
	parse_fails("10.0.0.0/33", true, "above 32");
	parse_fails("a.b/8", true, "after a name");
	parse_fails("host:99999", true, "port outside");
	parse_fails("host:0", true, "port outside");
	parse_fails("host:", true, "empty port");
	parse_fails("host:8o", true, "not a number");
	parse_fails(":443", true, "no host");
	parse_fails("exa mple.com", true, "a space");
	parse_fails("a..b", true, "empty label");
	parse_fails(".a.b", true, "empty label");
	parse_fails("a.b..", true, "empty label");
	parse_fails("-a.b", true, "'-'");
	parse_fails("a%2eb", true, "'%'");
	parse_fails("a_b.c", true, "'_'");
	parse_fails("1.2.3.256", true, "looks like an IPv4 address");
	parse_fails("1.2.3.4.5", true, "looks like an IPv4 address");
	parse_fails("[::1", true, "without ']'");
	parse_fails("[fe80::1%eth0]", true, "IPv6");
	char label[80];
	memset(label, 'a', 64);
	strcpy(label + 64, ".com");
	parse_fails(label, true, "63");
}

static void test_names_and_wildcards(void **state)
{
	(void)state;
	static const char *const allow[] = {"github.com", "*.githubusercontent.com",
					    "api.example.com:443", NULL};
	static const char *const deny[] = {"evil.githubusercontent.com", NULL};
	struct hs_net_rules *r = rules_of(allow, deny, NULL);
	assert_true(allowed(r, "github.com", 443));
	assert_true(allowed(r, "github.com", 22));
	assert_true(allowed(r, "GitHub.COM", 443));
	assert_true(allowed(r, "github.com.", 443));
	assert_true(allowed(r, "raw.githubusercontent.com", 443));
	assert_true(allowed(r, "a.b.githubusercontent.com", 443));
	assert_true(allowed(r, "api.example.com", 443));
	assert_false(allowed(r, "api.example.com", 80));
	/* The suffix rule is not the bare domain. */
	assert_false(allowed(r, "githubusercontent.com", 443));
	/* Lookalikes. */
	assert_false(allowed(r, "github.com.evil.com", 443));
	assert_false(allowed(r, "evilgithub.com", 443));
	assert_false(allowed(r, "github.co", 443));
	assert_false(allowed(r, "xgithubusercontent.com", 443));
	assert_false(allowed(r, "github.com..", 443));
	assert_false(allowed(r, "github.com ", 443));
	assert_false(allowed(r, " github.com", 443));
	assert_false(allowed(r, "github.com%00", 443));
	assert_false(allowed(r, "github%2ecom", 443));
	assert_false(allowed(r, "github.com\t", 443));
	assert_false(allowed(r, "github.com/x", 443));
	assert_false(allowed(r, "user@github.com", 443));
	assert_false(allowed(r, "", 443));
	assert_false(allowed(r, "github.com", 0));
	struct hs_net_verdict v;
	hs_net_check_name(r, "github.com\0.evil.com", 20, 443, &v);
	assert_false(v.allowed);
	assert_non_null(strstr(v.reason, "NUL"));
	/* Deny wins, and names the rule. */
	hs_net_check_name(r, "EVIL.githubusercontent.com", 26, 443, &v);
	assert_false(v.allowed);
	assert_string_equal(v.rule, "network.deny \"evil.githubusercontent.com\"");
	assert_non_null(strstr(v.reason, "refused by network.deny"));
	/* No rule: says how to allow it on purpose. */
	hs_net_check_name(r, "example.org", 11, 443, &v);
	assert_false(v.allowed);
	assert_string_equal(v.rule, "");
	assert_non_null(strstr(v.reason, "--allow-host example.org:443"));
	/* The allow rule is named. */
	hs_net_check_name(r, "raw.githubusercontent.com", 25, 443, &v);
	assert_true(v.allowed);
	assert_string_equal(v.rule, "network.allow \"*.githubusercontent.com\"");
	assert_string_equal(v.name, "raw.githubusercontent.com");
	assert_false(v.is_address);
	/* No rules at all: nothing. */
	hs_net_check_name(NULL, "github.com", 10, 443, &v);
	assert_false(v.allowed);
	hs_net_rules_free(r);
}

static void test_address_spellings(void **state)
{
	(void)state;
	static const char *const allow[] = {"127.0.0.1:8080", "[2001:db8::5]", NULL};
	struct hs_net_rules *r = rules_of(allow, NULL, NULL);
	static const char *const loopback[] = {"127.0.0.1", "2130706433", "0x7f000001",
					       "0x7F000001", "127.1", "0177.0.0.1",
					       "127.0.1", "[::ffff:127.0.0.1]", "::ffff:7f00:1",
					       "0x7f.0.0.1"};
	for (size_t i = 0; i < sizeof(loopback) / sizeof(*loopback); i++) {
		struct hs_net_verdict v;
		hs_net_check_name(r, loopback[i], strlen(loopback[i]), 8080, &v);
		if (!v.allowed || !v.is_address || strcmp(v.name, "127.0.0.1") != 0)
			fail_msg("%s: allowed %d name %s (%s)", loopback[i], v.allowed, v.name,
				 v.reason);
		assert_false(allowed(r, loopback[i], 8081));
	}
	assert_true(allowed(r, "[2001:DB8:0::5]", 443));
	assert_true(allowed(r, "2001:db8::5", 443));
	assert_false(allowed(r, "[2001:db8::6]", 443));
	assert_false(allowed(r, "[::1]", 8080));
	assert_false(allowed(r, "127.0.0.2", 8080));
	assert_false(allowed(r, "0177.0.0.08", 8080)); /* not octal: neither name nor address */
	/* An address literal is not matched by a name rule and vice versa. */
	static const char *const allow2[] = {"*.example.com", "192.0.2.0/24", NULL};
	struct hs_net_rules *r2 = rules_of(allow2, NULL, NULL);
	assert_true(allowed(r2, "192.0.2.77", 80));
	assert_true(allowed(r2, "3221226061", 80)); /* 192.0.2.77 */
	assert_false(allowed(r2, "192.0.3.1", 80));
	assert_false(allowed(r2, "1.2.3.4.example.com.5", 80));
	hs_net_rules_free(r2);
	hs_net_rules_free(r);
}

static struct hs_net_addr addr(const char *text)
{
	struct hs_net_addr a;
	if (hs_net_addr_parse(text, &a) < 0)
		fail_msg("address %s", text);
	return a;
}

static void test_special_addresses(void **state)
{
	(void)state;
	static const struct {
		const char *a, *what;
	} cases[] = {
	    {"127.0.0.1", "loopback"},
	    {"127.255.0.9", "loopback"},
	    {"::1", "loopback"},
	    {"::ffff:127.0.0.1", "loopback"},
	    {"10.2.3.4", "private"},
	    {"172.16.0.1", "private"},
	    {"172.31.255.255", "private"},
	    {"192.168.1.1", "private"},
	    {"169.254.169.254", "cloud metadata"},
	    {"fd00:ec2::254", "cloud metadata"},
	    {"169.254.1.1", "link-local"},
	    {"fe80::1", "link-local"},
	    {"fc00::1", "private"},
	    {"0.0.0.0", "unspecified"},
	    {"::", "unspecified"},
	    {"100.64.0.1", "carrier-grade"},
	    {"100.100.100.200", "cloud metadata"},
	    {"224.0.0.1", "multicast"},
	    {"ff02::1", "multicast"},
	    {"255.255.255.255", "reserved"},
	    {"64:ff9b::7f00:1", "loopback"}, /* NAT64 of 127.0.0.1 */
	    {"2002:7f00:1::1", "loopback"},  /* 6to4 of 127.0.0.1 */
	    {"::127.0.0.1", "IPv4-compatible"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct hs_net_addr a = addr(cases[i].a);
		const char *what = hs_net_addr_special(&a);
		if (!what || !strstr(what, cases[i].what))
			fail_msg("%s: %s, expected %s", cases[i].a, what ? what : "ordinary",
				 cases[i].what);
	}
	static const char *const ordinary[] = {"8.8.8.8", "140.82.112.3", "172.32.0.1",
					       "2606:4700::1111", "64:ff9b::808:808", "1.1.1.1"};
	for (size_t i = 0; i < sizeof(ordinary) / sizeof(*ordinary); i++) {
		struct hs_net_addr a = addr(ordinary[i]);
		if (hs_net_addr_special(&a))
			fail_msg("%s: %s", ordinary[i], hs_net_addr_special(&a));
	}
}

static void test_rebinding(void **state)
{
	(void)state;
	static const char *const allow[] = {"api.example.com", "db.lab.test", "10.9.0.0/16",
					    NULL};
	static const char *const deny[] = {"203.0.113.0/24", NULL};
	static const char *const pin[] = {"db.lab.test=10.7.0.1", "web.lab.test:443=10.7.0.2:8443",
					  "web.lab.test=10.7.0.3", NULL};
	struct hs_net_rules *r = rules_of(allow, deny, pin);
	struct hs_net_verdict v;
	struct hs_net_addr a = addr("93.184.216.34");
	hs_net_check_addr(r, "api.example.com", &a, 443, false, &v);
	assert_true(v.allowed);
	/* The allowed name resolves to loopback or the metadata address. */
	a = addr("127.0.0.1");
	hs_net_check_addr(r, "api.example.com", &a, 443, false, &v);
	assert_false(v.allowed);
	assert_non_null(strstr(v.reason, "api.example.com resolves to 127.0.0.1"));
	assert_non_null(strstr(v.reason, "loopback"));
	a = addr("169.254.169.254");
	hs_net_check_addr(r, "api.example.com", &a, 80, false, &v);
	assert_false(v.allowed);
	assert_non_null(strstr(v.reason, "cloud metadata"));
	a = addr("::ffff:169.254.169.254");
	hs_net_check_addr(r, "api.example.com", &a, 80, false, &v);
	assert_false(v.allowed);
	/* A private address a rule names is allowed... */
	a = addr("10.9.3.3");
	hs_net_check_addr(r, "api.example.com", &a, 443, false, &v);
	assert_true(v.allowed);
	assert_string_equal(v.rule, "network.allow \"10.9.0.0/16\"");
	/* ...and one the policy pinned. */
	struct hs_net_addr pinned;
	uint16_t to;
	assert_true(hs_net_resolve_override(r, "web.lab.test", 443, &pinned, &to));
	assert_int_equal(to, 8443);
	assert_int_equal(pinned.b[3], 2);
	assert_true(hs_net_resolve_override(r, "web.lab.test", 80, &pinned, &to));
	assert_int_equal(to, 80);
	assert_int_equal(pinned.b[3], 3);
	assert_false(hs_net_resolve_override(r, "other.lab.test", 80, &pinned, &to));
	assert_true(hs_net_resolve_override(r, "db.lab.test", 5432, &pinned, &to));
	assert_int_equal(to, 5432);
	hs_net_check_addr(r, "db.lab.test", &pinned, 5432, true, &v);
	assert_true(v.allowed);
	hs_net_check_addr(r, "db.lab.test", &pinned, 5432, false, &v);
	assert_false(v.allowed);
	/* Deny ranges apply to resolved addresses, pinned or not. */
	a = addr("203.0.113.9");
	hs_net_check_addr(r, "api.example.com", &a, 443, true, &v);
	assert_false(v.allowed);
	assert_string_equal(v.rule, "network.deny \"203.0.113.0/24\"");
	char buf[160];
	hs_net_last_allow_rule(r, "api.example.com", 443, buf, sizeof(buf));
	assert_string_equal(buf, "network.allow \"api.example.com\"");
	hs_net_rules_free(r);
}

static void test_pins(void **state)
{
	(void)state;
	struct hs_net_pin p;
	const char *why;
	bool at_key;
	char buf[128];
	assert_int_equal(hs_net_pin_parse("Mirror.Test.", "::ffff:10.0.0.5", &p, &why, &at_key), 0);
	hs_net_pin_format(&p, buf, sizeof(buf));
	assert_string_equal(buf, "mirror.test=10.0.0.5");
	assert_int_equal(hs_net_pin_parse("m.test:443", "[2001:db8::7]:8443", &p, &why, &at_key), 0);
	hs_net_pin_format(&p, buf, sizeof(buf));
	assert_string_equal(buf, "m.test:443=[2001:db8::7]:8443");
	assert_int_equal(hs_net_pin_parse("m.test", "2001:db8::7", &p, &why, &at_key), 0);
	assert_int_equal(p.to_port, 0);
	assert_int_equal(hs_net_pin_parse("m.test", "127.0.0.1:99999", &p, &why, &at_key), -1);
	assert_false(at_key);
	assert_int_equal(hs_net_pin_parse("m.test", "localhost", &p, &why, &at_key), -1);
	assert_false(at_key);
	assert_int_equal(hs_net_pin_parse("*.m.test", "10.0.0.1", &p, &why, &at_key), -1);
	assert_true(at_key);
	assert_non_null(strstr(why, "wildcard"));
	assert_int_equal(hs_net_pin_parse("10.0.0.2", "10.0.0.1", &p, &why, &at_key), -1);
	assert_true(at_key);
	assert_int_equal(hs_net_pin_parse("a_b", "10.0.0.1", &p, &why, &at_key), -1);
	assert_int_equal(hs_net_pin_parse("m.test", "[::1]x", &p, &why, &at_key), -1);
}

static void test_sockaddr_roundtrip(void **state)
{
	(void)state;
	struct sockaddr_storage ss;
	struct hs_net_addr a = addr("::ffff:192.0.2.1"), b;
	assert_int_equal(a.family, AF_INET);
	socklen_t n = hs_net_addr_to_sockaddr(&a, 8443, &ss);
	assert_int_equal(n, sizeof(struct sockaddr_in));
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 8443);
	hs_net_addr_from_sockaddr((struct sockaddr *)&ss, &b);
	assert_memory_equal(&a, &b, sizeof(a));
	a = addr("2001:db8::1");
	n = hs_net_addr_to_sockaddr(&a, 1, &ss);
	assert_int_equal(n, sizeof(struct sockaddr_in6));
	char text[64];
	hs_net_addr_format(&a, text, sizeof(text));
	assert_string_equal(text, "2001:db8::1");
}

static void test_limits(void **state)
{
	(void)state;
	struct hs_net_limit_spec spec[] = {{.host = "*.example.com", .per_minute = 10},
					   {.host = "example.com", .bytes = 1000}};
	struct hs_error err;
	hs_error_clear(&err);
	struct hs_net_rules *r = hs_net_rules_new(NULL, NULL, NULL, spec, 2, &err);
	assert_non_null(r);
	assert_int_equal(hs_net_limit_count(r), 2);
	assert_int_equal(hs_net_limit_index(r, "a.example.com", 443), 0);
	assert_int_equal(hs_net_limit_index(r, "example.com", 443), 1);
	assert_int_equal(hs_net_limit_index(r, "example.org", 443), -1);
	assert_int_equal(hs_net_limit_get(r, 1)->bytes, 1000);
	assert_string_equal(hs_net_limit_get(r, 0)->host, "*.example.com");
	hs_net_rules_free(r);
	struct hs_net_limit_spec bad = {.host = "*"};
	assert_null(hs_net_rules_new(NULL, NULL, NULL, &bad, 1, &err));
	assert_non_null(strstr(err.msg, "network.rate_limits"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_patterns),	      cmocka_unit_test(test_names_and_wildcards),
	    cmocka_unit_test(test_address_spellings), cmocka_unit_test(test_special_addresses),
	    cmocka_unit_test(test_rebinding),	      cmocka_unit_test(test_sockaddr_roundtrip),
	    cmocka_unit_test(test_limits),	      cmocka_unit_test(test_pins),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
