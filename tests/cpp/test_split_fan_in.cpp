// Issue 20, groups larger than a core at one output channel (docs/mapper.md, "Split fan-in" and
// "Split heads"; docs/architecture.md, "Split fan-in"): a Conv2d / Linear whose one output channel's
// weights fit no core is cut by its input channels, the partial groups sending their exact sums
// (route kind fan_in) to the group that accumulates, adds the bias and saturates once; an SDSA
// head whose tokens do not fit one core is cut into slices of token rows (each builds K^T V from
// all tokens' k and v, and row-sums its own queries). Checked: a conv split in two by hand (groups,
// bytes, routes, packets, flits and link bits counted by hand), bit-exact runs against the golden
// executor on the original graph, time-multiplexed Meta-SpikeFormers with either split, the file
// round trip and mapping check, and the error when even one input channel does not fit.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>

#include "arch/chip.hpp"
#include "base/error.hpp"
#include "chip_test_util.hpp"
#include "mapper/mapper.hpp"
#include "mapper/mapping_check.hpp"
#include "models/executor.hpp"

namespace spikechip {
namespace {

using testing::chip_preset;

// input 2x4x4 -> enc (8 ch, 3x3) -> enc.lif -> big (2 ch, 3x3 over 8 input channels) -> big.lif
// -> head (Linear 10) -> output, T = 2. big's output channel needs 8 x 9 + 4 + 1 = 77 weight bytes
// and its LIF's threshold 4: 81 per channel, more than the 64 bytes of weight SRAM the test gives a
// core; with its input channels in two slices of 4 the accumulating group needs 36 + 4 + 1 + 4 = 45
// per channel and the partial group 36 + 1 = 37.
model::Graph hand_graph() {
  testing::WeightedGraphBuilder b("fanin", 11);
  const int in = b.input(2, 4, 4);
  const int enc = b.conv("enc", in, 8, 3, 1, 1);
  const int el = b.lif("enc.lif", enc);
  const int big = b.conv("big", el, 2, 3, 1, 1);
  const int bl = b.lif("big.lif", big);
  const int head = b.linear("head", bl, 10);
  b.output(head);
  model::Graph g = std::move(b.g);
  g.timesteps = 2;
  const auto img = testing::random_image(g.input().shape, 3);
  testing::calibrate_thresholds(g, img, 0.3);
  return g;
}

arch::ChipConfig hand_chip() {
  arch::ChipConfig chip = chip_preset("tiny");
  chip.core.weight_sram_bytes = 64;
  return chip;
}

int node_of(const model::Graph& g, const std::string& name) {
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (g.nodes[i].name == name) return int(i);
  return -1;
}

model::RunResult golden(const model::Graph& g, const std::vector<uint8_t>& img) {
  const model::InputView in{img.data(), 1, g.input().shape};
  model::RunOptions ro;
  ro.record_spikes = true;
  ro.threads = 1;
  return model::GoldenExecutor(g).run(in, g.timesteps, ro);
}

arch::ChipRunResult run_bit_exact(const model::Graph& g, const arch::ChipConfig& chip, const mapper::Mapping& m) {
  const auto img = testing::random_image(g.input().shape, 5);
  const model::InputView in{img.data(), 1, g.input().shape};
  arch::ChipRunResult r = arch::Chip(g, chip, m).run(in, g.timesteps);
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(arch::compare_with_golden(g, r, golden(g, img)), "");
  for (const auto& ct : r.core_time) EXPECT_TRUE(ct.exact());
  return r;
}

void round_trips_and_checks(const model::Graph& g, const arch::ChipConfig& chip, const mapper::Mapping& m) {
  const mapper::Mapping back = mapper::mapping_from_json(mapper::mapping_to_json(m), "m.json");
  EXPECT_EQ(mapper::mapping_to_json(back).dump(), mapper::mapping_to_json(m).dump());
  EXPECT_NO_THROW(mapper::check_mapping(back, g, chip, "m.json"));
}

TEST(SplitFanIn, HandCheckedConvSplitInTwo) {
  const model::Graph g = hand_graph();
  const arch::ChipConfig chip = hand_chip();
  const mapper::Mapping m = mapper::map_model(g, chip, mapper::MapOptions{});
  const int big = node_of(g, "big");
  // Only big's cluster is split: two output channels (one per group at 45 B each), two slices.
  const arch::Cluster* bc = nullptr;
  for (const auto& c : m.clusters) {
    if (c.nodes.front() == big) bc = &c;
    else EXPECT_EQ(c.fan_in_slices, 1) << g.nodes[size_t(c.nodes.front())].name;
  }
  ASSERT_NE(bc, nullptr);
  EXPECT_EQ(bc->fan_in_node, big);
  EXPECT_EQ(bc->fan_in_slices, 2);
  EXPECT_EQ(bc->fan_in_channels, 8);
  EXPECT_EQ(bc->weight_bytes_per_channel, 81);
  std::vector<const arch::Group*> gs;
  for (const auto& gr : m.groups)
    if (gr.cluster == bc->id) gs.push_back(&gr);
  ASSERT_EQ(gs.size(), 4u);
  for (int k = 0; k < 4; ++k) {
    const arch::Group& gr = *gs[size_t(k)];
    EXPECT_EQ(gr.box, testing::box(k / 2, k / 2 + 1, 0, 4, 0, 4));
    EXPECT_EQ(gr.in0, k % 2 ? 4 : 0);
    EXPECT_EQ(gr.in1, k % 2 ? 8 : 4);
    EXPECT_EQ(gr.fan_in_partial(*bc), k % 2 == 0);
    // Partial: 16 accumulator words, 36 weights + shift; accumulating: 16 x (big's word + LIF V).
    EXPECT_EQ(gr.membrane_bytes, k % 2 ? 16 * 8 : 16 * 4);
    EXPECT_EQ(gr.weight_bytes, k % 2 ? 45 : 37);
  }
  // enc.lif's spikes: channels [0, 4) to the partial groups only, [4, 8) to the accumulating ones.
  const int el = node_of(g, "enc.lif");
  for (const auto& r : m.routes) {
    if (r.src_node != el) continue;
    std::vector<int> want;
    for (const arch::Group* gr : gs)
      if (r.region.c0 >= gr->in0 && r.region.c1 <= gr->in1) want.push_back(gr->id);
    EXPECT_EQ(r.dests, want) << "route " << r.id;
  }
  // Two fan_in routes, partial -> accumulating group of the same box, 16 words per timestep.
  std::vector<const arch::Route*> fan;
  for (const auto& r : m.routes)
    if (r.kind == "fan_in") fan.push_back(&r);
  ASSERT_EQ(fan.size(), 2u);
  for (int k = 0; k < 2; ++k) {
    EXPECT_EQ(fan[size_t(k)]->src_group, gs[size_t(2 * k)]->id);
    EXPECT_EQ(fan[size_t(k)]->dests, std::vector<int>{gs[size_t(2 * k + 1)]->id});
    EXPECT_EQ(fan[size_t(k)]->src_node, big);
    EXPECT_DOUBLE_EQ(fan[size_t(k)]->events, 16.0);
    EXPECT_EQ(fan[size_t(k)]->region, gs[size_t(2 * k)]->box);
  }
  // Their load is in the link loads: every link of a fan_in tree carries at least its 16 events.
  for (const arch::Route* r : fan) {
    ASSERT_FALSE(r->links.empty());
    for (const auto& [a, b] : r->links) {
      double load = 0;
      for (const auto& l : m.links)
        if (l.from == a && l.to == b) load = l.load;
      EXPECT_GE(load, 16.0);
    }
  }
  round_trips_and_checks(g, chip, m);

  // On the chip: bit-exact; per fan_in route and timestep one packet of 16 words (64-bit flits:
  // 2 words each, 8 payload flits + the header = 9 flits), 2 routes x T = 2 -> 4 packets, 36 flits.
  const arch::ChipRunResult r = run_bit_exact(g, chip, m);
  ASSERT_EQ(chip.router.flit_bits, 64);
  EXPECT_EQ(r.fan_in_packets, 4u);
  EXPECT_EQ(r.fan_in_flits, 36u);
  // big sends nothing else (its LIF is on its cores), so its link bits are the partial sums' and
  // their end-of-step markers': per route and timestep (9 + 1) flits x 64 bits x the XY hops.
  uint64_t bits = 0;
  for (const arch::Route* rt : fan) {
    const int a = m.groups[size_t(rt->src_group)].core, b = m.groups[size_t(rt->dests[0])].core;
    const uint64_t hops = uint64_t(std::abs(a % m.mesh_w - b % m.mesh_w) + std::abs(a / m.mesh_w - b / m.mesh_w));
    EXPECT_EQ(hops, rt->links.size());
    bits += uint64_t(g.timesteps) * (9 + 1) * 64 * hops;
  }
  EXPECT_GT(bits, 0u);
  EXPECT_EQ(r.node_events[size_t(big)].link_bits, bits);
  // The same model on the chip's own 128 KiB weight SRAM is not split (and maps as before).
  const mapper::Mapping whole = mapper::map_model(g, chip_preset("tiny"), mapper::MapOptions{});
  for (const auto& c : whole.clusters) EXPECT_EQ(c.fan_in_slices, 1);
  for (const auto& rt : whole.routes) EXPECT_NE(rt.kind, "fan_in");
}

TEST(SplitFanIn, BrokenFilesAreRejected) {
  const model::Graph g = hand_graph();
  const arch::ChipConfig chip = hand_chip();
  const nlohmann::json j = mapper::mapping_to_json(mapper::map_model(g, chip, mapper::MapOptions{}));
  size_t gi = 0;
  while (!j["groups"][gi].contains("inputs")) ++gi;
  // Two slices overlapping: the coverage of (neuron, input channel) no longer adds up.
  nlohmann::json bad = j;
  bad["groups"][gi]["inputs"] = {0, 5};
  EXPECT_THROW(mapper::mapping_from_json(bad, "m.json"), Error);
  // A fan_in route from the accumulating group: refused by the mapping check.
  bad = j;
  for (auto& r : bad["routes"])
    if (r["kind"] == "fan_in") r["kind"] = "membrane";
  const mapper::Mapping mb = mapper::mapping_from_json(bad, "m.json");
  EXPECT_THROW(mapper::check_mapping(mb, g, chip, "m.json"), Error);
}

TEST(SplitFanIn, EvenOneInputChannelTooLargeIsAClearError) {
  const model::Graph g = hand_graph();
  arch::ChipConfig chip = hand_chip();
  // enc (the first layer in graph order) with one of its 2 input channels: 9 + 4 + 1 + 4 (its LIF's
  // threshold) = 18 > 12 bytes.
  chip.core.weight_sram_bytes = 12;
  try {
    mapper::map_model(g, chip, mapper::MapOptions{});
    FAIL() << "mapped";
  } catch (const Error& e) {
    const std::string w = e.what();
    EXPECT_NE(w.find("layer 'enc' (with 1 co-located node(s)) does not fit one core even at its smallest group (one "
                     "output channel at one pixel, its fan-in split to one input channel per core): needs 18 B of "
                     "weight SRAM for one output channel with one input channel of 'enc' but a core has 12 B (short "
                     "by 6 B)"),
              std::string::npos)
        << w;
    EXPECT_NE(w.find("input channel"), std::string::npos) << w;
    EXPECT_NE(w.find("weight SRAM"), std::string::npos) << w;
  }
}

// The largest weight bytes per channel of any cluster of g mapped on chip.
int64_t max_channel_weights(const model::Graph& g) {
  int64_t w = 0;
  for (const auto& c : mapper::build_clusters(g, mapper::cuttable_adds(g))) w = std::max(w, c.weight_bytes_per_channel);
  return w;
}

TEST(SplitFanIn, MetaSpikeFormerTimeMultiplexedRunsBitExact) {
  const model::Graph g = testing::small_meta_spikeformer(2);
  arch::ChipConfig chip = chip_preset("tiny");
  chip.mesh.width = chip.mesh.height = 4;
  // Weight SRAM for 3/4 of the largest output channel (after cuts): that layer, and any other
  // above it, is split by its fan-in.
  chip.core.weight_sram_bytes = max_channel_weights(g) * 3 / 4;
  mapper::MapOptions mo;
  mo.time_multiplex = true;
  const mapper::Mapping m = mapper::map_model(g, chip, mo);
  int split = 0, fan = 0;
  for (const auto& c : m.clusters) split += c.fan_in_slices > 1;
  for (const auto& r : m.routes) {
    if (r.kind != "fan_in") continue;
    ++fan;
    EXPECT_LE(m.groups[size_t(r.src_group)].phase, m.groups[size_t(r.dests[0])].phase);
  }
  EXPECT_GT(split, 0);
  EXPECT_GT(fan, 0);
  ASSERT_GE(m.phases.size(), 2u);
  round_trips_and_checks(g, chip, m);
  const arch::ChipRunResult r = run_bit_exact(g, chip, m);
  EXPECT_GT(r.fan_in_packets, 0u);
}

TEST(SplitHeads, SdsaHeadTooLargeForACoreIsSplitByTokenRows) {
  model::MetaSpikeFormerSpec s;
  s.dims = {16, 32, 48, 64};
  s.blocks3 = 1, s.blocks4 = 1, s.heads = 2;
  s.in_channels = 1, s.height = 56, s.width = 56, s.num_classes = 10, s.T = 2;
  model::Graph g = model::build_meta_spikeformer(s, 7, 0.2);
  g.timesteps = 2;
  arch::ChipConfig chip = chip_preset("tiny");
  chip.mesh.width = chip.mesh.height = 4;
  // Membrane SRAM below one stage-3 head with all its tokens, above half of it.
  int64_t head = 0;
  for (const auto& c : mapper::build_clusters(g))
    if (c.sdsa) head = std::max(head, mapper::group_membrane_bytes(c, testing::box(0, c.shape.c / c.heads, 0, c.shape.h, 0, c.shape.w)));
  ASSERT_GT(head, 0);
  chip.core.membrane_sram_bytes = head * 3 / 4;
  mapper::MapOptions mo;
  mo.time_multiplex = true;
  const mapper::Mapping m = mapper::map_model(g, chip, mo);
  int sliced = 0;
  for (const auto& gr : m.groups) {
    const auto& c = m.clusters[size_t(gr.cluster)];
    if (!c.sdsa) continue;
    EXPECT_EQ(gr.box.x0, 0);
    EXPECT_EQ(gr.box.x1, c.shape.w);
    EXPECT_LE(gr.membrane_bytes, chip.core.membrane_sram_bytes);
    sliced += gr.box.y1 - gr.box.y0 < c.shape.h;
  }
  EXPECT_GT(sliced, 0);
  // q of a slice's own tokens only, k and v of all tokens of its heads.
  for (const auto& r : m.routes)
    for (int d : r.dests) {
      if (d < 0) continue;
      const auto& gr = m.groups[size_t(d)];
      const auto& c = m.clusters[size_t(gr.cluster)];
      if (!c.sdsa || r.kind != "spike") continue;
      const int sd = c.nodes.front();
      if (r.src_node == g.nodes[size_t(sd)].inputs[0]) {
        EXPECT_GE(r.region.y0, gr.box.y0);
        EXPECT_LE(r.region.y1, gr.box.y1);
      }
    }
  round_trips_and_checks(g, chip, m);
  run_bit_exact(g, chip, m);
}

// Issue 20's case: 123.7M (224x224, T = 4) on `loihi2-lpddr4` (27 KiB of weight SRAM, 156 KiB of
// membrane SRAM per core). With its streams cut, every cluster partitions; exactly the two
// ConvBlock2 pwconv2 layers (36.8 KiB per output channel: 768 x 49 int8 + bias + shift) are split
// in two by fan-in, and the stage-3 and stage-4 heads (189.9 KiB with all 196 tokens) into two
// slices of 7 token rows. (The whole mapping, 53 s, is in docs/performance.md.)
TEST(SplitFanIn, MetaSpikeFormer123MGroupsFitLoihi2Cores) {
  model::MetaSpikeFormerSpec spec = model::meta_spikeformer_preset("123M");
  spec.T = 4;
  model::Graph g = model::build_meta_spikeformer_structure(spec, 1);
  g.timesteps = 4;
  const arch::ChipConfig chip = chip_preset("loihi2-lpddr4");
  std::vector<arch::Cluster> cl = mapper::build_clusters(g, mapper::cuttable_adds(g));
  const std::vector<arch::Group> groups = mapper::partition(g, cl, chip, mapper::MapOptions{});
  std::vector<std::string> split;
  int heads_sliced = 0;
  for (const auto& c : cl) {
    if (c.fan_in_slices > 1) {
      split.push_back(g.nodes[size_t(c.fan_in_node)].name);
      EXPECT_EQ(c.fan_in_slices, 2);
      EXPECT_EQ(c.fan_in_channels, 768);
      EXPECT_GT(c.weight_bytes_per_channel, chip.core.weight_sram_bytes);
    }
    if (c.sdsa) {
      EXPECT_EQ(c.n_tiles_y, 2) << g.nodes[size_t(c.nodes.front())].name;
      EXPECT_EQ(c.tile_w, c.shape.w);
      heads_sliced += c.n_tiles_y > 1;
    }
  }
  EXPECT_EQ(split, (std::vector<std::string>{"ConvBlock2_1.0.Conv.pwconv2", "ConvBlock2_2.0.Conv.pwconv2"}));
  EXPECT_EQ(heads_sliced, 8);
  for (const auto& gr : groups) {
    EXPECT_LE(gr.membrane_bytes, chip.core.membrane_sram_bytes);
    EXPECT_LE(gr.weight_bytes, arch::weight_sram_usable(chip));
  }
}

}  // namespace
}  // namespace spikechip
