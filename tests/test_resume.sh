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
