"""LMCache's two Redis connectors pointed at prefixcached, replayed byte for byte.

resp:// is LMCache's C++ RESP2 client (csrc/storage_backends/redis/connector.cpp and
connector.h at commits c964ff151313859d4b5e3a287bdac2eaf0989c6c /
3fd3000f1270d8ab36105c23a33711d51a86f63a). RespWorker below sends exactly its bytes over a
raw socket and checks the replies exactly as it does: AUTH answered by a line starting
"+OK\\r\\n"; SET answered by exactly "+OK\\r\\n"; GET answered by exactly "$<chunk size>\\r\\n",
the chunk, "\\r\\n" (it reads a fixed-size header, so anything else is a failure) or, for a
key that is not there, "$-1\\r\\n"; EXISTS answered by exactly ":1\\r\\n" or ":0\\r\\n". One
connection per worker thread, several threads at once, 32 MiB chunks (256 tokens of
Llama-3.1-8B in bf16: 2 x 32 layers x 8 KV heads x 128 dims x 2 bytes x 256).

redis:// is LMCache's RedisConnector (lmcache/v1/storage_backend/connector/
redis_connector.py at commit 030c77181580e304e20810d709acec6f16f53bef) over redis-py: put
is SET <k>kv_bytes then SET <k>metadata; contains is EXISTS <k>metadata one key at a time
up to the first 0; get is GET <k>metadata then GET <k>kv_bytes, and DEL <k>metadata when
the bytes are gone. Replayed with Debian's python3-redis.
"""

import hashlib
import os
import socket
import struct
import threading

import pytest
import redis

from conftest import Cluster

CHUNK = 2 * 32 * 8 * 128 * 2 * 256  # 32 MiB
PASSWORD = "lmcache-secret"
CRLF = b"\r\n"


def chunk_key(i, salt=""):
    # LMCache's CacheEngineKey.to_string(): model@world_size@worker_id@chunk_hash@dtype.
    digest = hashlib.sha256(f"{salt}{i}".encode()).hexdigest()
    return f"meta-llama/Llama-3.1-8B-Instruct@1@0@{digest}@bfloat16"


def chunk(i):
    # Distinct, cheap to make and to check: a 32-byte pattern per chunk repeated.
    return hashlib.sha256(f"chunk{i}".encode()).digest() * (CHUNK // 32)


def bulk(data):
    return b"$" + str(len(data)).encode() + CRLF + data + CRLF


class ProtocolError(Exception):
    pass


class RespWorker:
    """One worker connection of LMCache's RESP connector, byte for byte."""

    def __init__(self, address, username="", password=""):
        host, port = address.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)))
        if password:
            parts = [b"*3\r\n$4\r\nAUTH\r\n", bulk(username.encode())] if username else \
                [b"*2\r\n$4\r\nAUTH\r\n"]
            self.sock.sendmsg(parts + [bulk(password.encode())])
            line = self.recv_line()
            if not line.startswith(b"+OK\r\n"):
                raise ProtocolError(f"AUTH failed: {line!r}")

    def close(self):
        self.sock.close()

    def recv_exactly(self, n, into=None):
        buf = into if into is not None else bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            r = self.sock.recv_into(view[got:], n - got)
            if r == 0:
                raise ProtocolError("connection closed")
            got += r
        return buf

    def recv_line(self):
        line = bytearray()
        while not line.endswith(CRLF):
            line += self.recv_exactly(1)
        return bytes(line)

    def set(self, key, data):
        self.sock.sendmsg([b"*3\r\n$3\r\nSET\r\n", bulk(key.encode()),
                           b"$" + str(len(data)).encode() + CRLF, data, CRLF])
        reply = bytes(self.recv_exactly(5))
        if reply != b"+OK\r\n":
            raise ProtocolError(f"SET: response was not OK: {reply!r}")

    def get(self, key, size):
        """The chunk, read as the connector does (exact header, payload, trailer)."""
        self.sock.sendmsg([b"*2\r\n$3\r\nGET\r\n", bulk(key.encode())])
        header = b"$" + str(size).encode() + CRLF
        got = bytes(self.recv_exactly(len(header)))
        if got != header:
            raise ProtocolError(f"GET: size header mismatch: {got!r}")
        payload = self.recv_exactly(size)
        if bytes(self.recv_exactly(2)) != CRLF:
            raise ProtocolError("GET: trailer mismatch")
        return payload

    def get_missing(self, key):
        self.sock.sendmsg([b"*2\r\n$3\r\nGET\r\n", bulk(key.encode())])
        reply = bytes(self.recv_exactly(5))
        if reply != b"$-1\r\n":
            raise ProtocolError(f"GET of a missing key: {reply!r}")

    def exists(self, key):
        self.sock.sendmsg([b"*2\r\n$6\r\nEXISTS\r\n", bulk(key.encode())])
        reply = bytes(self.recv_exactly(4))
        if reply == b":1\r\n":
            return True
        if reply == b":0\r\n":
            return False
        raise ProtocolError(f"EXISTS returned {reply!r}")

    def delete(self, key):
        self.sock.sendmsg([b"*2\r\n$3\r\nDEL\r\n", bulk(key.encode())])
        reply = self.recv_line()
        if reply not in (b":1\r\n", b":0\r\n"):
            raise ProtocolError(f"DEL returned {reply!r}")
        return reply == b":1\r\n"


def one_node(tmp_path, capacity, password=""):
    settings = {"memory": {"capacity": capacity}, "spill": {"enabled": False}}
    if password:
        settings["security"] = {"password": password}
    return Cluster(str(tmp_path), 1, settings)


