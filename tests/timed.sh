#!/usr/bin/env bash
# Runs one stage of `make test` (its name, then its command) and notes how long it took in
# results/stage-times.txt, which `make test` prints when every stage has passed.
stage=$1
shift
start=$(date +%s)
"$@"
status=$?
mkdir -p results
outcome=$([ "$status" = 0 ] && echo ok || echo "failed ($status)")
printf '%-18s %5ds  %s\n' "$stage" $(($(date +%s) - start)) "$outcome" >>results/stage-times.txt
exit "$status"
