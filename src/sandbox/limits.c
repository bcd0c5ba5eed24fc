/*
 * limits.c: resource limits. Memory and process count are enforced by a
 * cgroup when one can be had without privilege (a delegated cgroup v2
 * subtree, or, for root on hybrid hosts, the v1 memory and pids
 * hierarchies); otherwise by rlimits set in the sandbox's pid 1:
 *
 *   memory  -> RLIMIT_DATA, not RLIMIT_AS: Node, Go and the JVM reserve huge
 *              PROT_NONE address ranges up front, which RLIMIT_AS counts and
 *              RLIMIT_DATA (private writable mappings only) does not.
 *   procs   -> RLIMIT_NPROC, counted per uid inside the sandbox's own user
 *              namespace (Linux >= 5.14), so the caller's other processes do
 *              not count. The kernel exempts uid 0 from it, so a root caller
 *              needs the cgroup: without one the run is refused.
 *
 * CPU seconds, file size and open files are always rlimits (per process).
 */
#define _GNU_SOURCE
#include "sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* Our cgroup path in a hierarchy: "0::/x" for v2, "N:memory:/x" for v1. */
static int own_cgroup(const char *controller, char *out, size_t len)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[1024];
	int found = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		const char *ctrls = c1 + 1;
		bool match = controller ? (strcmp(ctrls, controller) == 0 ||
					   (strstr(ctrls, controller) && strchr(ctrls, ',')))
					: (strcmp(line, "0") == 0 && *ctrls == '\0');
		if (match) {
			snprintf(out, len, "%s", c2 + 1);
			found = 0;
			break;
		}
	}
	fclose(f);
	return found;
}

static bool read_has_word(const char *path, const char *word)
{
	char buf[512];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	for (char *tok = strtok(buf, " \n"); tok; tok = strtok(NULL, " \n"))
		if (strcmp(tok, word) == 0)
			return true;
	return false;
}

static int write_u64(const char *dir, const char *file, uint64_t v)
{
	char path[600], val[32];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	snprintf(val, sizeof(val), "%llu", (unsigned long long)v);
	return hs_write_file(path, val);
}

/* Removes empty harness-PID cgroups left by runs whose harness was
 * SIGKILLed (its pid is gone); rmdir fails harmlessly on a busy one. */
static void remove_stale(const char *parent)
{
	DIR *d = opendir(parent);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		uint64_t pid;
		if (strncmp(de->d_name, "harness-", 8) != 0 || hs_parse_u64(de->d_name + 8, &pid) < 0 ||
		    pid == 0 || pid > INT32_MAX)
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		char path[600];
		if (snprintf(path, sizeof(path), "%s/%s", parent, de->d_name) < (int)sizeof(path))
			(void)rmdir(path);
	}
	if (d)
		closedir(d);
}

/* Can children of `dir` get the memory and pids controllers? Either they
 * are enabled already, or `dir` holds no process (the "no internal
 * processes" rule) and we may enable them. */
