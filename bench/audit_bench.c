/*
 * audit_bench.c: audit write throughput in records/s, through the public
 * API (hs_audit_open / hs_audit_write), for the JSONL and SQLite sinks,
 * with and without fsync (--audit-sync), plain SHA-256 and HMAC; then
 * `verify` throughput on the stores written. Prints markdown tables.
 *
 *   build/audit_bench [DIR] [SCALE]
 *
 * DIR (default /var/tmp) should be on the disk the audit log would live on:
 * fsync on a tmpfs costs nothing and says nothing. SCALE (default 1)
 * multiplies the record counts.
 */
#define _GNU_SOURCE
#include "audit/audit.h"

#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

struct config {
	const char *kind; /* "jsonl" or "sqlite" */
	bool sync, keyed;
	unsigned records;
};

static const struct config configs[] = {
	{"jsonl", false, false, 200000}, {"jsonl", false, true, 200000},
	{"jsonl", true, false, 2000},	 {"sqlite", false, false, 20000},
	{"sqlite", false, true, 20000},	 {"sqlite", true, false, 1000},
};

static const unsigned char bench_key[32] = "0123456789abcdef0123456789abcdef";

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static const char *fs_name(const char *dir)
{
	struct statfs s;
	if (statfs(dir, &s) < 0)
		return "?";
	switch ((unsigned long)s.f_type) {
	case EXT4_SUPER_MAGIC: return "ext4";
	case TMPFS_MAGIC: return "tmpfs";
	case XFS_SUPER_MAGIC: return "xfs";
	case BTRFS_SUPER_MAGIC: return "btrfs";
	case OVERLAYFS_SUPER_MAGIC: return "overlayfs";
	default: return "other";
	}
}

/* A typical exec record: argv, cwd, pid in the metadata (~430 bytes). */
static json_t *exec_metadata(void)
{
	return json_pack("{s:[s,s,s], s:s, s:i, s:s}", "argv", "git", "status", "--short", "cwd",
			 "/home/user/src/project", "pid", 4242, "rule", "exec.allow: git");
}

static void store_path(char *out, size_t len, const char *dir, const struct config *c,
		       unsigned idx)
{
	snprintf(out, len, "%s/audit-bench-%d-%u.%s", dir, (int)getpid(), idx,
		 strcmp(c->kind, "jsonl") ? "db" : "jsonl");
}

static void remove_store(const char *path)
{
	char side[4200];
	unlink(path);
	snprintf(side, sizeof(side), "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof(side), "%s-shm", path);
	unlink(side);
}

/* Writes c->records * scale records; returns seconds, < 0 on failure. */
static double write_store(const struct config *c, const char *path, unsigned n)
{
	struct hs_strv specs = {0};
	struct hs_audit *a;
	struct hs_error err;
	json_t *meta = exec_metadata();
	struct hs_audit_event ev = {.action_type = "exec", .target = "/usr/bin/git",
				    .outcome = HS_OUTCOME_ALLOWED, .metadata = meta};
	double t0, t = -1;
	hs_strv_push_owned(&specs, hs_xasprintf("%s:%s", c->kind, path));
	if (hs_audit_open(&a, &specs, c->keyed ? bench_key : NULL, sizeof(bench_key), c->sync,
			  NULL, "bench", &err) < 0) {
		fprintf(stderr, "audit_bench: %s\n", err.msg);
		goto out;
	}
	t0 = now_s();
	for (unsigned i = 0; i < n; i++)
		if (hs_audit_write(a, &ev, &err) < 0) {
			fprintf(stderr, "audit_bench: %s\n", err.msg);
			hs_audit_close(a);
			goto out;
		}
	t = now_s() - t0;
	hs_audit_close(a);
out:
	json_decref(meta);
	hs_strv_clear(&specs);
	return t;
}

static double verify_store(const struct config *c, const char *path, uint64_t *count)
{
	char spec[4200];
	struct hs_error err;
	snprintf(spec, sizeof(spec), "%s:%s", c->kind, path);
	double t0 = now_s();
	if (hs_audit_verify(spec, c->keyed ? bench_key : NULL, sizeof(bench_key), count, &err) < 0) {
		fprintf(stderr, "audit_bench: verify: %s\n", err.msg);
		return -1;
	}
	return now_s() - t0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The median of v[0..n) (sorts v). */
static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define MAX_RUNS 25

/* usage: audit_bench [DIR] [SCALE] [RUNS]. Every configuration is written
 * (and verified) RUNS times, the configurations taking turns, so that a
 * burst of other load on the machine lands on one run of each rather than
 * on every run of one; the table gives the median time and the range. */
int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/var/tmp";
	unsigned scale = argc > 2 ? (unsigned)atoi(argv[2]) : 1;
	unsigned runs = argc > 3 ? (unsigned)atoi(argv[3]) : 5;
	static double write_s[HS_ARRAY_LEN(configs)][MAX_RUNS];
	static double verify_s[HS_ARRAY_LEN(configs)][MAX_RUNS];
	uint64_t verified[HS_ARRAY_LEN(configs)];
	struct utsname u;
	uname(&u);
	if (scale == 0)
		scale = 1;
	if (runs == 0 || runs > MAX_RUNS)
		runs = 5;
	for (unsigned r = 0; r < runs; r++)
		for (unsigned i = 0; i < HS_ARRAY_LEN(configs); i++) {
			const struct config *c = &configs[i];
			char path[4096];
			store_path(path, sizeof(path), dir, c, i);
			remove_store(path);
			write_s[i][r] = write_store(c, path, c->records * scale);
			verify_s[i][r] = write_s[i][r] < 0 ? -1 : verify_store(c, path, &verified[i]);
			remove_store(path);
			if (write_s[i][r] < 0 || verify_s[i][r] < 0)
				return 1;
		}
	printf("audit write throughput: %s, %s (%s), kernel %s, harness %s; %u runs of each, "
	       "taking turns\n\n",
	       dir, fs_name(dir), u.machine, u.release, HS_VERSION, runs);
	printf("| sink | hash | fsync | records | median seconds | records/s | µs/record | "
	       "records/s, slowest-fastest run |\n");
	printf("|---|---|---|---:|---:|---:|---:|---:|\n");
	for (unsigned i = 0; i < HS_ARRAY_LEN(configs); i++) {
		const struct config *c = &configs[i];
		unsigned n = c->records * scale;
		double t = median(write_s[i], runs); /* sorted now */
		printf("| %s | %s | %s | %u | %.3f | %.0f | %.2f | %.0f-%.0f |\n", c->kind,
		       c->keyed ? "HMAC-SHA-256" : "SHA-256", c->sync ? "every record" : "no", n, t,
		       n / t, t * 1e6 / n, n / write_s[i][runs - 1], n / write_s[i][0]);
	}
	printf("\n| verify | hash | records | median seconds | records/s |\n|---|---|---:|---:|---:|\n");
	for (unsigned i = 0; i < HS_ARRAY_LEN(configs); i++)
		if (!configs[i].sync) {
			double t = median(verify_s[i], runs);
			printf("| %s | %s | %llu | %.3f | %.0f |\n", configs[i].kind,
			       configs[i].keyed ? "HMAC-SHA-256" : "SHA-256",
			       (unsigned long long)verified[i], t, verified[i] / t);
		}
	return 0;
}
