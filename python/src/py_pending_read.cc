#include "py_pending_read.h"

#include <pybind11/stl.h>

#include <limits>
#include <utility>

#include "bindings.h"

namespace prefixcache::python {

PyPendingRead::PyPendingRead(std::shared_ptr<Client> client, Kind kind, std::vector<BlockKey> keys,
                             std::unique_ptr<Borrowed> borrowed, const BlockParts& parts,
                             std::uint32_t timeout_ms)
    : client_(std::move(client)),
      kind_(kind),
      keys_(std::move(keys)),
      borrowed_(std::move(borrowed)),
      destinations_(parts),
      reads_(keys_.size()) {
  pending_ = kind_ == Kind::kGetPrefix
                 ? client_->GetPrefixAsync(keys_, destinations_.destinations(), reads_, timeout_ms)
                 : client_->GetIntoAsync(keys_, destinations_.destinations(), reads_, timeout_ms);
  if (!pending_) throw std::bad_alloc();
}

PyPendingRead::~PyPendingRead() {
  py::gil_scoped_release release;
  pending_.reset();
}

bool PyPendingRead::Ready() const { return pending_->Ready(); }

bool PyPendingRead::Wait(const std::optional<std::uint32_t>& timeout_ms) {
  py::gil_scoped_release release;
  return pending_->Wait(timeout_ms.value_or(std::numeric_limits<std::uint32_t>::max()));
}

void PyPendingRead::CheckReady() const {
  if (!pending_->Ready()) throw py::value_error("the read has not finished: call wait() first");
}

py::object PyPendingRead::Result() const {
  CheckReady();
  const auto& result = pending_->result();
  if (!result.ok()) throw py::value_error(result.status().message());
  if (kind_ == Kind::kGetPrefix) return py::int_(*result);
  return ReadsToList(reads_);
}

py::list PyPendingRead::Reads() const {
  CheckReady();
  return ReadsToList(reads_);
}

void BindPendingRead(py::module_& m) {
  py::class_<PyPendingRead>(
      m, "PendingRead",
      "A read running on the client's threads (Client.get_prefix_async, get_into_async). The "
      "buffers it was given must not be used until wait() returned True. Dropping the handle "
      "cancels a read that still runs and waits until no byte can land in the buffers.")
      .def("ready", &PyPendingRead::Ready, "True once the read has finished.")
      .def("wait", &PyPendingRead::Wait, py::arg("timeout_ms") = py::none(),
           "Blocks until the read finished or timeout_ms passed (None: until the read's own "
           "deadline, so the result is True); returns ready(). Releases the GIL.")
      .def("result", &PyPendingRead::Result,
           "What the blocking call returns: get_prefix_async the run's length (int), "
           "get_into_async the list of (BlockStatus, size). ValueError before the read "
           "finished.")
      .def("reads", &PyPendingRead::Reads,
           "The (BlockStatus, size) of each key. ValueError before the read finished.");
}

}  // namespace prefixcache::python
