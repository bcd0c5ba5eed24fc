/*
 * landlock.c: the Landlock fence. Builds one ruleset that handles every
 * filesystem right the running kernel knows, allows only the plan's paths,
 * optionally refuses all TCP bind/connect (ABI >= 4) and scopes abstract
 * unix sockets and signals to the sandbox (ABI >= 6), then enforces it on the
 * calling process and its future children. Runs in the sandbox's pid 1 after
 * pivot_root, so rule paths name the sandbox's own root.
 *
 * The installed <linux/landlock.h> (glibc 2.36 era) stops at ABI 2/3, so the
 * newer constants and the full ruleset attribute are spelled out here; the
 * values are the stable kernel UAPI and are only used once the running
 * kernel has reported an ABI that has them.
 */
#define _GNU_SOURCE
#include "fence.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13) /* ABI 2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP (1ULL << 0) /* ABI 4 */
#endif
#ifndef LANDLOCK_ACCESS_NET_CONNECT_TCP
#define LANDLOCK_ACCESS_NET_CONNECT_TCP (1ULL << 1) /* ABI 4 */
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0) /* ABI 6 */
#endif
#ifndef LANDLOCK_SCOPE_SIGNAL
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1) /* ABI 6 */
#endif

/* ABI 1: everything from EXECUTE (bit 0) to MAKE_SYM (bit 12). */
#define LL_FS_ABI1 ((1ULL << 13) - 1)

/* The only rights a rule on a non-directory may carry; anything else makes
 * landlock_add_rule fail with EINVAL. */
#define LL_FS_FILE_RIGHTS                                                                          \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |                              \
	 LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE |                              \
	 LANDLOCK_ACCESS_FS_IOCTL_DEV)

#define LL_FS_READ                                                                                 \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)

/* struct landlock_ruleset_attr as of ABI 6. The kernel accepts a struct
 * larger than it knows as long as the fields it does not know are zero, and
 * we only set a field once the ABI says the kernel understands it. */
struct hs_ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

static int ll_create_ruleset(const struct hs_ll_ruleset_attr *attr, size_t size, uint32_t flags)
{
	return (int)syscall(SYS_landlock_create_ruleset, attr, size, flags);
}

static int ll_add_path_rule(int ruleset_fd, const struct landlock_path_beneath_attr *attr)
{
	return (int)syscall(SYS_landlock_add_rule, ruleset_fd, LANDLOCK_RULE_PATH_BENEATH, attr, 0);
}

/* struct landlock_net_port_attr and LANDLOCK_RULE_NET_PORT (ABI 4), which
 * Debian 12's kernel headers predate. The kernel's struct is packed. */
struct hs_ll_net_port_attr {
	uint64_t allowed_access;
	uint64_t port;
} __attribute__((packed));
#define HS_LL_RULE_NET_PORT 2

static int ll_add_port_rule(int ruleset_fd, const struct hs_ll_net_port_attr *attr)
{
	return (int)syscall(SYS_landlock_add_rule, ruleset_fd, HS_LL_RULE_NET_PORT, attr, 0);
}

static int ll_restrict_self(int ruleset_fd)
{
	return (int)syscall(SYS_landlock_restrict_self, ruleset_fd, 0);
}

int hs_landlock_abi(void)
{
	int abi = ll_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	return abi > 0 ? abi : 0;
}

/* Every filesystem right this ABI can mediate: handling them all is what
 * makes the ruleset deny-by-default. */
static uint64_t fs_rights_for_abi(int abi)
{
	uint64_t rights = LL_FS_ABI1;
	if (abi >= 2)
		rights |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		rights |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		rights |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return rights;
}

static uint64_t rule_rights(enum hs_ll_kind kind, uint64_t handled, bool is_dir)
{
	uint64_t rights;
	switch (kind) {
	case HS_LL_READ:
		rights = LL_FS_READ;
		break;
	case HS_LL_LIST:
		rights = LANDLOCK_ACCESS_FS_READ_DIR;
		break;
	case HS_LL_WRITE:
		rights = handled & ~LANDLOCK_ACCESS_FS_IOCTL_DEV;
		break;
	case HS_LL_DEV:
	default:
		rights = handled;
		break;
	}
	rights &= handled;
	if (!is_dir)
		rights &= LL_FS_FILE_RIGHTS;
	return rights;
}

static const char *kind_name(enum hs_ll_kind kind)
{
	switch (kind) {
	case HS_LL_READ:
		return "read";
	case HS_LL_LIST:
		return "list";
	case HS_LL_WRITE:
		return "write";
	case HS_LL_DEV:
		return "dev";
	}
	return "?";
}

/* Adds one rule. A path that does not exist (ENOENT, or a component that is
 * not a directory) is skipped: the mount view decides what exists, and a
 * missing path grants nothing. */
static int add_rule(int ruleset_fd, const struct hs_ll_rule *rule, uint64_t handled,
		    struct hs_error *err)
{
	int fd = open(rule->path, O_PATH | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return hs_err_sys(err, "landlock: cannot open rule path %s", rule->path);
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		hs_err_sys(err, "landlock: cannot stat rule path %s", rule->path);
		close(fd);
		return -1;
	}
	struct landlock_path_beneath_attr attr = {
	    .allowed_access = rule_rights(rule->kind, handled, S_ISDIR(st.st_mode)),
	    .parent_fd = fd,
	};
	int r = 0;
	if (attr.allowed_access && ll_add_path_rule(ruleset_fd, &attr) < 0)
		r = hs_err_sys(err, "landlock: cannot add %s rule for %s", kind_name(rule->kind),
			       rule->path);
	close(fd);
	return r;
}

