// `spikechip run`: map (or load a mapping), simulate every input on the cycle-accurate chip in the
// SystemC kernel, verify spike for spike against the golden executor, and write the run report
// (schema spikechip.run-report/1, /work/wt/REPORT_SCHEMA.md) with report/report_writer.
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <systemc>
#include <thread>

#include <fmt/format.h>

#include "apps/cli.hpp"
#include "arch/chip.hpp"
#include "arch/energy.hpp"
#include "mapper/mapper.hpp"
#include "models/executor.hpp"
#include "models/graph_io.hpp"
#include "models/inputs.hpp"
#include "report/report_writer.hpp"
#include "report/trace_writer.hpp"
#include "sim/chip_module.hpp"
#include "sim/error.hpp"
#include "sim/sha256.hpp"
#include "spikechip/version.hpp"

namespace spikechip::cli {
namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_sigint(int) { g_stop.store(true); }

struct RunOpts {
  std::string model, chip, input, mapping, out, trace_window, trace_json, vcd;
  size_t trace_max_events = 200000;
  int T = 0;
  bool no_verify = false, quiet = false;
  double time_limit = 0;
  std::string command;
};

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
double secs(Clock::time_point a) { return std::chrono::duration<double>(Clock::now() - a).count(); }

std::string file_sha(const std::string& p) { return std::filesystem::exists(p) ? sha256_file(p) : ""; }

void run_cmd(const RunOpts& o) {
  namespace fs = std::filesystem;
  const auto t_start = Clock::now();
  const bool quiet = o.quiet || cli::quiet();
  // Everything is read and checked before anything is simulated or written.
  model::Graph g = model::load_model(o.model);
  arch::ChipConfig chip = arch::load_chip_config(o.chip);
  const int T = o.T > 0 ? o.T : g.timesteps;
  if (T < 1 || T > 64) throw UsageError(fmt::format("-T {} is out of range 1..64", T));
  g.timesteps = T;
  std::vector<model::InputItem> inputs = model::read_inputs(o.input, g);
  if (inputs.empty()) throw Error(o.input + ": no input found");
  report::TraceOptions topt;
  topt.clock_hz = chip.clock_hz, topt.max_events = o.trace_max_events;
  if (!o.trace_window.empty()) report::parse_trace_window(o.trace_window, topt);
  const uint64_t tw0 = topt.window_start, tw1 = topt.window_end;
  mapper::Mapping m;
  if (!o.mapping.empty()) {
    m = mapper::load_mapping(o.mapping);
    if (m.model_hash != mapper::structure_hash(g))
      throw Error(o.mapping + ": the mapping was made for model '" + m.model_name + "' (another structure); re-run 'spikechip map'");
  }
  if (m.phases.size() > 1)  // checked here too, so that it fails before the SystemC kernel starts
    throw Error(o.mapping + ": time-multiplexed mapping (" + std::to_string(m.phases.size()) +
                " phases): not supported by the chip model yet; map without --time-multiplex (--chips auto or a larger chip)");
  arch::EnergyTable etab = arch::load_energy_table(arch::resolve_energy_table(chip));

  // Golden first (verification reference, the wall-time baseline and the measured firing rates).
  std::vector<model::RunResult> golden(inputs.size());
  double golden_s = 0;
  if (!o.no_verify) {
    model::GoldenExecutor ge(g);
    model::RunOptions ro;
    ro.record_spikes = true;
    const auto t0 = Clock::now();
    for (size_t i = 0; i < inputs.size(); ++i) golden[i] = ge.run_item(inputs[i], T, ro);
    golden_s = secs(t0);
  }
  if (o.mapping.empty()) {
    // Place with the firing rates these inputs really have (without verification, a few of them).
    mapper::MapOptions mo;
    if (!o.no_verify) {
      mo.rates = mapper::measured_rates(g, golden);
    } else {
      model::GoldenExecutor ge(g);
      std::vector<model::RunResult> sample;
      for (size_t i = 0; i < inputs.size() && i < 4; ++i) sample.push_back(ge.run_item(inputs[i], T));
      mo.rates = mapper::measured_rates(g, sample);
    }
    m = mapper::map_model(g, chip, mo);
  }
  if (!quiet) std::cerr << fmt::format("mapped {} groups on a {}x{} mesh\n", m.groups.size(), m.mesh_w, m.mesh_h);

  std::signal(SIGINT, on_sigint);
  arch::ChipRunOptions copt;
  copt.record_spikes = !o.no_verify;
  copt.record_activity = !o.trace_json.empty() || !o.vcd.empty();
  copt.stop = &g_stop;
  std::vector<std::unique_ptr<arch::Chip>> chips;
  std::vector<arch::ChipRunResult> results;
  std::string partial_reason;
  const auto t_sim = Clock::now();
  size_t next_input = 0;
  const sc_core::sc_time period(1e12 / chip.clock_hz, sc_core::SC_PS);
  std::thread watchdog;
  std::atomic<bool> finished{false};
  if (o.time_limit > 0)
    watchdog = std::thread([&] {
      while (!finished.load() && secs(t_sim) < o.time_limit) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (!finished.load()) partial_reason = "time limit", g_stop.store(true);
    });
  auto last_print = Clock::now();
  sim::ChipModule mod(
      "chip", period, copt,
      [&]() -> arch::Chip* {
        if (next_input >= inputs.size() || g_stop.load()) return nullptr;
        chips.push_back(std::make_unique<arch::Chip>(g, chip, m));
        const auto& it = inputs[next_input++];
        chips.back()->begin(model::InputView{it.data.data(), it.frames, it.shape}, T, copt);
        return chips.back().get();
      },
      [&](arch::Chip& c) {
        results.push_back(c.finish());
        if (!quiet && secs(last_print) > 0.5) {
          last_print = Clock::now();
          std::cerr << fmt::format("\rsimulating: input {}/{}, {} cycles, {:.1f} s   ", results.size(), inputs.size(),
                                   results.back().latency_cycles, secs(t_sim)) << std::flush;
        }
      });
  mod.start();
  try {
    sc_core::sc_start();
  } catch (...) {
    finished.store(true);
    if (watchdog.joinable()) watchdog.join();
    throw;
  }
  finished.store(true);
  if (watchdog.joinable()) watchdog.join();
  const double chip_s = secs(t_sim);
  if (!quiet) std::cerr << "\r" << std::string(60, ' ') << "\r";
  bool partial = results.size() < inputs.size();
  if (partial && partial_reason.empty()) partial_reason = "interrupted (SIGINT)";
  if (mod.current()) results.push_back(mod.current()->finish());  // the input in progress

  // Verification.
  bool verified = false;
  if (!o.no_verify) {
    for (size_t i = 0; i < results.size(); ++i) {
      if (!results[i].complete) continue;
      const std::string d = arch::compare_with_golden(g, results[i], golden[i]);
      if (!d.empty()) throw Error(fmt::format("chip does not match the golden executor on input {} ({}): {}", i, inputs[i].origin, d));
    }
    verified = !partial;
  }

  // Report.
  arch::EventCounts ev_all;
  uint64_t cycles_sum = 0, sops = 0, macs = 0, spikes = 0, sdsa = 0;
  json jin = json::array(), preds = json::array();
  const size_t nn = g.nodes.size();
  std::vector<model::StepStats> node_tot(nn);
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    ev_all += r.events;
    cycles_sum += r.latency_cycles;
    arch::EnergyBreakdown e = arch::apply_energy(r.events, etab, chip);
    for (size_t k = 0; k < nn; ++k)
      for (const auto& s : r.stats[k]) {
        node_tot[k].spikes += s.spikes, node_tot[k].sops += s.sops, node_tot[k].macs += s.macs;
        node_tot[k].sdsa_ops += s.sdsa_ops;
        sops += s.sops, macs += s.macs, spikes += s.spikes, sdsa += s.sdsa_ops;
      }
    jin.push_back({{"index", i}, {"origin", inputs[i].origin}, {"label", inputs[i].label}, {"prediction", r.prediction},
                   {"latency_cycles", r.latency_cycles}, {"timestep_end_cycles", r.timestep_end_cycles},
                   {"energy_pJ", e.total_pj}, {"complete", r.complete}});
    preds.push_back(r.prediction);
  }
  const double n_in = std::max<double>(1, double(results.size()));
  arch::EnergyBreakdown etot = arch::apply_energy(ev_all, etab, chip);
  const double lat = double(cycles_sum) / n_in;
  const uint64_t sim_cycles = cycles_sum;
  const arch::ChipRunResult* last = results.empty() ? nullptr : &results.back();
  // Per-layer energy: the node's share of the synaptic/neuron events, at the table's prices.
  json layers = json::array();
  std::vector<int> cores_of(nn, 0);
  for (const auto& gr : m.groups)
    for (int k : m.clusters[gr.cluster].nodes) cores_of[k]++;
  const double pj_sop = etot.total_pj / std::max<double>(1, double(sops + macs + sdsa));
  for (size_t k = 0; k < nn; ++k) {
    const auto& n = g.nodes[k];
    const auto& s = node_tot[k];
    const double updates = double(n.shape.size()) * T * n_in;
    layers.push_back({{"name", n.name}, {"op", model::op_name(n.op)}, {"shape", {n.shape.c, n.shape.h, n.shape.w}},
                      {"cores", cores_of[k]}, {"spikes", s.spikes},
                      {"firing_rate", n.op == model::Op::LIF ? double(s.spikes) / updates : 0.0}, {"sops", s.sops},
                      {"macs", s.macs}, {"sdsa_ops", s.sdsa_ops},
                      {"energy_pJ", pj_sop * double(s.sops + s.macs + s.sdsa_ops) / n_in},
                      {"paper_energy_pJ", (model::kEnergyMacPj * double(s.macs) + model::kEnergyAcPj * double(s.sops + s.sdsa_ops)) / n_in},
                      {"start_cycles", last ? last->node_start[k] : 0}, {"end_cycles", last ? last->node_end[k] : 0},
                      {"busy_cycles", last ? last->node_busy[k] : 0}});
  }
  json cores = json::array();
  std::vector<std::vector<std::string>> core_nodes(size_t(m.mesh_w) * m.mesh_h);
  for (const auto& gr : m.groups)
    for (int k : m.clusters[gr.cluster].nodes) core_nodes[gr.core].push_back(g.nodes[k].name);
  if (last)
    for (size_t c = 0; c < last->cores.size(); ++c) {
      if (core_nodes[c].empty()) continue;
      const auto& cc = last->cores[c];
      int64_t mem = 0, wb = 0;
      for (const auto& gr : m.groups)
        if (gr.core == int(c)) mem += gr.membrane_bytes, wb += gr.weight_bytes;
      const int gx = int(c) % m.mesh_w, gy = int(c) / m.mesh_w;
      cores.push_back({{"id", c}, {"x", gx}, {"y", gy}, {"chip", (gy / m.chip_h) * (m.mesh_w / m.chip_w) + gx / m.chip_w},
                       {"nodes", core_nodes[c]}, {"busy_cycles", cc.busy_cycles},
                       {"stall_cycles", {{"waiting_input", cc.stalls.waiting_input}, {"bank_conflict", cc.stalls.bank_conflict},
                                         {"output_full", cc.stalls.output_full}, {"waiting_eot", cc.stalls.waiting_eot}}},
                       {"utilisation", last->latency_cycles ? std::min(1.0, double(cc.busy_cycles) / double(last->latency_cycles)) : 0.0},
                       {"sops", cc.sops}, {"weight_sram_reads", cc.weight_sram_reads},
                       {"membrane_sram_reads", cc.membrane_sram_reads}, {"membrane_sram_writes", cc.membrane_sram_writes},
                       {"membrane_sram_used_bytes", mem}, {"weight_sram_used_bytes", wb}});
    }
  json links = json::array();
  static const char* dirs[] = {"N", "E", "S", "W"};
  if (last)
    for (const auto& [np, ls] : last->links) {
      const int node = np.first, p = np.second, x = node % m.mesh_w, y = node / m.mesh_w;
      const int tx = x + (p == 1) - (p == 3), ty = y + (p == 2) - (p == 0);
      links.push_back({{"from", {x, y}}, {"to", {tx, ty}}, {"dir", dirs[p]}, {"chip_link", chips.back()->network().is_chip_link(node, p)},
                       {"flits", ls.flits},
                       {"utilisation", last->latency_cycles ? std::min(1.0, double(ls.busy_cycles) / double(last->latency_cycles)) : 0.0}});
    }
  json timeline = json::array();
  bool tl_trunc = last && last->timeline_truncated;
  if (last)
    for (const auto& e : last->timeline) {
      if (e.end <= tw0 || e.start >= tw1) continue;  // overlaps [A, B)
      if (timeline.size() >= 5000) { tl_trunc = true; break; }
      timeline.push_back({{"core", e.core}, {"node", g.nodes[e.node].name}, {"timestep", e.timestep},
                          {"start_cycles", e.start}, {"end_cycles", e.end}});
    }
  uint64_t packets = 0, flits = 0;
  for (const auto& r : results) packets += r.net.packets_injected, flits += r.net.flits_injected;
  const double wall = secs(t_start);
  const std::string map_text = mapper::mapping_to_json(m).dump();
  json comp = json::object();
  for (const auto& [k, v] : etot.components_pj) comp[k] = v / n_in;
  json report = {
      {"schema", "spikechip.run-report/1"},
      {"status", partial ? "partial" : "complete"},
      {"tool", {{"name", "spikechip"}, {"version", kVersion}, {"command", o.command}}},
      {"units", {{"_cycles", "clock cycles"}, {"_s", "seconds"}, {"_pJ", "picojoules"}, {"_hz", "hertz"}, {"_bytes", "bytes"}, {"_bits", "bits"}}},
      {"model", {{"name", g.name}, {"path", o.model}, {"graph_sha256", file_sha((fs::path(o.model) / "graph.json").string())},
                 {"weights_sha256", file_sha((fs::path(o.model) / "weights.safetensors").string())}, {"provenance", g.provenance}}},
      {"chip", {{"name", chip.name}, {"path", o.chip}, {"sha256", file_sha(o.chip)}, {"clock_hz", chip.clock_hz},
                {"mesh", {m.mesh_w, m.mesh_h}}, {"chips", {m.mesh_w / m.chip_w, m.mesh_h / m.chip_h}},
                {"energy_table", arch::resolve_energy_table(chip)}, {"tech_node", chip.tech.node}, {"config", arch::chip_config_to_json(chip)}}},
      {"mapping", {{"sha256", sha256_hex(map_text)}, {"cores_used", m.groups.size()}, {"groups", m.groups.size()},
                   {"placement", m.options.value("placement", "")}}},
      {"run", {{"timesteps", T}, {"inputs", results.size()}, {"verified", verified}, {"wall_s", wall}, {"chip_wall_s", chip_s},
               {"golden_wall_s", golden_s}, {"simulated_cycles", sim_cycles},
               {"cycles_per_wall_s", chip_s > 0 ? double(sim_cycles) / chip_s : 0.0},
               {"sops_per_wall_s", chip_s > 0 ? double(sops) / chip_s : 0.0}}},
      {"summary", {{"latency_cycles", lat}, {"latency_s", lat / chip.clock_hz},
                   {"throughput_inferences_per_s", lat > 0 ? chip.clock_hz / lat : 0.0},
                   {"energy_pJ", etot.total_pj / n_in}, {"energy_per_sop_pJ", etot.total_pj / std::max<double>(1, double(sops + sdsa))},
                   {"paper_energy_pJ", etot.paper_pj / n_in}, {"sops", sops}, {"macs", macs}, {"spikes", spikes},
                   {"packets", packets}, {"flits", flits}, {"top1_predictions", preds}}},
      {"inputs", jin},
      {"energy_by_component_pJ", comp},
      {"layers", layers},
      {"cores", cores},
      {"links", links},
      {"timeline", timeline},
      {"timeline_truncated", tl_trunc},
      {"events", ev_all.to_json()}};
  if (partial) report["partial_reason"] = partial_reason;
  if (last && copt.record_activity) report["traces"] = report::write_run_traces(o.trace_json, o.vcd, g, m, *last, topt);
  if (!o.out.empty()) report::write_run_outputs(report, o.out);
  std::cout << fmt::format("{}: {} input(s), T={}, {}\n", g.name, results.size(), T,
                           verified ? "verified bit-exact against golden" : o.no_verify ? "not verified (--no-verify)" : "partial, not verified");
  for (size_t i = 0; i < results.size() && i < 10; ++i)
    std::cout << fmt::format("  input {} ({}): prediction {}{}\n", i, inputs[i].origin, results[i].prediction,
                             inputs[i].label >= 0 ? fmt::format(" (label {})", inputs[i].label) : "");
  std::cout << fmt::format("latency {:.0f} cycles = {:.2f} us at {:.0f} MHz; energy {:.3f} uJ per inference ({:.2f} pJ/SOP)\n", lat,
                           lat / chip.clock_hz * 1e6, chip.clock_hz / 1e6, etot.total_pj / n_in * 1e-6,
                           etot.total_pj / std::max<double>(1, double(sops + sdsa)));
  std::cout << fmt::format("spikes {}, SOPs {}, packets {}, flits {}; wall {:.2f} s (chip {:.2f} s, golden {:.2f} s)\n", spikes,
                           sops, packets, flits, wall, chip_s, golden_s);
  if (partial) std::cout << "status: partial (" << partial_reason << ")\n";
  if (!o.out.empty()) std::cout << "report: " << (fs::path(o.out) / "report.json").string() << "\n";
}

