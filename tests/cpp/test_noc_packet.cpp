// The packet-level network model (router.model = "packet", arch/noc/packet_network.hpp) against
// independent expectations: the analytic zero-load latency and the separable model's delivery
// cycles with nothing else in flight (unicast, multicast trees, chip links), a hand-worked case of
// two packets meeting on one link and of an ejection queue, sink backpressure and the watchdog,
// flit conservation, the separable model's latency at low load, a chip run verified bit-exact
// against the golden; and its parts: the event calendar against a sorted reference, the record
// pool, and a sink's exact readiness (PacketSink::ready_at) against the retries it replaces.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <random>
#include <set>

#include "arch/chip.hpp"
#include "arch/noc/network.hpp"
#include "arch/noc/traffic.hpp"
#include "arch/noc/event_calendar.hpp"
#include "arch/noc/key_sets.hpp"
#include "base/chunk_fifos.hpp"
#include "base/chunk_pool.hpp"
#include "base/error.hpp"
#include "chip_test_util.hpp"
#include "mapper/mapper.hpp"

using namespace spikechip;
using namespace spikechip::arch::noc;

namespace {

struct Recorder : PacketSink {
  std::map<std::pair<uint64_t, int>, uint64_t> at;  // (packet id, core) -> delivery cycle
  void deliver(int core, const Packet& p, uint64_t c) override {
    EXPECT_TRUE(at.emplace(std::make_pair(p.id, core), c).second) << "packet " << p.id << " delivered twice to " << core;
  }
};

// Delivery cycles of one packet sent alone through a fresh network of model m.
std::map<std::pair<uint64_t, int>, uint64_t> alone(NetworkParams p, RouterModel m, const Packet& pk, uint64_t t0) {
  p.model = m;
  Network net(p);
  Recorder rec;
  net.set_default_sink(&rec);
  net.inject(pk, t0);
  net.drain();
  EXPECT_TRUE(net.idle());
  EXPECT_EQ(net.flits_in_flight(), 0u);
  return rec.at;
}

}  // namespace

TEST(NocPacket, ZeroLoadLatencyMatchesAnalytic) {
  struct Case { int P, L, S; const char* r; };
  for (const Case c : {Case{2, 1, 4, "xy"}, Case{1, 1, 1, "xy"}, Case{3, 2, 5, "yx"}, Case{1, 3, 8, "west_first"}}) {
    NetworkParams p;
    p.width = 6, p.height = 5, p.pipeline_stages = c.P, p.link_latency = c.L, p.buffer_depth = 8;
    p.routing = &routing_function(c.r);
    for (auto [s, d] : {std::pair{0, 29}, {29, 0}, {7, 7}, {3, 27}, {12, 13}}) {
      const auto got = alone(p, RouterModel::Packet, Packet{PacketKind::Spike, s, {d}, c.S}, 37);
      const uint64_t h = uint64_t(std::abs(s % 6 - d % 6) + std::abs(s / 6 - d / 6));
      // The timing contract (arch/noc/network.hpp) with the separable model's 2-cycle injection.
      EXPECT_EQ(got.at({0, d}) - 37, h * uint64_t(c.P + c.L) + uint64_t(c.P) + 2 + 1 + uint64_t(c.S - 1))
          << "P=" << c.P << " L=" << c.L << " S=" << c.S << " " << s << "->" << d;
    }
  }
}

