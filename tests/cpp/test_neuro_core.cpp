// The neuro-core's timing and event counts (arch/core/neuro_core.hpp, docs/architecture.md), unit
// by unit on the plain C++ class, against figures worked out by hand from the documented rules.
#include <gtest/gtest.h>

#include <random>

#include "arch/chip_config.hpp"
#include "arch/core/neuro_core.hpp"

namespace spikechip::arch {
namespace {

CoreConfig core(int lanes, int banks) {
  CoreConfig c;
  c.adder_lanes = lanes, c.membrane_banks = banks;
  c.weight_word_bits = 64;  // 8 weights per read
  c.neuron_updates_per_cycle = 8, c.sdsa_lanes = 16, c.mac_lanes = 4;
  c.input_queue_depth = 2, c.output_queue_depth = 4;
  return c;
}

TEST(NeuroCore, SynapseCyclesFollowLanesAndBanks) {
  // 9 taps x 32-channel runs = 288 adds. 16 lanes, 16 banks: 2 cycles per tap, 18 in all, the
  // ideal 288/16; no conflict stall.
  NeuroCore a(0, core(16, 16));
  EXPECT_EQ(a.spike_cost(288, 32), 18u);
  EXPECT_EQ(a.cnt.stalls.bank_conflict, 0u);
  EXPECT_EQ(a.cnt.sops, 288u);
  EXPECT_EQ(a.cnt.weight_sram_reads, 9u * 4);  // 32 weights = 4 reads of 8, per tap
  EXPECT_EQ(a.cnt.membrane_sram_reads, 288u);
  EXPECT_EQ(a.cnt.membrane_sram_writes, 288u);
  // Same work with 8 banks: min(P, banks) = 8 words per cycle, 4 cycles per tap = 36; the 18
  // cycles above the ideal are bank-conflict stalls.
  NeuroCore b(0, core(16, 8));
  EXPECT_EQ(b.spike_cost(288, 32), 36u);
  EXPECT_EQ(b.cnt.stalls.bank_conflict, 18u);
  // Runs narrower than the lanes waste them: 5 taps of 3 channels, 1 cycle each.
  NeuroCore n(0, core(16, 16));
  EXPECT_EQ(n.spike_cost(15, 3), 5u);
  EXPECT_EQ(n.cnt.stalls.bank_conflict, 4u);  // ideal ceil(15/16) = 1
  EXPECT_EQ(n.spike_cost(0, 3), 0u);
}

TEST(NeuroCore, InputQueueBackpressure) {
  NeuroCore c(0, core(16, 16));  // queue depth 2
  EXPECT_TRUE(c.queue_ready(0));
  EXPECT_EQ(c.book_synapse(0, 10), 10u);
  EXPECT_EQ(c.book_synapse(3, 5), 15u);  // waits for the engine: starts at 10
  EXPECT_FALSE(c.queue_ready(5));        // two packets pending
  EXPECT_EQ(c.accepts_again_at(5), 10u); // the oldest finishes at 10
  EXPECT_TRUE(c.queue_ready(10));
  EXPECT_EQ(c.accepts_again_at(10), UINT64_MAX);
  EXPECT_EQ(c.time.synapse_busy, 15u);
  EXPECT_EQ(c.cnt.packets_in, 2u);
}

// accepts_from() (what the chip engine's sink asks, kept after each booking) agrees with
// queue_ready() at every cycle after each booking, in a random stream of bookings.
TEST(NeuroCore, AcceptsFromMatchesQueueReady) {
  for (const int depth : {1, 2, 5}) {
    CoreConfig cfg = core(16, 16);
    cfg.input_queue_depth = depth, cfg.output_queue_depth = 4;
    NeuroCore c(0, cfg);
    std::mt19937 gen{uint32_t(depth)};
    uint64_t now = 0;
    for (int i = 0; i < 300; ++i) {
      now += gen() % 4;
      if (!c.queue_ready(now)) continue;  // the network would not deliver now
      c.book_synapse(now, 1 + gen() % 6);
      const uint64_t from = c.accepts_from();
      NeuroCore probe = c;  // queue_ready pops: ask a copy, cycle by cycle
      for (uint64_t t = now; t < now + 40; ++t) ASSERT_EQ(probe.queue_ready(t), t >= from) << depth << " " << i << " " << t;
    }
  }
}

TEST(NeuroCore, NodeUnitTasksAndCosts) {
  NeuroCore c(0, core(16, 8));
  EXPECT_EQ(c.lif_cost(100), 13u);  // ceil(100 / 8 updates per cycle)
  EXPECT_EQ(c.cnt.neuron_updates, 100u);
  EXPECT_EQ(c.cnt.membrane_sram_reads, 200u);  // membrane and input current
  EXPECT_EQ(c.cnt.membrane_sram_writes, 100u);
  EXPECT_EQ(c.sdsa_cost(1000), 63u);  // ceil(1000 / 16 SDSA lanes)
  EXPECT_EQ(c.cnt.sdsa_ops, 1000u);
  EXPECT_EQ(c.elementwise_cost(100, 2, 1), 13u);  // min(16 lanes, 8 banks) per cycle
  EXPECT_EQ(c.mac_cost(10), 3u);                   // ceil(10 / 4 MAC lanes)
  EXPECT_EQ(c.cnt.mults, 10u);
  // One task at a time: the second starts when the first ends; an empty task still takes a cycle.
  EXPECT_EQ(c.book_node(5, 13), 18u);
  EXPECT_EQ(c.book_node(6, 63), 81u);
  EXPECT_EQ(c.book_node(100, 0), 101u);
  EXPECT_EQ(c.time.node_busy, 13u + 63 + 1);
}

TEST(NeuroCore, PacketiserOneFlitPerCycleAndReset) {
  NeuroCore c(0, core(16, 16));
  EXPECT_EQ(c.count_sent(3, 10), 13u);  // flits handed over at 10, 11, 12
  EXPECT_EQ(c.count_sent(2, 11), 15u);  // queued behind the first packet
  EXPECT_EQ(c.count_sent(1, 20), 21u);
  EXPECT_EQ(c.cnt.packets_out, 3u);
  EXPECT_EQ(c.cnt.flits_out, 6u);
  c.close_time(30);
  EXPECT_EQ(c.time.output_busy, 6u);
  EXPECT_EQ(c.time.output_idle, 10u + 5 + 9);  // [0,10) [15,20) [21,30)
  c.reset();
  EXPECT_EQ(c.cnt.packets_out, 0u);
  EXPECT_EQ(c.time.output_busy, 0u);
  EXPECT_EQ(c.book_synapse(0, 1), 1u);
}

// Exact accounting worked by hand (docs/architecture.md, "Cycle accounting"): over a 40-cycle run
// every cycle of each unit is busy, one stall or idle, and each unit sums to 40.
TEST(NeuroCore, CycleAccountingByHand) {
  NeuroCore c(0, core(16, 16));  // input queue depth 2
  // Input engine: a pixel packet [2,6) (encoder), a spike packet arriving at 3, queued, [6,16)
  // of which 4 are bank-conflict cycles, a spike packet [20,23).
  EXPECT_EQ(c.book_synapse(2, 4, 0, true), 6u);
  EXPECT_EQ(c.book_synapse(3, 10, 4), 16u);
  EXPECT_EQ(c.book_synapse(20, 3), 23u);
  // Node unit: task A ready at 16, data processed at 16: [0,16) waiting_input, busy [16,21);
  // task B: its phase started at 22, its weights loaded at 23, data at 24, last end-of-step marker
  // at 27: waits [21,22) phase, [22,23) dram, [23,24) input, [24,27) eot, busy [27,30) as an SDSA
  // task; idle [30,40).
  EXPECT_EQ(c.book_node(16, 5, {0, 16, 16}), 21u);
  EXPECT_EQ(c.book_node(27, 3, {23, 24, 27, 22}, true), 30u);
  // Packetiser: 4 flits at 21 -> busy [21,25).
  EXPECT_EQ(c.count_sent(4, 21), 25u);
  c.close_time(40);
  const CoreTime& t = c.time;
  EXPECT_EQ(t.encoder_busy, 4u);
  EXPECT_EQ(t.synapse_busy, 6u + 3);
  EXPECT_EQ(t.bank_conflict, 4u);
  EXPECT_EQ(t.engine_idle, 2u + 4 + 17);  // [0,2) [16,20) [23,40)
  EXPECT_EQ(t.waiting_phase, 1u);
  EXPECT_EQ(t.waiting_dram, 1u);
  EXPECT_EQ(t.waiting_input, 16u + 1);
  EXPECT_EQ(t.waiting_eot, 3u);
  EXPECT_EQ(t.node_busy, 5u);
  EXPECT_EQ(t.sdsa_busy, 3u);
  EXPECT_EQ(t.node_idle, 10u);
  EXPECT_EQ(t.output_busy, 4u);
  EXPECT_EQ(t.output_idle, 36u);
  // Input queue (depth 2): packet 1 held [2,6), packet 2 [3,16), packet 3 [20,23): two packets
  // (full) in [3,6), one in [2,3) [6,16) [20,23), none elsewhere.
  EXPECT_EQ(t.queue_full, 3u);
  EXPECT_EQ(t.queue_busy, 1u + 10 + 3);
  EXPECT_EQ(t.queue_idle, 2u + 4 + 17);
  EXPECT_TRUE(t.exact());
  EXPECT_EQ(t.busy(), 4u + 9 + 5 + 3 + 4);
}

}  // namespace
}  // namespace spikechip::arch
