#!/bin/bash
# run_seccomp.sh - inside fence-run every syscall docs/SPEC.md 7 lists is refused
# (tests/probes/sysprobe.c), other architectures' syscalls kill, the
# process has no capabilities, no_new_privs, and only fds 0-2.  The probe
# is also run outside the sandbox to show that it can tell a refusal from
# an allowed call (there the same calls fail differently).
. "$(dirname "$0")/lib.sh"
need_root
need_fuse
[ -x "$FENCERUN" ] || skip_all "fence-run is not built ($FENCERUN)"
[ -x "$PROBES/sysprobe" ] || skip_all "sysprobe is not built (make probes)"

mkdir -p "$T/code"
# An extra fd 5 open in the caller must not reach the command.
"$FENCERUN" --codebase "$T/code" --bind-ro "$PROBES:/probes" -- /probes/sysprobe \
	>"$T/in.out" 2>"$T/in.err" 5<"$T/code"
check_eq "sysprobe runs inside fence-run" 0 $?
"$PROBES/sysprobe" >"$T/out.out" 2>&1

expect() { # NAME WANT: the probe's line for NAME inside
	local got
	got=$(awk -v n="$1" '$1 == n { $1 = ""; sub(/^ /, ""); print }' "$T/in.out")
	check_eq "seccomp: $1 -> $2" "$2" "$got"
}
for v in mount umount2 pivot_root chroot unshare:newuser unshare:newns setns clone:newuser \
	clone:newns clone:newpid clone:newnet ptrace process_vm_readv process_vm_writev bpf \
	userfaultfd perf_event_open keyctl add_key request_key kexec_load kexec_file_load \
	init_module finit_module delete_module open_by_handle_at io_uring_setup io_uring_enter \
	io_uring_register fsopen fsconfig fsmount fspick move_mount open_tree mount_setattr \
	ioctl:TIOCSTI ioctl:TIOCSTI-high ioctl:TIOCLINUX ioctl:TIOCLINUX-high \
	personality:addr-no-randomize personality:read-implies-exec personality:linux32 \
	personality:high-bits; do
	expect "$v" EPERM
done
expect clone3 ENOSYS
expect personality:query OK
expect personality:linux OK
expect x32:getpid SIGSYS
expect i386:getpid SIGSYS
expect status:NoNewPrivs 1
expect status:Seccomp 2
for c in CapInh CapPrm CapEff CapBnd CapAmb; do
	expect "status:$c" 0000000000000000
done
expect fds "0 1 2"

# The probe must be able to see a hole: outside the sandbox (as root, no
# filter) the same calls are not EPERM.
outside() { awk -v n="$1" '$1 == n { print $2 }' "$T/out.out"; }
check_eq "probe sanity: mount outside answers EFAULT" EFAULT "$(outside mount)"
check_eq "probe sanity: unshare(CLONE_NEWUSER) outside works" OK "$(outside unshare:newuser)"
# (OK, or ENOSYS on kernels built without x32: either way no SIGSYS.)
check "probe sanity: x32 getpid outside is not killed" test "$(outside x32:getpid)" != SIGSYS
check_eq "probe sanity: TIOCSTI-high outside is not EPERM" yes "$([ "$(outside ioctl:TIOCSTI-high)" != EPERM ] && echo yes)"

# Ordinary programs still work under the filter: threads (clone without
# namespace flags, after glibc's clone3 fallback), pipes, sockets.
check_eq "threads and fork work under the filter" "ok" \
	"$("$FENCERUN" --codebase "$T/code" -- python3 -c '
import threading, subprocess
t = threading.Thread(target=lambda: None); t.start(); t.join()
print(subprocess.run(["echo", "ok"], capture_output=True, text=True).stdout.strip())')"
