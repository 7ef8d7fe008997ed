#include "cosim/cycle_run.hpp"

#include <chrono>
#include <memory>

#include "arch/chip.hpp"
#include "sim/chip_run.hpp"

namespace spikechip::cosim {

using Clock = std::chrono::steady_clock;

CycleOutcome run_cycle_batch(const CycleBatch& b, const std::atomic<bool>& cancel) {
  const model::Graph& g = *b.graph;
  const auto t0 = Clock::now();
  model::GoldenExecutor ge(g);
  model::RunOptions ro;
  ro.record_spikes = true;
  ro.threads = b.exec_threads;
  ro.cancel = &cancel;
  std::vector<model::RunResult> golden;
  for (const model::InputView& in : b.inputs) golden.push_back(ge.run(in, b.T, ro));
  sim::RunReportContext ctx;
  ctx.golden_wall_s = std::chrono::duration<double>(Clock::now() - t0).count();

  // The inputs back to back, a fresh chip per input sharing the re-arranged weights: what
  // sim::simulate_inputs does inside the SystemC kernel, here with the chip's own event loop.
  arch::ChipRunOptions copt;
  copt.record_spikes = true;
  copt.stop = &cancel;
  sim::ChipBatchRun run;
  const auto tc = Clock::now();
  for (const model::InputView& in : b.inputs) {
    arch::ConvPlans plans = run.last ? run.last->conv_plans() : nullptr;
    run.last = std::make_unique<arch::Chip>(g, *b.chip, *b.mapping, std::move(plans));
    run.results.push_back(run.last->run(in, b.T, copt));
    if (cancel.load()) throw model::RunCancelled();
  }
  run.wall_s = std::chrono::duration<double>(Clock::now() - tc).count();

  CycleOutcome out;
  out.mismatch = sim::first_golden_mismatch(g, run, golden, b.origins);
  ctx.model_path = b.model_origin, ctx.chip_path = b.chip->source_path, ctx.command = "spikechip serve: run mode cycle";
  ctx.origins = b.origins, ctx.labels = b.labels, ctx.T = b.T;
  ctx.verified = out.mismatch.empty();
  ctx.wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
  for (const auto& r : run.results) {
    uint64_t n = 0;
    for (const auto& node : r.stats)
      for (const auto& s : node) n += uint64_t(s.spikes);
    out.spikes.push_back(n);
  }
  out.report = sim::build_run_report(g, *b.chip, *b.mapping, run, ctx);
  return out;
}

}  // namespace spikechip::cosim
