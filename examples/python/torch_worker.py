#!/usr/bin/python3
"""torch_worker: time to first token with and without prefixcache, on a small transformer in
torch (Debian's python3-torch, CPU), in processes that share nothing but the cluster. The
Python twin of examples/transformer (ttft_demo and transformer_worker): same model shape,
same JSON lines, its own keys (model_id demo-torch-v1, never shared with demo-cpp-v1).

The model, nanoGPT-style and read top to bottom: token embedding, then per layer RMSNorm,
multi-head attention with rotary positions (pairs 2i, 2i + 1 of each head rotated by
pos x 10000^(-2i / head_dim)), a residual, RMSNorm, a SwiGLU MLP, a residual; a final
RMSNorm and the logits of the last position only; greedy decode. fp32, every weight drawn
uniform from a torch.Generator seeded with --seed (no downloads). Default size: 8 layers,
width 512, 8 heads of 64, SwiGLU hidden 1,408, vocabulary 32,000.

The KV cache, paged by block: one tensor kv[layer][K|V][block][token][head][dim] (K after
the rotary embedding). A layer's K (or V) for every position is the contiguous view
kv[l, 0] as [position][head][dim]; the page of block b for layer l is kv[l, 0, b] (K) and
kv[l, 1, b] (V), each contiguous. A block's payload in prefixcache is its 2 x layers pages
in the order [layer][K|V][token][head][dim]; get_prefix gets that list of parts as the
block's destination and the client writes the fetched bytes straight into the pages (no
staging copy); put_async reads the same list.

Row independence: prefill runs one block-aligned tile at a time (the rows of one block),
and a tile's results depend only on its tokens and the K/V of the positions before it,
with the same tensor shapes whichever earlier blocks were fetched rather than computed.
With a fixed number of torch threads, a run that starts from fetched blocks performs
exactly the operations of a run that computes everything for every block it computes:
K/V, logits and tokens come out bit-identical (tests/python/test_torch_worker.py checks
it in one process and across processes).

Modes:
  (default)        the demo: for each --shared fraction (rounded down to whole blocks) and
                   each repeat, a writer process (this file, --mode store) computes and
                   stores a prompt, then a reader process (--mode compare) runs a prompt
                   sharing that fraction of its tokens without the cache and with it; both
                   prompts' blocks are then erased and every repeat draws fresh tokens. One
                   JSON line per fraction, medians over the repeats (max_logit_diff: the
                   largest over the repeats). Exit 1 when a worker failed or any output
                   differed.
  --mode store     computes --prompt (no cache read), stores every full block (put_async,
                   flush_async) and prints {"blocks": N, "stored": S, "ttft_ms": t}; exit 1
                   unless every block was stored.
  --mode compare   runs --prompt without the cache, then with it (get_prefix into the KV
                   cache, prefill of the rest, put_async of what it computed), decodes
                   --decode tokens in both and prints one JSON line; exit 1 when the
                   generated tokens or any step's logits differ in a single bit.

  /usr/bin/python3 examples/python/torch_worker.py --config FILE [--prompt-tokens 4096]
      [--shared 0,0.5,0.9,0.99] [--decode 16] [--repeat 5] [--block-tokens 64]
      [--threads 1] [--layers 8 --dim 512 --heads 8 --hidden 1408 --vocab 32000 --seed 1]

The cluster of --config must be running. The package prefixcache must be importable (the
build puts it in build/python: PYTHONPATH=build/python). Exit 2 for a bad command line.
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

import prefixcache

MODEL_ID = "demo-torch-v1"


@dataclass
class Config:
    layers: int = 8
    dim: int = 512  # model width = heads x head_dim
    heads: int = 8
    hidden: int = 1408  # SwiGLU hidden width
    vocab: int = 32000
    block_tokens: int = 64  # tokens per cached block (and per prefill tile)
    seed: int = 1  # all weights are drawn from it

    @property
    def head_dim(self):
        return self.dim // self.heads

    @property
    def block_bytes(self):
        """Bytes of one block's payload: layers x 2 x block_tokens x dim floats."""
        return self.layers * 2 * self.block_tokens * self.dim * 4


def namespace(config):
    """The namespace of this implementation's KV bytes: its model_id, the seed as the
    revision, the sizes and the block layout."""
    c = config
    layout = (f"layers={c.layers},dim={c.dim},heads={c.heads},hidden={c.hidden},"
              f"vocab={c.vocab},[layer][K|V][token][head][dim]")
    return prefixcache.Namespace(model_id=MODEL_ID, model_revision=f"seed={c.seed}",
                                 dtype="float32", kv_layout=layout,
                                 block_size_tokens=c.block_tokens)


