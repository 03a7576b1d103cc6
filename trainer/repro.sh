#!/bin/sh
# make repro / make repro-quick: the paper's findings at Fashion-MNIST scale.
#
#   sh trainer/repro.sh full    every finding, 3 seeds   -> results/REPRO.md (+ PNG plots)
#   sh trainer/repro.sh quick   findings 1, 2, 5, 1 seed -> results/quick/REPRO.md
#
# Every run lives in its own directory under $OUT/runs/<condition>/s<seed>/ and
# is complete when its probe.csv exists; a rerun reuses complete runs and
# resumes interrupted ones (genrep train --resume auto), so an interrupted
# `make repro` continues where it stopped. A run directory made with other
# settings is never overwritten: the script stops and names it.
#
# Environment: BUILD (build), OUT (results or results/quick), STEPS, BATCH,
# WIDTH, LR, PROBE_N, SEEDS, STEER_STEPS override the sizes below; JOBS=N
# runs N trainings side by side (make repro sets 2; same numbers either way).
# The whole script is one { ... } block: sh reads it completely before running
# any of it, so editing or updating this file during a 2-hour run cannot make
# the running shell read a half-changed script.
{
set -e
MODE=${1:-full}
B=${BUILD:-build}
G=$B/genrep
DCGAN=weights/fmnist_dcgan.safetensors
CGAN=weights/fmnist_cgan.safetensors

# Sizes, chosen for the 2-core budget of the issue (quick within 20 min,
# full within 3 h): a width-16 small ResNet (stages 16/32/64, 64-d
# features: ~4x fewer FLOPs than the default width 32), batches of 2 x 128
# views, lr 0.1 with 5% warm-up and cosine decay, then a linear probe on the
# first 10,000 real training images (tested on all 10,000 test images).
# quick = findings 1, 2, 5, seed 0: 9 runs of 150 steps + 2 baselines;
# full  = every finding, seeds 0, 1, 2: 63 runs of 300 steps + 6 baselines.
# Measured on 2 cores with JOBS=2: a 300-step run + probe takes ~4 min on one
# core, two at a time, so ~2 min of wall time per run (full: ~2.3 h).
case $MODE in
    quick) OUT=${OUT:-results/quick}; SEEDS=${SEEDS:-0};     STEPS=${STEPS:-150} ;;
    full)  OUT=${OUT:-results};       SEEDS=${SEEDS:-0 1 2}; STEPS=${STEPS:-300} ;;
    *) echo "repro: unknown mode '$MODE', expected quick or full" >&2; exit 2 ;;
esac
BATCH=${BATCH:-128}
WIDTH=${WIDTH:-16}
LR=${LR:-0.1}
PROBE_N=${PROBE_N:-10000}
STEER_STEPS=${STEER_STEPS:-600}
JOBS=${JOBS:-1}
case $JOBS in ''|*[!0-9]*|0) echo "repro: JOBS='$JOBS', expected a positive integer" >&2; exit 2 ;; esac
R=$OUT/runs

for f in "$G" "$DCGAN" "$CGAN"; do
    [ -e "$f" ] || { echo "repro: $f is missing (run make first; the weights are committed)" >&2; exit 1; }
done
mkdir -p "$R"
T0=$(date +%s)
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

# ---- the run list: NAME|SEEDS|train flags (NAME's seeds; "-" = probe only)
COMMON="--width $WIDTH --batch $BATCH --steps $STEPS --lr $LR"
list() {
    # findings 1, 2, 5 (both modes)
    echo "real|--data fmnist --views none --aug simclr"
    echo "gauss|--gen $DCGAN --views gauss --sigma 0.2 --aug simclr"
    echo "steer|--gen $DCGAN --views steer --walks $R/walks.safetensors --aug simclr"
    echo "pixel|--gen $DCGAN --views none --aug simclr"
    echo "inverter|--gen $DCGAN --loss inverter --views none --aug none"
    echo "c_gauss|--gen $CGAN --views gauss --sigma 0.2 --aug simclr"
    echo "c_indep|--gen $CGAN --views independent --aug simclr"
    echo "c_pixel|--gen $CGAN --views none --aug simclr"
    echo "c_ce|--gen $CGAN --loss ce --views none --aug simclr"
    [ "$MODE" = full ] || return 0
    # further rows of findings 1 and 2: latent views alone, SupCon with the generator's labels
    echo "gauss_noaug|--gen $DCGAN --views gauss --sigma 0.2 --aug none"
    echo "c_supcon|--gen $CGAN --loss supcon --views gauss --sigma 0.2 --aug simclr"
    # finding 3: sigma (0.2 is gauss above)
    for s in 0.05 0.1 0.4 0.8 1.6; do
        echo "sigma_$s|--gen $DCGAN --views gauss --sigma $s --aug simclr"
    done
    # finding 4: neighbours per anchor at 6,000 anchors, then anchors at 5 neighbours
    for n in 1 5 20; do
        echo "pool_n${n}_a6000|--gen $DCGAN --views gauss --sigma 0.2 --aug simclr --pool $n --anchors 6000"
    done
    for a in 600 60000; do
        echo "pool_n5_a$a|--gen $DCGAN --views gauss --sigma 0.2 --aug simclr --pool 5 --anchors $a"
    done
}
NRUNS=0
for s in $SEEDS; do NRUNS=$((NRUNS + $(list | wc -l) + 2)); done

