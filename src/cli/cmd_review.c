/*
 * cmd_review.c: the workspace around a run (--ephemeral, --review) and
 * the commands on staged runs: runs, diff, apply, discard.
 *
 * The workspace is an overlay, or, where overlayfs cannot be mounted in a
 * user namespace (or HARNESS_WORKSPACE_BACKEND=snapshot), a snapshot copy
 * of the project the supervisor makes before the run and removes after it
 * (workspace/snapshot.h); both end as the same changes and staged runs.
 *
 * A staged run lives in $XDG_STATE_HOME/harness/runs/ID (see
 * workspace.h), hidden from every sandbox. Its states: "staged" (changes
 * and blobs present), then "applied" or "discarded" (the manifest and
 * blobs are removed; meta.json stays, so a second apply or discard of the
 * same run gets a clear answer rather than "no such run").
 */
#define _GNU_SOURCE
#include "cli.h"
#include "sandbox/probe.h"
#include "sandbox/sandbox.h"
#include "supervise/approve.h"
#include "workspace/guard.h"
#include "workspace/snapshot.h"
#include "workspace/textdiff.h"
#include "workspace/workspace.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define DIFF_MAX_BYTES (64u << 20) /* larger contents are said to differ, not shown */
#define GUARD_MAX_BYTES (16u << 20)
#define SHORT_ID 12

struct hs_ws_session {
	int mode;
	char *project;
	char *runs_dir;
	char *command;
	char *policy_json;
	char started[40];
	struct hs_ws_baseline *base;
	uint64_t max_disk;
	struct hs_ws_snapshot *snap; /* the workspace is this copy (else an overlay) */
};

static void now_rfc3339(char *buf, size_t cap)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, cap - n, ".%06ldZ", ts.tv_nsec / 1000);
}

static void session_free(struct hs_ws_session *s)
{
	if (!s)
		return;
	free(s->project);
	free(s->runs_dir);
	free(s->command);
	free(s->policy_json);
	hs_ws_baseline_free(s->base);
	if (s->snap) {
		struct hs_error err;
		hs_error_clear(&err);
		char *dir = hs_xstrdup(s->snap->dir);
		if (hs_ws_snapshot_remove(s->snap, &err) < 0)
			hs_cli_error("warning: the workspace's snapshot copy %s is left behind (%s); "
				     "a later run removes it",
				     dir, err.msg);
		free(dir);
	}
	free(s);
}

/* Overlay or snapshot copy: 1 snapshot (*why says why), 0 overlay, -1 a
 * HARNESS_WORKSPACE_BACKEND that means neither. */
int hs_cli_workspace_backend(const char **why)
{
	const char *v = getenv("HARNESS_WORKSPACE_BACKEND");
	*why = "";
	if (v && !strcmp(v, "snapshot")) {
		*why = "HARNESS_WORKSPACE_BACKEND=snapshot";
		return 1;
	}
	if (v && !strcmp(v, "overlay"))
		return 0;
	if (v && *v && strcmp(v, "auto") != 0)
		return -1;
	if (hs_probe_overlay_userns())
		return 0;
	*why = "overlayfs cannot be mounted in a user namespace here";
	return 1;
}

static void human_size(uint64_t n, char *buf, size_t cap)
{
	/* Exact multiples as such (--max-disk 4M is "4 MiB"), else rounded
	 * down past ten of a unit. */
	if (n >= (1ull << 30) && (n % (1ull << 30) == 0 || n >= (10ull << 30)))
		snprintf(buf, cap, "%llu GiB", (unsigned long long)(n >> 30));
	else if (n >= (1ull << 20) && (n % (1ull << 20) == 0 || n >= (10ull << 20)))
		snprintf(buf, cap, "%llu MiB", (unsigned long long)(n >> 20));
	else if (n >= (1ull << 10) && (n % (1ull << 10) == 0 || n >= (10ull << 10)))
		snprintf(buf, cap, "%llu KiB", (unsigned long long)(n >> 10));
	else
		snprintf(buf, cap, "%llu bytes", (unsigned long long)n);
}

/*
 * The workspace as a snapshot copy (where the overlay cannot be had): the
 * project is copied under the runs dir (hidden from every sandbox, this
 * one included), bound read-write at its path. The copy records the host
 * entries it copies: that is the run's baseline for conflicts.
 */
static int snapshot_begin(struct hs_ws_session *s, struct hs_plan *plan, const char *why)
{
	const char *what = s->mode == HS_CLI_WS_REVIEW ? "review" : "ephemeral";
	struct hs_error err;
	hs_error_clear(&err);
	char *parent = hs_xasprintf("%s/.snapshots", s->runs_dir);
	if (hs_ws_snapshot_prepare(parent, &err) < 0 ||
	    hs_plan_hide_host_path(plan, s->runs_dir, &err) < 0) {
		hs_cli_error("%s: %s", what, err.msg);
		free(parent);
		return HS_EXIT_HARNESS;
	}
	hs_ws_snapshot_sweep(parent);
	struct hs_strv hidden = {0};
	hs_plan_workspace_hidden(plan, &hidden);
	struct hs_ws_snapshot_opts so = {.max_bytes = s->max_disk, .hidden = &hidden};
	if (s->mode == HS_CLI_WS_REVIEW) {
		hs_ws_baseline_free(s->base);
		so.host = s->base = hs_ws_baseline_new();
	}
	struct hs_ws_snapshot_stats st;
	char max[32];
	human_size(s->max_disk, max, sizeof(max));
	int r = hs_ws_snapshot_make(parent, s->project, &so, &s->snap, &st, &err);
	hs_strv_clear(&hidden);
	if (r < 0 && st.over_max)
		hs_cli_error("%s: the workspace would be a snapshot copy (%s), and %s: --max-disk "
			     "(%s) bounds the room the copy may take; raise it, or run without --%s",
			     what, why, err.msg, max, what);
	else if (r < 0)
		hs_cli_error("%s: cannot copy the project %s for the workspace: %s", what,
			     s->project, err.msg);
	if (r == 0 && hs_plan_workspace_use_snapshot(plan, s->snap->dir, &err) < 0) {
		hs_cli_error("%s: %s", what, err.msg);
		r = -1;
	}
	if (r < 0) {
		free(parent);
		return HS_EXIT_HARNESS;
	}
	char bytes[32], copied[32], how[96], avail[48] = "";
	human_size(st.bytes, bytes, sizeof(bytes));
	human_size(st.copied, copied, sizeof(copied));
	if (st.cloned && st.cloned == st.files)
		snprintf(how, sizeof(how), "cloned (reflink)");
	else if (st.cloned)
		snprintf(how, sizeof(how), "%llu files cloned (reflink), %s copied",
			 (unsigned long long)st.cloned, copied);
	else
		snprintf(how, sizeof(how), "copied (no reflink here)");
	struct statvfs vfs;
	if (statvfs(parent, &vfs) == 0) {
		char a[32];
		human_size((uint64_t)vfs.f_bavail * vfs.f_frsize, a, sizeof(a));
		snprintf(avail, sizeof(avail), ", %s free", a);
	}
	hs_cli_error("%s: the workspace is a snapshot copy (%s): %llu files, %s, %s in %llu ms",
		     what, why, (unsigned long long)st.files, bytes, how,
		     (unsigned long long)st.elapsed_ms);
	hs_cli_error("warning: %s: writes to the snapshot copy are not capped: --max-disk (%s) "
		     "bounded the room the copy takes%s, not what the command writes while it "
		     "runs, which can fill the filesystem of %s%s",
		     what, max, s->mode == HS_CLI_WS_REVIEW ? " and bounds what is staged" : "",
		     parent, avail);
	free(parent);
	return 0;
}

