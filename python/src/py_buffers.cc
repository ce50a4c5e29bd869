#include "py_buffers.h"

#include <limits>
#include <optional>
#include <string>
#include <utility>

namespace prefixcache::python {

namespace {

std::string Where(const char* name, std::size_t i) {
  return std::string(name) + "[" + std::to_string(i) + "]";
}

bool IsPartList(py::handle obj) {
  return py::isinstance<py::list>(obj) || py::isinstance<py::tuple>(obj);
}

// A non-negative Python int that fits `max`; ValueError/TypeError naming `what` otherwise.
std::uint64_t UnsignedFrom(py::handle obj, const std::string& what, std::uint64_t max) {
  if (!py::isinstance<py::int_>(obj) || py::isinstance<py::bool_>(obj)) {
    throw py::type_error(what + ": expected an int, got " + TypeName(obj));
  }
  const py::int_ value = py::reinterpret_borrow<py::int_>(obj);
  if (value < py::int_(0) || value > py::int_(max)) {
    throw py::value_error(what + ": " + std::string(py::repr(value)) + " is out of range [0, " +
                          std::to_string(max) + "]");
  }
  return value.cast<std::uint64_t>();
}

// The memory of one buffer object (one part).
RawPart PartFromObject(py::handle obj, bool writable, const std::string& what, Borrowed& borrowed) {
  if (PyObject_CheckBuffer(obj.ptr())) {
    auto view = std::make_unique<Py_buffer>();
    if (PyObject_GetBuffer(obj.ptr(), view.get(), PyBUF_STRIDES) != 0)
      throw py::error_already_set();
    Py_buffer* held = view.release();
    borrowed.views.push_back(held);
    if (writable && held->readonly) {
      throw py::value_error(what + ": a read-only " + TypeName(obj) +
                            " cannot receive a block (pass a writable buffer)");
    }
    if (!PyBuffer_IsContiguous(held, 'A')) {
      throw py::value_error(what + ": the " + TypeName(obj) + " is not contiguous");
    }
    return {static_cast<std::byte*>(held->buf), static_cast<std::size_t>(held->len)};
  }
  // torch < 2.1 has no Tensor.nbytes: element_size() * numel() is the same.
  const bool has_nbytes = py::hasattr(obj, "nbytes");
  if (py::hasattr(obj, "data_ptr") && py::hasattr(obj, "is_contiguous") &&
      (has_nbytes || (py::hasattr(obj, "element_size") && py::hasattr(obj, "numel")))) {
    if (py::hasattr(obj, "device")) {
      const std::string device = py::str(obj.attr("device").attr("type"));
      if (device != "cpu") {
        throw py::value_error(what + ": the tensor is on " + device + ", not the CPU");
      }
    }
    if (!obj.attr("is_contiguous")().cast<bool>()) {
      throw py::value_error(what + ": the tensor is not contiguous (call .contiguous())");
    }
    const py::object nbytes = has_nbytes
                                  ? obj.attr("nbytes")
                                  : py::int_(obj.attr("element_size")().cast<std::uint64_t>() *
                                             obj.attr("numel")().cast<std::uint64_t>());
    const auto size =
        UnsignedFrom(nbytes, what + ".nbytes", std::numeric_limits<std::int64_t>::max());
    const auto address = UnsignedFrom(obj.attr("data_ptr")(), what + ".data_ptr()",
                                      std::numeric_limits<std::uintptr_t>::max());
    borrowed.objects.push_back(py::reinterpret_borrow<py::object>(obj));
    return {reinterpret_cast<std::byte*>(static_cast<std::uintptr_t>(address)),
            static_cast<std::size_t>(size)};
  }
  throw py::type_error(what +
                       ": expected an object with the buffer protocol (bytearray, "
                       "NumPy array, memoryview) or a CPU torch tensor, got " +
                       TypeName(obj));
}

py::sequence SequenceOf(py::handle obj, const char* name) {
  if (!py::isinstance<py::sequence>(obj) || py::isinstance<py::str>(obj) ||
      py::isinstance<py::bytes>(obj)) {
    throw py::type_error(std::string(name) + ": expected a list, got " + TypeName(obj));
  }
  return py::reinterpret_borrow<py::sequence>(obj);
}

py::sequence SequenceOfLength(py::handle obj, const char* name, std::size_t n) {
  py::sequence seq = SequenceOf(obj, name);
  if (seq.size() != n) {
    throw py::value_error(std::string(name) + " has " + std::to_string(seq.size()) +
                          " entries for " + std::to_string(n) + " keys");
  }
  return seq;
}

}  // namespace

std::string TypeName(py::handle obj) { return py::str(py::type::handle_of(obj).attr("__name__")); }

Borrowed::~Borrowed() {
  for (Py_buffer* view : views) {
    PyBuffer_Release(view);
    delete view;
  }
}

std::vector<BlockKey> KeysFrom(py::handle keys, const char* name) {
  py::sequence seq = SequenceOf(keys, name);
  std::vector<BlockKey> out;
  out.reserve(seq.size());
  for (std::size_t i = 0; i < seq.size(); ++i) {
    py::object item = seq[i];
    if (!PyObject_CheckBuffer(item.ptr()) || py::isinstance<py::str>(item)) {
      throw py::type_error(Where(name, i) + ": expected a 16-byte bytes key, got " +
                           TypeName(item));
    }
    py::buffer_info info = py::reinterpret_borrow<py::buffer>(item).request();
    const auto size = static_cast<std::size_t>(info.size * info.itemsize);
    if (size != BlockKey::kSize || !PyBuffer_IsContiguous(info.view(), 'A')) {
      throw py::value_error(Where(name, i) + ": a key is 16 contiguous bytes, got " +
                            std::to_string(size));
    }
    out.push_back(*BlockKey::FromBytes({static_cast<const char*>(info.ptr), size}));
  }
  return out;
}

std::vector<std::uint32_t> DepthsFrom(py::handle depths, std::int64_t start_depth, std::size_t n) {
  std::vector<std::uint32_t> out(n);
  if (depths.is_none()) {
    constexpr auto kMax = std::numeric_limits<std::uint32_t>::max();
    if (start_depth < 0 || static_cast<std::uint64_t>(start_depth) + n > kMax) {
      throw py::value_error("start_depth: " + std::to_string(start_depth) +
                            " is out of range for " + std::to_string(n) + " blocks");
    }
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint32_t>(start_depth + i);
    return out;
  }
  py::sequence seq = SequenceOfLength(depths, "depths", n);
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = static_cast<std::uint32_t>(
        UnsignedFrom(seq[i], Where("depths", i), std::numeric_limits<std::uint32_t>::max()));
  }
  return out;
}

