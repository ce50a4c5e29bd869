#!/usr/bin/env python3
"""prefixcached next to Debian's redis-server: transactions, RESP3 and the habit commands.

Starts a prefixcached (as python_redis_test.py does) and a redis-server on a free loopback
port, sends both the same requests over raw sockets and compares the replies byte for byte,
in RESP2 and after HELLO 3; replies that must differ (HELLO's version and id, INFO, CLIENT
INFO, TIME, COMMAND's table, CONFIG GET values) are compared type for type and key for key.
Then the real clients: Debian's redis-py (transactional pipelines, WATCH loops racing from
several threads), `redis-cli -3`, and a replay of redis-py 8's connect sequence with and
without a password.

    /usr/bin/python3 tests/daemon/redis_compat_test.py --bin build/bin/prefixcached
"""
import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import python_redis_test as base  # noqa: E402  (the Daemon helper)

BOUND_S = 30  # guards against a hang; never a timing assertion


def encode(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class Raw:
    """A RESP2/RESP3 connection that returns each reply as (wire bytes, parsed value).

    Parsed values are tuples (type byte, payload): payload is bytes for simple, error,
    bulk, verbatim, double and big number, an int for integers, a bool, None for nulls, a
    list for arrays, sets and pushes, and a list of (key, value) pairs for maps."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=BOUND_S)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("peer closed")
        self.buf += chunk

    def _line(self, at):
        while True:
            end = self.buf.find(b"\r\n", at)
            if end >= 0:
                return self.buf[at:end], end + 2
            self._fill()

    def _bytes(self, at, n):
        while len(self.buf) < at + n + 2:
            self._fill()
        return self.buf[at:at + n], at + n + 2

    def _parse(self, at):
        line, at = self._line(at)
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-", b",", b"("):
            return (kind, rest), at
        if kind == b":":
            return (kind, int(rest)), at
        if kind == b"#":
            return (kind, rest == b"t"), at
        if kind == b"_":
            return (kind, None), at
        if kind in (b"$", b"=", b"!"):
            n = int(rest)
            if n < 0:
                return (kind, None), at
            data, at = self._bytes(at, n)
            return (kind, data), at
        if kind in (b"*", b"~", b">"):
            n = int(rest)
            if n < 0:
                return (kind, None), at
            items = []
            for _ in range(n):
                item, at = self._parse(at)
                items.append(item)
            return (kind, items), at
        if kind == b"%":
            pairs = []
            for _ in range(int(rest)):
                k, at = self._parse(at)
                v, at = self._parse(at)
                pairs.append((k, v))
            return (kind, pairs), at
        raise AssertionError(f"unknown RESP type {line!r}")

    def read(self):
        value, end = self._parse(0)
        wire, self.buf = self.buf[:end], self.buf[end:]
        return wire, value

    def call(self, *args):
        self.sock.sendall(encode(*args))
        return self.read()

    def pipeline(self, commands):
        self.sock.sendall(b"".join(encode(*c) for c in commands))
        return [self.read() for _ in commands]


def shape(value):
    """The types of a parsed reply without its scalars' contents (map keys kept)."""
    kind, payload = value
    if isinstance(payload, list) and kind == b"%":
        return (kind, [(k, shape(v)) for k, v in payload])
    if isinstance(payload, list):
        return (kind, [shape(v) for v in payload])
    return (kind,)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """Debian's redis-server on a free loopback port, without persistence."""

    def __init__(self, password=None):
        self.dir = tempfile.mkdtemp(prefix="prefixcache-redis-")
        self.port = free_port()
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", self.dir]
        if password:
            args += ["--requirepass", password]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + BOUND_S
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("redis-server did not start")
                time.sleep(0.05)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=BOUND_S)
        shutil.rmtree(self.dir, ignore_errors=True)


