// prefixcache.Client: the C++ Client for Python. Arguments are converted under the GIL
// (py_buffers.h), then every network call runs with the GIL released; a down node shows as
// misses, never as an exception. The Client is shared with the PendingRead handles it
// made, so close() while a read runs leaves the read its client until the handle goes.
#include <pybind11/stl.h>

#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "bindings.h"
#include "prefixcache/client.h"
#include "prefixcache/client_config.h"
#include "py_buffers.h"
#include "py_pending_read.h"

namespace prefixcache::python {

namespace {

[[noreturn]] void Raise(const Status& status) {
  if (status.code() == StatusCode::kIoError) {
    PyErr_SetString(PyExc_OSError, status.message().c_str());
    throw py::error_already_set();
  }
  throw py::value_error(status.message());
}

std::vector<NodeAddress> NodesFrom(py::handle nodes) {
  if (!py::isinstance<py::sequence>(nodes) || py::isinstance<py::str>(nodes)) {
    throw py::type_error(
        "nodes: expected a list of (id, 'host:port') or (id, 'host:port', weight)");
  }
  std::vector<NodeAddress> out;
  py::sequence seq = py::reinterpret_borrow<py::sequence>(nodes);
  for (std::size_t i = 0; i < seq.size(); ++i) {
    py::object entry = seq[i];
    const std::string what = "nodes[" + std::to_string(i) + "]";
    if (!py::isinstance<py::tuple>(entry) && !py::isinstance<py::list>(entry)) {
      throw py::type_error(what + ": expected (id, 'host:port') or (id, 'host:port', weight)");
    }
    py::sequence fields = py::reinterpret_borrow<py::sequence>(entry);
    if (fields.size() != 2 && fields.size() != 3) {
      throw py::value_error(what + ": expected 2 or 3 fields, got " +
                            std::to_string(fields.size()));
    }
    NodeAddress node;
    try {
      node.id = fields[0].cast<std::string>();
      node.address = fields[1].cast<std::string>();
      if (fields.size() == 3) node.weight = fields[2].cast<std::uint32_t>();
    } catch (const py::cast_error&) {
      throw py::type_error(what + ": expected (str, str) or (str, str, int)");
    }
    out.push_back(std::move(node));
  }
  return out;
}

py::dict OperationDict(const OperationStats& op) {
  py::dict d;
  d["calls"] = op.calls;
  d["total_us"] = op.total_us;
  d["max_us"] = op.max_us;
  return d;
}

py::dict StatsDict(const ClientStats& s) {
  py::dict d;
  d["hits"] = s.hits;
  d["misses"] = s.misses;
  d["unavailable_misses"] = s.unavailable_misses;
  d["too_small_misses"] = s.too_small_misses;
  d["checksum_failures"] = s.checksum_failures;
  d["match_keys"] = s.match_keys;
  d["match_hits"] = s.match_hits;
  d["bytes_read"] = s.bytes_read;
  d["bytes_written"] = s.bytes_written;
  d["blocks_stored"] = s.blocks_stored;
  d["blocks_not_stored"] = s.blocks_not_stored;
  d["async_puts_dropped"] = s.async_puts_dropped;
  d["async_puts_pending"] = s.async_puts_pending;
  d["ring_mismatches"] = s.ring_mismatches;
  d["reads_cancelled"] = s.reads_cancelled;
  d["match"] = OperationDict(s.match);
  d["get_prefix"] = OperationDict(s.get_prefix);
  d["get"] = OperationDict(s.get);
  d["put"] = OperationDict(s.put);
  d["put_async"] = OperationDict(s.put_async);
  py::list nodes;
  for (const NodeStats& n : s.nodes) {
    py::dict node;
    node["id"] = n.id;
    node["address"] = n.address;
    node["up"] = n.up;
    node["requests"] = n.requests;
    node["errors"] = n.errors;
    node["timeouts"] = n.timeouts;
    node["error_replies"] = n.error_replies;
    node["current_backoff_ms"] = n.current_backoff_ms;
    node["ring_mismatch"] = n.ring_mismatch;
    nodes.append(node);
  }
  d["nodes"] = nodes;
  return d;
}

// Releases a Client share without the GIL (the last share joins the client's threads).
void ReleaseShare(std::shared_ptr<Client>& client) {
  py::gil_scoped_release release;
  client.reset();
}

class PyClient {
 public:
  explicit PyClient(const ClientOptions& options) {
    auto client = Client::Open(options);
    if (!client.ok()) Raise(client.status());
    client_ = std::shared_ptr<Client>(std::move(client).value());
  }
  ~PyClient() { Close(); }

