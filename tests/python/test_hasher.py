"""prefixcache.Hasher computes exactly the keys of the C++ hasher (client_lib's hasher.h):
the test vector pinned in tests/client/hasher_test.cc, recomputed here through Python."""

import numpy as np
import pytest

import prefixcache


def namespace(block_size):
    # The namespace of tests/client/hasher_test.cc.
    return prefixcache.Namespace(
        model_id="meta-llama/Llama-3.1-8B-Instruct",
        model_revision="0e9e39f249a16976918f6564b8830bc894c89659",
        dtype="bfloat16", kv_layout="vllm/flash-attn/NHD", block_size_tokens=block_size)


def tokens(count):
    # Token ids spanning all four bytes, as the C++ test makes them.
    return [(i * 0x9E3779B9) & 0xFFFFFFFF for i in range(count)]


def test_the_cpp_test_vector():
    h16 = prefixcache.Hasher(namespace(16))
    assert h16.seed.hex() == "2e6cf879bf8d50db50020f790b71071f"
    assert [k.hex() for k in h16.keys(tokens(40))] == [
        "30dc319dc42fc34a029830e6922442b4", "462ebec8417e0db1e80b31d85b83b506"]
    h64 = prefixcache.Hasher(namespace(64))
    assert h64.seed.hex() == "db11b68738779968f446e9beaf936644"
    assert [k.hex() for k in h64.keys(tokens(130))] == [
        "182508c13aeff25ee379859c1fe12e43", "ee890363267bc0f706d646c45ae324ef"]


@pytest.mark.parametrize("dtype", [np.uint32, np.int64, np.uint64, np.int32])
def test_numpy_arrays_give_the_keys_of_lists(dtype):
    hasher = prefixcache.Hasher(namespace(16))
    ids = tokens(40)
    if np.iinfo(dtype).max < 0xFFFFFFFF:
        ids = [t & 0x7FFFFFFF for t in ids]
    assert hasher.keys(np.array(ids, dtype=dtype)) == hasher.keys(ids)


def test_next_chains_to_the_keys():
    hasher = prefixcache.Hasher(namespace(16))
    ids = tokens(48)
    prev = hasher.seed
    chained = []
    for i in range(3):
        prev = hasher.next(prev, ids[16 * i:16 * (i + 1)])
        chained.append(prev)
    assert chained == hasher.keys(ids)
    assert all(isinstance(k, bytes) and len(k) == 16 for k in chained)
    assert hasher.block_size == 16


def test_every_namespace_field_is_hashed():
    base = dict(model_id="m", model_revision="r", dtype="d", kv_layout="l", block_size_tokens=4)
    seeds = {prefixcache.Hasher(prefixcache.Namespace(**base)).seed}
    for field in ("model_id", "model_revision", "dtype", "kv_layout", "lora_adapter",
                  "tenant_salt"):
        seeds.add(prefixcache.Hasher(prefixcache.Namespace(**{**base, field: "x"})).seed)
    assert len(seeds) == 7
    assert prefixcache.Namespace(**base) == prefixcache.Namespace(**base)


def test_a_trailing_partial_block_is_not_hashed():
    hasher = prefixcache.Hasher(namespace(16))
    assert hasher.keys(tokens(31)) == hasher.keys(tokens(16))
    assert hasher.keys([]) == []


def test_misuse_raises_clear_errors():
    with pytest.raises(ValueError, match="block_size"):
        prefixcache.Hasher(prefixcache.Namespace(model_id="m", model_revision="r", dtype="d",
                                                 kv_layout="l", block_size_tokens=0))
    hasher = prefixcache.Hasher(namespace(16))
    with pytest.raises(ValueError, match="a block has 16"):
        hasher.next(hasher.seed, tokens(15))
    with pytest.raises(ValueError, match="16 contiguous bytes"):
        hasher.next(b"short", tokens(16))
    with pytest.raises(ValueError, match="not a token id"):
        hasher.keys([-1] * 16)
    with pytest.raises(ValueError, match="not a token id"):
        hasher.keys([2**32] * 16)
    with pytest.raises(TypeError, match="expected an int"):
        hasher.keys([1.5] * 16)
    with pytest.raises(TypeError, match="integer array"):
        hasher.keys(np.zeros(16, dtype=np.float32))
    with pytest.raises(ValueError, match="one-dimensional"):
        hasher.keys(np.zeros((2, 16), dtype=np.uint32))
    with pytest.raises(TypeError):
        hasher.keys("not tokens")
    with pytest.raises(TypeError):
        prefixcache.Namespace(model_id="m")


def test_key_of_names_a_block_by_bytes():
    # The KeyOf vector of tests/client/hasher_test.cc.
    hasher = prefixcache.Hasher(namespace(16))
    name = "3259e89487b828fc8dfb923321202a78f2c3675e1407816e28449036d693cc5c"
    assert hasher.key_of(name).hex() == "f78c3746cacf27a7b7839052e7c9f62b"
    assert hasher.key_of(name.encode()) == hasher.key_of(bytearray(name.encode())) == \
        hasher.key_of(name)
    assert hasher.key_of(name) != prefixcache.Hasher(namespace(64)).key_of(name)
    assert len(hasher.key_of("")) == 16
    with pytest.raises(TypeError, match="str or bytes"):
        hasher.key_of(12)
