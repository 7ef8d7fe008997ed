// Measured firing rates, METIS placement and time multiplexing of the mapper (docs/mapper.md).
#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "arch/chip_config.hpp"
#include "mapper/mapper.hpp"
#include "mapper_graphs.hpp"
#include "base/error.hpp"
#include "base/strict_json.hpp"

using namespace spikechip;
using spikechip::testing::fmnist_sized_shape;
using spikechip::testing::mapper_preset;

namespace {

int first_lif(const model::Graph& g) {
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (g.nodes[i].op == model::Op::LIF) return int(i);
  return -1;
}

double events_from(const mapper::Mapping& m, int node) {
  double s = 0;
  for (const auto& r : m.routes)
    if (r.src_node == node) s += r.events;
  return s;
}
}  // namespace

TEST(MapperRates, ZeroRateLifHasNoRouteLoadAndRatesScaleTraffic) {
  model::Graph g = fmnist_sized_shape();
  const int lif = first_lif(g);
  mapper::MapOptions o;
  o.placement = "snake";
  mapper::Mapping base = mapper::map_model(g, mapper_preset("tiny"), o);
  const double before = events_from(base, lif);
  ASSERT_GT(before, 0);
  o.rates[g.nodes[size_t(lif)].name] = 0.0;
  mapper::Mapping zero = mapper::map_model(g, mapper_preset("tiny"), o);
  EXPECT_EQ(events_from(zero, lif), 0.0);
  for (const auto& r : zero.routes)
    if (r.src_node == lif) {
      EXPECT_EQ(r.events, 0.0) << "route " << r.id;
    }
  EXPECT_NEAR(base.summary["packets_per_step"].get<double>() - zero.summary["packets_per_step"].get<double>(), before, 1e-6);
  // Rate 0.4 = twice the default 0.2: that LIF's packets double.
  o.rates[g.nodes[size_t(lif)].name] = 0.4;
  EXPECT_NEAR(events_from(mapper::map_model(g, mapper_preset("tiny"), o), lif), 2 * before, 1e-6);
}

TEST(MapperRates, MeasuredRatesAndRateFiles) {
  model::Graph g = fmnist_sized_shape();
  // measured_rates = spikes / (neurons x timesteps), summed over runs: checked by hand here.
  model::RunResult r;
  r.T = 2;
  r.stats.assign(g.nodes.size(), std::vector<model::StepStats>(2));
  const int lif = first_lif(g);
  const double n = double(g.nodes[size_t(lif)].shape.size());
  r.stats[size_t(lif)][0].spikes = int64_t(n / 2), r.stats[size_t(lif)][1].spikes = 0;
  auto rates = mapper::measured_rates(g, {r, r});
  EXPECT_NEAR(rates.at(g.nodes[size_t(lif)].name), double(int64_t(n / 2)) / (2 * n), 1e-12);
  for (const auto& [name, v] : rates) EXPECT_EQ(g.nodes[size_t(g.find(name))].op, model::Op::LIF);
  // A golden report's layers are accepted as a rates file; a non-LIF name is an error with the path.
  std::filesystem::path f = std::filesystem::temp_directory_path() / "spikechip_rates_test.json";
  nlohmann::json rep = {{"schema", "spikechip.golden-report/1"},
                        {"layers", {{{"name", g.nodes[size_t(lif)].name}, {"op", "LIF"}, {"firing_rate", 0.125}},
                                    {{"name", g.nodes[1].name}, {"op", model::op_name(g.nodes[1].op)}, {"firing_rate", 0.0}}}}};
  std::ofstream(f) << rep.dump();
  auto from_report = mapper::read_rates_file(g, f.string());
  ASSERT_EQ(from_report.size(), 1u);
  EXPECT_EQ(from_report.at(g.nodes[size_t(lif)].name), 0.125);
  std::ofstream(f) << nlohmann::json{{g.nodes[1].name, 0.5}}.dump();
  try {
    mapper::read_rates_file(g, f.string());
    ADD_FAILURE() << "a non-LIF name was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is not a LIF node"), std::string::npos) << e.what();
  }
  std::filesystem::remove(f);
}