/* On the overlay, entries of another owner than the caller cannot be
 * written (the user namespace maps only the caller's ids, and overlayfs
 * refuses the copy-up with EOVERFLOW): say so before the command meets it. */
static void warn_foreign_owners(const struct hs_ws_session *s)
{
	struct hs_error err;
	hs_error_clear(&err);
	struct hs_ws_baseline *b = s->base ? NULL : hs_ws_baseline_take(s->project, &err);
	const struct hs_ws_baseline *base = s->base ? s->base : b;
	const char *path = NULL;
	uid_t uid = 0;
	gid_t gid = 0;
	size_t n = base ? hs_ws_baseline_foreign(base, &path, &uid, &gid) : 0;
	if (n)
		hs_cli_error("warning: %s: %zu entr%s of the project %s owned by another user or "
			     "group than yours (%s: uid %u, gid %u); the sandbox cannot map them, "
			     "so writing %s fails with EOVERFLOW (\"Value too large for defined "
			     "data type\"). chown %s to yourself, run with --direct, or with "
			     "HARNESS_WORKSPACE_BACKEND=snapshot (a copy, where they are yours)",
			     s->mode == HS_CLI_WS_REVIEW ? "review" : "ephemeral", n,
			     n == 1 ? "y" : "ies", n == 1 ? "is" : "are", path, (unsigned)uid,
			     (unsigned)gid, n == 1 ? "it" : "them", n == 1 ? "it" : "them");
	hs_ws_baseline_free(b);
}

void hs_cli_workspace_abort(struct hs_ws_session *s)
{
	session_free(s);
}

int hs_cli_workspace_begin(struct hs_plan *plan, const struct hs_cli_run *o,
			   const struct hs_policy *p, struct hs_ws_session **out)
{
	struct hs_error err;
	hs_error_clear(&err);
	struct hs_ws_session *s = hs_xcalloc(1, sizeof(*s));
	s->mode = o->workspace;
	s->project = hs_xstrdup(plan->workspace);
	s->runs_dir = hs_ws_runs_dir();
	s->policy_json = hs_policy_to_json(p);
	size_t len = 0;
	for (size_t i = 0; i < plan->argv.n; i++)
		len += strlen(plan->argv.v[i]) + 1;
	s->command = hs_xcalloc(len + 1, 1);
	for (size_t i = 0; i < plan->argv.n; i++) {
		if (i)
			strcat(s->command, " ");
		strcat(s->command, plan->argv.v[i]);
	}
	now_rfc3339(s->started, sizeof(s->started));
	s->max_disk = o->max_disk;
	const char *why;
	int snap = hs_cli_workspace_backend(&why);
	if (snap < 0) {
		hs_cli_error("HARNESS_WORKSPACE_BACKEND=%s: use overlay, snapshot or auto",
			     getenv("HARNESS_WORKSPACE_BACKEND"));
		session_free(s);
		return HS_EXIT_HARNESS;
	}
	if (s->mode == HS_CLI_WS_REVIEW) {
		/* Staged runs must never be reachable from a sandbox, this one
		 * included (its project could hold the state dir). */
		if (hs_mkdir_p(s->runs_dir, 0700, false) < 0 || hs_plan_hide_host_path(plan, s->runs_dir, &err) < 0) {
			hs_cli_error("--review: %s: %s", s->runs_dir,
				     err.msg[0] ? err.msg : strerror(errno));
			session_free(s);
			return HS_EXIT_HARNESS;
		}
		/* (the snapshot copy records the baseline as it copies) */
		s->base = snap ? NULL : hs_ws_baseline_take(s->project, &err);
		if (!snap && !s->base) {
			hs_cli_error("--review: cannot read the project %s: %s", s->project, err.msg);
			session_free(s);
			return HS_EXIT_HARNESS;
		}
	}
	if (snap && snapshot_begin(s, plan, why) != 0) {
		session_free(s);
		return HS_EXIT_HARNESS;
	}
	if (!snap)
		warn_foreign_owners(s);
	*out = s;
	return 0;
}

struct counts {
	size_t added, modified, deleted, renamed, mode, other;
};

static struct counts count_changes(const struct hs_ws_changes *ch)
{
	struct counts c = {0};
	for (size_t i = 0; i < ch->n; i++) {
		switch (ch->v[i].kind) {
		case HS_CHANGE_ADDED:
			c.added++;
			break;
		case HS_CHANGE_MODIFIED:
			c.modified++;
			break;
		case HS_CHANGE_DELETED:
			c.deleted++;
			break;
		case HS_CHANGE_RENAMED:
			c.renamed++;
			break;
		case HS_CHANGE_MODE:
			c.mode++;
			break;
		case HS_CHANGE_TYPE:
			c.other++;
			break;
		}
	}
	return c;
}

static char *describe_counts(const struct counts *c)
{
	char buf[256] = "";
	size_t n = 0;
	const struct {
		size_t v;
		const char *what;
	} parts[] = {{c->added, "added"},     {c->modified, "modified"}, {c->deleted, "deleted"},
		     {c->renamed, "renamed"}, {c->mode, "mode changed"}, {c->other, "retyped"}};
	for (size_t i = 0; i < HS_ARRAY_LEN(parts); i++)
		if (parts[i].v)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%zu %s", n ? ", " : "",
					      parts[i].v, parts[i].what);
	return hs_xstrdup(buf);
}

