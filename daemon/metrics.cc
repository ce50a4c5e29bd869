#include "daemon/metrics.h"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>

#include "daemon/command_table.h"
#include "info.h"
#include "listen.h"
#include "secret.h"
#include "stats_fields.h"

namespace prefixcache::daemon {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;
using tcp = asio::ip::tcp;

class Page {
 public:
  explicit Page(std::string& out) : out_(out) {}

  void Header(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP prefixcache_";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE prefixcache_";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  void Sample(std::string_view name, std::string_view labels, std::uint64_t value) {
    Line(name, labels);
    out_ += std::to_string(value);
    out_ += '\n';
  }
  void Sample(std::string_view name, std::string_view labels, double value) {
    Line(name, labels);
    char text[64];
    std::snprintf(text, sizeof text, "%.9g", value);
    out_ += text;
    out_ += '\n';
  }
  // A metric with one unlabelled sample.
  void Single(std::string_view name, std::string_view type, std::string_view help,
              std::uint64_t value) {
    Header(name, type, help);
    Sample(name, {}, value);
  }

 private:
  void Line(std::string_view name, std::string_view labels) {
    out_ += "prefixcache_";
    out_ += name;
    if (!labels.empty()) {
      out_ += '{';
      out_ += labels;
      out_ += '}';
    }
    out_ += ' ';
  }
  std::string& out_;
};

std::uint64_t Load(const ShardedCounter& counter) { return counter.Load(); }

// Label values may hold any bytes: escape backslash, quote and newline.
std::string LabelValue(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void TierMetrics(Page& page, const storage::StoreStats& s) {
  for (const TierField& field : TierFields()) {
    std::string name = "tier_" + std::string(field.name);
    if (field.type == MetricType::kCounter) name += "_total";
    page.Header(name, MetricTypeName(field.type), field.help);
    page.Sample(name, "tier=\"memory\"", s.memory.*field.member);
    page.Sample(name, "tier=\"spill\"", s.spill.*field.member);
  }
}

void CounterMetrics(Page& page, const CounterSources& sources) {
  for (const CounterField& field : CounterFields()) {
    if (field.metric.empty()) continue;
    page.Single(field.metric, MetricTypeName(field.type), field.help, field.read(sources));
  }
}

}  // namespace

std::string RenderMetrics(const MetricsSources& sources) {
  const ServerStats& n = sources.server;
  const CommandStats& c = sources.commands;
  const storage::StoreStats s = sources.store.Stats();
  std::string out;
  out.reserve(16 * 1024);
  Page page(out);

  page.Header("info", "gauge", "Constant 1, labelled with the version and node id.");
  page.Sample("info",
              "version=\"" PREFIXCACHE_VERSION "\",node_id=\"" + LabelValue(sources.node_id) + "\"",
              std::uint64_t{1});
  page.Single("uptime_seconds", "gauge", "Seconds since the daemon started.",
              static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                             std::chrono::steady_clock::now() - n.started_at)
                                             .count()));

  // One counter per command, `scale` times the count (1e-9 turns nanoseconds into seconds).
  const auto per_command = [&page](std::string_view name, std::string_view help,
                                   const std::array<ShardedCounter, kCommandCount>& counters,
                                   double scale) {
    page.Header(name, "counter", help);
    for (const CommandSpec& spec : AllCommands()) {
      const std::uint64_t count = Load(counters[static_cast<std::size_t>(spec.id)]);
      const std::string labels = "command=\"" + std::string(spec.name) + "\"";
      if (scale == 1) {
        page.Sample(name, labels, count);
      } else {
        page.Sample(name, labels, static_cast<double>(count) * scale);
      }
    }
  };
  per_command("commands_total", "Commands run, by command.", c.calls, 1);
  per_command("commands_rejected_total",
              "Commands refused before running (arity, authentication), by command.",
              c.rejected_calls, 1);
  per_command("command_seconds_total", "Seconds spent running commands, by command.", c.nanoseconds,
              1e-9);
  CounterMetrics(page, CounterSources{n, c, s});
  page.Single("connections", "gauge", "Client connections open now.",
              static_cast<std::uint64_t>(std::max<std::int64_t>(0, n.connected_clients.load())));
  page.Single("blocks", "gauge", "Blocks held in any tier.", sources.store.Size());
  TierMetrics(page, s);
  page.Single("spill_enabled", "gauge", "1 when the spill tier is configured on.",
              s.spill_enabled ? 1 : 0);
  page.Single("spill_healthy", "gauge", "1 while the spill tier is open and writing.",
              s.spill_healthy ? 1 : 0);
  page.Single("resident_memory_bytes", "gauge", "Resident set size of the process.",
              ResidentBytes());

  page.Header("request_duration_seconds", "histogram",
              "Time from a request being parsed to its reply being queued.");
  std::uint64_t cumulative = 0;
  char label[48];
  for (std::size_t i = 0; i < LatencyHistogram::kBoundsUs.size(); ++i) {
    cumulative += n.latency.BucketCount(i);
    std::snprintf(label, sizeof label, "le=\"%g\"",
                  static_cast<double>(LatencyHistogram::kBoundsUs[i]) / 1e6);
    page.Sample("request_duration_seconds_bucket", label, cumulative);
  }
  cumulative += n.latency.BucketCount(LatencyHistogram::kBoundsUs.size());
  page.Sample("request_duration_seconds_bucket", "le=\"+Inf\"", cumulative);
  page.Sample("request_duration_seconds_sum", {}, static_cast<double>(n.latency.SumNs()) / 1e9);
  page.Sample("request_duration_seconds_count", {}, cumulative);
  return out;
}

