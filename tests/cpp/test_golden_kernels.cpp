// The kernels of models/kernels.hpp against naive dense implementations written straight from
// docs/semantics.md (no event-driven tricks, no layout changes, 64-bit everywhere).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "models/executor.hpp"
#include "models/kernels.hpp"
#include "naive_conv.hpp"

using namespace spikechip::model;

namespace {

const ConvCase kCases[] = {
    {5, 7, 9, 11, 3, 1, 1, 1},  {6, 8, 10, 10, 3, 2, 1, 1}, {4, 6, 13, 9, 7, 2, 3, 1},
    {8, 8, 7, 7, 3, 1, 1, 8},   {6, 9, 8, 8, 7, 1, 3, 3},   {16, 12, 5, 5, 1, 1, 0, 1},
    {3, 5, 12, 12, 5, 3, 0, 1}, {4, 4, 6, 6, 3, 2, 0, 2},
    // Many input channels: in position order up to 4 spikes of a position are added together
    // (runs of 1-12 at 30 %), output channels past a 16-lane block.
    {24, 40, 6, 7, 3, 1, 1, 1}, {40, 33, 5, 5, 1, 1, 0, 1}, {20, 17, 7, 6, 3, 2, 1, 1},
};

}  // namespace

TEST(Kernels, ScatterMatchesNaiveConvOnWholeLayerAndTiles) {
  std::mt19937_64 rng(1);
  for (const auto& c : kCases) {
    const Node n = random_conv(c, rng, 3);
    const Shape in{c.cin, c.h, c.w};
    std::vector<int32_t> x(in.size());
    std::vector<int32_t> active;
    for (size_t i = 0; i < x.size(); ++i)
      if (rng() % 100 < 30) x[i] = 1, active.push_back(int32_t(i));
    int64_t sat_ref, taps_ref;
    const auto ref = naive_conv(n, in, x, sat_ref, taps_ref);
    const ConvPlan p = make_conv_plan(n, in, 1);
    // The same spikes in position order, channels ascending within a position, as the golden
    // executor lists them (its kernel adds a position's spikes together).
    std::vector<int32_t> by_pos = active;
    const int64_t plane = int64_t(c.h) * c.w;
    std::stable_sort(by_pos.begin(), by_pos.end(), [&](int32_t a, int32_t b) { return a % plane < b % plane; });
    // The whole layer in one slice, then in 2x3 spatial tiles x 2 channel ranges (as a chip would).
    for (int split : {0, 1, 2, 3}) {
      const std::vector<int32_t>& list = split < 2 ? active : by_pos;
      std::vector<int32_t> out(n.shape.size(), 0x7eadbeef);
      int64_t sops = 0, sat = 0;
      const int cs = split % 2 ? 2 : 1, ys = split % 2 ? 2 : 1, xs = split % 2 ? 3 : 1;
      for (int a = 0; a < cs; ++a)
        for (int b = 0; b < ys; ++b)
          for (int d = 0; d < xs; ++d) {
            Slice s{p.cout * a / cs, p.cout * (a + 1) / cs, p.hout * b / ys, p.hout * (b + 1) / ys,
                    p.wout * d / xs, p.wout * (d + 1) / xs};
            std::vector<int32_t> acc(s.size(), 0);
            sops += scatter_spikes(p, list.data(), int64_t(list.size()), acc.data(), s);
            sat += conv_finalize(p, acc.data(), s, out.data());
          }
      EXPECT_EQ(out, ref) << "case k" << c.k << " s" << c.stride << " g" << c.groups << " split " << split;
      EXPECT_EQ(sops, taps_ref);
      EXPECT_EQ(sat, sat_ref);
    }
    // The single-spike entry point and the 64-bit accumulator agree with the list version.
    std::vector<int64_t> acc64(p.full().size(), 0);
    int64_t sops64 = 0;
    const int64_t hw = int64_t(c.h) * c.w;
    for (int32_t f : active) sops64 += scatter_spike(p, int(f / hw), int(f % hw) / c.w, int(f % c.w), acc64.data(), p.full());
    std::vector<int32_t> out64(n.shape.size());
    EXPECT_EQ(conv_finalize(p, acc64.data(), p.full(), out64.data()), sat_ref);
    EXPECT_EQ(out64, ref);
    EXPECT_EQ(sops64, taps_ref);
  }
}

