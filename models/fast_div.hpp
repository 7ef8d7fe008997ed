#pragma once
// Division of 32-bit unsigned values by a divisor fixed per call, without a division instruction:
// the spike kernels decode flat CHW indices into (channel, y, x) with it (models/kernels.cpp,
// models/gather_kernel.cpp).
#include <cstdint>

namespace spikechip::model {

// n / d for 32-bit unsigned n and a divisor fixed per call: one 64x64 -> 128-bit multiply
// instead of a division (Lemire, Kaser, Kurz 2019: exact for all n, d < 2^32).
struct FastDiv {
  uint64_t c;  // 0 for d = 1 (2^64 wraps): then n itself
  explicit FastDiv(uint32_t d) : c(~uint64_t(0) / d + 1) {}
  uint32_t div(uint32_t n) const { return c ? uint32_t((unsigned __int128)c * n >> 64) : n; }
};

}  // namespace spikechip::model
