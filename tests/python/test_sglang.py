"""prefixcache.sglang.PrefixCacheStorage driven as SGLang's HiCache cache controller drives
it, against a real 3-node cluster.

SGLang cannot be installed here, so HostPool below stands in for its host KV pools. It
follows the documented contract of get_page_buffer_meta in SGLang's
python/sglang/srt/mem_cache/pool_host/mha.py and mla.py (commit
001067fffe33427bee0ed2f007fb7551a1d76b44) over real torch CPU tensors of the same shapes:
MHA kv_buffer (2, layers, tokens, heads, head_dim) for layer_first and (2, tokens, layers,
heads, head_dim) for page_first; MLA (layers, tokens, 1, dim) and (tokens, layers, 1, dim);
per page of host_indices the pointers K then V (MHA) per layer (layer_first) or once
(page_first), with one element size per pointer. The backend is loaded as
storage/backend_factory.py's dynamic loader does: import module_path, take class_name,
construct cls(storage_config, kwargs), then register_mem_pool_host(pool).
"""

import abc
import dataclasses
import hashlib
import importlib
import sys
import types
from typing import Optional

import pytest
import torch

import prefixcache
import prefixcache.sglang

PAGE_SIZE = 4
LAYERS = 3
HEADS = 2
HEAD_DIM = 8
MLA_DIM = 24  # kv_lora_rank + qk_rope_head_dim
HOST_PAGES = 24


@dataclasses.dataclass
class StorageConfig:
    """The fields of SGLang's HiCacheStorageConfig (hicache_storage.py)."""
    tp_rank: int = 0
    tp_size: int = 1
    pp_rank: int = 0
    pp_size: int = 1
    attn_cp_rank: int = 0
    attn_cp_size: int = 1
    is_mla_model: bool = False
    enable_storage_metrics: bool = False
    is_page_first_layout: bool = True
    model_name: Optional[str] = "meta-llama/Llama-3.1-8B-Instruct"
    dp_rank: int = 0
    dp_size: int = 1
    extra_config: Optional[dict] = None


class HostPool:
    """A host KV pool with SGLang's layouts and get_page_buffer_meta contract (see above)."""

    def __init__(self, mla, layout, dtype=torch.bfloat16):
        self.mla, self.layout, self.dtype = mla, layout, dtype
        # dtype.itemsize in SGLang; Debian's torch predates that attribute.
        self.itemsize = torch.tensor([], dtype=dtype).element_size()
        self.page_size, self.layer_num, self.size = PAGE_SIZE, LAYERS, HOST_PAGES * PAGE_SIZE
        if mla:
            shape = ((LAYERS, self.size, 1, MLA_DIM) if layout == "layer_first"
                     else (self.size, LAYERS, 1, MLA_DIM))
        else:
            shape = ((2, LAYERS, self.size, HEADS, HEAD_DIM) if layout == "layer_first"
                     else (2, self.size, LAYERS, HEADS, HEAD_DIM))
        self.kv_buffer = torch.zeros(shape, dtype=dtype)
        generator = torch.Generator().manual_seed(11)
        flat = self.kv_buffer.view(torch.uint8).view(-1)
        flat.copy_(torch.randint(0, 256, flat.shape, dtype=torch.uint8, generator=generator))

    def get_page_buffer_meta(self, indices):
        assert len(indices) % self.page_size == 0
        item = self.itemsize
        token = (MLA_DIM if self.mla else HEADS * HEAD_DIM) * item  # one token of one layer
        base = self.kv_buffer.data_ptr()
        v_offset = LAYERS * self.size * token
        firsts = indices.tolist()[::self.page_size]
        ptrs = []
        if self.layout == "layer_first":
            for first in firsts:
                for layer in range(LAYERS):
                    k = base + first * token + layer * self.size * token
                    ptrs += [k] if self.mla else [k, k + v_offset]
            element = self.page_size * token
        else:
            for first in firsts:
                k = base + first * LAYERS * token
                ptrs += [k] if self.mla else [k, k + v_offset]
            element = LAYERS * self.page_size * token
        return ptrs, [element] * len(ptrs)

    def page(self, slot):
        """The bytes of host page `slot`, read through tensor indexing (not the pointers)."""
        t = slot * PAGE_SIZE
        if self.mla:
            view = (self.kv_buffer[:, t:t + PAGE_SIZE] if self.layout == "layer_first"
                    else self.kv_buffer[t:t + PAGE_SIZE])
        else:
            view = (self.kv_buffer[:, :, t:t + PAGE_SIZE] if self.layout == "layer_first"
                    else self.kv_buffer[:, t:t + PAGE_SIZE])
        return view.contiguous().view(torch.uint8).numpy().tobytes()


def host_indices(slots):
    return torch.cat([torch.arange(s * PAGE_SIZE, (s + 1) * PAGE_SIZE) for s in slots])


def page_hashes(n, salt=""):
    """SGLang's default page keys: a SHA-256 chain, 64 hex characters per page."""
    out, prev = [], salt
    for i in range(n):
        prev = hashlib.sha256((prev + ",".join(str(i * PAGE_SIZE + j) for j in range(PAGE_SIZE)))
                              .encode()).hexdigest()
        out.append(prev)
    return out


