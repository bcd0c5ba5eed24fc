/*
 * fuzz_commands.c: libFuzzer target for the command rules (commands.c) and
 * the shell reader (shell.c). The first byte says what the rest is:
 *
 *   0  shell text, for hs_shell_split;
 *   1  an argv (NUL-separated), evaluated against the built-in rules of
 *      level 2, as is and as the script of `bash -c` (wrappers, scripts);
 *   2  a user rule and an argv: the rule's tokens on the first line
 *      (separated by tabs), the argv after it (NUL-separated); the rule
 *      is checked (hs_cmd_match_check) and, when accepted, evaluated and
 *      self-tested on the argv joined as an example;
 *   3  a policy document: when it loads, a few fixed commands are
 *      evaluated against its rules and the defaults, and `policy show`
 *      must round-trip (fuzz_policy checks the rest of the loader).
 *
 * Checked on every input: verdicts are consistent (decision = the rule's,
 * the rule is one of the set, the command text is terminated and free of
 * control characters, unparsed_why set exactly when unparsed_shell) and
 * repeatable; the split is within its bounds. Violations abort.
 */
#include "policy/commands.h"
#include "policy/policy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct hs_cmd_context ctx = {"/home/user/project", "/home/user", "/home/user/project"};

static void check(bool ok, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_commands: %s\n", what);
	abort();
}

static void check_verdict(const struct hs_cmd_rules *r, const struct hs_cmd_verdict *v)
{
	check(v->decision <= HS_CMD_DENY, "decision out of range");
	check(!v->rule || (v->rule >= r->v && v->rule < r->v + r->n), "rule not in the set");
	check(!v->rule || v->rule->decision == v->decision, "decision is not the rule's");
	check(v->rule || v->decision == HS_CMD_ALLOW, "a decision without a rule");
	check(memchr(v->command, '\0', sizeof(v->command)) != NULL, "command not terminated");
	for (const char *c = v->command; *c; c++)
		check((unsigned char)*c >= 0x20 && *c != 0x7f, "control character in command");
	check(v->unparsed_shell == (v->unparsed_why != NULL), "unparsed_why without the flag");
}

static void evaluate(const struct hs_cmd_rules *r, char **argv, size_t argc)
{
	struct hs_cmd_verdict a, b;
	hs_cmd_evaluate(r, &ctx, argc ? argv[0] : NULL, argv, argc, &a);
	check_verdict(r, &a);
	hs_cmd_evaluate(r, &ctx, argc ? argv[0] : NULL, argv, argc, &b);
	check(a.decision == b.decision && a.rule == b.rule && strcmp(a.command, b.command) == 0 &&
		  a.unparsed_shell == b.unparsed_shell,
	      "not repeatable");
}

/* Splits buf[0..n) at `sep` into a NULL-terminated vector of owned strings. */
static char **split_at(const char *buf, size_t n, char sep, size_t *count)
{
	size_t parts = 1, k = 0;
	for (size_t i = 0; i < n; i++)
		parts += buf[i] == sep;
	char **v = calloc(parts + 1, sizeof(char *));
	check(v != NULL, "out of memory");
	for (size_t i = 0, start = 0; i <= n; i++) {
		if (i < n && buf[i] != sep)
			continue;
		v[k] = strndup(buf + start, i - start);
		check(v[k] != NULL, "out of memory");
		k++;
		start = i + 1;
	}
	*count = k;
	return v;
}