TEST(NocPacket, AloneLikeTheSeparableModel) {
  // Multicast trees and chip links (serialisation 4 cycles per flit): with nothing else in
  // flight every destination's delivery cycle equals the separable model's.
  NetworkParams p;
  p.width = 8, p.height = 4, p.chip_width = 4, p.chip_height = 2;
  p.chip_link_latency = 10, p.chip_link_bits_per_cycle = 16, p.flit_bits = 64, p.buffer_depth = 8;
  const std::vector<Packet> packets = {
      Packet{PacketKind::Spike, 1, {6}, 1},                      // one chip crossing
      Packet{PacketKind::Spike, 1, {30}, 3},                     // two crossings
      Packet{PacketKind::Spike, 9, {0, 2, 9, 14, 27, 31}, 4},    // a tree with a local branch
      Packet{PacketKind::PartialSum, 20, {3, 4, 5, 12, 13}, 2},  // forks on both chips
  };
  for (const auto& [P, L] : {std::pair{2, 1}, {4, 1}, {3, 2}, {1, 1}})
    for (const Packet& pk : packets) {
      p.pipeline_stages = P, p.link_latency = L;
      const auto sep = alone(p, RouterModel::Separable, pk, 5), pkt = alone(p, RouterModel::Packet, pk, 5);
      EXPECT_EQ(pkt.size(), pk.dests.size());
      EXPECT_EQ(pkt, sep) << "packet from " << pk.src << ", P=" << P << " L=" << L;
    }
}

namespace {
// A 3x1 mesh of the packet model (P = 2, L = 1) whose deliveries are recorded; send() injects a
// 4-flit packet at cycle 0.
struct Line3 {
  NetworkParams p = [] {
    NetworkParams q;
    q.width = 3, q.height = 1, q.model = RouterModel::Packet;
    return q;
  }();
  Network net{p};
  Recorder rec;
  Line3() { net.set_default_sink(&rec); }
  uint64_t send(int src, int dest) { return net.inject(Packet{PacketKind::Spike, src, {dest}, 4}, 0); }
};
}  // namespace

TEST(NocPacket, TwoPacketsOnOneLinkHandWorked) {
  // A 3x1 mesh, P = 2, L = 1, 4-flit packets created at cycle 0: B from node 1 and A from node 0,
  // both to node 2. B's head is in router 1 at 2, leaves at 4 and holds the link to router 2 for
  // cycles 4..7; A's head reaches router 1 at 5 (2 + 2 + 1), is ready at 7, waits one cycle for
  // the link, leaves at 8, is in router 2 at 9, ready at 11. B ejects at 7 (5 + 2) and is
  // delivered at 7 + 1 + 3 = 11; the ejection port is then free for A at 11: delivered at 15,
  // one cycle later than alone (14).
  Line3 l;
  Network& net = l.net;
  const uint64_t b = l.send(1, 2), a = l.send(0, 2);
  net.drain();
  const auto& rec = l.rec;
  EXPECT_EQ(rec.at.at({b, 2}), 11u);
  EXPECT_EQ(rec.at.at({a, 2}), 15u);
  EXPECT_EQ(net.router_stats(1).stall_no_credit, 1u);
  EXPECT_EQ(net.router_stats(1).traversals, 8u);  // 4 flits each
  EXPECT_EQ(net.link_stats(1, kEast).flits, 8u);
  EXPECT_EQ(net.link_stats(0, kEast).busy_cycles, 4u);
  const NetworkTotals t = net.totals();
  EXPECT_EQ(t.flits_injected, 8u);
  EXPECT_EQ(t.flits_ejected, 8u);
  EXPECT_EQ(t.packets_delivered, 2u);
  EXPECT_EQ(t.link_flits, 12u);  // A: 2 links, B: 1, 4 flits each
}

TEST(NocPacket, EjectionQueueHandWorked) {
  // A 3x1 mesh, P = 2, L = 1, B = 1, 4-flit packets created at cycle 0 for node 1: X and W from
  // node 0 (in that order), Y from node 2. X's and Y's heads reach router 1 at 5 (2 + 2 + 1), ready
  // at 7, tails at 8, ready at 9: the first (by input port) ejects at 7, its tail enters at 9, its
  // last flit at 10, delivered at 11; the other waits and enters at 11 (its turn comes as the
  // first is delivered: the delivery tries it, deliver()), delivered at 11 + 3 + 1 = 15. W starts
  // injecting at 4 (X holds node 0's port for 4 cycles), is in router 0 at 6, waits for X's tail to
  // leave the link (busy until 8), reaches router 1 at 9 and enters the port when the second is
  // delivered, at 15: delivered at 19. Alone each would be delivered at 11.
  Line3 l;
  Network& net = l.net;
  const uint64_t x = l.send(0, 1), y = l.send(2, 1), w = l.send(0, 1);
  net.drain();
  const auto& rec = l.rec;
  EXPECT_TRUE(net.idle());
  EXPECT_EQ(std::min(rec.at.at({x, 1}), rec.at.at({y, 1})), 11u);
  EXPECT_EQ(std::max(rec.at.at({x, 1}), rec.at.at({y, 1})), 15u);
  EXPECT_EQ(rec.at.at({w, 1}), 19u);
  EXPECT_EQ(net.router_stats(0).stall_no_credit, 0u);  // W's head is ready at 8 (6 + 2), as the link frees
  EXPECT_EQ(net.totals().packets_delivered, 3u);
}

