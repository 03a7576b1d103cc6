#!/bin/sh
# genrep plot: a two-series chart with error bars and a reference line is
# decoded (a small C helper on stb_image) and every marker, line, error bar,
# the frame, ticks, reference line and legend must be at the pixels that the
# documented layout (--debug-layout: plot area and axis ranges) puts them;
# then bad inputs must fail with the documented exit code, a message naming
# the flag / file / line, and no output (nor temp) file.
set -e
B=${BUILD:-build}
G=$(cd "$(dirname "$B/genrep")" && pwd)/genrep
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
fails=0

# (A computed position may differ by one pixel from the drawn one where it
# falls on a half pixel: thin features are probed with one pixel of slack.)
# probe FILE.png W H < lines "NAME MIN MAX RRGGBB X0 Y0 X1 Y1": the number of
# pixels of colour RRGGBB in the box must lie in MIN..MAX; the size must be W x H.
cat > probe.c <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <stb/stb_image.h>
int main(int argc, char **argv) {
    int w, h, n, bad = 0, checked = 0;
    if (argc != 4) return 2;
    unsigned char *p = stbi_load(argv[1], &w, &h, &n, 3);
    if (!p) { printf("FAIL %s: not a PNG stb_image can read\n", argv[1]); return 1; }
    if (w != atoi(argv[2]) || h != atoi(argv[3])) {
        printf("FAIL size %dx%d, expected %sx%s\n", w, h, argv[2], argv[3]);
        bad = 1;
    }
    char name[64];
    long lo, hi;
    unsigned col;
    int x0, y0, x1, y1;
    while (scanf("%63s %ld %ld %x %d %d %d %d", name, &lo, &hi, &col, &x0, &y0, &x1, &y1) == 8) {
        long c = 0;
        for (int y = y0 < 0 ? 0 : y0; y <= y1 && y < h; y++)
            for (int x = x0 < 0 ? 0 : x0; x <= x1 && x < w; x++) {
                const unsigned char *q = p + ((size_t)y * w + x) * 3;
                c += ((unsigned)q[0] << 16 | (unsigned)q[1] << 8 | q[2]) == col;
            }
        checked++;
        if (c < lo || c > hi) {
            printf("FAIL %s: %ld pixels of #%06x in x %d..%d y %d..%d, expected %ld..%ld\n",
                   name, c, col, x0, x1, y0, y1, lo, hi);
            bad = 1;
        }
    }
    printf("checked %d\n", checked);
    stbi_image_free(p);
    return bad;
}
EOF
${CC:-cc} -O1 -o probe probe.c -lstb -lm

# Series A (file order x = 1, 3, 2: drawing must sort by x) with an error bar
# at x=2, series B with one at x=3, and a reference line at 68.
cat > data.csv <<'EOF'
model,n,acc,err
A,1,70,0
A,3,75,0
A,2,80,4
B,1,60,0
B,2,62,0
B,3,64,2
EOF
BLUE=1f77b4 ORANGE=ff7f0e INK=202020 REF=606060

