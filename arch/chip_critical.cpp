// The critical path (arch/critical_path.hpp, docs/reports.md "Critical path"): the walk back from
// the last result packet over the intervals the run recorded (ChipEngine::path_act: each with the
// interval whose end released it), turned into contiguous segments from cycle 0 to the latency;
// and the collection of the records no path can reach any more.
#include "arch/chip_engine.hpp"

namespace spikechip::arch::detail {

void ChipEngine::collect_acts() {
  // Every place an engine keeps a record index between steps. A record's pred is older than the
  // record, so marking follows chains backwards and compaction can renumber in one forward pass.
  // A free packet's record is stale: forget it, so that it keeps nothing alive.
  for (uint32_t h : free_list) pool[h].src_act = kNoAct;
  auto roots = [&](auto&& f) {
    for (PacketData& d : pool) f(d.src_act);  // (spilled copies keep none: to_dram)
    for (GroupState& G : groups) {
      f(G.act);
      for (Port& P : G.ports)
        for (PortStep& s : P.step) f(s.ready_act);
    }
    for (auto* v : {&weights_act, &node_act, &syn_act, &phase_act})
      for (uint32_t& a : *v) f(a);
    for (uint32_t* a : {&result_act, &sender_act, &spill_act, &host_base_act, &phase_trigger}) f(*a);
  };
  std::vector<uint32_t> to(acts.size(), 0);  // first 1 = live, then the new index
  roots([&](uint32_t a) {
    for (; a != kNoAct && a < acts.size() && !to[a]; a = acts[a].pred) to[a] = 1;
  });
  uint32_t n = 0;
  for (size_t i = 0; i < acts.size(); ++i) {
    if (!to[i]) {
      to[i] = kNoAct;
      continue;
    }
    PathAct x = acts[i];
    if (x.pred != kNoAct) x.pred = to[x.pred];
    acts[n] = x;
    to[i] = n++;
  }
  roots([&](uint32_t& a) {
    if (a != kNoAct && a < to.size()) a = to[a];
  });
  acts.resize(n);
  acts_collect_at = std::max(acts_collect_min, 2 * size_t(n));
}

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
