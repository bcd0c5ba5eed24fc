/*
 * cmd_run.c: `harness run [OPTIONS] [--] CMD [ARGS]`. Parses the run flags
 * into a policy (preset or file first, flags layered on top), compiles the
 * plan, starts the sandbox, supervises it, and turns the outcome into an
 * exit status and one line naming any limit that was hit.
 */
#define _GNU_SOURCE
#include "cli.h"
#include "sandbox/sandbox.h"
#include "supervise/run.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	"  -w, --allow-dir PATH       make PATH visible read-write\n"
	"  -r, --allow-read PATH      make PATH visible read-only\n"
	"      --read-only            make every granted path read-only\n"
	"      --protect PATH         keep PATH read-only inside writable dirs\n"
	"      --hide PATH            replace PATH by an empty file or dir\n"
	"      --unprotect PATH       drop PATH from the protected and hidden lists\n"
	"      --no-network           no network at all (the default)\n"
	"      --allow-host HOST      refused in this version: egress through\n"
	"                             harness's proxy does not exist yet\n"
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
	"  -n, --dry-run              print the sandbox that would run, start nothing\n"
	"  -v, --verbose              say which layers are up\n"
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
};

static const struct option run_options[] = {
	{"policy", required_argument, NULL, 'p'},
	{"level", required_argument, NULL, 'l'},
	{"allow-dir", required_argument, NULL, 'w'},
	{"allow-read", required_argument, NULL, 'r'},
	{"read-only", no_argument, NULL, OPT_READ_ONLY},
	{"protect", required_argument, NULL, OPT_PROTECT},
	{"hide", required_argument, NULL, OPT_HIDE},
	{"unprotect", required_argument, NULL, OPT_UNPROTECT},
	{"no-network", no_argument, NULL, OPT_NO_NETWORK},
	{"allow-host", required_argument, NULL, OPT_ALLOW_HOST},
	{"env", required_argument, NULL, 'e'},
	{"timeout", required_argument, NULL, 't'},
	{"max-cpu", required_argument, NULL, OPT_MAX_CPU},
	{"max-memory", required_argument, NULL, OPT_MAX_MEMORY},
	{"max-procs", required_argument, NULL, OPT_MAX_PROCS},
	{"max-file-size", required_argument, NULL, OPT_MAX_FILE_SIZE},
	{"max-open-files", required_argument, NULL, OPT_MAX_OPEN_FILES},
	{"tmp-size", required_argument, NULL, OPT_TMP_SIZE},
	{"best-effort", no_argument, NULL, OPT_BEST_EFFORT},
	{"dry-run", no_argument, NULL, 'n'},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};
static const char run_shortopts[] = "+:p:l:w:r:e:t:nvh";

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
		return 0; /* handled by load_base */
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
		return 0;
	case OPT_ALLOW_HOST:
		hs_cli_error("--allow-host %s: egress through harness's proxy is not available in "
			     "this version; the sandbox has no network",
			     arg);
		return HS_EXIT_HARNESS;
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
	case OPT_BEST_EFFORT:
		p->best_effort = true;
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


