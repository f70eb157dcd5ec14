#!/bin/bash
# The agent-safe preset on a realistic project (docs/SPEC.md 4, issue 3's done-when):
# secrets at several depths are invisible (ls -la shows none, cat says "No
# such file or directory"), .git stays readable so git log/diff work, src is
# read-only ("Permission denied"), output/ and tmp/ are writable, the
# project is unchanged afterwards, and umount leaves no mount and no process.
. "$(dirname "$0")/lib.sh"
need_root
need_fuse
. "$(dirname "$0")/fs_helpers.bash"

P=$T/proj M=$T/mnt
mkdir -p "$P" "$M"

# Paths the preset must hide (docs/SPEC.md 4's secret patterns), at several depths.
secrets=(
	.env .env.local .env.production config/.env src/app/.env.test
	id_rsa id_rsa.pub home/.ssh/id_ed25519 home/.ssh/config deploy/id_ecdsa
	src/keys/server.key deploy/certs/site.pem deploy/certs/client.p12 deploy/win.pfx
	secrets/db.txt app/secrets/token .secrets/api
	credentials.json config/credentials .netrc .git-credentials .npmrc .pypirc
	.aws/credentials .aws/config .gnupg/pubring.kbx .docker/config.json vault.kdbx
	src/deep/er/still/.env src/deep/er/still/tls.key
)
# Paths it must show, including near misses of the secret patterns.
public=(
	README.md Makefile src/main.c src/lib/util.c src/keyboard.c src/app/app.py
	src/deep/er/still/code.rs config/settings.yaml docs/environment.md docs/keys.txt
	.docker/daemon.json deploy/deploy.sh output/previous.log tmp/scratch
	secretsauce/recipe.txt
)
for f in "${secrets[@]}"; do
	mkdir -p "$P/$(dirname "$f")"
	echo "SECRET-$f" >"$P/$f"
done
for f in "${public[@]}"; do
	mkdir -p "$P/$(dirname "$f")"
	echo "public $f" >"$P/$f"
done
chmod 0755 "$P/deploy/deploy.sh"
(
	cd "$P" &&
		git init -q -b main . &&
		git -c user.name=t -c user.email=t@e add README.md src/main.c &&
		git -c user.name=t -c user.email=t@e commit -qm "first commit" &&
		echo "changed" >>README.md
) || { notok "git fixture"; exit 1; }
manifest "$P" >"$T/before"

if fs_mount "$P" "$M" --preset agent-safe; then ok "mount --preset agent-safe"; else
	notok "mount --preset agent-safe"; exit 1; fi
# The mount is usable as soon as the command returns.
check "ls -la right after mount" sh -c "ls -la '$M' >/dev/null"

# ls -la shows no secret, at the root or anywhere.
listing=$(ls -laR "$M" 2>&1)
leaked=""
for f in "${secrets[@]}"; do
	case "$(basename "$f")" in
	config | credentials) continue ;; # names that public dirs share
	esac
	if grep -qE " $(basename "$f" | sed 's/[.]/[.]/g')\$" <<<"$listing"; then leaked+=" $f"; fi
done
check_eq "ls -laR shows no secret" "" "$leaked"
check_eq "no secret content readable anywhere" "" \
	"$(cd "$M" && timeout 20 grep -rl SECRET- . 2>/dev/null | flat)"

# Exactly the public files (and their directories) are visible, plus .git.
(cd "$P" && find "${public[@]}" -printf '%p\n'; for f in "${public[@]}"; do
	d=$(dirname "$f"); while [ "$d" != . ]; do echo "$d"; d=$(dirname "$d"); done
done) | LC_ALL=C sort -u >"$T/want"
(cd "$M" && timeout 20 find . -path ./.git -prune -o -type f -print -o -type d -print) |
	sed 's|^\./||' | grep -v '^\.$' | LC_ALL=C sort >"$T/got"
# src/keys, deploy/certs, home/.ssh... hold only secrets: directories that
# are not themselves secret stay listed (empty), hidden dirs do not.
for d in src/keys deploy/certs home app; do echo "$d"; done >>"$T/want"
LC_ALL=C sort -u -o "$T/want" "$T/want"
check_same "visible tree is exactly the public files" "$T/want" "$T/got"