TEST(Kernels, MacPixelMatchesNaiveConv) {
  std::mt19937_64 rng(2);
  for (const auto& c : kCases) {
    const Node n = random_conv(c, rng, 2);
    const Shape in{c.cin, c.h, c.w};
    std::vector<int32_t> x(in.size());
    for (auto& v : x) v = int32_t(rng() % 256) - 128 + (rng() % 7 == 0 ? 0 : 1);  // some zeros
    int64_t sat_ref, taps_nonzero;
    const auto ref = naive_conv(n, in, x, sat_ref, taps_nonzero);
    const ConvPlan p = make_conv_plan(n, in, 255);
    std::vector<int32_t> acc(p.full().size(), 0), out(n.shape.size());
    int64_t macs = 0;
    for (int ci = 0; ci < c.cin; ++ci)
      for (int y = 0; y < c.h; ++y)
        for (int xx = 0; xx < c.w; ++xx)
          macs += mac_pixel(p, ci, y, xx, x[(size_t(ci) * c.h + y) * c.w + xx], acc.data(), p.full());
    conv_finalize(p, acc.data(), p.full(), out.data());
    EXPECT_EQ(out, ref);
    // MACs count every in-range tap, zero inputs included: the dense count on an all-ones input.
    std::vector<int32_t> ones(in.size(), 1);
    int64_t s2, taps_all;
    naive_conv(n, in, ones, s2, taps_all);
    EXPECT_EQ(macs, taps_all);
  }
}

TEST(Kernels, WideWeightsTakeTheInt16PathAndMatchNaiveConv) {
  // 12 and 16-bit weights (docs/semantics.md): the plan keeps an int16 copy, the same templates
  // add it; spikes (scatter, tiles, single spikes) and pixels (MACs), against the naive conv.
  std::mt19937_64 rng(3);
  for (int wmax : {2048, 32768})
    for (const auto& c : kCases) {
      const Node n = random_conv(c, rng, 2, wmax);
      const Shape in{c.cin, c.h, c.w};
      std::vector<int32_t> spikes(in.size()), pixels(in.size()), active;
      for (size_t i = 0; i < spikes.size(); ++i) {
        if (rng() % 100 < 30) spikes[i] = 1, active.push_back(int32_t(i));
        pixels[i] = int32_t(rng() % 256) - 128;
      }
      int64_t sat_ref, taps_ref;
      const auto ref = naive_conv(n, in, spikes, sat_ref, taps_ref);
      const ConvPlan p = make_conv_plan(n, in, 1);
      ASSERT_TRUE(p.is_wide_weights());
      ASSERT_TRUE(p.wt.empty());
      auto check = [&](auto zero) {  // int32 or int64 accumulators
        std::vector<decltype(zero)> acc(p.full().size(), 0);
        std::vector<int32_t> out(n.shape.size());
        const Slice half{0, p.cout, 0, std::max(1, p.hout / 2), 0, p.wout}, rest{0, p.cout, half.y1, p.hout, 0, p.wout};
        int64_t sops = 0, sat = 0;
        for (const Slice& s : {half, rest}) {
          if (s.y0 >= s.y1) continue;
          std::fill(acc.begin(), acc.end(), 0);
          const int64_t counted = count_spike_sops(p, active.data(), int64_t(active.size()), s);
          const int64_t added = scatter_spikes(p, active.data(), int64_t(active.size()), acc.data(), s);
          EXPECT_EQ(counted, added);
          EXPECT_EQ(SpikeSopCounter(p, s).count(active.data(), int64_t(active.size())), added);
          sops += added;
          sat += conv_finalize(p, acc.data(), s, out.data());
        }
        EXPECT_EQ(out, ref) << "wmax " << wmax << " case k" << c.k << " g" << c.groups;
        EXPECT_EQ(sops, taps_ref);
        EXPECT_EQ(sat, sat_ref);
      };
      if (!p.wide) check(int32_t(0));
      check(int64_t(0));
      int64_t psat, ptaps;
      const auto pref = naive_conv(n, in, pixels, psat, ptaps);
      const ConvPlan pp = make_conv_plan(n, in, 255);
      std::vector<int64_t> acc(pp.full().size(), 0);
      std::vector<int32_t> out(n.shape.size());
      const int64_t hw = int64_t(c.h) * c.w;
      for (int64_t f = 0; f < in.size(); ++f)
        mac_pixel(pp, int(f / hw), int(f % hw) / c.w, int(f % c.w), pixels[size_t(f)], acc.data(), pp.full());
      EXPECT_EQ(conv_finalize(pp, acc.data(), pp.full(), out.data()), psat);
      EXPECT_EQ(out, pref);
    }
}