/* ---- the guard over a change set ---- */

/* The guard configured as the run's policy says (policy.json in the run
 * dir), or the built-in rules. */
static struct hs_guard *guard_for(const char *policy_json, struct hs_error *err)
{
	struct hs_policy p;
	hs_policy_init(&p);
	if (policy_json &&
	    hs_policy_load_buffer(&p, policy_json, strlen(policy_json), "policy.json", err) < 0) {
		hs_policy_free(&p);
		return NULL;
	}
	struct hs_guard *g = hs_guard_new(&p.guard, err);
	hs_policy_free(&p);
	return g;
}

static void load_side(const char *run_dir, const char *hash, uint64_t size, const char **data,
		      size_t *len, int *truncated, char **owned)
{
	*data = NULL;
	*len = 0;
	*truncated = 0;
	if (!hash || !hash[0])
		return;
	if (size > GUARD_MAX_BYTES) {
		*truncated = 1;
		return;
	}
	struct hs_error e;
	if (hs_ws_blob_read(run_dir, hash, GUARD_MAX_BYTES, owned, len, &e) == 0)
		*data = *owned;
}

/* Checks every change (or those paths selects); findings appended. */
static int guard_changes(const char *run_dir, const struct hs_guard *g,
			 const struct hs_ws_changes *ch, const bool *selected,
			 struct hs_guard_findings *out, struct hs_error *err)
{
	for (size_t i = 0; i < ch->n; i++) {
		if (selected && !selected[i])
			continue;
		const struct hs_ws_item *it = &ch->v[i];
		struct hs_change c = {.kind = it->kind, .path = it->path, .old_path = it->old_path,
				      .old_mode = it->old_mode, .new_mode = it->new_mode,
				      .old_size = it->old_size, .new_size = it->new_size,
				      .old_link = it->old_link, .new_link = it->new_link};
		char *o = NULL, *n = NULL;
		load_side(run_dir, it->old_hash, it->old_size, &c.old_data, &c.old_len,
			  &c.old_truncated, &o);
		load_side(run_dir, it->new_hash, it->new_size, &c.new_data, &c.new_len,
			  &c.new_truncated, &n);
		int r = hs_guard_check(g, &c, out, err);
		free(o);
		free(n);
		if (r < 0)
			return -1;
	}
	return 0;
}

static const char *verdict_name(const struct hs_guard_findings *f)
{
	int m = hs_guard_findings_max(f);
	return m < 0 ? "clean" : hs_guard_severity_name((enum hs_guard_severity)m);
}

static void print_findings(const struct hs_guard_findings *f, FILE *out)
{
	for (size_t i = 0; i < f->n; i++) {
		const struct hs_guard_finding *x = &f->v[i];
		if (x->line)
			fprintf(out, "  %-5s %s:%u  %s [%s]\n", hs_guard_severity_name(x->severity),
				x->path, x->line, x->message, x->rule_id);
		else
			fprintf(out, "  %-5s %s  %s [%s]\n", hs_guard_severity_name(x->severity),
				x->path, x->message, x->rule_id);
		if (x->excerpt)
			fprintf(out, "        | %s\n", x->excerpt);
	}
}

static json_t *findings_json(const struct hs_guard_findings *f)
{
	json_t *a = json_array();
	for (size_t i = 0; i < f->n; i++) {
		const struct hs_guard_finding *x = &f->v[i];
		json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:s}", "rule", x->rule_id, "severity",
				      hs_guard_severity_name(x->severity), "path", x->path, "line",
				      (int)x->line, "message", x->message);
		if (x->excerpt)
			json_object_set_new(o, "excerpt", json_string(x->excerpt));
		json_array_append_new(a, o);
	}
	return a;
}

/* ---- after the run ---- */

