// gather_spikes (models/gather_kernel.cpp), the chip's kernel for slices of few channels, against
// the naive convolution of docs/semantics.md (tests/cpp/naive_conv.hpp) and against the golden's
// scatter_spikes: the same accumulator, the same SOPs, with the AVX-512 path (where the CPU has
// it) and the portable one, on whole layers, edge tiles and channel runs of 1 to 70 (past the
// four register blocks, where it falls back to the scatter), sorted and unsorted spike lists, on
// the layer's plan and on the slice's own (slice_plan: the chip's adds); and count_spike_sops and
// SpikeSopCounter (the chip's count at arrival) equal to the SOPs both add.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "models/kernels.hpp"
#include "naive_conv.hpp"

using namespace spikechip::model;

namespace {

using Kernel = int64_t (*)(const ConvPlan&, const int32_t*, int64_t, int32_t*, const Slice&);
// Each also on the slice's own plan (slice_plan, at channel zero), as the chip adds spikes.
int64_t on_slice_plan(Kernel k, const ConvPlan& p, const int32_t* i, int64_t n, int32_t* a, const Slice& s) {
  const ConvPlan q = slice_plan(p, s);
  return q.cout > 0 ? k(q, i, n, a, s.at_channel_zero()) : k(p, i, n, a, s);
}
const std::pair<const char*, Kernel> kKernels[] = {
    {"gather", gather_spikes},
    {"portable", detail::gather_spikes_portable},
    {"gather, slice plan",
     [](const ConvPlan& p, const int32_t* i, int64_t n, int32_t* a, const Slice& s) {
       return on_slice_plan(gather_spikes, p, i, n, a, s);
     }},
    {"portable, slice plan",
     [](const ConvPlan& p, const int32_t* i, int64_t n, int32_t* a, const Slice& s) {
       return on_slice_plan(detail::gather_spikes_portable, p, i, n, a, s);
     }},
    {"scatter, slice plan", [](const ConvPlan& p, const int32_t* i, int64_t n, int32_t* a, const Slice& s) {
       return on_slice_plan(static_cast<Kernel>(scatter_spikes), p, i, n, a, s);
     }}};

// The slices of a layer as a chip cuts them: `cs` channel runs x `ys` x `xs` spatial tiles.
std::vector<Slice> tiles(const ConvPlan& p, int cs, int ys, int xs) {
  std::vector<Slice> v;
  for (int a = 0; a < cs; ++a)
    for (int b = 0; b < ys; ++b)
      for (int d = 0; d < xs; ++d) {
        const Slice s{p.cout * a / cs, p.cout * (a + 1) / cs, p.hout * b / ys, p.hout * (b + 1) / ys,
                      p.wout * d / xs, p.wout * (d + 1) / xs};
        if (s.size() > 0) v.push_back(s);
      }
  return v;
}

}  // namespace

TEST(GatherKernel, MatchesNaiveConvAndTheScatterOnEverySlice) {
  // cin, cout, h, w, k, stride, pad, groups: 1x1 / 3x3 / 7x7, strides 1-2, pads, Linear-like 1x1
  // maps, channel counts that give runs of 1-70 per slice.
  const ConvCase cases[] = {
      {8, 70, 6, 7, 1, 1, 0, 1},  {5, 33, 9, 11, 3, 1, 1, 1}, {6, 17, 10, 10, 3, 2, 1, 1},
      {4, 9, 13, 9, 7, 1, 3, 1},  {3, 48, 12, 12, 7, 2, 3, 1}, {16, 64, 1, 1, 1, 1, 0, 1},
      {7, 20, 5, 5, 3, 1, 0, 1},  {6, 12, 8, 8, 3, 1, 1, 2},
  };
  std::mt19937_64 rng(17);
  int checked = 0;
  for (const auto& c : cases)
    for (int rate : {3, 30, 100}) {
      const Node n = random_conv(c, rng, 3);
      const Shape in{c.cin, c.h, c.w};
      std::vector<int32_t> x(in.size()), active;
      for (size_t i = 0; i < x.size(); ++i)
        if (int(rng() % 100) < rate) x[i] = 1, active.push_back(int32_t(i));
      int64_t sat_ref, taps_ref;
      const auto ref = naive_conv(n, in, x, sat_ref, taps_ref);
      const ConvPlan p = make_conv_plan(n, in, 1);
      // The chip's lists come packet by packet: also shuffled, with a spike repeated (added twice).
      std::vector<int32_t> shuffled = active;
      std::shuffle(shuffled.begin(), shuffled.end(), rng);
      if (!shuffled.empty()) shuffled.push_back(shuffled.front());
      for (const auto& [cs, ys, xs] : {std::tuple{1, 1, 1}, std::tuple{3, 2, 3}, std::tuple{c.cout, 1, 2}, std::tuple{2, 3, 1}})
        for (const auto& [name, kernel] : kKernels) {
          std::vector<int32_t> out(n.shape.size(), 0x7eadbeef);
          int64_t sops = 0, sat = 0;
          for (const Slice& s : tiles(p, cs, ys, xs)) {
            // Accumulators start non-zero (arrival adds long lists into the slot's accumulator).
            std::vector<int32_t> acc(size_t(s.size())), want;
            for (auto& v : acc) v = int32_t(rng() % 2001) - 1000;
            want = acc;
            const int64_t got_sops = kernel(p, active.data(), int64_t(active.size()), acc.data(), s);
            EXPECT_EQ(got_sops, scatter_spikes(p, active.data(), int64_t(active.size()), want.data(), s));
            EXPECT_EQ(got_sops, count_spike_sops(p, active.data(), int64_t(active.size()), s));
            EXPECT_EQ(got_sops, SpikeSopCounter(p, s).count(active.data(), int64_t(active.size())));
            EXPECT_EQ(acc, want) << name << " k" << c.k << " s" << c.stride << " channels " << s.channels();
            std::vector<int32_t> acc2(acc.size(), 0), want2(acc.size(), 0);
            EXPECT_EQ(kernel(p, shuffled.data(), int64_t(shuffled.size()), acc2.data(), s),
                      scatter_spikes(p, shuffled.data(), int64_t(shuffled.size()), want2.data(), s));
            EXPECT_EQ(acc2, want2) << name << " shuffled k" << c.k << " channels " << s.channels();
            // The naive conv: the slice's sums from zero, finalised.
            std::vector<int32_t> fresh(acc.size(), 0);
            sops += kernel(p, active.data(), int64_t(active.size()), fresh.data(), s);
            sat += conv_finalize(p, fresh.data(), s, out.data());
            ++checked;
          }
          EXPECT_EQ(out, ref) << name << " k" << c.k << " s" << c.stride << " rate " << rate << " cut " << cs << "x" << ys
                              << "x" << xs;
          EXPECT_EQ(sops, taps_ref);
          EXPECT_EQ(sat, sat_ref);
        }
    }
  EXPECT_GT(checked, 1000);
}

