/*
 * workspace.c: the changes a run left in its workspace, staged runs, and
 * applying them (see workspace.h).
 *
 * The upper layer of an overlay holds, for every path the command touched:
 *   - a regular file, symlink or directory: the new entry (a directory may
 *     be only a parent of changed entries, copied up with them);
 *   - a character device 0/0: a whiteout, the lower entry was deleted;
 *   - a directory with the xattr user.overlay.opaque = "y": it replaces
 *     the lower directory of that name wholesale (rm -r then mkdir).
 * (The overlay is mounted with redirect_dir and metacopy off, so no other
 * mark can appear.) Each entry is compared with the host dir: a file
 * copied up but left as it was (opened for writing, touched) is no change.
 */
#define _GNU_SOURCE
#include "workspace.h"
#include "common/sha256.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

/* ---- small helpers ---- */

static char *join(const char *a, const char *b)
{
	return *a ? hs_xasprintf("%s/%s", a, b) : hs_xstrdup(b);
}

/* Opens rel beneath dirfd without following any symlink (host side). */
static int open_beneath(int dirfd, const char *rel, int flags)
{
	struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC),
			       .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
					  RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV};
	return (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
}

/* lstat of rel beneath dirfd: its parent is opened without following
 * symlinks, then the last component is looked at without following it. */
static int lstat_beneath(int dirfd, const char *rel, struct stat *st)
{
	const char *slash = strrchr(rel, '/');
	if (!slash)
		return fstatat(dirfd, rel, st, AT_SYMLINK_NOFOLLOW);
	char *parent = hs_xasprintf("%.*s", (int)(slash - rel), rel);
	int pfd = open_beneath(dirfd, parent, O_PATH | O_DIRECTORY);
	free(parent);
	if (pfd < 0)
		return -1;
	int r = fstatat(pfd, slash + 1, st, AT_SYMLINK_NOFOLLOW);
	int e = errno;
	close(pfd);
	errno = e;
	return r;
}

/* SHA-256 of an open regular file; *size its length. */
static int hash_fd(int fd, char out[65], uint64_t *size, struct hs_error *err)
{
	struct hs_sha256 ctx;
	hs_sha256_init(&ctx);
	char buf[65536];
	uint64_t total = 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return hs_err_sys(err, "read");
		if (n == 0)
			break;
		hs_sha256_update(&ctx, buf, (size_t)n);
		total += (uint64_t)n;
	}
	unsigned char md[HS_SHA256_LEN];
	hs_sha256_final(&ctx, md);
	hs_sha256_hex(md, out);
	*size = total;
	return 0;
}

static int hash_at(int dirfd, const char *name, bool beneath, char out[65], uint64_t *size,
		   struct hs_error *err)
{
	int fd = beneath ? open_beneath(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK)
			 : openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return hs_err_sys(err, "open %s", name);
	int r = hash_fd(fd, out, size, err);
	close(fd);
	return r;
}

static char *readlink_at(int dirfd, const char *name)
{
	char buf[PATH_MAX];
	ssize_t n = readlinkat(dirfd, name, buf, sizeof(buf) - 1);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return hs_xstrdup(buf);
}

/* readlink of rel beneath dirfd (host side). */
static char *readlink_beneath(int dirfd, const char *rel)
{
	const char *slash = strrchr(rel, '/');
	if (!slash)
		return readlink_at(dirfd, rel);
	char *parent = hs_xasprintf("%.*s", (int)(slash - rel), rel);
	int pfd = open_beneath(dirfd, parent, O_PATH | O_DIRECTORY);
	free(parent);
	if (pfd < 0)
		return NULL;
	char *r = readlink_at(pfd, slash + 1);
	close(pfd);
	return r;
}

static struct hs_ws_item *add_item(struct hs_ws_changes *c)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->v = hs_xrealloc(c->v, c->cap * sizeof(*c->v));
	}
	struct hs_ws_item *it = &c->v[c->n++];
	memset(it, 0, sizeof(*it));
	return it;
}

static void item_free(struct hs_ws_item *it)
{
	free(it->path);
	free(it->old_path);
	free(it->old_link);
	free(it->new_link);
	free(it->conflict);
}

void hs_ws_changes_free(struct hs_ws_changes *c)
{
	for (size_t i = 0; i < c->n; i++)
		item_free(&c->v[i]);
	free(c->v);
	memset(c, 0, sizeof(*c));
}

/* ---- the baseline ---- */

struct base_entry {
	char *path;
	dev_t dev;
	ino_t ino;
	off_t size;
	mode_t mode;
	struct timespec mtime, ctime;
};

struct hs_ws_baseline {
	struct base_entry *v;
	size_t n, cap;
	/* Entries owned by another user or group than the caller's: a user
	 * namespace maps only the caller's own, and overlayfs refuses to copy
	 * such an entry up (EOVERFLOW), so writing it fails inside. */
	size_t foreign;
	char *foreign_path; /* the first one */
	uid_t foreign_uid;
	gid_t foreign_gid;
};

static int cmp_base(const void *a, const void *b)
{
	return strcmp(((const struct base_entry *)a)->path, ((const struct base_entry *)b)->path);
}

