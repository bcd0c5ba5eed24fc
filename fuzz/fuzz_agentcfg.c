/*
 * fuzz_agentcfg.c: libFuzzer target for what the agent profiles parse
 * from the caller's side (policy/agents.c): base URLs from the environment
 * (ANTHROPIC_BASE_URL, OPENAI_BASE_URL) and the base_url assignments of a
 * Codex config.toml.
 *
 * Input: the whole buffer is scanned as TOML; up to its first NUL (or all
 * of it) it is also parsed as a URL. Invariants (violations abort):
 *   - an accepted URL gives "HOST:PORT" with HOST in [A-Za-z0-9.-] or a
 *     bracketed [hex:.] address, PORT a decimal in 1..65535, and the HOST
 *     bytes appear in the input; a refusal always has a reason;
 *   - every TOML value handed out is NUL-terminated, at most 2048 bytes, has
 *     no control byte, and comes with a line number that grows and never
 *     exceeds the number of lines in the input.
 */
#define _GNU_SOURCE
#include "policy/agents.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_agentcfg: %s\n", what);
	abort();
}

struct scan {
	unsigned last, lines;
};

static int on_value(void *ctx, const char *v, unsigned line)
{
	struct scan *s = ctx;
	size_t n = strlen(v);
	check(n <= 2048, "value longer than 2048 bytes");
	for (size_t i = 0; i < n; i++)
		check((unsigned char)v[i] >= 0x20, "control byte in a value");
	check(line > s->last && line <= s->lines, "line numbers out of order");
	s->last = line;
	return 0;
}

static void check_hostport(const char *in, const char *out)
{
	const char *colon = strrchr(out, ':');
	check(colon && colon != out, "no host:port");
	const char *h = out, *hend = colon;
	if (*h == '[') {
		check(hend[-1] == ']', "unbalanced brackets");
		for (const char *c = h + 1; c < hend - 1; c++)
			check(isxdigit((unsigned char)*c) || *c == ':' || *c == '.', "bad v6 byte");
	} else {
		for (const char *c = h; c < hend; c++)
			check(isalnum((unsigned char)*c) || *c == '.' || *c == '-', "bad host byte");
	}
	check(memmem(in, strlen(in), h, (size_t)(hend - h)) != NULL, "host not from input");
	unsigned long port = 0;
	for (const char *c = colon + 1; *c; c++) {
		check(isdigit((unsigned char)*c), "port not decimal");
		port = port * 10 + (unsigned long)(*c - '0');
		check(port <= 65535, "port above 65535");
	}
	check(port >= 1, "port 0");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	char out[300];
	const char *why = NULL;
	if (hs_agent_url_hostport(s, out, sizeof(out), &why) == 0)
		check_hostport(s, out);
	else
		check(why && *why, "refusal without a reason");
	struct scan sc = {0, 1};
	for (size_t i = 0; i < size; i++)
		sc.lines += data[i] == '\n';
	hs_agent_toml_base_urls((const char *)data, size, on_value, &sc);
	free(s);
	return 0;
}
