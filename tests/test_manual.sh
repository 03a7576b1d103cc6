#!/bin/sh
# The quick start printed in genrep.h's manual is examples/00_quickstart.c
# byte for byte, and it compiles and runs.
set -e
B=${BUILD:-build}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
sed -n '/^QUICKSTART-BEGIN$/,/^QUICKSTART-END$/p' genrep.h | sed '1d;$d' > "$T/quickstart.c"
if ! cmp -s "$T/quickstart.c" examples/00_quickstart.c; then
    echo "FAIL: the manual's quick start differs from examples/00_quickstart.c:"
    diff "$T/quickstart.c" examples/00_quickstart.c | head -20
    exit 1
fi
${CC:-cc} -O2 -std=c11 -Wall -Wextra -Werror -I. -o "$T/quickstart" "$T/quickstart.c" -lz -lm
"$T/quickstart" > "$T/out.txt"
grep -q "step 50" "$T/out.txt"
echo "manual: quick start matches examples/00_quickstart.c, compiles (-Werror, no OpenMP) and runs"
