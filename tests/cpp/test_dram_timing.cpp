// Issue 20, the DRAM device timing model (arch/dram_timing.hpp; docs/architecture.md, "Off-chip
// memory timing"): hand-worked cases on a made-up device with round figures (a row miss, a hit, a
// conflict, a refresh stall, refresh closing rows while idle), a long stream's bandwidth against
// the analytic peak x refresh efficiency on the LPDDR4 preset, channels in parallel, the config
// key, and a time-multiplexed run on the device model still bit-exact with the golden executor.
#include <gtest/gtest.h>

#include "arch/chip.hpp"
#include "arch/chip_config.hpp"
#include "arch/dram_timing.hpp"
#include "base/error.hpp"
#include "chip_test_util.hpp"
#include "mapper/mapper.hpp"

namespace spikechip {
namespace {

// 1 ns per chip cycle (clock 1 GHz) so that cycles read as nanoseconds.
constexpr double kGHz = 1e9;
// 2 banks, 256 B rows, 32 B bursts; tRCD 10, tRP 8, tCL 12, tBurst 4, tREFI 1000, tRFC 100 (ns).
const arch::DramDevice kToy{"toy", "test", 2, 256, 32, 10000, 8000, 12000, 4000, 1000000, 100000, {}};

TEST(DramTiming, HandWorkedMissHitConflictRefresh) {
  arch::DramTiming d(kToy, 1, kGHz);
  // Row miss (bank 0 closed): activate at 0, column at tRCD 10, data 22..26.
  EXPECT_EQ(d.read(0, 32, 0, false, nullptr), 26u);
  EXPECT_EQ(d.stats().row_misses, 1u);
  // Row hit (same row, later): column at once, data after tCL: 100 + 12 + 4.
  EXPECT_EQ(d.read(32, 32, 100, false, nullptr), 116u);
  EXPECT_EQ(d.stats().row_hits, 1u);
  // Row conflict: address 512 = row 1 of bank 0 (rows of 256 B alternate banks 0, 1): precharge
  // 8, activate 10, tCL 12, burst 4.
  EXPECT_EQ(d.read(512, 32, 200, false, nullptr), 200u + 8 + 10 + 12 + 4);
  EXPECT_EQ(d.stats().row_conflicts, 1u);
  // Two bursts to the open row: pipelined, the second's data right behind the first's.
  EXPECT_EQ(d.read(544, 64, 300, false, nullptr), 300u + 12 + 4 + 4);
  // A hit whose data would end at 1006, after the refresh due at 1000: it waits for the window
  // [1000, 1100) and finds its row closed: activate at 1100, data 1122..1126.
  EXPECT_EQ(d.read(512, 32, 990, false, nullptr), 1100u + 10 + 12 + 4);
  EXPECT_EQ(d.stats().refreshes, 1u);
  EXPECT_EQ(d.stats().refresh_waits, 1u);
  EXPECT_EQ(d.stats().row_misses, 2u);
  // Idle across the refresh at 2000: the row it left open is closed, so a read of it at 2150 misses.
  EXPECT_EQ(d.read(512, 32, 2150, false, nullptr), 2150u + 10 + 12 + 4);
  EXPECT_EQ(d.stats().refreshes, 2u);
  EXPECT_EQ(d.stats().row_misses, 3u);
  // A request inside a refresh window waits for its end (3000..3100).
  EXPECT_EQ(d.read(512, 32, 3050, false, nullptr), 3100u + 10 + 12 + 4);
  // Writes are timed like reads and counted apart.
  EXPECT_EQ(d.write(512, 32, 3200, nullptr), 3200u + 12 + 4);
  EXPECT_EQ(d.stats().bytes_written, 32u);
  EXPECT_EQ(d.stats().bytes_read, 32u * 7 + 32);
}

TEST(DramTiming, BankParallelismHidesActivation) {
  // Rows 0 (bank 0) and 1 (bank 1) in one request: bank 1 activates while bank 0 streams, so the
  // 16 bursts follow each other on the bus: 10 + 12 + 16 x 4.
  arch::DramTiming d(kToy, 1, kGHz);
  EXPECT_EQ(d.read(0, 512, 0, false, nullptr), 10u + 12 + 16 * 4);
  EXPECT_EQ(d.stats().row_misses, 2u);
  EXPECT_EQ(d.stats().row_hits, 14u);
  // Two channels: row 0 on channel 0, row 1 on channel 1, in parallel: 10 + 12 + 8 x 4.
  arch::DramTiming d2(kToy, 2, kGHz);
  EXPECT_EQ(d2.read(0, 512, 0, false, nullptr), 10u + 12 + 8 * 4);
}

TEST(DramTiming, ChipCyclesConvertExactly) {
  arch::DramTiming d(kToy, 1, 200e6);  // 5 ns per cycle: the miss ends at 26 ns, in cycle 6
  EXPECT_EQ(d.ps_of_cycle(3), 15000u);
  EXPECT_EQ(d.cycle_of_ps(15000), 3u);
  EXPECT_EQ(d.cycle_of_ps(15001), 4u);
  EXPECT_EQ(d.read(0, 32, 0, false, nullptr), 6u);
}

// A long sequential read on one LPDDR4-3200 channel: bursts stream back to back at the peak
// (32 B per 5 ns = 6.4 GB/s) except that every refresh (tREFI 3.904 us) costs its window tRFC and
// re-opening a row (tRCD + tCL), plus less than a burst of slack before the window. So
//   time = tRCD + tCL + bursts x tBurst + n (tRFC + tRCD + tCL) + slack, 0 <= slack < n tBurst,
// and bandwidth = peak x (1 - (tRFC + tRCD + tCL) / tREFI) = 6.4 GB/s x 0.9442 within the slack.
TEST(DramTiming, StreamingBandwidthIsPeakTimesRefreshEfficiency) {
  const arch::DramDevice& dev = *arch::find_dram_device("lpddr4-3200");
  EXPECT_DOUBLE_EQ(dev.peak_bytes_per_s(), 6.4e9);
  const double clock = 1e12;  // 1 ps per cycle: the model's own resolution
  arch::DramTiming d(dev, 1, clock);
  const uint64_t bytes = 16ull << 20, bursts = bytes / 32;
  const uint64_t end = d.read(0, bytes, 0, false, nullptr);
  const uint64_t n = d.stats().refreshes;
  EXPECT_EQ(n, end / dev.tREFI);
  const uint64_t fixed = dev.tRCD + dev.tCL + bursts * dev.tBurst + n * (dev.tRFC + dev.tRCD + dev.tCL);
  EXPECT_GE(end, fixed);
  EXPECT_LT(end, fixed + n * dev.tBurst);
  const double eff = 1.0 - double(dev.tRFC + dev.tRCD + dev.tCL) / double(dev.tREFI);
  EXPECT_NEAR(eff, 0.9442, 1e-4);
  const double bw = double(bytes) / (double(end) * 1e-12);
  EXPECT_NEAR(bw / (dev.peak_bytes_per_s() * eff), 1.0, 0.002);
  // The row buffer: one miss per 2 KiB row, every other burst a hit.
  EXPECT_EQ(d.stats().row_hits + d.stats().row_misses + d.stats().row_conflicts, bursts);
  EXPECT_LE(d.stats().row_misses + d.stats().row_conflicts, bytes / 2048 + n * 8);
}

TEST(DramTiming, ConfigKeySelectsTheModel) {
  const arch::ChipConfig plain = arch::load_chip_config("tiny");
  EXPECT_EQ(plain.dram.model, "channel");
  EXPECT_FALSE(arch::chip_config_to_json(plain)["dram"].contains("model"));  // outputs unchanged
  EXPECT_NE(dynamic_cast<arch::DramChannel*>(arch::make_offchip_memory(plain).get()), nullptr);
  const arch::ChipConfig hbm = arch::load_chip_config("tiny", {"dram.model=hbm2-2000", "dram.channels=8"});
  auto mem = arch::make_offchip_memory(hbm);
  auto* t = dynamic_cast<arch::DramTiming*>(mem.get());
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->channels(), 8);
  EXPECT_EQ(std::string(t->device().name), "hbm2-2000");
  const nlohmann::json j = arch::chip_config_to_json(hbm);
  EXPECT_EQ(j["dram"]["model"], "hbm2-2000");
  EXPECT_EQ(arch::chip_config_from_json(j, "again").dram.channels, 8);
  auto error_of = [](const std::vector<std::string>& set) {
    try {
      arch::load_chip_config("tiny", set);
    } catch (const std::exception& e) {  // a bad --set value is a UsageError, a bad combination an Error
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(error_of({"dram.model=ddr9"}).find("/dram/model"), std::string::npos);
  EXPECT_NE(error_of({"dram.channels=2"}).find("/dram/channels"), std::string::npos);
  EXPECT_NE(error_of({"dram.model=lpddr4-3200", "dram.channels=0"}).find("/dram/channels"), std::string::npos);
}

// The tiny model time-multiplexed on a 4x4 chip with LPDDR4 behind the host port: bit-exact, each
// phase's reload at least its bytes at the device's peak, and the run slower than with the ideal
// fixed channel.
TEST(DramTiming, TimeMultiplexedRunOnTheDeviceModelIsBitExact) {
  model::Graph g = testing::small_meta_spikeformer(1);
  arch::ChipConfig chip = testing::chip_preset("tiny");
  chip.mesh.width = 4, chip.mesh.height = 4;
  mapper::MapOptions mo;
  mo.time_multiplex = true;
  const mapper::Mapping m = mapper::map_model(g, chip, mo);
  ASSERT_GE(m.phases.size(), 2u);
  auto img = testing::random_image(g.input().shape, 7);
  model::InputView in{img.data(), 1, g.input().shape};
  model::RunOptions ro;
  ro.record_spikes = true;
  ro.threads = 1;
  const model::RunResult gold = model::GoldenExecutor(g).run(in, 1, ro);
  arch::ChipConfig lp = chip;
  lp.dram.model = "lpddr4-3200";
  arch::Chip c(g, lp, m);
  const arch::ChipRunResult r = c.run(in, 1);
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(arch::compare_with_golden(g, r, gold), "");
  const double cycle_s = 1.0 / lp.clock_hz, peak = arch::find_dram_device("lpddr4-3200")->peak_bytes_per_s();
  for (size_t p = 0; p < m.phases.size(); ++p)
    EXPECT_GE(double(r.phase_ready_cycles[p] - r.phase_start_cycles[p]) * cycle_s, double(m.phases[p].reload_bytes) / peak)
        << "phase " << p;
  arch::ChipConfig ideal = chip;
  ideal.dram.bytes_per_cycle = 1 << 20, ideal.dram.latency_cycles = 0;
  const arch::ChipRunResult r0 = arch::Chip(g, ideal, m).run(in, 1);
  EXPECT_GT(r.latency_cycles, r0.latency_cycles);
  EXPECT_EQ(r.dram_weight_bytes, r0.dram_weight_bytes);
}

}  // namespace
}  // namespace spikechip
