/*
 * cli.h: the `harness` subcommands. Each returns the process exit status.
 * The CLI is the only layer that prints; it prints errors once, prefixed
 * "harness: ", naming what was refused, by which rule, and how to allow it.
 */
#ifndef HS_CLI_H
#define HS_CLI_H

#include "policy/policy.h"

#include <stdbool.h>

/* Options shared by `harness run` and `harness policy show`, parsed by
 * hs_cli_parse_run_options() into a policy plus these launcher settings. */
struct hs_cli_run {
	bool dry_run;
	bool verbose;
	int cmd_index; /* argv index of the command after "--", or argc if none */
};

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

/* Prints "harness: " + message (+ "\n") to stderr. */
void hs_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
