// Batches of inputs on the chip: the plain event-loop engine and the comparison with the golden
// executor's runs.
#include "arch/batch_run.hpp"

#include <chrono>

#include <fmt/format.h>

namespace spikechip::arch {

ChipBatchRun run_inputs(const model::Graph& g, const ChipConfig& chip, const ChipMapping& m,
                        const std::vector<model::InputView>& inputs, int T, const ChipRunOptions& opt,
                        const std::function<void(const ChipBatchRun&)>& progress,
                        const std::function<void(const ChipBatchRun&, const Chip&, uint64_t)>& cycle_progress) {
  constexpr uint64_t kProgressCycles = 4096;  // as often as the SystemC engine wakes at most
  ChipBatchRun out;
  const auto t0 = std::chrono::steady_clock::now();
  auto stopped = [&] { return opt.stop && opt.stop->load(std::memory_order_relaxed); };
  for (const model::InputView& in : inputs) {
    if (stopped()) break;
    // One chip for the batch: begin() resets what the previous input's run changed.
    if (!out.last) out.last = std::make_unique<Chip>(g, chip, m);
    Chip& c = *out.last;
    c.begin(in, T, opt);
    uint64_t next_report = kProgressCycles;
    bool cut = false;
    while (!c.done()) {
      if (stopped() || (opt.max_cycles && c.next_event_cycle() > opt.max_cycles)) {
        cut = true;
        break;
      }
      c.step();
      if (cycle_progress && c.now() >= next_report) {
        cycle_progress(out, c, c.now());
        next_report = c.now() + kProgressCycles;
      }
    }
    out.results.push_back(c.finish());
    if (cut) break;
    if (progress) progress(out);
  }
  out.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  out.partial = out.results.size() < inputs.size() || (!out.results.empty() && !out.results.back().complete);
  return out;
}

std::string first_golden_mismatch(const model::Graph& g, const ChipBatchRun& run,
                                  const std::vector<model::RunResult>& golden, const std::vector<std::string>& origins) {
  for (size_t i = 0; i < run.results.size() && i < golden.size(); ++i) {
    if (!run.results[i].complete) continue;
    const std::string d = compare_with_golden(g, run.results[i], golden[i]);
    if (!d.empty()) return fmt::format("input {} ({}): {}", i, i < origins.size() ? origins[i] : "?", d);
  }
  return "";
}

}  // namespace spikechip::arch
