// The critical path (arch/critical_path.hpp, docs/reports.md "Critical path"): the walk back from
// the last result packet over the intervals the run recorded (ChipEngine::path_act: each with the
// interval whose end released it), turned into contiguous segments from cycle 0 to the latency.
#include "arch/chip_engine.hpp"

namespace spikechip::arch::detail {

void ChipEngine::walk_critical_path() {
  std::vector<PathSegment>& path = res.critical_path;
  path.clear();
  // Walking backwards: a segment continuing the one after it (same unit, layer, timestep, no gap)
  // extends it.
  auto push = [&](PathKind k, int core, int node, int t, uint64_t start, uint64_t end) {
    if (end <= start) return;
    if (!path.empty()) {
      PathSegment& b = path.back();
      if (b.kind == k && b.core == core && b.node == node && b.timestep == t && b.start == end) {
        b.start = start;
        return;
      }
    }
    path.push_back({k, core, node, t, start, end});
  };
  if (res.complete && result_act != kNoAct) {
    for (uint32_t a = result_act; a != kNoAct; a = acts[a].pred) {
      const PathAct& x = acts[a];
      const uint64_t released = x.pred == kNoAct ? 0 : acts[x.pred].end;
      push(x.kind, x.core, x.node, x.t, x.start, x.end);
      if (x.trip) {  // the packet's trip from its sender (whose layer and timestep it carries)
        push(PathKind::Network, x.core, x.pred == kNoAct ? -1 : acts[x.pred].node, x.pred == kNoAct ? -1 : acts[x.pred].t,
             released, x.start);
        continue;
      }
      // A recorded interval starts when its releaser ends; a gap would be a controller decision
      // this recording does not know (none: tested), shown rather than hidden.
      if (x.start > released) push(PathKind::Other, -1, -1, -1, released, x.start);
    }
    std::reverse(path.begin(), path.end());
  }
  std::vector<PathAct>().swap(acts);
}

}  // namespace spikechip::arch::detail
