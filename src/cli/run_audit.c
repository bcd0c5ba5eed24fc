/*
 * run_audit.c: the audit records of one `harness run`: the stores are
 * opened before anything starts (a store that cannot be written stops the
 * run: fail closed), hidden from the sandbox wherever a grant would expose
 * them, and get run.start before the command can start, then the limit
 * that was hit (if any) and run.exit, then a one-line summary on stderr.
 *
 * Start-up time: opening a store costs milliseconds in a fresh process
 * (SQLite's schema, the WAL index), so it runs on a second thread while
 * the main thread builds the plan, and run.start is prepared while the
 * sandbox builds itself (hs_run_audit_prestart, called from spawn) and
 * written with the first exec, in one transaction instead of two. The thread
 * touches nothing but the stores and is joined before the sandbox is
 * cloned: every fork and clone happens single-threaded.
 */
#define _GNU_SOURCE
#include "cli.h"
#include "audit/audit.h"
#include "policy/commands.h"
#include "sandbox/sandbox.h"
#include "net/proxy.h"
#include "supervise/approve.h"
#include "supervise/exec.h"
#include "supervise/run.h"
#include "common/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

void hs_cli_run_free(struct hs_cli_run *o)
{
	hs_strv_clear(&o->audit_specs);
	hs_agent_setup_free(&o->agent_setup);
}

static char *sha256_hex(const char *s)
{
	unsigned char md[HS_SHA256_LEN];
	char *hex = hs_xmalloc(2 * HS_SHA256_LEN + 1);
	hs_sha256(s, strlen(s), md);
	hs_sha256_hex(md, hex);
	return hex;
}

/* The store paths a sandbox must never reach: the files (and SQLite's
 * -wal/-shm companions), or the whole directory of the default store. */
static int hide_stores(const struct hs_cli_run *o, struct hs_plan *plan, struct hs_error *err)
{
	if (o->audit_specs.n == 0) {
		char *path = hs_audit_default_path();
		char *dir = hs_xstrdup(path);
		int r = hs_plan_hide_host_path(plan, dirname(dir), err);
		free(dir);
		free(path);
		return r;
	}
	for (size_t i = 0; i < o->audit_specs.n; i++) {
		const char *spec = o->audit_specs.v[i];
		const char *colon = strchr(spec, ':');
		const char *path = colon ? colon + 1 : spec;
		bool sqlite = strncmp(spec, "sqlite:", 7) == 0;
		static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
		for (size_t k = 0; k < (sqlite ? HS_ARRAY_LEN(suffixes) : 1); k++) {
			char *p = hs_xasprintf("%s%s", path, suffixes[k]);
			int r = hs_plan_hide_host_path(plan, p, err);
			free(p);
			if (r < 0)
				return -1;
		}
	}
	return 0;
}

static json_t *start_metadata(const struct hs_policy *p, const struct hs_plan *plan,
				const char *user)
{
	struct utsname u;
	char host[256] = "";
	if (uname(&u) == 0)
		snprintf(host, sizeof(host), "%s", u.nodename);
	json_t *argv = json_array();
	for (size_t i = 0; i < plan->argv.n; i++)
		json_array_append_new(argv, json_string(plan->argv.v[i]));
	char *policy_json = hs_policy_to_json(p);
	char *digest = sha256_hex(policy_json);
	json_t *m = json_pack("{s:o, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s}", "argv", argv, "cwd",
			      plan->cwd, "user", user ? user : "", "uid",
			      (json_int_t)getuid(), "host", host, "kernel",
			      uname(&u) == 0 ? u.release : "", "harness", HS_VERSION, "policy",
			      p->name ? p->name : "(custom)", "policy_sha256", digest);
	free(digest);
	free(policy_json);
	return m;
}

static char *describe_stores(const struct hs_cli_run *o)
{
	if (o->audit_specs.n == 0) {
		char *path = hs_audit_default_path();
		char *s = hs_xasprintf("sqlite:%s", path);
		free(path);
		return s;
	}
	char *s = hs_xstrdup(o->audit_specs.v[0]);
	for (size_t i = 1; i < o->audit_specs.n; i++) {
		char *t = hs_xasprintf("%s, %s", s, o->audit_specs.v[i]);
		free(s);
		s = t;
	}
	return s;
}

