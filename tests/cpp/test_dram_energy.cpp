// Issue 20, DRAM energy from device currents (arch/dram_timing.hpp DramEnergy, arch/energy.cpp
// apply_energy; docs/energy.md "DRAM device energy"): the LPDDR4 and HBM2 figures re-derived here
// from the device currents with DRAMPower's equations, bursts counted by direction, the split of a run's
// DRAM actions over layers and timesteps summing exactly, the pricing (device actions, the rest by
// the bit), time-multiplexed runs whose device bits equal the chip's DRAM bits and whose layers
// and timesteps sum to the totals, and a report re-priced from its counts alone.
#include <gtest/gtest.h>

#include <cmath>

#include "arch/chip.hpp"
#include "arch/chip_config.hpp"
#include "arch/dram_timing.hpp"
#include "arch/energy.hpp"
#include "chip_test_util.hpp"
#include "explore/sweep.hpp"
#include "mapper/mapper.hpp"
#include "report/dram_figures.hpp"
#include "spikechip/source_dir.hpp"
#include "tiny_graph.hpp"

namespace spikechip {
namespace {

using nlohmann::json;

const std::string kTable = std::string(SPIKECHIP_SOURCE_DIR) + "/arch/energy/45nm.json";

// DRAMPower's equations, summed over a device's supplies: currents in mA, supplies in V, times in
// ns; mA x ns x V = pJ, mA x V = mW.
struct Rail { double v, idd0, idd2n, idd3n, idd4r, idd4w, idd5; };
void expect_figures_from_currents(const std::string& device, const std::vector<Rail>& rails, double ras, double rp,
                                  double rfc, double burst) {
  double act = 0, rd = 0, wr = 0, ref = 0, bg = 0;
  for (const Rail& r : rails) {
    act += ((r.idd0 - r.idd3n) * ras + (r.idd0 - r.idd2n) * rp) * r.v;
    rd += (r.idd4r - r.idd3n) * burst * r.v, wr += (r.idd4w - r.idd3n) * burst * r.v;
    ref += (r.idd5 - r.idd3n) * rfc * r.v, bg += r.idd3n * r.v;
  }
  const arch::DramEnergy& e = arch::find_dram_device(device)->energy;
  ASSERT_TRUE(e.sourced()) << device;
  EXPECT_NEAR(e.act_pre_pj, act, 1e-9) << device;
  EXPECT_NEAR(e.read_burst_pj, rd, 1e-9) << device;
  EXPECT_NEAR(e.write_burst_pj, wr, 1e-9) << device;
  EXPECT_NEAR(e.refresh_pj, ref, 1e-9) << device;
  EXPECT_NEAR(e.background_mw, bg, 1e-9) << device;
}

// The Micron 6 Gb LPDDR4-3200 x16 currents (two supplies), tCK 0.625 ns: tRAS 68, tRP 29, tRFCab
// 448 tCK, a BL16 burst 8 tCK.
TEST(DramEnergy, Lpddr4FiguresFollowFromTheDeviceCurrents) {
  const double tck = 0.625;
  expect_figures_from_currents("lpddr4-3200", {{1.8, 3.5, 2.0, 2.25, 2.25, 2.25, 10.0}, {1.1, 45.0, 27.0, 30.0, 275.0, 210.0, 90.0}},
                               68 * tck, 29 * tck, 448 * tck, 8 * tck);
  const arch::DramEnergy& e = arch::find_dram_device("lpddr4-3200")->energy;
  // Per bit of a 32-byte burst: 5.26 pJ read, 3.87 pJ written.
  EXPECT_NEAR(e.read_burst_pj / 256, 5.26, 0.005);
  EXPECT_NEAR(e.write_burst_pj / 256, 3.87, 0.005);
}

// DRAMsim3's HBM2 8 Gb x128 channel (configs/HBM2_8Gb_x128.ini): one 1.2 V supply, tCK 1 ns: tRAS
// 34, tRP 14, tRFC 260, a BL4 burst 2 tCK (64 bytes).
TEST(DramEnergy, Hbm2FiguresFollowFromTheChannelCurrents) {
  expect_figures_from_currents("hbm2-2000", {{1.2, 65, 40, 55, 390, 500, 250}}, 34, 14, 260, 2);
  const arch::DramEnergy& e = arch::find_dram_device("hbm2-2000")->energy;
  // Per bit of a 64-byte burst: 1.57 pJ read, 2.09 pJ written (the core only, as for LPDDR4).
  EXPECT_NEAR(e.read_burst_pj / 512, 1.57, 0.005);
  EXPECT_NEAR(e.write_burst_pj / 512, 2.09, 0.005);
  EXPECT_EQ(arch::find_dram_device("hbm2-2000")->burst_bytes, 64);
}

TEST(DramEnergy, BurstsAreCountedByDirection) {
  arch::DramTiming d(*arch::find_dram_device("lpddr4-3200"), 1, 200e6);
  d.read(0, 64, 0, false, nullptr);       // two bursts of one row: one activate
  d.write(8192, 33, 100, nullptr);        // 33 bytes from an aligned address: two bursts, another row
  EXPECT_EQ(d.stats().read_bursts, 2u);
  EXPECT_EQ(d.stats().write_bursts, 2u);
  EXPECT_EQ(d.stats().activates(), 2u);
  EXPECT_EQ(d.stats().row_hits + d.stats().activates(), 4u);
}

TEST(DramEnergy, SplitSumsExactlyInProportion) {
  const arch::DramActions total{1000, 7, 3, 5, 11, 999};
  const auto parts = arch::split_dram_actions(total, {300, 0, 700});
  arch::DramActions sum;
  for (const auto& p : parts) sum += p;
  EXPECT_EQ(sum.to_json(), total.to_json());
  EXPECT_EQ(parts[0].bits, 300u);
  EXPECT_EQ(parts[2].bits, 700u);
  EXPECT_TRUE(parts[1].empty());
  EXPECT_EQ(parts[0].activates, 1u);  // 5 x 0.3 rounded down; the remainder goes to the largest
  EXPECT_EQ(parts[2].activates, 4u);
  const auto none = arch::split_dram_actions(total, {0, 0});
  EXPECT_EQ(none[0].to_json(), total.to_json());
  EXPECT_TRUE(none[1].empty());
}

TEST(DramEnergy, DevicesArePricedByActionsTheRestByTheBit) {
  const arch::EnergyTable t = arch::load_energy_table(kTable);
  arch::ChipConfig chip = testing::chip_preset("tiny");
  arch::EventCounts c;
  c.dram_bits = 10000 + 512 + 4096;  // 10000 bits through a `channel`, 512 through LPDDR4, 4096 through HBM2
  c.dram_actions["lpddr4-3200"] = {512, 1, 1, 1, 2, 1000};
  c.dram_actions["hbm2-2000"] = {4096, 8, 0, 2, 3, 500};
  const arch::EnergyBreakdown b = arch::apply_energy(c, t, chip);
  const double ns_per_cycle = 1e9 / chip.clock_hz;
  EXPECT_NEAR(b.components_pj.at("dram"), 1204.6875 + 1347.5 + 990.0 + 2 * 828.0 + 8 * 804.0 + 10000 * t.at("dram_bit"), 1e-6);
  EXPECT_NEAR(b.components_pj.at("dram_background"),
              2 * 22386.0 + 1000 * 37.05 * ns_per_cycle + 3 * 60840.0 + 500 * 66.0 * ns_per_cycle, 1e-6);
  // Without a device model nothing changes: no background component, every bit at dram_bit.
  arch::EventCounts plain;
  plain.dram_bits = 800;
  const arch::EnergyBreakdown p = arch::apply_energy(plain, t, chip);
  EXPECT_EQ(p.components_pj.count("dram_background"), 0u);
  EXPECT_DOUBLE_EQ(p.components_pj.at("dram"), 800 * t.at("dram_bit"));
  EXPECT_FALSE(plain.to_json().contains("dram_actions"));
}

// The report's `dram` section says what timed the accesses: the fixed channel's two figures only
// when the channel model is in use.
TEST(DramEnergy, ReportSectionNamesTheMemoryModels) {
  arch::ChipConfig chip = testing::chip_preset("tiny");
  json d = report::dram_memory_json(chip);
  EXPECT_EQ(d, json({{"models", "channel"}, {"channels", 1}, {"memory_controllers", 0}, {"bytes_per_cycle", 32}, {"latency_cycles", 20}}));
  chip.dram.model = "hbm2-2000", chip.dram.channels = 8;
  EXPECT_EQ(report::dram_memory_json(chip), json({{"models", "hbm2-2000"}, {"channels", 8}, {"memory_controllers", 0}}));
  chip.memory_controllers = {{"west", 1, 2, "lpddr4-3200"}, {"east", 2, 1, "channel"}, {"south", 3, 1, "lpddr4-3200"}};
  d = report::dram_memory_json(chip);
  EXPECT_EQ(d["models"], "lpddr4-3200+channel");
  EXPECT_EQ(d["channels"], 4);
  EXPECT_EQ(d["memory_controllers"], 3);
  EXPECT_EQ(d["bytes_per_cycle"], 32);
}

double priced(const arch::EventCounts& c, const arch::EnergyTable& t, const arch::ChipConfig& chip) {
  return arch::apply_energy(c, t, chip).total_pj;
}

// A time-multiplexed run on LPDDR4 (host port, then two controllers): the devices moved exactly
// the chip's DRAM bits, refresh and standby cover the whole latency on every channel, and the
// layers' and timesteps' counts and energies sum to the run's.
void expect_device_accounting(const model::Graph& g, const arch::ChipConfig& chip, const mapper::Mapping& m, int channels) {
  auto img = testing::random_image(g.input().shape, 5);
  model::InputView in{img.data(), 1, g.input().shape};
  arch::Chip sim(g, chip, m);
  const arch::ChipRunResult r = sim.run(in, 2);
  ASSERT_TRUE(r.complete);
  ASSERT_EQ(r.events.dram_actions.size(), 1u);
  const arch::DramActions& a = r.events.dram_actions.at("lpddr4-3200");
  EXPECT_EQ(a.bits, r.events.dram_bits);
  EXPECT_GE(a.read_bursts * 32, r.dram_weight_bytes + r.dram_spill_read_bytes);
  EXPECT_GT(a.activates, 0u);
  const arch::DramDevice& dev = *arch::find_dram_device("lpddr4-3200");
  const uint64_t ps = uint64_t((unsigned __int128)r.latency_cycles * 1000000000000ULL / uint64_t(chip.clock_hz));
  EXPECT_EQ(a.refreshes, uint64_t(channels) * (ps / dev.tREFI));
  EXPECT_EQ(a.channel_cycles, uint64_t(channels) * r.latency_cycles);
  arch::EventCounts layers, steps;
  for (const auto& ne : r.node_events) layers += ne;
  for (const auto& se : r.step_events) steps += se;
  for (const arch::EventCounts* part : {&layers, &steps}) {
    EXPECT_EQ(part->dram_bits, r.events.dram_bits);
    EXPECT_EQ(part->to_json()["dram_actions"], r.events.to_json()["dram_actions"]);
  }
  const arch::EnergyTable t = arch::load_energy_table(kTable);
  double layer_pj = 0;
  for (const auto& ne : r.node_events) layer_pj += priced(ne, t, chip);
  EXPECT_NEAR(layer_pj, priced(r.events, t, chip), 1e-9 * priced(r.events, t, chip));
  EXPECT_GT(arch::apply_energy(r.events, t, chip).components_pj.at("dram_background"), 0);
  // The same chip again: the memories start afresh, the actions are the same.
  EXPECT_EQ(sim.run(in, 2).events.to_json(), r.events.to_json());
  // Re-priced from the report's counts alone (spikechip energy): the same energy.
  const json report = {{"events", r.events.to_json()}, {"run", {{"inputs", 1}}}, {"chip", {{"config", arch::chip_config_to_json(chip)}}}};
  const json e = explore::reapply_energy(report, "r.json", kTable, std::nullopt);
  EXPECT_NEAR(e["energy_pJ"].get<double>(), priced(r.events, t, chip), 1e-9 * priced(r.events, t, chip));
  EXPECT_NEAR(e["components_pJ"]["dram_background"].get<double>(),
              arch::apply_energy(r.events, t, chip).components_pj.at("dram_background"), 1e-6);
}

TEST(DramEnergy, TimeMultiplexedRunOnTheHostPortDevice) {
  model::Graph g = testing::small_meta_spikeformer(2);
  testing::TimeMultiplexedChip tm = testing::time_multiplexed_tiny(g);
  ASSERT_GE(tm.m.phases.size(), 2u);
  tm.chip.dram.model = "lpddr4-3200", tm.chip.dram.channels = 2;
  expect_device_accounting(g, tm.chip, tm.m, 2);
}

TEST(DramEnergy, TimeMultiplexedRunWithTwoControllers) {
  model::Graph g = testing::small_meta_spikeformer(2);
  testing::TimeMultiplexedChip tm = testing::time_multiplexed_tiny(g);
  tm.chip.memory_controllers = {arch::MemoryControllerConfig{"west", 1, 1, "lpddr4-3200"},
                                arch::MemoryControllerConfig{"east", 2, 2, "lpddr4-3200"}};
  expect_device_accounting(g, tm.chip, tm.m, 3);
}

// `spikechip run --time-multiplex` of the shipped model on a 4x4 chip with one LPDDR4 channel: the
// report's components (dram_background among them) sum to its energy, dram.csv and stats.txt carry
// the device figures, and `spikechip energy` re-prices it to the same energy.
TEST(DramEnergy, RunReportShowsTheDeviceAndRepricesToTheSameEnergy) {
  const std::string src = SPIKECHIP_SOURCE_DIR, dir = testing::fresh_dir("dramenergy");
  json cj = arch::chip_config_to_json(testing::chip_preset("tiny"));
  cj["name"] = "tiny4x4-lpddr4", cj["mesh"] = {{"width", 4}, {"height", 4}};
  cj["dram"] = {{"model", "lpddr4-3200"}, {"channels", 1}};
  cj["tech"]["energy_table"] = "45nm";
  testing::spit(dir + "/chip.json", cj.dump());
  const testing::CmdResult r = testing::run_spikechip("run --model '" + src + "/models/fmnist' --chip '" + dir +
                                                      "/chip.json' --input '" + src + "/models/fmnist/sample.npy' --quiet --time-multiplex -o '" +
                                                      dir + "/out'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("verified bit-exact"), std::string::npos) << r.out;
  const json rep = json::parse(testing::slurp(dir + "/out/report.json"));
  const json& comp = rep["energy_by_component_pJ"];
  double sum = 0;
  for (auto& [k, v] : comp.items()) sum += v.get<double>();
  EXPECT_NEAR(sum, rep["summary"]["energy_pJ"].get<double>(), 1e-9 * sum);
  EXPECT_GT(comp["dram_background"].get<double>(), 0);
  const json& d = rep["dram"];
  const double bursts = d["device_read_bursts"].get<double>() + d["device_write_bursts"].get<double>();
  EXPECT_GE(d["device_read_bursts"].get<double>() * 32, d["weight_bytes"].get<double>());
  EXPECT_NEAR(d["device_row_hit_rate"].get<double>(), 1 - d["device_activates"].get<double>() / bursts, 1e-12);
  // The section names the device that timed the accesses, not the unused fixed channel's figures.
  EXPECT_EQ(d["models"], "lpddr4-3200");
  EXPECT_EQ(d["channels"], 1);
  EXPECT_EQ(d["memory_controllers"], 0);
  EXPECT_FALSE(d.contains("bytes_per_cycle")) << d.dump();
  EXPECT_FALSE(d.contains("latency_cycles")) << d.dump();
  EXPECT_NE(testing::slurp(dir + "/out/stats.txt").find("dram.models lpddr4-3200 "), std::string::npos);
  EXPECT_NE(testing::slurp(dir + "/out/dram.csv").find("device_row_hit_rate"), std::string::npos);
  EXPECT_NE(testing::slurp(dir + "/out/stats.txt").find("energy.dram_background_pJ "), std::string::npos);
  const testing::CmdResult e = testing::run_spikechip("energy --report '" + dir + "/out/report.json' --table 45nm");
  ASSERT_EQ(e.code, 0) << e.err;
  const json ej = json::parse(e.out);
  EXPECT_NEAR(ej["energy_pJ"].get<double>(), rep["summary"]["energy_pJ"].get<double>(), 1e-9 * sum);
  EXPECT_NEAR(ej["components_pJ"]["dram_background"].get<double>(), comp["dram_background"].get<double>(), 1e-6 * sum);
  // A damaged report: one clear error naming the file and the JSON path, exit 1.
  for (const auto& [bad, path] : std::vector<std::pair<json, std::string>>{
           {"many", "/events/dram_actions/lpddr4-3200"},
           {{{"bits", -1}}, "/events/dram_actions/lpddr4-3200/bits"},
           {{{"bits", 1}}, "/events/dram_actions/lpddr4-3200/read_bursts"}}) {
    json broken = rep;
    broken["events"]["dram_actions"]["lpddr4-3200"] = bad;
    testing::spit(dir + "/broken.json", broken.dump());
    const testing::CmdResult b = testing::run_spikechip("energy --report '" + dir + "/broken.json' --table 45nm");
    EXPECT_EQ(b.code, 1) << b.err;
    EXPECT_NE(b.err.find("broken.json"), std::string::npos) << b.err;
    EXPECT_NE(b.err.find(path), std::string::npos) << b.err;
    EXPECT_EQ(b.err.find("internal"), std::string::npos) << b.err;
  }
}

}  // namespace
}  // namespace spikechip
