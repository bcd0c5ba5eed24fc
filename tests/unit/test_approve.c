/*
 * test_approve.c: the approver's answer (hs_approval_parse_answer) and the
 * request it reads (hs_approval_request_json). The approval flow itself
 * (terminal, approver processes, timeouts, bounds) is driven through the
 * real binary in tests/integration/test_approvals.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "supervise/approve.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define EXIT(n) ((n) << 8)

static struct hs_approval_decision parse(const char *out, int status)
{
	struct hs_approval_decision d;
	memset(&d, 0, sizeof(d));
	hs_approval_parse_answer(out, strlen(out), status, &d);
	return d;
}

static void test_plain_words(void **state)
{
	(void)state;
	assert_true(parse("allow", 0).allow);
	assert_true(parse("  ALLOW\n", 0).allow);
	assert_false(parse("deny\n", 0).allow);
	assert_string_equal(parse("deny\n", 0).why, "the approver said deny");
	assert_string_equal(parse("allow", 0).by, "approver");
	/* Nothing but the word: no prefixes, suffixes or second lines. */
	assert_false(parse("allowed", 0).allow);
	assert_false(parse("allow\nallow", 0).allow);
	assert_false(parse("yes", 0).allow);
	assert_false(parse("", 0).allow);
	assert_string_equal(parse("", 0).why, "the approver printed nothing");
}

static void test_status_decides_first(void **state)
{
	(void)state;
	struct hs_approval_decision d = parse("allow", EXIT(1));
	assert_false(d.allow);
	assert_string_equal(d.why, "the approver failed (exit status 1)");
	d = parse("allow", 9); /* killed by SIGKILL */
	assert_false(d.allow);
	assert_string_equal(d.why, "the approver was killed by signal 9");
}

static void test_json_answers(void **state)
{
	(void)state;
	struct hs_approval_decision d =
		parse("{\"decision\": \"allow\", \"by\": \"alice\", \"reason\": \"ok\"}", 0);
	assert_true(d.allow);
	assert_string_equal(d.by, "approver:alice");
	assert_string_equal(d.why, "ok");
	d = parse("{\"decision\": \"deny\", \"by\": \"bob\"}", 0);
	assert_false(d.allow);
	assert_string_equal(d.by, "approver:bob");
	/* Wrong type, unknown word, duplicate keys, trailing garbage: deny. */
	assert_false(parse("{\"decision\": true}", 0).allow);
	assert_false(parse("{\"decision\": \"Allow\"}", 0).allow);
	assert_false(parse("{\"decision\": \"deny\", \"decision\": \"allow\"}", 0).allow);
	assert_false(parse("{\"decision\": \"allow\"} x", 0).allow);
	assert_false(parse("[\"allow\"]", 0).allow);
	/* A name with control characters is recorded printable. */
	d = parse("{\"decision\": \"allow\", \"by\": \"a\\u001b[2Jb\"}", 0);
	assert_true(d.allow);
	assert_string_equal(d.by, "approver:a?[2Jb");
}

static void test_request_json(void **state)
{
	(void)state;
	char *argv[] = {"git", "push", "--force", NULL};
	struct hs_approval_request rq = {.pid = 42, .path = "/usr/bin/git", .argv = argv,
					 .argc = 3, .cwd = "/p", .command = "git push --force",
					 .rule_id = "default:git-push-force", .rule_origin = "built-in",
					 .reason = NULL};
	char *s = hs_approval_request_json(&rq, "r1", "a1", 5000);
	json_error_t je;
	json_t *o = json_loads(s, 0, &je);
	assert_non_null(o);
	assert_int_equal(json_integer_value(json_object_get(o, "pid")), 42);
	assert_string_equal(json_string_value(json_array_get(json_object_get(o, "argv"), 2)),
			    "--force");
	json_t *rule = json_object_get(o, "rule");
	assert_string_equal(json_string_value(json_object_get(rule, "id")),
			    "default:git-push-force");
	assert_true(json_is_null(json_object_get(rule, "reason")));
	assert_int_equal(json_integer_value(json_object_get(o, "timeout_ms")), 5000);
	assert_null(strchr(s, '\n')); /* one line */
	json_decref(o);
	free(s);
	/* Bytes that are not UTF-8 still give valid JSON. */
	char bad[] = "a\xff\xfe";
	char *argv2[] = {bad, NULL};
	rq.argv = argv2;
	rq.argc = 1;
	s = hs_approval_request_json(&rq, "r1", "a1", 5000);
	o = json_loads(s, 0, &je);
	assert_non_null(o);
	json_decref(o);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_words),
		cmocka_unit_test(test_status_decides_first),
		cmocka_unit_test(test_json_answers),
		cmocka_unit_test(test_request_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
