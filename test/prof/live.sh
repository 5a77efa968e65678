#!/bin/sh
# The heap profiler's top sites read from outside a running process, as an
# operator reads them: tcarena stats --pid (text, JSON, Prometheus) and
# tcarena top name the function holding the big leak first, with an estimate
# near what it keeps; they follow a free and a fork (the child keeps its
# parent's sites, the parent's change alone); a process in a mount namespace
# of its own is named from its own files; a process that does not profile
# shows no such section, and reading it gives it no page of the memory file.
# Arguments: the command, the library, the target program (live_leaker.c).
set -eu
tcarena=$1
library=$2
target=$3
dir=$(mktemp -d)
pids=
cleanup() {
    for pid in $pids; do kill -9 "$pid" 2>/dev/null || true; done
    rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# start NAME CONF: the target under LD_PRELOAD with TCARENA_CONF=CONF, its
# stdin a FIFO this shell holds open on descriptor 3 (NAME prof) or 4.
start() {
    mkfifo "$dir/$1.in"
    TCARENA_CONF=$2 LD_PRELOAD="$library" "$target" <"$dir/$1.in" >"$dir/$1.out" 2>"$dir/$1.err" &
    echo $! >"$dir/$1.pid"
    pids="$pids $!"
}

# lines NAME N: waits for NAME's Nth line of output (20 s at most).
lines() {
    tries=0
    until [ "$(wc -l <"$dir/$1.out")" -ge "$2" ]; do
        tries=$((tries + 1))
        [ $tries -lt 400 ] || fail "$1: no line $2 in 20 s: $(cat "$dir/$1.out" "$dir/$1.err")"
        sleep 0.05
    done
}

# first_site FILE: the first frame of the text's first site.
first_site() { sed -n '/^Top allocation sites/,${/^  #1 /{n;s/^ *//;p;q}}' "$1"; }

# prof_pages PID: "touched" when a page of the process's statistics file
# from the profiler's section on holds data, else "untouched" (SEEK_DATA:
# a page nobody wrote or read is a hole of the memory file).
prof_pages() {
    python3 - "$1" <<'PYTHON'
import errno, os, struct, sys
pid = sys.argv[1]
for fd in os.listdir("/proc/%s/fd" % pid):
    path = "/proc/%s/fd/%s" % (pid, fd)
    if os.readlink(path).startswith("/memfd:tcarena-live"):
        break
with open(path, "rb") as page:
    prof_offset = struct.unpack("<13Q", page.read(13 * 8))[11]  # struct live_header's prof_offset
    try:
        os.lseek(page.fileno(), prof_offset, os.SEEK_DATA)
        print("touched")
    except OSError as error:
        print("untouched" if error.errno == errno.ENXIO else error)
PYTHON
}

start prof prof:true,prof_sample:4096
exec 3>"$dir/prof.in"
start plain stats_print:false
exec 4>"$dir/plain.in"
lines prof 1
lines plain 1
prof=$(cat "$dir/prof.pid")
plain=$(cat "$dir/plain.pid")

# Text: the big leak first, about 8 MB (2000 blocks of 4000 bytes) in about 2000 blocks.
"$tcarena" stats --pid="$prof" >"$dir/text" 2>"$dir/err" || fail "stats --pid: $(cat "$dir/err")"
case $(first_site "$dir/text") in
keep_big_leak*) ;;
*) fail "the first site is not keep_big_leak: $(sed -n '/^Top allocation sites/,$p' "$dir/text")" ;;
esac
bytes=$(sed -n 's/^  #1  \([0-9]*\) bytes in \([0-9]*\) blocks, allocated at$/\1 \2/p' "$dir/text")
set -- $bytes
[ $# = 2 ] && [ "$1" -ge 6400000 ] && [ "$1" -le 9600000 ] && [ "$2" -ge 1600 ] && [ "$2" -le 2400 ] ||
    fail "the big leak's estimate is off: $(sed -n '/^Top allocation sites/,$p' "$dir/text")"
grep -q "keep_middle_leak" "$dir/text" && grep -q "keep_small_leak" "$dir/text" ||
    fail "the smaller leaks are missing: $(sed -n '/^Top allocation sites/,$p' "$dir/text")"
grep -q "^        main[ +]" "$dir/text" || fail "no caller frame named main: $(sed -n '/^Top allocation sites/,$p' "$dir/text")"

# JSON: the sites under "top_sites", largest first; Prometheus: a gauge per site.
"$tcarena" stats --pid="$prof" --format=json >"$dir/json" || fail "stats --format=json"
if command -v python3 >/dev/null; then
    python3 - "$dir/json" <<'PYTHON' || fail "JSON: $(cat "$dir/json")"
import json, sys
sites = json.load(open(sys.argv[1]))["tcarena"]["top_sites"]
assert sites[0]["frames"][0].startswith("keep_big_leak"), sites[0]
assert sites == sorted(sites, key=lambda s: -s["bytes"]), sites
assert any(s["frames"][0].startswith("keep_small_leak") for s in sites), sites
PYTHON
fi
"$tcarena" stats --pid="$prof" --format=prometheus >"$dir/prom" || fail "stats --format=prometheus"
grep -q '^tcarena_prof_site_bytes{rank="1",site="keep_big_leak' "$dir/prom" &&
    grep -q '^# TYPE tcarena_prof_site_blocks gauge$' "$dir/prom" || fail "Prometheus: $(grep prof_site "$dir/prom")"

# top: the five largest sites under its tables, the big leak first.
"$tcarena" top --pid="$prof" --count=1 >"$dir/top" || fail "top"
sed -n '/^Top allocation sites/{n;n;p;q}' "$dir/top" | grep -q " 1 .* keep_big_leak" ||
    fail "top: $(cat "$dir/top")"

# A fork: the child keeps the big leak; the parent frees it, and its largest
# site is the middle one while the child's stays the big one.
echo fork >&3
lines prof 2
child=$(sed -n 2p "$dir/prof.out")
pids="$pids $child"
echo free >&3
lines prof 3
"$tcarena" stats --pid="$prof" >"$dir/text" || fail "stats --pid after free"
case $(first_site "$dir/text") in
keep_middle_leak*) ;;
*) fail "after the free, the first site is not keep_middle_leak: $(sed -n '/^Top allocation sites/,$p' "$dir/text")" ;;
esac
! grep -q keep_big_leak "$dir/text" || fail "the freed leak is still shown: $(sed -n '/^Top allocation sites/,$p' "$dir/text")"
"$tcarena" stats --pid="$child" >"$dir/text" || fail "stats --pid of the child"
case $(first_site "$dir/text") in
keep_big_leak*) ;;
*) fail "the child's first site is not keep_big_leak: $(sed -n '/^Top allocation sites/,$p' "$dir/text")" ;;
esac

