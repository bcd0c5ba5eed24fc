/*
 * snapshot.c: the workspace as a copy of the project (see snapshot.h).
 */
#define _GNU_SOURCE
#include "snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#define SNAP_PARENT_MODE 0300 /* no one lists it, the owner included */
#define STALE_SECONDS 60      /* since the copy's last change at its top (mtime) */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static char *join(const char *a, const char *b)
{
	return *a ? hs_xasprintf("%s/%s", a, b) : hs_xstrdup(b);
}

/* ---- copying ---- */

struct cp {
	const struct hs_ws_snapshot_opts *o;
	struct hs_ws_baseline *snap;
	struct hs_ws_snapshot_stats *st;
	dev_t dev;  /* the project's filesystem */
	dev_t pdev; /* the directory the copy goes to: never copied into itself */
	ino_t pino;
	bool try_clone; /* FICLONE has not failed yet */
	bool try_cfr;	/* nor copy_file_range */
	size_t entries;
	struct timespec max_ctime; /* the latest ctime the copy made */
	bool fine_times;	   /* some ctime has nanoseconds (else: 1 s granularity?) */
	struct hs_error *err;
};

static bool is_hidden(const struct cp *c, const char *rel)
{
	for (size_t i = 0; c->o->hidden && i < c->o->hidden->n; i++)
		if (!strcmp(c->o->hidden->v[i], rel))
			return true;
	return false;
}

/* Records the copy just made (after its contents, mode and times). */
static int record(struct cp *c, int dfd, const char *name, const char *rel)
{
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return hs_err_sys(c->err, "snapshot: %s", rel);
	hs_ws_baseline_add(c->snap, rel, &st);
	if (st.st_ctim.tv_nsec)
		c->fine_times = true;
	if (st.st_ctim.tv_sec > c->max_ctime.tv_sec ||
	    (st.st_ctim.tv_sec == c->max_ctime.tv_sec && st.st_ctim.tv_nsec > c->max_ctime.tv_nsec))
		c->max_ctime = st.st_ctim;
	return 0;
}

static bool clone_unsupported(int e)
{
	return e == EOPNOTSUPP || e == ENOTTY || e == EXDEV || e == EINVAL || e == ENOSYS ||
	       e == EBADF || e == EPERM;
}

/* Clones in into out (empty): 1 done, 0 not possible here, -1 error. */
static int clone_file(struct cp *c, int in, int out, const char *rel)
{
	if (!c->try_clone)
		return 0;
	if (ioctl(out, FICLONE, in) == 0) {
		c->st->cloned++;
		return 1;
	}
	if (!clone_unsupported(errno))
		return hs_err_sys(c->err, "snapshot: clone %s", rel);
	c->try_clone = false;
	return 0;
}

/* Fills out (empty) with in's contents: an in-kernel copy, else read and
 * write. */
static int fill(struct cp *c, int in, int out, const char *rel)
{
	bool copied = false;
	while (c->try_cfr) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
		if (n > 0) {
			copied = true;
			continue;
		}
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (copied ||
		    !(errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL))
			return hs_err_sys(c->err, "snapshot: copy %s", rel);
		c->try_cfr = false;
	}
	static char buf[1 << 17];
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return hs_err_sys(c->err, "snapshot: read %s", rel);
		if (n == 0)
			return 0;
		if (hs_write_all(out, buf, (size_t)n) < 0)
			return hs_err_sys(c->err, "snapshot: write %s", rel);
	}
}

/* n more bytes that take room on the disk (a clone takes none). */
static int add_bytes(struct cp *c, uint64_t n, const char *rel)
{
	c->st->copied += n;
	if (c->o->max_bytes && c->st->copied > c->o->max_bytes) {
		c->st->over_max = true;
		return hs_err(c->err,
			      "copying the project takes more than %llu bytes (stopped at %s)",
			      (unsigned long long)c->o->max_bytes, rel);
	}
	return 0;
}