TEST(MapperMetis, DeterministicEveryGroupPlacedOnce) {
  model::Graph g = fmnist_sized_shape();
  for (const char* placement : {"metis", "metis-anneal"}) {
    mapper::MapOptions o;
    o.placement = placement;
    o.seed = 7;
    mapper::Mapping a = mapper::map_model(g, mapper_preset("tiny"), o), b = mapper::map_model(g, mapper_preset("tiny"), o);
    EXPECT_EQ(mapper::mapping_to_json(a).dump(), mapper::mapping_to_json(b).dump()) << placement;
    std::set<int> cores;
    for (const auto& gr : a.groups) {
      ASSERT_GE(gr.core, 0);
      ASSERT_LT(gr.core, a.mesh_w * a.mesh_h);
      EXPECT_TRUE(cores.insert(gr.core).second) << placement << ": core " << gr.core << " holds two groups";
    }
    EXPECT_EQ(cores.size(), a.groups.size());
    mapper::Mapping naive = a;
    mapper::place_and_route(naive, "naive", 1, false, 0, arch::noc::routing_function("xy"));
    EXPECT_LT(mapper::traffic_hops(a), mapper::traffic_hops(naive)) << placement;
  }
}

TEST(MapperTimeMultiplex, PhasesFitAndReloadBytesAddUp) {
  model::Graph g = fmnist_sized_shape();
  arch::ChipConfig chip = mapper_preset("tiny");
  const size_t need = mapper::map_model(g, chip, {}).groups.size();
  chip.mesh.width = 4, chip.mesh.height = 4;  // 16 cores: fewer than the model needs
  ASSERT_GT(need, 16u);
  try {
    mapper::map_model(g, chip, {});
    FAIL() << "must not fit 16 cores";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--time-multiplex"), std::string::npos) << e.what();
  }
  mapper::MapOptions o;
  o.time_multiplex = true;
  mapper::Mapping m = mapper::map_model(g, chip, o);
  ASSERT_GT(m.phases.size(), 1u);
  EXPECT_EQ(m.groups.size(), need);
  std::set<std::pair<int, int>> slots;
  std::vector<int> per_phase(m.phases.size(), 0);
  std::vector<int64_t> wbytes(m.phases.size(), 0);
  for (const auto& gr : m.groups) {
    ASSERT_GE(gr.phase, 0);
    ASSERT_LT(size_t(gr.phase), m.phases.size());
    ASSERT_GE(gr.core, 0);
    ASSERT_LT(gr.core, 16);
    EXPECT_TRUE(slots.insert({gr.phase, gr.core}).second) << "two groups on (core, phase)";
    EXPECT_LE(gr.membrane_bytes, chip.core.membrane_sram_bytes);
    EXPECT_LE(gr.weight_bytes, chip.core.weight_sram_bytes);
    per_phase[size_t(gr.phase)]++, wbytes[size_t(gr.phase)] += gr.weight_bytes;
  }
  int64_t total = 0;
  for (size_t p = 0; p < m.phases.size(); ++p) {
    EXPECT_LE(per_phase[p], 16);
    EXPECT_EQ(m.phases[p].groups, per_phase[p]);
    EXPECT_EQ(m.phases[p].reload_bytes, wbytes[p]);
    total += wbytes[p];
  }
  EXPECT_EQ(m.summary["dram_reload_bytes_per_inference"].get<int64_t>(), total);
  EXPECT_EQ(m.summary["phases"].get<size_t>(), m.phases.size());
  // Phases follow the dataflow: nothing flows from a later phase back to an earlier one, and every
  // value crossing phases is counted as spilled to DRAM.
  double spill = 0;
  for (const auto& r : m.routes) {
    if (r.src_group < 0) continue;
    std::set<int> later;
    for (int d : r.dests)
      if (d >= 0) {
        EXPECT_LE(m.groups[size_t(r.src_group)].phase, m.groups[size_t(d)].phase) << "route " << r.id;
        if (m.groups[size_t(d)].phase != m.groups[size_t(r.src_group)].phase) later.insert(m.groups[size_t(d)].phase);
      }
    spill += r.events * double(later.size()) * g.timesteps * 4;
  }
  EXPECT_NEAR(m.summary["dram_spill_bytes_per_inference"].get<double>(), spill, 1e-6);
  // The mapping round-trips through JSON, and a wrong reload figure is rejected.
  nlohmann::json j = mapper::mapping_to_json(m);
  EXPECT_EQ(mapper::mapping_to_json(mapper::mapping_from_json(j, "tm")), j);
  nlohmann::json bad = j;
  bad["phases"][0]["dram_reload_bytes"] = 1;
  EXPECT_THROW(mapper::mapping_from_json(bad, "tm"), Error);
  // The chip runs it phase by phase: tests/cpp/test_chip_tm.cpp.
}
