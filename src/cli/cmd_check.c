/*
 * cmd_check.c: `harness check [--json]`. Runs the kernel probe and prints
 * one row per sandbox layer (name, status, note), then says whether
 * `harness run` can start here. Exit 0 when every layer run requires is
 * available (user, mount, pid and net namespaces, Landlock, seccomp), 1
 * otherwise, with what is missing and how to fix it. The `workspace` row
 * says whether --review / --ephemeral get an overlay or a snapshot copy,
 * and whether the copy would be cloned (reflink) here.
 */
#define _GNU_SOURCE
#include "cli.h"

#include "common/common.h"
#include "sandbox/fence.h"
#include "sandbox/probe.h"
#include "workspace/snapshot.h"
#include "workspace/workspace.h"

#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK_MAX_ROWS 16

struct check_row {
	const char *name;
	bool ok;
	bool required;	 /* `harness run` refuses to start without it */
	char status[16]; /* "yes", "no", "ABI 7", "v2", ... */
	char note[320];	 /* what it gives, or why not and the remedy */
};

struct check_report {
	struct check_row rows[CHECK_MAX_ROWS];
	size_t n;
	/* the workspace of --review / --ephemeral */
	const char *backend; /* "overlay" or "snapshot" */
	bool reflink;        /* a snapshot copy would clone the files of the cwd */
	char fs[32];         /* the cwd's filesystem */
};

static const char usage_text[] =
    "usage: harness check [--json]\n"
    "\n"
    "Probes which sandbox layers this kernel and this user can use and prints\n"
    "one row per layer. Exits 0 when everything `harness run` needs is there\n"
    "(user, mount, pid and network namespaces, Landlock, seccomp), else 1 and\n"
    "lists what is missing with the remedy.\n"
    "\n"
    "  --json   print the same fields as one JSON object\n"
    "  --help   this text\n";

static struct check_row *add_row(struct check_report *rep, const char *name, bool ok, bool required,
				 const char *status)
{
	struct check_row *row = &rep->rows[rep->n++];
	row->name = name;
	row->ok = ok;
	row->required = required;
	snprintf(row->status, sizeof(row->status), "%s", status ? status : (ok ? "yes" : "no"));
	return row;
}