int hs_cli_parse_run_options(int argc, char **argv, struct hs_policy *p, struct hs_cli_run *o,
			     bool inspect_only)
{
	const char *policy = NULL, *level = NULL;
	int c;
	memset(o, 0, sizeof(*o));
	/* Pass 1: the starting policy, so flags layer on top whatever their order. */
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, run_shortopts, run_options, NULL)) != -1) {
		if (c == 'p')
			policy = optarg;
		else if (c == 'l')
			level = optarg;
		else if (c == 'h') {
			fputs(run_usage, stdout);
			return -1;
		}
	}
	int r = load_base(p, policy, level);
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

	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd))) {
		hs_cli_error("cannot determine the current directory: %s", strerror(errno));
		return HS_EXIT_HARNESS;
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

/* -v: every exec inside, as the supervisor saw it. */
static int print_exec(void *ctx, const struct hs_exec_request *req)
{
	(void)ctx;
	if (!req->found)
		return 0;
	fprintf(stderr, "harness: exec %s [", req->path);
	for (size_t i = 0; i < req->argv.n; i++)
		fprintf(stderr, "%s%s", i ? " " : "", req->argv.v[i]);
	fprintf(stderr, "%s] in %s\n", req->truncated ? " ..." : "", req->cwd);
	return 0;
}

static void run_started(const struct hs_run_result *res, void *ctx)
{
	const bool *verbose = ctx;
	unsigned l = res->layers;
	if (res->fell_back) {
		hs_cli_error("best effort: %s", res->fallback_why);
		hs_cli_error("best effort: running WITHOUT namespaces: no private /tmp, HOME or "
			     "/proc, no protected or hidden paths, no network isolation beyond "
			     "Landlock's TCP rules, unix sockets on the host reachable; the "
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

/* Names any limit that was hit, on stderr; returns the exit status. */
static int report_outcome(const struct hs_plan *plan, const struct hs_run_result *res)
{
	const struct hs_outcome *out = &res->out;
	const char *cmd = plan->argv.v[0];
	int code = hs_run_exit_code(res);
	if (out->timed_out) {
		hs_cli_error("wall-clock limit of %llu ms reached: the whole sandbox was killed "
			     "(raise it with --timeout, or limits.timeout in the policy)",
			     (unsigned long long)plan->limits.timeout_ms);
		return code;
	}
	if (out->setup_error[0]) {
		hs_cli_error("%s: %s", cmd, out->setup_error);
		return code;
	}
	if (out->exec_errno) {
		if (out->exec_errno == ENOENT)
			hs_cli_error("%s: command not found inside the sandbox (searched PATH; grant "
				     "its directory with --allow-read, or give its full path)",
				     cmd);
		else
			hs_cli_error("%s: cannot execute inside the sandbox: %s", cmd,
				     strerror(out->exec_errno));
		return code;
	}
	int st = out->status;
	if (res->pids_max_hit)
		hs_cli_error("process limit of %llu reached: fork() failed inside the sandbox "
			     "(raise it with --max-procs)",
			     (unsigned long long)plan->limits.max_procs);
	if (WIFEXITED(st))
		return code;
	int sig = code - 128;
	if (sig == SIGKILL && res->oom_killed)
		hs_cli_error("memory limit of %llu bytes reached: the kernel killed %s (raise it "
			     "with --max-memory)",
			     (unsigned long long)plan->limits.memory_bytes, cmd);
	else if (sig == SIGXCPU || (sig == SIGKILL && plan->limits.cpu_seconds &&
				    !res->oom_killed && !out->signal_received))
		hs_cli_error("CPU limit of %llu s reached: %s was killed (raise it with --max-cpu)",
			     (unsigned long long)plan->limits.cpu_seconds, cmd);
	else if (sig == SIGXFSZ)
		hs_cli_error("file size limit of %llu bytes reached: %s was killed (raise it with "
			     "--max-file-size)",
			     (unsigned long long)plan->limits.max_file_size, cmd);
	return code;
}

static int run_plan(struct hs_plan *plan, bool verbose)
{
	struct hs_error err;
	struct hs_run_result res;
	hs_error_clear(&err);
	struct hs_run_hooks hooks = {.started = run_started, .ctx = &verbose};
	if (verbose) {
		plan->intercept_exec = true;
		hooks.on_exec = print_exec;
	}
	if (hs_run_plan(plan, &hooks, &res, &err) < 0) {
		hs_cli_error("%s", err.msg);
		return HS_EXIT_HARNESS;
	}
	return report_outcome(plan, &res);
}

int hs_cmd_run(int argc, char **argv)
{
	struct hs_policy p;
	struct hs_cli_run o;
	hs_policy_init(&p);
	int r = hs_cli_parse_run_options(argc, argv, &p, &o, false);
	if (r != 0) {
		hs_policy_free(&p);
		return r < 0 ? 0 : r;
	}
	if (o.cmd_index >= argc) {
		hs_cli_error("no command given: harness run [OPTIONS] -- CMD [ARGS] (see 'harness "
			     "run --help')");
		hs_policy_free(&p);
		return HS_EXIT_HARNESS;
	}
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd))) {
		hs_cli_error("cannot determine the current directory: %s", strerror(errno));
		hs_policy_free(&p);
		return HS_EXIT_HARNESS;
	}
	struct hs_plan plan;
	struct hs_error err;
	hs_error_clear(&err);
	if (hs_plan_build(&p, argv + o.cmd_index, environ, cwd, hs_caller_home(), o.dry_run, &plan,
			  &err) < 0) {
		hs_cli_error("%s", err.msg);
		hs_plan_cleanup_placeholders(&plan);
		hs_plan_free(&plan);
		hs_policy_free(&p);
		return HS_EXIT_HARNESS;
	}
	for (size_t i = 0; i < plan.warnings.n && !o.dry_run; i++)
		hs_cli_error("warning: %s", plan.warnings.v[i]);
	int code;
	if (o.dry_run) {
		printf("policy: %s\ncommand:", p.name ? p.name : "(custom)");
		for (int i = o.cmd_index; i < argc; i++)
			printf(" %s", argv[i]);
		putchar('\n');
		hs_plan_describe(&plan, stdout);
		code = 0;
	} else {
		code = run_plan(&plan, o.verbose);
	}
	hs_plan_cleanup_placeholders(&plan);
	hs_plan_free(&plan);
	hs_policy_free(&p);
	return code;
}
