// Energy table loading, Stillmaker scaling (against energy-constants.md's factors and against the
// Python generator's files) and apply_energy on a hand-computed case.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "arch/energy.hpp"
#include "base/error.hpp"
#include "spikechip/source_dir.hpp"

using namespace spikechip;
using namespace spikechip::arch;

static std::string table(const char* node) { return std::string(SPIKECHIP_SOURCE_DIR) + "/arch/energy/" + node + ".json"; }

TEST(Energy, StillmakerFactorsMatchPublishedDerivation) {
  // energy-constants.md 2b: 45->28 nm 0.51, 45->22 nm 0.31 (same Vdd 0.9 V), 14->45 nm 7.2 (0.8 V)
  EXPECT_NEAR(stillmaker_scale(45, 0.9, 28, 0.9), 0.51, 0.005);
  EXPECT_NEAR(stillmaker_scale(45, 0.9, 22, 0.9), 0.31, 0.006);
  EXPECT_NEAR(stillmaker_scale(45, 0.8, 28, 0.8), 0.51, 0.006);
  EXPECT_NEAR(stillmaker_scale(14, 0.8, 45, 0.8), 7.2, 0.05);
  EXPECT_NEAR(stillmaker_scale(45, 0.9, 45, 0.9), 1.0, 1e-12);
  EXPECT_THROW(stillmaker_scale(45, 0.9, 7, 0.9), Error);
}

TEST(Energy, ShippedTablesLoadAndAgreeWithScaling) {
  const EnergyTable t45 = load_energy_table(table("45nm"));
  for (const char* node : {"28nm", "22nm"}) {
    const EnergyTable t = load_energy_table(table(node));
    const EnergyTable s = scale_energy_table(t45, std::stod(node), t.vdd);
    for (auto& [k, e] : t.entries) {
      EXPECT_NEAR(e.value, s.entries.at(k).value, 1e-6 * std::max(1.0, e.value)) << node << " " << k;
      EXPECT_FALSE(e.source.empty());
    }
  }
  EXPECT_DOUBLE_EQ(t45.sram_access_pj(8192, 64, false), 10.0);
  EXPECT_DOUBLE_EQ(t45.sram_access_pj(32768, 64, false), 20.0);
  EXPECT_NEAR(t45.sram_access_pj(1 << 20, 64, false), 113.137, 1e-3);  // Horowitz: 100 pJ (sqrt rule within 15 %)
}

TEST(Energy, StrictLoaderNamesFileAndKey) {
  nlohmann::json j = energy_table_to_json(load_energy_table(table("45nm")));
  auto expect_error = [](const nlohmann::json& bad, const std::string& needle) {
    try {
      energy_table_from_json(bad, "bad.json");
      FAIL() << "accepted a bad table (" << needle << ")";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("bad.json"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  auto bad = j;
  bad["entries"]["add_8bit"] = bad["entries"]["add_16bit"];
  expect_error(bad, "/entries/add_8bit");
  bad = j;
  bad["entries"].erase("router_flit");
  expect_error(bad, "/entries/router_flit");
  bad = j;
  bad["entries"]["link_bit"].erase("source");
  expect_error(bad, "/entries/link_bit/source");
  bad = j;
  bad["entries"]["dram_bit"]["unit"] = "pJ";
  expect_error(bad, "/entries/dram_bit/unit");
  bad = j;
  bad["colour"] = 1;
  expect_error(bad, "/colour");
  EXPECT_THROW(load_energy_table("/nonexistent/energy.json"), Error);
}

TEST(Energy, ApplyEnergyIsCountTimesEntry) {
  const EnergyTable t = load_energy_table(table("45nm"));
  ChipConfig chip;
  chip.clock_hz = 200e6;
  chip.core.membrane_sram_bytes = 65536;  // 8 banks of 8 KB
  chip.core.membrane_banks = 8;
  chip.core.membrane_word_bits = 32;
  EventCounts c;
  c.adds16 = 1000;
  c.adds32 = 10;
  c.mults8 = 7;
  c.weight_reads[{32768, 64}] = 100;  // 20 pJ each
  c.membrane_reads = 50;              // 8 KB bank, 32 bit: 5 pJ each
  c.membrane_writes = 40;
  c.neuron_updates = 300;
  c.sdsa_ops = 1000;
  c.router_traversals = 20;
  c.link_bits = 640;
  c.chip_link_bits = 64;
  c.dram_bits = 128;
  c.core_cycles = 2000;  // 0.25 mW for 2000 cycles of 5 ns = 2.5 nJ
  c.paper_macs = 3;
  c.paper_acs = 11;
  const EnergyBreakdown b = apply_energy(c, t, chip);
  const auto& m = b.components_pj;
  EXPECT_DOUBLE_EQ(m.at("adders"), 1000 * 0.05 + 10 * 0.1);
  EXPECT_DOUBLE_EQ(m.at("multipliers"), 7 * 0.2);
  EXPECT_DOUBLE_EQ(m.at("weight_sram"), 100 * 20.0);
  EXPECT_DOUBLE_EQ(m.at("membrane_sram"), 90 * 5.0);
  EXPECT_DOUBLE_EQ(m.at("neuron_logic"), 300 * 0.2);
  EXPECT_DOUBLE_EQ(m.at("sdsa"), 1000 * 0.03);
  EXPECT_DOUBLE_EQ(m.at("routers"), 20 * 16.0);
  EXPECT_DOUBLE_EQ(m.at("links"), 640 * 0.2);
  EXPECT_DOUBLE_EQ(m.at("chip_links"), 64 * 5.0);
  EXPECT_DOUBLE_EQ(m.at("dram"), 128 * 20.0);
  EXPECT_NEAR(m.at("static"), 2500.0, 1e-9);
  double sum = 0;
  for (auto& [k, v] : m) sum += v;
  EXPECT_DOUBLE_EQ(b.total_pj, sum);
  EXPECT_DOUBLE_EQ(b.paper_pj, 3 * 4.6 + 11 * 0.9);
  EXPECT_EQ(b.to_json()["components_pj"].size(), m.size());
  // Swapping the table scales every non-paper component by the node factor, without re-running.
  const EnergyBreakdown b28 = apply_energy(c, load_energy_table(table("28nm")), chip);
  EXPECT_NEAR(b28.total_pj / b.total_pj, stillmaker_scale(45, 0.9, 28, 0.9), 1e-6);
  EXPECT_DOUBLE_EQ(b28.paper_pj, b.paper_pj);
}
