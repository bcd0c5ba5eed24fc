/*
 * cmd_run.c: `harness run [OPTIONS] [--] CMD [ARGS]`. Parses the run flags
 * into a policy (preset or file first, flags layered on top), compiles the
 * plan, starts the sandbox, supervises it, and turns the outcome into an
 * exit status and one line naming any limit that was hit.
 */
#define _GNU_SOURCE
#include "cli.h"
#include "policy/commands.h"
#include "net/rules.h"
#include "sandbox/probe.h"
#include "sandbox/sandbox.h"
#include "supervise/approve.h"
#include "supervise/run.h"
#include "workspace/workspace.h"

#include <event2/event.h>

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char run_usage[] =
	"Usage: harness run [OPTIONS] [--] CMD [ARGS...]\n"
	"\n"
	"Policy:\n"
	"  -p, --policy FILE|PRESET   start from a policy file or a preset: restrict\n"
	"                             (default), analyze, scratch, review, full\n"
	"  -l, --level N              start from a level: 0 analyze, 1 scratch,\n"
	"                             2 review, 3 full\n"
	"  -a, --agent NAME           add what an agent CLI needs to the policy:\n"
	"                             claude, codex or generic (docs/agents/); with\n"
	"                             no command, runs the agent itself\n"
	"  -w, --allow-dir PATH       make PATH visible read-write\n"
	"  -r, --allow-read PATH      make PATH visible read-only\n"
	"      --read-only            make every granted path read-only\n"
	"      --protect PATH         keep PATH read-only inside writable dirs\n"
	"      --hide PATH            replace PATH by an empty file or dir\n"
	"      --unprotect PATH       drop PATH from the protected and hidden lists\n"
	"      --no-network           no network at all (the default); drops the\n"
	"                             hosts allowed before it\n"
	"      --allow-host HOST[:PORT]\n"
	"                             let the command reach HOST through harness's\n"
	"                             egress proxy (*.example.com, an address, a\n"
	"                             range like 10.1.0.0/16); repeatable\n"
	"      --deny-host HOST[:PORT]\n"
	"                             refuse HOST even when an allow rule matches\n"
	"  -e, --env NAME[=VALUE]     pass NAME from the caller, or set it\n"
	"Limits (0 = none):\n"
	"  -t, --timeout DURATION     wall clock for the whole sandbox (30s, 10m, 2h)\n"
	"      --max-cpu DURATION     CPU time per process\n"
	"      --max-memory SIZE      memory (512M, 2G)\n"
	"      --max-procs N          processes\n"
	"      --max-file-size SIZE   largest file a process may write\n"
	"      --max-open-files N     open files per process\n"
	"      --tmp-size SIZE        size of the private /tmp\n"
	"Running:\n"
	"      --best-effort          run with the layers this system offers and say\n"
	"                             which are missing, instead of refusing\n"
	"Workspace (see docs/review.md):\n"
	"      --ephemeral            the project is a copy-on-write layer: every\n"
	"                             change is discarded at exit\n"
	"      --review               the same, but the changes are kept as a staged\n"
	"                             run, checked by the guard: harness runs, diff,\n"
	"                             apply, discard\n"
	"      --direct               write the project itself, whatever workspace\n"
	"                             mode the policy or level sets\n"
	"      --max-disk SIZE        what the command may write there (default 1G)\n"
	"Audit (see harness audit --help):\n"
	"      --audit jsonl:PATH|sqlite:PATH\n"
	"                             record to this store (repeatable); default:\n"
	"                             sqlite:~/.local/state/harness/audit.db\n"
	"      --audit-key FILE       chain records with HMAC-SHA-256 under this key\n"
	"      --audit-sync           fsync every record before going on\n"
	"      --agent-id ID          label the run's records with this agent id\n"
	"      --no-audit             keep no record of this run\n"
	"Approvals (commands an ask rule matches; see docs/commands.md):\n"
	"      --approver CMD         ask CMD (run with /bin/sh -c, the request as\n"
	"                             JSON on stdin; it prints allow or deny);\n"
	"                             default: ask on harness's terminal, and deny\n"
	"                             when there is none\n"
	"      --approval-timeout DURATION\n"
	"                             deny what is not decided in time (default 5m)\n"
	"      --max-pending-approvals N\n"
	"                             deny asks beyond N waiting at once (default 4)\n"
	"  -n, --dry-run              print the sandbox that would run, start nothing\n"
	"  -v, --verbose              say which layers are up, and show every exec\n"
	"                             and allowed connection\n"
	"  -h, --help                 show this help\n";

enum {
	OPT_READ_ONLY = 256,
	OPT_PROTECT,
	OPT_HIDE,
	OPT_UNPROTECT,
	OPT_NO_NETWORK,
	OPT_MAX_CPU,
	OPT_MAX_MEMORY,
	OPT_MAX_PROCS,
	OPT_MAX_FILE_SIZE,
	OPT_MAX_OPEN_FILES,
	OPT_TMP_SIZE,
	OPT_BEST_EFFORT,
	OPT_ALLOW_HOST,
	OPT_DENY_HOST,
	OPT_AUDIT,
	OPT_AUDIT_KEY,
	OPT_AUDIT_SYNC,
	OPT_NO_AUDIT,
	OPT_AGENT_ID,
	OPT_APPROVER,
	OPT_APPROVAL_TIMEOUT,
	OPT_MAX_PENDING,
	OPT_EPHEMERAL,
	OPT_REVIEW,
	OPT_MAX_DISK,
	OPT_DIRECT,
};

static const struct option run_options[] = {
	{"policy", required_argument, NULL, 'p'},
	{"level", required_argument, NULL, 'l'},
	{"agent", required_argument, NULL, 'a'},
	{"allow-dir", required_argument, NULL, 'w'},
	{"allow-read", required_argument, NULL, 'r'},
	{"read-only", no_argument, NULL, OPT_READ_ONLY},
	{"protect", required_argument, NULL, OPT_PROTECT},
	{"hide", required_argument, NULL, OPT_HIDE},
	{"unprotect", required_argument, NULL, OPT_UNPROTECT},
	{"no-network", no_argument, NULL, OPT_NO_NETWORK},
	{"allow-host", required_argument, NULL, OPT_ALLOW_HOST},
	{"deny-host", required_argument, NULL, OPT_DENY_HOST},
	{"env", required_argument, NULL, 'e'},
	{"timeout", required_argument, NULL, 't'},
	{"max-cpu", required_argument, NULL, OPT_MAX_CPU},
	{"max-memory", required_argument, NULL, OPT_MAX_MEMORY},
	{"max-procs", required_argument, NULL, OPT_MAX_PROCS},
	{"max-file-size", required_argument, NULL, OPT_MAX_FILE_SIZE},
	{"max-open-files", required_argument, NULL, OPT_MAX_OPEN_FILES},
	{"tmp-size", required_argument, NULL, OPT_TMP_SIZE},
	{"best-effort", no_argument, NULL, OPT_BEST_EFFORT},
	{"ephemeral", no_argument, NULL, OPT_EPHEMERAL},
	{"review", no_argument, NULL, OPT_REVIEW},
	{"max-disk", required_argument, NULL, OPT_MAX_DISK},
	{"direct", no_argument, NULL, OPT_DIRECT},
	{"dry-run", no_argument, NULL, 'n'},
	{"verbose", no_argument, NULL, 'v'},
	{"audit", required_argument, NULL, OPT_AUDIT},
	{"audit-key", required_argument, NULL, OPT_AUDIT_KEY},
	{"audit-sync", no_argument, NULL, OPT_AUDIT_SYNC},
	{"no-audit", no_argument, NULL, OPT_NO_AUDIT},
	{"agent-id", required_argument, NULL, OPT_AGENT_ID},
	{"approver", required_argument, NULL, OPT_APPROVER},
	{"approval-timeout", required_argument, NULL, OPT_APPROVAL_TIMEOUT},
	{"max-pending-approvals", required_argument, NULL, OPT_MAX_PENDING},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};