static void set_note(struct check_row *row, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_note(struct check_row *row, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(row->note, sizeof(row->note), fmt, ap);
	va_end(ap);
}

static void add_namespace_rows(struct check_report *rep, const struct hs_probe *p)
{
	struct check_row *row = add_row(rep, "user namespace", p->userns, true, NULL);
	set_note(row, "%s", p->userns ? "own uid mapped to itself" : p->userns_why);
	static const struct {
		const char *name, *config;
		bool required;
		size_t offset;
	} ns[] = {
	    {"mount namespace", "CONFIG_NAMESPACES", true, offsetof(struct hs_probe, mountns)},
	    {"pid namespace", "CONFIG_PID_NS", true, offsetof(struct hs_probe, pidns)},
	    {"network namespace", "CONFIG_NET_NS", true, offsetof(struct hs_probe, netns)},
	    {"ipc namespace", "CONFIG_IPC_NS", false, offsetof(struct hs_probe, ipcns)},
	    {"uts namespace", "CONFIG_UTS_NS", false, offsetof(struct hs_probe, utsns)},
	    {"cgroup namespace", "CONFIG_CGROUPS", false, offsetof(struct hs_probe, cgroupns)},
	};
	for (size_t i = 0; i < HS_ARRAY_LEN(ns); i++) {
		bool ok = *(const bool *)((const char *)p + ns[i].offset);
		row = add_row(rep, ns[i].name, ok, ns[i].required, NULL);
		if (ok)
			set_note(row, "created inside a new user namespace");
		else if (!p->userns)
			set_note(row, "needs a working user namespace");
		else
			set_note(row, "refused inside a user namespace; kernel needs %s",
				 ns[i].config);
	}
}

static void add_landlock_row(struct check_report *rep, const struct hs_probe *p)
{
	char status[16];
	snprintf(status, sizeof(status), "ABI %d", p->landlock_abi);
	struct check_row *row =
	    add_row(rep, "landlock", p->landlock_abi > 0, true, p->landlock_abi ? status : "no");
	int abi = p->landlock_abi;
	if (abi <= 0) {
		set_note(row, "needs Linux >= 5.13 with CONFIG_SECURITY_LANDLOCK and 'landlock' in "
			      "the lsm= boot list; or run with --best-effort to go without it");
		return;
	}
	set_note(row, "filesystem%s%s%s%s%s", abi >= 2 ? ", cross-dir rename" : "",
		 abi >= 3 ? ", truncate" : "", abi >= 4 ? ", TCP bind/connect" : "",
		 abi >= 5 ? ", device ioctls" : "",
		 abi >= 6 ? ", signal + abstract socket scoping" : "");
}

static void add_seccomp_rows(struct check_report *rep, const struct hs_probe *p)
{
	size_t n = 0;
	while (hs_seccomp_denied_names[n])
		n++;
	struct check_row *row = add_row(rep, "seccomp", p->seccomp, true, NULL);
	if (p->seccomp)
		set_note(row,
			 "deny list: %zu syscalls, plus clone/ioctl/personality argument rules", n);
	else
		set_note(row, "needs CONFIG_SECCOMP_FILTER and Linux >= 4.14 (KILL_PROCESS)");
	row = add_row(rep, "seccomp notify", p->seccomp_notify, false, NULL);
	set_note(row, "%s",
		 p->seccomp_notify ? "exec interception available"
				   : "no exec interception; needs Linux >= 5.0");
}

static void add_other_rows(struct check_report *rep, const struct hs_probe *p)
{
	struct check_row *row = add_row(rep, "pidfd", p->pidfd, false, NULL);
	set_note(row, "%s", p->pidfd ? "race-free child tracking" : "needs Linux >= 5.3");

	row = add_row(rep, "cgroups", p->cgroup_delegated, false, p->cgroup_kind);
	if (p->cgroup_delegated)
		set_note(row, "memory + pids limits in %s", p->cgroup_path);
	else
		set_note(row, "no writable cgroup with memory + pids: limits fall back to rlimits; "
			      "try: systemd-run --user --scope -p Delegate=yes harness run ...");

	row = add_row(rep, "overlayfs in userns", p->overlay_userns, false, NULL);
	if (p->overlay_userns)
		set_note(row, "workspace overlay available: run --review / --ephemeral");
	else if (p->userns)
		set_note(row, "no workspace overlay (needs Linux >= 6.6: overlayfs in a user "
			      "namespace with a tmpfs upper layer); --review / --ephemeral use a "
			      "snapshot copy");
	else
		set_note(row, "no workspace overlay: needs a working user namespace");
}

/* Which workspace --review / --ephemeral get here (cmd_review.c decides
 * the same way), and whether a snapshot copy would clone the cwd's files. */
static void add_workspace_row(struct check_report *rep, const struct hs_probe *p)
{
	const char *env = getenv("HARNESS_WORKSPACE_BACKEND");
	bool forced = env && !strcmp(env, "snapshot");
	bool overlay = env && !strcmp(env, "overlay") ? true : p->overlay_userns && !forced;
	rep->backend = overlay ? "overlay" : "snapshot";
	char cwd[PATH_MAX] = ".", why[256] = "";
	if (!getcwd(cwd, sizeof(cwd)))
		snprintf(cwd, sizeof(cwd), ".");
	char *runs = hs_ws_runs_dir();
	char *parent = hs_xasprintf("%s/.snapshots", runs);
	rep->reflink = hs_ws_snapshot_reflink(parent, cwd, rep->fs, sizeof(rep->fs), why,
					      sizeof(why)) == 1;
	struct check_row *row = add_row(rep, "workspace", p->userns, false, rep->backend);
	if (!p->userns)
		set_note(row, "no --review / --ephemeral: needs a working user namespace");
	else if (overlay)
		set_note(row, "overlay, writes capped by --max-disk; fallback: a snapshot copy, "
			      "reflink %s here (%s)",
			 rep->reflink ? "yes" : "no", rep->fs[0] ? rep->fs : "?");
	else if (rep->reflink)
		set_note(row, "snapshot copy%s, reflink yes (%s); writes are not capped by "
			      "--max-disk (it bounds what the copy takes)",
			 forced ? " (HARNESS_WORKSPACE_BACKEND)" : "", rep->fs[0] ? rep->fs : "?");
	else
		set_note(row, "snapshot copy%s, reflink no (%s): a full copy; writes are not "
			      "capped by --max-disk (it bounds what the copy takes)",
			 forced ? " (HARNESS_WORKSPACE_BACKEND)" : "", why);
	free(parent);
	free(runs);
}

static void build_report(struct check_report *rep, const struct hs_probe *p)
{
	memset(rep, 0, sizeof(*rep));
	add_namespace_rows(rep, p);
	add_landlock_row(rep, p);
	add_seccomp_rows(rep, p);
	add_other_rows(rep, p);
	add_workspace_row(rep, p);
}

static bool report_ok(const struct check_report *rep)
{
	for (size_t i = 0; i < rep->n; i++)
		if (rep->rows[i].required && !rep->rows[i].ok)
			return false;
	return true;
}

static void print_table(const struct check_report *rep, const struct hs_probe *p)
{
	printf("kernel %s\n\n", p->kernel);
	int w = 7;
	for (size_t i = 0; i < rep->n; i++)
		if ((int)strlen(rep->rows[i].status) > w)
			w = (int)strlen(rep->rows[i].status);
	printf("%-20s %-*s %s\n", "LAYER", w, "STATUS", "NOTE");
	for (size_t i = 0; i < rep->n; i++) {
		const struct check_row *r = &rep->rows[i];
		printf("%-20s %-*s %s%s\n", r->name, w, r->status, r->note,
		       r->required && !r->ok ? " [required]" : "");
	}
	if (report_ok(rep)) {
		printf("\nharness run: every required layer is available.\n");
		return;
	}
	for (size_t i = 0; i < rep->n; i++) {
		const struct check_row *r = &rep->rows[i];
		if (r->required && !r->ok)
			hs_cli_error("missing %s: %s", r->name, r->note);
	}
	if (!p->userns && p->landlock_abi > 0 && p->seccomp)
		hs_cli_error("without namespaces, `harness run --best-effort` still applies "
			     "Landlock and seccomp (no private mount, pid or network view)");
}

static json_t *row_json(const struct check_row *r)
{
	return json_pack("{s:s, s:s, s:b, s:b, s:s}", "name", r->name, "status", r->status,
			 "available", r->ok, "required", r->required, "note", r->note);
}

static int print_json(const struct check_report *rep, const struct hs_probe *p)
{
	json_t *layers = json_array(), *missing = json_array();
	for (size_t i = 0; i < rep->n; i++) {
		const struct check_row *r = &rep->rows[i];
		json_array_append_new(layers, row_json(r));
		if (r->required && !r->ok)
			json_array_append_new(
			    missing, json_pack("{s:s, s:s}", "name", r->name, "remedy", r->note));
	}
	json_t *root =
	    json_pack("{s:s, s:b, s:i, s:{s:s, s:s, s:b}, s:o, s:o}", "kernel", p->kernel, "ok",
		      report_ok(rep), "landlock_abi", p->landlock_abi, "cgroup", "kind",
		      p->cgroup_kind, "path", p->cgroup_path, "delegated", p->cgroup_delegated,
		      "layers", layers, "missing", missing);
	if (!root) {
		hs_cli_error("check: cannot build the JSON report");
		return HS_EXIT_HARNESS;
	}
	json_object_set_new(root, "workspace",
			    json_pack("{s:s, s:b, s:s}", "backend", rep->backend, "reflink",
				      rep->reflink, "filesystem", rep->fs));
	json_dumpf(root, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	json_decref(root);
	return 0;
}

int hs_cmd_check(int argc, char **argv)
{
	bool json = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage_text, stdout);
			return 0;
		} else {
			hs_cli_error("check: unknown argument '%s'; usage: harness check [--json]",
				     argv[i]);
			return HS_EXIT_HARNESS;
		}
	}
	struct hs_probe probe;
	struct check_report rep;
	hs_probe_run(&probe);
	build_report(&rep, &probe);
	if (json) {
		if (print_json(&rep, &probe) != 0)
			return HS_EXIT_HARNESS;
	} else {
		print_table(&rep, &probe);
	}
	return report_ok(&rep) ? 0 : 1;
}
