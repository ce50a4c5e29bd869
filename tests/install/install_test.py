"""`cmake --install` of a build into a temporary prefix, used the way another project uses
it: consumer/ configured and built with find_package(prefixcache) against the prefix, the
same program built with pkg-config (prefixcache.pc), both run against the installed
prefixcached; the installed Python package imported from the prefix's dist-packages.

    /usr/bin/python3 install_test.py --build-dir BUILD
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
from programs import free_port, run  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD_DIR = None


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.prefix = os.path.join(cls.tmp.name, "prefix")
        run(["cmake", "--install", BUILD_DIR, "--prefix", cls.prefix])
        port = free_port()
        cls.address = f"127.0.0.1:{port}"
        config = os.path.join(cls.tmp.name, "node.json")
        with open(config, "w") as f:
            json.dump({"cluster": {"nodes": [{"id": "n1", "address": cls.address}]},
                       "memory": {"capacity": "16MiB"}}, f)
        cls.daemon = subprocess.Popen(
            [os.path.join(cls.prefix, "bin", "prefixcached"), "--config", config, "--node-id",
             "n1", "--spill-path", os.path.join(cls.tmp.name, "spill"), "--metrics-listen",
             "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in cls.daemon.stdout:
            if line.startswith("prefixcached listening on"):
                break
        else:
            raise AssertionError("the installed prefixcached did not start")

    @classmethod
    def tearDownClass(cls):
        cls.daemon.terminate()
        cls.daemon.wait(30)
        cls.tmp.cleanup()

    def test_the_installed_files(self):
        for path in ("bin/prefixcached", "bin/prefixctl", "include/prefixcache/client.h",
                     "include/prefixcache/status.h", "include/prefixcache/block_key.h"):
            self.assertTrue(os.path.isfile(os.path.join(self.prefix, path)), path)
        self.assertTrue(glob.glob(os.path.join(self.prefix, "lib*", "**", "libprefixcache.so"),
                                  recursive=True))
        version = run([os.path.join(self.prefix, "bin", "prefixctl"), "--help"])
        self.assertIn("prefixctl", version.stdout + version.stderr)

    def test_find_package_consumer(self):
        build = os.path.join(self.tmp.name, "consumer-cmake")
        run(["cmake", "-S", os.path.join(HERE, "consumer"), "-B", build, "-G", "Ninja",
             f"-DCMAKE_PREFIX_PATH={self.prefix}"])
        run(["cmake", "--build", build])
        out = run([os.path.join(build, "consumer"), self.address])
        self.assertEqual(out.stdout, "consumer ok\n")

    def test_pkg_config_consumer(self):
        pc = glob.glob(os.path.join(self.prefix, "lib*", "**", "pkgconfig", "prefixcache.pc"),
                       recursive=True)
        self.assertEqual(len(pc), 1)
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.dirname(pc[0]))
        flags = run(["pkg-config", "--cflags", "--libs", "prefixcache"], env=env).stdout.split()
        binary = os.path.join(self.tmp.name, "consumer-pc")
        run(["c++", os.path.join(HERE, "consumer", "main.cc"), "-o", binary, *flags])
        libdir = [f[2:] for f in flags if f.startswith("-L")]
        out = run([binary, self.address], env=dict(os.environ, LD_LIBRARY_PATH=":".join(libdir)))
        self.assertEqual(out.stdout, "consumer ok\n")

    def test_python_package(self):
        site = os.path.join(self.prefix, "lib", "python3", "dist-packages")
        self.assertTrue(os.path.isfile(os.path.join(site, "prefixcache", "_core.pyi")))
        script = (
            "import prefixcache\n"
            f"assert prefixcache.__file__.startswith({site!r}), prefixcache.__file__\n"
            "ns = prefixcache.Namespace(model_id='consumer-model', model_revision='r1', "
            "dtype='fp16', kv_layout='flat', block_size_tokens=4)\n"
            "keys = prefixcache.Hasher(ns).keys([1, 2, 3, 4, 5, 6, 7, 8])\n"
            f"with prefixcache.Client([('n1', {self.address!r})]) as c:\n"
            "    c.put(keys, [b'\\xab' * 1000, b'\\xcd' * 500])\n"
            "    assert c.match(keys) == 2\n"
            "    print('python ok')\n")
        env = dict(os.environ, PYTHONPATH=site)
        out = run(["/usr/bin/python3", "-c", script], env=env, cwd=self.tmp.name)
        self.assertEqual(out.stdout, "python ok\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", required=True)
    args, rest = parser.parse_known_args()
    BUILD_DIR = args.build_dir
    unittest.main(argv=[sys.argv[0], *rest])
