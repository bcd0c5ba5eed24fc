/*
 * env.c: which environment variables reach the sandbox. A short list passes
 * by default; names that look like credentials never pass unless the user
 * names them exactly (env.pass or --env). The classifier errs on the side
 * of calling a name secret: a false positive costs one --env flag, a false
 * negative leaks a credential to the agent.
 */
#define _GNU_SOURCE
#include "policy-int.h"

#include <string.h>
#include <strings.h>

const char *const hs_env_default_pass[] = {
    "PATH",	"HOME",	  "USER",      "LOGNAME",     "SHELL",	    "LANG",
    "LANGUAGE", "LC_ALL", "LC_CTYPE",  "LC_MESSAGES", "LC_COLLATE", "LC_NUMERIC",
    "LC_TIME",	"TERM",	  "COLORTERM", "TZ",	      "NO_COLOR",   "FORCE_COLOR",
    "COLUMNS",	"LINES",  "EDITOR",    "PAGER",	      NULL,
};

/* Matched anywhere in the name. */
static const char *const secret_parts[] = {
    "TOKEN",	  "SECRET",  "PASSWORD", "PASSWD",  "PASSPHRASE",
    "CREDENTIAL", "PRIVATE", "APIKEY",	 "API_KEY",
};
/* Matched at the start of the name. */
static const char *const secret_prefixes[] = {
    "AWS_",	    "AZURE_",	  "GCP_",    "GOOGLE_",	      "GH_",
    "GITHUB_TOKEN", "ANTHROPIC_", "OPENAI_", "SSH_AUTH_SOCK", "VAULT_",
};
/* Matched at the end of the name. */
static const char *const secret_suffixes[] = {"_KEY", "_PAT"};
/* Matched as the whole name. */
static const char *const secret_names[] = {"KUBECONFIG", "NPM_TOKEN", "DOCKER_AUTH_CONFIG"};

static bool has_prefix_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static bool has_suffix_ci(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

bool hs_env_name_is_secret(const char *name)
{
	for (size_t i = 0; i < HS_ARRAY_LEN(secret_parts); i++)
		if (strcasestr(name, secret_parts[i]))
			return true;
	for (size_t i = 0; i < HS_ARRAY_LEN(secret_prefixes); i++)
		if (has_prefix_ci(name, secret_prefixes[i]))
			return true;
	for (size_t i = 0; i < HS_ARRAY_LEN(secret_suffixes); i++)
		if (has_suffix_ci(name, secret_suffixes[i]))
			return true;
	for (size_t i = 0; i < HS_ARRAY_LEN(secret_names); i++)
		if (strcasecmp(name, secret_names[i]) == 0)
			return true;
	return false;
}

static bool is_name_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

bool hs__env_name_valid(const char *name)
{
	if (!is_name_start(name[0]))
		return false;
	for (const char *c = name + 1; *c; c++)
		if (!is_name_start(*c) && !(*c >= '0' && *c <= '9'))
			return false;
	return true;
}