TEST(Kernels, SaturationIsCountedNotSilent) {
  // 1x1 conv, 4 inputs of weight 127 each, shift 24: 4*127 << 24 = 8.5e9 > INT32_MAX.
  Node n;
  n.name = "sat", n.op = Op::Conv2d, n.shape = {2, 1, 1};
  n.weight = {127, 127, 127, 127, -128, -128, -128, -128};
  n.bias = {5, -5};
  n.shift = {24, 24};
  const Shape in{4, 1, 1};
  const ConvPlan p = make_conv_plan(n, in, 1);
  std::vector<int32_t> act{0, 1, 2, 3}, acc(2, 0), out(2);
  scatter_spikes(p, act.data(), 4, acc.data(), p.full());
  EXPECT_EQ(conv_finalize(p, acc.data(), p.full(), out.data()), 2);
  EXPECT_EQ(out[0], INT32_MAX);
  EXPECT_EQ(out[1], INT32_MIN);
  // Exactly at the limit: no saturation.
  int64_t s = 0;
  EXPECT_EQ(sat32(INT32_MAX, s), INT32_MAX);
  EXPECT_EQ(sat32(int64_t(INT32_MIN), s), INT32_MIN);
  EXPECT_EQ(s, 0);
  // Add saturates and counts too.
  std::vector<int32_t> a{INT32_MAX, -5}, b{1, 3}, o(2);
  EXPECT_EQ(add_membranes({a.data(), b.data()}, 0, 2, o.data()), 1);
  EXPECT_EQ(o[0], INT32_MAX);
  EXPECT_EQ(o[1], -2);
  // A plan whose unshifted sum could overflow int32 is marked wide.
  Node big = n;
  big.weight.assign(2 * 4, 1);
  EXPECT_FALSE(make_conv_plan(big, in, 1).wide);
  EXPECT_TRUE(make_conv_plan(big, Shape{4, 1, 1}, int64_t(1) << 30).wide);
}

