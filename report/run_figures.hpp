#pragma once
// Figures every run report carries beyond the counted ones (docs/reports.md): average power (per
// inference: energy / latency, in total and per energy component), the chip's area (the area model
// of arch/area.hpp, the one sweeps use) and per-timestep statistics. Called by the run report
// builder; they only read what it already computed.
#include <vector>

#include <nlohmann/json.hpp>

#include "arch/chip.hpp"
#include "arch/chip_config.hpp"

namespace spikechip::report {

// Adds `power`, `area` and `timesteps` to `report` and summary.power_W / area_mm2 / sdsa_ops.
// `results` are the run's per-input results (the timesteps are means over the complete inputs).
void add_run_figures(nlohmann::json& report, const arch::ChipConfig& chip,
                     const std::vector<arch::ChipRunResult>& results);

// The `area` section of a chip (also used by `spikechip config show --area`).
nlohmann::json area_json(const arch::ChipConfig& chip);

}  // namespace spikechip::report
