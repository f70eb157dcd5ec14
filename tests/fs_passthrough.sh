#!/bin/bash
# FUSE passthrough in daemon mode (fusefs/fs_passthrough.c, fencefs(1)
# "Kernel caching and opens"): regular files are opened on a backing file,
# so their reads and writes reach the kernel's backing file without a FUSE
# message, while OPEN still comes to the daemon for the level checks.
#
# The proof that passthrough is in use is the daemon's own request trace
# (-d): a file read through the mount must cause no READ request, and the
# same read with --no-passthrough must cause some.  The rest checks what
# must not change: data, copy-up before a writable open, the source never
# written, refusals before any backing file, and opens that cannot share
# the backing file in use.
. "$(dirname "$0")/lib.sh"
need_root
need_fuse
. "$(dirname "$0")/fs_helpers.bash"
command -v python3 >/dev/null || skip_all "needs python3"

S=$T/src
mkdir -p "$S/w" "$S/r"
head -c 1048576 /dev/urandom >"$S/r/big.bin"
head -c 1048576 /dev/urandom >"$S/w/big.bin"
# Files below 128 KiB stay in the page cache (fs_passthrough.c
# FS_PT_MIN_SIZE): the ones meant to be backed are larger.
pad() { echo source; head -c 262144 /dev/zero | tr '\0' 'p'; echo; }
pad >"$S/w/note.txt"
pad >"$S/w/held.txt"
echo small >"$S/r/small.txt"
pad >"$S/w/wonly.txt"
chmod 0602 "$S/w/wonly.txt"
echo secret >"$S/r/.env"
BEFORE=$(manifest "$S")

# mount_traced NAME ARGS...: a foreground daemon with the request trace in
# $T/NAME.log; the mount is at $T/NAME.
mount_traced() {
	local name=$1 i
	shift
	mkdir -p "$T/$name"
	at_exit "_fs_force_cleanup '$T/$name'"
	"$FENCEFS" mount -d -v --exact-opens --rule 'read=**' --rule 'write=/w/' --rule 'none=.env' "$@" \
		"$S" "$T/$name" >"$T/$name.log" 2>&1 &
	DAEMON=$!
	for ((i = 0; i < 100; i++)); do
		is_mounted "$T/$name" && grep -q '^fencefs: data:' "$T/$name.log" && return 0
		sleep 0.1
	done
	echo "# mount $name: $(head -c 500 "$T/$name.log")"
	return 1
}
# requests NAME OPCODE: how many OPCODE requests the daemon got so far.
requests() {
	grep -c "opcode: $2 " "$T/$1.log"
}
py() { timeout -k 2 "$FS_TIMEOUT" python3 -c "$@" 2>&1; }

mount_traced pt || { notok "mount"; exit 1; }
M=$T/pt
grep -q '^fencefs: data: passthrough' "$T/pt.log" ||
	skip_all "no passthrough here: $(grep '^fencefs: data:' "$T/pt.log")"
ok "-v says passthrough"

# Reads: the data, and no READ request.
check_same "read: same bytes" "$S/r/big.bin" "$M/r/big.bin"
check_same "read of a write-level file: same bytes" "$S/w/big.bin" "$M/w/big.bin"
check_eq "read: no READ request" 0 "$(requests pt READ)"
check "read: OPEN still comes to the daemon" [ "$(requests pt OPEN)" -ge 2 ]

# A read-write open of a write-level file: copied up first, written
# through the backing file (no WRITE request), the source untouched.
py "
f = open('$M/w/note.txt', 'r+b')
f.seek(0); f.write(b'CHANGD\n'); f.flush()
f.seek(0); assert f.read(7) == b'CHANGD\n', 'read back through the same fd'
f.close()"
check_eq "rw open: data written" CHANGD "$(head -n 1 "$M/w/note.txt")"
check_eq "rw open: the rest kept" "$(tail -n +2 "$S/w/note.txt" | sha256sum)" \
	"$(tail -n +2 "$M/w/note.txt" | sha256sum)"
