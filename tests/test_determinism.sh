#!/bin/sh
# Same seed and flags give bitwise-identical outputs on 1 and 2 threads
# (--threads and OMP_NUM_THREADS) for gan-train (checkpoint, generator,
# samples, metrics without the img/s column) and steer-train (the walks file,
# on the generator of that gan-train run). `train` is covered by test_resume.sh.
set -e
B=${BUILD:-build}
G=$(cd "$(dirname "$B/genrep")" && pwd)/genrep
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
fail() { echo "FAIL: $*"; exit 1; }
same_run() { # dir1 dir2: every file equal, metrics.csv up to its last (timing) column
    for f in ckpt.safetensors generator.safetensors; do
        cmp -s "$1/$f" "$2/$f" || fail "gan-train $1 and $2: $f differs"
    done
    diff -r "$1/samples" "$2/samples" > /dev/null || fail "gan-train $1 and $2: samples differ"
    [ "$(cut -d, -f1-5 "$1/metrics.csv")" = "$(cut -d, -f1-5 "$2/metrics.csv")" ] \
        || fail "gan-train $1 and $2: metrics differ"
}

gan="gan-train --steps 3 --batch 8 --zdim 16 --width 4 --dwidth 8 --seed 7 --sample-every 3 --log-every 1 --quiet"
"$G" $gan --model cgan --threads 1 --out c1 > /dev/null 2>&1 || fail "gan-train --threads 1 failed"
"$G" $gan --model cgan --threads 2 --out c2 > /dev/null 2>&1 || fail "gan-train --threads 2 failed"
OMP_NUM_THREADS=2 "$G" $gan --model cgan --out c3 > /dev/null 2>&1 || fail "gan-train OMP_NUM_THREADS=2 failed"
same_run c1 c2
same_run c1 c3

steer="steer-train --gen c1/generator.safetensors --steps 3 --batch 4 --seed 7"
"$G" $steer --threads 1 --out w1.safetensors > /dev/null 2>&1 || fail "steer-train --threads 1 failed"
"$G" $steer --threads 2 --out w2.safetensors > /dev/null 2>&1 || fail "steer-train --threads 2 failed"
cmp -s w1.safetensors w2.safetensors || fail "steer-train: walks differ between 1 and 2 threads"
echo "determinism: gan-train (cgan) and steer-train give the same bits on 1 and 2 threads"
