#!/bin/bash
# The Python SDK's pytest suite (sdk/python/tests) against the fence-run
# and fencefs of $FENCE_BUILD: one "ok - NAME" / "not ok - NAME" /
# "skip - NAME" line per pytest test, from its JUnit XML, so that
# tests/run.sh counts each.  Skips (77) only when no python3 with pytest
# is found (scripts/deps.sh test installs python3-pytest); Debian's python3
# first, where deps.sh installs pytest, pip, setuptools and wheel.
. "$(dirname "$0")/lib.sh"
need_root
need_fuse

py=""
for cand in /usr/bin/python3 python3; do
	if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import pytest' 2>/dev/null; then
		py=$cand
		break
	fi
done
[ -n "$py" ] || skip_all "no python3 with pytest (apt-get install python3-pytest)"
[ -x "$FENCERUN" ] || skip_all "$FENCERUN not built"

cd "$FENCE_ROOT" || exit 1
FENCE_BIN_DIR=$FENCE_BUILD FENCE_PRESET_DIR=${FENCE_PRESET_DIR:-$FENCE_ROOT/presets} \
	TMPDIR=$T PYTHONDONTWRITEBYTECODE=1 \
	"$py" -m pytest -q -p no:cacheprovider -rfE --junitxml="$T/junit.xml" sdk/python/tests
rc=$?
echo "# pytest exited $rc"
[ -s "$T/junit.xml" ] || { notok "sdk pytest produced no report"; exit 1; }
"$py" - "$T/junit.xml" <<'PY'
import sys
import xml.etree.ElementTree as ET
cases = ET.parse(sys.argv[1]).getroot().iter("testcase")
n = 0
for c in cases:
    n += 1
    name = "sdk " + c.get("classname", "").split(".")[-1] + "::" + c.get("name", "")
    if c.find("failure") is not None or c.find("error") is not None:
        print("not ok - " + name)
    elif c.find("skipped") is not None:
        print("skip - " + name)
    else:
        print("ok - " + name)
if n == 0:
    print("not ok - sdk pytest ran no test")
PY
[ "$rc" = 0 ]