BlockParts PartsFromBuffers(py::handle buffers, std::size_t n, bool writable, const char* name,
                            Borrowed& borrowed) {
  py::sequence seq = SequenceOfLength(buffers, name, n);
  BlockParts out;
  for (std::size_t i = 0; i < n; ++i) {
    py::object entry = seq[i];
    if (IsPartList(entry)) {
      py::sequence parts = py::reinterpret_borrow<py::sequence>(entry);
      for (std::size_t p = 0; p < parts.size(); ++p) {
        py::object part = parts[p];
        const std::string what = Where(name, i) + "[" + std::to_string(p) + "]";
        if (IsPartList(part)) throw py::type_error(what + ": parts cannot be nested lists");
        out.parts.push_back(PartFromObject(part, writable, what, borrowed));
      }
    } else {
      out.parts.push_back(PartFromObject(entry, writable, Where(name, i), borrowed));
    }
    out.first.push_back(out.parts.size());
  }
  return out;
}

BlockParts PartsFromPointers(py::handle ptrs, py::handle sizes, std::size_t n) {
  constexpr auto kMaxAddress = std::numeric_limits<std::uintptr_t>::max();
  constexpr auto kMaxSize = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  py::sequence ptr_seq = SequenceOfLength(ptrs, "ptrs", n);
  std::optional<py::sequence> size_seq;
  if (!sizes.is_none()) size_seq = SequenceOfLength(sizes, "sizes", n);
  BlockParts out;
  auto add = [&](std::uint64_t address, std::uint64_t size, const std::string& what) {
    if (address == 0 && size != 0) throw py::value_error(what + ": a null address");
    out.parts.push_back({reinterpret_cast<std::byte*>(static_cast<std::uintptr_t>(address)),
                         static_cast<std::size_t>(size)});
  };
  for (std::size_t i = 0; i < n; ++i) {
    py::object entry = ptr_seq[i];
    const std::string what = Where("ptrs", i);
    std::optional<std::uint64_t> expected;
    if (size_seq) expected = UnsignedFrom((*size_seq)[i], Where("sizes", i), kMaxSize);
    if (IsPartList(entry)) {
      py::sequence parts = py::reinterpret_borrow<py::sequence>(entry);
      std::uint64_t total = 0;
      for (std::size_t p = 0; p < parts.size(); ++p) {
        const std::string part_what = what + "[" + std::to_string(p) + "]";
        py::object pair = parts[p];
        if (!IsPartList(pair) || py::len(pair) != 2) {
          throw py::type_error(part_what + ": expected an (address, size) pair, got " +
                               TypeName(pair));
        }
        py::sequence fields = py::reinterpret_borrow<py::sequence>(pair);
        const std::uint64_t size = UnsignedFrom(fields[1], part_what + " size", kMaxSize);
        add(UnsignedFrom(fields[0], part_what + " address", kMaxAddress), size, part_what);
        total += size;
      }
      if (expected && *expected != total) {
        throw py::value_error(what + ": its parts add up to " + std::to_string(total) +
                              " bytes but sizes[" + std::to_string(i) + "] is " +
                              std::to_string(*expected));
      }
    } else {
      if (!expected) {
        throw py::value_error(what + ": a plain address needs its size in sizes (sizes is None)");
      }
      add(UnsignedFrom(entry, what, kMaxAddress), *expected, what);
    }
    out.first.push_back(out.parts.size());
  }
  return out;
}

