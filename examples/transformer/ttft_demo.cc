// ttft_demo: time-to-first-token with and without prefixcache, on a real (small) transformer,
// in processes that share nothing but the cluster. For each shared fraction (rounded down
// to whole blocks) and each repeat:
//   1. a writer process (transformer_worker --mode store) computes a prompt and stores every
//      block; the demo stops unless every block was stored;
//   2. with --cluster-down N, the first N nodes (by id) are SIGKILLed;
//   3. another process (transformer_worker --mode compare) runs a prompt that shares that
//      fraction of its tokens with the writer's -- without the cache, then with it -- and
//      reports both times-to-first-token and whether tokens and logits are bit-identical;
//   4. killed nodes are restarted, and both prompts' blocks erased so that the next repeat
//      finds nothing of this one (every repeat also draws fresh tokens).
// One JSON line per fraction, medians over the repeats. Exit 1 when a worker failed or any
// output was not identical, 2 for a bad command line.
//
//   ttft_demo --config FILE [--prompt-tokens 4096] [--shared 0,0.5,0.9,0.99] [--decode 16]
//             [--repeat 5] [--block-tokens 64] [--cluster-down N] [--threads 1]
//             [--layers 8 --dim 512 --heads 8 --hidden 1408 --vocab 32000 --seed 1]
//
// Without --cluster-down the cluster of FILE must be running; with it the demo starts the
// cluster itself (scripts/cluster.sh start, run folder in a temporary directory) and stops
// it at the end.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kv_worker.h"
#include "prefixcache/client.h"
#include "prefixcache/client_config.h"
#include "prefixcache/hasher.h"

