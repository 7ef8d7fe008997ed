// Network model checks against independent expectations: the analytic zero-load latency, flit
// conservation, multicast destination sets, the mesh bisection bound, credit invariants, watchdog.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "arch/noc/network.hpp"
#include "arch/noc/pending_queue.hpp"
#include "arch/noc/traffic.hpp"
#include "base/error.hpp"

using namespace spikechip;
using namespace spikechip::arch::noc;

namespace {

struct Recorder : PacketSink {
  std::map<std::pair<uint64_t, int>, int> count;  // (packet id, core) -> deliveries
  std::map<uint64_t, uint64_t> cycle;             // packet id -> last delivery cycle
  std::map<uint64_t, std::set<int>> where;
  void deliver(int core, const Packet& p, uint64_t c) override {
    ++count[{p.id, core}];
    cycle[p.id] = c;
    where[p.id].insert(core);
  }
};

int hops(const NetworkParams& p, int a, int b) {
  return std::abs(a % p.width - b % p.width) + std::abs(a / p.width - b / p.width);
}

}  // namespace

TEST(NocNetwork, ZeroLoadLatencyMatchesAnalytic) {
  struct Case { int P, L, S, depth; const char* r; };
  const Case cases[] = {{2, 1, 4, 4, "xy"}, {1, 1, 1, 3, "xy"}, {3, 2, 5, 8, "yx"}, {1, 3, 8, 8, "west_first"},
                        {4, 1, 2, 6, "xy"}};
  // The separable model's injection channel takes one cycle more (BookSim2's terminal; the
  // timing contract in arch/noc/network.hpp).
  for (const RouterModel model : {RouterModel::Separable, RouterModel::Speculative})
  for (const Case& c : cases) {
    NetworkParams p;
    p.width = 6, p.height = 5, p.pipeline_stages = c.P, p.link_latency = c.L, p.buffer_depth = c.depth;
    p.routing = &routing_function(c.r);
    p.model = model;
    const uint64_t inj = model == RouterModel::Separable ? 2 : 1;
    const std::pair<int, int> pairs[] = {{0, 29}, {29, 0}, {7, 7}, {3, 27}, {12, 13}, {24, 5}};
    for (auto [s, d] : pairs) {
      Network net(p);
      Recorder rec;
      net.set_default_sink(&rec);
      const uint64_t t0 = 37;  // arbitrary: time skipping must not shift the result
      const uint64_t id = net.inject(Packet{PacketKind::Spike, s, {d}, c.S}, t0);
      net.drain();
      const uint64_t h = uint64_t(hops(p, s, d));
      const uint64_t expect = h * (c.P + c.L) + c.P + inj + 1 + (c.S - 1);
      ASSERT_EQ(rec.cycle.at(id) - t0, expect) << router_model_name(model) << " P=" << c.P << " L=" << c.L << " S=" << c.S << " " << s << "->" << d;
    }
  }
}

TEST(NocNetwork, ChipLinkAddsLatencyAndSerialisation) {
  NetworkParams p;
  p.width = 8, p.height = 2, p.chip_width = 4, p.chip_height = 2;
  p.chip_link_latency = 10, p.chip_link_bits_per_cycle = 16, p.flit_bits = 64;  // 4 cycles per flit
  Network net(p);
  Recorder rec;
  net.set_default_sink(&rec);
  EXPECT_TRUE(net.is_chip_link(3, kEast));
  EXPECT_FALSE(net.is_chip_link(2, kEast));
  const uint64_t id = net.inject(Packet{PacketKind::Spike, 1, {6}, 1}, 0);  // 5 hops, one crossing
  net.drain();
  const int P = p.pipeline_stages, L = p.link_latency;
  EXPECT_EQ(rec.cycle.at(id), uint64_t(5 * (P + L) + 10 + (4 - 1) + P + 3));  // separable: 2-cycle injection
  EXPECT_EQ(net.totals().chip_link_bits, 64u);
  EXPECT_EQ(net.link_stats(3, kEast).busy_cycles, 4u);
}

TEST(NocNetwork, AcceptedEqualsOfferedBelowSaturation) {
  NetworkParams p;
  p.width = p.height = 8;
  Network net(p);
  TrafficParams tp;
  tp.rate = 0.1, tp.warmup = 500, tp.measure = 3000, tp.seed = 7;
  const TrafficResult r = run_traffic(net, tp);
  EXPECT_TRUE(r.drained);
  EXPECT_NEAR(r.offered, 0.1, 0.01);
  EXPECT_NEAR(r.accepted, r.offered, 0.01 * r.offered + 0.002);
}

