/*
 * fuzz_policy.c: libFuzzer target for the policy loader. Each input is
 * loaded onto an empty policy; an accepted input must print (to_json) and
 * that output must load again and print identically (the round trip
 * `harness policy show` promises). A refused input must come with a message
 * and a sane position. Violations abort, so the fuzzer reports them.
 */
#include "policy/policy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what, const char *detail)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_policy: %s\n%s\n", what, detail ? detail : "");
	abort();
}

static void check_error(const struct hs_error *err, size_t size)
{
	char line[HS_ERR_MSG_MAX + 300];
	hs_error_format(err, line, sizeof(line));
	check(err->msg[0] != '\0', "refused without a message", NULL);
	check(err->line >= 0 && err->column >= 0 && (size_t)err->line <= size + 1,
	      "error position out of range", line);
	for (const char *c = err->msg; *c; c++)
		check((unsigned char)*c >= 0x20 && *c != 0x7f, "control character in message",
		      line);
}

static void check_round_trip(const struct hs_policy *p)
{
	struct hs_policy q;
	struct hs_error err;
	char *first = hs_policy_to_json(p), *second;
	check(first != NULL, "to_json failed", NULL);
	hs_policy_init(&q);
	if (hs_policy_load_buffer(&q, first, strlen(first), "show", &err) < 0)
		check(false, "to_json output does not load", err.msg);
	second = hs_policy_to_json(&q);
	check(second && strcmp(first, second) == 0, "round trip differs", second);
	free(first);
	free(second);
	hs_policy_free(&q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hs_policy p;
	struct hs_error err;
	hs_policy_init(&p);
	if (hs_policy_load_buffer(&p, (const char *)data, size, "fuzz", &err) == 0)
		check_round_trip(&p);
	else
		check_error(&err, size);
	hs_policy_free(&p);
	return 0;
}
