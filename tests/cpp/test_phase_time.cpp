// Issue 20, phase partitioning that minimises DRAM bytes and stalls (docs/mapper.md, "Phase
// partitioning", `min-time`): the mapper's time model (mapper/phase_time.cpp) against the chip's
// phase timing, the min-time cut against an exhaustive search over every phase assignment priced
// by that model, and the cut run on the chip: bit-exact, its DRAM bytes re-derived from golden
// spikes, and faster than the other partitioners' cuts where they differ.
#include <gtest/gtest.h>

#include <cstdio>
#include <numeric>
#include <vector>

#include "arch/chip.hpp"
#include "chip_test_util.hpp"
#include "dram_expect.hpp"
#include "mapper/mapper.hpp"
#include "phase_search.hpp"
#include "tiny_graph.hpp"

namespace spikechip {
namespace {

using testing::chip_preset;
using testing::random_image;
using testing::small_meta_spikeformer;

// small_meta_spikeformer (T = 2) on `tiny` cut to side x side cores, with a prefetch buffer,
// mapped as `spikechip run` maps: with the firing rates the golden run of the input measures.
struct Case {
  model::Graph g = small_meta_spikeformer(2);
  arch::ChipConfig chip = chip_preset("tiny");
  std::vector<uint8_t> img = random_image(g.input().shape, 77);
  model::InputView in{img.data(), 1, g.input().shape};
  model::RunResult gold;
  mapper::MapOptions mo;
  Case(int side, double prefetch) {
    chip.mesh.width = side, chip.mesh.height = side;
    chip.core.weight_prefetch_fraction = prefetch;
    model::RunOptions ro;
    ro.record_spikes = true;
    ro.threads = 1;
    gold = model::GoldenExecutor(g).run(in, g.timesteps, ro);
    mo.time_multiplex = true;
    mo.rates = mapper::measured_rates(g, {gold});
  }
  mapper::Mapping map(const std::string& phases) const {
    mapper::MapOptions o = mo;
    o.phases = phases;
    return mapper::map_model(g, chip, o);
  }
  mapper::PhaseTimeModel model(const mapper::Mapping& m) const { return mapper::phase_time_model(g, m, chip, mo); }
  double estimate(const mapper::Mapping& m) const {
    const std::vector<double> e = mapper::estimate_phase_cycles(model(m), m);
    return std::accumulate(e.begin(), e.end(), 0.0);
  }
  arch::ChipRunResult run(const mapper::Mapping& m) const {
    arch::Chip c(g, chip, m);
    return c.run(in, g.timesteps);
  }
};

// The estimate follows the chip: every partitioner's cut, with and without prefetch, within a
// stated band of the chip's latency (measured 0.90-0.91 here; 0.995-1.03 on 55.4M, 15.1M and
// 123.7M T=4 on loihi2-lpddr4, docs/mapper.md), and each phase within 2x.
TEST(PhaseTime, EstimateFollowsTheChipsPhases) {
  for (int side : {4, 5})
    for (double f : {0.0, 0.5}) {
      const Case c(side, f);
      for (const std::string ph : {"greedy", "min-dram", "min-time"}) {
        const mapper::Mapping m = c.map(ph);
        const arch::ChipRunResult r = c.run(m);
        ASSERT_TRUE(r.complete);
        const mapper::PhaseTimeModel tm = c.model(m);
        const std::vector<double> e = mapper::estimate_phase_cycles(tm, m);
        ASSERT_EQ(e.size(), r.phase_start_cycles.size());
        const double total = std::accumulate(e.begin(), e.end(), 0.0), ratio = total / double(r.latency_cycles);
        EXPECT_GT(ratio, 0.8) << side << " " << f << " " << ph;
        EXPECT_LT(ratio, 1.2) << side << " " << f << " " << ph;
        for (size_t p = 0; p < e.size(); ++p) {
          const double end = double(p + 1 < e.size() ? r.phase_start_cycles[p + 1] : r.latency_cycles);
          const double actual = end - double(r.phase_start_cycles[p]);
          EXPECT_GT(e[p], actual / 2) << side << " " << f << " " << ph << " phase " << p;
          EXPECT_LT(e[p], actual * 2) << side << " " << f << " " << ph << " phase " << p;
        }
        std::printf("%dx%d prefetch %.1f %-8s: %zu phases, estimate %.0f, chip %llu cycles (%.3f)\n", side, side, f,
                    ph.c_str(), e.size(), total, (unsigned long long)r.latency_cycles, ratio);
      }
    }
}

// A phase's compute by hand: layers of 3, 5 and 2 cycles per timestep, blocking hand-over (a
// layer starts timestep t + 1 once it has finished t and the next layer has finished t):
//   t = 0: 3, 8, 10;  t = 1: a 8 -> 11, b max(10, 11) -> 16, c 16 -> 18;  t = 2: a 16 -> 19,
//   b max(18, 19) -> 24, c 24 -> 26.
// One timestep is the sum; two layers alternate (T x their sum); none is 0.
TEST(PhaseTime, ComputeCyclesByHand) {
  mapper::PhaseTimeModel tm;
  tm.timesteps = 3;
  EXPECT_DOUBLE_EQ(tm.compute_cycles({3, 5, 2}), 26);
  EXPECT_DOUBLE_EQ(tm.compute_cycles({5, 3}), 24);
  EXPECT_DOUBLE_EQ(tm.compute_cycles({}), 0);
  tm.timesteps = 1;
  EXPECT_DOUBLE_EQ(tm.compute_cycles({3, 5, 2}), 10);
  // A phase by hand: L + (W - P + R) / B + max(C, P_next / B) + S / B.
  tm.dram_bytes_per_cycle = 4, tm.dram_latency_cycles = 20;
  mapper::PhaseLoad q;
  q.weight_bytes = 400, q.prefetched_bytes = 100, q.read_bytes = 40, q.write_bytes = 80, q.compute = 50;
  EXPECT_DOUBLE_EQ(tm.phase_cycles(q, 0), 20 + 85 + 50 + 20);
  EXPECT_DOUBLE_EQ(tm.phase_cycles(q, 400), 20 + 85 + 100 + 20);  // the next prefetch outlasts the compute
  tm.prefetch_buffer_bytes = 64;
  EXPECT_DOUBLE_EQ(tm.prefetchable(10) + tm.prefetchable(64) + tm.prefetchable(100), 10 + 64 + 64);
}

// The min-time cut is the least estimated latency over the cut positions of the dataflow order;
// against every assignment of clusters to phases that respects the dataflow and the cores, each
// priced by the same model from the mapping's routes (phase_loads), it is within 1.5 % (the
// exhaustive search may also reorder independent layers across phases: on 5x5 with the prefetch
// buffer it finds 224,160 estimated cycles against min-time's 226,596; equal on the other three
// set-ups), and never above the other partitioners' cuts.
TEST(PhaseTime, MinTimeAgainstTheExhaustiveOptimumOfTheModel) {
  for (int side : {4, 5})
    for (double f : {0.0, 0.5}) {
      const Case c(side, f);
      const mapper::Mapping best = c.map("min-time");
      const double got = c.estimate(best);
      const mapper::PhaseTimeModel tm = c.model(best);
      mapper::Mapping trial = best;
      const double ex = testing::exhaustive_min(best, side * side, int(best.phases.size()) + 2,
                                                [&](const std::vector<int>& pg, int used) {
                                                  for (auto& gr : trial.groups) gr.phase = pg[size_t(gr.id)];
                                                  trial.phases.assign(size_t(used), mapper::Phase{});
                                                  const std::vector<double> e = mapper::estimate_phase_cycles(tm, trial);
                                                  return std::accumulate(e.begin(), e.end(), 0.0);
                                                });
      EXPECT_GE(got, ex * (1 - 1e-12)) << side << " " << f;
      EXPECT_LE(got, ex * 1.015) << side << " " << f;
      std::printf("%dx%d prefetch %.1f: min-time estimate %.0f, exhaustive optimum %.0f\n", side, side, f, got, ex);
      EXPECT_LE(got, c.estimate(c.map("greedy")) * (1 + 1e-12)) << side << " " << f;
      EXPECT_LE(got, c.estimate(c.map("min-dram")) * (1 + 1e-12)) << side << " " << f;
      EXPECT_EQ(best.options.value("phases", ""), "min-time");
    }
}

// On the chip: bit-exact with the DRAM bytes re-derived from the golden spikes, never slower than
// greedy / min-dram, and strictly faster where the model's choice differs from theirs: on 5x5
// without prefetch min-dram's fewer spill bytes cost a longer run (min-time keeps greedy's cut),
// and with half the weight SRAM as prefetch buffer min-time finds a cut faster than both.
TEST(PhaseTime, MinTimeRunsBitExactAndIsNeverSlower) {
  for (double f : {0.0, 0.5}) {
    const Case c(5, f);
    const mapper::Mapping mt = c.map("min-time");
    const arch::ChipRunResult r = c.run(mt);
    ASSERT_TRUE(r.complete);
    EXPECT_EQ(arch::compare_with_golden(c.g, r, c.gold), "");
    const testing::DramExpect e = testing::expected_dram(c.g, mt, c.gold, c.chip);
    EXPECT_EQ(r.dram_weight_bytes, e.weights);
    EXPECT_EQ(r.dram_spill_write_bytes, e.spill_write);
    EXPECT_EQ(r.dram_spill_read_bytes, e.spill_read);
    const uint64_t greedy = c.run(c.map("greedy")).latency_cycles, min_dram = c.run(c.map("min-dram")).latency_cycles;
    EXPECT_LE(r.latency_cycles, greedy) << f;
    EXPECT_LE(r.latency_cycles, min_dram) << f;
    EXPECT_LT(r.latency_cycles, std::max(greedy, min_dram)) << f;
    if (f > 0) {
      EXPECT_LT(r.latency_cycles, std::min(greedy, min_dram));
    }
    std::printf("5x5 prefetch %.1f: min-time %llu, greedy %llu, min-dram %llu cycles\n", f,
                (unsigned long long)r.latency_cycles, (unsigned long long)greedy, (unsigned long long)min_dram);
  }
}

}  // namespace
}  // namespace spikechip
