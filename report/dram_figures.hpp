#pragma once
// The off-chip memory section of a run report (docs/reports.md, "DRAM figures"): for every run,
// what times the accesses (DRAM models, channels, controllers); for time-multiplexed runs also the
// DRAM bytes per inference, the share of the chip's peak DRAM bandwidth they use over the latency,
// and the weight stalls as a share of the used cores' node-unit cycles (added only when the
// mapping has more than one phase: an unmultiplexed run moves no DRAM byte).
#include <vector>

#include <nlohmann/json.hpp>

#include "arch/chip.hpp"
#include "arch/chip_config.hpp"

namespace spikechip::report {

// The start of a report's `dram` section, for every run: what times the off-chip accesses.
// `models` = the DRAM models in use, '+'-joined ("channel", a device such as "hbm2-2000"),
// `channels` = their channels, `memory_controllers` = the controllers on the mesh (0: the `dram`
// section's memory behind the host port); `bytes_per_cycle` and `latency_cycles` only when the
// fixed `channel` model is among them (a device times its accesses itself).
nlohmann::json dram_memory_json(const arch::ChipConfig& chip);

// Reads `summary.latency_s`, `dram` and `mapping` of `report` (built before) and the last input's
// cycle accounting; adds `dram.{bytes_per_inference, peak_bytes_per_s, bandwidth_utilisation,
// weight_stall_cycles, phase_wait_cycles, weight_stall_share}` and the summary's
// `dram_bytes_per_inference`, `dram_bandwidth_utilisation`, `weight_stall_share`.
void add_dram_figures(nlohmann::json& report, const arch::ChipConfig& chip,
                      const std::vector<arch::ChipRunResult>& results);

}  // namespace spikechip::report
