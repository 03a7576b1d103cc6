#!/bin/sh
# A training run killed with SIGKILL and resumed with --resume auto ends with
# the same checkpoint bytes as an uninterrupted run; 1 and 2 threads agree.
set -e
B=${BUILD:-build}
G=$B/genrep
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
common="train --data fmnist --batch 8 --steps 10 --ckpt-every 2 --seed 3 --quiet"
$G $common --threads 2 --out "$T/a"
$G $common --threads 1 --out "$T/c"
cmp "$T/a/ckpt.safetensors" "$T/c/ckpt.safetensors" || { echo "FAIL: 1 and 2 threads differ"; exit 1; }
$G $common --threads 2 --out "$T/b" &
pid=$!
while [ ! -f "$T/b/ckpt.safetensors" ]; do sleep 0.02; done
kill -9 $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
if [ -f "$T/b/DONE" ]; then echo "FAIL: the run finished before it could be killed"; exit 1; fi
$G $common --threads 2 --out "$T/b"
cmp "$T/a/ckpt.safetensors" "$T/b/ckpt.safetensors" || { echo "FAIL: resumed run differs"; exit 1; }
rows=$(grep -c '^[0-9]' "$T/b/metrics.csv")
[ "$rows" -eq 10 ] || { echo "FAIL: metrics.csv has $rows step rows, expected 10"; exit 1; }
echo "resume: killed + resumed run is bitwise equal to an uninterrupted one; 1 vs 2 threads equal"
# --precision bf16: 1 and 2 threads agree bitwise, it differs from fp32, it is
# recorded (config.txt, checkpoint) and resuming with another precision is refused.
$G $common --precision bf16 --threads 2 --out "$T/d"
$G $common --precision bf16 --threads 1 --out "$T/e"
cmp "$T/d/ckpt.safetensors" "$T/e/ckpt.safetensors" || { echo "FAIL: bf16: 1 and 2 threads differ"; exit 1; }
if cmp -s "$T/a/ckpt.safetensors" "$T/d/ckpt.safetensors"; then echo "FAIL: bf16 run equals the fp32 run"; exit 1; fi
grep -q '^precision = bf16$' "$T/d/config.txt" || { echo "FAIL: config.txt lacks precision = bf16"; exit 1; }
grep -q 'train.precision' "$T/d/ckpt.safetensors" || { echo "FAIL: the checkpoint does not record train.precision"; exit 1; }
if $G $common --steps 12 --threads 2 --out "$T/d" 2> "$T/err"; then echo "FAIL: resumed a bf16 run in fp32"; exit 1; fi
grep -q -- "--precision: stored 'bf16', given 'fp32'" "$T/err" || { echo "FAIL: refusal does not name --precision:"; cat "$T/err"; exit 1; }
echo "resume: bf16 runs are bitwise equal on 1 and 2 threads; --precision is recorded and checked on resume"
