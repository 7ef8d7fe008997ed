// Issue 5: a tiny network with every op kind (pixel-input conv, LIF, spatially split conv with a
// halo, residual Add stream, q/k/v + SDSA, Mean, Linear, Output) mapped BY HAND onto a 3x3 mesh:
// the groups, cores and routes below are written out here, not produced by the mapper, and pass
// the strict mapping loader. The chip's spikes must equal the golden executor's bit for bit.
#include <gtest/gtest.h>

#include <systemc>

#include "arch/chip.hpp"
#include "chip_test_util.hpp"
#include "sim/chip_module.hpp"
#include "base/error.hpp"
#include "tiny_graph.hpp"

namespace spikechip {
namespace {

using testing::box;

// input[1,8,8] -> conv1 3x3 s2 p1 [4,4,4] -> lif1 -> conv2 1x1 [8,4,4] -> lif2 -> conv3 3x3 p1
// [4,4,4] -> add1 = conv1 + conv3 -> lif3 -> q/k/v 1x1 convs -> LIFs -> sdsa (2 heads) -> attn_lif
// -> proj 1x1 -> add2 = add1 + proj -> mean -> lif_h -> head Linear 4->3 -> output.
model::Graph hand_graph() {
  testing::WeightedGraphBuilder b("handmap", 2024);
  const int in = b.input(1, 8, 8, 128);
  const int c1 = b.conv("conv1", in, 4, 3, 2, 1);
  const int l1 = b.lif("lif1", c1);
  const int l2 = b.lif("lif2", b.conv("conv2", l1, 8, 1, 1, 0));
  const int a1 = b.add("add1", {c1, b.conv("conv3", l2, 4, 3, 1, 1)});
  const int l3 = b.lif("lif3", a1);
  const int q = b.lif("q_lif", b.conv("q_conv", l3, 4, 1, 1, 0));
  const int k = b.lif("k_lif", b.conv("k_conv", l3, 4, 1, 1, 0));
  const int v = b.lif("v_lif", b.conv("v_conv", l3, 4, 1, 1, 0));
  const int at = b.lif("attn_lif", b.sdsa("sdsa", q, k, v, 2, 2));
  const int a2 = b.add("add2", {a1, b.conv("proj", at, 4, 1, 1, 0)});
  const int lh = b.lif("lif_h", b.mean("mean", a2));
  b.output(b.linear("head", lh, 3));
  model::Graph g = std::move(b.g);
  g.timesteps = 4;
  testing::calibrate_thresholds(g, testing::random_image(g.input().shape, 99), 0.3);
  return g;
}

arch::ChipConfig mesh3x3() {
  arch::ChipConfig c = testing::chip_preset("tiny");
  c.mesh.width = c.mesh.height = 3;
  return c;
}

// Placement (x, y):     (0,0) S rows 0-1 | (1,0) S rows 2-3 | (2,0) conv2/lif2
//                       (0,1) q          | (1,1) k          | (2,1) v
//                       (0,2) sdsa       | (1,2) mean/lif_h | (2,2) head/output
mapper::Mapping hand_mapping(const model::Graph& g, const arch::ChipConfig& chip) {
  testing::HandMapping h(g, chip, 3, 3);
  const int S = h.cluster({"conv1", "lif1", "conv3", "add1", "lif3", "proj", "add2"});
  const int B = h.cluster({"conv2", "lif2"});
  const int Q = h.cluster({"q_conv", "q_lif"}), K = h.cluster({"k_conv", "k_lif"}), V = h.cluster({"v_conv", "v_lif"});
  const int D = h.cluster({"sdsa", "attn_lif"}, 2);
  const int M = h.cluster({"mean", "lif_h"});
  const int O = h.cluster({"head", "output"});
  const int s0 = h.group(S, box(0, 4, 0, 2, 0, 4), 0, 0), s1 = h.group(S, box(0, 4, 2, 4, 0, 4), 1, 0);
  const int gb = h.group(B, box(0, 8, 0, 4, 0, 4), 2, 0);
  const int gq = h.group(Q, box(0, 4, 0, 4, 0, 4), 0, 1), gk = h.group(K, box(0, 4, 0, 4, 0, 4), 1, 1);
  const int gv = h.group(V, box(0, 4, 0, 4, 0, 4), 2, 1);
  const int gd = h.group(D, box(0, 4, 0, 4, 0, 4), 0, 2);
  const int gm = h.group(M, box(0, 4, 0, 1, 0, 1), 1, 2);
  const int go = h.group(O, box(0, 3, 0, 1, 0, 1), 2, 2);
  // conv1 (3x3 s2 p1): output rows [0,2) read input rows [-1,4) -> [0,4); rows [2,4) read [3,8).
  h.route("pixel", -1, "input", box(0, 1, 0, 3, 0, 8), {s0});
  h.route("pixel", -1, "input", box(0, 1, 3, 4, 0, 8), {s0, s1});
  h.route("pixel", -1, "input", box(0, 1, 4, 8, 0, 8), {s1});
  // conv2 is 1x1 on one core: it reads all of lif1.
  h.route("spike", s0, "lif1", box(0, 4, 0, 2, 0, 4), {gb});
  h.route("spike", s1, "lif1", box(0, 4, 2, 4, 0, 4), {gb});
  // conv3 (3x3 p1): rows [0,2) read lif2 rows [0,3), rows [2,4) read [1,4): rows 1-2 go to both.
  h.route("spike", gb, "lif2", box(0, 8, 0, 1, 0, 4), {s0});
  h.route("spike", gb, "lif2", box(0, 8, 1, 3, 0, 4), {s0, s1});
  h.route("spike", gb, "lif2", box(0, 8, 3, 4, 0, 4), {s1});
  // lif3 feeds the three 1x1 q/k/v convs (a 3-way multicast).
  h.route("spike", s0, "lif3", box(0, 4, 0, 2, 0, 4), {gq, gk, gv});
  h.route("spike", s1, "lif3", box(0, 4, 2, 4, 0, 4), {gq, gk, gv});
  h.route("spike", gq, "q_lif", box(0, 4, 0, 4, 0, 4), {gd});
  h.route("spike", gk, "k_lif", box(0, 4, 0, 4, 0, 4), {gd});
  h.route("spike", gv, "v_lif", box(0, 4, 0, 4, 0, 4), {gd});
  // proj (1x1) accumulates into the stream: each stream group reads its own rows of attn_lif.
  h.route("spike", gd, "attn_lif", box(0, 4, 0, 2, 0, 4), {s0});
  h.route("spike", gd, "attn_lif", box(0, 4, 2, 4, 0, 4), {s1});
  // The Mean reads per-channel partial sums of the stream (add2) from both stream groups.
  h.route("partial_sum", s0, "add2", box(0, 4, 0, 2, 0, 4), {gm});
  h.route("partial_sum", s1, "add2", box(0, 4, 2, 4, 0, 4), {gm});
  h.route("spike", gm, "lif_h", box(0, 4, 0, 1, 0, 1), {go});
  h.route("result", go, "output", box(0, 3, 0, 1, 0, 1), {-1});
  return h.finish();
}

void expect_same_as_golden(const model::Graph& g, const arch::ChipRunResult& cr, const model::RunResult& gr, int T) {
  ASSERT_TRUE(cr.complete);
  EXPECT_EQ(arch::compare_with_golden(g, cr, gr), "") << "T=" << T;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (int t = 0; t < T; ++t) {
      EXPECT_EQ(cr.stats[i][size_t(t)].spikes, gr.stats[i][size_t(t)].spikes) << g.nodes[i].name << " t=" << t;
      EXPECT_EQ(cr.stats[i][size_t(t)].sops, gr.stats[i][size_t(t)].sops) << g.nodes[i].name << " t=" << t;
      EXPECT_EQ(cr.stats[i][size_t(t)].macs, gr.stats[i][size_t(t)].macs) << g.nodes[i].name << " t=" << t;
      EXPECT_EQ(cr.stats[i][size_t(t)].sdsa_ops, gr.stats[i][size_t(t)].sdsa_ops) << g.nodes[i].name << " t=" << t;
    }
}

TEST(ChipHandMapped, LoaderAcceptsTheHandMappingAndRejectsBrokenCopies) {
  const model::Graph g = hand_graph();
  const arch::ChipConfig chip = mesh3x3();
  const mapper::Mapping m = hand_mapping(g, chip);
  EXPECT_EQ(m.groups.size(), 9u);
  EXPECT_EQ(m.routes.size(), 19u);
  nlohmann::json j = mapper::mapping_to_json(m);
  nlohmann::json shared = j;
  shared["groups"][1]["core"] = {0, 0};
  testing::expect_error([&] { mapper::mapping_from_json(shared, "x"); }, {"/groups/1/core", "another group"});
  nlohmann::json gap = j;
  gap["groups"][1]["rows"] = {3, 4};
  testing::expect_error([&] { mapper::mapping_from_json(gap, "x"); }, {"/clusters/0", "cover"});
  nlohmann::json order = j;
  order["routes"][1]["dests"] = {1, 0};
  testing::expect_error([&] { mapper::mapping_from_json(order, "x"); }, {"/routes/1/dests", "ascending"});
}

TEST(ChipHandMapped, SpikesEqualGoldenForT1to4) {
  const model::Graph g = hand_graph();
  const arch::ChipConfig chip = mesh3x3();
  const mapper::Mapping m = hand_mapping(g, chip);
  model::GoldenExecutor gold(g);
  for (int T = 1; T <= 4; ++T)
    for (uint64_t seed : {99u, 7u, 123u}) {
      const auto img = testing::random_image(g.input().shape, seed);
      const model::InputView in{img.data(), 1, g.input().shape};
      model::RunOptions ro;
      ro.record_spikes = true;
      const model::RunResult gr = gold.run(in, T, ro);
      // The test is only meaningful if every layer is active but not saturated.
      if (seed == 99u)
        for (size_t i = 0; i < g.nodes.size(); ++i)
          if (g.nodes[i].op == model::Op::LIF) {
            const int64_t s = gr.stats[i][0].spikes;
            EXPECT_GT(s, 0) << g.nodes[i].name;
            EXPECT_LT(s, g.nodes[i].shape.size()) << g.nodes[i].name;
          }
      arch::Chip c(g, chip, m);
      const arch::ChipRunResult cr = c.run(in, T);
      expect_same_as_golden(g, cr, gr, T);
      EXPECT_GT(cr.net.packets_delivered, 0u);
      // Every group's core did work (the hand mapping uses all 9 cores).
      for (const auto& grp : m.groups) EXPECT_GT(cr.core_time[size_t(grp.core)].busy(), 0u) << "group " << grp.id;
    }
}

TEST(ChipHandMapped, MissingHaloRouteIsDiagnosedNotSilentlyWrong) {
  const model::Graph g = hand_graph();
  const arch::ChipConfig chip = mesh3x3();
  mapper::Mapping m = hand_mapping(g, chip);
  // Drop group 1 from the lif2 rows 1-2 route: conv3 rows 2-3 then miss their halo row 1 spikes.
  for (auto& r : m.routes)
    if (m.node_names[size_t(r.src_node)] == "lif2" && r.region.y0 == 1) r.dests = {0};
  const auto img = testing::random_image(g.input().shape, 99);
  const model::InputView in{img.data(), 1, g.input().shape};
  model::GoldenExecutor gold(g);
  model::RunOptions ro;
  ro.record_spikes = true;
  const model::RunResult gr = gold.run(in, 2, ro);
  arch::Chip c(g, chip, m);
  const arch::ChipRunResult cr = c.run(in, 2);
  EXPECT_NE(arch::compare_with_golden(g, cr, gr), "");
}

// The same hand mapping driven by the SystemC kernel (sim::ChipModule, as `spikechip run` does):
// two inputs back to back give the plain C++ driver's results and cycle counts.
TEST(ChipHandMappedSystemC, KernelDriverMatchesPlainDriverAndGolden) {
  const model::Graph g = hand_graph();
  const arch::ChipConfig chip = mesh3x3();
  const mapper::Mapping m = hand_mapping(g, chip);
  const int T = 3;
  std::vector<std::vector<uint8_t>> imgs = {testing::random_image(g.input().shape, 5),
                                            testing::random_image(g.input().shape, 6)};
  std::vector<arch::ChipRunResult> plain;
  for (const auto& img : imgs) {
    arch::Chip c(g, chip, m);
    plain.push_back(c.run(model::InputView{img.data(), 1, g.input().shape}, T));
  }
  std::vector<std::unique_ptr<arch::Chip>> chips;
  std::vector<arch::ChipRunResult> got;
  arch::ChipRunOptions opt;
  size_t next = 0;
  sim::ChipModule mod(
      "chip", sc_core::sc_time(5, sc_core::SC_NS), opt,
      [&]() -> arch::Chip* {
        if (next >= imgs.size()) return nullptr;
        chips.push_back(std::make_unique<arch::Chip>(g, chip, m));
        chips.back()->begin(model::InputView{imgs[next].data(), 1, g.input().shape}, T, opt);
        ++next;
        return chips.back().get();
      },
      [&](arch::Chip& c) { got.push_back(c.finish()); });
  mod.start();
  sc_core::sc_start();
  ASSERT_EQ(got.size(), 2u);
  model::GoldenExecutor gold(g);
  model::RunOptions ro;
  ro.record_spikes = true;
  for (size_t i = 0; i < got.size(); ++i) {
    expect_same_as_golden(g, got[i], gold.run(model::InputView{imgs[i].data(), 1, g.input().shape}, T, ro), T);
    EXPECT_EQ(got[i].latency_cycles, plain[i].latency_cycles);
    EXPECT_EQ(got[i].timestep_end_cycles, plain[i].timestep_end_cycles);
    EXPECT_EQ(got[i].net.flits_injected, plain[i].net.flits_injected);
  }
  // Both inputs ran on one timeline: the second started after the first's result came back.
  EXPECT_GE(sc_core::sc_time_stamp(), sc_core::sc_time(5.0 * double(got[0].latency_cycles + got[1].latency_cycles), sc_core::SC_NS));
}

}  // namespace
}  // namespace spikechip
