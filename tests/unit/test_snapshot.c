/*
 * test_snapshot.c: the workspace as a snapshot copy (workspace/snapshot.h)
 * and what hs_ws_collect_snapshot makes of the copy after a "run": the
 * copy keeps modes, links (never followed), FIFOs and empty hidden paths;
 * the --max-disk bound stops it and leaves nothing; it never copies
 * itself; every kind of change
 * is found (a same-size rewrite made right after the copy too), nothing
 * untouched is; a 0/0 character device and an overlay xattr mean nothing
 * in a copy; a symlink the command planted is not followed; conflicts with
 * the real tree are marked; any tree is removed, whatever its depth or
 * modes, without touching what its links point to.
 */
#define _GNU_SOURCE
#include "workspace/snapshot.h"
#include "workspace/workspace.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

struct fx {
	char root[64]; /* the test's tmp dir */
	char *project; /* root/project */
	char *parent;  /* root/runs/.snapshots */
	char *outside; /* root/outside: what links point to */
	struct hs_ws_snapshot *snap;
	struct hs_ws_baseline *host;
};

static char *P(const char *a, const char *b)
{
	return hs_xasprintf("%s/%s", a, b);
}

static void put(const char *dir, const char *rel, const char *data, mode_t mode)
{
	char *p = P(dir, rel);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(data, f);
	fclose(f);
	assert_int_equal(chmod(p, mode), 0);
	free(p);
}

