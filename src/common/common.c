/*
 * common.c: error records, checked allocation, string vectors and the
 * size/duration parsers used by the policy loader and the CLI.
 */
#define _GNU_SOURCE
#include "common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void hs_error_clear(struct hs_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

int hs_err(struct hs_error *err, const char *fmt, ...)
{
	if (!err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	err->sys_errno = 0;
	return -1;
}

int hs_err_sys(struct hs_error *err, const char *fmt, ...)
{
	int saved = errno;
	if (!err)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	size_t len = strlen(err->msg);
	snprintf(err->msg + len, sizeof(err->msg) - len, ": %s", strerror(saved));
	err->sys_errno = saved;
	errno = saved;
	return -1;
}

void hs_error_at(struct hs_error *err, const char *file, int line, int column)
{
	if (!err)
		return;
	snprintf(err->file, sizeof(err->file), "%s", file ? file : "");
	err->line = line;
	err->column = column;
}

void hs_error_format(const struct hs_error *err, char *buf, size_t len)
{
	if (err->file[0] && err->line > 0)
		snprintf(buf, len, "%s:%d:%d: %s", err->file, err->line, err->column, err->msg);
	else if (err->file[0])
		snprintf(buf, len, "%s: %s", err->file, err->msg);
	else
		snprintf(buf, len, "%s", err->msg);
}

static void oom(void)
{
	static const char msg[] = "harness: out of memory\n";
	(void)!write(2, msg, sizeof(msg) - 1);
	abort();
}

void *hs_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *hs_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *hs_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom();
	return q;
}

char *hs_xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		oom();
	return p;
}

char *hs_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *out = NULL;
	va_start(ap, fmt);
	int r = vasprintf(&out, fmt, ap);
	va_end(ap);
	if (r < 0)
		oom();
	return out;
}

void hs_strv_push_owned(struct hs_strv *sv, char *s)
{
	sv->v = hs_xrealloc(sv->v, (sv->n + 2) * sizeof(char *));
	sv->v[sv->n++] = s;
	sv->v[sv->n] = NULL;
}

void hs_strv_push(struct hs_strv *sv, const char *s)
{
	hs_strv_push_owned(sv, hs_xstrdup(s));
}

bool hs_strv_contains(const struct hs_strv *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			return true;
	return false;
}

