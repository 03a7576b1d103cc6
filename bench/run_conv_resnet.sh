#!/bin/sh
# The small ResNet's convs at batch 512: genrep vs oneDNN direct convolution,
# same process, repetitions interleaved at random (both see the same load);
# prints medians and the genrep/oneDNN ratio per shape and op.
#   BIN=build/bench/bench_conv_resnet REPS=5 sh bench/run_conv_resnet.sh   (from the repo root)
#   THREADS=1 for the 1-thread rows (default 2).
set -e
BIN=${BIN:-../build/bench/bench_conv_resnet}
REPS=${REPS:-5}
THREADS=${THREADS:-2}
OUTDIR=$(dirname "$BIN")
export OMP_WAIT_POLICY=passive   # see run_gemm.sh: spinning teams on a shared machine
echo "== conv_resnet ($(date -u +%FT%TZ), load: $(cut -d' ' -f1-3 /proc/loadavg))"
"$BIN" --benchmark_repetitions="$REPS" --benchmark_report_aggregates_only=true --benchmark_min_time=0.1 \
    --benchmark_enable_random_interleaving=true --benchmark_filter="${FILTER:-threads:$THREADS/}" \
    --benchmark_out="$OUTDIR/conv_resnet.json" --benchmark_out_format=json >/dev/null
echo "== done ($(date -u +%FT%TZ), load: $(cut -d' ' -f1-3 /proc/loadavg))"
/usr/bin/python3 - "$OUTDIR/conv_resnet.json" "${PEAK:-0}" <<'PY'
import json, sys
rows = [b for b in json.load(open(sys.argv[1]))["benchmarks"] if b.get("aggregate_name") == "median"]
peak = float(sys.argv[2])
res = {}
for b in rows:
    lab = b["label"].split()
    shape, op, impl = lab[0], lab[1], lab[2]
    res.setdefault((shape, op), {})[impl] = (b["real_time"], b["GFLOP/s"], " ".join(lab[3:-1]))
print(f"| shape | op | genrep ms | genrep GFLOP/s | oneDNN ms | oneDNN GFLOP/s | genrep / oneDNN |" + (" genrep % peak |" if peak else ""))
print("|---|---|---:|---:|---:|---:|---:|" + ("---:|" if peak else ""))
for (shape, op), d in res.items():
    if "genrep" not in d or "onednn" not in d: continue
    g, o = d["genrep"], d["onednn"]
    extra = f" {100 * g[1] / peak:.0f}% |" if peak else ""
    print(f"| {shape} | {op} | {g[0]:.2f} | {g[1]:.0f} | {o[0]:.2f} | {o[1]:.0f} | {o[0] / g[0]:.2f} |" + extra)
print("oneDNN implementations:", sorted({(k[1], v['onednn'][2]) for k, v in res.items() if 'onednn' in v}))
PY
