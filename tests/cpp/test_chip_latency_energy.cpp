// Issue 7: latency and energy of the chip against numbers derived by hand from the documented
// timing (docs/architecture.md) and the 45 nm energy table (arch/energy/45nm.json), on a chain
// of single neurons whose every event can be counted on paper:
//
//   host -> pixel -> core (0,0) {conv1 1x1, lif1}  -- one spike -->  core (x,y) {head Linear, output}
//        <- result ------------------------------------------------------------'
#include <gtest/gtest.h>

#include <cmath>

#include "arch/chip.hpp"
#include "arch/energy.hpp"
#include "chip_test_util.hpp"

namespace spikechip {
namespace {

using testing::box;

model::Graph chain_graph() {
  testing::WeightedGraphBuilder b("chain", 1);
  const int in = b.input(1, 1, 1, 0);
  const int l1 = b.lif("lif1", b.conv("conv1", in, 1, 1, 1, 0));
  b.output(b.linear("head", l1, 1));
  model::Graph g = std::move(b.g);
  auto& c1 = g.nodes[size_t(g.find("conv1"))];
  c1.weight = {127}, c1.bias = {0};
  g.nodes[size_t(g.find("head"))].weight = {5};
  g.nodes[size_t(g.find("head"))].bias = {0};
  // pixel 255 -> conv1 = 255 * 127 = 32385 -> H = 16192 >= 1: lif1 spikes at every timestep.
  g.nodes[size_t(g.find("lif1"))].threshold = {1};
  return g;
}

arch::ChipConfig mesh4x4(const std::string& router_model = "separable") {
  arch::ChipConfig c = testing::chip_preset("tiny");
  c.mesh.width = c.mesh.height = 4;
  c.router.model = router_model;
  return c;
}

mapper::Mapping chain_mapping(const model::Graph& g, const arch::ChipConfig& chip, int x, int y) {
  testing::HandMapping h(g, chip, 4, 4);
  const int A = h.cluster({"conv1", "lif1"}), B = h.cluster({"head", "output"});
  const int ga = h.group(A, box(0, 1, 0, 1, 0, 1), 0, 0), gb = h.group(B, box(0, 1, 0, 1, 0, 1), x, y);
  h.route("pixel", -1, "input", box(0, 1, 0, 1, 0, 1), {ga});
  h.route("spike", ga, "lif1", box(0, 1, 0, 1, 0, 1), {gb});
  h.route("result", gb, "output", box(0, 1, 0, 1, 0, 1), {-1});
  return h.finish();
}

struct ChainRun {
  model::Graph g = chain_graph();
  arch::ChipConfig chip;
  mapper::Mapping m;
  arch::ChipRunResult r;
  model::RunResult gold;
  ChainRun(int x, int y, int T, const std::string& router_model = "separable") : chip(mesh4x4(router_model)) {
    m = chain_mapping(g, chip, x, y);
    const uint8_t px = 255;
    const model::InputView in{&px, 1, g.input().shape};
    arch::Chip c(g, chip, m);
    r = c.run(in, T);
    model::GoldenExecutor ge(g);
    model::RunOptions ro;
    ro.record_spikes = true;
    gold = ge.run(in, T, ro);
  }
};

uint64_t node_start(const ChainRun& run, const std::string& name, int t) {
  const int n = run.g.find(name);
  for (const auto& e : run.r.timeline)
    if (e.node == n && e.timestep == t) return e.start;
  ADD_FAILURE() << "no timeline entry for " << name << " t=" << t;
  return 0;
}

// Documented timing (docs/architecture.md), tiny preset: P = 2, L = 1, 64-bit flits, 8 membrane
// banks and 16 adder lanes (8 lanes per cycle), 8 neuron updates per cycle, 4 MAC lanes.
//   Packet of S flits created at c, h hops: tail ejected (deliver) at c + h(P+L) + P + 2 + (S-1).
//   pixel packet (1 value, 8 bits): 1 header + 1 payload flit; spike (1 address) and result
//   (1 word of 32 bits) likewise 2 flits; end-of-step markers 1 flit, injected right after.
//   host: pixel created at 0, delivered at 0 + 0 + 2 + 2 + 1 = 5 (core (0,0) is the host port);
//     its marker created at 2 (host link 1 flit/cycle), delivered at 2 + 4 = 6.
//   core (0,0): synapse = 1 header decode + ceil(1 MAC / 4) = 2 cycles -> inputs ready at 7;
//     conv1 finalise ceil(1/8) = 1 -> 8; lif1 ceil(1/8) = 1 -> 9; spike packet created at 9.
//   spike delivered at 9 + 3h + 4 + 1 = 14 + 3h; its marker, injected behind it at 11, at 15 + 3h;
//   core (x,y): synapse 1 header + ceil(1 SOP run / 8) = 2 -> ready 16 + 3h; head finalise 1 ->
//     17 + 3h; output 1 -> 18 + 3h; result created at 18 + 3h, delivered at core 0 after h hops:
//   latency = 18 + 3h + 3h + 5 = 23 + 6h.
// These are the timings of router.model = speculative, where a packet queued behind another in
// the same VC follows it without a bubble. Under the default separable model the pixel's
// end-of-step marker, queued in the host router's local VC behind the pixel packet, starts route
// computation only the cycle after the pixel's tail left (docs/architecture.md "Router stages"):
// the marker arrives 2 cycles later and everything after it follows 2 cycles later; and its
// injection takes 2 cycles, not 1 (BookSim2's terminal), one more on each of the path's three
// network trips (pixel marker, spike, result): latency = 28 + 6h (checked below).
TEST(ChipLatency, SingleSpikeChainMatchesDocumentedZeroLoadTiming) {
  const int P = 2, L = 1;
  for (auto [x, y] : std::vector<std::pair<int, int>>{{1, 0}, {3, 0}, {0, 2}, {3, 3}, {2, 1}}) {
    const int h = x + y;
    const ChainRun sep(x, y, 1);
    ASSERT_TRUE(sep.r.complete);
    EXPECT_EQ(arch::compare_with_golden(sep.g, sep.r, sep.gold), "");
    EXPECT_EQ(sep.r.latency_cycles, uint64_t(28 + 6 * h)) << "separable, dest (" << x << "," << y << ")";
    const ChainRun run(x, y, 1, "speculative");
    ASSERT_TRUE(run.r.complete);
    EXPECT_EQ(arch::compare_with_golden(run.g, run.r, run.gold), "");
    const uint64_t spike_created = 9;
    EXPECT_EQ(node_start(run, "lif1", 0), 8u) << "core side of (0,0)";
    const uint64_t spike_delivered = spike_created + uint64_t(h * (P + L) + P + 2 + (2 - 1));
    // The head's finalise starts when the spike's synapse work (2 cycles) is done.
    EXPECT_EQ(node_start(run, "head", 0), spike_delivered + 2) << "h=" << h;
    EXPECT_EQ(run.r.timestep_end_cycles[0], spike_delivered + 4) << "h=" << h;
    EXPECT_EQ(run.r.latency_cycles, uint64_t(23 + 6 * h)) << "dest (" << x << "," << y << ")";
  }
}

// Moving the destination one hop further adds P + L cycles on the way out and on the way back.
TEST(ChipLatency, EachExtraHopCostsPipelinePlusLinkBothWays) {
  const ChainRun near(1, 0, 2), far(3, 2, 2);
  EXPECT_EQ(far.r.latency_cycles - near.r.latency_cycles, uint64_t(2 * (5 - 1) * (2 + 1)));
  EXPECT_EQ(arch::compare_with_golden(far.g, far.r, far.gold), "");
}

// Energy: each component = its events x the table entry (45 nm table, values hand-copied and
// combined here), total = sum of parts; the events themselves against an independent count.
TEST(ChipEnergy, ComponentsAreEventsTimesTableAndEventsMatchAnIndependentCount) {
  const int x = 3, y = 2, h = x + y, T = 2;
  const ChainRun run(x, y, T);
  ASSERT_TRUE(run.r.complete);
  const arch::EventCounts& ev = run.r.events;
  const int64_t flit_bits = 64;

  // Independent counts. Per timestep: 1 MAC (conv1), 1 SOP (head), 1 LIF update, and these
  // unicast packets: host pixel (2 flits) + marker (1) on core 0's router only (0 hops), spike
  // (2) + marker (1) over h hops; after the last step the result (2 flits) over h hops back.
  // A unicast of S flits over h hops traverses h + 1 routers and h links.
  int64_t gold_sops = 0, gold_macs = 0;
  for (const auto& per_node : run.gold.stats)
    for (const auto& s : per_node) gold_sops += s.sops, gold_macs += s.macs;
  EXPECT_EQ(gold_sops, T);
  EXPECT_EQ(gold_macs, T);
  EXPECT_EQ(ev.paper_acs, uint64_t(gold_sops));
  EXPECT_EQ(ev.paper_macs, uint64_t(gold_macs));
  EXPECT_EQ(ev.mults8, uint64_t(gold_macs));
  EXPECT_EQ(ev.neuron_updates, uint64_t(T));
  EXPECT_EQ(ev.sdsa_ops, 0u);
  const uint64_t traversals = uint64_t(T) * (3 * 1 + 3 * (h + 1)) + 2 * uint64_t(h + 1);
  EXPECT_EQ(ev.router_traversals, traversals);
  EXPECT_EQ(ev.link_bits, uint64_t((T * 3 * h + 2 * h) * flit_bits));
  EXPECT_EQ(ev.chip_link_bits, 0u);
  EXPECT_EQ(ev.dram_bits, 0u);
  EXPECT_EQ(ev.core_cycles, 2 * run.r.latency_cycles);  // 2 cores powered for the whole run
  // Weight SRAM: one 64-bit word per MAC and per spike tap (8 weights per word, 1 weight used).
  ASSERT_EQ(ev.weight_reads.size(), 1u);
  EXPECT_EQ(ev.weight_reads.begin()->second, uint64_t(2 * T));

  const arch::EnergyTable tab = arch::load_energy_table(arch::resolve_energy_table(run.chip));
  const arch::EnergyBreakdown e = arch::apply_energy(ev, tab, run.chip);
  // 45 nm table: add32 0.1 pJ, mult8 0.2 pJ, SRAM 10 pJ per 64-bit access of an 8 KB bank scaled
  // by sqrt(bank / 8 KB) and width / 64: weight bank 128 KB / 4 = 32 KB -> 20 pJ per 64-bit word;
  // membrane bank 64 KB / 8 = 8 KB, 32-bit words -> 5 pJ (writes x1.0); LIF logic 0.2 pJ;
  // router 16 pJ per flit; link 0.2 pJ/bit; static 0.25 mW at 200 MHz = 1.25 pJ per core-cycle.
  const auto& c = e.components_pj;
  auto near = [](double a, double b) { return std::abs(a - b) <= 1e-9 * std::max(1.0, std::abs(b)); };
  EXPECT_TRUE(near(c.at("adders"), 0.05 * double(ev.adds16) + 0.1 * double(ev.adds32))) << c.at("adders");
  EXPECT_TRUE(near(c.at("multipliers"), 0.2 * double(ev.mults8)));
  EXPECT_TRUE(near(c.at("weight_sram"), 20.0 * double(ev.weight_reads.begin()->second)));
  EXPECT_TRUE(near(c.at("membrane_sram"), 5.0 * double(ev.membrane_reads + ev.membrane_writes)));
  EXPECT_TRUE(near(c.at("neuron_logic"), 0.2 * double(T)));
  EXPECT_TRUE(near(c.at("sdsa"), 0.0));
  EXPECT_TRUE(near(c.at("routers"), 16.0 * double(traversals)));
  EXPECT_TRUE(near(c.at("links"), 0.2 * double(ev.link_bits)));
  EXPECT_TRUE(near(c.at("chip_links"), 0.0));
  EXPECT_TRUE(near(c.at("dram"), 0.0));
  EXPECT_TRUE(near(c.at("static"), 1.25 * double(ev.core_cycles)));
  EXPECT_TRUE(near(c.at("mac"), 0.0));  // event core: no MAC-array MACs (dense: test_dense_core.cpp)
  EXPECT_EQ(c.size(), 12u) << "a component was added: extend this test";
  double sum = 0;
  for (const auto& [k, v] : c) sum += v;
  EXPECT_TRUE(near(e.total_pj, sum));
  EXPECT_TRUE(near(e.paper_pj, 4.6 * double(gold_macs) + 0.9 * double(gold_sops)));
  // The arithmetic events are at least the synaptic work (each SOP and MAC is one add).
  EXPECT_GE(ev.adds32, uint64_t(gold_sops + gold_macs));
}

}  // namespace
}  // namespace spikechip
