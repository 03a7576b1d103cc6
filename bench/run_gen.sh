#!/bin/sh
# Run the generator bench and its PyTorch peer in alternating rounds (same
# session, same load) and print the ratio of medians at batch 256: images/s
# (wall) and images per CPU-second (process CPU time, all threads: steadier
# on a shared machine, where a preempted thread stalls a whole team).
#   BIN=build/bench/bench_gen REPS=5 ROUNDS=3 sh bench/run_gen.sh   (from the repo root)
set -e
BIN=${BIN:-../build/bench/bench_gen}
REPS=${REPS:-5}
ROUNDS=${ROUNDS:-3}
HERE=$(dirname "$0")
OUTDIR=$(dirname "$BIN")
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
echo "== generator bench, $ROUNDS rounds of (genrep, PyTorch) x $REPS reps, OMP_WAIT_POLICY=$OMP_WAIT_POLICY"
r=1
while [ $r -le "$ROUNDS" ]; do
    echo "-- round $r genrep ($(date -u +%FT%TZ), load: $(cut -d' ' -f1-3 /proc/loadavg))"
    "$BIN" --benchmark_repetitions="$REPS" --benchmark_min_time=0.3 --benchmark_filter="${FILTER:-.}" \
        --benchmark_out="$OUTDIR/gen_$r.json" --benchmark_out_format=json > /dev/null
    echo "-- round $r PyTorch ($(date -u +%FT%TZ), load: $(cut -d' ' -f1-3 /proc/loadavg))"
    /usr/bin/python3 "$HERE/gen_torch.py" --reps "$REPS" --json "$OUTDIR/gen_torch_$r.json"
    r=$((r + 1))
done
/usr/bin/python3 - "$OUTDIR" "$ROUNDS" <<'PY'
import json, statistics, sys
d, R = sys.argv[1], int(sys.argv[2])
ours, peer = {}, {}
for r in range(1, R + 1):
    for b in json.load(open(f"{d}/gen_{r}.json"))["benchmarks"]:
        if b.get("run_type") != "iteration": continue
        ours.setdefault(b["label"], []).append((256e3 / b["real_time"], 256e3 / b["cpu_time"]))  # ms units
    for p in json.load(open(f"{d}/gen_torch_{r}.json")):
        peer.setdefault(p["name"], []).extend(tuple(x) for x in p["reps"])
def med(v, i): return statistics.median(x[i] for x in v)
def spread(v, i): xs = [x[i] for x in v]; return f"{min(xs):.0f}..{max(xs):.0f}"
print(f"== medians over all repetitions of all rounds, batch 256 (img/s wall, range; img per CPU-second)")
for name, v in list(ours.items()) + list(peer.items()):
    print(f"{name:26s} n={len(v):2d}  {med(v, 0):7.0f} img/s ({spread(v, 0)})  {med(v, 1):7.0f} img/cpu-s")
print("== ratio genrep / PyTorch (same threads)")
for name, v in ours.items():
    kind, _, isa, t = name.split()
    p = peer.get(f"{kind} B256 torch {t}")
    if p:
        print(f"{name:26s} wall x{med(v, 0) / med(p, 0):5.1f}   per CPU-second x{med(v, 1) / med(p, 1):5.1f}")
PY
