#pragma once
// The critical path of one inference (docs/reports.md, "Critical path"): the chain of dependent
// intervals that sets its latency, from cycle 0 to the last result packet at the host. While the
// chip runs, every task, synapse-engine booking, packet delivery, host stream and DRAM phase
// records the one interval whose end released it (arch/chip_critical.cpp); the path is the walk
// back from the last result. Its segments are contiguous and sum to the latency exactly.
#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace spikechip::arch {

// What a segment of the path is. Compute: one unit of a core working for a layer. The others:
// what the next piece of work waited for.
enum class PathKind : uint8_t {
  Synapse,    // input engine: spikes of a packet added into a Conv2d/Linear slice (or stored for SDSA)
  Encoder,    // input engine: a pixel packet's multiply-accumulates (encoder layer)
  Node,       // node unit: a layer's task for a timestep (finalise, LIF, Add, Mean, Output, reduction)
  Sdsa,       // node unit: an SDSA task
  Network,    // a packet from its sender's end to its arrival at the core or the host (injection
              // queue, routers, links, contention and a full input queue included)
  EndOfStep,  // an end-of-timestep marker's trip: the task waited for the marker after the data
  Host,       // the host streaming input frames over its ports (from cycle 0 or the weights' load)
  Dram,       // time multiplexing: a phase's weight reload (and spill reads) over the DRAM channel
  Other,      // a gap no recorded interval explains (none in the chip's controller: tested)
};
inline constexpr std::array<std::string_view, 9> kPathKindNames = {
    "synapse", "encoder", "node", "sdsa", "network", "end_of_step", "host_input", "dram", "other"};
inline std::string_view path_kind_name(PathKind k) { return kPathKindNames[size_t(k)]; }
// Compute kinds (per unit) versus waits.
inline bool path_kind_is_compute(PathKind k) { return k <= PathKind::Sdsa; }

// One interval of the path: [start, end) cycles; core / node / timestep are -1 where they do not
// apply (node: the layer the work is for or the packet comes from; core: where the work ran or the
// packet arrived, -1 at the host).
struct PathSegment {
  PathKind kind = PathKind::Other;
  int core = -1, node = -1, timestep = -1;
  uint64_t start = 0, end = 0;
};

}  // namespace spikechip::arch
