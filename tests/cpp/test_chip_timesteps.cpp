// Issue 21 item 5, per-timestep statistics: the chip cuts every inference into its timesteps
// (cycles, each timestep's own events, network packets and flits) and the timesteps sum exactly to
// the run's totals, which are counted independently (latency at the host, the network's own
// packet and flit counters, the cores' counters); with multicast and without (the network splits a
// packet into unicasts), time-multiplexed (DRAM reloads and spills) and in the run report
// (timesteps vs summary, energy priced by the table).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "arch/batch_run.hpp"
#include "arch/chip.hpp"
#include "arch/energy.hpp"
#include "chip_test_util.hpp"
#include "mapper/mapper.hpp"
#include "report/run_report.hpp"

namespace spikechip {
namespace {

using testing::chip_preset;
using testing::random_image;
using testing::small_meta_spikeformer;
using testing::time_multiplexed_tiny;

uint64_t sum(const std::vector<uint64_t>& v) {
  uint64_t s = 0;
  for (uint64_t x : v) s += x;
  return s;
}

// Every per-timestep vector has T entries and sums to the run's own total.
void expect_timesteps_sum(const arch::ChipRunResult& r, int T, const std::string& what) {
  ASSERT_TRUE(r.complete) << what;
  ASSERT_EQ(r.step_cycles.size(), size_t(T)) << what;
  ASSERT_EQ(r.step_events.size(), size_t(T)) << what;
  EXPECT_EQ(sum(r.step_cycles), r.latency_cycles) << what;
  EXPECT_EQ(sum(r.step_packets), r.net.packets_injected) << what;
  EXPECT_EQ(sum(r.step_flits), r.net.flits_injected) << what;
  arch::EventCounts all;
  for (const auto& e : r.step_events) all += e;
  EXPECT_EQ(all.to_json(), r.events.to_json()) << what;
  for (int t = 0; t < T; ++t) {  // every timestep does work and sends packets
    EXPECT_GT(r.step_packets[size_t(t)], 0u) << what << " t=" << t;
    EXPECT_GT(r.step_events[size_t(t)].neuron_updates, 0u) << what << " t=" << t;
    EXPECT_GT(r.step_cycles[size_t(t)], 0u) << what << " t=" << t;
    // The cut is at the timestep ends: the cycles up to t are its end (the last: the latency).
    uint64_t upto = 0;
    for (int s = 0; s <= t; ++s) upto += r.step_cycles[size_t(s)];
    EXPECT_EQ(upto, t + 1 < T ? r.timestep_end_cycles[size_t(t)] : r.latency_cycles) << what << " t=" << t;
  }
}

TEST(ChipTimesteps, SumToRunTotalsMulticastAndUnicast) {
  const int T = 3;
  model::Graph g = small_meta_spikeformer(T);
  auto img = random_image(g.input().shape, 11);
  const model::InputView in{img.data(), 1, g.input().shape};
  for (bool multicast : {true, false}) {
    arch::ChipConfig chip = chip_preset("tiny");
    chip.router.multicast = multicast;
    const mapper::Mapping m = mapper::map_model(g, chip, {});
    arch::Chip c(g, chip, m);
    const arch::ChipRunResult r = c.run(in, T);
    expect_timesteps_sum(r, T, multicast ? "multicast" : "unicast");
  }
}

TEST(ChipTimesteps, SumToRunTotalsTimeMultiplexed) {
  const int T = 2;
  model::Graph g = small_meta_spikeformer(T);
  const auto [chip, m] = time_multiplexed_tiny(g);
  ASSERT_GE(m.phases.size(), 2u);
  auto img = random_image(g.input().shape, 12);
  arch::Chip c(g, chip, m);
  const arch::ChipRunResult r = c.run(model::InputView{img.data(), 1, g.input().shape}, T);
  expect_timesteps_sum(r, T, "time-multiplexed");
  EXPECT_GT(r.step_events[0].dram_bits, 0u);  // the reloads count to timestep 0, spills to their own
  EXPECT_GT(r.step_events[1].dram_bits, 0u);
}

// The report's `timesteps` (means over the inputs) sum to its `summary`; energy is the table's.
TEST(ChipTimesteps, ReportTimestepsSumToSummary) {
  const int T = 2;
  model::Graph g = small_meta_spikeformer(T);
  const arch::ChipConfig chip = chip_preset("tiny");
  const mapper::Mapping m = mapper::map_model(g, chip, {});
  auto a = random_image(g.input().shape, 21), b = random_image(g.input().shape, 22);
  const std::vector<model::InputView> views = {{a.data(), 1, g.input().shape}, {b.data(), 1, g.input().shape}};
  arch::ChipRunOptions opt;
  opt.record_spikes = false;
  const arch::ChipBatchRun run = arch::run_inputs(g, chip, m, views, T, opt);
  ASSERT_EQ(run.results.size(), 2u);
  report::RunReportContext ctx;
  ctx.T = T;
  const nlohmann::json rep = report::build_run_report(g, chip, m, run, ctx);
  const nlohmann::json& S = rep["summary"];
  ASSERT_EQ(rep["timesteps"].size(), size_t(T));
  for (const char* k : {"cycles", "spikes", "sops", "macs", "sdsa_ops", "packets", "flits", "energy_pJ"}) {
    double s = 0;
    for (const auto& t : rep["timesteps"]) s += t[k].get<double>();
    const double want = std::string(k) == "cycles" ? S["latency_cycles"].get<double>() : S[k].get<double>();
    EXPECT_NEAR(s, want, 1e-9 * std::max(1.0, want)) << k;
    EXPECT_GT(s, 0.0) << k;
  }
  // Energy of a timestep = its events x the table (mean over the inputs).
  const arch::EnergyTable tab = arch::load_energy_table(arch::resolve_energy_table(chip));
  const double e0 = (arch::apply_energy(run.results[0].step_events[0], tab, chip).total_pj +
                     arch::apply_energy(run.results[1].step_events[0], tab, chip).total_pj) / 2;
  EXPECT_DOUBLE_EQ(rep["timesteps"][0]["energy_pJ"].get<double>(), e0);
}

}  // namespace
}  // namespace spikechip