static int base_walk(struct hs_ws_baseline *b, int dirfd, const char *rel, dev_t dev, int depth,
		     struct hs_error *err)
{
	if (depth > HS_WS_MAX_DEPTH)
		return hs_err(err, "%s: directories nested deeper than %d", rel, HS_WS_MAX_DEPTH);
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return hs_err_sys(err, "open %s", *rel ? rel : ".");
	}
	int r = 0;
	struct dirent *e;
	while (r == 0 && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* gone meanwhile */
		if (b->n >= HS_WS_MAX_ENTRIES) {
			r = hs_err(err, "more than %d entries in the workspace", HS_WS_MAX_ENTRIES);
			break;
		}
		if (b->n == b->cap) {
			b->cap = b->cap ? 2 * b->cap : 1024;
			b->v = hs_xrealloc(b->v, b->cap * sizeof(*b->v));
		}
		char *path = join(rel, e->d_name);
		if (st.st_uid != geteuid() || st.st_gid != getegid()) {
			if (!b->foreign++) {
				b->foreign_path = hs_xstrdup(path);
				b->foreign_uid = st.st_uid;
				b->foreign_gid = st.st_gid;
			}
		}
		b->v[b->n++] = (struct base_entry){.path = path, .dev = st.st_dev, .ino = st.st_ino,
						   .size = st.st_size, .mode = st.st_mode,
						   .mtime = st.st_mtim, .ctime = st.st_ctim};
		if (S_ISDIR(st.st_mode) && st.st_dev == dev) {
			int sub = openat(dirfd, e->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0) {
				r = base_walk(b, sub, path, dev, depth + 1, err);
				close(sub);
			}
		}
	}
	closedir(d);
	return r;
}

struct hs_ws_baseline *hs_ws_baseline_take(const char *dir, struct hs_error *err)
{
	struct hs_ws_baseline *b = hs_xcalloc(1, sizeof(*b));
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		hs_err_sys(err, "%s", dir);
		if (fd >= 0)
			close(fd);
		free(b);
		return NULL;
	}
	int r = base_walk(b, fd, "", st.st_dev, 0, err);
	close(fd);
	if (r < 0) {
		hs_ws_baseline_free(b);
		return NULL;
	}
	qsort(b->v, b->n, sizeof(*b->v), cmp_base);
	return b;
}

struct hs_ws_baseline *hs_ws_baseline_new(void)
{
	return hs_xcalloc(1, sizeof(struct hs_ws_baseline));
}

void hs_ws_baseline_add(struct hs_ws_baseline *b, const char *path, const struct stat *st)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 1024;
		b->v = hs_xrealloc(b->v, b->cap * sizeof(*b->v));
	}
	b->v[b->n++] = (struct base_entry){.path = hs_xstrdup(path), .dev = st->st_dev,
					   .ino = st->st_ino, .size = st->st_size,
					   .mode = st->st_mode, .mtime = st->st_mtim,
					   .ctime = st->st_ctim};
}

void hs_ws_baseline_sort(struct hs_ws_baseline *b)
{
	if (b->n)
		qsort(b->v, b->n, sizeof(*b->v), cmp_base);
}

size_t hs_ws_baseline_count(const struct hs_ws_baseline *b)
{
	return b ? b->n : 0;
}

size_t hs_ws_baseline_foreign(const struct hs_ws_baseline *b, const char **path, uid_t *uid,
			      gid_t *gid)
{
	if (b->foreign) {
		*path = b->foreign_path;
		*uid = b->foreign_uid;
		*gid = b->foreign_gid;
	}
	return b->foreign;
}

void hs_ws_baseline_free(struct hs_ws_baseline *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++)
		free(b->v[i].path);
	free(b->v);
	free(b->foreign_path);
	free(b);
}

static const struct base_entry *base_find(const struct hs_ws_baseline *b, const char *path)
{
	if (!b || !b->n)
		return NULL;
	struct base_entry key = {.path = (char *)path};
	return bsearch(&key, b->v, b->n, sizeof(*b->v), cmp_base);
}

static bool ts_eq(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* Did the host path change since the run started? NULL: no. */
static char *moved_since(const struct hs_ws_baseline *b, const char *path, const struct stat *now,
			 bool exists_now)
{
	if (!b)
		return NULL;
	const struct base_entry *e = base_find(b, path);
	if (!e && exists_now)
		return hs_xstrdup("created in the real tree during the run");
	if (e && !exists_now)
		return hs_xstrdup("deleted from the real tree during the run");
	if (!e)
		return NULL;
	if (e->ino != now->st_ino || e->dev != now->st_dev || e->size != now->st_size ||
	    e->mode != now->st_mode || !ts_eq(e->mtime, now->st_mtim) ||
	    (!S_ISDIR(e->mode) && !ts_eq(e->ctime, now->st_ctim)))
		return hs_xstrdup("changed in the real tree during the run");
	return NULL;
}

/* ---- collecting ---- */

struct collect {
	int lower_fd;
	const struct hs_ws_baseline *base;
	/* A snapshot copy instead of an upper layer: the copy's own metadata
	 * right after it was made (NULL with an overlay). See
	 * hs_ws_collect_snapshot. */
	const struct hs_ws_baseline *snap;
	struct hs_ws_changes *out;
	size_t entries;
	struct hs_error *err;
};

/* The host entry at rel: 1 (st set), 0 absent, -1 error. */
static int lower_stat(struct collect *x, const char *rel, struct stat *st)
{
	if (lstat_beneath(x->lower_fd, rel, st) == 0)
		return 1;
	if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP || errno == EXDEV)
		return 0; /* absent, or behind a symlink / another fs: not ours */
	return hs_err_sys(x->err, "%s", rel);
}

static void mark_conflict(struct collect *x, struct hs_ws_item *it)
{
	struct stat st;
	bool exists = lstat_beneath(x->lower_fd, it->path, &st) == 0;
	it->conflict = moved_since(x->base, it->path, &st, exists);
}

/* Records the host entry at rel (and, for a directory, all beneath it) as
 * deleted. */
