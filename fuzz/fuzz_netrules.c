/*
 * fuzz_netrules.c: libFuzzer target for the egress proxy's host rules
 * (net/rules.c): pattern parsing and the check of a hostile target.
 *
 * Input: one control byte, then text. The text is parsed as a pattern
 * (allow and deny flavours) and, as raw bytes (NUL included), checked as a
 * target against a fixed rule set. Invariants (violations abort):
 *   - a parsed NAME/SUFFIX pattern holds only [a-z0-9.-], no empty label,
 *     and SUFFIX patterns have at least two labels; an allow pattern is
 *     never "everything" (ADDR with prefix 0);
 *   - an allowed target's normalised name is one the rules really admit:
 *     it equals, or ends in "." plus, an allowed name; a target containing
 *     a byte outside [A-Za-z0-9.:[\]-] is never allowed;
 *   - the verdict's strings are NUL-terminated within their arrays, and a
 *     refusal always has a reason;
 *   - checking a target twice gives the same verdict (no hidden state).
 */
#include "net/rules.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_netrules: %s\n", what);
	abort();
}

static struct hs_net_rules *fixed_rules(void)
{
	static struct hs_net_rules *r;
	if (r)
		return r;
	struct hs_strv a = {0}, d = {0}, p = {0};
	hs_strv_push(&a, "github.com");
	hs_strv_push(&a, "*.githubusercontent.com:443");
	hs_strv_push(&a, "127.0.0.1:8080");
	hs_strv_push(&a, "[2001:db8::1]");
	hs_strv_push(&d, "evil.githubusercontent.com");
	hs_strv_push(&p, "github.com=140.82.112.3");
	struct hs_error err;
	r = hs_net_rules_new(&a, &d, &p, NULL, 0, &err);
	check(r != NULL, "fixed rules do not compile");
	hs_strv_clear(&a);
	hs_strv_clear(&d);
	hs_strv_clear(&p);
	return r;
}

static void check_pattern(const char *text, bool for_allow)
{
	struct hs_net_pattern pat;
	const char *why = NULL;
	if (hs_net_pattern_parse(text, for_allow, &pat, &why) < 0) {
		check(why && *why, "a refused pattern has no reason");
		return;
	}
	if (pat.kind == HS_NET_PAT_ADDR) {
		check(!for_allow || pat.prefix > 0, "an allow pattern matches every address");
		check(pat.prefix <= (pat.addr.family == AF_INET ? 32u : 128u), "prefix too long");
		return;
	}
	size_t n = strlen(pat.name);
	check(n > 0 && n <= HS_NET_NAME_MAX, "pattern name length");
	check(pat.name[0] != '.' && pat.name[n - 1] != '.' && !strstr(pat.name, ".."),
	      "pattern name has an empty label");
	for (size_t i = 0; i < n; i++) {
		char c = pat.name[i];
		check((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.',
		      "pattern name holds a character outside [a-z0-9.-]");
	}
	if (pat.kind == HS_NET_PAT_SUFFIX)
		check(strchr(pat.name, '.') != NULL, "a wildcard over a top-level domain");
}

static bool ends_with_label(const char *name, const char *suffix)
{
	size_t n = strlen(name), s = strlen(suffix);
	return n > s + 1 && name[n - s - 1] == '.' && strcmp(name + n - s, suffix) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 600)
		return 0;
	uint16_t port = (uint16_t)(data[0] % 4 == 0 ? 443 : data[0] % 4 == 1 ? 8080 : data[0]);
	const char *raw = (const char *)data + 1;
	size_t len = size - 1;
	char *text = malloc(len + 1);
	memcpy(text, raw, len);
	text[len] = '\0';
	check_pattern(text, true);
	check_pattern(text, false);

	struct hs_net_rules *r = fixed_rules();
	struct hs_net_verdict v, w;
	hs_net_check_name(r, raw, len, port, &v);
	hs_net_check_name(r, raw, len, port, &w);
	check(v.allowed == w.allowed && strcmp(v.name, w.name) == 0 &&
		  strcmp(v.reason, w.reason) == 0,
	      "two checks of one target differ");
	check(memchr(v.rule, 0, sizeof(v.rule)) && memchr(v.reason, 0, sizeof(v.reason)) &&
		  memchr(v.name, 0, sizeof(v.name)),
	      "verdict strings not terminated");
	if (!v.allowed) {
		check(v.reason[0] != '\0', "a refusal without a reason");
	} else {
		for (size_t i = 0; i < len; i++) {
			char c = raw[i];
			check((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				  (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':' ||
				  c == '[' || c == ']',
			      "a target with a stray byte was allowed");
		}
		if (v.is_address)
			check(strcmp(v.name, "127.0.0.1") == 0 || strcmp(v.name, "2001:db8::1") == 0,
			      "an address no rule names was allowed");
		else
			check(strcmp(v.name, "github.com") == 0 ||
				  (ends_with_label(v.name, "githubusercontent.com") &&
				   strcmp(v.name, "evil.githubusercontent.com") != 0 && port == 443),
			      "a name no rule admits was allowed");
		struct hs_net_addr a;
		uint16_t to;
		if (v.is_address) {
			hs_net_check_addr(r, v.name, &v.addr, port, false, &w);
			check(w.allowed, "an allowed address literal fails its address check");
		} else if (hs_net_resolve_override(r, v.name, port, &a, &to)) {
			hs_net_check_addr(r, v.name, &a, port, true, &w);
			check(w.allowed, "a pinned address fails its address check");
		}
	}
	free(text);
	return 0;
}
