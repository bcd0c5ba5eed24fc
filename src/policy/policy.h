/*
 * policy.h: the policy model (what a run may do), its JSON loader, presets,
 * merging with command-line flags, validation and path canonicalization.
 *
 * Lifecycle: hs_policy_init() -> hs_policy_apply_preset() (base) ->
 * hs_policy_load_file() (zero or more, each layered on top) -> CLI flags via
 * the hs_policy_add_* / field setters -> hs_policy_resolve() (canonicalize
 * every path against cwd/HOME; fails on missing non-optional paths) ->
 * consumers read the struct -> hs_policy_free().
 *
 * Everything here is pure except hs_policy_load_file() (reads the file it is
 * given) and hs_policy_resolve() (realpath/stat on the granted paths).
 */
#ifndef HS_POLICY_H
#define HS_POLICY_H

#include "../common/common.h"
#include "commands.h"
#include "../workspace/guard.h"

#include <stdbool.h>
#include <stdint.h>

enum hs_access {
	HS_ACCESS_READ = 1,  /* read + execute, bound read-only */
	HS_ACCESS_WRITE = 2, /* read, write, create, delete */
};

/* One filesystem grant: a directory or file made visible in the sandbox at
 * the same path it has on the host. */
struct hs_grant {
	char *path;           /* owned; as written ("~/x", "./src", "/opt") */
	char *resolved;       /* owned; canonical absolute path after resolve;
	                         NULL before resolve or if optional and missing */
	enum hs_access access;
	bool optional;        /* a missing path is skipped, not an error */
	bool create;          /* create the directory (mode 0700) if missing;
	                         resolve does this, the only write it makes */
	char *origin;         /* owned; "FILE:LINE:COL", "--allow-dir", "preset restrict" */
};

/* Resource limits; 0 means "no limit" for every field. */
struct hs_limits {
	uint64_t timeout_ms;     /* wall clock for the whole sandbox */
	uint64_t cpu_seconds;    /* RLIMIT_CPU, per process */
	uint64_t memory_bytes;   /* cgroup memory.max, or RLIMIT_DATA fallback */
	uint64_t max_procs;      /* cgroup pids.max, or RLIMIT_NPROC fallback */
	uint64_t max_file_size;  /* RLIMIT_FSIZE */
	uint64_t max_open_files; /* RLIMIT_NOFILE */
	uint64_t tmp_size;       /* size= of the private /tmp tmpfs */
};

/* network.rate_limits: one entry per host pattern. */
struct hs_net_rate {
	char *host;
	uint64_t per_minute; /* connections per minute, 0 = none */
	uint64_t bytes;	     /* bytes both ways over the run, 0 = none */
};

/* guard.rules[i]: a rule of the policy's own for the review gate's linter
 * (src/workspace/guard.h, docs/guard.md). Owns every string. */
struct hs_guard_user_rule {
	char *id;			  /* dotted, like "content.todo"; not a built-in id */
	enum hs_guard_severity severity;  /* of its findings */
	char *message;			  /* what and why and how to proceed, one line */
	char *path;			  /* fnmatch glob on the relative path, or NULL */
	char *content;			  /* PCRE2 pattern on added lines, or NULL */
	struct hs_strv examples_match;	  /* lines (paths for a path-only rule) it must match */
	struct hs_strv examples_no_match; /* and must not */
	char *origin;			  /* "policy.json:12:9" */
};

struct hs_guard_severity_override {
	char *id; /* owned */
	enum hs_guard_severity severity;
};

/* The policy's "guard" section: how the built-in rules are adjusted and
 * the rules added; what hs_guard_new() takes. Layers add to it: disable
 * and severity entries accumulate (a later severity for an id wins), a
 * rule with the id of an earlier layer's rule replaces it. */
struct hs_guard_config {
	struct hs_strv disable;			     /* rule ids */
	struct hs_guard_severity_override *severity; /* owned array */
	size_t nseverity;			     /* entries in severity */
	uint64_t max_file_size;			     /* content over this is not scanned;
							0 = no limit */
	struct hs_guard_user_rule *rules;	     /* owned array, in load order */
	size_t nrules;
};

void hs_guard_user_rule_free(struct hs_guard_user_rule *r);

struct hs_policy {
	char *name;  /* owned; preset name or policy file, for messages;
	                NULL for an empty policy (hs_policy_init) */
	int level;   /* 0..3 when built from a level, -1 otherwise */

	struct hs_grant *grants; /* owned array; later entries win on same path */
	size_t ngrants;
	bool read_only;          /* every grant becomes read-only */

	/* Protected paths. Entries are relative (applied beneath every granted
	 * directory) or absolute; the last component may hold a glob (fnmatch).
	 * read_only: stays read-only inside writable dirs (masked even when it
	 * does not exist yet). hidden: replaced by an empty file/dir. */
	struct hs_strv protect_read_only;
	struct hs_strv protect_hidden;
	struct hs_strv unprotect; /* entries removed from the two lists above */

	struct hs_strv env_pass; /* variable names passed from the caller */
	struct hs_strv env_set;  /* "NAME=VALUE" set inside */