static int delete_lower(struct collect *x, const char *rel, const struct stat *st, int depth)
{
	if (depth > HS_WS_MAX_DEPTH)
		return hs_err(x->err, "%s: nested deeper than %d", rel, HS_WS_MAX_DEPTH);
	if (++x->entries > HS_WS_MAX_ENTRIES)
		return hs_err(x->err, "more than %d entries in the workspace", HS_WS_MAX_ENTRIES);
	struct hs_ws_item *it = add_item(x->out);
	it->kind = HS_CHANGE_DELETED;
	it->path = hs_xstrdup(rel);
	it->old_mode = st->st_mode;
	it->old_size = (uint64_t)st->st_size;
	if (S_ISREG(st->st_mode)) {
		if (hash_at(x->lower_fd, rel, true, it->old_hash, &it->old_size, x->err) < 0)
			return -1;
	} else if (S_ISLNK(st->st_mode)) {
		it->old_link = readlink_beneath(x->lower_fd, rel);
	}
	mark_conflict(x, it);
	if (!S_ISDIR(st->st_mode))
		return 0;
	int fd = open_beneath(x->lower_fd, rel, O_RDONLY | O_DIRECTORY);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	int r = 0;
	struct dirent *e;
	while (r == 0 && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *sub = join(rel, e->d_name);
		struct stat sst;
		if (lower_stat(x, sub, &sst) == 1)
			r = delete_lower(x, sub, &sst, depth + 1);
		free(sub);
	}
	closedir(d);
	return r;
}

static bool is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && major(st->st_rdev) == 0 && minor(st->st_rdev) == 0;
}

static bool opaque(int dirfd)
{
	char v[4] = "";
	ssize_t n = fgetxattr(dirfd, "user.overlay.opaque", v, sizeof(v));
	return n == 1 && v[0] == 'y';
}

static int walk_upper(struct collect *x, int dirfd, const char *rel, int depth, bool touched);

/* A snapshot entry that is, to the inode, what the copy made (the same
 * inode, size, mode, mtime and ctime: the command cannot set a ctime). */
static bool snap_untouched(const struct collect *x, const char *rel, const struct stat *st)
{
	const struct base_entry *e = base_find(x->snap, rel);
	return e && e->ino == st->st_ino && e->dev == st->st_dev && e->size == st->st_size &&
	       e->mode == st->st_mode && ts_eq(e->mtime, st->st_mtim) &&
	       ts_eq(e->ctime, st->st_ctim);
}

static int upper_entry(struct collect *x, int dirfd, const char *name, const char *rel, int depth)
{
	struct stat st, lst;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return hs_err_sys(x->err, "workspace: %s", rel);
	if (++x->entries > HS_WS_MAX_ENTRIES)
		return hs_err(x->err, "more than %d entries in the workspace", HS_WS_MAX_ENTRIES);
	if (x->snap && snap_untouched(x, rel, &st)) {
		/* Not changed since the copy: only what is beneath a
		 * directory may be. */
		if (!S_ISDIR(st.st_mode))
			return 0;
		int sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			return hs_err_sys(x->err, "workspace: %s", rel);
		int r = walk_upper(x, sub, rel, depth + 1, false);
		close(sub);
		return r;
	}
	int has = lower_stat(x, rel, &lst);
	if (has < 0)
		return -1;
	/* In a snapshot a 0/0 character device is just that (anyone may make
	 * one), and an overlay xattr on a directory means nothing. */
	if (!x->snap && is_whiteout(&st))
		return has ? delete_lower(x, rel, &lst, depth) : 0;
	if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode) && !S_ISDIR(st.st_mode)) {
		x->out->ignored++;
		return 0;
	}
	bool same_type = has && (st.st_mode & S_IFMT) == (lst.st_mode & S_IFMT);
	if (has && !same_type) {
		/* A type change: the old entry goes (with all beneath it), the
		 * new one comes. */
		if (delete_lower(x, rel, &lst, depth) < 0)
			return -1;
		has = 0;
	}
	struct hs_ws_item tmp = {0};
	tmp.path = (char *)rel;
	tmp.new_mode = st.st_mode;
	tmp.new_size = (uint64_t)st.st_size;
	if (has) {
		tmp.old_mode = lst.st_mode;
		tmp.old_size = (uint64_t)lst.st_size;
	}
	bool changed = !has;
	if (S_ISREG(st.st_mode)) {
		if (hash_at(dirfd, name, false, tmp.new_hash, &tmp.new_size, x->err) < 0)
			return -1;
		if (has && hash_at(x->lower_fd, rel, true, tmp.old_hash, &tmp.old_size, x->err) < 0)
			return -1;
		x->out->new_bytes += tmp.new_size;
		if (has && strcmp(tmp.old_hash, tmp.new_hash) != 0)
			changed = true;
	} else if (S_ISLNK(st.st_mode)) {
		tmp.new_link = readlink_at(dirfd, name);
		if (has)
			tmp.old_link = readlink_beneath(x->lower_fd, rel);
		if (!tmp.new_link) {
			free(tmp.old_link);
			return hs_err_sys(x->err, "workspace: readlink %s", rel);
		}
		if (has && (!tmp.old_link || strcmp(tmp.old_link, tmp.new_link) != 0))
			changed = true;
	}
	bool mode_changed = has && (st.st_mode & 07777) != (lst.st_mode & 07777);
	if (changed || mode_changed) {
		struct hs_ws_item *it = add_item(x->out);
		*it = tmp;
		it->path = hs_xstrdup(rel);
		it->kind = !has ? HS_CHANGE_ADDED : changed ? HS_CHANGE_MODIFIED : HS_CHANGE_MODE;
		if (S_ISLNK(st.st_mode) && has && changed)
			it->kind = HS_CHANGE_MODIFIED;
		mark_conflict(x, it);
	} else {
		free(tmp.new_link);
		free(tmp.old_link);
	}
	if (!S_ISDIR(st.st_mode))
		return 0;
	int sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0)
		return hs_err_sys(x->err, "workspace: %s", rel);
	int r = 0;
	if (!x->snap && has && opaque(sub)) {
		/* Replaced wholesale: what the host dir has that the new one
		 * does not was deleted. */
		int lfd = open_beneath(x->lower_fd, rel, O_RDONLY | O_DIRECTORY);
		DIR *d = lfd >= 0 ? fdopendir(lfd) : NULL;
		if (!d && lfd >= 0)
			close(lfd);
		struct dirent *e;
		while (d && r == 0 && (e = readdir(d))) {
			struct stat ust, lsub;
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			if (fstatat(sub, e->d_name, &ust, AT_SYMLINK_NOFOLLOW) == 0)
				continue; /* the upper entry decides */
			char *p = join(rel, e->d_name);
			if (lower_stat(x, p, &lsub) == 1)
				r = delete_lower(x, p, &lsub, depth + 1);
			free(p);
		}
		if (d)
			closedir(d);
	}
	if (r == 0)
		r = walk_upper(x, sub, rel, depth + 1, true);
	close(sub);
	return r;
}