static void *open_stores(void *arg)
{
	struct hs_run_audit *ra = arg;
	const struct hs_cli_run *o = ra->o;
	hs_error_clear(&ra->open_err);
	ra->open_rc = hs_audit_open(&ra->log, &o->audit_specs, ra->key, ra->keylen, o->audit_sync,
				    ra->run_id, o->agent_id ? o->agent_id : "", &ra->open_err);
	if (ra->key)
		hs_audit_free_key(ra->key, ra->keylen);
	ra->key = NULL;
	/* The user's name for run.start: the first NSS lookup loads its
	 * modules, about a millisecond better spent here than later. */
	struct passwd pw, *found = NULL;
	char buf[2048];
	if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &found) == 0 && found)
		ra->user = hs_xstrdup(found->pw_name);
	return NULL;
}

int hs_run_audit_begin(struct hs_run_audit *ra, const struct hs_cli_run *o, bool threaded)
{
	struct hs_error err;
	memset(ra, 0, sizeof(*ra));
	hs_audit_new_run_id(ra->run_id);
	if (o->no_audit)
		return 0;
	hs_error_clear(&err);
	if (o->audit_key && hs_audit_read_key(o->audit_key, &ra->key, &ra->keylen, &err) < 0) {
		hs_cli_error("%s", err.msg);
		return HS_EXIT_HARNESS;
	}
	ra->stores = describe_stores(o);
	ra->o = o;
	if (threaded && pthread_create(&ra->opener, NULL, open_stores, ra) == 0) {
		ra->opening = true;
		return 0;
	}
	open_stores(ra);
	return 0;
}

/* Waits for the opener; names what went wrong. */
static int opened(struct hs_run_audit *ra)
{
	if (ra->opening) {
		pthread_join(ra->opener, NULL);
		ra->opening = false;
	}
	if (ra->open_rc == 0)
		return 0;
	hs_cli_error("audit: %s; nothing was started (fix the store, choose another with "
		     "--audit, or pass --no-audit to run without a record on purpose)",
		     ra->open_err.msg);
	return HS_EXIT_HARNESS;
}

/* Writes ev, preceded by run.start when that is still waiting (one
 * transaction for both). */
static int emit(struct hs_run_audit *ra, const struct hs_audit_event *ev, struct hs_error *err)
{
	if (!ra->start_meta)
		return hs_audit_write(ra->log, ev, err);
	struct hs_audit_event evs[2] = {{.action_type = "run.start",
					 .target = ra->plan->argv.v[0],
					 .outcome = HS_OUTCOME_ALLOWED,
					 .metadata = ra->start_meta,
					 .ts_us = ra->start_us},
					*ev};
	int r = hs_audit_write_batch(ra->log, evs, 2, err);
	json_decref(ra->start_meta);
	ra->start_meta = NULL;
	return r;
}

static int write_start(struct hs_run_audit *ra)
{
	struct hs_error err;
	hs_error_clear(&err);
	ra->pending = false;
	json_t *meta = start_metadata(ra->p, ra->plan, ra->user);
	/* Every exec waits for the supervisor: run.start can wait for the
	 * first of them (or for run.exit), and share its transaction. */
	if (hs_plan_exec_waits(ra->plan)) {
		ra->start_us = hs_audit_now_us();
		ra->start_meta = meta;
		return 0;
	}
	struct hs_audit_event ev = {.action_type = "run.start",
				    .target = ra->plan->argv.v[0],
				    .outcome = HS_OUTCOME_ALLOWED,
				    .metadata = meta};
	int r = hs_audit_write(ra->log, &ev, &err);
	json_decref(meta);
	if (r < 0) {
		hs_cli_error("audit: cannot record the start of the run: %s; nothing was started",
			     err.msg);
		return HS_EXIT_HARNESS;
	}
	return 0;
}

int hs_run_audit_start(struct hs_run_audit *ra, const struct hs_policy *p, struct hs_plan *plan,
		       bool may_defer)
{
	if (!ra->o)
		return 0; /* --no-audit */
	int code = opened(ra);
	if (code != 0)
		return code;
	ra->p = p;
	ra->plan = plan;
	/* The stores exist now: wherever a grant would expose one, it is
	 * hidden before the sandbox's view is built. */
	struct hs_error err;
	hs_error_clear(&err);
	if (hide_stores(ra->o, plan, &err) < 0) {
		hs_cli_error("audit: %s", err.msg);
		return HS_EXIT_HARNESS;
	}
	if (may_defer) {
		ra->pending = true;
		return 0;
	}
	return write_start(ra);
}

int hs_run_audit_prestart(struct hs_run_audit *ra)
{
	return ra->pending ? write_start(ra) : 0;
}

