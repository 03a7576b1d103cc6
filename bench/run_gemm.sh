#!/bin/sh
# SGEMM bench: genrep (every ISA, 1 and 2 threads) and OpenBLAS in the same
# process, twice: with the environment's OPENBLAS_CORETYPE, then with
# OPENBLAS_CORETYPE=SkylakeX (its AVX-512 kernels; the core type is read when
# libopenblas loads, so it needs its own process, which runs genrep's AVX-512
# path again so that every quoted ratio comes from one process).
# Repetitions are interleaved at random across benchmarks, so load from other
# processes spreads over all of them; medians are reported.
#   from the repo root: BIN=build/bench/bench_gemm sh bench/run_gemm.sh
set -e
# libgomp's idle threads spin before they sleep; on this shared, overloaded
# 2-core machine spinning workers lose time slices that the working threads
# need (measured: 2-thread 64x25088x576 at load ~9, best wall of 11: 42 GFLOP/s
# active vs 58-64 passive). OpenBLAS uses its own pthreads pool, unaffected.
# Override with OMP_WAIT_POLICY=active on a quiet machine.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
BIN=${BIN:-../build/bench/bench_gemm}
REPS=${REPS:-5}
OUTDIR=$(dirname "$BIN")
HERE=$(dirname "$0")
ARGS="--benchmark_repetitions=$REPS --benchmark_report_aggregates_only=true --benchmark_min_time=0.2
      --benchmark_enable_random_interleaving=true"
echo "== genrep + OpenBLAS (OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}, OMP_WAIT_POLICY=$OMP_WAIT_POLICY) $(date -u +%FT%TZ), load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$BIN" $ARGS --benchmark_filter="${FILTER:-.}" \
    --benchmark_out="$OUTDIR/gemm_default.json" --benchmark_out_format=json
echo "== OpenBLAS with OPENBLAS_CORETYPE=SkylakeX, genrep AVX-512 alongside"
OPENBLAS_CORETYPE=SkylakeX "$BIN" $ARGS --benchmark_filter="${SKX_FILTER:-BM_openblas|isa:2/}" \
    --benchmark_out="$OUTDIR/gemm_skylakex.json" --benchmark_out_format=json
echo "== summary (medians of $REPS), load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$HERE/gemm_table.py" "$OUTDIR/gemm_default.json" "$OUTDIR/gemm_skylakex.json"
