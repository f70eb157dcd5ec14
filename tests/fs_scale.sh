#!/bin/bash
# fencefs at scale under a small fd limit (issue 11 item 4): the daemon is
# started under `ulimit -n 1024` (soft = hard, as on many CI runners and
# service managers), and
#   a. a generated tree of 200,080 files is walked by find and grep -r
#      with the default fd budget, by find and a content hash with
#      --fd-cache 16 (eviction all the time), each equal to native;
#   b. 50,000 files are created in a delta, listed and read back;
#   c. four processes rename, replace, unlink, recreate and read their own
#      files and directories across shared directories, with --fd-cache 16,
#      while a reader walks the tree; the result is checked through the
#      mount, through a fresh mount of the same delta and through kernel
#      overlayfs over source + delta;
#   d. the source is changed on the host under evicted inodes: a file
#      replaced, a directory renamed and another put in its place; reads
#      give the remembered object's own bytes, the new object's, or ESTALE /
#      ENOENT, never a third object's data (the exact rules are at case d).
# The daemon's --stats-file (SIGUSR1 and unmount) gives its fd and inode
# counts: the fds it caches must stay within --fd-cache (plus a slack for
# requests in flight and the sweeper's lag), and nothing may
# answer "Too many open files".
#
# Everything lives on a tmpfs mounted under this script's own $T: 200,000
# files on the VM's shared root filesystem (ext4 with discard) take
# minutes to delete, and unmounting a tmpfs takes none.
. "$(dirname "$0")/lib.sh"
need_root
need_fuse
. "$(dirname "$0")/fs_helpers.bash"
SCALE=$PROBES/scale_tree
[ -x "$SCALE" ] || skip_all "scale_tree not built ($SCALE); run make BUILD=... probes"

FD_LIMIT=1024
FS_TIMEOUT=60 # a walk of 200,000 files is one bounded call
t_start=$(date +%s)
since() { echo "$(($(date +%s) - $1))"; }

A=$T/fs
mkdir -p "$A"
mount -t tmpfs -o size=3g,mode=0755 fence-scale "$A" || skip_all "cannot mount a tmpfs"
# Registered first, so it runs last (after every fencefs mount on it is gone).
at_exit "umount -l '$A'"

# scale_mount SRC MNT ARGS...: fencefs mount ARGS SRC MNT with the daemon
# under a 1024-fd limit (soft = hard: it cannot raise its own).  The
# daemon's own stderr goes to $T/daemon-NAME.err (NAME: MNT's basename).
scale_mount() {
	local src=$1 mnt=$2 rc
	shift 2
	mkdir -p "$mnt"
	at_exit "_fs_force_cleanup '$mnt'"
	(ulimit -n $FD_LIMIT && exec timeout -k 5 20 "$FENCEFS" mount "$@" "$src" "$mnt") \
		2>"$T/daemon-$(basename "$mnt").err"
	rc=$?
	[ $rc = 0 ] || echo "# fencefs mount $* $src $mnt: exit $rc: $(head -c 500 "$T/daemon-$(basename "$mnt").err")"
	return $rc
}

