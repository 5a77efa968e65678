#!/bin/sh
# Malformed TCARENA_CONF texts, as a user meets them: a program run under
# LD_PRELOAD=libtcarena.so must print exactly the expected warning lines on
# stderr (each quoting the offending text), its own output intact, the option
# values the warnings say are kept, and exit 0.  Then the warnings once per
# process through wrappers that exec, and once for children too.
# usage: conf.sh LIBTCARENA CONF_PROGRAM
set -eu
lib=$1 program=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
failed=0

fail() {
    echo "FAIL: $1"
    failed=1
}

# expect NAME CONF STDERR VALUES OPTION...: runs the program with OPTION...
# under TCARENA_CONF=CONF; STDERR is all it may print there, VALUES the lines
# it prints after its result, one for each OPTION.
expect() {
    name=$1 conf=$2 want_err=$3 want_values=$4
    shift 4
    status=0
    TCARENA_CONF=$conf LD_PRELOAD=$lib "$program" "$@" >"$dir/out" 2>"$dir/err" || status=$?
    [ "$status" = 0 ] || fail "$name: exit status $status"
    printf '%s\n' "$want_err" >"$dir/want_err"
    cmp -s "$dir/want_err" "$dir/err" || { fail "$name: stderr differs"; diff "$dir/want_err" "$dir/err" || true; }
    printf 'blocks: 1000\nsum: 499500\n%s\n' "$want_values" >"$dir/want_out"
    cmp -s "$dir/want_out" "$dir/out" || { fail "$name: stdout differs"; diff "$dir/want_out" "$dir/out" || true; }
}
p='tcarena: TCARENA_CONF:'
options='(options: narenas, tcache, hwloc, arena_per, decay_ms, background_thread, thp, stats_print, stats_format, stats_file, stats_pid, prof, prof_active, prof_sample, prof_leak, prof_leak_file)'
nines=$(printf '%3000s' '' | tr ' ' 9)
keys=$(printf '%3000s' '' | tr ' ' k)
long_file=/tmp/$(printf '%300s' '' | tr ' ' x)

# 1. Numbers out of range, one beyond what a long holds.
expect "out of range" "decay_ms:99999999,stats_pid:99999999999999999999999" \
"$p decay_ms: \"99999999\" is out of range -1..3600000, keeping 1000
$p stats_pid: \"99999999999999999999999\" is out of range 0..99999999, keeping 0" \
'opt.decay_ms: 1000
opt.stats_pid: 0' long:decay_ms long:stats_pid

# 2. Words for numbers: the value kept is the one in effect.
expect "words for numbers" "narenas:four,narenas:2,narenas:two" \
"$p narenas: \"four\" is not a number (0..1024), keeping 0
$p narenas: \"two\" is not a number (0..1024), keeping 2" \
'opt.narenas: 2' long:narenas

# 3. Unknown keys; the good entry after them still counts.
expect "unknown keys" "prfo:1,Narenas:4,decay_ms:500" \
"$p unknown option \"prfo\" $options
$p unknown option \"Narenas\" $options" \
'opt.decay_ms: 500' long:decay_ms

# 4. Missing values and a missing name.
expect "missing values" "decay_ms,narenas:,:5" \
"$p \"decay_ms\" has no value (write decay_ms:VALUE)
$p \"narenas\" has no value (write narenas:VALUE)
$p \":5\" has no option name (write NAME:VALUE)" \
'opt.decay_ms: 1000
opt.narenas: 0' long:decay_ms long:narenas

# 5. A 3000-character value and a 3000-character key, quoted shortened.
expect "3000 characters" "decay_ms:$nines,$keys:1" \
"$p decay_ms: \"9999999999999999999999999999999999999999...\" (3000 characters) is out of range -1..3600000, keeping 1000
$p unknown option \"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...\" (3000 characters) $options" \
'opt.decay_ms: 1000' long:decay_ms

# 6. Empty entries: leading, doubled and trailing commas.
expect "empty entries" ",narenas:2,,decay_ms:300," \
"$p empty entry at position 1 (a comma goes only between two NAME:VALUE entries)
$p empty entry at position 3 (a comma goes only between two NAME:VALUE entries)
$p empty entry at position 5 (a comma goes only between two NAME:VALUE entries)" \
'opt.narenas: 2
opt.decay_ms: 300' long:narenas long:decay_ms

