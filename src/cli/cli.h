/*
 * cli.h: the `harness` subcommands. Each returns the process exit status.
 * The CLI is the only layer that prints; it prints errors once, prefixed
 * "harness: ", naming what was refused, by which rule, and how to allow it.
 */
#ifndef HS_CLI_H
#define HS_CLI_H

#include "audit/audit.h"
#include "policy/policy.h"
#include "policy/agents.h"

#include <pthread.h>
#include <stdbool.h>

/* Options shared by `harness run` and `harness policy show`, parsed by
 * hs_cli_parse_run_options() into a policy plus these launcher settings. */
struct hs_cli_run {
	bool dry_run;
	bool verbose;
	int cmd_index; /* argv index of the command after "--", or argc if none */
	/* audit (run_audit.c) */
	struct hs_strv audit_specs; /* owned: --audit SPEC..., empty = the default store */
	const char *audit_key;      /* --audit-key FILE (borrowed from argv) */
	bool audit_sync;            /* --audit-sync */
	bool no_audit;              /* --no-audit */
	const char *agent_id;       /* --agent-id ID, NULL = "" */
	/* approvals of `ask` commands */
	const char *approver;       /* --approver CMD (borrowed), NULL: the terminal */
	uint64_t approval_timeout_ms; /* --approval-timeout, default 5 min */
	unsigned max_pending;       /* --max-pending-approvals, default 4 */
	/* the workspace (cmd_review.c) */
	enum { HS_CLI_WS_NONE, HS_CLI_WS_EPHEMERAL, HS_CLI_WS_REVIEW } workspace;
	uint64_t max_disk;          /* --max-disk, default 1 GiB */
	/* the agent profile (--agent NAME; src/policy/agents.h) */
	const struct hs_agent_profile *agent; /* NULL: none */
	struct hs_agent_setup agent_setup;    /* what composing it decided */
	bool no_network_flag;       /* --no-network was given */
	bool direct;                /* --direct: no workspace, whatever the policy says */
	bool max_disk_flag;         /* --max-disk was given */
};
void hs_cli_run_free(struct hs_cli_run *o);

/* Parses the run flags (--policy, --level, --allow-dir, --allow-read,
 * --read-only, --no-network, --timeout, --max-memory, --max-procs,
 * --max-file-size, --max-cpu, --max-open-files, --tmp-size, --env,
 * --protect, --hide, --unprotect, --best-effort, ...) into *p (already
 * initialised; the default preset is applied first unless --policy/--level
 * names another) and resolves it against the cwd and HOME.
 * Prints its own error and returns an exit status (!= 0) on failure, 0 on success. */
int hs_cli_parse_run_options(int argc, char **argv, struct hs_policy *p, struct hs_cli_run *opts,
			     bool inspect_only);
/* inspect_only (policy show): like --dry-run, nothing is created on the
 * host (a preset's ./scratch is reported, not made). */

int hs_cmd_run(int argc, char **argv);    /* harness run [OPTIONS] -- CMD [ARGS] */
int hs_cmd_check(int argc, char **argv);  /* harness check [--json] */
int hs_cmd_policy(int argc, char **argv); /* harness policy show [RUN-OPTIONS] | check FILE... */
int hs_cmd_audit(int argc, char **argv);  /* harness audit verify|query|tail|export ... */
int hs_cmd_runs(int argc, char **argv);   /* harness runs [--json] */
int hs_cmd_diff(int argc, char **argv);   /* harness diff RUN [--stat] [PATHS] */
int hs_cmd_apply(int argc, char **argv);  /* harness apply RUN [--force] [PATHS] */
int hs_cmd_discard(int argc, char **argv); /* harness discard RUN */
int hs_cmd_agent(int argc, char **argv);
/* Which workspace a --review / --ephemeral run would get here: 1 a snapshot
 * copy (*why says why), 0 the overlay, -1 HARNESS_WORKSPACE_BACKEND names
 * neither (cmd_review.c). Probes the overlay unless the variable decides. */
int hs_cli_workspace_backend(const char **why);   /* harness agent list | reset NAME [--all] */

/* --ephemeral / --review around one run (cmd_review.c). */
struct hs_ws_session;
struct hs_plan;
/* Before the run: the staged-runs dir exists and is hidden from the
 * sandbox, the host dir's baseline is taken. Returns an exit status. */
