/*
 * view.c: compiles a resolved policy into the plan the sandbox's pid 1
 * executes: the mount table of the new root, the Landlock rules that mirror
 * it, the environment of the command, and the placeholders that let us mask
 * protected paths that do not exist yet.
 *
 * Runs in the supervisor, before anything is started. Every destination path
 * in the plan is canonical on the host (realpath), so the child never follows
 * a symlink chosen by anyone else when it mounts.
 */
#define _GNU_SOURCE
#include "sandbox.h"
#include "net/rules.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

/* Read-only system directories every program needs; symlinks (merged /usr)
 * are reproduced as symlinks. */
static const char *const system_dirs[] = {
	"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", NULL,
};

/* Host secrets below the system directories, hidden for every caller
 * (a root caller maps to uid 0 inside and could otherwise read them). */
static const char *const system_hidden[] = {
	"/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/sudoers",
	"/etc/sudoers.d", "/etc/ssl/private", "/etc/ssh/ssh_host_*_key", "/etc/security/opasswd",
	NULL,
};

/* Protected names that are directories when they do not exist yet (an entry
 * ending in "/" is a directory too; anything else becomes an empty file). */
static const char *const dir_like_names[] = {
	"hooks", "modules", "worktrees", ".claude", ".codex", ".vscode", ".idea", ".cursor", ".git",
	".ssh", ".aws",
	".gnupg", ".kube", ".docker", NULL,
};

struct builder {
	struct hs_plan *plan;
	bool dry_run; /* record placeholders without creating them */
	size_t scanned; /* directories visited by the protection scan */
	size_t cap_mounts, cap_ph;
	unsigned *order; /* insertion index per mount, for a stable sort */
};

static void add_mount(struct builder *b, enum hs_mount_kind kind, const char *src, const char *dst,
		      bool is_dir)
{
	struct hs_plan *pl = b->plan;
	if (pl->nmounts == b->cap_mounts) {
		b->cap_mounts = b->cap_mounts ? b->cap_mounts * 2 : 32;
		pl->mounts = hs_xrealloc(pl->mounts, b->cap_mounts * sizeof(*pl->mounts));
	}
	struct hs_mount *m = &pl->mounts[pl->nmounts++];
	memset(m, 0, sizeof(*m));
	m->kind = kind;
	m->src = src ? hs_xstrdup(src) : NULL;
	m->dst = hs_xstrdup(dst);
	m->is_dir = is_dir;
}

static bool path_is_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	if (strcmp(dir, "/") == 0)
		return true;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Is `path` visible in the view through a bind of the host tree? */
static const struct hs_mount *bind_covering(const struct hs_plan *pl, const char *path)
{
	const struct hs_mount *best = NULL;
	for (size_t i = 0; i < pl->nmounts; i++) {
		const struct hs_mount *m = &pl->mounts[i];
		if (m->kind != HS_MNT_BIND_RO && m->kind != HS_MNT_BIND_RW &&
		    m->kind != HS_MNT_OVERLAY && m->kind != HS_MNT_SNAPSHOT &&
		    m->kind != HS_MNT_TMPFS)
			continue;
		if (path_is_under(path, m->dst) && (!best || strlen(m->dst) >= strlen(best->dst)))
			best = m;
	}
	return best && best->kind != HS_MNT_TMPFS ? best : NULL;
}

static void add_system_dirs(struct builder *b)
{
	char target[PATH_MAX];
	for (size_t i = 0; system_dirs[i]; i++) {
		struct stat st;
		if (lstat(system_dirs[i], &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			ssize_t n = readlink(system_dirs[i], target, sizeof(target) - 1);
			if (n <= 0)
				continue;
			target[n] = '\0';
			add_mount(b, HS_MNT_SYMLINK, target, system_dirs[i], false);
		} else if (S_ISDIR(st.st_mode)) {
			add_mount(b, HS_MNT_BIND_RO, system_dirs[i], system_dirs[i], true);
		}
	}
}

static bool has_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* Calls fn for every existing canonical path matching `pattern` (absolute;
 * glob allowed in the last component only). Bounded: at most 4096 matches
 * per pattern, so a hostile directory cannot blow up startup. */
typedef void (*match_fn)(struct builder *b, const char *real, bool is_dir, void *ctx);

static void for_each_match(struct builder *b, const char *pattern, match_fn fn, void *ctx)
{
	char real[PATH_MAX];
	struct stat st;
	const char *slash = strrchr(pattern, '/');
	if (!has_glob(pattern)) {
		/* Most hidden entries do not exist: one lstat says so where
		 * realpath would read every component as a link first. */
		if (lstat(pattern, &st) == 0 && realpath(pattern, real) && stat(real, &st) == 0)
			fn(b, real, S_ISDIR(st.st_mode), ctx);
		return;
	}
	if (!slash || has_glob(slash + 1) == false)
		return; /* globs only in the last component */
	char *parent = strndup(pattern, (size_t)(slash - pattern));
	if (!parent)
		return;
	if (has_glob(parent)) {
		free(parent);
		return;
	}
	DIR *d = opendir(parent[0] ? parent : "/");
	size_t count = 0;
	struct dirent *de;
	while (d && (de = readdir(d)) && count < 4096) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fnmatch(slash + 1, de->d_name, FNM_PERIOD) != 0 &&
		    fnmatch(slash + 1, de->d_name, 0) != 0)
			continue;
		char *full = hs_xasprintf("%s/%s", parent, de->d_name);
		if (realpath(full, real) && stat(real, &st) == 0) {
			fn(b, real, S_ISDIR(st.st_mode), ctx);
			count++;
		}
		free(full);
	}
	if (d)
		closedir(d);
	free(parent);
}

static bool has_mount(const struct hs_plan *pl, const char *dst, enum hs_mount_kind kind);

static void hide_one(struct builder *b, const char *real, bool is_dir, void *ctx)
{
	(void)ctx;
	if (bind_covering(b->plan, real) && !has_mount(b->plan, real, HS_MNT_HIDE))
		add_mount(b, HS_MNT_HIDE, NULL, real, is_dir);
}

/*
 * Placeholders and concurrent runs. Several harness runs may share a
 * project. A mask is a mount on a host path; if another run removed that
 * path (its placeholder cleanup), the kernel would detach our mount and the
 * protection would be gone. So every run holds a shared flock(2) on each
 * path it masks read-only for as long as it runs, and a placeholder is
 * removed only under an exclusive lock taken without waiting. Placeholders
 * carry an xattr marker, so one left behind by a SIGKILLed run is
 * recognised and adopted (and removed at the end) instead of being taken
 * for the user's own file.
 */
#define PLACEHOLDER_XATTR "user.harness.placeholder"

static void hold_shared(struct builder *b, const char *path)
{
	struct stat st;
	if (b->dry_run || lstat(path, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)))
		return;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return;
	if (flock(fd, LOCK_SH) < 0) {
		close(fd);
		return;
	}
	struct hs_plan *pl = b->plan;
	pl->lock_fds = hs_xrealloc(pl->lock_fds, (pl->nlock_fds + 1) * sizeof(int));
	pl->lock_fds[pl->nlock_fds++] = fd;
}

