#!/bin/sh
# Live statistics as an operator reads them, from outside the process:
# tcarena stats --pid in each format (a process holding 200 MiB under
# LD_PRELOAD shows it), a threaded process under load agreeing with its own
# tca_ctl view, tcarena top, the Prometheus file rewritten while the process
# runs and removed when it ends or the reader is stopped, a reader of another
# user refused, SIGKILL leaving nothing behind, a forked child counting apart
# from its parent, a process in a PID namespace of its own, one that could
# not have the memory file, one that closed its descriptors (root), the report
# at exit reaching the operator (a program that closes stderr, one stopped by
# SIGTERM), glibc's mallinfo2 family, and every bad invocation.
# Arguments: the command, the library, the target program (live_target.c).
set -eu
tcarena=$1
library=$2
target=$3
command -v python3 >/dev/null || { echo "skipped: no python3"; exit 77; }
dir=$(mktemp -d)
cleanup() {
    for pidfile in "$dir"/*.pid "$dir"/*.holder; do
        [ -f "$pidfile" ] && kill -9 "$(cat "$pidfile")" 2>/dev/null
    done
    rm -rf "$dir"
}
trap cleanup EXIT

# shellcheck source=command.sh
. "$(dirname "$0")/command.sh"

MIB=1048576

# start NAME COMMAND...: COMMAND (live_target, or what runs it) under
# LD_PRELOAD in the background, its stdin a FIFO held open by a sleep (finish
# NAME closes it), its pid in $dir/NAME.pid; returns once it printed its first
# line (to $dir/NAME.out).
start() {
    name=$1
    shift
    mkfifo "$dir/$name.in"
    LD_PRELOAD="$library" "$@" <"$dir/$name.in" >"$dir/$name.out" 2>"$dir/$name.err" &
    echo $! >"$dir/$name.pid"
    sleep 600 >"$dir/$name.in" &
    echo $! >"$dir/$name.holder"
    tries=0
    until [ -s "$dir/$name.out" ]; do
        tries=$((tries + 1))
        [ $tries -lt 600 ] || fail "$name: no first line in 30 s: $(cat "$dir/$name.err")"
        sleep 0.05
    done
}

# finish NAME: closes NAME's stdin and waits for it to end.
finish() {
    kill "$(cat "$dir/$1.holder")"
    wait "$(cat "$dir/$1.pid")" || fail "$1: exit status $?: $(cat "$dir/$1.err")"
    rm "$dir/$1.pid" "$dir/$1.holder"
}

# check_readings LOW HIGH FILE...: JSON readings from outside the process:
# the orderings hold, the thread caches are unknown (null), and allocated
# lies in [LOW, HIGH]; prints the last one's allocated.
check_readings() {
    python3 - "$@" <<'PYTHON' || fail "readings $*"
import json, sys
low, high = int(sys.argv[1]), int(sys.argv[2])
for name in sys.argv[3:]:
    d = json.load(open(name))["tcarena"]
    t = d["totals"]
    assert t["allocated"] <= t["active"] <= t["resident"] <= t["mapped"], (name, t)
    assert t["tcache_bytes"] is None, (name, t)
    for a in d["arenas"]:
        assert a["allocated"] <= a["active"] <= a["mapped"], (name, a)
        assert a["allocated"] == a["small_allocated"] + a["large_allocated"], (name, a)
    assert low <= t["allocated"] <= high, "%s: allocated %d not in [%d, %d]" % (name, t["allocated"], low, high)
print(t["allocated"])
PYTHON
}

# Bad invocations of the new subcommands, before anything runs.
answers 2 "--pid=abc: not a process id" stats --pid=abc
answers 2 "--pid=0: not a process id" stats --pid=0
answers 2 "--pid=-4: not a process id" stats --pid=-4
answers 2 "--pid=: not a process id" stats --pid=
answers 2 "'--pid' needs a value" stats --pid
answers 2 "--format goes with --pid" stats --format=json
answers 2 "--output goes with --pid" stats --output="$dir/x.prom"
answers 2 "--interval goes with --pid" stats --interval=1
answers 2 "no process given (--pid=PID)" top
answers 2 "unknown option '--bogus'" top --bogus
answers 2 "--pid=x1: not a process id" top --pid=x1
sleep 30 &
plain=$!
echo "$plain" >"$dir/plain.pid"
answers 2 "process $plain does not run tcarena" stats --pid="$plain"
answers 2 "process $plain does not run tcarena" top --pid="$plain" --count=1
kill "$plain"
wait "$plain" 2>/dev/null || true
rm "$dir/plain.pid"
answers 2 "no process $plain" stats --pid="$plain"
answers 2 "no process $plain" top --pid="$plain"

# A process holding 200 MiB: read in each format, in well under a second.
start big "$target" hold 200
big=$(cat "$dir/big.pid")
answers 2 "--format=xml: the formats are text, json and prometheus" stats --pid="$big" --format=xml
answers 2 "--interval=0: not a number of seconds" stats --pid="$big" --interval=0
answers 2 "--interval=soon: not a number of seconds" stats --pid="$big" --interval=soon
answers 2 "--output= needs a path" stats --pid="$big" --output=
answers 2 "a FILE and --pid exclude each other" stats --pid="$big" "$dir/file.json"
answers 2 "--count=0: not a number of frames" top --pid="$big" --count=0
answers 2 "--interval=-1: not a number of seconds" top --pid="$big" --interval=-1
answers 2 "unexpected argument 'more'" top --pid="$big" more
begin=$(date +%s%N)
"$tcarena" stats --pid="$big" --format=json >"$dir/big.json"
elapsed_ms=$((($(date +%s%N) - begin) / 1000000))
[ "$elapsed_ms" -lt 1000 ] || fail "stats --pid took $elapsed_ms ms"
check_readings $((200 * MIB)) $((300 * MIB)) "$dir/big.json" >/dev/null
"$tcarena" stats --pid="$big" >"$dir/big.txt"
grep -qE "^  allocated +[0-9]+  " "$dir/big.txt" && grep -qE "^  tcache_bytes +unknown  .*thread-local" "$dir/big.txt" ||
    fail "stats --pid, text: $(cat "$dir/big.txt")"
text_allocated=$(awk '$1 == "allocated" { print $2; exit }' "$dir/big.txt")
[ "$text_allocated" -ge $((200 * MIB)) ] || fail "stats --pid, text: allocated $text_allocated"
"$tcarena" stats --pid="$big" "--format=prometheus" >"$dir/big.prom"
grep -q "^# tcarena_tcache_bytes unknown" "$dir/big.prom" && ! grep -q "^tcarena_tcache_bytes" "$dir/big.prom" ||
    fail "stats --pid, prometheus: tcache_bytes is not marked unknown"
[ "$(awk '$1 == "tcarena_allocated_bytes" { print $2 }' "$dir/big.prom")" -ge $((200 * MIB)) ] ||
    fail "stats --pid, prometheus: allocated below 200 MiB"
# stats FILE reads a live JSON reading too (thread caches: unknown).
"$tcarena" stats "$dir/big.json" | grep -qE "^  +tcache_bytes +unknown" || fail "stats FILE: no unknown tcache_bytes"

# Another user may not read it.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    nobody="setpriv --reuid=65534 --regid=65534 --clear-groups"
    if $nobody test -x "$tcarena"; then
        got=0
        $nobody "$tcarena" stats --pid="$big" >"$dir/out" 2>"$dir/err" || got=$?
        [ "$got" = 2 ] && [ "$(wc -l <"$dir/err")" = 1 ] &&
            grep -q "process $big: permission denied (only its own user and root" "$dir/err" ||
            fail "a reader of another user: status $got, $(cat "$dir/err")"
    else
        echo "permission case skipped: user 65534 cannot run $tcarena"
    fi
else
    echo "permission case skipped: needs root and setpriv (to read as user 65534)"
fi

# The Prometheus file: rewritten (a new inode each time) while the process
# runs, removed when the reader is stopped...
prom=$dir/node/tcarena.prom
mkdir "$dir/node"
"$tcarena" stats --pid="$big" --format=prometheus --output="$prom" --interval=0.05 &
reader=$!
tries=0
until [ -s "$prom" ]; do
    tries=$((tries + 1))
    [ $tries -lt 200 ] || fail "--output: no file after 10 s"
    sleep 0.05
done
first=$(stat -c %i "$prom")
tries=0
while [ "$(stat -c %i "$prom" 2>/dev/null || echo "$first")" = "$first" ]; do
    tries=$((tries + 1))
    [ $tries -lt 200 ] || fail "--output: the file is not rewritten"
    sleep 0.05
done
grep -q "^# TYPE tcarena_allocated_bytes gauge$" "$prom" || fail "--output: $(cat "$prom")"
kill -TERM "$reader"
wait "$reader" || true
[ -z "$(ls "$dir/node")" ] || fail "a stopped reader left $(ls "$dir/node")"
# ...and when the process ends.
"$tcarena" stats --pid="$big" --format=prometheus --output="$prom" --interval=0.05 &
reader=$!
until [ -s "$prom" ]; do sleep 0.05; done
finish big
wait "$reader" || fail "--output: the reader failed when the process ended"
[ -z "$(ls "$dir/node")" ] || fail "an ended process left $(ls "$dir/node")"

# SIGKILL leaves nothing: the memory file dies with the last process that
# holds or maps it (the reader, which ends with the process), and the file
# --output wrote goes.
start victim "$target" hold 8
victim=$(cat "$dir/victim.pid")
# pages [PID...]: "FD INODE" for each memory file of ours the processes
# (all, without PID) hold open.
pages() {
    if [ $# = 0 ]; then
        set -- $(ls /proc | grep -E '^[0-9]+$')
    fi
    for pid in "$@"; do
        find /proc/"$pid"/fd -maxdepth 1 -lname '/memfd:tcarena-live*' 2>/dev/null
    done | while read -r fd; do echo "${fd##*/} $(stat -L -c %i "$fd" 2>/dev/null)"; done
}
page_inode=$(pages "$victim" | awk '{ print $2 }')
[ -n "$page_inode" ] || fail "no /memfd:tcarena-live among $victim's descriptors"
shm_before=$(ls /dev/shm 2>/dev/null | wc -l)
"$tcarena" stats --pid="$victim" --format=prometheus --output="$prom" --interval=0.05 &
reader=$!
until [ -s "$prom" ]; do sleep 0.05; done
kill -KILL "$victim"
wait "$victim" 2>/dev/null || true
wait "$reader" || fail "the reader failed when its process was killed"
kill "$(cat "$dir/victim.holder")"
rm "$dir/victim.pid" "$dir/victim.holder"
[ -z "$(ls "$dir/node")" ] || fail "a killed process left $(ls "$dir/node")"
[ "$(ls /dev/shm 2>/dev/null | wc -l)" = "$shm_before" ] || fail "a file appeared in /dev/shm"
! pages | grep -q " $page_inode$" || fail "a process still holds the killed process's page"
! grep -qs " $page_inode  */memfd:tcarena-live" /proc/[0-9]*/maps || fail "a process still maps the killed process's page"

