#!/bin/bash
# Presets are found from any build and any install (issue 16 item 3,
# fencefs(1) FILES): a build made with BUILD= outside the source tree
# finds the tree's presets/; `make install PREFIX=P` after a build made
# for another prefix finds P/share/fencefs/presets, and still does once P
# is moved; FENCE_PRESET_DIR overrides both; a binary copied anywhere else
# says where it looked.  Builds only the two programs, once.
. "$(dirname "$0")/lib.sh"
command -v make >/dev/null || skip_all "needs make"
unset FENCE_PRESET_DIR

B=$T/build P=$T/prefix
# The first line of an explain of /src/main.c, blanks squeezed.
explain() { env "$@" explain --preset agent-safe /src/main.c 2>&1 | head -1 | sed 's/  */ /g'; }

# A build outside the tree, for the default prefix (nothing is installed there).
if make -s -C "$FENCE_ROOT" BUILD="$B" -j2 "$B/fencefs" "$B/fence-run" >"$T/make.log" 2>&1; then
	ok "make BUILD=$B"
else
	notok "make BUILD=$B"
	sed 's/^/#   /' "$T/make.log" | tail -20
	exit 1
fi
check_eq "build outside the tree: fencefs --preset finds the tree's presets/" \
	"read /src/main.c #1 read = ** ($FENCE_ROOT/presets/agent-safe.ini:8)" "$(explain "$B/fencefs")"
check "build outside the tree: fencefs presets lists agent-safe" \
	sh -c "'$B/fencefs' presets | grep -q '^agent-safe '"
# fence-run reads the preset itself: an unknown preset says where it looked.
out=$("$B/fence-run" --preset no-such -- true 2>&1)
check_eq "build outside the tree: fence-run looks in the tree's presets/" yes \
	"$(grep -qF "not in $FENCE_ROOT/presets" <<<"$out" && echo yes || echo "no: $out")"

# Installed under another prefix than the build was made for.
if make -s -C "$FENCE_ROOT" BUILD="$B" PREFIX="$P" install >"$T/install.log" 2>&1; then
	ok "make install PREFIX=$P"
else
	notok "make install PREFIX=$P"
	sed 's/^/#   /' "$T/install.log" | tail -20
	exit 1
fi
check_eq "install: fencefs --preset finds PREFIX/share/fencefs/presets" \
	"read /src/main.c #1 read = ** ($P/share/fencefs/presets/agent-safe.ini:8)" \
	"$(explain "$P/bin/fencefs")"
out=$("$P/bin/fence-run" --preset no-such -- true 2>&1)
check_eq "install: fence-run looks in PREFIX/share/fencefs/presets" yes \
	"$(grep -qF "not in $P/share/fencefs/presets" <<<"$out" && echo yes || echo "no: $out")"
mv "$P" "$T/moved"
check_eq "a moved install still finds its presets" \
	"read /src/main.c #1 read = ** ($T/moved/share/fencefs/presets/agent-safe.ini:8)" \
	"$(explain "$T/moved/bin/fencefs")"

# The environment overrides.
mkdir -p "$T/mine"
printf '[rules]\nview = **\n' >"$T/mine/agent-safe.ini"
check_eq "FENCE_PRESET_DIR overrides the build's lookup" \
	"view /src/main.c #1 view = ** ($T/mine/agent-safe.ini:2)" \
	"$(explain FENCE_PRESET_DIR="$T/mine" "$B/fencefs")"
check_eq "FENCE_PRESET_DIR overrides the install's lookup" \
	"view /src/main.c #1 view = ** ($T/mine/agent-safe.ini:2)" \
	"$(explain FENCE_PRESET_DIR="$T/mine" "$T/moved/bin/fencefs")"

# A lone copy has nothing next to it: the error names the configured directory.
mkdir -p "$T/lone"
cp "$B/fencefs" "$T/lone/"
check_eq "a lone copy names where it looked" \
	"fencefs explain: --preset: unknown preset 'agent-safe' (not in /usr/local/share/fencefs/presets; see 'fencefs presets')" \
	"$(explain "$T/lone/fencefs")"
