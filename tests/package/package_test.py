"""The Debian package: `cpack -G DEB` of a build gives prefixcache_<version>_<arch>.deb; its
control fields are filled in; `dpkg-deb -c` lists the daemon, prefixctl, the systemd unit,
the client library with its headers, CMake package and pkg-config file, the Python module
and the docs; extracted with `dpkg-deb -x`, its daemon serves PING on a loopback port with
a temporary spill folder and answers /readyz, its prefixctl reads the node's status, and
`systemd-analyze verify` accepts its unit.

    /usr/bin/python3 package_test.py --build-dir BUILD --version X.Y.Z
"""

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
from programs import free_port, run  # noqa: E402

SOURCE_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD_DIR = None
VERSION = None


class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ("cpack", "dpkg-deb", "dpkg", "redis-cli", "systemd-analyze"):
            if shutil.which(tool) is None:
                raise AssertionError(f"{tool} is missing: scripts/install-deps.sh")
        cls.tmp = tempfile.TemporaryDirectory()
        out = os.path.join(cls.tmp.name, "out")
        run(["cpack", "-G", "DEB", "--config", os.path.join(BUILD_DIR, "CPackConfig.cmake"),
             "-B", out], cwd=BUILD_DIR)
        arch = run(["dpkg", "--print-architecture"]).stdout.strip()
        cls.deb = os.path.join(out, f"prefixcache_{VERSION}_{arch}.deb")
        if not os.path.isfile(cls.deb):
            raise AssertionError(f"no {cls.deb}; cpack made {os.listdir(out)}")
        cls.root = os.path.join(cls.tmp.name, "root")
        run(["dpkg-deb", "-x", cls.deb, cls.root])

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def field(self, name):
        return run(["dpkg-deb", "-f", self.deb, name]).stdout.strip()

    def test_control_fields(self):
        self.assertEqual(self.field("Package"), "prefixcache")
        self.assertEqual(self.field("Version"), VERSION)
        self.assertEqual(self.field("Section"), "database")
        self.assertRegex(self.field("Maintainer"), r"^.+ <[^ ]+@[^ ]+>$")
        self.assertRegex(self.field("Homepage"), r"^https?://")
        summary, *extended = self.field("Description").splitlines()
        self.assertIn("KV blocks", summary)
        self.assertGreater(len(extended), 3)
        self.assertNotIn(summary.strip(), extended[0])
        depends = [d.strip().split(" ")[0] for d in self.field("Depends").split(",")]
        # The libraries the binaries link, whether computed by dpkg-shlibdeps or by hand.
        for package in ("adduser", "libc6", "libstdc++6", "libssl3", "libxxhash0"):
            self.assertIn(package, depends)

    def test_maintainer_scripts(self):
        control = os.path.join(self.tmp.name, "control")
        run(["dpkg-deb", "-e", self.deb, control])
        for script in ("postinst", "prerm", "postrm"):
            path = os.path.join(control, script)
            self.assertTrue(os.access(path, os.X_OK), script)
            run(["sh", "-n", path])
        with open(os.path.join(control, "postinst")) as f:
            self.assertIn("adduser --system", f.read())

    def test_contents(self):
        listing = run(["dpkg-deb", "-c", self.deb]).stdout
        paths = {line.split()[5].removeprefix(".") for line in listing.splitlines()
                 if len(line.split()) >= 6}
        expected = [
            "/usr/bin/prefixcached",
            "/usr/bin/prefixctl",
            "/usr/lib/systemd/system/prefixcached@.service",
            "/usr/include/prefixcache/client.h",
            "/usr/include/prefixcache/hasher.h",
            "/usr/include/prefixcache/status.h",
            "/usr/lib/python3/dist-packages/prefixcache/__init__.py",
            "/usr/lib/python3/dist-packages/prefixcache/_core.pyi",
            "/usr/share/doc/prefixcache/examples/single.json",
            "/usr/share/doc/prefixcache/examples/cluster-3.json",
            "/usr/share/doc/prefixcache/grafana/prefixcache.json",
        ]
        for page in glob.glob(os.path.join(SOURCE_DIR, "docs", "*.md")):
            expected.append("/usr/share/doc/prefixcache/" + os.path.basename(page))
        self.assertIn("/usr/share/doc/prefixcache/config.md", expected)
        for path in expected:
            self.assertIn(path, paths)
        patterns = [
            r"/usr/lib/(.+/)?libprefixcache\.so\.0",
            r"/usr/lib/(.+/)?cmake/prefixcache/prefixcacheConfig\.cmake",
            r"/usr/lib/(.+/)?cmake/prefixcache/prefixcacheTargets\.cmake",
            r"/usr/lib/(.+/)?pkgconfig/prefixcache\.pc",
            r"/usr/lib/python3/dist-packages/prefixcache/_core\..*so",
        ]
        for pattern in patterns:
            self.assertTrue(any(re.fullmatch(pattern, p) for p in paths), pattern)
        # Nothing outside /usr: dpkg would refuse files the system owns elsewhere.
        for path in paths:
            self.assertTrue(path in ("/", "/usr", "/usr/") or path.startswith("/usr/"), path)

    def test_binaries_find_their_libraries(self):
        binaries = [os.path.join(self.root, "usr", "bin", name) for name in ("prefixcached", "prefixctl")]
        binaries += glob.glob(os.path.join(self.root, "usr", "lib", "**", "libprefixcache.so.*"),
                              recursive=True)
        for binary in binaries:
            ldd = run(["ldd", binary]).stdout
            self.assertNotIn("not found", ldd, binary)

    def test_the_extracted_daemon_serves(self):
        port = free_port()
        address = f"127.0.0.1:{port}"
        config = os.path.join(self.tmp.name, "node.json")
        with open(config, "w") as f:
            json.dump({"cluster": {"nodes": [{"id": "n1", "address": address}]},
                       "memory": {"capacity": "16MiB"}}, f)
        spill = os.path.join(self.tmp.name, "spill")
        daemon = subprocess.Popen(
            [os.path.join(self.root, "usr", "bin", "prefixcached"), "--config", config,
             "--node-id", "n1", "--spill-path", spill, "--metrics-listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            # It prints "prefixcached listening on HOST:PORT", then "metrics on HOST:PORT".
            metrics = None
            for line in daemon.stdout:
                if line.startswith("metrics on "):
                    metrics = line.split()[-1]
                    break
            else:
                raise AssertionError("the packaged prefixcached did not start")
            pong = run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), "PING"])
            self.assertEqual(pong.stdout.strip(), "PONG")
            self.assertTrue(os.path.isdir(spill))
            with urllib.request.urlopen(f"http://{metrics}/readyz", timeout=60) as reply:
                self.assertEqual(reply.status, 200)
            status = run([os.path.join(self.root, "usr", "bin", "prefixctl"), "--config", config,
                          "--json", "status"])
            self.assertTrue(json.loads(status.stdout)["nodes"][0]["up"])
            site = os.path.join(self.root, "usr", "lib", "python3", "dist-packages")
            script = (
                "import prefixcache\n"
                f"assert prefixcache.__file__.startswith({site!r}), prefixcache.__file__\n"
                "ns = prefixcache.Namespace(model_id='m', model_revision='r', dtype='fp16', "
                "kv_layout='flat', block_size_tokens=2)\n"
                "keys = prefixcache.Hasher(ns).keys([1, 2, 3, 4])\n"
                f"with prefixcache.Client([('n1', {address!r})]) as c:\n"
                "    c.put(keys, [b'a' * 100, b'b' * 100])\n"
                "    assert c.match(keys) == 2\n")
            run(["/usr/bin/python3", "-c", script], env=dict(os.environ, PYTHONPATH=site),
                cwd=self.tmp.name)
        finally:
            daemon.terminate()
            code = daemon.wait(60)
            daemon.stdout.close()
        self.assertEqual(code, 0)

    def test_systemd_verifies_the_packaged_unit(self):
        unit = os.path.join(self.root, "usr", "lib", "systemd", "system", "prefixcached@.service")
        with open(unit) as f:
            text = f.read()
        self.assertIn("ExecStart=/usr/bin/prefixcached ", text)
        daemon = os.path.join(self.root, "usr", "bin", "prefixcached")
        with tempfile.TemporaryDirectory() as folder:
            # verify checks that ExecStart's program exists: point it at the extracted one.
            with open(os.path.join(folder, "prefixcached@.service"), "w") as f:
                f.write(text.replace("/usr/bin/prefixcached", daemon))
            verify = subprocess.run(["systemd-analyze", "verify", "--man=no",
                                     os.path.join(folder, "prefixcached@n1.service")],
                                    cwd=folder, capture_output=True, text=True, timeout=120)
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
        self.assertEqual(verify.stdout + verify.stderr, "")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--version", required=True)
    args, rest = parser.parse_known_args()
    BUILD_DIR = os.path.abspath(args.build_dir)
    VERSION = args.version
    unittest.main(argv=[sys.argv[0], *rest])