static void protect_one(struct builder *b, const char *real, bool is_dir, void *ctx)
{
	(void)ctx;
	const struct hs_mount *m = bind_covering(b->plan, real);
	if (m && m->kind == HS_MNT_BIND_RW && !has_mount(b->plan, real, HS_MNT_PROTECT)) {
		add_mount(b, HS_MNT_PROTECT, NULL, real, is_dir);
		hold_shared(b, real);
	}
}

/* An empty file or directory that a harness run created as a placeholder. */
static bool is_placeholder(const char *path, const struct stat *st)
{
	char v[32];
	if (S_ISREG(st->st_mode) && st->st_size > 2)
		return false;
	if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode))
		return false;
	return lgetxattr(path, PLACEHOLDER_XATTR, v, sizeof(v)) > 0;
}

static bool entry_is_dir_like(const char *entry, const char *component, bool is_last)
{
	if (!is_last)
		return true;
	size_t n = strlen(entry);
	if (n && entry[n - 1] == '/')
		return true;
	for (size_t i = 0; dir_like_names[i]; i++)
		if (strcmp(component, dir_like_names[i]) == 0)
			return true;
	return false;
}

static void add_placeholder(struct hs_plan *pl, struct builder *b, const char *path, bool is_dir,
			    const struct stat *st, int fd)
{
	if (pl->nplaceholders == b->cap_ph) {
		b->cap_ph = b->cap_ph ? b->cap_ph * 2 : 8;
		pl->placeholders = hs_xrealloc(pl->placeholders, b->cap_ph * sizeof(*pl->placeholders));
	}
	struct hs_placeholder *ph = &pl->placeholders[pl->nplaceholders++];
	ph->path = hs_xstrdup(path);
	ph->is_dir = is_dir;
	ph->dev = st->st_dev;
	ph->ino = st->st_ino;
	ph->fd = fd;
}

static bool under_protection(const struct hs_plan *pl, const char *path)
{
	for (size_t i = 0; i < pl->nmounts; i++)
		if ((pl->mounts[i].kind == HS_MNT_PROTECT || pl->mounts[i].kind == HS_MNT_HIDE) &&
		    path_is_under(path, pl->mounts[i].dst))
			return true;
	return false;
}

static bool has_mount(const struct hs_plan *pl, const char *dst, enum hs_mount_kind kind)
{
	for (size_t i = 0; i < pl->nmounts; i++)
		if (pl->mounts[i].kind == kind && strcmp(pl->mounts[i].dst, dst) == 0)
			return true;
	return false;
}

/* What a placeholder file holds. Empty, except where git would take an
 * empty file as an error: `.git/commondir` containing "." names the git
 * directory itself, exactly what git assumes when the file is absent. */
static const char *placeholder_content(const char *path)
{
	const char *base = strrchr(path, '/');
	if (!base || strcmp(base, "/commondir") != 0)
		return "";
	/* Inside a git directory (it has a HEAD), wherever it lives: a
	 * symlinked .git leads here through its target's real path. */
	char head[PATH_MAX];
	int n = snprintf(head, sizeof(head), "%.*s/HEAD", (int)(base - path), path);
	if (n > 0 && (size_t)n < sizeof(head) && access(head, F_OK) == 0)
		return ".\n";
	return "";
}

/* Creates (or, in a dry run, only records) the placeholder that masks a
 * protected path whose component `path` does not exist. */
static int make_placeholder(struct builder *b, const char *path, bool is_dir, const char *entry,
			    const char *dir, struct hs_error *err)
{
	struct stat st;
	int fd = -1;
	memset(&st, 0, sizeof(st));
	if (!b->dry_run) {
		/* Made complete under a temporary name beside it, then renamed
		 * into place without replacing anything: a concurrent run never
		 * sees a half-made placeholder (a plain directory without its
		 * marker, which it would walk into and fail to write once the
		 * mode dropped). Made writable first: a user.* xattr needs write
		 * permission on the inode, so the marker goes on before the mode
		 * drops to read-only. Everything after the create works on the
		 * fd, which we keep: it carries our shared lock for the run. */
		static unsigned seq;
		char tmp[PATH_MAX];
		const char *slash = strrchr(path, '/');
		int n = snprintf(tmp, sizeof(tmp), "%.*s/.harness-placeholder.%ld.%u",
				 (int)(slash ? slash - path : 0), path, (long)getpid(), seq++);
		if (n < 0 || (size_t)n >= sizeof(tmp))
			return hs_err(err, "placeholder path for '%s' is too long", path);
		int r = is_dir ? mkdir(tmp, 0700) : 0;
		if (r == 0)
			fd = is_dir ? open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
				    : open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
					   0600);
		if (r < 0 || fd < 0) {
			int saved = errno;
			if (r == 0 && is_dir)
				(void)rmdir(tmp);
			errno = saved;
			return hs_err_sys(err,
					  "cannot create placeholder '%s' to protect '%s' (writable dir "
					  "%s); use --unprotect %s to allow it on purpose",
					  path, entry, dir, entry);
		}
		const char *content = is_dir ? "" : placeholder_content(path);
		int w = hs_write_all(fd, content, strlen(content));
		(void)fsetxattr(fd, PLACEHOLDER_XATTR, "1", 1, 0); /* no xattrs: no marker */
		if (w == 0)
			w = fchmod(fd, is_dir ? 0500 : 0400);
		if (w == 0)
			w = fstat(fd, &st);
		if (w == 0)
			w = flock(fd, LOCK_SH);
		if (w == 0)
			w = renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE);
		if (w < 0) {
			int saved = errno;
			close(fd);
			(void)(is_dir ? rmdir(tmp) : unlink(tmp));
			if (saved == EEXIST)
				return 1; /* a concurrent run made it first: look again */
			errno = saved;
			return hs_err_sys(err, "set up placeholder %s", path);
		}
	}
	add_placeholder(b->plan, b, path, is_dir, &st, fd);
	add_mount(b, HS_MNT_PROTECT, NULL, path, is_dir);
	return 0;
}

/*
 * Protects a (non-glob) entry beneath writable dir `dir`, walking it one
 * component at a time:
 *  - an existing directory on the way is pinned (bound onto itself,
 *    still writable): a mount point cannot be renamed or removed, so the
 *    sandbox cannot move `.git` aside and build a new one with hooks in it;
 *  - an existing file on the way (a worktree's `.git` file) is made
 *    read-only: it is what points git at its hooks;
 *  - the entry itself, if it exists, is re-bound read-only;
 *  - the first missing component gets a placeholder on the host (an empty
 *    dir, or an empty file when it is the entry's last component and not
 *    dir-like), masked read-only, so nothing can be created at or below it.
 */
