#!/bin/bash
# make demo: run an "agent" under fence-run with the agent-safe preset on a
# sample codebase and show what it could see, what it was refused, and
# what it wrote (kept apart from the codebase in a delta).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
FENCEFS=$ROOT/$BUILD/fencefs
FENCERUN=$ROOT/$BUILD/fence-run
work=$(mktemp -d /tmp/fence-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
proj=$work/proj

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# A small codebase with the secrets an agent must never read.
mkdir -p "$proj"/{src,config/secrets,keys,output,docs}
printf 'int main(void) { return 0; }\n' >"$proj/src/main.c"
printf '# demo project\n' >"$proj/README.md"
printf 'DATABASE_PASSWORD=hunter2\n' >"$proj/.env"
printf 'API_TOKEN=abc123\n' >"$proj/src/.env.local"
printf 'db: s3cret\n' >"$proj/config/secrets/db.yaml"
printf -- '-----BEGIN PRIVATE KEY-----\nDEMO\n' >"$proj/keys/server.pem"
printf 'machine example.com password x\n' >"$proj/.netrc"
(cd "$proj" && git init -q && git add -A && git -c user.name=demo -c user.email=demo@example.invalid commit -qm init) || true

say "The codebase on the host ($proj)"
(cd "$proj" && find . -path ./.git -prune -o -print | sort)

say "fencefs explain --preset agent-safe: the level of each path, and why"
"$FENCEFS" explain --preset agent-safe /src/main.c /.env /src/.env.local \
	/config/secrets/db.yaml /keys/server.pem /.netrc /.git/config /output/report.txt

say "The agent runs inside fence-run (agent-safe preset):"
cat <<'AGENT'
  ls -la; find . -name '*secret*'; cat .env; cat keys/server.pem;
  echo patched >> src/main.c; echo 'summary' > output/report.txt; git log --oneline
AGENT
set +e
"$FENCERUN" --codebase "$proj" --preset agent-safe --delta "$work/delta" \
	--audit "$work/audit.jsonl" --result "$work/result.json" --timeout 30s -- \
	sh -c 'ls -la; find . -name "*secret*"; cat .env; cat keys/server.pem;
	       echo patched >> src/main.c; echo summary > output/report.txt; git log --oneline'
rc=$?
set -e
echo "(exit status $rc)"

say "What was refused (audit log: deny events)"
grep '"event":"deny"' "$work/audit.jsonl" | python3 -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    print("  %-8s %-28s %-6s %s by %s" % (e["op"], e["path"], e["level"], e["errno"], e.get("comm", "?")))
' || true

say "What it wrote (kept in the delta, not in the codebase)"
"$FENCEFS" diff "$work/delta" || true

say "The codebase is unchanged"
(cd "$proj" && git status --short && echo "  git status: clean")

say "fence-run --result"
cat "$work/result.json"; echo