static int no_landlock(bool best_effort, struct hs_error *err)
{
	if (best_effort)
		return 0;
	return hs_err(err, "Landlock is not available on this kernel (needs Linux >= 5.13 with "
			   "CONFIG_SECURITY_LANDLOCK and 'landlock' in the lsm= boot list); rerun "
			   "with --best-effort to run without it");
}

static void fill_ruleset_attr(struct hs_ll_ruleset_attr *attr, int abi, bool deny_tcp)
{
	attr->handled_access_fs = fs_rights_for_abi(abi);
	/* Handling TCP rights and adding no net rule refuses every bind and
	 * connect; UDP and unix sockets are not covered by Landlock. */
	if (deny_tcp && abi >= 4)
		attr->handled_access_net =
		    LANDLOCK_ACCESS_NET_BIND_TCP | LANDLOCK_ACCESS_NET_CONNECT_TCP;
	if (abi >= 6)
		attr->scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL;
}

int hs_landlock_apply(const struct hs_ll_rule *rules, size_t nrules, bool deny_tcp,
		      const uint16_t *connect_ports, bool best_effort, int *abi_used,
		      struct hs_error *err)
{
	int abi = hs_landlock_abi();
	if (abi_used)
		*abi_used = 0;
	if (abi <= 0)
		return no_landlock(best_effort, err);

	struct hs_ll_ruleset_attr attr = {0};
	fill_ruleset_attr(&attr, abi, deny_tcp);
	int ruleset_fd = ll_create_ruleset(&attr, sizeof(attr), 0);
	if (ruleset_fd < 0)
		return hs_err_sys(err, "landlock: cannot create ruleset (ABI %d)", abi);

	for (size_t i = 0; i < nrules; i++) {
		if (add_rule(ruleset_fd, &rules[i], attr.handled_access_fs, err) < 0) {
			close(ruleset_fd);
			return -1;
		}
	}
	/* The ports TCP may connect to (harness's proxy on loopback; the
	 * network namespace has nothing else to reach). */
	for (size_t i = 0; attr.handled_access_net && connect_ports && connect_ports[i]; i++) {
		struct hs_ll_net_port_attr np = {.allowed_access = LANDLOCK_ACCESS_NET_CONNECT_TCP,
						 .port = connect_ports[i]};
		if (ll_add_port_rule(ruleset_fd, &np) < 0) {
			hs_err_sys(err, "landlock: cannot allow TCP connect to port %u",
				   (unsigned)connect_ports[i]);
			close(ruleset_fd);
			return -1;
		}
	}
	/* Safety: from here on this process and every descendant can reach the
	 * filesystem only beneath the rules above (file descriptors already
	 * open are unaffected, so the caller must not hold any it does not
	 * mean to pass on). Without no_new_privs (or CAP_SYS_ADMIN in our user
	 * namespace) the kernel refuses with EPERM, which we report. */
	if (ll_restrict_self(ruleset_fd) < 0) {
		hs_err_sys(err, "landlock: cannot enforce ruleset (is no_new_privs set?)");
		close(ruleset_fd);
		return -1;
	}
	close(ruleset_fd);
	if (abi_used)
		*abi_used = abi;
	return 0;
}

int hs_landlock_nest(int abi, struct hs_error *err)
{
	/* The layer refuses creating block devices, which the command cannot
	 * do anyway: it holds no capability (CAP_MKNOD), in a user namespace
	 * or not (hs_caps_drop_all ran before).
	 * From ABI 2 on, a layer that does not grant REFER refuses every
	 * rename or link into another directory (EXDEV), so this one handles
	 * REFER and grants it from the root down. It changes no outcome; it
	 * exists to be a domain of its own. */
	struct hs_ll_ruleset_attr attr = {.handled_access_fs = LANDLOCK_ACCESS_FS_MAKE_BLOCK};
	if (abi >= 2)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
	int fd = ll_create_ruleset(&attr, sizeof(attr), 0);
	if (fd < 0)
		return hs_err_sys(err, "landlock: cannot create the command's ruleset");
	int r = 0;
	if (abi >= 2) {
		struct landlock_path_beneath_attr pb = {.allowed_access = LANDLOCK_ACCESS_FS_REFER};
		pb.parent_fd = open("/", O_PATH | O_CLOEXEC);
		r = pb.parent_fd < 0 ? -1 : ll_add_path_rule(fd, &pb);
		int e = errno;
		if (pb.parent_fd >= 0)
			close(pb.parent_fd);
		errno = e;
	}
	/* Safety: only ever adds a restriction; needs no_new_privs (set). */
	if (r == 0)
		r = ll_restrict_self(fd);
	int e = errno;
	close(fd);
	if (r < 0) {
		errno = e;
		return hs_err_sys(err, "landlock: cannot enforce the command's ruleset");
	}
	return 0;
}
