#!/usr/bin/env python3
"""`pip install --no-build-isolation ./python` into a virtual environment made with
`/usr/bin/python3 -m venv --system-site-packages`, in a temporary folder, without the
network (--no-index): setuptools drives the project's CMake build. Then, from outside the
source tree, the venv's interpreter imports prefixcache from the venv and checks the
Hasher test vector of tests/client/hasher_test.cc; and the source tree gained no files.

    /usr/bin/python3 tests/install/pip_install_test.py --source-dir .
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

CHECK = r"""
import os, sys, prefixcache, prefixcache.sglang
site = os.path.realpath(sys.argv[1])
assert os.path.realpath(prefixcache.__file__).startswith(site), prefixcache.__file__
ns = prefixcache.Namespace(model_id="meta-llama/Llama-3.1-8B-Instruct",
                           model_revision="0e9e39f249a16976918f6564b8830bc894c89659",
                           dtype="bfloat16", kv_layout="vllm/flash-attn/NHD",
                           block_size_tokens=16)
h = prefixcache.Hasher(ns)
assert h.seed.hex() == "2e6cf879bf8d50db50020f790b71071f", h.seed.hex()
tokens = [(i * 0x9E3779B9) & 0xFFFFFFFF for i in range(40)]
assert [k.hex() for k in h.keys(tokens)] == ["30dc319dc42fc34a029830e6922442b4",
                                             "462ebec8417e0db1e80b31d85b83b506"]
print("imported", prefixcache.__file__)
"""


def source_status(source_dir):
    out = subprocess.run(["git", "-C", source_dir, "status", "--porcelain", "--ignored",
                          "--untracked-files=all", "python"],
                         check=True, capture_output=True, text=True).stdout
    return set(out.splitlines())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--source-dir", required=True)
    source_dir = os.path.abspath(parser.parse_args().source_dir)
    before = source_status(source_dir)
    os.environ.pop("PYTHONPATH", None)  # the venv alone must provide the package
    tmp = tempfile.mkdtemp(prefix="prefixcache-pip-")
    try:
        venv = os.path.join(tmp, "venv")
        subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", venv],
                       check=True)
        python = os.path.join(venv, "bin", "python3")
        env = dict(os.environ, PREFIXCACHE_BUILD_BASE=os.path.join(tmp, "build"),
                   PYTHONDONTWRITEBYTECODE="1", PIP_NO_INPUT="1",
                   PIP_DISABLE_PIP_VERSION_CHECK="1")
        env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", "2")
        subprocess.run([python, "-m", "pip", "install", "--no-build-isolation", "--no-index",
                        os.path.join(source_dir, "python")], check=True, env=env, cwd=tmp)
        site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              check=True, capture_output=True, text=True).stdout.strip()
        assert site.startswith(venv), site
        subprocess.run([python, "-c", CHECK, site], check=True, cwd=tmp,
                       env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
        after = source_status(source_dir)
        assert after == before, f"pip left files in the source tree: {sorted(after - before)}"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("pip install: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
