// `spikechip run`: read and check the model, chip, inputs and mapping, run the pipeline
// (pipeline/run_pipeline.hpp: golden, map, simulate on the cycle-accurate chip, verify spike for
// spike, report; schema spikechip.run-report/1, docs/reports.md) and write the outputs with
// report/report_writer. Exit codes: 0 complete, 1 error, 2 usage error, 3 partial run (interrupted
// or --time-limit; kRunPartialExit, docs/reports.md), 4 an output the disk refused (kWriteErrorExit).
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "apps/cli.hpp"
#include "apps/stop_signals.hpp"
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
#include "report/units.hpp"
#include "base/error.hpp"
#include "base/file_util.hpp"

namespace spikechip::cli {
namespace {

struct RunOpts {
  std::vector<std::string> sets;
  std::string model, chip, mapping, out, trace_window, trace_json, vcd, engine = "systemc";
  size_t trace_max_events = 200000;
  int T = 0;
  InputFlags in;
  int threads = 2;  // golden executor threads (a sweep running points in parallel passes 1)
  MapFlags map;
  bool no_verify = false, quiet = false;
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
  arch::ChipConfig chip = arch::load_chip_config(o.chip, o.sets);
  const int T = chip_run_timesteps(o.T, g.timesteps, o.model);
  if (!(o.time_limit >= 0) || !std::isfinite(o.time_limit))
    throw UsageError(fmt::format("--time-limit {} must be a number of seconds >= 0 (0: no limit)", o.time_limit));
  if (!o.out.empty()) check_output_dir(o.out);
  if (!o.trace_json.empty()) check_output_file(o.trace_json, true);  // report::write_file_atomic makes directories
  if (!o.vcd.empty()) check_output_file(o.vcd, true);
  g.timesteps = T;
  const int chips = parse_chips_option(o.map.chips);
  if (o.map.any_set() && !o.mapping.empty())
    throw UsageError("'" + o.map.command_text().substr(1) + "' applies when run maps the model itself; with --mapping "
                     "the mapping decides (make it with 'spikechip map" + o.map.command_text() + " ...'): drop one of the two");
  std::vector<model::InputItem> inputs = model::read_inputs(o.in.input, g, o.in.options());
  if (inputs.empty()) throw Error(o.in.input + ": no input found");
  report::TraceOptions topt;
  topt.clock_hz = chip.clock_hz, topt.max_events = o.trace_max_events;
  if (!o.trace_window.empty()) report::parse_trace_window(o.trace_window, topt);
  mapper::Mapping m;
  if (!o.mapping.empty()) {
    m = mapper::load_mapping(o.mapping);
    if (const std::string why = mapper::mapping_model_mismatch(m, g); !why.empty()) throw Error(o.mapping + ": " + why);
    // The chip it was made for: this chip file, with the chip count `map --chips N` chose.
    arch::ChipConfig as_mapped = chip;
    if (m.options.contains("chips_x") && m.options.contains("chips_y"))
      as_mapped.chips.chips_x = m.options["chips_x"].get<int>(), as_mapped.chips.chips_y = m.options["chips_y"].get<int>();
    if (m.chip_hash != mapper::chip_hash(as_mapped))
      throw Error(o.mapping + ": the mapping was made for chip '" + m.chip_name + "' (another configuration than " + o.chip +
                  (o.sets.empty() ? "" : " with the --set overrides") + "); re-run 'spikechip map --chip " + o.chip + "'" +
                  (o.sets.empty() ? "" : " with the same --set options"));
    mapper::check_mapping(m, g, as_mapped, o.mapping);  // before simulating, --no-verify or not
  }
  (void)arch::load_energy_table(arch::resolve_energy_table(chip));  // a bad table fails before simulating

