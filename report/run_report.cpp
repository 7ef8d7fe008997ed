// The run report of a chip batch run (schema spikechip.run-report/1, docs/reports.md).
#include "report/run_report.hpp"

#include <algorithm>
#include <filesystem>

#include "arch/energy.hpp"
#include "base/error.hpp"
#include "base/json_text.hpp"
#include "base/strict_json.hpp"
#include "base/sha256.hpp"
#include "report/critical_path_report.hpp"
#include "report/dram_figures.hpp"
#include "report/run_figures.hpp"
#include "spikechip/version.hpp"

namespace spikechip::report {
namespace {

using json = nlohmann::json;

std::string file_sha(const std::string& p) {
  std::error_code ec;
  return !p.empty() && std::filesystem::is_regular_file(p, ec) ? sha256_file(p) : "";
}

// A core's timed resources (docs/architecture.md, "Cycle accounting"): the input engine, the node
// unit and the packetiser; a core's busy + stall + idle cycles are kTimedUnits x run_cycles.
constexpr uint64_t kTimedUnits = 3;

// Segments of the critical path listed in report.json (and critical_path.csv); the sums by kind,
// layer and core cover them all.
constexpr size_t kCriticalPathSegments = 20000;

// Per unit: busy, stalls by cause, idle; each unit sums to run_cycles. The synapse engine and the
// encoder share the input engine, the node unit and the SDSA unit share the node unit: the cycles
// the other one works are `shared` for each.
json core_units_json(const arch::CoreTime& t) {
  auto unit = [](uint64_t busy, json stalls, uint64_t idle) {
    return json{{"busy_cycles", busy}, {"stall_cycles", std::move(stalls)}, {"idle_cycles", idle}};
  };
  const json node_waits = {{"waiting_input", t.waiting_input}, {"waiting_eot", t.waiting_eot}, {"waiting_dram", t.waiting_dram},
                            {"waiting_phase", t.waiting_phase}};
  json node_stalls = node_waits, sdsa_stalls = node_waits;
  node_stalls["shared"] = t.sdsa_busy, sdsa_stalls["shared"] = t.node_busy;
  return {{"synapse", unit(t.synapse_busy, {{"bank_conflict", t.bank_conflict}, {"shared", t.encoder_busy}}, t.engine_idle)},
          {"encoder", unit(t.encoder_busy, {{"shared", t.synapse_busy + t.bank_conflict}}, t.engine_idle)},
          {"node", unit(t.node_busy, node_stalls, t.node_idle)},
          {"sdsa", unit(t.sdsa_busy, sdsa_stalls, t.node_idle)},
          {"output", unit(t.output_busy, json::object(), t.output_idle)},
          {"input_queue", unit(t.queue_busy, {{"full", t.queue_full}}, t.queue_idle)}};
}

}  // namespace

json build_run_report(const model::Graph& g, const arch::ChipConfig& chip, const mapper::Mapping& m,
                      const arch::ChipBatchRun& run, const RunReportContext& ctx) {
  namespace fs = std::filesystem;
  const auto& results = run.results;
  const int T = ctx.T;
  const arch::EnergyTable etab = arch::load_energy_table(arch::resolve_energy_table(chip));
  arch::EventCounts ev_all;
  uint64_t cycles_sum = 0, sops = 0, macs = 0, spikes = 0, sdsa = 0;
  json jin = json::array(), preds = json::array();
  const size_t nn = g.nodes.size();
  std::vector<model::StepStats> node_tot(nn);
  std::vector<arch::EventCounts> node_ev(nn);  // each layer's own counted events, over all inputs
  // The critical path (docs/reports.md): per input by kind; in detail for the last complete input.
  json cp_mean = json::object();
  size_t cp_inputs = 0;
  const arch::ChipRunResult* cp_last = nullptr;
  size_t cp_index = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    ev_all += r.events;
    for (size_t k = 0; k < nn && k < r.node_events.size(); ++k) node_ev[k] += r.node_events[k];
    cycles_sum += r.latency_cycles;
    arch::EnergyBreakdown e = arch::apply_energy(r.events, etab, chip);
    for (size_t k = 0; k < nn; ++k)
      for (const auto& s : r.stats[k]) {
        node_tot[k].spikes += s.spikes, node_tot[k].sops += s.sops, node_tot[k].macs += s.macs;
        node_tot[k].sdsa_ops += s.sdsa_ops;
        sops += s.sops, macs += s.macs, spikes += s.spikes, sdsa += s.sdsa_ops;
      }
    jin.push_back({{"index", i}, {"origin", i < ctx.origins.size() ? ctx.origins[i] : ""},
                   {"label", i < ctx.labels.size() ? ctx.labels[i] : -1}, {"prediction", r.prediction},
                   {"latency_cycles", r.latency_cycles}, {"timestep_end_cycles", r.timestep_end_cycles},
                   {"energy_pJ", e.total_pj}, {"complete", r.complete}});
    if (r.complete && !r.critical_path.empty()) {
      json by_kind = critical_path_by_kind(r);
      for (auto& [k, v] : by_kind.items()) cp_mean[k] = cp_mean.value(k, 0.0) + v.get<double>();
      jin.back()["critical_path_cycles"] = std::move(by_kind);
      ++cp_inputs, cp_last = &r, cp_index = i;
    }
    preds.push_back(r.prediction);
  }
  const double n_in = std::max<double>(1, double(results.size()));
  arch::EnergyBreakdown etot = arch::apply_energy(ev_all, etab, chip);
  const double lat = double(cycles_sum) / n_in;
  const uint64_t sim_cycles = cycles_sum;
  const arch::ChipRunResult* last = results.empty() ? nullptr : &results.back();
  // Per-layer energy: the layer's own counted events (its cores' work, the packets it sends, its
  // share of its cores' static energy) at the table's prices; the layers sum to the total.
  // Counts in `layers` and `summary` are per inference (means over the inputs), like energy_pJ.
  json layers = json::array();
  std::vector<int> cores_of(nn, 0);
  for (const auto& gr : m.groups)
    for (int k : m.clusters[gr.cluster].nodes) cores_of[k]++;
  for (size_t k = 0; k < nn; ++k) {
    const auto& n = g.nodes[k];
    const auto& s = node_tot[k];
    const double updates = double(n.shape.size()) * T * n_in;
    // Busy / stall cycles and activity windows (all units' work for the layer) of the last input.
    const arch::LayerTime lt = last && k < last->layer_time.size() ? last->layer_time[k] : arch::LayerTime{};
    json steps = json::array();
    if (last && last->node_step_start.size() == nn * size_t(last->T))
      for (int t = 0; t < last->T; ++t)
        steps.push_back({last->node_step_start[k * size_t(last->T) + size_t(t)], last->node_step_end[k * size_t(last->T) + size_t(t)]});
    layers.push_back({{"name", n.name}, {"op", model::op_name(n.op)}, {"shape", {n.shape.c, n.shape.h, n.shape.w}},
                      {"cores", cores_of[k]}, {"spikes", double(s.spikes) / n_in},
                      {"firing_rate", n.op == model::Op::LIF ? double(s.spikes) / updates : 0.0},
                      {"sops", double(s.sops) / n_in}, {"macs", double(s.macs) / n_in},
                      {"sdsa_ops", double(s.sdsa_ops) / n_in},
                      {"energy_pJ", arch::apply_energy(node_ev[k], etab, chip).total_pj / n_in},
                      {"paper_energy_pJ", (model::kEnergyMacPj * double(s.macs) + model::kEnergyAcPj * double(s.sops + s.sdsa_ops)) / n_in},
                      {"start_cycles", last ? last->node_start[k] : 0}, {"end_cycles", last ? last->node_end[k] : 0},
                      {"busy_cycles", lt.busy},
                      {"stall_cycles", {{"bank_conflict", lt.bank_conflict}, {"waiting_input", lt.waiting_input},
                                        {"waiting_eot", lt.waiting_eot}, {"waiting_dram", lt.waiting_dram},
                                        {"waiting_phase", lt.waiting_phase}}},
                      {"timestep_cycles", steps}});
  }
  json cores = json::array();
  std::vector<std::vector<std::string>> core_nodes(size_t(m.mesh_w) * m.mesh_h);
  for (const auto& gr : m.groups)
    for (int k : m.clusters[gr.cluster].nodes) core_nodes[gr.core].push_back(g.nodes[k].name);
  if (last)
    for (size_t c = 0; c < last->cores.size(); ++c) {
      if (core_nodes[c].empty()) continue;
      const auto& cc = last->cores[c];
      const auto& ct = last->core_time[c];
      int64_t mem = 0, wb = 0;
      for (const auto& gr : m.groups)
        if (gr.core == int(c)) mem += gr.membrane_bytes, wb += gr.weight_bytes;
      const int gx = int(c) % m.mesh_w, gy = int(c) / m.mesh_w;
      cores.push_back({{"id", c}, {"x", gx}, {"y", gy}, {"chip", (gy / m.chip_h) * (m.mesh_w / m.chip_w) + gx / m.chip_w},
                       {"nodes", core_nodes[c]}, {"busy_cycles", ct.busy()},
                       {"stall_cycles", {{"waiting_input", ct.waiting_input}, {"bank_conflict", ct.bank_conflict},
                                         {"waiting_eot", ct.waiting_eot}, {"waiting_dram", ct.waiting_dram},
                                         {"waiting_phase", ct.waiting_phase}}},
                       {"idle_cycles", ct.engine_idle + ct.node_idle + ct.output_idle},
                       {"run_cycles", ct.run_cycles}, {"units", core_units_json(ct)},
                       {"utilisation", ct.run_cycles ? double(ct.busy()) / double(kTimedUnits * ct.run_cycles) : 0.0},
                       {"sops", cc.sops}, {"weight_sram_reads", cc.weight_sram_reads},
                       {"membrane_sram_reads", cc.membrane_sram_reads}, {"membrane_sram_writes", cc.membrane_sram_writes},
                       {"membrane_sram_used_bytes", mem}, {"weight_sram_used_bytes", wb}});
    }
  // The invariants of the cycle accounting, checked on every run (shown among the page's checks):
  // every unit of every core sums to the run, the accounting window is the latency, the layers'
  // busy cycles sum to the cores'.
  json accounting = json::object();
  if (last) {
    bool exact = true;
    uint64_t core_busy = 0, layer_busy = 0;
    for (const auto& ct : last->core_time) exact = exact && ct.exact() && ct.run_cycles == last->run_cycles, core_busy += ct.busy();
    for (const auto& lt : last->layer_time) layer_busy += lt.busy;
    accounting = {{"run_cycles", last->run_cycles}, {"latency_cycles", last->latency_cycles},
                  {"units_exact", exact}, {"cores_checked", last->core_time.size()},
                  {"core_busy_cycles", core_busy}, {"layer_busy_cycles", layer_busy}};
  }
  json links = json::array();
  static const char* dirs[] = {"N", "E", "S", "W"};
  if (last && run.last)
    for (const auto& [np, ls] : last->links) {
      const int node = np.first, p = np.second, x = node % m.mesh_w, y = node / m.mesh_w;
      const int tx = x + (p == 1) - (p == 3), ty = y + (p == 2) - (p == 0);
      links.push_back({{"from", {x, y}}, {"to", {tx, ty}}, {"dir", dirs[p]}, {"chip_link", run.last->network().is_chip_link(node, p)},
                       {"flits", ls.flits},
                       {"utilisation", last->latency_cycles ? std::min(1.0, double(ls.busy_cycles) / double(last->latency_cycles)) : 0.0}});
    }
  json timeline = json::array();
  bool tl_trunc = last && last->timeline_truncated;
  if (last)
    for (const auto& e : last->timeline) {
      if (e.end <= ctx.trace_from || e.start >= ctx.trace_to) continue;  // overlaps [from, to)
      if (timeline.size() >= 5000) { tl_trunc = true; break; }
      timeline.push_back({{"core", e.core}, {"node", g.nodes[e.node].name}, {"timestep", e.timestep},
                          {"start_cycles", e.start}, {"end_cycles", e.end}});
    }
  uint64_t packets = 0, flits = 0;
  for (const auto& r : results) packets += r.net.packets_injected, flits += r.net.flits_injected;
  const double chip_s = run.wall_s;
  const std::string map_text = json_text(mapper::mapping_to_json(m));
  json comp = json::object();
  for (const auto& [k, v] : etot.components_pj) comp[k] = v / n_in;
  // A time-multiplexed mapping holds several groups per core (one per phase).
  std::vector<char> core_used(size_t(m.mesh_w) * m.mesh_h, 0);
  for (const auto& gr : m.groups) core_used[size_t(gr.core)] = 1;
  const int64_t cores_used = std::count(core_used.begin(), core_used.end(), 1);
  // Off-chip memory traffic per inference (0 without time multiplexing) and the last input's
  // phase timing (docs/architecture.md, "Phases").
  double dw = 0, dsw = 0, dsr = 0;
  for (const auto& r : results) dw += double(r.dram_weight_bytes), dsw += double(r.dram_spill_write_bytes), dsr += double(r.dram_spill_read_bytes);
  json dram = dram_memory_json(chip);
  dram["weight_bytes"] = dw / n_in, dram["spill_write_bytes"] = dsw / n_in, dram["spill_read_bytes"] = dsr / n_in;
  json phase_rows = json::array();
  if (last)
    for (size_t p = 0; p < last->phase_start_cycles.size(); ++p)
      phase_rows.push_back({{"phase", p}, {"groups", p < m.phases.size() ? m.phases[p].groups : 0},
                            {"start_cycles", last->phase_start_cycles[p]}, {"weights_loaded_cycles", last->phase_ready_cycles[p]},
                            {"dram_reload_bytes", p < m.phases.size() ? m.phases[p].reload_bytes : 0}});
  json report = {
      {"schema", kRunReportSchema},
      {"status", run.partial ? "partial" : "complete"},
      {"tool", {{"name", "spikechip"}, {"version", kVersion}, {"command", ctx.command}}},
      {"units", {{"_cycles", "clock cycles"}, {"_s", "seconds"}, {"_pJ", "picojoules"}, {"_hz", "hertz"}, {"_bytes", "bytes"}, {"_bits", "bits"}}},
      {"model", {{"name", g.name}, {"path", ctx.model_path}, {"graph_sha256", file_sha((fs::path(ctx.model_path) / "graph.json").string())},
                 {"weights_sha256", file_sha((fs::path(ctx.model_path) / "weights.safetensors").string())}, {"provenance", g.provenance}}},
      {"chip", {{"name", chip.name}, {"path", ctx.chip_path}, {"sha256", file_sha(ctx.chip_path)}, {"clock_hz", chip.clock_hz},
                {"mesh", {m.mesh_w, m.mesh_h}}, {"chips", {m.mesh_w / m.chip_w, m.mesh_h / m.chip_h}},
                {"energy_table", arch::resolve_energy_table(chip)}, {"tech_node", chip.tech.node}, {"config", arch::chip_config_to_json(chip)}}},
      {"mapping", {{"sha256", sha256_hex(map_text)}, {"cores_used", cores_used}, {"groups", m.groups.size()},
                   {"phases", m.phases.size()}, {"phase_table", phase_rows},
                   {"placement", m.options.value("placement", "")}}},
      {"run", {{"timesteps", T}, {"inputs", results.size()}, {"verified", ctx.verified}, {"wall_s", ctx.wall_s}, {"chip_wall_s", chip_s},
               {"golden_wall_s", ctx.golden_wall_s}, {"simulated_cycles", sim_cycles},
               {"cycles_per_wall_s", chip_s > 0 ? double(sim_cycles) / chip_s : 0.0},
               {"sops_per_wall_s", chip_s > 0 ? double(sops) / chip_s : 0.0}}},
      {"summary", {{"latency_cycles", lat}, {"latency_s", lat / chip.clock_hz},
                   {"throughput_inferences_per_s", lat > 0 ? chip.clock_hz / lat : 0.0},
                   {"energy_pJ", etot.total_pj / n_in}, {"energy_per_sop_pJ", etot.total_pj / std::max<double>(1, double(sops + sdsa))},
                   {"paper_energy_pJ", etot.paper_pj / n_in}, {"sops", double(sops) / n_in}, {"macs", double(macs) / n_in},
                   {"spikes", double(spikes) / n_in}, {"packets", double(packets) / n_in}, {"flits", double(flits) / n_in}, {"top1_predictions", preds},
                   {"cycle_accounting", accounting}}},
      {"inputs", jin},
      {"energy_by_component_pJ", comp},
      {"dram", dram},
      {"layers", layers},
      {"cores", cores},
      {"links", links},
      {"timeline", timeline},
      {"timeline_truncated", tl_trunc},
      {"events", ev_all.to_json()}};
  if (cp_last) {
    for (auto& [k, v] : cp_mean.items()) v = v.get<double>() / double(cp_inputs);
    report["critical_path"] = critical_path_json(g, m.mesh_w, *cp_last, cp_index, kCriticalPathSegments);
    report["summary"]["critical_path"] = critical_path_summary(report["critical_path"], cp_mean, 5);
  }
  if (run.partial) report["partial_reason"] = ctx.partial_reason;
  add_run_figures(report, chip, results);  // power, area, per-timestep statistics
  add_dram_figures(report, chip, results);  // time-multiplexed runs: DRAM bytes, bandwidth use, stalls
  return report;
}

nlohmann::json read_run_report(std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) path = (std::filesystem::path(path) / "report.json").string();
  nlohmann::json j = read_json_file(path, "run report");
  if (j.is_object() && j.contains("schema") && j["schema"].is_string() && j["schema"] != kRunReportSchema) {
    const std::string s = j["schema"].get<std::string>();
    const std::string hint = s.starts_with("spikechip.golden-report/") ? " (that is a report of 'spikechip infer')"
                             : s.starts_with("spikechip.sweep/")         ? " (for a sweep page: 'spikechip report --sweep')"
                                                                         : "";
    throw Error(path + ": /schema: '" + excerpt(s, 80) + "' is not a run report (" + kRunReportSchema + ")" + hint +
                "; give the report.json of 'spikechip run'");
  }
  return j;
}

}  // namespace spikechip::report
