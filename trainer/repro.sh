#!/bin/sh
# make repro / make repro-quick: protocol v2 of the reproduction (issue #15),
# pre-registered in results/REPRO.md (Part 1), which fixes every size below.
#
#   sh trainer/repro.sh full    every condition of the protocol  -> results/REPRO.md (Part 2)
#   sh trainer/repro.sh quick   a toy version, same pipeline and statistics -> results/quick/REPRO.md
#   sh trainer/repro.sh MODE --list   print the runs (NAME|SEED|SCALE|FLAGS) and stop
#
# The ledger. After each finished run one row goes to $OUT/ledger.csv
# (committed): condition, seed, linear and kNN top-1 (%), the probe's L2 and
# iterations, train/probe/wall seconds, the commit that ran it, and the run's
# settings key. A (condition, seed) already in the ledger with the same key is
# never recomputed, so an interrupted `make repro` -- also on a fresh clone,
# where the run directories (checkpoints) are gone -- continues with the runs
# that are missing. A ledger row or run directory with another key stops the
# script, naming it: nothing is overwritten.
#
# Environment: BUILD (build), OUT, JOBS=N (N trainings side by side, each on
# its share of the cores; make sets 2; same numbers either way), SEEDS (quick
# only). Quick sizes: STEPS, BATCH, WIDTH, LR, PROBE_N, STEER_STEPS override
# them (tests/test_repro.sh runs a toy).
# The whole script is one { ... } block: sh reads it completely before running
# any of it, so editing this file during a 12-hour run cannot break the run.
{
set -e
MODE=${1:-full}
B=${BUILD:-build}
G=$B/genrep
DCGAN=weights/fmnist_dcgan.safetensors
CGAN=weights/fmnist_cgan.safetensors

# ---- sizes (see results/REPRO.md 1.2 for why)
case $MODE in
    full)
        OUT=${OUT:-results}
        # primary scale P and secondary scale S
        P_SIZE="--width 32 --batch 256 --steps 1500 --lr 0.05"
        S_SIZE="--width 16 --batch 128 --steps 500 --lr 0.1"
        P_SEEDS="0 1 2 3"; S_SEEDS3="0 1 2"; S_SEEDS2="0 1"; ONE="0"
        SIGMAS="0.05 0.1 0.2 0.4 0.8 1.6"
        PROBE_N=60000; STEER_STEPS=600 ;;
    quick)
        # one toy scale for everything: the pipeline and the statistics, not evidence
        OUT=${OUT:-results/quick}
        Q="--width ${WIDTH:-16} --batch ${BATCH:-128} --steps ${STEPS:-100} --lr ${LR:-0.1}"
        P_SIZE=$Q; S_SIZE=$Q
        P_SEEDS=${SEEDS:-0 1}; S_SEEDS3=0; S_SEEDS2=0; ONE=0
        SIGMAS="0.05 0.2 0.8 1.6"   # 4 points, one seed: the quadratic fit keeps 1 df
        PROBE_N=${PROBE_N:-10000}; STEER_STEPS=${STEER_STEPS:-600} ;;
    *) echo "repro: unknown mode '$MODE', expected quick or full" >&2; exit 2 ;;
esac
JOBS=${JOBS:-1}
case $JOBS in ''|*[!0-9]*|0) echo "repro: JOBS='$JOBS', expected a positive integer" >&2; exit 2 ;; esac
R=$OUT/runs
LEDGER=$OUT/ledger.csv
LEDGER_HEAD="condition,seed,linear_top1,knn_top1,l2,probe_iters,train_s,probe_s,wall_s,commit,key"
PROBE="--train-n $PROBE_N --knn 200"


