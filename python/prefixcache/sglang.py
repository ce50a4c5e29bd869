"""SGLang HiCache storage backend over a prefixcache cluster.

Loaded by SGLang's dynamic backend factory::

    --hicache-storage-backend dynamic --hicache-storage-backend-extra-config
    '{"backend_name": "prefixcache", "module_path": "prefixcache.sglang",
      "class_name": "PrefixCacheStorage", "interface_v1": 1,
      "config": "/etc/prefixcache/cluster.json"}'

The factory constructs ``PrefixCacheStorage(storage_config, kwargs)`` and the cache
controller calls ``register_mem_pool_host(host_pool)`` before any transfer. Of the host pool
only ``page_size``, ``layout``, ``dtype`` and ``get_page_buffer_meta`` are used: one key per
page, the page's value being its parts as ``get_page_buffer_meta`` lists them (K and V for
page_first MHA, one part for page_first MLA, per layer K and V for layer_first MHA, per
layer one part for layer_first MLA), read and written in place through raw addresses.

A page's key is ``Hasher(namespace).key_of(page_hash_string)`` -- XXH3-128 of the namespace
seed and the string's UTF-8 bytes -- with the namespace of ``page_namespace``.

Thread-safety: SGLang calls one instance from its prefetch and backup threads at once; the
client is thread-safe and every call here releases the GIL for its network I/O.
Failures: a node that is down gives misses (False, a shorter run), never an exception and
never None -- SGLang stops its storage tier for good when a batch call raises or returns
None. Only a bad extra_config raises, at construction.

Written against SGLang's python/sglang/srt/mem_cache/hicache_storage.py and
storage/backend_factory.py at commit 001067fffe33427bee0ed2f007fb7551a1d76b44.
"""

from __future__ import annotations

import logging
from typing import Any, List, Optional, Sequence

from ._core import BlockStatus, Client, Hasher, Namespace

logger = logging.getLogger(__name__)

try:  # SGLang's loader requires a subclass of its HiCacheStorage.
    from sglang.srt.mem_cache.hicache_storage import HiCacheStorage as _Base
except ImportError:

    class _Base:  # type: ignore[no-redef]
        """Stands in for SGLang's HiCacheStorage when sglang is not installed."""

        def register_mem_pool_host(self, mem_pool_host: Any) -> None:
            self.mem_pool_host = mem_pool_host


# Extra-config fields read here; SGLang's own (backend_name, module_path, class_name,
# interface_v1, ...) pass through untouched.
CONFIG_FIELDS = ("config", "nodes", "client_options", "model_revision", "tenant_salt")


def _field(storage_config: Any, name: str, default: Any) -> Any:
    # Fields were added over SGLang versions (pp, attn_cp, dp): read each with a default.
    value = getattr(storage_config, name, default)
    return default if value is None else value


def _dtype_name(dtype: Any) -> str:
    name = str(dtype) if dtype is not None else ""
    return name[len("torch."):] if name.startswith("torch.") else name


def page_namespace(storage_config: Any, page_size: int, layout: str, dtype: Any) -> Namespace:
    """The namespace of one SGLang worker's pages: model, KV dtype, page size, host layout,
    MHA or MLA, and the ranks whose pages hold different bytes (tp for MHA, as SGLang's own
    backends do -- MLA ranks hold the same latent cache -- and pp and attention-cp always).
    Data-parallel replicas share. model_revision and tenant_salt come from extra_config."""
    extra = _field(storage_config, "extra_config", {}) or {}
    mla = bool(_field(storage_config, "is_mla_model", False))

    def rank(prefix, rank_field, size_field):
        return f"{prefix}{_field(storage_config, rank_field, 0)}of{_field(storage_config, size_field, 1)}"

    parts = ["sglang-hicache", "mla" if mla else "mha", str(layout)]
    if not mla:
        parts.append(rank("tp", "tp_rank", "tp_size"))
    parts += [rank("pp", "pp_rank", "pp_size"), rank("cp", "attn_cp_rank", "attn_cp_size")]
    return Namespace(model_id=str(_field(storage_config, "model_name", "")),
                     model_revision=str(extra.get("model_revision", "")),
                     dtype=_dtype_name(dtype), kv_layout="/".join(parts),
                     block_size_tokens=int(page_size), tenant_salt=str(extra.get("tenant_salt", "")))


def _client_from(extra: dict) -> Client:
    if "config" in extra:
        return Client.from_config(str(extra["config"]))
    if "nodes" in extra:
        nodes = [tuple(node) for node in extra["nodes"]]
        return Client(nodes, **dict(extra.get("client_options", {})))
    raise ValueError('prefixcache.sglang: extra_config needs "config" (a prefixcache JSON '
                     'config path) or "nodes" (a list of [id, "host:port"] pairs)')


