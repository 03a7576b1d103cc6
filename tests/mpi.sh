#!/bin/sh
# Data-parallel training under mpirun on loopback (make test-mpi; issue 16).
# usage: sh tests/mpi.sh BUILD_MPI   (BUILD_MPI/genrep from make MPI=1; build/genrep
# is the one-process build without MPI)
# - equivalence: 2 ranks (1 thread each) and one process (2 threads): the
#   first step's loss and weights on generator views and every loss; 50
#   steps at the default lr bitwise on 2 and 4 ranks (the encoder's share
#   mode: K-independent sums, see bench/RESULTS.md);
# - 1 process of the MPI build is bitwise build/genrep; 2-rank reruns bitwise;
# - a rank killed with SIGKILL ends every rank with a message, the checkpoint whole, and
#   the run resumes on 1 rank; a 1-process run resumes on 2 ranks;
# - Ctrl-C saves and ends every rank; mismatched flags and a batch that does
#   not split are refused at start.
set -e
M=${1:-build/mpi}
G=$(cd "$M" && pwd)/genrep
DIFF=$(cd "$M" && pwd)/tests/mpi_ckpt_diff
G1=$(cd build && pwd)/genrep
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
fail() { echo "FAIL: $*"; exit 1; }
MPIRUN="timeout 120 mpirun --oversubscribe --bind-to none"
[ "$(id -u)" = 0 ] && MPIRUN="$MPIRUN --allow-run-as-root"
loss() { cut -d, -f2 "$1/metrics.csv" | tail -n +2; }
# largest |a - b| / |a| over the loss curves of two runs
loss_dist() { paste -d, "$1/metrics.csv" "$2/metrics.csv" | awk -F, 'NR > 1 { d = $2 - $6; if (d < 0) d = -d; r = d / ($2 < 0 ? -$2 : $2); if (r > m) m = r } END { printf "%.3g\n", m }'; }
within() { awk -v x="$1" -v t="$2" 'BEGIN { exit !(x <= t) }'; }

# 1. the first step at the default lr, on generator views: the loss and the
#    weights, bitwise (the share-tree sums)
gen="train --gen $OLDPWD/weights/fmnist_dcgan.safetensors --batch 8 --width 4 --steps 1 --seed 3 --quiet"
"$G1" $gen --threads 2 --out g1 2>/dev/null || fail "one process"
$MPIRUN -np 2 "$G" $gen --threads 1 --out g2 > g2.log 2>&1 || { cat g2.log; fail "mpirun -np 2"; }
[ "$(loss g1)" = "$(loss g2)" ] || fail "step 1: loss $(loss g1) on one process, $(loss g2) on 2 ranks"
"$DIFF" g1/ckpt.safetensors g2/ckpt.safetensors 0 > d1 || true
cmp -s g1/ckpt.safetensors g2/ckpt.safetensors || { cat d1; fail "step 1: weights differ"; }
echo "mpi: step 1 on generator views, 2 ranks vs 1 process: loss $(loss g1) both; $(cat d1)"
grep -q "2 ranks: per step" g2.log || fail "no communication summary"

#    the other losses (labels and head outputs gathered) and a pool (rank 0's, sent)
for l in "--gen $OLDPWD/weights/fmnist_cgan.safetensors --loss supcon" "--gen $OLDPWD/weights/fmnist_cgan.safetensors --loss ce" \
         "--gen $OLDPWD/weights/fmnist_dcgan.safetensors --loss inverter --pool 2 --anchors 64"; do
    one="train $l --batch 8 --width 4 --steps 1 --seed 5 --quiet"
    rm -rf l1 l2
    "$G1" $one --threads 2 --out l1 2>/dev/null || fail "one process: $l"
    $MPIRUN -np 2 "$G" $one --threads 1 --out l2 > l2.log 2>&1 || { cat l2.log; fail "2 ranks: $l"; }
    [ "$(loss l1)" = "$(loss l2)" ] || fail "$l: loss $(loss l1) on one process, $(loss l2) on 2 ranks"
    cmp -s l1/ckpt.safetensors l2/ckpt.safetensors || { "$DIFF" l1/ckpt.safetensors l2/ckpt.safetensors 0; fail "$l: weights differ"; }