namespace {
// Fills `spans` with one span per part and `views` with one view (Destination or Source)
// per block over its run of `spans`.
template <typename View, typename Byte>
void MakeViews(const BlockParts& parts, std::vector<std::span<Byte>>& spans,
               std::vector<View>& views) {
  spans.reserve(parts.parts.size());
  for (const RawPart& part : parts.parts) spans.emplace_back(part.data, part.size);
  views.reserve(parts.blocks());
  for (std::size_t i = 0; i < parts.blocks(); ++i) {
    views.push_back({std::span<const std::span<Byte>>(spans).subspan(
        parts.first[i], parts.first[i + 1] - parts.first[i])});
  }
}
}  // namespace

DestinationSet::DestinationSet(const BlockParts& parts) { MakeViews(parts, spans_, views_); }

SourceSet::SourceSet(const BlockParts& parts) { MakeViews(parts, spans_, views_); }

namespace {
// The members of prefixcache.BlockStatus by value; made at import and kept for the life of
// the process (never released, so that no Python object is destroyed after finalisation).
std::vector<PyObject*>* status_members = nullptr;
}  // namespace

void InitBlockStatusEnum(py::module_& module) {
  py::list members;
  const BlockStatus all[] = {BlockStatus::kHit, BlockStatus::kMiss, BlockStatus::kUnavailable,
                             BlockStatus::kTooSmall, BlockStatus::kCorrupt};
  const char* names[] = {"HIT", "MISS", "UNAVAILABLE", "TOO_SMALL", "CORRUPT"};
  for (std::size_t i = 0; i < std::size(all); ++i) {
    members.append(py::make_tuple(names[i], static_cast<int>(all[i])));
  }
  py::object enum_type = py::module_::import("enum").attr("IntEnum")(
      "BlockStatus", members, py::arg("module") = "prefixcache");
  enum_type.attr("__doc__") =
      "What a read made of one key: HIT (the buffer holds exactly the verified payload), MISS "
      "(no node holds it; get_prefix: or it lies past the run), UNAVAILABLE (its nodes were "
      "down, failed or timed out), TOO_SMALL (the buffer is smaller than the payload; the "
      "size says how much is needed), CORRUPT (it failed its checksum).";
  module.attr("BlockStatus") = enum_type;
  status_members = new std::vector<PyObject*>;
  for (BlockStatus status : all) {
    status_members->push_back(enum_type(static_cast<int>(status)).release().ptr());
  }
}

py::object StatusObject(BlockStatus status) {
  return py::reinterpret_borrow<py::object>((*status_members)[static_cast<std::size_t>(status)]);
}

py::list ReadsToList(std::span<const BlockRead> reads) {
  py::list out(reads.size());
  for (std::size_t i = 0; i < reads.size(); ++i) {
    out[i] = py::make_tuple(StatusObject(reads[i].status), reads[i].size);
  }
  return out;
}

}  // namespace prefixcache::python
