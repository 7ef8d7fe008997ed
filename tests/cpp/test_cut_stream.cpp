// Issue 20, a residual stage larger than the chip (docs/mapper.md, "Cut streams";
// docs/architecture.md, "Cut streams"): the mapper cuts the stage's stream at its Adds so that its
// blocks can take turns in phases; a cut Add receives its stream operand as `membrane` values.
// Checked on a small Meta-SpikeFormer whose stage-3 cycle of clusters exceeds a 3x3 chip: without
// the cuts the mapper refuses it; with them it runs bit-exact with the golden executor, behind
// the host port and through memory controllers, its DRAM bytes equal those derived from the
// mapping and the golden spikes (tests/cpp/dram_expect.hpp), its membrane packets and flits equal
// a count by hand from the routes' regions, and every injected flit is ejected.
#include <gtest/gtest.h>

#include <set>

#include "arch/chip.hpp"
#include "base/error.hpp"
#include "chip_test_util.hpp"
#include "dram_expect.hpp"
#include "mapper/mapper.hpp"
#include "mapper/mapping_check.hpp"
#include "models/executor.hpp"

namespace spikechip {
namespace {

using testing::chip_preset;

arch::ChipConfig small_chip() {
  arch::ChipConfig chip = chip_preset("tiny");
  chip.mesh.width = chip.mesh.height = 2;
  return chip;
}

mapper::MapOptions tm_options() {
  mapper::MapOptions mo;
  mo.time_multiplex = true;
  return mo;
}

TEST(CutStream, OnlyAStageTooLargeIsCut) {
  const model::Graph g = testing::small_meta_spikeformer(2);
  const arch::ChipConfig chip = small_chip();
  // Uncut, the stage's blocks and stream form one cycle of clusters larger than the 9 cores.
  mapper::Mapping u;
  u.clusters = mapper::build_clusters(g);
  u.groups = mapper::partition(g, u.clusters, chip, tm_options());
  EXPECT_THROW(mapper::assign_phases(g, u, chip.num_cores()), Error);
  const mapper::Mapping m = mapper::map_model(g, chip, tm_options());
  const std::vector<int> cuts = mapper::cut_adds_of(g, m.clusters);
  ASSERT_FALSE(cuts.empty());
  for (int k : cuts) EXPECT_EQ(g.nodes[size_t(k)].op, model::Op::Add);
  // Cut routes: membrane values from the stream operand's groups to the cut Add's, at least one
  // across phases; each carries a word per neuron per timestep and covers its destination's box
  // exactly once (the cells of one source tile are disjoint).
  int across = 0;
  std::map<int, int64_t> covered;  // destination group -> neurons delivered
  for (const auto& r : m.routes) {
    if (r.kind != "membrane") continue;
    ASSERT_EQ(r.dests.size(), 1u);
    EXPECT_DOUBLE_EQ(r.events, double(r.region.volume()));
    covered[r.dests[0]] += r.region.volume();
    across += m.groups[size_t(r.dests[0])].phase != m.groups[size_t(r.src_group)].phase;
  }
  EXPECT_GT(across, 0);
  for (const auto& [d, n] : covered) EXPECT_EQ(n, m.groups[size_t(d)].box.volume()) << "group " << d;
  // A model that fits keeps its clusters: the same model on the 4x4 chip needs no cut.
  arch::ChipConfig four = chip;
  four.mesh.width = four.mesh.height = 4;
  EXPECT_TRUE(mapper::cut_adds_of(g, mapper::map_model(g, four, tm_options()).clusters).empty());
  // The file round-trips and passes the mapping check (the cuts re-derived from its clusters).
  const mapper::Mapping back = mapper::mapping_from_json(mapper::mapping_to_json(m), "m.json");
  EXPECT_EQ(mapper::mapping_to_json(back).dump(), mapper::mapping_to_json(m).dump());
  EXPECT_NO_THROW(mapper::check_mapping(back, g, chip, "m.json"));
}

void run_and_check(const model::Graph& g, const arch::ChipConfig& chip, const mapper::Mapping& m) {
  const auto img = testing::random_image(g.input().shape, 5);
  const model::InputView in{img.data(), 1, g.input().shape};
  const arch::ChipRunResult r = arch::Chip(g, chip, m).run(in, g.timesteps);
  ASSERT_TRUE(r.complete);
  model::RunOptions ro;
  ro.record_spikes = true;
  ro.threads = 1;
  const model::RunResult gold = model::GoldenExecutor(g).run(in, g.timesteps, ro);
  EXPECT_EQ(arch::compare_with_golden(g, r, gold), "");
  const testing::DramExpect e = testing::expected_dram(g, m, gold, chip);
  EXPECT_EQ(r.dram_weight_bytes, e.weights);
  EXPECT_EQ(r.dram_spill_write_bytes, e.spill_write);
  EXPECT_EQ(r.dram_spill_read_bytes, e.spill_read);
  // Membrane packets by hand: per route and timestep, its region's values in packets of at most
  // 8 payload flits of flit_bits / 32 words (one destination: no multicast limit).
  const uint64_t per_flit = uint64_t(chip.router.flit_bits / 32), per_pkt = per_flit * arch::kMaxPayloadFlits;
  uint64_t packets = 0, flits = 0;
  for (const auto& rt : m.routes) {
    if (rt.kind != "membrane") continue;
    const uint64_t v = uint64_t(rt.region.volume());
    packets += uint64_t(g.timesteps) * ((v + per_pkt - 1) / per_pkt);
    flits += uint64_t(g.timesteps) * ((v + per_pkt - 1) / per_pkt + (v + per_flit - 1) / per_flit);
  }
  EXPECT_GT(packets, 0u);
  EXPECT_EQ(r.membrane_packets, packets);
  EXPECT_EQ(r.membrane_flits, flits);
  // Conservation (unicast: each packet has one destination): every injected flit is ejected.
  if (!chip.router.multicast) {
    EXPECT_EQ(r.net.flits_injected, r.net.flits_ejected);
  }
  for (const auto& ct : r.core_time) EXPECT_TRUE(ct.exact());
}

TEST(CutStream, RunsBitExactBehindTheHostPortAndThroughControllers) {
  const model::Graph g = testing::small_meta_spikeformer(2);
  const arch::ChipConfig chip = small_chip();
  const mapper::Mapping m = mapper::map_model(g, chip, tm_options());
  ASSERT_GE(m.phases.size(), 2u);
  run_and_check(g, chip, m);
  arch::ChipConfig with = chip;
  with.memory_controllers = {arch::MemoryControllerConfig{"west", 1, 1, "lpddr4-3200"},
                             arch::MemoryControllerConfig{"east", 1, 1, "lpddr4-3200"}};
  with.router.multicast = false;
  run_and_check(g, with, mapper::map_model(g, with, tm_options()));
}

}  // namespace
}  // namespace spikechip