done
echo "mpi: supcon, ce, inverter with a pool: step 1 bitwise on 2 ranks and 1 process"

# 2. 50 steps at the default lr (0.05, where a ReLU input within 1e-7 of 0
#    flips and rounding grows to 1e-3 in 50 steps): the share-tree sums make
#    2 and 4 ranks bitwise one process (loss curve and weights)
run="train --data fmnist --batch 16 --width 4 --seed 3 --quiet"
"$G1" $run --steps 50 --threads 2 --out a 2>/dev/null || fail "one process, 50 steps"
for K in 2 4; do
    $MPIRUN -np $K "$G" $run --steps 50 --threads 1 --out b$K > b$K.log 2>&1 || { cat b$K.log; fail "mpirun -np $K, 50 steps"; }
    if ! cmp -s a/ckpt.safetensors b$K/ckpt.safetensors; then
        "$DIFF" a/ckpt.safetensors b$K/ckpt.safetensors 0 > d50 || true
        fail "50 steps at lr 0.05: $K ranks are not bitwise one process (loss curves $(loss_dist a b$K) apart, $(cat d50))"
    fi
    [ "$(cut -d, -f2 a/metrics.csv)" = "$(cut -d, -f2 b$K/metrics.csv)" ] || fail "50 steps: the loss curves of $K ranks and one process differ"
done
echo "mpi: 50 steps at the default lr, 2 and 4 ranks vs 1 process: weights and loss curve bitwise"

# 3. bitwise: one process of the MPI build = build/genrep; 2-rank reruns
"$G" $gen --threads 2 --out g3 2>/dev/null || fail "MPI build, one process"
cmp -s g1/ckpt.safetensors g3/ckpt.safetensors || fail "the MPI build on one process differs from build/genrep"
$MPIRUN -np 2 "$G" $gen --threads 1 --out g4 > /dev/null 2>&1 || fail "mpirun rerun"
cmp -s g2/ckpt.safetensors g4/ckpt.safetensors || fail "two 2-rank runs differ"
echo "mpi: MPI build on 1 process = build/genrep bitwise; 2-rank reruns bitwise"

# 4. a rank killed (SIGKILL) after step 4: every rank ends, with a message;
#    the last checkpoint (a multiple of 3) is whole and the run finishes on 1 rank
#    as the uninterrupted reference
short="$run --steps 20 --ckpt-every 3"
"$G1" $short --threads 2 --out r1 2>/dev/null || fail "reference, 20 steps"
$MPIRUN -np 2 "$G" $short --threads 1 --out r2 > r2.log 2>&1 &
pid=$!
children() { awk -v p="$1" '/^PPid:/ && $2 == p { split(FILENAME, f, "/"); print f[3] }' /proc/[0-9]*/status 2>/dev/null || true; }
while ! grep -q '^4,' r2/metrics.csv 2>/dev/null; do kill -0 $pid 2>/dev/null || { cat r2.log; fail "mpirun ended before step 4"; }; sleep 0.02; done
victim=""
for m in $(children $pid); do for p in $(children "$m"); do
    tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1 && victim=$p
