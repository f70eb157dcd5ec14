# Helpers for the security suite (tests/security/*.sh).  Source it after
# ../lib.sh:
#   . "$(dirname "$0")/../lib.sh"; . "$(dirname "$0")/lib.sh"
# tests/run.sh skips files named lib.sh, so this one is not run as a test.
#
# Gives: $SECPROBES (the hostile probes), $CANARIES (one canary per line),
# sec_canary_tree DIR, sec_add_canary FILE, sec_scan NAME PATH..., sec_pgrep STRING, sec_audit_valid NAME FILE,
# sec_expect NAME TABLE OUTPUT, sec_need_fencerun, sec_need_fencefs,
# sec_fence_pids PID, sec_daemon_pids PID, sec_tree_sum DIR.

SECPROBES=$FENCE_BUILD/tests/security
CANARIES=$T/canaries

# sec_canary_tree DIR: the codebase the attacks run on.  Every secret file
# holds a unique random canary; $CANARIES lists them (and the host file
# outside the codebase, $T/outside/secret.txt, holds one too).  Names follow
# docs/SPEC.md 4's agent-safe secret patterns, at depths 0 to 4, in readable,
# writable and hidden directories.
sec_canary_tree() {
	local dir=$1 f c
	mkdir -p "$dir"/{src/util,a/b,config/secrets,keys,deep/x/y/z,.aws,.git,output/sub,output/only,tmp} \
		"$T/outside"
	: >"$CANARIES"
	for f in .env a/b/.env.local config/secrets/db.txt keys/server.pem deep/x/y/z/id_rsa \
		.aws/credentials output/.env output/sub/.env output/only/id_rsa; do
		c=CNRY$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
		echo "$c" >>"$CANARIES"
		printf 'secret=%s\n' "$c" >"$dir/$f"
	done
	c=CNRY$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
	echo "$c" >>"$CANARIES"
	printf 'host secret %s\n' "$c" >"$T/outside/secret.txt"
	printf '#include <stdio.h>\nint main(void) { puts("hi"); return 0; }\n' >"$dir/src/main.c"
	printf 'int helper(void) { return 1; }\n' >"$dir/src/util/helper.c"
	printf '# project\n' >"$dir/README.md"
	printf '[app]\nport = 8080\n' >"$dir/config/app.ini"
	printf 'keys live here\n' >"$dir/keys/README"
	printf 'notes\n' >"$dir/deep/x/y/z/notes.txt"
	printf '[core]\n\tbare = false\n' >"$dir/.git/config"
	printf 'visible\n' >"$dir/output/sub/visible.txt"
	printf 'keep\n' >"$dir/output/keep.txt"
	printf 'tmp\n' >"$dir/tmp/t.txt"
	# Each canary also split in halves: a partial leak is a leak.
	awk '{ print; print substr($0, 5, 12); print substr($0, 17) }' "$CANARIES" >"$CANARIES.all"
}

# sec_add_canary FILE: FILE (created with its directories) holds a new
# canary that the scans then look for too.
sec_add_canary() {
	local c
	c=CNRY$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
	mkdir -p "$(dirname "$1")"
	printf 'secret=%s\n' "$c" >"$1"
	echo "$c" >>"$CANARIES"
	printf '%s\n%s\n%s\n' "$c" "${c:4:12}" "${c:16}" >>"$CANARIES.all"
}

# sec_scan NAME PATH...: ok when no canary (or half of one) appears in the
# contents, names or xattrs of PATHs (files or directories).
sec_scan() {
	local name=$1 p hits=""
	shift
	for p in "$@"; do
		[ -e "$p" ] || continue
		if grep -r -a -o -F -f "$CANARIES.all" "$p" >"$T/scan.hits" 2>/dev/null; then
			hits+="$(head -3 "$T/scan.hits") "
		fi
		if [ -d "$p" ]; then
			if find "$p" -print 2>/dev/null | grep -a -F -f "$CANARIES.all" >"$T/scan.hits"; then
				hits+="name:$(head -1 "$T/scan.hits") "
			fi
			if getfattr -R -h -d -m - --absolute-names "$p" 2>/dev/null |
				grep -a -F -f "$CANARIES.all" >"$T/scan.hits"; then
				hits+="xattr:$(head -1 "$T/scan.hits") "
			fi
		fi
	done
	if [ -z "$hits" ]; then ok "$name"; else notok "$name"; echo "#   leaked: $hits"; fi
}

