"""Type stubs of prefixcache._core (the extension module; see prefixcache/__init__.py)."""

import enum
from types import TracebackType
from typing import Any, Optional, Protocol, Sequence, Tuple, Type, Union

class _TensorLike(Protocol):
    """A CPU torch tensor, duck-typed (torch is never imported by prefixcache): its size is
    nbytes when it has one, else element_size() * numel() (torch < 2.1)."""

    def data_ptr(self) -> int: ...
    def element_size(self) -> int: ...
    def numel(self) -> int: ...
    def is_contiguous(self) -> bool: ...

# An object with the buffer protocol (bytes, bytearray, memoryview, NumPy array) or a
# tensor; reads need writable ones.
_Part = Union[bytes, bytearray, memoryview, _TensorLike, Any]
# One block's memory: one part or a list of parts, filled / sent in order.
_Block = Union[_Part, Sequence[_Part]]
# One block's raw memory: an address (its size in sizes) or a list of (address, size).
_PtrBlock = Union[int, Sequence[Tuple[int, int]]]
_Tokens = Union[Sequence[int], Any]  # a list of ints or a 1-D NumPy integer array

class BlockStatus(enum.IntEnum):
    HIT = 0
    MISS = 1
    UNAVAILABLE = 2
    TOO_SMALL = 3
    CORRUPT = 4

class Namespace:
    model_id: str
    model_revision: str
    dtype: str
    kv_layout: str
    block_size_tokens: int
    lora_adapter: str
    tenant_salt: str
    def __init__(
        self,
        *,
        model_id: str,
        model_revision: str,
        dtype: str,
        kv_layout: str,
        block_size_tokens: int,
        lora_adapter: str = "",
        tenant_salt: str = "",
    ) -> None: ...
    def __eq__(self, other: object) -> bool: ...

class Hasher:
    def __init__(self, namespace: Namespace) -> None: ...
    @property
    def seed(self) -> bytes: ...
    @property
    def block_size(self) -> int: ...
    def keys(self, tokens: _Tokens) -> list[bytes]: ...
    def next(self, prev_key: bytes, block_tokens: _Tokens) -> bytes: ...
    def key_of(self, name: Union[str, bytes, bytearray]) -> bytes: ...

class PendingRead:
    def ready(self) -> bool: ...
    def wait(self, timeout_ms: Optional[int] = None) -> bool: ...
    def result(self) -> Union[int, list[Tuple[BlockStatus, int]]]: ...
    def reads(self) -> list[Tuple[BlockStatus, int]]: ...

class Client:
    def __init__(
        self,
        nodes: Sequence[Union[Tuple[str, str], Tuple[str, str, int]]],
        *,
        virtual_nodes: int = ...,
        replicas: int = ...,
        password: str = "",
        timeout_ms: int = ...,
        connect_timeout_ms: int = ...,
        connections_per_node: int = ...,
        backoff_initial_ms: int = ...,
        backoff_max_ms: int = ...,
        verify_checksums: bool = True,
        io_threads: int = 2,
        async_put_max_bytes: int = ...,
        async_put_max_calls: int = ...,
        tls: bool = False,
        tls_ca: str = "",
        tls_cert: str = "",
        tls_key: str = "",
        tls_server_name: str = "",
    ) -> None: ...
    @staticmethod
    def from_config(path: str) -> Client: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    def __enter__(self) -> Client: ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...
    def match(self, keys: Sequence[bytes], timeout_ms: int = 0) -> int: ...
    def get_prefix(self, keys: Sequence[bytes], buffers: Sequence[_Block], timeout_ms: int = 0) -> int: ...
    def get_into(
        self, keys: Sequence[bytes], buffers: Sequence[_Block], timeout_ms: int = 0
    ) -> list[Tuple[BlockStatus, int]]: ...
    def get_prefix_async(
        self, keys: Sequence[bytes], buffers: Sequence[_Block], timeout_ms: int = 0
    ) -> PendingRead: ...
    def get_into_async(
        self, keys: Sequence[bytes], buffers: Sequence[_Block], timeout_ms: int = 0
    ) -> PendingRead: ...
    def get_into_ptrs(
        self,
        keys: Sequence[bytes],
        ptrs: Sequence[_PtrBlock],
        sizes: Optional[Sequence[int]] = None,
        timeout_ms: int = 0,
    ) -> list[Tuple[BlockStatus, int]]: ...
    def get(self, keys: Sequence[bytes], timeout_ms: int = 0) -> list[Optional[bytes]]: ...
    def put(
        self,
        keys: Sequence[bytes],
        values: Sequence[_Block],
        depths: Optional[Sequence[int]] = None,
        start_depth: int = 0,
    ) -> Tuple[int, int]: ...
    def put_ptrs(
        self,
        keys: Sequence[bytes],
        ptrs: Sequence[_PtrBlock],
        sizes: Optional[Sequence[int]] = None,
        depths: Optional[Sequence[int]] = None,
        start_depth: int = 0,
    ) -> Tuple[int, int]: ...
    def put_async(
        self,
        keys: Sequence[bytes],
        values: Sequence[_Block],
        depths: Optional[Sequence[int]] = None,
        start_depth: int = 0,
    ) -> bool: ...
    def flush_async(self, timeout_ms: int) -> bool: ...
    def erase(self, keys: Sequence[bytes]) -> Tuple[int, int]: ...
    def stats(self) -> dict[str, Any]: ...
