#!/bin/sh
# Install the Debian packages fencefs needs, only when something is missing.
#   scripts/deps.sh GROUP...   groups: build test bench fuzz
# Runs `apt-get update` at most once.  Without root and with something
# missing, it says what to install and fails.
set -eu

pkgs=""
need() { pkgs="$pkgs $1"; }

have_pc() { pkg-config --exists "$1" 2>/dev/null; }
have_cmd() { command -v "$1" >/dev/null 2>&1; }

command -v pkg-config >/dev/null 2>&1 || need pkg-config
for group in "$@"; do
	case "$group" in
	build)
		have_cmd cc || need gcc
		have_cmd make || need make
		have_pc fuse3 || need libfuse3-dev
		have_pc libseccomp || need libseccomp-dev
		have_pc libpcre2-8 || need libpcre2-dev
		have_pc inih || need libinih-dev
		have_cmd fusermount3 || need fuse3
		;;
	test)
		have_pc cmocka || need libcmocka-dev
		have_cmd setfattr || need attr
		have_cmd ip || need iproute2
		have_cmd groff || need groff
		have_cmd python3 || need python3
		/usr/bin/python3 -c 'import setuptools, wheel, pip, pytest, mypy' 2>/dev/null || need "python3-pytest python3-mypy python3-pip python3-setuptools python3-wheel"
		have_cmd git || need git
		have_cmd patch || need patch
		have_cmd unshare || need util-linux
		have_cmd setpriv || need util-linux
		;;
	bench)
		have_cmd bindfs || need bindfs
		have_cmd fuse-overlayfs || need fuse-overlayfs
		have_cmd unionfs-fuse || need unionfs-fuse
		have_cmd bwrap || need bubblewrap
		have_cmd firejail || need firejail
		have_cmd hyperfine || need hyperfine
		have_cmd fio || need fio
		;;
	fuzz)
		have_cmd clang || need clang
		;;
	*) echo "deps.sh: unknown group '$group'" >&2; exit 2 ;;
	esac
done

[ -z "$pkgs" ] && exit 0
# shellcheck disable=SC2086
set -- $pkgs
if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing packages: $*" >&2
	echo "deps.sh: run as root: apt-get install -y $*" >&2
	exit 1
fi
echo "deps.sh: installing: $*" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "$@" >&2
