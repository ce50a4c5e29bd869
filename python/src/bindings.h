// The parts of the Python module prefixcache._core, each binding its classes into `m`
// (called once, from module.cc, at import).
#pragma once

#include <pybind11/pybind11.h>

namespace prefixcache::python {

void BindHasher(pybind11::module_& m);
void BindPendingRead(pybind11::module_& m);
void BindClient(pybind11::module_& m);

}  // namespace prefixcache::python
