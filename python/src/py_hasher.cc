// prefixcache.Namespace and prefixcache.Hasher: the keys of client_lib's hasher.h, byte for
// byte (the same C++ code computes them).
#include <pybind11/stl.h>

#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <type_traits>

#include "bindings.h"
#include "prefixcache/hasher.h"
#include "py_buffers.h"

namespace prefixcache::python {

namespace {

py::bytes KeyBytes(const BlockKey& key) { return py::bytes(std::string(key.View())); }

template <typename T>
void AppendTokens(const py::buffer_info& info, std::vector<std::uint32_t>& out) {
  const auto* data = static_cast<const T*>(info.ptr);
  for (py::ssize_t i = 0; i < info.size; ++i) {
    const T token = data[i];
    bool negative = false;
    if constexpr (std::is_signed_v<T>) negative = token < 0;
    if (negative || static_cast<std::uint64_t>(token) > std::numeric_limits<std::uint32_t>::max()) {
      throw py::value_error("tokens[" + std::to_string(i) + "]: " + std::to_string(token) +
                            " is not a token id (0 .. 2**32 - 1)");
    }
    out.push_back(static_cast<std::uint32_t>(token));
  }
}

// Token ids from a list of ints or a one-dimensional NumPy integer array (any integer dtype).
std::vector<std::uint32_t> TokensFrom(py::handle tokens, const char* name) {
  std::vector<std::uint32_t> out;
  if (PyObject_CheckBuffer(tokens.ptr()) && !py::isinstance<py::bytes>(tokens) &&
      !py::isinstance<py::bytearray>(tokens)) {
    py::buffer_info info = py::reinterpret_borrow<py::buffer>(tokens).request();
    if (info.ndim != 1) {
      throw py::value_error(std::string(name) + ": expected a one-dimensional array, got " +
                            std::to_string(info.ndim) + " dimensions");
    }
    if (info.strides[0] != info.itemsize) {
      throw py::value_error(std::string(name) + ": the array is not contiguous");
    }
    out.reserve(static_cast<std::size_t>(info.size));
    // The format's last character is its type (a leading '<', '=' or '@' is the byte order,
    // native here: NumPy gives non-native orders as '>' which the switch rejects).
    const std::string& format = info.format;
    const char type =
        format.empty() || format.front() == '>' || format.front() == '!' ? '?' : format.back();
    switch (type) {
      case 'b':
        AppendTokens<std::int8_t>(info, out);
        break;
      case 'B':
        AppendTokens<std::uint8_t>(info, out);
        break;
      case 'h':
        AppendTokens<std::int16_t>(info, out);
        break;
      case 'H':
        AppendTokens<std::uint16_t>(info, out);
        break;
      case 'i':
        AppendTokens<std::int32_t>(info, out);
        break;
      case 'I':
        AppendTokens<std::uint32_t>(info, out);
        break;
      case 'l':
      case 'q':
        AppendTokens<std::int64_t>(info, out);
        break;
      case 'L':
      case 'Q':
        AppendTokens<std::uint64_t>(info, out);
        break;
      default:
        throw py::type_error(std::string(name) + ": expected an integer array, got format '" +
                             format + "'");
    }
    return out;
  }
  if (!py::isinstance<py::sequence>(tokens) || py::isinstance<py::str>(tokens) ||
      py::isinstance<py::bytes>(tokens) || py::isinstance<py::bytearray>(tokens)) {
    throw py::type_error(std::string(name) + ": expected a list of ints or an integer array, got " +
                         TypeName(tokens));
  }
  py::sequence seq = py::reinterpret_borrow<py::sequence>(tokens);
  out.reserve(seq.size());
  for (std::size_t i = 0; i < seq.size(); ++i) {
    py::object item = seq[i];
    // An integer of any kind (int, NumPy scalars) but not a bool or a float.
    if (py::isinstance<py::bool_>(item) || !PyIndex_Check(item.ptr())) {
      throw py::type_error(std::string(name) + "[" + std::to_string(i) +
                           "]: expected an int, got " + TypeName(item));
    }
    const py::int_ value(item);
    if (value < py::int_(0) || value > py::int_(std::numeric_limits<std::uint32_t>::max())) {
      throw py::value_error(std::string(name) + "[" + std::to_string(i) + "]: " +
                            std::string(py::repr(value)) + " is not a token id (0 .. 2**32 - 1)");
    }
    out.push_back(value.cast<std::uint32_t>());
  }
  return out;
}

Hasher MakeHasher(const Namespace& ns) {
  auto hasher = Hasher::Create(ns);
  if (!hasher.ok()) throw py::value_error(hasher.status().message());
  return std::move(hasher).value();
}

}  // namespace

void BindHasher(py::module_& m) {
  py::class_<Namespace>(m, "Namespace",
                        "Everything that makes KV bytes incompatible: blocks are shared only "
                        "between workers whose Namespace is equal field by field.")
      .def(py::init([](std::string model_id, std::string model_revision, std::string dtype,
                       std::string kv_layout, std::uint32_t block_size_tokens,
                       std::string lora_adapter, std::string tenant_salt) {
             return Namespace{std::move(model_id),   std::move(model_revision),
                              std::move(dtype),      std::move(kv_layout),
                              block_size_tokens,     std::move(lora_adapter),
                              std::move(tenant_salt)};
           }),
           py::kw_only(), py::arg("model_id"), py::arg("model_revision"), py::arg("dtype"),
           py::arg("kv_layout"), py::arg("block_size_tokens"), py::arg("lora_adapter") = "",
           py::arg("tenant_salt") = "")
      .def_readwrite("model_id", &Namespace::model_id)
      .def_readwrite("model_revision", &Namespace::model_revision)
      .def_readwrite("dtype", &Namespace::dtype)
      .def_readwrite("kv_layout", &Namespace::kv_layout)
      .def_readwrite("block_size_tokens", &Namespace::block_size_tokens)
      .def_readwrite("lora_adapter", &Namespace::lora_adapter)
      .def_readwrite("tenant_salt", &Namespace::tenant_salt)
      .def("__eq__",
           [](const Namespace& a, const Namespace& b) {
             return a.model_id == b.model_id && a.model_revision == b.model_revision &&
                    a.dtype == b.dtype && a.kv_layout == b.kv_layout &&
                    a.block_size_tokens == b.block_size_tokens &&
                    a.lora_adapter == b.lora_adapter && a.tenant_salt == b.tenant_salt;
           })
      .def("__repr__", [](const Namespace& ns) {
        return "Namespace(model_id=" + std::string(py::repr(py::str(ns.model_id))) +
               ", model_revision=" + std::string(py::repr(py::str(ns.model_revision))) +
               ", dtype=" + std::string(py::repr(py::str(ns.dtype))) +
               ", kv_layout=" + std::string(py::repr(py::str(ns.kv_layout))) +
               ", block_size_tokens=" + std::to_string(ns.block_size_tokens) +
               ", lora_adapter=" + std::string(py::repr(py::str(ns.lora_adapter))) +
               ", tenant_salt=" + std::string(py::repr(py::str(ns.tenant_salt))) + ")";
      });

  py::class_<Hasher>(m, "Hasher",
                     "Turns a prompt's tokens into chained 16-byte block keys for one Namespace "
                     "(the layout of client_lib's hasher.h). Immutable and thread-safe.")
      .def(py::init(&MakeHasher), py::arg("namespace"), "ValueError when block_size_tokens is 0.")
      .def_property_readonly(
          "seed", [](const Hasher& h) { return KeyBytes(h.seed()); },
          "The namespace seed (16 bytes): the key before the first block.")
      .def_property_readonly("block_size", &Hasher::block_size, "Tokens per block.")
      .def(
          "keys",
          [](const Hasher& h, py::handle tokens) {
            const std::vector<std::uint32_t> ids = TokensFrom(tokens, "tokens");
            std::vector<BlockKey> keys;
            {
              py::gil_scoped_release release;
              keys = h.Keys(ids);
            }
            py::list out(keys.size());
            for (std::size_t i = 0; i < keys.size(); ++i) out[i] = KeyBytes(keys[i]);
            return out;
          },
          py::arg("tokens"),
          "One 16-byte key per full block of tokens (a list of ints or a NumPy integer "
          "array); key i covers tokens[0 : (i + 1) * block_size]. A trailing partial block "
          "is not hashed.")
      .def(
          "next",
          [](const Hasher& h, py::handle prev, py::handle block_tokens) {
            const BlockKey prev_key = KeysFrom(py::make_tuple(prev), "prev_key").front();
            const std::vector<std::uint32_t> ids = TokensFrom(block_tokens, "block_tokens");
            if (ids.size() != h.block_size()) {
              throw py::value_error("block_tokens has " + std::to_string(ids.size()) +
                                    " tokens; a block has " + std::to_string(h.block_size()));
            }
            return KeyBytes(h.Next(prev_key, ids));
          },
          py::arg("prev_key"), py::arg("block_tokens"),
          "The key of the block block_tokens (exactly block_size tokens) following the block "
          "whose key is prev_key (pass seed for the first block).")
      .def(
          "key_of",
          [](const Hasher& h, py::handle name) {
            std::string bytes;
            if (py::isinstance<py::str>(name)) {
              bytes = name.cast<std::string>();  // UTF-8
            } else if (py::isinstance<py::bytes>(name)) {
              bytes = py::reinterpret_borrow<py::bytes>(name);
            } else if (py::isinstance<py::bytearray>(name)) {
              bytes.assign(PyByteArray_AsString(name.ptr()),
                           static_cast<std::size_t>(PyByteArray_Size(name.ptr())));
            } else {
              throw py::type_error("name: expected str or bytes, got " + TypeName(name));
            }
            return KeyBytes(h.KeyOf(std::as_bytes(std::span(bytes.data(), bytes.size()))));
          },
          py::arg("name"),
          "The 16-byte key of a block the engine names itself instead of by its tokens (a "
          "str, hashed as UTF-8, or bytes): XXH3-128 of seed || the name's bytes. SGLang's "
          "page-hash strings become keys this way.");
}

}  // namespace prefixcache::python