static int protect_entry(struct builder *b, const char *dir, const char *entry,
			 struct hs_error *err)
{
	char path[PATH_MAX];
	char comp[NAME_MAX + 1];
	snprintf(path, sizeof(path), "%s", dir);
	const char *p = entry;
	while (*p) {
		while (*p == '/')
			p++;
		size_t len = strcspn(p, "/");
		if (len == 0)
			break;
		if (len > NAME_MAX || strlen(path) + 1 + len >= sizeof(path))
			return hs_err(err, "protected path '%s' is too long", entry);
		memcpy(comp, p, len);
		comp[len] = '\0';
		if (!strcmp(comp, "..") || !strcmp(comp, "."))
			return hs_err(err, "protected path '%s' may not contain '.' or '..'", entry);
		size_t plen = strlen(path);
		snprintf(path + plen, sizeof(path) - plen, "%s%s", plen > 1 ? "/" : "", comp);
		p += len;
		bool is_last = *p == '\0' || (p[0] == '/' && p[1] == '\0');
		if (under_protection(b->plan, path))
			return 0; /* inside a read-only mask already */
		struct stat st;
		int tries = 0;
		while (lstat(path, &st) < 0) {
			if (errno != ENOENT)
				return 0;
			int r = make_placeholder(b, path, entry_is_dir_like(entry, comp, is_last), entry,
						 dir, err);
			if (r <= 0 || ++tries > 3)
				return r < 0 ? -1 : 0;
		}
		if (is_placeholder(path, &st)) {
			/* Ours from an earlier run, or a concurrent run's: mask it
			 * and share it; the last run out removes it. */
			int fd = b->dry_run ? -1
					    : open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY |
								 O_NONBLOCK);
			if (fd >= 0 && flock(fd, LOCK_SH) < 0)
				hs_close(&fd);
			add_placeholder(b->plan, b, path, S_ISDIR(st.st_mode), &st, fd);
			add_mount(b, HS_MNT_PROTECT, NULL, path, S_ISDIR(st.st_mode));
			return 0;
		}
		char real[PATH_MAX];
		if (S_ISLNK(st.st_mode)) {
			/* The link itself could be replaced by a real file: cover it.
			 * Its target, where writable, is protected as well. */
			if (is_last && !has_mount(b->plan, path, HS_MNT_PIN_LINK))
				add_mount(b, HS_MNT_PIN_LINK, NULL, path, false);
			if (!realpath(path, real))
				return 0;
			if (is_last) {
				protect_one(b, real, false, NULL);
				return 0;
			}
			/* A link on the way (.git -> ../x.git). Replacing it with a
			 * fresh .git would give the host's git new hooks: cover the
			 * link with a gitfile naming the same directory, which git
			 * reads exactly as it followed the link. */
			struct stat tst;
			if (strcmp(comp, ".git") == 0 && stat(real, &tst) == 0 && S_ISDIR(tst.st_mode) &&
			    !has_mount(b->plan, path, HS_MNT_PIN_LINK)) {
				char *gitfile = hs_xasprintf("gitdir: %s\n", real);
				add_mount(b, HS_MNT_PIN_LINK, gitfile, path, false);
				free(gitfile);
			}
			/* Any other link on the way (~/.config -> dotfiles/config)
			 * could be swapped for a real directory holding the
			 * protected entry; a directory cannot be mounted on a link,
			 * so cover it with an empty file, and say so. */
			if (strcmp(comp, ".git") != 0 && !has_mount(b->plan, path, HS_MNT_PIN_LINK)) {
				add_mount(b, HS_MNT_PIN_LINK, NULL, path, false);
				char *w = hs_xasprintf("%s is a symlink on the way to the protected "
						       "'%s': it appears as an empty file inside (grant "
						       "its target %s to use it)",
						       path, entry, real);
				hs_strv_push_owned(&b->plan->warnings, w);
			}
			/* Then go on in its target, where that is writable. */
			const struct hs_mount *m = bind_covering(b->plan, real);
			return m && m->kind == HS_MNT_BIND_RW ? protect_entry(b, real, p, err) : 0;
		}
		if (is_last || S_ISREG(st.st_mode)) {
			if (realpath(path, real))
				protect_one(b, real, S_ISDIR(st.st_mode), NULL);
			return 0;
		}
		if (!S_ISDIR(st.st_mode))
			return 0;
		if (!has_mount(b->plan, path, HS_MNT_PIN))
			add_mount(b, HS_MNT_PIN, NULL, path, true);
	}
	return 0;
}

static bool is_unprotected(const struct hs_policy *p, const char *entry)
{
	return hs_strv_contains(&p->unprotect, entry);
}

/* ---- the protection scan beneath each granted directory ----
 *
 * Relative entries apply at every depth of a grant, not only at its top:
 * a monorepo keeps .env files beside each service, and a directory of
 * repositories holds many .git dirs. The scan reads each directory once and
 * compares the names in it with the entries' first components (a cheap
 * strcmp, or fnmatch for globs; every default entry starts with a dot, so
 * most names are dismissed by their first byte). Placeholders for missing
 * entries are made only at a grant's top; beneath it, what exists is masked.
 * Bounded: SCAN_MAX_DEPTH levels and SCAN_MAX_DIRS directories per run; a
 * scan cut short says so (plan warnings). Package caches that hold no
 * project secrets are not descended into.
 */
#define SCAN_MAX_DEPTH 24
#define SCAN_MAX_DIRS 100000

static const char *const scan_skip[] = {
	"node_modules", "__pycache__", ".venv", "venv", ".tox", ".mypy_cache", ".pytest_cache",
	".gradle", ".git", NULL,
};

struct scan_ctx {
	const struct hs_policy *p;
	bool writable;
	bool any_undotted; /* an entry whose first component need not start with '.' */
	const char *root;
};

static bool first_component_matches(const char *entry, const char *name)
{
	char first[NAME_MAX + 1];
	size_t n = strcspn(entry, "/");
	if (n > NAME_MAX)
		return false;
	memcpy(first, entry, n);
	first[n] = '\0';
	if (!has_glob(first))
		return strcmp(first, name) == 0;
	return fnmatch(first, name, FNM_PERIOD) == 0 || fnmatch(first, name, 0) == 0;
}

static bool is_relative_entry(const struct hs_policy *p, const char *e)
{
	return e[0] != '/' && e[0] != '~' && !is_unprotected(p, e);
}

static void scan_warn(struct builder *b, const char *root)
{
	char *w = hs_xasprintf("the protection scan of %s stopped after %d directories: protected "
			       "and hidden names deeper in it are not masked (grant a narrower "
			       "directory)",
			       root, SCAN_MAX_DIRS);
	if (!hs_strv_contains(&b->plan->warnings, w))
		hs_strv_push(&b->plan->warnings, w);
	free(w);
}

/* Applies the entries that match `name`, a child of directory `dir`. */
static int scan_match(struct builder *b, const struct scan_ctx *c, const char *dir,
		      const char *name, struct hs_error *err)
{
	const struct hs_policy *p = c->p;
	for (size_t i = 0; i < p->protect_hidden.n; i++) {
		const char *e = p->protect_hidden.v[i];
		if (!is_relative_entry(p, e) || !first_component_matches(e, name))
			continue;
		char *full = strchr(e, '/') ? hs_xasprintf("%s/%s%s", dir, name, strchr(e, '/'))
					    : hs_xasprintf("%s/%s", dir, name);
		for_each_match(b, full, hide_one, NULL);
		free(full);
	}
	for (size_t i = 0; c->writable && i < p->protect_read_only.n; i++) {
		const char *e = p->protect_read_only.v[i];
		if (!is_relative_entry(p, e) || !first_component_matches(e, name))
			continue;
		if (has_glob(e)) {
			char *full = hs_xasprintf("%s/%s", dir, e);
			for_each_match(b, full, protect_one, NULL);
			free(full);
		} else if (protect_entry(b, dir, e, err) < 0) {
			return -1;
		}
	}
	return 0;
}

