// The network inside the SystemC kernel: packets injected from an SC_THREAD are delivered at the
// same cycles as in the plain model, times are cycle * period, and an idle network lets the
// kernel run out of events (nothing is clocked).
#include <gtest/gtest.h>

#include <systemc>

#include "arch/noc/network.hpp"
#include "sim/noc_module.hpp"

using namespace spikechip;
using namespace spikechip::arch::noc;

int sc_main(int, char**) { return 0; }  // gtest_main drives; SystemC's library wants the symbol

namespace {
struct TimeSink : PacketSink {
  std::vector<std::pair<uint64_t, sc_core::sc_time>> got;  // (cycle, kernel time)
  void deliver(int, const Packet&, uint64_t c) override { got.push_back({c, sc_core::sc_time_stamp()}); }
};

SC_MODULE(Source) {
  sim::NocModule* noc = nullptr;
  SC_CTOR(Source) { SC_THREAD(run); }
  void run() {
    wait(noc->time_of(10));
    noc->inject(Packet{PacketKind::Spike, 0, {15}, 4});
    wait(noc->time_of(1000));  // long idle gap: no network activity in between
    noc->inject(Packet{PacketKind::Spike, 15, {0, 3, 12}, 2});
  }
};
}  // namespace

TEST(NocSystemC, DeliveriesMatchPlainModelAndIdleCostsNothing) {
  NetworkParams p;
  p.width = p.height = 4;
  Network net(p);
  TimeSink sink;
  net.set_default_sink(&sink);
  const sc_core::sc_time period(5, sc_core::SC_NS);  // 200 MHz
  sim::NocModule noc("noc", net, period);
  Source src("src");
  src.noc = &noc;
  sc_core::sc_start();  // returns when no event is pending: the network must not keep ticking
  ASSERT_EQ(sink.got.size(), 4u);
  const int P = p.pipeline_stages, L = p.link_latency;
  EXPECT_EQ(sink.got[0].first, 10u + 6 * (P + L) + P + 3 + 3);  // separable: 2-cycle injection
  for (auto& [c, t] : sink.got) EXPECT_EQ(t, period * double(c));
  EXPECT_TRUE(net.idle());
  EXPECT_LT(sc_core::sc_time_stamp(), period * 1100.0);
}
