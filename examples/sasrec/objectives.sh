# The training objectives of the accuracy/time frontier, as examples/sasrec
# flags; sourced by frontier.sh and epochtime.sh so both measure the same
# objectives. OBJECTIVES overrides which run, in that order.
# shellcheck disable=SC2034
declare -A objectives=(
	[bce-1]="-loss bce -negs 1"
	[bce-256]="-loss bce -negs 256"
	[gbce-256]="-loss gbce -negs 256 -gbce-t 0.75"
	[logq-256]="-loss sampled -logq -negs 256 -shared"
	[logq-1024]="-loss sampled -logq -negs 1024 -shared"
	[ce]="-loss ce"
)
