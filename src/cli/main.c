/*
 * main.c: entry point of the `harness` command: global options and dispatch
 * to the subcommands in cmd_*.c. The only layer that prints.
 */
#define _GNU_SOURCE
#include "cli.h"
#include "sandbox/sandbox.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

extern char **environ;

void hs_cli_error(const char *fmt, ...)
{
	va_list ap;
	fputs("harness: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const char usage_text[] =
	"Usage: harness [--help] [--version] COMMAND [ARGS]\n"
	"\n"
	"Runs AI coding agents, and anything they start, in a sandbox the kernel\n"
	"enforces: namespaces, a fresh filesystem view, Landlock, seccomp, no\n"
	"capabilities, a scrubbed environment, no network, resource limits.\n"
	"\n"
	"Commands:\n"
	"  run [OPTIONS] [--] CMD [ARGS]   run CMD in a sandbox built from the policy\n"
	"  check [--json]                  show which isolation layers this kernel offers\n"
	"  policy show [OPTIONS]           print the effective policy (run options apply)\n"
	"  policy check FILE...            validate policy files\n"
	"  audit verify|query|tail|export  check and read the audit log (see 'audit --help')\n"
	"  runs [--all] [--json]           list the runs --review staged\n"
	"  diff RUN [--stat] [PATH...]     show what a staged run changed\n"
	"  apply RUN [--force] [PATH...]   land a staged run's changes (after the guard)\n"
	"  discard RUN                     drop a staged run's changes\n"
	"  agent list|reset NAME           the agent profiles of run --agent, their state\n"
	"  help                            show this help\n"
	"\n"
	"Run 'harness run --help' for the run options. Exit codes: the command's own\n"
	"status, 128+N if it was killed by signal N, 124 wall-clock limit, 125 harness\n"
	"error (usage, policy, kernel, setup), 126 command not executable, 127 command\n"
	"not found. See harness(1).\n";

static void find_proc_strings(int argc, char **argv)
{
	/* argv and environ strings sit contiguously at the top of the stack;
	 * record the area so the sandbox's pid 1 can wipe its copy. */
	char *start = argv[0];
	char *end = argv[argc - 1] + strlen(argv[argc - 1]) + 1;
	for (char **e = environ; e && *e; e++)
		if (*e == end)
			end = *e + strlen(*e) + 1;
	hs_set_proc_strings_area(start, end);
}

int main(int argc, char **argv)
{
	if (argc < 1)
		return HS_EXIT_HARNESS;
	find_proc_strings(argc, argv);
	if (argc < 2) {
		fputs(usage_text, stderr);
		return HS_EXIT_HARNESS;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
		printf("harness %s\n", HS_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "run"))
		return hs_cmd_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "check"))
		return hs_cmd_check(argc - 1, argv + 1);
	if (!strcmp(cmd, "policy"))
		return hs_cmd_policy(argc - 1, argv + 1);
	if (!strcmp(cmd, "audit"))
		return hs_cmd_audit(argc - 1, argv + 1);
	if (!strcmp(cmd, "runs"))
		return hs_cmd_runs(argc - 1, argv + 1);
	if (!strcmp(cmd, "diff"))
		return hs_cmd_diff(argc - 1, argv + 1);
	if (!strcmp(cmd, "apply"))
		return hs_cmd_apply(argc - 1, argv + 1);
	if (!strcmp(cmd, "discard"))
		return hs_cmd_discard(argc - 1, argv + 1);
	if (!strcmp(cmd, "agent"))
		return hs_cmd_agent(argc - 1, argv + 1);
	hs_cli_error("unknown command '%s'; commands are run, check, policy, audit, runs, diff, apply, discard, agent, help "
		     "(see 'harness --help')",
		     cmd);
	return HS_EXIT_HARNESS;
}
