#!/bin/sh
# Communication of data-parallel training (issue 16) on loopback: the same
# `genrep train` (generator views, default small encoder, batch 256) as one
# process on 2 threads and as 2 ranks of 1 thread (mpirun), alternating,
# REPS rounds. Prints each run's img/s (metrics.csv, mean over its steps
# after the first) and the 2-rank runs' summary line: bytes all-reduced and
# all-gathered per step, MPI share of the step time on rank 0; a third run
# with GENREP_MPI_WAIT=1 (a timed barrier before each collective) splits
# that share into waiting for the other rank and the exchange itself.
# usage (repo root, after make and make MPI=1): /work/bench-quiet sh bench/run_mpi.sh
set -e
REPS=${REPS:-3}; STEPS=${STEPS:-8}; BATCH=${BATCH:-256}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
export OMP_WAIT_POLICY=passive
MPIRUN="mpirun --oversubscribe --bind-to none"
[ "$(id -u)" = 0 ] && MPIRUN="$MPIRUN --allow-run-as-root"
run="train --gen weights/fmnist_dcgan.safetensors --batch $BATCH --steps $STEPS --seed 1 --quiet"
ips() { awk -F, 'NR > 2 { s += $4; n++ } END { printf "%.0f", s / n }' "$1/metrics.csv"; }
echo "date $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg) batch $BATCH steps $STEPS"
for r in $(seq "$REPS"); do
    rm -rf "$T/a" "$T/b"
    build/genrep $run --threads 2 --out "$T/a"
    $MPIRUN -np 2 build/mpi/genrep $run --threads 1 --out "$T/b" 2> "$T/b.log"
    rm -rf "$T/c"
    GENREP_MPI_WAIT=1 $MPIRUN -x GENREP_MPI_WAIT -np 2 build/mpi/genrep $run --threads 1 --out "$T/c" 2> "$T/c.log"
    echo "round $r: 1 process x 2 threads $(ips "$T/a") img/s; 2 ranks x 1 thread $(ips "$T/b") img/s; $(grep 'ranks: per step' "$T/b.log" | sed 's/^genrep train: //')"
    echo "round $r: with GENREP_MPI_WAIT=1: $(ips "$T/c") img/s; $(grep 'ranks: per step' "$T/c.log" | sed 's/^genrep train: //')"
done