check_eq "rw open: no WRITE request" 0 "$(requests pt WRITE)"
check_eq "rw open: no READ request" 0 "$(requests pt READ)"
check_eq "rw open: the source is unchanged" source "$(head -n 1 "$S/w/note.txt")"

# fsync after writes through the backing file: the daemon, which saw no
# WRITE, must flush the delta copy through a read-write fd of its own
# (fusefs/fs_data.c fs_fsync()).  /proc shows that fd.
rw_fds() {
	local f n=0
	for f in /proc/$DAEMON/fd/*; do
		case $(readlink "$f") in
		*/upper/w/note.txt)
			# fdinfo flags are octal; the access mode is the low two bits.
			[ $(( 0$(awk '/^flags:/ { print $2 }' "/proc/$DAEMON/fdinfo/${f##*/}") & 3 )) = 2 ] &&
				n=$((n + 1)) ;;
		esac
	done
	echo $n
}

# big.bin was read above (its backing file, kept between opens, is the
# source): a writable open must not use that one but the delta copy.
py "
f = open('$M/w/big.bin', 'r+b'); f.write(b'HEAD'); f.close()"
check_eq "rw open after reads: the new bytes" HEAD "$(head -c 4 "$M/w/big.bin")"
check_eq "rw open after reads: the rest" "$(tail -c +5 "$S/w/big.bin" | sha256sum)" \
	"$(tail -c +5 "$M/w/big.bin" | sha256sum)"
check_eq "rw open after reads: no WRITE or READ request" "0 0" \
	"$(requests pt WRITE) $(requests pt READ)"

# Shared mmap writes go to the backing file (the delta copy).
py "
import mmap
f = open('$M/w/note.txt', 'r+b')
m = mmap.mmap(f.fileno(), 0)
m[0:2] = b'MM'
m.flush(); m.close(); f.close()"
check_eq "mmap write: data" MMANGD "$(head -n 1 "$M/w/note.txt")"

# A write-only open (the shell's >>) of a file the caller may read is
# backed too.
echo appended >>"$M/w/note.txt"
check_eq "write-only open: data" appended "$(tail -n 1 "$M/w/note.txt")"
check_eq "write-only open: stat sees the new size" $((7 + 262144 + 1 + 9)) \
	"$(stat -c %s "$M/w/note.txt")"
check_eq "write-only open: no WRITE request" 0 "$(requests pt WRITE)"

# An open that cannot share the backing file in use: held.txt is open
# read-only on the source when a write needs its delta copy.  New opens
# must see the new data (their reads and writes then go through the
# daemon), and after the last close new opens are backed by the copy.
exec 7<"$M/w/held.txt"
py "
f = open('$M/w/held.txt', 'r+b'); f.write(b'NEWDATA\n'); f.close()" || notok "held: write"
check_eq "held: a new open sees the write" NEWDATA "$(head -n 1 "$M/w/held.txt")"
check "held: that write went through the daemon" [ "$(requests pt WRITE)" -ge 1 ]
exec 7<&-
sleep 0.2
r0=$(requests pt READ)
check_eq "held: after the last close, read again" NEWDATA "$(head -n 1 "$M/w/held.txt")"
check_eq "held: ... through the delta copy, without READ" "$r0" "$(requests pt READ)"
check_eq "held: the source is unchanged" source "$(head -n 1 "$S/w/held.txt")"

# A small file is opened in the page cache: its cold read is a READ.
r0=$(requests pt READ)
check_eq "small file: data" small "$(cat "$M/r/small.txt")"
check "small file: read through the daemon" [ "$(requests pt READ)" -gt "$r0" ]

# A file created through the mount is open in the page cache; another open
# of it while that one is live must work (the kernel refuses mixing the two
# kinds on one inode: the daemon must not offer passthrough then).
exec 8>"$M/w/new.txt"
echo created >&8
check_eq "create: a second open while the first is live" created "$(cat "$M/w/new.txt")"
exec 8>&-
check_eq "create: after close" created "$(cat "$M/w/new.txt")"

# Refusals come before any backing file: a read-level file is not opened
# for writing, a none-level file is not there.
check_eq "read level: a write open is refused" EACCES \
	"$(py "