static const char run_shortopts[] = "+:p:l:a:w:r:e:t:nvh";

/* Copies s for a message: control characters become '?', long input is cut. */
static void printable(const char *s, char *out, size_t len)
{
	size_t i = 0;
	for (; s && s[i] && i + 4 < len; i++)
		out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	if (s && s[i])
		memcpy(out + i, "...", 4);
	else
		out[i] = '\0';
}


static int load_base(struct hs_policy *p, const char *policy, const char *level)
{
	struct hs_error err;
	char buf[HS_ERR_MSG_MAX + 300];
	hs_error_clear(&err);
	if (policy && level) {
		hs_cli_error("--policy and --level both name a starting policy; give one");
		return HS_EXIT_HARNESS;
	}
	int r = level ? hs_policy_apply_preset(p, level, &err) : hs_policy_start(p, policy, &err);
	if (r < 0) {
		hs_error_format(&err, buf, sizeof(buf));
		hs_cli_error("%s", buf);
		return HS_EXIT_HARNESS;
	}
	return 0;
}

static int bad_value(const char *opt, const char *val, const char *expect)
{
	hs_cli_error("%s '%s': expected %s", opt, val, expect);
	return HS_EXIT_HARNESS;
}

static int apply_flag(struct hs_policy *p, struct hs_cli_run *o, int c, const char *arg)
{
	struct hs_error err;
	hs_error_clear(&err);
	struct hs_limits *l = &p->limits;
	switch (c) {
	case 'p':
	case 'l':
	case 'a':
		return 0; /* handled by load_base and add_agent */
	case 'w':
		hs_policy_add_grant(p, arg, HS_ACCESS_WRITE, false, "--allow-dir");
		return 0;
	case 'r':
		hs_policy_add_grant(p, arg, HS_ACCESS_READ, false, "--allow-read");
		return 0;
	case OPT_READ_ONLY:
		p->read_only = true;
		return 0;
	case OPT_PROTECT:
	case OPT_HIDE:
	case OPT_UNPROTECT: {
		enum hs_protect_kind k = c == OPT_PROTECT ? HS_PROTECT_READ_ONLY
				       : c == OPT_HIDE	  ? HS_PROTECT_HIDDEN
							  : HS_PROTECT_UNPROTECT;
		if (hs_policy_add_protect(p, k, arg, &err) < 0) {
			hs_cli_error("%s %s: %s", c == OPT_PROTECT ? "--protect"
						  : c == OPT_HIDE  ? "--hide"
								   : "--unprotect",
				     arg, err.msg);
			return HS_EXIT_HARNESS;
		}
		return 0;
	}
	case OPT_NO_NETWORK:
		hs_strv_clear(&p->net_allow);
		o->no_network_flag = true;
		return 0;
	case OPT_ALLOW_HOST:
	case OPT_DENY_HOST: {
		struct hs_net_pattern pat;
		const char *why;
		bool allow = c == OPT_ALLOW_HOST;
		if (hs_net_pattern_parse(arg, allow, &pat, &why) < 0) {
			hs_cli_error("%s \"%s\": the host %s", allow ? "--allow-host" : "--deny-host",
				     arg, why);
			return HS_EXIT_HARNESS;
		}
		struct hs_strv *sv = allow ? &p->net_allow : &p->net_deny;
		if (!hs_strv_contains(sv, arg))
			hs_strv_push(sv, arg);
		return 0;
	}
	case 'e':
		if (hs_policy_add_env(p, arg, &err) < 0) {
			hs_cli_error("--env %s: %s", arg, err.msg);
			return HS_EXIT_HARNESS;
		}
		return 0;
	case 't':
		return hs_parse_duration_ms(arg, &l->timeout_ms) < 0
			       ? bad_value("--timeout", arg, "a duration like 30, 30s, 500ms, 10m, 2h")
			       : 0;
	case OPT_MAX_CPU: {
		uint64_t ms;
		if (hs_parse_duration_ms(arg, &ms) < 0)
			return bad_value("--max-cpu", arg, "a duration like 60, 60s, 5m");
		l->cpu_seconds = (ms + 999) / 1000;
		return 0;
	}
	case OPT_MAX_MEMORY:
		return hs_parse_size(arg, &l->memory_bytes) < 0
			       ? bad_value("--max-memory", arg, "a size like 512M or 2G")
			       : 0;
	case OPT_MAX_PROCS:
		return hs_parse_u64(arg, &l->max_procs) < 0
			       ? bad_value("--max-procs", arg, "a number of processes")
			       : 0;
	case OPT_MAX_FILE_SIZE:
		return hs_parse_size(arg, &l->max_file_size) < 0
			       ? bad_value("--max-file-size", arg, "a size like 100M")
			       : 0;
	case OPT_MAX_OPEN_FILES:
		return hs_parse_u64(arg, &l->max_open_files) < 0
			       ? bad_value("--max-open-files", arg, "a number of files")
			       : 0;
	case OPT_TMP_SIZE:
		return hs_parse_size(arg, &l->tmp_size) < 0
			       ? bad_value("--tmp-size", arg, "a size like 256M")
			       : 0;
	case OPT_AUDIT:
		if (strncmp(arg, "jsonl:", 6) != 0 && strncmp(arg, "sqlite:", 7) != 0)
			return bad_value("--audit", arg, "jsonl:PATH or sqlite:PATH");
		hs_strv_push(&o->audit_specs, arg);
		return 0;
	case OPT_AUDIT_KEY:
		o->audit_key = arg;
		return 0;
	case OPT_AUDIT_SYNC:
		o->audit_sync = true;
		return 0;
	case OPT_NO_AUDIT:
		o->no_audit = true;
		return 0;
	case OPT_AGENT_ID:
		o->agent_id = arg;
		return 0;
	case OPT_APPROVER:
		if (!*arg)
			return bad_value("--approver", arg, "a command");
		o->approver = arg;
		return 0;
	case OPT_APPROVAL_TIMEOUT:
		if (hs_parse_duration_ms(arg, &o->approval_timeout_ms) < 0 ||
		    o->approval_timeout_ms == 0)
			return bad_value("--approval-timeout", arg,
					 "a duration above zero like 30s, 5m");
		return 0;
	case OPT_MAX_PENDING: {
		uint64_t n;
		if (hs_parse_u64(arg, &n) < 0 || n == 0 || n > 1024)
			return bad_value("--max-pending-approvals", arg, "a number from 1 to 1024");
		o->max_pending = (unsigned)n;
		return 0;
	}
	case OPT_BEST_EFFORT:
		p->best_effort = true;
		return 0;
	case OPT_EPHEMERAL:
	case OPT_REVIEW: {
		int want = c == OPT_EPHEMERAL ? HS_CLI_WS_EPHEMERAL : HS_CLI_WS_REVIEW;
		if (o->workspace != HS_CLI_WS_NONE && (int)o->workspace != want) {
			hs_cli_error("--ephemeral and --review: choose one (--review keeps the "
				     "changes for harness apply; --ephemeral discards them)");
			return HS_EXIT_HARNESS;
		}
		o->workspace = want;
		return 0;
	}
	case OPT_MAX_DISK: {
		uint64_t n;
		if (hs_parse_size(arg, &n) < 0 || n < 1024 * 1024)
			return bad_value("--max-disk", arg, "a size of at least 1M, like 512M or 4G");
		o->max_disk = n;
		o->max_disk_flag = true;
		return 0;
	}
	case OPT_DIRECT:
		o->direct = true;
		return 0;
	case 'n':
		o->dry_run = true;
		return 0;
	case 'v':
		o->verbose = true;
		return 0;
	}
	return HS_EXIT_HARNESS;
}


