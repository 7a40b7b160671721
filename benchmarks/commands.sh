#!/usr/bin/env bash
# Wall-clock seconds of the two commands on a fresh clone (target: both under 10 minutes
# together on 2 cores). The clone gets its own .venv, as CI's does.
#     bash benchmarks/commands.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q "$repo" "$work/clone"
cd "$work/clone"
for target in demo test; do
  start=$(date +%s)
  make "$target" > "$work/$target.log" 2>&1 || { echo "make $target failed: see the log"; tail -20 "$work/$target.log"; exit 1; }
  echo "make $target: $(( $(date +%s) - start )) s"
done
