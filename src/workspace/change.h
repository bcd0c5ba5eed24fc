/*
 * change.h: one entry of what an agent changed in its workspace (the
 * review gate's unit), shared by the diff, the guard and apply.
 */
#ifndef HS_WORKSPACE_CHANGE_H
#define HS_WORKSPACE_CHANGE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum hs_change_kind {
	HS_CHANGE_ADDED,    /* a new entry (file, symlink or directory) */
	HS_CHANGE_MODIFIED, /* same type, other content (mode may differ too) */
	HS_CHANGE_DELETED,
	HS_CHANGE_RENAMED,  /* old_path -> path, same content (mode may differ) */
	HS_CHANGE_MODE,     /* same content, other permission bits */
	HS_CHANGE_TYPE,     /* the entry's type changed (file <-> symlink <-> dir) */
};

struct hs_change {
	enum hs_change_kind kind;
	const char *path;     /* relative to the project root, '/'-separated, no "..",
				 never empty; the new path for renames */
	const char *old_path; /* renames: the path it had; else NULL */
	mode_t old_mode;      /* st_mode (type and permission bits); 0 when absent */
	mode_t new_mode;      /* 0 when deleted */
	uint64_t old_size, new_size;
	/* Regular files: the contents, when the caller has them (NULL when the
	 * entry is not a regular file on that side, or was too large to load:
	 * see *_truncated). */
	const char *old_data, *new_data;
	size_t old_len, new_len;
	int old_truncated, new_truncated;
	/* Symlinks: the target; NULL otherwise. */
	const char *old_link, *new_link;
};

#endif