int hs_cli_workspace_end(struct hs_ws_session *s, int upper_fd, const char *run_id,
			 int exit_code, struct hs_run_audit *ra)
{
	struct hs_error err;
	hs_error_clear(&err);
	const char *what = s->mode == HS_CLI_WS_REVIEW ? "review" : "ephemeral";
	if (s->snap) {
		/* The copy, through the descriptor harness kept (pid 1 handed over
		 * one of the same directory). */
		if (upper_fd >= 0)
			close(upper_fd);
		upper_fd = fcntl(s->snap->fd, F_DUPFD_CLOEXEC, 0);
	}
	if (upper_fd < 0) {
		hs_cli_error("%s: the workspace's changes could not be read", what);
		session_free(s);
		return HS_EXIT_HARNESS;
	}
	struct hs_ws_changes ch;
	if ((s->snap ? hs_ws_collect_snapshot(upper_fd, s->snap->base, s->project, s->base, &ch,
					      &err)
		     : hs_ws_collect(upper_fd, s->project, s->base, &ch, &err)) < 0) {
		hs_cli_error("%s: cannot read what the command changed: %s%s", what, err.msg,
			     s->mode == HS_CLI_WS_REVIEW ? "; nothing was staged" : "");
		close(upper_fd);
		session_free(s);
		return HS_EXIT_HARNESS;
	}
	struct counts c = count_changes(&ch);
	char *desc = describe_counts(&c);
	char ignored[96] = "";
	if (ch.ignored)
		snprintf(ignored, sizeof(ignored), "; %zu entries that are not files, links or "
						   "directories ignored",
			 ch.ignored);
	int code = 0;
	json_t *meta = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "project", s->project, "files",
				 (json_int_t)ch.n, "added", (json_int_t)c.added, "modified",
				 (json_int_t)c.modified, "deleted", (json_int_t)c.deleted, "bytes",
				 (json_int_t)ch.new_bytes);
	if (s->mode == HS_CLI_WS_EPHEMERAL) {
		hs_cli_error("ephemeral: %zu change%s discarded%s%s%s%s", ch.n, ch.n == 1 ? "" : "s",
			     ch.n ? " (" : "", desc, ch.n ? ")" : "", ignored);
		if (hs_run_audit_event(ra, "workspace.discard", s->project, HS_OUTCOME_ALLOWED,
				       meta) < 0)
			code = HS_EXIT_HARNESS;
	} else if (ch.n && s->snap && ch.new_bytes > s->max_disk) {
		/* The overlay would have stopped the writes at --max-disk; the
		 * snapshot copy could not, so what is staged is bounded here. */
		char got[32], max[32];
		human_size(ch.new_bytes, got, sizeof(got));
		human_size(s->max_disk, max, sizeof(max));
		hs_cli_error("review: the changed files hold %s, more than --max-disk (%s); nothing "
			     "was staged",
			     got, max);
		json_object_set_new(meta, "reason", json_string("larger than --max-disk"));
		(void)hs_run_audit_event(ra, "workspace.discard", s->project, HS_OUTCOME_BLOCKED,
					 meta);
		code = HS_EXIT_HARNESS;
	} else if (ch.n == 0) {
		hs_cli_error("review: no changes; nothing was staged%s", ignored);
		if (hs_run_audit_event(ra, "workspace.stage", s->project, HS_OUTCOME_ALLOWED, meta) <
		    0)
			code = HS_EXIT_HARNESS;
	} else {
		char *run_dir = hs_xasprintf("%s/%s", s->runs_dir, run_id);
		struct hs_ws_meta m = {0};
		snprintf(m.id, sizeof(m.id), "%s", run_id);
		m.project = s->project;
		m.command = s->command;
		m.started = s->started;
		char ended[40];
		now_rfc3339(ended, sizeof(ended));
		m.ended = ended;
		m.exit_code = exit_code;
		m.state = "staged";
		m.files = ch.n;
		m.guard = "";
		struct hs_guard_findings f = {0};
		struct hs_guard *g = NULL;
		int r = hs_ws_stage(run_dir, &m, upper_fd, s->project, &ch, &err);
		char *pj = r == 0 ? hs_xasprintf("%s/policy.json", run_dir) : NULL;
		if (r == 0)
			r = hs_ws_write_file(pj, s->policy_json, strlen(s->policy_json), &err);
		if (r == 0 && !(g = guard_for(s->policy_json, &err)))
			r = -1;
		if (r == 0)
			r = guard_changes(run_dir, g, &ch, NULL, &f, &err);
		if (r == 0) {
			m.guard = (char *)verdict_name(&f);
			json_t *fj = findings_json(&f);
			char *fs = json_dumps(fj, JSON_INDENT(1));
			char *fp = hs_xasprintf("%s/guard.json", run_dir);
			r = fs ? hs_ws_write_file(fp, fs, strlen(fs), &err) : hs_err(&err, "out of memory");
			free(fp);
			free(fs);
			json_decref(fj);
		}
		if (r == 0)
			r = hs_ws_save_meta(run_dir, &m, &err);
		free(pj);
		hs_guard_free(g);
		if (r < 0) {
			hs_cli_error("review: cannot stage the changes in %s: %s; they are lost "
				     "(the real tree was not touched)",
				     run_dir, err.msg);
			code = HS_EXIT_HARNESS;
		} else {
			char sid[SHORT_ID + 1];
			snprintf(sid, sizeof(sid), "%s", run_id);
			hs_cli_error("review: run %s staged: %zu change%s (%s)%s; guard: %s", sid,
				     ch.n, ch.n == 1 ? "" : "s", desc, ignored, m.guard);
			if (f.n)
				print_findings(&f, stderr);
			fprintf(stderr,
				"harness: review: see them with 'harness diff %s', land them with "
				"'harness apply %s', drop them with 'harness discard %s'\n",
				sid, sid, sid);
			json_object_set_new(meta, "run", json_string(run_id));
			json_object_set_new(meta, "guard", json_string(m.guard));
			if (hs_run_audit_event(ra, "workspace.stage", s->project,
					       hs_guard_findings_max(&f) == HS_GUARD_BLOCK
						   ? HS_OUTCOME_FLAGGED
						   : HS_OUTCOME_ALLOWED,
					       meta) < 0)
				code = HS_EXIT_HARNESS;
		}
		hs_guard_findings_free(&f);
		free(run_dir);
	}
	json_decref(meta);
	free(desc);
	hs_ws_changes_free(&ch);
	close(upper_fd);
	session_free(s);
	return code;
}

/* ---- runs ---- */

static const char runs_usage[] =
	"Usage: harness runs [--all] [--json]\n"
	"\n"
	"Lists the runs --review staged, oldest first: id, when it started, state,\n"
	"files changed, the guard's verdict, the command. --all includes the runs\n"
	"already applied or discarded.\n";

struct run_row {
	struct hs_ws_meta m;
};

static int cmp_row(const void *a, const void *b)
{
	const struct run_row *x = a, *y = b;
	return strcmp(x->m.started ? x->m.started : "", y->m.started ? y->m.started : "");
}

int hs_cmd_runs(int argc, char **argv)
{
	bool json = false, all = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--all"))
			all = true;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(runs_usage, stdout);
			return 0;
		} else {
			hs_cli_error("runs: unknown argument '%s'\n%s", argv[i], runs_usage);
			return HS_EXIT_HARNESS;
		}
	}
	char *dir = hs_ws_runs_dir();
	struct run_row *rows = NULL;
	size_t n = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (strlen(e->d_name) != 32)
			continue;
		char *rd = hs_xasprintf("%s/%s", dir, e->d_name);
		struct hs_ws_meta m;
		struct hs_error err;
		if (hs_ws_load(rd, &m, NULL, &err) == 0 && (all || !strcmp(m.state, "staged"))) {
			rows = hs_xrealloc(rows, (n + 1) * sizeof(*rows));
			rows[n++].m = m;
		} else {
			hs_ws_meta_free(&m);
		}
		free(rd);
	}
	if (d)
		closedir(d);
	qsort(rows, n, sizeof(*rows), cmp_row);
	if (json) {
		json_t *a = json_array();
		for (size_t i = 0; i < n; i++) {
			const struct hs_ws_meta *m = &rows[i].m;
			json_array_append_new(
			    a, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:i, s:s}", "id", m->id,
					 "started", m->started ? m->started : "", "ended",
					 m->ended ? m->ended : "", "state", m->state, "project",
					 m->project, "files", (json_int_t)m->files, "guard",
					 m->guard ? m->guard : "", "exit", m->exit_code, "command",
					 m->command ? m->command : ""));
		}
		char *s = json_dumps(a, JSON_INDENT(1));
		puts(s);
		free(s);
		json_decref(a);
	} else {
		for (size_t i = 0; i < n; i++) {
			const struct hs_ws_meta *m = &rows[i].m;
			char started[20] = "";
			snprintf(started, sizeof(started), "%.19s", m->started ? m->started : "");
			for (char *t = strchr(started, 'T'); t; t = NULL)
				*t = ' ';
			printf("%.12s  %s  %-9s %5zu file%s  guard: %-5s  %s\n", m->id, started,
			       m->state, m->files, m->files == 1 ? " " : "s",
			       m->guard && m->guard[0] ? m->guard : "-", m->command ? m->command : "");
		}
	}
	for (size_t i = 0; i < n; i++)
		hs_ws_meta_free(&rows[i].m);
	free(rows);
	free(dir);
	return 0;
}

