"""prefixcache: a cluster cache for the KV blocks of LLM prompt prefixes.

    import prefixcache
    ns = prefixcache.Namespace(model_id="m", model_revision="r", dtype="bfloat16",
                               kv_layout="page_first", block_size_tokens=16)
    keys = prefixcache.Hasher(ns).keys(tokens)
    with prefixcache.Client(nodes=[("n1", "127.0.0.1:7379")]) as client:
        hit = client.get_prefix(keys, pages)      # pages[:hit] now hold cached KV
        client.put(keys[hit:], computed, start_depth=hit)

Hasher gives the 16-byte keys of the C++ client (client_lib's hasher.h); Client reads into
and writes from any buffer-protocol object or CPU torch tensor without a copy, with the GIL
released. A node that is down gives misses, never an exception.
"""

from ._core import BlockStatus, Client, Hasher, Namespace, PendingRead

__all__ = ["BlockStatus", "Client", "Hasher", "Namespace", "PendingRead"]