static void free_vec(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void fuzz_split(const char *text, size_t n)
{
	struct hs_shell_script s;
	int r = hs_shell_split(text, n, &s);
	check((r < 0) == (s.unparsed != NULL), "return value and unparsed disagree");
	check(s.n <= HS_CMD_MAX_COMMANDS, "too many commands");
	for (size_t i = 0; i < s.n; i++) {
		check(s.v[i].words.n > 0, "an empty command");
		check(s.v[i].nest <= HS_SHELL_MAX_NEST, "nested beyond the bound");
		for (size_t k = 0; k < s.v[i].words.n; k++)
			check(strlen(s.v[i].words.v[k]) <= n, "a word longer than the text");
	}
	hs_shell_script_free(&s);
}

static void fuzz_argv(const struct hs_cmd_rules *r, const char *buf, size_t n)
{
	size_t argc;
	char **argv = split_at(buf, n, '\0', &argc);
	evaluate(r, argv, argc);
	char *wrapped[] = {(char *)"bash", (char *)"-c", argv[0], NULL};
	evaluate(r, wrapped, 3);
	free_vec(argv, argc);
}

static void fuzz_rule(const char *buf, size_t n)
{
	const char *nl = memchr(buf, '\n', n);
	size_t head = nl ? (size_t)(nl - buf) : n, ntok, argc, bad;
	char **tokens = split_at(buf, head, '\t', &ntok), why[256];
	struct hs_cmd_rules set = {0};
	struct hs_cmd_rule rule;
	memset(&rule, 0, sizeof(rule));
	for (size_t i = 0; i < ntok; i++)
		hs_strv_push(&rule.match, tokens[i]);
	free_vec(tokens, ntok);
	if (hs_cmd_match_check(&rule.match, &bad, why, sizeof(why)) < 0) {
		check(why[0] != '\0', "refused without a reason");
		check(bad <= rule.match.n, "bad index out of range");
		hs_cmd_rule_free(&rule);
		return;
	}
	rule.decision = HS_CMD_DENY;
	rule.id = strdup("fuzz");
	hs_cmd_rules_push(&set, &rule);
	if (nl) {
		char **argv = split_at(nl + 1, n - head - 1, '\0', &argc);
		evaluate(&set, argv, argc);
		char *example = calloc(1, n - head + 1);
		check(example != NULL, "out of memory");
		for (size_t i = 0, o = 0; i < argc; i++) { /* argv joined as an example */
			size_t k = strlen(argv[i]);
			memcpy(example + o, argv[i], k);
			o += k;
			if (i + 1 < argc)
				example[o++] = ' ';
		}
		hs_cmd_rule_test(&set.v[0], example, NULL);
		free(example);
		free_vec(argv, argc);
	}
	hs_cmd_rule_free(&rule);
	hs_cmd_rules_free(&set);
}

static void fuzz_policy_rules(const char *buf, size_t n)
{
	static char *const probes[][4] = {
	    {"git", "push", "-f", NULL},
	    {"bash", "-c", "curl x | sh; rm -rf ~", NULL},
	    {"psql", "-c", "DROP TABLE t", NULL},
	    {"make", NULL},
	};
	struct hs_policy p, q;
	struct hs_error err;
	hs_policy_init(&p);
	if (hs_policy_load_buffer(&p, buf, n, "fuzz", &err) == 0) {
		struct hs_cmd_rules eff;
		hs_cmd_rules_effective(&eff, &p.commands, p.commands_defaults, 2);
		for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
			size_t argc = 0;
			while (probes[i][argc])
				argc++;
			evaluate(&eff, (char **)probes[i], argc);
		}
		hs_cmd_rules_free(&eff);
		char *a = hs_policy_to_json(&p), *b;
		check(a != NULL, "to_json failed");
		hs_policy_init(&q);
		check(hs_policy_load_buffer(&q, a, strlen(a), "show", &err) == 0,
		      "to_json output does not load");
		b = hs_policy_to_json(&q);
		check(b && strcmp(a, b) == 0, "round trip differs");
		free(a);
		free(b);
		hs_policy_free(&q);
	}
	hs_policy_free(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct hs_cmd_rules defaults;
	static bool ready;
	if (!ready) {
		hs_cmd_rules_add_defaults(&defaults, 2);
		ready = true;
	}
	if (size == 0)
		return 0;
	const char *buf = (const char *)data + 1;
	size_t n = size - 1;
	switch (data[0] & 3) {
	case 0:
		fuzz_split(buf, n);
		break;
	case 1:
		fuzz_argv(&defaults, buf, n);
		break;
	case 2:
		fuzz_rule(buf, n);
		break;
	default:
		fuzz_policy_rules(buf, n);
		break;
	}
	return 0;
}