/* ---- loading a run for diff / apply / discard ---- */

struct loaded {
	char *run_dir;
	struct hs_ws_meta m;
	struct hs_ws_changes ch;
};

static void loaded_free(struct loaded *l)
{
	free(l->run_dir);
	hs_ws_meta_free(&l->m);
	hs_ws_changes_free(&l->ch);
}

/* Finds and loads a staged run; prints the error. */
static int load_run(const char *cmd, const char *id, struct loaded *l)
{
	struct hs_error err;
	hs_error_clear(&err);
	memset(l, 0, sizeof(*l));
	char *dir = hs_ws_runs_dir();
	int r = hs_ws_find(dir, id, &l->run_dir, &err);
	free(dir);
	if (r == 0)
		r = hs_ws_load(l->run_dir, &l->m, NULL, &err);
	if (r == 0 && strcmp(l->m.state, "staged") != 0) {
		hs_cli_error("%s: run %.12s was already %s; nothing is staged for it", cmd, l->m.id,
			     l->m.state);
		loaded_free(l);
		return HS_EXIT_HARNESS;
	}
	if (r == 0) {
		hs_ws_meta_free(&l->m);
		r = hs_ws_load(l->run_dir, &l->m, &l->ch, &err);
	}
	if (r < 0) {
		hs_cli_error("%s: %s", cmd, err.msg);
		loaded_free(l);
		return HS_EXIT_HARNESS;
	}
	return 0;
}

/* Does path fall under one of the PATHS arguments (relative to the
 * project; "." or none selects everything)? */
static bool selected(const char *path, char **paths, int npaths)
{
	if (npaths == 0)
		return true;
	for (int i = 0; i < npaths; i++) {
		const char *p = paths[i];
		while (p[0] == '.' && p[1] == '/')
			p += 2;
		size_t n = strlen(p);
		while (n > 1 && p[n - 1] == '/')
			n--;
		if (!strcmp(p, ".") || (strncmp(path, p, n) == 0 && (path[n] == '\0' || path[n] == '/')))
			return true;
	}
	return false;
}

static bool item_selected(const struct hs_ws_item *it, char **paths, int npaths)
{
	return selected(it->path, paths, npaths) ||
	       (it->old_path && selected(it->old_path, paths, npaths));
}

/* ---- diff ---- */

static const char diff_usage[] =
	"Usage: harness diff RUN [--stat] [PATH...]\n"
	"\n"
	"Shows what a staged run changed, as a unified diff against the project as\n"
	"it was when the run ended (git's format: new, deleted, renamed files, mode\n"
	"changes, symlinks, binary files). --stat: one line per file and a total.\n"
	"PATHs (relative to the project) limit it to those files and directories.\n";

static int emit_stdout(void *ctx, const char *s, size_t len)
{
	(void)ctx;
	return fwrite(s, 1, len, stdout) == len ? 0 : -1;
}

static void print_mode_line(const char *what, mode_t mode)
{
	printf("%s %06o\n", what,
	       S_ISLNK(mode) ? 0120000u : (unsigned)(0100000u | ((mode & 0111) ? 0755u : 0644u)));
}

/* The content of one side for the diff: file bytes, or a symlink's target
 * (git shows a link as its target without a final newline). */
static int side(const struct loaded *l, const char *hash, const char *link, uint64_t size,
		char **data, size_t *len, bool *too_big)
{
	*data = NULL;
	*len = 0;
	*too_big = false;
	if (link) {
		*data = hs_xstrdup(link);
		*len = strlen(link);
		return 0;
	}
	if (!hash || !hash[0])
		return 0;
	if (size > DIFF_MAX_BYTES) {
		*too_big = true;
		return 0;
	}
	struct hs_error err;
	if (hs_ws_blob_read(l->run_dir, hash, DIFF_MAX_BYTES, data, len, &err) < 0) {
		hs_cli_error("diff: %s", err.msg);
		return -1;
	}
	return 0;
}

static int diff_one(const struct loaded *l, const struct hs_ws_item *it, bool stat,
		    size_t *adds, size_t *dels)
{
	const char *a = it->old_path ? it->old_path : it->path;
	const char *b = it->path;
	if (S_ISDIR(it->new_mode) || (it->kind == HS_CHANGE_DELETED && S_ISDIR(it->old_mode))) {
		if (!stat && it->kind != HS_CHANGE_MODE && it->kind != HS_CHANGE_ADDED &&
		    it->kind != HS_CHANGE_DELETED)
			return 0;
		if (!stat && it->kind == HS_CHANGE_MODE)
			printf("diff --git a/%s/ b/%s/\nold mode %06o\nnew mode %06o\n", a, b,
			       (unsigned)it->old_mode & 07777, (unsigned)it->new_mode & 07777);
		return 0; /* git tracks no directories: their files say it all */
	}
	bool old_present = it->kind != HS_CHANGE_ADDED, new_present = it->kind != HS_CHANGE_DELETED;
	char *od = NULL, *nd = NULL;
	size_t ol = 0, nl = 0;
	bool obig = false, nbig = false;
	if ((old_present && side(l, it->old_hash, it->old_link, it->old_size, &od, &ol, &obig) < 0) ||
	    (new_present && side(l, it->new_hash, it->new_link, it->new_size, &nd, &nl, &nbig) < 0)) {
		free(od);
		free(nd);
		return -1;
	}
	bool binary = obig || nbig || (od && hs_textdiff_is_binary(od, ol)) ||
		      (nd && hs_textdiff_is_binary(nd, nl));
	struct hs_textdiff_stats st = {0};
	int r = 0;
	if (stat) {
		if (!binary)
			r = hs_textdiff(od ? od : "", ol, nd ? nd : "", nl, 3, NULL, NULL, &st);
		if (r == HS_TEXTDIFF_TOO_BIG || binary)
			printf(" %s | Bin\n", b);
		else
			printf(" %s | %zu %s%s\n", b, st.added + st.removed,
			       st.added ? "+" : "", st.removed ? "-" : "");
		*adds += st.added;
		*dels += st.removed;
		free(od);
		free(nd);
		return r == HS_TEXTDIFF_ERROR ? -1 : 0;
	}
	printf("diff --git a/%s b/%s\n", a, b);
	if (it->kind == HS_CHANGE_ADDED)
		print_mode_line("new file mode", it->new_mode);
	else if (it->kind == HS_CHANGE_DELETED)
		print_mode_line("deleted file mode", it->old_mode);
	else if ((it->old_mode & 0111) != (it->new_mode & 0111) ||
		 (S_ISLNK(it->old_mode) != S_ISLNK(it->new_mode))) {
		print_mode_line("old mode", it->old_mode);
		print_mode_line("new mode", it->new_mode);
	}
	if (it->kind == HS_CHANGE_RENAMED)
		printf("similarity index 100%%\nrename from %s\nrename to %s\n", a, b);
	if (it->conflict)
		printf("# harness: %s\n", it->conflict);
	bool same = ol == nl && (ol == 0 || (od && nd && memcmp(od, nd, ol) == 0));
	if (!same || (!old_present || !new_present)) {
		if (binary) {
			printf("Binary files %s%s and %s%s differ\n", old_present ? "a/" : "",
			       old_present ? a : "/dev/null", new_present ? "b/" : "",
			       new_present ? b : "/dev/null");
		} else if (ol || nl) {
			printf("--- %s%s\n+++ %s%s\n", old_present ? "a/" : "",
			       old_present ? a : "/dev/null", new_present ? "b/" : "",
			       new_present ? b : "/dev/null");
			fflush(stdout);
			r = hs_textdiff(od ? od : "", ol, nd ? nd : "", nl, 3, emit_stdout, NULL, &st);
			if (r == HS_TEXTDIFF_TOO_BIG)
				printf("# harness: the files differ; too many changes to show a "
				       "line diff\n");
		}
	}
	free(od);
	free(nd);
	return r == HS_TEXTDIFF_ERROR ? -1 : 0;
}