namespace {

// One HTTP connection: requests in a loop (keep-alive), 30 s per request.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, const MetricsSources& sources, const Secret& token)
      : stream_(std::move(socket)), sources_(sources), token_(token) {}

  void Read() {
    request_ = {};
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(
        stream_, buffer_, request_,
        [self = shared_from_this()](const error_code& ec, std::size_t) { self->OnRead(ec); });
  }

 private:
  void OnRead(const error_code& ec) {
    if (ec) {
      error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      return;
    }
    auto response = std::make_shared<http::response<http::string_body>>();
    response->version(request_.version());
    response->keep_alive(request_.keep_alive());
    response->set(http::field::server, "prefixcached");
    const auto target = request_.target();
    const bool metrics_path = target == "/metrics" || target.starts_with("/metrics?");
    // Supervisors and load balancers probe without credentials; the probes tell only
    // whether the node serves (docs/security.md).
    const bool probe = target == "/healthz" || target == "/readyz";
    if (!probe && !Authorized()) {
      response->result(http::status::unauthorized);
      response->set(http::field::www_authenticate, "Bearer realm=\"prefixcached\"");
      response->set(http::field::content_type, "text/plain; charset=utf-8");
      response->body() = "unauthorized: send Authorization: Bearer <metrics.bearer_token>\n";
    } else if (request_.method() != http::verb::get && request_.method() != http::verb::head) {
      response->result(http::status::method_not_allowed);
      response->set(http::field::allow, "GET, HEAD");
      response->set(http::field::content_type, "text/plain; charset=utf-8");
      response->body() = "method not allowed\n";
    } else if (target == "/healthz") {
      response->result(http::status::ok);
      response->set(http::field::content_type, "text/plain; charset=utf-8");
      response->body() = "ok\n";
    } else if (target == "/readyz") {
      std::string reason = sources_.not_ready ? sources_.not_ready() : std::string();
      response->result(reason.empty() ? http::status::ok : http::status::service_unavailable);
      response->set(http::field::content_type, "text/plain; charset=utf-8");
      response->body() = reason.empty() ? "ready\n" : "not ready: " + reason + "\n";
    } else if (metrics_path) {
      response->result(http::status::ok);
      response->set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      response->body() = RenderMetrics(sources_);
    } else if (target == "/") {
      response->result(http::status::ok);
      response->set(http::field::content_type, "text/plain; charset=utf-8");
      response->body() =
          "prefixcached: Prometheus metrics at /metrics, probes at /healthz and /readyz\n";
    } else {
      response->result(http::status::not_found);
      response->set(http::field::content_type, "text/plain; charset=utf-8");
      response->body() = "not found; metrics are at /metrics\n";
    }
    response->prepare_payload();
    if (request_.method() == http::verb::head) response->body().clear();
    http::async_write(stream_, *response,
                      [self = shared_from_this(), response](const error_code& e, std::size_t) {
                        if (e || !response->keep_alive()) {
                          error_code ignored;
                          self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                          return;
                        }
                        self->Read();
                      });
  }

  // Whether the request carries the configured token (always, when none is configured).
  bool Authorized() const {
    if (token_.empty()) return true;
    constexpr std::string_view kScheme = "Bearer ";
    const auto it = request_.find(http::field::authorization);
    if (it == request_.end()) return false;
    const std::string_view value(it->value().data(), it->value().size());
    if (value.size() < kScheme.size()) return false;
    for (std::size_t i = 0; i < kScheme.size(); ++i) {
      // The scheme name is case-insensitive (RFC 9110); the token is not.
      if (std::tolower(static_cast<unsigned char>(value[i])) !=
          std::tolower(static_cast<unsigned char>(kScheme[i]))) {
        return false;
      }
    }
    return token_.Matches(value.substr(kScheme.size()));
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_{8192};
  http::request<http::string_body> request_;
  const MetricsSources& sources_;
  const Secret& token_;
};

}  // namespace

MetricsServer::MetricsServer(MetricsSources sources, std::string_view bearer_token)
    : sources_(std::move(sources)), token_(std::make_unique<const Secret>(bearer_token)) {}

MetricsServer::~MetricsServer() { Stop(); }

Status MetricsServer::Start(const std::string& host, std::uint16_t port) {
  auto bound = Listen(acceptor_, host, port, "metrics");
  if (!bound.ok()) return bound.status();
  address_ = FormatEndpoint(*bound);
  Accept();
  thread_ = std::thread([this] {
    for (;;) {
      try {
        context_.run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("metrics thread: unexpected exception: {}", e.what());
      }
    }
  });
  return Status::Ok();
}

void MetricsServer::Accept() {
  acceptor_.async_accept([this](const error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec) std::make_shared<HttpSession>(std::move(socket), sources_, *token_)->Read();
    Accept();
  });
}

void MetricsServer::Stop() {
  if (!thread_.joinable()) return;
  context_.stop();
  thread_.join();
  error_code ignored;
  acceptor_.close(ignored);
}

}  // namespace prefixcache::daemon