/* First entry of b whose path is >= key. */
static size_t base_lower_bound(const struct hs_ws_baseline *b, const char *key)
{
	size_t lo = 0, hi = b->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(b->v[mid].path, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The entries the snapshot's directory rel held when it was copied and no
 * longer holds: deleted, where the host still has them (the snapshot's
 * counterpart of whiteouts). Only needed for a directory whose inode
 * changed: adding, removing or renaming an entry sets its ctime. */
static int snap_deletions(struct collect *x, int dirfd, const char *rel, int depth)
{
	const struct hs_ws_baseline *b = x->snap;
	char *prefix = *rel ? hs_xasprintf("%s/", rel) : hs_xstrdup("");
	size_t plen = strlen(prefix);
	int r = 0;
	for (size_t i = base_lower_bound(b, prefix);
	     r == 0 && i < b->n && strncmp(b->v[i].path, prefix, plen) == 0; i++) {
		const char *name = b->v[i].path + plen;
		struct stat st, lst;
		if (strchr(name, '/') || fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		if (errno != ENOENT) {
			r = hs_err_sys(x->err, "workspace: %s", b->v[i].path);
			break;
		}
		int has = lower_stat(x, b->v[i].path, &lst);
		if (has < 0)
			r = -1;
		else if (has)
			r = delete_lower(x, b->v[i].path, &lst, depth);
	}
	free(prefix);
	return r;
}

static int walk_upper(struct collect *x, int dirfd, const char *rel, int depth, bool touched)
{
	if (depth > HS_WS_MAX_DEPTH)
		return hs_err(x->err, "workspace: directories nested deeper than %d",
			      HS_WS_MAX_DEPTH);
	/* A description of its own: a dup would share the offset, and a second
	 * walk of the same fd would read nothing. */
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return hs_err_sys(x->err, "workspace: open %s", *rel ? rel : ".");
	}
	int r = 0;
	struct dirent *e;
	while (r == 0 && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *p = join(rel, e->d_name);
		r = upper_entry(x, dirfd, e->d_name, p, depth);
		free(p);
	}
	closedir(d);
	if (r == 0 && x->snap && touched)
		r = snap_deletions(x, dirfd, rel, depth);
	return r;
}

static int cmp_item(const void *a, const void *b)
{
	return strcmp(((const struct hs_ws_item *)a)->path, ((const struct hs_ws_item *)b)->path);
}

/* A deleted file and an added one with the same content (and that content
 * unique among the deletions and additions) are one rename. */
static void find_renames(struct hs_ws_changes *c)
{
	for (size_t i = 0; i < c->n; i++) {
		struct hs_ws_item *add = &c->v[i];
		if (add->kind != HS_CHANGE_ADDED || !S_ISREG(add->new_mode) || add->new_size == 0)
			continue;
		struct hs_ws_item *del = NULL;
		size_t ndel = 0, nadd = 0;
		for (size_t j = 0; j < c->n; j++) {
			struct hs_ws_item *o = &c->v[j];
			if (o->kind == HS_CHANGE_DELETED && S_ISREG(o->old_mode) &&
			    !strcmp(o->old_hash, add->new_hash)) {
				del = o;
				ndel++;
			}
			if (o->kind == HS_CHANGE_ADDED && S_ISREG(o->new_mode) &&
			    !strcmp(o->new_hash, add->new_hash))
				nadd++;
		}
		if (ndel != 1 || nadd != 1)
			continue;
		add->kind = HS_CHANGE_RENAMED;
		add->old_path = del->path;
		del->path = NULL;
		add->old_mode = del->old_mode;
		add->old_size = del->old_size;
		memcpy(add->old_hash, del->old_hash, sizeof(add->old_hash));
		if (del->conflict && !add->conflict) {
			add->conflict = del->conflict;
			del->conflict = NULL;
		}
		del->kind = (enum hs_change_kind)-1; /* dropped below */
	}
	size_t w = 0;
	for (size_t i = 0; i < c->n; i++) {
		if ((int)c->v[i].kind == -1) {
			item_free(&c->v[i]);
			continue;
		}
		c->v[w++] = c->v[i];
	}
	c->n = w;
}

static int collect(int upper_fd, const struct hs_ws_baseline *snap, const char *lower_dir,
		   const struct hs_ws_baseline *base, struct hs_ws_changes *out,
		   struct hs_error *err)
{
	memset(out, 0, sizeof(*out));
	struct collect x = {.base = base, .snap = snap, .out = out, .err = err};
	x.lower_fd = open(lower_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (x.lower_fd < 0)
		return hs_err_sys(err, "%s", lower_dir);
	int r = walk_upper(&x, upper_fd, "", 0, true);
	close(x.lower_fd);
	if (r < 0) {
		hs_ws_changes_free(out);
		return -1;
	}
	find_renames(out);
	if (out->n) /* (qsort of NULL is undefined, even for 0 items) */
		qsort(out->v, out->n, sizeof(*out->v), cmp_item);
	return 0;
}

int hs_ws_collect(int upper_fd, const char *lower_dir, const struct hs_ws_baseline *base,
		  struct hs_ws_changes *out, struct hs_error *err)
{
	return collect(upper_fd, NULL, lower_dir, base, out, err);
}

int hs_ws_collect_snapshot(int snap_fd, const struct hs_ws_baseline *snap_base,
			   const char *lower_dir, const struct hs_ws_baseline *base,
			   struct hs_ws_changes *out, struct hs_error *err)
{
	if (!snap_base)
		return hs_err(err, "workspace: no record of the snapshot as it was copied");
	return collect(snap_fd, snap_base, lower_dir, base, out, err);
}

/* ---- staged runs ---- */

char *hs_ws_runs_dir(void)
{
	return hs_state_path("runs");
}

void hs_ws_meta_free(struct hs_ws_meta *m)
{
	free(m->project);
	free(m->command);
	free(m->started);
	free(m->ended);
	free(m->state);
	free(m->guard);
	memset(m, 0, sizeof(*m));
}

static const char *const kind_names[] = {"added", "modified", "deleted",
					 "renamed", "mode", "type"};

static int kind_from_name(const char *s)
{
	for (size_t i = 0; i < HS_ARRAY_LEN(kind_names); i++)
		if (s && !strcmp(s, kind_names[i]))
			return (int)i;
	return -1;
}

/* Writes path atomically: a temporary file beside it, fsync, rename. */
int hs_ws_write_file(const char *path, const char *data, size_t len, struct hs_error *err)
{
	char *tmp = hs_xasprintf("%s.tmp.%d", path, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		int r = hs_err_sys(err, "create %s", tmp);
		free(tmp);
		return r;
	}
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		off += (size_t)n;
	}
	int ok = off == len && fsync(fd) == 0;
	close(fd);
	if (!ok || rename(tmp, path) < 0) {
		int r = hs_err_sys(err, "write %s", path);
		unlink(tmp);
		free(tmp);
		return r;
	}
	free(tmp);
	return 0;
}

static int write_json(const char *path, json_t *j, struct hs_error *err)
{
	char *s = json_dumps(j, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	if (!s)
		return hs_err(err, "out of memory");
	int r = hs_ws_write_file(path, s, strlen(s), err);
	free(s);
	return r;
}

static json_t *meta_json(const struct hs_ws_meta *m)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:I, s:s}", "id", m->id, "project",
			 m->project ? m->project : "", "command", m->command ? m->command : "",
			 "started", m->started ? m->started : "", "ended", m->ended ? m->ended : "",
			 "exit", m->exit_code, "state", m->state ? m->state : "staged", "files",
			 (json_int_t)m->files, "guard", m->guard ? m->guard : "");
}