void hs_strv_clear(struct hs_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

void hs_strv_copy(struct hs_strv *dst, const struct hs_strv *src)
{
	for (size_t i = 0; i < src->n; i++)
		hs_strv_push(dst, src->v[i]);
}

int hs_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (!s || !*s)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* Splits "123abc" into the number and the suffix; the suffix is compared
 * case-insensitively against the table the caller gives. */
static int split_number(const char *s, uint64_t *num, const char **suffix)
{
	uint64_t v = 0;
	const char *p = s;
	if (!s || *s < '0' || *s > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*num = v;
	*suffix = p;
	return 0;
}

static int mul_checked(uint64_t a, uint64_t b, uint64_t *out)
{
	if (b && a > UINT64_MAX / b)
		return -1;
	*out = a * b;
	return 0;
}

int hs_parse_size(const char *s, uint64_t *out)
{
	static const struct {
		const char *sfx;
		uint64_t mul;
	} units[] = {
		{"", 1},
		{"b", 1},
		{"k", 1ULL << 10},
		{"kb", 1ULL << 10},
		{"kib", 1ULL << 10},
		{"m", 1ULL << 20},
		{"mb", 1ULL << 20},
		{"mib", 1ULL << 20},
		{"g", 1ULL << 30},
		{"gb", 1ULL << 30},
		{"gib", 1ULL << 30},
		{"t", 1ULL << 40},
		{"tb", 1ULL << 40},
		{"tib", 1ULL << 40},
	};
	uint64_t n;
	const char *sfx;
	if (split_number(s, &n, &sfx) < 0)
		return -1;
	for (size_t i = 0; i < HS_ARRAY_LEN(units); i++)
		if (strcasecmp(sfx, units[i].sfx) == 0)
			return mul_checked(n, units[i].mul, out);
	return -1;
}

int hs_parse_duration_ms(const char *s, uint64_t *out)
{
	static const struct {
		const char *sfx;
		uint64_t mul;
	} units[] = {
		{"", 1000}, {"s", 1000}, {"ms", 1}, {"m", 60000}, {"min", 60000}, {"h", 3600000},
	};
	uint64_t n;
	const char *sfx;
	if (split_number(s, &n, &sfx) < 0)
		return -1;
	for (size_t i = 0; i < HS_ARRAY_LEN(units); i++)
		if (strcmp(sfx, units[i].sfx) == 0)
			return mul_checked(n, units[i].mul, out);
	return -1;
}

int hs_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int hs_write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	int r = hs_write_all(fd, data, strlen(data));
	int saved = errno;
	close(fd);
	errno = saved;
	return r;
}

void hs_close(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

char *hs_state_path(const char *sub)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	if (xdg && xdg[0] == '/')
		return hs_xasprintf("%s/harness/%s", xdg, sub);
	const char *home = hs_caller_home();
	return hs_xasprintf("%s/.local/state/harness/%s", strcmp(home, "/") ? home : "", sub);
}

int hs_mkdir_p(const char *path, mode_t mode, bool parent_only)
{
	char *p = hs_xstrdup(path);
	int r = 0;
	for (char *s = strchr(p + 1, '/'); r == 0; s = strchr(s + 1, '/')) {
		if (!s && parent_only)
			break;
		if (s)
			*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			r = -1;
		if (!s)
			break;
		*s = '/';
	}
	int saved = errno;
	free(p);
	errno = saved;
	return r;
}

int hs_tree_clear(int rootfd, struct hs_error *err)
{
	char **stack = NULL; /* names of the directories entered */
	size_t depth = 0, cap = 0;
	int fd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = fd < 0 ? hs_err_sys(err, "remove: open") : 0;
	while (r == 0) {
		fchmod(fd, 0700); /* a dir the command made read-only */
		int lfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		DIR *d = lfd >= 0 ? fdopendir(lfd) : NULL;
		if (!d) {
			if (lfd >= 0)
				close(lfd);
			r = hs_err_sys(err, "remove: list a directory");
			break;
		}
		char *sub = NULL;
		struct dirent *e;
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			bool dir = e->d_type == DT_DIR;
			if (e->d_type == DT_UNKNOWN) {
				struct stat st;
				dir = fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
				      S_ISDIR(st.st_mode);
			}
			if (!dir && unlinkat(fd, e->d_name, 0) < 0 && errno == EISDIR)
				dir = true;
			if (dir && !sub)
				sub = hs_xstrdup(e->d_name);
		}
		closedir(d);
		if (sub) {
			int nfd = openat(fd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (nfd < 0 && errno == EACCES && fchmodat(fd, sub, 0700, 0) == 0)
				nfd = openat(fd, sub,
					     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (nfd < 0) {
				r = hs_err_sys(err, "remove: open %s", sub);
				free(sub);
				break;
			}
			if (depth == cap) {
				cap = cap ? 2 * cap : 64;
				stack = hs_xrealloc(stack, cap * sizeof(*stack));
			}
			stack[depth++] = sub;
			close(fd);
			fd = nfd;
			continue;
		}
		if (depth == 0)
			break; /* the root is empty */
		/* This directory is empty (a file that would not go is found
		 * by the rmdir below): up, and remove it. */
		int pfd = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		close(fd);
		fd = pfd;
		char *name = stack[--depth];
		if (fd < 0)
			r = hs_err_sys(err, "remove: open ..");
		else if (unlinkat(fd, name, AT_REMOVEDIR) < 0)
			r = hs_err_sys(err, "remove %s", name);
		free(name);
	}
	if (fd >= 0)
		close(fd);
	while (depth)
		free(stack[--depth]);
	free(stack);
	return r;
}

const char *hs_caller_home(void)
{
	const char *h = getenv("HOME");
	if (h && h[0] == '/')
		return h;
	struct passwd *pw = getpwuid(getuid());
	return pw && pw->pw_dir ? pw->pw_dir : "/";
}