/* --agent NAME: the profile is added on top of the starting policy, before
 * the other flags, so that they can narrow or widen it. */
static int add_agent(struct hs_policy *p, struct hs_cli_run *o, const char *name)
{
	struct hs_error err;
	char cwd[PATH_MAX], real[PATH_MAX];
	hs_error_clear(&err);
	o->agent = hs_agent_find(name);
	if (!o->agent) {
		hs_agent_unknown(name, &err);
		hs_cli_error("--agent: %s", err.msg);
		return HS_EXIT_HARNESS;
	}
	if (!getcwd(cwd, sizeof(cwd)) || !realpath(cwd, real)) {
		hs_cli_error("cannot determine the current directory: %s", strerror(errno));
		return HS_EXIT_HARNESS;
	}
	if (hs_agent_compose(p, o->agent, environ, hs_caller_home(), real, &o->agent_setup,
			     &err) < 0) {
		hs_cli_error("--agent %s: %s", o->agent->name, err.msg);
		return HS_EXIT_HARNESS;
	}
	return 0;
}

/* Flags that would leave the agent unable to work are refused, with the
 * way to get what was probably meant. */
static int agent_conflicts(const struct hs_policy *p, const struct hs_cli_run *o)
{
	const char *n = o->agent->name;
	if (p->read_only) {
		hs_cli_error("--agent %s with --read-only (or \"read_only\": true in the policy): "
			     "the agent must write its state directory (%s), which --read-only "
			     "would make read-only too. For a read-only project, use --level 0 "
			     "(analyze): the project is read-only and the agent's state stays "
			     "writable; or add --ephemeral, which discards every change at exit",
			     n, o->agent_setup.state_dir);
		return HS_EXIT_HARNESS;
	}
	if (o->no_network_flag) {
		hs_cli_error("--agent %s with --no-network: the agent could not reach its model "
			     "API (%s). The profile allows only that; to refuse another host, "
			     "use --deny-host HOST",
			     n, o->agent_setup.hosts.n ? o->agent_setup.hosts.v[0] : "none");
		return HS_EXIT_HARNESS;
	}
	return 0;
}

int hs_cli_parse_run_options(int argc, char **argv, struct hs_policy *p, struct hs_cli_run *o,
			     bool inspect_only)
{
	const char *policy = NULL, *level = NULL, *agent = NULL;
	int c;
	memset(o, 0, sizeof(*o));
	o->approval_timeout_ms = 5 * 60 * 1000;
	o->max_pending = 4;
	o->max_disk = 1ULL << 30;
	/* Pass 1: the starting policy, so flags layer on top whatever their order. */
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, run_shortopts, run_options, NULL)) != -1) {
		if (c == 'p')
			policy = optarg;
		else if (c == 'l')
			level = optarg;
		else if (c == 'a' && agent && strcmp(agent, optarg) != 0) {
			hs_cli_error("--agent %s and --agent %s: one agent profile per run", agent,
				     optarg);
			return HS_EXIT_HARNESS;
		} else if (c == 'a')
			agent = optarg;
		else if (c == 'h') {
			fputs(run_usage, stdout);
			return -1;
		}
	}
	int r = load_base(p, policy, level);
	if (r == 0 && agent)
		r = add_agent(p, o, agent);
	if (r)
		return r;
	/* Pass 2: everything else, reporting unknown flags. */
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, run_shortopts, run_options, NULL)) != -1) {
		if (c == '?' || c == ':') {
			char shown[64];
			printable(argv[optind - 1], shown, sizeof(shown));
			if (c == ':')
				hs_cli_error("option '%s' needs a value (see 'harness run --help')", shown);
			else
				hs_cli_error("unknown option '%s' (see 'harness run --help')", shown);
			return HS_EXIT_HARNESS;
		}
		if ((r = apply_flag(p, o, c, optarg)) != 0)
			return r;
	}
	o->cmd_index = optind;
	if (o->agent && (r = agent_conflicts(p, o)) != 0)
		return r;
	/* The workspace: a flag, else the policy's (levels 1 and 2: review). */
	if (o->direct && o->workspace != HS_CLI_WS_NONE) {
		hs_cli_error("--direct and --%s: choose one (--direct writes the project itself)",
			     o->workspace == HS_CLI_WS_REVIEW ? "review" : "ephemeral");
		return HS_EXIT_HARNESS;
	}
	if (!o->direct && o->workspace == HS_CLI_WS_NONE)
		o->workspace = p->workspace == HS_WORKSPACE_REVIEW	? HS_CLI_WS_REVIEW
			       : p->workspace == HS_WORKSPACE_EPHEMERAL ? HS_CLI_WS_EPHEMERAL
									: HS_CLI_WS_NONE;
	if (!o->max_disk_flag && p->workspace_max_disk)
		o->max_disk = p->workspace_max_disk;

	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd))) {
		hs_cli_error("cannot determine the current directory: %s", strerror(errno));
		return HS_EXIT_HARNESS;
	}
	if (o->agent && !o->dry_run && !inspect_only) {
		struct hs_error aerr;
		if (hs_agent_prepare_state(&o->agent_setup, &aerr) < 0) {
			hs_cli_error("%s", aerr.msg);
			return HS_EXIT_HARNESS;
		}
	}
	/* A dry run or `policy show` makes nothing: directories a preset would
	 * create (./scratch) are reported as missing-but-optional instead. */
	bool *deferred = hs_xcalloc(p->ngrants + 1, sizeof(bool));
	for (size_t i = 0; (o->dry_run || inspect_only) && i < p->ngrants; i++)
		if (p->grants[i].create && !p->grants[i].optional) {
			deferred[i] = true;
			p->grants[i].create = false;
			p->grants[i].optional = true;
		}
	struct hs_error err;
	hs_error_clear(&err);
	r = hs_policy_resolve(p, cwd, hs_caller_home(), &err);
	for (size_t i = 0; i < p->ngrants; i++)
		if (deferred[i]) { /* shown as the policy says */
			p->grants[i].create = true;
			p->grants[i].optional = false;
		}
	free(deferred);
	if (r < 0) {
		char buf[HS_ERR_MSG_MAX + 300];
		hs_error_format(&err, buf, sizeof(buf));
		hs_cli_error("%s", buf);
		return HS_EXIT_HARNESS;
	}
	return 0;
}

