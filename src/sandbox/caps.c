/*
 * caps.c: the capability fence. The sandbox's pid 1 holds every capability
 * in its own user namespace (that is how it could build the mount view);
 * before the command runs it gives all of them up for good: bounding set
 * emptied, ambient set cleared, securebits locked so that uid 0 regains
 * nothing across execve, then the permitted/effective/inheritable sets
 * zeroed. Raw syscalls only (no libcap). Verified afterwards.
 *
 * Without CAP_SETPCAP (a best-effort run with no user namespace, as an
 * ordinary user) the bounding set and securebits cannot be touched; then
 * no_new_privs must already be set, which keeps execve from granting
 * anything, and only the ambient and process sets are emptied.
 */
#define _GNU_SOURCE
#include "fence.h"

#include <errno.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Capability sets in the v3 ABI are 64 bits wide (two 32-bit words). */
#define HS_CAP_WORDS 2
#define HS_CAP_MAX 64

/* NOROOT: uid 0 gets no capabilities from execve. NO_SETUID_FIXUP: uid
 * changes neither add nor remove capabilities. KEEP_CAPS stays off and is
 * locked off. NO_CAP_AMBIENT_RAISE: the ambient set stays empty. Every bit
 * is locked so nothing in the sandbox can undo it. */
#define HS_SECUREBITS                                                                              \
	(SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |                           \
	 SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |   \
	 SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED)

/* Number of capabilities the kernel knows: PR_CAPBSET_READ answers EINVAL
 * past the last one (they are numbered without gaps), found by bisection:
 * six calls instead of one per capability. Probing avoids depending on
 * /proc being mounted. */
static int kernel_cap_count(void)
{
	int lo = 0, hi = HS_CAP_MAX; /* cap lo - 1 is known, cap hi is not */
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if (prctl(PR_CAPBSET_READ, mid, 0, 0, 0) >= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int drop_bounding_set(int ncaps, struct hs_error *err)
{
	for (int cap = 0; cap < ncaps; cap++) {
		/* Safety: shrinks the bounding set (dropping a capability not
		 * in it succeeds too); needs CAP_SETPCAP, which pid 1 holds in
		 * its user namespace until capset below. */
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return hs_err_sys(err, "caps: cannot drop bounding capability %d", cap);
	}
	return 0;
}

static int clear_ambient(struct hs_error *err)
{
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return hs_err_sys(err, "caps: cannot clear the ambient set");
	return 0;
}

static int lock_securebits(struct hs_error *err)
{
	int cur = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	if (cur < 0)
		return hs_err_sys(err, "caps: cannot read securebits");
	unsigned long bits =
	    ((unsigned long)cur | HS_SECUREBITS) & ~(unsigned long)SECBIT_KEEP_CAPS;
	/* Safety: only ever adds restrictions (and clears KEEP_CAPS); needs
	 * CAP_SETPCAP, so it must run before the capset that removes it. */
	if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) < 0)
		return hs_err_sys(err, "caps: cannot lock securebits");
	return 0;
}

static int clear_process_sets(struct hs_error *err)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[HS_CAP_WORDS] = {{0}};
	/* Safety: lowering all three sets to zero is always permitted. */
	if (syscall(SYS_capset, &hdr, data) < 0)
		return hs_err_sys(err, "caps: cannot clear the capability sets");
	return 0;
}

static int read_process_sets(struct __user_cap_data_struct data[HS_CAP_WORDS], struct hs_error *err)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	memset(data, 0, sizeof(*data) * HS_CAP_WORDS);
	if (syscall(SYS_capget, &hdr, data) < 0)
		return hs_err_sys(err, "caps: cannot read the capability sets");
	return 0;
}

static int verify_process_sets(struct hs_error *err)
{
	struct __user_cap_data_struct data[HS_CAP_WORDS];
	if (read_process_sets(data, err) < 0)
		return -1;
	for (int i = 0; i < HS_CAP_WORDS; i++)
		if (data[i].effective || data[i].permitted || data[i].inheritable)
			return hs_err(err, "caps: capabilities still held after dropping them");
	return 0;
}

/* The ambient set needs no check of its own: the kernel keeps it within
 * permitted AND inheritable, and verify_process_sets saw both empty. */
static int verify_bounding_and_securebits(int ncaps, struct hs_error *err)
{
	for (int cap = 0; cap < ncaps; cap++)
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 0)
			return hs_err(err, "caps: bounding capability %d still set", cap);
	int bits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	if (bits < 0 || (bits & HS_SECUREBITS) != HS_SECUREBITS || (bits & SECBIT_KEEP_CAPS))
		return hs_err(err, "caps: securebits not locked as requested");
	return 0;
}

/* Without CAP_SETPCAP (best-effort runs without a user namespace, as an
 * ordinary user) the bounding set and securebits cannot be changed. That is
 * safe only under no_new_privs: execve then never grants more than the
 * (empty) permitted set, for setuid files, file capabilities and uid 0
 * alike. So require it, and empty what we can. */
static int require_nnp(struct hs_error *err)
{
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return hs_err(err, "caps: no CAP_SETPCAP to empty the bounding set, and "
				   "no_new_privs is not set");
	return 0;
}

static int have_setpcap(bool *out, struct hs_error *err)
{
	struct __user_cap_data_struct data[HS_CAP_WORDS];
	if (read_process_sets(data, err) < 0)
		return -1;
	*out = (data[CAP_TO_INDEX(CAP_SETPCAP)].effective & CAP_TO_MASK(CAP_SETPCAP)) != 0;
	return 0;
}

int hs_caps_drop_all(struct hs_error *err)
{
	int ncaps = kernel_cap_count();
	bool setpcap;
	if (ncaps == 0)
		return hs_err_sys(err, "caps: cannot read the bounding set");
	if (have_setpcap(&setpcap, err) < 0)
		return -1;
	if (setpcap) {
		if (drop_bounding_set(ncaps, err) < 0 || clear_ambient(err) < 0 ||
		    lock_securebits(err) < 0)
			return -1;
	} else if (require_nnp(err) < 0 || clear_ambient(err) < 0) {
		return -1;
	}
	if (clear_process_sets(err) < 0 || verify_process_sets(err) < 0)
		return -1;
	return setpcap ? verify_bounding_and_securebits(ncaps, err) : 0;
}
