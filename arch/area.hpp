#pragma once
// Area model of the chip (docs/architecture.md, "Area"): SRAM bits, datapath lanes and router
// buffers of every core of the mesh, from 45 nm figures scaled by (node/45)^2. A relative figure
// to rank designs, not a layout estimate. One model for runs (report.json `area`) and sweeps
// (`area_proxy_mm2`).
#include <map>
#include <string>
#include <vector>

#include "arch/chip_config.hpp"

namespace spikechip::arch {

struct AreaBreakdown {
  double node_nm = 45;                          // the number at the start of tech.node (45 if none)
  double scale = 1;                             // (node_nm / 45)^2
  std::map<std::string, double> per_core_um2;   // component -> µm² of one core (scaled)
  double core_um2 = 0;                          // sum of per_core_um2
  int cores = 0;                                // every core of the global mesh (built whole)
  double total_mm2 = 0;                         // cores x core_um2 / 1e6
};

AreaBreakdown chip_area(const ChipConfig& c);

// The 45 nm constants (µm²) and their sources, for docs and `spikechip config describe`-like output.
struct AreaConstant {
  const char* name;
  double um2;
  const char* source;
};
const std::vector<AreaConstant>& area_constants();

}  // namespace spikechip::arch
