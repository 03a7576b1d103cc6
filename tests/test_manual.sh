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
# The README's snippet and its build commands, exactly as written, from the repository root
# (it reads weights/ and writes samples.png: run in a copy).
mkdir -p "$T/readme/weights"
cp genrep.h "$T/readme/"
cp weights/fmnist_dcgan.safetensors "$T/readme/weights/"
sed -n '/^<!-- snippet:prog.c -->$/,/^<!-- snippet:build -->$/p' README.md | sed -n '/^```c$/,/^```$/p' | sed '1d;$d' > "$T/readme/prog.c"
sed -n '/^<!-- snippet:build -->$/,/^```$/{/^```sh$/,/^```$/p}' README.md | sed '1d;$d' > "$T/readme/build.sh"
[ -s "$T/readme/prog.c" ] && grep -q "^cc " "$T/readme/build.sh" || { echo "FAIL: README snippet markers not found"; exit 1; }
(cd "$T/readme" && sh -e build.sh > out.txt 2>&1) || { echo "FAIL: the README's snippet does not build/run:"; cat "$T/readme/out.txt"; exit 1; }
grep -q "wrote samples.png" "$T/readme/out.txt" && [ -s "$T/readme/samples.png" ] || { echo "FAIL: README snippet output"; exit 1; }
# below C11 the header refuses with a message naming the flag
printf '#define GENREP_IMPLEMENTATION\n#include "genrep.h"\nint main(void) { return 0; }\n' > "$T/c99.c"
if ${CC:-cc} -std=c99 -I. -c -o "$T/c99.o" "$T/c99.c" 2> "$T/c99.txt"; then echo "FAIL: -std=c99 compiled"; exit 1; fi
grep -q "needs C11 or later: compile with -std=c11" "$T/c99.txt" || { echo "FAIL: -std=c99 error:"; head -5 "$T/c99.txt"; exit 1; }
echo "manual: quick start matches examples/00_quickstart.c, compiles (-Werror, no OpenMP) and runs;"
echo "        the README snippet builds and runs with its own commands; -std=c99 is refused by name"
