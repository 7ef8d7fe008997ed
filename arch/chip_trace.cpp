// Activity records for the run trace writers (report/trace_writer.hpp), kept with
// ChipRunOptions::record_activity: synapse-engine intervals per core and flit intervals per link,
// consecutive ones of the same kind merged into one entry.
#include "arch/chip_engine.hpp"

namespace spikechip::arch::detail {

void ChipEngine::record_synapse(int core, int node, int t, uint64_t start, uint64_t end) {
  auto& tl = res.synapse_timeline;
  const int64_t li = last_syn[size_t(core)];
  if (li >= 0 && tl[size_t(li)].node == node && tl[size_t(li)].timestep == t && start <= tl[size_t(li)].end) {
    tl[size_t(li)].end = std::max(tl[size_t(li)].end, end);
    return;
  }
  if (tl.size() >= opt.activity_limit) { res.activity_truncated = true; return; }
  last_syn[size_t(core)] = int64_t(tl.size());
  tl.push_back({core, node, t, start, end});
}

void ChipEngine::record_link(int node, int port, uint64_t cycle, uint64_t busy) {
  auto& la = res.link_activity;
  auto it = last_link.find({node, port});
  if (it != last_link.end() && cycle <= la[it->second].end) {
    la[it->second].end = std::max(la[it->second].end, cycle + busy), la[it->second].flits++;
    return;
  }
  if (la.size() >= opt.activity_limit) { res.activity_truncated = true; return; }
  last_link[{node, port}] = la.size();
  la.push_back({node, port, cycle, cycle + busy, 1});
}

}  // namespace spikechip::arch::detail
