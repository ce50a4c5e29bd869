// Python objects turned into the client's arguments: block keys from bytes, and the memory
// a read fills or a write sends -- objects with the buffer protocol (NumPy arrays,
// bytearray, memoryview, bytes), CPU torch tensors (duck-typed through data_ptr(), nbytes --
// or element_size() * numel() before torch 2.1 -- and is_contiguous(); torch itself is never
// imported) and raw (address, size) pairs, each possibly a list of parts. Misuse raises ValueError
// or TypeError (pybind11's value_error, type_error) naming the argument and its index. Every
// function here needs the GIL; the objects they return hold what they borrowed (buffer views,
// references) until destroyed, which also needs the GIL.
#pragma once

#include <pybind11/pybind11.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "prefixcache/block_key.h"
#include "prefixcache/client.h"
#include "prefixcache/destination.h"

namespace prefixcache::python {

namespace py = pybind11;

// The name of obj's type, for error messages.
std::string TypeName(py::handle obj);

// Each entry of `keys` (a sequence) must be a bytes-like object of exactly 16 bytes.
std::vector<BlockKey> KeysFrom(py::handle keys, const char* name = "keys");

// depths[i] for n blocks: `depths` (a sequence of n non-negative ints) or, when it is None,
// start_depth + i.
std::vector<std::uint32_t> DepthsFrom(py::handle depths, std::int64_t start_depth, std::size_t n);

// What one call borrowed from Python: buffer views and references to the objects whose
// memory it uses. Releases them on destruction (with the GIL held).
class Borrowed {
 public:
  Borrowed() = default;
  ~Borrowed();
  Borrowed(const Borrowed&) = delete;
  Borrowed& operator=(const Borrowed&) = delete;

  std::vector<Py_buffer*> views;  // each obtained by PyObject_GetBuffer
  std::vector<py::object> objects;
};

// One memory region of a Python object or of a raw address.
struct RawPart {
  std::byte* data = nullptr;
  std::size_t size = 0;
};

// The parts of n blocks, flattened: block i has parts [first[i], first[i + 1]).
struct BlockParts {
  std::vector<RawPart> parts;
  std::vector<std::size_t> first{0};

  std::size_t blocks() const { return first.size() - 1; }
};

// `buffers` (a sequence of n entries): each entry a buffer object or a list/tuple of them,
// its parts in order. `writable`: every part must accept writes (a read's destinations).
// Appends what it borrowed to `borrowed`.
BlockParts PartsFromBuffers(py::handle buffers, std::size_t n, bool writable, const char* name,
                            Borrowed& borrowed);

// `ptrs` (a sequence of n entries): each entry an int address of sizes[i] bytes, or a
// list/tuple of (address, size) pairs whose sizes add up to sizes[i]. `sizes` may be None
// when every entry is a list of pairs.
BlockParts PartsFromPointers(py::handle ptrs, py::handle sizes, std::size_t n);

// A read's destinations over `parts`, owning the span arrays the views point into.
class DestinationSet {
 public:
  explicit DestinationSet(const BlockParts& parts);
  Destinations destinations() const { return views_; }

 private:
  std::vector<std::span<std::byte>> spans_;
  std::vector<Destination> views_;
};

// A write's sources over `parts`, owning the span arrays the views point into.
class SourceSet {
 public:
  explicit SourceSet(const BlockParts& parts);
  std::span<const Source> sources() const { return views_; }

 private:
  std::vector<std::span<const std::byte>> spans_;
  std::vector<Source> views_;
};

// The BlockStatus enum of the Python module (an enum.IntEnum made once at import).
void InitBlockStatusEnum(py::module_& module);
py::object StatusObject(BlockStatus status);
// reads as a list of (BlockStatus, size) tuples.
py::list ReadsToList(std::span<const BlockRead> reads);

}  // namespace prefixcache::python