  pipeline::Options po;
  po.T = T;
  po.engine = pipeline::engine_from_name(o.engine);
  po.verify = !o.no_verify;
  po.golden_threads = o.threads;
  if (!o.mapping.empty()) po.mapping = &m;
  po.map.time_multiplex = o.map.time_multiplex, po.map.unicast = o.map.unicast;
  po.map.phases = o.map.phases;
  po.map.placement = o.map.placement, po.map.seed = o.map.seed, po.map.split = o.map.split;
  po.map.chips = chips;
  po.chip.record_activity = !o.trace_json.empty() || !o.vcd.empty();
  po.stop = &stop_requested();
  po.stop_reason = stop_reason;
  po.time_limit_s = o.time_limit;
  po.model_path = o.model, po.chip_path = chip.source_path, po.command = o.command;
  po.trace_from = topt.window_start, po.trace_to = topt.window_end;
  po.started = t_start;
  auto t_sim = Clock::now();
  po.on_mapped = [&](const mapper::Mapping& mm) {
    if (!quiet)
      std::cerr << fmt::format("mapped {} groups on a {}x{} mesh{}\n", mm.groups.size(), mm.mesh_w, mm.mesh_h,
                               mm.phases.size() > 1 ? fmt::format(" in {} phases (time-multiplexed)", mm.phases.size()) : "");
    catch_stop_signals("stopping the chip and writing a partial report");
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
  pipeline::Result res;
  try {
    res = pipeline::run(g, chip, pipeline::Inputs::from_items(inputs), po);
  } catch (const model::RunCancelled&) {  // stopped after the chip finished, before the verification did
    if (!stop_signal()) throw;
    std::cerr << "spikechip: " << stop_reason() << " before the golden verification finished: nothing written\n";
    die_of_stop_signal();
  }
  if (!quiet) std::cerr << "\r\33[K" << std::flush;
  if (!res.mismatch.empty()) throw Error("chip does not match the golden executor on " + res.mismatch);
  const auto& run = res.run;
  const auto& results = run.results;
  const bool partial = run.partial, verified = res.verified;
  json& report = res.report;
  if (!o.sets.empty()) report["chip"]["overrides"] = o.sets;
  if (!results.empty() && po.chip.record_activity)
    report["traces"] = report::write_run_traces(o.trace_json, o.vcd, g, res.mapping, results.back(), topt);
  const double chip_s = run.wall_s, wall = report["run"]["wall_s"], golden_s = res.golden_wall_s;
  const json& sum = report["summary"];
  const double lat = sum["latency_cycles"];
  const double sops = sum["sops"], spikes = sum["spikes"], packets = sum["packets"], flits = sum["flits"];
  if (!o.out.empty()) report::write_run_outputs(report, o.out);
  size_t complete = 0;
  for (const auto& r : results) complete += r.complete ? 1 : 0;
  std::cout << fmt::format("{}: {} input(s), T={}, {}\n", g.name, complete, T,
                           verified ? "verified bit-exact against golden" : o.no_verify ? "not verified (--no-verify)" : "partial, not verified");
  // One line per input (not with -q); an input the run did not finish has no prediction.
  for (size_t i = 0; i < results.size() && i < 10 && !o.quiet; ++i)
    if (results[i].complete)
      std::cout << fmt::format("  input {} ({}): prediction {}{}\n", i, inputs[i].origin, results[i].prediction,
                               inputs[i].label >= 0 ? fmt::format(" (label {})", inputs[i].label) : "");
  if (partial) {
    std::cout << fmt::format("status: partial ({}): {} of {} inputs finished; no latency or energy is printed for an "
                             "unfinished run{}\n",
                             res.partial_reason, complete, inputs.size(), o.out.empty() ? "" : " (report.json has the counts so far)");
  } else {
    const double e_pj = sum["energy_pJ"].get<double>(), lat_s = lat / chip.clock_hz;
    std::cout << fmt::format("latency {:.0f} cycles = {} at {:.0f} MHz; energy {} per inference ({:.2f} pJ/SOP); average power {}\n",
                             lat, report::format_si(lat_s, "s"), chip.clock_hz / 1e6, report::format_si(e_pj * 1e-12, "J"),
                             sum["energy_per_sop_pJ"].get<double>(), report::format_si(lat_s > 0 ? e_pj * 1e-12 / lat_s : 0, "W"));
    std::cout << fmt::format("per inference: spike events {:.0f}, SOPs {:.0f}, network packets {:.0f}, flits {:.0f}; wall {:.2f} s (chip {:.2f} s, golden {:.2f} s)\n",
                             spikes, sops, packets, flits, wall, chip_s, golden_s);
    if (sum.contains("critical_path")) std::cout << report::critical_path_text(sum["critical_path"], lat);
  }
  if (!o.out.empty()) std::cout << "report: " << (fs::path(o.out) / "report.json").string() << "\n";
  if (partial) set_exit_code(kRunPartialExit);
}

RegisterCommand reg(20, [](CLI::App& app) {
  auto o = std::make_shared<RunOpts>();
  CLI::App* c = app.add_subcommand("run", "Simulate a model on the cycle-accurate chip, verify against golden, write the report");
  c->add_option("--model", o->model, "Model directory (graph.json + weights.safetensors)")->required();
  add_chip_options(c, o->chip, o->sets);
  add_input_options(c, o->in);
  c->add_option("--mapping", o->mapping, "Mapping JSON from 'spikechip map' (default: map now)");
  add_timesteps_option(c, o->T, "Timesteps");
  c->add_option("-o,--output", o->out, "Write report.json, CSVs and report.html here");
  c->add_flag("--no-verify", o->no_verify, "Skip the golden comparison");
  add_map_options(c, o->map, "When mapping here: ");
  c->add_flag("-q,--quiet", o->quiet, "Print only errors and the final summary (no progress, no line per input)");
  std::vector<std::string> engine_names;
  std::string engine_help = "Simulation engine, same results:";
  for (const auto& e : pipeline::engines()) engine_names.push_back(e.name), engine_help += fmt::format(" {} = {};", e.name, e.help);
  c->add_option("--engine", o->engine, engine_help)->check(CLI::IsMember(engine_names))->capture_default_str();
  c->add_option("--time-limit", o->time_limit, "Stop after this many wall seconds (status partial, exit code 3; 0: none)");
  c->add_option("--threads", o->threads, "Threads of the golden (verification) run")->check(CLI::Range(1, 64));
  c->add_option("--trace-window", o->trace_window, "Keep timeline / trace entries within cycles A:B");
  c->add_option("--trace-json", o->trace_json, "Write a Chrome/Perfetto trace-event JSON of the (last) run");
  c->add_option("--vcd", o->vcd, "Write a VCD of per-core busy, per-link flits and timestep markers");
  c->add_option("--trace-max-events", o->trace_max_events, "Cap on trace events / VCD value changes")
      ->check(kNonNegative);
  c->callback([o] {
    std::string sets;
    for (const auto& s : o->sets) sets += " --set " + s;
    o->command = "spikechip run --model " + o->model + " --chip " + o->chip + sets + " --input " + o->in.input + o->in.command_text() +
                 (o->mapping.empty() ? "" : " --mapping " + o->mapping) + o->map.command_text();
    run_cmd(*o);
  });
});

}  // namespace
}  // namespace spikechip::cli

