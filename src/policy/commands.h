/*
 * commands.h: command rules (policy key "commands"): which executions the
 * supervisor lets through, refuses, or holds for a human's yes; and the
 * bounded reader of shell text that lets the rules see into `sh -c "..."`.
 *
 * A rule matches one command (an exec, or a command inside a shell script
 * or behind a wrapper such as env, nice, timeout, sudo) by:
 *   - "match": a token pattern. match[0] is the program (its basename, or
 *     its path when the token holds a '/'); the other tokens are matched
 *     against the arguments from the left, Codex-execpolicy style (a
 *     prefix: anything may follow the last token), with a few special
 *     tokens: "..." (any arguments), "-..." (any options), "$" (the end),
 *     "-{rf}" (short flags r and f, however clustered, anywhere; long
 *     synonyms: "-{r/R/recursive,f/force}"), "@root|@home|@project"
 *     (an operand that is, or holds, that directory), "@sql-drop", ...;
 *     words are globs with '|' alternatives; '!' negates. The whole syntax
 *     is in docs/commands.md.
 *   - "glob": a glob over the command line (the program's basename and the
 *     arguments joined by single spaces; '*' crosses spaces and '/').
 *   - "pipe_from": the command reads a pipe fed by one of these programs
 *     (`curl ... | sh`).
 * All the parts a rule has must match. Decisions: deny wins over ask, ask
 * over allow, and among rules of one decision the first one listed; no
 * rule = the default (the verdict's rule is NULL: allow unless the caller
 * decides otherwise, e.g. a review mode that asks for anything unlisted).
 *
 * Shell wrappers (`sh -c`, `bash -lc`, `env X=1 cmd`, `timeout 5 cmd`,
 * `eval "..."`, `$(...)`, pipelines) are looked into as far as they can be
 * parsed; what cannot be (here-documents, unbalanced quotes, `case`,
 * complex ${...}, a program that is an expansion, xargs' appended
 * arguments, ...) sets unparsed_shell: the exec is then *allowed but
 * flagged* unless some rule matched, and rules still apply to everything
 * that was understood, including the raw command line of the wrapper
 * itself (a "glob" rule sees `bash -c "<the whole script>"`).
 *
 * Every rule may carry examples that must / must not match; the loader
 * runs them (hs_cmd_rule_test) and refuses the policy at the failing
 * example. The built-in rules carry examples too (tested in the unit tests).
 *
 * Bounds: everything here is iterative or recursive with a fixed depth
 * cap; the work is O(rules x tokens x arguments) plus linear scans of the
 * text; memory is proportional to the input. Inputs are whatever a
 * sandboxed process passed to execve: any bytes.
 *
 * Everything here is pure (no I/O, no globals written), so the supervisor
 * may call it from its exec hook.
 */
#ifndef HS_COMMANDS_H
#define HS_COMMANDS_H

#include "../common/common.h"

#include <stdbool.h>
#include <stddef.h>

enum hs_cmd_decision {
	HS_CMD_ALLOW = 0, /* no rule, or an allow rule */
	HS_CMD_ASK,
	HS_CMD_DENY,
};

#define HS_CMD_MAX_TOKENS 64	 /* tokens in one rule's "match" */
#define HS_CMD_MAX_TOKEN 1024	 /* bytes of one token, glob or example */
#define HS_CMD_MAX_LINE 65536	 /* bytes of a joined command line matched by "glob" */
#define HS_CMD_MAX_DEPTH 8	 /* wrappers and shells inside one another */
#define HS_CMD_MAX_COMMANDS 4096 /* commands looked at for one exec */

/* One rule. Owns every string. */
struct hs_cmd_rule {
	enum hs_cmd_decision decision;
	struct hs_strv match;		  /* token pattern; empty when only "glob" is given */
	char *glob;			  /* glob over the joined command line, or NULL */
	struct hs_strv pipe_from;	  /* program patterns; non-empty: the command must read
					     a pipe fed by one of them */
	char *reason;			  /* shown to the agent, or NULL */
	struct hs_strv examples_match;	  /* command lines (shell text) it must match */
	struct hs_strv examples_no_match; /* and must not */
	char *id;			  /* "commands.deny[2]", "default:git-push-force" */
	char *origin;			  /* "policy.json:12:9", "built-in" */
};

struct hs_cmd_rules {
	struct hs_cmd_rule *v; /* owned */
	size_t n;
};

/* Where the exec happens, for the path classes (@home, @project, @tmp)
 * and relative paths. Any field may be NULL or "" (unknown): a relative
 * path is then in no class (but outside @tmp). Borrowed. */
struct hs_cmd_context {
	const char *cwd;     /* the caller's working directory */
	const char *home;    /* the caller's home ("~", $HOME) */
	const char *project; /* the project root: the run's working directory */
};

