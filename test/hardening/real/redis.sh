#!/bin/sh
# redis-server on 127.0.0.1 (a free port) under tcarena, driven by
# redis-benchmark; then a key written and read back and DBSIZE checked, and a
# clean shutdown.  The benchmark must report no error.
. "$(dirname "$0")/common.sh"
need redis-server redis-benchmark redis-cli python3
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cli()
{
    redis-cli -h 127.0.0.1 -p "$port" "$@"
}
# env, not the shell function: $! must be the server itself.
env LD_PRELOAD="$library" redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
    --dir "$scratch" --logfile "$scratch/server.log" &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$scratch"' EXIT
tries=0
until [ "$(cli ping 2>/dev/null)" = PONG ]; do
    tries=$((tries + 1))
    [ "$tries" -lt 100 ] || { echo "redis-server did not answer"; cat "$scratch/server.log"; exit 1; }
    sleep 0.1
done
grep -q libtcarena "/proc/$server/maps" || { echo "redis-server runs without tcarena"; exit 1; }

redis-benchmark -h 127.0.0.1 -p "$port" -q -n 10000 -c 20 -r 50000 -d 200 \
    -t set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,lrange_100,mset >"$scratch/benchmark" 2>&1 ||
    { cat "$scratch/benchmark"; echo "redis-benchmark failed"; exit 1; }
if grep -qi error "$scratch/benchmark"; then
    cat "$scratch/benchmark"
    exit 1
fi
tr '\r' '\n' <"$scratch/benchmark" | grep 'requests per second' | sed 's/^ *//'

value=$(head -c 3000 /dev/zero | tr '\0' v)
[ "$(cli set tcarena:check "$value")" = OK ] || { echo "SET failed"; exit 1; }
[ "$(cli get tcarena:check)" = "$value" ] || { echo "GET returned something else"; exit 1; }
keys=$(cli dbsize)
[ "$keys" -gt 1000 ] || { echo "DBSIZE is $keys after the benchmark"; exit 1; }
cli shutdown nosave >/dev/null 2>&1 || true
wait "$server" || { echo "redis-server exited with status $?"; cat "$scratch/server.log"; exit 1; }
echo "redis: benchmark without errors, DBSIZE $keys, GET of a 3000-byte value intact"