# Without the profiler: no section in any format, and neither the process
# nor its readers touched the section's pages.
"$tcarena" stats --pid="$plain" >"$dir/text" || fail "stats --pid of a process that does not profile"
! grep -q "Top allocation sites" "$dir/text" || fail "a process that does not profile has top sites: $(cat "$dir/text")"
"$tcarena" stats --pid="$plain" --format=json >"$dir/json"
! grep -q top_sites "$dir/json" || fail "JSON of a process that does not profile has top_sites"
"$tcarena" top --pid="$plain" --count=1 >"$dir/top"
! grep -q "allocation sites" "$dir/top" || fail "top of a process that does not profile: $(cat "$dir/top")"
if command -v python3 >/dev/null; then
    [ "$(prof_pages "$prof")" = touched ] || fail "the profiler's section: $(prof_pages "$prof") in a process that profiles"
    [ "$(prof_pages "$plain")" = untouched ] || fail "the profiler's section: $(prof_pages "$plain") in a process that does not profile"
fi

# A process in a mount namespace of its own, run from a file only it sees:
# its frames are named all the same (root only; skipped elsewhere).
if mkdir "$dir/private" && unshare -m mount -t tmpfs none "$dir/private" 2>/dev/null; then
    mkfifo "$dir/ns.in"
    TCARENA_CONF=prof:true,prof_sample:4096 LD_PRELOAD="$library" unshare -m sh -c \
        'mount -t tmpfs none "$1" && cp "$2" "$1/leaker" && exec "$1/leaker"' sh "$dir/private" "$target" \
        <"$dir/ns.in" >"$dir/ns.out" 2>"$dir/ns.err" &
    echo $! >"$dir/ns.pid"
    pids="$pids $!"
    exec 5>"$dir/ns.in"
    lines ns 1
    "$tcarena" stats --pid="$(cat "$dir/ns.pid")" >"$dir/text" || fail "stats --pid in a mount namespace"
    case $(first_site "$dir/text") in
    keep_big_leak*) ;;
    *) fail "in a mount namespace, the first site is not keep_big_leak: $(sed -n '/^Top allocation sites/,$p' "$dir/text")" ;;
    esac
    exec 5>&-
fi

exec 3>&- 4>&-
wait "$prof" || fail "the profiled target: exit status $?: $(cat "$dir/prof.err")"
wait "$plain" || fail "the plain target: exit status $?: $(cat "$dir/plain.err")"
