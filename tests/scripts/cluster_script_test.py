"""scripts/cluster.sh against real prefixcached daemons: start, status, kill, restart and stop
of a 3-node cluster on free loopback ports, and its usage errors.

    /usr/bin/python3 cluster_script_test.py --bin-dir BUILD/bin
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts",
                      "cluster.sh")
BIN_DIR = None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resp(port, *args):
    """Sends one command and returns the first reply line."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        cmd = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
        sock.sendall(cmd)
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        return data.split(b"\r\n")[0]


class ClusterScriptTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.ports = [free_port() for _ in range(3)]
        config = {
            "cluster": {"nodes": [{"id": f"n{i + 1}", "address": f"127.0.0.1:{p}"}
                                  for i, p in enumerate(self.ports)]},
            "memory": {"capacity": "64MiB"},
        }
        self.config = os.path.join(self.tmp.name, "cluster.json")
        with open(self.config, "w") as f:
            f.write("// a comment, as the config allows\n" + json.dumps(config))
        self.run_dir = os.path.join(self.tmp.name, "run")

    def tearDown(self):
        self.cluster("stop")
        self.tmp.cleanup()

    def cluster(self, *args, bin_dir=None):
        argv = [SCRIPT, args[0], self.config, *args[1:], "--run-dir", self.run_dir,
                "--bin-dir", bin_dir or BIN_DIR]
        return subprocess.run(argv, capture_output=True, text=True, timeout=120)

    def states(self, out):
        return {line.split()[0]: line.split()[2] for line in out.splitlines() if line.strip()}

    def test_start_status_kill_restart_stop(self):
        started = self.cluster("start")
        self.assertEqual(started.returncode, 0, started.stderr)
        self.assertEqual(self.states(started.stdout), {"n1": "up", "n2": "up", "n3": "up"})
        for port in self.ports:
            self.assertEqual(resp(port, b"PING"), b"+PONG")
        for node in ("n1", "n2", "n3"):
            node_dir = os.path.join(self.run_dir, node)
            self.assertTrue(os.path.isfile(os.path.join(node_dir, "daemon.log")))
            self.assertTrue(os.path.isdir(os.path.join(node_dir, "spill")))

        status = self.cluster("status")
        self.assertEqual(status.returncode, 0)
        self.assertEqual(status.stdout.splitlines()[1], f"n2 127.0.0.1:{self.ports[1]} up")

        # A second start leaves the running nodes alone.
        again = self.cluster("start")
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertIn("already running", again.stdout)

        killed = self.cluster("kill", "n2")
        self.assertEqual(killed.returncode, 0, killed.stderr)
        status = self.cluster("status")
        self.assertEqual(status.returncode, 1)
        self.assertEqual(self.states(status.stdout), {"n1": "up", "n2": "down", "n3": "up"})
        with self.assertRaises(OSError):
            resp(self.ports[1], b"PING")

        restarted = self.cluster("restart", "n2")
        self.assertEqual(restarted.returncode, 0, restarted.stderr)
        self.assertEqual(resp(self.ports[1], b"PING"), b"+PONG")
        self.assertEqual(resp(self.ports[1], b"SET", b"k", b"v"), b"+OK")
        # restart of a running node stops it cleanly (SIGTERM writes memory to spill).
        restarted = self.cluster("restart", "n2")
        self.assertEqual(restarted.returncode, 0, restarted.stderr)
        self.assertEqual(resp(self.ports[1], b"GET", b"k"), b"$1")

        stopped = self.cluster("stop")
        self.assertEqual(stopped.returncode, 0, stopped.stderr)
        self.assertEqual(self.states(stopped.stdout), {"n1": "down", "n2": "down", "n3": "down"})
        status = self.cluster("status")
        self.assertEqual(status.returncode, 1)
        self.assertEqual(set(self.states(status.stdout).values()), {"down"})

    def test_usage_errors(self):
        no_node = self.cluster("kill")
        self.assertEqual(no_node.returncode, 2)
        unknown = self.cluster("kill", "n9")
        self.assertEqual(unknown.returncode, 2)
        self.assertIn("n9", unknown.stderr)
        missing = self.cluster("start", bin_dir=self.tmp.name)
        self.assertEqual(missing.returncode, 2)
        self.assertIn("prefixcached not found", missing.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin-dir", required=True)
    args, rest = parser.parse_known_args()
    BIN_DIR = os.path.abspath(args.bin_dir)
    unittest.main(argv=[sys.argv[0]] + rest)
