#!/usr/bin/env bash
# Seconds per training epoch of full cross-entropy (-loss ce) against BCE with
# one negative (-loss bce) on a dataset, in one run: the binary is built once,
# then the two losses run alternately (ROUNDS rounds x 3 epochs each, no
# validation, seed 42), so both see the same machine load. Prints one line
# per run (the three epochs and the load average) and the CE/BCE ratio of the
# mean epoch.
#
#   examples/sasrec/ceratio.sh [DATA] [ROUNDS] [THREADS]     # from the repository root
#   examples/sasrec/ceratio.sh ../shared/data/amazon-beauty 3 1
set -euo pipefail
data=${1:-../shared/data/amazon-beauty}
rounds=${2:-3}
threads=${3:-1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/sasrec" ./examples/sasrec
for ((r = 1; r <= rounds; r++)); do
	for loss in ce bce; do
		"$tmp/sasrec" -data "$data" -loss "$loss" -threads "$threads" -epochs 3 -patience 0 -eval-every 1000 -seed 42 -quiet 2>/dev/null |
			tail -1 | python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join("%.3f" % x for x in d["epoch_seconds"]))' |
			sed "s/^/$r $loss /; s/\$/ load $(cut -d' ' -f1 /proc/loadavg)/"
	done
done | tee "$tmp/out.txt"
awk -v t="$threads" '{for (i = 3; i <= 5; i++) {s[$2] += $i; n[$2]++}} END {printf "threads %s mean s/epoch: ce %.3f bce %.3f ratio ce/bce %.2f\n", t, s["ce"]/n["ce"], s["bce"]/n["bce"], (s["ce"]/n["ce"])/(s["bce"]/n["bce"])}' "$tmp/out.txt"