static void print_exec(const struct hs_exec_request *req);

struct run_ctx {
	bool verbose;
	struct hs_run_audit *ra;
	struct hs_cmd_rules rules;  /* effective command rules (policy + built-in) */
	const char *home, *project;
	struct event_base *base;
	struct hs_approvals *approvals;
	bool run_over;              /* the sandbox is gone: nothing left to answer */
	/* Asks denied lately: execvp (Python's, glibc's for EACCES) retries the
	 * same command with the next PATH entry, which must not ask twice. */
	struct recent_denial {
		pid_t pid;
		uint64_t key, at_ms;
	} denials[8];
	unsigned next_denial;
	bool fatal;                 /* a decision could not be recorded: the run ends */
	bool proxy;                 /* the run has harness's egress proxy */
};

static const char allow_hint_builtin[] =
	"to allow it on purpose, run with a policy file saying \"commands\": {\"defaults\": "
	"false} and the built-in rules you want to keep (docs/commands.md)";
static const char allow_hint_policy[] = "to allow it on purpose, remove or narrow that rule";

static bool rule_is_builtin(const char *origin)
{
	return origin && strcmp(origin, "built-in") == 0;
}

/* Tells the refused caller why, on its own stderr, and how to allow it. */
static void tell_refusal(const struct hs_exec_request *req, const struct hs_cmd_verdict *v,
			 const char *why)
{
	const struct hs_cmd_rule *r = v->rule;
	bool ask = v->decision == HS_CMD_ASK;
	char *msg = hs_xasprintf(
	    "harness: %s '%s' by rule %s (%s)%s%s%s%s; %s\n",
	    ask ? "refused (needs a human's approval)" : "blocked", v->command, r->id, r->origin,
	    r->reason ? ": " : "", r->reason ? r->reason : "", ask ? ": " : "", ask ? why : "",
	    ask ? "give an approver with --approver CMD, or run harness on a terminal"
		: rule_is_builtin(r->origin) ? allow_hint_builtin
					     : allow_hint_policy);
	hs_exec_tell(req->pid, msg);
	free(msg);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* FNV-1a over the argv and cwd of an ask (the path is left out: the retry
 * tries another one). */
static uint64_t ask_key(char *const *argv, size_t argc, const char *cwd)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i <= argc; i++) {
		const char *s = i < argc ? argv[i] : cwd;
		for (; s && *s; s++)
			h = (h ^ (unsigned char)*s) * 1099511628211ULL;
		h = (h ^ 0xff) * 1099511628211ULL; /* separator */
	}
	return h;
}

static void remember_denial(struct run_ctx *rc, pid_t pid, uint64_t key)
{
	struct recent_denial *d = &rc->denials[rc->next_denial++ % HS_ARRAY_LEN(rc->denials)];
	d->pid = pid;
	d->key = key;
	d->at_ms = mono_ms();
}

static bool denied_lately(const struct run_ctx *rc, pid_t pid, uint64_t key)
{
	uint64_t now = mono_ms();
	for (size_t i = 0; i < HS_ARRAY_LEN(rc->denials); i++)
		if (rc->denials[i].at_ms && rc->denials[i].pid == pid && rc->denials[i].key == key &&
		    now - rc->denials[i].at_ms < 5000)
			return true;
	return false;
}

/* An ask that waited has been decided: record it, then answer the exec. */
static void approval_done(void *ctx, const struct hs_approval_request *rq,
			  const struct hs_approval_decision *d)
{
	struct run_ctx *rc = ctx;
	int rec = rc->fatal ? -1 : hs_run_audit_approval(rc->ra, rq, d);
	bool allow = d->allow && rec == 0;
	hs_cli_error("approval: '%s' (rule %s) %s by %s after %llu ms%s%s", rq->command,
		     rq->rule_id, allow ? "approved" : "denied", d->by,
		     (unsigned long long)d->waited_ms, d->why[0] ? ": " : "", d->why);
	if (rc->run_over)
		return;
	if (!allow) {
		remember_denial(rc, rq->pid, ask_key(rq->argv, rq->argc, rq->cwd));
		char *msg = hs_xasprintf("harness: refused '%s' by rule %s (%s): not approved (%s: "
					 "%s)\n",
					 rq->command, rq->rule_id, rq->rule_origin, d->by,
					 d->why[0] ? d->why : "denied");
		hs_exec_tell(rq->pid, msg);
		free(msg);
	}
	hs_exec_respond(rq->notify_fd, rq->cookie, allow ? 0 : EPERM);
	if (rec < 0 && !rc->fatal) {
		rc->fatal = true;
		hs_supervise_fail(rc->base);
	}
}

/* Every connection through the proxy: refusals named on stderr (the agent
 * gets its own 403 or SOCKS error), everything recorded before it proceeds. */
static int on_net(void *ctx, const struct hs_proxy_event *ev)
{
	struct run_ctx *rc = ctx;
	if (!strcmp(ev->action, "net.dns"))
		hs_cli_error("network: refused the DNS lookup of %s: %s", ev->host, ev->reason);
	else if (!ev->allowed && strcmp(ev->action, "net.limit"))
		hs_cli_error("network: refused %s %s:%u: %s", ev->via,
			     ev->host[0] ? ev->host : "(no host)", ev->port, ev->reason);
	else if (!ev->allowed)
		hs_cli_error("network: %s", ev->reason);
	else if (rc->verbose && !strcmp(ev->action, "net.connect"))
		fprintf(stderr, "harness: network: %s %s:%u -> %s%s%s\n", ev->via, ev->host,
			ev->port, ev->addr, ev->rule[0] ? " by " : "", ev->rule);
	if (rc->fatal)
		return -1;
	if (hs_run_audit_net(rc->ra, ev) < 0) {
		rc->fatal = true;
		hs_supervise_fail(rc->base);
		return -1;
	}
	return 0;
}

