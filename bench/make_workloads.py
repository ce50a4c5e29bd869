#!/usr/bin/python3
"""Writes synthetic request traces in the Mooncake JSONL format (see shared/data/README.md)
for judging eviction policies on workloads other than the two shared traces:

  chat.jsonl    multi-turn conversations whose history grows turn by turn, behind a few
                shared system prompts; users pause between turns.
  rag.jsonl     documents of popular and unpopular topics (Zipf) behind a shared system
                prompt, each followed by a one-off question.
  mixed.jsonl   chat and rag traffic interleaved with one-off long prompts (never reused).

Prompts are token sequences cut into 512-token blocks; a block's id is fixed by its own
tokens and its parent's id, as chained hashes are, so the last block is partial and only
ever shared by an identical prompt. Deterministic for a given --seed.

usage: make_workloads.py OUT_DIR [--seed N] [--scale X]
"""
import argparse
import heapq
import json
import math
import os
import random

BLOCK_TOKENS = 512


class BlockIds:
    """Interns (parent id, block content) to small integers, as the traces' hash_ids are."""

    def __init__(self):
        self.ids = {}

    def prompt(self, segments):
        """segments: [(segment id, tokens)]; returns (hash_ids, input_length)."""
        total = sum(n for _, n in segments)
        hash_ids, parent, content, filled = [], -1, [], 0
        for seg, n in segments:
            offset = 0
            while offset < n:
                take = min(n - offset, BLOCK_TOKENS - filled)
                content.append((seg, offset, take))
                offset += take
                filled += take
                if filled == BLOCK_TOKENS:
                    parent = self._intern(parent, content)
                    hash_ids.append(parent)
                    content, filled = [], 0
        if content:
            hash_ids.append(self._intern(parent, content))
        return hash_ids, total

    def _intern(self, parent, content):
        key = (parent, tuple(content))
        return self.ids.setdefault(key, len(self.ids))


class Segments:
    def __init__(self):
        self.next = 0

    def new(self, tokens):
        self.next += 1
        return (self.next, max(1, int(tokens)))


def lognormal(rng, mean, sigma=0.8):
    return rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)


def arrivals(rng, start_ms, end_ms, per_s):
    """The times of a Poisson process of rate per_s in [start_ms, end_ms)."""
    t = start_ms
    while True:
        t += rng.expovariate(per_s) * 1000
        if t >= end_ms:
            return
        yield t


def chat_requests(rng, segs, start_ms, end_ms, sessions_per_s, systems):
    """Sessions arrive as a Poisson process; each runs turns until the user leaves."""
    out = []
    for t in arrivals(rng, start_ms, end_ms, sessions_per_s):
        history = [rng.choice(systems), segs.new(lognormal(rng, 600))]
        at = t
        while at < end_ms:
            out.append((at, list(history)))
            if rng.random() < 0.3:  # the user leaves after this turn
                break
            history.append(segs.new(lognormal(rng, 350)))  # the model's answer
            history.append(segs.new(lognormal(rng, 150)))  # the next user message
            at += rng.expovariate(1 / 90.0) * 1000  # think time, mean 90 s
    return out


def rag_requests(rng, segs, start_ms, end_ms, per_s, system, documents):
    weights = [1.0 / (i + 1) for i in range(len(documents))]  # Zipf(1) popularity
    cumulative, acc = [], 0.0
    for w in weights:
        acc += w
        cumulative.append(acc)
    out = []
    for t in arrivals(rng, start_ms, end_ms, per_s):
        doc = documents[min(len(documents) - 1, bisect(cumulative, rng.random() * acc))]
        out.append((t, [system, doc, segs.new(lognormal(rng, 120))]))
    return out


def bisect(cumulative, x):
    lo, hi = 0, len(cumulative)
    while lo < hi:
        mid = (lo + hi) // 2
        if cumulative[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


def one_off_requests(rng, segs, start_ms, end_ms, per_s, system):
    return [(t, [system, segs.new(rng.uniform(8000, 60000))])
            for t in arrivals(rng, start_ms, end_ms, per_s)]


def write(path, requests):
    ids = BlockIds()
    requests.sort(key=lambda r: r[0])
    blocks = 0
    with open(path, "w") as f:
        for t, segments in requests:
            hash_ids, length = ids.prompt(segments)
            blocks += len(hash_ids)
            f.write(json.dumps({"timestamp": int(t), "input_length": length,
                                "output_length": 0, "hash_ids": hash_ids}) + "\n")
    print(f"{path}: {len(requests)} requests, {blocks} blocks, {len(ids.ids)} distinct")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the request rates")
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    hour = 3600 * 1000
    s = args.scale

    rng, segs = random.Random(args.seed), Segments()
    systems = [segs.new(n) for n in (300, 900, 1500, 2600)]
    write(os.path.join(args.out_dir, "chat.jsonl"),
          chat_requests(rng, segs, 0, hour, 0.8 * s, systems))

    rng, segs = random.Random(args.seed + 1), Segments()
    system = segs.new(1100)
    documents = [segs.new(rng.uniform(2000, 20000)) for _ in range(3000)]
    write(os.path.join(args.out_dir, "rag.jsonl"),
          rag_requests(rng, segs, 0, hour, 2.0 * s, system, documents))

    rng, segs = random.Random(args.seed + 2), Segments()
    systems = [segs.new(n) for n in (300, 900, 1500, 2600)]
    documents = [segs.new(rng.uniform(2000, 20000)) for _ in range(3000)]
    mixed = chat_requests(rng, segs, 0, hour, 0.5 * s, systems)
    mixed += rag_requests(rng, segs, 0, hour, 0.8 * s, systems[1], documents)
    mixed += one_off_requests(rng, segs, 0, hour, 0.4 * s, systems[0])
    write(os.path.join(args.out_dir, "mixed.jsonl"), mixed)


if __name__ == "__main__":
    main()
