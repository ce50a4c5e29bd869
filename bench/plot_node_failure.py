#!/usr/bin/python3
"""Summarises and draws bench/node_failure.sh's runs: windowed hit ratio through a node
failure (R=1 and R=2 against the R=1 run without one) and the memory the cluster holds.
Prints one JSON object: per run, the mean windowed hit ratio just before the kill, late in
the outage and after the restart (each also relative to before the kill and to the same
windows of the reference run), the lowest window after the restart, errors, and memory.
Draws OUT.png when given (needs matplotlib: Debian python3-matplotlib).

usage: plot_node_failure.py EVENTS.jsonl RESULTS_DIR [OUT.png]
"""
import json
import os
import sys

LATE = 4  # windows counted as "just before the kill" and "late in the outage"


def load(results_dir, name):
    windows, run = [], None
    with open(os.path.join(results_dir, f"node_failure_{name}.jsonl")) as f:
        for line in f:
            doc = json.loads(line)
            if "window" in doc:
                windows.append(doc)
            elif "trace" in doc:
                run = doc
    return windows, run


def mean(values):
    return sum(values) / len(values) if values else 0.0


def ratio(windows, first, last):
    return mean([w["hit_ratio"] for w in windows[max(0, first):max(0, last)]])


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    events = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    results_dir = sys.argv[2]
    runs = {e["run"]: (e, *load(results_dir, e["run"])) for e in events}
    failed = [e for e in events if e["kill_after_window"] >= 0]
    reference = runs.get("baseline", (None, [], None))[1]
    summary = {}
    for event in failed:
        _, windows, run = runs[event["run"]]
        k, r = event["kill_after_window"], event["restart_after_window"]
        before = ratio(windows, k - LATE, k)
        late = ratio(windows, r - LATE, r)
        after = ratio(windows, r, len(windows))
        ref = {"before": ratio(reference, k - LATE, k), "late_outage": ratio(reference, r - LATE, r),
               "after_restart": ratio(reference, r, len(reference))}
        summary[event["run"]] = {
            "replicas": event["replicas"],
            "kill_after_window": k,
            "restart_after_window": r,
            "before": round(before, 4),
            "late_outage": round(late, 4),
            "after_restart": round(after, 4),
            "late_outage_vs_before": round(late / before, 3) if before else None,
            "after_restart_vs_before": round(after / before, 3) if before else None,
            "late_outage_vs_reference": round(late / ref["late_outage"], 3)
            if ref["late_outage"] else None,
            "after_restart_vs_reference": round(after / ref["after_restart"], 3)
            if ref["after_restart"] else None,
            "lowest_window_after_restart": round(min(w["hit_ratio"] for w in windows[r:]), 4)
            if windows[r:] else None,
            "errors": sum(w["errors"] for w in windows),
            "unavailable_keys": sum(w["unavailable"] for w in windows),
            "blocks_not_stored": sum(w["not_stored"] for w in windows),
            "peak_memory_mib": round(max(w["memory_bytes"] for w in windows) / 2**20, 1),
            "hit_ratio": run["hit_ratio"] if run else None,
        }
    if reference:
        _, _, run = runs["baseline"]
        summary["baseline"] = {
            "replicas": 1,
            "hit_ratio": run["hit_ratio"] if run else None,
            "errors": sum(w["errors"] for w in reference),
            "peak_memory_mib": round(max(w["memory_bytes"] for w in reference) / 2**20, 1),
        }
    print(json.dumps(summary, indent=2))
    if len(sys.argv) == 4:
        draw(runs, failed, sys.argv[3])


def draw(runs, failed, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    style = {"baseline": ("R=1, no failure", "tab:gray", "--"),
             "r1": ("R=1, n2 killed", "tab:blue", "-"),
             "r2": ("R=2, n2 killed", "tab:orange", "-")}
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 2]})
    for name, (_, windows, _) in runs.items():
        label, colour, line = style.get(name, (name, None, "-"))
        xs = [w["window"] for w in windows]
        top.plot(xs, [w["hit_ratio"] for w in windows], line, color=colour, label=label)
        bottom.plot(xs, [w["memory_bytes"] / 2**20 for w in windows], line, color=colour,
                    label=label)
    if failed:
        k, r = failed[0]["kill_after_window"], failed[0]["restart_after_window"]
        for axis in (top, bottom):
            axis.axvspan(k, r, color="tab:red", alpha=0.08)
        top.annotate("SIGKILL n2", (k, 0.02), fontsize=8)
        top.annotate("restart on spill", (r, 0.02), fontsize=8)
    top.set_ylabel("hit ratio per window")
    top.set_ylim(bottom=0)
    top.legend(loc="lower right", fontsize=8)
    top.set_title("Mooncake conversation trace on 3 nodes: a node killed and restarted")
    bottom.set_ylabel("memory tiers, MiB")
    bottom.set_xlabel("window (requests in trace order)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
