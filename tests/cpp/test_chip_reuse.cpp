// A chip runs the inputs of a batch one after the other (arch/chip.hpp: begin() resets what the
// previous run left and keeps the allocations). A used chip must give, for every input, exactly
// the result a new chip gives: cycles, spikes, counts, energy events, per-core time, links, the
// critical path and the activity traces; also after a run cut short, and with time multiplexing
// (phases, values spilled through DRAM).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "arch/chip.hpp"
#include "chip_digest.hpp"
#include "chip_test_util.hpp"
#include "mapper/mapper.hpp"

namespace spikechip {
namespace {

using nlohmann::json;
using testing::digest;

// Runs `imgs` one after the other on one chip and each on a new chip; the results must be equal.
void expect_reuse_is_fresh(const model::Graph& g, const arch::ChipConfig& chip, const arch::ChipMapping& m, int T,
                           const std::vector<std::vector<uint8_t>>& imgs, const arch::ChipRunOptions& opt) {
  arch::Chip used(g, chip, m);
  for (size_t i = 0; i < imgs.size(); ++i) {
    const model::InputView in{imgs[i].data(), 1, g.input().shape};
    const json a = digest(used.run(in, T, opt));
    arch::Chip fresh(g, chip, m);
    const json b = digest(fresh.run(in, T, opt));
    ASSERT_TRUE(b["complete"].get<bool>());
    EXPECT_EQ(a, b) << "input " << i;
  }
}

TEST(ChipReuse, EveryInputAsOnANewChip) {
  const int T = 2;
  const model::Graph g = testing::small_meta_spikeformer(T);
  const arch::ChipConfig chip = testing::chip_preset("tiny");
  const mapper::Mapping m = mapper::map_model(g, chip, {});
  arch::ChipRunOptions opt;
  opt.record_activity = true;
  expect_reuse_is_fresh(g, chip, m, T, {testing::random_image(g.input().shape, 1), testing::random_image(g.input().shape, 2),
                                        testing::random_image(g.input().shape, 1)}, opt);
}

TEST(ChipReuse, TimeMultiplexedChip) {
  const int T = 2;
  const model::Graph g = testing::small_meta_spikeformer(T);
  const testing::TimeMultiplexedChip tm = testing::time_multiplexed_tiny(g);
  ASSERT_GE(tm.m.phases.size(), 2u);
  expect_reuse_is_fresh(g, tm.chip, tm.m, T, {testing::random_image(g.input().shape, 3), testing::random_image(g.input().shape, 4)}, {});
}

// A run stopped half-way leaves packets in flight, pending events and half-filled buffers.
TEST(ChipReuse, AfterARunCutShort) {
  const int T = 2;
  const model::Graph g = testing::small_meta_spikeformer(T);
  const arch::ChipConfig chip = testing::chip_preset("tiny");
  const mapper::Mapping m = mapper::map_model(g, chip, {});
  const auto a = testing::random_image(g.input().shape, 5), b = testing::random_image(g.input().shape, 6);
  const model::InputView ia{a.data(), 1, g.input().shape}, ib{b.data(), 1, g.input().shape};
  const uint64_t full = arch::Chip(g, chip, m).run(ia, T).latency_cycles;
  const json fresh = digest(arch::Chip(g, chip, m).run(ib, T));
  for (int k = 1; k < 8; ++k) {
    arch::Chip used(g, chip, m);
    arch::ChipRunOptions cut;
    cut.max_cycles = full * uint64_t(k) / 8;
    ASSERT_FALSE(used.run(ia, T, cut).complete);
    EXPECT_EQ(digest(used.run(ib, T)), fresh) << "cut at " << k << "/8";
  }
}

}  // namespace
}  // namespace spikechip
