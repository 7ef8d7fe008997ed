// End to end: synthetic Meta-SpikeFormer of the default model's size, mapped by the mapper on
// arch/presets/tiny.json, simulated by the chip and compared spike for spike with the golden
// executor (which shares only the kernels, not the dataflow, timing or routing).
#include <gtest/gtest.h>

#include <random>

#include "arch/chip.hpp"
#include "mapper/mapper.hpp"
#include "models/meta_spikeformer.hpp"
#include "chip_test_util.hpp"

namespace spikechip {
namespace {

using testing::chip_preset;
using testing::random_image;
using testing::small_meta_spikeformer;

TEST(ChipE2E, SmallMetaSpikeFormerOnTinyIsBitExactForT1to4) {
  for (int T = 1; T <= 4; ++T) {
    model::Graph g = small_meta_spikeformer(T);
    arch::ChipConfig chip = chip_preset("tiny");
    mapper::Mapping m = mapper::map_model(g, chip, mapper::MapOptions{});
    model::GoldenExecutor gold(g);
    for (uint64_t seed : {1u, 2u}) {
      auto img = random_image(g.input().shape, seed * 10 + T);
      model::InputView in{img.data(), 1, g.input().shape};
      model::RunOptions ro;
      ro.record_spikes = true;
      model::RunResult gr = gold.run(in, T, ro);
      arch::Chip c(g, chip, m);
      arch::ChipRunResult cr = c.run(in, T);
      ASSERT_TRUE(cr.complete);
      EXPECT_EQ(arch::compare_with_golden(g, cr, gr), "") << "T=" << T << " seed=" << seed;
      int64_t gs = 0, cs = 0;
      for (size_t i = 0; i < g.nodes.size(); ++i)
        for (int t = 0; t < T; ++t) {
          EXPECT_EQ(cr.stats[i][t].sops, gr.stats[i][t].sops) << g.nodes[i].name << " t=" << t;
          EXPECT_EQ(cr.stats[i][t].macs, gr.stats[i][t].macs) << g.nodes[i].name << " t=" << t;
          EXPECT_EQ(cr.stats[i][t].sdsa_ops, gr.stats[i][t].sdsa_ops) << g.nodes[i].name << " t=" << t;
          gs += gr.stats[i][t].spikes, cs += cr.stats[i][t].spikes;
        }
      EXPECT_EQ(gs, cs);
      EXPECT_GT(cr.latency_cycles, 0u);
      EXPECT_GT(cr.net.packets_delivered, 0u);
    }
  }
}

}  // namespace
}  // namespace spikechip
