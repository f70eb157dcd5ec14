#!/bin/bash
# Quick fencefs smoke test (issue 3 "done when"): mount agent-safe over a
# small project, look around, write where allowed and not, unmount.
# The thorough suite is tests/fs_levels.sh, fs_delta.sh and friends.
. "$(dirname "$0")/lib.sh"
need_root
need_fuse
[ -x "$FENCEFS" ] || skip_all "fencefs not built ($FENCEFS)"

src=$T/proj mnt=$T/mnt
mkdir -p "$src/secrets" "$src/src" "$src/output" "$src/.git" "$mnt"
echo 'TOKEN=hunter2' >"$src/.env"
echo 'key' >"$src/secrets/api.key"
echo 'int main(void) { return 0; }' >"$src/src/main.c"
echo 'old' >"$src/output/result.txt"
echo 'ref: refs/heads/main' >"$src/.git/HEAD"
before=$(cd "$src" && find . -printf '%p %m %s %T@\n' | sort && find . -type f -exec sha256sum {} + | sort)

at_exit "timeout 10 '$FENCEFS' umount '$mnt'"
if ! TMPDIR=$T timeout 20 "$FENCEFS" mount --preset agent-safe "$src" "$mnt" 2>"$T/err"; then
	notok "mount returns 0"; cat "$T/err"; exit 1
fi
ok "mount returns 0"
is_fencefs_mount() { awk -v d="$1" '$5 == d && / - fuse\.fencefs / { f = 1 } END { exit !f }' /proc/self/mountinfo; }
check "mount is live when the command returns" is_fencefs_mount "$mnt"

listing=$(ls -A "$mnt" | tr '\n' ' ')
check_eq "ls shows no secret" ".git output src " "$listing"
err=$(cat "$mnt/.env" 2>&1 >/dev/null)
check_eq "cat hidden .env: ENOENT" "cat: $mnt/.env: No such file or directory" "$err"
err=$(cat "$mnt/secrets/api.key" 2>&1 >/dev/null)
check_eq "cat under hidden secrets/: ENOENT" \
	"cat: $mnt/secrets/api.key: No such file or directory" "$err"
check_eq "read src/main.c" "int main(void) { return 0; }" "$(cat "$mnt/src/main.c")"
check_eq ".git stays readable" "ref: refs/heads/main" "$(cat "$mnt/.git/HEAD")"
err=$( (echo x >"$mnt/src/main.c") 2>&1)
check "write src/main.c: EACCES" grep -q "Permission denied" <<<"$err"
err=$( (echo x >"$mnt/src/new.c") 2>&1)
check "create in src/: EACCES" grep -q "Permission denied" <<<"$err"
err=$( (echo x >"$mnt/.env") 2>&1)
check "create over hidden .env: EACCES (not ENOENT)" grep -q "Permission denied" <<<"$err"
mode=$(stat -c %A "$mnt/src/main.c")
check_eq "read level clears w bits" "-r--r--r--" "$mode"

echo new >"$mnt/output/result.txt" && echo made >"$mnt/output/made.txt"
check_eq "write output/result.txt" "new" "$(cat "$mnt/output/result.txt")"
check_eq "create output/made.txt" "made" "$(cat "$mnt/output/made.txt")"
rm "$mnt/output/made.txt"
check "unlink output/made.txt" test ! -e "$mnt/output/made.txt"

# chown(2) of a new file to its creator must not eat the set-ID bits it
# asked for (pjdfstest open/00): the file keeps the mode it was made with.
(umask 0 && python3 -c 'import os, sys; os.close(os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY, 0o6755))' \
	"$mnt/output/setid")
check_eq "create keeps set-ID bits" "6755" "$(stat -c %a "$mnt/output/setid")"
rm -f "$mnt/output/setid"

after=$(cd "$src" && find . -printf '%p %m %s %T@\n' | sort && find . -type f -exec sha256sum {} + | sort)
check_eq "source unchanged" "$before" "$after"
check "private delta made under \$TMPDIR" bash -c "ls -d '$T'/fencefs-delta.* >/dev/null"

pid=$(grep -l "$mnt" /run/fencefs/*.pid 2>/dev/null | head -1 | xargs -r head -1)
timeout 20 "$FENCEFS" umount "$mnt"
check_eq "umount returns 0" 0 $?
check "no mount left" bash -c "! awk '\$5 == \"$mnt\"' /proc/self/mountinfo | grep -q ."
# Gone, or a zombie that its (re)parent has not reaped yet: it runs no more.
gone() { [ ! -e "/proc/$1" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }
if [ -n "$pid" ]; then
	check "no daemon left" gone "$pid"
else
	notok "no daemon left (pid file not found)"
fi
check "private delta removed" bash -c "! ls -d '$T'/fencefs-delta.* 2>/dev/null"

# Many new files under a small fd limit: each new file's cached read-write
# fd is reclaimable, so only the one O_PATH fd per remembered inode stays.
# 800 files needed 1,600 fds (EMFILE at a 1,024 limit) before that.
fsrc=$T/fdsrc fmnt=$T/fdmnt
mkdir -p "$fsrc" "$fmnt"
if (ulimit -n 1024 && TMPDIR=$T timeout 20 "$FENCEFS" mount --rule 'write=**' --kernel-opens "$fsrc" "$fmnt"); then
	made=$(python3 -c '
import os, sys
d = sys.argv[1]
for i in range(800):
    fd = os.open("%s/f%d" % (d, i), os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(fd, b"%d\n" % i)
    os.close(fd)
print(sum(open("%s/f%d" % (d, i), "rb").read() == b"%d\n" % i for i in range(800)))
' "$fmnt" 2>&1 | tail -1)
	check_eq "800 new files under a 1024-fd daemon" 800 "$made"
	timeout 20 "$FENCEFS" umount "$fmnt"
else
	notok "800 new files under a 1024-fd daemon (mount failed)"
fi