# check NAME LOGX genrep-flags...: plot data.csv at 640x400 and probe it
check() {
    name=$1 logx=$2; shift 2
    rm -f "$name.png"
    "$G" plot --csv data.csv --x n --y acc --err err --series model --hline "68:ref" \
        --width 640 --height 400 --debug-layout --out "$name.png" "$@" > "$name.txt"
    grep -q "^series #$BLUE 3 A\$" "$name.txt" && grep -q "^series #$ORANGE 3 B\$" "$name.txt" \
        || { echo "FAIL $name: series lines: $(grep series "$name.txt")"; return 1; }
    awk -v logx="$logx" -v S=2 -v BLUE=$BLUE -v ORANGE=$ORANGE -v INK=$INK -v REF=$REF '
    function lg(v) { return logx ? log(v) / log(10) : v }
    function px(x) { return int(L + (lg(x) - lg(X0)) / (lg(X1) - lg(X0)) * (R - L) + 0.5) }
    function py(y) { return int(Bt - (y - Y0) / (Y1 - Y0) * (Bt - Tp) + 0.5) }
    function near(nm, lo, hi, col, x, y, r) { print nm, lo, hi, col, x - r, y - r, x + r, y + r }
    function err(m) { print "FAIL layout: " m > "/dev/stderr"; bad = 1 }
    # nice ticks: equal steps of 1, 2, 2.5 or 5 times a power of ten, inside the range
    function nice(f, lo, hi,   i, d, e, m, ok) {
        if (NF < 3) { err($1 " has fewer than two ticks"); return }
        d = $3 - $2; e = int(log(d) / log(10) + 1000) - 1000; m = d / 10 ^ e
        ok = m < 1.000001 || (m > 1.999999 && m < 2.000001) || (m > 2.499999 && m < 2.500001) \
             || (m > 4.999999 && m < 5.000001) || m > 9.99999
        if ($2 < lo || $NF > hi) err($1 " outside the range")
        for (i = 3; i <= NF; i++)
            if (($i - $(i - 1)) - d > 1e-6 * d || d - ($i - $(i - 1)) > 1e-6 * d) err($1 " uneven")
        if ((!logx || f == "y") && !ok) err($1 " step " d " is not 1, 2, 2.5 or 5 x 10^k")
    }
    $1 == "layout" { L = $3; Tp = $4; R = $5; Bt = $6; X0 = $8; X1 = $9; Y0 = $11; Y1 = $12
        if ($14 != logx) err("log-x " $14)
        if (L < 40 || R > 635 || Tp < 4 || Bt > 360 || R - L < 400 || Bt - Tp < 250) err("plot area " L " " Tp " " R " " Bt)
        if (X0 > 1 || X1 < 3 || Y0 > 60 || Y1 < 84) err("ranges miss the data: " $0)
        # the frame, exactly on rows T, B and columns L, R
        print "frame-top", R - L + 1, R - L + 1, INK, L, Tp, R, Tp
        print "frame-bottom", R - L + 1, R - L + 1, INK, L, Bt, R, Bt
        print "frame-left", Bt - Tp + 1, Bt - Tp + 1, INK, L, Tp, L, Bt
        print "frame-right", Bt - Tp + 1, Bt - Tp + 1, INK, R, Tp, R, Bt
        # markers: own colour at the point, not the other series colour
        split("1 70 3 75 2 80", a); split("1 60 2 62 3 64", b)
        for (i = 1; i < 6; i += 2) {
            near("A-marker-" a[i], 1, 999, BLUE, px(a[i]), py(a[i + 1]), 2)
            near("A-marker-" a[i] "-not-orange", 0, 0, ORANGE, px(a[i]), py(a[i + 1]), 3)
            near("B-marker-" b[i], 1, 999, ORANGE, px(b[i]), py(b[i + 1]), 2)
            near("B-marker-" b[i] "-not-blue", 0, 0, BLUE, px(b[i]), py(b[i + 1]), 3)
        }
        # lines join the points in x order: A 1->2->3, not 1->3 as in the file
        m = logx ? 10 ^ ((lg(1) + lg(2)) / 2) : 1.5
        near("A-line-1-2", 1, 999, BLUE, px(m), py(75), 3)
        near("A-no-line-1-3", 0, 0, BLUE, px(2), py(72.5), 3)
        near("B-line-1-2", 1, 999, ORANGE, px(m), py(61), 3)
        # error bars: caps at y +- err, nothing beyond; none where err = 0
        near("A-errbar-top", 1, 999, BLUE, px(2), py(84), 1)
        near("A-errbar-bottom", 1, 999, BLUE, px(2), py(76), 1)
        near("A-errbar-ends", 0, 0, BLUE, px(2), py(85), 2)
        near("B-errbar-top", 1, 999, ORANGE, px(3), py(66), 1)
        near("B-errbar-bottom", 1, 999, ORANGE, px(3), py(62), 1)
        near("B-no-errbar-at-1", 0, 0, ORANGE, px(1), py(61.5), 2)
        # reference line: dashed (40..75% of the row) at y = 68; its label above
        # its right end (where it hides no data here), nothing else of its colour
        y = py(68)
        print "hline-dashed", int(0.4 * (R - L)), int(0.75 * (R - L)), REF, L + 1, y, R - 1, y
        print "hline-label", 10, 99999, REF, R - 20 * S, y - 12 * S, R - 1, y - 2
        print "hline-nothing-above", 0, 0, REF, L + 1, Tp + 1, R - 1, y - 12 * S - 1
        print "hline-nothing-below", 0, 0, REF, L + 1, y + S + 1, R - 1, Bt - 1
    }
    # tick marks (4*S long, outside the frame) at the listed tick values
    $1 == "x-ticks" { nice("x", X0, X1)
        for (i = 2; i <= NF; i++) print "x-tick-" $i, S, 99, INK, px($i) - 1, Bt + 1, px($i) + 1, Bt + 4 * S }
    $1 == "y-ticks" { nice("y", Y0, Y1)
        for (i = 2; i <= NF; i++) print "y-tick-" $i, S, 99, INK, L - 4 * S, py($i) - 1, L - 1, py($i) + 1 }
    $1 == "legend" { print "legend-blue", 10, 99999, BLUE, $2, $3, $4, $5
        print "legend-orange", 10, 99999, ORANGE, $2, $3, $4, $5
        if ($2 <= L || $4 >= R || $3 <= Tp || $5 >= Bt) err("legend not in the plot (a corner is free): " $0) }
    END { if (!L) err("no layout line"); exit bad }' "$name.txt" > "$name.probes" || { cat "$name.txt"; return 1; }
    want=$(wc -l < "$name.probes")
    ./probe "$name.png" 640 400 < "$name.probes" > "$name.log" || { grep FAIL "$name.log"; cat "$name.txt"; return 1; }
    grep -q "^checked $want\$" "$name.log" || { echo "FAIL $name: $(tail -n 1 "$name.log") of $want probes"; return 1; }
    echo "ok   $name: $want pixel probes at the layout's positions"
}
check linear 0 --title "two series" || fails=$((fails + 1))
check logx 1 --logx --xlabel "" || fails=$((fails + 1))
# on a log axis with few x values the ticks are the data's x values
grep -q "^x-ticks 1 2 3\$" logx.txt || { echo "FAIL logx: $(grep x-ticks logx.txt), expected 1 2 3"; fails=$((fails + 1)); }
# fourteen series fill every corner: the legend goes right of the plot, inside the image
awk 'BEGIN { print "s,x,y"
    for (i = 0; i < 14; i++) for (x = 1; x <= 4; x++) print "run " i "," x "," i + x * 0.3 * (i % 3) }' > many.csv
