"""A node that is down, killed or silent gives misses (and not_stored), never an exception,
and no call holds the GIL while it waits on the network."""

import socket
import threading

import numpy as np

import prefixcache
from prefixcache import BlockStatus

BLOCK = 2048


def make_keys(n, salt):
    ns = prefixcache.Namespace(model_id="python-failures", model_revision=salt, dtype="uint8",
                               kv_layout="flat", block_size_tokens=2)
    return prefixcache.Hasher(ns).keys(list(range(2 * n)))


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def test_a_killed_node_gives_misses(cluster):
    keys = make_keys(30, "killed")
    values = [np.full(BLOCK, i, dtype=np.uint8) for i in range(30)]
    with prefixcache.Client(cluster.nodes, timeout_ms=2000, connect_timeout_ms=1000) as client:
        assert client.put(keys, values) == (30, 0)
        cluster.daemons["n2"].kill()
        out = [np.zeros(BLOCK, dtype=np.uint8) for _ in keys]
        reads = client.get_into(keys, out)
        hits = [i for i, (status, _) in enumerate(reads) if status == BlockStatus.HIT]
        lost = [status for status, _ in reads if status != BlockStatus.HIT]
        # Blocks are placed one by one over 3 nodes: some of the 30 lived on n2.
        assert lost and hits
        assert set(lost) <= {BlockStatus.UNAVAILABLE, BlockStatus.MISS}
        assert all(np.array_equal(out[i], values[i]) for i in hits)
        assert client.get_prefix(keys, out) < 30
        assert client.match(keys) < 30
        assert None in client.get(keys)
        pending = client.get_prefix_async(keys, out)
        assert pending.wait()
        assert pending.result() < 30
        client.put(keys, values)  # stored on the live nodes or not: no exception
        client.erase(keys[:1])
        stats = client.stats()
        assert [n["up"] for n in stats["nodes"] if n["id"] == "n2"] == [False]
        assert stats["nodes"][1]["errors"] > 0


def test_a_cluster_that_is_all_down():
    keys = make_keys(3, "down")
    nodes = [("n1", f"127.0.0.1:{closed_port()}"), ("n2", f"127.0.0.1:{closed_port()}")]
    with prefixcache.Client(nodes, timeout_ms=1000, connect_timeout_ms=500) as client:
        assert client.match(keys) == 0
        assert client.get(keys) == [None] * 3
        assert client.get_prefix(keys, [bytearray(BLOCK) for _ in keys]) == 0
        assert client.put(keys, [bytes(BLOCK)] * 3) == (0, 3)
        reads = client.get_into(keys, [bytearray(BLOCK) for _ in keys])
        assert {status for status, _ in reads} == {BlockStatus.UNAVAILABLE}
        assert client.erase(keys)[0] == 0


def test_the_gil_is_released_while_a_call_waits():
    # A node that accepts and never answers: its Python thread can record the client's
    # request only while the call that sent it is still waiting -- which needs the GIL to
    # be free during the call. Then it hangs up, so the call ends at once.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    call_done = threading.Event()
    seen_during_call = []

    def silent_node():
        conn, _ = listener.accept()
        with conn:
            conn.recv(4096)
            seen_during_call.append(not call_done.is_set())

    server = threading.Thread(target=silent_node)
    server.start()
    address = "127.0.0.1:%d" % listener.getsockname()[1]
    with prefixcache.Client([("n1", address)], timeout_ms=60000,
                            connections_per_node=1) as client:
        assert client.get(make_keys(1, "gil")) == [None]
        call_done.set()
    server.join()
    listener.close()
    assert seen_during_call == [True]