def extra_config(cluster, **more):
    return {"backend_name": "prefixcache", "module_path": "prefixcache.sglang",
            "class_name": "PrefixCacheStorage", "interface_v1": 1,
            "nodes": [[i, a] for i, a in cluster.nodes],
            "client_options": {"timeout_ms": 2000, "connect_timeout_ms": 1000}, **more}


def load_backend(storage_config, pool):
    """As SGLang's StorageBackendFactory._create_dynamic_backend and the cache controller."""
    extra = storage_config.extra_config
    cls = getattr(importlib.import_module(extra["module_path"]), extra["class_name"])
    backend = cls(storage_config, {})
    backend.register_mem_pool_host(pool)
    return backend


LAYOUTS = [(False, "page_first"), (False, "layer_first"), (True, "page_first"),
           (True, "layer_first")]


@pytest.mark.parametrize("mla,layout", LAYOUTS)
def test_pages_round_trip_byte_identical(cluster, mla, layout):
    pool = HostPool(mla, layout)
    config = StorageConfig(is_mla_model=mla, is_page_first_layout=layout == "page_first",
                           extra_config=extra_config(cluster))
    backend = load_backend(config, pool)
    keys = page_hashes(8, layout + str(mla))
    src = [0, 5, 2, 7, 1, 3, 6, 4]  # host slots out of order, as a radix tree hands them out
    assert backend.batch_exists(keys) == 0
    assert backend.batch_set_v1(keys, host_indices(src)) == [True] * 8
    assert backend.batch_exists(keys) == 8
    assert backend.batch_exists(keys[:5] + page_hashes(1, "absent") + keys[5:]) == 5

    dst = list(range(12, 20))
    assert backend.batch_get_v1(keys, host_indices(dst)) == [True] * 8
    for s, d in zip(src, dst):
        assert pool.page(d) == pool.page(s)

    # Misses read as False at their own positions and leave the rest intact.
    mixed = keys[:2] + page_hashes(2, "missing") + keys[2:4]
    reads = backend.batch_get_v1(mixed, host_indices([20, 21, 22, 23, 8, 9]))
    assert reads == [True, True, False, False, True, True]
    assert pool.page(20) == pool.page(src[0]) and pool.page(9) == pool.page(src[3])


def test_ranks_layouts_and_models_do_not_share_pages(cluster):
    pool = HostPool(False, "page_first")
    base = StorageConfig(tp_size=2, extra_config=extra_config(cluster))
    keys = page_hashes(4, "ranks")
    assert load_backend(base, pool).batch_set_v1(keys, host_indices(range(4))) == [True] * 4
    assert load_backend(base, pool).batch_exists(keys) == 4
    for other in (dataclasses.replace(base, tp_rank=1), dataclasses.replace(base, pp_size=2),
                  dataclasses.replace(base, model_name="other"),
                  dataclasses.replace(base, extra_config=extra_config(cluster, tenant_salt="t"))):
        assert load_backend(other, pool).batch_exists(keys) == 0
    assert load_backend(base, HostPool(False, "layer_first")).batch_exists(keys) == 0
    assert load_backend(base, HostPool(False, "page_first", torch.float16)).batch_exists(keys) == 0
    # Data-parallel replicas hold the same pages, and MLA ranks share one latent cache.
    assert load_backend(dataclasses.replace(base, dp_rank=1, dp_size=2), pool).batch_exists(keys) == 4
    mla_pool = HostPool(True, "page_first")
    mla = dataclasses.replace(base, is_mla_model=True)
    assert load_backend(mla, mla_pool).batch_set_v1(keys, host_indices(range(4))) == [True] * 4
    assert load_backend(dataclasses.replace(mla, tp_rank=1), mla_pool).batch_exists(keys) == 4


def test_legacy_interface(cluster):
    pool = HostPool(False, "page_first")
    backend = load_backend(StorageConfig(extra_config=extra_config(cluster)), pool)
    keys = page_hashes(3, "legacy")
    pages = [torch.randn(256).to(torch.bfloat16) for _ in keys]  # get_data_page(flat=True)
    assert backend.set(keys[0], pages[0])
    assert backend.batch_set(keys[1:], pages[1:])
    assert backend.exists(keys[0]) and not backend.exists(page_hashes(1, "nope")[0])
    target = torch.zeros(256, dtype=torch.bfloat16)  # get_dummy_flat_data_page()
    assert backend.get(keys[0], target) is target
    assert torch.equal(target.view(torch.int16), pages[0].view(torch.int16))
    targets = [torch.zeros(256, dtype=torch.bfloat16) for _ in range(4)]
    got = backend.batch_get(keys + page_hashes(1, "nope"), targets)
    assert got[:3] == targets[:3] and got[3] is None
    assert backend.get(keys[2]).numpy().tobytes() == pages[2].view(torch.uint8).numpy().tobytes()
    assert backend.get(page_hashes(1, "nope")[0]) is None