# Requests whose replies are the same bytes from both servers, in either protocol. Each
# group runs on a fresh connection of each server after FLUSHALL.
EXACT = {
    "strings": [
        ("PING",), ("PING", "hi"), ("ECHO", "x\r\ny"), ("SET", "k", "v"), ("GET", "k"),
        ("GET", "missing"), ("SET", "k", "w", "NX"), ("SET", "k", "w", "XX"),
        ("SET", "k", "z", "GET"), ("SET", "n", "1", "XX"), ("SET", "n", "1", "NX", "GET"),
        ("MSET", "a", "1", "b", "2"), ("MGET", "a", "missing", "b"), ("EXISTS", "a", "b", "c"),
        ("DEL", "a", "c"), ("UNLINK", "b", "c"), ("DBSIZE",), ("SET", "k"),
        ("SET", "k", "v", "NX", "XX"), ("SELECT", "0"), ("SELECT", "x"),
        ("SET", "k", "v", "KEEPTTL"), ("SET", "fresh", "v", "GET"), ("DEL", "nothing"),
        ("PING", "a", "b"), ("ECHO",), ("GET",), ("MSET", "a"), ("FLUSHDB",), ("DBSIZE",),
        ("SET", "k", "v"), ("FLUSHALL", "SYNC"), ("SET", "k", "v"), ("FLUSHALL", "ASYNC"),
        ("FLUSHALL", "NOW"), ("AUTH", "pass"), ("AUTH", "default", "anything"),
    ],
    "habits": [
        ("SET", "s", "hello"), ("TYPE", "s"), ("TYPE", "none"), ("STRLEN", "s"),
        ("STRLEN", "none"), ("TOUCH", "s", "none", "s"), ("MEMORY", "USAGE", "none"),
        ("MEMORY", "USAGE", "s", "SAMPLES"), ("TYPE",), ("TIME", "x"), ("TOUCH",),
        ("INFO", "keyspace"), ("FLUSHALL",), ("INFO", "keyspace"), ("INFO", "nosuchsection"),
    ],
    "client": [
        ("CLIENT", "GETNAME"), ("CLIENT", "SETNAME", "worker-1"), ("CLIENT", "GETNAME"),
        ("CLIENT", "SETNAME", "bad name"), ("CLIENT", "NOSUCH"), ("CONFIG", "GET", "nomatch*"),
        ("HELLO", "4"), ("HELLO", "x"), ("HELLO", "3", "SETNAME", "bad name"),
        ("HELLO", "3", "NOSUCH"), ("COMMAND", "INFO", "nosuchcommand"),
    ],
    "transactions": [
        ("EXEC",), ("DISCARD",), ("MULTI",), ("MULTI",), ("SET", "t", "1"), ("GET", "t"),
        ("SET", "t", "2", "XX", "NX"), ("GET", "t"), ("EXEC",),
        ("MULTI",), ("SET", "u", "1"), ("GET", "u", "extra"), ("NOSUCHCOMMAND", "arg"),
        ("WATCH", "u"), ("EXEC",), ("GET", "u"),
        ("MULTI",), ("SET", "u", "1"), ("DISCARD",), ("EXEC",), ("GET", "u"),
        ("MULTI",), ("EXEC",), ("WATCH",), ("UNWATCH",),
        ("MULTI",), ("GET", "nothing"), ("MGET", "t", "nothing"), ("PING",), ("EXEC",),
    ],
}


