#pragma once
// The chip config's `memory_controllers` list (docs/chip-config.md, docs/architecture.md "Memory
// controllers on the mesh"): its item keys (declared once, listed by `spikechip config describe`),
// the strict reader naming the JSON path, the writer, and where a controller sits on the mesh.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arch/chip_config.hpp"
#include "base/strict_json.hpp"

namespace spikechip::arch {

// Rows of `memory_controllers[].<key>` for the key table (ConfigKeyInfo::written_if_set: the list
// is written only when it is not empty).
std::vector<ConfigKeyInfo> memory_controller_keys();
// Reads the list at `j` (an array of objects) into c.memory_controllers; every error names the
// JSON path (e.g. "/memory_controllers/1/position"). Checks positions against c's global mesh and
// that no two controllers share a router, so call it after the mesh keys are read.
void read_memory_controllers(const StrictJson& j, ChipConfig& c);
nlohmann::json memory_controllers_to_json(const std::vector<MemoryControllerConfig>& mcs);
// The global router id (y * width + x) a controller attaches to, on a mesh of w x h routers.
int memory_controller_router(const MemoryControllerConfig& mc, int w, int h);
// Peak off-chip bandwidth of the chip in bytes per second: with controllers the sum over them of
// channels x the device's data-bus peak (the `channel` model: dram.bytes_per_cycle x clock);
// without, the `dram` section's (dram.channels x the device's peak, or bytes_per_cycle x clock).
double dram_peak_bytes_per_s(const ChipConfig& c);
// Per core of a w-wide mesh of `ncores`, the index in `routers` (the controllers' router ids) of
// its nearest controller: Manhattan distance, the first listed on a tie. The chip streams a core's
// weights from it and sends its spills to it; the mapper plans with the same rule.
std::vector<int> nearest_memory_controller(const std::vector<int>& routers, int w, int ncores);

}  // namespace spikechip::arch
