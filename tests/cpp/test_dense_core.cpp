// The dense MAC-array core (core.type "dense", arch/core/dense_core.hpp): its unit costs against
// figures worked out by hand from the documented rules, and a whole run verified spike for spike
// against the golden executor, with its MAC count equal to the model's dense op count
// (models/graph.hpp dense_ops, an independent formula) and its energy = MACs x mac_8bit.
#include <gtest/gtest.h>

#include "arch/chip.hpp"
#include "arch/core/dense_core.hpp"
#include "arch/core/neuro_core.hpp"
#include "arch/energy.hpp"
#include "base/npy.hpp"
#include "chip_test_util.hpp"
#include "tiny_graph.hpp"

namespace spikechip {
namespace {

arch::CoreConfig core_cfg() {
  arch::CoreConfig c;
  c.adder_lanes = 16, c.membrane_banks = 8;  // element-wise lanes min(16, 8) = 8
  c.weight_word_bits = 64;                   // 8 weights per read
  c.mac_lanes = 4;
  return c;
}

TEST(DenseCore, UnitCostsByHand) {
  arch::DenseCore d(0, core_cfg());
  // 10 arriving spikes: bits written into the input bitmap, 4 per cycle; no additions.
  EXPECT_EQ(d.spike_input_cost(10, 288, 32), 3u);  // ceil(10 / 4)
  EXPECT_EQ(d.cnt.sops, 0u);
  EXPECT_EQ(d.cnt.membrane_sram_reads, 10u);
  EXPECT_EQ(d.cnt.membrane_sram_writes, 10u);
  // A slice of 100 outputs with 1000 MACs of fan-in: ceil(1000 / 4) = 250 MAC cycles + the
  // finalise pass ceil(100 / 8) = 13.
  EXPECT_EQ(d.conv_task_cost(100, 1000), 263u);
  EXPECT_EQ(d.cnt.dense_macs, 1000u);
  EXPECT_EQ(d.cnt.weight_sram_reads, 125u);                // ceil(1000 / 8)
  EXPECT_EQ(d.cnt.membrane_sram_reads, 10u + 32 + 100);    // input bits 32 per word, finalise reads
  EXPECT_EQ(d.cnt.membrane_sram_writes, 10u + 100);
  // SDSA: the dense matrix products' MACs on the same lanes; the spike-driven ops are not done.
  EXPECT_EQ(d.sdsa_task_cost(50, 2048), 512u);
  EXPECT_EQ(d.cnt.sdsa_ops, 0u);
  EXPECT_EQ(d.cnt.dense_macs, 3048u);

  // The event-driven core on the same work: cost follows the spikes' SOPs instead.
  arch::NeuroCore e(0, core_cfg());
  EXPECT_EQ(e.spike_input_cost(10, 288, 32), e.spike_cost(288, 32));
  EXPECT_EQ(e.conv_task_cost(100, 1000), 13u);  // finalise only
  EXPECT_EQ(e.sdsa_task_cost(50, 2048), 4u);    // ceil(50 / 16 SDSA lanes)
  EXPECT_EQ(e.cnt.dense_macs, 0u);
}

TEST(DenseCore, RunIsBitExactAndCountsEveryDenseMac) {
  const int T = 2;
  model::Graph g = testing::small_meta_spikeformer(T);
  arch::ChipConfig event = testing::chip_preset("tiny"), dense = event;
  dense.core.type = "dense";
  EXPECT_EQ(mapper::chip_hash(event), mapper::chip_hash(dense));  // the core model never changes a mapping
  const testing::CoreModelRuns r = testing::run_against_event_core(g, dense, event, T);
  const arch::ChipRunResult &d = r.model, &e = r.event;
  ASSERT_TRUE(d.complete);
  EXPECT_EQ(arch::compare_with_golden(g, d, r.golden), "");
  EXPECT_EQ(arch::compare_with_golden(g, e, r.golden), "");

  // Every spike-input Conv2d/Linear over every position and SDSA's two products, every timestep.
  int64_t expect = 0;
  for (const model::Node& n : g.nodes) {
    if ((n.op == model::Op::Conv2d || n.op == model::Op::Linear) &&
        g.nodes[size_t(n.inputs[0])].kind() != model::ValueKind::Input)
      expect += T * model::dense_ops(g, n);
    if (n.op == model::Op::SDSA) {
      const int64_t d_head = n.shape.c / n.heads, hw = int64_t(n.shape.h) * n.shape.w;
      expect += T * n.heads * 2 * hw * d_head * d_head;
    }
  }
  uint64_t macs = 0, sops = 0;
  for (const auto& c : d.cores) macs += c.dense_macs, sops += c.sops;
  EXPECT_EQ(int64_t(macs), expect);
  EXPECT_EQ(d.events.dense_macs, macs);
  EXPECT_EQ(sops, 0u);                     // no spike-driven additions on the dense core
  EXPECT_EQ(e.events.dense_macs, 0u);
  EXPECT_GT(e.events.paper_acs, 0u);
  // The encoder (pixel input) is the same MAC work on both cores.
  EXPECT_EQ(d.events.mults8, e.events.mults8);
  // The paper's formula on the dense chip is the ANN figure: every MAC at E_MAC, no ACs.
  EXPECT_EQ(d.events.paper_macs, macs + e.events.paper_macs);
  EXPECT_EQ(d.events.paper_acs, d.events.sdsa_ops);
  EXPECT_EQ(d.events.sdsa_ops, 0u);

  const arch::EnergyTable t = arch::load_energy_table(arch::resolve_energy_table(dense));
  const arch::EnergyBreakdown eb = arch::apply_energy(d.events, t, dense);
  EXPECT_DOUBLE_EQ(eb.components_pj.at("mac"), double(macs) * t.at("mac_8bit"));
  EXPECT_EQ(arch::apply_energy(e.events, t, event).components_pj.at("mac"), 0.0);
  // Layers sum to the totals on the dense core too.
  arch::EventCounts sum;
  for (const auto& ne : d.node_events) sum += ne;
  EXPECT_EQ(sum.dense_macs, d.events.dense_macs);
  EXPECT_EQ(sum.weight_reads, d.events.weight_reads);
  EXPECT_EQ(sum.membrane_reads, d.events.membrane_reads);
}

}  // namespace
}  // namespace spikechip

