#!/bin/sh
# The shipped weights are the files weights/README.md describes: each
# weights/*.safetensors has the sha256 its table row gives (so the figures
# there were measured on these bytes), and `genrep embed` works out of the
# box on the shipped encoder: without --encoder it gives the same CSV as
# --encoder weights/fmnist_encoder.safetensors, features that differ from
# image to image, and outside the repository root a message naming the
# shipped file and --encoder.
set -e
B=${BUILD:-build}
G=$(cd "$(dirname "$B/genrep")" && pwd)/genrep
MK=$(cd "$(dirname "$B/tests/mkimages")" && pwd)/mkimages
ROOT=$(pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

n=0
for f in weights/*.safetensors; do
    want=$(grep -F "\`$(basename "$f")\`" weights/README.md | grep -o '`[0-9a-f]\{64\}`' | tr -d '`' | head -n 1)
    got=$(sha256sum "$f" | cut -d' ' -f1)
    if [ -z "$want" ]; then fail "$f has no sha256 in weights/README.md"
    elif [ "$want" != "$got" ]; then fail "$f: sha256 $got, weights/README.md says $want"
    else n=$((n + 1)); fi
done
[ -f weights/fmnist_encoder.safetensors ] || fail "weights/fmnist_encoder.safetensors is not shipped"
echo "ok   $n shipped files match their sha256 in weights/README.md"

"$MK" "$T/img" 2 4 28 28 1 > /dev/null
"$G" embed --images "$T/img" --out "$T/default.csv" > /dev/null 2>&1 || fail "genrep embed without --encoder failed"
"$G" embed --encoder weights/fmnist_encoder.safetensors --images "$T/img" --out "$T/given.csv" > /dev/null 2>&1 \
    || fail "genrep embed --encoder weights/fmnist_encoder.safetensors failed"
cmp -s "$T/default.csv" "$T/given.csv" || fail "embed's default encoder is not weights/fmnist_encoder.safetensors"
rows=$(tail -n +2 "$T/default.csv" | wc -l)
distinct=$(tail -n +2 "$T/default.csv" | cut -d, -f2- | sort -u | wc -l)
[ "$rows" -eq 8 ] && [ "$distinct" -eq 8 ] || fail "embed: $rows rows, $distinct distinct feature rows (expected 8 and 8)"
echo "ok   genrep embed on the shipped encoder: $rows images, $distinct distinct feature rows"

cd "$T"
rc=0
"$G" embed --images img --out x.csv > out.txt 2> err.txt || rc=$?
if [ "$rc" -eq 0 ] || [ "$rc" -ge 128 ] || ! grep -q "weights/fmnist_encoder.safetensors" err.txt \
   || ! grep -q -- "--encoder" err.txt || [ -e x.csv ]; then
    fail "embed outside the repository root: exit $rc, message: $(head -n 1 err.txt)"
else
    echo "ok   outside the repository root: $(head -n 1 err.txt)"
fi
cd "$ROOT"
[ "$fails" -eq 0 ] && echo "shipped: all checks passed"
[ "$fails" -eq 0 ]
