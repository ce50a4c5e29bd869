"""Fixtures of the Python package's tests: real prefixcached daemons on loopback ports.

The ctest entries (tests/python/CMakeLists.txt) pass PREFIXCACHE_BIN_DIR (the built
daemon's folder) and put the built package on PYTHONPATH; a missing daemon or package is a
failure, never a skip.
"""

import json
import os
import signal
import socket
import subprocess
import threading

import pytest

BIN_DIR = os.environ.get("PREFIXCACHE_BIN_DIR", "")
START_TIMEOUT_S = 30


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    """One prefixcached child of a cluster config, on its own spill folder."""

    def __init__(self, config_path, node_id, address, spill_path):
        self.config_path = config_path
        self.node_id = node_id
        self.address = address
        self.spill_path = spill_path
        self.proc = None
        self.log = []

    def start(self):
        binary = os.path.join(BIN_DIR, "prefixcached")
        assert os.access(binary, os.X_OK), f"{binary} is missing (set PREFIXCACHE_BIN_DIR)"
        self.proc = subprocess.Popen(
            [binary, "--config", self.config_path, "--node-id", self.node_id,
             "--spill-path", self.spill_path, "--metrics-listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        ready = threading.Event()

        def drain():
            for line in self.proc.stdout:
                self.log.append(line)
                if line.startswith("prefixcached listening on"):
                    ready.set()
            ready.set()

        threading.Thread(target=drain, daemon=True).start()
        ready.wait(START_TIMEOUT_S)
        assert self.proc.poll() is None, f"{self.node_id} exited: {''.join(self.log)}"
        assert any(l.startswith("prefixcached listening on") for l in self.log), \
            f"{self.node_id} did not announce its address: {''.join(self.log)}"

    def kill(self):
        """SIGKILL, as a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


class Cluster:
    """`size` daemons of one JSON config (cluster.nodes n1..nN on free loopback ports);
    `settings` adds or replaces top-level sections of the config (e.g. "security")."""

    def __init__(self, folder, size, settings=None):
        self.nodes = [(f"n{i + 1}", f"127.0.0.1:{free_port()}") for i in range(size)]
        self.config_path = os.path.join(folder, "cluster.json")
        config = {
            "cluster": {"nodes": [{"id": i, "address": a} for i, a in self.nodes]},
            "memory": {"capacity": "64MiB"},
            **(settings or {}),
        }
        with open(self.config_path, "w") as f:
            json.dump(config, f)
        self.daemons = {i: Daemon(self.config_path, i, a, os.path.join(folder, i))
                        for i, a in self.nodes}
        for d in self.daemons.values():
            d.start()

    def stop(self):
        for d in self.daemons.values():
            d.stop()


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(str(tmp_path), 3)
    yield c
    c.stop()


@pytest.fixture
def client(cluster):
    import prefixcache
    # Short timeouts: a killed node is found out quickly.
    with prefixcache.Client(cluster.nodes, timeout_ms=2000, connect_timeout_ms=1000) as c:
        yield c
