#!/usr/bin/python3
"""Draws hit ratio against memory capacity, one panel per trace, one line per eviction
policy, Belady's offline optimum as the dashed reference, from trace_replay's JSON lines
(bench/hit_rate_sweep.sh). Needs matplotlib (Debian: python3-matplotlib).

usage: plot_hit_rate.py RESULTS.jsonl OUT.png
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STYLE = {  # policy: (label, colour, line style, line width); lru is drawn wide, as prefix
    # often lies on it
    "lru": ("lru", "tab:blue", "-", 4),
    "prefix": ("prefix", "tab:orange", "-", 1.5),
    "tiered": ("tiered (default)", "tab:green", "-", 2),
    "lru-dead-oracle": ("LRU told which blocks are dead (offline)", "tab:gray", ":", 1.5),
    "belady": ("Belady (offline optimum)", "black", "--", 1.5),
}
TITLES = {
    "mooncake_conversation_trace.jsonl": "Mooncake conversation",
    "mooncake_synthetic_trace.jsonl": "Mooncake synthetic",
    "chat.jsonl": "generated: multi-turn chat",
    "rag.jsonl": "generated: RAG documents",
    "mixed.jsonl": "generated: chat + RAG + one-off prompts",
}


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    runs = [json.loads(line) for line in open(sys.argv[1]) if line.startswith('{"trace"')]
    traces = list(dict.fromkeys(r["trace"] for r in runs))
    columns = min(3, len(traces))
    rows = (len(traces) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.8 * rows), squeeze=False)
    for ax, trace in zip(axes.flat, traces):
        for policy, (label, colour, style, width) in STYLE.items():
            points = sorted((r["capacity_fraction"], r["hit_ratio"]) for r in runs
                            if r["trace"] == trace and r["resolved_policy"] == policy)
            if points:
                ax.plot([100 * x for x, _ in points], [y for _, y in points], style,
                        color=colour, linewidth=width, alpha=0.5 if width > 3 else 1.0,
                        marker="o", markersize=3, label=label)
        ax.set_title(TITLES.get(trace, trace), fontsize=10)
        ax.set_xlabel("memory capacity (% of distinct blocks)")
        ax.set_ylabel("hit ratio (blocks)")
        ax.set_xscale("log")
        ax.set_xticks([2, 5, 10, 20])
        ax.set_xticklabels(["2", "5", "10", "20"])
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[len(traces):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
