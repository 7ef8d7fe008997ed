// `spikechip run`: read and check the model, chip, inputs and mapping, run the pipeline
// (pipeline/run_pipeline.hpp: golden, map, simulate on the cycle-accurate chip, verify spike for
// spike, report; schema spikechip.run-report/1, docs/reports.md) and write the outputs with
// report/report_writer.
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "apps/cli.hpp"
#include "arch/chip.hpp"
#include "arch/energy.hpp"
#include "mapper/mapper.hpp"
#include "mapper/mapping_check.hpp"
#include "models/executor.hpp"
#include "models/graph_io.hpp"
#include "models/inputs.hpp"
#include "pipeline/run_pipeline.hpp"
#include "report/critical_path_report.hpp"
#include "report/report_writer.hpp"
#include "report/trace_writer.hpp"
#include "base/error.hpp"

namespace spikechip::cli {
namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_sigint(int) { g_stop.store(true); }

struct RunOpts {
  std::string model, chip, input, mapping, out, trace_window, trace_json, vcd, chips, engine = "systemc";
  size_t trace_max_events = 200000;
  int T = 0;
  int threads = 2;  // golden executor threads (a sweep running points in parallel passes 1)
  bool no_verify = false, quiet = false, time_multiplex = false;
  double time_limit = 0;
  std::string command;
};

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
double secs(Clock::time_point a) { return std::chrono::duration<double>(Clock::now() - a).count(); }

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
  const int chips = parse_chips_option(o.chips);
  if (chips != 0 && !o.mapping.empty())
    throw UsageError("--chips applies when run maps the model itself; with --mapping the mapping decides "
                     "(make it with 'spikechip map --chips ...'): drop one of the two");
  if (o.time_multiplex && !o.mapping.empty())
    throw UsageError("--time-multiplex applies when run maps the model itself; with --mapping the mapping decides "
                     "(make it with 'spikechip map --time-multiplex'): drop one of the two");
  std::vector<model::InputItem> inputs = model::read_inputs(o.input, g);
  if (inputs.empty()) throw Error(o.input + ": no input found");
  report::TraceOptions topt;
  topt.clock_hz = chip.clock_hz, topt.max_events = o.trace_max_events;
  if (!o.trace_window.empty()) report::parse_trace_window(o.trace_window, topt);
  mapper::Mapping m;
  if (!o.mapping.empty()) {
    m = mapper::load_mapping(o.mapping);
    if (m.model_hash != mapper::structure_hash(g))
      throw Error(o.mapping + ": the mapping was made for model '" + m.model_name + "' (another structure); re-run 'spikechip map'");
    // The chip it was made for: this chip file, with the chip count `map --chips N` chose.
    arch::ChipConfig as_mapped = chip;
    if (m.options.contains("chips_x") && m.options.contains("chips_y"))
      as_mapped.chips.chips_x = m.options["chips_x"].get<int>(), as_mapped.chips.chips_y = m.options["chips_y"].get<int>();
    if (m.chip_hash != mapper::chip_hash(as_mapped))
      throw Error(o.mapping + ": the mapping was made for chip '" + m.chip_name + "' (another configuration than " + o.chip +
                  "); re-run 'spikechip map --chip " + o.chip + "'");
    mapper::check_mapping(m, g, as_mapped, o.mapping);  // before simulating, --no-verify or not
  }
  (void)arch::load_energy_table(arch::resolve_energy_table(chip));  // a bad table fails before simulating

