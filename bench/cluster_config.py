#!/usr/bin/python3
"""Writes a config for a local test cluster: three nodes on free loopback ports (picked
when written), spill on, and client timeouts that find a returned node within a second.
Used by bench/node_failure.sh and scripts/soak.sh.

    bench/cluster_config.py OUT --memory 24MiB --spill 1GiB [--replicas 1] [--nodes 3]
"""
import argparse
import json
import socket


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--memory", required=True, help="each node's memory.capacity")
    parser.add_argument("--spill", required=True, help="each node's spill.capacity")
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--nodes", type=int, default=3)
    args = parser.parse_args()
    socks = [socket.socket() for _ in range(args.nodes)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    config = {
        "node": {"id": "n1"},
        "memory": {"capacity": args.memory},
        "spill": {"enabled": True, "capacity": args.spill},
        "cluster": {
            "nodes": [{"id": f"n{i + 1}", "address": f"127.0.0.1:{p}"}
                      for i, p in enumerate(ports)],
            "replicas": args.replicas,
        },
        # A returned node is found by the next probe within a second.
        "client": {"timeout_ms": 1000, "backoff_initial_ms": 100, "backoff_max_ms": 1000},
    }
    with open(args.out, "w") as f:
        json.dump(config, f, indent=2)


if __name__ == "__main__":
    main()
