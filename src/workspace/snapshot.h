/*
 * snapshot.h: the workspace as a copy, where overlayfs cannot be mounted
 * in a user namespace (or HARNESS_WORKSPACE_BACKEND=snapshot says so).
 *
 * The supervisor copies the project into a directory of its own,
 * RUNS/.snapshots/ID (RUNS is hs_ws_runs_dir(), hidden from every
 * sandbox; .snapshots is mode 0300, so not even a process of the same uid
 * can list it, and ID is 128 random bits), which the sandbox gets
 * read-write at the project's path. Regular files are cloned (FICLONE:
 * btrfs, XFS with reflink, bcachefs, ZFS 2.2...) when the copy and the
 * project share such a filesystem, else copied in the kernel
 * (copy_file_range), else read and written. Modes and times are kept;
 * symlinks are copied as links; FIFOs and sockets are made anew; devices
 * are left out; a directory on another filesystem (a mount point beneath
 * the project) is copied empty, as the overlay would show it.
 *
 * Both trees are walked with *at() calls relative to directory fds that
 * never follow a symlink. While copying, the metadata of every host entry
 * (the run's baseline for conflicts) and of every copy (what the run
 * started from, for hs_ws_collect_snapshot) is recorded; the copy ends
 * once the clock has moved past the last ctime it made, so that any later
 * change gets another ctime.
 */
#ifndef HS_WORKSPACE_SNAPSHOT_H
#define HS_WORKSPACE_SNAPSHOT_H

#include "common/common.h"
#include "workspace/workspace.h"

#include <stdbool.h>
#include <stdint.h>

struct hs_ws_snapshot_stats {
	uint64_t files, dirs, links, special; /* entries made (special: FIFOs, sockets) */
	uint64_t devices;		      /* device nodes, not copied */
	uint64_t hidden;		      /* paths the sandbox never sees: left empty */
	uint64_t unreadable;		      /* files or dirs the caller cannot read: left empty */
	uint64_t bytes;			      /* file contents and link targets */
	uint64_t copied;		      /* of which copied (a clone takes no room) */
	uint64_t cloned;		      /* files cloned (reflink) rather than copied */
	uint64_t elapsed_ms;
	bool over_max; /* stopped: more than max_bytes */
};

struct hs_ws_snapshot {
	char *dir;		     /* the copy */
	int fd;			     /* open on it, with an exclusive flock while the run lasts
					(hs_ws_snapshot_sweep leaves it alone) */
	struct hs_ws_baseline *base; /* the copy's metadata right after copying */
	struct hs_ws_snapshot_stats stats;
};

struct hs_ws_snapshot_opts {
	uint64_t max_bytes;	      /* stop once the copy takes more room (bytes copied,
					 not cloned); 0: no bound */
	const struct hs_strv *hidden; /* relative paths left empty (an empty dir or file) */
	struct hs_ws_baseline *host;  /* non-NULL: every host entry copied is added */
};

/* Creates parent (and its missing parents, 0700) with mode 0300. */
int hs_ws_snapshot_prepare(const char *parent, struct hs_error *err);

/* Copies project into a new directory under parent (created, with its
 * missing parents, 0700; parent itself 0300). On failure nothing is left
 * behind; stats (may be NULL) says how far it got (over_max: the bound was
 * hit). */
int hs_ws_snapshot_make(const char *parent, const char *project,
			const struct hs_ws_snapshot_opts *o, struct hs_ws_snapshot **out,
			struct hs_ws_snapshot_stats *stats, struct hs_error *err);

/* Removes the copy and frees s (NULL: nothing). -1 if some of it stays
 * (err says what; hs_ws_snapshot_sweep retries later). */
int hs_ws_snapshot_remove(struct hs_ws_snapshot *s, struct hs_error *err);

/* Removes the copies under parent that no live harness holds (left by a
 * supervisor that was killed) and whose top was not modified in the last
 * minute (one being made is not locked yet). */
void hs_ws_snapshot_sweep(const char *parent);


/* Would a snapshot under parent clone the files of project? 1 yes, 0 no
 * (why says why not), judged from the nearest existing directory on the
 * way to parent: the same filesystem as project, and FICLONE between two
 * unnamed files there. fs (may be NULL) gets the filesystem's name. */
int hs_ws_snapshot_reflink(const char *parent, const char *project, char *fs, size_t fslen,
			   char *why, size_t whylen);

#endif
