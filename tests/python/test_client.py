"""prefixcache.Client against a real 3-node cluster: every read and write call over every
kind of memory it accepts (bytes-likes, NumPy, torch CPU tensors, part lists, raw
addresses), the asynchronous reads, and the errors of misuse."""

import threading

import numpy as np
import pytest
import torch

import prefixcache
from prefixcache import BlockStatus

BLOCK = 4096


def make_keys(n, salt="t"):
    ns = prefixcache.Namespace(model_id="python-test", model_revision=salt, dtype="uint8",
                               kv_layout="flat", block_size_tokens=4)
    return prefixcache.Hasher(ns).keys(list(range(4 * n)))


def payloads(n, size=BLOCK):
    rng = np.random.default_rng(7)
    return [rng.integers(0, 256, size, dtype=np.uint8) for _ in range(n)]


def test_put_then_get_match_and_erase(client):
    keys = make_keys(8)
    values = payloads(8)
    assert client.put(keys, values) == (8, 0)
    assert client.match(keys) == 8
    assert client.match(keys + make_keys(2, "other")) == 8
    got = client.get(keys)
    assert [bytes(v) for v in values] == got
    removed, unreachable = client.erase(keys[4:])
    assert (removed, unreachable) == (4, 0)
    assert client.match(keys) == 4
    assert client.get(keys[4:]) == [None] * 4


def test_values_of_every_buffer_kind(client):
    keys = make_keys(5, "kinds")
    raw = payloads(5, 1000)
    values = [bytes(raw[0]), bytearray(raw[1]), memoryview(bytes(raw[2])), raw[3],
              torch.from_numpy(raw[4].copy())]
    assert client.put(keys, values) == (5, 0)
    assert client.get(keys) == [bytes(r) for r in raw]


