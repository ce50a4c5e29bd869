#!/usr/bin/env bash
# Hand-run smoke test of prefixcached with redis-cli (and python3 for raw-socket cases):
#   daemon/smoke_test.sh [path/to/prefixcached]
# Starts daemons on ephemeral loopback ports in a temporary folder, checks replies, and
# stops them with SIGTERM. Not part of CTest (tests/ holds the real integration tests).
set -u
BIN=$(realpath "${1:-$(dirname "$0")/../build-daemon/bin/prefixcached}")
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT
FAILED=0

check() {  # check NAME EXPECTED ACTUAL
  if [[ "$2" == "$3" ]]; then
    echo "ok   $1"
  else
    echo "FAIL $1: expected [$2], got [$3]"
    FAILED=1
  fi
}

start() {  # start NAME ARGS... ; sets PORT, METRICS, PID
  local name=$1
  shift
  "$BIN" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 "$@" \
    >"$WORK/$name.out" 2>"$WORK/$name.err" &
  PID=$!
  for _ in $(seq 50); do
    [[ $(wc -l <"$WORK/$name.out") -ge 2 ]] && break
    sleep 0.1
  done
  PORT=$(sed -n 's/^prefixcached listening on .*:\([0-9]*\)$/\1/p' "$WORK/$name.out")
  METRICS=$(sed -n 's/^metrics on .*:\([0-9]*\)$/\1/p' "$WORK/$name.out")
}

stop() {  # stop: SIGTERM, expect exit 0
  kill -TERM "$PID"
  wait "$PID"
  check "exit status after SIGTERM" 0 $?
}

cd "$WORK" || exit 1
start main --spill-path "$WORK/spill" --memory-capacity 2MiB
R="redis-cli -p $PORT"

check "PING" PONG "$($R ping)"
check "PING msg" hi "$($R ping hi)"
check "ECHO" hello "$($R echo hello)"
check "SET" OK "$($R set foo bar)"
check "GET" bar "$($R get foo)"
check "GET miss" "" "$($R get nope)"
check "EXISTS" 2 "$($R exists foo foo nope)"
check "MSET" OK "$($R mset a 1 b 2)"
check "MGET" $'1\n2\n\n.' "$($R mget a b c; echo .)"
check "DEL" 1 "$($R del a c)"
check "SET NX on existing" "" "$($R set foo x nx)"
check "SET XX GET" bar "$($R set foo baz xx get)"
check "SET EX rejected" "ERR SET EX/PX/EXAT/PXAT are not supported: prefixcache keys do not expire (capacity eviction removes them)" "$($R set k v ex 10)"
check "SET syntax" "ERR syntax error" "$($R set k v nx xx)"
check "unknown command" "ERR unknown command 'foo', with args beginning with: 'a' 'b' " "$($R foo a b)"
check "arity" "ERR wrong number of arguments for 'get' command" "$($R get)"
check "SELECT 0" OK "$($R select 0)"
check "SELECT 1" "ERR DB index is out of range" "$($R select 1)"
check "HELLO 3" "NOPROTO unsupported protocol version" "$($R hello 3)"
check "HELLO 2" $'server\nredis' "$($R hello 2 | head -2)"
check "CLIENT SETNAME" OK "$($R client setname me)"
check "CLIENT SETINFO" OK "$($R client setinfo lib-name x)"
check "CONFIG GET" $'maxmemory\n2097152' "$($R config get maxmemory)"
check "CONFIG GET save" $'save\n\n.' "$($R config get save; echo .)"
check "COMMAND DOCS" "" "$($R command docs)"
check "INFO keyspace" "db0:keys=2,expires=0,avg_ttl=0" "$($R info keyspace | tr -d '\r' | grep db0)"
check "FLUSHALL" OK "$($R flushall)"
check "DBSIZE" 0 "$($R dbsize)"