namespace {

using namespace prefixcache::examples;

struct ChildResult {
  int exit_code = -1;  // -1 when it did not exit normally
  std::string out;     // its stdout (its stderr goes to ours)
};

// Runs argv[0] with argv to completion, capturing stdout.
ChildResult RunChild(const std::vector<std::string>& argv) {
  ChildResult result;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return result;
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  if (pid < 0) {
    close(fds[0]);
    return result;
  }
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) result.out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::vector<std::uint32_t> Concat(const std::vector<std::uint32_t>& a,
                                  const std::vector<std::uint32_t>& b) {
  std::vector<std::uint32_t> out = a;
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Time-to-first-token with and without prefixcache on a small transformer"};
  std::string config_path, shared_list = "0,0.5,0.9,0.99";
  int prompt_tokens = 4096, decode = 16, repeat = 5, cluster_down = -1, threads = 1;
  Config config;
  app.add_option("--config", config_path, "the cluster's config file")->required();
  app.add_option("--prompt-tokens", prompt_tokens)->check(CLI::Range(2, 1 << 20));
  app.add_option("--shared", shared_list, "shared fractions, comma-separated");
  app.add_option("--decode", decode)->check(CLI::Range(0, 4096));
  app.add_option("--repeat", repeat)->check(CLI::Range(1, 1000));
  app.add_option("--block-tokens", config.block_tokens)->check(CLI::Range(1, 4096));
  app.add_option("--cluster-down", cluster_down,
                 "start the cluster here and SIGKILL this many nodes before each cached run")
      ->check(CLI::Range(0, 1000));
  app.add_option("--threads", threads, "OpenBLAS threads of each worker")
      ->check(CLI::Range(1, 256));
  app.add_option("--layers", config.layers);
  app.add_option("--dim", config.dim);
  app.add_option("--heads", config.heads);
  app.add_option("--hidden", config.hidden);
  app.add_option("--vocab", config.vocab)->check(CLI::Range(1, 1 << 24));
  app.add_option("--seed", config.seed);
  CLI11_PARSE(app, argc, argv);

  std::vector<double> fractions;
  for (std::size_t pos = 0; pos <= shared_list.size();) {
    const std::size_t comma = std::min(shared_list.find(',', pos), shared_list.size());
    char* end = nullptr;
    const std::string item = shared_list.substr(pos, comma - pos);
    const double f = std::strtod(item.c_str(), &end);
    if (item.empty() || *end != '\0' || f < 0 || f > 1) {
      std::fprintf(stderr, "ttft_demo: --shared: expected fractions in [0, 1], got '%s'\n",
                   item.c_str());
      return 2;
    }
    fractions.push_back(f);
    pos = comma + 1;
  }
  auto options = prefixcache::ClientOptionsFromConfigFile(config_path);
  if (!options.ok()) {
    std::fprintf(stderr, "ttft_demo: %s\n", options.status().ToString().c_str());
    return 2;
  }
  std::vector<std::string> node_ids;
  for (const auto& n : options->nodes) node_ids.push_back(n.id);
  std::sort(node_ids.begin(), node_ids.end());
  if (cluster_down > static_cast<int>(node_ids.size())) {
    std::fprintf(stderr, "ttft_demo: --cluster-down %d: the cluster has %zu nodes\n", cluster_down,
                 node_ids.size());
    return 2;
  }
  auto hasher = prefixcache::Hasher::Create(DemoNamespace(config));
  if (!hasher.ok()) {
    std::fprintf(stderr, "ttft_demo: %s\n", hasher.status().ToString().c_str());
    return 2;
  }

  const std::string bin_dir = std::filesystem::read_symlink("/proc/self/exe").parent_path();
  const std::string worker = bin_dir + "/transformer_worker";
  char dir_template[] = "/tmp/ttft_demo.XXXXXX";
  if (mkdtemp(dir_template) == nullptr) {
    std::fprintf(stderr, "ttft_demo: cannot make a temporary folder\n");
    return 1;
  }
  const std::string dir = dir_template;
  const std::string cluster_sh = std::string(PREFIXCACHE_SOURCE_DIR) + "/scripts/cluster.sh";
  auto cluster = [&](const std::string& verb, const std::string& node) {
    std::vector<std::string> args = {"/bin/bash", cluster_sh, verb, config_path};
    if (!node.empty()) args.push_back(node);
    for (const std::string& a :
         {std::string("--run-dir"), dir + "/run", std::string("--bin-dir"), bin_dir})
      args.push_back(a);
    ChildResult r = RunChild(args);
    if (r.exit_code != 0)
      std::fprintf(stderr, "ttft_demo: cluster.sh %s %s failed\n", verb.c_str(), node.c_str());
    return r.exit_code == 0;
  };
  if (cluster_down >= 0 && !cluster("start", "")) return 1;

  std::vector<std::string> model_flags = {"--config",       config_path,
                                          "--decode",       std::to_string(decode),
                                          "--block-tokens", std::to_string(config.block_tokens),
                                          "--layers",       std::to_string(config.layers),
                                          "--dim",          std::to_string(config.dim),
                                          "--heads",        std::to_string(config.heads),
                                          "--hidden",       std::to_string(config.hidden),
                                          "--vocab",        std::to_string(config.vocab),
                                          "--seed",         std::to_string(config.seed),
                                          "--threads",      std::to_string(threads)};
  auto worker_args = [&](const std::string& mode, const std::string& prompt) {
    std::vector<std::string> args = {worker, "--mode", mode, "--prompt", prompt};
    args.insert(args.end(), model_flags.begin(), model_flags.end());
    return args;
  };

  bool all_ok = true;
  const std::size_t block = config.block_tokens;
  for (std::size_t fi = 0; fi < fractions.size() && all_ok; ++fi) {
    const double f = fractions[fi];
    const std::size_t shared = static_cast<std::size_t>(f * prompt_tokens) / block * block;
    std::vector<double> uncached, cached, fetch, suffix, fetched, cached_tokens;
    bool tokens_identical = true, logits_identical = true;
    for (int r = 0; r < repeat && all_ok; ++r) {
      const std::uint64_t seed = (fi + 1) * 1000003ull + static_cast<std::uint64_t>(r) * 7919;
      const auto prefix = RandomTokens(seed, shared, config.vocab);
      const auto writer_prompt =
          Concat(prefix, RandomTokens(seed + 1, prompt_tokens - shared, config.vocab));
      const auto reader_prompt =
          Concat(prefix, RandomTokens(seed + 2, prompt_tokens - shared, config.vocab));
      const std::string writer_file = dir + "/writer.tokens", reader_file = dir + "/reader.tokens";
      if (!WriteTokens(writer_file, writer_prompt).ok() ||
          !WriteTokens(reader_file, reader_prompt).ok()) {
        std::fprintf(stderr, "ttft_demo: cannot write prompt files in %s\n", dir.c_str());
        all_ok = false;
        break;
      }
      if (shared > 0) {
        ChildResult w = RunChild(worker_args("store", writer_file));
        if (w.exit_code != 0) {
          std::fprintf(stderr, "ttft_demo: the writer did not store every block: %s",
                       w.out.c_str());
          all_ok = false;
          break;
        }
      }
      for (int k = 0; k < std::max(cluster_down, 0); ++k) all_ok &= cluster("kill", node_ids[k]);
      ChildResult c = RunChild(worker_args("compare", reader_file));
      for (int k = 0; k < std::max(cluster_down, 0); ++k) all_ok &= cluster("restart", node_ids[k]);
      {
        // Both prompts' blocks go, so the next repeat starts from an empty cluster (a fresh
        // client: the one of a killed node's first life would still back off).
        auto client = prefixcache::Client::Open(*options);
        if (client.ok()) {
          (void)(*client)->Erase(hasher->Keys(writer_prompt));
          (void)(*client)->Erase(hasher->Keys(reader_prompt));
        }
      }
      nlohmann::json j = nlohmann::json::parse(c.out, nullptr, /*allow_exceptions=*/false);
      if (c.exit_code < 0 || c.exit_code > 1 || !j.is_object()) {
        std::fprintf(stderr, "ttft_demo: the worker failed (exit %d): %s", c.exit_code,
                     c.out.c_str());
        all_ok = false;
        break;
      }
      std::fprintf(stderr, "shared %.2f repeat %d: %s", f, r + 1, c.out.c_str());
      uncached.push_back(j.value("ttft_ms_uncached", 0.0));
      cached.push_back(j.value("ttft_ms_cached", 0.0));
      fetch.push_back(j.value("fetch_ms", 0.0));
      suffix.push_back(j.value("suffix_compute_ms", 0.0));
      fetched.push_back(j.value("fetched_bytes", 0.0));
      cached_tokens.push_back(j.value("cached_tokens", 0.0));
      tokens_identical &= j.value("tokens_identical", false);
      logits_identical &= j.value("logits_identical", false);
    }
    if (!all_ok) break;
    nlohmann::ordered_json line;  // the fields in the order the issue lists them
    line["shared"] = f;
    line["prompt_tokens"] = prompt_tokens;
    line["cached_tokens"] = static_cast<std::uint64_t>(Median(cached_tokens));
    line["ttft_ms_uncached"] = Median(uncached);
    line["ttft_ms_cached"] = Median(cached);
    line["speedup"] = Median(uncached) / Median(cached);
    line["fetch_ms"] = Median(fetch);
    line["fetched_bytes"] = static_cast<std::uint64_t>(Median(fetched));
    line["suffix_compute_ms"] = Median(suffix);
    line["tokens_identical"] = tokens_identical;
    line["logits_identical"] = logits_identical;
    std::printf("%s\n", line.dump().c_str());
    std::fflush(stdout);
    all_ok &= tokens_identical && logits_identical;
  }
  if (cluster_down >= 0) cluster("stop", "");
  std::filesystem::remove_all(dir);
  return all_ok ? 0 : 1;
}
