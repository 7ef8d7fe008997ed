// Issue 21 item 3: the critical path (arch/critical_path.hpp, docs/reports.md "Critical path").
// A two-layer network mapped by hand whose path is worked out below from the cost model
// (docs/architecture.md) and the network's zero-load latency (checked analytically in
// test_noc_network). The invariants on real runs (the shipped model at T = 1 and 2, a
// time-multiplexed run, the 15.1M model) are in test_slow_chip_accounting.cpp.
#include <gtest/gtest.h>

#include "arch/chip.hpp"
#include "chip_test_util.hpp"
#include "critical_path_check.hpp"
#include "report/critical_path_report.hpp"

namespace spikechip {
namespace {

using arch::PathKind;
using testing::box;

// input [1,2,2] -> enc (Conv2d 1x1, one channel, weight 1) -> lif (threshold 100) -> head (Linear
// 4 -> 2) -> output. Pixels 200 (zero point 0): every LIF neuron fires at t = 0.
model::Graph two_layer_graph() {
  testing::WeightedGraphBuilder b("two_layer", 1);
  const int in = b.input(1, 2, 2, 0);
  const int enc = b.conv("enc", in, 1, 1, 1, 0);
  const int lif = b.lif("lif", enc);
  b.output(b.linear("head", lif, 2));
  model::Graph g = std::move(b.g);
  g.nodes[size_t(enc)].weight = {1}, g.nodes[size_t(enc)].bias = {0}, g.nodes[size_t(enc)].shift = {0};
  g.nodes[size_t(lif)].threshold = {100};
  model::Node& head = g.nodes[size_t(g.find("head"))];
  head.weight = {1, 1, 1, 1, 2, 2, 2, 2}, head.bias = {0, 0}, head.shift = {0, 0};
  g.timesteps = 1;
  return g;
}

// tiny's core, router and host on a 2x1 mesh: group A {enc, lif} on core 0 (x 0, the host port's
// router), group B {head, output} on core 1 (x 1).
TEST(CriticalPath, TwoLayerCaseByHand) {
  const model::Graph g = two_layer_graph();
  arch::ChipConfig chip = testing::chip_preset("tiny");
  chip.mesh.width = 2, chip.mesh.height = 1;
  // Worked by hand for router.model = speculative, where the pixels' end-of-step marker follows
  // the pixel packet through the host router's local VC without a bubble. Under the default
  // separable router it waits for route computation after the packet's tail (docs/architecture.md
  // "Router stages"), arrives at 8 instead of 6, after the encoder is done, and the path goes
  // through it: latency 33; and its injection takes 2 cycles, not 1 (BookSim2's terminal), one
  // more on each of the path's three network trips: latency 36, the path still exact (checked at
  // the end).
  chip.router.model = "speculative";
  testing::HandMapping h(g, chip, 2, 1);
  const int A = h.cluster({"enc", "lif"}), B = h.cluster({"head", "output"});
  const int ga = h.group(A, box(0, 1, 0, 2, 0, 2), 0, 0), gb = h.group(B, box(0, 2, 0, 1, 0, 1), 1, 0);
  h.route("pixel", -1, "input", box(0, 1, 0, 2, 0, 2), {ga});
  h.route("spike", ga, "lif", box(0, 1, 0, 2, 0, 2), {gb});
  h.route("result", gb, "output", box(0, 2, 0, 1, 0, 1), {-1});
  const mapper::Mapping m = h.finish();
  const std::vector<uint8_t> img(4, 200);
  arch::Chip c(g, chip, m);
  const arch::ChipRunResult r = c.run(model::InputView{img.data(), 1, g.input().shape}, 1);
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(r.prediction, 1);
  EXPECT_EQ(r.stats[size_t(g.find("lif"))][0].spikes, 4);
  testing::expect_exact_critical_path(r);

  // By hand. tiny: flit 64 bits, router pipeline P = 2, link latency L = 1; zero-load trip of an
  // S-flit packet over h hops = h (P + L) + P + 2 + (S - 1) (test_noc_network); host 64 bits per
  // cycle = 1 cycle per flit; adder_lanes 16, membrane_banks 8 (elementwise lanes 8),
  // neuron_updates_per_cycle 8, mac_lanes 4; every packet 1 header cycle on the input engine.
  //  1. The host streams the frame: the 4 pixels (8 bits, 8 per flit) are one packet of 1 + 1 = 2
  //     flits injected at cycle 0 (host segment of length 0); its end-of-step marker follows at
  //     0 + 2 flits = 2.
  //  2. Pixels to core 0 (0 hops): 0 + 2 + 2 + 1 = 5 -> network [0, 5).
  //     (The marker: 1 flit from 2, arrives 2 + 4 = 6, before the encoder is done: not on the path.)
  //  3. Encoder on core 0: header 1 + ceil(4 MACs / 4 lanes) = 2 -> [5, 7).
  //  4. enc's task (finalise 4 outputs / 8 lanes = 1) [7, 8); lif's task (4 / 8 per cycle = 1) [8, 9).
  //  5. lif's 4 spikes (2-bit addresses, 32 per flit): 1 + 1 = 2 flits to core 1 (1 hop), injected
  //     at 9: 9 + 3 + 2 + 2 + 1 = 17 -> network [9, 17). (Its 1-flit marker follows the packet
  //     through the same injection queue: 10 + 3 + 2 + 2 = 17 at the earliest, before step 6 ends.)
  //  6. Synapse engine on core 1: header 1 + 4 spikes x 1 tap x ceil(2 channels / 8 lanes) = 5
  //     -> [17, 22).
  //  7. head's task (finalise 2 / 8 = 1) [22, 23); output's task (2 / 8 = 1) [23, 24).
  //  8. The result: 2 words of 32 bits, 2 per flit: 1 + 1 = 2 flits, core 1 -> the host port at
  //     core 0 (1 hop): 24 + 3 + 2 + 2 + 1 = 32 = the latency.
  const int enc = g.find("enc"), lif = g.find("lif"), head = g.find("head"), out = g.find("output");
  struct Want { PathKind kind; int core, node; uint64_t start, end; };
  const std::vector<Want> want = {
      {PathKind::Network, 0, 0, 0, 5},         {PathKind::Encoder, 0, enc, 5, 7}, {PathKind::Node, 0, enc, 7, 8},
      {PathKind::Node, 0, lif, 8, 9},          {PathKind::Network, 1, lif, 9, 17}, {PathKind::Synapse, 1, head, 17, 22},
      {PathKind::Node, 1, head, 22, 23},       {PathKind::Node, 1, out, 23, 24},  {PathKind::Network, -1, out, 24, 32}};
  EXPECT_EQ(r.latency_cycles, 32u);
  ASSERT_EQ(r.critical_path.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    const arch::PathSegment& s = r.critical_path[i];
    EXPECT_EQ(s.kind, want[i].kind) << "segment " << i << ": " << arch::path_kind_name(s.kind);
    EXPECT_EQ(s.core, want[i].core) << "segment " << i;
    EXPECT_EQ(s.node, want[i].node) << "segment " << i;
    EXPECT_EQ(s.timestep, 0) << "segment " << i;
    EXPECT_EQ(s.start, want[i].start) << "segment " << i;
    EXPECT_EQ(s.end, want[i].end) << "segment " << i;
  }
  chip.router.model = "separable";
  arch::Chip c2(g, chip, m);
  const arch::ChipRunResult r2 = c2.run(model::InputView{img.data(), 1, g.input().shape}, 1);
  ASSERT_TRUE(r2.complete);
  EXPECT_EQ(r2.latency_cycles, 36u);
  testing::expect_exact_critical_path(r2);
}


// The report's sums (report/critical_path_report.cpp) on a path written by hand: by kind, by
// category, by layer (compute + its packets' trips) and by core (compute only), the segment list
// bounded, and critical_path.csv.
TEST(CriticalPath, ReportSumsByKindLayerAndCore) {
  const model::Graph g = two_layer_graph();  // nodes: input, enc, lif, head, output
  arch::ChipRunResult r;
  r.complete = true, r.latency_cycles = 10;
  r.critical_path = {{PathKind::Network, 0, 0, 0, 0, 2}, {PathKind::Encoder, 0, 1, 0, 2, 5},
                     {PathKind::Node, 0, 2, 0, 5, 6},    {PathKind::Network, 1, 2, 0, 6, 9},
                     {PathKind::Node, 1, 3, 0, 9, 10}};
  const nlohmann::json j = report::critical_path_json(g, 2, r, 4, 3);
  EXPECT_EQ(j["input"], 4);
  EXPECT_EQ(j["exact"], true);
  EXPECT_EQ(j["segments_sum_cycles"], 10);
  EXPECT_EQ(j["by_kind_cycles"]["network"], 5);
  EXPECT_EQ(j["by_kind_cycles"]["encoder"], 3);
  EXPECT_EQ(j["by_kind_cycles"]["node"], 2);
  EXPECT_EQ(j["by_kind_cycles"]["dram"], 0);
  EXPECT_EQ(j["breakdown_cycles"]["compute_cycles"], 5.0);
  EXPECT_EQ(j["breakdown_cycles"]["network_cycles"], 5.0);
  EXPECT_EQ(j["breakdown_cycles"]["waiting_cycles"], 0.0);
  // lif: its task 1 + its spikes' trip 3 = 4; enc 3; input (the pixels' trip) 2; head 1.
  ASSERT_EQ(j["layers"].size(), 4u);
  EXPECT_EQ(j["layers"][0]["name"], "lif");
  EXPECT_EQ(j["layers"][0]["cycles"], 4);
  EXPECT_EQ(j["layers"][0]["compute_cycles"], 1);
  EXPECT_DOUBLE_EQ(j["layers"][0]["share"].get<double>(), 0.4);
  EXPECT_EQ(j["layers"][1]["name"], "enc");
  EXPECT_EQ(j["layers"][3]["name"], "head");
  ASSERT_EQ(j["cores"].size(), 2u);
  EXPECT_EQ(j["cores"][0]["id"], 0);
  EXPECT_EQ(j["cores"][0]["cycles"], 4);
  EXPECT_EQ(j["cores"][1]["x"], 1);
  EXPECT_EQ(j["segments_total"], 5);
  EXPECT_EQ(j["segments_truncated"], true);
  ASSERT_EQ(j["segments"].size(), 3u);
  EXPECT_EQ(j["segments"][1]["layer"], "enc");
  const nlohmann::json rep = {{"critical_path", j}};
  EXPECT_EQ(report::critical_path_csv(rep),
            "index,kind,category,layer,timestep,core,start_cycles,end_cycles,cycles\n"
            "0,network,network,input,0,0,0,2,2\n1,encoder,compute,enc,0,0,2,5,3\n2,node,compute,lif,0,0,5,6,1\n");
  // A gap makes the path inexact (and shows as such in the report and on the page).
  r.critical_path[2].start = 4;
  EXPECT_EQ(report::critical_path_json(g, 2, r, 4, 3)["exact"], false);
  EXPECT_THROW(report::critical_path_csv({{"critical_path", {{"segments", "x"}}}}), Error);
}

}  // namespace
}  // namespace spikechip