# sec_audit_valid NAME FILE: every line of FILE is one JSON object with an
# "event", and no line was forged by a hostile file name.
sec_audit_valid() {
	local name=$1 file=$2 out
	if [ ! -s "$file" ]; then
		notok "$name"; echo "#   audit log $file is missing or empty"; return
	fi
	if out=$(python3 - "$file" 2>&1 <<'EOF'
import json, sys
bad = 0
with open(sys.argv[1], 'rb') as f:
    for n, raw in enumerate(f, 1):
        try:
            ev = json.loads(raw.decode('utf-8'))
        except Exception as e:
            print(f"line {n}: {e}: {raw[:120]!r}"); bad += 1; continue
        if not isinstance(ev, dict) or 'event' not in ev:
            print(f"line {n}: not an event object"); bad += 1
        elif ev['event'] == 'fake':
            print(f"line {n}: forged event"); bad += 1
sys.exit(1 if bad else 0)
EOF
	); then ok "$name"; else notok "$name"; echo "$out" | head -5 | sed 's/^/#   /'; fi
}

# sec_expect PREFIX TABLE OUTPUT: TABLE holds "GLOB REGEX" lines (# comments
# allowed); each "VECTOR RESULT ..." line of OUTPUT is checked against the
# first GLOB that matches VECTOR and must have RESULT matching ^(REGEX)$.
# REGEX "!OK" accepts any refusal (anything but OK); NEVER is a vector
# that must not be reported at all.  One ok/not ok per vector; a vector with no rule, or a rule that matched
# no vector (the probe did not get that far) except a NEVER, is a failure.
sec_expect() {
	local prefix=$1 table=$2 output=$3 vector result rest i matched
	local -a globs=() regexes=() used=()
	while read -r g r; do
		case "$g" in '' | '#'*) continue ;; esac
		globs+=("$g"); regexes+=("$r"); used+=(0)
	done <"$table"
	while IFS= read -r line; do
		vector=${line%% *}
		rest=${line#* }
		result=${rest%% *}
		[ "$line" = "$vector" ] && result=""
		matched=0
		for i in "${!globs[@]}"; do
			# shellcheck disable=SC2053
			if [[ $vector == ${globs[$i]} ]]; then
				matched=1; used[$i]=1
				if [[ ${regexes[$i]} == '!OK' && -n $result && $result != OK ]] ||
					[[ ${regexes[$i]} != '!OK' && $result =~ ^(${regexes[$i]})$ ]]; then
					ok "$prefix: $vector -> $result"
				else
					notok "$prefix: $vector -> $result"
					echo "#   expected: ${regexes[$i]}"
					echo "#   line:     $(printf '%s' "$line" | cut -c1-200)"
				fi
				break
			fi
		done
		if [ "$matched" = 0 ]; then
			notok "$prefix: $vector (no expectation for this vector)"
			echo "#   line: $(printf '%s' "$line" | cut -c1-200)"
		fi
	done < <(grep -a -E '^[^ #]+ ' "$output")
	for i in "${!globs[@]}"; do
		[ "${used[$i]}" = 1 ] || [ "${regexes[$i]}" = NEVER ] && continue
		notok "$prefix: ${globs[$i]} (vector never reported)"
	done
}

# sec_need_fencerun: skip the script while fence-run is the placeholder.
sec_need_fencerun() {
	need_root
	need_fuse
	[ -x "$FENCERUN" ] || skip_all "fence-run is not built ($FENCERUN)"
	mkdir -p "$T/smoke"
	if ! "$FENCERUN" --codebase "$T/smoke" -- /bin/true >"$T/smoke.out" 2>&1; then
		if grep -q 'not implemented' "$T/smoke.out"; then
			skip_all "fence-run is still a placeholder"
		fi
		notok "fence-run smoke: fence-run --codebase DIR -- /bin/true"
		sed 's/^/#   /' "$T/smoke.out" | head -5
		exit 1
	fi
}

sec_need_fencefs() {
	need_root
	need_fuse
	[ -x "$FENCEFS" ] || skip_all "fencefs is not built ($FENCEFS)"
	if "$FENCEFS" mount --help 2>&1 | grep -q 'not implemented'; then
		skip_all "fencefs mount is still a placeholder"
	fi
}

# sec_pgrep STRING: pids of the processes whose command line holds STRING
# (from /proc, so procps need not be installed), this shell's excluded.
sec_pgrep() {
	local p
	for p in /proc/[0-9]*; do
		[ "${p#/proc/}" = "$$" ] || [ "${p#/proc/}" = "$BASHPID" ] && continue
		tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q -F -- "$1" && echo "${p#/proc/}"
	done
	return 0
}

