// The run pipeline (pipeline/run_pipeline.hpp): golden, rates, map, simulate, verify, report.
#include "pipeline/run_pipeline.hpp"

#include <algorithm>
#include <exception>
#include <thread>

#include "base/error.hpp"
#include "report/run_report.hpp"
#include "sim/systemc_run.hpp"

namespace spikechip::pipeline {
namespace {

using Clock = std::chrono::steady_clock;
double secs(Clock::time_point a) { return std::chrono::duration<double>(Clock::now() - a).count(); }

}  // namespace

const std::vector<EngineInfo>& engines() {
  static const std::vector<EngineInfo> table = {
      {Engine::SystemC, "systemc", "the SystemC kernel (one simulation per process)"},
      {Engine::EventLoop, "event", "the plain event loop, no kernel (same cycles; several runs per process)"},
  };
  return table;
}

Engine engine_from_name(const std::string& name) {
  std::string names;
  for (const EngineInfo& e : engines()) {
    if (name == e.name) return e.engine;
    names += std::string(names.empty() ? "" : ", ") + e.name;
  }
  throw UsageError("unknown engine '" + name + "'; choose one of: " + names);
}

const char* engine_name(Engine e) {
  for (const EngineInfo& i : engines())
    if (i.engine == e) return i.name;
  return "?";
}

Inputs Inputs::from_items(const std::vector<model::InputItem>& items) {
  Inputs in;
  for (const auto& it : items) {
    in.views.push_back(model::InputView{it.data.data(), it.frames, it.shape});
    in.origins.push_back(it.origin);
    in.labels.push_back(it.label);
  }
  return in;
}

std::map<std::string, double> placement_rates(const model::Graph& g, const std::vector<model::InputView>& inputs, int T,
                                              const std::vector<model::RunResult>* golden) {
  const size_t n = std::min<size_t>(4, inputs.size());
  if (golden && golden->size() >= n)
    return mapper::measured_rates(g, std::vector<model::RunResult>(golden->begin(), golden->begin() + long(n)));
  model::GoldenExecutor ge(g);
  std::vector<model::RunResult> sample;
  for (size_t i = 0; i < n; ++i) sample.push_back(ge.run(inputs[i], T));
  return mapper::measured_rates(g, sample);
}

mapper::Mapping map_for_inputs(const model::Graph& g, const arch::ChipConfig& chip,
                               const std::vector<model::InputView>& inputs, int T, mapper::MapOptions mo,
                               const std::vector<model::RunResult>* golden) {
  mo.rates = placement_rates(g, inputs, T, golden);
  return mapper::map_model(g, chip, mo);
}

Result run(const model::Graph& g, const arch::ChipConfig& chip, const Inputs& in, const Options& o) {
  if (o.engine == Engine::SystemC) sim::require_unused_kernel();  // before any golden or mapping work
  Result r;
  // Golden first: the verification reference, the wall-time baseline and the measured rates. Only
  // the inputs whose firing rates place the mapping (the first 4; none with a given mapping) must
  // run before the chip; with golden_alongside the others run on a second thread while the chip
  // simulates (nothing of the chip reads them), and the comparison waits for both.
  const size_t n = in.views.size();
  const size_t before = !o.verify ? 0 : !o.golden_alongside ? n : o.mapping ? 0 : std::min<size_t>(4, n);
  model::RunOptions ro;
  ro.record_spikes = true;
  ro.threads = o.golden_threads;
  ro.cancel = o.stop;
  if (o.verify) {
    model::GoldenExecutor ge(g);
    const auto t0 = Clock::now();
    r.golden.reserve(n);
    for (size_t i = 0; i < before; ++i) {
      r.golden.push_back(ge.run(in.views[i], o.T, ro));
      if (o.golden_progress) o.golden_progress(r.golden.size(), n);
    }
    r.golden_wall_s = secs(t0);
  }
  r.mapping = o.mapping ? *o.mapping : map_for_inputs(g, chip, in.views, o.T, o.map, o.verify ? &r.golden : nullptr);
  if (o.on_mapped) o.on_mapped(r.mapping);

  // The rest of the golden runs, beside the chip (which takes one of the golden's threads). They
  // stop early when the chip does (a partial run compares only what it simulated).
  std::vector<model::RunResult> rest;
  std::exception_ptr rest_error;
  std::atomic<bool> rest_stop{false};
  double rest_s = 0;
  std::thread golden_thread;
  if (o.verify && before < n)
    golden_thread = std::thread([&, ro]() mutable {
      ro.threads = std::max(1, o.golden_threads - 1);
      const auto t0 = Clock::now();
      try {
        model::GoldenExecutor ge(g);
        for (size_t i = before; i < n && !rest_stop.load(); ++i) rest.push_back(ge.run(in.views[i], o.T, ro));
      } catch (const model::RunCancelled&) {
      } catch (...) {
        rest_error = std::current_exception();
      }
      rest_s = secs(t0);
    });
  auto join_golden = [&](bool stop) {
    if (stop) rest_stop.store(true);
    if (golden_thread.joinable()) golden_thread.join();
  };

  arch::ChipRunOptions copt = o.chip;
  copt.record_spikes = o.verify || o.chip.record_spikes;
  copt.stop = o.stop;
  // A time limit: a watchdog stops the chip (also when `stop` is set from outside).
  std::atomic<bool> stop_now{false}, finished{false}, timed_out{false};
  std::thread watchdog;
  const auto t_sim = Clock::now();
  if (o.time_limit_s > 0) {
    copt.stop = &stop_now;
    watchdog = std::thread([&] {
      while (!finished.load() && !(o.stop && o.stop->load()) && secs(t_sim) < o.time_limit_s)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (!finished.load() && !(o.stop && o.stop->load())) timed_out.store(true);
      stop_now.store(true);
    });
  }
  auto stop_watchdog = [&] {
    finished.store(true);
    if (watchdog.joinable()) watchdog.join();
  };
  try {
    r.run = o.engine == Engine::SystemC
                ? sim::simulate_inputs(g, chip, r.mapping, in.views, o.T, copt, o.input_progress, o.cycle_progress)
                : arch::run_inputs(g, chip, r.mapping, in.views, o.T, copt, o.input_progress, o.cycle_progress);
  } catch (...) {
    stop_watchdog();
    join_golden(true);
    throw;
  }
  stop_watchdog();
  join_golden(r.run.partial);
  if (rest_error) std::rethrow_exception(rest_error);
  for (auto& x : rest) r.golden.push_back(std::move(x));
  r.golden_wall_s += rest_s;
  // Stopped from outside during the golden runs after the chip had finished: as a stop before it.
  if (o.verify && !r.run.partial && r.golden.size() < r.run.results.size()) throw model::RunCancelled();
  if (r.run.partial) r.partial_reason = timed_out.load() ? "time limit" : o.stop_reason ? o.stop_reason() : "interrupted";

  if (o.verify) r.mismatch = arch::first_golden_mismatch(g, r.run, r.golden, in.origins);
  r.verified = o.verify && r.mismatch.empty() && !r.run.partial;
  report::RunReportContext ctx;
  ctx.model_path = o.model_path, ctx.chip_path = o.chip_path, ctx.command = o.command;
  ctx.origins = in.origins, ctx.labels = in.labels;
  ctx.T = o.T, ctx.verified = r.verified, ctx.partial_reason = r.partial_reason;
  ctx.golden_wall_s = r.golden_wall_s;
  ctx.trace_from = o.trace_from, ctx.trace_to = o.trace_to;
  ctx.wall_s = secs(o.started);
  r.report = report::build_run_report(g, chip, r.mapping, r.run, ctx);
  return r;
}

}  // namespace spikechip::pipeline
