#pragma once
// A random Conv2d node and the convolution of docs/semantics.md written literally (no
// event-driven tricks, no layout changes, 64-bit everywhere): the independent reference of the
// kernel tests (test_golden_kernels.cpp, test_gather_kernel.cpp).
#include <random>
#include <vector>

#include "models/graph.hpp"
#include "models/kernels.hpp"

namespace spikechip::model {

struct ConvCase {
  int cin, cout, h, w, k, stride, pad, groups;
};

// Weights uniform in [-wmax, wmax - 1] (128: int8; 2048 / 32768: 12 / 16-bit models).
inline Node random_conv(const ConvCase& c, std::mt19937_64& rng, int max_shift, int wmax = 128) {
  Node n;
  n.name = "conv", n.op = Op::Conv2d;
  n.kh = n.kw = c.k, n.sy = n.sx = c.stride, n.py = n.px = c.pad, n.groups = c.groups;
  n.shape = {c.cout, (c.h + 2 * c.pad - c.k) / c.stride + 1, (c.w + 2 * c.pad - c.k) / c.stride + 1};
  n.weight.resize(size_t(c.cout) * (c.cin / c.groups) * c.k * c.k);
  for (auto& w : n.weight) w = int16_t(int(rng() % uint64_t(2 * wmax)) - wmax);
  n.bias.resize(c.cout);
  for (auto& b : n.bias) b = int32_t(rng() % 20001) - 10000;
  n.shift.resize(c.cout);
  for (auto& s : n.shift) s = uint8_t(rng() % (max_shift + 1));
  return n;
}

// semantics.md Conv2d, literally.
inline std::vector<int32_t> naive_conv(const Node& n, const Shape& in, const std::vector<int32_t>& x, int64_t& sat,
                                       int64_t& in_range_taps) {
  std::vector<int32_t> out(n.shape.size());
  const int ig = in.c / n.groups, og = n.shape.c / n.groups;
  sat = 0, in_range_taps = 0;
  for (int o = 0; o < n.shape.c; ++o)
    for (int oy = 0; oy < n.shape.h; ++oy)
      for (int ox = 0; ox < n.shape.w; ++ox) {
        int64_t acc = 0;
        for (int i = 0; i < ig; ++i)
          for (int ky = 0; ky < n.kh; ++ky)
            for (int kx = 0; kx < n.kw; ++kx) {
              const int y = oy * n.sy - n.py + ky, xx = ox * n.sx - n.px + kx;
              if (y < 0 || y >= in.h || xx < 0 || xx >= in.w) continue;
              const int ci = (o / og) * ig + i;
              const int32_t v = x[(size_t(ci) * in.h + y) * in.w + xx];
              in_range_taps += (v != 0);
              acc += int64_t(n.weight[((size_t(o) * ig + i) * n.kh + ky) * n.kw + kx]) * v;
            }
        const int64_t r = (acc << n.shift[o]) + n.bias[o];
        out[(size_t(o) * n.shape.h + oy) * n.shape.w + ox] = sat32(r, sat);
      }
  return out;
}

}  // namespace spikechip::model
