#!/bin/bash
# fault.sh - fault injection (issue 6, item 2): the daemon killed during
# heavy writes, fence-run killed, the delta on a full filesystem, an
# unwritable audit file, unreadable and malformed policies, and the source
# directory removed or replaced by a symlink under a live `fencefs mount`.
# In every case the source stays untouched and nothing is left behind.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib.sh"
sec_need_fencerun

CODE=$T/code
sec_canary_tree "$CODE"
before=$(sec_tree_sum "$CODE")

alive() { sec_pgrep "$1" | tr '\n' ' '; }
kill_marked() { local p; for p in $(sec_pgrep "$1"); do kill -9 "$p"; done; }
# still_alive PID...: those of PIDs that still exist (zombies count as gone).
still_alive() {
	local p s
	for p in "$@"; do
		s=$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null) || continue
		[ -n "$s" ] && [ "$s" != Z ] && printf '%s ' "$p"
	done
}
host_mounts() { grep -F -- "$T" /proc/mounts | grep -v -F " $T/small " || true; }

# wait_for SECONDS CMD...: poll CMD every 0.1 s.
wait_for() {
	local n=$(($1 * 10))
	shift
	while [ "$n" -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done
	return 1
}

# --- SIGKILL the daemon during heavy writes ------------------------------------
mark=heavy-$$-$RANDOM
at_exit "kill_marked $mark"
"$FENCERUN" --codebase "$CODE" --preset agent-safe --timeout 60s \
	--bind-ro "$SECPROBES:/probes" -- /probes/hostile heavywrite "output/$mark" \
	>"$T/kd.out" 2>"$T/kd.err" &
fr=$!
at_exit "kill -9 $fr"
wait_for 20 grep -q '^heavywrite:started' "$T/kd.out"
daemon=$(sec_daemon_pids "$fr")
if [ -n "$daemon" ]; then
	ok "kill daemon: found the daemon ($daemon) while the command writes"
	kill -9 $daemon
	if wait_for 15 bash -c "! kill -0 $fr 2>/dev/null"; then
		wait "$fr"; rc=$?
	else
		rc=timeout
	fi
	check_eq "kill daemon: fence-run exits 125" 125 "$rc"
	check "kill daemon: fence-run says the daemon died" grep -q '^fence-run: .*daemon' "$T/kd.err"
	# The command then sees ECONNABORTED or ENOTCONN, unless fence-run
	# killed it first: both are fine, what matters is that it is gone.
	sleep 0.5
	check_eq "kill daemon: no process of the sandbox remains" "" "$(alive "$mark")"
	check_eq "kill daemon: no mount remains" "" "$(host_mounts)"
else
	notok "kill daemon: found the daemon while the command writes"
	sed 's/^/#   /' "$T/kd.err" | head -5
fi
check_eq "kill daemon: source tree unchanged" "$before" "$(sec_tree_sum "$CODE")"

# --- SIGKILL fence-run ----------------------------------------------------------
mark=sleeper-$$-$RANDOM
at_exit "kill_marked $mark"
"$FENCERUN" --codebase "$CODE" --preset agent-safe --timeout 60s \
	--bind-ro "$SECPROBES:/probes" -- /probes/hostile sleeper "$mark" \
	>"$T/kf.out" 2>"$T/kf.err" &
fr=$!
at_exit "kill -9 $fr"
if wait_for 20 test -n "$(sec_pgrep "$mark")"; then
	sleep 0.2
	all=$(sec_descendants "$fr" | tr '\n' ' ')
	kill -9 "$fr"
	wait "$fr" 2>/dev/null
	sleep 1
	check_eq "kill fence-run: none of its processes remains 1 s later" "" "$(still_alive $all)"
	check_eq "kill fence-run: the sandboxed command is gone" "" "$(alive "$mark")"
	check_eq "kill fence-run: no mount remains" "" "$(host_mounts)"
else
	notok "kill fence-run: the sandboxed command started"
	sed 's/^/#   /' "$T/kf.err" | head -5
fi
check_eq "kill fence-run: source tree unchanged" "$before" "$(sec_tree_sum "$CODE")"

# --- the delta on a full filesystem ----------------------------------------------
mkdir -p "$T/small"
if mount -t tmpfs -o size=1M tmpfs "$T/small"; then
	at_exit "umount -l $T/small"
	timeout -k 5 60 "$FENCERUN" --codebase "$CODE" --preset agent-safe --timeout 30s \
		--delta "$T/small/delta" --bind-ro "$SECPROBES:/probes" -- \
		/probes/hostile fill output/big 64 >"$T/full.out" 2>"$T/full.err"
	check_eq "full delta fs: fence-run exit status" 0 "$?"
	check "full delta fs: the command gets ENOSPC" grep -q '^fill ENOSPC' "$T/full.out"
	check_eq "full delta fs: source tree unchanged" "$before" "$(sec_tree_sum "$CODE")"
else
	notok "full delta fs: mount a 1M tmpfs"
fi

# --- unwritable audit sinks --------------------------------------------------------
# refused NAME FENCE-RUN-OPTIONS...: exit 125, the command never ran, and
# stderr names the reason in one line.
refused() {
	local name=$1 rc
	shift
	timeout -k 5 30 "$FENCERUN" --codebase "$CODE" --preset agent-safe "$@" -- \
		/bin/echo COMMAND-RAN >"$T/ref.out" 2>"$T/ref.err"
	rc=$?
	check_eq "$name: exit 125" 125 "$rc"
	check_eq "$name: the command did not run" "" "$(grep COMMAND-RAN "$T/ref.out")"
	check "$name: fence-run says why" grep -q '^fence-run: ' "$T/ref.err"
}
mkdir -p "$T/ro"
if mount -t tmpfs -o ro,size=64k tmpfs "$T/ro"; then
	at_exit "umount -l $T/ro"
	refused "audit on a read-only fs" --audit "$T/ro/audit.jsonl"
else
	notok "audit on a read-only fs: mount a read-only tmpfs"
fi
refused "audit in a missing directory" --audit "$T/no/such/dir/audit.jsonl"
refused "audit is a directory" --audit "$T"
timeout -k 5 30 "$FENCERUN" --codebase "$CODE" --preset agent-safe --audit /dev/full -- \
	/bin/echo COMMAND-RAN >"$T/full-audit.out" 2>"$T/full-audit.err"
rc=$?
check "audit on /dev/full: reported, not silently dropped (exit $rc)" \
	bash -c "[ $rc != 0 ] && grep -q 'fence-run: .*/dev/full' '$T/full-audit.err'"

# --- unreadable or malformed policies -----------------------------------------------
refused "policy file missing" --policy "$T/no-such-policy.ini"
check "policy file missing: the message names the file" grep -q 'no-such-policy.ini' "$T/ref.err"
refused "policy file is a directory" --policy "$T"
printf '[policy]\ndescription = typo\n[rules]\nwirte = build/\n' >"$T/bad-level.ini"
refused "policy with an unknown level" --policy "$T/bad-level.ini"
check "policy with an unknown level: file:line in the message" grep -q 'bad-level.ini:4' "$T/ref.err"
printf '[rules]\nread = **\n[extra]\nx = y\n' >"$T/bad-section.ini"
refused "policy with an unknown section" --policy "$T/bad-section.ini"
check "policy with an unknown section: file:line in the message" grep -q 'bad-section.ini:[34]' \
	"$T/ref.err"
printf '[rules]\nread = src/[a-\n' >"$T/bad-glob.ini"
refused "policy with a broken pattern" --policy "$T/bad-glob.ini"
check "policy with a broken pattern: file:line in the message" grep -q 'bad-glob.ini:2' "$T/ref.err"
printf '[rules]\nread = **\n\x00\xff\xfe garbage\n' >"$T/binary.ini"
refused "policy with binary garbage" --policy "$T/binary.ini"
refused "rule without a level" --rule '=**'
refused "rule with an unknown level" --rule 'wirte=**'

# --- delta directories that must be refused -------------------------------------------
mkdir -p "$T/notadelta"
echo keep >"$T/notadelta/file"
refused "--delta is a non-empty directory that is not a delta" --delta "$T/notadelta"
check_eq "--delta not a delta: its contents are untouched" "file:keep" \
	"$(cd "$T/notadelta" && grep -H . ./* | sed 's|^\./||')"
refused "--delta inside the codebase" --delta "$CODE/output/newdelta"
refused "--delta is the codebase" --delta "$CODE"
refused "--delta contains the codebase" --delta "$T"
check_eq "refused deltas: source tree unchanged" "$before" "$(sec_tree_sum "$CODE")"

# --- the source removed or replaced under a live fencefs mount ------------------------
if "$FENCEFS" mount --help 2>&1 | grep -q 'not implemented'; then
	skip "source replaced while mounted: fencefs mount is a placeholder"
else
	SRC=$T/src6 MNT=$T/mnt6
	mkdir -p "$SRC/dir" "$MNT" "$T/victim"
	echo original >"$SRC/file.txt"
	echo inner >"$SRC/dir/inner.txt"
	echo victim >"$T/victim/file.txt"
	mkdir -p "$T/victim/dir"
	echo victim-inner >"$T/victim/dir/inner.txt"
	vsum=$(sec_tree_sum "$T/victim")
	if timeout 20 "$FENCEFS" mount --preset full-access --delta "$T/delta6" "$SRC" "$MNT" \
		>"$T/m6.out" 2>&1; then
		at_exit "$FENCEFS umount $MNT; umount -l $MNT"
		cat "$MNT/file.txt" >/dev/null
		mv "$SRC" "$T/src6.moved"
		msum=$(sec_tree_sum "$T/src6.moved")
		ln -s "$T/victim" "$SRC"
		# Whatever each operation answers, it answers promptly and touches
		# neither the moved source nor the symlink's target.
		hung=""
		for op in "cat $MNT/file.txt" "ls -la $MNT $MNT/dir" "sh -c 'echo new > $MNT/new.txt'" \
			"sh -c 'echo more >> $MNT/file.txt'" "mkdir $MNT/newdir" "rm -f $MNT/dir/inner.txt" \
			"touch $MNT/dir/t" "mv $MNT/file.txt $MNT/renamed.txt" "chmod 600 $MNT/dir"; do
			timeout 10 bash -c "$op" >/dev/null 2>&1
			[ $? = 124 ] && hung+="[$op] "
		done
		check_eq "source replaced by a symlink: no operation hangs" "" "$hung"
		check_eq "source replaced by a symlink: the symlink's target is untouched" "$vsum" \
			"$(sec_tree_sum "$T/victim")"
		check_eq "source replaced by a symlink: the moved source is untouched" "$msum" \
			"$(sec_tree_sum "$T/src6.moved")"
		rm -rf "$T/src6.moved"
		hung=""
		for op in "cat $MNT/file.txt" "ls -la $MNT" "sh -c 'echo x > $MNT/after.txt'" \
			"ls $MNT/dir" "stat $MNT/renamed.txt"; do
			timeout 10 bash -c "$op" >/dev/null 2>&1
			[ $? = 124 ] && hung+="[$op] "
		done
		check_eq "source removed: no operation hangs" "" "$hung"
		check_eq "source removed: the symlink's target is untouched" "$vsum" \
			"$(sec_tree_sum "$T/victim")"
		timeout 20 "$FENCEFS" umount "$MNT" >"$T/u6.out" 2>&1
		check_eq "source removed: fencefs umount succeeds" 0 "$?"
		check_eq "source removed: no mount remains" "" "$(grep -F " $MNT " /proc/mounts)"
		check_eq "source removed: no daemon remains" "" "$(sec_pgrep "$MNT" | tr '\n' ' ')"
	else
		notok "source replaced while mounted: fencefs mount"
		sed 's/^/#   /' "$T/m6.out" | head -5
	fi
fi
