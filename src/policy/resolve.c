/*
 * resolve.c: turns the grants as written ("~/x", "./src", "/opt") into the
 * canonical absolute paths the sandbox binds. Symlinks are resolved here,
 * by harness, before the sandbox exists, never by the sandboxed side.
 *
 * The one write this file makes: a grant marked `create` is mkdir'd (mode
 * 0700) when missing, before it is canonicalized and checked like any other.
 */
#define _GNU_SOURCE
#include "policy-int.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Kernel interfaces the sandbox builds itself; granting them would hand
 * the host's view to the command. */
static const char *const forbidden_roots[] = {"/proc", "/sys", "/dev"};

/* System directories never granted read-write as a whole. */
static const char *const system_roots[] = {"/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32",
					   "/lib64", "/libx32", "/boot", "/var", "/opt"};

/* ... and where nothing beneath may be granted read-write either: the
 * programs, libraries and configuration every process runs with. (On
 * merged-/usr systems /bin resolves to /usr/bin, so these are checked on the
 * resolved path.) /usr/local, /var and /opt keep room for explicit grants. */
static const char *const system_trees[] = {
	"/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/libx32",
	"/usr/libexec", "/usr/share", "/usr/include", "/etc", "/boot", "/bin", "/sbin", "/lib",
	"/lib32", "/lib64", "/libx32",
};