namespace {
// Refuses every packet before cycle `from` (forever: kNever) and says when it may accept.
struct LateSink : PacketSink {
  uint64_t from;
  std::map<uint64_t, uint64_t> at;
  explicit LateSink(uint64_t f) : from(f) {}
  bool ready(int, uint64_t cycle) override { return cycle >= from; }
  uint64_t ready_again(int, uint64_t cycle) override { return from == kNever ? cycle + 1000 : from; }
  void deliver(int, const Packet& p, uint64_t c) override { at[p.id] = c; }
};
}  // namespace

// The watchdog's message when draining net throws it (a test failure when nothing throws).
static std::string watchdog_message(Network& net) {
  try {
    net.drain();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no watchdog";
  return "";
}

TEST(NocPacket, SinkBackpressureAndWatchdog) {
  NetworkParams p;
  p.width = 4, p.height = 1, p.model = RouterModel::Packet, p.watchdog_cycles = 5000;
  {
    // Alone, a 3-flit packet x from 0 to 3 may eject at 0 + 2 + 3 * 3 + 2 = 13, y from 2 at
    // 0 + 2 + 3 + 2 = 7. The sink accepts from 50: y, first in the router's ejection queue, is
    // refused at 7, enters the port at 50 and is delivered at 50 + 1 + 2; x follows when the port
    // is free (53), delivered at 56. stall_sink counts the front packet's wait, 50 - 7.
    Network net(p);
    LateSink sink(50);
    net.set_default_sink(&sink);
    const uint64_t x = net.inject(Packet{PacketKind::Spike, 0, {3}, 3}, 0);
    const uint64_t y = net.inject(Packet{PacketKind::Spike, 2, {3}, 3}, 0);
    net.drain();
    EXPECT_EQ(sink.at.at(y), 53u);
    EXPECT_EQ(sink.at.at(x), 56u);
    EXPECT_EQ(net.router_stats(3).stall_sink, 50u - 7u);
  }
  {
    Network net(p);
    LateSink sink(kNever);
    net.set_default_sink(&sink);
    net.inject(Packet{PacketKind::Spike, 0, {3}, 3}, 0);
    const std::string m = watchdog_message(net);
    EXPECT_NE(m.find("network watchdog: no packet moved for 5000 cycles"), std::string::npos) << m;
    EXPECT_NE(m.find("core 3 refuses packet #0"), std::string::npos) << m;
    EXPECT_NE(m.find("packet #0 (spike, src 0, 3 flit(s)) ejects at router (3,0) 5013, dests 3"), std::string::npos) << m;
  }
  {
    // y (from 2) reaches the ejection port first and is refused; x (from 0) waits behind it from
    // 13, its first cycle to eject: the watchdog lists both (the ejection queue's records).
    Network net(p);
    LateSink sink(kNever);
    net.set_default_sink(&sink);
    net.inject(Packet{PacketKind::Spike, 0, {3}, 3}, 0);
    net.inject(Packet{PacketKind::Spike, 2, {3}, 3}, 0);
    const std::string m = watchdog_message(net);
    EXPECT_NE(m.find("core 3 refuses packet #1"), std::string::npos) << m;
    EXPECT_NE(m.find("packet #0 (spike, src 0, 3 flit(s)) waits to eject at router (3,0) 13, dests 3"), std::string::npos)
        << m;
  }
}

TEST(NocPacket, ConservationAndLowLoadLatency) {
  for (const RoutingFunction* rt : routing_functions())
    for (int fanout : {1, 3}) {
      NetworkParams p;
      p.width = 5, p.height = 4, p.routing = rt, p.model = RouterModel::Packet;
      Network net(p);
      TrafficParams tp;
      tp.rate = 0.15, tp.warmup = 0, tp.measure = 800, tp.multicast_fanout = fanout, tp.seed = 11;
      const TrafficResult r = run_traffic(net, tp);
      net.drain();
      const NetworkTotals t = net.totals();
      EXPECT_TRUE(r.drained);
      EXPECT_EQ(net.flits_in_flight(), 0u);
      EXPECT_EQ(t.flits_injected, t.packets_injected * 4);
      EXPECT_EQ(t.flits_ejected, t.packets_delivered * 4);
      EXPECT_GE(t.packets_delivered, t.packets_injected * uint64_t(fanout > 1 ? 2 : 1)) << rt->name;
    }
  // Uniform traffic at 5 % on 8x8: queueing is rare, so the mean latency is within 2 % of the
  // separable model's (which adds VC and switch allocation conflicts).
  double lat[2];
  for (int k = 0; k < 2; ++k) {
    NetworkParams p;
    p.width = p.height = 8, p.model = k ? RouterModel::Packet : RouterModel::Separable;
    Network net(p);
    TrafficParams tp;
    tp.rate = 0.05, tp.warmup = 500, tp.measure = 4000, tp.seed = 3;
    lat[k] = run_traffic(net, tp).avg_latency;
  }
  EXPECT_NEAR(lat[1], lat[0], 0.02 * lat[0]);
  EXPECT_LE(lat[1], lat[0]);
}

TEST(NocPacket, ChipRunBitExact) {
  const int T = 2;
  const model::Graph g = spikechip::testing::small_meta_spikeformer(T);
  arch::ChipConfig chip = spikechip::testing::chip_preset("tiny");
  chip.router.model = "packet";
  const mapper::Mapping m = mapper::map_model(g, chip, {});
  const auto img = spikechip::testing::random_image(g.input().shape, 7);
  const model::InputView in{img.data(), 1, g.input().shape};
  const arch::ChipRunResult r = arch::Chip(g, chip, m).run(in, T);
  model::GoldenExecutor ge(g);
  model::RunOptions ro;
  ro.record_spikes = true;
  EXPECT_EQ(arch::compare_with_golden(g, r, ge.run(in, T, ro)), "");
  EXPECT_GT(r.latency_cycles, 0u);
}

namespace {
struct CalEv {
  uint64_t cycle, n;
  bool operator>(const CalEv& o) const { return cycle != o.cycle ? cycle > o.cycle : n > o.n; }
};
}  // namespace

// The calendar hands out, cycle after cycle, exactly the events of the earliest pending cycle, for
// delays within a span, across spans, beyond level 1 (the heap), and after jumps over idle spans.
TEST(NocPacket, CalendarAgainstSortedReference) {
  std::mt19937_64 rng(5);
  for (int round = 0; round < 4; ++round) {
    EventCalendar<CalEv> cal;
    std::multiset<std::pair<uint64_t, uint64_t>> ref;  // (cycle, n)
    uint64_t now = uint64_t(round) * 1000003, n = 0;
    auto add = [&](uint64_t delay) {
      cal.push(CalEv{now + delay, n});
      ref.emplace(now + delay, n++);
    };
    for (int i = 0; i < 50; ++i) add(1 + rng() % 9000);
    std::vector<CalEv> out;
    int pops = 0;
    while (!cal.empty()) {
      ASSERT_EQ(cal.size(), ref.size());
      const uint64_t c = cal.first_cycle();
      ASSERT_EQ(c, ref.begin()->first);
      cal.pop(c, out);
      std::vector<uint64_t> got, want;
      for (const CalEv& e : out) {
        got.push_back(e.n);
        EXPECT_EQ(e.cycle, c);
      }
      while (!ref.empty() && ref.begin()->first == c) want.push_back(ref.begin()->second), ref.erase(ref.begin());
      std::sort(got.begin(), got.end());
      ASSERT_EQ(got, want) << "cycle " << c;
      now = c;
      if (++pops < 20000) {
        const int k = int(rng() % 4);
        for (int j = 0; j < k; ++j) {
          const uint64_t r = rng() % 100;
          // (Levels 0 and 1 reach 4,160 cycles at most, level 2 about 266,000, the heap beyond.)
          add(r < 60 ? 1 + rng() % 8 : r < 85 ? 1 + rng() % 300 : r < 95 ? 1 + rng() % 5000 : r < 99 ? 1 + rng() % 400000 : 1 + rng() % 3000000);
        }
      }
    }
    EXPECT_TRUE(ref.empty());
    EXPECT_GT(pops, 20000);
  }
}

// Slots are reused last freed first, and records stay where they are while the pool grows; a
// trivially copyable record's free list runs through the free records themselves.
TEST(NocPacket, ChunkPoolReusesAndKeepsRecords) {
  ChunkPool<uint64_t, 4> pool;  // chunks of 16
  std::vector<uint64_t*> where;
  for (uint32_t i = 0; i < 100; ++i) {
    const uint32_t s = pool.take();
    ASSERT_EQ(s, i);
    pool[s] = 1000 + s;
    where.push_back(&pool[s]);
  }
  for (uint32_t i = 0; i < 100; ++i) {
    EXPECT_EQ(&pool[i], where[i]);
    EXPECT_EQ(pool[i], 1000 + i);
  }
  pool.give(7), pool.give(42);
  EXPECT_EQ(pool.in_use(), 98u);
  EXPECT_EQ(pool.take(), 42u);
  EXPECT_EQ(pool.take(), 7u);
  EXPECT_EQ(pool.take(), 100u);
  EXPECT_EQ(pool.slots(), 101u);
  // A record that is not trivially copyable keeps its free slots in a vector, and its contents.
  ChunkPool<std::vector<int>, 2> vp;  // chunks of 4
  for (int i = 0; i < 9; ++i) vp[vp.take()].assign(size_t(i), i);
  vp.give(3), vp.give(8), vp.give(0);
  EXPECT_EQ(vp.in_use(), 6u);
  EXPECT_EQ(vp.take(), 0u);
  EXPECT_EQ(vp.take(), 8u);
  EXPECT_EQ(vp[8], std::vector<int>(8, 8));  // (a recycled record is reused as it is)
  EXPECT_EQ(vp.take(), 3u);
  EXPECT_EQ(vp.take(), 9u);
}

// Queues sharing blocks behave as separate first-in first-out queues (against std::deque, random
// pushes and pops over queues that fill and drain across block boundaries), and an empty queue
// holds no block.
TEST(NocPacket, ChunkFifosKeepOrderPerQueueAndFreeBlocks) {
  ChunkFifos<uint64_t, 4> f(5);  // blocks of 4
  std::vector<std::deque<uint64_t>> ref(5);
  std::mt19937 rng(3);
  uint64_t next = 0;
  for (int step = 0; step < 20000; ++step) {
    const size_t q = rng() % 5;
    const bool grow = step < 10000 ? rng() % 3 != 0 : rng() % 3 == 0;  // fill, then drain
    if (grow || ref[q].empty()) {
      f.push(q, next), ref[q].push_back(next++);
    } else {
      ASSERT_FALSE(f.empty(q));
      ASSERT_EQ(f.front(q), ref[q].front());
      f.pop(q), ref[q].pop_front();
    }
    if (step % 997 == 0) {
      std::vector<uint64_t> seen;
      f.for_each(q, [&](uint64_t v) { seen.push_back(v); });
      ASSERT_EQ(seen, std::vector<uint64_t>(ref[q].begin(), ref[q].end()));
    }
  }
  size_t held = 0;
  for (size_t q = 0; q < 5; ++q) {
    held += ref[q].size();
    ASSERT_EQ(f.empty(q), ref[q].empty());
  }
  EXPECT_LE(f.blocks_in_use(), held / 4 + 2 * 5);  // full blocks, and at most two partly used per queue
  for (size_t q = 0; q < 5; ++q)
    for (; !ref[q].empty(); ref[q].pop_front()) {
      ASSERT_EQ(f.front(q), ref[q].front());
      f.pop(q);
    }
  for (size_t q = 0; q < 5; ++q) EXPECT_TRUE(f.empty(q));
  EXPECT_EQ(f.blocks_in_use(), 0u);
}

// A list seen once gets a private set, dropped when let go; a list seen again is interned: one
// array for all its packets, kept after them for the next one until the table is over its size.
// Keys come sorted.
TEST(NocPacket, KeySetsInternRecurringListsOnly) {
  KeySets ks(4);  // interned sets nobody holds are dropped while the table holds more than 4 keys
  const auto key = [](int d) { return uint32_t(100 - d); };
  const uint32_t p = ks.acquire({3, 1, 2}, key);  // first sighting: private
  ASSERT_EQ(ks.size(p), 3u);
  EXPECT_EQ(std::vector<uint32_t>(ks.keys(p), ks.keys(p) + 3), (std::vector<uint32_t>{97, 98, 99}));
  EXPECT_EQ(ks.interned(), 0u);
  const uint32_t a = ks.acquire({3, 1, 2}, key);  // seen before: interned
  EXPECT_NE(a, p);
  EXPECT_EQ(ks.interned(), 1u);
  EXPECT_EQ(ks.acquire({3, 1, 2}, key), a);  // and shared from then on
  ks.release(p);  // the private set goes, its slot is reused
  const uint32_t q = ks.acquire({1, 2, 3}, key);  // another order: another list (first sighting)
  EXPECT_EQ(q, p);
  EXPECT_EQ(std::vector<uint32_t>(ks.keys(q), ks.keys(q) + 3), (std::vector<uint32_t>{97, 98, 99}));
  const uint32_t b = ks.acquire({1, 2, 3}, key);
  EXPECT_EQ(ks.interned(), 2u);
  EXPECT_EQ(ks.held_keys(), 6u);
  const uint32_t* at = ks.keys(a);
  for (int i = 0; i < 50; ++i) ks.release(ks.acquire({i, i + 1, 200}, key));  // one-off lists come and go
  EXPECT_EQ(ks.keys(a), at);  // held sets stay put meanwhile
  EXPECT_EQ(ks.interned(), 2u);
  ks.release(a), ks.release(a);  // 6 keys interned, over 4: a goes when let go
  EXPECT_EQ(ks.interned(), 1u);
  EXPECT_EQ(ks.held_keys(), 3u);
  ks.release(b), ks.release(q);  // 3 keys: b stays for the next packet with its list
  EXPECT_EQ(ks.acquire({1, 2, 3}, key), b);
  KeySets keep;  // under the limit, interned sets stay
  keep.release(keep.acquire({5, 6}, key));
  const uint32_t d = keep.acquire({5, 6}, key);
  keep.release(d);
  EXPECT_EQ(keep.acquire({5, 6}, key), d);
  EXPECT_EQ(keep.held_keys(), 2u);
}

namespace {
// A core's input queue as the chip's (arch/core/core_model.hpp): a delivery books `work` cycles
// of synapse work after the previous packet's; at most `depth` booked packets unfinished. With
// `exact`, it tells the packet model when it will accept (ready_at); without, only a lower bound
// (ready_again: the oldest booked packet's finish), so the model asks again then.
struct QueueSink : PacketSink {
  bool exact;
  int depth;
  std::vector<std::deque<uint64_t>> q;
  std::vector<uint64_t> busy;
  std::map<std::pair<uint64_t, int>, uint64_t> at;
  QueueSink(bool e, int d, int nodes) : exact(e), depth(d), q(size_t(nodes)), busy(size_t(nodes), 0) {}
  uint64_t accepts_from(int core) const {
    const auto& b = q[size_t(core)];
    return b.size() < size_t(depth) ? 0 : b[b.size() - size_t(depth)];
  }
  bool ready(int core, uint64_t cycle) override { return cycle >= accepts_from(core); }
  uint64_t ready_again(int core, uint64_t cycle) override {
    auto& b = q[size_t(core)];
    while (!b.empty() && b.front() <= cycle) b.pop_front();
    return b.empty() ? cycle + 1 : b.front();
  }
  uint64_t ready_at(int core, uint64_t) override { return exact ? accepts_from(core) : 0; }
  void deliver(int core, const Packet& p, uint64_t c) override {
    auto& b = q[size_t(core)];
    while (!b.empty() && b.front() <= c) b.pop_front();
    busy[size_t(core)] = std::max(busy[size_t(core)], c) + 30 + p.id % 37;
    b.push_back(busy[size_t(core)]);
    at.emplace(std::make_pair(p.id, core), c);
  }
};
}  // namespace

// Cores slower than their traffic, so ejection queues form and fronts are refused: the packet
// model gives every packet the same delivery cycle, and every router the same statistics, whether
// the sink names the cycle it accepts (one decision) or only a bound (a retry per refusal).
TEST(NocPacket, ExactReadinessSameCyclesAsRetries) {
  for (int fanout : {1, 4}) {
    std::map<std::pair<uint64_t, int>, uint64_t> at[2];
    std::vector<RouterStats> st[2];
    for (int exact = 0; exact < 2; ++exact) {
      NetworkParams p;
      p.width = 6, p.height = 5, p.model = RouterModel::Packet;
      Network net(p);
      QueueSink sink(exact == 1, 2, 30);
      net.set_default_sink(&sink);
      TrafficParams tp;
      tp.rate = 0.1, tp.warmup = 0, tp.measure = 3000, tp.multicast_fanout = fanout, tp.seed = 9;
      EXPECT_TRUE(run_traffic(net, tp).drained);
      net.drain();
      at[exact] = sink.at;
      for (int n = 0; n < 30; ++n) st[exact].push_back(net.router_stats(n));
    }
    ASSERT_GT(at[0].size(), 1000u);
    EXPECT_EQ(at[1], at[0]) << "fanout " << fanout;
    uint64_t stalls = 0;
    for (int n = 0; n < 30; ++n) {
      EXPECT_EQ(st[1][size_t(n)].stall_sink, st[0][size_t(n)].stall_sink) << n;
      EXPECT_EQ(st[1][size_t(n)].traversals, st[0][size_t(n)].traversals) << n;
      EXPECT_EQ(st[1][size_t(n)].stall_no_credit, st[0][size_t(n)].stall_no_credit) << n;
      stalls += st[1][size_t(n)].stall_sink;
    }
    EXPECT_GT(stalls, 10000u) << "the sinks must refuse often for this to test anything";
  }
}

// The watchdog fires at the same refusal, with the same message, when the sink names a cycle
// beyond it.
TEST(NocPacket, ExactReadinessWatchdog) {
  struct Far : PacketSink {
    bool exact;
    explicit Far(bool e) : exact(e) {}
    bool ready(int, uint64_t c) override { return c >= 20000; }
    uint64_t ready_again(int, uint64_t) override { return 20000; }
    uint64_t ready_at(int, uint64_t) override { return exact ? 20000 : 0; }
    void deliver(int, const Packet&, uint64_t) override {}
  };
  std::string msg[2];
  for (int exact = 0; exact < 2; ++exact) {
    NetworkParams p;
    p.width = 4, p.height = 1, p.model = RouterModel::Packet, p.watchdog_cycles = 5000;
    Network net(p);
    Far sink(exact == 1);
    net.set_default_sink(&sink);
    net.inject(Packet{PacketKind::Spike, 0, {3}, 3}, 0);
    msg[exact] = watchdog_message(net);
  }
  EXPECT_NE(msg[1].find("core 3 refuses packet #0"), std::string::npos) << msg[1];
  EXPECT_NE(msg[1].find("ejects at router (3,0) 20000"), std::string::npos) << msg[1];
  EXPECT_EQ(msg[1], msg[0]);
}
