#!/bin/sh
# BigGAN-deep forward: the measured FMA peak, genrep (bench_biggan) and the
# PyTorch peer (biggan_torch.py) in alternating rounds, then medians, ratios
# and % of peak. Run from the repo root through /work/bench-quiet:
#   BIN=build/bench/bench_biggan REPS=3 ROUNDS=2 sh bench/run_biggan.sh
set -e
BIN=${BIN:-../build/bench/bench_biggan}
REPS=${REPS:-3}
ROUNDS=${ROUNDS:-2}
HERE=$(dirname "$0")
OUTDIR=$(dirname "$BIN")
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
[ -x "$OUTDIR/bench_peak" ] || make -C "$HERE" "$(cd "$OUTDIR" && pwd)/bench_peak"
echo "== FMA peak ($(date -u +%FT%TZ), load: $(cut -d' ' -f1-3 /proc/loadavg))"
"$OUTDIR/bench_peak" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
    --benchmark_out="$OUTDIR/biggan_peak.json" --benchmark_out_format=json > /dev/null
r=1
while [ $r -le "$ROUNDS" ]; do
    echo "-- round $r genrep ($(date -u +%FT%TZ), load: $(cut -d' ' -f1-3 /proc/loadavg))"
    "$BIN" --benchmark_repetitions="$REPS" --benchmark_min_time=0.1 --benchmark_filter="${FILTER:-.}" \
        --benchmark_out="$OUTDIR/biggan_$r.json" --benchmark_out_format=json > /dev/null
    echo "-- round $r PyTorch ($(date -u +%FT%TZ), load: $(cut -d' ' -f1-3 /proc/loadavg))"
    /usr/bin/python3 "$HERE/biggan_torch.py" --reps "$REPS" --json "$OUTDIR/biggan_torch_$r.json"
    r=$((r + 1))
done
/usr/bin/python3 - "$OUTDIR" "$ROUNDS" <<'PY'
import json, statistics, sys
d, R = sys.argv[1], int(sys.argv[2])
peak = {}
for b in json.load(open(f"{d}/biggan_peak.json"))["benchmarks"]:
    if b.get("aggregate_name") == "median":
        peak[b["name"].replace("_median", "")] = b["GFLOP/s"]
print("== peak medians:", {k: round(v, 1) for k, v in peak.items()})
p2 = max([v for k, v in peak.items() if "isa:2/threads:2" in k] or [0])  # AVX-512, 2 threads
ours, peer, gf = {}, {}, {}
for r in range(1, R + 1):
    for b in json.load(open(f"{d}/biggan_{r}.json"))["benchmarks"]:
        if b.get("run_type") != "iteration": continue
        ours.setdefault(b["label"], []).append((8e3 / b["real_time"], 8e3 / b["cpu_time"]))  # ms units
        gf[b["label"]] = b["GFLOP/img"]
    for p in json.load(open(f"{d}/biggan_torch_{r}.json")):
        peer.setdefault(p["name"], []).extend(tuple(x) for x in p["reps"])
med = lambda v, i: statistics.median(x[i] for x in v)
print(f"== medians over all repetitions of all rounds, batch 8 (2-thread AVX-512 peak {p2:.0f} GFLOP/s)")
for name, v in ours.items():
    rate = med(v, 0) * gf[name]
    print(f"{name:24s} n={len(v):2d} {med(v, 0):6.2f} img/s  {med(v, 1):6.2f} img/cpu-s  {gf[name]:6.1f} GFLOP/img  "
          f"{rate:6.1f} GFLOP/s  {100 * rate / p2 if p2 else 0:4.1f}% of peak")
for name, v in peer.items():
    print(f"{name:24s} n={len(v):2d} {med(v, 0):6.2f} img/s  {med(v, 1):6.2f} img/cpu-s")
print("== ratio genrep / PyTorch")
for name, v in ours.items():
    res, b8, isa, t = name.split()
    p = peer.get(f"{res} B8 torch {t}")
    if p:
        print(f"{name:24s} wall x{med(v, 0) / med(p, 0):5.2f}   per CPU-second x{med(v, 1) / med(p, 1):5.2f}")
PY
