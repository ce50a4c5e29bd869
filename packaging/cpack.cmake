# The Debian package: `cpack -G DEB` in the build folder gives
# prefixcache_<version>_<arch>.deb with everything the install rules put under /usr (daemon,
# prefixctl, libprefixcache.so with its headers, the CMake package, prefixcache.pc, the
# Python module, the systemd unit, the docs) and maintainer scripts that create the system
# user the unit runs as. Depends is computed by dpkg-shlibdeps (dpkg-dev) when it is
# installed (with `file`), else it is the list below, of Debian 12's package names.
set(CPACK_PACKAGE_NAME prefixcache)
set(CPACK_PACKAGE_VENDOR "prefixcache")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "cluster cache for the KV blocks of LLM prompt prefixes")
set(CPACK_PACKAGE_INSTALL_DIRECTORY prefixcache)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(PREFIXCACHE_PACKAGE_MAINTAINER
    "Seed 212b81d7 maintainers <maintainers@users.noreply.r-seed-212b81d7.example>"
    CACHE STRING "Maintainer field of the Debian package")
set(PREFIXCACHE_PACKAGE_HOMEPAGE "https://r-seed-212b81d7.example/prefixcache"
    CACHE STRING "Homepage field of the Debian package")

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # prefixcache_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${PREFIXCACHE_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "${PREFIXCACHE_PACKAGE_HOMEPAGE}")
set(CPACK_DEBIAN_PACKAGE_SECTION database)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The extended description, after the summary line (CPack indents each line).
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "Inference workers that serve the same system prompts, documents and conversation
histories fetch the attention key/value blocks of the longest cached prefix instead of
recomputing them in prefill. prefixcached is the node daemon (RESP protocol, a memory
tier over a RocksDB spill tier, consistent hashing across nodes, Prometheus metrics),
prefixctl the operator's tool. Also the C++ client library with its headers, CMake
package and pkg-config file, the Python module, a systemd unit per node
(prefixcached@ID.service) and the operator's documentation.")

# The maintainer scripts only run in dpkg: the package's files themselves are all under /usr.
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_SOURCE_DIR}/debian/postinst ${CMAKE_CURRENT_SOURCE_DIR}/debian/prerm
    ${CMAKE_CURRENT_SOURCE_DIR}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

# CPack's shlibdeps needs dpkg-shlibdeps and `file` (to find the ELF files).
find_program(PREFIXCACHE_DPKG_SHLIBDEPS dpkg-shlibdeps)
find_program(PREFIXCACHE_FILE_PROGRAM file)
if(PREFIXCACHE_DPKG_SHLIBDEPS AND PREFIXCACHE_FILE_PROGRAM)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")  # postinst; shlibdeps adds the libraries
else()
  # What prefixcached, prefixctl and libprefixcache.so link (ldd; RocksDB is linked
  # statically, its compression libraries are not), by Debian 12 package.
  set(CPACK_DEBIAN_PACKAGE_DEPENDS
      "adduser, libc6, libgcc-s1, libstdc++6, libssl3, libfmt9, libspdlog1.10, libxxhash0, libsnappy1v5, liblz4-1, libzstd1, zlib1g, libbz2-1.0")
endif()
if(PREFIXCACHE_PYTHON AND PREFIXCACHE_PYTHON_VERSION)
  # The module is built for one interpreter version (its extension ABI).
  string(REPLACE "." ";" python_version "${PREFIXCACHE_PYTHON_VERSION}")
  list(GET python_version 1 python_minor)
  math(EXPR python_next "${python_minor} + 1")
  list(GET python_version 0 python_major)
  set(CPACK_DEBIAN_PACKAGE_RECOMMENDS
      "python3 (>= ${PREFIXCACHE_PYTHON_VERSION}~), python3 (<< ${python_major}.${python_next})")
endif()

include(CPack)
