#!/bin/sh
# genrep train's run directory contract (issues #13, #18):
# - resuming with any changed run-defining flag is refused, naming the flag
#   with the stored and the given value, and touches nothing;
# - the flags that may change (threads, steps, checkpoint/eval frequency,
#   quiet) resume; --flag=value works; --pool is refused past its real limit;
# - the kNN monitor (--eval-every) leaves the run's bits unchanged;
# - a second writer on a run directory is refused while the first runs;
# - a killed writer's temp files are removed; strict checkpoint loading.
set -e
B=${BUILD:-build}
G=$(cd "$(dirname "$B/genrep")" && pwd)/genrep
E=$(cd "$B/examples" && pwd)/05_embed
T=$(mktemp -d)
trap 'kill $bgpid 2>/dev/null || true; rm -rf "$T"' EXIT
bgpid=
cd "$T"
fails=0
ok()   { echo "ok   $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

"$G" gan-train --out g8 --steps 1 --batch 8 --zdim 8 --width 4 --dwidth 4 --quiet --sample-every 100 --seed 1 > /dev/null 2>&1
gen=g8/generator.safetensors
cp $gen other.safetensors
"$G" steer-train --gen $gen --out walks.safetensors --steps 1 --batch 2 --transforms zoom > /dev/null 2>&1
BASE="--gen $gen --width 4 --blocks 1 --batch 4 --quiet"
"$G" train $BASE --steps 2 --out run > /dev/null 2>&1 || { echo "FAIL: base run"; exit 1; }
cp run/ckpt.safetensors ckpt.before; cp run/config.txt config.before; cp run/metrics.csv metrics.before

# every run-defining flag of train, with another value
refused() { # flag, the extra args
    flag=$1; shift
    rc=0
    "$G" train $BASE --steps 3 --out run "$@" > out.txt 2> err.txt || rc=$?
    if [ "$rc" -eq 0 ] || [ "$rc" -ge 128 ]; then fail "resume with $*: exit $rc"
    elif ! grep -q -- "--$flag: stored" err.txt; then fail "resume with $*: stderr does not name --$flag"; sed 's/^/    /' err.txt | head -5
    elif ! cmp -s run/ckpt.safetensors ckpt.before || ! cmp -s run/config.txt config.before \
         || ! cmp -s run/metrics.csv metrics.before; then fail "resume with $*: the run directory changed"
    else ok "resume with $* refused: $(grep -- "--$flag: stored" err.txt | sed 's/^ *//')"; fi
}
refused gen       --gen other.safetensors
refused views     --views angular
refused sigma     --sigma 0.5
refused walks     --walks walks.safetensors
refused alpha     --alpha 0.5
refused pool      --pool 2 --anchors 10
refused anchors   --anchors 100
refused aug       --aug none
refused loss      --loss inverter
refused tau       --tau 0.2
refused scale-base-tau --scale-base-tau
refused encoder   --encoder resnet18
refused width     --width 8
refused blocks    --blocks 2
refused batch     --batch 8
refused lr        --lr 0.1
refused wd        --wd 0
refused momentum  --momentum 0.5
refused warmup    --warmup 1
refused seed      --seed 1
# --data instead of --gen: both named
rc=0; "$G" train --data fmnist --width 4 --blocks 1 --batch 4 --quiet --steps 3 --out run 2> err.txt || rc=$?
if [ "$rc" -ne 0 ] && grep -q -- "--gen: stored" err.txt && grep -q -- "--data: stored" err.txt; then ok "--data fmnist on a generator run refused, both named"
else fail "--data fmnist on a generator run: exit $rc"; fi
# the refusal says how to start a new run
grep -q "another --out" err.txt && ok "the refusal says how to start a new run" || fail "the refusal does not say how to start a new run"

# flags that may change: threads, steps (extend), ckpt-every, eval-every, quiet
if "$G" train $BASE --steps=4 --threads=1 --ckpt-every 1 --out=run > /dev/null 2> err.txt \
   && grep -q "resuming" err.txt && [ "$(tail -n 1 run/metrics.csv | cut -d, -f1)" = 4 ]; then
    ok "--steps=4 --threads=1 --ckpt-every 1 --out=run extends the run to step 4 (--flag=value form)"
else fail "extending a run with changeable flags"; sed 's/^/    /' err.txt | head -5; fi

# --pool: the real limit at parse time
rc=0; "$G" train $BASE --pool 100 --anchors 10 --steps 1 --out p100 2> err.txt || rc=$?
if [ "$rc" -eq 2 ] && grep -q -- "--pool" err.txt && grep -q "0..61" err.txt && [ ! -e p100 ]; then ok "--pool 100 refused at parse time: $(cat err.txt)"
else fail "--pool 100: exit $rc: $(cat err.txt)"; fi
if "$G" train $BASE --pool 61 --anchors 3 --steps 1 --out p61 > /dev/null 2>&1 && [ -s p61/pool.bin ]; then ok "--pool 61 trains"
else fail "--pool 61 does not train"; fi
# a pool made with other settings is regenerated, not reused
"$G" train $BASE --pool 2 --anchors 5 --steps 1 --sigma 0.2 --out pa > /dev/null 2>&1
mkdir -p pb && cp pa/pool.bin pb/pool.bin
"$G" train $BASE --pool 2 --anchors 5 --steps 1 --sigma 0.9 --out pb > /dev/null 2> err.txt || true
if grep -q "other settings" err.txt && ! cmp -s pa/pool.bin pb/pool.bin; then ok "pool.bin of sigma 0.2 regenerated for sigma 0.9"
else fail "pool.bin made with another sigma was reused"; fi

# signs and spaces where none belong
for v in " -1" "-1" "+3" " 3"; do
    rc=0; "$G" train $BASE --seed "$v" --steps 1 --out sd 2> err.txt || rc=$?
    if [ "$rc" -eq 2 ] && grep -q -- "--seed" err.txt; then ok "--seed '$v' refused"; else fail "--seed '$v': exit $rc"; fi
done

# the kNN monitor does not change the run's bits
"$G" train $BASE --steps 4 --out ev0 > /dev/null 2>&1
"$G" train $BASE --steps 4 --out ev1 --eval-every 2 --eval-n 200 > /dev/null 2>&1
if cmp -s ev0/ckpt.safetensors ev1/ckpt.safetensors && head -n 1 ev1/metrics.csv | grep -q knn_top1 \
   && [ "$(awk -F, 'NR > 1 && $5 != "" {n++} END {print n + 0}' ev1/metrics.csv)" = 2 ]; then
    ok "--eval-every 2: kNN logged at steps 2 and 4 ($(awk -F, 'NR > 1 && $5 != "" {printf "%s ", $5}' ev1/metrics.csv)), checkpoint byte-identical"
else fail "--eval-every changed the run or logged no kNN"; fi

# one writer per run directory
"$G" train $BASE --steps 100000 --out busy > /dev/null 2>&1 &
bgpid=$!
i=0; while [ ! -s busy/metrics.csv ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
rc=0; "$G" train $BASE --steps 100000 --out busy > /dev/null 2> err.txt || rc=$?
if [ "$rc" -ne 0 ] && grep -q "in use by another genrep process (pid $bgpid)" err.txt; then ok "second writer refused: $(cat err.txt)"
else fail "second writer on busy/: exit $rc: $(cat err.txt)"; fi
kill -INT $bgpid; rc=0; wait $bgpid || rc=$?
[ "$rc" -eq 130 ] && [ -s busy/ckpt.safetensors ] && ok "Ctrl-C of the first writer: exit 130, checkpoint saved" || fail "Ctrl-C: exit $rc"
bgpid=

# a killed writer's temp files are removed on the next open
touch run/ckpt.safetensors.tmp.999999.0 run/config.txt.tmp.999999
"$G" train $BASE --steps 4 --out run > /dev/null 2> err.txt
if ! ls run | grep -q '\.tmp\.' && grep -q "left by a writer that was killed" err.txt; then ok "stale temp files removed and named"
else fail "stale temp files stayed"; fi

# strict loading: metadata that disagrees with the tensors is refused, naming the key or tensor
"$G" train --gen $gen --width 4 --blocks 2 --batch 4 --quiet --steps 1 --out two > /dev/null 2>&1
LC_ALL=C sed 's/"genrep.blocks":"2,2,2"/"genrep.blocks":"1,1,1"/' two/ckpt.safetensors > blocks1.safetensors
LC_ALL=C sed 's/"genrep.in":"1,28,28"/"genrep.in":"1,29,29"/' two/ckpt.safetensors > in29.safetensors
cmp -s two/ckpt.safetensors blocks1.safetensors && fail "fixture blocks1 not made"
cmp -s two/ckpt.safetensors in29.safetensors && fail "fixture in29 not made"
rc=0; "$G" probe --encoder blocks1.safetensors --train-n 100 --knn 0 --out p.csv 2> err.txt || rc=$?
if [ "$rc" -ne 0 ] && grep -q "layer1.1" err.txt && [ ! -e p.csv ]; then ok "blocks 1 on a two-block checkpoint refused: $(tail -n 1 err.txt)"
else fail "blocks 1 on a two-block checkpoint: exit $rc"; fi
rc=0; "$G" probe --encoder in29.safetensors --train-n 100 --knn 0 --out p.csv 2> err.txt || rc=$?
if [ "$rc" -ne 0 ] && grep -q "1x29x29" err.txt && [ ! -e p.csv ]; then ok "genrep.in 1,29,29 refused by probe: $(tail -n 1 err.txt)"
else fail "genrep.in 1,29,29: exit $rc"; fi

# the examples load what train writes, whatever width and depth (here width 4, 2 and 1 blocks)
mkdir -p imgs && "$G" aug-grid --n 1 --views 1 --out imgs/a.png > /dev/null 2>&1
for r in two run; do
    if "$E" --encoder $r/ckpt.safetensors --images imgs --out emb.csv > /dev/null 2> err.txt && [ "$(wc -l < emb.csv)" -eq 2 ]; then
        ok "examples/05_embed loads $r/ckpt.safetensors (blocks $(LC_ALL=C grep -ao "\"genrep.blocks\":\"[0-9,]*\"" $r/ckpt.safetensors | cut -d\" -f4))"
    else fail "examples/05_embed cannot load $r/ckpt.safetensors: $(head -n 2 err.txt)"; fi
done

# special files and hostile images on the trainer's own paths (issue 18): bounded by timeout
mkfifo fifo.png
mkdir -p pf && mkfifo pf/pool.bin
rc=0; timeout 20 "$G" train $BASE --pool 2 --anchors 5 --steps 1 --out pf > /dev/null 2> err.txt || rc=$?
if [ "$rc" -eq 0 ] && grep -q "pool.bin" err.txt && [ -f pf/pool.bin ]; then ok "a FIFO as pool.bin is named and replaced, not read"
else fail "FIFO pool.bin: exit $rc: $(head -n 2 err.txt)"; fi
rc=0; timeout 20 "$G" embed --encoder run --images imgs --query fifo.png --out q.csv > /dev/null 2> err.txt || rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -lt 124 ] && grep -q "fifo.png" err.txt && [ ! -e q.csv ]; then ok "a FIFO as --query refused: $(head -n 1 err.txt)"
else fail "FIFO --query: exit $rc"; fi
mkdir -p bombs && cp imgs/a.png bombs/ && printf 'P6\n8192 8192\n65535\n' > bombs/x.ppm && printf 'P6\n8192 8192\n65535\n' > bombs/y.png
rc=0; (ulimit -v 1000000; timeout 20 "$G" embed --encoder run --images bombs --out b.csv) > /dev/null 2> err.txt || rc=$?
if [ "$rc" -eq 0 ] && grep -q "skipping.*y.png" err.txt && [ "$(wc -l < b.csv)" -eq 2 ]; then ok "embed skips the issue's PPM bomb by name and embeds the PNG: $(grep y.png err.txt | head -n 1)"
else fail "embed with a PPM bomb: exit $rc: $(head -n 3 err.txt)"; fi
# a file-size limit is a write error with a message, not a silent SIGXFSZ kill
rc=0; (ulimit -f 20; "$G" train $BASE --steps 2 --out xf > /dev/null 2> err.txt) || rc=$?
if [ "$rc" -ge 1 ] && [ "$rc" -lt 128 ] && [ -s err.txt ]; then ok "file-size limit: exit $rc with a message: $(tail -n 1 err.txt)"
else fail "file-size limit: exit $rc"; fi
# a resume that cannot write (a file-size limit stands in for a full disk) damages nothing:
# metrics.csv is cut back aside + rename, rows are appended whole or not at all, the old rows stay
"$G" train $BASE --steps 30 --ckpt-every 10 --out full > /dev/null 2>&1
cp full/metrics.csv m.before
# (2 blocks = 1024 bytes: config.txt, ~530 bytes, is rewritten first and must fit; metrics.csv grows past it)
rc=0; (ulimit -f 2; "$G" train $BASE --steps 60 --ckpt-every 10 --out full > /dev/null 2> err.txt) || rc=$?
n=$(wc -c < m.before)
if [ "$rc" -ge 1 ] && [ "$rc" -lt 128 ] && grep -q "metrics.csv" err.txt && [ "$(head -c "$n" full/metrics.csv | cmp -s - m.before && echo same)" = same ] \
   && [ "$(tail -c 1 full/metrics.csv | od -An -c | tr -d ' ')" = '\n' ] && ! ls full | grep -q '\.tmp\.'; then
    ok "resume against a size limit: exit $rc, the $(grep -c '^[0-9]' m.before) old rows intact, no torn row: $(tail -n 1 err.txt)"
else fail "resume against a size limit: exit $rc, old rows changed, a torn row or a temp file left"; fi
# an --out longer than the run directory supports is refused, not truncated
long=$(printf 'd%.0s' $(seq 1 3100))
rc=0; "$G" train $BASE --steps 1 --out "$long" > /dev/null 2> err.txt || rc=$?
if [ "$rc" -ne 0 ] && grep -q "characters" err.txt && [ ! -e "$long" ]; then ok "a 3100-character --out refused: $(cut -c1-80 err.txt)"
else fail "long --out: exit $rc"; fi

[ "$fails" -eq 0 ] || { echo "FAIL: $fails resume/run-directory checks"; exit 1; }
echo "resume: every check held"
