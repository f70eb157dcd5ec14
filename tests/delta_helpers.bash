# Helpers for tests/delta_*.sh (sourced after lib.sh): build deltas in the
# on-disk format of common/delta_format.h with kernel overlayfs, so diff,
# commit and discard can be tested without the FUSE daemon.
#
# overlayfs writes the upper dir, whiteouts and opaque xattrs exactly as a
# fencefs delta has them; it does not write fencefs-delta.json or the
# trusted.fencefs.origin xattrs, so these helpers add them the way the
# daemon does (origin = the source's dev, ino, size and mtime at copy-up).

# delta_new SRC D [LEVEL=PATTERN...]: an empty delta D for SOURCE SRC, made now.
delta_new() {
	local src=$1 d=$2
	shift 2
	mkdir -p "$d/upper" "$d/work" && chmod 0700 "$d" || return 1
	python3 - "$src" "$d" "$@" <<'EOF'
import datetime, json, sys
src, d, rules = sys.argv[1], sys.argv[2], sys.argv[3:]
now = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%fZ')
meta = {"fencefs_delta": 1, "version": "0.1.0", "created": now, "source": src,
        "xattr_ns": "trusted", "rules": [r.split('=', 1) for r in rules]}
with open(d + '/fencefs-delta.json', 'w') as f:
    json.dump(meta, f)
EOF
}

# _delta_snapshot SRC FILE: the origin record of every entry of SRC, as JSON.
_delta_snapshot() {
	python3 - "$1" "$2" <<'EOF'
import json, os, sys
src, out = sys.argv[1], sys.argv[2]
snap = {}
for root, dirs, files in os.walk(src):
    for n in dirs + files:
        p = os.path.join(root, n)
        st = os.lstat(p)
        snap[os.path.relpath(p, src)] = "dev=%d ino=%d size=%d mtime=%d.%09d" % (
            st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns // 10**9, st.st_mtime_ns % 10**9)
json.dump(snap, open(out, 'w'))
EOF
}

# ovl_run SRC D CMD [NEW=OLD...]: runs `sh -c CMD` in an overlayfs mount of
# SRC with D/upper and D/work, then records origins on what overlayfs
# copied up (entries with trusted.overlay.origin at their source path).
# NEW=OLD says that upper path NEW was copied up from source path OLD
# (a rename), as the daemon records it.
ovl_run() {
	local src=$1 d=$2 cmd=$3 mnt snap rc
	shift 3
	mnt=$(mktemp -d "$T/mnt.XXXXXX") && snap=$(mktemp "$T/snap.XXXXXX") || return 1
	_delta_snapshot "$src" "$snap" || return 1
	mount -t overlay overlay -o "lowerdir=$src,upperdir=$d/upper,workdir=$d/work" "$mnt" ||
		return 1
	(cd "$mnt" && sh -c "$cmd")
	rc=$?
	umount "$mnt" || return 1
	python3 - "$d/upper" "$snap" "$@" <<'EOF' || return 1
import json, os, stat, sys
upper, snap = sys.argv[1], json.load(open(sys.argv[2]))
renames = dict(a.split('=', 1) for a in sys.argv[3:])
def has(p, name):
    try:
        os.getxattr(p, name, follow_symlinks=False)
        return True
    except OSError:
        return False
for root, dirs, files in os.walk(upper):
    for n in dirs + files:
        p = os.path.join(root, n)
        rel = os.path.relpath(p, upper)
        st = os.lstat(p)
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            continue
        old = renames.get(rel, rel if has(p, 'trusted.overlay.origin') else None)
        if old in snap:
            os.setxattr(p, 'trusted.fencefs.origin', snap[old].encode(), follow_symlinks=False)
EOF
	return $rc
}

# tree_state DIR: one line per entry (path, type, mode, size, content hash),
# for "nothing changed" and "same tree" comparisons.
tree_state() {
	(cd "$1" && find . -mindepth 1 -printf '%P %y %m %s %l\n' | sort &&
		find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
}

# no_delta_xattrs DIR: true when no file in DIR carries an overlay or fencefs xattr.
no_delta_xattrs() {
	! getfattr -R -h -d -m - "$1" 2>/dev/null | grep -Eq 'overlay\.|fencefs\.'
}

need_overlay() {
	local m=$T/ovl-probe
	mkdir -p "$m/l" "$m/u" "$m/w" "$m/m"
	mount -t overlay overlay -o "lowerdir=$m/l,upperdir=$m/u,workdir=$m/w" "$m/m" 2>/dev/null ||
		skip_all "kernel overlayfs cannot be mounted here"
	umount "$m/m"
	rm -rf "$m"
}

# every TEST...: each argument is a shell condition, eval'd; true when all
# hold.  So `check NAME every '[ a ]' '[ b ]'` checks both, not just the first.
every() {
	local t
	for t in "$@"; do eval "$t" || return 1; done
}
