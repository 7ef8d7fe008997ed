#pragma once
// The SystemC engine of a batch run: the inputs back to back in the SystemC kernel (one
// ChipModule, one sc_start), one chip for the batch that begin() resets per input. SystemC runs
// one simulation per process.
#include <cstdint>
#include <functional>
#include <vector>

#include "arch/batch_run.hpp"
#include "arch/chip_config.hpp"
#include "arch/chip_mapping.hpp"

namespace spikechip::sim {

// Throws spikechip::Error when this process's SystemC kernel has already been elaborated or run
// (a second simulation would otherwise end in SystemC's own "insert module failed" report).
void require_unused_kernel();

// Call at most once per process (it calls require_unused_kernel() first). progress(run) is called
// after every finished input; cycle_progress(run, chip, cycle) at the SystemC wakes while an input
// is being simulated (for a progress line with an ETA).
arch::ChipBatchRun simulate_inputs(const model::Graph& g, const arch::ChipConfig& chip, const arch::ChipMapping& m,
                                   const std::vector<model::InputView>& inputs, int T, const arch::ChipRunOptions& opt,
                                   const std::function<void(const arch::ChipBatchRun&)>& progress = {},
                                   const std::function<void(const arch::ChipBatchRun&, const arch::Chip&, uint64_t cycle)>&
                                       cycle_progress = {});

}  // namespace spikechip::sim