class PrefixCacheStorage(_Base):
    """HiCacheStorage over a prefixcache cluster (see the module's docstring)."""

    def __init__(self, storage_config: Any, kwargs: Optional[dict] = None):
        self.storage_config = storage_config
        self.extra_config = dict(_field(storage_config, "extra_config", {}) or {})
        self.client = _client_from(self.extra_config)
        self.mem_pool_host = None
        self.hasher: Optional[Hasher] = None

    def register_mem_pool_host(self, mem_pool_host: Any) -> None:
        """Binds the host pool; its page size, layout and dtype complete the namespace."""
        super().register_mem_pool_host(mem_pool_host)
        self.mem_pool_host = mem_pool_host
        self.hasher = Hasher(page_namespace(self.storage_config, mem_pool_host.page_size,
                                            getattr(mem_pool_host, "layout", ""),
                                            getattr(mem_pool_host, "dtype", None)))

    def close(self) -> None:
        self.client.close()

    # Keys and page memory.

    def _keys(self, keys: Sequence[str]) -> List[bytes]:
        return [self.hasher.key_of(k) for k in keys]

    def _page_parts(self, count: int, host_indices: Any) -> List[List[tuple]]:
        """Per page its (address, size) parts, from get_page_buffer_meta."""
        ptrs, sizes = self.mem_pool_host.get_page_buffer_meta(host_indices)
        if isinstance(sizes, int):
            sizes = [sizes] * len(ptrs)
        if count == 0 or len(ptrs) % count != 0 or len(sizes) != len(ptrs):
            raise ValueError(f"get_page_buffer_meta gave {len(ptrs)} pointers and "
                             f"{len(sizes)} sizes for {count} pages")
        per_page = len(ptrs) // count
        return [[(int(ptrs[p * per_page + j]), int(sizes[p * per_page + j]))
                 for j in range(per_page)] for p in range(count)]

    def _ready(self, what: str) -> bool:
        if self.hasher is None:
            logger.warning("prefixcache.sglang: %s before register_mem_pool_host", what)
            return False
        return True

    # The zero-copy interface (interface_v1).

    def batch_exists(self, keys: List[str], extra_info: Any = None) -> int:
        """The number of leading keys that are stored (0 when nothing answers)."""
        if not keys or not self._ready("batch_exists"):
            return 0
        try:
            return int(self.client.match(self._keys(keys)))
        except Exception:  # never into SGLang's prefetch thread
            logger.exception("prefixcache.sglang: batch_exists failed")
            return 0

    def batch_get_v1(self, keys: List[str], host_indices: Any, extra_info: Any = None) -> List[bool]:
        """Reads each page into its host slots; True where the whole page arrived verified."""
        if not keys or not self._ready("batch_get_v1"):
            return [False] * len(keys)
        try:
            parts = self._page_parts(len(keys), host_indices)
            reads = self.client.get_into_ptrs(self._keys(keys), parts)
            return [status == BlockStatus.HIT and size == sum(s for _, s in page)
                    for (status, size), page in zip(reads, parts)]
        except Exception:
            logger.exception("prefixcache.sglang: batch_get_v1 failed")
            return [False] * len(keys)

    def batch_set_v1(self, keys: List[str], host_indices: Any, extra_info: Any = None) -> List[bool]:
        """Writes each page from its host slots. The client counts unacknowledged pages but
        does not name them, so the answer is all True or, when any page failed, all False."""
        if not keys or not self._ready("batch_set_v1"):
            return [False] * len(keys)
        try:
            parts = self._page_parts(len(keys), host_indices)
            _, not_stored = self.client.put_ptrs(self._keys(keys), parts)
            return [not_stored == 0] * len(keys)
        except Exception:
            logger.exception("prefixcache.sglang: batch_set_v1 failed")
            return [False] * len(keys)

    # The legacy interface: whole flat pages (get_data_page / get_dummy_flat_data_page).

    def get(self, key: str, target_location: Any = None, target_sizes: Any = None) -> Any:
        """The page into target_location (a tensor), returned; or, without one, a new uint8
        tensor. None for a miss."""
        return self.batch_get([key], None if target_location is None else [target_location])[0]

    def batch_get(self, keys: List[str], target_locations: Any = None,
                  target_sizes: Any = None) -> List[Any]:
        if not keys or not self._ready("batch_get"):
            return [None] * len(keys)
        try:
            if target_locations is None:
                import torch
                return [None if v is None else torch.frombuffer(bytearray(v), dtype=torch.uint8)
                        for v in self.client.get(self._keys(keys))]
            reads = self.client.get_into(self._keys(keys), list(target_locations))
            return [t if status == BlockStatus.HIT and size == _nbytes(t) else None
                    for (status, size), t in zip(reads, target_locations)]
        except Exception:
            logger.exception("prefixcache.sglang: batch_get failed")
            return [None] * len(keys)

    def set(self, key: str, value: Any = None, target_location: Any = None,
            target_sizes: Any = None) -> bool:
        return self.batch_set([key], None if value is None else [value])

    def batch_set(self, keys: List[str], values: Any = None, target_locations: Any = None,
                  target_sizes: Any = None) -> bool:
        """True when every value (a tensor or buffer) was stored."""
        if not keys or values is None or not self._ready("batch_set"):
            return False
        try:
            _, not_stored = self.client.put(self._keys(keys), list(values))
            return not_stored == 0
        except Exception:
            logger.exception("prefixcache.sglang: batch_set failed")
            return False

    def exists(self, key: str) -> bool:
        return self.batch_exists([key]) == 1

    def clear(self) -> None:
        """Nothing: the cluster is shared by every worker and evicts by itself."""

    def get_stats(self) -> Any:
        return None


def _nbytes(value: Any) -> int:
    if hasattr(value, "data_ptr"):
        return int(value.element_size() * value.numel())
    return memoryview(value).nbytes