TEST(GatherKernel, SuitsNarrowSpikeSlicesOnly) {
  std::mt19937_64 rng(18);
  const Node n = random_conv({8, 80, 8, 8, 3, 1, 1, 1}, rng, 1);
  const ConvPlan p = make_conv_plan(n, {8, 8, 8}, 1);
  const Slice narrow{0, 16, 0, 8, 0, 8}, wide{0, 65, 0, 8, 0, 8};
  EXPECT_TRUE(gather_suits(p, 8, narrow));    // 8 spikes x 8 >= 64 positions
  EXPECT_FALSE(gather_suits(p, 7, narrow));   // too sparse to visit every position's taps
  EXPECT_FALSE(gather_suits(p, 1000, wide));  // past four 16-channel register blocks
  const Node grouped = random_conv({8, 16, 8, 8, 3, 1, 1, 2}, rng, 1);
  EXPECT_FALSE(gather_suits(make_conv_plan(grouped, {8, 8, 8}, 1), 1000, narrow));
  const Node wide_w = random_conv({8, 16, 8, 8, 3, 1, 1, 1}, rng, 1, 2048);
  EXPECT_FALSE(gather_suits(make_conv_plan(wide_w, {8, 8, 8}, 1), 1000, narrow));  // int16 weights
}

TEST(GatherKernel, SlicePlanHoldsTheSlicesChannelsOnly) {
  std::mt19937_64 rng(19);
  const Node n = random_conv({5, 40, 6, 6, 3, 1, 1, 1}, rng, 1);
  const ConvPlan p = make_conv_plan(n, {5, 6, 6}, 1);
  const Slice s{7, 23, 0, 3, 2, 6};  // 16 channels from 7
  const ConvPlan q = slice_plan(p, s);
  EXPECT_EQ(q.cout, 16);
  EXPECT_EQ(q.cout_g, 16);
  EXPECT_EQ(q.cin, p.cin);
  const int64_t rows = int64_t(p.cin) * p.kh * p.kw;
  ASSERT_EQ(int64_t(q.wt.size()), rows * 16);
  for (int64_t r = 0; r < rows; ++r)
    for (int c = 0; c < 16; ++c) ASSERT_EQ(q.wt[size_t(r * 16 + c)], p.wt[size_t(r * p.cout_g + 7 + c)]) << r << " " << c;
  EXPECT_EQ(q.bias, std::vector<int32_t>(p.bias.begin() + 7, p.bias.begin() + 23));
  EXPECT_EQ(q.shift, std::vector<uint8_t>(p.shift.begin() + 7, p.shift.begin() + 23));
  EXPECT_EQ(q.wide, p.wide);
  // None for a slice of every channel (the layer's rows already), grouped or int16 weights.
  EXPECT_EQ(slice_plan(p, p.full()).cout, 0);
  EXPECT_EQ(slice_plan(make_conv_plan(random_conv({8, 16, 8, 8, 3, 1, 1, 2}, rng, 1), {8, 8, 8}, 1), {0, 4, 0, 8, 0, 8}).cout, 0);
  EXPECT_EQ(
      slice_plan(make_conv_plan(random_conv({8, 16, 8, 8, 3, 1, 1, 1}, rng, 1, 2048), {8, 8, 8}, 1), {0, 4, 0, 8, 0, 8}).cout,
      0);
}
