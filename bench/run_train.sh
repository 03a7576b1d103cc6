#!/bin/sh
# SimCLR training step, genrep vs PyTorch CPU in the same run: the step bench
# (bench_train.cc, 1 and 2 threads) and its PyTorch peer (train_torch.py,
# identical model and batch) back to back, a table of medians and the
# genrep/PyTorch ratio; the per-layer profile of 5 genrep steps at 2 threads
# (and a PyTorch op profile of one step); then the peak resident set size of
# a real 20-step training run (build/genrep train, rendering and augmentation
# included) from /usr/bin/time -v.
#   BIN=build/bench/bench_train REPS=5 sh bench/run_train.sh   (from the repo root)
# A step takes seconds, so every repetition is one step (after a warm-up).
# Outputs in the bench's folder: train.json, train_torch.json, train_profile.txt,
# train_torch_profile.txt, train_rss.txt.
set -e
BIN=${BIN:-../build/bench/bench_train}
REPS=${REPS:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
OUTDIR=$(cd "$(dirname "$BIN")" && pwd)
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "== SimCLR step bench, $REPS reps, OMP_WAIT_POLICY=$OMP_WAIT_POLICY, $(nproc) CPUs"
echo "-- genrep ($(date -u +%FT%TZ), load: $(load))"
"$BIN" --benchmark_repetitions="$REPS" --benchmark_min_time=0.1 --benchmark_filter="${FILTER:-.}" \
    --benchmark_out="$OUTDIR/train.json" --benchmark_out_format=json > /dev/null
echo "-- PyTorch ($(date -u +%FT%TZ), load: $(load))"
/usr/bin/python3 "$HERE/train_torch.py" --reps "$REPS" --threads 1,2 --precision fp32,bf16 --json "$OUTDIR/train_torch.json" \
    --profile "$OUTDIR/train_torch_profile.txt"
echo "-- done ($(date -u +%FT%TZ), load: $(load))"
/usr/bin/python3 - "$OUTDIR" <<'PY'
import json, statistics, sys
d = sys.argv[1]
rows = {}
for b in json.load(open(f"{d}/train.json"))["benchmarks"]:
    if b.get("run_type") != "iteration": continue
    rows.setdefault(b["label"], []).append((1e3 / b["real_time"], 1e3 / b["cpu_time"]))  # ms units
for p in json.load(open(f"{d}/train_torch.json"))["rows"]:
    rows[p["name"]] = [tuple(x) for x in p["reps"]]
def med(v, i): return statistics.median(x[i] for x in v)
print("== medians over repetitions (one step each), 2 x 256 view images per step")
print(f"{'':36s} {'n':>2s} {'steps/s':>8s} {'(range)':>15s} {'img/s':>7s} {'img/cpu-s':>9s}")
for name, v in rows.items():
    lo, hi = min(x[0] for x in v), max(x[0] for x in v)
    print(f"{name:36s} {len(v):2d} {med(v, 0):8.3f} ({lo:.3f}..{hi:.3f}) {512 * med(v, 0):7.0f} {512 * med(v, 1):9.0f}")
print("== ratio genrep / PyTorch (same threads; bf16 rows also against PyTorch bf16 autocast)")
for name, v in rows.items():
    if " torch" in name: continue
    t = name.split()[-1]
    peers = ["torch"] + (["torch-bf16"] if " bf16-" in name else [])
    for peer in peers:
        p = rows.get(f"simclr small B256x2 {peer} {t}")
        if p:
            print(f"{name:36s} / {peer:10s} wall x{med(v, 0) / med(p, 0):5.2f}   per CPU-second x{med(v, 1) / med(p, 1):5.2f}")
PY
echo "== genrep per-layer profile, 5 steps at 2 threads ($(date -u +%FT%TZ), load: $(load))"
"$BIN" --profile_steps=5 --profile_threads=2 --profile_out="$OUTDIR/train_profile.txt" 2>/dev/null
cat "$OUTDIR/train_profile.txt"
echo "== genrep per-layer profile, bf16, 5 steps at 2 threads ($(date -u +%FT%TZ), load: $(load))"
"$BIN" --profile_steps=5 --profile_threads=2 --profile_bf16 --profile_out="$OUTDIR/train_profile_bf16.txt" 2>/dev/null
cat "$OUTDIR/train_profile_bf16.txt"
echo "== PyTorch op profile (top of $OUTDIR/train_torch_profile.txt)"
head -22 "$OUTDIR/train_torch_profile.txt"
echo "== peak RSS of a training run ($(date -u +%FT%TZ), load: $(load))"
make -s -C "$ROOT" build/genrep
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cd "$ROOT"
echo "/usr/bin/time -v build/genrep train --gen weights/fmnist_dcgan.safetensors --out \$TMP/run --steps 20 --batch 256 --quiet"
/usr/bin/time -v -o "$OUTDIR/train_rss.txt" build/genrep train --gen weights/fmnist_dcgan.safetensors \
    --out "$TMP/run" --steps 20 --batch 256 --quiet
grep -E "Maximum resident set size|Elapsed \(wall|Percent of CPU" "$OUTDIR/train_rss.txt"
tail -1 "$TMP/run/metrics.csv" | awk -F, '{ printf "last metrics.csv row: step %s loss %s img/s %s\n", $1, $2, $4 }'
echo "-- end ($(date -u +%FT%TZ), load: $(load))"