/* Every exec inside, as the supervisor saw it: judged by the command rules,
 * printed with -v, recorded (before it proceeds) in the audit trail. An
 * ask waits for a decision (approve.h) without stopping the loop. */
static int on_exec(void *ctx, const struct hs_exec_request *req)
{
	struct run_ctx *rc = ctx;
	if (!req->found)
		return 0; /* a miss of a PATH search fails by itself: no record */
	struct hs_cmd_verdict v;
	struct hs_cmd_context cctx = {.cwd = req->cwd, .home = rc->home, .project = rc->project};
	hs_cmd_evaluate(&rc->rules, &cctx, req->path, req->argv.v, req->argv.n, &v);
	if (rc->verbose)
		print_exec(req);
	if (v.decision == HS_CMD_ASK) {
		struct hs_approval_request rq = {
			.cookie = req->id, .notify_fd = req->notify_fd, .pid = req->pid,
			.path = req->path, .argv = req->argv.v, .argc = req->argv.n,
			.cwd = req->cwd, .command = v.command, .rule_id = v.rule->id,
			.rule_origin = v.rule->origin, .reason = v.rule->reason};
		struct hs_approval_decision now;
		uint64_t key = ask_key(req->argv.v, req->argv.n, req->cwd);
		if (denied_lately(rc, req->pid, key)) {
			/* The same process retrying the same command at another
			 * PATH entry: the answer stands, nobody is asked again. */
			if (hs_run_audit_exec(rc->ra, req, HS_OUTCOME_DENIED, &v,
					      "denied moments ago for this process") < 0)
				return -1;
			return EPERM;
		}
		bool asking = hs_approvals_available(rc->approvals);
		/* Recorded as flagged before anyone is asked: the record of the
		 * decision (approval) follows. Nobody to ask: denied now. */
		if (hs_run_audit_exec(rc->ra, req, asking ? HS_OUTCOME_FLAGGED : HS_OUTCOME_DENIED,
				      &v,
				      asking ? "pending"
					     : "nobody to ask: no terminal and no --approver") < 0)
			return -1;
		if (!asking) {
			remember_denial(rc, req->pid, key);
			tell_refusal(req, &v, "nobody to ask: harness has no terminal and no "
					      "--approver was given");
			return EPERM;
		}
		if (hs_approvals_submit(rc->approvals, &rq, &now) == 1)
			return HS_EXEC_DEFER;
		/* Decided at once (too many waiting): recorded like any decision. */
		if (hs_run_audit_approval(rc->ra, &rq, &now) < 0)
			return -1;
		remember_denial(rc, req->pid, key);
		tell_refusal(req, &v, now.why);
		return EPERM;
	}
	enum hs_audit_outcome outcome = v.decision == HS_CMD_DENY ? HS_OUTCOME_BLOCKED
					: v.unparsed_shell || req->truncated ? HS_OUTCOME_FLAGGED
									      : HS_OUTCOME_ALLOWED;
	if (hs_run_audit_exec(rc->ra, req, outcome, &v, NULL) < 0)
		return -1;
	if (v.decision == HS_CMD_ALLOW)
		return 0;
	tell_refusal(req, &v, NULL);
	return EPERM;
}

static void print_exec(const struct hs_exec_request *req)
{
	fprintf(stderr, "harness: exec %s [", req->path);
	for (size_t i = 0; i < req->argv.n; i++)
		fprintf(stderr, "%s%s", i ? " " : "", req->argv.v[i]);
	fprintf(stderr, "%s] in %s\n", req->truncated ? " ..." : "", req->cwd);
}

/* While the sandbox builds itself: run.start is written (hs_run_audit_start
 * deferred it); the command waits for this. */
static int audit_prestart(void *ctx, struct hs_error *err)
{
	struct run_ctx *rc = ctx;
	if (hs_run_audit_prestart(rc->ra) == 0)
		return 0;
	rc->fatal = true; /* named already */
	if (rc->ra->log) {
		hs_audit_close(rc->ra->log);
		rc->ra->log = NULL;
	}
	return hs_err(err, "the audit could not be started");
}