def test_a_killed_node_gives_misses_never_errors_or_none(cluster):
    pool = HostPool(False, "layer_first")
    backend = load_backend(StorageConfig(is_page_first_layout=False,
                                         extra_config=extra_config(cluster)), pool)
    keys = page_hashes(12, "kill")
    assert backend.batch_set_v1(keys, host_indices(range(12))) == [True] * 12
    cluster.daemons["n2"].kill()

    run = backend.batch_exists(keys)
    assert isinstance(run, int) and 0 <= run < 12
    reads = backend.batch_get_v1(keys, host_indices(range(12, 24)))
    assert isinstance(reads, list) and len(reads) == 12 and not all(reads)
    assert reads[:run] == [True] * run and reads[run] is False
    for i, ok in enumerate(reads):
        if ok:
            assert pool.page(12 + i) == pool.page(i)
    written = backend.batch_set_v1(page_hashes(12, "after"), host_indices(range(12)))
    assert isinstance(written, list) and len(written) == 12
    assert backend.batch_get([keys[i] for i in range(12) if not reads[i]]) == \
        [None] * (12 - sum(reads))
    assert backend.exists(keys[reads.index(False)]) is False


def test_configuration_errors_and_calls_before_registration(cluster, tmp_path):
    with pytest.raises(ValueError, match='"config".*"nodes"'):
        prefixcache.sglang.PrefixCacheStorage(StorageConfig(extra_config={}), {})
    backend = prefixcache.sglang.PrefixCacheStorage(
        StorageConfig(extra_config={"config": cluster.config_path}), {})
    # SGLang registers the pool first; without it every call is a miss, not an exception.
    assert backend.batch_exists(page_hashes(2)) == 0
    assert backend.batch_get_v1(page_hashes(2), host_indices([0, 1])) == [False, False]
    assert backend.batch_set_v1(page_hashes(2), host_indices([0, 1])) == [False, False]
    backend.register_mem_pool_host(HostPool(True, "page_first"))
    assert backend.batch_set_v1(page_hashes(2, "cfg"), host_indices([0, 1])) == [True, True]


def test_the_namespace_and_key_test_vector():
    # Pinned in docs/engines.md: SGLang's page-hash string -> prefixcache BlockKey.
    config = StorageConfig(tp_rank=1, tp_size=4, extra_config={"model_revision": "main"})
    ns = prefixcache.sglang.page_namespace(config, 64, "page_first", torch.bfloat16)
    assert (ns.model_id, ns.model_revision, ns.dtype, ns.kv_layout, ns.block_size_tokens) == (
        "meta-llama/Llama-3.1-8B-Instruct", "main", "bfloat16",
        "sglang-hicache/mha/page_first/tp1of4/pp0of1/cp0of1", 64)
    hasher = prefixcache.Hasher(ns)
    page_hash = hashlib.sha256(b"prefixcache").hexdigest()
    assert hasher.key_of(page_hash).hex() == KEY_VECTOR
    assert hasher.key_of(page_hash) == hasher.key_of(page_hash.encode())
    mla = prefixcache.sglang.page_namespace(dataclasses.replace(config, is_mla_model=True), 64,
                                            "layer_first", torch.bfloat16)
    assert mla.kv_layout == "sglang-hicache/mla/layer_first/pp0of1/cp0of1"


KEY_VECTOR = "8afd343cec2fb45cc95543117cd6de95"


def test_subclasses_sglangs_base_when_sglang_is_importable(monkeypatch):
    # A stand-in for sglang.srt.mem_cache.hicache_storage with HiCacheStorage's abstract
    # methods (the real one cannot be installed here): the backend must subclass it and
    # implement every abstract method, or SGLang's loader and ABC refuse it.
    class HiCacheStorage(abc.ABC):
        def register_mem_pool_host(self, mem_pool_host):
            self.mem_pool_host = mem_pool_host

        @abc.abstractmethod
        def get(self, key, target_location=None, target_sizes=None): ...

        @abc.abstractmethod
        def batch_get(self, keys, target_locations=None, target_sizes=None): ...

        @abc.abstractmethod
        def set(self, key, value=None, target_location=None, target_sizes=None): ...

        @abc.abstractmethod
        def batch_set(self, keys, values=None, target_locations=None, target_sizes=None): ...

        @abc.abstractmethod
        def exists(self, key): ...

    module = types.ModuleType("sglang.srt.mem_cache.hicache_storage")
    module.HiCacheStorage = HiCacheStorage
    for name in ("sglang", "sglang.srt", "sglang.srt.mem_cache"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, module.__name__, module)
    try:
        reloaded = importlib.reload(prefixcache.sglang)
        assert issubclass(reloaded.PrefixCacheStorage, HiCacheStorage)
        assert not reloaded.PrefixCacheStorage.__abstractmethods__
    finally:
        monkeypatch.undo()
        importlib.reload(prefixcache.sglang)
    assert not issubclass(prefixcache.sglang.PrefixCacheStorage, HiCacheStorage)
