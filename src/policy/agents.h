/*
 * agents.h: agent profiles, `harness run --agent NAME`. A profile adds to
 * whatever policy the run starts from (a preset, a level, a file) exactly
 * what one real agent CLI needs to work in the sandbox:
 *
 *   - its model API hosts, plus the host of any base-URL variable the
 *     caller set (ANTHROPIC_BASE_URL, OPENAI_BASE_URL) or, for Codex, the
 *     base_url of a provider in the caller's config.toml;
 *   - a state directory of its own per project, harness-managed
 *     ($XDG_STATE_HOME/harness/agents/NAME/PROJECT-KEY), named to the agent
 *     by its variable (CLAUDE_CONFIG_DIR, CODEX_HOME); the settings, hooks,
 *     instructions and command files in it are copied from the caller's own
 *     config dir before each run and stay read-only inside, so an agent can
 *     never plant settings that run later, and the caller's real config dir
 *     is never visible at all;
 *   - the non-secret variables it reads (model names, base URLs) and a few
 *     it needs set (IS_SANDBOX, telemetry off);
 *   - read access to where its binary is installed, when that is outside
 *     the system directories (npm prefixes under HOME, /opt).
 * API keys are not part of a profile: they pass only when the caller names
 * them (--env ANTHROPIC_API_KEY); hs_agent_setup says which are set.
 *
 * hs_agent_compose() only computes (it reads the caller's environment,
 * PATH and config files); hs_agent_prepare_state() makes the state
 * directory and copies the seeds, for a real run only.
 */
#ifndef HS_AGENTS_H
#define HS_AGENTS_H

#include "policy.h"

#include <stdbool.h>
#include <stddef.h>

struct hs_agent_seed {
	const char *name;     /* in the caller's config dir and in the state dir */
	bool dir;             /* a directory tree (copied with bounds) */
	const char *fallback; /* a file's content when the caller has none */
	bool copy;            /* false: kept read-only (and empty) inside, never copied */
};

struct hs_agent_profile {
	const char *name;	   /* "claude" */
	const char *title;	   /* "Claude Code" */
	const char *binary;	   /* the command it runs when none is given; NULL: none */
	const char *install;	   /* how to install that binary */
	const char *doc;	   /* docs/agents/NAME.md */
	const char *const *state_vars; /* "VAR" names the state dir, "VAR=sub" a
					  directory beneath it (made with it) */
	const char *user_dir_var;  /* caller's variable naming their config dir */
	const char *user_dir;	   /* else this, under the caller's HOME */
	const struct hs_agent_seed *seeds;	/* name == NULL ends */
	const char *const *hosts;	  /* model API hosts (NULL-terminated) */
	const char *const *base_url_vars; /* caller variables holding a base URL */
	const char *const *pass;	  /* non-secret variables passed when set */
	const char *const *set;		  /* "NAME=VALUE" set inside */
	const char *const *credentials;	  /* variables holding keys: never passed
					     unless the caller names them */
	bool toml_base_urls;		  /* read base_url lines of config.toml */
	/* The agent's own JSON state in the state dir (Claude Code's
	 * .claude.json): it must stay writable, but the MCP servers it names
	 * start with the agent, so they are replaced before each run by the
	 * caller's own (from the same file of theirs), and backups/ (which
	 * the agent restores that file from) is emptied. NULL: none. */
	const char *state_json;
};

extern const struct hs_agent_profile hs_agent_profiles[]; /* name == NULL ends */

/* What composing a profile decided, for the run and for --dry-run. */
struct hs_agent_setup {
	const struct hs_agent_profile *profile;
	char *state_dir;	  /* owned: per project */
	char *user_dir;		  /* owned: the caller's config dir (seed source) */
	char *user_state_json;	  /* owned: the caller's own state_json file, or NULL */
	struct hs_strv hosts;	  /* host patterns the profile allowed */
	struct hs_strv host_why;  /* parallel: why each */
	struct hs_strv ro_dirs;	  /* install dirs granted read-only */
	struct hs_strv notes;	  /* what was noticed, for the user */
	char *binary_path;	  /* the profile's binary found on PATH, or NULL */
};

const struct hs_agent_profile *hs_agent_find(const char *name);
/* "unknown agent "x" (did you mean ...); known: claude (Claude Code), ...": -1. */
int hs_agent_unknown(const char *name, struct hs_error *err);

/* Adds the profile to *p (grants, protected paths, environment, hosts) and
 * fills *out. `env` is the caller's environment; home and cwd absolute. */
int hs_agent_compose(struct hs_policy *p, const struct hs_agent_profile *a, char *const *env,
		     const char *home, const char *cwd, struct hs_agent_setup *out,
		     struct hs_error *err);
/* Creates the state dir (0700) and copies the seeds into it, replacing what
 * an earlier run left at those names. */
int hs_agent_prepare_state(const struct hs_agent_setup *s, struct hs_error *err);
void hs_agent_setup_free(struct hs_agent_setup *s);

/* $XDG_STATE_HOME/harness/agents/NAME, and beneath it the state dir of the
 * project at cwd (owned strings). */
char *hs_agent_state_root(const struct hs_agent_profile *a);
char *hs_agent_state_dir(const struct hs_agent_profile *a, const char *cwd);
/* rm -rf of path, never following a link below it; 0 when it is gone. */
int hs_agent_remove_tree(const char *path);

/* The caller's value of `name` in env, or NULL. */
const char *hs_agent_env_get(char *const *env, const char *name);

/* "https://user@host:8443/v1" -> "host:8443"; http(s) only, the default
 * port filled in, IPv6 kept in brackets. -1 with *why on anything else. */
int hs_agent_url_hostport(const char *url, char *out, size_t len, const char **why);

/* Calls cb for every `base_url = "..."` (or '...') assignment in a TOML
 * text, and `openai_base_url` (Codex's built-in provider), with its
 * 1-based line; stops at the first non-zero return. Keys in any table
 * count; a value longer than 2048 bytes is skipped. */
typedef int (*hs_agent_toml_cb)(void *ctx, const char *value, unsigned line);
int hs_agent_toml_base_urls(const char *buf, size_t len, hs_agent_toml_cb cb, void *ctx);

#endif
