// Issue 20, double-buffered weight reloads (core.weight_prefetch_fraction; docs/architecture.md,
// "Double-buffered weights"): the mapper keeps the reserve free, the next phase's weights stream
// in while a phase computes, a run with prefetch is never slower than the same mapping without it
// (behind the host port and with controllers on the mesh), stays bit-exact, and on the small
// model its phase timing equals the hand-worked channel arithmetic.
#include <gtest/gtest.h>

#include "arch/chip.hpp"
#include "arch/chip_config.hpp"
#include "base/error.hpp"
#include "chip_test_util.hpp"
#include "critical_path_check.hpp"
#include "mapper/mapper.hpp"

namespace spikechip {
namespace {

uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

struct Prefetch {
  model::Graph g = testing::small_meta_spikeformer(1);
  arch::ChipConfig chip = testing::chip_preset("tiny");
  mapper::Mapping m;
  std::vector<uint8_t> img = testing::random_image(g.input().shape, 5);
  model::InputView in{img.data(), 1, g.input().shape};
  model::RunResult gold;
  explicit Prefetch(double fraction) {
    chip.mesh.width = 4, chip.mesh.height = 4;
    chip.core.weight_prefetch_fraction = fraction;
    mapper::MapOptions mo;
    mo.time_multiplex = true;
    m = mapper::map_model(g, chip, mo);
    model::RunOptions ro;
    ro.record_spikes = true;
    ro.threads = 1;
    gold = model::GoldenExecutor(g).run(in, 1, ro);
  }
  // The same mapping run with the prefetch buffer (as mapped) and without it (fraction 0).
  std::pair<arch::ChipRunResult, arch::ChipRunResult> runs(const arch::ChipConfig& base) {
    arch::ChipConfig off = base;
    off.core.weight_prefetch_fraction = 0;
    return {arch::Chip(g, base, m).run(in, 1), arch::Chip(g, off, m).run(in, 1)};
  }
};

TEST(WeightPrefetch, ConfigAndMapperKeepTheReserveFree) {
  const arch::ChipConfig tiny = testing::chip_preset("tiny");
  EXPECT_EQ(arch::weight_sram_usable(tiny), tiny.core.weight_sram_bytes);
  EXPECT_FALSE(arch::chip_config_to_json(tiny)["core"].contains("weight_prefetch_fraction"));  // outputs unchanged
  const arch::ChipConfig half = arch::load_chip_config("tiny", {"core.weight_prefetch_fraction=0.5"});
  EXPECT_EQ(arch::weight_prefetch_bytes(half), half.core.weight_sram_bytes / 2);
  EXPECT_EQ(arch::chip_config_to_json(half)["core"]["weight_prefetch_fraction"], 0.5);
  try {
    arch::load_chip_config("tiny", {"core.weight_prefetch_fraction=0.95"});
    ADD_FAILURE() << "accepted 0.95";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("/core/weight_prefetch_fraction"), std::string::npos) << e.what();
  }
  Prefetch p(0.5);
  ASSERT_GE(p.m.phases.size(), 2u);
  EXPECT_EQ(p.m.weight_sram_bytes, arch::weight_sram_usable(p.chip));
  for (const auto& gr : p.m.groups) EXPECT_LE(gr.weight_bytes, arch::weight_sram_usable(p.chip));
  // The reserve changes the chip (and so the mapping's chip hash).
  arch::ChipConfig none = p.chip;
  none.core.weight_prefetch_fraction = 0;
  EXPECT_NE(mapper::chip_hash(none), mapper::chip_hash(p.chip));
}

// Behind the host port (the fixed channel: latency L = 20, B = 32 bytes per cycle). With half the
// weight SRAM as the buffer every group's weights fit it, so during phase q-1 the channel reads
// all of phase q's W_q bytes right after phase q-1's own reads, and phase q needs no read of its
// own: hand-worked,
//   ready_0 = L + ceil(W_0 / B)                                  (nothing to prefetch phase 0)
//   ready_1 = max(start_1, ready_0 + L + ceil(W_1 / B))           (phase 0 reads no spills)
// against, without the buffer, ready_1 = start_1 + L + ceil(W_1 / B).
TEST(WeightPrefetch, ChannelPhaseTimingEqualsTheHandWorkedCase) {
  Prefetch p(0.5);
  const auto [r, r0] = p.runs(p.chip);
  ASSERT_TRUE(r.complete);
  ASSERT_TRUE(r0.complete);
  EXPECT_EQ(arch::compare_with_golden(p.g, r, p.gold), "");
  EXPECT_EQ(arch::compare_with_golden(p.g, r0, p.gold), "");
  const uint64_t L = uint64_t(p.chip.dram.latency_cycles), B = uint64_t(p.chip.dram.bytes_per_cycle);
  ASSERT_EQ(p.m.phases.size(), 2u);
  const uint64_t W0 = uint64_t(p.m.phases[0].reload_bytes), W1 = uint64_t(p.m.phases[1].reload_bytes);
  EXPECT_EQ(r.phase_ready_cycles[0], L + ceil_div(W0, B));
  EXPECT_EQ(r.phase_ready_cycles[1], std::max(r.phase_start_cycles[1], r.phase_ready_cycles[0] + L + ceil_div(W1, B)));
  EXPECT_EQ(r0.phase_ready_cycles[1], r0.phase_start_cycles[1] + L + ceil_div(W1, B));
  EXPECT_LE(r.latency_cycles, r0.latency_cycles);
  // The phase-1 reload is hidden behind phase 0's compute here: the run saves it whole.
  EXPECT_EQ(r.phase_ready_cycles[1], r.phase_start_cycles[1]);
  EXPECT_EQ(r.latency_cycles + (L + ceil_div(W1, B)), r0.latency_cycles);
  // Same bytes moved; the weight stalls (waiting_dram) shrink; accounting and critical path exact.
  EXPECT_EQ(r.dram_weight_bytes, r0.dram_weight_bytes);
  uint64_t wd = 0, wd0 = 0;
  for (const auto& ct : r.core_time) {
    wd += ct.waiting_dram;
    EXPECT_TRUE(ct.exact());
  }
  for (const auto& ct : r0.core_time) wd0 += ct.waiting_dram;
  EXPECT_LT(wd, wd0);
  // The weight stalls by hand: a core's first task of phase q waits for its weights from the
  // phase's start (earlier: waiting_phase), so each core with a phase-0 group stalls ready_0 and
  // each core with a phase-1 group ready_1 - start_1 (0 when the reload was hidden).
  uint64_t n0 = 0, n1 = 0;
  for (const auto& gr : p.m.groups) (gr.phase == 0 ? n0 : n1) += 1;
  EXPECT_EQ(wd, n0 * r.phase_ready_cycles[0]);
  EXPECT_EQ(wd0, n0 * r0.phase_ready_cycles[0] + n1 * (L + ceil_div(W1, B)));
  testing::expect_exact_critical_path(r);
  std::printf("prefetch 0.5 behind the host port: W0 %llu B, W1 %llu B; latency %llu with, %llu without; "
              "waiting_dram %llu vs %llu core-cycles\n",
              (unsigned long long)W0, (unsigned long long)W1, (unsigned long long)r.latency_cycles,
              (unsigned long long)r0.latency_cycles, (unsigned long long)wd, (unsigned long long)wd0);
}

// A small buffer (a tenth of the SRAM) holds only part of each group's weights: the rest is read
// after the switch. Still never slower, bit-exact; with controllers on the mesh as well.
TEST(WeightPrefetch, NeverSlowerWithPartialBufferAndWithControllers) {
  for (double f : {0.1, 0.5}) {
    Prefetch p(f);
    const auto [r, r0] = p.runs(p.chip);
    ASSERT_TRUE(r.complete);
    EXPECT_EQ(arch::compare_with_golden(p.g, r, p.gold), "") << f;
    EXPECT_LE(r.latency_cycles, r0.latency_cycles) << f;
    arch::ChipConfig mc = p.chip;
    mc.memory_controllers = {arch::MemoryControllerConfig{"west", 0, 1, "lpddr4-3200"},
                             arch::MemoryControllerConfig{"east", 3, 1, "lpddr4-3200"}};
    const auto [c, c0] = p.runs(mc);
    ASSERT_TRUE(c.complete);
    ASSERT_TRUE(c0.complete);
    EXPECT_EQ(arch::compare_with_golden(p.g, c, p.gold), "") << f;
    EXPECT_LE(c.latency_cycles, c0.latency_cycles) << f;
    EXPECT_EQ(c.reload_packets, c0.reload_packets) << f;  // the same packets, earlier
    EXPECT_EQ(c.dram_weight_bytes, c0.dram_weight_bytes) << f;
    testing::expect_exact_critical_path(c);
    for (const auto& ct : c.core_time) EXPECT_TRUE(ct.exact());
    std::printf("prefetch %.1f: host port %llu vs %llu cycles; 2 controllers %llu vs %llu cycles\n", f,
                (unsigned long long)r.latency_cycles, (unsigned long long)r0.latency_cycles,
                (unsigned long long)c.latency_cycles, (unsigned long long)c0.latency_cycles);
  }
}

}  // namespace
}  // namespace spikechip