# ---------------------------------------------------------------------------------------
# The model


def rmsnorm(x, weight, eps=1e-5):
    return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rope(x, cos, sin):
    """Rotates the pairs (2i, 2i + 1) of each head: x [rows][heads][head_dim], cos and sin
    [rows][1][head_dim / 2] (the rows' positions)."""
    pairs = x.unflatten(-1, (-1, 2))
    a, b = pairs[..., 0], pairs[..., 1]
    return torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).flatten(-2)


class Layer:
    def __init__(self, config, draw):
        d, h = config.dim, config.hidden
        self.rms_att = torch.ones(d)
        self.rms_ffn = torch.ones(d)
        # Row-major [out][in], so y = x W^T (F.linear).
        self.wq, self.wk, self.wv, self.wo = (draw((d, d), d) for _ in range(4))
        self.w1, self.w3 = draw((h, d), d), draw((h, d), d)  # gate, up
        self.w2 = draw((d, h), h)  # down


class Transformer:
    """The weights, the rotary tables and the paged KV cache of `capacity_tokens` positions
    (rounded up to whole blocks). Not thread-safe: one thread drives it."""

    def __init__(self, config, capacity_tokens):
        c = self.config = config
        assert c.dim % c.heads == 0 and c.head_dim % 2 == 0, "dim = heads x an even head size"
        g = torch.Generator().manual_seed(c.seed)

        def draw(shape, fan_in):
            scale = 1.0 / math.sqrt(fan_in)
            return torch.empty(shape).uniform_(-scale, scale, generator=g)

        self.token_embedding = torch.empty(c.vocab, c.dim).uniform_(-1.0, 1.0, generator=g)
        self.layers = [Layer(c, draw) for _ in range(c.layers)]
        self.rms_final = torch.ones(c.dim)
        self.wcls = draw((c.vocab, c.dim), c.dim)

        self.blocks = -(-capacity_tokens // c.block_tokens)
        self.capacity = self.blocks * c.block_tokens
        half = c.head_dim // 2
        freqs = torch.pow(10000.0, -2.0 * torch.arange(half, dtype=torch.float64) / c.head_dim)
        angles = torch.outer(torch.arange(self.capacity, dtype=torch.float64), freqs)
        self.rope_cos = angles.cos().float().unsqueeze(1)  # [position][1][half]
        self.rope_sin = angles.sin().float().unsqueeze(1)
        # zeros() touches every page before any clock starts.
        self.kv = torch.zeros(c.layers, 2, self.blocks, c.block_tokens, c.heads, c.head_dim)
        self.logits = None

    def block_parts(self, block):
        """Block `block`'s payload as its 2 x layers pages, in payload order [layer][K|V]:
        contiguous views of the KV cache, valid as long as the model."""
        return [self.kv[l, kv, block] for l in range(self.config.layers) for kv in (0, 1)]

    def clear_cache(self):
        self.kv.zero_()

    def forward(self, tokens, pos0):
        """One tile: the tokens at positions pos0 .. pos0 + len(tokens), all within one
        block. Writes their K/V into the cache and returns the final hidden state of each
        row."""
        c = self.config
        rows = tokens.numel()
        n_keys = pos0 + rows  # row r attends to the first pos0 + r + 1 of these keys
        cos, sin = self.rope_cos[pos0:n_keys], self.rope_sin[pos0:n_keys]
        causal = (torch.arange(n_keys).unsqueeze(0) >
                  torch.arange(pos0, n_keys).unsqueeze(1))  # [rows][n_keys]: True = masked
        x = self.token_embedding[tokens]  # [rows][dim]
        for l, w in enumerate(self.layers):
            keys = self.kv[l, 0].view(self.capacity, c.heads, c.head_dim)
            values = self.kv[l, 1].view(self.capacity, c.heads, c.head_dim)

            # Attention: q, k, v of the tile's rows, rotary positions on q and k; the
            # tile's K and V go into the cache, then every head attends to all n_keys.
            xb = rmsnorm(x, w.rms_att)
            q = rope(F.linear(xb, w.wq).view(rows, c.heads, c.head_dim), cos, sin)
            keys[pos0:n_keys] = rope(F.linear(xb, w.wk).view(rows, c.heads, c.head_dim),
                                     cos, sin)
            values[pos0:n_keys] = F.linear(xb, w.wv).view(rows, c.heads, c.head_dim)
            scores = torch.matmul(q.transpose(0, 1), keys[:n_keys].permute(1, 2, 0))
            scores = (scores / math.sqrt(c.head_dim)).masked_fill(causal, float("-inf"))
            att = torch.matmul(scores.softmax(dim=-1), values[:n_keys].transpose(0, 1))
            x = x + F.linear(att.transpose(0, 1).reshape(rows, c.dim), w.wo)

            # SwiGLU MLP: x += w2 (silu(w1 x) * (w3 x)).
            xb = rmsnorm(x, w.rms_ffn)
            x = x + F.linear(F.silu(F.linear(xb, w.w1)) * F.linear(xb, w.w3), w.w2)
        return x

    def prefill(self, tokens, begin):
        """Computes K/V for positions [begin, len(tokens)) tile by tile, reading the K/V of
        positions < begin from the cache (computed or fetched), and the logits of the last
        position. REQUIRES: begin a multiple of block_tokens, begin < len(tokens) <=
        capacity."""
        b = self.config.block_tokens
        assert begin % b == 0 and begin < tokens.numel() <= self.capacity
        for pos in range(begin, tokens.numel(), b):
            x = self.forward(tokens[pos:pos + b], pos)
        self._logits(x[-1])

    def step(self, token, pos):
        """Processes one token at position `pos` and computes its logits."""
        self._logits(self.forward(torch.tensor([token]), pos)[-1])

    def _logits(self, last):
        self.logits = F.linear(rmsnorm(last, self.rms_final), self.wcls)

    def argmax(self):
        """The greedy choice: the index of the largest logit (the first among equals)."""
        return int(torch.argmax(self.logits))


# ---------------------------------------------------------------------------------------
# The worker's loop around the model


@dataclass
class RunOutcome:
    generated: list = field(default_factory=list)  # the first token, then decoded ones
    logits: list = field(default_factory=list)  # every step's logits
    cached_tokens: int = 0  # tokens whose K/V were fetched, not computed
    fetched_bytes: int = 0  # payload bytes fetched into the KV cache
    computed_blocks: int = 0  # full blocks computed (and handed to put_async)
    put_queued: bool = True  # put_async accepted every computed block
    ttft_ms: float = 0.0  # tokens handed over -> first token chosen
    fetch_ms: float = 0.0  # get_prefix
    suffix_compute_ms: float = 0.0  # prefill of the rest and the first token's logits


def ms_since(start):
    return (time.perf_counter() - start) * 1000.0


def run_prompt(model, client, hasher, tokens, decode, use):
    """Runs `tokens` (a 1-D int64 tensor, at least one token) and decodes `decode` more.
    use: "none" computes everything and stores nothing; "store" computes everything and
    stores every full block; "fetch" fetches the leading cached blocks (all but the block
    holding the last token, whose logits must be computed), computes and stores the rest.
    Stores are put_async calls queued after the first token (the caller flushes)."""
    block = model.config.block_tokens
    model.clear_cache()
    # The pages as destinations and sources, set up before the clock as an engine
    # registers its pages once.
    full_blocks = tokens.numel() // block
    pages = [model.block_parts(i) for i in range(full_blocks)]
    token_list = tokens.tolist()

    out = RunOutcome()
    start = time.perf_counter()  # the tokens are handed over
    hits = 0
    keys = hasher.keys(token_list) if use != "none" else []
    if use == "fetch":
        lookup = min(len(keys), (tokens.numel() - 1) // block)
        fetch_start = time.perf_counter()
        hits = client.get_prefix(keys[:lookup], pages[:lookup])
        out.fetch_ms = ms_since(fetch_start)
    out.cached_tokens = hits * block
    out.fetched_bytes = hits * model.config.block_bytes
    compute_start = time.perf_counter()
    model.prefill(tokens, out.cached_tokens)
    out.generated.append(model.argmax())
    out.ttft_ms = ms_since(start)
    out.suffix_compute_ms = ms_since(compute_start)
    out.logits.append(model.logits)

    out.computed_blocks = full_blocks - hits
    if use != "none" and out.computed_blocks > 0:
        out.put_queued = client.put_async(keys[hits:full_blocks], pages[hits:full_blocks],
                                          start_depth=hits)
    for i in range(decode):
        model.step(out.generated[-1], tokens.numel() + i)
        out.generated.append(model.argmax())
        out.logits.append(model.logits)
    return out


def warm_up(client):
    """One read of a few random keys that reaches every node, to open connections before
    any clock starts (as an engine does at start-up)."""
    g = torch.Generator().manual_seed(0x5EED)
    client.get([bytes(torch.randint(0, 256, (16,), generator=g, dtype=torch.uint8).tolist())
                for _ in range(256)])


def random_tokens(seed, count, vocab):
    """`count` tokens below `vocab` drawn from `seed` (deterministic)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, (count,), generator=g, dtype=torch.int64)


def read_tokens(path):
    with open(path) as f:
        return torch.tensor([int(t) for t in f.read().split()], dtype=torch.int64)


def write_tokens(path, tokens):
    with open(path, "w") as f:
        f.write("\n".join(str(t) for t in tokens.tolist()) + "\n")


def same_bits(a, b):
    return a.shape == b.shape and torch.equal(a.view(torch.int32), b.view(torch.int32))


def worker_main(args, config):
    """--mode store or compare: one worker process."""
    tokens = read_tokens(args.prompt)
    if tokens.numel() == 0 or int(tokens.max()) >= config.vocab or int(tokens.min()) < 0:
        print(f"torch_worker: {args.prompt}: no tokens, or a token outside the vocabulary",
              file=sys.stderr)
        return 2
    client = prefixcache.Client.from_config(args.config)
    hasher = prefixcache.Hasher(namespace(config))
    # Start-up, before any clock: connections, weights, the KV cache, torch's kernels and
    # buffers (one tile computed and thrown away).
    warm_up(client)
    model = Transformer(config, tokens.numel() + args.decode)
    model.prefill(tokens[:min(tokens.numel(), config.block_tokens)], 0)

    if args.mode == "store":
        run = run_prompt(model, client, hasher, tokens, 0, "store")
        flushed = client.flush_async(120000)
        stats = client.stats()
        print(json.dumps({"blocks": run.computed_blocks, "stored": stats["blocks_stored"],
                          "ttft_ms": round(run.ttft_ms, 3)}))
        client.close()
        stored_all = (run.put_queued and flushed and stats["blocks_not_stored"] == 0
                      and stats["blocks_stored"] == run.computed_blocks)
        return 0 if stored_all else 1

    uncached = run_prompt(model, client, hasher, tokens, args.decode, "none")
    cached = run_prompt(model, client, hasher, tokens, args.decode, "fetch")
    flushed = client.flush_async(120000)
    stats = client.stats()
    client.close()
    a, b = torch.stack(uncached.logits), torch.stack(cached.logits)
    tokens_identical = uncached.generated == cached.generated
    logits_identical = same_bits(a, b)
    print(json.dumps({
        "prompt_tokens": tokens.numel(), "cached_tokens": cached.cached_tokens,
        "ttft_ms_uncached": round(uncached.ttft_ms, 3),
        "ttft_ms_cached": round(cached.ttft_ms, 3), "fetch_ms": round(cached.fetch_ms, 3),
        "fetched_bytes": cached.fetched_bytes,
        "suffix_compute_ms": round(cached.suffix_compute_ms, 3),
        "computed_blocks": cached.computed_blocks, "stored_blocks": stats["blocks_stored"],
        "checksum_failures": stats["checksum_failures"], "first_token": cached.generated[0],
        "tokens_identical": tokens_identical, "logits_identical": logits_identical,
        "max_logit_diff": float((a - b).abs().max())}))
    if not (cached.put_queued and flushed):
        print("torch_worker: computed blocks were not all handed over", file=sys.stderr)
    return 0 if tokens_identical and logits_identical else 1


# ---------------------------------------------------------------------------------------
# The demo: writer and reader processes


def run_child(argv):
    """Runs argv to completion; returns (exit code, stdout). Its stderr goes to ours."""
    proc = subprocess.run(argv, stdout=subprocess.PIPE, text=True)
    return proc.returncode, proc.stdout


def demo_main(args, config):
    fractions = []
    for item in args.shared.split(","):
        try:
            f = float(item)
        except ValueError:
            f = -1.0
        if not 0.0 <= f <= 1.0:
            print(f"torch_worker: --shared: expected fractions in [0, 1], got '{item}'",
                  file=sys.stderr)
            return 2
        fractions.append(f)
    hasher = prefixcache.Hasher(namespace(config))
    model_flags = [
        "--config", args.config, "--decode", str(args.decode),
        "--block-tokens", str(config.block_tokens), "--layers", str(config.layers),
        "--dim", str(config.dim), "--heads", str(config.heads), "--hidden", str(config.hidden),
        "--vocab", str(config.vocab), "--seed", str(config.seed), "--threads", str(args.threads)]

    def worker(mode, prompt):
        return [sys.executable, os.path.abspath(__file__), "--mode", mode, "--prompt",
                prompt] + model_flags

    block, n = config.block_tokens, args.prompt_tokens
    with tempfile.TemporaryDirectory(prefix="torch_worker.") as folder:
        writer_file = os.path.join(folder, "writer.tokens")
        reader_file = os.path.join(folder, "reader.tokens")
        for fi, f in enumerate(fractions):
            shared = int(f * n) // block * block
            lines = []
            for r in range(args.repeat):
                seed = (fi + 1) * 1000003 + r * 7919
                prefix = random_tokens(seed, shared, config.vocab)
                writer_prompt = torch.cat((prefix, random_tokens(seed + 1, n - shared,
                                                                 config.vocab)))
                reader_prompt = torch.cat((prefix, random_tokens(seed + 2, n - shared,
                                                                 config.vocab)))
                write_tokens(writer_file, writer_prompt)
                write_tokens(reader_file, reader_prompt)
                if shared > 0:
                    code, out = run_child(worker("store", writer_file))
                    if code != 0:
                        print(f"torch_worker: the writer did not store every block: {out}",
                              file=sys.stderr)
                        return 1
                code, out = run_child(worker("compare", reader_file))
                # Both prompts' blocks go, so the next repeat starts from an empty cluster.
                with prefixcache.Client.from_config(args.config) as client:
                    client.erase(hasher.keys(writer_prompt.tolist()))
                    client.erase(hasher.keys(reader_prompt.tolist()))
                try:
                    line = json.loads(out)
                except ValueError:
                    line = None
                if code not in (0, 1) or not isinstance(line, dict):
                    print(f"torch_worker: the worker failed (exit {code}): {out}",
                          file=sys.stderr)
                    return 1
                print(f"shared {f:.2f} repeat {r + 1}: {out}", end="", file=sys.stderr)
                lines.append(line)

            def median(name):
                return statistics.median(line[name] for line in lines)

            summary = {
                "shared": f, "prompt_tokens": n, "cached_tokens": int(median("cached_tokens")),
                "ttft_ms_uncached": median("ttft_ms_uncached"),
                "ttft_ms_cached": median("ttft_ms_cached"),
                "speedup": median("ttft_ms_uncached") / median("ttft_ms_cached"),
                "fetch_ms": median("fetch_ms"), "fetched_bytes": int(median("fetched_bytes")),
                "suffix_compute_ms": median("suffix_compute_ms"),
                "tokens_identical": all(line["tokens_identical"] for line in lines),
                "logits_identical": all(line["logits_identical"] for line in lines),
                "max_logit_diff": max(line["max_logit_diff"] for line in lines)}
            print(json.dumps(summary), flush=True)
            if not (summary["tokens_identical"] and summary["logits_identical"]):
                return 1
    return 0


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True, help="the cluster's config file")
    p.add_argument("--mode", choices=["demo", "store", "compare"], default="demo")
    p.add_argument("--prompt", help="store and compare: the prompt file (decimal token ids)")
    p.add_argument("--prompt-tokens", type=int, default=4096)
    p.add_argument("--shared", default="0,0.5,0.9,0.99", help="shared fractions, comma-separated")
    p.add_argument("--decode", type=int, default=16, help="tokens decoded after the first")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--block-tokens", type=int, default=Config.block_tokens)
    p.add_argument("--threads", type=int, default=1, help="torch threads of each worker")
    p.add_argument("--layers", type=int, default=Config.layers)
    p.add_argument("--dim", type=int, default=Config.dim)
    p.add_argument("--heads", type=int, default=Config.heads)
    p.add_argument("--hidden", type=int, default=Config.hidden)
    p.add_argument("--vocab", type=int, default=Config.vocab)
    p.add_argument("--seed", type=int, default=Config.seed)
    args = p.parse_args(argv)
    checks = [(args.prompt_tokens >= 2, "--prompt-tokens must be at least 2"),
              (args.decode >= 0, "--decode must be >= 0"),
              (args.repeat >= 1, "--repeat must be >= 1"),
              (min(args.block_tokens, args.threads, args.layers, args.heads, args.hidden,
                   args.vocab) >= 1, "sizes and --threads must be >= 1"),
              (args.dim % args.heads == 0 and (args.dim // args.heads) % 2 == 0,
               "--dim must be --heads times an even head size"),
              (args.mode == "demo" or args.prompt, "--mode store|compare needs --prompt")]
    for ok, message in checks:
        if not ok:
            p.error(message)  # exit 2
    return args


def main(argv):
    args = parse_args(argv)
    config = Config(layers=args.layers, dim=args.dim, heads=args.heads, hidden=args.hidden,
                    vocab=args.vocab, block_tokens=args.block_tokens, seed=args.seed)
    # A fixed thread count fixes how each kernel splits its work, so the same shapes give
    # the same bits in every process.
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    with torch.inference_mode():
        if args.mode == "demo":
            return demo_main(args, config)
        return worker_main(args, config)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