"$G" plot --csv many.csv --x x --y y --series s --out many.png --debug-layout > many.txt
awk '$1 == "layout" { R = $5 } $1 == "legend" { ok = $2 > R && $4 < 800 } END { exit !ok }' many.txt \
    || { echo "FAIL many: legend not right of the plot: $(grep -E 'layout|legend' many.txt)"; fails=$((fails + 1)); }

# ---- bad inputs: bad RC PATTERN1 PATTERN2 genrep-plot-args... (output out.png)
printf 'model,n,acc,err\nA,1,70,0\nA,2,7O,0\n' > nonnum.csv
printf 'model,n,acc,err\n' > header.csv
: > empty.csv
printf 'model,n,acc,err\nA,0,70,0\n' > zero.csv
printf 'model,n,acc,err\nA,1,70\n' > ragged.csv
printf 'model,n,acc,err\nA,1,70,-1\n' > negerr.csv
mkdir adir
bad() {
    rc=$1 p1=$2 p2=$3; shift 3
    rm -f out.png
    got=0
    "$G" plot "$@" > out.txt 2> err.txt || got=$?
    why=""
    if [ "$got" -ne "$rc" ]; then why="exit $got, expected $rc"
    elif ! grep -qF -- "$p1" err.txt; then why="stderr does not name '$p1'"
    elif ! grep -qF -- "$p2" err.txt; then why="stderr does not name '$p2'"
    elif [ -e out.png ]; then why="left out.png behind"
    elif ls | grep -q '\.tmp'; then why="left a temp file: $(ls | grep '\.tmp')"
    fi
    if [ -n "$why" ]; then
        echo "FAIL: genrep plot $*: $why"; sed 's/^/    /' err.txt | head -n 5
        fails=$((fails + 1))
    else
        echo "ok   genrep plot $* -> $got: $(head -n 1 err.txt)"
    fi
}
A="--x n --y acc --out out.png"
bad 1 "missing.csv" "cannot read"        --csv missing.csv $A
bad 2 "--y acc2" "model, n, acc, err"    --csv data.csv --x n --y acc2 --out out.png
bad 2 "--series kind" "model, n, acc, err" --csv data.csv $A --series kind
bad 2 "--err sd" "model, n, acc, err"    --csv data.csv $A --err sd
bad 1 "nonnum.csv:3" "acc"               --csv nonnum.csv $A
bad 1 "header.csv" "no data rows"        --csv header.csv $A
bad 1 "empty.csv" "header"               --csv empty.csv $A
bad 2 "zero.csv:2" "--logx"              --csv zero.csv $A --logx
bad 1 "ragged.csv:2" "header has 4"      --csv ragged.csv $A
bad 1 "negerr.csv:2" "--err"             --csv negerr.csv $A --err err
bad 2 "--out" "required"                 --csv data.csv --x n --y acc
bad 2 "--csv" "required"                 $A
bad 2 "--hline" "abc:x"                  --csv data.csv $A --hline abc:x
bad 2 "--width" "200..8192"              --csv data.csv $A --width 10
bad 2 "--bogus" "unknown"                --csv data.csv $A --bogus
bad 2 "--hline" "at most 16"             --csv data.csv $A $(for i in $(seq 17); do printf -- '--hline %d:l ' $i; done)
bad 2 "--title" "needs a value"          --csv data.csv $A --title
bad 1 "nodir/out.png" "cannot write"     --csv data.csv --x n --y acc --out nodir/out.png
# the PNG cannot be renamed over a directory: the temp file must go too
bad 1 "--out adir" "cannot write"        --csv data.csv --x n --y acc --out adir
# --flag=value takes the same values as --flag value; -h lists the defaults
"$G" plot --csv=data.csv --x=n --y=acc --width=640 --hline=75:mid --out=eq.png --debug-layout > eq.txt \
    && "$G" plot --csv data.csv --x n --y acc --width 640 --hline 75:mid --out sp.png --debug-layout > sp.txt \
    && cmp -s eq.png sp.png && [ "$(grep -v wrote eq.txt)" = "$(grep -v wrote sp.txt)" ] \
    || { echo "FAIL: --flag=value differs from --flag value"; fails=$((fails + 1)); }
"$G" plot -h | grep -q -- "--width W .*(default 800)" || { echo "FAIL: plot -h does not show --width's default"; fails=$((fails + 1)); }
# a failed run leaves an existing output as it was
echo old > keep.png
"$G" plot --csv nonnum.csv --x n --y acc --out keep.png 2> /dev/null && { echo "FAIL: bad CSV exited 0"; fails=$((fails + 1)); }
[ "$(cat keep.png)" = old ] || { echo "FAIL: a failed run replaced keep.png"; fails=$((fails + 1)); }

[ "$fails" -eq 0 ] || { echo "FAIL: $fails plot checks failed"; exit 1; }
echo "plot: markers, lines, error bars, reference line, ticks and legend where the layout says; bad inputs refused"