int hs_ws_save_meta(const char *run_dir, const struct hs_ws_meta *meta, struct hs_error *err)
{
	char *p = hs_xasprintf("%s/meta.json", run_dir);
	json_t *j = meta_json(meta);
	int r = write_json(p, j, err);
	json_decref(j);
	free(p);
	return r;
}

static void set_str(json_t *o, const char *k, const char *v)
{
	if (v)
		json_object_set_new(o, k, json_string(v));
}

static json_t *item_json(const struct hs_ws_item *it)
{
	json_t *o = json_object();
	json_object_set_new(o, "kind", json_string(kind_names[it->kind]));
	json_object_set_new(o, "path", json_string(it->path));
	set_str(o, "old_path", it->old_path);
	json_object_set_new(o, "old_mode", json_integer(it->old_mode));
	json_object_set_new(o, "new_mode", json_integer(it->new_mode));
	json_object_set_new(o, "old_size", json_integer((json_int_t)it->old_size));
	json_object_set_new(o, "new_size", json_integer((json_int_t)it->new_size));
	if (it->old_hash[0])
		json_object_set_new(o, "old_hash", json_string(it->old_hash));
	if (it->new_hash[0])
		json_object_set_new(o, "new_hash", json_string(it->new_hash));
	set_str(o, "old_link", it->old_link);
	set_str(o, "new_link", it->new_link);
	set_str(o, "conflict", it->conflict);
	return o;
}

/* Copies a regular file into the blob store under its hash, checking the
 * hash of what was copied (the source could change under us on the host
 * side). */
static int store_blob(const char *blobs, int dirfd, const char *name, bool beneath,
		      const char *hash, struct hs_error *err)
{
	char *dst = hs_xasprintf("%s/%s", blobs, hash);
	struct stat st;
	if (stat(dst, &st) == 0) {
		free(dst);
		return 0;
	}
	int in = beneath ? open_beneath(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK)
			 : openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (in < 0) {
		int r = hs_err_sys(err, "staging %s", name);
		free(dst);
		return r;
	}
	char *tmp = hs_xasprintf("%s.tmp", dst);
	int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	int r = out < 0 ? hs_err_sys(err, "create %s", tmp) : 0;
	struct hs_sha256 ctx;
	hs_sha256_init(&ctx);
	char buf[65536];
	while (r == 0) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = hs_err_sys(err, "read %s", name);
			break;
		}
		if (n == 0)
			break;
		hs_sha256_update(&ctx, buf, (size_t)n);
		for (ssize_t off = 0; off < n && r == 0;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0 && errno != EINTR)
				r = hs_err_sys(err, "write %s", tmp);
			else if (w > 0)
				off += w;
		}
	}
	unsigned char md[HS_SHA256_LEN];
	hs_sha256_final(&ctx, md);
	char got[65];
	hs_sha256_hex(md, got);
	if (r == 0 && strcmp(got, hash) != 0)
		r = hs_err(err, "%s changed while it was being staged", name);
	/* No fsync per blob: hs_ws_stage syncs the filesystem once at the end. */
	if (out >= 0)
		close(out);
	close(in);
	if (r == 0 && rename(tmp, dst) < 0)
		r = hs_err_sys(err, "rename %s", tmp);
	if (r < 0)
		unlink(tmp);
	free(tmp);
	free(dst);
	return r;
}