# sec_descendants PID: every descendant of PID (host pids).
sec_descendants() {
	local root=$1
	# "pid (comm) state ppid ...": comm may hold spaces, so cut after ')'.
	cat /proc/[0-9]*/stat 2>/dev/null | sed -n 's/^\([0-9]*\) .*) [A-Za-z] \([0-9]*\) .*/\1 \2/p' |
		awk -v root="$root" '
		{ parent[$1] = $2; pids[NR] = $1 }
		END {
			for (i in pids) {
				p = pids[i]; q = parent[p]
				while (q > 1) { if (q == root) { print p; break } q = parent[q] }
			}
		}'
}

# sec_daemon_pids PID: the FUSE daemon(s) under fence-run PID: descendants in
# our own pid namespace that hold /dev/fuse or are a fencefs process.
sec_daemon_pids() {
	local p ns
	ns=$(readlink /proc/self/ns/pid)
	for p in $(sec_descendants "$1"); do
		[ "$(readlink "/proc/$p/ns/pid" 2>/dev/null)" = "$ns" ] || continue
		if ls -l "/proc/$p/fd" 2>/dev/null | grep -q '/dev/fuse' ||
			tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q fencefs; then
			echo "$p"
		fi
	done
}

# sec_fence_pids PID: "launcher PID" and "daemon PID" lines for escape_proc:
# fence-run itself and every descendant that stayed in the host's pid
# namespace (the daemon and any helper).
sec_fence_pids() {
	local p ns d
	ns=$(readlink /proc/self/ns/pid)
	echo "launcher $1"
	d=" $(sec_daemon_pids "$1" | tr '\n' ' ') "
	for p in $(sec_descendants "$1"); do
		[ "$(readlink "/proc/$p/ns/pid" 2>/dev/null)" = "$ns" ] || continue
		case "$d" in *" $p "*) echo "daemon $p" ;; *) echo "launcher $p" ;; esac
	done
}

# sec_tree_sum DIR: one line per entry (path, type, mode, size, content hash,
# link target), sorted; equal sums mean equal trees.
sec_tree_sum() {
	(cd "$1" && find . -mindepth 1 -printf '%p %y %m %s %T@ %C@ %l\n' | sort &&
		find . -type f -print0 | sort -z | xargs -0r sha256sum) | sha256sum | cut -d' ' -f1
}

# FENCE_SEC_FD_CACHE=N (set by escape_fdcache.sh and difftest_fdcache.sh):
# the same suite with the daemon's fd budget at N (issue 11 item 4: "the
# escape suite and difftest also run once with a tiny fd budget so eviction
# happens constantly").  $FENCERUN and $FENCEFS become wrappers that add
# --fd-cache N to every fence-run and every `fencefs mount`, so that no call
# in the suite can miss it, and every result line says which run it is.
sec_fd_cache_mode() {
	local n=$1 bin=$T/fdcache-bin
	if ! "$FENCEFS" mount --help 2>&1 | grep -q -- --fd-cache; then
		skip_all "this fencefs has no 'mount --fd-cache' yet"
	fi
	mkdir -p "$bin"
	printf '#!/bin/sh\nexec %q --fd-cache %q "$@"\n' "$FENCERUN" "$n" >"$bin/fence-run"
	printf '#!/bin/sh\nif [ "$1" = mount ]; then shift; exec %q mount --fd-cache %q "$@"; fi\nexec %q "$@"\n' \
		"$FENCEFS" "$n" "$FENCEFS" >"$bin/fencefs"
	chmod 0755 "$bin/fence-run" "$bin/fencefs"
	FENCE_SEC_REAL_FENCEFS=$FENCEFS
	FENCERUN=$bin/fence-run
	FENCEFS=$bin/fencefs
	eval "ok() { echo \"ok - [fd-cache $n] \$*\"; }"
	eval "notok() { echo \"not ok - [fd-cache $n] \$*\"; }"
	eval "skip() { echo \"skip - [fd-cache $n] \$*\"; }"
}
# sec_fd_cache_check NAME PID: in the fd-cache mode, ok when daemon PID was
# started with --fd-cache N (elsewhere nothing is checked).
sec_fd_cache_check() {
	[ -n "${FENCE_SEC_FD_CACHE:-}" ] || return 0
	if tr '\0' ' ' <"/proc/$2/cmdline" 2>/dev/null | grep -q -- "--fd-cache $FENCE_SEC_FD_CACHE "; then
		ok "$1"
	else
		notok "$1"; echo "#   cmdline: $(tr '\0' ' ' <"/proc/$2/cmdline" 2>/dev/null)"
	fi
}
if [ -n "${FENCE_SEC_FD_CACHE:-}" ]; then
	sec_fd_cache_mode "$FENCE_SEC_FD_CACHE"
fi
