// `spikechip run`: map (or load a mapping), simulate every input on the cycle-accurate chip in the
// SystemC kernel, verify spike for spike against the golden executor, and write the run report
// (schema spikechip.run-report/1, /work/wt/REPORT_SCHEMA.md) with report/report_writer.
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <thread>

#include <fmt/format.h>

#include "apps/cli.hpp"
#include "arch/chip.hpp"
#include "arch/energy.hpp"
#include "mapper/mapper.hpp"
#include "mapper/mapping_check.hpp"
#include "models/executor.hpp"
#include "models/graph_io.hpp"
#include "models/inputs.hpp"
#include "report/report_writer.hpp"
#include "report/trace_writer.hpp"
#include "sim/chip_run.hpp"
#include "sim/error.hpp"

namespace spikechip::cli {
namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_sigint(int) { g_stop.store(true); }

struct RunOpts {
  std::string model, chip, input, mapping, out, trace_window, trace_json, vcd, chips;
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
  const uint64_t tw0 = topt.window_start, tw1 = topt.window_end;
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

  // Golden first (verification reference, the wall-time baseline and the measured firing rates).
  std::vector<model::RunResult> golden(inputs.size());
  double golden_s = 0;
  if (!o.no_verify) {
    model::GoldenExecutor ge(g);
    model::RunOptions ro;
    ro.record_spikes = true;
    ro.threads = o.threads;
    const auto t0 = Clock::now();
    for (size_t i = 0; i < inputs.size(); ++i) golden[i] = ge.run_item(inputs[i], T, ro);
    golden_s = secs(t0);
  }
  if (o.mapping.empty()) {
    // Place with the firing rates these inputs really have (without verification, a few of them).
    // The first (at most) 4 inputs, so the cosim server's cycle mode places the same way.
    mapper::MapOptions mo;
    if (!o.no_verify) {
      mo.rates = mapper::measured_rates(
          g, std::vector<model::RunResult>(golden.begin(), golden.begin() + std::min<size_t>(4, golden.size())));
    } else {
      model::GoldenExecutor ge(g);
      std::vector<model::RunResult> sample;
      for (size_t i = 0; i < inputs.size() && i < 4; ++i) sample.push_back(ge.run_item(inputs[i], T));
      mo.rates = mapper::measured_rates(g, sample);
    }
    mo.time_multiplex = o.time_multiplex;
    mo.chips = chips;
    m = mapper::map_model(g, chip, mo);
  }
  if (!quiet)
    std::cerr << fmt::format("mapped {} groups on a {}x{} mesh{}\n", m.groups.size(), m.mesh_w, m.mesh_h,
                             m.phases.size() > 1 ? fmt::format(" in {} phases (time-multiplexed)", m.phases.size()) : "");

  std::signal(SIGINT, on_sigint);
  arch::ChipRunOptions copt;
  copt.record_spikes = !o.no_verify;
  copt.record_activity = !o.trace_json.empty() || !o.vcd.empty();
  copt.stop = &g_stop;
  std::string partial_reason;
  const auto t_sim = Clock::now();
  std::thread watchdog;
  std::atomic<bool> finished{false};
  if (o.time_limit > 0)
    watchdog = std::thread([&] {
      while (!finished.load() && secs(t_sim) < o.time_limit) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (!finished.load()) partial_reason = "time limit", g_stop.store(true);
    });
  std::vector<model::InputView> views;
  for (const auto& it : inputs) views.push_back(model::InputView{it.data.data(), it.frames, it.shape});
  auto last_print = Clock::now();
  sim::ChipBatchRun run;
  try {
    // Progress line (TTY only): phase, cycle, timestep, share of the tasks done and an ETA from it.
    uint64_t ticks = 0;
    run = sim::simulate_inputs(g, chip, m, views, T, copt, {},
                               [&](const sim::ChipBatchRun& r, const arch::Chip& c, uint64_t cycle) {
      if (quiet || ++ticks % 64 != 0 || secs(last_print) < 0.5) return;
      last_print = Clock::now();
      const double frac = (double(r.results.size()) + c.progress()) / double(inputs.size());
      const double el = secs(t_sim);
      std::cerr << fmt::format("\r\33[Ksimulating input {}/{}: cycle {}, timestep {}/{}, {:.1f} % done, {:.0f} s, ETA {}",
                               r.results.size() + 1, inputs.size(), cycle, std::min(c.timestep() + 1, T), T, 100 * frac, el,
                               frac > 0.01 ? fmt::format("{:.0f} s", el * (1 - frac) / frac) : std::string("?"))
                << std::flush;
    });
  } catch (...) {
    finished.store(true);
    if (watchdog.joinable()) watchdog.join();
    throw;
  }
  finished.store(true);
  if (watchdog.joinable()) watchdog.join();
  if (!quiet) std::cerr << "\r\33[K" << std::flush;
  const bool partial = run.partial;
  if (partial && partial_reason.empty()) partial_reason = "interrupted (SIGINT)";
  const auto& results = run.results;

  sim::RunReportContext ctx;
  for (const auto& it : inputs) ctx.origins.push_back(it.origin), ctx.labels.push_back(it.label);
  if (!o.no_verify) {
    const std::string d = sim::first_golden_mismatch(g, run, golden, ctx.origins);
    if (!d.empty()) throw Error("chip does not match the golden executor on " + d);
    ctx.verified = !partial;
  }
  const bool verified = ctx.verified;
  ctx.model_path = o.model, ctx.chip_path = o.chip, ctx.command = o.command;
  ctx.T = T, ctx.partial_reason = partial_reason, ctx.golden_wall_s = golden_s;
  ctx.trace_from = tw0, ctx.trace_to = tw1;
  ctx.wall_s = secs(t_start);
  json report = sim::build_run_report(g, chip, m, run, ctx);
  if (!results.empty() && copt.record_activity)
    report["traces"] = report::write_run_traces(o.trace_json, o.vcd, g, m, results.back(), topt);
  const double chip_s = run.wall_s, wall = ctx.wall_s;
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
  c->add_flag("--time-multiplex", o->time_multiplex,
              "When mapping here: let groups take turns on the cores in phases if the model does not fit "
              "(weights reloaded from DRAM, docs/mapper.md)");
  c->add_option("--chips", o->chips, "When mapping here: auto | N, spread the model over several chips");
  c->add_flag("-q,--quiet", o->quiet, "No progress output");
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

// The executable's main() is apps/main.cpp (CLI11); SystemC's library still wants the symbol.
int sc_main(int, char**) { return 0; }