TEST(NocNetwork, UniformSaturationWithinBisectionBound) {
  // Uniform traffic on a k x k mesh cannot exceed the bisection bound 4/k flits/node/cycle;
  // input-queued VC routers reach roughly 60-90 % of it (Dally & Towles ch. 3 and 23).
  NetworkParams p;
  p.width = p.height = 8;
  Network net(p);
  TrafficParams tp;
  tp.rate = 0.8, tp.warmup = 1000, tp.measure = 2000, tp.seed = 3;
  const TrafficResult r = run_traffic(net, tp);
  const double bound = 4.0 / 8;
  EXPECT_GT(r.accepted, 0.55 * bound);
  EXPECT_LT(r.accepted, 0.95 * bound);
}

TEST(NocNetwork, FlitConservationAllRoutingsAndMulticast) {
  for (const RoutingFunction* rt : routing_functions()) {
    for (int fanout : {1, 3}) {
      NetworkParams p;
      p.width = 5, p.height = 4, p.routing = rt, p.buffer_depth = 4;
      Network net(p);
      Recorder rec;
      net.set_default_sink(&rec);
      TrafficParams tp;
      tp.rate = 0.15, tp.warmup = 0, tp.measure = 800, tp.multicast_fanout = fanout, tp.seed = 11;
      run_traffic(net, tp);
      net.drain();
      const NetworkTotals t = net.totals();
      EXPECT_EQ(net.flits_in_flight(), 0u);
      uint64_t expect_ejected = 0;
      for (auto& [key, n] : rec.count) {
        ASSERT_EQ(n, 1) << "packet " << key.first << " delivered twice to " << key.second;
        expect_ejected += uint64_t(tp.packet_size);
      }
      // every (packet, destination) copy is ejected once, each carrying the full packet
      EXPECT_EQ(t.flits_ejected, expect_ejected);
      EXPECT_EQ(t.packets_delivered, rec.count.size());
      EXPECT_EQ(t.flits_injected, t.packets_injected * uint64_t(tp.packet_size));
      EXPECT_EQ(rec.count.size(), t.packets_injected * uint64_t(fanout));
    }
  }
}

TEST(NocNetwork, MulticastReachesExactlyItsDestinationSet) {
  // 6x6 with up to 12 destinations; 12x12 with up to 140, so a fork splits both short key lists
  // (counted) and long ones (binary search; allocate()'s kCountKeys = 64).
  for (const int w : {6, 12})
  for (bool fork : {true, false}) {
    NetworkParams p;
    p.width = w, p.height = w, p.multicast = fork;
    Network net(p);
    Recorder rec;
    net.set_default_sink(&rec);
    std::mt19937 rng(5);
    std::map<uint64_t, std::set<int>> want;
    const int nodes = w * w, most = w == 6 ? 12 : 140;
    for (int i = 0; i < 40; ++i) {
      Packet pk{PacketKind::Spike, int(rng() % nodes), {}, 1 + int(rng() % 4)};
      std::set<int> d;
      const int k = 1 + int(rng() % most);
      while (int(d.size()) < k) d.insert(int(rng() % nodes));
      pk.dests.assign(d.begin(), d.end());
      want[net.inject(pk, uint64_t(i * 3))] = d;
    }
    net.drain();
    EXPECT_EQ(rec.where, want);
    for (auto& [k, n] : rec.count) EXPECT_EQ(n, 1);
  }
  // Forking needs whole-packet buffers (virtual cut-through): clear error otherwise.
  NetworkParams p;
  p.buffer_depth = 2;
  Network net(p);
  EXPECT_THROW(net.inject(Packet{PacketKind::Spike, 0, {1, 2}, 3}, 0), Error);
}

TEST(NocNetwork, MulticastForkUsesFewerLinkTraversalsThanUnicasts) {
  auto link_flits = [](bool fork) {
    NetworkParams p;
    p.width = 8, p.height = 1, p.multicast = fork;
    Network net(p);
    net.inject(Packet{PacketKind::Spike, 0, {3, 5, 7}, 2}, 0);
    net.drain();
    return net.totals().link_flits;
  };
  EXPECT_EQ(link_flits(true), 7u * 2);             // one XY path, copies dropped off on the way
  EXPECT_EQ(link_flits(false), (3u + 5 + 7) * 2);  // three separate unicasts
}

