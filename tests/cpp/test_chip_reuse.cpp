// A chip runs the inputs of a batch one after the other (arch/chip.hpp: begin() resets what the
// previous run left and keeps the allocations). A used chip must give, for every input, exactly
// the result a new chip gives: cycles, spikes, counts, energy events, per-core time, links, the
// critical path and the activity traces; also after a run cut short, and with time multiplexing
// (phases, values spilled through DRAM).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "arch/chip.hpp"
#include "chip_test_util.hpp"
#include "mapper/mapper.hpp"

namespace spikechip {
namespace {

using nlohmann::json;

// Everything a run result holds, as JSON, so two results compare in one EXPECT and a difference
// is printed by field.
json digest(const arch::ChipRunResult& r) {
  json j;
  j["complete"] = r.complete, j["T"] = r.T, j["prediction"] = r.prediction, j["output_acc"] = r.output_acc;
  j["latency"] = r.latency_cycles, j["run_cycles"] = r.run_cycles, j["timestep_end"] = r.timestep_end_cycles;
  for (const auto& node : r.stats)
    for (const auto& s : node) j["stats"].push_back({s.spikes, s.sops, s.macs, s.sdsa_ops, s.dense_ops, s.saturations});
  j["spikes"] = r.spikes;
  j["node_start"] = r.node_start, j["node_end"] = r.node_end;
  j["node_step_start"] = r.node_step_start, j["node_step_end"] = r.node_step_end;
  for (const auto& l : r.layer_time) j["layer_time"].push_back({l.busy, l.bank_conflict, l.waiting_input, l.waiting_eot, l.waiting_dram});
  for (const auto& c : r.cores)
    j["cores"].push_back({c.stalls.bank_conflict, c.sops, c.macs, c.sdsa_ops, c.neuron_updates, c.weight_sram_reads,
                          c.membrane_sram_reads, c.membrane_sram_writes, c.packets_in, c.packets_out, c.flits_out, c.adds,
                          c.mults, c.dense_macs});
  for (const auto& c : r.core_time)
    j["core_time"].push_back({c.run_cycles, c.synapse_busy, c.encoder_busy, c.bank_conflict, c.engine_idle, c.node_busy,
                              c.sdsa_busy, c.waiting_input, c.waiting_eot, c.waiting_dram, c.node_idle, c.output_busy,
                              c.output_idle, c.queue_busy, c.queue_full, c.queue_idle});
  auto entries = [](const std::vector<arch::TimelineEntry>& v) {
    json a = json::array();
    for (const auto& e : v) a.push_back({e.core, e.node, e.timestep, e.start, e.end});
    return a;
  };
  j["timeline"] = entries(r.timeline), j["synapse_timeline"] = entries(r.synapse_timeline);
  j["truncated"] = {r.timeline_truncated, r.activity_truncated};
  for (const auto& s : r.critical_path) j["critical_path"].push_back({int(s.kind), s.core, s.node, s.timestep, s.start, s.end});
  for (const auto& l : r.link_activity) j["link_activity"].push_back({l.node, l.port, l.start, l.end, l.flits});
  j["phases"] = {r.phase_start_cycles, r.phase_ready_cycles};
  j["dram"] = {r.dram_weight_bytes, r.dram_spill_write_bytes, r.dram_spill_read_bytes};
  j["events"] = r.events.to_json();
  for (const auto& e : r.node_events) j["node_events"].push_back(e.to_json());
  for (const auto& e : r.step_events) j["step_events"].push_back(e.to_json());
  j["steps"] = {r.step_cycles, r.step_packets, r.step_flits};
  const auto& n = r.net;
  j["net"] = {n.packets_injected, n.flits_injected, n.flits_ejected, n.packets_delivered, n.router_traversals,
              n.link_flits, n.chip_link_flits, n.on_chip_link_bits, n.chip_link_bits};
  for (const auto& [at, s] : r.links) j["links"].push_back({at.first, at.second, s.flits, s.busy_cycles});
  return j;
}

// Runs `imgs` one after the other on one chip and each on a new chip; the results must be equal.
void expect_reuse_is_fresh(const model::Graph& g, const arch::ChipConfig& chip, const arch::ChipMapping& m, int T,
                           const std::vector<std::vector<uint8_t>>& imgs, const arch::ChipRunOptions& opt) {
  arch::Chip used(g, chip, m);
  for (size_t i = 0; i < imgs.size(); ++i) {
    const model::InputView in{imgs[i].data(), 1, g.input().shape};
    const json a = digest(used.run(in, T, opt));
    arch::Chip fresh(g, chip, m);
    const json b = digest(fresh.run(in, T, opt));
    ASSERT_TRUE(b["complete"].get<bool>());
    EXPECT_EQ(a, b) << "input " << i;
  }
}

TEST(ChipReuse, EveryInputAsOnANewChip) {
  const int T = 2;
  const model::Graph g = testing::small_meta_spikeformer(T);
  const arch::ChipConfig chip = testing::chip_preset("tiny");
  const mapper::Mapping m = mapper::map_model(g, chip, {});
  arch::ChipRunOptions opt;
  opt.record_activity = true;
  expect_reuse_is_fresh(g, chip, m, T, {testing::random_image(g.input().shape, 1), testing::random_image(g.input().shape, 2),
                                        testing::random_image(g.input().shape, 1)}, opt);
}

TEST(ChipReuse, TimeMultiplexedChip) {
  const int T = 2;
  const model::Graph g = testing::small_meta_spikeformer(T);
  const testing::TimeMultiplexedChip tm = testing::time_multiplexed_tiny(g);
  ASSERT_GE(tm.m.phases.size(), 2u);
  expect_reuse_is_fresh(g, tm.chip, tm.m, T, {testing::random_image(g.input().shape, 3), testing::random_image(g.input().shape, 4)}, {});
}

// A run stopped half-way leaves packets in flight, pending events and half-filled buffers.
TEST(ChipReuse, AfterARunCutShort) {
  const int T = 2;
  const model::Graph g = testing::small_meta_spikeformer(T);
  const arch::ChipConfig chip = testing::chip_preset("tiny");
  const mapper::Mapping m = mapper::map_model(g, chip, {});
  const auto a = testing::random_image(g.input().shape, 5), b = testing::random_image(g.input().shape, 6);
  const model::InputView ia{a.data(), 1, g.input().shape}, ib{b.data(), 1, g.input().shape};
  const uint64_t full = arch::Chip(g, chip, m).run(ia, T).latency_cycles;
  const json fresh = digest(arch::Chip(g, chip, m).run(ib, T));
  for (int k = 1; k < 8; ++k) {
    arch::Chip used(g, chip, m);
    arch::ChipRunOptions cut;
    cut.max_cycles = full * uint64_t(k) / 8;
    ASSERT_FALSE(used.run(ia, T, cut).complete);
    EXPECT_EQ(digest(used.run(ib, T)), fresh) << "cut at " << k << "/8";
  }
}

}  // namespace
}  // namespace spikechip
