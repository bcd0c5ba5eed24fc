/*
 * common.h: small helpers shared by every module: error records, checked
 * allocation, string vectors, size/duration parsing, fd helpers.
 *
 * Conventions (see docs/architecture.md):
 *   - functions that can fail return 0 on success and -1 (or -errno) on
 *     failure, filling a struct hs_error the caller owns;
 *   - library code never prints and never calls exit(); the CLI prints once.
 */
#ifndef HS_COMMON_H
#define HS_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HS_ERR_MSG_MAX 1024

/* Exit codes, documented in docs/exit-codes.md and harness(1). */
enum hs_exit {
	HS_EXIT_TIMEOUT = 124,  /* wall-clock budget hit (as timeout(1)) */
	HS_EXIT_HARNESS = 125,  /* usage, policy, kernel feature or setup error */
	HS_EXIT_NOEXEC = 126,   /* command found but not executable */
	HS_EXIT_NOTFOUND = 127, /* command not found */
};

/* An error record: one line for the user, plus where it came from. */
struct hs_error {
	char msg[HS_ERR_MSG_MAX]; /* "what was wrong; how to fix it" */
	char file[256];           /* policy file, "" if none */
	int line, column;         /* 1-based; 0 when unknown */
	int sys_errno;            /* errno when a syscall failed, else 0 */
};

void hs_error_clear(struct hs_error *err);
/* Formats into err->msg; returns -1 so callers can `return hs_err(...)`. */
int hs_err(struct hs_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Like hs_err but appends ": strerror(errno)" and records errno. */
int hs_err_sys(struct hs_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Sets the location of an error (policy file positions). */
void hs_error_at(struct hs_error *err, const char *file, int line, int column);
/* "file:line:col: msg" or just msg. */
void hs_error_format(const struct hs_error *err, char *buf, size_t len);

/* Checked allocation: abort with a message on OOM (there is no useful
 * recovery in a sandbox launcher). */
void *hs_xmalloc(size_t n);
void *hs_xcalloc(size_t n, size_t size);
void *hs_xrealloc(void *p, size_t n);
char *hs_xstrdup(const char *s);
char *hs_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable vector of owned strings. */
struct hs_strv {
	char **v; /* owned; v[n] == NULL when n > 0 */
	size_t n;
};
void hs_strv_push(struct hs_strv *sv, const char *s);
void hs_strv_push_owned(struct hs_strv *sv, char *s);
bool hs_strv_contains(const struct hs_strv *sv, const char *s);
void hs_strv_clear(struct hs_strv *sv);
void hs_strv_copy(struct hs_strv *dst, const struct hs_strv *src);

/* "512", "64K", "10M", "2G", "1T" (binary multiples; "KiB"/"MB" accepted).
 * Returns 0 or -1 on syntax error or overflow. */
int hs_parse_size(const char *s, uint64_t *out);
/* "30", "30s", "500ms", "10m", "2h" -> milliseconds. */
int hs_parse_duration_ms(const char *s, uint64_t *out);
/* Strict decimal unsigned integer, no sign, no spaces. */
int hs_parse_u64(const char *s, uint64_t *out);

/* The caller's home: $HOME when absolute, else the passwd entry, else "/". */
const char *hs_caller_home(void);

/* $XDG_STATE_HOME/harness/SUB, else ~/.local/state/harness/SUB (owned). */
char *hs_state_path(const char *sub);
/* mkdir -p: every missing directory of `path` (itself too unless
 * parent_only) is created with `mode`. -1 with errno on the first failure. */
int hs_mkdir_p(const char *path, mode_t mode, bool parent_only);

/* Removes everything beneath the directory dirfd, never following a
 * symlink, making directories writable on the way; iterative, so any
 * depth. The directory itself stays. */
int hs_tree_clear(int dirfd, struct hs_error *err);

/* fd helpers */
int hs_write_all(int fd, const void *buf, size_t len);
int hs_write_file(const char *path, const char *data); /* open O_WRONLY, write, close */
void hs_close(int *fd);                                 /* close if >= 0, set -1 */

#define HS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
