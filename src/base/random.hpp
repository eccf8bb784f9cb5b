// The engine's only source of randomness: xoshiro256** seeded through splitmix64.
// Hosts pass the seed in, so a run is reproducible, and the sequence is the same
// natively and in WebAssembly (unlike <random>'s distributions).
#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace wt {

class rng {
 public:
  explicit rng(std::uint64_t seed) noexcept {
    for (auto& word : s_) {  // splitmix64
      seed += 0x9e3779b97f4a7c15u;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
      word = z ^ (z >> 31);
    }
  }

  std::uint64_t next() noexcept {
    const std::uint64_t result = std::rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = std::rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, n), n > 0 (multiply-shift: no modulo bias worth the name).
  std::uint32_t below(std::uint32_t n) noexcept {
    return static_cast<std::uint32_t>(((next() >> 32) * n) >> 32);
  }

  // In [0, n], for small n (jitter); modulo bias is negligible there.
  std::uint64_t up_to(std::uint64_t n) noexcept { return next() % (n + 1); }

 private:
  std::array<std::uint64_t, 4> s_{};
};

}  // namespace wt
