#include "transformer.h"

#include <cblas.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "prefixcache/check.h"

namespace prefixcache::examples {

std::size_t Config::block_bytes() const {
  return static_cast<std::size_t>(layers) * 2 * block_tokens * dim * sizeof(float);
}

namespace {

// Weights: uniform in [-scale, scale) from a splitmix64 stream, the same on every host.
void Fill(std::vector<float>& v, std::size_t n, float scale, std::uint64_t& state) {
  v.resize(n);
  for (float& f : v) {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    f = (static_cast<float>(z >> 40) * (1.0f / 16777216.0f) * 2.0f - 1.0f) * scale;
  }
}

// out = x W^T for `rows` rows: x [rows][in], W [out][in], out [rows][ldc]; beta 1 adds
// into out (the residual connections).
void Matmul(float* out, int ldc, const float* x, const std::vector<float>& w, int rows, int in,
            int out_dim, float beta) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out_dim, in, 1.0f, x, in, w.data(), in,
              beta, out, ldc);
}

void Rmsnorm(float* out, const float* x, const std::vector<float>& weight, int rows, int dim) {
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + static_cast<std::size_t>(r) * dim;
    float* o = out + static_cast<std::size_t>(r) * dim;
    float ss = 0.0f;
    for (int i = 0; i < dim; ++i) ss += xr[i] * xr[i];
    const float scale = 1.0f / std::sqrt(ss / static_cast<float>(dim) + 1e-5f);
    for (int i = 0; i < dim; ++i) o[i] = weight[i] * (scale * xr[i]);
  }
}

// exp(x) for x <= 0 (softmax after subtracting the maximum), to about 2 ulp: x = n ln2 + r
// with |r| <= ln2 / 2, e^r by its degree-6 Taylor polynomial, 2^n through the exponent
// bits. Plain arithmetic, so the compiler vectorises the softmax loop (libm's expf is
// scalar); the same inputs give the same bits every time.
inline float ExpNonPositive(float x) {
  x = std::max(x, -87.0f);
  const float shifter = 12582912.0f;  // 1.5 x 2^23: adding it rounds to an integer
  const float t = x * 1.44269504f + shifter;
  const float n = t - shifter;
  const std::int32_t ni = std::bit_cast<std::int32_t>(t) - std::bit_cast<std::int32_t>(shifter);
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;  // ln2 in two parts
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  return p * std::bit_cast<float>((ni + 127) << 23);
}

// Softmax over row[0 .. valid), zeros in row[valid .. width) (the causal mask).
void Softmax(float* row, int valid, int width) {
  float max = row[0];
  for (int j = 1; j < valid; ++j) max = std::max(max, row[j]);
  float sum = 0.0f;
  for (int j = 0; j < valid; ++j) {
    row[j] = ExpNonPositive(row[j] - max);
    sum += row[j];
  }
  const float inv = 1.0f / sum;
  for (int j = 0; j < valid; ++j) row[j] *= inv;
  std::fill(row + valid, row + width, 0.0f);
}

// Rotates each head's pairs (2i, 2i + 1) of `rows` rows at positions pos0.. by the angle
// pos x 10000^(-2i / head_dim).
void Rope(float* x, int ld, int rows, std::size_t pos0, int heads, int head_dim,
          const std::vector<float>& cos_table, const std::vector<float>& sin_table) {
  const int half = head_dim / 2;
  for (int r = 0; r < rows; ++r) {
    const float* c = cos_table.data() + (pos0 + r) * half;
    const float* s = sin_table.data() + (pos0 + r) * half;
    for (int h = 0; h < heads; ++h) {
      float* v = x + static_cast<std::size_t>(r) * ld + h * head_dim;
      for (int i = 0; i < half; ++i) {
        const float a = v[2 * i], b = v[2 * i + 1];
        v[2 * i] = a * c[i] - b * s[i];
        v[2 * i + 1] = a * s[i] + b * c[i];
      }
    }
  }
}

}  // namespace

