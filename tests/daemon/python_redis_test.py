#!/usr/bin/env python3
"""prefixcached against Debian's Python redis client (python3-redis, for /usr/bin/python3).

Each test class starts its own prefixcached (port 0, parsed from the "prefixcached listening
on HOST:PORT" line) in a temporary folder and stops it with SIGTERM, expecting exit 0.
Covers the standard commands, pipelines of hundreds of commands, 64 MiB values, binary
keys, the BLOCK.* commands through execute_command, errors as redis.ResponseError, AUTH
and the connection limit.

    /usr/bin/python3 tests/daemon/python_redis_test.py --bin build/bin/prefixcached
"""
import argparse
import json
import os
import random
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import redis

BIN = None
START_BOUND_S = 20  # guards against a hang; never a timing assertion
LISTENING = "prefixcached listening on "


class Daemon:
    """One prefixcached child in a temporary folder of its own."""

    def __init__(self, config=None, extra=()):
        self.dir = tempfile.mkdtemp(prefix="prefixcache-py-")
        args = [BIN, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
                "--spill-path", os.path.join(self.dir, "spill")]
        if config is not None:
            path = os.path.join(self.dir, "config.json")
            with open(path, "w") as f:
                json.dump(config, f)
            args += ["--config", path]
        args += list(extra)
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self.stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.stderr)
        self.port = self._read_port()
        # Keep draining stdout so that the daemon never blocks on a full pipe.
        self.drain = threading.Thread(target=self.proc.stdout.read, daemon=True)
        self.drain.start()

    def _read_port(self):
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + START_BOUND_S
        text = b""
        while time.monotonic() < deadline:
            if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                continue
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                break
            text += chunk
            for line in text.decode(errors="replace").splitlines():
                if line.startswith(LISTENING) and text.endswith(b"\n"):
                    return int(line[len(LISTENING):].rsplit(":", 1)[1])
        self.proc.kill()
        self.proc.wait()
        self.stderr.close()
        with open(self.stderr_path, "rb") as f:
            error = f.read().decode(errors="replace")
        shutil.rmtree(self.dir, ignore_errors=True)
        raise RuntimeError("prefixcached did not start: " + error)

    def client(self, **kwargs):
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=60, **kwargs)

    def stop(self):
        """SIGTERM; returns the exit code (SIGKILL after a bound: then negative)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.drain.join(timeout=5)
        self.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return code


def block_key(rng):
    return bytes(rng.getrandbits(8) for _ in range(16))


class DaemonTestCase(unittest.TestCase):
    config = None

    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon(cls.config)

    @classmethod
    def tearDownClass(cls):
        code = cls.daemon.stop()
        if code != 0:
            raise AssertionError(f"prefixcached exited with {code} after SIGTERM")

    def setUp(self):
        self.r = self.daemon.client()
        self.r.flushall()

    def tearDown(self):
        self.r.close()

    def assertError(self, text, fn, *args, **kwargs):
        with self.assertRaises(redis.ResponseError) as caught:
            fn(*args, **kwargs)
        self.assertEqual(str(caught.exception), text)


class StandardCommandsTest(DaemonTestCase):
    def test_connection_commands(self):
        r = self.r
        self.assertTrue(r.ping())
        # (redis-py's PING callback turns any reply into a bool: read this one raw.)
        raw = redis.Connection(host="127.0.0.1", port=self.daemon.port, socket_timeout=60)
        raw.send_command("PING", "hi")
        self.assertEqual(raw.read_response(), b"hi")
        raw.disconnect()
        self.assertEqual(r.echo(b"a\x00b\r\n"), b"a\x00b\r\n")
        self.assertError("AUTH <password> called without any password configured for the "
                         "default user. Are you sure your configuration is correct?",
                         r.execute_command, "AUTH", "x")
        hello = r.execute_command("HELLO", 2)
        self.assertEqual(hello[:6], [b"server", b"redis", b"version", b"7.0.0", b"proto", 2])
        self.assertEqual(hello[6], b"id")
        self.assertEqual(hello[7], r.client_id())
        self.assertEqual(hello[8:], [b"mode", b"standalone", b"role", b"master", b"modules", []])
        self.assertTrue(r.execute_command("SELECT", 0))
        self.assertError("DB index is out of range", r.execute_command, "SELECT", 1)
        self.assertIsNone(r.client_getname())
        self.assertTrue(r.client_setname("py-worker"))
        self.assertEqual(r.client_getname(), "py-worker")
        self.assertIsInstance(r.client_id(), int)
        self.assertEqual(r.config_get("maxmemory"), {"maxmemory": str(1 << 30)})
        self.assertEqual(r.config_get("max*"), {"maxmemory": str(1 << 30),
                                                "maxmemory-policy": "tiered",
                                                "maxclients": "10000"})
        self.assertEqual(r.config_get("save"), {"save": ""})

        # QUIT: +OK, then the connection is closed.
        conn = redis.Connection(host="127.0.0.1", port=self.daemon.port, socket_timeout=60)
        conn.send_command("QUIT")
        self.assertEqual(conn.read_response(), b"OK")
        with self.assertRaises(redis.ConnectionError):
            conn.send_command("PING")
            conn.read_response()
        conn.disconnect()

    def test_key_commands(self):
        r = self.r
        self.assertEqual(r.dbsize(), 0)
        self.assertTrue(r.set("greeting", "hello"))
        self.assertEqual(r.get("greeting"), b"hello")
        self.assertIsNone(r.get("nope"))
        self.assertIsNone(r.set("greeting", "x", nx=True))
        self.assertEqual(r.set("greeting", "bonjour", xx=True, get=True), b"hello")
        self.assertTrue(r.mset({"a": b"1", "b": b"2", "c": b"3"}))
        self.assertEqual(r.mget("a", "nope", "b", "c"), [b"1", None, b"2", b"3"])
        self.assertEqual(r.exists("a", "b", "nope", "a"), 3)
        self.assertEqual(r.dbsize(), 4)
        self.assertEqual(r.delete("a", "nope"), 1)
        self.assertEqual(r.exists("a"), 0)
        self.assertEqual(r.dbsize(), 3)
        self.assertTrue(r.flushall())
        self.assertEqual(r.dbsize(), 0)
        self.assertIsNone(r.get("greeting"))

    def test_expiry_and_scan(self):
        r = self.r
        self.assertTrue(r.set("session:1", "a", ex=1000))
        self.assertTrue(0 < r.ttl("session:1") <= 1000)
        self.assertTrue(r.set("session:2", "b", px=10))
        self.assertTrue(r.setex("session:3", 1000, "c"))
        self.assertTrue(r.set("other", "d"))
        self.assertEqual(r.ttl("other"), -1)
        self.assertEqual(r.ttl("nope"), -2)
        self.assertTrue(r.expire("other", 1000))
        self.assertTrue(r.persist("other"))
        self.assertFalse(r.persist("other"))
        self.assertTrue(r.pexpireat("session:3", 4102444800000))
        self.assertGreater(r.pttl("session:3"), 1000)
        while r.exists("session:2"):  # expires by itself
            time.sleep(0.01)
        self.assertIsNone(r.get("session:2"))
        self.assertEqual(sorted(r.scan_iter(match="session:*", count=2)),
                         [b"session:1", b"session:3"])
        self.assertEqual(sorted(r.keys("*")), [b"other", b"session:1", b"session:3"])

    def test_info(self):
        r = self.r
        r.mset({"k1": b"v", "k2": b"v"})
        info = r.info()
        self.assertEqual(info["redis_version"], "7.0.0")
        self.assertEqual(info["tcp_port"], self.daemon.port)
        self.assertEqual(info["process_id"], self.daemon.proc.pid)
        self.assertEqual(info["db0"], {"keys": 2, "expires": 0, "avg_ttl": 0})
        for field in ("connected_clients", "used_memory", "maxmemory", "keyspace_hits",
                      "keyspace_misses", "total_commands_processed", "memory_tier_entries",
                      "spill_tier_enabled"):
            self.assertIn(field, info)
        self.assertEqual(info["memory_tier_entries"], 2)
        self.assertEqual(r.info("keyspace"), {"db0": {"keys": 2, "expires": 0, "avg_ttl": 0}})
        clients = r.info("clients")
        self.assertIn("connected_clients", clients)
        self.assertNotIn("redis_version", clients)
        self.assertEqual(r.info("memory")["maxmemory"], 1 << 30)

    def test_command(self):
        r = self.r
        count = r.command_count()
        commands = r.command()
        self.assertEqual(len(commands), count)
        for name in ("ping", "get", "set", "mget", "mset", "del", "exists", "info",
                     "block.mset", "block.mget", "block.exists", "block.stats", "block.ring"):
            self.assertIn(name, commands)
        self.assertEqual(commands["get"]["arity"], 2)
        self.assertEqual(commands["get"]["flags"], ["readonly", "fast"])
        self.assertEqual(commands["block.mset"]["arity"], -4)
        self.assertEqual(r.execute_command("COMMAND", "DOCS"), {})  # an empty array

    def test_pipeline_of_hundreds(self):
        rng = random.Random(1)
        values = [rng.randbytes(rng.randrange(0, 40000)) for _ in range(400)]
        pipe = self.r.pipeline(transaction=False)
        for i, v in enumerate(values):
            pipe.set(f"pipe:{i}", v)
        for i in range(len(values)):
            pipe.get(f"pipe:{i}")
        pipe.exists(*[f"pipe:{i}" for i in range(len(values))])
        pipe.mget([f"pipe:{i}" for i in range(0, len(values), 7)] + ["pipe:none"])
        pipe.delete(*[f"pipe:{i}" for i in range(100)])
        pipe.dbsize()
        pipe.execute_command("BLOCK.MSET", 0, b"p" * 16, b"block")
        pipe.execute_command("BLOCK.MGET", b"p" * 16)
        results = pipe.execute()
        n = len(values)
        self.assertEqual(results[:n], [True] * n)
        self.assertEqual(results[n:2 * n], values)
        self.assertEqual(results[2 * n], n)
        self.assertEqual(results[2 * n + 1], values[::7] + [None])
        self.assertEqual(results[2 * n + 2:], [100, n - 100, b"OK", [b"block"]])

    def test_pipeline_errors_do_not_stop_it(self):
        pipe = self.r.pipeline(transaction=False)
        for i in range(300):
            if i % 50 == 49:
                pipe.execute_command("BLOCK.EXISTS", b"short")
            else:
                pipe.set(f"e:{i}", str(i))
        results = pipe.execute(raise_on_error=False)
        for i, result in enumerate(results):
            if i % 50 == 49:
                self.assertIsInstance(result, redis.ResponseError)
                self.assertEqual(str(result), "BLOCK.EXISTS argument 1: a block key must be "
                                              "exactly 16 bytes, got 5")
            else:
                self.assertTrue(result)
        self.assertEqual(self.r.dbsize(), 300 - 6)

    def test_64mib_values(self):
        rng = random.Random(64)
        big = rng.randbytes(64 << 20)
        self.assertTrue(self.r.set("huge", big))
        self.assertEqual(self.r.get("huge"), big)
        key = block_key(rng)
        other = rng.randbytes(64 << 20)
        self.assertEqual(self.r.execute_command("BLOCK.MSET", 0, key, other), b"OK")
        got = self.r.execute_command("BLOCK.MGET", key, b"\x00" * 16, key)
        self.assertEqual(len(got), 3)
        self.assertTrue(got[0] == other and got[2] == other)
        self.assertIsNone(got[1])
        self.assertEqual(self.r.get("huge"), big)

    def test_binary_keys(self):
        r = self.r
        keys = [b"\x00", b"\r\n", b"\x00\r\n\xff" * 5, b"\xff" * 100, b"k\x00ey", b"*1\r\n$4\r\n"]
        for i, k in enumerate(keys):
            self.assertTrue(r.set(k, b"value-%d" % i))
        self.assertEqual(r.mget(keys), [b"value-%d" % i for i in range(len(keys))])
        self.assertEqual(r.exists(*keys), len(keys))
        self.assertEqual(r.dbsize(), len(keys))
        self.assertEqual(r.delete(keys[0], keys[1]), 2)
        self.assertEqual(r.exists(*keys), len(keys) - 2)
        # A 16-byte binary key is the block key itself.
        raw = bytes(range(16))
        self.assertTrue(r.set(raw, b"via set"))
        self.assertEqual(r.execute_command("BLOCK.MGET", raw), [b"via set"])
        self.assertTrue(r.mset({b"\x01" * 16: b"m1", b"\r\n" * 8: b"m2"}))
        self.assertEqual(r.execute_command("BLOCK.EXISTS", b"\x01" * 16, b"\r\n" * 8,
                                           b"\x02" * 16), [1, 1, 0])

    def test_block_commands(self):
        r = self.r
        rng = random.Random(7)
        keys = [block_key(rng) for _ in range(200)]
        values = [rng.randbytes(rng.choice([0, 10, 16383, 16384, 50000])) for _ in keys]
        args = []
        for depth, (k, v) in enumerate(zip(keys, values)):
            args += [depth % 32, k, v]
        self.assertEqual(r.execute_command("BLOCK.MSET", *args), b"OK")
        missing = [block_key(rng) for _ in range(50)]
        asked = keys + missing
        rng.shuffle(asked)
        held = set(keys)
        before = json.loads(r.execute_command("BLOCK.STATS"))
        self.assertEqual(r.execute_command("BLOCK.EXISTS", *asked),
                         [1 if k in held else 0 for k in asked])
        by_key = dict(zip(keys, values))
        self.assertEqual(r.execute_command("BLOCK.MGET", *asked),
                         [by_key.get(k) for k in asked])
        stats = json.loads(r.execute_command("BLOCK.STATS"))
        self.assertEqual(stats["node_id"], "node-1")
        self.assertEqual(stats["blocks"], 200)
        self.assertEqual(stats["memory"]["entries"], 200)
        self.assertEqual(stats["keyspace_hits"] - before["keyspace_hits"], 200)
        self.assertEqual(stats["keyspace_misses"] - before["keyspace_misses"], 50)
        for tier in ("memory", "spill"):
            for field in ("hits", "misses", "bytes", "entries", "capacity_bytes", "evictions",
                          "demotions", "promotions", "checksum_failures", "demotion_drops",
                          "io_errors", "queue_bytes"):
                self.assertIsInstance(stats[tier][field], int, f"{tier}.{field}")
        ring = json.loads(r.execute_command("BLOCK.RING"))
        self.assertEqual(ring["nodes"], [{"id": "node-1",
                                          "address": f"127.0.0.1:{self.daemon.port}",
                                          "weight": 1}])
        self.assertEqual(ring["replicas"], 1)
        self.assertIsInstance(ring["fingerprint"], str)

    def test_errors(self):
        r = self.r
        self.assertError("unknown command 'NOSUCH', with args beginning with: 'a' 'b' ",
                         r.execute_command, "NOSUCH", "a", "b")
        self.assertError("wrong number of arguments for 'get' command", r.execute_command, "GET")
        self.assertError("syntax error", r.execute_command, "SET", "k", "v", "NX", "XX")
        self.assertError("invalid expire time in 'set' command", r.set, "k", "v", ex=0)
        self.assertError("BLOCK.EXISTS argument 2: a block key must be exactly 16 bytes, got 3",
                         r.execute_command, "BLOCK.EXISTS", b"k" * 16, b"abc")
        self.assertError("BLOCK.MGET argument 1: a block key must be exactly 16 bytes, got 17",
                         r.execute_command, "BLOCK.MGET", b"k" * 17)
        self.assertError("BLOCK.MSET triple 1: depth must be an integer from 0 to 4294967295, "
                         "got '-1'", r.execute_command, "BLOCK.MSET", 0, b"a" * 16, b"v",
                         -1, b"b" * 16, b"v")
        self.assertError("wrong number of arguments for 'block.mset' command",
                         r.execute_command, "BLOCK.MSET", 0, b"a" * 16)
        self.assertError("CONFIG SET is not supported: prefixcached reads its settings from the "
                         "config file at start-up", r.config_set, "maxmemory", 1)
        self.assertEqual(r.execute_command("BLOCK.EXISTS", b"a" * 16, b"b" * 16), [0, 0])
        self.assertTrue(r.ping())


class AuthTest(DaemonTestCase):
    config = {"spill": {"enabled": False}, "security": {"password": "py-s3cret"},
              "limits": {"max_connections": 3}}

    def setUp(self):
        self.r = self.daemon.client(password="py-s3cret")
        self.r.flushall()

    def test_password(self):
        self.assertTrue(self.r.set("k", "v"))
        self.assertEqual(self.r.get("k"), b"v")
        with self.daemon.client() as anonymous:
            with self.assertRaises(redis.AuthenticationError) as caught:
                anonymous.get("k")
            self.assertEqual(str(caught.exception), "Authentication required.")
        with self.daemon.client(password="wrong") as wrong:
            with self.assertRaises(redis.ResponseError) as caught:
                wrong.ping()
            self.assertEqual(str(caught.exception),
                             "WRONGPASS invalid username-password pair or user is disabled.")
        with self.daemon.client(username="default", password="py-s3cret") as named:
            self.assertEqual(named.get("k"), b"v")
        with self.daemon.client() as later:
            self.assertTrue(later.execute_command("AUTH", "py-s3cret"))
            self.assertEqual(later.get("k"), b"v")

    def test_max_connections(self):
        # self.r holds one connection; two more fill max_connections (3).
        held = [self.daemon.client(password="py-s3cret", single_connection_client=True)
                for _ in range(2)]
        for c in held:
            self.assertTrue(c.ping())
        extra = self.daemon.client(password="py-s3cret")
        with self.assertRaises(redis.ConnectionError) as caught:
            extra.ping()
        self.assertIn("max number of clients reached", str(caught.exception))
        extra.close()
        for c in held:
            self.assertTrue(c.ping())
            c.close()
        self.assertTrue(self.r.ping())


def main():
    global BIN
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True, help="path of the prefixcached binary")
    args, rest = parser.parse_known_args()
    BIN = os.path.abspath(args.bin)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
