// Issue 20, presets that resemble real chips (arch/presets/loihi2-lpddr4.json, mesh-hbm2.json;
// docs/architecture.md, "Presets that resemble real chips"): their sizes equal the published
// figures they cite, a model larger than each runs on it time-multiplexed, bit-exact with the
// golden executor, with its weights streamed through the presets' memory controllers, and the
// report's DRAM figures (bytes per inference, bandwidth use, weight stall share) equal their
// definitions recomputed here from the mapping, the device datasheet peaks and the cycle
// accounting.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "arch/batch_run.hpp"
#include "arch/chip.hpp"
#include "arch/memory_controllers.hpp"
#include "chip_test_util.hpp"
#include "mapper/mapper.hpp"
#include "report/csv.hpp"
#include "report/report_writer.hpp"
#include "report/run_report.hpp"

namespace spikechip {
namespace {

using testing::chip_preset;

int64_t core_sram(const arch::ChipConfig& c) {
  return c.core.membrane_sram_bytes + c.core.weight_sram_bytes + c.core.queue_sram_bytes;
}

TEST(PresetsReal, SizesEqualTheirSources) {
  // Loihi 2 (Intel's Loihi 2 brief): 128 neuro-cores, ~25 MB of on-chip memory; here 192 KiB each.
  const arch::ChipConfig l = chip_preset("loihi2-lpddr4");
  EXPECT_EQ(l.mesh.width * l.mesh.height, 128);
  EXPECT_EQ(core_sram(l), 192 << 10);
  EXPECT_EQ(128 * core_sram(l), int64_t(24) << 20);  // 25.2 MB
  ASSERT_EQ(l.memory_controllers.size(), 1u);
  EXPECT_EQ(l.memory_controllers[0].model, "lpddr4-3200");
  // One LPDDR4-3200 x16 channel: 3200 MT/s x 2 bytes = 6.4 GB/s (JESD209-4).
  EXPECT_DOUBLE_EQ(arch::dram_peak_bytes_per_s(l), 3200e6 * 2);
  // The HBM2 mesh: 144 cores of 1.5 MiB (216 MiB), one HBM2 stack = 8 channels x 128 bits at
  // 2 Gb/s per pin = 256 GB/s (JESD235A), one channel per controller.
  const arch::ChipConfig h = chip_preset("mesh-hbm2");
  EXPECT_EQ(h.mesh.width * h.mesh.height, 144);
  EXPECT_EQ(core_sram(h), 1536 << 10);
  ASSERT_EQ(h.memory_controllers.size(), 8u);
  EXPECT_DOUBLE_EQ(arch::dram_peak_bytes_per_s(h), 8 * 128 * 2e9 / 8);
  // Without controllers: the dram section's channel (bytes_per_cycle x clock).
  const arch::ChipConfig t = chip_preset("tiny");
  EXPECT_DOUBLE_EQ(arch::dram_peak_bytes_per_s(t), 32 * 200e6);
}

// A Meta-SpikeFormer of dims 32..256 (2 + 1 blocks) at 64x64: 99 cores' worth of groups on
// loihi2-lpddr4, more than its 128 cores can hold at once with the weights in 27 KiB. The HBM2 mesh
// holds it whole, so there its cores' SRAMs are cut to 32 KiB each for the test (mesh, flits,
// controllers and DRAM as the preset).
model::Graph model_for_presets() {
  model::MetaSpikeFormerSpec s;
  s.dims = {32, 64, 128, 256};
  s.blocks3 = 2, s.blocks4 = 1;
  s.in_channels = 3, s.height = 64, s.width = 64, s.num_classes = 10, s.T = 1;
  model::Graph g = model::build_meta_spikeformer(s, 7, 0.2);
  g.timesteps = 1;
  return g;
}

void expect_bit_exact_with_dram_figures(const model::Graph& g, const arch::ChipConfig& chip) {
  mapper::MapOptions mo;
  mo.time_multiplex = true;
  const mapper::Mapping m = mapper::map_model(g, chip, mo);
  ASSERT_GE(m.phases.size(), 2u) << chip.name;
  const auto img = testing::random_image(g.input().shape, 3);
  const model::InputView in{img.data(), 1, g.input().shape};
  arch::ChipRunOptions opt;
  const arch::ChipBatchRun run = arch::run_inputs(g, chip, m, {in}, 1, opt);
  ASSERT_EQ(run.results.size(), 1u);
  const arch::ChipRunResult& r = run.results[0];
  ASSERT_TRUE(r.complete) << chip.name;
  model::RunOptions ro;
  ro.record_spikes = true;
  ro.threads = 1;
  EXPECT_EQ(arch::compare_with_golden(g, r, model::GoldenExecutor(g).run(in, 1, ro)), "") << chip.name;
  // The weights came as packets through the controllers: one per 8 flits of payload per group.
  const uint64_t chunk = uint64_t(arch::kMaxPayloadFlits) * uint64_t(chip.router.flit_bits) / 8;
  uint64_t packets = 0, reload = 0;
  for (const auto& gr : m.groups) packets += (uint64_t(gr.weight_bytes) + chunk - 1) / chunk;
  for (const auto& p : m.phases) reload += uint64_t(p.reload_bytes);
  EXPECT_EQ(r.reload_packets, packets) << chip.name;
  EXPECT_EQ(r.dram_weight_bytes, reload) << chip.name;

  report::RunReportContext ctx;
  ctx.T = 1;
  const nlohmann::json rep = report::build_run_report(g, chip, m, run, ctx);
  const nlohmann::json& S = rep["summary"];
  const double bytes = double(reload + r.dram_spill_write_bytes + r.dram_spill_read_bytes);
  EXPECT_DOUBLE_EQ(S["dram_bytes_per_inference"].get<double>(), bytes) << chip.name;
  const double secs = double(r.latency_cycles) / chip.clock_hz;
  EXPECT_NEAR(S["dram_bandwidth_utilisation"].get<double>(), bytes / (arch::dram_peak_bytes_per_s(chip) * secs), 1e-12);
  EXPECT_GT(S["dram_bandwidth_utilisation"].get<double>(), 0.0);
  EXPECT_LT(S["dram_bandwidth_utilisation"].get<double>(), 1.0);
  uint64_t stall = 0, used = 0;
  std::vector<char> on(r.core_time.size(), 0);
  for (const auto& gr : m.groups) on[size_t(gr.core)] = 1;
  for (size_t c = 0; c < r.core_time.size(); ++c) {
    EXPECT_TRUE(r.core_time[c].exact()) << chip.name << " core " << c;
    stall += r.core_time[c].waiting_dram, used += on[c];
  }
  EXPECT_GT(stall, 0u) << chip.name << ": phase 0 waits for its weights";
  EXPECT_DOUBLE_EQ(S["weight_stall_share"].get<double>(), double(stall) / (double(used) * double(r.run_cycles)));
  EXPECT_EQ(rep["dram"]["weight_stall_cycles"].get<uint64_t>(), stall);
  // dram.csv: a header and one row, the dram section's figures (both presets' memories are DRAM
  // device models, so their device figures follow).
  const auto files = report::render_run_outputs(rep);
  ASSERT_TRUE(files.count("dram.csv")) << chip.name;
  const std::string want = "bytes_per_inference,weight_bytes,spill_write_bytes,spill_read_bytes,peak_bytes_per_s,"
                           "bandwidth_utilisation,weight_stall_cycles,phase_wait_cycles,weight_stall_share,"
                           "device_read_bursts,device_write_bursts,device_activates,device_refreshes,device_row_hit_rate\n";
  const std::string& csv = files.at("dram.csv");
  ASSERT_EQ(csv.substr(0, want.size()), want);
  EXPECT_EQ(csv.substr(want.size(), csv.find(',', want.size()) - want.size()), report::format_number(bytes));
  std::printf("%s: %zu phases, %llu cycles, %.0f DRAM bytes, bandwidth use %.4f, weight stalls %.4f\n", chip.name.c_str(),
              m.phases.size(), (unsigned long long)r.latency_cycles, bytes, S["dram_bandwidth_utilisation"].get<double>(),
              S["weight_stall_share"].get<double>());
}

TEST(PresetsReal, EachRunsBitExactTimeMultiplexed) {
  const model::Graph g = model_for_presets();
  expect_bit_exact_with_dram_figures(g, chip_preset("loihi2-lpddr4"));
  arch::ChipConfig h = chip_preset("mesh-hbm2");
  h.core.membrane_sram_bytes = h.core.weight_sram_bytes = 32768;
  expect_bit_exact_with_dram_figures(g, h);
}

// An unmultiplexed run moves no DRAM byte and its report has no DRAM figures (unchanged outputs).
TEST(PresetsReal, NoDramFiguresWithoutPhases) {
  const model::Graph g = testing::small_meta_spikeformer(1);
  const arch::ChipConfig chip = chip_preset("loihi2-lpddr4");
  const mapper::Mapping m = mapper::map_model(g, chip, {});
  ASSERT_EQ(m.phases.size(), 1u);
  const auto img = testing::random_image(g.input().shape, 3);
  const model::InputView in{img.data(), 1, g.input().shape};
  const arch::ChipBatchRun run = arch::run_inputs(g, chip, m, {in}, 1, arch::ChipRunOptions{});
  report::RunReportContext ctx;
  ctx.T = 1;
  const nlohmann::json rep = report::build_run_report(g, chip, m, run, ctx);
  EXPECT_FALSE(rep["summary"].contains("dram_bytes_per_inference"));
  EXPECT_FALSE(rep["dram"].contains("bandwidth_utilisation"));
  EXPECT_FALSE(report::render_run_outputs(rep).count("dram.csv"));
}

}  // namespace
}  // namespace spikechip
