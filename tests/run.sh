#!/bin/sh
# Run every test binary and example smoke test; print one closing line
# "tests: N passed, M failed" and exit non-zero if anything failed.
B=${BUILD:-build}
pass=0; fail=0; failed=""
run() { # name, command...
    name=$1; shift
    start=$(date +%s)
    if "$@" > "$B/tests/$name.log" 2>&1; then
        pass=$((pass+1)); echo "PASS $name ($(( $(date +%s) - start ))s)"
    else
        fail=$((fail+1)); failed="$failed $name"; echo "FAIL $name"; tail -n 30 "$B/tests/$name.log"
    fi
    grep -h "Checks:" "$B/tests/$name.log" | sed 's/^/    /'
}
for t in "$B"/tests/test_*; do
    [ -x "$t" ] || continue
    case "$t" in *.log) continue;; esac
    run "$(basename "$t")" "$t"
done
for t in tests/test_*.sh; do
    [ -f "$t" ] || continue
    run "$(basename "$t" .sh)" env BUILD="$B" sh "$t"
done
run cxx17_header "$B/tests/cxx17_header"
run two_tu_static "$B/tests/two_tu_static"
for e in "$B"/examples/*; do
    [ -x "$e" ] || continue
    run "example_$(basename "$e")" "$e" --smoke
done
[ -n "$failed" ] && echo "failed:$failed"
echo "tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