  void Close() {
    if (client_) ReleaseShare(client_);
  }

  std::size_t Match(py::handle keys, std::uint32_t timeout_ms) {
    auto client = Share();
    const std::vector<BlockKey> k = KeysFrom(keys);
    std::size_t n;
    {
      py::gil_scoped_release release;
      n = client->Match(k, timeout_ms);
    }
    ReleaseShare(client);
    return n;
  }

  py::object Read(py::handle keys, py::handle buffers, std::uint32_t timeout_ms, bool prefix) {
    auto client = Share();
    const std::vector<BlockKey> k = KeysFrom(keys);
    Borrowed borrowed;
    const DestinationSet dests(PartsFromBuffers(buffers, k.size(), true, "buffers", borrowed));
    std::vector<BlockRead> reads(k.size());
    Result<std::size_t> result = std::size_t{0};
    {
      py::gil_scoped_release release;
      result = prefix ? client->GetPrefix(k, dests.destinations(), reads, timeout_ms)
                      : client->GetInto(k, dests.destinations(), reads, timeout_ms);
    }
    ReleaseShare(client);
    if (!result.ok()) Raise(result.status());
    if (prefix) return py::int_(*result);
    return ReadsToList(reads);
  }

  py::object ReadPointers(py::handle keys, py::handle ptrs, py::handle sizes,
                          std::uint32_t timeout_ms) {
    auto client = Share();
    const std::vector<BlockKey> k = KeysFrom(keys);
    const DestinationSet dests(PartsFromPointers(ptrs, sizes, k.size()));
    std::vector<BlockRead> reads(k.size());
    Result<std::size_t> result = std::size_t{0};
    {
      py::gil_scoped_release release;
      result = client->GetInto(k, dests.destinations(), reads, timeout_ms);
    }
    ReleaseShare(client);
    if (!result.ok()) Raise(result.status());
    return ReadsToList(reads);
  }

  std::unique_ptr<PyPendingRead> ReadAsync(py::handle keys, py::handle buffers,
                                           std::uint32_t timeout_ms, PyPendingRead::Kind kind) {
    std::vector<BlockKey> k = KeysFrom(keys);
    auto borrowed = std::make_unique<Borrowed>();
    const BlockParts parts = PartsFromBuffers(buffers, k.size(), true, "buffers", *borrowed);
    return std::make_unique<PyPendingRead>(Share(), kind, std::move(k), std::move(borrowed), parts,
                                           timeout_ms);
  }

  py::list Get(py::handle keys, std::uint32_t timeout_ms) {
    auto client = Share();
    const std::vector<BlockKey> k = KeysFrom(keys);
    std::vector<std::optional<Buffer>> values;
    {
      py::gil_scoped_release release;
      values = client->Get(k, timeout_ms);
    }
    ReleaseShare(client);
    py::list out(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (values[i]) {
        out[i] = py::bytes(static_cast<const char*>(static_cast<const void*>(values[i]->data())),
                           values[i]->size());
      } else {
        out[i] = py::none();
      }
    }
    return out;
  }

  py::tuple Put(const std::vector<BlockKey>& k, const BlockParts& parts, py::handle depths,
                std::int64_t start_depth) {
    auto client = Share();
    const std::vector<std::uint32_t> d = DepthsFrom(depths, start_depth, k.size());
    const SourceSet sources(parts);
    Result<PutResult> result = PutResult{};
    {
      py::gil_scoped_release release;
      result = client->Put(k, sources.sources(), d);
    }
    ReleaseShare(client);
    if (!result.ok()) Raise(result.status());
    return py::make_tuple(result->stored, result->not_stored);
  }