# A threaded process under load: the reader's figure agrees with the
# process's own tca_ctl view, within what its two threads change meanwhile
# (bursts of at most 4 MiB each, and their caches).
start load "$target" load 2 64
load=$(cat "$dir/load.pid")
read -r own_before own_after <"$dir/load.out"
[ "$own_after" -ge $((own_before + 40 * MIB)) ] || fail "load: its own view: $own_before, then $own_after"
for i in 1 2 3 4 5 6 7 8 9 10; do
    "$tcarena" stats --pid="$load" --format=json >"$dir/load.$i.json"
done
check_readings $((own_after - 24 * MIB)) $((own_after + 24 * MIB)) "$dir"/load.*.json >/dev/null
"$tcarena" top --pid="$load" --interval=0.2 --count=3 >"$dir/top.out"
[ "$(grep -c "^Totals$" "$dir/top.out")" = 3 ] && [ "$(grep -c "^Busiest size classes$" "$dir/top.out")" = 3 ] ||
    fail "top: not 3 frames: $(cat "$dir/top.out")"
# From the second frame on the busiest class hands out blocks every second.
awk '/^Busiest size classes$/ { frame++; getline; getline; if (frame > 1 && $2 + 0 <= 0) bad = 1 }
     END { exit bad }' "$dir/top.out" || fail "top: no allocation rate: $(cat "$dir/top.out")"