static bool scan_skips(const char *name)
{
	for (size_t i = 0; scan_skip[i]; i++)
		if (strcmp(name, scan_skip[i]) == 0)
			return true;
	return false;
}

static int scan_dir(struct builder *b, const struct scan_ctx *c, const char *dir, int depth,
		    struct hs_error *err)
{
	if (depth > SCAN_MAX_DEPTH)
		return 0;
	if (++b->scanned > SCAN_MAX_DIRS) {
		scan_warn(b, c->root);
		return 0;
	}
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct hs_strv subdirs = {0};
	struct dirent *de;
	int rc = 0;
	while ((de = readdir(d))) {
		const char *name = de->d_name;
		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		if (depth > 0 && (name[0] == '.' || c->any_undotted) &&
		    scan_match(b, c, dir, name, err) < 0) {
			rc = -1;
			break;
		}
		bool is_dir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN) {
			struct stat st;
			char *full = hs_xasprintf("%s/%s", dir, name);
			is_dir = lstat(full, &st) == 0 && S_ISDIR(st.st_mode);
			free(full);
		}
		if (is_dir && !scan_skips(name))
			hs_strv_push_owned(&subdirs, hs_xasprintf("%s/%s", dir, name));
	}
	closedir(d); /* before descending: one open directory per level at most */
	for (size_t i = 0; rc == 0 && i < subdirs.n; i++) {
		if (under_protection(b->plan, subdirs.v[i]))
			continue; /* masked already: nothing beneath is reachable */
		rc = scan_dir(b, c, subdirs.v[i], depth + 1, err);
	}
	hs_strv_clear(&subdirs);
	return rc;
}

/* ---- git's core.hooksPath ----
 *
 * A repository may run its hooks from a directory in the work tree
 * (`.husky`, `.githooks`: core.hooksPath). That directory needs what
 * .git/hooks gets. Read from the repository's .git/config and the caller's
 * global and system configs with a small reader for the one key (sections
 * `[core]`, key `hooksPath`, case-insensitive; `include` directives are not
 * followed: a documented gap).
 */
#define GITCONFIG_MAX (256 * 1024)

static void trim(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	size_t i = strspn(s, " \t");
	memmove(s, s + i, strlen(s + i) + 1);
}

/* Appends every core.hooksPath value found in git config text to out.
 * Bounded: lines over 4 KiB are skipped; the text is not NUL-terminated. */
void hs_gitconfig_hooks_paths(const char *buf, size_t len, struct hs_strv *out)
{
	char line[4096];
	bool in_core = false;
	size_t pos = 0;
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (buf + pos)) : len - pos;
		bool fits = n < sizeof(line) && !memchr(buf + pos, '\0', n);
		if (fits) {
			memcpy(line, buf + pos, n);
			line[n] = '\0';
		}
		pos += n + 1;
		if (!fits)
			continue;
		trim(line);
		if (line[0] == '[') {
			char *end = strchr(line, ']');
			if (end)
				*end = '\0';
			char *sec = line + 1;
			trim(sec);
			in_core = strcasecmp(sec, "core") == 0;
			continue;
		}
		char *eq = strchr(line, '=');
		if (!in_core || !eq)
			continue;
		*eq = '\0';
		char *key = line, *val = eq + 1;
		trim(key);
		if (strcasecmp(key, "hookspath") != 0)
			continue;
		trim(val);
		size_t vn = strlen(val);
		if (vn >= 2 && val[0] == '"' && val[vn - 1] == '"') {
			val[vn - 1] = '\0';
			val++;
		} else {
			val[strcspn(val, "#;")] = '\0';
			trim(val);
		}
		if (*val)
			hs_strv_push(out, val);
	}
}

static void read_hooks_paths(const char *path, struct hs_strv *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return;
	struct stat st;
	char *buf = NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		size_t want = st.st_size < GITCONFIG_MAX ? (size_t)st.st_size : GITCONFIG_MAX;
		buf = hs_xmalloc(want + 1);
		ssize_t got = read(fd, buf, want);
		if (got > 0)
			hs_gitconfig_hooks_paths(buf, (size_t)got, out);
	}
	free(buf);
	close(fd);
}

/* Lexically normalises an absolute path ("." and ".." components). */
static bool normalise(const char *in, char *out, size_t len)
{
	char buf[PATH_MAX];
	size_t o = 0;
	if (snprintf(buf, sizeof(buf), "%s", in) >= (int)sizeof(buf) || buf[0] != '/')
		return false;
	out[0] = '\0';
	for (char *tok = strtok(buf, "/"); tok; tok = strtok(NULL, "/")) {
		if (!strcmp(tok, "."))
			continue;
		if (!strcmp(tok, "..")) {
			char *slash = strrchr(out, '/');
			o = slash ? (size_t)(slash - out) : 0;
			out[o] = '\0';
			continue;
		}
		int n = snprintf(out + o, len - o, "/%s", tok);
		if (n < 0 || (size_t)n >= len - o)
			return false;
		o += (size_t)n;
	}
	if (!o)
		snprintf(out, len, "/");
	return true;
}

/* Protects the hooks directory `value` names for the work tree `worktree`. */
static int protect_hooks_path(struct builder *b, const char *worktree, const char *value,
			      struct hs_error *err)
{
	char joined[PATH_MAX * 2], path[PATH_MAX], real[PATH_MAX];
	if (value[0] == '/')
		snprintf(joined, sizeof(joined), "%s", value);
	else if (value[0] == '~' && value[1] == '/')
		snprintf(joined, sizeof(joined), "%s/%s", b->plan->home, value + 2);
	else
		snprintf(joined, sizeof(joined), "%s/%s", worktree, value);
	if (!normalise(joined, path, sizeof(path)))
		return 0;
	const char *target = realpath(path, real) ? real : path;
	const struct hs_mount *m = bind_covering(b->plan, target);
	if (!m || m->kind != HS_MNT_BIND_RW)
		return 0; /* not writable in the sandbox: nothing to do */
	size_t n = strlen(m->dst);
	const char *rel = target + n + (strcmp(m->dst, "/") != 0);
	if (!*rel)
		return 0; /* the grant itself: cannot be masked without masking it all */
	char root[PATH_MAX];
	snprintf(root, sizeof(root), "%s", m->dst);
	return protect_entry(b, root, rel, err);
}

