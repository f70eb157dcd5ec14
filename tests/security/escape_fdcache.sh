#!/bin/bash
# escape_fdcache.sh - the whole escape suite (escape.sh) once more with the
# daemon's fd budget at 16 (fence-run --fd-cache 16), the minimum, so that
# its caches evict constantly while the probes attack (issue 11 item 4).
# Result lines read "ok - [fd-cache 16] ...".  Skips while fencefs has no
# `mount --fd-cache`.
export FENCE_SEC_FD_CACHE=${FENCE_SEC_FD_CACHE:-16}
exec bash "$(dirname "$0")/escape.sh"
