#pragma once
// Small helpers the mapper's own files share (mapper/clusters.cpp, partition.cpp, routes.cpp,
// place_and_route.cpp, phases.cpp and the driver mapper.cpp); not part of the mapper's interface.
#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "mapper/mapper.hpp"

namespace spikechip::mapper::detail {

inline int ceil_div(int64_t a, int64_t b) { return int((a + b - 1) / b); }

inline std::string fmt_bytes(int64_t b) {
  if (b >= (int64_t(1) << 20)) return fmt::format("{:.2f} MiB", double(b) / (1 << 20));
  if (b >= 1024) return fmt::format("{:.1f} KiB", double(b) / 1024);
  return fmt::format("{} B", b);
}

// A cluster as error messages name it: its first node, and how many share its cores.
inline std::string cluster_label(const model::Graph& g, const Cluster& c) {
  std::string s = "'" + g.nodes[c.nodes.front()].name + "'";
  if (c.nodes.size() > 1) s += fmt::format(" (with {} co-located node(s))", c.nodes.size() - 1);
  return s;
}

// Expected spill bytes per inference of each phase of `m` (mapper/phases.cpp): every event of a
// route whose destinations run in later phases is written once by its phase and read once by each
// such phase, 4 bytes each.
struct SpillBytes {
  double read = 0, written = 0;
};
std::vector<SpillBytes> phase_spill_bytes(const Mapping& m, int timesteps);
// Phase::spill_in_bytes from phase_spill_bytes (the mapping's `dram_spill_bytes`).
void phase_spills(Mapping& m, int timesteps);

}  // namespace spikechip::mapper::detail
