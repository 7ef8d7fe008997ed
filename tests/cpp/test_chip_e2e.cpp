// End to end: synthetic Meta-SpikeFormer of the default model's size, mapped by the mapper on
// arch/presets/tiny.json, simulated by the chip and compared spike for spike with the golden
// executor (which shares only the kernels, not the dataflow, timing or routing).
#include <gtest/gtest.h>

#include <random>

#include "arch/chip.hpp"
#include "mapper/mapper.hpp"
#include "models/meta_spikeformer.hpp"

namespace spikechip {
namespace {

arch::ChipConfig preset(const std::string& name) {
  return arch::load_chip_config(std::string(SPIKECHIP_SOURCE_DIR) + "/arch/presets/" + name + ".json");
}

model::Graph small_msf(int T) {
  model::MetaSpikeFormerSpec s;
  s.dims = {16, 32, 48, 64};
  s.blocks3 = 1, s.blocks4 = 1;
  s.in_channels = 1, s.height = 28, s.width = 28, s.num_classes = 10, s.T = T;
  model::Graph g = model::build_meta_spikeformer(s, 7, 0.2);
  g.timesteps = T;
  return g;
}

std::vector<uint8_t> image(const model::Shape& sh, uint64_t seed) {
  std::mt19937_64 r(seed);
  std::vector<uint8_t> v(size_t(sh.size()));
  for (auto& x : v) x = uint8_t(r() % 256);
  return v;
}

TEST(ChipE2E, SmallMetaSpikeFormerOnTinyIsBitExactForT1to4) {
  for (int T = 1; T <= 4; ++T) {
    model::Graph g = small_msf(T);
    arch::ChipConfig chip = preset("tiny");
    mapper::Mapping m = mapper::map_model(g, chip, mapper::MapOptions{});
    model::GoldenExecutor gold(g);
    for (uint64_t seed : {1u, 2u}) {
      auto img = image(g.input().shape, seed * 10 + T);
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
