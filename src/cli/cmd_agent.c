/*
 * cmd_agent.c: `harness agent list` (the profiles, whether each agent is
 * installed, where its state lives) and `harness agent reset NAME [--all]`
 * (forget the state a profile keeps for this project, or for every one).
 */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

static const char agent_usage[] =
	"Usage: harness agent list\n"
	"       harness agent reset NAME [--all]\n"
	"\n"
	"list   the agent profiles of 'harness run --agent NAME', whether each agent is\n"
	"       installed, and the state directory each keeps for this project\n"
	"reset  delete the state the NAME profile keeps for this project (the\n"
	"       directory's sessions, history, logins made inside); with --all, for\n"
	"       every project. The settings copied in from your own config dir come\n"
	"       back at the next run; your own config dir is never touched\n";

static int project_dir(char *out)
{
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)) || !realpath(cwd, out)) {
		hs_cli_error("cannot determine the current directory: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int agent_list(void)
{
	char cwd[PATH_MAX];
	if (project_dir(cwd) < 0)
		return HS_EXIT_HARNESS;
	for (const struct hs_agent_profile *a = hs_agent_profiles; a->name; a++) {
		char *dir = hs_agent_state_dir(a, cwd);
		struct stat st;
		printf("%-8s %s\n", a->name, a->title);
		if (a->binary) {
			struct hs_policy p;
			struct hs_agent_setup s;
			struct hs_error err;
			hs_policy_init(&p);
			if (hs_agent_compose(&p, a, environ, hs_caller_home(), cwd, &s, &err) == 0)
				printf("         binary: %s\n",
				       s.binary_path ? s.binary_path : "not installed");
			if (!s.binary_path)
				printf("         install: %s\n", a->install);
			hs_agent_setup_free(&s);
			hs_policy_free(&p);
		}
		printf("         state here: %s%s\n", dir,
		       stat(dir, &st) == 0 ? "" : " (none yet)");
		printf("         docs: %s\n", a->doc);
		free(dir);
	}
	return 0;
}

static int agent_reset(int argc, char **argv)
{
	const char *name = NULL;
	bool all = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--all"))
			all = true;
		else if (argv[i][0] == '-' || name) {
			hs_cli_error("agent reset: unexpected '%s' (harness agent reset NAME [--all])",
				     argv[i]);
			return HS_EXIT_HARNESS;
		} else
			name = argv[i];
	}
	if (!name) {
		hs_cli_error("agent reset: which profile? (harness agent reset NAME [--all])");
		return HS_EXIT_HARNESS;
	}
	const struct hs_agent_profile *a = hs_agent_find(name);
	if (!a) {
		struct hs_error err;
		hs_agent_unknown(name, &err);
		hs_cli_error("agent reset: %s", err.msg);
		return HS_EXIT_HARNESS;
	}
	char cwd[PATH_MAX];
	if (project_dir(cwd) < 0)
		return HS_EXIT_HARNESS;
	char *dir = all ? hs_agent_state_root(a) : hs_agent_state_dir(a, cwd);
	struct stat st;
	int code = 0;
	if (lstat(dir, &st) < 0)
		printf("%s: nothing to reset (%s does not exist)\n", a->name, dir);
	else if (hs_agent_remove_tree(dir) < 0) {
		hs_cli_error("agent reset: cannot remove %s: %s", dir, strerror(errno));
		code = HS_EXIT_HARNESS;
	} else
		printf("%s: removed %s\n", a->name, dir);
	free(dir);
	return code;
}

int hs_cmd_agent(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(agent_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? HS_EXIT_HARNESS : 0;
	}
	if (!strcmp(argv[1], "list"))
		return agent_list();
	if (!strcmp(argv[1], "reset"))
		return agent_reset(argc - 1, argv + 1);
	hs_cli_error("agent: unknown subcommand '%s'; use 'list' or 'reset'", argv[1]);
	return HS_EXIT_HARNESS;
}