int hs_cmd_diff(int argc, char **argv)
{
	bool stat = false;
	const char *id = NULL;
	char **paths = hs_xcalloc((size_t)argc + 1, sizeof(*paths));
	int npaths = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--stat"))
			stat = true;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(diff_usage, stdout);
			free(paths);
			return 0;
		} else if (!strcmp(argv[i], "--")) {
			for (i++; i < argc; i++)
				paths[npaths++] = argv[i];
		} else if (argv[i][0] == '-') {
			hs_cli_error("diff: unknown option '%s'\n%s", argv[i], diff_usage);
			free(paths);
			return HS_EXIT_HARNESS;
		} else if (!id)
			id = argv[i];
		else
			paths[npaths++] = argv[i];
	}
	if (!id) {
		hs_cli_error("diff: which run? ('harness runs' lists them)\n%s", diff_usage);
		free(paths);
		return HS_EXIT_HARNESS;
	}
	struct loaded l;
	int code = load_run("diff", id, &l);
	if (code) {
		free(paths);
		return code;
	}
	size_t adds = 0, dels = 0, files = 0;
	for (size_t i = 0; i < l.ch.n && code == 0; i++) {
		const struct hs_ws_item *it = &l.ch.v[i];
		if (!item_selected(it, paths, npaths))
			continue;
		if (!S_ISDIR(it->new_mode) && !(it->kind == HS_CHANGE_DELETED && S_ISDIR(it->old_mode)))
			files++;
		if (diff_one(&l, it, stat, &adds, &dels) < 0)
			code = HS_EXIT_HARNESS;
	}
	if (stat && code == 0)
		printf(" %zu file%s changed, %zu insertion%s(+), %zu deletion%s(-)\n", files,
		       files == 1 ? "" : "s", adds, adds == 1 ? "" : "s", dels, dels == 1 ? "" : "s");
	loaded_free(&l);
	free(paths);
	return code;
}

/* ---- apply ---- */

static const char apply_usage[] =
	"Usage: harness apply RUN [--force] [--approver CMD] [--audit SPEC] [PATH...]\n"
	"\n"
	"Writes a staged run's changes into the project, each file atomically, after\n"
	"the guard checks them again. A file that changed in the real tree since the\n"
	"run started is refused (--force writes it anyway). Findings of severity\n"
	"block need a human's yes: on this terminal, or from --approver CMD (as for\n"
	"commands; see docs/commands.md). Every applied path is recorded in the audit\n"
	"log. PATHs limit it to those files and directories.\n"
	"Exit status: 0 all applied, 1 some refused (conflicts; the rest applied),\n"
	"2 not applied (the guard's block findings were not approved), 125 error.\n";

struct apply_wait {
	bool done;
	struct hs_approval_decision d;
};

static void apply_decided(void *ctx, const struct hs_approval_request *rq,
			  const struct hs_approval_decision *d)
{
	(void)rq;
	struct apply_wait *w = ctx;
	w->d = *d;
	w->done = true;
}

/* Asks for approval of the block findings; true when approved. */
static bool approve_findings(const struct loaded *l, const struct hs_guard_findings *f,
			     const char *approver, char *by, size_t bylen)
{
	char summary[512] = "";
	size_t n = 0, blocks = 0;
	for (size_t i = 0; i < f->n; i++) {
		if (f->v[i].severity != HS_GUARD_BLOCK)
			continue;
		blocks++;
		if (n < sizeof(summary) - 80)
			n += (size_t)snprintf(summary + n, sizeof(summary) - n, "%s%s in %s",
					      n ? "; " : "", f->v[i].rule_id, f->v[i].path);
	}
	char *command = hs_xasprintf("apply run %.12s to %s (%zu block finding%s: %s)", l->m.id,
				     l->m.project, blocks, blocks == 1 ? "" : "s", summary);
	struct event_base *base = event_base_new();
	struct apply_wait w = {0};
	struct hs_approval_config cfg = {.approver = approver, .tty = true,
					 .timeout_ms = 5 * 60 * 1000, .max_pending = 1,
					 .run_id = l->m.id, .agent_id = ""};
	struct hs_approvals *a = base ? hs_approvals_new(base, &cfg, apply_decided, &w) : NULL;
	char *const argv[] = {"harness", "apply", (char *)l->m.id, NULL};
	struct hs_approval_request rq = {.notify_fd = -1, .pid = getpid(), .path = "harness apply",
					 .argv = argv, .argc = 3, .cwd = l->m.project,
					 .command = command, .rule_id = "guard",
					 .rule_origin = "the review guard",
					 .reason = "the staged changes have findings of severity block"};
	bool ok = false;
	if (a) {
		struct hs_approval_decision now;
		if (hs_approvals_submit(a, &rq, &now) == 1) {
			while (!w.done && event_base_loop(base, EVLOOP_ONCE) == 0)
				;
		} else {
			w.d = now;
			w.done = true;
		}
		ok = w.done && w.d.allow;
		snprintf(by, bylen, "%s", w.done ? w.d.by : "none");
	}
	hs_approvals_free(a);
	if (base)
		event_base_free(base);
	free(command);
	return ok;
}

