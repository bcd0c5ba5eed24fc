/*
 * approve.h: human approval of commands that an `ask` rule matched.
 *
 * The exec waits in the kernel (a deferred seccomp notification) while
 * someone decides; the supervisor's loop keeps running meanwhile (other
 * execs, the wall-clock budget, signals). Who decides:
 *   - an approver command (--approver CMD): run on the host, outside the
 *     sandbox, through /bin/sh -c, with the request as one JSON object on
 *     its stdin; it answers on stdout (see docs/commands.md, "Approvals");
 *   - else the human at harness's own controlling terminal (/dev/tty, never
 *     the sandbox's file descriptors), one question at a time;
 *   - else nobody: denied at once.
 * Anything else (a timeout, an approver that crashes, hangs or prints
 * garbage, too many requests waiting, the run ending) is a denial, never
 * an approval. At most `max_pending` requests wait at once; more are denied.
 */
#ifndef HS_APPROVE_H
#define HS_APPROVE_H

#include "common/common.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;
struct hs_approvals;

#define HS_APPROVAL_MAX_OUTPUT 4096 /* bytes of an approver's answer read, at most */

struct hs_approval_config {
	const char *approver;   /* shell command, or NULL */
	bool tty;               /* may ask on /dev/tty (when there is no approver) */
	uint64_t timeout_ms;    /* per request, counted from when the exec stopped */
	unsigned max_pending;   /* requests waiting at once, >= 1 */
	const char *run_id;     /* for the approver's JSON */
	const char *agent_id;
};

/* One request: what the human or approver is shown. Copied on submit. */
struct hs_approval_request {
	uint64_t cookie;        /* the caller's own handle (e.g. a notification id) */
	int notify_fd;          /* the caller's: the exec is answered through it */
	pid_t pid;
	const char *path;       /* as executed */
	char *const *argv;
	size_t argc;
	const char *cwd;
	const char *command;    /* the command the rule matched, printable */
	const char *rule_id;    /* "ask[0]" */
	const char *rule_origin;
	const char *reason;     /* the rule's reason, or NULL */
};

struct hs_approval_decision {
	bool allow;
	char by[160];           /* who or what decided: "tty:alice", "approver:bob",
				   "approver", "timeout", "none", "limit", "run-ended" */
	char why[256];          /* a short explanation ("" when plainly approved) */
	uint64_t waited_ms;
};

/* Called once per submitted request with its decision (never twice, never
 * for a request decided at submit time). The callback answers the exec. */
typedef void (*hs_approval_done_fn)(void *ctx, const struct hs_approval_request *rq,
				    const struct hs_approval_decision *d);

/* Makes the engine. Opens /dev/tty now when cfg->tty and there is no
 * approver (a run without a terminal has nobody to ask). */
struct hs_approvals *hs_approvals_new(struct event_base *base, const struct hs_approval_config *cfg,
				      hs_approval_done_fn done, void *ctx);

/* Is there anyone to ask at all (an approver, or a terminal)? */
bool hs_approvals_available(const struct hs_approvals *a);

/* Submits a request. Returns 1 when it is pending (done() is called later),
 * 0 when it was decided at once (*now says how: nobody to ask, too many
 * pending). */
int hs_approvals_submit(struct hs_approvals *a, const struct hs_approval_request *rq,
			struct hs_approval_decision *now);

/* Ends every pending request with a denial ("run-ended"), calling done()
 * for each, kills approver commands still running, restores the terminal,
 * and frees the engine. NULL is fine. */
void hs_approvals_free(struct hs_approvals *a);

/* The approver's answer, parsed (exposed for tests and fuzzing): `out` is
 * what it printed (len bytes, not NUL-terminated), `status` its wait
 * status. Fills d->allow, d->by ("approver" or "approver:NAME"), d->why. */
void hs_approval_parse_answer(const char *out, size_t len, int status,
			      struct hs_approval_decision *d);

/* The request as the approver reads it (one line of JSON), malloc'd. */
char *hs_approval_request_json(const struct hs_approval_request *rq, const char *run_id,
			       const char *agent_id, uint64_t timeout_ms);

#endif
