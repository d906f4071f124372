#!/usr/bin/env bash
# Seconds per training epoch of each objective of the frontier, side by side
# in one script: the objectives run alternately (ROUNDS rounds x 2 epochs
# each, no validation, one thread; THREADS="1 2" runs each at every count
# listed, labelled obj-tN for N > 1), so all see the same machine load; with
# TORCH=1 the PyTorch reference (../shared/reference/sasrec_torch.py --loss
# ce, one thread, 1 epoch) takes a turn in every round. Prints one line per
# run, then each objective's mean s/epoch and its ratio to BCE's (bce-1).
#
#   examples/sasrec/epochtime.sh [DATA] [ROUNDS]     # from the repository root
#   TORCH=1 examples/sasrec/epochtime.sh ../shared/data/amazon-beauty 2
#   OBJECTIVES="bce-1 ce" THREADS="1 2" examples/sasrec/epochtime.sh ../shared/data/amazon-beauty 3
set -euo pipefail
data=${1:-../shared/data/amazon-beauty}
rounds=${2:-2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/sasrec" ./examples/sasrec
# shellcheck source=examples/sasrec/objectives.sh
source "$(dirname "$0")/objectives.sh"
order=${OBJECTIVES:-"bce-1 bce-256 gbce-256 logq-256 logq-1024 ce"}
seqfile=$(ls "$data"/*.txt 2>/dev/null | head -1)
for ((r = 1; r <= rounds; r++)); do
	for obj in $order; do
		for th in ${THREADS:-1}; do
			label=$obj
			[ "$th" = 1 ] || label=$obj-t$th
			# shellcheck disable=SC2086
			"$tmp/sasrec" -data "$data" ${objectives[$obj]} -epochs 2 -patience 0 -eval-every 1000 -threads "$th" -seed 42 -quiet 2>/dev/null |
				tail -1 | python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join("%.3f" % x for x in d["epoch_seconds"]))' |
				sed "s/^/$r $label /; s/\$/ load $(cut -d' ' -f1 /proc/loadavg)/"
		done
	done
	if [ "${TORCH:-0}" = 1 ] && [ -n "$seqfile" ]; then
		OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 ../shared/reference/sasrec_torch.py --data "$seqfile" --loss ce \
			--epochs 1 --patience 0 --eval-every 1000 --eval-users 100 --threads 1 --seed 42 --quiet 2>/dev/null |
			tail -1 | python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join("%.3f" % x for x in d["epoch_seconds"]))' |
			sed "s/^/$r torch-ce /; s/\$/ load $(cut -d' ' -f1 /proc/loadavg)/"
	fi
done | tee "$tmp/out.txt"
awk '{for (i = 3; i <= NF - 2; i++) {s[$2] += $i; n[$2]++}}
	END {base = s["bce-1"] / n["bce-1"];
		for (o in s) printf "%-10s %.3f s/epoch  %.2fx bce-1\n", o, s[o] / n[o], (s[o] / n[o]) / base}' "$tmp/out.txt" | sort -k2 -n