static void mark_applied(const char *run_dir, const char *path)
{
	char *p = hs_xasprintf("%s/applied", run_dir);
	FILE *f = fopen(p, "ae");
	if (f) {
		fprintf(f, "%s\n", path);
		fclose(f);
	}
	free(p);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Which changes an earlier, partial apply already landed (the "applied"
 * file, one path a line): done[i] for each change. */
static bool *applied_set(const char *run_dir, const struct hs_ws_changes *ch)
{
	bool *done = hs_xcalloc(ch->n + 1, sizeof(*done));
	char *p = hs_xasprintf("%s/applied", run_dir);
	FILE *f = fopen(p, "re");
	free(p);
	if (!f)
		return done;
	struct hs_strv lines = {0};
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			line[n - 1] = '\0';
		hs_strv_push(&lines, line);
	}
	free(line);
	fclose(f);
	if (lines.n)
		qsort(lines.v, lines.n, sizeof(*lines.v), cmp_str);
	for (size_t i = 0; i < ch->n && lines.n; i++) {
		const char *key = ch->v[i].path;
		done[i] = bsearch(&key, lines.v, lines.n, sizeof(*lines.v), cmp_str) != NULL;
	}
	hs_strv_clear(&lines);
	return done;
}

/* Drops the staged data of an ended run (keeps meta.json). */
static void retire(const struct loaded *l, const char *state)
{
	struct hs_ws_meta m = l->m;
	m.state = (char *)state;
	struct hs_error err;
	hs_ws_save_meta(l->run_dir, &m, &err);
	char *blobs = hs_xasprintf("%s/blobs", l->run_dir);
	DIR *d = opendir(blobs);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			char *p = hs_xasprintf("%s/%s", blobs, e->d_name);
			unlink(p);
			free(p);
		}
	if (d)
		closedir(d);
	rmdir(blobs);
	free(blobs);
	static const char *const files[] = {"changes.json", "applied"};
	for (size_t i = 0; i < HS_ARRAY_LEN(files); i++) {
		char *p = hs_xasprintf("%s/%s", l->run_dir, files[i]);
		unlink(p);
		free(p);
	}
}

static struct hs_audit *open_audit(const struct hs_strv *specs, const char *run_id)
{
	struct hs_audit *a = NULL;
	struct hs_error err;
	hs_error_clear(&err);
	if (hs_audit_open(&a, specs, NULL, 0, false, run_id, "", &err) < 0) {
		hs_cli_error("audit: %s; nothing was done (choose another store with --audit)",
			     err.msg);
		return NULL;
	}
	return a;
}

static int record(struct hs_audit *a, const char *action, const char *target,
		  enum hs_audit_outcome o, json_t *meta, const char *by)
{
	struct hs_error err;
	hs_error_clear(&err);
	struct hs_audit_event ev = {.action_type = action, .target = target, .outcome = o,
				    .metadata = meta, .approved_by = by};
	if (hs_audit_write(a, &ev, &err) < 0) {
		hs_cli_error("audit: cannot record %s %s: %s; stopping", action, target, err.msg);
		return -1;
	}
	return 0;
}

