#!/bin/bash
# difftest_fdcache.sh - the differential test (difftest.sh: every seed, the
# fencefs mounts and the run inside fence-run) once more with the daemon's
# fd budget at 16 (--fd-cache 16), so that eviction happens constantly
# (issue 11 item 4).  Result lines read "ok - [fd-cache 16] ...".  Skips
# while fencefs has no `mount --fd-cache`.
export FENCE_SEC_FD_CACHE=${FENCE_SEC_FD_CACHE:-16}
exec bash "$(dirname "$0")/difftest.sh"