/* An empty file of the given mode (a hidden or unreadable one). */
static int empty_file(struct cp *c, int dfd, const char *name, mode_t mode, const char *rel)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return hs_err_sys(c->err, "snapshot: create %s", rel);
	int r = fchmod(fd, mode & 07777) < 0 ? hs_err_sys(c->err, "snapshot: chmod %s", rel) : 0;
	close(fd);
	return r;
}

static int copy_file(struct cp *c, int sfd, int dfd, const char *name, const char *rel,
		     const struct stat *st)
{
	int in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat ist;
	if (in < 0 && (errno == EACCES || errno == EPERM)) {
		c->st->unreadable++;
		return empty_file(c, dfd, name, st->st_mode, rel);
	}
	if (in < 0 || fstat(in, &ist) < 0) {
		int r = errno == ENOENT ? 1 : hs_err_sys(c->err, "snapshot: open %s", rel);
		if (in >= 0)
			close(in);
		return r; /* 1: gone meanwhile */
	}
	if (!S_ISREG(ist.st_mode)) { /* replaced meanwhile: not what was listed */
		close(in);
		return 1;
	}
	int r = 0;
	int out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		r = hs_err_sys(c->err, "snapshot: create %s", rel);
	int cloned = r == 0 ? clone_file(c, in, out, rel) : 0;
	if (cloned < 0)
		r = -1;
	if (r == 0 && !cloned)
		r = add_bytes(c, (uint64_t)ist.st_size, rel);
	if (r == 0 && !cloned)
		r = fill(c, in, out, rel);
	c->st->bytes += (uint64_t)ist.st_size;
	struct timespec times[2] = {ist.st_atim, ist.st_mtim};
	if (r == 0 && (fchmod(out, ist.st_mode & 07777) < 0 || futimens(out, times) < 0))
		r = hs_err_sys(c->err, "snapshot: %s", rel);
	if (r == 0)
		c->st->files++;
	if (out >= 0)
		close(out);
	close(in);
	return r;
}

static int copy_link(struct cp *c, int sfd, int dfd, const char *name, const char *rel,
		     const struct stat *st)
{
	char target[PATH_MAX];
	ssize_t n = readlinkat(sfd, name, target, sizeof(target) - 1);
	if (n < 0)
		return errno == ENOENT || errno == EINVAL ? 1
							  : hs_err_sys(c->err, "snapshot: %s", rel);
	target[n] = '\0';
	c->st->bytes += (uint64_t)n;
	if (add_bytes(c, (uint64_t)n, rel) < 0)
		return -1;
	if (symlinkat(target, dfd, name) < 0)
		return hs_err_sys(c->err, "snapshot: symlink %s", rel);
	struct timespec times[2] = {st->st_atim, st->st_mtim};
	utimensat(dfd, name, times, AT_SYMLINK_NOFOLLOW); /* best effort */
	c->st->links++;
	return 0;
}

static int copy_children(struct cp *c, int sfd, int dfd, const char *rel, int depth);

static int copy_dir(struct cp *c, int sfd, int dfd, const char *name, const char *rel,
		    const struct stat *st, int depth)
{
	if (mkdirat(dfd, name, 0700) < 0)
		return hs_err_sys(c->err, "snapshot: mkdir %s", rel);
	int dsub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dsub < 0)
		return hs_err_sys(c->err, "snapshot: %s", rel);
	int r = 0;
	/* Another filesystem mounted beneath the project: not part of it (the
	 * overlay shows the directory beneath the mount, as empty as this). */
	if (st->st_dev == c->dev) {
		int ssub = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (ssub >= 0) {
			r = copy_children(c, ssub, dsub, rel, depth + 1);
			close(ssub);
		} else if (errno == EACCES || errno == EPERM) {
			c->st->unreadable++;
		} else if (errno != ENOENT) {
			r = hs_err_sys(c->err, "snapshot: open %s", rel);
		}
	}
	struct timespec times[2] = {st->st_atim, st->st_mtim};
	if (r == 0 && (fchmod(dsub, st->st_mode & 07777) < 0 || futimens(dsub, times) < 0))
		r = hs_err_sys(c->err, "snapshot: %s", rel);
	if (r == 0)
		c->st->dirs++;
	close(dsub);
	return r;
}

