#!/bin/sh
# Training runs that meet faults keep their last good checkpoint:
#  1. a non-finite loss (injected with the hidden --debug-nan-at STEP) stops
#     the run with an error naming the step; the checkpoint before it loads
#     and --resume finishes bitwise equal to an uninterrupted run;
#  2. a file-size limit (ulimit -f, SIGXFSZ ignored) and, where this user may
#     mount, a full tmpfs make a save fail: clear error, exit 1, no temp file,
#     the previous checkpoint unchanged;
#  3. SIGINT saves a checkpoint at the next step boundary and exits with 130;
#     --resume continues from it.
set -e
B=${BUILD:-build}
G=$(cd "$(dirname "$B/genrep")" && pwd)/genrep
T=$(mktemp -d)
MNT=""
trap '[ -n "$MNT" ] && umount "$MNT" 2>/dev/null; rm -rf "$T"' EXIT
cd "$T"
fail() { echo "FAIL: $*"; [ -f err.txt ] && sed 's/^/    /' err.txt | tail -n 5; exit 1; }
step_of() { grep -ao '"genrep.step":"[0-9]*"' "$1" | grep -o '[0-9][0-9]*' || echo none; }
run() { rc=0; "$G" "$@" > /dev/null 2> err.txt || rc=$?; }
tmp_left() { ls "$1" | grep -v '^ckpt.safetensors$\|^config.txt$\|^metrics.csv$\|^DONE$' || true; }
common="train --data fmnist --batch 8 --aug none --seed 5 --quiet --ckpt-every 1"

# reference: 3 steps, no fault
run $common --steps 3 --out ref
[ "$rc" -eq 0 ] || fail "reference run exited $rc"

# 1. NaN loss at step 3: error naming step 3, checkpoint of step 2 kept
run $common --steps 3 --out nan --debug-nan-at 3
[ "$rc" -eq 1 ] || fail "NaN run exited $rc, expected 1"
grep -q "loss is nan at step 3" err.txt || fail "NaN error does not name step 3"
[ "$(step_of nan/ckpt.safetensors)" = 2 ] || fail "NaN run left checkpoint of step $(step_of nan/ckpt.safetensors), expected 2"
[ ! -e nan/DONE ] || fail "NaN run wrote DONE"
cp nan/ckpt.safetensors step2.safetensors

# 2a. file-size limit while saving step 3: EFBIG, checkpoint of step 2 unchanged
rc=0
(trap '' XFSZ; ulimit -f 64; exec "$G" $common --steps 3 --out nan) > /dev/null 2> err.txt || rc=$?
[ "$rc" -eq 1 ] || fail "run under ulimit -f exited $rc, expected 1"
grep -q "ckpt.safetensors" err.txt || fail "the save error does not name the checkpoint"
grep -q "intact" err.txt || fail "the save error does not say the previous checkpoint is intact"
cmp -s nan/ckpt.safetensors step2.safetensors || fail "the checkpoint changed after a failed save"
[ -z "$(tmp_left nan)" ] || fail "a failed save left $(tmp_left nan)"

# 1b/2b. the kept checkpoint resumes to the same bits as the uninterrupted run
run $common --steps 3 --out nan
[ "$rc" -eq 0 ] || fail "resume after NaN exited $rc"
grep -q "resuming .* at step 2" err.txt || fail "resume did not start at step 2"
cmp -s nan/ckpt.safetensors ref/ckpt.safetensors || fail "resumed run differs from the uninterrupted one"

# 2c. a full disk: a 8 MiB tmpfs holds one checkpoint (5.6 MB) but not the
# temp file of the next
mkdir mnt
how="ulimit -f"
if mount -t tmpfs -o size=8m tmpfs mnt 2>/dev/null; then
    MNT=$T/mnt
    run $common --steps 3 --out mnt/run
    [ "$rc" -eq 1 ] || fail "run on a full tmpfs exited $rc, expected 1"
    grep -q "mnt/run/ckpt.safetensors" err.txt || fail "the disk-full error does not name the checkpoint"
    [ "$(step_of mnt/run/ckpt.safetensors)" = 1 ] || fail "full disk left checkpoint of step $(step_of mnt/run/ckpt.safetensors), expected 1"
    [ -z "$(tmp_left mnt/run)" ] || fail "a failed save left $(tmp_left mnt/run)"
    echo "faults: disk full on tmpfs: $(grep -m1 'ckpt.safetensors' err.txt)"
    umount mnt; MNT=""; how="ulimit -f, full tmpfs"
else
    echo "faults: cannot mount a tmpfs here; the disk-full case ran with ulimit -f only"
fi

# 3. SIGINT: checkpoint at the next step boundary, exit 130, resume continues
"$G" $common --ckpt-every 100000 --steps 100000 --out int 2> err.txt > /dev/null &
pid=$!
n=0
while [ "$(cat int/metrics.csv 2>/dev/null | grep -c '^[0-9]')" -lt 2 ]; do
    sleep 0.05; n=$((n + 1))
    [ $n -lt 1200 ] || { kill -9 $pid; fail "the run logged no step within 60 s"; }
done
kill -INT $pid
rc=0; wait $pid || rc=$?
[ "$rc" -eq 130 ] || fail "interrupted run exited $rc, expected 130"
k=$(step_of int/ckpt.safetensors)
grep -q "interrupted; checkpoint saved at step $k" err.txt || fail "no 'checkpoint saved at step $k' message"
[ -z "$(tmp_left int)" ] || fail "the interrupted run left $(tmp_left int)"
run $common --steps $((k + 1)) --ckpt-every 100000 --out int
[ "$rc" -eq 0 ] || fail "resume after SIGINT exited $rc"
grep -q "resuming .* at step $k" err.txt || fail "resume after SIGINT did not start at step $k"
[ "$(step_of int/ckpt.safetensors)" = $((k + 1)) ] && [ -e int/DONE ] || fail "resume after SIGINT did not finish"
echo "faults: NaN stop, failed saves ($how), SIGINT at step $k: checkpoints kept and resumable"
