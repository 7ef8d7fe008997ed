#pragma once
// A batch of inputs simulated on the chip, one fresh arch::Chip per input, back to back: the
// result shape shared by both simulation engines (the SystemC kernel, sim/systemc_run.hpp, and the
// plain event loop, run_inputs below) and read by the run report (report/run_report.hpp).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "arch/chip.hpp"
#include "models/executor.hpp"
#include "models/graph.hpp"

namespace spikechip::arch {

struct ChipBatchRun {
  std::vector<ChipRunResult> results;  // per simulated input; after a stop the last one is incomplete
  std::unique_ptr<Chip> last;          // the chip of the batch, after the last input (its network names chip links)
  bool partial = false;                // stopped (opt.stop / max_cycles) before every input finished
  double wall_s = 0;
};

// The plain event-loop engine: the same chips, begin/step/finish calls and results as the SystemC
// engine (sim/systemc_run.hpp), without a kernel, so several batches may run at once in one
// process (each call owns its chips; the graph, config and mapping are only read).
// progress(run) after every finished input; cycle_progress(run, chip, cycle) every few thousand
// simulated cycles while an input runs. opt.stop / opt.max_cycles stop it with a partial result
// (the unfinished input's result last, incomplete).
ChipBatchRun run_inputs(const model::Graph& g, const ChipConfig& chip, const ChipMapping& m,
                        const std::vector<model::InputView>& inputs, int T, const ChipRunOptions& opt,
                        const std::function<void(const ChipBatchRun&)>& progress = {},
                        const std::function<void(const ChipBatchRun&, const Chip&, uint64_t cycle)>& cycle_progress = {});

// First difference between the complete chip results and the golden runs (same order), as a
// message naming input, layer, neuron and timestep; empty when all are identical.
std::string first_golden_mismatch(const model::Graph& g, const ChipBatchRun& run,
                                  const std::vector<model::RunResult>& golden, const std::vector<std::string>& origins);

}  // namespace spikechip::arch
