#!/bin/sh
# make repro-quick at toy size (trainer/repro.sh quick): every run of the quick
# list trains and is probed (two at a time, JOBS=2) and lands in the ledger;
# the report shows the ledger's numbers, the verdict table and the statistics
# of genrep stats; a rerun reuses every ledger row; a fresh directory holding
# only the ledger (a fresh clone) recomputes just the row that is missing, to
# the same number; other settings stop the script and change nothing.
set -e
B=${BUILD:-build}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
OUT=$T/q
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
toy() { env BUILD="$B" OUT="$OUT" STEPS=${STEPS:-2} BATCH=8 WIDTH=4 LR=0.05 PROBE_N=300 STEER_STEPS=2 JOBS=${JOBS:-1} sh trainer/repro.sh quick; }
conds="raw random P_pixel P_gauss P_real S_sigma_0.05 S_sigma_0.2 S_sigma_0.8 S_sigma_1.6"
NTASK=12  # raw, random, 3 x 2 seeds, 4 sigmas x 1 seed

JOBS=2 toy > "$T/log1" 2>&1 || { tail -n 20 "$T/log1"; fail "repro.sh quick failed"; exit 1; }
L=$OUT/ledger.csv
[ -f "$OUT/REPRO.md" ] || fail "no REPRO.md"
rows=$(($(wc -l < "$L") - 1))
[ "$rows" -eq $NTASK ] || fail "the ledger has $rows runs, expected $NTASK"
head -n 1 "$L" | grep -q '^condition,seed,linear_top1,knn_top1,l2,probe_iters,train_s,probe_s,wall_s,commit,key$' \
    || fail "ledger header: $(head -n 1 "$L")"
awk -F, 'NR > 1 && !($3 > 0 && $3 <= 100 && $4 > 0 && $4 <= 100 && $5 > 0 && $6 >= 1 && $9 >= 0) { bad = 1 } END { exit bad }' "$L" \
    || fail "a ledger row has an accuracy outside (0, 100], no L2 or no iterations"
for c in $conds; do
    n=$(awk -F, -v c="$c" '$1 == c' "$L" | wc -l)
    [ "$n" -ge 1 ] || { fail "no ledger row for $c"; continue; }
    [ "$n" -eq 1 ] || continue
    # a one-run condition's summary row shows the ledger's value
    v=$(awk -F, -v c="$c" '$1 == c { print $3 }' "$L")
    grep -q "| \`$c\` | 1 | $v |" "$OUT/REPRO.md" || fail "REPRO.md summary row of $c does not show $v"
done
# the two-seed means are genrep stats' (the report does no arithmetic of its own)
for c in P_pixel P_gauss P_real; do
    m=$("$B/genrep" stats --csv "$L" --summary | awk -F'|' -v c=" \`$c\` " '$2 == c { gsub(/ /, "", $4); print $4 }')
    grep -q "| \`$c\` | 2 | $m |" "$OUT/REPRO.md" || fail "REPRO.md row of $c does not show the mean $m"
done
for h in H1 H3 H5a H5b NI gap; do grep -q "^| $h | " "$OUT/REPRO.md" || fail "no row for contrast $h"; done
grep -q '^| F1: latent views' "$OUT/REPRO.md" || fail "no verdict table"
grep -q 'smoke test, not evidence' "$OUT/REPRO.md" || fail "the quick report does not say it is a smoke test"
[ -f "$OUT/sigma.png" ] || fail "no sigma plot"

# rerun: everything from the ledger, nothing trained
toy > "$T/log2" 2>&1 || fail "rerun failed"
[ "$(grep -c 'in the ledger, reused' "$T/log2")" -eq $NTASK ] || fail "rerun did not reuse all $NTASK runs"
grep -q ': training' "$T/log2" && fail "rerun trained again"

# a run that finished but was stopped before its ledger row: the row is added from
# its run directory, without training or probing again, with the same numbers
row=$(grep '^P_gauss,1,' "$L")
grep -v '^P_gauss,1,' "$L" > "$T/l" && cp "$T/l" "$L"
toy > "$T/log2b" 2>&1 || fail "rerun with a finished run missing from the ledger failed"
grep -q 'P_gauss seed 1: finished earlier, adding it to the ledger' "$T/log2b" || fail "the finished run was not added back"
grep -q ': training\|: probe$' "$T/log2b" && fail "a finished run was trained or probed again"
[ "$(grep '^P_gauss,1,' "$L" | cut -d, -f1-6)" = "$(echo "$row" | cut -d, -f1-6)" ] || fail "the re-added row differs: $(grep '^P_gauss,1,' "$L") vs $row"

# a fresh clone: only the ledger, minus the P_pixel seed 1 row; that run alone is
# recomputed, to the same number (it first ran beside another run on one thread)
before=$(awk -F, '$1 == "P_pixel" && $2 == 1 { print $3 "," $4 }' "$L")
mkdir -p "$T/fresh"
grep -v '^P_pixel,1,' "$L" > "$T/fresh/ledger.csv"
OUT=$T/fresh toy > "$T/log3" 2>&1 || { tail -n 20 "$T/log3"; fail "resume from the ledger alone failed"; }
[ "$(grep -c ': training' "$T/log3")" -eq 1 ] || fail "expected exactly one run trained from a ledger missing one row"
after=$(awk -F, '$1 == "P_pixel" && $2 == 1 { print $3 "," $4 }' "$T/fresh/ledger.csv")
[ "$before" = "$after" ] || fail "recomputed P_pixel seed 1 gave $after, first time $before"
[ "$(($(wc -l < "$T/fresh/ledger.csv") - 1))" -eq $NTASK ] || fail "the resumed ledger does not have $NTASK rows"

# other settings: stop, name the row, change nothing
sum=$(cksum < "$L")
if STEPS=3 JOBS=2 toy > "$T/log4" 2>&1; then fail "other settings were accepted"; fi
grep -q "made with other settings" "$T/log4" || fail "no message naming the run made with other settings"
[ "$(cksum < "$L")" = "$sum" ] || fail "the ledger changed by a refused run"

[ "$fails" -eq 0 ] && echo "repro: quick pipeline, ledger, report, reuse, fresh-clone resume and refusal ok"
exit "$fails"