static int copy_entry(struct cp *c, int sfd, int dfd, const char *name, const char *rel, int depth)
{
	struct stat st;
	if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : hs_err_sys(c->err, "snapshot: %s", rel);
	if (++c->entries > HS_WS_MAX_ENTRIES)
		return hs_err(c->err, "the project has more than %d entries", HS_WS_MAX_ENTRIES);
	int r;
	bool ours = S_ISDIR(st.st_mode) && st.st_dev == c->pdev && st.st_ino == c->pino;
	if (ours || is_hidden(c, rel)) {
		/* A mount covers it in the sandbox: its contents are never
		 * copied, only a mount point of its type made. */
		c->st->hidden++;
		if (S_ISDIR(st.st_mode))
			r = mkdirat(dfd, name, 0700) < 0 ? hs_err_sys(c->err, "snapshot: %s", rel)
							 : 0;
		else
			r = empty_file(c, dfd, name, 0600, rel);
	} else {
		switch (st.st_mode & S_IFMT) {
		case S_IFREG:
			r = copy_file(c, sfd, dfd, name, rel, &st);
			break;
		case S_IFDIR:
			r = copy_dir(c, sfd, dfd, name, rel, &st, depth);
			break;
		case S_IFLNK:
			r = copy_link(c, sfd, dfd, name, rel, &st);
			break;
		case S_IFIFO:
		case S_IFSOCK:
			/* mknod applies the umask: the mode is set after. */
			if (mknodat(dfd, name, st.st_mode & (S_IFMT | 0700), 0) < 0 ||
			    fchmodat(dfd, name, st.st_mode & 07777, 0) < 0)
				r = hs_err_sys(c->err, "snapshot: mknod %s", rel);
			else
				r = 0, c->st->special++;
			break;
		default:
			c->st->devices++; /* devices: unusable on the nodev mount anyway */
			r = 1;
			break;
		}
	}
	if (r == 1) /* gone, replaced meanwhile, or not copied */
		return 0;
	if (r == 0 && c->o->host)
		hs_ws_baseline_add(c->o->host, rel, &st);
	return r < 0 ? -1 : record(c, dfd, name, rel);
}

static int copy_children(struct cp *c, int sfd, int dfd, const char *rel, int depth)
{
	if (depth > HS_WS_MAX_DEPTH)
		return hs_err(c->err, "%s: directories nested deeper than %d", rel,
			      HS_WS_MAX_DEPTH);
	int fd = openat(sfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return hs_err_sys(c->err, "snapshot: open %s", *rel ? rel : ".");
	}
	int r = 0;
	struct dirent *e;
	while (r == 0 && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *p = join(rel, e->d_name);
		r = copy_entry(c, sfd, dfd, e->d_name, p, depth);
		free(p);
	}
	closedir(d);
	return r;
}

/* Until the coarse clock (which file timestamps come from) is past the
 * last ctime of the copy: a change made after this returns gets a later
 * ctime, so an entry with its recorded ctime was not changed. */
static void wait_past(const struct cp *c)
{
	struct timespec now, limit = c->max_ctime;
	if (!c->fine_times && c->snap && hs_ws_baseline_count(c->snap) > 0) {
		limit.tv_sec++; /* whole-second timestamps */
		limit.tv_nsec = 0;
	}
	for (int i = 0; i < 2500; i++) {
		clock_gettime(CLOCK_REALTIME_COARSE, &now);
		if (now.tv_sec > limit.tv_sec ||
		    (now.tv_sec == limit.tv_sec && now.tv_nsec > limit.tv_nsec))
			return;
		struct timespec ms = {0, 1000000};
		nanosleep(&ms, NULL);
	}
}