namespace spikechip {
namespace {

// Issue 14: the dense core chosen by `--set core.type=dense` on the shipped model and the tiny
// preset, through the binary: verified bit-exact against the golden executor, its MACs counted,
// and the same run as the dense-tiny preset (which is tiny with core.type dense, 16 MAC lanes).
TEST(DenseCore, SetCoreTypeDenseOnShippedModelIsBitExact) {
  const std::string src = SPIKECHIP_SOURCE_DIR, dir = testing::fresh_dir("denseset");
  NpyArray all = read_npy(src + "/models/fmnist/sample.npy");  // [8, 1, 28, 28] uint8: the first 2
  ASSERT_EQ(all.shape.size(), 4u);
  const size_t per = all.bytes.size() / size_t(all.shape[0]);
  all.shape[0] = 2, all.bytes.resize(2 * per);
  write_npy(dir + "/two.npy", all);
  const std::string common = "run --model '" + src + "/models/fmnist' --input '" + dir + "/two.npy' --quiet ";
  const auto a = testing::run_spikechip(common + "--chip tiny --set core.type=dense --set core.mac_lanes=16 -o '" + dir + "/a'");
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_NE(a.out.find("verified bit-exact against golden"), std::string::npos) << a.out;
  const auto b = testing::run_spikechip(common + "--chip dense-tiny -o '" + dir + "/b'");
  ASSERT_EQ(b.code, 0) << b.err;
  const nlohmann::json ra = nlohmann::json::parse(testing::slurp(dir + "/a/report.json"));
  const nlohmann::json rb = nlohmann::json::parse(testing::slurp(dir + "/b/report.json"));
  EXPECT_EQ(ra["run"]["verified"], true);
  EXPECT_EQ(ra["chip"]["config"]["core"]["type"], "dense");
  EXPECT_EQ(ra["chip"]["overrides"], nlohmann::json({"core.type=dense", "core.mac_lanes=16"}));
  EXPECT_GT(ra["events"]["dense_macs"].get<uint64_t>(), 0u);
  EXPECT_EQ(ra["events"], rb["events"]);
  for (const char* k : {"latency_cycles", "energy_pJ", "spikes", "packets", "top1_predictions"})
    EXPECT_EQ(ra["summary"][k], rb["summary"][k]) << k;
  // The event core on the same inputs computes the same spikes, in other cycles.
  const auto e = testing::run_spikechip(common + "--chip tiny -o '" + dir + "/e'");
  ASSERT_EQ(e.code, 0) << e.err;
  const nlohmann::json re = nlohmann::json::parse(testing::slurp(dir + "/e/report.json"));
  EXPECT_EQ(re["summary"]["spikes"], ra["summary"]["spikes"]);
  EXPECT_EQ(re["summary"]["top1_predictions"], ra["summary"]["top1_predictions"]);
  EXPECT_NE(re["summary"]["latency_cycles"], ra["summary"]["latency_cycles"]);
}

}  // namespace
}  // namespace spikechip