def test_get_prefix_into_numpy_and_torch(client):
    keys = make_keys(6, "prefix")
    values = payloads(6)
    assert client.put(keys[:4], values[:4]) == (4, 0)
    out = [np.zeros(BLOCK, dtype=np.uint8) for _ in range(6)]
    assert client.get_prefix(keys, out) == 4
    for i in range(4):
        assert np.array_equal(out[i], values[i])

    # bf16 tensors have no NumPy view: they are reached through data_ptr().
    pages = torch.zeros((6, BLOCK // 2), dtype=torch.bfloat16)
    assert client.get_prefix(keys, [pages[i] for i in range(6)]) == 4
    for i in range(4):
        assert pages[i].view(torch.uint8).numpy().tobytes() == values[i].tobytes()


def test_get_into_reports_each_key(client):
    keys = make_keys(3, "into")
    values = payloads(3)
    assert client.put(keys[:2], values[:2]) == (2, 0)
    out = [bytearray(BLOCK), bytearray(BLOCK // 2), bytearray(BLOCK)]
    reads = client.get_into(keys, out)
    assert reads == [(BlockStatus.HIT, BLOCK), (BlockStatus.TOO_SMALL, BLOCK),
                     (BlockStatus.MISS, 0)]
    assert isinstance(reads[0][0], BlockStatus)
    assert bytes(out[0]) == values[0].tobytes()


def test_parts_are_filled_and_sent_in_order(client):
    # One block as its K and V halves, as an engine's page_first layout holds it.
    keys = make_keys(2, "parts")
    k = [torch.arange(256, dtype=torch.int32) + 1000 * i for i in range(2)]
    v = [torch.arange(256, dtype=torch.int32) - 1000 * i for i in range(2)]
    assert client.put(keys, [[k[i], v[i]] for i in range(2)]) == (2, 0)
    whole = client.get(keys)
    assert whole[1] == k[1].numpy().tobytes() + v[1].numpy().tobytes()

    k_out = torch.zeros((2, 256), dtype=torch.int32)
    v_out = np.zeros((2, 256), dtype=np.int32)
    assert client.get_prefix(keys, [[k_out[i], v_out[i]] for i in range(2)]) == 2
    assert torch.equal(k_out[1], k[1]) and np.array_equal(v_out[1], v[1].numpy())


def test_raw_addresses(client):
    keys = make_keys(2, "ptrs")
    src = np.stack(payloads(2))
    half = BLOCK // 2
    assert client.put_ptrs(keys, [src[0].ctypes.data, src[1].ctypes.data], [BLOCK, BLOCK]) == (2, 0)
    dst = np.zeros((2, BLOCK), dtype=np.uint8)
    parts = [[(dst[i].ctypes.data, half), (dst[i].ctypes.data + half, half)] for i in range(2)]
    assert client.get_into_ptrs(keys, parts) == [(BlockStatus.HIT, BLOCK)] * 2
    assert np.array_equal(dst, src)
    assert client.get_into_ptrs(keys, parts, [BLOCK, BLOCK]) == [(BlockStatus.HIT, BLOCK)] * 2


def test_asynchronous_reads(client):
    keys = make_keys(4, "async")
    values = payloads(4)
    assert client.put(keys[:3], values[:3]) == (3, 0)
    out = [np.zeros(BLOCK, dtype=np.uint8) for _ in range(4)]
    pending = client.get_prefix_async(keys, out)
    assert pending.wait()
    assert pending.ready()
    assert pending.result() == 3
    assert [r[0] for r in pending.reads()[:3]] == [BlockStatus.HIT] * 3
    assert all(np.array_equal(out[i], values[i]) for i in range(3))

    into = [bytearray(BLOCK) for _ in range(4)]
    pending = client.get_into_async(keys, into)
    assert pending.wait(60000)
    assert pending.result() == [(BlockStatus.HIT, BLOCK)] * 3 + [(BlockStatus.MISS, 0)]
    # A handle dropped before it was waited for cancels or finishes its read safely.
    client.get_into_async(keys, [bytearray(BLOCK) for _ in range(4)])


def test_put_async_copies_its_values(client):
    keys = make_keys(3, "put-async")
    values = payloads(3)
    originals = [v.tobytes() for v in values]
    assert client.put_async(keys, values, depths=[5, 6, 7])
    for v in values:
        v[:] = 0  # the caller may reuse its memory at once
    assert client.flush_async(60000)
    assert client.get(keys) == originals
    stats = client.stats()
    assert stats["put_async"]["calls"] == 1
    assert stats["async_puts_pending"] == 0


def test_stats_and_start_depth(client):
    keys = make_keys(4, "stats")
    assert client.put(keys[2:], payloads(2), start_depth=2) == (2, 0)
    client.get(keys)
    stats = client.stats()
    assert stats["hits"] == 2 and stats["misses"] == 2
    assert stats["blocks_stored"] == 2
    assert [n["id"] for n in stats["nodes"]] == ["n1", "n2", "n3"]
    assert all(n["up"] for n in stats["nodes"])


def test_from_config_and_context_manager(cluster):
    keys = make_keys(2, "config")
    with prefixcache.Client.from_config(cluster.config_path) as c:
        assert c.put(keys, payloads(2)) == (2, 0)
        assert not c.closed
    assert c.closed
    with pytest.raises(ValueError, match="closed"):
        c.match(keys)
    with prefixcache.Client(cluster.nodes) as other:
        assert other.match(keys) == 2


def test_threads_share_a_client(client):
    keys = [make_keys(4, f"thread{t}") for t in range(4)]
    values = payloads(4)
    errors = []

    def work(t):
        try:
            for _ in range(10):
                assert client.put(keys[t], values) == (4, 0)
                assert client.get(keys[t]) == [v.tobytes() for v in values]
        except AssertionError as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_misuse_raises_value_and_type_errors(client, cluster):
    keys = make_keys(2, "misuse")
    with pytest.raises(ValueError, match="buffers has 1 entries for 2 keys"):
        client.get_prefix(keys, [bytearray(BLOCK)])
    with pytest.raises(ValueError, match="values has 3 entries for 2 keys"):
        client.put(keys, payloads(3))
    with pytest.raises(ValueError, match="depths has 1 entries"):
        client.put(keys, payloads(2), depths=[0])
    with pytest.raises(ValueError, match=r"buffers\[1\]: a read-only bytes"):
        client.get_into(keys, [bytearray(BLOCK), bytes(BLOCK)])
    with pytest.raises(ValueError, match="read-only"):
        client.get_prefix_async(keys, [bytearray(BLOCK), memoryview(bytes(BLOCK))])
    with pytest.raises(ValueError, match="not contiguous"):
        client.get_into(keys, [np.zeros(2 * BLOCK, np.uint8)[::2]] * 2)
    with pytest.raises(ValueError, match="not contiguous"):
        client.put(keys, [torch.zeros((64, 64)).t()] * 2)
    with pytest.raises(ValueError, match="add up to 100 bytes but sizes"):
        client.get_into_ptrs(keys, [[(np.zeros(100).ctypes.data, 100)]] * 2, [BLOCK, BLOCK])
    with pytest.raises(ValueError, match="needs its size"):
        client.get_into_ptrs(keys, [1234, 5678])
    with pytest.raises(ValueError, match="16 contiguous bytes"):
        client.match([b"short"])
    with pytest.raises(TypeError, match="16-byte bytes key"):
        client.match(["a str"])
    with pytest.raises(TypeError, match="buffer protocol"):
        client.put(keys, [object(), object()])
    with pytest.raises(TypeError, match="nested"):
        client.put(keys, [[[b"x"]], [b"y"]])
    with pytest.raises(ValueError, match="start_depth"):
        client.put(keys, payloads(2), start_depth=-1)
    with pytest.raises(TypeError):
        prefixcache.Client(cluster.nodes, no_such_option=1)
    with pytest.raises(ValueError):
        prefixcache.Client([("n1", "not an address")])
    with pytest.raises(ValueError):
        prefixcache.Client([])
    with pytest.raises(OSError):
        prefixcache.Client.from_config("/nonexistent/cluster.json")