bool hs_run_audit_on(const struct hs_run_audit *ra)
{
	return ra->o != NULL;
}

static json_t *layers_json(unsigned l)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{HS_LAYER_USERNS, "userns"},     {HS_LAYER_MOUNT, "mount"},   {HS_LAYER_PID, "pidns"},
		{HS_LAYER_NET, "netns"},         {HS_LAYER_LANDLOCK, "landlock"},
		{HS_LAYER_SECCOMP, "seccomp"},   {HS_LAYER_CAPS, "no-caps"},
	};
	json_t *a = json_array();
	for (size_t i = 0; i < HS_ARRAY_LEN(names); i++)
		if (l & names[i].bit)
			json_array_append_new(a, json_string(names[i].name));
	return a;
}

int hs_run_audit_finish(struct hs_run_audit *ra, const struct hs_plan *plan,
			const struct hs_run_result *res, const char *limit_hit, int code)
{
	struct hs_error err;
	hs_error_clear(&err);
	if (!ra->log)
		return code;
	const struct hs_outcome *out = &res->out;
	int r = 0;
	if (limit_hit) {
		struct hs_audit_event lim = {.action_type = "limit",
					     .target = limit_hit,
					     .outcome = HS_OUTCOME_BLOCKED,
					     .duration_ms = out->elapsed_ms};
		r = emit(ra, &lim, &err);
	}
	int sig = !out->timed_out && !out->exec_errno && WIFSIGNALED(out->status)
			  ? WTERMSIG(out->status)
			  : 0;
	json_t *meta = json_pack("{s:i, s:i, s:b, s:i, s:o, s:i, s:s?}", "exit_code", code,
				 "signal", sig, "timed_out", out->timed_out, "exec_errno",
				 out->exec_errno, "layers", layers_json(res->layers), "landlock_abi",
				 res->landlock_abi, "limit", limit_hit);
	struct hs_audit_event ev = {.action_type = "run.exit",
				    .target = plan->argv.v[0],
				    .outcome = limit_hit ? HS_OUTCOME_BLOCKED : HS_OUTCOME_ALLOWED,
				    .duration_ms = out->elapsed_ms,
				    .metadata = meta};
	if (r == 0)
		r = emit(ra, &ev, &err);
	json_decref(meta);
	if (r < 0) {
		hs_cli_error("audit: cannot record the end of the run: %s", err.msg);
		return HS_EXIT_HARNESS;
	}
	struct hs_audit_counts c;
	hs_audit_counts(ra->log, &c);
	hs_cli_error("audit: run %s: %llu records (execs %llu, blocked %llu, approved %llu) in %s",
		     ra->run_id, (unsigned long long)c.records, (unsigned long long)c.execs,
		     (unsigned long long)c.blocked, (unsigned long long)c.approved, ra->stores);
	return code;
}

int hs_run_audit_exec(struct hs_run_audit *ra, const struct hs_exec_request *req,
		      enum hs_audit_outcome outcome, const struct hs_cmd_verdict *v,
		      const char *approval)
{
	if (!ra->log)
		return 0;
	struct hs_error err;
	hs_error_clear(&err);
	json_t *argv = json_array();
	for (size_t i = 0; i < req->argv.n; i++)
		json_array_append_new(argv, hs_audit_json_bytes(req->argv.v[i],
								strlen(req->argv.v[i]), 0));
	json_t *meta = json_pack("{s:o, s:o, s:I, s:b}", "argv", argv, "cwd",
				 hs_audit_json_bytes(req->cwd, strlen(req->cwd), 0), "pid",
				 (json_int_t)req->pid, "argv_truncated", req->truncated);
	if (v && v->rule) {
		json_object_set_new(meta, "rule", json_string(v->rule->id));
		json_object_set_new(meta, "rule_origin", json_string(v->rule->origin));
		json_object_set_new(meta, "decision", json_string(hs_cmd_decision_name(v->decision)));
		json_object_set_new(meta, "matched",
				    hs_audit_json_bytes(v->command, strlen(v->command), 0));
		if (v->rule->reason)
			json_object_set_new(meta, "reason", json_string(v->rule->reason));
	}
	if (approval)
		json_object_set_new(meta, "approval", json_string(approval));
	if (v && v->unparsed_shell)
		json_object_set_new(meta, "unparsed",
				    json_string(v->unparsed_why ? v->unparsed_why : "shell text"));
	/* The record is written before the exec may proceed. */
	struct hs_audit_event ev = {.action_type = "exec",
				    .target = req->path,
				    .outcome = outcome,
				    .metadata = meta};
	int r = emit(ra, &ev, &err);
	json_decref(meta);
	if (r < 0) {
		hs_cli_error("audit: cannot record an exec: %s; refusing it and ending the run "
			     "(fail closed)",
			     err.msg);
		return -1;
	}
	return 0;
}