done; done
[ -n "$victim" ] || fail "rank 1's process not found under mpirun"
kill -9 "$victim"
rc=0; wait $pid || rc=$?
[ -f r2/DONE ] && fail "the run finished before rank 1 could be killed"
[ $rc -ne 0 ] || fail "a rank died and mpirun succeeded"
[ $rc -ne 124 ] || fail "a rank died and the others hung (timeout)"
grep -qi "signal 9\|killed" r2.log || { cat r2.log; fail "mpirun did not say that a rank was killed"; }
"$G" $short --threads 2 --out r2 2> r2b.log || { cat r2b.log; fail "resume on 1 rank"; }
grep -q "resuming .* at step [0-9]*[0369]$" r2b.log || { cat r2b.log; fail "did not resume at a checkpoint step"; }
"$DIFF" r1/ckpt.safetensors r2/ckpt.safetensors 1e-5 > d4 || { cat d4; fail "resumed on 1 rank: weights differ"; }
[ "$(grep -c '^[0-9]' r2/metrics.csv)" -eq 20 ] || fail "metrics.csv: not 20 rows after the resume"
#    a 1-process run stopped after its step-3 checkpoint resumes on 2 ranks
if "$G" $short --threads 2 --debug-nan-at 5 --out r3 2>/dev/null; then fail "--debug-nan-at did not stop"; fi  # a step-3 checkpoint
$MPIRUN -np 2 "$G" $short --threads 1 --out r3 > r3.log 2>&1 || { cat r3.log; fail "resume on 2 ranks"; }
grep -q "resuming .* at step 3" r3.log || { cat r3.log; fail "2 ranks did not resume at step 3"; }
"$DIFF" r1/ckpt.safetensors r3/ckpt.safetensors 1e-5 > d5 || { cat d5; fail "resumed on 2 ranks: weights differ"; }
echo "mpi: a killed rank ends the job (checkpoint whole, $(sed -n 's/.*at step \([0-9]*\).*/\1/p' r2b.log)); resumed 2 -> 1 and 1 -> 2 ranks, within 1e-5 of one run"

# 5. Ctrl-C (SIGINT to mpirun): every rank stops, rank 0 saves, resume works
$MPIRUN -np 2 "$G" $run --steps 100000 --ckpt-every 100000 --threads 1 --out c > c.log 2>&1 &
pid=$!
while ! grep -q '^1,' c/metrics.csv 2>/dev/null; do kill -0 $pid 2>/dev/null || { cat c.log; fail "mpirun ended before step 1"; }; sleep 0.1; done
kill -INT $pid
wait $pid && fail "mpirun exited 0 after Ctrl-C" || true
grep -q "interrupted; checkpoint saved at step" c.log || { cat c.log; fail "no checkpoint on Ctrl-C"; }
n=$(sed -n 's/.*checkpoint saved at step \([0-9]*\).*/\1/p' c.log)
"$G" $run --steps $((n + 1)) --threads 2 --out c 2> c2.log || { cat c2.log; fail "resume after Ctrl-C"; }
grep -q "resuming .* at step $n" c2.log || { cat c2.log; fail "did not resume at the saved step $n"; }
echo "mpi: Ctrl-C saved step $n on rank 0 and ended both ranks; resumed"

# 6. refused at start: flags that differ between ranks, a batch that does not split
if $MPIRUN -np 1 "$G" $run --steps 2 --out m : -np 1 "$G" $run --steps 3 --out m > m.log 2>&1; then fail "mismatched flags accepted"; fi
grep -q "rank 1 runs another command than rank 0: 'steps = 3' here, 'steps = 2' on rank 0" m.log || { cat m.log; fail "no message for mismatched flags"; }
if $MPIRUN -np 2 "$G" train --data fmnist --batch 9 --steps 1 --out n > n.log 2>&1; then fail "--batch 9 on 2 ranks accepted"; fi
grep -q "batch 9 does not split over 2 ranks" n.log || { cat n.log; fail "no message for --batch 9"; }
echo "mpi: mismatched flags and --batch 9 on 2 ranks refused with a message"

# 7. a rank count the share tree cannot match bitwise trains, with a note saying so
$MPIRUN -np 3 "$G" train --data fmnist --batch 12 --width 4 --steps 1 --threads 1 --out k3 > k3.log 2>&1 || { cat k3.log; fail "3 ranks"; }
grep -q "3 ranks with 2 shares of 2 anchors each: the run equals one process's only up to rounding" k3.log \
    || { cat k3.log; fail "no note for 3 ranks"; }
$MPIRUN -np 2 "$G" train --data fmnist --batch 12 --width 4 --steps 1 --threads 1 --out k2 > k2.log 2>&1 || { cat k2.log; fail "2 ranks, batch 12"; }
grep -q "2 ranks with 3 shares" k2.log || { cat k2.log; fail "no note for 3 shares per rank"; }
if grep -q "only up to rounding" b2.log 2>/dev/null; then fail "a note on 2 ranks at a power-of-two batch"; fi
echo "mpi: 3 ranks, and 3 shares per rank, train with a note that the run is not bitwise"
