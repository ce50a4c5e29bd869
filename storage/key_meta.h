// KeyMeta: what a few blocks carry beside their bytes -- an expiry time and the Redis name
// of a key that is not 16 bytes -- immutable and shared by reference count between the
// tiers and the readers. A block without either has no KeyMeta (a null KeyMetaRef, one
// pointer in the entry), so blocks stored without a TTL or a name allocate nothing for
// it. KeyMetaRef may be copied and destroyed from any thread at once; private to storage/.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace prefixcache::storage {

class KeyMeta {
 public:
  // Unix time in milliseconds at which the block expires; 0: never.
  std::int64_t expire_at_ms() const { return expire_at_ms_; }
  // The key's name as the client sent it (which may be empty); nullopt for a raw 16-byte
  // key.
  std::optional<std::string_view> name() const {
    return named_ ? std::optional<std::string_view>(name_) : std::nullopt;
  }

 private:
  friend class KeyMetaRef;
  KeyMeta(std::int64_t expire_at_ms, std::optional<std::string_view> name)
      : expire_at_ms_(expire_at_ms), named_(name.has_value()), name_(name.value_or("")) {}

  mutable std::atomic<std::uint32_t> refs_{1};
  const std::int64_t expire_at_ms_;
  const bool named_;
  const std::string name_;
};

// A counted reference to a KeyMeta, or null. The size of one pointer.
class KeyMetaRef {
 public:
  KeyMetaRef() = default;
  // Null when there is neither an expiry nor a name, else a new KeyMeta. May throw
  // std::bad_alloc.
  static KeyMetaRef Make(std::int64_t expire_at_ms, std::optional<std::string_view> name) {
    if (expire_at_ms == 0 && !name) return {};
    return KeyMetaRef(new KeyMeta(expire_at_ms, name));
  }

  KeyMetaRef(const KeyMetaRef& other) : meta_(other.meta_) {
    if (meta_ != nullptr) meta_->refs_.fetch_add(1, std::memory_order_relaxed);
  }
  KeyMetaRef(KeyMetaRef&& other) noexcept : meta_(std::exchange(other.meta_, nullptr)) {}
  KeyMetaRef& operator=(KeyMetaRef other) noexcept {
    std::swap(meta_, other.meta_);
    return *this;
  }
  ~KeyMetaRef() {
    if (meta_ != nullptr && meta_->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      delete meta_;
    }
  }

  explicit operator bool() const { return meta_ != nullptr; }
  const KeyMeta* operator->() const { return meta_; }

  std::int64_t expire_at_ms() const { return meta_ != nullptr ? meta_->expire_at_ms() : 0; }
  std::optional<std::string_view> name() const {
    return meta_ != nullptr ? meta_->name() : std::nullopt;
  }
  // Whether the block has expired at `now_ms`.
  bool ExpiredAt(std::int64_t now_ms) const {
    return meta_ != nullptr && meta_->expire_at_ms() != 0 && meta_->expire_at_ms() <= now_ms;
  }
  // The same name with another expiry (0: none).
  KeyMetaRef WithExpiry(std::int64_t expire_at_ms) const { return Make(expire_at_ms, name()); }
  // Bytes the meta takes in RAM, for capacity accounting: 0 when null.
  std::uint64_t ChargeBytes() const {
    return meta_ != nullptr ? sizeof(KeyMeta) + 16 + meta_->name().value_or("").size() : 0;
  }

  // Equal expiry and name (two nulls are equal).
  friend bool operator==(const KeyMetaRef& a, const KeyMetaRef& b) {
    return a.expire_at_ms() == b.expire_at_ms() && a.name() == b.name();
  }

 private:
  explicit KeyMetaRef(KeyMeta* meta) : meta_(meta) {}
  KeyMeta* meta_ = nullptr;
};

// Unix time in milliseconds from the system clock.
inline std::int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace prefixcache::storage