# daemon_pid MNT: the daemon's pid, from the pid file `fencefs umount` uses
# (its second line is the mount point).
daemon_pid() {
	local f
	for f in /run/fencefs/*.pid; do
		[ "$(sed -n 2p "$f" 2>/dev/null)" = "$1" ] && { head -1 "$f"; return 0; }
	done
	return 1
}

# stats_now PID FILE: signals the daemon (SIGUSR1) and prints the JSON
# object it then rewrites FILE with as "key value" lines.
stats_now() {
	python3 - "$1" "$2" <<-'EOF'
		import json, os, signal, sys, time
		pid, path = int(sys.argv[1]), sys.argv[2]
		def stamp():
		    try:
		        st = os.stat(path)
		        return (st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_size)
		    except OSError:
		        return None
		before = stamp()
		try:
		    os.kill(pid, signal.SIGUSR1)
		except OSError as e:
		    print("stats_now: pid %d: %s" % (pid, e.strerror), file=sys.stderr)
		    sys.exit(1)
		end = time.time() + 10
		while time.time() < end:
		    if stamp() not in (None, before):
		        try:
		            for k, v in json.load(open(path)).items():
		                print(k, v)
		            sys.exit(0)
		        except ValueError:
		            pass  # half written: look again
		    time.sleep(0.05)
		sys.exit(1)
	EOF
}
# stats_file FILE: the object in FILE (as the daemon left it at unmount).
stats_file() {
	python3 -c 'import json, sys
for k, v in json.load(open(sys.argv[1])).items(): print(k, v)' "$1" 2>/dev/null
}
# field KEY: the value of KEY in "key value" lines on stdin.
field() { awk -v k="$1" '$1 == k { print $2 }'; }

# fd_limit_of PID: the daemon's soft and hard RLIMIT_NOFILE.
fd_limit_of() { awk '/^Max open files/ { print $4 "/" $5 }' "/proc/$1/limits"; }
# open_fds PID: how many fds the process holds.
open_fds() { ls -U "/proc/$1/fd" 2>/dev/null | wc -l; }

# sample_fds PID OUT: in the background, the largest fd count PID had,
# sampled every 0.2 s, written to OUT when stopped (kill; wait) or when
# PID ends.
sample_fds() {
	(
		max=0
		trap 'echo $max >"$2"; exit 0' TERM
		while [ -d "/proc/$1" ]; do
			n=$(open_fds "$1")
			[ "$n" -gt "$max" ] && max=$n
			sleep 0.2
		done
		echo $max >"$2" # the daemon is gone
	) &
	SAMPLER=$!
}
stop_sampler() { kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null; SAMPLER=; }
SAMPLER= READER=
at_exit '[ -z "$SAMPLER" ] || kill "$SAMPLER"; [ -z "$READER" ] || kill "$READER"'

# sums DIR OUT: every file's sha1 and path, sorted by path, into OUT.
sums() {
	(cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha1sum) >"$2"
}
# check_sums NAME WANT GOT: the two sums files are the same, else the first
# differences.
check_sums() {
	if cmp -s "$2" "$3"; then ok "$1"; else
		notok "$1"
		echo "#   $(wc -l <"$2") files expected, $(wc -l <"$3") read; first differences (< expected, > read):"
		diff "$2" "$3" | grep '^[<>]' | head -6 | sed 's/^/#   /'
	fi
}

# no_emfile NAME FILE...: none of the files mentions "Too many open files".
no_emfile() {
	local name=$1 hits
	shift
	hits=$(grep -h -c 'Too many open files\|EMFILE\|ENFILE' "$@" 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
	if [ "$hits" = 0 ]; then ok "$name"; else
		notok "$name"; echo "#   $hits lines, e.g.: $(grep -h -m2 'Too many open files\|EMFILE\|ENFILE' "$@" | head -2 | flat)"
	fi
}

# check_le NAME A B: A <= B (integers; a missing one fails).
check_le() {
	if [ -n "$2" ] && [ -n "$3" ] && [ "$2" -le "$3" ] 2>/dev/null; then ok "$1"; else
		notok "$1"; echo "#   expected: ${2:-(none)} <= ${3:-(none)}"
	fi
}

# --- a. 200,000 files walked ---------------------------------------------------
t0=$(date +%s)
TREE=$A/tree
made=$("$SCALE" gen "$TREE" 2000 100 40 2>"$T/gen.err")
check_eq "generate 2,000 x 100 files plus a 40-deep chain" 200080 "$made"
n_native=$(find "$TREE" -type f | wc -l)
grep_native=$(cd "$TREE" && grep -r -l -F NEEDLE-scale . | LC_ALL=C sort | sha1sum | cut -d' ' -f1)
sums "$TREE" "$T/sums-native"
echo "# native: $n_native files; generated and walked in $(since "$t0") s"

# walk_case LABEL FD_CACHE_ARGS...: mount the tree read-only with the given
# --fd-cache arguments (none: the default), walk it, check the stats.
walk_case() {
	local label=$1 mnt=$T/mnt-a-$1 st=$T/stats-a-$1.json pid n g h t1 peak fdc lines
	shift
	t1=$(date +%s)
	if ! scale_mount "$TREE" "$mnt" --rule 'read=**' --stats-file "$st" "$@"; then
		notok "$label: mount"
		return
	fi
	pid=$(daemon_pid "$mnt")
	check_eq "$label: the daemon runs under a $FD_LIMIT-fd limit" "$FD_LIMIT/$FD_LIMIT" "$(fd_limit_of "$pid")"
	sample_fds "$pid" "$T/fds-a-$label"
	n=$(find "$mnt" -type f 2>>"$T/walk-a-$label.err" | wc -l)
	check_eq "$label: find -type f counts every file" "$n_native" "$n"
	# Each mount reads every byte once (a second pass cost 15-30 s on
	# this 2-core machine): grep -r with the default budget, the content
	# hash, which also catches an evicted fd's reuse, with the tiny one.
	if [ "$label" = default ]; then
		g=$(cd "$mnt" && grep -r -l -F NEEDLE-scale . 2>>"$T/walk-a-$label.err" | LC_ALL=C sort | sha1sum | cut -d' ' -f1)
		check_eq "$label: grep -r finds the same files as native" "$grep_native" "$g"
	else
		sums "$mnt" "$T/sums-a-$label" 2>>"$T/walk-a-$label.err"
		check_sums "$label: every file's path and contents as native" "$T/sums-native" "$T/sums-a-$label"
	fi
	stop_sampler
	lines=$(stats_now "$pid" "$st")
	check "$label: SIGUSR1 writes --stats-file" test -n "$lines"
	echo "# $label stats after the walks: $(echo "$lines" | flat)"
	inodes=$(echo "$lines" | field inodes) heap=$(echo "$lines" | field heap_bytes)
	if [ -n "$inodes" ] && [ "$inodes" -gt 0 ] 2>/dev/null && [ -n "$heap" ]; then
		echo "# $label: heap $heap bytes for $inodes remembered inodes: $((heap / inodes)) bytes per inode; process fds sampled at most $(cat "$T/fds-a-$label" 2>/dev/null)"
		# Issue 11's target is 256; twice that catches a per-inode leak
		# without failing on allocator noise.
		check_le "$label: daemon heap per remembered inode <= 512 bytes" "$((heap / inodes))" 512
		check_le "$label: the kernel's 200,000 inodes are remembered" 200000 "$inodes"
	else
		notok "$label: the stats give inodes and heap_bytes"
	fi
	check "$label: still mounted, ls works" ls "$mnt/d00000" >/dev/null
	fs_umount "$mnt"
	check_eq "$label: umount" 0 $?
	fs_wait_daemon_gone "$mnt" 10
	lines=$(stats_file "$st")
	echo "# $label stats at unmount: $(echo "$lines" | flat)"
	fdc=$(echo "$lines" | field fd_cache)
	peak=$(echo "$lines" | field fds_peak)
	if [ "$label" = default ]; then
		# About a quarter of the soft limit; at most half leaves the rest
		# to the files the sandbox holds open.
		check_le "$label: the default fd budget leaves most of the $FD_LIMIT fds free" "$fdc" $((FD_LIMIT / 2))
	else
		check_eq "$label: --fd-cache reaches the daemon" 16 "$fdc"
	fi
	# The slack: fds pinned by requests in flight (libfuse's worker
	# threads) come on top of the cache, and the cache is trimmed by a
	# sweeping thread, so it overshoots between two sweeps: fds_peak was
	# 42 to 50 for a budget of 16 at a load average of 8-10 here.
	check_le "$label: cached fds stay within the budget + 64 (fds_peak)" "$peak" $((${fdc:-0} + 64))
	check_le "$label: the daemon's open fds (sampled) stay within the budget + 64" \
		"$(cat "$T/fds-a-$label" 2>/dev/null)" $((${fdc:-0} + 64))
	check_le "$label: evictions happened" 1 "$(echo "$lines" | field evictions)"
	no_emfile "$label: nothing answered EMFILE (walks and daemon)" "$T/walk-a-$label.err" "$T/daemon-mnt-a-$label.err"
	echo "# case a ($label): $(since "$t1") s"
}
walk_case default
walk_case fdcache16 --fd-cache 16

# --- b. 50,000 files created in a delta ----------------------------------------
t0=$(date +%s)
"$SCALE" gen "$A/ref-b/new" 500 100 >/dev/null
mkdir -p "$A/src-b"
echo 'already here' >"$A/src-b/README"
cp "$A/src-b/README" "$A/ref-b/README"
sums "$A/ref-b" "$T/sums-ref-b"
MB=$T/mnt-b
if scale_mount "$A/src-b" "$MB" --rule 'write=**' --delta "$A/delta-b" --stats-file "$T/stats-b.json"; then
	made=$("$SCALE" gen "$MB/new" 500 100 2>"$T/b.err")
	check_eq "b: create 50,000 files through the mount" 50000 "$made"
	check_eq "b: find lists them" 50001 "$(find "$MB" -type f 2>>"$T/b.err" | wc -l)"
	sums "$MB" "$T/sums-b" 2>>"$T/b.err"
	check_sums "b: read back, every file as written" "$T/sums-ref-b" "$T/sums-b"
	check_eq "b: ls of the mount works" "README new" "$(ls "$MB" 2>>"$T/b.err" | flat)"
	fs_umount "$MB"
	check_eq "b: umount" 0 $?
	fs_wait_daemon_gone "$MB" 10
	echo "# b stats at unmount: $(stats_file "$T/stats-b.json" | flat)"
	peak=$(stats_file "$T/stats-b.json" | field fds_peak)
	fdc=$(stats_file "$T/stats-b.json" | field fd_cache)
	check_le "b: cached fds stay within the budget + 64" "$peak" $((${fdc:-0} + 64))
	check_eq "b: the delta holds the 50,000 files" 50000 "$(find "$A/delta-b/upper/new" -type f | wc -l)"
	sums "$A/ref-b/new" "$T/sums-ref-b-new"
	sums "$A/delta-b/upper/new" "$T/sums-b-upper"
	check_sums "b: ... with the contents written" "$T/sums-ref-b-new" "$T/sums-b-upper"
	no_emfile "b: nothing answered EMFILE" "$T/b.err" "$T/daemon-mnt-b.err"
else
	notok "b: mount"
fi
echo "# case b: $(since "$t0") s"

# --- c. a rename/unlink storm under constant eviction --------------------------
t0=$(date +%s)
W=4 NSRC=24 OPS=3000 SEED=11
"$SCALE" storm-init "$A/src-c/storm" $W $NSRC
# Ballast, so that the reader's walk evicts the storm's fds too.
"$SCALE" gen "$A/src-c/ballast" 20 100 >/dev/null
MC=$T/mnt-c
if scale_mount "$A/src-c" "$MC" --rule 'write=**' --delta "$A/delta-c" --fd-cache 16 --stats-file "$T/stats-c.json"; then
	pid=$(daemon_pid "$MC")
	# The reader: walks and reads everything over and over.  Names vanish
	# under it (ENOENT is fine); any other error is not.
	(
		while [ ! -e "$T/c.stop" ] && [ -d "$T" ]; do
			find "$MC" -type f -exec cat {} + >/dev/null
			ls -lR "$MC/storm" >/dev/null
		done
	) 2>"$T/c-reader.err" &
	READER=$!
	out=$(timeout -k 5 120 "$SCALE" storm "$MC/storm" $W $NSRC $OPS $SEED 2>"$T/c.err")
	rc=$?
	touch "$T/c.stop"
	wait "$READER"
	READER=
	if [ $rc = 0 ]; then ok "c: $W x $OPS operations, each as predicted; the tree as expected ($out)"; else
		notok "c: $W x $OPS operations, each as predicted; the tree as expected"
		echo "#   exit $rc: $out"; head -20 "$T/c.err" | sed 's/^/#   /'
	fi
	others=$(grep -v 'No such file or directory' "$T/c-reader.err")
	check_eq "c: the concurrent reader saw no error but vanished names" "" "$(echo "$others" | head -5 | flat)"
	check "c: the daemon is alive" pid_alive "$pid"
	check_eq "c: ls works" "p0 p1 p2 p3 p4 p5 p6 p7" "$(ls "$MC/storm" 2>&1 | flat)"
	files=$(echo "$out" | awk '{ print $2 }')
	check_eq "c: find counts the expected files" "$((files + 2000))" "$(find "$MC" -type f 2>&1 | wc -l)"
	lines=$(stats_now "$pid" "$T/stats-c.json")
	echo "# c stats: $(echo "$lines" | flat)"
	check_le "c: evictions happened" 1 "$(echo "$lines" | field evictions)"
	fs_umount "$MC"
	check_eq "c: umount" 0 $?
	fs_wait_daemon_gone "$MC" 10
	check_le "c: cached fds stay within the budget + 64" "$(stats_file "$T/stats-c.json" | field fds_peak)" $((16 + 64))
	no_emfile "c: nothing answered EMFILE" "$T/c.err" "$T/c-reader.err" "$T/daemon-mnt-c.err"
	# The same delta, mounted again by a fresh daemon.
	if scale_mount "$A/src-c" "$T/mnt-c2" --rule 'write=**' --delta "$A/delta-c" --fd-cache 16; then
		out=$("$SCALE" storm-verify "$T/mnt-c2/storm" $W $NSRC $OPS $SEED 2>"$T/c2.err")
		check "c: a fresh mount of the delta shows the expected tree ($out)" test $? = 0
		head -10 "$T/c2.err" | sed 's/^/#   /'
		fs_umount "$T/mnt-c2"
		fs_wait_daemon_gone "$T/mnt-c2" 10
	else
		notok "c: a fresh mount of the delta"
	fi
	# Kernel overlayfs over source + delta: the delta is in its format.
	mkdir -p "$T/ovl-c" "$A/delta-c/work"
	if mount -t overlay overlay -o "lowerdir=$A/src-c,upperdir=$A/delta-c/upper,workdir=$A/delta-c/work" "$T/ovl-c" 2>"$T/ovl-c.err"; then
		at_exit "umount -l '$T/ovl-c'"
		out=$("$SCALE" storm-verify "$T/ovl-c/storm" $W $NSRC $OPS $SEED 2>"$T/c3.err")
		check "c: overlayfs over source + delta shows the expected tree ($out)" test $? = 0
		head -10 "$T/c3.err" | sed 's/^/#   /'
		umount "$T/ovl-c"
	else
		notok "c: overlayfs mounts source + delta: $(head -1 "$T/ovl-c.err")"
	fi
else
	notok "c: mount"
fi
echo "# case c: $(since "$t0") s"

# --- d. the source changed on the host under evicted inodes --------------------
# The kernel keeps a name's inode for a day (FS_CACHE_TIMEOUT, fusefs/fs_mount.c:
# the source is assumed not to change, as overlayfs assumes of its lower
# layers), so a read by a name it already resolved is a read of the inode it
# remembers.  When the daemon has evicted that inode's fds and the source
# changed meanwhile, the daemon must reopen the same object or refuse:
#   - an fd opened before the change reads the bytes of the object it was
#     opened on (what a native fd reads: the object moved, it did not
#     change) or fails with ESTALE/ENOENT/EIO; never the new object's bytes;
#   - a read by a name resolved before the change gives the remembered
#     object's own bytes, the bytes of the object now at that name, or
#     ESTALE/ENOENT; never the bytes of any third object, never EMFILE;
#   - a name first looked up after the change (moved.txt, b2/f.txt) is
#     resolved afresh and must give exactly what native gives, as must the
#     listings of directories not listed before the change.
# OLD, NEW, F, IMPOSTER and G below are the only contents in play; each is
# unique in the tree.
t0=$(date +%s)
S=$A/src-d MD=$T/mnt-d
mkdir -p "$S/d/a" "$S/d/b"
OLD="OLD victim $RANDOM" NEW="NEW victim $RANDOM" F="F original $RANDOM" IMP="IMPOSTER $RANDOM" G="G new $RANDOM"
echo "$OLD" >"$S/d/a/victim.txt"
echo "$F" >"$S/d/b/f.txt"
"$SCALE" gen "$S/fill" 30 100 >/dev/null
if scale_mount "$S" "$MD" --rule 'read=**' --fd-cache 16 --stats-file "$T/stats-d.json"; then
	pid=$(daemon_pid "$MD")
	stat "$MD/d/a/victim.txt" "$MD/d/b/f.txt" >/dev/null
	exec {vfd}<"$MD/d/a/victim.txt" {ffd}<"$MD/d/b/f.txt"
	before=$(stats_now "$pid" "$T/stats-d.json" | field evictions)
	find "$MD/fill" -type f -exec cat {} + >/dev/null 2>"$T/d.err"
	after=$(stats_now "$pid" "$T/stats-d.json" | field evictions)
	check_le "d: reading 3,000 other files evicted fds (evictions $before -> $after)" $((${before:-0} + 100)) "${after:-0}"
	# On the host: replace the file, rename its sibling directory and put
	# an impostor in its place.
	mv "$S/d/a/victim.txt" "$S/d/a/moved.txt"
	echo "$NEW" >"$S/d/a/victim.txt"
	mv "$S/d/b" "$S/d/b2"
	mkdir "$S/d/b"
	echo "$IMP" >"$S/d/b/f.txt"
	echo "$G" >"$S/d/b/g.txt"

	# read_as NAME CMD...: runs CMD, prints its output, or "ERR:" and the
	# errno's message when it fails.
	read_as() {
		local out err
		out=$("$@" 2>"$T/d-read.err") && { echo "$out"; return; }
		err=$(sed 's/.*: //' "$T/d-read.err" | head -1)
		echo "ERR:$err"
	}
	# one_of NAME GOT ALLOWED...
	one_of() {
		local name=$1 got=$2 a
		shift 2
		for a in "$@"; do [ "$got" = "$a" ] && { ok "$name (got: $got)"; return; }; done
		notok "$name"; echo "#   expected one of: $*"; echo "#   actual:   $got"
	}
	got=$(read_as cat <&$vfd)
	one_of "d: an fd opened before the replacement reads its own object or fails" "$got" \
		"$OLD" "ERR:Stale file handle" "ERR:No such file or directory" "ERR:Input/output error"
	got=$(read_as cat "$MD/d/a/victim.txt")
	one_of "d: the replaced name: the remembered object, the new one, or ESTALE/ENOENT" "$got" \
		"$OLD" "$NEW" "ERR:Stale file handle" "ERR:No such file or directory"
	check_eq "d: the moved file under its new name (first lookup)" "$OLD" "$(read_as cat "$MD/d/a/moved.txt")"
	check_eq "d: the directory lists as native" "$(ls "$S/d/a" | flat)" "$(ls "$MD/d/a" 2>&1 | flat)"
	got=$(read_as cat <&$ffd)
	one_of "d: an fd opened before its directory moved reads its own object or fails" "$got" \
		"$F" "ERR:Stale file handle" "ERR:No such file or directory" "ERR:Input/output error"
	got=$(read_as cat "$MD/d/b/f.txt")
	one_of "d: a name under the replaced directory: the remembered object, the new one, or ESTALE/ENOENT" "$got" \
		"$F" "$IMP" "ERR:Stale file handle" "ERR:No such file or directory"
	got=$(read_as cat "$MD/d/b/g.txt")
	one_of "d: a new name under the remembered directory: the new file, or ESTALE/ENOENT" "$got" \
		"$G" "ERR:Stale file handle" "ERR:No such file or directory"
	check_eq "d: the renamed directory's file (first lookup)" "$F" "$(read_as cat "$MD/d/b2/f.txt")"
	check_eq "d: the renamed directory lists as native" "f.txt" "$(ls "$MD/d/b2" 2>&1 | flat)"
	check_eq "d: the parent lists as native" "a b b2" "$(ls "$MD/d" 2>&1 | flat)"
	exec {vfd}<&- {ffd}<&-
	check "d: the daemon is alive" pid_alive "$pid"
	check_eq "d: ls works" "d fill" "$(ls "$MD" 2>&1 | flat)"
	check_eq "d: find still counts the other files" 3000 "$(find "$MD/fill" -type f 2>>"$T/d.err" | wc -l)"
	echo "# d stats: $(stats_now "$pid" "$T/stats-d.json" | flat)"
	fs_umount "$MD"
	check_eq "d: umount" 0 $?
	no_emfile "d: nothing answered EMFILE" "$T/d.err" "$T/daemon-mnt-d.err"
else
	notok "d: mount"
fi
echo "# case d: $(since "$t0") s"
echo "# total: $(since "$t_start") s"
