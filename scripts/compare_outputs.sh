#!/usr/bin/env bash
# Compare the reports of two bccaudit builds on the samples and on every corpus in a directory:
# the CSVs must be byte-identical, summary.json identical except times and arguments.
#
#   scripts/compare_outputs.sh OLD_BINARY NEW_BINARY [CORPORA_DIR]
#
# CORPORA_DIR defaults to ../shared/corpora (development material beside the checkout). Each
# file or directory in it is one input; archives (.tgz) are extracted to a temporary directory
# first. Exit status 0 when every report agrees, 1 otherwise (the differences are printed).
set -uo pipefail
old=$1 new=$2
here=$(cd "$(dirname "$0")/.." && pwd)
corpora=${3:-$here/../shared/corpora}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

inputs=("$here/samples")
if [ -d "$corpora" ]; then
  for c in "$corpora"/*; do
    case "$c" in
      *.md) ;;
      *.tgz|*.tar.gz)
        d="$work/extract/$(basename "$c")"; mkdir -p "$d"; tar -xzf "$c" -C "$d"; inputs+=("$d") ;;
      *) inputs+=("$c") ;;
    esac
  done
fi

strip() { # summary.json without what legitimately differs between runs
  python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); [s.pop(k,None) for k in ("started","finished","arguments")]; print(json.dumps(s,sort_keys=True,indent=1))' "$1"
}

cols() { # a CSV without the columns newer builds add, byte for byte otherwise
  python3 -c '
import csv,sys
drop={"custodians","new","list"}
r=csv.reader(open(sys.argv[1],newline=""))
w=csv.writer(sys.stdout,lineterminator="\r\n")
h=next(r,None)
if h is None: sys.exit()
keep=[i for i,c in enumerate(h) if c not in drop]
w.writerow([h[i] for i in keep])
for row in r: w.writerow([row[i] for i in keep])
' "$1"
}

fail=0
for i in "${inputs[@]}"; do
  name=$(basename "$i")
  for side in old new; do
    bin=$old; [ $side = new ] && bin=$new
    "$bin" scan "$i" --out "$work/$side-$name" -q --internal-domain police.example >"$work/$side-$name.stdout" 2>"$work/$side-$name.stderr"
    echo $? >"$work/$side-$name.rc"
  done
  same=1
  cmp -s "$work/old-$name.rc" "$work/new-$name.rc" || { same=0; echo "$name: exit $(cat "$work/old-$name.rc") -> $(cat "$work/new-$name.rc")"; }
  for f in incidents.csv messages.csv affected.csv exposures.csv; do
    # Columns added later (custodians, new, list) are dropped from both sides before comparing.
    if ! cmp -s <(cols "$work/old-$name/$f") <(cols "$work/new-$name/$f"); then
      same=0; echo "$name: $f differs"; diff <(cols "$work/old-$name/$f" | head -c 200000) <(cols "$work/new-$name/$f" | head -c 200000) | head -10
    fi
  done
  if [ -f "$work/old-$name/summary.json" ] && [ -f "$work/new-$name/summary.json" ]; then
    if ! diff -q <(strip "$work/old-$name/summary.json") <(strip "$work/new-$name/summary.json") >/dev/null; then
      same=0; echo "$name: summary.json differs"
      diff <(strip "$work/old-$name/summary.json") <(strip "$work/new-$name/summary.json") | head -20
    fi
  fi
  [ $same = 1 ] && echo "$name: identical"
  [ $same = 1 ] || fail=1
done
exit $fail
