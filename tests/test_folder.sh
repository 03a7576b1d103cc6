#!/bin/sh
# Image folders as data and generators of other shapes, end to end through
# the CLI: `genrep train --data folder:DIR` (a generated folder of PNGs, 3
# classes, RGB 20x20) trains a few steps and `genrep probe --probe-train
# --probe-test` probes it above chance; a flat folder trains unlabelled;
# --size resizes; the cache is reused and rebuilt when the files change;
# empty folders, mixed sizes and corrupt files are refused with a message
# naming them (--skip-bad goes on, naming each); `genrep train --gen` on
# the PyTorch DCGAN tutorial's 64x64x3 generator (tests/ref) trains an
# encoder on 3x64x64 views, or 1x16x16 with --size 16 --channels 1.
set -e
B=${BUILD:-build}
G=$(cd "$(dirname "$B/genrep")" && pwd)/genrep
MK=$(cd "$(dirname "$B/tests/mkimages")" && pwd)/mkimages
REF=$(pwd)/tests/ref
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# small encoder, tiny: seconds, not minutes
ENC="--width 4 --blocks 1 --batch 8 --quiet --threads 2"

"$MK" tr 3 12 20 20 3
"$MK" te 3 6 20 20 3

# ---- train on the folder, then probe on folders: above chance (1/3)
"$G" train --data folder:tr --out run $ENC --steps 3 2> err.txt || { fail "train on a folder"; cat err.txt; }
grep -q "36 images 3x20x20" err.txt || fail "train does not report the folder's 36 images 3x20x20"
[ -s run/data_cache.u8 ] || fail "no data_cache.u8"
grep -q 'genrep.in":"3,20,20"' run/ckpt.safetensors || fail "the encoder's input is not 3x20x20"
[ "$(wc -l < run/metrics.csv)" -eq 4 ] || fail "metrics.csv does not hold 3 steps"
"$G" probe --run run --probe-train tr --probe-test te --knn 5 > out.txt 2> err.txt || { fail "probe on folders"; cat err.txt; }
acc=$(tail -n 1 run/probe.csv | cut -d, -f3)
awk -v a="$acc" 'BEGIN { exit !(a > 0.5) }' || fail "probe accuracy $acc is not above chance"
echo "ok   train + probe on folders: linear top-1 $acc"
# raw pixels on folders with --size, gray
"$G" probe --raw --probe-train tr --probe-test te --size 8 --channels 1 --knn 3 --out raw.csv > /dev/null 2> err.txt || { fail "raw probe"; cat err.txt; }
grep -q "64-d features" err.txt || fail "raw probe at --size 8 --channels 1 is not 64-d"

# ---- the cache: reused as is, rebuilt when a file changes; a resumed run uses it
t1=$(stat -c %Y.%s run/data_cache.u8)
"$G" train --data folder:tr --out run $ENC --steps 4 2> err.txt || fail "resume on a folder"
grep -q decoding err.txt && fail "the cache was rebuilt though nothing changed"
"$MK" tr 3 13 20 20 3
"$G" train --data folder:tr --out run $ENC --steps 5 2> err.txt || fail "resume after adding files"
grep -q "decoding 39 images" err.txt || fail "the cache was not rebuilt for 39 files"

# a cache whose header claims another shape (same key) is rebuilt, not read out of bounds
printf '\060\000\000\000\060\000\000\000' | dd of=run/data_cache.u8 bs=1 seek=16 conv=notrunc 2> /dev/null
"$G" train --data folder:tr --out run $ENC --steps 6 2> err.txt || fail "resume after a damaged cache"
grep -q "decoding 39 images" err.txt || fail "a cache claiming 48x48 was not rebuilt"

# ---- flat (unlabelled) folder and --size on mixed sizes
"$MK" flat 0 10 24 16 3
"$MK" flat 0 3 30 30 3 other
"$G" train --data folder:flat --out f1 $ENC --steps 2 2> err.txt && fail "mixed sizes accepted without --size"
grep -q "must share one size" err.txt || fail "mixed sizes: message does not say the rule"
grep -q "other000.png is 30x30" err.txt || fail "mixed sizes: message does not name the file"
[ -e f1/data_cache.u8 ] && fail "mixed sizes left a cache"
ls f1 | grep -q tmp && fail "mixed sizes left a temp file"
"$G" train --data folder:flat --out f2 $ENC --steps 2 --size 12 2> err.txt || { fail "flat folder with --size"; cat err.txt; }
grep -q "13 images 3x12x12, unlabelled" err.txt || fail "flat folder: not 13 unlabelled 3x12x12 images"
"$G" train --data folder:flat --out f3 $ENC --steps 1 --size 12 --loss supcon 2> err.txt && fail "supcon on unlabelled data"
grep -q "needs labels" err.txt || fail "supcon on a flat folder: no message"