/* For a repository whose .git directory is `gitdir` (work tree `worktree`). */
static int protect_repo_hooks(struct builder *b, const char *worktree, const char *gitdir,
			      const struct hs_strv *global, struct hs_error *err)
{
	struct hs_strv vals = {0};
	char *cfg = hs_xasprintf("%s/config", gitdir);
	read_hooks_paths(cfg, &vals);
	free(cfg);
	hs_strv_copy(&vals, global);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < vals.n; i++)
		rc = protect_hooks_path(b, worktree, vals.v[i], err);
	hs_strv_clear(&vals);
	return rc;
}

static int add_protections(struct builder *b, const struct hs_policy *p, struct hs_error *err)
{
	struct hs_plan *pl = b->plan;
	size_t base = pl->nmounts;
	for (size_t i = 0; system_hidden[i]; i++)
		for_each_match(b, system_hidden[i], hide_one, NULL);
	for (size_t g = 0; g < p->ngrants; g++) {
		const struct hs_grant *gr = &p->grants[g];
		struct stat st;
		if (!gr->resolved || stat(gr->resolved, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		bool writable = gr->access == HS_ACCESS_WRITE && !p->read_only;
		for (size_t i = 0; i < p->protect_hidden.n; i++) {
			const char *e = p->protect_hidden.v[i];
			if (e[0] == '/' || e[0] == '~' || is_unprotected(p, e))
				continue;
			char *full = hs_xasprintf("%s/%s", gr->resolved, e);
			for_each_match(b, full, hide_one, NULL);
			free(full);
		}
		for (size_t i = 0; i < p->protect_read_only.n && writable; i++) {
			const char *e = p->protect_read_only.v[i];
			if (e[0] == '/' || e[0] == '~' || is_unprotected(p, e))
				continue;
			if (has_glob(e)) {
				char *full = hs_xasprintf("%s/%s", gr->resolved, e);
				for_each_match(b, full, protect_one, NULL);
				free(full);
			} else if (protect_entry(b, gr->resolved, e, err) < 0) {
				return -1;
			}
		}
	}
	/* Beneath each grant's top: existing matches at any depth. */
	struct scan_ctx c = {.p = p};
	for (size_t i = 0; i < p->protect_hidden.n; i++)
		c.any_undotted |= is_relative_entry(p, p->protect_hidden.v[i]) &&
				  p->protect_hidden.v[i][0] != '.';
	for (size_t i = 0; i < p->protect_read_only.n; i++)
		c.any_undotted |= is_relative_entry(p, p->protect_read_only.v[i]) &&
				  p->protect_read_only.v[i][0] != '.';
	for (size_t g = 0; g < p->ngrants; g++) {
		const struct hs_grant *gr = &p->grants[g];
		struct stat st;
		if (!gr->resolved || stat(gr->resolved, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		c.writable = gr->access == HS_ACCESS_WRITE && !p->read_only;
		c.root = gr->resolved;
		if (scan_dir(b, &c, gr->resolved, 0, err) < 0)
			return -1;
	}
	/* Hooks directories named by core.hooksPath, for every repository
	 * found at a grant's top or by the scan (their .git is masked). */
	struct hs_strv global = {0};
	char *gpath = hs_xasprintf("%s/.gitconfig", pl->home);
	read_hooks_paths(gpath, &global);
	free(gpath);
	gpath = hs_xasprintf("%s/.config/git/config", pl->home);
	read_hooks_paths(gpath, &global);
	free(gpath);
	read_hooks_paths("/etc/gitconfig", &global);
	size_t nm = pl->nmounts;
	for (size_t i = 0; i < nm; i++) {
		const char *dst = pl->mounts[i].dst;
		size_t n = strlen(dst);
		if ((pl->mounts[i].kind != HS_MNT_PIN && pl->mounts[i].kind != HS_MNT_PIN_LINK) ||
		    n < 5 || strcmp(dst + n - 5, "/.git") != 0)
			continue;
		char *wt = strndup(dst, n - 5);
		char real[PATH_MAX];
		int r = wt && realpath(dst, real) ? protect_repo_hooks(b, wt, real, &global, err) : 0;
		free(wt);
		if (r < 0) {
			hs_strv_clear(&global);
			return -1;
		}
	}
	hs_strv_clear(&global);
	/* "~/" entries apply in the caller's home, when a grant exposes it
	 * (otherwise HOME is an empty tmpfs and there is nothing to protect). */
	const char *home = pl->home;
	for (size_t i = 0; i < p->protect_hidden.n; i++) {
		const char *e = p->protect_hidden.v[i];
		if (e[0] != '~' || is_unprotected(p, e))
			continue;
		char *full = hs_xasprintf("%s/%s", home, e + 2);
		for_each_match(b, full, hide_one, NULL);
		free(full);
	}
	/* A bool, not a pointer into pl->mounts: adding mounts below may move it. */
	const struct hs_mount *hm = bind_covering(pl, home);
	bool home_writable = hm && hm->kind == HS_MNT_BIND_RW;
	for (size_t i = 0; home_writable && i < p->protect_read_only.n; i++) {
		const char *e = p->protect_read_only.v[i];
		if (e[0] != '~' || is_unprotected(p, e))
			continue;
		if (has_glob(e)) {
			char *full = hs_xasprintf("%s/%s", home, e + 2);
			for_each_match(b, full, protect_one, NULL);
			free(full);
		} else if (protect_entry(b, home, e + 2, err) < 0) {
			return -1;
		}
	}
	/* Absolute entries apply wherever they are visible. */
	for (size_t i = 0; i < p->protect_hidden.n; i++)
		if (p->protect_hidden.v[i][0] == '/' && !is_unprotected(p, p->protect_hidden.v[i]))
			for_each_match(b, p->protect_hidden.v[i], hide_one, NULL);
	for (size_t i = 0; i < p->protect_read_only.n; i++)
		if (p->protect_read_only.v[i][0] == '/' &&
		    !is_unprotected(p, p->protect_read_only.v[i]))
			for_each_match(b, p->protect_read_only.v[i], protect_one, NULL);
	/* is_dir for protect entries found by realpath: fill from stat now. */
	for (size_t i = base; i < pl->nmounts; i++) {
		struct stat st;
		if (stat(pl->mounts[i].dst, &st) == 0)
			pl->mounts[i].is_dir = S_ISDIR(st.st_mode);
	}
	return 0;
}

static int cmp_mount(const void *a, const void *b, void *ctx)
{
	const struct hs_mount *x = a, *y = b;
	(void)ctx;
	int c = strcmp(x->dst, y->dst);
	if (c)
		return c;
	return 0;
}

/* Stable sort (insertion; plans hold tens of entries) by destination, so a
 * parent is always mounted before anything beneath it and, at the same path,
 * a later (more specific) entry is mounted over an earlier one. */
static void sort_mounts(struct hs_plan *pl)
{
	for (size_t i = 1; i < pl->nmounts; i++) {
		struct hs_mount key = pl->mounts[i];
		size_t j = i;
		while (j > 0 && cmp_mount(&pl->mounts[j - 1], &key, NULL) > 0) {
			pl->mounts[j] = pl->mounts[j - 1];
			j--;
		}
		pl->mounts[j] = key;
	}
}

/* Drops a base mount (tmpfs /tmp, HOME) whose destination a grant replaces. */
static void drop_shadowed(struct hs_plan *pl)
{
	size_t w = 0;
	for (size_t i = 0; i < pl->nmounts; i++) {
		struct hs_mount *m = &pl->mounts[i];
		bool shadowed = false;
		if (m->kind == HS_MNT_TMPFS) {
			for (size_t j = 0; j < pl->nmounts; j++) {
				const struct hs_mount *o = &pl->mounts[j];
				if ((o->kind == HS_MNT_BIND_RO || o->kind == HS_MNT_BIND_RW) &&
				    path_is_under(m->dst, o->dst))
					shadowed = true;
			}
		}
		if (shadowed) {
			free(m->src);
			free(m->dst);
			continue;
		}
		pl->mounts[w++] = *m;
	}
	pl->nmounts = w;
}

static void add_landlock_rules(struct hs_plan *pl)
{
	free(pl->ll);
	pl->nll = 0;
	pl->ll = hs_xcalloc(pl->nmounts + 2, sizeof(*pl->ll));
	/* Listing directories of the view (`ls /`, `find /usr`) reveals
	 * nothing the mount view does not already show; reading files still
	 * needs a rule of its own. Only with a mount namespace: otherwise
	 * "/" is the host's root. */
	if (pl->userns) {
		pl->ll[pl->nll].path = "/";
		pl->ll[pl->nll].kind = HS_LL_LIST;
		pl->nll++;
	}
	for (size_t i = 0; i < pl->nmounts; i++) {
		const struct hs_mount *m = &pl->mounts[i];
		enum hs_ll_kind kind;
		/* Without a mount namespace the private tmpfs and proc mounts do
		 * not exist: a rule there would open the HOST's /tmp, HOME and
		 * /proc (other processes' environ) instead. */
		if (!pl->userns && (m->kind == HS_MNT_TMPFS || m->kind == HS_MNT_PROC))
			continue;
		switch (m->kind) {
		case HS_MNT_BIND_RO:
			kind = HS_LL_READ;
			break;
		case HS_MNT_BIND_RW:
		case HS_MNT_OVERLAY:
		case HS_MNT_SNAPSHOT:
		case HS_MNT_TMPFS:
		case HS_MNT_PROC:
			kind = HS_LL_WRITE;
			break;
		case HS_MNT_DEV:
			kind = HS_LL_DEV;
			break;
		default:
			continue;
		}
		pl->ll[pl->nll].path = m->dst;
		pl->ll[pl->nll].kind = kind;
		pl->nll++;
	}
}

static const char *env_lookup(char **envp, const char *name)
{
	size_t n = strlen(name);
	for (char **e = envp; e && *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

static void env_set(struct hs_strv *env, const char *name, const char *value)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < env->n; i++)
		if (strncmp(env->v[i], name, n) == 0 && env->v[i][n] == '=') {
			free(env->v[i]);
			env->v[i] = hs_xasprintf("%s=%s", name, value);
			return;
		}
	hs_strv_push_owned(env, hs_xasprintf("%s=%s", name, value));
}

static void env_unset(struct hs_strv *env, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < env->n; i++)
		if (strncmp(env->v[i], name, n) == 0 && env->v[i][n] == '=') {
			free(env->v[i]);
			memmove(&env->v[i], &env->v[i + 1], (env->n - i - 1) * sizeof(*env->v));
			env->n--;
			env->v[env->n] = NULL;
			return;
		}
}

/* The variables that point clients at harness's proxy. */
static const char *const proxy_vars[] = {"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
					 "ALL_PROXY",  "all_proxy",  "NO_PROXY",    "no_proxy"};

/* The command's environment: the default allowlist (minus anything that looks
 * like a secret), the names the policy passes, the values it sets, and HOME
 * and TMPDIR pointing at what the sandbox provides. Nothing else. */
static void build_env(struct hs_plan *pl, const struct hs_policy *p, char **envp, const char *home)
{
	for (size_t i = 0; hs_env_default_pass[i]; i++) {
		const char *name = hs_env_default_pass[i];
		const char *v = env_lookup(envp, name);
		if (v && !hs_env_name_is_secret(name))
			env_set(&pl->env, name, v);
	}
	for (size_t i = 0; i < p->env_pass.n; i++) {
		const char *v = env_lookup(envp, p->env_pass.v[i]);
		if (v)
			env_set(&pl->env, p->env_pass.v[i], v);
	}
	if (!env_lookup(pl->env.v, "PATH"))
		env_set(&pl->env, "PATH", "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin");
	env_set(&pl->env, "HOME", home);
	env_set(&pl->env, "TMPDIR", "/tmp");
	env_set(&pl->env, "HARNESS_SANDBOX", "1");
	for (size_t i = 0; i < p->env_set.n; i++) {
		const char *eq = strchr(p->env_set.v[i], '=');
		if (!eq)
			continue;
		char *name = strndup(p->env_set.v[i], (size_t)(eq - p->env_set.v[i]));
		if (name)
			env_set(&pl->env, name, eq + 1);
		free(name);
	}
	if (pl->proxy) {
		/* harness's own proxy, last so nothing overrides it. NO_PROXY is
		 * empty: loopback inside holds only harness's listeners, and a
		 * server on the host's loopback is reached through the proxy
		 * like any other host. ALL_PROXY names the HTTP proxy as well,
		 * not the SOCKS5 one: Python's httpx (under the OpenAI and
		 * Anthropic SDKs) refuses to start with a socks5 ALL_PROXY
		 * unless socksio is installed. SOCKS5 stays on its port for
		 * clients told to use it. */
		char *http = hs_xasprintf("http://127.0.0.1:%u", (unsigned)pl->proxy_http_port);
		for (size_t i = 0; i < HS_ARRAY_LEN(proxy_vars); i++) {
			bool no = strncasecmp(proxy_vars[i], "no_", 3) == 0;
			env_set(&pl->env, proxy_vars[i], no ? "" : http);
		}
		free(http);
	}
}

int hs_plan_build(const struct hs_policy *p, char **argv, char **envp, const char *cwd,
		  const char *home, bool dry_run, struct hs_plan *pl, struct hs_error *err)
{
	struct builder b = {.plan = pl, .dry_run = dry_run};
	memset(pl, 0, sizeof(*pl));
	for (char **a = argv; *a; a++)
		hs_strv_push(&pl->argv, *a);
	pl->cwd = hs_xstrdup(cwd);
	pl->home = hs_xstrdup(home);
	pl->hostname = hs_xstrdup("harness");
	pl->limits = p->limits;
	pl->best_effort = p->best_effort;
	/* TCP is always fenced by Landlock; with allowed hosts the command may
	 * connect to the proxy's two ports on loopback, nothing else. */
	pl->deny_tcp = true;
	pl->proxy = p->net_allow.n > 0;
	pl->proxy_http_port = 3128;
	pl->proxy_socks_port = 1080;
	pl->transparent = pl->proxy;
	pl->userns = true;
	if (pl->proxy) {
		struct hs_net_limit_spec *lim = hs_xcalloc(p->n_net_rates, sizeof(*lim));
		for (size_t i = 0; i < p->n_net_rates; i++)
			lim[i] = (struct hs_net_limit_spec){.host = p->net_rates[i].host,
							    .per_minute = (unsigned)p->net_rates[i].per_minute,
							    .bytes = p->net_rates[i].bytes};
		pl->net_rules = hs_net_rules_new(&p->net_allow, &p->net_deny, &p->net_resolve, lim,
						 p->n_net_rates, err);
		free(lim);
		if (!pl->net_rules)
			return -1;
	}

	add_system_dirs(&b);
	add_mount(&b, HS_MNT_PROC, NULL, "/proc", true);
	add_mount(&b, HS_MNT_DEV, NULL, "/dev", true);
	add_mount(&b, HS_MNT_TMPFS, NULL, "/tmp", true);
	pl->mounts[pl->nmounts - 1].size = p->limits.tmp_size;
	pl->mounts[pl->nmounts - 1].mode = 01777;
	add_mount(&b, HS_MNT_TMPFS, NULL, "/var/tmp", true);
	pl->mounts[pl->nmounts - 1].size = p->limits.tmp_size;
	pl->mounts[pl->nmounts - 1].mode = 01777;
	if (strcmp(home, "/") != 0) {
		add_mount(&b, HS_MNT_TMPFS, NULL, home, true);
		pl->mounts[pl->nmounts - 1].size = p->limits.tmp_size;
		pl->mounts[pl->nmounts - 1].mode = 0700;
	}
	for (size_t g = 0; g < p->ngrants; g++) {
		const struct hs_grant *gr = &p->grants[g];
		struct stat st;
		if (!gr->resolved)
			continue;
		if (stat(gr->resolved, &st) < 0) {
			if (gr->optional)
				continue;
			return hs_err_sys(err, "%s (granted by %s)", gr->resolved, gr->origin);
		}
		bool rw = gr->access == HS_ACCESS_WRITE && !p->read_only;
		add_mount(&b, rw ? HS_MNT_BIND_RW : HS_MNT_BIND_RO, gr->resolved, gr->resolved,
			  S_ISDIR(st.st_mode));
	}
	drop_shadowed(pl);
	sort_mounts(pl);
	if (add_protections(&b, p, err) < 0)
		return -1;
	sort_mounts(pl);
	add_landlock_rules(pl);
	build_env(pl, p, envp, home);
	return 0;
}

int hs_plan_hide_host_path(struct hs_plan *pl, const char *path, struct hs_error *err)
{
	struct builder b = {.plan = pl, .cap_mounts = pl->nmounts, .cap_ph = pl->nplaceholders};
	char real[PATH_MAX];
	struct stat st;
	if (!realpath(path, real) || lstat(real, &st) < 0)
		return 0; /* nothing there (yet): nothing to hide */
	const struct hs_mount *m = bind_covering(pl, real);
	if (!m)
		return 0; /* not visible in the sandbox at all */
	for (size_t i = 0; i < pl->nmounts; i++)
		if (pl->mounts[i].kind == HS_MNT_HIDE && path_is_under(real, pl->mounts[i].dst))
			return 0; /* hidden already, with what holds it */
	bool writable = m->kind == HS_MNT_BIND_RW || m->kind == HS_MNT_OVERLAY ||
			m->kind == HS_MNT_SNAPSHOT;
	char root[PATH_MAX];
	snprintf(root, sizeof(root), "%s", m->dst);
	if (strcmp(root, real) == 0)
		return hs_err(err,
			      "%s is granted to the sandbox as a whole, so it cannot be hidden from "
			      "it; keep it out of the granted directories",
			      real);
	/* Pin every directory between the grant and the path, so that none
	 * can be renamed to move the path out from under its mask. */
	for (char *slash = real + strlen(root) + (strcmp(root, "/") != 0); writable && *slash;) {
		slash = strchr(slash, '/');
		if (!slash)
			break;
		*slash = '\0';
		if (!has_mount(pl, real, HS_MNT_PIN) && !under_protection(pl, real))
			add_mount(&b, HS_MNT_PIN, NULL, real, true);
		*slash = '/';
		slash++;
	}
	/* Masks hidden earlier beneath this path are covered by this one (and
	 * could not be mounted inside its empty, read-only directory). */
	size_t w = 0;
	for (size_t i = 0; i < pl->nmounts; i++) {
		struct hs_mount *mm = &pl->mounts[i];
		if ((mm->kind == HS_MNT_HIDE || mm->kind == HS_MNT_PIN) && strcmp(mm->dst, real) != 0 &&
		    path_is_under(mm->dst, real)) {
			free(mm->src);
			free(mm->dst);
			continue;
		}
		pl->mounts[w++] = *mm;
	}
	pl->nmounts = w;
	if (!has_mount(pl, real, HS_MNT_HIDE))
		add_mount(&b, HS_MNT_HIDE, NULL, real, S_ISDIR(st.st_mode));
	sort_mounts(pl);
	add_landlock_rules(pl);
	return 0;
}

int hs_plan_workspace(struct hs_plan *pl, uint64_t max_disk, const struct hs_strv *keep_rw,
		      struct hs_error *err)
{
	struct hs_mount *ws = NULL;
	for (size_t i = 0; i < pl->nmounts; i++) {
		struct hs_mount *m = &pl->mounts[i];
		if (m->kind == HS_MNT_BIND_RW && m->is_dir && path_is_under(pl->cwd, m->dst) &&
		    (!ws || strlen(m->dst) > strlen(ws->dst)))
			ws = m;
	}
	if (!ws)
		return hs_err(err,
			      "the working directory %s is not granted read-write, so there is "
			      "no workspace to stage: run from the project directory (granted by "
			      "default) or grant it with --allow-dir",
			      pl->cwd);
	ws->kind = HS_MNT_OVERLAY;
	ws->size = max_disk;
	pl->workspace = hs_xstrdup(ws->src);
	/* Nothing written may bypass the workspace: the other writable grants
	 * become read-only for this run. */
	for (size_t i = 0; i < pl->nmounts; i++) {
		struct hs_mount *m = &pl->mounts[i];
		if (m->kind != HS_MNT_BIND_RW || (keep_rw && hs_strv_contains(keep_rw, m->src)))
			continue;
		m->kind = HS_MNT_BIND_RO;
		char *w = hs_xasprintf("%s is read-only in this run: only the workspace %s is "
				       "staged, and writes elsewhere would bypass the review",
				       m->dst, pl->workspace);
		hs_strv_push_owned(&pl->warnings, w);
	}
	add_landlock_rules(pl);
	return 0;
}

static struct hs_mount *workspace_mount(struct hs_plan *pl)
{
	for (size_t i = 0; pl->workspace && i < pl->nmounts; i++)
		if (pl->mounts[i].kind == HS_MNT_OVERLAY || pl->mounts[i].kind == HS_MNT_SNAPSHOT)
			return &pl->mounts[i];
	return NULL;
}

int hs_plan_workspace_use_snapshot(struct hs_plan *pl, const char *dir, struct hs_error *err)
{
	struct hs_mount *ws = workspace_mount(pl);
	if (!ws)
		return hs_err(err, "the plan has no workspace");
	ws->kind = HS_MNT_SNAPSHOT;
	free(ws->src);
	ws->src = hs_xstrdup(dir);
	ws->is_dir = true;
	add_landlock_rules(pl);
	return 0;
}

void hs_plan_workspace_hidden(const struct hs_plan *pl, struct hs_strv *out)
{
	const struct hs_mount *ws = workspace_mount((struct hs_plan *)pl);
	if (!ws)
		return;
	size_t n = strlen(ws->dst);
	for (size_t i = 0; i < pl->nmounts; i++) {
		const struct hs_mount *m = &pl->mounts[i];
		if (m->kind == HS_MNT_HIDE && path_is_under(m->dst, ws->dst) && m->dst[n] == '/')
			hs_strv_push(out, m->dst + n + 1);
	}
}

void hs_plan_without_namespaces(struct hs_plan *pl)
{
	pl->userns = false;
	/* No network namespace to put the proxy's listeners in: ports 3128
	 * and 1080 on the host's loopback could be anyone's, so Landlock
	 * allows no TCP connect at all and allowed hosts are unreachable. */
	if (pl->proxy) {
		/* ...and nothing may point a client at them either. */
		for (size_t i = 0; i < HS_ARRAY_LEN(proxy_vars); i++)
			env_unset(&pl->env, proxy_vars[i]);
	}
	pl->proxy = false;
	pl->transparent = false;
	add_landlock_rules(pl);
}

static void release_locks(struct hs_plan *pl)
{
	for (size_t i = 0; i < pl->nlock_fds; i++)
		close(pl->lock_fds[i]);
	free(pl->lock_fds);
	pl->lock_fds = NULL;
	pl->nlock_fds = 0;
}

void hs_plan_cleanup_placeholders(struct hs_plan *pl)
{
	release_locks(pl);
	/* Reverse order: inner placeholders before the dirs that hold them. */
	for (size_t i = pl->nplaceholders; i-- > 0;) {
		struct hs_placeholder *ph = &pl->placeholders[i];
		struct stat st;
		if (ph->fd < 0)
			continue; /* dry run, or never locked: not ours to remove */
		/* Our shared lock becomes exclusive only if no other run holds
		 * one (it still masks the path): then remove it, if the name
		 * still is the placeholder we made and it holds what we wrote. */
		if (flock(ph->fd, LOCK_EX | LOCK_NB) == 0 && lstat(ph->path, &st) == 0 &&
		    st.st_dev == ph->dev && st.st_ino == ph->ino) {
			if (ph->is_dir)
				(void)rmdir(ph->path); /* fails, harmlessly, if not empty */
			else if (S_ISREG(st.st_mode) &&
				 st.st_size == (off_t)strlen(placeholder_content(ph->path)))
				(void)unlink(ph->path);
		}
		hs_close(&ph->fd);
	}
}

void hs_plan_free(struct hs_plan *pl)
{
	release_locks(pl);
	hs_seccomp_prog_free(&pl->seccomp);
	for (size_t i = 0; i < pl->nmounts; i++) {
		free(pl->mounts[i].src);
		free(pl->mounts[i].dst);
	}
	free(pl->mounts);
	free(pl->ll);
	for (size_t i = 0; i < pl->nplaceholders; i++) {
		free(pl->placeholders[i].path);
		hs_close(&pl->placeholders[i].fd);
	}
	free(pl->placeholders);
	hs_strv_clear(&pl->env);
	hs_strv_clear(&pl->argv);
	hs_strv_clear(&pl->warnings);
	free(pl->cwd);
	free(pl->home);
	free(pl->hostname);
	free(pl->workspace);
	hs_net_rules_free(pl->net_rules);
	memset(pl, 0, sizeof(*pl));
}

static const char *kind_name(enum hs_mount_kind k)
{
	switch (k) {
	case HS_MNT_BIND_RO:
		return "read-only";
	case HS_MNT_BIND_RW:
		return "read-write";
	case HS_MNT_TMPFS:
		return "tmpfs";
	case HS_MNT_SYMLINK:
		return "symlink";
	case HS_MNT_PROC:
		return "proc";
	case HS_MNT_DEV:
		return "dev";
	case HS_MNT_PROTECT:
		return "protected (read-only)";
	case HS_MNT_HIDE:
		return "hidden (empty)";
	case HS_MNT_PIN:
		return "pinned (no rename)";
	case HS_MNT_PIN_LINK:
		return "symlink covered";
	case HS_MNT_OVERLAY:
		return "workspace (overlay)";
	case HS_MNT_SNAPSHOT:
		return "workspace (snapshot)";
	}
	return "?";
}

void hs_plan_describe(const struct hs_plan *pl, FILE *out)
{
	fprintf(out, "filesystem view (in mount order):\n");
	for (size_t i = 0; i < pl->nmounts; i++) {
		const struct hs_mount *m = &pl->mounts[i];
		fprintf(out, "  %-22s %s", kind_name(m->kind), m->dst);
		if (m->kind == HS_MNT_SYMLINK)
			fprintf(out, " -> %s", m->src);
		if (m->kind == HS_MNT_TMPFS && m->size)
			fprintf(out, " (size %llu MiB)", (unsigned long long)(m->size >> 20));
		fputc('\n', out);
	}
	for (size_t i = 0; i < pl->warnings.n; i++)
		fprintf(out, "  warning: %s\n", pl->warnings.v[i]);
	for (size_t i = 0; i < pl->nplaceholders; i++)
		fprintf(out, "  placeholder %s %s on the host to mask it; removed at exit\n",
			pl->placeholders[i].path,
			pl->placeholders[i].fd >= 0 ? "created" : "will be created");
	fprintf(out, "environment passed (names only):");
	for (size_t i = 0; i < pl->env.n; i++) {
		const char *eq = strchr(pl->env.v[i], '=');
		fprintf(out, " %.*s", eq ? (int)(eq - pl->env.v[i]) : 0, pl->env.v[i]);
	}
	fputc('\n', out);
	fprintf(out, "working directory: %s\nHOME: %s (empty tmpfs unless granted)\n", pl->cwd,
		pl->home);
	if (pl->proxy)
		fprintf(out, "network: allowed hosts through harness's proxy (HTTP 127.0.0.1:%u, "
			     "SOCKS5 127.0.0.1:%u%s)\n",
			(unsigned)pl->proxy_http_port, (unsigned)pl->proxy_socks_port,
			pl->transparent ? "; transparent 127.0.0.1:80 and :443, DNS stub "
					  "127.0.0.1:53"
					: "");
	else
		fprintf(out, "network: none (loopback only, nothing listening)\n");
	const struct hs_limits *l = &pl->limits;
	fprintf(out,
		"limits: timeout %llums, cpu %llus, memory %llu bytes, processes %llu, file size "
		"%llu bytes, open files %llu (0 = none)\n",
		(unsigned long long)l->timeout_ms, (unsigned long long)l->cpu_seconds,
		(unsigned long long)l->memory_bytes, (unsigned long long)l->max_procs,
		(unsigned long long)l->max_file_size, (unsigned long long)l->max_open_files);
}
