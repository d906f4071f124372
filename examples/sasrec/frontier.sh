#!/usr/bin/env bash
# The accuracy/time frontier of the training objectives: trains SASRec with
# each objective on a dataset, for each seed, to early stopping on
# full-ranking validation (patience 10, at most 200 epochs, one thread),
# and writes each run's JSON line to OUT/<dataset>_<objective>_<seed>.json
# (a run whose file exists, or is being written by another invocation, is
# skipped: the script resumes, and several can share the work). Then
#
#   go run ./examples/sasrec/frontier -in OUT -out docs/objectives
#
# makes the table and one PNG per dataset. From the repository root:
#
#   examples/sasrec/frontier.sh OUT ../shared/data/amazon-beauty 42 43 44
set -euo pipefail
out=${1:?usage: frontier.sh OUT DATA SEED...}
data=${2:?usage: frontier.sh OUT DATA SEED...}
shift 2
seeds=("$@")
mkdir -p "$out"
bin=${SASREC_BIN:-}
if [ -z "$bin" ]; then
	bin=$(mktemp -d)/sasrec
	go build -o "$bin" ./examples/sasrec
fi
# shellcheck source=examples/sasrec/objectives.sh
source "$(dirname "$0")/objectives.sh"
order=${OBJECTIVES:-"ce logq-1024 logq-256 gbce-256 bce-256 bce-1"}
name=$(basename "$data")
for seed in "${seeds[@]}"; do
	for obj in $order; do
		f="$out/${name}_${obj}_${seed}.json"
		[ -s "$f" ] || [ -e "$f.tmp" ] && continue # done, or running in another invocation
		# shellcheck disable=SC2086
		"$bin" -data "$data" ${objectives[$obj]} -protocol full -patience 10 -epochs 200 \
			-threads 1 -seed "$seed" -quiet | tail -1 |
			python3 -c 'import json,sys; d=json.load(sys.stdin); d["objective"]=sys.argv[1]; d["load"]=float(open("/proc/loadavg").read().split()[0]); print(json.dumps(d))' "$obj" >"$f.tmp"
		mv "$f.tmp" "$f"
		echo "$f $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["best_epoch"], d["epochs"], round(d["train_seconds"]), d["test_by_protocol"]["full"]["ndcg@10"])' "$f")"
	done
done
