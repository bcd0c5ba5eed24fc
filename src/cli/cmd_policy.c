/*
 * cmd_policy.c: `harness policy show [RUN-OPTIONS]` prints the effective
 * policy (preset or file, flags layered on top, paths resolved) as JSON in
 * the policy-file schema; `harness policy check FILE...` validates files and
 * reports every problem as file:line:column.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char policy_usage[] =
	"Usage: harness policy show [RUN-OPTIONS]\n"
	"       harness policy check FILE...\n"
	"\n"
	"show   print the effective policy as JSON (the run options of 'harness run'\n"
	"       apply: --policy, --level, --allow-dir, ...)\n"
	"check  validate policy files; prints FILE:LINE:COLUMN: problem for each bad one\n"
	"       and exits 125 if any is invalid, 0 if all are valid\n";

static int policy_show(int argc, char **argv)
{
	struct hs_policy p;
	struct hs_cli_run o;
	hs_policy_init(&p);
	int r = hs_cli_parse_run_options(argc, argv, &p, &o, true);
	if (r == 0) {
		char *json = hs_policy_to_json(&p);
		fputs(json, stdout);
		fputc('\n', stdout);
		free(json);
	}
	hs_policy_free(&p);
	hs_cli_run_free(&o);
	return r < 0 ? 0 : r;
}

static int policy_check(int argc, char **argv)
{
	int bad = 0;
	if (argc < 2) {
		hs_cli_error("policy check: no file given (harness policy check FILE...)");
		return HS_EXIT_HARNESS;
	}
	for (int i = 1; i < argc; i++) {
		struct hs_policy p;
		struct hs_error err;
		hs_policy_init(&p);
		hs_error_clear(&err);
		if (hs_policy_apply_preset(&p, "restrict", &err) < 0 ||
		    hs_policy_load_file(&p, argv[i], &err) < 0) {
			char buf[HS_ERR_MSG_MAX + 300];
			hs_error_format(&err, buf, sizeof(buf));
			fprintf(stderr, "%s\n", buf);
			bad++;
		} else {
			printf("%s: ok\n", argv[i]);
		}
		hs_policy_free(&p);
	}
	return bad ? HS_EXIT_HARNESS : 0;
}

int hs_cmd_policy(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(policy_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? HS_EXIT_HARNESS : 0;
	}
	if (!strcmp(argv[1], "show"))
		return policy_show(argc - 1, argv + 1);
	if (!strcmp(argv[1], "check"))
		return policy_check(argc - 1, argv + 1);
	hs_cli_error("policy: unknown subcommand '%s'; use 'show' or 'check'", argv[1]);
	return HS_EXIT_HARNESS;
}
