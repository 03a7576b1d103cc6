#!/bin/sh
# Run the conv bench and its PyTorch peer back to back (same session, same
# load), printing medians of REPS repetitions; JSON goes to build/bench/.
#   BIN=build/bench/bench_conv REPS=5 sh bench/run_conv.sh   (from the repo root)
#   FILTER='BM_conv2d_(fwd|bwd)/' narrows the genrep part.
set -e
BIN=${BIN:-../build/bench/bench_conv}
REPS=${REPS:-5}
HERE=$(dirname "$0")
OUTDIR=$(dirname "$BIN")
echo "== genrep conv2d ($(date -u +%FT%TZ), load: $(cut -d' ' -f1-3 /proc/loadavg))"
"$BIN" --benchmark_repetitions="$REPS" --benchmark_report_aggregates_only=true --benchmark_min_time=0.2 --benchmark_enable_random_interleaving=true \
    --benchmark_filter="${FILTER:-.}" --benchmark_out="$OUTDIR/conv.json" --benchmark_out_format=json
# medians as a table; "cpu GFLOP/s" uses the main thread's CPU time, the steadier
# number for 1-thread runs on a shared machine (meaningless for 2 threads)
/usr/bin/python3 - "$OUTDIR/conv.json" <<'PY'
import json, sys
allb = json.load(open(sys.argv[1]))["benchmarks"]
rows = [b for b in allb if b.get("aggregate_name") == "median"]
best = {b["run_name"]: b for b in allb if b.get("aggregate_name") == "min"}
print(f"{'':77s} {'median':>9s}    {'median cpu':>14s}  {'GFLOP/s':>15s}  {'cpu GFLOP/s':>19s}  best-rep GFLOP/s")
for b in sorted(rows, key=lambda b: b["run_name"]):
    g = b.get("GFLOP/s")
    cpu = f"{g * b['real_time'] / b['cpu_time']:7.1f}" if g else "      -"
    gs = f"{g:7.1f}" if g else "      -"
    name = b["run_name"].split("/")[0].replace("BM_conv2d_", "")
    m = best.get(b["run_name"])
    bg = f"{g * b['real_time'] / m['real_time']:7.1f}" if (g and m) else "      -"
    print(f"{name:20s} {b.get('label', ''):56s} {b['real_time']:9.2f} ms (cpu {b['cpu_time']:8.2f} ms)  GFLOP/s {gs}  cpu GFLOP/s {cpu}  best {bg}")
PY
echo "== PyTorch peer ($(date -u +%FT%TZ), load: $(cut -d' ' -f1-3 /proc/loadavg))"
/usr/bin/python3 "$HERE/conv_torch.py" --reps "$REPS"
