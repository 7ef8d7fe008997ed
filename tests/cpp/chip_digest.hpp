#pragma once
// A chip run's whole result as one JSON value, shared by the tests that compare two runs
// (test_chip_reuse.cpp, test_chip_order.cpp).
#include <nlohmann/json.hpp>

#include "arch/chip.hpp"

namespace spikechip::testing {

// Everything a run result holds, as JSON, so two results compare in one EXPECT and a difference
// is printed by field.
inline nlohmann::json digest(const arch::ChipRunResult& r) {
  nlohmann::json j;
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
    nlohmann::json a = nlohmann::json::array();
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

}  // namespace spikechip::testing
