#!/bin/sh
# Checks on what the examples write (run.sh only checks their exit codes)
# and `genrep embed` against examples/05_embed.c: both must give the same
# features for the same checkpoint and images. Exit non-zero on any failure.
B=${BUILD:-build}
T=$(mktemp -d /tmp/genrep_test_examples.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
fails=0
ok()  { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails+1)); }

# PNG width and height from the IHDR chunk (bytes 16..23, big-endian).
png_size() {
    od -An -tu1 -j16 -N8 "$1" | awk '{ printf "%dx%d", $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8 }'
}
check_png() { # name, file, expected WxH (tiles of S+2 pixels plus a 2-pixel border)
    sig=$(od -An -c -j1 -N3 "$2" 2>/dev/null | tr -d ' ')
    got=$(png_size "$2" 2>/dev/null)
    if [ "$sig" = "PNG" ] && [ "$got" = "$3" ]; then ok "$1 ($got)"; else bad "$1: $2 is '$sig' $got, expected a PNG of $3"; fi
}
run() { # name, command...: run an example, keep its output in $T/name.log
    n=$1; shift
    if "$@" > "$T/$n.log" 2>&1; then ok "$n runs"; else bad "$n exits non-zero:"; cat "$T/$n.log"; fi
}

for e in 01_generate 02_latent_views 03_augment 04_contrastive_step 05_embed 06_biggan; do
    [ -x "$B/examples/$e" ] || { bad "$B/examples/$e is not built"; }
done
[ $fails -eq 0 ] || exit 1

# 01: 8x8 samples of 28x28 (or one row per class for a conditional generator)
run 01_generate "$B/examples/01_generate" --smoke
# 06: the 128 px BigGAN-deep fixture, 2 rows x 2 columns of 128 px tiles (+2 padding each, 2 border)
run 06_biggan "$B/examples/06_biggan" --smoke
check_png "06 grid" /tmp/genrep_06_biggan.png 262x262
if grep -q "one row per class" "$T/01_generate.log"; then
    rows=$(sed -n 's/.*: \([0-9]*\) x 8 samples.*/\1/p' "$T/01_generate.log")
    check_png "01 grid" /tmp/genrep_01_generate.png "242x$((rows * 30 + 2))"
else
    check_png "01 grid" /tmp/genrep_01_generate.png 242x242
fi
# 02: 4 rows of anchor + 3 gauss + 3 angular + 3 steered
run 02_latent_views "$B/examples/02_latent_views" --smoke
check_png "02 grid" /tmp/genrep_02_latent_views.png 302x122
# 03: the image and 8 views of 96x96 in one row; 8 lines of drawn parameters
run 03_augment "$B/examples/03_augment" --smoke
check_png "03 row" /tmp/genrep_03_augment.png 884x100
[ "$(grep -c '^view [0-9]*: crop' "$T/03_augment.log")" = 8 ] && ok "03 prints 8 views" || bad "03 prints 8 views"
# 04: the loss is printed, finite, and goes down (the example checks it too)
run 04_contrastive_step "$B/examples/04_contrastive_step" --smoke
awk '/^step/ { n++; if (!($4 > 0 && $4 < 100)) badv=1 } END { exit !(n >= 3 && !badv) }' "$T/04_contrastive_step.log" \
    && ok "04 prints finite losses" || bad "04 losses: $(grep '^step' "$T/04_contrastive_step.log" | tr '\n' ' ')"
# 05: header + 6 rows of path and 128 features; broken.png named and skipped
run 05_embed "$B/examples/05_embed" --smoke
csv=/tmp/genrep_05_embed.csv
awk -F, '(NR == 1 && $1 != "path") || NF != 129 { e = 1 } END { exit e || NR != 7 }' "$csv" \
    && ok "05 csv: 7 lines of 129 columns" || bad "05 csv shape: $(awk -F, '{print NF}' "$csv" | sort | uniq -c | tr '\n' ' ')"
grep -q "skipping.*broken.png" "$T/05_embed.log" && ok "05 names the bad file" || bad "05 names the bad file"

# genrep embed on the same checkpoint and folder: same rows, same numbers
# (it embeds in batches, 05 one image at a time: eval mode makes them equal).
if [ -x "$B/genrep" ] && "$B/genrep" embed --help > /dev/null 2>&1; then
    G="$B/genrep"
    if "$G" embed --encoder /tmp/genrep_05_encoder.safetensors --images /tmp/genrep_05_images --out "$T/e.csv" \
        --query /tmp/genrep_05_images/img4.png --k 3 > "$T/embed.log" 2> "$T/embed.err"; then
        ok "genrep embed runs"
    else
        bad "genrep embed exits non-zero"; cat "$T/embed.log" "$T/embed.err"
    fi
    grep -q "1 file skipped" "$T/embed.log" && grep -q "broken.png" "$T/embed.err" \
        && ok "embed reports broken.png and 1 skipped" || bad "embed skip report: $(cat "$T/embed.log" "$T/embed.err")"
    grep -q " 1  1.0000  /tmp/genrep_05_images/img4.png" "$T/embed.log" \
        && ok "embed: the query's nearest neighbour is itself" || bad "embed query: $(cat "$T/embed.log")"
    # compare every value: |a - b| <= 1e-5 + 1e-4 |b| (05 prints 6 digits, embed 7);
    # m counts the rows that matched (an exit in a rule still runs END)
    if awk -F, 'NR == FNR { for (i = 1; i <= NF; i++) a[FNR, i] = $i; n = FNR; w = NF; next }
        { if (NF != w || $1 != a[FNR, 1]) exit 1
          for (i = 2; i <= NF && FNR > 1; i++) { d = $i - a[FNR, i]; if (d < 0) d = -d; r = $i < 0 ? -$i : $i
              if (d > 1e-5 + 1e-4 * r) exit 1 } m = FNR }
        END { exit m != n }' "$csv" "$T/e.csv"; then
        ok "embed csv equals 05_embed's csv"
    else
        bad "embed csv differs from 05_embed's"
    fi
    # a folder with no readable image: non-zero exit, the old output kept
    mkdir -p "$T/none" && echo junk > "$T/none/x.png" && echo old > "$T/keep.csv"
    if "$G" embed --encoder /tmp/genrep_05_encoder.safetensors --images "$T/none" --out "$T/keep.csv" > /dev/null 2>&1; then
        bad "embed with no readable image exits 0"
    elif [ "$(cat "$T/keep.csv")" = old ] && [ -z "$(ls "$T" | grep 'keep.csv.tmp')" ]; then
        ok "embed with no readable image fails, leaves the old file, no temp file"
    else
        bad "embed replaced or littered $T/keep.csv"
    fi
    # a run directory is accepted for --encoder (RUN_DIR/ckpt.safetensors)
    mkdir -p "$T/run" && cp /tmp/genrep_05_encoder.safetensors "$T/run/ckpt.safetensors"
    "$G" embed --encoder "$T/run" --images /tmp/genrep_05_images --out "$T/r.csv" > /dev/null 2>&1 \
        && cmp -s "$T/r.csv" "$T/e.csv" && ok "embed takes a run directory" || bad "embed --encoder RUN_DIR"
else
    echo "skip genrep embed checks: $B/genrep has no embed command"
fi
[ $fails -eq 0 ] && echo "test_examples: all passed" || echo "test_examples: $fails failed"
[ $fails -eq 0 ]
