#!/usr/bin/env bash
# Benchmark one input: bccaudit wall time, MB/s, messages/s, peak RSS, against `grep -c '^From '`
# on the same file as the floor (warm cache: the file is read once first).
#   scripts/bench.sh FILE [extra bccaudit args...]
set -euo pipefail
f=$1; shift
cd "$(dirname "$0")/.."
cargo build --release -q
bin=target/release/bccaudit
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)"; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cat "$f" > /dev/null                       # warm the page cache
size=$(stat -c %s "$f")
t0=$(date +%s.%N); n_from=$(LC_ALL=C grep -c '^From ' "$f" || true); t1=$(date +%s.%N)
/usr/bin/time -v "$bin" scan "$f" --out "$out/r" -q "$@" > "$out/stdout" 2> "$out/time"
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$out/time")
rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out/time")
msgs=$(python3 -c "import json;print(json.load(open('$out/r/summary.json'))['counts']['messages_read'])")
python3 - "$size" "$wall" "$rss" "$msgs" "$t0" "$t1" "$n_from" <<'PY'
import sys
size, wall, rss, msgs, t0, t1, nfrom = sys.argv[1:]
parts = [float(p) for p in wall.split(':')]
secs = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
g = float(t1) - float(t0)
print(f"file            {int(size)/1e9:.2f} GB, {int(msgs)} messages (grep '^From ': {nfrom})")
print(f"bccaudit        {secs:.2f} s   {int(size)/1e6/secs:.0f} MB/s   {int(msgs)/secs:.0f} messages/s")
print(f"peak RSS        {int(rss)/1024:.1f} MB")
print(f"grep -c floor   {g:.2f} s   {int(size)/1e6/g:.0f} MB/s   ratio bccaudit/grep = {secs/g:.2f}x")
PY
