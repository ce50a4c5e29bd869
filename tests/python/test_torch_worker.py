"""examples/python/torch_worker.py: the torch transformer's block tiles are row-independent
(in one process), and against a real 3-node cluster its cached runs fetch the shared blocks
and give the tokens and logits of the uncached runs bit for bit (across processes). Short
prompts; nothing is timed."""

import importlib.util
import json
import os
import subprocess
import sys

import torch

import prefixcache

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples",
                      "python", "torch_worker.py")
# A small model for the tests that do not need the default shape.
SMALL = ["--layers", "2", "--dim", "64", "--heads", "4", "--hidden", "96", "--vocab", "500"]


def load_worker():
    assert os.path.isfile(WORKER), f"{WORKER} is missing"
    spec = importlib.util.spec_from_file_location("torch_worker", WORKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_worker(args):
    proc = subprocess.run([sys.executable, WORKER] + args, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=600)
    return proc.returncode, proc.stdout, proc.stderr


def test_tiles_are_row_independent():
    tw = load_worker()
    torch.set_num_threads(1)
    config = tw.Config(layers=2, dim=32, heads=4, hidden=48, vocab=101, block_tokens=8)
    tokens = tw.random_tokens(3, 37, config.vocab)
    with torch.inference_mode():
        model = tw.Transformer(config, tokens.numel() + 3)
        model.prefill(tokens, 0)
        logits = [model.logits.clone()]
        for i in range(3):
            model.step(7 + i, tokens.numel() + i)
            logits.append(model.logits.clone())
        kv = model.kv.clone()
        first_blocks = [page.clone() for block in range(2) for page in model.block_parts(block)]

        # The first two blocks as if fetched (written into their pages), the rest computed.
        model.clear_cache()
        pages = [page for block in range(2) for page in model.block_parts(block)]
        for page, saved in zip(pages, first_blocks):
            page.copy_(saved)
        model.prefill(tokens, 2 * config.block_tokens)
        assert tw.same_bits(model.logits, logits[0])
        for i in range(3):
            model.step(7 + i, tokens.numel() + i)
            assert tw.same_bits(model.logits, logits[i + 1])
        assert tw.same_bits(model.kv, kv)


def test_block_parts_are_the_payload_layout():
    tw = load_worker()
    config = tw.Config(layers=3, dim=8, heads=2, hidden=8, vocab=10, block_tokens=4)
    model = tw.Transformer(config, 10)
    parts = model.block_parts(1)
    assert len(parts) == 2 * config.layers
    assert all(p.is_contiguous() for p in parts)
    assert sum(p.element_size() * p.numel() for p in parts) == config.block_bytes
    # Layer 1's V page of block 1 holds positions 4..7 of layer 1's V.
    parts[3].fill_(5.0)
    assert torch.all(model.kv[1, 1].view(model.capacity, -1)[4:8] == 5.0)
    assert torch.count_nonzero(model.kv) == parts[3].numel()


def test_demo_caches_the_shared_blocks_and_output_is_identical(cluster):
    # The default model shape, 32-token blocks (1 MiB each), a 300-token prompt.
    code, out, err = run_worker(["--config", cluster.config_path, "--prompt-tokens", "300",
                                 "--shared", "0,0.9", "--decode", "4", "--repeat", "1",
                                 "--block-tokens", "32"])
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["shared"] for line in lines] == [0, 0.9]
    block_bytes = 8 * 2 * 32 * 512 * 4
    for line, cached_blocks in zip(lines, [0, 8]):  # 0.9 x 300 -> 270 -> 8 whole blocks
        assert line["prompt_tokens"] == 300
        assert line["cached_tokens"] == cached_blocks * 32
        assert line["fetched_bytes"] == cached_blocks * block_bytes
        assert line["tokens_identical"] and line["logits_identical"]
        assert line["max_logit_diff"] == 0.0


def test_a_missing_middle_block_reuses_only_the_blocks_before_it(cluster, tmp_path):
    tw = load_worker()
    config = tw.Config(layers=2, dim=64, heads=4, hidden=96, vocab=500, block_tokens=16)
    tokens = tw.random_tokens(11, 100, config.vocab)  # 6 full blocks and 4 tokens
    prompt = str(tmp_path / "prompt.tokens")
    tw.write_tokens(prompt, tokens)
    flags = ["--config", cluster.config_path, "--prompt", prompt, "--block-tokens", "16",
             "--decode", "3"] + SMALL

    code, out, err = run_worker(["--mode", "store"] + flags)
    assert code == 0, err
    assert json.loads(out)["stored"] == 6
    keys = prefixcache.Hasher(tw.namespace(config)).keys(tokens.tolist())
    with prefixcache.Client(cluster.nodes) as client:
        assert client.match(keys) == 6
        assert client.erase([keys[3]]) == (1, 0)

    code, out, err = run_worker(["--mode", "compare"] + flags)
    assert code == 0, err
    line = json.loads(out)
    assert line["cached_tokens"] == 3 * 16
    assert line["computed_blocks"] == 3
    assert line["stored_blocks"] == 3  # the cached run stores what it computed
    assert line["tokens_identical"] and line["logits_identical"]
    with prefixcache.Client(cluster.nodes) as client:
        assert client.match(keys) == 6


def test_keys_are_not_the_cpp_workers():
    tw = load_worker()
    ns = tw.namespace(tw.Config())
    assert ns.model_id == "demo-torch-v1"
    assert ns.block_size_tokens == 64 and ns.dtype == "float32"