# 7. Blanks around keys and values are ignored; a warning quotes the value trimmed.
tab=$(printf '\t')
expect "blanks" " decay_ms : 300 ,${tab}tcache:${tab}false , thp: never,  narenas :  x  " \
"$p narenas: \"x\" is not a number (0..1024), keeping 0" \
'opt.decay_ms: 300
opt.tcache: false
opt.thp: "never"
opt.narenas: 0' long:decay_ms bool:tcache text:thp long:narenas

# 8. Booleans take true, false, 1 and 0, nothing else; choices their names.
expect "bad booleans" "tcache:0,tcache:yes,hwloc:TRUE,stats_print:2,thp:sometimes" \
"$p tcache: \"yes\" is not a boolean (true, false, 1, 0), keeping false
$p hwloc: \"TRUE\" is not a boolean (true, false, 1, 0), keeping true
$p stats_print: \"2\" is not a boolean (true, false, 1, 0), keeping false
$p thp: \"sometimes\" is not one of (default, always, never), keeping default" \
'opt.tcache: false
opt.hwloc: true
opt.stats_print: false
opt.thp: "default"' bool:tcache bool:hwloc bool:stats_print text:thp

# 9. A stats_file longer than its buffer, and control characters quoted as '?'.
expect "long stats_file" "stats_file:$long_file,tcache:on$(printf '\033')[31m" \
"$p stats_file: \"/tmp/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\" (305 characters) is longer than 255 characters, keeping stderr
$p tcache: \"on?[31m\" is not a boolean (true, false, 1, 0), keeping true" \
'opt.stats_file: ""' text:stats_file

# 10. A stats_file that cannot be opened: named with the reason, at exit; the
# statistics go to stderr instead.
status=0
TCARENA_CONF=stats_print:true,stats_format:json,stats_file:$dir/missing/stats.json \
    LD_PRELOAD=$lib "$program" >"$dir/out" 2>"$dir/err" || status=$?
[ "$status" = 0 ] || fail "unopenable stats_file: exit status $status"
printf 'blocks: 1000\nsum: 499500\n' | cmp -s - "$dir/out" || fail "unopenable stats_file: stdout differs"
grep '^tcarena:' "$dir/err" >"$dir/lines" || true
echo "tcarena: stats_file \"$dir/missing/stats.json\": No such file or directory; printing to stderr" |
    cmp -s - "$dir/lines" || { fail "unopenable stats_file: warning differs"; cat "$dir/lines"; }
grep -q '"allocated"' "$dir/err" || fail "unopenable stats_file: no statistics on stderr"

# Once per process: the same warnings, once, however many images the process
# execs, and not again in the processes it starts (they inherit the text with
# the malformed entries struck out).  Option values stay what they were.
conf='narenas:four,, decay_ms:300'
warnings="$p narenas: \"four\" is not a number (0..1024), keeping 0
$p empty entry at position 2 (a comma goes only between two NAME:VALUE entries)"
printf '#!/bin/sh\nexec "$@"\n' >"$dir/wrapper"
printf '#!/bin/sh\nexec "%s" "$@"\n' "$dir/wrapper" >"$dir/double_wrapper"
chmod +x "$dir/wrapper" "$dir/double_wrapper"
# once NAME RUNS COMMAND...: COMMAND runs the program RUNS times in all.
once() {
    name=$1 runs=$2
    shift 2
    status=0
    TCARENA_CONF=$conf LD_PRELOAD=$lib "$@" >"$dir/out" 2>"$dir/err" || status=$?
    [ "$status" = 0 ] || fail "$name: exit status $status"
    printf '%s\n' "$warnings" | cmp -s - "$dir/err" || { fail "$name: stderr differs"; cat "$dir/err"; }
    : >"$dir/want_out"
    for _ in $(seq "$runs"); do
        printf 'blocks: 1000\nsum: 499500\nopt.decay_ms: 300\n' >>"$dir/want_out"
    done
    cmp -s "$dir/want_out" "$dir/out" || { fail "$name: stdout differs"; cat "$dir/out"; }
}
once "sh -c exec" 1 sh -c 'exec "$0" long:decay_ms' "$program"
once "wrapper that execs twice" 1 "$dir/double_wrapper" "$program" long:decay_ms
once "sh -c exec sh -c exec" 1 sh -c 'exec sh -c "exec \"\$0\" long:decay_ms" "$0"' "$program"
once "children" 3 sh -c '"$0" long:decay_ms; "$0" long:decay_ms; "$0" long:decay_ms' "$program"

[ "$failed" = 0 ] && echo "all TCARENA_CONF cases passed"
exit "$failed"