  pipeline::Options po;
  po.T = T;
  po.engine = pipeline::engine_from_name(o.engine);
  po.verify = !o.no_verify;
  po.golden_threads = o.threads;
  if (!o.mapping.empty()) po.mapping = &m;
  po.map.time_multiplex = o.time_multiplex;
  po.map.chips = chips;
  po.chip.record_activity = !o.trace_json.empty() || !o.vcd.empty();
  po.stop = &g_stop;
  po.stop_reason = "interrupted (SIGINT)";
  po.time_limit_s = o.time_limit;
  po.model_path = o.model, po.chip_path = o.chip, po.command = o.command;
  po.trace_from = topt.window_start, po.trace_to = topt.window_end;
  po.started = t_start;
  auto t_sim = Clock::now();
  po.on_mapped = [&](const mapper::Mapping& mm) {
    if (!quiet)
      std::cerr << fmt::format("mapped {} groups on a {}x{} mesh{}\n", mm.groups.size(), mm.mesh_w, mm.mesh_h,
                               mm.phases.size() > 1 ? fmt::format(" in {} phases (time-multiplexed)", mm.phases.size()) : "");
    std::signal(SIGINT, on_sigint);
    t_sim = Clock::now();
  };
  // Progress line (TTY only): phase, cycle, timestep, share of the tasks done and an ETA from it.
  auto last_print = Clock::now();
  uint64_t ticks = 0;
  po.cycle_progress = [&](const arch::ChipBatchRun& r, const arch::Chip& c, uint64_t cycle) {
    if (quiet || ++ticks % 64 != 0 || secs(last_print) < 0.5) return;
    last_print = Clock::now();
    const double frac = (double(r.results.size()) + c.progress()) / double(inputs.size());
    const double el = secs(t_sim);
    std::cerr << fmt::format("\r\33[Ksimulating input {}/{}: cycle {}, timestep {}/{}, {:.1f} % done, {:.0f} s, ETA {}",
                             r.results.size() + 1, inputs.size(), cycle, std::min(c.timestep() + 1, T), T, 100 * frac, el,
                             frac > 0.01 ? fmt::format("{:.0f} s", el * (1 - frac) / frac) : std::string("?"))
              << std::flush;
  };
  pipeline::Result res = pipeline::run(g, chip, pipeline::Inputs::from_items(inputs), po);
  if (!quiet) std::cerr << "\r\33[K" << std::flush;
  if (!res.mismatch.empty()) throw Error("chip does not match the golden executor on " + res.mismatch);
  const auto& run = res.run;
  const auto& results = run.results;
  const bool partial = run.partial, verified = res.verified;
  json& report = res.report;
  if (!results.empty() && po.chip.record_activity)
    report["traces"] = report::write_run_traces(o.trace_json, o.vcd, g, res.mapping, results.back(), topt);
  const double chip_s = run.wall_s, wall = report["run"]["wall_s"], golden_s = res.golden_wall_s;
  const json& sum = report["summary"];
  const double lat = sum["latency_cycles"];
  const double sops = sum["sops"], spikes = sum["spikes"], packets = sum["packets"], flits = sum["flits"];
  if (!o.out.empty()) report::write_run_outputs(report, o.out);
  std::cout << fmt::format("{}: {} input(s), T={}, {}\n", g.name, results.size(), T,
                           verified ? "verified bit-exact against golden" : o.no_verify ? "not verified (--no-verify)" : "partial, not verified");
  for (size_t i = 0; i < results.size() && i < 10; ++i)
    std::cout << fmt::format("  input {} ({}): prediction {}{}\n", i, inputs[i].origin, results[i].prediction,
                             inputs[i].label >= 0 ? fmt::format(" (label {})", inputs[i].label) : "");
  std::cout << fmt::format("latency {:.0f} cycles = {:.2f} us at {:.0f} MHz; energy {:.3f} uJ per inference ({:.2f} pJ/SOP)\n", lat,
                           lat / chip.clock_hz * 1e6, chip.clock_hz / 1e6, sum["energy_pJ"].get<double>() * 1e-6,
                           sum["energy_per_sop_pJ"].get<double>());
  std::cout << fmt::format("per inference: spikes {:.0f}, SOPs {:.0f}, packets {:.0f}, flits {:.0f}; wall {:.2f} s (chip {:.2f} s, golden {:.2f} s)\n", spikes,
                           sops, packets, flits, wall, chip_s, golden_s);
  if (sum.contains("critical_path")) std::cout << report::critical_path_text(sum["critical_path"], lat);
  if (partial) std::cout << "status: partial (" << res.partial_reason << ")\n";
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
  c->add_flag("--time-multiplex", o->time_multiplex,
              "When mapping here: let groups take turns on the cores in phases if the model does not fit "
              "(weights reloaded from DRAM, docs/mapper.md)");
  c->add_option("--chips", o->chips, "When mapping here: auto | N, spread the model over several chips");
  c->add_flag("-q,--quiet", o->quiet, "No progress output");
  std::vector<std::string> engine_names;
  std::string engine_help = "Simulation engine, same results:";
  for (const auto& e : pipeline::engines()) engine_names.push_back(e.name), engine_help += fmt::format(" {} = {};", e.name, e.help);
  c->add_option("--engine", o->engine, engine_help)->check(CLI::IsMember(engine_names));
  c->add_option("--time-limit", o->time_limit, "Stop after this many wall seconds (status partial)");
  c->add_option("--threads", o->threads, "Threads of the golden (verification) run (default 2)")->check(CLI::Range(1, 64));
  c->add_option("--trace-window", o->trace_window, "Keep timeline / trace entries within cycles A:B");
  c->add_option("--trace-json", o->trace_json, "Write a Chrome/Perfetto trace-event JSON of the (last) run");
  c->add_option("--vcd", o->vcd, "Write a VCD of per-core busy, per-link flits and timestep markers");
  c->add_option("--trace-max-events", o->trace_max_events, "Cap on trace events / VCD value changes (default 200000)");
  c->callback([o] {
    o->command = "spikechip run --model " + o->model + " --chip " + o->chip + " --input " + o->input +
                 (o->mapping.empty() ? "" : " --mapping " + o->mapping) + (o->time_multiplex ? " --time-multiplex" : "") +
                 (o->chips.empty() ? "" : " --chips " + o->chips);
    run_cmd(*o);
  });
});

}  // namespace
}  // namespace spikechip::cli