# ---- helpers
elapsed() { t=$(( $(date +%s) - T0 )); printf '%dm%02ds' $((t / 60)) $((t % 60)); }
I=0
progress() { I=$((I + 1)); echo "repro [$I/$NRUNS, $(elapsed)] $*"; }

# check_key DIR KEY: a run directory belongs to these settings, or is new
check_key() {
    if [ -f "$1/repro.key" ]; then
        if [ "$(cat "$1/repro.key")" != "$2" ]; then
            echo "repro: $1 was made with other settings:" >&2
            echo "    it has:  $(cat "$1/repro.key")" >&2
            echo "    wanted:  $2" >&2
            echo "repro: move it away (or set OUT=another/dir) and rerun; nothing was changed" >&2
            exit 1
        fi
    else
        mkdir -p "$1"
        printf '%s\n' "$2" > "$1/repro.key.tmp" && mv "$1/repro.key.tmp" "$1/repro.key"
    fi
}

# one contrastive run + its probe
run() {
    name=$1; seed=$2; flags=$3
    d=$R/$name/s$seed
    key="train $flags $COMMON --seed $seed | probe --train-n $PROBE_N --knn 200 --seed $seed"
    check_key "$d" "$key"
    if [ -f "$d/probe.csv" ]; then progress "$name seed $seed: done earlier, reused"; return 0; fi
    progress "$name seed $seed: training ($STEPS steps)"
    # shellcheck disable=SC2086
    $G train $flags $COMMON --seed "$seed" --out "$d" --quiet
    $G probe --run "$d" --train-n "$PROBE_N" --knn 200 --seed "$seed" --out "$d/probe.csv" | sed 's/^/    /'
}

# baselines: raw pixels and a random encoder of the same width
baseline() {
    name=$1; seed=$2
    d=$R/$name/s$seed
    case $name in
        raw)    flags="--raw" ;;
        random) flags="--random small --width $WIDTH" ;;
    esac
    check_key "$d" "probe $flags --train-n $PROBE_N --knn 200 --seed $seed"
    if [ -f "$d/probe.csv" ]; then progress "$name seed $seed: done earlier, reused"; return 0; fi
    progress "$name seed $seed: probe"
    # shellcheck disable=SC2086
    $G probe $flags --train-n "$PROBE_N" --knn 200 --seed "$seed" --out "$d/probe.csv" | sed 's/^/    /'
}

# ---- steering walks for the steered views (one file, reused)
if [ ! -f "$R/walks.safetensors" ]; then
    echo "repro [$(elapsed)] steering walks: $STEER_STEPS steps -> $R/walks.safetensors"
    $G steer-train --gen "$DCGAN" --out "$R/walks.safetensors" --steps "$STEER_STEPS" --seed 0 \
        --grid "$R/walks.png" > "$R/walks.log" 2>&1 || { tail -n 5 "$R/walks.log" >&2; exit 1; }
fi

# ---- the runs, seed by seed (a complete first seed early); with JOBS > 1
# the task list is dealt round-robin to JOBS workers, each with its share of
# the cores (a run's numbers do not depend on its thread count)
list > "$R/runs.list"
tasks() {
    for seed in $SEEDS; do
        echo "raw|$seed|"; echo "random|$seed|"
        while IFS='|' read -r name flags; do echo "$name|$seed|$flags"; done < "$R/runs.list"
    done
}
worker() {
    i=0
    tasks | while IFS='|' read -r name seed flags; do
        I=$i; i=$((i + 1))   # I: tasks before this one (progress counts from it)
        [ $((I % JOBS)) -eq "$1" ] || continue
        case $name in
            raw|random) baseline "$name" "$seed" ;;
            *) run "$name" "$seed" "$flags" ;;
        esac
    done
}
if [ "$JOBS" -gt 1 ]; then
    # the workers' thread count is set in their own subshells, so the report
    # after them still renders with every core
    t=${OMP_NUM_THREADS:-$(( $(nproc) / JOBS ))}; [ "$t" -gt 0 ] || t=1
    pids=""; w=0
    while [ $w -lt "$JOBS" ]; do (export OMP_NUM_THREADS=$t; worker $w) & pids="$pids $!"; w=$((w + 1)); done
    rc=0; for p in $pids; do wait "$p" || rc=1; done
    [ $rc -eq 0 ] || { echo "repro: a run failed (above); rerun to continue from the finished runs" >&2; exit 1; }
else
    worker 0
fi

# ---- the report
sh trainer/repro_report.sh "$MODE" "$OUT" "$(elapsed)" \
    "steps $STEPS, batch $BATCH (x2 views), width $WIDTH, lr $LR, probe on $PROBE_N train images, seeds $SEEDS"
echo "repro: done in $(elapsed): $OUT/REPRO.md"
exit 0
}