grep -q "^process $load, tcarena .*, [0-9]* arenas, " "$dir/top.out" || fail "top: no title line"
finish load

# fork: the child counts in a page of its own, from a copy of its parent's.
start family "$target" fork 16 48
read -r parent child <"$dir/family.out"
"$tcarena" stats --pid="$parent" --format=json >"$dir/parent.json"
"$tcarena" stats --pid="$child" --format=json >"$dir/child.json"
check_readings $((16 * MIB)) $((48 * MIB)) "$dir/parent.json" >/dev/null ||
    fail "fork: the parent does not show its 16 MiB alone"
check_readings $((64 * MIB)) $((96 * MIB)) "$dir/child.json" >/dev/null ||
    fail "fork: the child does not show its 48 MiB and its parent's 16"
family_pages=$(pages "$parent" "$child")
[ "$(echo "$family_pages" | wc -l)" = 2 ] && [ "$(echo "$family_pages" | awk '{ print $2 }' | sort -u | wc -l)" = 2 ] ||
    fail "fork: not one page each: $family_pages"
[ "$(echo "$family_pages" | awk '{ print $1 }' | sort -u | wc -l)" = 1 ] ||
    fail "fork: the child's page is not at its parent's number: $family_pages"
finish family

# A process in a PID namespace of its own (a container) wrote the id it sees
# there; the reader knows it by its id here.
if unshare --pid --fork --mount-proc true 2>/dev/null; then
    start contained unshare --pid --fork --mount-proc "$target" hold 8
    contained=$(cat "/proc/$(cat "$dir/contained.pid")/task/$(cat "$dir/contained.pid")/children")
    contained=${contained%% *}
    "$tcarena" stats --pid="$contained" --format=json >"$dir/contained.json" ||
        fail "stats --pid of a process in a PID namespace"
    check_readings $((8 * MIB)) $((64 * MIB)) "$dir/contained.json" >/dev/null
    finish contained
