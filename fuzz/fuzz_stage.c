/*
 * fuzz_stage.c: libFuzzer target for a staged run's manifests
 * (workspace.c: hs_ws_load), which `harness diff` and `apply` read and
 * which a hand edit (or a bug) can leave in any shape.
 *
 * Input: meta.json and changes.json, split at the first NUL byte, written
 * into a private directory and loaded. Checked (violations abort): a load
 * that succeeds yields only relative paths without empty, "." or ".."
 * components, and hashes of 64 lowercase hex digits or none; a failed
 * load leaves nothing allocated (the leak checker sees the rest).
 */
#define _GNU_SOURCE
#include "workspace/workspace.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_stage: %s\n", what);
	abort();
}

static void put(const char *dir, const char *name, const uint8_t *data, size_t len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	check(fd >= 0, "cannot write the input");
	check(write(fd, data, len) == (ssize_t)len, "short write");
	close(fd);
}

static bool rel_ok(const char *p)
{
	if (!p || !*p || p[0] == '/')
		return false;
	for (const char *c = p;;) {
		const char *slash = strchr(c, '/');
		size_t n = slash ? (size_t)(slash - c) : strlen(c);
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && !strncmp(c, "..", 2)))
			return false;
		if (!slash)
			return true;
		c = slash + 1;
	}
}

static bool hash_ok(const char *h)
{
	if (!*h)
		return true;
	if (strlen(h) != 64)
		return false;
	return strspn(h, "0123456789abcdef") == 64;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[64];
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/fuzz_stage.XXXXXX");
		check(mkdtemp(dir) != NULL, "mkdtemp");
	}
	const uint8_t *nul = memchr(data, 0, size);
	size_t mlen = nul ? (size_t)(nul - data) : size;
	put(dir, "meta.json", data, mlen);
	put(dir, "changes.json", nul ? nul + 1 : data, nul ? size - mlen - 1 : 0);
	struct hs_ws_meta m;
	struct hs_ws_changes ch;
	struct hs_error err;
	if (hs_ws_load(dir, &m, &ch, &err) == 0) {
		for (size_t i = 0; i < ch.n; i++) {
			const struct hs_ws_item *it = &ch.v[i];
			check(rel_ok(it->path), "a path that is not plainly relative was accepted");
			check(!it->old_path || rel_ok(it->old_path), "a bad old path was accepted");
			check(hash_ok(it->old_hash) && hash_ok(it->new_hash), "a bad hash was accepted");
		}
		hs_ws_changes_free(&ch);
	}
	hs_ws_meta_free(&m);
	return 0;
}