/* Opens the upper entry at rel (a '/'-separated path) without following
 * symlinks: each component with O_NOFOLLOW. Returns the parent dir fd and
 * sets *last to the last component (within rel). */
static int upper_parent(int upper_fd, const char *rel, const char **last)
{
	int fd = dup(upper_fd);
	const char *p = rel;
	for (const char *slash; fd >= 0 && (slash = strchr(p, '/'));) {
		char *comp = hs_xasprintf("%.*s", (int)(slash - p), p);
		int sub = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		free(comp);
		close(fd);
		fd = sub;
		p = slash + 1;
	}
	*last = p;
	return fd;
}

int hs_ws_stage(const char *run_dir, const struct hs_ws_meta *meta, int upper_fd,
		const char *lower_dir, const struct hs_ws_changes *ch, struct hs_error *err)
{
	if (mkdir(run_dir, 0700) < 0)
		return hs_err_sys(err, "create %s", run_dir);
	char *blobs = hs_xasprintf("%s/blobs", run_dir);
	int r = mkdir(blobs, 0700) < 0 ? hs_err_sys(err, "create %s", blobs) : 0;
	int lower_fd = open(lower_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r == 0 && lower_fd < 0)
		r = hs_err_sys(err, "%s", lower_dir);
	json_t *arr = json_array();
	for (size_t i = 0; r == 0 && i < ch->n; i++) {
		const struct hs_ws_item *it = &ch->v[i];
		json_array_append_new(arr, item_json(it));
		if (it->new_hash[0]) {
			const char *last;
			int pfd = upper_parent(upper_fd, it->path, &last);
			r = pfd < 0 ? hs_err_sys(err, "workspace: %s", it->path)
				    : store_blob(blobs, pfd, last, false, it->new_hash, err);
			if (pfd >= 0)
				close(pfd);
		}
		if (r == 0 && it->old_hash[0])
			r = store_blob(blobs, lower_fd, it->old_path ? it->old_path : it->path, true,
				       it->old_hash, err);
	}
	if (r == 0) {
		json_t *doc = json_pack("{s:I, s:o}", "ignored", (json_int_t)ch->ignored, "changes",
					arr);
		char *p = hs_xasprintf("%s/changes.json", run_dir);
		r = write_json(p, doc, err);
		free(p);
		json_decref(doc);
	} else {
		json_decref(arr);
	}
	if (lower_fd >= 0)
		close(lower_fd);
	/* One sync for every blob (thousands of fsyncs would cost minutes),
	 * before meta.json says the run is staged. */
	int dfd = r == 0 ? open(blobs, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (r == 0 && (dfd < 0 || syncfs(dfd) < 0))
		r = hs_err_sys(err, "sync %s", blobs);
	if (dfd >= 0)
		close(dfd);
	free(blobs);
	if (r == 0)
		r = hs_ws_save_meta(run_dir, meta, err);
	return r;
}

static char *dup_json_str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? hs_xstrdup(s) : NULL;
}