// spikingjelly MultiStepLIFNode in exact rational arithmetic (x/2 in doubles is exact for these
// small integers); the integer LIF must give the same spikes whenever floor() drops nothing.
TEST(Kernels, LifThresholdEqualityResetNegativeAndTau) {
  const int32_t th[1] = {10};
  auto run = [&](std::vector<int32_t> xs, int tau, std::vector<int32_t>* vs = nullptr) {
    int32_t v = 0;
    std::vector<int32_t> spikes;
    for (int32_t x : xs) {
      uint8_t s;
      std::vector<int32_t> act;
      lif_update(&x, &v, th, tau, 0, 1, 1, &s, act);
      spikes.push_back(s);
      EXPECT_EQ(act.size(), size_t(s));
      if (vs) vs->push_back(v);
    }
    return spikes;
  };
  EXPECT_EQ(run({20}, 1), std::vector<int32_t>{1});  // H = 10 == threshold fires
  EXPECT_EQ(run({19}, 1), std::vector<int32_t>{0});  // H = 9
  std::vector<int32_t> vs;
  // T=2: 12 -> H=6 (no), then (6+14)/2 = 10 fires and resets to 0; then 18 -> 9 (no).
  EXPECT_EQ(run({12, 14, 18}, 1, &vs), (std::vector<int32_t>{0, 1, 0}));
  EXPECT_EQ(vs, (std::vector<int32_t>{6, 0, 9}));
  // Negative membranes are kept (no clamp) and floor towards -inf: -7 >> 1 = -4.
  vs.clear();
  EXPECT_EQ(run({-7, 3, 30, 0}, 1, &vs), (std::vector<int32_t>{0, 0, 1, 0}));
  EXPECT_EQ(vs, (std::vector<int32_t>{-4, -1, 0, 0}));
  // tau_shift 2 (tau 4): H = (V + X) >> 2.
  vs.clear();
  EXPECT_EQ(run({40, 39, 20, 33}, 2, &vs), (std::vector<int32_t>{1, 0, 0, 1}));
  EXPECT_EQ(vs, (std::vector<int32_t>{0, 9, 7, 0}));
  // Per-channel thresholds, spikes appended in index order.
  const int32_t ths[2] = {1, 100};
  std::vector<int32_t> x{2, 2, 300, 0}, v(4, 0), act;
  std::vector<uint8_t> s(4);
  lif_update(x.data(), v.data(), ths, 1, 0, 2, 2, s.data(), act);
  EXPECT_EQ(act, (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(v, (std::vector<int32_t>{0, 0, 0, 0}));
}

TEST(Kernels, SdsaMatchesDenseMatrixProduct) {
  std::mt19937_64 rng(3);
  const int C = 24, heads = 3, d = C / heads, H = 5, W = 7, N = H * W;
  for (int shift : {0, 4}) {
    std::vector<uint8_t> q(C * N), k(C * N), v(C * N);
    for (auto* m : {&q, &k, &v})
      for (auto& e : *m) e = rng() % 3 == 0;
    // Dense reference: per head, out = Q (K^T V) with int64 matrices.
    std::vector<int32_t> ref(C * N);
    int64_t ref_ops = 0;
    for (int g = 0; g < heads; ++g) {
      std::vector<int64_t> A(d * d, 0);
      for (int a = 0; a < d; ++a)
        for (int b = 0; b < d; ++b)
          for (int n = 0; n < N; ++n) A[a * d + b] += k[(g * d + a) * N + n] * v[(g * d + b) * N + n];
      for (int n = 0; n < N; ++n) {
        int64_t kn = 0, vn = 0, qn = 0;
        for (int a = 0; a < d; ++a) kn += k[(g * d + a) * N + n], vn += v[(g * d + a) * N + n], qn += q[(g * d + a) * N + n];
        ref_ops += kn * vn + qn * d;
        for (int b = 0; b < d; ++b) {
          int64_t s = 0;
          for (int a = 0; a < d; ++a) s += q[(g * d + a) * N + n] * A[a * d + b];
          ref[(g * d + b) * N + n] = int32_t(s << shift);
        }
      }
    }
    std::vector<int32_t> out(C * N, -1);
    int64_t ops = 0, sat = 0;
    for (int g = 0; g < heads; ++g) {
      std::vector<int32_t> A(d * d, 0);
      // Tokens in two chunks: partial accumulation must compose.
      ops += sdsa_accumulate_kv(k.data(), v.data(), g, d, N, 0, 13, A.data());
      ops += sdsa_accumulate_kv(k.data(), v.data(), g, d, N, 13, N, A.data());
      ops += sdsa_row_sums(q.data(), A.data(), g, d, N, 0, N, shift, out.data(), sat);
    }
    EXPECT_EQ(out, ref);
    EXPECT_EQ(ops, ref_ops);
    EXPECT_EQ(sat, 0);
  }
}

TEST(Kernels, MeanPartialsCompose) {
  std::vector<int32_t> x{1, 2, 3, 4, -10, 20, 30, 40};
  std::vector<int64_t> part(2, 0);
  mean_partial(x.data(), 4, 0, 2, 0, 1, part.data());
  mean_partial(x.data(), 4, 0, 2, 1, 4, part.data());
  EXPECT_EQ(part, (std::vector<int64_t>{10, 80}));
}

// lif_update (16 neurons at a time with AVX-512) against the plain loop: membranes, spikes, the
// spiking indices in order and the saturations, for channel runs with and without a partial last
// block, membrane widths whose range the sums leave on both sides, tau 0..3, thresholds of both
// signs. (Without AVX-512 lif_update is the plain loop and this compares it with itself.)
TEST(Kernels, LifVectorMatchesPlainLoop) {
  std::mt19937_64 rng(11);
  int64_t sats[33] = {}, spikes = 0;  // over all cases: each width saturates, neurons spike
  for (const int64_t hw : {1, 5, 16, 17, 31, 100, 1500}) {
    for (const int bits : {8, 12, 16, 32}) {
      const Membrane m = bits == 32 ? Membrane{} : Membrane::of_bits(bits);
      const int C = 5, tau = int(rng() % 4);
      const int64_t n = C * hw;
      std::vector<int32_t> x(static_cast<size_t>(n)), v0(static_cast<size_t>(n)), th(static_cast<size_t>(C));
      const int64_t span = int64_t(1) << (bits - 1), xspan = std::min<int64_t>(16 * span, int64_t(1) << 31);
      for (auto& e : x) e = int32_t(int64_t(rng() % uint64_t(2 * xspan)) - xspan);
      for (auto& e : v0) e = int32_t(int64_t(rng() % uint64_t(2 * span)) - span);
      for (auto& e : th) e = int32_t(int64_t(rng() % uint64_t(span)) - span / 4);
      for (const auto& [c0, c1] : {std::pair{0, C}, std::pair{1, 4}}) {
        std::vector<int32_t> va = v0, vb = v0, aa = {7}, ab = {7};  // appended after an existing entry
        std::vector<uint8_t> sa(size_t(n), 9), sb(size_t(n), 9);
        const int64_t sat_a = lif_update(x.data(), va.data(), th.data(), tau, c0, c1, hw, sa.data(), aa, m);
        const int64_t sat_b = detail::lif_update_portable(x.data(), vb.data(), th.data(), tau, c0, c1, hw, sb.data(), ab, m);
        const std::string what = "hw " + std::to_string(hw) + ", bits " + std::to_string(bits) + ", c " + std::to_string(c0);
        EXPECT_EQ(va, vb) << what;
        EXPECT_EQ(sa, sb) << what;
        EXPECT_EQ(aa, ab) << what;
        EXPECT_EQ(sat_a, sat_b) << what;
        sats[bits] += sat_b, spikes += int64_t(ab.size()) - 1;
      }
    }
  }
  for (const int bits : {8, 12, 16, 32}) EXPECT_GT(sats[bits], 0) << "no case saturates at " << bits << " bits";
  EXPECT_GT(spikes, 1000);
}
