#!/bin/sh
# run.sh HARNESS SECONDS — run one libFuzzer harness (build/fuzz/HARNESS) for SECONDS.
#
# Reads the committed seeds in tests/fuzz/corpus/HARNESS and writes what it finds to
# build/fuzz/new-HARNESS (the seeds are never changed; see README.md for adding to them).
# libFuzzer's output goes to build/fuzz/HARNESS.log; one summary line is printed. On a crash,
# a failed property or a hang (10 s for one input), prints the log's end and the saved input,
# and exits non-zero.
set -eu
cd "$(dirname "$0")/../.."
t=$1
secs=$2
dir=build/fuzz
mkdir -p "$dir/new-$t"
log="$dir/$t.log"
if "$dir/$t" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
    -dict=tests/fuzz/http.dict -artifact_prefix="$dir/$t-" \
    "$dir/new-$t" "tests/fuzz/corpus/$t" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\).*/cov \1, features \2, corpus \3/p')
    echo "fuzz: $t: ${secs} s, $runs runs ($rate/s), $cov"
else
    echo "fuzz: $t FAILED; the end of $log:" >&2
    tail -n 40 "$log" >&2
    ls "$dir/$t"-crash-* "$dir/$t"-leak-* "$dir/$t"-timeout-* "$dir/$t"-oom-* 2>/dev/null | sed 's/^/fuzz: saved input: /' >&2
    exit 1
fi
