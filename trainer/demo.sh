#!/bin/sh
# The main job (make demo): train an encoder from the shipped unconditional
# generator with Gaussian latent views + SimCLR pixel augmentations, probe it
# on real Fashion-MNIST next to the raw-pixel baseline, write the views figure.
set -e
B=${BUILD:-build}
G=$B/genrep
GEN=${GEN:-weights/fmnist_dcgan.safetensors}
OUT=${OUT:-runs/demo}
STEPS=${STEPS:-300}
if [ ! -f "$GEN" ]; then
    echo "demo: $GEN is missing; it is committed in the repository (git checkout -- $GEN), or make one with:"
    echo "      $G gan-train --model dcgan --out runs/gan_dcgan"
    exit 1
fi
mkdir -p "$OUT"
echo "== 1/4 the figure of views -> $OUT/views.png"
$G views --gen "$GEN" --out "$OUT/views.png" --rows 8
echo "== 2/4 contrastive training: $STEPS steps of 2x128 views (Gaussian sigma 0.2 + SimCLR), resumes if interrupted"
$G train --gen "$GEN" --views gauss --sigma 0.2 --aug simclr --batch 128 --steps "$STEPS" --lr 0.1 --out "$OUT/run"
# The demo keeps the fixed-epoch Adam probe (--probe adam, 60 epochs) to stay within its
# 10 minutes: the converged probe (the default, L-BFGS with cross-validated L2, what
# make repro uses) needs many minutes on 784-d raw pixels alone.
echo "== 3/4 linear probe of the frozen encoder on real Fashion-MNIST (fast Adam probe)"
$G probe --run "$OUT/run" --probe adam --train-n 20000 --knn 0 | tee "$OUT/probe.txt"
echo "== 4/4 baselines: linear probe on raw pixels and on a randomly initialised encoder"
$G probe --raw --probe adam --train-n 20000 --knn 0 --out "$OUT/probe_raw.csv" | tee -a "$OUT/probe.txt"
$G probe --random small --probe adam --train-n 20000 --knn 0 --out "$OUT/probe_random.csv" | tee -a "$OUT/probe.txt"
echo "demo: done. Results in $OUT/ (probe.txt, views.png, run/metrics.csv)"
echo "demo: $STEPS steps are a few minutes of training; longer runs (OUT=runs/demo2000 STEPS=2000 sh trainer/demo.sh)"
echo "      and make repro show how far generated views go (README, results/)."
