// prefixcache._core: the extension module under the Python package prefixcache (whose
// __init__.py re-exports it).
#include "bindings.h"
#include "py_buffers.h"

PYBIND11_MODULE(_core, m) {
  m.doc() =
      "prefixcache: a cluster cache for the KV blocks of LLM prompt prefixes. Hasher turns "
      "tokens into block keys; Client matches, reads and writes blocks on a cluster of "
      "prefixcached nodes.";
  prefixcache::python::InitBlockStatusEnum(m);
  prefixcache::python::BindHasher(m);
  prefixcache::python::BindPendingRead(m);
  prefixcache::python::BindClient(m);
}