int hs_ws_snapshot_prepare(const char *parent, struct hs_error *err)
{
	if (hs_mkdir_p(parent, 0700, false) < 0 || chmod(parent, SNAP_PARENT_MODE) < 0)
		return hs_err_sys(err, "create %s", parent);
	return 0;
}

int hs_ws_snapshot_make(const char *parent, const char *project,
			const struct hs_ws_snapshot_opts *o, struct hs_ws_snapshot **out,
			struct hs_ws_snapshot_stats *stats, struct hs_error *err)
{
	*out = NULL;
	struct hs_ws_snapshot_stats local = {0};
	if (!stats)
		stats = &local;
	memset(stats, 0, sizeof(*stats));
	uint64_t t0 = now_ms();
	if (hs_ws_snapshot_prepare(parent, err) < 0)
		return -1;
	int pfd = open(parent, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat parent_st;
	if (pfd < 0 || fstat(pfd, &parent_st) < 0) {
		int r = hs_err_sys(err, "%s", parent);
		if (pfd >= 0)
			close(pfd);
		return r;
	}
	unsigned char rnd[16];
	char name[33];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		close(pfd);
		return hs_err_sys(err, "getrandom");
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(name + 2 * i, 3, "%02x", rnd[i]);
	if (mkdirat(pfd, name, 0700) < 0) {
		int r = hs_err_sys(err, "create %s/%s", parent, name);
		close(pfd);
		return r;
	}
	struct hs_ws_snapshot *s = hs_xcalloc(1, sizeof(*s));
	s->dir = hs_xasprintf("%s/%s", parent, name);
	s->fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	close(pfd);
	int r = 0;
	if (s->fd < 0 || flock(s->fd, LOCK_EX | LOCK_NB) < 0)
		r = hs_err_sys(err, "%s", s->dir);
	int src = r == 0 ? open(project, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	struct stat pst;
	if (r == 0 && (src < 0 || fstat(src, &pst) < 0))
		r = hs_err_sys(err, "%s", project);
	struct cp c = {.o = o, .st = stats, .try_clone = true, .try_cfr = true, .err = err};
	if (r == 0) {
		c.dev = pst.st_dev;
		c.pdev = parent_st.st_dev;
		c.pino = parent_st.st_ino;
		s->base = c.snap = hs_ws_baseline_new();
		r = copy_children(&c, src, s->fd, "", 0);
	}
	/* The copy's root is the project dir inside: its mode and times. */
	struct timespec times[2] = {pst.st_atim, pst.st_mtim};
	if (r == 0 && (fchmod(s->fd, pst.st_mode & 07777) < 0 || futimens(s->fd, times) < 0))
		r = hs_err_sys(err, "snapshot: %s", project);
	if (src >= 0)
		close(src);
	if (r < 0) {
		struct hs_error e2;
		hs_ws_snapshot_remove(s, &e2);
		return -1;
	}
	hs_ws_baseline_sort(s->base);
	if (o->host)
		hs_ws_baseline_sort(o->host);
	wait_past(&c);
	stats->elapsed_ms = now_ms() - t0;
	s->stats = *stats;
	*out = s;
	return 0;
}

/* ---- removing ---- */


int hs_ws_snapshot_remove(struct hs_ws_snapshot *s, struct hs_error *err)
{
	if (!s)
		return 0;
	int r = 0;
	if (s->fd >= 0) {
		r = hs_tree_clear(s->fd, err);
		if (r == 0 && rmdir(s->dir) < 0)
			r = hs_err_sys(err, "remove %s", s->dir);
		close(s->fd);
	}
	hs_ws_baseline_free(s->base);
	free(s->dir);
	free(s);
	return r;
}

void hs_ws_snapshot_sweep(const char *parent)
{
	/* Listing needs read permission, which the parent withholds. */
	if (chmod(parent, 0700) < 0)
		return;
	int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	chmod(parent, SNAP_PARENT_MODE);
	DIR *d = pfd >= 0 ? fdopendir(pfd) : NULL;
	if (!d) {
		if (pfd >= 0)
			close(pfd);
		return;
	}
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strlen(e->d_name) != 32 || strspn(e->d_name, "0123456789abcdef") != 32)
			continue;
		struct stat st;
		if (fstatat(pfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
		    now.tv_sec - st.st_mtim.tv_sec < STALE_SECONDS)
			continue;
		int fd = openat(pfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == EACCES && fchmodat(pfd, e->d_name, 0700, 0) == 0)
			fd =
			    openat(pfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		struct hs_error err;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0 && hs_tree_clear(fd, &err) == 0)
			unlinkat(pfd, e->d_name, AT_REMOVEDIR);
		close(fd);
	}
	closedir(d);
}

/* ---- can it clone? ---- */

static const char *fs_name(long type)
{
	static const struct {
		long type;
		const char *name;
	} fs[] = {{0xEF53, "ext4"},	 {0x9123683E, "btrfs"},	    {0x58465342, "xfs"},
		  {0x01021994, "tmpfs"}, {0x2FC12FC1, "zfs"},	    {0xCA451A4E, "bcachefs"},
		  {0x6969, "nfs"},	 {0x794C7630, "overlayfs"}, {0xF2F52010, "f2fs"},
		  {0x65735546, "fuse"},	 {0x7461636F, "ocfs2"},	    {0x5346544E, "ntfs"}};
	for (size_t i = 0; i < HS_ARRAY_LEN(fs); i++)
		if (fs[i].type == type)
			return fs[i].name;
	return NULL;
}

/* An unnamed (or at once unlinked) file in dir. */
static int scratch_file(const char *dir)
{
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	char *p = hs_xasprintf("%s/.harness-reflink-XXXXXX", dir);
	fd = mkostemp(p, O_CLOEXEC);
	if (fd >= 0)
		unlink(p);
	free(p);
	return fd;
}

int hs_ws_snapshot_reflink(const char *parent, const char *project, char *fs, size_t fslen,
			   char *why, size_t whylen)
{
	if (fs && fslen)
		fs[0] = '\0';
	why[0] = '\0';
	struct stat pst, dst;
	struct statfs sf;
	if (stat(project, &pst) < 0) {
		snprintf(why, whylen, "%s: %s", project, strerror(errno));
		return 0;
	}
	if (fs && statfs(project, &sf) == 0) {
		const char *n = fs_name((long)sf.f_type);
		if (n)
			snprintf(fs, fslen, "%s", n);
		else
			snprintf(fs, fslen, "fs 0x%lx", (unsigned long)sf.f_type);
	}
	char *dir = hs_xstrdup(parent);
	while (stat(dir, &dst) < 0 && strrchr(dir, '/') && strrchr(dir, '/') != dir)
		*strrchr(dir, '/') = '\0';
	if (stat(dir, &dst) < 0)
		snprintf(dir, strlen(dir) + 1, "/");
	int ok = 0;
	if (stat(dir, &dst) < 0 || dst.st_dev != pst.st_dev) {
		snprintf(why, whylen, "the copies go to %s, another filesystem than %s", parent,
			 project);
	} else {
		int a = scratch_file(dir), b = a >= 0 ? scratch_file(dir) : -1;
		if (b < 0)
			snprintf(why, whylen, "cannot make a file in %s: %s", dir, strerror(errno));
		else if (write(a, "x", 1) == 1 && ioctl(b, FICLONE, a) == 0)
			ok = 1;
		else if (errno == EOPNOTSUPP || errno == ENOTTY || errno == EINVAL)
			snprintf(why, whylen, "%s does not clone files",
				 fs && fs[0] ? fs : "the filesystem");
		else
			snprintf(why, whylen, "cloning a file in %s: %s", dir, strerror(errno));
		if (a >= 0)
			close(a);
		if (b >= 0)
			close(b);
	}
	free(dir);
	return ok;
}
