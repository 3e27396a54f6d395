#!/usr/bin/env bash
# The organisation-scale benchmarks as ratios, each measured in one run of this script (flagged
# and unflagged runs alternated, 3 of each after one untimed run of each, medians):
#   (a) 40,000 exposing messages that all Cc one team address, against the same scan with
#       nothing flagged (--min-exposed huge);
#   (b) ~740,000 small messages with ~7,400 mass sends (~7 M people exposed), the same way,
#       with peak RSS;
#   (c) the 2 GB realistic mbox without the input hash, against `grep -c '^From '` (written to a
#       file: GNU grep stops at the first match when writing to /dev/null).
#
#   scripts/bench_ratios.sh [DIR]     DIR holds the generated inputs (default /tmp/bccaudit-bench,
#                                     ~4 GB; generated once, reused)
# Needs /usr/bin/time (apt-get install time). Run it on an otherwise idle machine.
set -euo pipefail
dir=${1:-/tmp/bccaudit-bench}
cd "$(dirname "$0")/.."
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)"; exit 2; }
cargo build --release -q --bin bccaudit --example gen_mbox
bin=$PWD/target/release/bccaudit
gen=$PWD/target/release/examples/gen_mbox
mkdir -p "$dir"
[ -f "$dir/a.mbox" ] || "$gen" "$dir/a.mbox" 0 --shared-cc 40000
[ -f "$dir/scale.mbox" ] || "$gen" "$dir/scale.mbox" 1700M --small --mass-every 100
[ -f "$dir/realistic.mbox" ] || "$gen" "$dir/realistic.mbox" 2G
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Let earlier writes and deletions settle before each benchmark: the small runs feel any I/O
# still in flight (the scale benchmark writes ~1.4 GB of reports per run).
settle() { rm -rf "${out:?}"/*; sync; sleep 5; }

# "seconds KB" of one scan, each into a directory of its own (as a user writing a new report
# does), all removed at the end. Every run then writes its synced reports into new space, which
# is the slower case on a thin virtual disk: on the development machine 125 MB with
# `dd … conv=fsync` took 0.20-0.35 s into new files and 0.20 s into space just freed, and the
# 40,000-message run (a 125 MB report) took 0.82 s this way against 0.745 s when the previous
# report was deleted first (on another day, with 35 GB more free on the disk, 0.77 s both ways).
scan() {
  local d
  d=$(mktemp -d -p "$out")
  /usr/bin/time -f "%e %M" -o "$d.time" "$bin" scan "$1" --out "$d/r" -q --no-input-hash "${@:2}" >/dev/null 2>&1
  cat "$d.time"
}
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

# The realistic benchmark first and the scale benchmark last: the gigabytes a benchmark frees
# are handed back by the system (on a virtual machine, to its host) for several seconds after,
# and a run in that time competes with it (the realistic runs measured 0.93 s right after the
# scale benchmark, 0.58-0.61 s on an idle machine).
f="$dir/realistic.mbox"
settle
cat "$f" >/dev/null
scan "$f" >/dev/null; LC_ALL=C grep -c '^From ' "$f" >"$out/grep.count" || true
: >"$out/ours"; : >"$out/grep"
for _ in 1 2 3; do
  read -r s _ < <(scan "$f"); echo "$s" >>"$out/ours"
  t0=$(date +%s.%N); LC_ALL=C grep -c '^From ' "$f" >"$out/grep.count" || true; t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc >>"$out/grep"
done
ours=$(median <"$out/ours"); g=$(median <"$out/grep")
awk -v o="$ours" -v g="$g" 'BEGIN {printf "realistic  bccaudit %6.2f s  grep -c %6.2f s  ratio %.2fx\n", o, g, o / g}'

for name in a scale; do
  f="$dir/$name.mbox"
  settle
  cat "$f" >/dev/null
  # One untimed run of each first (as `hyperfine --warmup 1`): what a run right after another
  # benchmark's gigabytes were freed pays (the system handing memory back) is not the scan's.
  scan "$f" >/dev/null; scan "$f" --min-exposed 1000000000 >/dev/null
  : >"$out/flagged"; : >"$out/plain"; : >"$out/rss"
  for _ in 1 2 3; do
    read -r s kb < <(scan "$f"); echo "$s" >>"$out/flagged"; echo "$kb" >>"$out/rss"
    read -r s _ < <(scan "$f" --min-exposed 1000000000); echo "$s" >>"$out/plain"
  done
  fl=$(median <"$out/flagged"); pl=$(median <"$out/plain"); rss=$(median <"$out/rss")
  awk -v n="$name" -v f="$fl" -v p="$pl" -v r="$rss" \
    'BEGIN {printf "%-6s flagged %6.2f s  nothing flagged %6.2f s  ratio %.2fx  peak RSS %d MiB\n", n, f, p, f / p, r / 1024}'
done
