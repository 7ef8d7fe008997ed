// Nothing a run reports may depend on the order in which the simulator takes the events of one
// cycle: a chip has no such order (its routers and cores act at once). The network's test hook
// (noc::Network::set_reverse_same_cycle, ChipRunOptions::reverse_same_cycle) takes each cycle's
// credits, flit arrivals and ejections and its router visits in reverse; every cycle count,
// spike, energy event, per-core and per-layer figure, link figure and the critical path must come
// out the same. One exception, by design: the timeline and activity lists hold the records of one
// cycle in the order the engine made them, so they are compared sorted. Each test also checks
// that the hook changed an order (the deliveries or the unsorted timeline differ), so a hook that
// did nothing would fail it. docs/performance.md ("Session 19") says why this matters.
#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "arch/chip.hpp"
#include "arch/noc/network.hpp"
#include "arch/noc/traffic.hpp"
#include "chip_digest.hpp"
#include "chip_test_util.hpp"
#include "mapper/mapper.hpp"

namespace spikechip {
namespace {

using nlohmann::json;

json sorted(json a) {
  std::sort(a.begin(), a.end());
  return a;
}

// Runs each image with the network's order as is and reversed; the results must be equal, the
// lists of records as sets. Returns whether some unsorted list differed (the hook took effect).
bool expect_order_independent(const model::Graph& g, const arch::ChipConfig& chip, const arch::ChipMapping& m, int T,
                              const std::vector<uint64_t>& seeds) {
  bool order_changed = false;
  for (uint64_t seed : seeds) {
    const auto img = testing::random_image(g.input().shape, seed);
    const model::InputView in{img.data(), 1, g.input().shape};
    arch::ChipRunOptions opt;
    opt.record_activity = true;
    opt.timeline_limit = 1u << 20, opt.activity_limit = 1u << 22;
    json a = testing::digest(arch::Chip(g, chip, m).run(in, T, opt));
    opt.reverse_same_cycle = true;
    json b = testing::digest(arch::Chip(g, chip, m).run(in, T, opt));
    EXPECT_TRUE(a["complete"].get<bool>());
    EXPECT_EQ(a["truncated"], json::array({false, false})) << "raise the limits: a cut list compares nothing";
    for (const char* list : {"timeline", "synapse_timeline", "link_activity"}) {
      order_changed |= a[list] != b[list];
      a[list] = sorted(a[list]), b[list] = sorted(b[list]);
    }
    EXPECT_EQ(a, b) << "image seed " << seed;
  }
  return order_changed;
}

TEST(ChipOrder, MulticastOnTiny) {
  const int T = 2;
  const model::Graph g = testing::small_meta_spikeformer(T);
  const arch::ChipConfig chip = testing::chip_preset("tiny");
  const mapper::Mapping m = mapper::map_model(g, chip, {});
  EXPECT_TRUE(expect_order_independent(g, chip, m, T, {1, 2})) << "the reversed order changed no list";
}

TEST(ChipOrder, UnicastAndTwoChips) {
  const int T = 1;
  const model::Graph g = testing::small_meta_spikeformer(T);
  const arch::ChipConfig chip = testing::chip_preset("tiny");
  mapper::MapOptions uni;
  uni.unicast = true;
  EXPECT_TRUE(expect_order_independent(g, chip, mapper::map_model(g, chip, uni), T, {3}));
  mapper::MapOptions two;
  two.chips = 2;
  const mapper::Mapping m2 = mapper::map_model(g, chip, two);
  ASSERT_GT(m2.chip_w * m2.chip_h, 0);
  EXPECT_TRUE(expect_order_independent(g, chip, m2, T, {4}));
}

TEST(ChipOrder, PacketNetwork) {
  // The packet-level network model (router.model = "packet") orders a cycle's events by router;
  // the hook reverses that order.
  const int T = 2;
  const model::Graph g = testing::small_meta_spikeformer(T);
  arch::ChipConfig chip = testing::chip_preset("tiny");
  chip.router.model = "packet";
  const mapper::Mapping m = mapper::map_model(g, chip, {});
  EXPECT_TRUE(expect_order_independent(g, chip, m, T, {6})) << "the reversed order changed no list";
}

TEST(ChipOrder, TimeMultiplexed) {
  const int T = 2;
  const model::Graph g = testing::small_meta_spikeformer(T);
  const testing::TimeMultiplexedChip tm = testing::time_multiplexed_tiny(g);
  ASSERT_GE(tm.m.phases.size(), 2u);
  EXPECT_TRUE(expect_order_independent(g, tm.chip, tm.m, T, {5}));
}

// The network alone under synthetic multicast traffic near saturation (stalls of every kind,
// iSLIP pointers moving every cycle), both router models, 1 and 4 VCs: the statistics document,
// every router's stalls and every delivery (cycle, core, packet) equal; the delivery order within
// a cycle must differ somewhere (the hook took effect).
struct Deliveries : arch::noc::PacketSink {
  std::vector<std::tuple<uint64_t, int, uint64_t>> seq;
  void deliver(int core, const arch::noc::Packet& p, uint64_t cycle) override { seq.emplace_back(cycle, core, p.id); }
};

TEST(NocOrder, SaturatedMulticastTraffic) {
  using namespace arch::noc;
  for (const RouterModel model : {RouterModel::Separable, RouterModel::Speculative, RouterModel::Packet})
    for (const int vcs : {1, 4}) {
      if (model == RouterModel::Packet && vcs > 1) continue;  // (it has no VCs)
      NetworkParams p;
      p.width = p.height = 6;
      p.vcs = vcs, p.model = model;
      TrafficParams tp;
      tp.rate = 0.35, tp.multicast_fanout = 4, tp.warmup = 200, tp.measure = 1500, tp.seed = 11, tp.drain_limit = 3000;
      json rep[2];
      std::vector<RouterStats> st[2];
      Deliveries d[2];
      for (int rev = 0; rev < 2; ++rev) {
        Network net(p);
        net.set_default_sink(&d[rev]);
        net.set_reverse_same_cycle(rev == 1);
        const TrafficResult r = run_traffic(net, tp);
        rep[rev] = traffic_report(net, tp, r);
        for (int n = 0; n < net.num_nodes(); ++n) st[rev].push_back(net.router_stats(n));
      }
      const std::string what = router_model_name(model) + (", " + std::to_string(vcs)) + " VCs";
      EXPECT_EQ(rep[0], rep[1]) << what;
      for (size_t n = 0; n < st[0].size(); ++n) {
        const RouterStats &a = st[0][n], &b = st[1][n];
        EXPECT_EQ(std::tie(a.traversals, a.stall_no_credit, a.stall_arbitration, a.stall_no_vc, a.stall_sink),
                  std::tie(b.traversals, b.stall_no_credit, b.stall_arbitration, b.stall_no_vc, b.stall_sink))
            << what << ", router " << n;
      }
      ASSERT_GT(d[0].seq.size(), 1000u) << what;
      EXPECT_NE(d[0].seq, d[1].seq) << what << ": the reversed order changed no delivery order";
      std::sort(d[0].seq.begin(), d[0].seq.end()), std::sort(d[1].seq.begin(), d[1].seq.end());
      EXPECT_EQ(d[0].seq, d[1].seq) << what;
    }
}

}  // namespace
}  // namespace spikechip