Transformer::Transformer(const Config& config, std::size_t capacity_tokens) : config_(config) {
  const Config& c = config_;
  PC_CHECK(c.layers > 0 && c.heads > 0 && c.dim % c.heads == 0 && c.head_dim() % 2 == 0);
  PC_CHECK(c.hidden > 0 && c.vocab > 0 && c.block_tokens > 0 && capacity_tokens > 0);
  const std::size_t b = static_cast<std::size_t>(c.block_tokens);
  capacity_ = (capacity_tokens + b - 1) / b * b;
  const std::size_t dim = c.dim, hidden = c.hidden, vocab = c.vocab;

  std::uint64_t state = c.seed;
  const float s_dim = 1.0f / std::sqrt(static_cast<float>(dim));
  const float s_hidden = 1.0f / std::sqrt(static_cast<float>(hidden));
  Fill(w_.token_embedding, vocab * dim, 1.0f, state);
  w_.layers.resize(c.layers);
  for (auto& l : w_.layers) {
    l.rms_att.assign(dim, 1.0f);
    l.rms_ffn.assign(dim, 1.0f);
    Fill(l.wq, dim * dim, s_dim, state);
    Fill(l.wk, dim * dim, s_dim, state);
    Fill(l.wv, dim * dim, s_dim, state);
    Fill(l.wo, dim * dim, s_dim, state);
    Fill(l.w1, hidden * dim, s_dim, state);
    Fill(l.w3, hidden * dim, s_dim, state);
    Fill(l.w2, dim * hidden, s_hidden, state);
  }
  w_.rms_final.assign(dim, 1.0f);
  Fill(w_.wcls, vocab * dim, s_dim, state);

  const std::size_t half = c.head_dim() / 2;
  rope_cos_.resize(capacity_ * half);
  rope_sin_.resize(capacity_ * half);
  for (std::size_t pos = 0; pos < capacity_; ++pos) {
    for (std::size_t i = 0; i < half; ++i) {
      const double angle =
          static_cast<double>(pos) * std::pow(10000.0, -2.0 * i / static_cast<double>(2 * half));
      rope_cos_[pos * half + i] = static_cast<float>(std::cos(angle));
      rope_sin_[pos * half + i] = static_cast<float>(std::sin(angle));
    }
  }

  key_cache_.assign(c.layers, std::vector<float>(capacity_ * dim, 0.0f));
  value_cache_.assign(c.layers, std::vector<float>(capacity_ * dim, 0.0f));
  x_.resize(b * dim);
  xb_.resize(b * dim);
  q_.resize(b * dim);
  att_.resize(b * dim);
  hb_.resize(b * hidden);
  hb2_.resize(b * hidden);
  scores_.resize(b * capacity_);
  logits_.resize(vocab);
}

std::vector<std::span<std::byte>> Transformer::BlockParts(std::size_t block) {
  const std::size_t rows = config_.block_tokens, dim = config_.dim;
  PC_CHECK((block + 1) * rows <= capacity_);
  std::vector<std::span<std::byte>> parts;
  for (int l = 0; l < config_.layers; ++l) {
    for (auto* cache : {&key_cache_[l], &value_cache_[l]}) {
      parts.push_back(
          std::as_writable_bytes(std::span(cache->data() + block * rows * dim, rows * dim)));
    }
  }
  return parts;
}

void Transformer::ClearCache() {
  for (auto& k : key_cache_) std::fill(k.begin(), k.end(), 0.0f);
  for (auto& v : value_cache_) std::fill(v.begin(), v.end(), 0.0f);
}