static bool v2_offers_controllers(const char *dir, bool is_root)
{
	char ctl[600];
	snprintf(ctl, sizeof(ctl), "%s/cgroup.subtree_control", dir);
	if (read_has_word(ctl, "memory") && read_has_word(ctl, "pids"))
		return true;
	if (access(ctl, W_OK) < 0)
		return false;
	char procs[600], buf[8];
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
	int fd = open(procs, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
	if (fd >= 0)
		close(fd);
	if (n != 0 && !is_root)
		return false;
	return hs_write_file(ctl, "+memory +pids") == 0;
}

/*
 * cgroup v2: our own cgroup holds processes (at least harness), so its
 * children cannot get controllers; walk up from it to the nearest ancestor
 * that offers memory and pids to its children and where we may create a
 * cgroup and move a process (write access to its cgroup.procs, which the
 * kernel requires of the common ancestor of source and destination). For an
 * ordinary user that is inside a delegated subtree (systemd's
 * user@UID.service); for root often the root cgroup itself.
 */
static int try_v2(const struct hs_limits *lim, struct hs_cgroup *cg)
{
	char rel[400], dir[512], procs[600];
	const char *mnt = NULL;
	struct stat st;
	if (stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0)
		mnt = "/sys/fs/cgroup";
	else if (stat("/sys/fs/cgroup/unified/cgroup.controllers", &st) == 0)
		mnt = "/sys/fs/cgroup/unified";
	if (!mnt || own_cgroup(NULL, rel, sizeof(rel)) < 0)
		return -1;
	snprintf(dir, sizeof(dir), "%s%s", mnt, strcmp(rel, "/") ? rel : "");
	for (;;) {
		bool is_root = strcmp(dir, mnt) == 0;
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
		if (access(dir, W_OK) == 0 && access(procs, W_OK) == 0 &&
		    v2_offers_controllers(dir, is_root))
			break;
		char *slash = strrchr(dir, '/');
		if (is_root || !slash || (size_t)(slash - dir) < strlen(mnt))
			return -1;
		*slash = '\0';
	}
	remove_stale(dir);
	int n = snprintf(cg->dir, sizeof(cg->dir), "%s/harness-%d", dir, (int)getpid());
	if (n < 0 || (size_t)n >= sizeof(cg->dir) || mkdir(cg->dir, 0755) < 0)
		return -1;
	if ((lim->memory_bytes && (write_u64(cg->dir, "memory.max", lim->memory_bytes) < 0 ||
				   (write_u64(cg->dir, "memory.swap.max", 0) < 0 && errno != ENOENT))) ||
	    (lim->max_procs && write_u64(cg->dir, "pids.max", lim->max_procs) < 0)) {
		rmdir(cg->dir);
		cg->dir[0] = '\0';
		return -1;
	}
	snprintf(cg->kind, sizeof(cg->kind), "v2");
	cg->memory = lim->memory_bytes != 0;
	cg->pids = lim->max_procs != 0;
	return 0;
}

static int v1_dir(const char *ctrl, char *out, size_t len)
{
	char rel[400], base[512];
	if (own_cgroup(ctrl, rel, sizeof(rel)) < 0)
		return -1;
	snprintf(base, sizeof(base), "/sys/fs/cgroup/%s%s", ctrl, strcmp(rel, "/") ? rel : "");
	if (access(base, W_OK) < 0)
		return -1;
	remove_stale(base);
	int n = snprintf(out, len, "%s/harness-%d", base, (int)getpid());
	if (n < 0 || (size_t)n >= len)
		return -1;
	if (mkdir(out, 0755) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

static void try_v1(const struct hs_limits *lim, struct hs_cgroup *cg)
{
	if (lim->memory_bytes && v1_dir("memory", cg->mem_dir, sizeof(cg->mem_dir)) == 0) {
		if (write_u64(cg->mem_dir, "memory.limit_in_bytes", lim->memory_bytes) == 0) {
			/* Swap counts too where the kernel accounts it. */
			(void)write_u64(cg->mem_dir, "memory.memsw.limit_in_bytes", lim->memory_bytes);
			cg->memory = true;
		} else {
			rmdir(cg->mem_dir);
			cg->mem_dir[0] = '\0';
		}
	}
	if (lim->max_procs && v1_dir("pids", cg->pids_dir, sizeof(cg->pids_dir)) == 0) {
		if (write_u64(cg->pids_dir, "pids.max", lim->max_procs) == 0) {
			cg->pids = true;
		} else {
			rmdir(cg->pids_dir);
			cg->pids_dir[0] = '\0';
		}
	}
	if (cg->memory || cg->pids)
		snprintf(cg->kind, sizeof(cg->kind), "v1");
}

int hs_cgroup_create(const struct hs_limits *lim, struct hs_cgroup *cg, struct hs_error *err)
{
	memset(cg, 0, sizeof(*cg));
	if (!lim->memory_bytes && !lim->max_procs)
		return 0;
	if (try_v2(lim, cg) < 0)
		try_v1(lim, cg);
	if (geteuid() == 0 && lim->max_procs && !cg->pids)
		return hs_err(err,
			      "the process limit (%llu) cannot be enforced for root without a "
			      "cgroup (the kernel exempts uid 0 from RLIMIT_NPROC) and no pids "
			      "cgroup is writable here; run harness as an unprivileged user, mount "
			      "cgroup2 with the pids controller, or pass --max-procs 0 to run "
			      "without a process limit on purpose",
			      (unsigned long long)lim->max_procs);
	return 0;
}

static int attach_one(const char *dir, pid_t pid, struct hs_error *err)
{
	char path[600], val[32];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(val, sizeof(val), "%d", (int)pid);
	if (hs_write_file(path, val) < 0)
		return hs_err_sys(err, "move the sandbox into cgroup %s", dir);
	return 0;
}

int hs_cgroup_attach(const struct hs_cgroup *cg, pid_t pid, struct hs_error *err)
{
	if (strcmp(cg->kind, "v2") == 0)
		return attach_one(cg->dir, pid, err);
	if (cg->mem_dir[0] && attach_one(cg->mem_dir, pid, err) < 0)
		return -1;
	if (cg->pids_dir[0] && attach_one(cg->pids_dir, pid, err) < 0)
		return -1;
	return 0;
}

/* Reads "key N" from a flat-keyed cgroup file. */
static uint64_t read_key(const char *dir, const char *file, const char *key)
{
	char path[600], line[256];
	uint64_t v = 0;
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t klen = strlen(key);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, klen) == 0 && line[klen] == ' ')
			v = strtoull(line + klen + 1, NULL, 10);
	fclose(f);
	return v;
}

void hs_cgroup_events(const struct hs_cgroup *cg, bool *oom_killed, bool *pids_max_hit)
{
	*oom_killed = false;
	*pids_max_hit = false;
	if (strcmp(cg->kind, "v2") == 0) {
		*oom_killed = read_key(cg->dir, "memory.events", "oom_kill") > 0;
		*pids_max_hit = read_key(cg->dir, "pids.events", "max") > 0;
	} else if (strcmp(cg->kind, "v1") == 0) {
		if (cg->mem_dir[0])
			*oom_killed = read_key(cg->mem_dir, "memory.oom_control", "oom_kill") > 0;
		if (cg->pids_dir[0])
			*pids_max_hit = read_key(cg->pids_dir, "pids.events", "max") > 0;
	}
}

void hs_cgroup_kill_all(const struct hs_cgroup *cg)
{
	const char *dirs[] = {cg->dir, cg->pids_dir, cg->mem_dir};
	for (size_t i = 0; i < HS_ARRAY_LEN(dirs); i++) {
		char path[600], line[32];
		if (!dirs[i][0])
			continue;
		snprintf(path, sizeof(path), "%s/cgroup.kill", dirs[i]);
		if (hs_write_file(path, "1") == 0)
			continue; /* v2, Linux >= 5.14: the kernel kills them all */
		/* Otherwise kill what is listed until nothing is (a fork racing
		 * with us shows up on the next pass); bounded. */
		snprintf(path, sizeof(path), "%s/cgroup.procs", dirs[i]);
		for (int pass = 0; pass < 100; pass++) {
			FILE *f = fopen(path, "re");
			int found = 0;
			while (f && fgets(line, sizeof(line), f)) {
				pid_t pid = (pid_t)atoi(line);
				if (pid > 0 && pid != getpid()) {
					kill(pid, SIGKILL);
					found++;
				}
			}
			if (f)
				fclose(f);
			if (!found)
				break;
			usleep(1000);
		}
	}
}

void hs_cgroup_destroy(struct hs_cgroup *cg)
{
	/* The sandbox is dead by now (pid 1 exited and took the namespace
	 * with it); the kernel may need a moment to empty the cgroup. */
	const char *dirs[] = {cg->dir, cg->mem_dir, cg->pids_dir};
	for (size_t i = 0; i < HS_ARRAY_LEN(dirs); i++) {
		if (!dirs[i][0])
			continue;
		for (int tries = 0; tries < 200 && rmdir(dirs[i]) < 0 && errno == EBUSY; tries++)
			usleep(1000);
	}
	memset(cg, 0, sizeof(*cg));
}

static int set_limit(int res, uint64_t soft, uint64_t hard, const char *what, struct hs_error *err)
{
	struct rlimit cur, rl = {.rlim_cur = soft, .rlim_max = hard};
	/* Never raise a limit the caller already had: only tighten. */
	if (getrlimit(res, &cur) == 0) {
		if (cur.rlim_max != RLIM_INFINITY && rl.rlim_max > cur.rlim_max)
			rl.rlim_max = cur.rlim_max;
		if (rl.rlim_cur > rl.rlim_max)
			rl.rlim_cur = rl.rlim_max;
	}
	if (setrlimit(res, &rl) < 0)
		return hs_err_sys(err, "set the %s limit", what);
	return 0;
}

int hs_rlimits_apply(const struct hs_limits *lim, const struct hs_cgroup *cg, struct hs_error *err)
{
	if (set_limit(RLIMIT_CORE, 0, 0, "core size", err) < 0)
		return -1;
	/* CPU: SIGXCPU at the limit, SIGKILL one second later. */
	if (lim->cpu_seconds &&
	    set_limit(RLIMIT_CPU, lim->cpu_seconds, lim->cpu_seconds + 1, "cpu", err) < 0)
		return -1;
	if (lim->max_file_size &&
	    set_limit(RLIMIT_FSIZE, lim->max_file_size, lim->max_file_size, "file size", err) < 0)
		return -1;
	if (lim->max_open_files && set_limit(RLIMIT_NOFILE, lim->max_open_files,
					     lim->max_open_files, "open files", err) < 0)
		return -1;
	bool cg_mem = cg && cg->memory, cg_pids = cg && cg->pids;
	if (lim->memory_bytes && !cg_mem &&
	    set_limit(RLIMIT_DATA, lim->memory_bytes, lim->memory_bytes, "memory", err) < 0)
		return -1;
	if (lim->max_procs && !cg_pids &&
	    set_limit(RLIMIT_NPROC, lim->max_procs, lim->max_procs, "process", err) < 0)
		return -1;
	return 0;
}