RegisterCommand reg(20, [](CLI::App& app) {
  auto o = std::make_shared<RunOpts>();
  CLI::App* c = app.add_subcommand("run", "Simulate a model on the cycle-accurate chip, verify against golden, write the report");
  c->add_option("--model", o->model, "Model directory (graph.json + weights.safetensors)")->required();
  c->add_option("--chip", o->chip, "Chip config JSON (arch/presets/*.json)")->required();
  c->add_option("--input", o->input, "Input file or directory (.npy/.pgm/.ppm images, event traces)")->required();
  c->add_option("--mapping", o->mapping, "Mapping JSON from 'spikechip map' (default: map now)");
  c->add_option("-T,--timesteps", o->T, "Timesteps (default: the model's)");
  c->add_option("-o,--output", o->out, "Write report.json, CSVs and report.html here");
  c->add_flag("--no-verify", o->no_verify, "Skip the golden comparison");
  c->add_flag("--quiet", o->quiet, "No progress output");
  c->add_option("--time-limit", o->time_limit, "Stop after this many wall seconds (status partial)");
  c->add_option("--trace-window", o->trace_window, "Keep timeline / trace entries within cycles A:B");
  c->add_option("--trace-json", o->trace_json, "Write a Chrome/Perfetto trace-event JSON of the (last) run");
  c->add_option("--vcd", o->vcd, "Write a VCD of per-core busy, per-link flits and timestep markers");
  c->add_option("--trace-max-events", o->trace_max_events, "Cap on trace events / VCD value changes (default 200000)");
  c->callback([o] {
    o->command = "spikechip run --model " + o->model + " --chip " + o->chip + " --input " + o->input;
    run_cmd(*o);
  });
});

}  // namespace
}  // namespace spikechip::cli

// The executable's main() is apps/main.cpp (CLI11); SystemC's library still wants the symbol.
int sc_main(int, char**) { return 0; }
