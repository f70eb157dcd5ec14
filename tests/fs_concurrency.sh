#!/bin/bash
# Several writers and readers at once, on different files and on the same
# files: 8 processes appending to one new file, 8 writing disjoint ranges of
# one source file (racing its copy-up), 8 creating files in one directory
# while others list it, 8 readers checking source files' checksums.  Then
# every byte is where it should be, the source is untouched, and nothing
# hung (everything runs under timeout).
. "$(dirname "$0")/lib.sh"
need_root
need_fuse
. "$(dirname "$0")/fs_helpers.bash"

S=$T/src M=$T/mnt N=8
mkdir -p "$S/many" "$S/ro" "$S/doomed" "$M"
for i in $(seq 1 100); do echo "doomed $i" >"$S/doomed/d$i"; done
head -c $((N * 65536)) /dev/zero >"$S/shared.bin"
for i in $(seq 1 $N); do
	head -c 200000 /dev/urandom >"$S/ro/r$i"
	head -c 50000 /dev/urandom >"$S/own$i"
done
(cd "$S/ro" && sha256sum r*) >"$T/ro.sums"
manifest "$S" >"$T/before"

fs_mount "$S" "$M" --rule 'write=**' --delta "$T/delta" || { notok "mount"; exit 1; }
ok "mount"

pids=()
# Writers, each on its own new file and its own source file.
for i in $(seq 1 $N); do
	timeout 60 bash -c '
		M=$1 i=$2
		for n in $(seq 1 200); do echo "writer $i line $n"; done >"$M/new$i.txt" || exit 1
		printf "%s" "own$i" | dd of="$M/own$i" bs=1 seek=1000 conv=notrunc status=none || exit 1
	' _ "$M" "$i" &
	pids+=($!)
done
# Writers on the same new file (O_APPEND, one line per write).
for i in $(seq 1 $N); do
	timeout 60 bash -c '
		M=$1 i=$2
		for n in $(seq 1 200); do echo "appender $i line $n" >>"$M/log.txt" || exit 1; done
	' _ "$M" "$i" &
	pids+=($!)
done
# Writers on disjoint 64 KiB ranges of the same source file: concurrent
# first writes race to copy it up; all eight writes must survive.
for i in $(seq 0 $((N - 1))); do
	timeout 60 bash -c '
		M=$1 i=$2
		head -c 65536 /dev/zero | tr "\0" "$((i + 1))" |
			dd of="$M/shared.bin" bs=65536 seek=$i conv=notrunc status=none
	' _ "$M" "$i" &
	pids+=($!)
done
# Creators in one directory, and listers of it.
for i in $(seq 1 $N); do
	timeout 60 bash -c '
		M=$1 i=$2
		for n in $(seq 1 50); do echo "$i.$n" >"$M/many/f_${i}_$n" || exit 1; done
	' _ "$M" "$i" &
	pids+=($!)
	timeout 60 bash -c 'for n in $(seq 1 20); do ls -f "$1/many" >/dev/null || exit 1; done' _ "$M" &
	pids+=($!)
done
# Readers of the file being appended to: every complete line they see is
# whole (the last one may still be on its way).
for i in $(seq 1 4); do
	timeout 60 bash -c '
		for n in $(seq 1 30); do
			[ -e "$1" ] || { sleep 0.05; continue; }
			head -c -1 "$1" 2>/dev/null | sed "\$d" | grep -qvE "^appender [0-9]+ line [0-9]+\$" && exit 1
		done
		exit 0
	' _ "$M/log.txt" &
	pids+=($!)
done
# Readers of source files, checking every byte each time.
for i in $(seq 1 $N); do
	timeout 60 bash -c 'cd "$1/ro" && for n in 1 2 3 4 5; do sha256sum -c --quiet "$2" || exit 1; done' \
		_ "$M" "$T/ro.sums" &
	pids+=($!)
done
# Deleters racing for the same source files (each file goes once, the
# losers get ENOENT), and makers racing for the same new directories.
for i in $(seq 1 $N); do
	timeout 60 bash -c '
		for n in $(seq 1 100); do rm -f "$1/doomed/d$n" || exit 1; done
		mkdir -p "$1/made/a/b/c/d" || exit 1
	' _ "$M" &
	pids+=($!)
done

failed=0 hung=0
for p in "${pids[@]}"; do
	wait "$p"
	rc=$?
	[ $rc = 124 ] && hung=$((hung + 1))
	[ $rc != 0 ] && failed=$((failed + 1))
done
check_eq "no worker hung (timeout 60 s)" 0 "$hung"
check_eq "every worker succeeded" 0 "$failed"

bad=0
for i in $(seq 1 $N); do
	want=$(for n in $(seq 1 200); do echo "writer $i line $n"; done | sha256sum)
	[ "$(sha256sum <"$M/new$i.txt")" = "$want" ] || bad=$((bad + 1))
done
check_eq "own new files intact" 0 "$bad"
bad=0
for i in $(seq 1 $N); do
	[ "$(dd if="$M/own$i" bs=1 skip=1000 count=$((3 + ${#i})) status=none)" = "own$i" ] &&
		[ "$(stat -c %s "$M/own$i")" = 50000 ] &&
		cmp -s <(head -c 1000 "$S/own$i") <(head -c 1000 "$M/own$i") || bad=$((bad + 1))
done
check_eq "own copied-up files intact" 0 "$bad"
check_eq "appended log: all lines" $((N * 200)) "$(wc -l <"$M/log.txt")"
check_eq "appended log: no torn line" 0 "$(grep -cvE '^appender [0-9]+ line [0-9]+$' "$M/log.txt")"
bad=0
for i in $(seq 1 $N); do
	[ "$(grep -c "^appender $i line" "$M/log.txt")" = 200 ] || bad=$((bad + 1))
	# Each appender's lines in its own order.
	grep "^appender $i line" "$M/log.txt" | awk '{ print $4 }' | sort -nc 2>/dev/null ||
		bad=$((bad + 1))
done
check_eq "appended log: every appender's 200 lines in order" 0 "$bad"
want=$(for i in $(seq 0 $((N - 1))); do head -c 65536 /dev/zero | tr '\0' "$((i + 1))"; done | sha256sum)
check_eq "shared source file: all disjoint writes survived the copy-up race" "$want" \
	"$(sha256sum <"$M/shared.bin")"
check_eq "many: every created file listed" $((N * 50)) "$(ls "$M/many" | grep -c '^f_')"
bad=0
for i in $(seq 1 $N); do for n in 1 25 50; do
	[ "$(cat "$M/many/f_${i}_$n" 2>&1)" = "$i.$n" ] || bad=$((bad + 1))
done; done
check_eq "many: contents" 0 "$bad"

check_eq "racing deleters: every file gone" "" "$(ls -A "$M/doomed" 2>&1 | flat)"
check "racing makers: the nested directory exists" test -d "$M/made/a/b/c/d"

# The same, seen fresh after a remount (nothing lost in caches).
fs_umount "$M" || notok "umount"
fs_mount "$S" "$M" --rule 'write=**' --delta "$T/delta" || notok "remount"
check_eq "after remount: log lines" $((N * 200)) "$(wc -l <"$M/log.txt" 2>&1)"
check_eq "after remount: shared.bin" "$want" "$(sha256sum <"$M/shared.bin")"
check_eq "after remount: deleted files stay deleted" "" "$(ls -A "$M/doomed" 2>&1 | flat)"
fs_umount "$M" && ok "umount" || notok "umount"
check_eq "source unchanged" "" "$(manifest "$S" | diff "$T/before" - | head -5 | flat)"