# ---- the task list: NAME|SEEDS|KIND|FLAGS (KIND: P or S scale training, or probe = baseline)
list() {
    echo "raw|$ONE|probe|--raw"
    if [ "$MODE" = full ]; then
        echo "random_w16|$ONE|probe|--random small --width 16"
        echo "random_w32|$ONE|probe|--random small --width 32"
    else
        echo "random|$ONE|probe|--random small --width ${WIDTH:-16}"
    fi
    echo "P_pixel|$P_SEEDS|P|--gen $DCGAN --views none --aug simclr"
    echo "P_gauss|$P_SEEDS|P|--gen $DCGAN --views gauss --sigma 0.2 --aug simclr"
    echo "P_real|$P_SEEDS|P|--data fmnist --views none --aug simclr"
    for s in $SIGMAS; do echo "S_sigma_$s|$S_SEEDS3|S|--gen $DCGAN --views gauss --sigma $s --aug simclr"; done
    [ "$MODE" = full ] || return 0
    echo "P_real_ce|$ONE|P|--data fmnist --loss ce --views none --aug simclr"
    echo "P_real_supcon|$ONE|P|--data fmnist --loss supcon --views none --aug simclr"
    for a in 60 600 6000 60000; do
        echo "S_pool_a${a}_n5|$S_SEEDS2|S|--gen $DCGAN --views gauss --sigma 0.2 --aug simclr --pool 5 --anchors $a"
    done
    for n in 1 20; do
        echo "S_pool_a6000_n$n|$S_SEEDS2|S|--gen $DCGAN --views gauss --sigma 0.2 --aug simclr --pool $n --anchors 6000"
    done
    echo "S_pixel|$ONE|S|--gen $DCGAN --views none --aug simclr"
    echo "S_real|$ONE|S|--data fmnist --views none --aug simclr"
    echo "S_steer|$ONE|S|--gen $DCGAN --views steer --walks $R/walks.safetensors --aug simclr"
    echo "S_c_indep_ntxent|$ONE|S|--gen $CGAN --views independent --aug simclr"
    echo "S_c_supcon|$ONE|S|--gen $CGAN --loss supcon --views gauss --sigma 0.2 --aug simclr"
    echo "S_c_supcon_pixel|$ONE|S|--gen $CGAN --loss supcon --views none --aug simclr"
    echo "S_c_ce|$ONE|S|--gen $CGAN --loss ce --views none --aug simclr"
    echo "S_inverter|$ONE|S|--gen $DCGAN --loss inverter --views none --aug none"
}
# one line per (run, seed): NAME|SEED|KIND|FLAGS, the first seed of every condition first
tasks() {
    for k in 0 1 2 3; do
        list | while IFS='|' read -r name seeds kind flags; do
            i=0
            for s in $seeds; do [ $i -eq $k ] && echo "$name|$s|$kind|$flags"; i=$((i + 1)); done
        done
    done
}
NRUNS=$(tasks | wc -l)
# sh trainer/repro.sh MODE --list: the task list (NAME|SEED|SCALE|FLAGS), nothing run
if [ "${2:-}" = --list ]; then tasks; exit 0; fi

for f in "$G" "$DCGAN" "$CGAN"; do
    [ -e "$f" ] || { echo "repro: $f is missing (run make first; the weights are committed)" >&2; exit 1; }
done
command -v flock > /dev/null || { echo "repro: flock (util-linux) is missing" >&2; exit 1; }
mkdir -p "$R"
[ -f "$LEDGER" ] || echo "$LEDGER_HEAD" > "$LEDGER"
[ "$(head -n 1 "$LEDGER")" = "$LEDGER_HEAD" ] || { echo "repro: $LEDGER has another header; expected $LEDGER_HEAD" >&2; exit 1; }
T0=$(date +%s)
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- genrep.h trainer 2>/dev/null || COMMIT="$COMMIT+changes"

# ---- helpers
elapsed() { t=$(( $(date +%s) - T0 )); printf '%dh%02dm%02ds' $((t / 3600)) $((t / 60 % 60)) $((t % 60)); }
progress() { echo "repro [$1/$NRUNS, $(elapsed)] $2"; }
key_of() { # NAME SEED KIND FLAGS
    case $3 in
        probe) echo "probe $4 $PROBE --seed $2" ;;
        P) echo "train $4 $P_SIZE --seed $2 | probe $PROBE --seed $2" ;;
        S) echo "train $4 $S_SIZE --seed $2 | probe $PROBE --seed $2" ;;
    esac
}
# the ledger's key of NAME,SEED (empty: not in the ledger)
# (the key is the last field, quoted; no other field has a quote)
ledger_key() { awk -F, -v c="$1" -v s="$2" '$1 == c && $2 == s { k = substr($0, index($0, ",\"") + 2); sub(/"$/, "", k); print k; exit }' "$LEDGER"; }
other_settings() { # WHERE HAS WANTED
    echo "repro: $1 was made with other settings:" >&2
    echo "    it has:  $2" >&2
    echo "    wanted:  $3" >&2
    echo "repro: move it away (or set OUT=another/dir) and rerun; nothing was changed" >&2
    exit 1
}
# check_dir DIR KEY: a run directory belongs to these settings, or is new
check_dir() {
    if [ -f "$1/repro.key" ]; then
        [ "$(cat "$1/repro.key")" = "$2" ] || other_settings "$1" "$(cat "$1/repro.key")" "$2"
    else
        mkdir -p "$1"
        printf '%s\n' "$2" > "$1/repro.key.tmp" && mv "$1/repro.key.tmp" "$1/repro.key"
    fi
}
# column of the probe CSV's result row by header name
probe_col() { awk -F, -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i } NR == 2 { print $k }' "$1"; }

