/*
 * fuzz_approval.c: libFuzzer target for the approver's answer
 * (hs_approval_parse_answer) and the request JSON (hs_approval_request_json).
 * The first byte picks the wait status (exit 0, exit 1, killed), the rest is
 * what the approver printed; then the same bytes are used as one argv entry
 * and cwd of a request, which must serialise to valid JSON.
 *
 * Checked: a decision is always made; `allow` only on exit status 0; the
 * strings are terminated and `by` is printable ASCII. Violations abort.
 */
#include "supervise/approve.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 1 << 16)
		return 0;
	static const int statuses[] = {0, 1 << 8, 9 /* SIGKILL */};
	int status = statuses[data[0] % 3];
	struct hs_approval_decision d;
	memset(&d, 0x5a, sizeof(d));
	hs_approval_parse_answer((const char *)data + 1, size - 1, status, &d);
	if (d.allow && status != 0)
		abort();
	if (!memchr(d.by, '\0', sizeof(d.by)) || !memchr(d.why, '\0', sizeof(d.why)))
		abort();
	for (const char *p = d.by; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			abort();

	char *arg = malloc(size);
	memcpy(arg, data + 1, size - 1);
	arg[size - 1] = '\0';
	char *argv[] = {"prog", arg, NULL};
	struct hs_approval_request rq = {.pid = 1, .path = arg, .argv = argv, .argc = 2,
					 .cwd = arg, .command = arg, .rule_id = "r",
					 .rule_origin = "o", .reason = size & 1 ? arg : NULL};
	char *js = hs_approval_request_json(&rq, "run", arg, 1000);
	json_error_t je;
	json_t *o = json_loads(js, 0, &je);
	if (!o || !json_is_object(o))
		abort();
	json_decref(o);
	free(js);
	free(arg);
	return 0;
}