# ---- empty folders, corrupt files
mkdir -p empty e2/a e2/b
"$MK" e2 0 1 8 8 1 x && mv e2/x000.png e2/a/
"$G" train --data folder:empty --out r $ENC --steps 1 2> err.txt && fail "empty folder accepted"
grep -q "holds no .png" err.txt || fail "empty folder: no message"
"$G" train --data folder:e2 --out r $ENC --steps 1 2> err.txt && fail "empty class folder accepted"
grep -q "e2/b holds no" err.txt || fail "empty class folder: not named"
"$G" train --data folder:nonexistent --out r $ENC --steps 1 2> err.txt && fail "missing folder accepted"
grep -q "nonexistent" err.txt || fail "missing folder: not named"
cp -r te bad
echo "not a png" > bad/c1/broken.png
head -c 100 bad/c0/img001.png > bad/c0/cut.png
"$G" train --data folder:bad --out rb $ENC --steps 1 2> err.txt && fail "corrupt files accepted"
grep -q "2 of 20 files of bad cannot be read" err.txt || fail "corrupt files: not counted"
grep -q "broken.png" err.txt && grep -q "cut.png" err.txt || fail "corrupt files: not named"
grep -q -- "--skip-bad" err.txt || fail "corrupt files: --skip-bad not suggested"
[ -e rb/data_cache.u8 ] && fail "corrupt files left a cache"
"$G" train --data folder:bad --out rb $ENC --steps 1 --skip-bad 2> err.txt || { fail "--skip-bad"; cat err.txt; }
grep -q "18 images" err.txt && grep -q "broken.png" err.txt || fail "--skip-bad: not 18 images, or the files not named"
# the images kept are te's, in te's order: labels and pixels after the 544-byte header are te's cache's
"$G" train --data folder:te --out rte $ENC --steps 1 2> /dev/null || fail "train on te"
tail -c +545 rb/data_cache.u8 > a.bin; tail -c +545 rte/data_cache.u8 > b.bin
cmp -s a.bin b.bin || fail "--skip-bad: the cache does not hold exactly the readable images"
"$G" probe --run run --probe-train tr --probe-test bad --knn 3 --out p.csv 2> err.txt > /dev/null && fail "probe on corrupt files"
grep -q "broken.png" err.txt || fail "probe: corrupt file not named"
"$G" probe --run run --probe-train tr --probe-test bad --knn 3 --out p.csv --skip-bad 2> err.txt > /dev/null || fail "probe --skip-bad"
"$G" probe --run run --probe-train tr --probe-test flat --out p.csv 2> err.txt > /dev/null && fail "probe on a flat test folder"
grep -q "no class sub-folders" err.txt || fail "probe on a flat folder: no message"
"$G" train --gen "$REF/export_tutorial.safetensors" --skip-bad --out r $ENC 2> err.txt && fail "--skip-bad with --gen"
grep -q -- "--skip-bad is for --data folder" err.txt || fail "--skip-bad with --gen: no message"

# ---- a generator of another shape: the PyTorch DCGAN tutorial's 64x64 RGB
"$G" train --gen "$REF/export_tutorial.safetensors" --out gt $ENC --batch 4 --steps 2 2> err.txt || { fail "train on a 64x64x3 generator"; cat err.txt; }
grep -q 'genrep.in":"3,64,64"' gt/ckpt.safetensors || fail "the tutorial generator's encoder does not take 3x64x64"
"$G" train --gen "$REF/export_tutorial.safetensors" --size 16 --channels 1 --out gs $ENC --batch 4 --steps 1 2> err.txt || { fail "--size/--channels with --gen"; cat err.txt; }
grep -q 'genrep.in":"1,16,16"' gs/ckpt.safetensors || fail "--gen --size 16 --channels 1: the encoder does not take 1x16x16"
"$G" train --gen "$REF/export_cbn32.safetensors" --out gc $ENC --batch 4 --steps 1 --views independent 2> err.txt || { fail "train on the conditional 32x32x3 generator"; cat err.txt; }
grep -q 'genrep.in":"3,32,32"' gc/ckpt.safetensors || fail "the cbn32 encoder does not take 3x32x32"
"$G" train --gen "$REF/export_tutorial.safetensors" --out gm $ENC --batch 4 --steps 1 --eval-every 1 2> err.txt && fail "kNN monitor on 64x64x3"
grep -q "eval-every" err.txt || fail "--eval-every on 64x64x3: no message"

[ "$fails" -eq 0 ] && echo "test_folder: all passed"
exit $fails