def run_threads(count, work):
    errors = []

    def body(t):
        try:
            work(t)
        except BaseException as e:  # reported below, with the thread
            errors.append((t, repr(e)))

    threads = [threading.Thread(target=body, args=(t,)) for t in range(count)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []


THREADS = 4
PER_THREAD = 2


@pytest.mark.parametrize("password", ["", PASSWORD])
def test_resp_connector_workers_set_exists_get(tmp_path, password):
    cluster = one_node(tmp_path, "512MiB", password)
    address = cluster.nodes[0][1]
    try:
        def work(t):
            conn = RespWorker(address, password=password)
            try:
                keys = [chunk_key(t * PER_THREAD + i, password) for i in range(PER_THREAD)]
                for i, key in enumerate(keys):
                    assert conn.exists(key) is False
                    conn.get_missing(key)
                    conn.set(key, chunk(t * PER_THREAD + i))
                for i, key in enumerate(keys):
                    assert conn.exists(key) is True
                    assert conn.get(key, CHUNK) == chunk(t * PER_THREAD + i)
                assert conn.delete(keys[0]) is True
                assert conn.exists(keys[0]) is False
                conn.get_missing(keys[0])
            finally:
                conn.close()

        run_threads(THREADS, work)
        if password:
            conn = RespWorker(address)  # no AUTH: every command is refused
            try:
                conn.sock.sendmsg([b"*2\r\n$6\r\nEXISTS\r\n", bulk(b"k")])
                assert conn.recv_line().startswith(b"-NOAUTH")
            finally:
                conn.close()
            with pytest.raises(ProtocolError, match="AUTH failed"):
                RespWorker(address, password="wrong")
            RespWorker(address, username="default", password=password).close()
    finally:
        cluster.stop()


def test_resp_connector_eviction_reads_as_a_miss(tmp_path):
    # 96 MiB of memory holds two 32 MiB chunks (and their overhead), not six.
    cluster = one_node(tmp_path, "96MiB")
    try:
        conn = RespWorker(cluster.nodes[0][1])
        keys = [chunk_key(i, "evict") for i in range(6)]
        for i, key in enumerate(keys):
            conn.set(key, chunk(i))
        present = [conn.exists(key) for key in keys]
        assert present[-1] is True and not all(present)
        for i, key in enumerate(keys):
            if present[i]:
                assert conn.get(key, CHUNK) == chunk(i)
            else:
                conn.get_missing(key)
        conn.close()
    finally:
        cluster.stop()


def metadata(length):
    # LMCache's RemoteMetadata: length, shape (4 ints), dtype, format -- 28 bytes here.
    return struct.pack("<iiiiiii", length, 2, 32, 256, 1024, 8, 1)


class RedisConnectorReplay:
    """LMCache's RedisConnector's command sequences, through redis-py."""

    def __init__(self, r):
        self.r = r

    def put(self, key, kv_bytes):
        self.r.set(key + "kv_bytes", kv_bytes)  # the bytes first, then what announces them
        self.r.set(key + "metadata", metadata(len(kv_bytes)))

    def contains(self, keys):
        hits = 0
        for key in keys:
            if not self.r.exists(key + "metadata"):
                return hits
            hits += 1
        return hits

    def get(self, key):
        meta = self.r.get(key + "metadata")
        if meta is None:
            return None
        length = struct.unpack_from("<i", meta)[0]
        kv_bytes = self.r.get(key + "kv_bytes")
        if kv_bytes is None:
            self.r.delete(key + "metadata")
            return None
        assert len(kv_bytes) == length
        return kv_bytes


@pytest.mark.parametrize("password", ["", PASSWORD])
def test_redis_connector_sequence(tmp_path, password):
    cluster = one_node(tmp_path, "512MiB", password)
    host, port = cluster.nodes[0][1].rsplit(":", 1)
    url = f"redis://:{password}@{host}:{port}" if password else f"redis://{host}:{port}"
    try:
        pool = redis.ConnectionPool.from_url(url, max_connections=150)
        replay = RedisConnectorReplay(redis.Redis(connection_pool=pool))
        keys = [chunk_key(i, "redis" + password) for i in range(4)]
        assert replay.contains(keys) == 0
        assert replay.get(keys[0]) is None

        def work(t):
            replay.put(keys[t], chunk(t))

        run_threads(3, work)  # keys[3] is never stored
        assert replay.contains(keys) == 3
        assert replay.contains([keys[0], keys[3], keys[1]]) == 1
        for i in range(3):
            assert replay.get(keys[i]) == chunk(i)
        # The bytes gone (as when evicted) but the metadata there: get deletes the metadata.
        replay.r.delete(keys[1] + "kv_bytes")
        assert replay.get(keys[1]) is None
        assert replay.r.exists(keys[1] + "metadata") == 0
        assert replay.contains(keys) == 1
        pool.disconnect()
    finally:
        cluster.stop()


def test_redis_connector_eviction_leaves_metadata_without_bytes(tmp_path):
    cluster = one_node(tmp_path, "96MiB")
    host, port = cluster.nodes[0][1].rsplit(":", 1)
    try:
        replay = RedisConnectorReplay(redis.Redis(host=host, port=int(port)))
        keys = [chunk_key(i, "redis-evict") for i in range(6)]
        for i, key in enumerate(keys):
            replay.put(key, chunk(i))
        results = [replay.get(key) for key in keys]
        assert results[-1] == chunk(5)
        assert any(r is None for r in results)
        for i, r in enumerate(results):
            assert r is None or r == chunk(i)
            if r is None:  # whatever was evicted, nothing announces bytes that are gone
                assert replay.r.exists(keys[i] + "kv_bytes") == 0 or \
                    replay.r.exists(keys[i] + "metadata") == 0
        replay.r.close()
    finally:
        cluster.stop()