static char *get(const char *dir, const char *rel)
{
	char *p = P(dir, rel);
	FILE *f = fopen(p, "r");
	free(p);
	if (!f)
		return NULL;
	char *buf = calloc(1, 1 << 16);
	size_t n = fread(buf, 1, (1 << 16) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void mkd(const char *dir, const char *rel, mode_t mode)
{
	char *p = P(dir, rel);
	assert_int_equal(mkdir(p, mode), 0);
	assert_int_equal(chmod(p, mode), 0);
	free(p);
}

static void lnk(const char *dir, const char *rel, const char *target)
{
	char *p = P(dir, rel);
	assert_int_equal(symlink(target, p), 0);
	free(p);
}

static mode_t lmode(const char *dir, const char *rel)
{
	char *p = P(dir, rel);
	struct stat st;
	int r = lstat(p, &st);
	free(p);
	return r == 0 ? st.st_mode : 0;
}

static void rm_rf(const char *path);

static void chm(const char *dir, const char *rel, mode_t mode)
{
	char *p = P(dir, rel);
	assert_int_equal(chmod(p, mode), 0);
	free(p);
}

static void rm_at(const char *dir, const char *rel)
{
	char *p = P(dir, rel);
	rm_rf(p);
	free(p);
}

static void rm_rf(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	struct hs_error err;
	hs_tree_clear(fd, &err);
	close(fd);
	rmdir(path);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	snprintf(f->root, sizeof(f->root), "/tmp/hs-snap-test.XXXXXX");
	assert_non_null(mkdtemp(f->root));
	f->project = P(f->root, "project");
	f->parent = P(f->root, "runs/.snapshots");
	f->outside = P(f->root, "outside");
	mkdir(f->project, 0755);
	mkdir(f->outside, 0755);
	put(f->outside, "canary", "outside\n", 0644);
	/* The project: every kind of entry. */
	put(f->project, "modified.txt", "one\ntwo\n", 0644);
	put(f->project, "same.txt", "same\n", 0644);
	put(f->project, "deleted.txt", "bye\n", 0644);
	put(f->project, "renamed-from.txt", "unique content that moves\n", 0644);
	put(f->project, "script.sh", "#!/bin/sh\n", 0644);
	put(f->project, "private", "mine\n", 0600);
	put(f->project, "readonly", "ro\n", 0444);
	put(f->project, "secret.env", "TOKEN=hidden\n", 0600);
	mkd(f->project, "sub", 0755);
	put(f->project, "sub/a", "a\n", 0644);
	mkd(f->project, "sub/deep", 0755);
	put(f->project, "sub/deep/b", "b\n", 0644);
	mkd(f->project, "frozen", 0755);
	put(f->project, "frozen/c", "c\n", 0644);
	chm(f->project, "frozen", 0555);
	mkd(f->project, "gone", 0755);
	put(f->project, "gone/x", "x\n", 0644);
	mkd(f->project, "hidden-dir", 0700);
	put(f->project, "hidden-dir/key", "KEY\n", 0600);
	mkd(f->project, "dir2file", 0755);
	put(f->project, "dir2file/in", "in\n", 0644);
	put(f->project, "file2dir", "plain\n", 0644);
	lnk(f->project, "rel-link", "same.txt");
	lnk(f->project, "out-link", f->outside);
	char *canary = P(f->outside, "canary");
	lnk(f->project, "out-file-link", canary);
	free(canary);
	char *fifo = P(f->project, "fifo");
	assert_int_equal(mkfifo(fifo, 0640), 0);
	free(fifo);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	struct hs_error err;
	hs_ws_snapshot_remove(f->snap, &err);
	hs_ws_baseline_free(f->host);
	rm_rf(f->root);
	free(f->project);
	free(f->parent);
	free(f->outside);
	free(f);
	return 0;
}

static void make(struct fx *f, uint64_t max)
{
	struct hs_strv hidden = {0};
	hs_strv_push(&hidden, "secret.env");
	hs_strv_push(&hidden, "hidden-dir");
	f->host = hs_ws_baseline_new();
	struct hs_ws_snapshot_opts o = {.max_bytes = max, .hidden = &hidden, .host = f->host};
	struct hs_ws_snapshot_stats st;
	struct hs_error err;
	hs_error_clear(&err);
	int r = hs_ws_snapshot_make(f->parent, f->project, &o, &f->snap, &st, &err);
	hs_strv_clear(&hidden);
	if (r < 0)
		fail_msg("snapshot: %s", err.msg);
}

static void collect(struct fx *f, struct hs_ws_changes *ch)
{
	struct hs_error err;
	hs_error_clear(&err);
	if (hs_ws_collect_snapshot(f->snap->fd, f->snap->base, f->project, f->host, ch, &err) < 0)
		fail_msg("collect: %s", err.msg);
}

/* The change at path (of that kind, unless kind < 0: a type change is a
 * deletion and an addition at one path). */
static const struct hs_ws_item *find_kind(const struct hs_ws_changes *ch, const char *path,
					  int kind)
{
	for (size_t i = 0; i < ch->n; i++)
		if (!strcmp(ch->v[i].path, path) && (kind < 0 || (int)ch->v[i].kind == kind))
			return &ch->v[i];
	return NULL;
}

static const struct hs_ws_item *find(const struct hs_ws_changes *ch, const char *path)
{
	return find_kind(ch, path, -1);
}

static void test_copy_keeps_the_tree(void **state)
{
	struct fx *f = *state;
	make(f, 0);
	const char *s = f->snap->dir;
	char *t = get(s, "modified.txt");
	assert_string_equal(t, "one\ntwo\n");
	free(t);
	t = get(s, "sub/deep/b");
	assert_string_equal(t, "b\n");
	free(t);
	assert_int_equal(lmode(s, "private") & 07777, 0600);
	assert_int_equal(lmode(s, "readonly") & 07777, 0444);
	assert_int_equal(lmode(s, "frozen") & 07777, 0555);
	assert_true(S_ISFIFO(lmode(s, "fifo")));
	assert_int_equal(lmode(s, "fifo") & 07777, 0640);
	/* Links stay links, with their targets; nothing behind them is copied. */
	char buf[PATH_MAX];
	char *p = P(s, "out-link");
	ssize_t n = readlink(p, buf, sizeof(buf) - 1);
	free(p);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, f->outside);
	assert_true(S_ISLNK(lmode(s, "out-file-link")));
	assert_true(S_ISLNK(lmode(s, "rel-link")));
	/* Hidden paths: there, empty, never copied. */
	t = get(s, "secret.env");
	assert_string_equal(t, "");
	free(t);
	assert_true(S_ISDIR(lmode(s, "hidden-dir")));
	assert_int_equal(lmode(s, "hidden-dir/key"), 0);
	assert_int_equal(f->snap->stats.hidden, 2);
	assert_int_equal(f->snap->stats.special, 1);
	assert_int_equal(f->snap->stats.links, 3);
	/* The host baseline holds every entry, hidden ones too. */
	assert_int_equal(hs_ws_baseline_count(f->host), hs_ws_baseline_count(f->snap->base));
	/* Nothing changed: nothing found. */
	struct hs_ws_changes ch;
	collect(f, &ch);
	assert_int_equal(ch.n, 0);
	hs_ws_changes_free(&ch);
}

static void test_max_bytes_stops_and_leaves_nothing(void **state)
{
	struct fx *f = *state;
	char why[256];
	if (hs_ws_snapshot_reflink(f->parent, f->project, NULL, 0, why, sizeof(why)) == 1)
		skip(); /* clones take no room: nothing to bound */
	char big[4097];
	memset(big, 'x', 4096);
	big[4096] = '\0';
	for (int i = 0; i < 8; i++) {
		char name[16];
		snprintf(name, sizeof(name), "big%d", i);
		put(f->project, name, big, 0644);
	}
	struct hs_ws_snapshot_opts o = {.max_bytes = 16384};
	struct hs_ws_snapshot_stats st;
	struct hs_error err;
	hs_error_clear(&err);
	assert_int_equal(hs_ws_snapshot_make(f->parent, f->project, &o, &f->snap, &st, &err), -1);
	assert_true(st.over_max);
	assert_null(f->snap);
	assert_non_null(strstr(err.msg, "takes more than 16384 bytes"));
	assert_true(st.copied <= 16384 + 4096);
	/* Nothing left under the parent (which withholds listing: chmod). */
	assert_int_equal(chmod(f->parent, 0700), 0);
	DIR *d = opendir(f->parent);
	assert_non_null(d);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	assert_int_equal(n, 0);
}

static void test_every_kind_of_change(void **state)
{
	struct fx *f = *state;
	make(f, 0);
	const char *s = f->snap->dir;
	/* Right after the copy: same size, other bytes, same second. */
	put(s, "modified.txt", "one\nTWO\n", 0644);
	put(s, "same.txt", "same\n", 0644); /* rewritten as it was: no change */
	char *p = P(s, "deleted.txt");
	assert_int_equal(unlink(p), 0);
	free(p);
	char *a = P(s, "renamed-from.txt"), *b = P(s, "renamed-to.txt");
	assert_int_equal(rename(a, b), 0);
	free(a);
	free(b);
	chm(s, "script.sh", 0755);
	p = P(s, "rel-link");
	unlink(p);
	assert_int_equal(symlink("modified.txt", p), 0);
	free(p);
	mkd(s, "new", 0755);
	mkd(s, "new/deeper", 0755);
	put(s, "new/deeper/file", "fresh\n", 0644);
	rm_at(s, "dir2file");
	put(s, "dir2file", "was a dir\n", 0644);
	p = P(s, "file2dir");
	unlink(p);
	free(p);
	mkd(s, "file2dir", 0755);
	put(s, "file2dir/x", "inside\n", 0644);
	rm_at(s, "gone");
	/* rm -r and mkdir again with the same file: no change */
	rm_at(s, "sub/deep");
	mkd(s, "sub/deep", 0755);
	put(s, "sub/deep/b", "b\n", 0644);
	/* In a read-only dir the command made writable. */
	chm(s, "frozen", 0755);
	put(s, "frozen/c", "C\n", 0644);
	chm(s, "frozen", 0555);

	struct hs_ws_changes ch;
	collect(f, &ch);
	const struct {
		const char *path;
		enum hs_change_kind kind;
	} want[] = {
	    {"dir2file", HS_CHANGE_ADDED},
	    {"dir2file/in", HS_CHANGE_DELETED},
	    {"file2dir", HS_CHANGE_ADDED},
	    {"file2dir/x", HS_CHANGE_ADDED},
	    {"frozen/c", HS_CHANGE_MODIFIED},
	    {"gone", HS_CHANGE_DELETED},
	    {"gone/x", HS_CHANGE_DELETED},
	    {"modified.txt", HS_CHANGE_MODIFIED},
	    {"new", HS_CHANGE_ADDED},
	    {"new/deeper", HS_CHANGE_ADDED},
	    {"new/deeper/file", HS_CHANGE_ADDED},
	    {"rel-link", HS_CHANGE_MODIFIED},
	    {"renamed-to.txt", HS_CHANGE_RENAMED},
	    {"script.sh", HS_CHANGE_MODE},
	    {"deleted.txt", HS_CHANGE_DELETED},
	};
	for (size_t i = 0; i < HS_ARRAY_LEN(want); i++) {
		const struct hs_ws_item *it = find_kind(&ch, want[i].path, (int)want[i].kind);
		if (!it)
			fail_msg("no change of kind %d at %s", want[i].kind, want[i].path);
		assert_null(it->conflict);
	}
	/* dir2file and file2dir are a deletion and an addition at one path:
	 * two items each; the rest one each. */
	size_t expect = HS_ARRAY_LEN(want) + 2;
	if (ch.n != expect) {
		for (size_t i = 0; i < ch.n; i++)
			fprintf(stderr, "  %d %s\n", ch.v[i].kind, ch.v[i].path);
		fail_msg("%zu changes, want %zu", ch.n, expect);
	}
	assert_string_equal(find(&ch, "renamed-to.txt")->old_path, "renamed-from.txt");
	assert_int_equal(find(&ch, "script.sh")->new_mode & 0777, 0755);
	assert_string_equal(find(&ch, "rel-link")->new_link, "modified.txt");
	hs_ws_changes_free(&ch);

	/* Staged like an overlay's: the new contents come from the copy. */
	char *run = P(f->root, "run");
	struct hs_ws_meta m = {
	    .id = "0123456789abcdef0123456789abcdef", .project = f->project, .state = "staged"};
	struct hs_error err;
	hs_error_clear(&err);
	collect(f, &ch);
	if (hs_ws_stage(run, &m, f->snap->fd, f->project, &ch, &err) < 0)
		fail_msg("stage: %s", err.msg);
	const struct hs_ws_item *it = find(&ch, "modified.txt");
	for (size_t i = 0; !it && i < ch.n; i++)
		fprintf(stderr, "  %d %s\n", ch.v[i].kind, ch.v[i].path);
	assert_non_null(it);
	char *data;
	size_t len;
	assert_int_equal(hs_ws_blob_read(run, it->new_hash, 1 << 20, &data, &len, &err), 0);
	assert_string_equal(data, "one\nTWO\n");
	free(data);
	hs_ws_changes_free(&ch);
	free(run);
}

static void test_no_whiteouts_or_opaque_dirs_in_a_copy(void **state)
{
	struct fx *f = *state;
	make(f, 0);
	const char *s = f->snap->dir;
	/* An overlay would read these as "deleted" and "replaced". */
	char *p = P(s, "sub");
	if (setxattr(p, "user.overlay.opaque", "y", 1, 0) < 0 && errno != ENOTSUP)
		fail_msg("setxattr: %s", strerror(errno));
	free(p);
	p = P(s, "same.txt");
	unlink(p);
	int dev = mknod(p, S_IFCHR | 0600, makedev(0, 0));
	free(p);
	struct hs_ws_changes ch;
	collect(f, &ch);
	/* The device is ignored (not a deletion of same.txt); sub is intact. */
	assert_null(find(&ch, "sub/a"));
	assert_null(find(&ch, "sub/deep"));
	if (dev == 0) {
		assert_null(find(&ch, "same.txt"));
		assert_int_equal(ch.ignored, 1);
	}
	hs_ws_changes_free(&ch);
}

static void test_planted_links_are_not_followed(void **state)
{
	struct fx *f = *state;
	make(f, 0);
	const char *s = f->snap->dir;
	/* The command swaps a directory for a link to outside, and writes
	 * through a link that was in the project. */
	rm_at(s, "sub");
	lnk(s, "sub", f->outside);
	struct hs_ws_changes ch;
	collect(f, &ch);
	const struct hs_ws_item *it = find_kind(&ch, "sub", HS_CHANGE_ADDED);
	assert_non_null(it);
	assert_true(S_ISLNK(it->new_mode));
	assert_null(find(&ch, "sub/canary"));
	assert_non_null(find(&ch, "sub/a")); /* deleted */
	assert_int_equal(find(&ch, "sub/a")->kind, HS_CHANGE_DELETED);
	hs_ws_changes_free(&ch);
	/* The copy's removal leaves the outside alone. */
	struct hs_error err;
	assert_int_equal(hs_ws_snapshot_remove(f->snap, &err), 0);
	f->snap = NULL;
	char *t = get(f->outside, "canary");
	assert_string_equal(t, "outside\n");
	free(t);
}

static void test_conflicts_with_the_real_tree(void **state)
{
	struct fx *f = *state;
	make(f, 0);
	put(f->snap->dir, "modified.txt", "agent\n", 0644);
	put(f->project, "modified.txt", "user\n", 0644); /* during the run */
	struct hs_ws_changes ch;
	collect(f, &ch);
	const struct hs_ws_item *it = find(&ch, "modified.txt");
	assert_non_null(it);
	assert_non_null(it->conflict);
	assert_int_equal(ch.n, 1);
	hs_ws_changes_free(&ch);
}

static void test_copy_never_into_itself(void **state)
{
	/* The runs dir inside the project, not hidden (the plan always hides
	 * it; this is the walker's own guard): its copies are not copied. */
	struct fx *f = *state;
	free(f->parent);
	f->parent = P(f->project, "state/runs/.snapshots");
	struct hs_ws_snapshot_opts o = {0};
	struct hs_error err;
	hs_error_clear(&err);
	if (hs_ws_snapshot_make(f->parent, f->project, &o, &f->snap, NULL, &err) < 0)
		fail_msg("snapshot: %s", err.msg);
	char *inner = P(f->snap->dir, "state/runs/.snapshots");
	struct stat st;
	assert_int_equal(lstat(inner, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	DIR *d = opendir(inner);
	assert_non_null(d);
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			fail_msg("copied into itself: %s", e->d_name);
	closedir(d);
	free(inner);
}

static void test_clear_any_depth_and_mode(void **state)
{
	struct fx *f = *state;
	char *top = P(f->root, "deep");
	assert_int_equal(mkdir(top, 0755), 0);
	int fd = open(top, O_RDONLY | O_DIRECTORY);
	int cur = dup(fd);
	for (int i = 0; i < 600; i++) { /* deeper than PATH_MAX allows by path */
		assert_int_equal(mkdirat(cur, "dddddddddd", 0755), 0);
		int sub = openat(cur, "dddddddddd", O_RDONLY | O_DIRECTORY);
		int w = openat(sub, "f", O_WRONLY | O_CREAT, 0600);
		close(w);
		assert_int_equal(symlinkat(f->outside, sub, "l"), 0);
		if (i % 100 == 7)
			fchmod(sub, 0500);
		close(cur);
		cur = sub;
	}
	fchmod(cur, 0);
	close(cur);
	struct hs_error err;
	hs_error_clear(&err);
	if (hs_tree_clear(fd, &err) < 0)
		fail_msg("clear: %s", err.msg);
	close(fd);
	assert_int_equal(rmdir(top), 0);
	free(top);
	char *t = get(f->outside, "canary");
	assert_string_equal(t, "outside\n");
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_copy_keeps_the_tree, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_max_bytes_stops_and_leaves_nothing, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_every_kind_of_change, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_whiteouts_or_opaque_dirs_in_a_copy, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_planted_links_are_not_followed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_conflicts_with_the_real_tree, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_copy_never_into_itself, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_clear_any_depth_and_mode, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
