#!/bin/sh
# run-tests.sh — runs the unit-test runner, then the examples that double as
# tests, and ends with one line "N passed, N failed[, N skipped]".
BUILD=${BUILD:-build}
# Sleeping idle threads keep the suite's time steady on a shared machine.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
out=$(mktemp)
# The runner's own exit status, not tee's: a crash must count as a failure.
{ "$BUILD/test_runner" 2>&1; echo $? > "$out.rc"; } | tee "$out"
rc=$(cat "$out.rc")
p=$(sed -n 's/^runner: \([0-9]*\) passed.*/\1/p' "$out")
f=$(sed -n 's/^runner: [0-9]* passed, \([0-9]*\) failed.*/\1/p' "$out")
s=$(sed -n 's/.* \([0-9]*\) skipped$/\1/p' "$out")
p=${p:-0}; f=${f:-0}; s=${s:-0}
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "FAIL test_runner exited with status $rc"; f=1
fi
for ex in tape_regression custom_loop regression sequence_tape; do
    if [ -x "$BUILD/examples/$ex" ]; then
        if "$BUILD/examples/$ex" > "$out.ex" 2>&1; then
            echo "ok   example $ex ($(tail -n 1 "$out.ex"))"; p=$((p + 1))
        else
            echo "FAIL example $ex"; tail -n 20 "$out.ex"; f=$((f + 1))
        fi
    fi
done
# The shared library as Debian ships one: SONAME libdeepc.so.0, and `make
# install` into a scratch tree gives the versioned file, the SONAME link and
# the -ldeepc link; a program linked there records the SONAME and runs.
check_install() {
    lib="$BUILD/libdeepc.so"
    readelf -d "$lib" | grep -q 'SONAME.*\[libdeepc\.so\.0\]' || { echo "no SONAME libdeepc.so.0 in $lib"; return 1; }
    root="$out.root"
    make --no-print-directory -s install BUILD="$BUILD" DESTDIR="$root" PREFIX=/usr > "$out.inst" 2>&1 || { cat "$out.inst"; return 1; }
    d="$root/usr/lib"
    [ -f "$d/libdeepc.so.0.1.0" ] && [ ! -L "$d/libdeepc.so.0.1.0" ] || { echo "no file $d/libdeepc.so.0.1.0"; return 1; }
    [ "$(readlink "$d/libdeepc.so.0")" = libdeepc.so.0.1.0 ] || { echo "libdeepc.so.0 is not a link to libdeepc.so.0.1.0"; return 1; }
    [ "$(readlink -f "$d/libdeepc.so")" = "$(readlink -f "$d/libdeepc.so.0.1.0")" ] || { echo "libdeepc.so does not lead to libdeepc.so.0.1.0"; return 1; }
    [ -f "$root/usr/include/deepc.h" ] && [ -x "$root/usr/bin/deepc" ] || { echo "no header or no deepc"; return 1; }
    # a sanitized library wants its runtime linked in: the links suffice there
    readelf -d "$lib" | grep -q 'NEEDED.*libasan' && return 0
    printf '#include <deepc.h>\nint main(void) { dc_model *m = dc_sequential_new(NULL); dc_model_free(m); return m == NULL; }\n' > "$out.c"
    ${CC:-cc} -std=c11 -I"$root/usr/include" -o "$out.prog" "$out.c" -L"$d" -ldeepc || return 1
    readelf -d "$out.prog" | grep -q 'NEEDED.*\[libdeepc\.so\.0\]' || { echo "the program does not record libdeepc.so.0"; return 1; }
    LD_LIBRARY_PATH="$d" "$out.prog" || { echo "the program linked to the installed library does not run"; return 1; }
}
if check_install > "$out.ex" 2>&1; then
    echo "ok   shared library SONAME and make install links"; p=$((p + 1))
else
    echo "FAIL shared library SONAME and make install links"; tail -n 20 "$out.ex"; f=$((f + 1))
fi
rm -rf "$out.root" "$out.inst" "$out.c" "$out.prog"
# The documents the README names are in the repository (none outside it).
missing=""
for doc in $(grep -o '[A-Za-z0-9_./-]*\.md' README.md | sort -u); do
    case "$doc" in ../*|/*) missing="$missing $doc (outside the repository)";; esac
    [ -f "$doc" ] || missing="$missing $doc"
done
if [ -z "$missing" ]; then
    echo "ok   README's documents exist"; p=$((p + 1))
else
    echo "FAIL README names documents that are not here:$missing"; f=$((f + 1))
fi
rm -f "$out" "$out.ex" "$out.rc"
if [ "$s" -gt 0 ]; then echo "$p passed, $f failed, $s skipped"; else echo "$p passed, $f failed"; fi
[ "$f" -eq 0 ]