# one task: train (unless a baseline), probe, append the ledger row
do_task() { # I NAME SEED KIND FLAGS
    i=$1; name=$2; seed=$3; kind=$4; flags=$5; t2=
    key=$(key_of "$name" "$seed" "$kind" "$flags")
    have=$(ledger_key "$name" "$seed")
    if [ -n "$have" ]; then
        [ "$have" = "$key" ] || other_settings "the ledger row $name seed $seed ($LEDGER)" "$have" "$key"
        progress "$i" "$name seed $seed: in the ledger, reused"; return 0
    fi
    d=$R/$name/s$seed
    check_dir "$d" "$key"
    t0=$(date +%s)
    if [ -f "$d/probe.csv" ]; then
        # finished, but stopped before its ledger row was written: add the row
        # (times from the files: settings key written at the start, result at the end)
        progress "$i" "$name seed $seed: finished earlier, adding it to the ledger"
        t0=$(stat -c %Y "$d/repro.key"); t2=$(stat -c %Y "$d/probe.csv")
        t1=$(awk -v a="$t2" -v b="$(probe_col "$d/probe.csv" probe_s)" 'BEGIN { printf "%d", a - b }')
    elif [ "$kind" = probe ]; then
        progress "$i" "$name seed $seed: probe"
        # shellcheck disable=SC2086
        $G probe $flags $PROBE --seed "$seed" --out "$d/probe.csv" | sed 's/^/    /'
    else
        [ "$kind" = P ] && size=$P_SIZE || size=$S_SIZE
        progress "$i" "$name seed $seed: training ($size)"
        # shellcheck disable=SC2086
        $G train $flags $size --seed "$seed" --out "$d" --quiet
        t1=$(date +%s)
        $G probe --run "$d" $PROBE --seed "$seed" --out "$d/probe.csv" | sed 's/^/    /'
    fi
    # (the probe's exit status is lost in the pipe to sed: its result file is the proof)
    [ -f "$d/probe.csv" ] || { echo "repro: $name seed $seed: the probe failed (above)" >&2; exit 1; }
    [ -n "${t2:-}" ] || t2=$(date +%s)
    [ "$kind" = probe ] && t1=$t0
    f=$d/probe.csv
    row=$(printf '%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,"%s"' "$name" "$seed" \
        "$(probe_col "$f" linear_top1 | awk '{ printf "%.2f", 100 * $1 }')" \
        "$(probe_col "$f" knn_top1 | awk '{ printf "%.2f", 100 * $1 }')" \
        "$(probe_col "$f" l2)" "$(probe_col "$f" probe_iters)" $((t1 - t0)) $((t2 - t1)) $((t2 - t0)) "$COMMIT" "$key")
    flock "$LEDGER.lock" sh -c 'printf "%s\n" "$1" >> "$2"' sh "$row" "$LEDGER"
}

# ---- steering walks, only when a steered run is still to do (not in a fresh clone's ledger)
if list | grep -q '^S_steer|' && [ -z "$(ledger_key S_steer 0)" ] && [ ! -f "$R/walks.safetensors" ]; then
    echo "repro [$(elapsed)] steering walks: $STEER_STEPS steps -> $R/walks.safetensors"
    $G steer-train --gen "$DCGAN" --out "$R/walks.safetensors" --steps "$STEER_STEPS" --seed 0 \
        --grid "$R/walks.png" > "$R/walks.log" 2>&1 || { tail -n 5 "$R/walks.log" >&2; exit 1; }
fi

# ---- the runs; with JOBS > 1 the task list is dealt round-robin to JOBS
# workers, each with its share of the cores (a run's numbers do not depend on
# its thread count)
worker() {
    i=0
    tasks | while IFS='|' read -r name seed kind flags; do
        i=$((i + 1))
        [ $(((i - 1) % JOBS)) -eq "$1" ] || continue
        do_task "$i" "$name" "$seed" "$kind" "$flags"
    done
}
if [ "$JOBS" -gt 1 ]; then
    t=${OMP_NUM_THREADS:-$(( $(nproc) / JOBS ))}; [ "$t" -gt 0 ] || t=1
    pids=""; w=0
    while [ $w -lt "$JOBS" ]; do (export OMP_NUM_THREADS=$t; worker $w) & pids="$pids $!"; w=$((w + 1)); done
    rc=0; for p in $pids; do wait "$p" || rc=1; done
    [ $rc -eq 0 ] || { echo "repro: a run failed (above); rerun to continue from the ledger" >&2; exit 1; }
else
    worker 0
fi
rm -f "$LEDGER.lock"

# ---- the report (Part 2 of REPRO.md), from the ledger alone
sh trainer/repro_report.sh "$MODE" "$OUT" "$(elapsed)"
echo "repro: done in $(elapsed): $OUT/REPRO.md"
exit 0
}
