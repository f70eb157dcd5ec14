#!/bin/bash
# policy_limits.sh - a pattern's matching cost must not be an oracle
# (issue 15 item 6, docs/SPEC.md 2).
#
# A none rule whose regex backtracks catastrophically on some names (many
# stars in one component, alternations of overlapping lengths) once made
# pcre2 hit its match limit: the lookup of a hidden name then answered
# ERANGE instead of ENOENT, and explain exited 2.  Now every match is
# bounded (policy/policy.c rule_match(): a backtracking budget, then the
# DFA matcher), so a hidden name must answer exactly as an absent one, the
# visible near-misses stay visible, and explain decides them all.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib.sh"
sec_need_fencefs
. "$(dirname "$0")/../fs_helpers.bash"

S=$T/src M=$T/mnt
mkdir -p "$S/d"
a240=$(printf 'a%.0s' $(seq 240))
a40=$(printf 'a%.0s' $(seq 40))
STARS='*a*a*a*a*a*a*a*a*a*b'
BRACES=$(printf '{a,aa}%.0s' $(seq 30))b
# Hidden: each pattern matches the name.  Visible: the 'b' one place early.
hidden=("${a240}b" "d/${a240}b" "${a40}b")
visible=("${a240}ba" "d/${a240}ba" "${a40}ba")
for f in "${hidden[@]}"; do sec_add_canary "$S/$f"; done
for f in "${visible[@]}"; do echo "visible $f" >"$S/$f"; done
# The errno name an operation answers.
answer() { probe "$@" | cut -d' ' -f1; }
RULES=(--preset agent-safe --rule "none=$STARS" --rule "none=$BRACES")

fs_mount "$S" "$M" "${RULES[@]}" || { notok "mount"; exit 1; }
ok "mount with backtracking none rules"

for i in "${!hidden[@]}"; do
	h=${hidden[$i]} v=${visible[$i]}
	short=$(echo "$h" | sed -E 's/a{20,}/a…/')
	# The absent name of the same shape: one 'a' more (nothing is there).
	absent=$(echo "$h" | sed -E 's/(a+)b$/\1ab/')
	for op in stat lstat open creat mkdir; do
		extra=()
		[ "$op" = open ] && extra=(rdonly)
		want=$(answer "$op" "$M/$absent" "${extra[@]}")
		check_eq "limits: $op of hidden $short answers as of an absent name ($want)" \
			"$want" "$(answer "$op" "$M/$h" "${extra[@]}")"
	done
	check_eq "limits: near-miss ${short%b}ba reads" "visible $v" "$(cat "$M/$v" 2>&1)"
	out=$("$FENCEFS" explain "${RULES[@]}" "/$h" "/$v" 2>&1)
	rc=$?
	check_eq "limits: explain of $short exits 0" 0 "$rc"
	check_eq "limits: explain says none, then read" "none read" \
		"$(echo "$out" | awk '{ print $1 }' | flat)"
done
check_eq "limits: ls shows the near-misses only" "${a240}ba ${a40}ba d" "$(ls "$M" | flat)"
check_eq "limits: ls d/ shows the near-miss only" "${a240}ba" "$(ls "$M/d" | flat)"
sec_scan "limits: no canary through the mount" "$M"
fs_umount "$M" && ok "limits: umount" || notok "limits: umount"