else
    echo "PID namespace case skipped: unshare --pid fails (needs root)"
fi

# Where the memory file is refused (here: no descriptor left for it) the
# process runs as ever, its counters private, and the reader says why.
if command -v prlimit >/dev/null; then
    start refused prlimit --nofile=4 "$target" hold 8
    answers 2 "runs tcarena without a statistics file" stats --pid="$(cat "$dir/refused.pid")"
    finish refused
else
    echo "refused memory file case skipped: no prlimit"
fi

# A daemon that closed every descriptor: root still reads it through map_files.
start closed "$target" hold-closed 4
if [ "$(id -u)" = 0 ]; then
    "$tcarena" stats --pid="$(cat "$dir/closed.pid")" --format=json >"$dir/closed.json" ||
        fail "stats --pid of a process that closed its descriptors, as root"
    check_readings $((4 * MIB)) $((64 * MIB)) "$dir/closed.json" >/dev/null
else
    answers 2 "closed tcarena's statistics descriptor: only root" stats --pid="$(cat "$dir/closed.pid")"
fi
finish closed

# The report at exit reaches the operator: ls closes stderr before exit...
"$tcarena" run --stats -- ls / >/dev/null 2>"$dir/ls.err"
grep -qx "Totals (bytes)" "$dir/ls.err" || fail "run --stats -- ls printed no statistics: $(cat "$dir/ls.err")"
# ...and a service stopped by SIGTERM, whose handler calls exit(): the
# report takes no lock, so a signal that lands in a slow path holding one
# (the target overflows its cache without pause) cannot hang the exit.
for i in 1 2 3 4 5; do
    rm -f "$dir/term.out"
    timeout 60 "$tcarena" run --stats=json -- "$target" sigterm >"$dir/term.out" 2>"$dir/term.json" &
    waiter=$!
    until [ -s "$dir/term.out" ]; do sleep 0.05; done
    sleep 0.$i
    service=$(cat "/proc/$waiter/task/$waiter/children")
    kill -TERM "${service%% *}"
    wait "$waiter" || fail "SIGTERM then exit(), try $i: exit status $? (124: it hung)"
    python3 -c 'import json, sys; assert json.load(open(sys.argv[1]))["tcarena"]["totals"]["allocated"] > 0' \
        "$dir/term.json" || fail "SIGTERM then exit(), try $i: no report: $(cat "$dir/term.json")"
done

# glibc's calls answer with tcarena's figures.
LD_PRELOAD="$library" "$target" glibc >/dev/null 2>"$dir/glibc.err" || fail "mallinfo2 and co: $(cat "$dir/glibc.err")"
echo "live statistics: ok"