static bool path_is_under(const char *path, const char *root)
{
	size_t n = strlen(root);
	return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* "grant "PATH" (ORIGIN): message"; returns -1. */
static int grant_err(struct hs_error *err, const struct hs_grant *g, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int grant_err(struct hs_error *err, const struct hs_grant *g, const char *fmt, ...)
{
	char q[192], msg[HS_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return hs_err(err, "grant %s (%s): %s", hs__quote(g->path, q, sizeof(q)),
		      g->origin ? g->origin : "?", msg);
}

/* "~" / "~/x" -> home; relative -> cwd; absolute as is. */
static int expand(const struct hs_grant *g, const char *cwd, const char *home, char *out,
		  struct hs_error *err)
{
	const char *base = NULL, *rest = g->path, *why = hs__grant_path_problem(g->path);
	int n;
	if (why)
		return grant_err(err, g, "the path %s", why);
	if (g->path[0] == '~' && (g->path[1] == '\0' || g->path[1] == '/')) {
		if (!home || home[0] != '/')
			return grant_err(err, g,
					 "HOME is not set to an absolute path; set HOME "
					 "or write the full path");
		base = home;
		rest = g->path[1] ? g->path + 2 : "";
	} else if (g->path[0] != '/') {
		base = cwd;
	}
	if (base)
		n = snprintf(out, PATH_MAX, "%s%s%s", base, *rest ? "/" : "", rest);
	else
		n = snprintf(out, PATH_MAX, "%s", rest);
	if (n < 0 || n >= PATH_MAX)
		return grant_err(err, g, "the full path is longer than PATH_MAX");
	return 0;
}

static int make_dir(const struct hs_grant *g, const char *path, struct hs_error *err)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	return grant_err(err, g, "cannot create %s: %s", path, strerror(errno));
}

static int missing(const struct hs_grant *g, const char *path, struct hs_error *err)
{
	if (errno != ENOENT && errno != ENOTDIR)
		return grant_err(err, g, "%s: %s", path, strerror(errno));
	return grant_err(err, g,
			 "%s does not exist; create it, or mark it optional "
			 "({\"path\": ..., \"optional\": true})",
			 path);
}

static int check_target(const struct hs_grant *g, const char *real, struct hs_error *err)
{
	if (strcmp(real, "/") == 0 && g->access == HS_ACCESS_WRITE)
		return grant_err(err, g,
				 "write access to \"/\" would expose the whole host; grant the "
				 "directories the command needs with --allow-dir");
	if (strcmp(real, "/") == 0)
		return grant_err(
		    err, g,
		    "\"/\" is not granted as a whole; the sandbox already provides the "
		    "system directories read-only, use --allow-read on specific "
		    "directories");
	/* A system directory (or a directory holding one) read-write would let
	 * the command rewrite what every program runs: refuse it, whoever the
	 * caller is (for root it would be real). Directories beneath them
	 * (/usr/local/src/x) may still be granted explicitly. */
	for (size_t i = 0; g->access == HS_ACCESS_WRITE && i < HS_ARRAY_LEN(system_trees); i++)
		if (path_is_under(real, system_trees[i]))
			return grant_err(err, g,
					 "write access to %s would let the command change the "
					 "system's programs or configuration; grant a directory of "
					 "your own instead",
					 real);
	for (size_t i = 0; g->access == HS_ACCESS_WRITE && i < HS_ARRAY_LEN(system_roots); i++)
		if (path_is_under(system_roots[i], real))
			return grant_err(err, g,
					 "write access to %s would let the command change the "
					 "system's programs or configuration; run harness from your "
					 "project directory, or grant a directory beneath it",
					 real);
	for (size_t i = 0; i < HS_ARRAY_LEN(forbidden_roots); i++)
		if (path_is_under(real, forbidden_roots[i]))
			return grant_err(err, g,
					 "resolves under %s, which the sandbox provides itself; "
					 "remove the grant",
					 forbidden_roots[i]);
	return 0;
}

static int resolve_grant(struct hs_grant *g, const char *cwd, const char *home,
			 struct hs_error *err)
{
	char abs[PATH_MAX], real[PATH_MAX];
	free(g->resolved);
	g->resolved = NULL;
	if (expand(g, cwd, home, abs, err) < 0)
		return -1;
	if (g->create && make_dir(g, abs, err) < 0)
		return -1;
	if (!realpath(abs, real)) {
		if (g->optional && (errno == ENOENT || errno == ENOTDIR))
			return 0;
		return missing(g, abs, err);
	}
	if (check_target(g, real, err) < 0)
		return -1;
	g->resolved = hs_xstrdup(real);
	return 0;
}

static struct hs_grant *find_resolved(struct hs_grant *grants, size_t n, const char *resolved)
{
	for (size_t i = 0; i < n; i++)
		if (grants[i].resolved && strcmp(grants[i].resolved, resolved) == 0)
			return &grants[i];
	return NULL;
}

static void grant_release(struct hs_grant *g)
{
	free(g->path);
	free(g->resolved);
	free(g->origin);
}

/* Grants that resolve to the same path become one; write wins over read,
 * and the kept entry is the one whose access won (the first on a tie). */
static void collapse_duplicates(struct hs_policy *p)
{
	size_t out = 0;
	for (size_t i = 0; i < p->ngrants; i++) {
		struct hs_grant *g = &p->grants[i];
		struct hs_grant *first =
		    g->resolved ? find_resolved(p->grants, out, g->resolved) : NULL;
		if (!first) {
			p->grants[out++] = *g;
			continue;
		}
		if (g->access > first->access) {
			grant_release(first);
			*first = *g;
		} else {
			grant_release(g);
		}
	}
	p->ngrants = out;
}

static void apply_unprotect(struct hs_policy *p)
{
	for (size_t i = 0; i < p->unprotect.n; i++)
		hs__policy_protect(p, HS_PROTECT_UNPROTECT, p->unprotect.v[i]);
}

int hs_policy_resolve(struct hs_policy *p, const char *cwd, const char *home, struct hs_error *err)
{
	hs_error_clear(err);
	if (!cwd || cwd[0] != '/')
		return hs_err(err, "the working directory must be an absolute path");
	apply_unprotect(p);
	for (size_t i = 0; i < p->ngrants; i++)
		if (resolve_grant(&p->grants[i], cwd, home, err) < 0)
			return -1;
	if (p->read_only)
		for (size_t i = 0; i < p->ngrants; i++)
			p->grants[i].access = HS_ACCESS_READ;
	collapse_duplicates(p);
	return 0;
}
