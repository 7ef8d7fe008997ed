#pragma once
// Division of 32-bit unsigned values by a divisor fixed per call, without a division instruction,
// and the decoding of flat CHW indices into (channel, y, x) the spike kernels do with it
// (models/kernels.cpp, models/gather_kernel.cpp) and the golden's bucketing by position
// (models/executor.cpp).
#include <cstdint>

namespace spikechip::model {

// n / d for 32-bit unsigned n and a divisor fixed per call: one 64x64 -> 128-bit multiply
// instead of a division (Lemire, Kaser, Kurz 2019: exact for all n, d < 2^32).
struct FastDiv {
  uint64_t c;  // 0 for d = 1 (2^64 wraps): then n itself
  explicit FastDiv(uint32_t d) : c(~uint64_t(0) / d + 1) {}
  uint32_t div(uint32_t n) const { return c ? uint32_t((unsigned __int128)c * n >> 64) : n; }
};

// A flat CHW index (non-negative int32, as is H * W) decoded into (channel, y, x) for a fixed H x W
// with two FastDivs.
struct ChwIndex {
  uint32_t hw, w;
  FastDiv by_hw, by_w;
  ChwIndex(int h, int w_) : hw(uint32_t(h) * uint32_t(w_)), w(uint32_t(w_)), by_hw(hw), by_w(w) {}
  // The channel c, and the position y * w + x returned.
  uint32_t split(int32_t flat, uint32_t& c) const {
    const uint32_t f = uint32_t(flat);
    c = by_hw.div(f);
    return f - c * hw;
  }
  void decode(int32_t flat, uint32_t& c, uint32_t& y, uint32_t& x) const {
    const uint32_t rem = split(flat, c);
    y = by_w.div(rem), x = rem - y * w;
  }
  // The position alone.
  uint32_t pos(int32_t flat) const {
    uint32_t c;
    return split(flat, c);
  }
};

}  // namespace spikechip::model