  py::tuple PutBuffers(py::handle keys, py::handle values, py::handle depths,
                       std::int64_t start_depth) {
    const std::vector<BlockKey> k = KeysFrom(keys);
    Borrowed borrowed;
    const BlockParts parts = PartsFromBuffers(values, k.size(), false, "values", borrowed);
    return Put(k, parts, depths, start_depth);
  }

  py::tuple PutPointers(py::handle keys, py::handle ptrs, py::handle sizes, py::handle depths,
                        std::int64_t start_depth) {
    const std::vector<BlockKey> k = KeysFrom(keys);
    return Put(k, PartsFromPointers(ptrs, sizes, k.size()), depths, start_depth);
  }

  bool PutAsync(py::handle keys, py::handle values, py::handle depths, std::int64_t start_depth) {
    auto client = Share();
    const std::vector<BlockKey> k = KeysFrom(keys);
    const std::vector<std::uint32_t> d = DepthsFrom(depths, start_depth, k.size());
    Borrowed borrowed;
    const SourceSet sources(PartsFromBuffers(values, k.size(), false, "values", borrowed));
    bool queued;
    {
      py::gil_scoped_release release;
      queued = client->PutAsync(k, sources.sources(), d);
    }
    ReleaseShare(client);
    return queued;
  }

  bool FlushAsync(std::uint32_t timeout_ms) {
    auto client = Share();
    bool flushed;
    {
      py::gil_scoped_release release;
      flushed = client->FlushAsync(timeout_ms);
    }
    ReleaseShare(client);
    return flushed;
  }

  py::tuple Erase(py::handle keys) {
    auto client = Share();
    const std::vector<BlockKey> k = KeysFrom(keys);
    EraseResult result;
    {
      py::gil_scoped_release release;
      result = client->Erase(k);
    }
    ReleaseShare(client);
    return py::make_tuple(result.removed, result.unreachable);
  }

  py::dict Stats() { return StatsDict(Share()->Stats()); }

  bool closed() const { return !client_; }

 private:
  std::shared_ptr<Client> Share() const {
    if (!client_) throw py::value_error("the Client is closed");
    return client_;
  }

