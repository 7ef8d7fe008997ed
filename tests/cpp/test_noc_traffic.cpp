// Traffic patterns and the latency-throughput curve (issue 17), against hand-worked maps and
// BookSim2's definitions: tornado, shuffle, bitrev (bit permutations on 2^k nodes), randperm (a
// permutation fixed by the seed), hotspot with given nodes, uniform with and without self-sends;
// --sweep-rates parsing, the saturation rule, and the CLI writing CSV + SVG with the point marked.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "arch/noc/network.hpp"
#include "arch/noc/sweep.hpp"
#include "arch/noc/traffic.hpp"
#include "base/error.hpp"
#include "tiny_graph.hpp"

using namespace spikechip;
using namespace spikechip::arch::noc;

namespace {

int dest(const char* name, int src, int W, int H, const TrafficParams& tp = {}) {
  TrafficRng g;
  return traffic_pattern(name).dest(g, tp, src, W, H);
}

}  // namespace

TEST(NocTraffic, TornadoMovesEachCoordinateCeilHalfMinusOne) {
  // 8x8: (x, y) -> (x+3 mod 8, y+3 mod 8), BookSim's tornado on an 8-ary 2-mesh.
  EXPECT_EQ(dest("tornado", 0, 8, 8), 3 * 8 + 3);
  EXPECT_EQ(dest("tornado", 7 * 8 + 6, 8, 8), 2 * 8 + 1);
  // 5x4: x + 2 mod 5, y + 1 mod 4.
  EXPECT_EQ(dest("tornado", 3 * 5 + 4, 5, 4), 0 * 5 + 1);
}

TEST(NocTraffic, ShuffleAndBitrevAreBookSimsBitPermutations) {
  // 64 nodes, 6 bits: shuffle rotates left, bitrev reverses.
  EXPECT_EQ(dest("shuffle", 0b100101, 8, 8), 0b001011);
  EXPECT_EQ(dest("shuffle", 0b011000, 8, 8), 0b110000);
  EXPECT_EQ(dest("bitrev", 0b100110, 8, 8), 0b011001);
  EXPECT_EQ(dest("bitrev", 0b000001, 8, 8), 0b100000);
  for (const char* p : {"shuffle", "bitrev"}) {  // permutations
    std::set<int> seen;
    for (int s = 0; s < 64; ++s) seen.insert(dest(p, s, 16, 4));
    EXPECT_EQ(seen.size(), 64u) << p;
  }
  NetworkParams np;
  np.width = 6, np.height = 4;
  Network net(np);
  TrafficParams tp;
  tp.pattern = &traffic_pattern("bitrev");
  try {
    run_traffic(net, tp);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("power-of-two node count (the mesh has 24)"), std::string::npos) << e.what();
  }
}

TEST(NocTraffic, RandPermIsAPermutationFixedBySeed) {
  TrafficParams a, b;
  a.seed = 1, b.seed = 2;
  std::vector<int> pa, pb, pa2;
  for (int s = 0; s < 48; ++s) pa.push_back(dest("randperm", s, 8, 6, a));
  for (int s = 0; s < 48; ++s) pb.push_back(dest("randperm", s, 8, 6, b));
  for (int s = 0; s < 48; ++s) pa2.push_back(dest("randperm", s, 8, 6, a));
  EXPECT_EQ(pa, pa2);
  EXPECT_NE(pa, pb);
  std::vector<int> sorted = pa;
  std::sort(sorted.begin(), sorted.end());
  for (int s = 0; s < 48; ++s) EXPECT_EQ(sorted[size_t(s)], s);
}

TEST(NocTraffic, HotspotNodesAndSelfSend) {
  TrafficParams tp;
  tp.hotspot_nodes = {5, 40};
  tp.hotspot_fraction = 1.0;
  TrafficRng g;
  g.rng.seed(3);
  std::set<int> seen;
  for (int i = 0; i < 200; ++i) seen.insert(traffic_pattern("hotspot").dest(g, tp, 9, 8, 8));
  EXPECT_EQ(seen, (std::set<int>{5, 40}));
  // Uniform: never the source by default; with self_send the source is 1/N of the draws.
  TrafficParams u;
  int self = 0;
  for (int i = 0; i < 6400; ++i) self += traffic_pattern("uniform").dest(g, u, 9, 8, 8) == 9;
  EXPECT_EQ(self, 0);
  u.self_send = true;
  for (int i = 0; i < 6400; ++i) self += traffic_pattern("uniform").dest(g, u, 9, 8, 8) == 9;
  EXPECT_GT(self, 60);
  EXPECT_LT(self, 140);
}

