#!/bin/sh
# `genrep train` steps with a BigGAN-deep-128 generator (random weights at
# the published full width, bench/make_biggan_random.py) against the shipped
# Fashion-MNIST DCGAN, same encoder (small, width 32), batch 16 (32 views per
# step), SimCLR pixels, 2 threads, in one session: REPS runs of each,
# alternating; per run the img/s of its steps (metrics.csv's last row: all
# steps after set-up) and the share of the time spent making the views
# (latents + generator rendering, the "in the generator" line of genrep
# train). BigGAN at --size 32 (area-averaged) and at its own 128 px.
# The measured FMA peak first (bench_peak), to give the generator's % of it.
#   /work/bench-quiet sh bench/run_biggan_train.sh      (from the repo root)
# Env: G (build/genrep), BIG (build/bench/biggan128_random.safetensors, made
# if missing), REPS (3), STEPS_BIG (3), STEPS_DC (20).
set -e
G=${G:-build/genrep}
BIG=${BIG:-build/bench/biggan128_random.safetensors}
REPS=${REPS:-3}; STEPS_BIG=${STEPS_BIG:-3}; STEPS_DC=${STEPS_DC:-20}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
load() { cut -d' ' -f1-3 /proc/loadavg; }
[ -s "$BIG" ] || /usr/bin/python3 bench/make_biggan_random.py --res 128 --out "$BIG"
[ -x build/bench/bench_peak ] || make -C bench ../build/bench/bench_peak
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
echo "== $(date -u +%FT%TZ), load: $(load), $(nproc) CPUs, $($G info | tr '\n' ' ')"
build/bench/bench_peak --benchmark_repetitions=3 --benchmark_report_aggregates_only=true 2>/dev/null | grep -E "median|Benchmark"
run() { # name, steps, flags...
    name=$1; steps=$2; shift 2
    rm -rf "$T/run"
    "$G" train "$@" --batch 16 --steps "$steps" --threads 2 --out "$T/run" --resume no 2> "$T/err.txt" || { cat "$T/err.txt"; exit 1; }
    ips=$(tail -n 1 "$T/run/metrics.csv" | cut -d, -f4)
    gen=$(grep -o "[0-9.]*% of the time in the generator.*" "$T/err.txt")
    echo "$name  img/s $ips  $gen  (load $(load))"
}
for r in $(seq "$REPS"); do
    echo "-- round $r"
    run "dcgan 1x28x28         " "$STEPS_DC" --gen weights/fmnist_dcgan.safetensors
    run "biggan128 -> 3x32x32  " "$STEPS_BIG" --gen "$BIG" --class all --size 32
    run "biggan128 3x128x128   " "$STEPS_BIG" --gen "$BIG" --class all
done
echo "== done $(date -u +%FT%TZ), load: $(load)"