static void run_started(const struct hs_run_result *res, void *ctx)
{
	const struct run_ctx *rc = ctx;
	const bool *verbose = &rc->verbose;
	unsigned l = res->layers;
	if (rc->proxy) {
		/* The proxy holds two fds a connection: raise our soft limit to
		 * the hard one, now that the sandbox (which keeps the limit it
		 * was started with) is up. */
		struct rlimit rl;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	if (res->fell_back) {
		hs_cli_error("best effort: %s", res->fallback_why);
		hs_cli_error("best effort: running WITHOUT namespaces: no private /tmp, HOME or "
			     "/proc, no protected or hidden paths, no network isolation beyond "
			     "Landlock's TCP rules (no TCP connect at all, and no egress proxy: "
			     "allowed hosts are unreachable), unix sockets on the host reachable; the "
			     "filesystem fence is Landlock alone, plus seccomp and rlimits%s",
			     res->cgroup ? "" : "; processes that leave the session can outlive "
						"the run (no cgroup to collect them)");
	}
	if (!(l & HS_LAYER_LANDLOCK))
		hs_cli_error("best effort: Landlock is not available; the filesystem fence is the "
			     "mount view alone");
	if (*verbose)
		fprintf(stderr, "harness: sandbox up:%s%s%s%s%s%s%s (Landlock ABI %d)\n",
			l & HS_LAYER_USERNS ? " userns" : "", l & HS_LAYER_MOUNT ? " mount-view" : "",
			l & HS_LAYER_PID ? " pidns" : "", l & HS_LAYER_NET ? " netns" : "",
			l & HS_LAYER_LANDLOCK ? " landlock" : "",
			l & HS_LAYER_SECCOMP ? " seccomp" : "", l & HS_LAYER_CAPS ? " no-caps" : "",
			res->landlock_abi);
}

/* Which limit ended the run, if one did: "timeout", "memory", "processes",
 * "cpu", "file_size", or NULL. */
static const char *limit_hit(const struct hs_plan *plan, const struct hs_run_result *res)
{
	const struct hs_outcome *out = &res->out;
	if (out->timed_out)
		return "timeout";
	if (out->setup_error[0] || out->exec_errno)
		return NULL;
	if (res->pids_max_hit)
		return "processes";
	if (!WIFSIGNALED(out->status))
		return NULL;
	int sig = WTERMSIG(out->status);
	if (sig == SIGKILL && res->oom_killed)
		return "memory";
	if (sig == SIGXCPU || (sig == SIGKILL && plan->limits.cpu_seconds && !res->oom_killed &&
			       !out->signal_received))
		return "cpu";
	if (sig == SIGXFSZ)
		return "file_size";
	return NULL;
}

/* Says why the run ended when harness knows better than the exit status:
 * a limit (named, with the flag that raises it), a command that could not
 * be executed. */
static void report_outcome(const struct hs_plan *plan, const struct hs_run_result *res,
			   const char *limit)
{
	const struct hs_outcome *out = &res->out;
	const char *cmd = plan->argv.v[0];
	const struct hs_limits *l = &plan->limits;
	if (out->setup_error[0])
		hs_cli_error("%s: %s", cmd, out->setup_error);
	else if (out->exec_errno == ENOENT)
		hs_cli_error("%s: command not found inside the sandbox (searched PATH; grant its "
			     "directory with --allow-read, or give its full path)",
			     cmd);
	else if (out->exec_errno)
		hs_cli_error("%s: cannot execute inside the sandbox: %s", cmd,
			     strerror(out->exec_errno));
	if (!limit)
		return;
	if (!strcmp(limit, "timeout"))
		hs_cli_error("wall-clock limit of %llu ms reached: the whole sandbox was killed "
			     "(raise it with --timeout, or limits.timeout in the policy)",
			     (unsigned long long)l->timeout_ms);
	else if (!strcmp(limit, "processes"))
		hs_cli_error("process limit of %llu reached: fork() failed inside the sandbox "
			     "(raise it with --max-procs)",
			     (unsigned long long)l->max_procs);
	else if (!strcmp(limit, "memory"))
		hs_cli_error("memory limit of %llu bytes reached: the kernel killed %s (raise it "
			     "with --max-memory)",
			     (unsigned long long)l->memory_bytes, cmd);
	else if (!strcmp(limit, "cpu"))
		hs_cli_error("CPU limit of %llu s reached: %s was killed (raise it with --max-cpu)",
			     (unsigned long long)l->cpu_seconds, cmd);
	else if (!strcmp(limit, "file_size"))
		hs_cli_error("file size limit of %llu bytes reached: %s was killed (raise it with "
			     "--max-file-size)",
			     (unsigned long long)l->max_file_size, cmd);
}

/* Runs the plan with its audit trail; returns the exit status. */
static int run_audited(struct hs_plan *plan, const struct hs_policy *p, struct hs_cli_run *o,
		       struct hs_run_audit *ra)
{
	struct hs_run_result res;
	struct hs_error err;
	/* With a workspace, run.start comes first: its setup may fail and
	 * that is recorded too. */
	int code = hs_run_audit_start(ra, p, plan, o->workspace == HS_CLI_WS_NONE);
	if (code != 0) {
		hs_run_audit_close(ra);
		return code;
	}
	struct hs_ws_session *ws = NULL;
	if (o->workspace != HS_CLI_WS_NONE) {
		code = hs_cli_workspace_begin(plan, o, p, &ws);
		if (code != 0) {
			memset(&res, 0, sizeof(res));
			hs_run_audit_finish(ra, plan, &res, NULL, HS_EXIT_HARNESS);
			hs_run_audit_close(ra);
			return code;
		}
	}
	hs_error_clear(&err);
	struct run_ctx rc = {.verbose = o->verbose, .ra = ra, .home = plan->home,
			     .project = plan->cwd};
	hs_cmd_rules_effective(&rc.rules, &p->commands, p->commands_defaults, p->level);
	rc.base = hs_event_base_new();
	if (!rc.base) {
		hs_cli_error("cannot set up the supervisor's event loop");
		hs_cmd_rules_free(&rc.rules);
		hs_cli_workspace_abort(ws);
		hs_run_audit_close(ra);
		return HS_EXIT_HARNESS;
	}
	struct hs_approval_config acfg = {.approver = o->approver,
					  .tty = true,
					  .timeout_ms = o->approval_timeout_ms,
					  .max_pending = o->max_pending,
					  .run_id = ra->run_id,
					  .agent_id = o->agent_id};
	rc.approvals = hs_approvals_new(rc.base, &acfg, approval_done, &rc);
	struct hs_run_hooks hooks = {.prestart = audit_prestart, .started = run_started,
				     .on_exec = on_exec, .ctx = &rc, .base = rc.base,
				     .on_net = on_net};
	/* Every exec is stopped for the rules, the record and -v before it
	 * proceeds. */
	plan->intercept_exec = rc.rules.n > 0 || hs_run_audit_on(ra) || o->verbose;
	rc.proxy = plan->proxy;
	int ran = hs_run_plan(plan, &hooks, &res, &err);
	/* Whatever still waits for a decision is denied and recorded. */
	rc.run_over = true;
	hs_approvals_free(rc.approvals);
	event_base_free(rc.base);
	if (ran < 0) {
		if (!rc.fatal) /* else the failed record was already named */
			hs_cli_error("%s", err.msg);
		hs_cmd_rules_free(&rc.rules);
		if (res.workspace_fd >= 0)
			close(res.workspace_fd);
		hs_cli_workspace_abort(ws);
		memset(&res, 0, sizeof(res));
		code = hs_run_audit_finish(ra, plan, &res, NULL, HS_EXIT_HARNESS);
		hs_run_audit_close(ra);
		return HS_EXIT_HARNESS;
	}
	hs_cmd_rules_free(&rc.rules);
	const char *limit = limit_hit(plan, &res);
	report_outcome(plan, &res, limit);
	code = hs_run_exit_code(&res);
	if (ws && hs_cli_workspace_end(ws, res.workspace_fd, ra->run_id, code, ra) != 0)
		code = HS_EXIT_HARNESS;
	else if (!ws && res.workspace_fd >= 0)
		close(res.workspace_fd);
	code = hs_run_audit_finish(ra, plan, &res, limit, code);
	hs_run_audit_close(ra);
	return code;
}

/* The agent's own binary, when it is the command, must be installed. */
static int agent_binary_check(const struct hs_cli_run *o, const char *cmd)
{
	const struct hs_agent_profile *a = o->agent;
	if (!a->binary || strchr(cmd, '/') || strcmp(cmd, a->binary) != 0 ||
	    o->agent_setup.binary_path)
		return 0;
	const char *path = getenv("PATH");
	hs_cli_error("%s is not installed: no '%s' on PATH (%s); install it with: %s", a->title,
		     a->binary, path ? path : "unset", a->install);
	return HS_EXIT_HARNESS;
}

/* The credential variables of the profile: set here? passed? */
static void credential_state(const struct hs_cli_run *o, const struct hs_policy *p,
			     struct hs_strv *passed, struct hs_strv *held)
{
	for (const char *const *v = o->agent->credentials; *v; v++) {
		if (hs_strv_contains(&p->env_pass, *v) && getenv(*v))
			hs_strv_push(passed, *v);
		else if (getenv(*v))
			hs_strv_push(held, *v);
	}
}

static void note_credentials(const struct hs_cli_run *o, const struct hs_policy *p)
{
	struct hs_strv passed = {0}, held = {0};
	credential_state(o, p, &passed, &held);
	if (!passed.n && held.n)
		hs_cli_error("note: %s is set here but is not passed to the agent; give it with "
			     "--env %s (see %s)",
			     held.v[0], held.v[0], o->agent->doc);
	hs_strv_clear(&passed);
	hs_strv_clear(&held);
}

static void describe_hosts(const struct hs_policy *p, const struct hs_cli_run *o)
{
	const struct hs_agent_setup *s = o->agent ? &o->agent_setup : NULL;
	if (p->net_allow.n)
		printf("allowed hosts:\n");
	for (size_t i = 0; i < p->net_allow.n; i++) {
		const char *why = NULL;
		for (size_t j = 0; s && j < s->hosts.n && !why; j++)
			if (!strcmp(s->hosts.v[j], p->net_allow.v[i]))
				why = s->host_why.v[j];
		printf("  %s%s%s%s\n", p->net_allow.v[i], why ? " (agent: " : "", why ? why : "",
		       why ? ")" : "");
	}
	for (size_t i = 0; i < p->net_deny.n; i++)
		printf("%s  %s\n", i ? "" : "denied hosts (win over allowed ones):\n",
		       p->net_deny.v[i]);
}

/* What this system offers of each layer, as the run would find it. */
static void describe_layers(const struct hs_plan *plan, const struct hs_policy *p)
{
	struct hs_probe pr;
	hs_probe_run(&pr);
	bool ns = pr.userns && pr.mountns && pr.pidns && pr.netns && pr.ipcns && pr.utsns;
	printf("layers: namespaces (user, mount, pid, net, ipc, uts%s): %s; Landlock: %s%d; "
	       "seccomp: %s; capabilities dropped, no_new_privs, new session, fds above 2 "
	       "closed; exec interception: %s\n",
	       pr.cgroupns ? ", cgroup" : "", ns ? "available" : "MISSING", pr.landlock_abi ? "ABI " : "none, ABI ",
	       pr.landlock_abi, pr.seccomp ? "available" : "MISSING",
	       pr.seccomp_notify ? "available" : "MISSING");
	if (!ns || !pr.landlock_abi || !pr.seccomp)
		printf("  this run would %s\n",
		       p->best_effort || plan->best_effort
			   ? "go on without the missing layers (best effort)"
			   : "stop: a layer is missing (--best-effort runs without it; harness "
			     "check says why)");
}

/* Command rules, workspace mode and audit store of the run. */
static void describe_run(const struct hs_policy *p, const struct hs_cli_run *o)
{
	struct hs_cmd_rules eff;
	hs_cmd_rules_effective(&eff, &p->commands, p->commands_defaults, p->level);
	printf("commands: %zu rule%s (%zu of the policy, built-in rules %s)\n",
	       eff.n, eff.n == 1 ? "" : "s", p->commands.n, p->commands_defaults ? "on" : "off");
	hs_cmd_rules_free(&eff);
	const char *why = "";
	int snap = o->workspace != HS_CLI_WS_NONE ? hs_cli_workspace_backend(&why) : 0;
	printf("workspace: %s%s%s\n",
	       o->workspace == HS_CLI_WS_REVIEW ? "review (the project on a layer, staged at exit "
					       "for harness diff / apply)"
	       : o->workspace == HS_CLI_WS_EPHEMERAL ? "ephemeral (the project on a layer, "
						     "discarded at exit)"
						   : "direct (the command writes the project)",
	       o->workspace == HS_CLI_WS_NONE ? ""
	       : snap > 0		      ? "; the layer would be a snapshot copy: "
	       : snap < 0 ? "; HARNESS_WORKSPACE_BACKEND is not overlay, snapshot or auto"
			  : "; on an overlay",
	       snap > 0 ? why : "");
	if (o->no_audit) {
		printf("audit: none (--no-audit)\n");
	} else if (o->audit_specs.n) {
		printf("audit:");
		for (size_t i = 0; i < o->audit_specs.n; i++)
			printf(" %s", o->audit_specs.v[i]);
		putchar('\n');
	} else {
		char *path = hs_audit_default_path();
		printf("audit: sqlite:%s\n", path);
		free(path);
	}
}

static void describe_agent(const struct hs_cli_run *o, const struct hs_policy *p)
{
	const struct hs_agent_profile *a = o->agent;
	const struct hs_agent_setup *s = &o->agent_setup;
	printf("agent: %s (%s), see %s\n", a->name, a->title, a->doc);
	if (a->binary)
		printf("  binary: %s%s\n", s->binary_path ? s->binary_path : "NOT FOUND on PATH; "
				  "install it with: ", s->binary_path ? "" : a->install);
	for (size_t i = 0; i < s->ro_dirs.n; i++)
		printf("  read-only: %s (where it is installed)\n", s->ro_dirs.v[i]);
	printf("  state: %s (per project; reset: harness agent reset %s)\n", s->state_dir,
	       a->name);
	for (const char *const *v = a->state_vars; *v; v++) {
		const char *eq = strchr(*v, '=');
		printf("    %.*s=%s%s%s\n", eq ? (int)(eq - *v) : (int)strlen(*v), *v,
		       s->state_dir, eq ? "/" : "", eq ? eq + 1 : "");
	}
	for (const struct hs_agent_seed *seed = a->seeds; seed->name; seed++) {
		char *src = s->user_dir ? hs_xasprintf("%s/%s", s->user_dir, seed->name) : NULL;
		bool have = src && access(src, F_OK) == 0;
		printf("    %s%s: read-only inside, %s\n", seed->name, seed->dir ? "/" : "",
		       !seed->copy ? "kept empty"
		       : have	   ? "copied from your config before each run"
				   : "empty (you have none)");
		free(src);
	}
	if (s->user_dir)
		printf("  your own config dir %s is not visible inside\n", s->user_dir);
	struct hs_strv passed = {0}, held = {0};
	credential_state(o, p, &passed, &held);
	for (size_t i = 0; i < passed.n; i++)
		printf("  credentials: %s IS passed (--env): the agent and every command it runs "
		       "can read it\n",
		       passed.v[i]);
	for (size_t i = 0; i < held.n; i++)
		printf("  credentials: %s is set here but NOT passed; give it with --env %s\n",
		       held.v[i], held.v[i]);
	if (!passed.n && !held.n)
		printf("  credentials: none passed (%s%s not set here)\n", a->credentials[0],
		       a->credentials[1] ? " and the others" : "");
	for (size_t i = 0; i < s->notes.n; i++)
		printf("  note: %s\n", s->notes.v[i]);
	hs_strv_clear(&passed);
	hs_strv_clear(&held);
}

/* Hides dir, or, when keep (this run's agent state dir) lies beneath it,
 * every entry of dir but the one on the way to keep, and so on down: keep
 * is bound there by the plan and needs its parents in place. */
static int hide_agent_states(struct hs_plan *plan, const char *dir, const char *keep,
			     struct hs_error *err)
{
	size_t n = strlen(dir);
	if (!keep || strncmp(keep, dir, n) != 0 || keep[n] != '/')
		return hs_plan_hide_host_path(plan, dir, err);
	const char *rest = keep + n + 1;
	size_t clen = strcspn(rest, "/");
	DIR *d = opendir(dir);
	int r = 0;
	struct dirent *e;
	while (d && r == 0 && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *child = hs_xasprintf("%s/%s", dir, e->d_name);
		if (strlen(e->d_name) == clen && !strncmp(e->d_name, rest, clen))
			r = rest[clen] ? hide_agent_states(plan, child, keep, err) : 0;
		else
			r = hs_plan_hide_host_path(plan, child, err);
		free(child);
	}
	if (d)
		closedir(d);
	return r;
}

int hs_cmd_run(int argc, char **argv)
{
	struct hs_policy p;
	struct hs_cli_run o;
	hs_policy_init(&p);
	int r = hs_cli_parse_run_options(argc, argv, &p, &o, false);
	char *agent_argv[2] = {NULL, NULL};
	char **cmd = argv + o.cmd_index;
	if (r == 0 && o.cmd_index >= argc && o.agent && o.agent->binary) {
		agent_argv[0] = (char *)o.agent->binary; /* harness run --agent claude */
		cmd = agent_argv;
	} else if (r == 0 && o.cmd_index >= argc) {
		if (o.agent)
			hs_cli_error("the %s profile has no command of its own: give the agent's, "
				     "as in harness run --agent %s -- aider",
				     o.agent->name, o.agent->name);
		else
			hs_cli_error("no command given: harness run [OPTIONS] -- CMD [ARGS] (see "
				     "'harness run --help')");
		r = HS_EXIT_HARNESS;
	}
	if (r == 0 && o.agent && !o.dry_run) /* a dry run shows it */
		r = agent_binary_check(&o, cmd[0]);
	char cwd[PATH_MAX];
	if (r == 0 && !getcwd(cwd, sizeof(cwd))) {
		hs_cli_error("cannot determine the current directory: %s", strerror(errno));
		r = HS_EXIT_HARNESS;
	}
	/* The audit stores open on a thread while the plan is built (joined
	 * before anything forks; a workspace's setup probes with a fork). */
	struct hs_run_audit ra;
	memset(&ra, 0, sizeof(ra));
	if (r == 0 && !o.dry_run)
		r = hs_run_audit_begin(&ra, &o, o.workspace == HS_CLI_WS_NONE);
	if (r != 0) {
		hs_policy_free(&p);
		hs_cli_run_free(&o);
		return r < 0 ? 0 : r;
	}
	struct hs_plan plan;
	struct hs_error err;
	hs_error_clear(&err);
	if (hs_plan_build(&p, cmd, environ, cwd, hs_caller_home(), o.dry_run, &plan, &err) < 0) {
		hs_cli_error("%s", err.msg);
		hs_run_audit_close(&ra);
		hs_plan_cleanup_placeholders(&plan);
		hs_plan_free(&plan);
		hs_policy_free(&p);
		hs_cli_run_free(&o);
		return HS_EXIT_HARNESS;
	}
	/* Staged runs and the agents' state dirs (every project's, every
	 * agent's) are never visible to a sandbox, whatever it is granted; the
	 * one state dir of this run's agent is bound over the hidden tree. The
	 * directories are made first: a sandbox started before they exist
	 * would otherwise see what later runs put there. */
	char *runs = hs_ws_runs_dir(), *agents = hs_state_path("agents");
	if (!o.dry_run) {
		(void)hs_mkdir_p(runs, 0700, false);
		(void)hs_mkdir_p(agents, 0700, false);
	}
	int hidden = hs_plan_hide_host_path(&plan, runs, &err);
	if (hidden == 0)
		hidden = hide_agent_states(&plan, agents, o.agent ? o.agent_setup.state_dir : NULL,
					   &err);
	free(runs);
	free(agents);
	if (hidden < 0) {
		hs_cli_error("%s", err.msg);
		hs_run_audit_close(&ra);
		hs_plan_cleanup_placeholders(&plan);
		hs_plan_free(&plan);
		hs_policy_free(&p);
		hs_cli_run_free(&o);
		return HS_EXIT_HARNESS;
	}
	/* The agent's state dir is its own, not the project: it stays writable
	 * beside a workspace (nothing in it ever lands anywhere). */
	struct hs_strv keep_rw = {0};
	for (size_t i = 0; o.agent && i < p.ngrants; i++)
		if (!strcmp(p.grants[i].path, o.agent_setup.state_dir) && p.grants[i].resolved)
			hs_strv_push(&keep_rw, p.grants[i].resolved);
	int ws_r = o.workspace != HS_CLI_WS_NONE
		       ? hs_plan_workspace(&plan, o.max_disk, &keep_rw, &err)
		       : 0;
	hs_strv_clear(&keep_rw);
	if (ws_r < 0) {
		hs_cli_error("%s %s", o.workspace == HS_CLI_WS_REVIEW ? "review mode:" : "ephemeral mode:",
			     err.msg);
		hs_run_audit_close(&ra);
		hs_plan_cleanup_placeholders(&plan);
		hs_plan_free(&plan);
		hs_policy_free(&p);
		hs_cli_run_free(&o);
		return HS_EXIT_HARNESS;
	}
	for (size_t i = 0; i < plan.warnings.n && !o.dry_run; i++)
		hs_cli_error("warning: %s", plan.warnings.v[i]);
	int code;
	if (o.dry_run) {
		printf("policy: %s\ncommand:", p.name ? p.name : "(custom)");
		for (char **a = cmd; *a; a++)
			printf(" %s", *a);
		putchar('\n');
		hs_plan_describe(&plan, stdout);
		describe_hosts(&p, &o);
		describe_layers(&plan, &p);
		describe_run(&p, &o);
		if (o.agent)
			describe_agent(&o, &p);
		code = 0;
	} else {
		if (o.agent)
			note_credentials(&o, &p);
		code = run_audited(&plan, &p, &o, &ra);
	}
	hs_run_audit_close(&ra); /* run_audited closed it; a dry run never opened it */
	hs_plan_cleanup_placeholders(&plan);
	hs_plan_free(&plan);
	hs_policy_free(&p);
	hs_cli_run_free(&o);
	return code;
}