TEST(NocNetwork, CreditsNeverExceedBufferDepth) {
  NetworkParams p;
  p.width = p.height = 4, p.buffer_depth = 3, p.vcs = 2;
  Network net(p);
  std::mt19937 rng(9);
  for (uint64_t t = 0; t < 600; ++t) {
    for (int n = 0; n < 16; ++n)
      if (rng() % 4 == 0) {
        Packet pk{PacketKind::PartialSum, n, {int(rng() % 16)}, 1 + int(rng() % 3)};
        if (rng() % 5 == 0) pk.dests.push_back(int(rng() % 16));
        net.inject(pk, t);
      }
    net.step();
    ASSERT_NO_THROW(net.check_invariants()) << "cycle " << t;
  }
  net.drain();
  net.check_invariants();
}

TEST(NocNetwork, WatchdogReportsBlockedBuffers) {
  struct Refuse : PacketSink {
    bool ready(int core, uint64_t) override { return core != 15; }
    void deliver(int, const Packet&, uint64_t) override {}
  } sink;
  NetworkParams p;
  p.width = p.height = 4, p.watchdog_cycles = 500;
  Network net(p);
  net.set_default_sink(&sink);
  for (int i = 0; i < 6; ++i) net.inject(Packet{PacketKind::Spike, 0, {15}, 4, 3, 1}, uint64_t(i));
  try {
    net.drain();
    FAIL() << "watchdog did not fire";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("watchdog"), std::string::npos) << m;
    EXPECT_NE(m.find("router (3,3)"), std::string::npos) << m;
    EXPECT_NE(m.find("sink refusing"), std::string::npos) << m;
    EXPECT_LT(net.now(), 2000u);
  }
}

TEST(NocNetwork, IdleTimeIsSkippedAndRunsAreDeterministic) {
  NetworkParams p;
  Network net(p);
  Recorder rec;
  net.set_default_sink(&rec);
  net.inject(Packet{PacketKind::EndOfStep, 0, {5}, 1}, 1000000000ull);
  EXPECT_EQ(net.next_event_cycle(), 1000000000ull);
  net.drain();  // would take seconds if every idle cycle were simulated
  EXPECT_EQ(rec.count.size(), 1u);
  EXPECT_EQ(net.next_event_cycle(), kNever);

  auto run = [] {
    NetworkParams q;
    q.width = q.height = 4;
    Network n(q);
    TrafficParams tp;
    tp.rate = 0.3, tp.warmup = 100, tp.measure = 500, tp.pattern = &traffic_pattern("hotspot"), tp.seed = 4;
    const TrafficResult r = run_traffic(n, tp);
    return traffic_report(n, tp, r).dump();
  };
  EXPECT_EQ(run(), run());
}

// The calendar of not-yet-released packets (arch/noc/pending_queue.hpp) against the priority
// queue on (cycle, injection order) it replaced: random near and far cycles, releases one cycle
// at a time and in jumps.
TEST(NocNetwork, PendingQueueReleasesInCycleThenInjectionOrder) {
  using Item = std::tuple<uint64_t, uint64_t, uint32_t>;
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    PendingQueue q;
    std::priority_queue<Item, std::vector<Item>, std::greater<>> ref;
    uint64_t seq = 0, now = rng() % 1000;
    uint32_t rec = 0;
    for (int step = 0; step < 300; ++step) {
      for (int j = int(rng() % 4); j > 0; --j) {
        const uint64_t c = now + (rng() % 3 == 0 ? rng() % 2000 : rng() % 70);
        q.push(c, rec);
        ref.push({c, seq++, rec++});
      }
      ASSERT_EQ(q.empty(), ref.empty());
      if (!ref.empty()) {
        ASSERT_EQ(q.next_cycle(), std::get<0>(ref.top()));
      }
      const uint64_t t = now + (rng() % 10 == 0 ? rng() % 3000 : rng() % 2);
      std::vector<uint32_t> got, want;
      q.release(t, [&](uint32_t r) { got.push_back(r); });
      for (; !ref.empty() && std::get<0>(ref.top()) <= t; ref.pop()) want.push_back(std::get<2>(ref.top()));
      ASSERT_EQ(got, want) << "trial " << trial << " step " << step;
      now = t + 1;
    }
  }
}
