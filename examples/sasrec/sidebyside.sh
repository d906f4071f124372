#!/usr/bin/env bash
# Seconds per training epoch of BCE SASRec on a dataset, this checkout against
# another revision, side by side: both binaries are built first, then run
# alternately (ROUNDS rounds x 3 epochs each, no validation), so both see the
# same machine load. Prints one line per run and the mean ratio. FLAGS adds
# flags to both runs (FLAGS="-loss ce" times full cross-entropy instead).
#
#   examples/sasrec/sidebyside.sh REV [DATA] [ROUNDS]     # from the repository root
#   examples/sasrec/sidebyside.sh 935c3a7 ../shared/data/amazon-beauty 4
#   FLAGS="-loss ce -threads 1" examples/sasrec/sidebyside.sh 05effd4
set -euo pipefail
rev=${1:?usage: sidebyside.sh REV [DATA] [ROUNDS]}
data=${2:-../shared/data/amazon-beauty}
rounds=${3:-4}
tmp=$(mktemp -d)
trap 'git worktree remove --force "$tmp/base" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
git worktree add --detach "$tmp/base" "$rev" >/dev/null
(cd "$tmp/base" && go build -o "$tmp/sasrec_base" ./examples/sasrec)
go build -o "$tmp/sasrec_head" ./examples/sasrec
for ((r = 1; r <= rounds; r++)); do
	for w in base head; do
		# shellcheck disable=SC2086 # FLAGS is a list of flags
		"$tmp/sasrec_$w" -data "$data" ${FLAGS:-} -epochs 3 -patience 0 -eval-every 1000 -seed 42 -quiet 2>/dev/null |
			tail -1 | python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join("%.3f" % x for x in d["epoch_seconds"]))' |
			sed "s/^/$r $w /; s/\$/ load $(cut -d' ' -f1 /proc/loadavg)/"
	done
done | tee "$tmp/out.txt"
awk '{for (i = 3; i <= 5; i++) {s[$2] += $i; n[$2]++}} END {printf "mean s/epoch: base %.3f head %.3f ratio head/base %.3f\n", s["base"]/n["base"], s["head"]/n["head"], (s["head"]/n["head"])/(s["base"]/n["base"])}' "$tmp/out.txt"
