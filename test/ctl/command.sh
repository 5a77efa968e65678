# What the tests of the tcarena command share (sourced): fail, and answers,
# which checks one invocation's exit status and its one line on stderr.
# The sourcing script sets tcarena (the command) and dir (a scratch folder).

fail() { echo "FAIL: $*" >&2; exit 1; }

# answers STATUS PHRASE ARGS...: `tcarena ARGS` exits with STATUS and says
# exactly one line on stderr, which holds PHRASE and is no shell's or
# Python's.  Leaves stdout in $dir/out.
answers() {
    want=$1 phrase=$2
    shift 2
    got=0
    "$tcarena" "$@" >"$dir/out" 2>"$dir/err" || got=$?
    [ "$got" = "$want" ] || fail "tcarena $*: exit status $got, not $want; stderr: $(cat "$dir/err")"
    [ "$(wc -l <"$dir/err")" = 1 ] || fail "tcarena $*: stderr is not one line: $(cat "$dir/err")"
    grep -qF -- "$phrase" "$dir/err" || fail "tcarena $*: '$(cat "$dir/err")' does not say '$phrase'"
    ! grep -qE 'Traceback|line [0-9]+:|^(sh|bash|dash|exec|python3?):' "$dir/err" ||
        fail "tcarena $*: a shell or Python error: $(cat "$dir/err")"
}