# cat of a hidden path says "No such file or directory".
for f in .env config/.env src/app/.env.test src/keys/server.key home/.ssh/id_ed25519 \
	secrets/db.txt app/secrets/token .aws/credentials src/deep/er/still/tls.key; do
	err=$(timeout 10 cat "$M/$f" 2>&1 >/dev/null)
	case "$err" in *"No such file or directory") ok "cat $f: No such file or directory" ;;
	*) notok "cat $f: No such file or directory"; echo "#   actual: $err" ;; esac
done

# Writing outside output/ and tmp/ says "Permission denied".
for f in src/main.c README.md newfile src/new.c .git/config docs/keys.txt; do
	err=$( (echo x >"$M/$f") 2>&1)
	case "$err" in *"Permission denied") ok "write $f: Permission denied" ;;
	*) notok "write $f: Permission denied"; echo "#   actual: $err" ;; esac
done
err=$(timeout 10 rm -f "$M/src/main.c" 2>&1)
case "$err" in *"Permission denied") ok "rm src/main.c: Permission denied" ;;
*) notok "rm src/main.c: Permission denied"; echo "#   actual: $err" ;; esac
err=$(timeout 10 mkdir "$M/src/newdir" 2>&1)
case "$err" in *"Permission denied") ok "mkdir src/newdir: Permission denied" ;;
*) notok "mkdir src/newdir: Permission denied"; echo "#   actual: $err" ;; esac
check_eq "src is shown read-only" "-r--r--r--" "$(stat -c %A "$M/src/main.c" 2>&1)"
check_eq "scripts keep x, lose w" "-r-xr-xr-x" "$(stat -c %A "$M/deploy/deploy.sh" 2>&1)"

# Writing in output/ and tmp/ works.
check "write output/result.txt" sh -c "echo result >'$M/output/result.txt'"
check_eq "read output/result.txt back" result "$(cat "$M/output/result.txt" 2>&1)"
check "append to output/previous.log" sh -c "echo more >>'$M/output/previous.log'"
check "mkdir output/sub and write in it" sh -c "mkdir '$M/output/sub' && echo y >'$M/output/sub/f'"
check "rename inside output/" mv "$M/output/sub/f" "$M/output/g"
check "write tmp/scratch" sh -c "echo scratch2 >'$M/tmp/scratch'"
check "output/ is shown writable" test -w "$M/output/result.txt"
# A secret name stays none even under output/ (last rule wins).
expect "create output/.env: EACCES" EACCES creat "$M/output/.env"
expect "create output/x.key: EACCES" EACCES creat "$M/output/x.key"
expect "mkdir output/secrets: EACCES" EACCES mkdir "$M/output/secrets"
expect "rename a file to output/id_rsa: EACCES" EACCES rename "$M/output/g" "$M/output/id_rsa"

# .git stays readable: git log and git diff work through the mount.
check_eq "git log through the mount" "first commit" \
	"$(timeout 20 git -c safe.directory='*' -C "$M" log --format=%s 2>&1)"
check_eq "git diff through the mount" "+changed" \
	"$(timeout 20 git -c safe.directory='*' -C "$M" diff --no-ext-diff README.md 2>&1 | grep '^+changed')"
check "cat .git/HEAD" grep -q 'refs/heads/main' "$M/.git/HEAD"

# Unmount: no mount, no daemon, and the project is unchanged.
pids=$(fs_daemon_pids "$M")
check "fencefs umount" fs_umount "$M"
check "no mount left" sh -c "! awk '\$5 == \"$M\"' /proc/self/mountinfo | grep -q ."
fs_wait_daemon_gone "$M" 5
check_eq "no daemon left" "" "$(for p in $pids; do pid_alive "$p" && echo "$p"; done | flat)"

# Re-including one file under a hidden directory (docs/SPEC.md 3): secrets/ becomes
# a pass-through directory that lists only that file.  Relative SOURCE and
# MOUNTPOINT, as in the issue's `fencefs mount --preset agent-safe ./proj
# /mnt/p`.
echo "PUBLIC-KEY" >"$P/secrets/public.key"
manifest "$P" >"$T/before"
M2=$T/mnt2
mkdir -p "$M2"
at_exit "_fs_force_cleanup '$M2'"
if (cd "$T" && timeout 20 "$FENCEFS" mount --preset agent-safe --rule 'read=/secrets/public.key' \
	./proj ./mnt2); then ok "mount with relative paths"; else notok "mount with relative paths"; fi