	/* Network (see src/net/rules.h and docs/network.md). Patterns are
	 * kept as written (validated at load); resolve entries are
	 * "name=address", both normalised. */
	struct hs_strv net_allow; /* host[:port] patterns; empty = no network */
	struct hs_strv net_deny;
	struct hs_strv net_resolve;
	struct hs_net_rate *net_rates; /* network.rate_limits, in load order */
	size_t n_net_rates;

	struct hs_limits limits;
	bool best_effort; /* run with the layers available, say which are missing */

	/* Policy key "workspace" (docs/review.md): whether the project is
	 * written directly, on a layer discarded at exit, or on a layer kept
	 * for review; the flags --direct, --ephemeral, --review override it. */
	enum hs_workspace_mode {
		HS_WORKSPACE_DIRECT = 0,
		HS_WORKSPACE_EPHEMERAL,
		HS_WORKSPACE_REVIEW,
	} workspace;
	uint64_t workspace_max_disk; /* what the command may write there; 0: the default */

	/* Command rules (policy key "commands", see commands.h and
	 * docs/commands.md): the policy's own rules, in the order loaded
	 * (layers append), and whether the built-in rules apply too
	 * (hs_cmd_rules_effective; true unless a layer says "defaults": false). */
	struct hs_cmd_rules commands;
	bool commands_defaults;

	/* The review gate's linter (policy key "guard"); hs_policy_init sets
	 * max_file_size to HS_GUARD_DEFAULT_MAX_FILE. */
	struct hs_guard_config guard;
};

/* Presets shipped with the tool. */
extern const char *const hs_preset_names[]; /* NULL-terminated */

void hs_policy_init(struct hs_policy *p);
void hs_policy_free(struct hs_policy *p);

/* Replaces *p with a preset: "restrict", "analyze", "scratch", "review",
 * "full", or a level "0".."3". Returns -1 with the list of known names. */
int hs_policy_apply_preset(struct hs_policy *p, const char *name, struct hs_error *err);
int hs_policy_apply_level(struct hs_policy *p, int level, struct hs_error *err);
/* The starting policy of a run: a policy file when `spec` looks like a path
 * (contains '/' or ends in .json; layered on the default preset, or on what
 * its "extends" names), a preset otherwise, the default preset when NULL. */
int hs_policy_start(struct hs_policy *p, const char *spec, struct hs_error *err);

/* Loads a policy file (JSON) and layers it on top of *p. Unknown keys,
 * wrong types and bad values are errors with file:line:column. A file may
 * say "extends": "PRESET" to start from a preset instead of *p.
 * Atomic: on error *p is left unchanged. Files over 1 MiB or nested deeper
 * than 32 levels are refused. */
int hs_policy_load_file(struct hs_policy *p, const char *path, struct hs_error *err);
/* Same from a buffer; `origin` names it in messages. Used by tests and fuzzing. */
int hs_policy_load_buffer(struct hs_policy *p, const char *buf, size_t len,
			  const char *origin, struct hs_error *err);

/* Flag-level mutators used by the CLI (origin names the flag). A grant for
 * a path already granted (same string) replaces that grant in place. */
void hs_policy_add_grant(struct hs_policy *p, const char *path, enum hs_access access,
			 bool optional, const char *origin);
int hs_policy_add_env(struct hs_policy *p, const char *spec, struct hs_error *err); /* NAME or NAME=VALUE */

/* --protect / --hide / --unprotect. Adding an entry to a protect list takes
 * it off `unprotect`; unprotecting takes it off both lists, so the last
 * layer wins. Rejects empty entries, ".." components, globs before the last
 * component and a leading "~" (message in err). */
enum hs_protect_kind {
	HS_PROTECT_READ_ONLY,
	HS_PROTECT_HIDDEN,
	HS_PROTECT_UNPROTECT,
};
int hs_policy_add_protect(struct hs_policy *p, enum hs_protect_kind kind, const char *pattern,
			  struct hs_error *err);

/* Deep copy: dst is overwritten (not freed first) and owns its strings. */
void hs_policy_copy(struct hs_policy *dst, const struct hs_policy *src);

/* Canonicalizes every grant against cwd and home ("~" and "~/x"), drops
 * duplicates (write wins over read), checks that non-optional paths exist,
 * rejects grants of "/" (read or write) and anything under /proc, /sys,
 * /dev. Creates `create` grants (mkdir 0700) first. With read_only every
 * grant becomes read. Takes `unprotect` entries off the protect lists.
 * May be called again; each call starts from the written paths. */
int hs_policy_resolve(struct hs_policy *p, const char *cwd, const char *home, struct hs_error *err);

/* Effective policy as a JSON document (owned string, free()) in the same
 * schema as policy files, for `harness policy show`: pretty-printed, stable
 * key order, grants as {"path", "resolved"} objects. Loaded on an empty
 * policy (hs_policy_init) it gives the same policy back. NULL on OOM. */
char *hs_policy_to_json(const struct hs_policy *p);

/* Environment names that never pass unless named exactly in env_pass. */
bool hs_env_name_is_secret(const char *name);
/* Names passed by default (PATH, HOME, LANG, TERM, TZ, USER, ...). */
extern const char *const hs_env_default_pass[]; /* NULL-terminated */

#endif
