// SPDX-License-Identifier: Apache-2.0
/*
 * launch_caps.c - the command's privilege drop (capabilities(7)).
 *
 * Order matters: the bounding set can only be shrunk while we still hold
 * CAP_SETPCAP, so it goes before the id switch; the id switch needs
 * CAP_SETUID/CAP_SETGID; capset() to zero then removes what the id switch
 * left (inside a user namespace without a root mapping a setuid does not
 * clear capabilities: security/commoncap.c cap_emulate_setxuid() compares
 * with the namespace's uid 0); no_new_privs last, so that no later execve
 * can gain anything back (and seccomp can be loaded unprivileged).
 */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "launch_sandbox.h"

static int last_cap(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int v = CAP_LAST_CAP;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = CAP_LAST_CAP;
		(void)fclose(f);
	}
	return v;
}

/* Reports errno for WHAT and returns it negated. */
static int fail(char *err, size_t errlen, const char *what)
{
	int e = errno;

	snprintf(err, errlen, "cannot %s: %s", what, strerror(e));
	return -e;
}

int launch_drop_privileges(uid_t uid, gid_t gid, bool setgroups_ok, char *err, size_t errlen)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = { { 0 } };
	int cap, last = last_cap();

	if (setgroups_ok && setgroups(0, NULL) < 0)
		return fail(err, errlen, "drop supplementary groups");
	for (cap = 0; cap <= last; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return fail(err, errlen, "drop the capability bounding set");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return fail(err, errlen, "clear ambient capabilities");
	if (setresgid(gid, gid, gid) < 0)
		return fail(err, errlen, "switch group");
	if (setresuid(uid, uid, uid) < 0)
		return fail(err, errlen, "switch user");
	if (syscall(SYS_capset, &hdr, data) < 0)
		return fail(err, errlen, "clear capabilities");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return fail(err, errlen, "set no_new_privs");
	return 0;
}
