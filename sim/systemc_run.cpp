// The SystemC engine of a batch run (sim/systemc_run.hpp).
#include "sim/systemc_run.hpp"

#include <chrono>
#include <systemc>

#include "base/error.hpp"
#include "sim/chip_module.hpp"

namespace spikechip::sim {

using arch::ChipBatchRun;

void require_unused_kernel() {
  if (sc_core::sc_get_status() != sc_core::SC_ELABORATION || sc_core::sc_get_curr_simcontext()->elaboration_done())
    throw Error(
        "the SystemC engine runs one simulation per process and this process has already run one; use the "
        "event-loop engine (pipeline::Engine::EventLoop, `spikechip run --engine event`) for more runs in one process");
}

ChipBatchRun simulate_inputs(const model::Graph& g, const arch::ChipConfig& chip, const arch::ChipMapping& m,
                             const std::vector<model::InputView>& inputs, int T, const arch::ChipRunOptions& opt,
                             const std::function<void(const ChipBatchRun&)>& progress,
                             const std::function<void(const ChipBatchRun&, const arch::Chip&, uint64_t)>& cycle_progress) {
  require_unused_kernel();
  ChipBatchRun out;
  size_t next_input = 0;
  const sc_core::sc_time period(1e12 / chip.clock_hz, sc_core::SC_PS);
  const auto t0 = std::chrono::steady_clock::now();
  ChipModule mod(
      "chip", period, opt,
      [&]() -> arch::Chip* {
        if (next_input >= inputs.size() || (opt.stop && opt.stop->load())) return nullptr;
        // One chip for the batch: begin() resets what the previous input's run changed.
        if (!out.last) out.last = std::make_unique<arch::Chip>(g, chip, m);
        out.last->begin(inputs[next_input++], T, opt);
        return out.last.get();
      },
      [&](arch::Chip& c) {
        out.results.push_back(c.finish());
        if (progress) progress(out);
      });
  if (cycle_progress) mod.on_progress([&](const arch::Chip& c, uint64_t cycle) { cycle_progress(out, c, cycle); });
  mod.start();
  sc_core::sc_start();
  if (mod.failure()) std::rethrow_exception(mod.failure());
  out.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  out.partial = out.results.size() < inputs.size();
  if (mod.current()) out.results.push_back(mod.current()->finish());  // the input in progress
  return out;
}

}  // namespace spikechip::sim
