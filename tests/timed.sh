#!/usr/bin/env bash
# Runs one stage of `make test` (its name, then its command) and notes in
# results/stage-times.txt how long it took and how much processor time it used (its own and
# its children's, user + system), which `make test` prints when every stage has passed.
stage=$1
shift
start=$(date +%s)
"$@"
status=$?
mkdir -p results
# `times` (run in this shell: in a pipe it would see a subshell's children) prints this
# shell's and then its children's user and system time as NmN.NNNs.
times >"results/.cpu-$stage"
cpu=$(awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); total += t[1] * 60 + t[2] } printf "%d", total }' "results/.cpu-$stage")
rm -f "results/.cpu-$stage"
outcome=$([ "$status" = 0 ] && echo ok || echo "failed ($status)")
printf '%-18s %5ds wall %6ds cpu  %s\n' "$stage" $(($(date +%s) - start)) "$cpu" "$outcome" >>results/stage-times.txt
exit "$status"