static bool valid_hash(const char *s)
{
	if (!s || strlen(s) != 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

/* A staged path: relative, no empty, "." or ".." component. */
static bool valid_rel(const char *p)
{
	if (!p || !*p || p[0] == '/')
		return false;
	for (const char *c = p;;) {
		const char *slash = strchr(c, '/');
		size_t n = slash ? (size_t)(slash - c) : strlen(c);
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		if (!slash)
			return true;
		c = slash + 1;
	}
}

int hs_ws_load(const char *run_dir, struct hs_ws_meta *meta, struct hs_ws_changes *ch,
	       struct hs_error *err)
{
	memset(meta, 0, sizeof(*meta));
	if (ch)
		memset(ch, 0, sizeof(*ch));
	char *p = hs_xasprintf("%s/meta.json", run_dir);
	json_error_t je;
	json_t *m = json_load_file(p, JSON_REJECT_DUPLICATES, &je);
	free(p);
	if (!json_is_object(m)) {
		json_decref(m);
		return hs_err(err, "%s: meta.json is missing or unreadable (%s)", run_dir, je.text);
	}
	snprintf(meta->id, sizeof(meta->id), "%s",
		 json_string_value(json_object_get(m, "id")) ? json_string_value(json_object_get(m, "id"))
							   : "");
	meta->project = dup_json_str(m, "project");
	meta->command = dup_json_str(m, "command");
	meta->started = dup_json_str(m, "started");
	meta->ended = dup_json_str(m, "ended");
	meta->state = dup_json_str(m, "state");
	meta->guard = dup_json_str(m, "guard");
	meta->exit_code = (int)json_integer_value(json_object_get(m, "exit"));
	meta->files = (size_t)json_integer_value(json_object_get(m, "files"));
	json_decref(m);
	if (!meta->project || meta->project[0] != '/' || !meta->state)
		return hs_err(err, "%s: meta.json is malformed", run_dir);
	if (!ch)
		return 0;
	p = hs_xasprintf("%s/changes.json", run_dir);
	json_t *doc = json_load_file(p, JSON_REJECT_DUPLICATES, &je);
	free(p);
	json_t *arr = json_object_get(doc, "changes");
	if (!json_is_array(arr)) {
		json_decref(doc);
		return hs_err(err, "%s: changes.json is missing or malformed", run_dir);
	}
	ch->ignored = (size_t)json_integer_value(json_object_get(doc, "ignored"));
	int r = 0;
	for (size_t i = 0; r == 0 && i < json_array_size(arr); i++) {
		json_t *o = json_array_get(arr, i);
		int kind = kind_from_name(json_string_value(json_object_get(o, "kind")));
		const char *path = json_string_value(json_object_get(o, "path"));
		const char *old_path = json_string_value(json_object_get(o, "old_path"));
		const char *oh = json_string_value(json_object_get(o, "old_hash"));
		const char *nh = json_string_value(json_object_get(o, "new_hash"));
		if (kind < 0 || !valid_rel(path) || (old_path && !valid_rel(old_path)) ||
		    (oh && !valid_hash(oh)) || (nh && !valid_hash(nh))) {
			r = hs_err(err, "%s: changes.json entry %zu is malformed (edited by hand?)",
				   run_dir, i);
			break;
		}
		struct hs_ws_item *it = add_item(ch);
		it->kind = (enum hs_change_kind)kind;
		it->path = hs_xstrdup(path);
		it->old_path = old_path ? hs_xstrdup(old_path) : NULL;
		it->old_mode = (mode_t)json_integer_value(json_object_get(o, "old_mode"));
		it->new_mode = (mode_t)json_integer_value(json_object_get(o, "new_mode"));
		it->old_size = (uint64_t)json_integer_value(json_object_get(o, "old_size"));
		it->new_size = (uint64_t)json_integer_value(json_object_get(o, "new_size"));
		snprintf(it->old_hash, sizeof(it->old_hash), "%s", oh ? oh : "");
		snprintf(it->new_hash, sizeof(it->new_hash), "%s", nh ? nh : "");
		it->old_link = dup_json_str(o, "old_link");
		it->new_link = dup_json_str(o, "new_link");
		it->conflict = dup_json_str(o, "conflict");
		if (it->new_size)
			ch->new_bytes += it->new_size;
	}
	json_decref(doc);
	if (r < 0)
		hs_ws_changes_free(ch);
	return r;
}

int hs_ws_blob_read(const char *run_dir, const char *hash, size_t max, char **data, size_t *len,
		    struct hs_error *err)
{
	*data = NULL;
	*len = 0;
	if (!valid_hash(hash))
		return hs_err(err, "not a content hash: %s", hash);
	char *p = hs_xasprintf("%s/blobs/%s", run_dir, hash);
	int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int r = hs_err_sys(err, "%s", p);
		if (fd >= 0)
			close(fd);
		free(p);
		return r;
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		free(p);
		return hs_err(err, "blob %s is larger than %zu bytes", hash, max);
	}
	char *buf = hs_xmalloc((size_t)st.st_size + 1);
	size_t off = 0;
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			break;
		}
		off += (size_t)n;
	}
	close(fd);
	buf[off] = '\0';
	/* The store is outside every sandbox, but check what we hand on. */
	unsigned char md[HS_SHA256_LEN];
	hs_sha256(buf, off, md);
	char got[65];
	hs_sha256_hex(md, got);
	free(p);
	if (off != (size_t)st.st_size || strcmp(got, hash) != 0) {
		free(buf);
		return hs_err(err, "blob %s does not hold what was staged (edited by hand?)", hash);
	}
	*data = buf;
	*len = off;
	return 0;
}

int hs_ws_find(const char *runs_dir, const char *id, char **run_dir, struct hs_error *err)
{
	*run_dir = NULL;
	size_t n = strlen(id);
	if (n < 4 || n > 32 || strspn(id, "0123456789abcdef") != n)
		return hs_err(err, "'%s' is not a run id (4 to 32 hex digits; `harness runs` "
				   "lists them)",
			      id);
	DIR *d = opendir(runs_dir);
	if (!d)
		return hs_err(err, "no staged run %s (there are none: %s does not exist)", id,
			      runs_dir);
	char found[64] = "";
	int matches = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strlen(e->d_name) == 32 && strncmp(e->d_name, id, n) == 0) {
			matches++;
			snprintf(found, sizeof(found), "%.32s", e->d_name);
		}
	}
	closedir(d);
	if (matches == 0)
		return hs_err(err, "no staged run %s (`harness runs` lists them)", id);
	if (matches > 1)
		return hs_err(err, "%s names %d runs; give more of the id", id, matches);
	*run_dir = hs_xasprintf("%s/%s", runs_dir, found);
	return 0;
}

/* ---- applying ---- */

/* Opens the parent dir of rel under project, creating missing directories
 * (0755), never following a symlink. */
static int open_parent(int root, const char *rel, bool create, const char **last)
{
	int fd = dup(root);
	const char *p = rel;
	for (const char *slash; fd >= 0 && (slash = strchr(p, '/'));) {
		char *comp = hs_xasprintf("%.*s", (int)(slash - p), p);
		int sub = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0 && errno == ENOENT && create && mkdirat(fd, comp, 0755) == 0)
			sub = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		free(comp);
		close(fd);
		fd = sub;
		p = slash + 1;
	}
	*last = p;
	return fd;
}

/* The host entry is what the run saw? 1 yes, 0 no (why set). */
static int host_matches(int root, const char *rel, mode_t mode, const char *hash, const char *link,
			char *why, size_t whylen)
{
	struct stat st;
	bool exists = lstat_beneath(root, rel, &st) == 0;
	if (!mode) {
		if (exists)
			snprintf(why, whylen, "%s now exists in the real tree", rel);
		return !exists;
	}
	if (!exists) {
		snprintf(why, whylen, "%s is gone from the real tree", rel);
		return 0;
	}
	if ((st.st_mode & S_IFMT) != (mode & S_IFMT)) {
		snprintf(why, whylen, "%s is another kind of entry in the real tree now", rel);
		return 0;
	}
	if (S_ISREG(mode)) {
		char now[65] = "";
		uint64_t size;
		struct hs_error e;
		if (hash_at(root, rel, true, now, &size, &e) < 0 || strcmp(now, hash) != 0) {
			snprintf(why, whylen, "%s changed in the real tree since the run", rel);
			return 0;
		}
	} else if (S_ISLNK(mode)) {
		char *t = readlink_beneath(root, rel);
		bool same = t && link && !strcmp(t, link);
		free(t);
		if (!same) {
			snprintf(why, whylen, "%s points elsewhere in the real tree now", rel);
			return 0;
		}
	}
	return 1;
}