void Transformer::Forward(const std::uint32_t* tokens, std::size_t pos0, int rows) {
  const Config& c = config_;
  const int dim = c.dim, hd = c.head_dim(), hidden = c.hidden;
  // Every key up to the tile's last row; row r attends to the first pos0 + r + 1 of them.
  const int n_keys = static_cast<int>(pos0) + rows;
  const float att_scale = 1.0f / std::sqrt(static_cast<float>(hd));

  for (int r = 0; r < rows; ++r) {
    PC_CHECK(tokens[r] < static_cast<std::uint32_t>(c.vocab));
    std::memcpy(&x_[static_cast<std::size_t>(r) * dim],
                &w_.token_embedding[static_cast<std::size_t>(tokens[r]) * dim],
                dim * sizeof(float));
  }

  for (int l = 0; l < c.layers; ++l) {
    const auto& w = w_.layers[l];
    float* k = key_cache_[l].data();
    float* v = value_cache_[l].data();
    float* k_rows = k + pos0 * dim;  // the tile's K and V rows go straight into the cache
    float* v_rows = v + pos0 * dim;

    // Attention: q, k, v of the tile's rows, rotary positions on q and k.
    Rmsnorm(xb_.data(), x_.data(), w.rms_att, rows, dim);
    Matmul(q_.data(), dim, xb_.data(), w.wq, rows, dim, dim, 0.0f);
    Matmul(k_rows, dim, xb_.data(), w.wk, rows, dim, dim, 0.0f);
    Matmul(v_rows, dim, xb_.data(), w.wv, rows, dim, dim, 0.0f);
    Rope(q_.data(), dim, rows, pos0, c.heads, hd, rope_cos_, rope_sin_);
    Rope(k_rows, dim, rows, pos0, c.heads, hd, rope_cos_, rope_sin_);

    // Per head: scores = q k^T / sqrt(hd) over every cached position, causal softmax,
    // att = scores v. The cache holds a head's rows at stride dim.
    for (int h = 0; h < c.heads; ++h) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, n_keys, hd, att_scale,
                  q_.data() + h * hd, dim, k + h * hd, dim, 0.0f, scores_.data(), n_keys);
      for (int r = 0; r < rows; ++r) {
        Softmax(scores_.data() + static_cast<std::size_t>(r) * n_keys,
                static_cast<int>(pos0) + r + 1, n_keys);
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, hd, n_keys, 1.0f, scores_.data(),
                  n_keys, v + h * hd, dim, 0.0f, att_.data() + h * hd, dim);
    }
    Matmul(x_.data(), dim, att_.data(), w.wo, rows, dim, dim, 1.0f);  // residual

    // SwiGLU MLP: x += w2 (silu(w1 x) * (w3 x)).
    Rmsnorm(xb_.data(), x_.data(), w.rms_ffn, rows, dim);
    Matmul(hb_.data(), hidden, xb_.data(), w.w1, rows, dim, hidden, 0.0f);
    Matmul(hb2_.data(), hidden, xb_.data(), w.w3, rows, dim, hidden, 0.0f);
    for (std::size_t i = 0; i < static_cast<std::size_t>(rows) * hidden; ++i) {
      const float g = hb_[i];
      hb_[i] = g / (1.0f + std::exp(-g)) * hb2_[i];
    }
    Matmul(x_.data(), dim, hb_.data(), w.w2, rows, hidden, dim, 1.0f);  // residual
  }
}

void Transformer::Logits(int row) {
  const int dim = config_.dim;
  Rmsnorm(xb_.data(), x_.data() + static_cast<std::size_t>(row) * dim, w_.rms_final, 1, dim);
  cblas_sgemv(CblasRowMajor, CblasNoTrans, config_.vocab, dim, 1.0f, w_.wcls.data(), dim,
              xb_.data(), 1, 0.0f, logits_.data(), 1);
}

void Transformer::Prefill(std::span<const std::uint32_t> tokens, std::size_t begin) {
  const std::size_t b = config_.block_tokens;
  PC_CHECK(begin % b == 0 && begin < tokens.size() && tokens.size() <= capacity_);
  int rows = 0;
  for (std::size_t pos = begin; pos < tokens.size(); pos += rows) {
    rows = static_cast<int>(std::min(b, tokens.size() - pos));
    Forward(tokens.data() + pos, pos, rows);
  }
  Logits(rows - 1);
}

void Transformer::Step(std::uint32_t token, std::size_t pos) {
  PC_CHECK(pos < capacity_);
  Forward(&token, pos, 1);
  Logits(0);
}

std::uint32_t Transformer::Argmax() const {
  return static_cast<std::uint32_t>(std::max_element(logits_.begin(), logits_.end()) -
                                    logits_.begin());
}

}  // namespace prefixcache::examples