check_eq "pass-through dir lists only the re-included file" public.key \
	"$(ls -A "$M2/secrets" 2>&1 | flat)"
check_eq "re-included file readable" PUBLIC-KEY "$(cat "$M2/secrets/public.key" 2>&1)"
expect "its hidden sibling stays hidden" ENOENT stat "$M2/secrets/db.txt"
expect "pass-through dir is view: no create" EACCES creat "$M2/secrets/new"
expect "pass-through dir is view: no rmdir" EACCES rmdir "$M2/secrets"
expect "other secret dirs stay hidden" ENOENT stat "$M2/app/secrets"
check "umount (relative)" sh -c "cd '$T' && timeout 20 '$FENCEFS' umount ./mnt2"
check_eq "project unchanged" "" "$(manifest "$P" | diff "$T/before" - | head -5 | flat)"

# --policy FILE (docs/SPEC.md 5): a preset as the base, then the file's rules.
cat >"$T/policy.ini" <<'EOF2'
[policy]
description = agent-safe, and the docs are writable
preset = agent-safe
[rules]
write = docs/
none = *.yaml
EOF2
M4=$T/mnt-policy
mkdir -p "$M4"
if fs_mount "$P" "$M4" --policy "$T/policy.ini" --exact-opens; then
	ok "mount --policy"
	check "--policy: docs/ writable" sh -c "echo more >>'$M4/docs/keys.txt'"
	expect "--policy: src still read-only" EACCES open "$M4/src/main.c" wronly
	expect "--policy: the file's none rule applies" ENOENT stat "$M4/config/settings.yaml"
	expect "--policy: the preset's secrets stay hidden" ENOENT stat "$M4/.env"
	fs_umount "$M4" || notok "--policy: umount"
else
	notok "mount --policy"
fi
check_eq "project unchanged after --policy" "" "$(manifest "$P" | diff "$T/before" - | head -5 | flat)"

# The same for an unprivileged owner of the project, in both enforcement
# modes (daemon checks with --exact-opens, and the default where the kernel
# checks opens against the level-derived mode bits), as a sandboxed agent
# would be.
command -v setpriv >/dev/null || { skip "unprivileged runs: no setpriv"; exit 0; }
chmod 0755 "$T"
for mode in user user-kernel; do
	P3=$T/proj-$mode M3=$T/mnt-$mode
	cp -a "$P" "$P3"
	chown -R -h 65534:65534 "$P3"
	mkdir -p "$M3"
	extra=(--kernel-opens)
	[ "$mode" = user ] && extra=(--exact-opens)
	fs_mount "$P3" "$M3" --preset agent-safe "${extra[@]}" || { notok "$mode: mount"; continue; }
	FS_CALLER=65534
	check_eq "$mode: ls -la shows no secret at the root" "" \
		"$(as_caller ls -la "$M3" 2>&1 | grep -E ' (\.env.*|id_rsa.*|credentials.*|\.netrc|\.npmrc|\.pypirc|\.aws|\.gnupg|\.secrets|secrets|vault\.kdbx|\.git-credentials)$' | flat)"
	err=$(as_caller cat "$M3/.env" 2>&1 >/dev/null)
	case "$err" in *"No such file or directory") ok "$mode: cat .env: No such file or directory" ;;
	*) notok "$mode: cat .env: No such file or directory"; echo "#   actual: $err" ;; esac
	err=$(as_caller sh -c "echo x >'$M3/src/main.c'" 2>&1)
	case "$err" in *"Permission denied") ok "$mode: write src/main.c: Permission denied" ;;
	*) notok "$mode: write src/main.c: Permission denied"; echo "#   actual: $err" ;; esac
	check "$mode: write output/result.txt" as_caller sh -c "echo r >'$M3/output/result.txt'"
	check_eq "$mode: read it back" r "$(as_caller cat "$M3/output/result.txt" 2>&1)"
	check_eq "$mode: git log" "first commit" \
		"$(as_caller timeout 20 git -c safe.directory='*' -C "$M3" log --format=%s 2>&1)"
	FS_CALLER=
	fs_umount "$M3" || notok "$mode: umount"
done