import errno
try:
    open('$M/r/big.bin', 'r+b')
    print('opened')
except OSError as e:
    print(errno.errorcode[e.errno])")"
check_eq "none level: not found" ENOENT \
	"$(py "
import errno
try:
    open('$M/r/.env', 'rb')
    print('opened')
except OSError as e:
    print(errno.errorcode[e.errno])")"

# A write-only open by a caller who may not read the file (0602, another
# user) must not be backed: its writes come to the daemon.
if command -v setpriv >/dev/null; then
	chmod 0755 "$T" "$M" "$M/w"
	w0=$(requests pt WRITE)
	setpriv --reuid=65534 --regid=65534 --clear-groups -- \
		sh -c 'echo other >>"$1"' _ "$M/w/wonly.txt" || notok "unreadable: write"
	check_eq "unreadable: written" other "$(tail -n 1 "$M/w/wonly.txt")"
	check "unreadable: not backed (a WRITE request)" [ "$(requests pt WRITE)" -gt "$w0" ]
	check_eq "unreadable: the caller still cannot read it" denied \
		"$(setpriv --reuid=65534 --regid=65534 --clear-groups -- \
			cat "$M/w/wonly.txt" >/dev/null 2>&1 && echo read || echo denied)"
else
	skip "unreadable: needs setpriv"
fi

# Executables run from a backing file.
printf '#!/bin/sh\necho ran\n' >"$M/w/run.sh"
chmod 755 "$M/w/run.sh"
check_eq "exec through the mount" ran "$("$M/w/run.sh" 2>&1)"

check_same "read after all that: same bytes" "$S/r/big.bin" "$M/r/big.bin"
check_eq "the source tree is unchanged" "$BEFORE" "$(manifest "$S")"
fs_umount "$M" || notok "umount"

# --no-passthrough: the same reads come to the daemon.
mount_traced nopt --no-passthrough || { notok "mount --no-passthrough"; exit 1; }
check "--no-passthrough: -v says page cache" \
	grep -q '^fencefs: data: page cache.*--no-passthrough' "$T/nopt.log"
check_same "--no-passthrough: same bytes" "$S/r/big.bin" "$T/nopt/r/big.bin"
check "--no-passthrough: READ requests" [ "$(requests nopt READ)" -ge 1 ]
fs_umount "$T/nopt" || notok "umount --no-passthrough"

# With --max-delta every write must be charged, so writes stay with the
# daemon while reads still pass through.
mount_traced budget --max-delta 10M || { notok "mount --max-delta"; exit 1; }
py "
f = open('$T/budget/w/big.bin', 'r+b'); f.write(b'x' * 10); f.close()"
check "--max-delta: writes come to the daemon" [ "$(requests budget WRITE)" -ge 1 ]
cat "$T/budget/r/big.bin" >/dev/null
check_eq "--max-delta: reads do not" 0 "$(requests budget READ)"
fs_umount "$T/budget" || notok "umount --max-delta"
# A delta copy made by an earlier mount: this daemon has no fd on it
# until fsync asks for one.
mount_traced first --delta "$T/delta" || { notok "mount --delta"; exit 1; }
py "
f = open('$T/first/w/note.txt', 'r+b'); f.write(b'1'); f.close()"
fs_umount "$T/first" || notok "umount --delta"
mount_traced again --delta "$T/delta" || { notok "mount --delta again"; exit 1; }
py "
import os
fd = os.open('$T/again/w/note.txt', os.O_RDWR); os.write(fd, b'2'); os.fsync(fd); os.close(fd)"
check_eq "fsync: no WRITE request" 0 "$(requests again WRITE)"
check "fsync: FSYNC came to the daemon" [ "$(requests again FSYNC)" -ge 1 ]
check "fsync: the daemon opened the delta copy read-write to flush it" [ "$(rw_fds)" -ge 1 ]
check_eq "fsync: data" 2 "$(head -c 1 "$T/again/w/note.txt")"
fs_umount "$T/again" || notok "umount --delta again"

check_eq "the source tree is unchanged at the end" "$BEFORE" "$(manifest "$S")"