/* The verdict on one exec. */
struct hs_cmd_verdict {
	enum hs_cmd_decision decision;
	const struct hs_cmd_rule *rule; /* the rule that decided (borrowed from the rules),
					   NULL when none matched */
	char command[512];		/* the command the rule matched, joined by spaces,
					   control characters as '?', cut with "...";
					   inside a wrapper or script, the inner command */
	bool nested;			/* that command was inside a wrapper or script */
	bool unparsed_shell;		/* some shell text or wrapper was not understood */
	const char *unparsed_why;	/* static text: "here-document", ...; NULL if parsed */
};

/* Evaluates one exec: argv[0..argc) as executed, `path` the program's path
 * as passed to execve (or resolved; NULL if unknown). ctx may be NULL. */
void hs_cmd_evaluate(const struct hs_cmd_rules *rules, const struct hs_cmd_context *ctx,
		     const char *path, char *const argv[], size_t argc, struct hs_cmd_verdict *out);

/* Appends the built-in rules for the classic disasters (docs/commands.md
 * lists them): deny rules at every level; "review" ask rules (git reset
 * --hard, git clean -f, git checkout ., rm -r outside /tmp) only at
 * levels 0, 1 and 2; level < 0 (a policy not built from a level, such as
 * the restrict preset) counts as 3. */
void hs_cmd_rules_add_defaults(struct hs_cmd_rules *rules, int level);

/* The rules a run enforces: a copy of the policy's own rules, then the
 * built-in ones when `defaults`. out is overwritten (not freed first). */
void hs_cmd_rules_effective(struct hs_cmd_rules *out, const struct hs_cmd_rules *policy_rules,
			    bool defaults, int level);

/* Appends a deep copy of r. */
void hs_cmd_rules_push(struct hs_cmd_rules *rules, const struct hs_cmd_rule *r);
/* Deep copy: dst is overwritten (not freed first). */
void hs_cmd_rules_copy(struct hs_cmd_rules *dst, const struct hs_cmd_rules *src);
void hs_cmd_rule_free(struct hs_cmd_rule *r);
void hs_cmd_rules_free(struct hs_cmd_rules *rules);

/* "allow", "ask", "deny" */
const char *hs_cmd_decision_name(enum hs_cmd_decision d);

/* Checks a "match" pattern. Returns -1 with *bad the index of the faulty
 * token (or match->n when the pattern as a whole is wrong) and why[] the
 * reason ("\"@hom\" is not a class; did you mean \"@home\"?"). */
int hs_cmd_match_check(const struct hs_strv *match, size_t *bad, char *why, size_t len);
/* Checks a "glob" or a "pipe_from" program pattern. */
int hs_cmd_glob_check(const char *glob, char *why, size_t len);
int hs_cmd_program_check(const char *pattern, char *why, size_t len);

/* Rules that test themselves: does rule r match the command line
 * `example` (shell text, as typed in a shell)? Examples are evaluated in a
 * fixed context: cwd and project /home/user/project, home /home/user.
 * *unparsed (may be NULL) gets why the example was not fully parsed. */
bool hs_cmd_rule_test(const struct hs_cmd_rule *r, const char *example, const char **unparsed);

/* ---- shell text (shell.c) ---- */

/* One simple command of a script. */
struct hs_shell_cmd {
	struct hs_strv words; /* quotes and backslashes removed; expansions ($X, ${X},
				 $(...), `...`, <(...), ~, globs) kept as written;
				 leading assignments, redirections and reserved words
				 (if, then, !, {, ...) dropped; never empty */
	unsigned pipeline;    /* commands with the same number form one pipeline,
				 listed in their order */
	unsigned nest;	      /* 0 in the script itself; n inside n levels of $(...),
				 `...` or <(...) (listed before the command holding them) */
	unsigned subshell;    /* 0, or an id of the ( ... ) the command is in */
};

struct hs_shell_script {
	struct hs_shell_cmd *v; /* owned */
	size_t n;
	const char *unparsed; /* static text, or NULL when every part was understood */
};

#define HS_SHELL_MAX_NEST 8 /* $(...) inside one another */

/* Splits shell text into simple commands at ; & && || | |& ( ) and
 * newlines, as sh would for the common cases (quotes, backslashes,
 * comments, redirections, $(...) and backquotes, whose contents are
 * commands too, up to HS_SHELL_MAX_NEST deep). Returns 0, or -1 when part
 * of the text was not understood (out->unparsed says what; out still
 * holds every command that was read, best effort). out is overwritten;
 * free it with hs_shell_script_free() either way. */
int hs_shell_split(const char *text, size_t len, struct hs_shell_script *out);
void hs_shell_script_free(struct hs_shell_script *s);

#endif