  std::shared_ptr<Client> client_;
};

constexpr const char* kReadsDoc =
    "buffers: one per key, each an object with the buffer protocol that accepts writes "
    "(bytearray, NumPy array, writable memoryview), a contiguous CPU torch tensor, or a list "
    "of those parts filled in order. Payloads land in them straight from the socket. "
    "timeout_ms bounds the whole call (0: the client's timeout_ms); the GIL is released "
    "meanwhile.";

}  // namespace

void BindClient(py::module_& m) {
  const ClientOptions defaults;
  py::class_<PyClient>(
      m, "Client",
      "A connection to a cluster of prefixcached nodes: match, read and write blocks, batched "
      "per node and sent to all nodes in parallel. Thread-safe. A node that is down, slow or "
      "failing gives misses (and not_stored), never an exception; only misuse raises "
      "(ValueError, TypeError). A context manager: leaving the block closes the client.")
      .def(py::init([](py::handle nodes, std::uint32_t virtual_nodes, std::uint32_t replicas,
                       std::string password, std::uint32_t timeout_ms,
                       std::uint32_t connect_timeout_ms, std::uint32_t connections_per_node,
                       std::uint32_t backoff_initial_ms, std::uint32_t backoff_max_ms,
                       bool verify_checksums, std::uint32_t io_threads,
                       std::size_t async_put_max_bytes, std::size_t async_put_max_calls, bool tls,
                       std::string tls_ca, std::string tls_cert, std::string tls_key,
                       std::string tls_server_name) {
             ClientOptions o;
             o.nodes = NodesFrom(nodes);
             o.virtual_nodes = virtual_nodes;
             o.replicas = replicas;
             o.password = std::move(password);
             o.timeout_ms = timeout_ms;
             o.connect_timeout_ms = connect_timeout_ms;
             o.connections_per_node = connections_per_node;
             o.backoff_initial_ms = backoff_initial_ms;
             o.backoff_max_ms = backoff_max_ms;
             o.verify_checksums = verify_checksums;
             o.io_threads = io_threads;
             o.async_put_max_bytes = async_put_max_bytes;
             o.async_put_max_calls = async_put_max_calls;
             o.tls = tls;
             o.tls_ca = std::move(tls_ca);
             o.tls_cert = std::move(tls_cert);
             o.tls_key = std::move(tls_key);
             o.tls_server_name = std::move(tls_server_name);
             return std::make_unique<PyClient>(o);
           }),
           py::arg("nodes"), py::kw_only(), py::arg("virtual_nodes") = defaults.virtual_nodes,
           py::arg("replicas") = defaults.replicas, py::arg("password") = defaults.password,
           py::arg("timeout_ms") = defaults.timeout_ms,
           py::arg("connect_timeout_ms") = defaults.connect_timeout_ms,
           py::arg("connections_per_node") = defaults.connections_per_node,
           py::arg("backoff_initial_ms") = defaults.backoff_initial_ms,
           py::arg("backoff_max_ms") = defaults.backoff_max_ms,
           py::arg("verify_checksums") = defaults.verify_checksums,
           py::arg("io_threads") = defaults.io_threads,
           py::arg("async_put_max_bytes") = defaults.async_put_max_bytes,
           py::arg("async_put_max_calls") = defaults.async_put_max_calls,
           py::arg("tls") = defaults.tls, py::arg("tls_ca") = defaults.tls_ca,
           py::arg("tls_cert") = defaults.tls_cert, py::arg("tls_key") = defaults.tls_key,
           py::arg("tls_server_name") = defaults.tls_server_name,
           "nodes: a list of (id, 'host:port') or (id, 'host:port', weight); the ids must be "
           "the daemons' (the ring is placed by id). The options are ClientOptions' fields. "
           "Connects lazily, so this succeeds while nodes are down; ValueError for unusable "
           "options (no nodes, a bad address, a duplicate id, replicas out of range, a TLS "
           "file that cannot be read or a key that does not match its certificate). With "
           "tls=True every connection is TLS, the nodes' certificates verified against "
           "tls_ca (the system's authorities when empty) and tls_server_name (each node's "
           "host when empty); a node that fails the handshake counts as down.")
      .def_static(
          "from_config",
          [](const std::string& path) {
            auto options = ClientOptionsFromConfigFile(path);
            if (!options.ok()) Raise(options.status());
            return std::make_unique<PyClient>(*options);
          },
          py::arg("path"),
          "A client for the cluster of the JSON config at path (the daemons' own file). "
          "OSError when it cannot be read, ValueError naming the field when it is invalid.")
      .def("close", &PyClient::Close,
           "Closes every connection (idempotent). A PendingRead still alive keeps the "
           "connections until it is dropped. Any later call raises ValueError.")
      .def_property_readonly("closed", &PyClient::closed)
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__",
           [](PyClient& self, py::handle, py::handle, py::handle) {
             self.Close();
             return false;
           })
      .def("match", &PyClient::Match, py::arg("keys"), py::arg("timeout_ms") = 0,
           "The number of leading keys that are cached (keys: a list of 16-byte bytes). A node "
           "that does not answer counts as missing.")
      .def(
          "get_prefix",
          [](PyClient& c, py::handle keys, py::handle buffers, std::uint32_t timeout_ms) {
            return c.Read(keys, buffers, timeout_ms, true);
          },
          py::arg("keys"), py::arg("buffers"), py::arg("timeout_ms") = 0,
          (std::string("Fetches the leading cached run of keys in one round trip per node and "
                       "returns its length n: buffers[:n] hold the verified payloads (past "
                       "the run their contents are unspecified). ") +
           kReadsDoc)
              .c_str())
      .def(
          "get_into",
          [](PyClient& c, py::handle keys, py::handle buffers, std::uint32_t timeout_ms) {
            return c.Read(keys, buffers, timeout_ms, false);
          },
          py::arg("keys"), py::arg("buffers"), py::arg("timeout_ms") = 0,
          (std::string("Reads each key's payload into its buffer; returns a list of "
                       "(BlockStatus, size): HIT with the payload's size, TOO_SMALL with the "
                       "size needed, or why it missed. ") +
           kReadsDoc)
              .c_str())
      .def(
          "get_prefix_async",
          [](PyClient& c, py::handle keys, py::handle buffers, std::uint32_t timeout_ms) {
            return c.ReadAsync(keys, buffers, timeout_ms, PyPendingRead::Kind::kGetPrefix);
          },
          py::arg("keys"), py::arg("buffers"), py::arg("timeout_ms") = 0,
          "get_prefix on the client's threads: returns a PendingRead at once (its result() "
          "is the run's length). Do not touch the buffers until its wait() returned True.")
      .def(
          "get_into_async",
          [](PyClient& c, py::handle keys, py::handle buffers, std::uint32_t timeout_ms) {
            return c.ReadAsync(keys, buffers, timeout_ms, PyPendingRead::Kind::kGetInto);
          },
          py::arg("keys"), py::arg("buffers"), py::arg("timeout_ms") = 0,
          "get_into on the client's threads: returns a PendingRead at once (its result() is "
          "the list of (BlockStatus, size)).")
      .def("get_into_ptrs", &PyClient::ReadPointers, py::arg("keys"), py::arg("ptrs"),
           py::arg("sizes") = py::none(), py::arg("timeout_ms") = 0,
           "get_into over raw memory: ptrs[i] is an int address of sizes[i] writable bytes, or "
           "a list of (address, size) parts whose sizes add up to sizes[i] (sizes may be None "
           "when every entry is a list of parts). The memory must stay valid during the call.")
      .def("get", &PyClient::Get, py::arg("keys"), py::arg("timeout_ms") = 0,
           "Each key's payload as bytes, or None for anything but a hit.")
      .def("put", &PyClient::PutBuffers, py::arg("keys"), py::arg("values"),
           py::arg("depths") = py::none(), py::arg("start_depth") = 0,
           "Stores values[i] (an object with the buffer protocol, a contiguous CPU torch "
           "tensor, or a list of those parts, concatenated) under keys[i] at chain position "
           "depths[i] (default start_depth + i; eviction prefers deeper blocks), sent from the "
           "caller's memory without a copy. Returns (stored, not_stored): blocks acknowledged "
           "by a node, and blocks no node acknowledged.")
      .def("put_ptrs", &PyClient::PutPointers, py::arg("keys"), py::arg("ptrs"),
           py::arg("sizes") = py::none(), py::arg("depths") = py::none(),
           py::arg("start_depth") = 0, "put over raw memory: ptrs and sizes as in get_into_ptrs.")
      .def("put_async", &PyClient::PutAsync, py::arg("keys"), py::arg("values"),
           py::arg("depths") = py::none(), py::arg("start_depth") = 0,
           "put that copies the values (reuse them at once) and returns without waiting for "
           "the network. False, with nothing copied, when the queue (async_put_max_bytes, "
           "async_put_max_calls) is full.")
      .def("flush_async", &PyClient::FlushAsync, py::arg("timeout_ms"),
           "Waits until every put_async write has been answered or failed, or timeout_ms "
           "passed. True when none is left.")
      .def("erase", &PyClient::Erase, py::arg("keys"),
           "Removes the keys' blocks from every replica that is up. Returns (removed, "
           "unreachable): copies removed, and keys with a replica that did not answer.")
      .def("stats", &PyClient::Stats,
           "The client's counters since it was opened (ClientStats' fields; 'nodes' is a list "
           "of per-node dicts in ring order).");
}

}  // namespace prefixcache::python