# Block commands: a 16-byte key via SET and via BLOCK.MSET is the same block.
K1=0123456789abcdef
K2=fedcba9876543210
check "BLOCK.MSET" OK "$($R block.mset 0 $K1 v0 1 $K2 v1)"
check "BLOCK.EXISTS" $'1\n1\n0' "$($R block.exists $K1 $K2 0000000000000000)"
check "BLOCK.MGET" $'v0\n\n.' "$($R block.mget $K1 0000000000000000; echo .)"
check "GET of a block key" v0 "$($R get $K1)"
check "BLOCK.EXISTS bad key" "ERR BLOCK.EXISTS argument 2: a block key must be exactly 16 bytes, got 5" "$($R block.exists $K1 short)"
check "BLOCK.MSET bad depth" "ERR BLOCK.MSET triple 1: depth must be an integer from 0 to 4294967295, got '-1'" "$($R block.mset 0 $K1 v -1 $K2 v)"
check "BLOCK.STATS is JSON" node-1 "$($R block.stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["node_id"])')"
check "BLOCK.RING is JSON" 1 "$($R block.ring | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["nodes"]))')"

# Large values round-trip; with 2MiB of memory they spill, and GET reads them back from disk.
for i in 1 2 3 4 5 6; do
  head -c 700000 /dev/urandom >"$WORK/v$i"
  check "SET 700KB value $i" OK "$($R -x set big$i <"$WORK/v$i")"
done
sleep 0.5
for i in 1 6; do
  $R --raw get big$i | head -c 700000 | cmp -s - "$WORK/v$i"
  check "700KB value $i round trip" 0 $?
done
check "spill read counted" 1 "$([[ $($R info stats | tr -d '\r' | sed -n 's/^disk_commands://p') -ge 1 ]] && echo 1)"

# Raw protocol: pipelining, inline commands, protocol error, QUIT.
check "pipelined inline" "+PONG|\$5|hello|+OK|EOF" "$(python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"PING\r\nECHO hello\r\nQUIT\r\nPING\r\n")
out = b""
while True:
    d = s.recv(65536)
    if not d: break
    out += d
print("|".join(x.decode() for x in out.split(b"\r\n") if x) + "|EOF")
PY
)"
check "protocol error" "+PONG|-ERR Protocol error: invalid multibulk length|EOF" "$(python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"*1\r\n$4\r\nPING\r\n*x\r\n" + b"junk" * 10000)
out = b""
while True:
    d = s.recv(65536)
    if not d: break
    out += d
print("|".join(x.decode() for x in out.split(b"\r\n") if x) + "|EOF")
PY
)"
check "still serving" PONG "$($R ping)"
check "metrics endpoint" 1 "$(curl -s "127.0.0.1:$METRICS/metrics" | grep -c '^prefixcache_commands_total{command="get"}')"
stop

# Limits and AUTH, from a config file.
cat >"$WORK/limits.json" <<'JSON'
{
  "node": {"id": "t1", "listen": "127.0.0.1:0"},
  "spill": {"enabled": false},
  "limits": {"max_value": "1MiB", "max_request_elements": 10, "max_connections": 2,
             "idle_timeout_ms": 1000},
  "security": {"password": "s3cret"}
}
JSON
start limits --config "$WORK/limits.json"
R="redis-cli -p $PORT"
check "NOAUTH" "NOAUTH Authentication required." "$($R ping)"
check "WRONGPASS" "WRONGPASS invalid username-password pair or user is disabled." "$($R auth nope)"
check "AUTH" PONG "$($R -a s3cret --no-auth-warning ping)"
check "max elements" "ERR request has 11 arguments, more than max_request_elements (10)" \
  "$($R -a s3cret --no-auth-warning mget 1 2 3 4 5 6 7 8 9 10)"
check "max value" "ERR value of 2000000 bytes exceeds max_value_bytes (1048576)" \
  "$(head -c 2000000 /dev/zero | $R -a s3cret --no-auth-warning -x set k)"
check "max clients + idle timeout" "-ERR max number of clients reached|idle-closed" "$(python3 - "$PORT" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
a = socket.create_connection(("127.0.0.1", port))
b = socket.create_connection(("127.0.0.1", port))
time.sleep(0.2)
c = socket.create_connection(("127.0.0.1", port))
c.sendall(b"PING\r\n")
line = c.recv(1000).decode().strip()
a.settimeout(5)
print(line + "|" + ("idle-closed" if a.recv(10) == b"" else "open"))
PY
)"
stop

# Refusals: exit status 2.
"$BIN" --listen 0.0.0.0:0 >/dev/null 2>&1
check "non-loopback without password" 2 $?
echo '{"memory": {"capcity": 1}}' >"$WORK/bad.json"
"$BIN" --config "$WORK/bad.json" >/dev/null 2>&1
check "bad config" 2 $?

[[ $FAILED == 0 ]] && echo "smoke test passed" || echo "smoke test FAILED"
exit $FAILED