int hs_run_audit_event(struct hs_run_audit *ra, const char *action, const char *target,
		       enum hs_audit_outcome outcome, json_t *meta)
{
	if (!ra || !ra->log)
		return 0;
	struct hs_error err;
	hs_error_clear(&err);
	struct hs_audit_event rec = {.action_type = action, .target = target, .outcome = outcome,
				     .metadata = meta};
	if (emit(ra, &rec, &err) < 0) {
		hs_cli_error("audit: cannot record %s %s: %s", action, target, err.msg);
		return -1;
	}
	return 0;
}

int hs_run_audit_net(struct hs_run_audit *ra, const struct hs_proxy_event *ev)
{
	if (!ra->log)
		return 0;
	struct hs_error err;
	hs_error_clear(&err);
	char target[300];
	if (ev->port)
		snprintf(target, sizeof(target), "%s:%u", ev->host, ev->port);
	else
		snprintf(target, sizeof(target), "%s", ev->host);
	json_t *meta = json_pack("{s:s, s:s, s:i, s:s, s:s}", "via", ev->via, "host", ev->host,
				 "port", (int)ev->port, "addr", ev->addr, "rule", ev->rule);
	if (ev->reason[0])
		json_object_set_new(meta, "reason", json_string(ev->reason));
	if (!strcmp(ev->action, "net.close")) {
		json_object_set_new(meta, "bytes_up", json_integer((json_int_t)ev->bytes_up));
		json_object_set_new(meta, "bytes_down", json_integer((json_int_t)ev->bytes_down));
	}
	struct hs_audit_event rec = {.action_type = ev->action,
				     .target = target,
				     .outcome = ev->allowed ? HS_OUTCOME_ALLOWED : HS_OUTCOME_BLOCKED,
				     .duration_ms = ev->duration_ms,
				     .metadata = meta};
	int r = emit(ra, &rec, &err);
	json_decref(meta);
	if (r < 0) {
		hs_cli_error("audit: cannot record a connection: %s; refusing it and ending the run "
			     "(fail closed)",
			     err.msg);
		return -1;
	}
	return 0;
}

int hs_run_audit_approval(struct hs_run_audit *ra, const struct hs_approval_request *rq,
			  const struct hs_approval_decision *d)
{
	if (!ra->log)
		return 0;
	struct hs_error err;
	hs_error_clear(&err);
	json_t *argv = json_array();
	for (size_t i = 0; i < rq->argc; i++)
		json_array_append_new(argv, hs_audit_json_bytes(rq->argv[i], strlen(rq->argv[i]), 0));
	json_t *meta = json_pack("{s:o, s:o, s:I, s:s, s:s, s:o}", "argv", argv, "cwd",
				 hs_audit_json_bytes(rq->cwd, strlen(rq->cwd), 0), "pid",
				 (json_int_t)rq->pid, "rule", rq->rule_id, "rule_origin",
				 rq->rule_origin, "matched",
				 hs_audit_json_bytes(rq->command, strlen(rq->command), 0));
	if (d->why[0])
		json_object_set_new(meta, "why", json_string(d->why));
	/* Written before the exec is let go (or refused). */
	struct hs_audit_event ev = {.action_type = "approval",
				    .target = rq->path,
				    .outcome = d->allow ? HS_OUTCOME_APPROVED : HS_OUTCOME_DENIED,
				    .duration_ms = d->waited_ms,
				    .metadata = meta,
				    .approved_by = d->by};
	int r = emit(ra, &ev, &err);
	json_decref(meta);
	if (r < 0) {
		hs_cli_error("audit: cannot record an approval: %s; refusing the command and ending "
			     "the run (fail closed)",
			     err.msg);
		return -1;
	}
	return 0;
}

void hs_run_audit_close(struct hs_run_audit *ra)
{
	if (ra->opening)
		pthread_join(ra->opener, NULL);
	if (ra->log)
		hs_audit_close(ra->log);
	json_decref(ra->start_meta); /* a run that ended before any record */
	if (ra->key)
		hs_audit_free_key(ra->key, ra->keylen);
	free(ra->user);
	free(ra->stores);
	memset(ra, 0, sizeof(*ra));
}
