"""pip's entry to the Python package: setuptools driving the project's CMake build.

    /usr/bin/python3 -m venv --system-site-packages venv
    venv/bin/pip install --no-build-isolation ./python

--no-build-isolation lets pip use the Debian setuptools and pybind11-dev that are already
installed (no network). The extension prefixcache._core is built by CMake (target
prefixcache_python of the repository one folder up, Release, static client libraries)
in a folder of the build directory, never in the source tree; PREFIXCACHE_CMAKE_ARGS adds
arguments to the configure step and CMAKE_BUILD_PARALLEL_LEVEL sets the jobs (default 2).
setuptools' own folders (build/, prefixcache.egg-info/) land in python/ (git ignores them),
or under PREFIXCACHE_BUILD_BASE when it is set.
"""

import os
import shlex
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(HERE)


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build_dir = os.path.abspath(os.path.join(self.build_temp, "cmake"))
        os.makedirs(build_dir, exist_ok=True)
        configure = [
            "cmake", "-S", SOURCE_DIR, "-B", build_dir, "-G", "Ninja",
            "-DCMAKE_BUILD_TYPE=Release", "-DPREFIXCACHE_PYTHON=ON",
            f"-DPYTHON_EXECUTABLE={sys.executable}",
        ] + shlex.split(os.environ.get("PREFIXCACHE_CMAKE_ARGS", ""))
        subprocess.run(configure, check=True)
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", "2")
        subprocess.run(["cmake", "--build", build_dir, "--target", "prefixcache_python",
                        "-j", jobs], check=True)
        built = os.path.join(build_dir, "python", "prefixcache")
        module = next(f for f in os.listdir(built) if f.startswith("_core") and f.endswith(".so"))
        target = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(os.path.join(built, module), target)


BUILD_BASE = os.environ.get("PREFIXCACHE_BUILD_BASE")
if BUILD_BASE:
    os.makedirs(BUILD_BASE, exist_ok=True)
OPTIONS = {"build": {"build_base": BUILD_BASE}, "egg_info": {"egg_base": BUILD_BASE}} \
    if BUILD_BASE else {}

setup(
    name="prefixcache",
    version="0.1.0",
    description="Client of prefixcache, a cluster cache for the KV blocks of LLM prompt prefixes",
    packages=["prefixcache"],
    package_data={"prefixcache": ["py.typed", "_core.pyi"]},
    ext_modules=[CMakeExtension("prefixcache._core")],
    cmdclass={"build_ext": CMakeBuild},
    python_requires=">=3.9",
    zip_safe=False,
    options=OPTIONS,
)
