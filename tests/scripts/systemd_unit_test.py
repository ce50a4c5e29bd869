"""scripts/prefixcached@.service: `systemd-analyze verify` accepts it without a warning (for
instance n1, with ExecStart pointing at the built daemon, since verify checks that the
program exists), and it keeps the hardening and the paths the operator's docs promise.

    /usr/bin/python3 systemd_unit_test.py --bin-dir BUILD/bin
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

UNIT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts",
                    "prefixcached@.service")
BIN_DIR = None


def settings(text):
    """The unit's key=value lines (comments and sections dropped), as a list of pairs."""
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or line.startswith("["):
            continue
        key, _, value = line.partition("=")
        pairs.append((key, value))
    return pairs


class SystemdUnitTest(unittest.TestCase):
    def test_verify_accepts_the_unit(self):
        analyze = shutil.which("systemd-analyze")
        self.assertIsNotNone(analyze, "systemd-analyze is missing: scripts/install-deps.sh")
        daemon = os.path.abspath(os.path.join(BIN_DIR, "prefixcached"))
        self.assertTrue(os.access(daemon, os.X_OK), daemon)
        with open(UNIT) as f:
            text = f.read()
        self.assertIn("ExecStart=/usr/bin/prefixcached ", text)
        with tempfile.TemporaryDirectory() as folder:
            with open(os.path.join(folder, "prefixcached@.service"), "w") as f:
                f.write(text.replace("/usr/bin/prefixcached", daemon))
            run = subprocess.run([analyze, "verify", "--man=no",
                                  os.path.join(folder, "prefixcached@n1.service")],
                                 cwd=folder, capture_output=True, text=True, timeout=120)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        # An unknown or misspelt key is only a warning: none is allowed.
        self.assertEqual(run.stdout + run.stderr, "")

    def test_hardening_and_paths(self):
        with open(UNIT) as f:
            pairs = settings(f.read())
        values = {}
        for key, value in pairs:
            values.setdefault(key, []).append(value)
        expect = {
            "User": "prefixcache",
            "Group": "prefixcache",
            "ProtectSystem": "strict",
            "NoNewPrivileges": "yes",
            "StateDirectory": "prefixcache/%i",
            "PrivateTmp": "yes",
            "CapabilityBoundingSet": "",
            "RestartPreventExitStatus": "2",
        }
        for key, value in expect.items():
            self.assertEqual(values.get(key), [value], key)
        self.assertTrue(int(values["LimitNOFILE"][0]) >= 65536)
        exec_start = values["ExecStart"][0].split()
        self.assertEqual(exec_start[0], "/usr/bin/prefixcached")
        self.assertIn("/etc/prefixcache/cluster.json", exec_start)
        # The spill folder is the state directory, the one place ProtectSystem=strict lets
        # the daemon write.
        self.assertEqual(exec_start[exec_start.index("--spill-path") + 1],
                         "/var/lib/prefixcache/%i")
        self.assertEqual(exec_start[exec_start.index("--node-id") + 1], "%i")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin-dir", required=True)
    args, rest = parser.parse_known_args()
    BIN_DIR = args.bin_dir
    unittest.main(argv=[sys.argv[0]] + rest)