int hs_cmd_apply(int argc, char **argv)
{
	bool force = false;
	const char *id = NULL, *approver = NULL;
	struct hs_strv specs = {0};
	char **paths = hs_xcalloc((size_t)argc + 1, sizeof(*paths));
	int npaths = 0, code = 0;
	for (int i = 1; i < argc && code == 0; i++) {
		if (!strcmp(argv[i], "--force"))
			force = true;
		else if (!strcmp(argv[i], "--approver") && i + 1 < argc)
			approver = argv[++i];
		else if (!strcmp(argv[i], "--audit") && i + 1 < argc) {
			struct hs_error err;
			if (hs_audit_check_spec(argv[++i], &err) < 0) {
				hs_cli_error("apply: --audit %s: %s", argv[i], err.msg);
				code = HS_EXIT_HARNESS;
			}
			hs_strv_push(&specs, argv[i]);
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(apply_usage, stdout);
			code = -1;
		} else if (argv[i][0] == '-') {
			hs_cli_error("apply: unknown option '%s'\n%s", argv[i], apply_usage);
			code = HS_EXIT_HARNESS;
		} else if (!id)
			id = argv[i];
		else
			paths[npaths++] = argv[i];
	}
	if (code == 0 && !id) {
		hs_cli_error("apply: which run? ('harness runs' lists them)\n%s", apply_usage);
		code = HS_EXIT_HARNESS;
	}
	struct loaded l;
	if (code == 0)
		code = load_run("apply", id, &l);
	if (code) {
		free(paths);
		hs_strv_clear(&specs);
		return code < 0 ? 0 : code;
	}
	struct stat st;
	if (stat(l.m.project, &st) < 0 || !S_ISDIR(st.st_mode)) {
		hs_cli_error("apply: the project %s is gone (%s); nothing was applied", l.m.project,
			     strerror(errno ? errno : ENOTDIR));
		loaded_free(&l);
		free(paths);
		hs_strv_clear(&specs);
		return HS_EXIT_HARNESS;
	}
	bool *sel = hs_xcalloc(l.ch.n + 1, sizeof(*sel));
	bool *done = applied_set(l.run_dir, &l.ch);
	for (size_t i = 0; i < l.ch.n; i++)
		sel[i] = item_selected(&l.ch.v[i], paths, npaths) && !done[i];
	/* The guard again, as the run's policy configured it. */
	struct hs_error err;
	hs_error_clear(&err);
	char *pj_path = hs_xasprintf("%s/policy.json", l.run_dir);
	char *pj = NULL;
	FILE *pf = fopen(pj_path, "re");
	if (pf) {
		size_t cap = 0;
		ssize_t n = getdelim(&pj, &cap, '\0', pf);
		if (n < 0) {
			free(pj);
			pj = NULL;
		}
		fclose(pf);
	}
	free(pj_path);
	struct hs_guard *g = guard_for(pj, &err);
	free(pj);
	struct hs_guard_findings f = {0};
	if (!g || guard_changes(l.run_dir, g, &l.ch, sel, &f, &err) < 0) {
		hs_cli_error("apply: the guard could not check the changes: %s; nothing was applied",
			     err.msg);
		hs_guard_free(g);
		hs_guard_findings_free(&f);
		free(sel);
		free(done);
		loaded_free(&l);
		free(paths);
		hs_strv_clear(&specs);
		return HS_EXIT_HARNESS;
	}
	hs_guard_free(g);
	struct hs_audit *a = open_audit(&specs, l.m.id);
	hs_strv_clear(&specs);
	if (!a) {
		hs_guard_findings_free(&f);
		free(sel);
		free(done);
		loaded_free(&l);
		free(paths);
		return HS_EXIT_HARNESS;
	}
	char by[160] = "";
	if (f.n) {
		fprintf(stderr, "harness: apply: the guard found:\n");
		print_findings(&f, stderr);
	}
	json_t *gm = json_pack("{s:o}", "findings", findings_json(&f));
	if (hs_guard_findings_max(&f) == HS_GUARD_BLOCK) {
		bool ok = approve_findings(&l, &f, approver, by, sizeof(by));
		if (record(a, "workspace.approval", l.m.project,
			   ok ? HS_OUTCOME_APPROVED : HS_OUTCOME_DENIED, gm, by) < 0)
			ok = false, code = HS_EXIT_HARNESS;
		if (!ok) {
			if (code == 0) {
				hs_cli_error("apply: not applied: the guard's block findings were not "
					     "approved (%s); review them with 'harness diff %.12s', "
					     "or drop the run with 'harness discard %.12s'",
					     by[0] ? by : "nobody to ask", l.m.id, l.m.id);
				code = 2;
			}
			json_decref(gm);
			hs_guard_findings_free(&f);
			hs_audit_close(a);
			free(sel);
			free(done);
			loaded_free(&l);
			free(paths);
			return code;
		}
	}
	json_decref(gm);
	hs_guard_findings_free(&f);
	/* Deletions deepest first (a directory after what it held), then the
	 * rest in path order (a directory before what it holds). */
	size_t applied = 0, refused = 0;
	for (int pass = 0; pass < 2 && code == 0; pass++) {
		for (size_t k = 0; k < l.ch.n && code == 0; k++) {
			size_t i = pass == 0 ? l.ch.n - 1 - k : k;
			const struct hs_ws_item *it = &l.ch.v[i];
			if (!sel[i] || (it->kind == HS_CHANGE_DELETED) != (pass == 0))
				continue;
			char why[600];
			hs_error_clear(&err);
			int r = hs_ws_apply_one(l.run_dir, l.m.project, it, force, why, sizeof(why),
						&err);
			json_t *meta = json_pack("{s:s, s:s}", "run", l.m.id, "change",
						 it->kind == HS_CHANGE_ADDED      ? "added"
						 : it->kind == HS_CHANGE_MODIFIED ? "modified"
						 : it->kind == HS_CHANGE_DELETED  ? "deleted"
						 : it->kind == HS_CHANGE_RENAMED  ? "renamed"
						 : it->kind == HS_CHANGE_MODE	  ? "mode"
										  : "type");
			if (it->old_path)
				json_object_set_new(meta, "from", json_string(it->old_path));
			char *target = hs_xasprintf("%s/%s", l.m.project, it->path);
			if (r == 0) {
				applied++;
				done[i] = true;
				mark_applied(l.run_dir, it->path);
				if (force && it->conflict)
					json_object_set_new(meta, "forced", json_string(it->conflict));
				if (record(a, "workspace.apply", target,
					   by[0] ? HS_OUTCOME_APPROVED : HS_OUTCOME_ALLOWED, meta,
					   by[0] ? by : NULL) < 0)
					code = HS_EXIT_HARNESS;
			} else if (r == 1) {
				refused++;
				hs_cli_error("apply: refused %s: %s (apply it anyway with --force, "
					     "or leave it out)",
					     it->path, why);
				json_object_set_new(meta, "reason", json_string(why));
				if (record(a, "workspace.apply", target, HS_OUTCOME_BLOCKED, meta,
					   NULL) < 0)
					code = HS_EXIT_HARNESS;
			} else {
				hs_cli_error("apply: %s: %s; stopped (%zu change%s applied before)",
					     it->path, err.msg, applied, applied == 1 ? "" : "s");
				code = HS_EXIT_HARNESS;
			}
			json_decref(meta);
			free(target);
		}
	}
	bool all_done = true;
	for (size_t i = 0; i < l.ch.n; i++)
		all_done = all_done && done[i];
	if (applied && hs_ws_apply_sync(l.m.project, &err) < 0) {
		hs_cli_error("apply: %s", err.msg);
		code = HS_EXIT_HARNESS;
	}
	if (code == 0 && all_done)
		retire(&l, "applied");
	if (code == 0) {
		fprintf(stderr, "harness: apply: run %.12s: %zu change%s applied to %s%s", l.m.id,
			applied, applied == 1 ? "" : "s", l.m.project,
			refused ? "" : (all_done ? "; the run is done\n" : "\n"));
		if (refused)
			fprintf(stderr, "; %zu refused (see above)\n", refused);
		code = refused ? 1 : 0;
	}
	hs_audit_close(a);
	free(sel);
	free(done);
	loaded_free(&l);
	free(paths);
	return code;
}

/* ---- discard ---- */

int hs_cmd_discard(int argc, char **argv)
{
	if (argc != 2 || argv[1][0] == '-') {
		if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
			puts("Usage: harness discard RUN\n\nDrops a staged run's changes; the real "
			     "tree is not touched.");
			return 0;
		}
		hs_cli_error("discard: usage: harness discard RUN ('harness runs' lists them)");
		return HS_EXIT_HARNESS;
	}
	struct loaded l;
	int code = load_run("discard", argv[1], &l);
	if (code)
		return code;
	struct hs_strv none = {0};
	struct hs_audit *a = open_audit(&none, l.m.id);
	if (!a) {
		loaded_free(&l);
		return HS_EXIT_HARNESS;
	}
	json_t *meta = json_pack("{s:s, s:I}", "run", l.m.id, "files", (json_int_t)l.ch.n);
	if (record(a, "workspace.discard", l.m.project, HS_OUTCOME_ALLOWED, meta, NULL) < 0)
		code = HS_EXIT_HARNESS;
	json_decref(meta);
	if (code == 0) {
		retire(&l, "discarded");
		fprintf(stderr, "harness: discard: run %.12s dropped (%zu change%s); %s untouched\n",
			l.m.id, l.ch.n, l.ch.n == 1 ? "" : "s", l.m.project);
	}
	hs_audit_close(a);
	loaded_free(&l);
	return code;
}