int hs_cli_workspace_begin(struct hs_plan *plan, const struct hs_cli_run *o,
			   const struct hs_policy *p, struct hs_ws_session **out);
/* After it: the changes collected from upper_fd, discarded (ephemeral) or
 * staged and checked by the guard (review), reported. Returns 0, or 125
 * when they could not be staged. Closes upper_fd, frees the session. */
struct hs_run_audit;
int hs_cli_workspace_end(struct hs_ws_session *s, int upper_fd, const char *run_id,
			 int exit_code, struct hs_run_audit *ra);
void hs_cli_workspace_abort(struct hs_ws_session *s);

/* The audit trail of one `harness run` (run_audit.c). */
struct hs_plan;
struct hs_run_result;
struct hs_audit;
struct hs_run_audit {
	struct hs_audit *log; /* NULL with --no-audit, or until opened */
	char run_id[33];
	char *stores;         /* owned: the stores, for the summary line */
	char *user;           /* owned: the caller's user name, for run.start */
	const struct hs_cli_run *o; /* NULL with --no-audit */
	pthread_t opener;     /* opening the stores (hs_run_audit_begin) */
	bool opening;
	int open_rc;
	struct hs_error open_err;
	unsigned char *key;   /* owned until the stores are open */
	size_t keylen;
	bool pending;         /* run.start waits for hs_run_audit_prestart */
	json_t *start_meta;   /* owned: run.start, prepared and waiting for the
			       * run's next record (see hs_run_audit_prestart) */
	int64_t start_us;     /* its time */
	const struct hs_policy *p;
	struct hs_plan *plan;
};
/* Reads the key and starts opening the stores (fail closed), on a thread
 * when `threaded` (joined by hs_run_audit_start or _close; the caller must
 * not fork or clone in between). Returns an exit status (0 = go on). */
int hs_run_audit_begin(struct hs_run_audit *ra, const struct hs_cli_run *o, bool threaded);
/* Waits for the stores, hides them from the sandbox where it would reach
 * them, and writes run.start; with may_defer, leaves run.start to
 * hs_run_audit_prestart. Returns an exit status (0 = go on). */
int hs_run_audit_start(struct hs_run_audit *ra, const struct hs_policy *p, struct hs_plan *plan,
		       bool may_defer);
/* The deferred run.start (nothing when there is none): called while the
 * sandbox sets itself up, before the command can start. Where every exec
 * of the run waits for the supervisor (exec interception in a user
 * namespace), run.start is only prepared here and written with the run's
 * next record (the command's first exec, or run.exit), in one transaction:
 * still before the command can run anything. */
int hs_run_audit_prestart(struct hs_run_audit *ra);
/* Whether the run is recorded. */
bool hs_run_audit_on(const struct hs_run_audit *ra);
/* Writes the limit and run.exit records and prints the summary; returns
 * `code`, or 125 when the record could not be written. */
int hs_run_audit_finish(struct hs_run_audit *ra, const struct hs_plan *plan,
			const struct hs_run_result *res, const char *limit_hit, int code);
void hs_run_audit_close(struct hs_run_audit *ra);
/* Records one exec (and the command rule's verdict, if any) before it
 * proceeds; -1 when it could not (the exec is refused and the run ends). */
struct hs_exec_request;
struct hs_cmd_verdict;
/* `approval`: NULL, or what happened to an ask ("pending", or why it was
 * denied at once). */
int hs_run_audit_exec(struct hs_run_audit *ra, const struct hs_exec_request *req,
		      enum hs_audit_outcome outcome, const struct hs_cmd_verdict *v,
		      const char *approval);
/* A connection through the egress proxy: its decision (before it is
 * made), its end (bytes, duration), a limit. */
struct hs_proxy_event;
int hs_run_audit_net(struct hs_run_audit *ra, const struct hs_proxy_event *ev);
/* Any other event (metadata borrowed, may be NULL); -1 when it could not
 * be recorded (said on stderr). */
int hs_run_audit_event(struct hs_run_audit *ra, const char *action, const char *target,
		       enum hs_audit_outcome outcome, json_t *meta);
/* The decision on an ask that waited for someone: who, how long, why. */
struct hs_approval_request;
struct hs_approval_decision;
int hs_run_audit_approval(struct hs_run_audit *ra, const struct hs_approval_request *rq,
			  const struct hs_approval_decision *d);

/* Prints "harness: " + message (+ "\n") to stderr. */
void hs_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
