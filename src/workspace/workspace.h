/*
 * workspace.h: what an agent changed in its workspace, and staged runs.
 *
 * With --ephemeral or --review the project dir is an overlay inside the
 * sandbox (sandbox.h, HS_MNT_OVERLAY): the host dir is the lower layer,
 * never written; the command's writes land in an upper layer on a capped
 * tmpfs, whose directory the supervisor holds open after the run. This
 * module turns that upper layer into a list of changes against the host
 * dir (hs_ws_collect), keeps them as a staged run (hs_ws_stage: a
 * manifest plus content-addressed blobs, outside any sandbox's view), and
 * applies a staged run to the host dir (hs_ws_apply). Where overlayfs
 * cannot be mounted, the workspace is a snapshot copy of the project
 * instead (snapshot.h), read by hs_ws_collect_snapshot into the same
 * changes.
 *
 * Everything in the upper layer was written by the agent and is hostile:
 * names, types, sizes, link targets. It is read with *at() calls relative
 * to directory fds, never following a symlink (openat2 RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS on the host side, O_NOFOLLOW on the upper side), with
 * bounds on depth, entries and bytes.
 *
 * Conflicts: the host dir can change while the agent works. A snapshot of
 * its metadata is taken when the run starts (hs_ws_baseline_take); a
 * change whose host path moved since then is marked (conflict), and apply
 * refuses it, as it refuses any path whose host content is no longer what
 * the run's diff was computed against (old_hash), unless forced.
 */
#ifndef HS_WORKSPACE_WORKSPACE_H
#define HS_WORKSPACE_WORKSPACE_H

#include "common/common.h"
#include "workspace/change.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define HS_WS_MAX_ENTRIES 1000000 /* entries walked in one tree */
#define HS_WS_MAX_DEPTH 256

/* One change, owning its strings. Regular files carry SHA-256 hashes of
 * their contents (hex); a staged run keeps the contents as blobs. */
struct hs_ws_item {
	enum hs_change_kind kind;
	char *path;     /* relative, '/'-separated */
	char *old_path; /* renames */
	mode_t old_mode, new_mode;
	uint64_t old_size, new_size;
	char old_hash[65], new_hash[65]; /* "" when not a regular file */
	char *old_link, *new_link;
	char *conflict; /* NULL, or how the host path changed during the run */
};

struct hs_ws_changes {
	struct hs_ws_item *v;
	size_t n, cap;
	size_t ignored;      /* upper entries that are not files, links or dirs (fifos...) */
	uint64_t new_bytes;  /* total size of the new contents */
};
void hs_ws_changes_free(struct hs_ws_changes *c);

/* The host dir's metadata at the start of a run. */
struct hs_ws_baseline;
struct hs_ws_baseline *hs_ws_baseline_take(const char *dir, struct hs_error *err);
void hs_ws_baseline_free(struct hs_ws_baseline *b);
/* A baseline built entry by entry (the snapshot copy records the host
 * entries it copies and the copies it makes: snapshot.h); sort it before
 * use. */
struct hs_ws_baseline *hs_ws_baseline_new(void);
void hs_ws_baseline_add(struct hs_ws_baseline *b, const char *path, const struct stat *st);
void hs_ws_baseline_sort(struct hs_ws_baseline *b);
size_t hs_ws_baseline_count(const struct hs_ws_baseline *b);
/* How many entries hs_ws_baseline_take saw owned by another user or group
 * than the caller's effective ones (the first one's path and ids in the
 * out parameters, untouched when none): on an overlay in a user namespace
 * they cannot be written (EOVERFLOW on copy-up). */
size_t hs_ws_baseline_foreign(const struct hs_ws_baseline *b, const char **path, uid_t *uid,
			      gid_t *gid);

/* The changes in upper_fd (the workspace's upper dir) against lower_dir
 * (the host dir), sorted by path; base may be NULL (no conflict marks). */
int hs_ws_collect(int upper_fd, const char *lower_dir, const struct hs_ws_baseline *base,
		  struct hs_ws_changes *out, struct hs_error *err);

/* The same for a snapshot copy (where overlayfs cannot be mounted: see
 * snapshot.h): snap_fd is the copy, snap_base its metadata right after it
 * was made. An entry whose inode, size, mode, mtime and ctime are as they
 * were was not touched and is skipped; every other entry is compared with
 * lower_dir as an upper layer's would be; an entry the copy had and no
 * longer has is a deletion. Changes are the same as hs_ws_collect's for the
 * same writes, except that a 0/0 character device is not a whiteout and no
 * directory is opaque. hs_ws_stage takes snap_fd as its upper_fd. */
int hs_ws_collect_snapshot(int snap_fd, const struct hs_ws_baseline *snap_base,
			   const char *lower_dir, const struct hs_ws_baseline *base,
			   struct hs_ws_changes *out, struct hs_error *err);

/* ---- staged runs ---- */

/* $XDG_STATE_HOME/harness/runs, else ~/.local/state/harness/runs. */
char *hs_ws_runs_dir(void);

struct hs_ws_meta {
	char id[33];
	char *project;       /* the host dir */
	char *command;       /* argv joined by spaces, for listings */
	char *started, *ended; /* RFC 3339 */
	int exit_code;
	char *state;         /* "staged", "applied", "discarded" */
	size_t files;        /* changes */
	char *guard;         /* "clean", "info", "warn", "block", or "" (not run) */
};
void hs_ws_meta_free(struct hs_ws_meta *m);

/* Writes run_dir (created 0700; must not exist): meta.json, changes.json,
 * and a blob for every old and new regular file content, copied from the
 * upper layer and the host dir, each checked against its hash. */
int hs_ws_stage(const char *run_dir, const struct hs_ws_meta *meta, int upper_fd,
		const char *lower_dir, const struct hs_ws_changes *ch, struct hs_error *err);

int hs_ws_load(const char *run_dir, struct hs_ws_meta *meta, struct hs_ws_changes *ch,
	       struct hs_error *err);
/* Writes path atomically (a temporary file beside it, fsync, rename), 0600. */
int hs_ws_write_file(const char *path, const char *data, size_t len, struct hs_error *err);

/* Rewrites meta.json (atomically). */
int hs_ws_save_meta(const char *run_dir, const struct hs_ws_meta *meta, struct hs_error *err);

/* A blob's contents (at most max bytes; more is an error). */
int hs_ws_blob_read(const char *run_dir, const char *hash, size_t max, char **data, size_t *len,
		    struct hs_error *err);

/* Finds a staged run by id or unique id prefix; *run_dir owned. */
int hs_ws_find(const char *runs_dir, const char *id, char **run_dir, struct hs_error *err);

/* Applies one change to project (per file atomically: a temporary file in
 * the same dir, then rename). Refuses, with why, when the host path is not
 * what the run saw (its hash, or its absence) or moved during the run,
 * unless force. Returns 0 applied, 1 refused (why set), -1 error. */
int hs_ws_apply_one(const char *run_dir, const char *project, const struct hs_ws_item *it,
		    bool force, char *why, size_t whylen, struct hs_error *err);

/* Makes what hs_ws_apply_one wrote durable (one syncfs for a batch). */
int hs_ws_apply_sync(const char *project, struct hs_error *err);

#endif
