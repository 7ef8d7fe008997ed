#pragma once
// A batch of inputs on the cycle-accurate chip and its run report (schema spikechip.run-report/1,
// docs/reports.md). Shared by `spikechip run` and the cosim server's cycle mode (which simulates
// without the kernel, cosim/cycle_run, and uses the mismatch check and report builder below), so
// both report the same figures for the same model, chip and inputs.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arch/chip.hpp"
#include "arch/chip_config.hpp"
#include "mapper/mapper.hpp"
#include "models/executor.hpp"
#include "models/graph.hpp"

namespace spikechip::sim {

struct ChipBatchRun {
  std::vector<arch::ChipRunResult> results;  // per simulated input; after a stop the last one is incomplete
  std::unique_ptr<arch::Chip> last;          // the chip of the last input (its network names chip links)
  bool partial = false;                      // stopped (opt.stop / max_cycles) before every input finished
  double wall_s = 0;
};

// Simulates the inputs back to back in the SystemC kernel (one ChipModule, one sc_start), a fresh
// chip per input. SystemC runs one simulation per process: call this at most once per process.
// progress(run) is called after every finished input; cycle_progress(run, chip, cycle) at the
// SystemC wakes while an input is being simulated (for a progress line with an ETA).
ChipBatchRun simulate_inputs(const model::Graph& g, const arch::ChipConfig& chip, const mapper::Mapping& m,
                             const std::vector<model::InputView>& inputs, int T, const arch::ChipRunOptions& opt,
                             const std::function<void(const ChipBatchRun&)>& progress = {},
                             const std::function<void(const ChipBatchRun&, const arch::Chip&, uint64_t cycle)>&
                                 cycle_progress = {});

// First difference between the complete chip results and the golden runs (same order), as a
// message naming input, layer, neuron and timestep; empty when all are identical.
std::string first_golden_mismatch(const model::Graph& g, const ChipBatchRun& run,
                                  const std::vector<model::RunResult>& golden, const std::vector<std::string>& origins);

struct RunReportContext {
  std::string model_path, chip_path, command;  // as given by the user (shown in the report)
  std::vector<std::string> origins;            // per input
  std::vector<int> labels;                     // per input, -1 unknown
  int T = 1;
  bool verified = false;
  std::string partial_reason;  // reported when run.partial
  double wall_s = 0, golden_wall_s = 0;
  uint64_t trace_from = 0, trace_to = UINT64_MAX;  // timeline entries kept (cycles)
};

// The run report of `run` (every figure of spikechip.run-report/1).
nlohmann::json build_run_report(const model::Graph& g, const arch::ChipConfig& chip, const mapper::Mapping& m,
                                const ChipBatchRun& run, const RunReportContext& ctx);

}  // namespace spikechip::sim