static int write_file_at(int dirfd, const char *name, const char *data, size_t len, mode_t mode,
			 struct hs_error *err)
{
	char tmp[NAME_MAX + 1];
	snprintf(tmp, sizeof(tmp), ".harness-apply.%d.tmp", (int)getpid());
	int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return hs_err_sys(err, "create a temporary file for %s", name);
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		off += (size_t)n;
	}
	/* Permission bits as staged, without setuid/setgid/sticky: applying
	 * must not create a setuid file the guard would have to catch. No
	 * fsync here: the rename makes the switch atomic, and the caller syncs
	 * the filesystem once when the batch is done (hs_ws_apply_sync). */
	int ok = off == len && fchmod(fd, mode & 0777) == 0;
	close(fd);
	if (!ok || renameat(dirfd, tmp, dirfd, name) < 0) {
		int r = hs_err_sys(err, "write %s", name);
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	return 0;
}

static int remove_at(int dirfd, const char *name, mode_t mode, struct hs_error *err)
{
	if (unlinkat(dirfd, name, S_ISDIR(mode) ? AT_REMOVEDIR : 0) < 0 && errno != ENOENT)
		return hs_err_sys(err, "remove %s", name);
	return 0;
}

int hs_ws_apply_sync(const char *project, struct hs_error *err)
{
	int fd = open(project, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = fd < 0 || syncfs(fd) < 0 ? hs_err_sys(err, "sync %s", project) : 0;
	if (fd >= 0)
		close(fd);
	return r;
}

int hs_ws_apply_one(const char *run_dir, const char *project, const struct hs_ws_item *it,
		    bool force, char *why, size_t whylen, struct hs_error *err)
{
	why[0] = '\0';
	if (it->conflict && !force) {
		snprintf(why, whylen, "%s: %s", it->path, it->conflict);
		return 1;
	}
	int root = open(project, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return hs_err_sys(err, "%s", project);
	int r = 0;
	/* What the run saw must still be there. */
	if (!force) {
		const char *src = it->kind == HS_CHANGE_RENAMED ? it->old_path : it->path;
		mode_t before = it->kind == HS_CHANGE_ADDED ? 0 : it->old_mode;
		if (!host_matches(root, src, before, it->old_hash, it->old_link, why, whylen))
			r = 1;
		if (r == 0 && it->kind == HS_CHANGE_RENAMED &&
		    !host_matches(root, it->path, 0, NULL, NULL, why, whylen))
			r = 1;
	}
	const char *last = NULL;
	int pfd = -1;
	if (r == 0) {
		pfd = open_parent(root, it->path, it->kind != HS_CHANGE_DELETED, &last);
		if (pfd < 0)
			r = it->kind == HS_CHANGE_DELETED && errno == ENOENT
				? 0
				: hs_err_sys(err, "%s: the directory holding it", it->path);
	}
	char *data = NULL;
	size_t len = 0;
	if (r == 0 && pfd >= 0) {
		switch (it->kind) {
		case HS_CHANGE_DELETED:
			r = remove_at(pfd, last, it->old_mode, err);
			break;
		case HS_CHANGE_MODE:
			/* Never through a symlink (with --force the real path may
			 * have become one): AT_SYMLINK_NOFOLLOW fails on a link. */
			if (S_ISLNK(it->new_mode))
				break;
			if (fchmodat(pfd, last, it->new_mode & 0777, AT_SYMLINK_NOFOLLOW) < 0)
				r = hs_err_sys(err, "chmod %s", it->path);
			break;
		case HS_CHANGE_RENAMED:
		case HS_CHANGE_ADDED:
		case HS_CHANGE_MODIFIED:
		case HS_CHANGE_TYPE:
			if (S_ISDIR(it->new_mode)) {
				if (mkdirat(pfd, last, it->new_mode & 0777) < 0 && errno != EEXIST)
					r = hs_err_sys(err, "mkdir %s", it->path);
				else if (fchmodat(pfd, last, it->new_mode & 0777, AT_SYMLINK_NOFOLLOW) < 0)
					r = hs_err_sys(err, "chmod %s", it->path);
			} else if (S_ISLNK(it->new_mode)) {
				char tmp[NAME_MAX + 1];
				snprintf(tmp, sizeof(tmp), ".harness-apply.%d.lnk", (int)getpid());
				if (!it->new_link || symlinkat(it->new_link, pfd, tmp) < 0 ||
				    renameat(pfd, tmp, pfd, last) < 0) {
					r = hs_err_sys(err, "symlink %s", it->path);
					unlinkat(pfd, tmp, 0);
				}
			} else if (S_ISREG(it->new_mode)) {
				r = hs_ws_blob_read(run_dir, it->new_hash, SIZE_MAX / 2, &data, &len,
						    err);
				if (r == 0)
					r = write_file_at(pfd, last, data, len, it->new_mode, err);
			}
			if (r == 0 && it->kind == HS_CHANGE_RENAMED) {
				const char *olast;
				int ofd = open_parent(root, it->old_path, false, &olast);
				if (ofd >= 0) {
					r = remove_at(ofd, olast, it->old_mode, err);
					close(ofd);
				}
			}
			break;
		}
	}
	free(data);
	if (pfd >= 0)
		close(pfd);
	close(root);
	return r;
}