class CompareWithRedis(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ours = base.Daemon()
        cls.redis = RedisServer()

    @classmethod
    def tearDownClass(cls):
        cls.redis.stop()
        code = cls.ours.stop()
        if code != 0:
            raise AssertionError(f"prefixcached exited with {code} after SIGTERM")

    def connect(self, protocol):
        """A fresh connection to each server, after FLUSHALL, in `protocol`; the HELLO
        replies compared key for key."""
        pair = []
        for port in (self.ours.port, self.redis.port):
            raw = Raw(port)
            raw.call("FLUSHALL")
            pair.append(raw)
        if protocol == 3:
            ours, theirs = (raw.call("HELLO", "3")[1] for raw in pair)
            self.assertEqual(shape(ours), shape(theirs))
            values = dict((k[1], v) for k, v in ours[1])
            self.assertEqual(values[b"proto"], (b":", 3))
            self.assertEqual(values[b"server"], (b"$", b"redis"))
        return pair

    def test_exact_replies(self):
        for protocol in (2, 3):
            for group, commands in EXACT.items():
                with self.subTest(protocol=protocol, group=group):
                    ours, theirs = self.connect(protocol)
                    got = ours.pipeline(commands)
                    want = theirs.pipeline(commands)
                    for command, (g, _), (w, _) in zip(commands, got, want):
                        self.assertEqual(g, w, f"RESP{protocol} {command}")
                    ours.close()
                    theirs.close()

    def test_quit(self):
        for protocol in (2, 3):
            for raw in self.connect(protocol):
                self.assertEqual(raw.call("QUIT")[0], b"+OK\r\n")
                with self.assertRaises(ConnectionError):
                    raw.call("PING")
                raw.close()

    def test_authentication_replies(self):
        ours = base.Daemon(config={"security": {"password": "s3cret"}})
        theirs = RedisServer(password="s3cret")
        try:
            commands = [("GET", "k"), ("AUTH", "wrong"), ("AUTH", "nobody", "s3cret"),
                        ("HELLO", "3"), ("HELLO", "3", "AUTH", "default", "wrong"),
                        ("MULTI",), ("AUTH", "s3cret"), ("MULTI",), ("GET", "k"), ("EXEC",),
                        ("HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "x")]
            replies = []
            for port in (ours.port, theirs.port):
                raw = Raw(port)
                replies.append([raw.call(*c) for c in commands])
                raw.close()
            for command, (g, gv), (w, wv) in zip(commands, *replies):
                if command[0] == "HELLO" and wv[0] in (b"*", b"%"):
                    self.assertEqual(shape(gv), shape(wv), command)
                else:
                    self.assertEqual(g, w, command)
        finally:
            theirs.stop()
            self.assertEqual(ours.stop(), 0)

    def test_exec_with_a_modified_watched_key(self):
        for protocol in (2, 3):
            with self.subTest(protocol=protocol):
                for raw, port in zip(self.connect(protocol), (self.ours.port, self.redis.port)):
                    other = Raw(port)
                    steps = [raw.call("WATCH", "w", "x"), other.call("SET", "x", "changed"),
                             raw.call("MULTI"), raw.call("SET", "w", "1"), raw.call("EXEC"),
                             raw.call("GET", "w")]
                    wires = [wire for wire, _ in steps]
                    self.assertEqual(wires[4], b"*-1\r\n" if protocol == 2 else b"_\r\n")
                    self.assertEqual(wires[5], b"$-1\r\n" if protocol == 2 else b"_\r\n")
                    # UNWATCH, then the same transaction goes through.
                    raw.call("WATCH", "x")
                    other.call("SET", "x", "again")
                    raw.call("UNWATCH")
                    raw.call("MULTI")
                    raw.call("SET", "w", "2")
                    self.assertEqual(raw.call("EXEC")[0], b"*1\r\n+OK\r\n")
                    other.close()
                    raw.close()

    def test_replies_that_must_differ_have_redis_types_and_keys(self):
        for protocol in (2, 3):
            with self.subTest(protocol=protocol):
                ours, theirs = self.connect(protocol)
                for command in [("HELLO",), ("HELLO", "2"), ("HELLO", "3"), ("TIME",),
                                ("CLIENT", "ID"), ("CONFIG", "GET", "maxmemory"),
                                ("COMMAND", "COUNT"),
                                ("SET", "m", "v"), ("MEMORY", "USAGE", "m")]:
                    g, w = ours.call(*command)[1], theirs.call(*command)[1]
                    self.assertEqual(shape(g), shape(w), command)
                    if command[0] == "HELLO":  # switched back
                        ours.call("HELLO", str(protocol))
                        theirs.call("HELLO", str(protocol))
                # COMMAND INFO: the entry's layout, its word lists sets in RESP3 (prefixcache
                # serves no key specs, so element 9 is empty).
                g = ours.call("COMMAND", "INFO", "get")[1]
                w = theirs.call("COMMAND", "INFO", "get")[1]
                self.assertEqual([v[0] for v in g[1][0][1]], [v[0] for v in w[1][0][1]])
                self.assertEqual(g[1][0][1][:8], w[1][0][1][:8])
                # INFO and CLIENT INFO: the same type (verbatim in RESP3), Redis's keys.
                for command in [("INFO", "server"), ("INFO", "clients"), ("CLIENT", "INFO")]:
                    g, w = ours.call(*command)[1], theirs.call(*command)[1]
                    self.assertEqual(g[0], w[0], command)
                    if protocol == 3:
                        self.assertTrue(g[1].startswith(b"txt:"))
                    if command[0] == "CLIENT":
                        keys = lambda text: [  # noqa: E731
                            f.split(b"=")[0] for f in text.removeprefix(b"txt:").split()]
                        ours_keys = [k for k in keys(g[1]) if k not in (b"lib-name", b"lib-ver")]
                        self.assertEqual(ours_keys, keys(w[1]))
                        self.assertIn(b"resp=%d" % protocol, g[1])
                    else:
                        fields = lambda text: {  # noqa
                            line.split(b":")[0] for line in text.split(b"\r\n") if b":" in line}
                        for key in (b"redis_version", b"redis_mode", b"tcp_port",
                                    b"uptime_in_seconds", b"connected_clients", b"maxclients"):
                            if key in fields(w[1]):
                                self.assertIn(key, fields(g[1]), command)
                ours.close()
                theirs.close()

    def test_commandstats_lists_the_commands_called(self):
        ours, theirs = self.connect(2)
        for raw in (ours, theirs):
            raw.call("SET", "c", "1")
            raw.call("GET", "c")
        text = lambda raw: raw.call("INFO", "commandstats")[1][1]  # noqa
        ours_lines = [l for l in text(ours).split(b"\r\n") if l.startswith(b"cmdstat_")]
        theirs_lines = [l for l in text(theirs).split(b"\r\n") if l.startswith(b"cmdstat_")]
        keys = lambda line: [f.split(b"=")[0] for f in line.split(b":")[1].split(b",")]  # noqa
        self.assertEqual(keys(ours_lines[0]), keys(theirs_lines[0]))
        names = {l.split(b":")[0] for l in ours_lines}
        self.assertIn(b"cmdstat_set", names)
        self.assertIn(b"cmdstat_get", names)
        # Not in the default report, as in Redis.
        self.assertNotIn(b"cmdstat_", ours.call("INFO")[1][1])
        ours.close()
        theirs.close()

    def test_commandstats_counts_as_redis_does(self):
        """calls, rejected_calls and failed_calls move alike on both servers: commands
        that ran, one refused for its arity, one that ran and failed, one inside MULTI/EXEC;
        usec moves."""
        ours, theirs = self.connect(2)

        def stats(raw):
            out = {}
            for line in raw.call("INFO", "commandstats")[1][1].split(b"\r\n"):
                if line.startswith(b"cmdstat_"):
                    name, fields = line.split(b":", 1)
                    out[name] = dict((k, float(v)) for k, v in
                                     (f.split(b"=") for f in fields.split(b",")))
            return out

        deltas = []
        for raw in (ours, theirs):
            before = stats(raw)
            for _ in range(50):
                raw.call("SET", "c", "x" * 4096)
            raw.call("GET", "c")
            self.assertTrue(raw.call("GET")[0].startswith(b"-"))  # wrong arity
            self.assertTrue(raw.call("SET", "c", "1", "EX", "soon")[0].startswith(b"-"))  # fails
            raw.call("MULTI")
            raw.call("SET", "c", "2")  # counted when EXEC runs it
            raw.call("EXEC")
            after = stats(raw)
            delta = {}
            for name in (b"cmdstat_set", b"cmdstat_get", b"cmdstat_multi", b"cmdstat_exec"):
                old = before.get(name, {})
                delta[name] = {k: after[name][k] - old.get(k, 0)
                               for k in (b"calls", b"rejected_calls", b"failed_calls")}
            deltas.append(delta)
            if raw is ours:  # Redis rounds each call down to whole microseconds
                self.assertGreater(after[b"cmdstat_set"][b"usec"],
                                   before.get(b"cmdstat_set", {}).get(b"usec", 0))
        self.assertEqual(deltas[0], deltas[1])
        self.assertEqual(deltas[0][b"cmdstat_set"],
                         {b"calls": 52, b"rejected_calls": 0, b"failed_calls": 1})
        self.assertEqual(deltas[0][b"cmdstat_get"],
                         {b"calls": 1, b"rejected_calls": 1, b"failed_calls": 0})
        ours.close()
        theirs.close()

    def test_refused_commands_say_why(self):
        raw = Raw(self.ours.port)
        for command in [("INCR", "a"), ("LPUSH", "l", "x"), ("HSET", "h", "f", "v"),
                        ("SUBSCRIBE", "c"), ("EVAL", "return 1", "0"), ("RANDOMKEY",),
                        ("CLIENT", "LIST"), ("CLIENT", "KILL", "ID", "1"),
                        ("MEMORY", "STATS"), ("SETNX", "a", "b"), ("BGSAVE",),
                        ("GETEX", "a", "PERSIST")]:
            wire, value = raw.call(*command)
            self.assertEqual(value[0], b"-", command)
            self.assertIn(b"is not supported: ", wire, command)
            self.assertNotIn(b"unknown command", wire, command)
        # A refused command inside MULTI aborts the transaction, as an unknown one does.
        raw.call("MULTI")
        raw.call("INCR", "a")
        self.assertEqual(raw.call("EXEC")[0],
                         b"-EXECABORT Transaction discarded because of previous errors.\r\n")
        raw.close()


class RealClients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = base.Daemon()

    @classmethod
    def tearDownClass(cls):
        code = cls.daemon.stop()
        if code != 0:
            raise AssertionError(f"prefixcached exited with {code} after SIGTERM")

    def test_default_pipeline_is_a_transaction(self):
        r = self.daemon.client()
        pipe = r.pipeline()  # transaction=True
        pipe.set("p", "1").get("p").set("q", "2", nx=True).mget("p", "q").delete("q")
        self.assertEqual(pipe.execute(), [True, b"1", True, [b"1", b"2"], 1])
        pipe = r.pipeline()
        pipe.set("p", "1").set("p", "2", nx=True, xx=True).get("p")
        with self.assertRaises(redis.ResponseError):
            pipe.execute()  # the runtime error is raised; the other commands ran
        self.assertEqual(r.get("p"), b"1")
        r.close()

    def test_transactions_from_racing_clients_do_not_interleave(self):
        # Each client sets the two keys to its own value and reads them back in one
        # transaction; a command of another client in between would show in the reads.
        rounds = 200

        def worker(name, failures):
            r = self.daemon.client()
            for i in range(rounds):
                value = f"{name}-{i}".encode()
                pipe = r.pipeline()
                pipe.set("shared-a", value).get("shared-a").set("shared-b", value)
                pipe.get("shared-b").mget("shared-a", "shared-b")
                got = pipe.execute()
                if got != [True, value, True, value, [value, value]]:
                    failures.append((name, i, got))
            r.close()

        failures = []
        threads = [threading.Thread(target=worker, args=(f"c{n}", failures)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(failures, [])

    def test_watch_loops_lose_no_update(self):
        # INCR is refused; a WATCH / GET / MULTI / SET / EXEC loop is the optimistic update
        # Redis users write instead. Every increment of every client must survive.
        clients, increments = 4, 100
        r = self.daemon.client()
        r.set("counter", b"0")
        retries = []

        def worker():
            c = self.daemon.client()
            for _ in range(increments):
                while True:
                    with c.pipeline() as pipe:
                        try:
                            pipe.watch("counter")
                            value = int(pipe.get("counter"))
                            pipe.multi()
                            pipe.set("counter", str(value + 1))
                            pipe.execute()
                            break
                        except redis.WatchError:
                            retries.append(1)
            c.close()

        threads = [threading.Thread(target=worker) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(int(r.get("counter")), clients * increments)
        r.close()

    def test_a_request_over_a_limit_aborts_the_transaction(self):
        daemon = base.Daemon(config={"limits": {"max_value": "1KiB"}})
        try:
            raw = Raw(daemon.port)
            replies = raw.pipeline([("MULTI",), ("SET", "a", "1"), ("SET", "b", b"x" * 2048),
                                    ("EXEC",), ("GET", "a")])
            self.assertEqual(replies[1][0], b"+QUEUED\r\n")
            self.assertEqual(replies[2][1][0], b"-")
            self.assertEqual(replies[3][0],
                             b"-EXECABORT Transaction discarded because of previous errors.\r\n")
            self.assertEqual(replies[4][0], b"$-1\r\n")
            raw.close()
        finally:
            self.assertEqual(daemon.stop(), 0)

    def test_block_commands_in_a_transaction(self):
        raw = Raw(self.daemon.port)
        key = bytes(range(16))
        big = os.urandom(1 << 20)
        replies = raw.pipeline([("MULTI",), ("BLOCK.MSET", "0", key, big), ("BLOCK.EXISTS", key),
                                ("BLOCK.MGET", key), ("BLOCK.MGETPREFIX", key, bytes(16)),
                                ("EXEC",)])
        self.assertEqual([w for w, _ in replies[:5]], [b"+OK\r\n"] + [b"+QUEUED\r\n"] * 4)
        kind, items = replies[5][1]
        self.assertEqual(kind, b"*")
        self.assertEqual(items[0], (b"+", b"OK"))
        self.assertEqual(items[1], (b"*", [(b":", 1)]))
        self.assertEqual(items[2], (b"*", [(b"$", big)]))
        self.assertEqual(items[3], (b"*", [(b"$", big), (b"$", None)]))
        raw.close()

    def test_redis_cli_resp3(self):
        def cli(*args):
            out = subprocess.run(["redis-cli", "-3", "-p", str(self.daemon.port), *args],
                                 capture_output=True, timeout=BOUND_S)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertNotIn(b"HELLO 3 failed", out.stderr + out.stdout)
            return out.stdout
        self.assertEqual(cli("SET", "cli", "v"), b"OK\n")
        self.assertEqual(cli("GET", "cli"), b"v\n")
        self.assertEqual(cli("--no-raw", "GET", "nothing"), b"(nil)\n")
        self.assertEqual(cli("--no-raw", "CONFIG", "GET", "databases"),
                         b'1# "databases" => "1"\n')
        self.assertIn(b"# Keyspace", cli("INFO", "keyspace"))

    def replay_redis_py_8_connect(self, port, password):
        raw = Raw(port)
        hello = ("HELLO", "3", "AUTH", "default", password) if password else ("HELLO", "3")
        replies = raw.pipeline([hello, ("CLIENT", "SETINFO", "LIB-NAME", "redis-py"),
                                ("CLIENT", "SETINFO", "LIB-VER", "8.0.0"), ("PING",),
                                ("GET", "nothing"), ("CLIENT", "INFO")])
        self.assertEqual(replies[0][1][0], b"%")
        self.assertEqual(dict((k[1], v) for k, v in replies[0][1][1])[b"proto"], (b":", 3))
        self.assertEqual([w for w, _ in replies[1:5]],
                         [b"+OK\r\n", b"+OK\r\n", b"+PONG\r\n", b"_\r\n"])
        self.assertEqual(replies[5][1][0], b"=")
        self.assertIn(b"lib-name=redis-py lib-ver=8.0.0", replies[5][1][1])
        raw.close()

    def test_redis_py_8_connect_sequence(self):
        self.replay_redis_py_8_connect(self.daemon.port, None)
        secured = base.Daemon(config={"security": {"password": "s3cret"}})
        try:
            self.replay_redis_py_8_connect(secured.port, "s3cret")
            raw = Raw(secured.port)
            self.assertEqual(raw.call("HELLO", "3", "AUTH", "default", "wrong")[0],
                             b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
            raw.close()
        finally:
            self.assertEqual(secured.stop(), 0)


class QueueMemory(unittest.TestCase):
    """The queue of a transaction is held against limits.inflight_memory."""

    def test_queue_bounded_by_the_budget_and_released_on_close(self):
        daemon = base.Daemon(config={"limits": {"inflight_memory": "8MiB",
                                                "max_request": "2MiB"}})
        try:
            r = daemon.client()
            used = lambda: r.info("memory")["inflight_memory"]  # noqa: E731
            baseline = used()
            raw = Raw(daemon.port)
            raw.call("MULTI")
            value = b"x" * (1 << 20)
            wires = [raw.call("SET", f"q{i}", value)[0] for i in range(6)]
            self.assertEqual(wires[0], b"+QUEUED\r\n")
            refused = [w for w in wires if w.startswith(b"-OOM ")]
            self.assertEqual(len(refused), 1, wires)
            self.assertIn(b"limits.inflight_memory", refused[0])
            # Refused once, the queue is dropped; EXEC aborts.
            self.assertLess(used(), baseline + (1 << 20))
            self.assertEqual(raw.call("EXEC")[0],
                             b"-EXECABORT Transaction discarded because of previous errors.\r\n")
            self.assertEqual(r.dbsize(), 0)
            # Closed in the middle of a transaction: its queue goes back to the budget.
            raw.call("MULTI")
            self.assertEqual(raw.call("SET", "q", value)[0], b"+QUEUED\r\n")
            self.assertGreaterEqual(used(), baseline + (1 << 20))
            raw.close()
            deadline = time.monotonic() + BOUND_S
            while used() > baseline + (64 << 10):
                self.assertLess(time.monotonic(), deadline, "the queue's memory was kept")
                time.sleep(0.02)
            self.assertEqual(r.dbsize(), 0)
            r.close()
        finally:
            self.assertEqual(daemon.stop(), 0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    args, rest = parser.parse_known_args()
    base.BIN = os.path.abspath(args.bin)
    if not os.access(base.BIN, os.X_OK):
        sys.exit(f"not an executable: {base.BIN}")
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        sys.exit("redis-server and redis-cli are required (scripts/install-deps.sh)")
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