TEST(NocTraffic, RateRangeParsing) {
  const auto r = parse_rate_range("0.02:0.4:0.02", "--sweep-rates");
  ASSERT_EQ(r.size(), 20u);
  EXPECT_DOUBLE_EQ(r.front(), 0.02);
  EXPECT_NEAR(r.back(), 0.4, 1e-12);
  for (const char* bad : {"0.1", "0.1:0.2", "0:0.2:0.1", "0.3:0.2:0.1", "0.1:0.2:0", "a:b:c", "0.1:0.2:0.1:", "0.1:0.2:x"})
    EXPECT_THROW(parse_rate_range(bad, "--sweep-rates"), UsageError) << bad;
}

TEST(NocTraffic, SaturationRule) {
  TrafficResult r;
  r.drained = true, r.offered = 0.2, r.accepted = 0.2, r.avg_latency = 90;
  EXPECT_FALSE(past_saturation(r, 30.0));  // 3 x 30 = 90 is still below
  r.avg_latency = 90.5;
  EXPECT_TRUE(past_saturation(r, 30.0));
  r.avg_latency = 40, r.accepted = 0.18;
  EXPECT_TRUE(past_saturation(r, 30.0));  // accepts < 95 % of the offered load
  r.accepted = 0.2, r.drained = false;
  EXPECT_TRUE(past_saturation(r, 30.0));
}

TEST(NocTraffic, SweepCommandWritesCsvAndMarkedPlot) {
  const std::string dir = spikechip::testing::fresh_dir("sweep");
  const auto res = spikechip::testing::run_spikechip("noc --width 4 --height 4 --packet-size 1 --sweep-rates 0.1:1.0:0.3 --warmup 200 "
                                          "--measure 1000 -o '" + dir + "/curve.csv'");
  ASSERT_EQ(res.code, 0) << res.err;
  const std::string csv = spikechip::testing::slurp(dir + "/curve.csv");
  EXPECT_EQ(csv.rfind("rate,offered,accepted,latency_avg,latency_p99,latency_max,packets,drained,saturated\n", 0), 0u) << csv;
  // 4x4 uniform saturates below 1.0 flits/node/cycle: the sweep stops at the first saturated load.
  EXPECT_NE(csv.find(",1\n"), std::string::npos) << csv;
  const std::string svg = spikechip::testing::slurp(dir + "/curve.svg");
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("saturation "), std::string::npos);
  EXPECT_NE(res.err.find("saturation: "), std::string::npos) << res.err;
  // Bad combinations are usage errors (exit 2).
  EXPECT_EQ(spikechip::testing::run_spikechip("noc --sweep-rates 0.1:0.2:0.1 --rate 0.1").code, 2);
  EXPECT_EQ(spikechip::testing::run_spikechip("noc --sweep-rates 0.2:0.1:0.1").code, 2);
  EXPECT_EQ(spikechip::testing::run_spikechip("noc --traffic transpose --self-send").code, 2);
  EXPECT_EQ(spikechip::testing::run_spikechip("noc --sweep-rates 0.1:0.2:0.1 --plot x.png").code, 2);
  EXPECT_EQ(spikechip::testing::run_spikechip("noc --traffic hotspot --hotspot-nodes 3,99 --measure 100").code, 2);
}

// Multicast under the separable router: a forked flit whose branches iSLIP grants to different
// inputs must still go (a second, greedy pass); without it this run stopped moving (the routers
// slept with the packets inside) and never drained.
TEST(NocTraffic, SeparableRouterDrainsMulticastTraffic) {
  for (RouterModel m : {RouterModel::Separable, RouterModel::Speculative}) {
    NetworkParams p;
    p.width = p.height = 8, p.model = m;
    Network net(p);
    TrafficParams tp;
    tp.rate = 0.1, tp.multicast_fanout = 3, tp.warmup = 300, tp.measure = 1500, tp.seed = 11;
    const TrafficResult r = run_traffic(net, tp);
    EXPECT_TRUE(r.drained) << router_model_name(m);
    EXPECT_LT(r.avg_latency, 100) << router_model_name(m);
  }
}
