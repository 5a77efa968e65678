#!/bin/sh
# tcarena run --leaks and --profile on a threaded program as an operator
# runs them: the leaking site named first, the program's own output and exit
# status kept; estimates within 20% of known leaks at a small sampling
# interval; google-pprof reading the profile (skipped without it).
# Arguments: the tcarena command and the test program (prof/leaky.c).
set -eu
tcarena=$1
leaky=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# The program alone, then under --leaks: the same output (the workers end in
# any order), the same exit status, its stderr line ahead of the report.
status=0
"$leaky" >"$dir/alone.out" 2>"$dir/alone.err" || status=$?
[ "$status" = 3 ] || fail "leaky alone: exit status $status"
status=0
"$tcarena" run --leaks -- "$leaky" >"$dir/out" 2>"$dir/err" || status=$?
[ "$status" = 3 ] || fail "run --leaks: exit status $status, not the program's 3; stderr: $(cat "$dir/err")"
sort "$dir/alone.out" >"$dir/alone.sorted"
sort "$dir/out" >"$dir/sorted"
cmp -s "$dir/alone.sorted" "$dir/sorted" || fail "run --leaks changed the program's stdout: $(cat "$dir/out")"
[ "$(head -n 1 "$dir/err")" = "$(cat "$dir/alone.err")" ] || fail "the program's stderr line is not first: $(cat "$dir/err")"
grep -q "^tcarena run: .*leaky (pid [0-9]*) still held about .* at exit, from [0-9]* call site" "$dir/err" ||
    fail "no report: $(cat "$dir/err")"
first=$(sed -n '/^#1 /{n;p;q}' "$dir/err")
case $first in
*leak_slowly*) ;;
*) fail "the first site is not leak_slowly: $(cat "$dir/err")" ;;
esac
grep -q "leak_slowly.* (leaky.c:[0-9]*)" "$dir/err" || fail "no file:line for leak_slowly: $(cat "$dir/err")"

# A program killed by a signal writes no profile: its status as a shell gives
# it, one line saying so.
status=0
"$tcarena" run --leaks -- sh -c 'kill -TERM $$' >"$dir/out" 2>"$dir/err" || status=$?
[ "$status" = 143 ] || fail "run --leaks of a program killed by SIGTERM: exit status $status"
[ "$(wc -l <"$dir/err")" = 1 ] && grep -q "killed by signal 15: no leak report" "$dir/err" ||
    fail "run --leaks of a killed program: $(cat "$dir/err")"

# Estimates: each site's bytes against what it kept (estimate mode, see
# leaky.c); churn kept nothing and must not appear.
"$tcarena" run --leaks --conf=prof_sample:1024 -- "$leaky" estimate >"$dir/out" 2>"$dir/err" ||
    fail "run --leaks estimate: exit status $?; $(cat "$dir/err")"
estimate() { sed -n "/^#[0-9]* /{h;n;/^ *$1[ .]/{x;s/.*(\([0-9]*\) bytes.*/\1/p}}" "$dir/err"; }
check_estimate() {
    got=$(estimate "$1")
    [ -n "$got" ] || fail "no site $1 in: $(cat "$dir/err")"
    [ $((got * 100)) -ge $(($2 * 80)) ] && [ $((got * 100)) -le $(($2 * 120)) ] ||
        fail "$1: estimated $got bytes, kept $2: $(cat "$dir/err")"
}
check_estimate leak_small $((20000 * 64))
check_estimate leak_large $((3000 * 1000))
check_estimate keep_quarter $((10000 * 128))
[ -z "$(estimate churn)" ] || fail "churn freed everything, yet: $(cat "$dir/err")"

# --profile: the file google-pprof reads, with the same top site.
"$tcarena" run --profile="$dir/leaky.heap" -- "$leaky" >/dev/null 2>"$dir/err" || [ $? = 3 ] ||
    fail "run --profile: $(cat "$dir/err")"
head -n 1 "$dir/leaky.heap" | grep -q "^heap profile: .* @ heap_v2/524288$" || fail "not a profile: $(head -n 3 "$dir/leaky.heap")"
command -v google-pprof >/dev/null || { echo "skipped: google-pprof (Debian: google-perftools) is not installed"; exit 77; }
google-pprof --text "$leaky" "$dir/leaky.heap" >"$dir/pprof" 2>"$dir/pprof.err" || fail "google-pprof: $(cat "$dir/pprof.err")"
top=$(grep -A 1 '^Total:' "$dir/pprof" | tail -n 1)
case $top in
*leak_slowly*) ;;
*) fail "google-pprof's top site is not leak_slowly: $(cat "$dir/pprof")" ;;
esac
