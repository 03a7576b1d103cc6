#!/bin/sh
# BigGAN-deep as the data source of `genrep train` and `genrep views`, end
# to end through the CLI, on the committed random 128 px fixture
# tests/ref/biggan128.safetensors (ch 4, z 8, 5 classes; written by
# tests/ref/make_biggan_golden.py): Gaussian views of class 3 train two
# steps at --size 32 (finite loss, a checkpoint whose encoder takes
# 3x32x32, the class recorded); independent views with a class list and
# SupCon, and steered views with a walks file written here, train a step;
# `genrep views` draws its figure, whose Gaussian column changes with
# --sigma; refusals name the flag or file (a class outside the generator's,
# --class on an unconditional generator, resuming with another --class,
# steer-train on BigGAN, a --gen file of neither family). The pixel-level checks (sigma 0 renders the
# anchor, independent views keep the class, the resize) are
# tests/test_anygen.c's.
set -e
B=${BUILD:-build}
G=$(cd "$(dirname "$B/genrep")" && pwd)/genrep
REF=$(pwd)/tests/ref
BIG=$REF/biggan128.safetensors
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
export OMP_NUM_THREADS=1 # the fixture's renders are small; threads only add contention (views, steer-train)
ENC="--width 4 --blocks 1 --batch 2 --size 32 --quiet --threads 1"
finite_rows() { # metrics.csv -> number of rows with a finite loss
    awk -F, 'NR > 1 && $2 ~ /^-?[0-9]+(\.[0-9]+)?$/ { n++ } END { print n + 0 }' "$1"
}

# ---- Gaussian views of class 3
"$G" train --gen "$BIG" --class 3 --views gauss --out rg $ENC --steps 2 2> err.txt || { fail "train --views gauss"; cat err.txt; }
[ -s rg/ckpt.safetensors ] || fail "gauss: no checkpoint"
grep -q 'genrep.in":"3,32,32"' rg/ckpt.safetensors || fail "gauss: the encoder does not take 3x32x32"
grep -q '"train.class":"3"' rg/ckpt.safetensors || fail "gauss: --class 3 not recorded in the checkpoint"
[ "$(finite_rows rg/metrics.csv)" -eq 2 ] || { fail "gauss: not 2 steps of finite loss"; cat rg/metrics.csv; }
echo "ok   train --gen biggan --class 3 --views gauss: loss $(tail -n 1 rg/metrics.csv | cut -d, -f2)"
# the run is the class's: resuming it with another class is refused by name
"$G" train --gen "$BIG" --class 4 --views gauss --out rg $ENC --steps 3 2> err.txt && fail "resume with another --class"
grep -q -- "--class: stored '3', given '4'" err.txt || { fail "resume with another --class: no message"; cat err.txt; }

# ---- independent views over a class list (labels 0..3 for SupCon)
"$G" train --gen "$BIG" --class 0,2-4 --views independent --loss supcon --out ri $ENC --steps 1 2> err.txt || { fail "train --views independent"; cat err.txt; }
[ "$(finite_rows ri/metrics.csv)" -eq 1 ] || fail "independent: no finite loss"

# ---- steered views: walks (1, 8) of 0.5 each, alpha_max 1 (safetensors written by hand)
H='{"alpha_max":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"walks":{"dtype":"F32","shape":[1,8],"data_offsets":[4,36]}}'
{ printf "\\$(printf %03o ${#H})\\000\\000\\000\\000\\000\\000\\000"; printf '%s' "$H"; printf '\000\000\200\077'
  for i in 1 2 3 4 5 6 7 8; do printf '\000\000\000\077'; done; } > walks.safetensors
"$G" train --gen "$BIG" --views steer --walks walks.safetensors --out rs $ENC --steps 1 2> err.txt || { fail "train --views steer"; cat err.txt; }
[ "$(finite_rows rs/metrics.csv)" -eq 1 ] || fail "steer: no finite loss"

# ---- the figure: anchor, gauss, steer, independent, then each with SimCLR pixels
"$G" views --gen "$BIG" --class 3 --rows 2 --size 32 --walks walks.safetensors --out v.png > out.txt 2> err.txt || { fail "views"; cat err.txt; }
grep -q "2 rows x 8 columns: anchor, gauss, steer, independent" out.txt || { fail "views: not the 8 columns"; cat out.txt; }
w=$(od -An -tu1 -j16 -N4 v.png | awk '{ print $3 * 256 + $4 }')
[ "$w" -ge 256 ] && [ "$w" -le 300 ] || fail "views: the PNG is $w px wide, expected 8 columns of 32 px"
"$G" views --gen "$BIG" --class 3 --rows 2 --size 32 --walks walks.safetensors --sigma 0 --out v0.png > /dev/null 2> err.txt || fail "views --sigma 0"
cmp -s v.png v0.png && fail "views: the Gaussian column does not change with --sigma"

# ---- refusals
"$G" train --gen "$BIG" --class 5 --out rx $ENC --steps 1 2> err.txt && fail "--class 5 of 5 classes accepted"
grep -q -- "--class '5'.*0..4" err.txt || { fail "--class 5: no message"; cat err.txt; }
"$G" train --gen "$REF/export_dcgan.safetensors" --class 3 --out rx $ENC --steps 1 2> err.txt && fail "--class on a DCGAN accepted"
grep -q "class-conditional" err.txt || { fail "--class on a DCGAN: no message"; cat err.txt; }
"$G" steer-train --gen "$BIG" --out w2.safetensors 2> err.txt && fail "steer-train on BigGAN"
grep -q "biggan128.safetensors is a BigGAN-deep file.*no backward" err.txt || { fail "steer-train on BigGAN: no message"; cat err.txt; }
[ -e w2.safetensors ] && fail "steer-train on BigGAN wrote a file"
"$G" views --gen rg/ckpt.safetensors --out x.png 2> err.txt && fail "views on an encoder checkpoint"
grep -q "or a BigGAN-deep file" err.txt || { fail "--gen of neither family: no hint"; cat err.txt; }

[ "$fails" -eq 0 ] && echo "test_biggan_train: all passed"
exit $fails
