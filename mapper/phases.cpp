// Time multiplexing (docs/architecture.md, "Phases"): when the groups outnumber the cores, groups
// take turns in phases. Clusters that exchange values within a timestep share a phase; phases
// follow the dataflow; values crossing phases are spilled to DRAM and read back. A layer larger
// than the chip on its own is spread over consecutive phases.
#include <algorithm>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "base/error.hpp"
#include "mapper/internal.hpp"
#include "mapper/mapper.hpp"

namespace spikechip::mapper {

using model::Graph;
using detail::cluster_label;
using detail::fmt_bytes;

bool assign_phases(const Graph& g, Mapping& m, int cores, std::vector<int>* too_big) {
  const int nc = int(m.clusters.size());
  std::vector<int> cluster_of(g.nodes.size(), -1);
  for (const Cluster& c : m.clusters)
    for (int i : c.nodes) cluster_of[size_t(i)] = c.id;
  std::vector<std::set<int>> out(static_cast<size_t>(nc)), in(static_cast<size_t>(nc));
  for (size_t k = 0; k < g.nodes.size(); ++k)
    for (int p : g.nodes[k].inputs) {
      const int a = cluster_of[size_t(p)], b = cluster_of[k];
      if (a >= 0 && b >= 0 && a != b) out[size_t(a)].insert(b), in[size_t(b)].insert(a);
    }
  // Clusters that feed each other in a cycle (a residual stream and the blocks that add into it)
  // exchange values within one timestep, so they must be resident together: strongly connected
  // components (Kosaraju), which then run in dataflow order.
  std::vector<int> order, comp(static_cast<size_t>(nc), -1);
  std::vector<char> seen(static_cast<size_t>(nc), 0);
  for (int s0 = 0; s0 < nc; ++s0) {
    if (seen[size_t(s0)]) continue;
    std::vector<std::pair<int, std::set<int>::const_iterator>> st{{s0, out[size_t(s0)].begin()}};
    seen[size_t(s0)] = 1;
    while (!st.empty()) {
      auto& [v, it] = st.back();
      if (it == out[size_t(v)].end()) {
        order.push_back(v);
        st.pop_back();
        continue;
      }
      const int u = *it++;
      if (!seen[size_t(u)]) seen[size_t(u)] = 1, st.push_back({u, out[size_t(u)].begin()});
    }
  }
  int ncomp = 0;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    if (comp[size_t(*it)] >= 0) continue;
    std::vector<int> stack{*it};
    comp[size_t(*it)] = ncomp;
    while (!stack.empty()) {
      const int v = stack.back();
      stack.pop_back();
      for (int u : in[size_t(v)])
        if (comp[size_t(u)] < 0) comp[size_t(u)] = ncomp, stack.push_back(u);
    }
    ++ncomp;
  }
  // Topological order of the components, ties by the lowest cluster id (close to graph order).
  std::vector<int> comp_min(static_cast<size_t>(ncomp), nc), indeg(static_cast<size_t>(ncomp), 0);
  std::vector<std::set<int>> cout_(static_cast<size_t>(ncomp));
  std::vector<int64_t> comp_groups(static_cast<size_t>(ncomp), 0);
  for (int c = 0; c < nc; ++c) {
    comp_min[size_t(comp[size_t(c)])] = std::min(comp_min[size_t(comp[size_t(c)])], c);
    for (int u : out[size_t(c)])
      if (comp[size_t(u)] != comp[size_t(c)] && cout_[size_t(comp[size_t(c)])].insert(comp[size_t(u)]).second)
        ++indeg[size_t(comp[size_t(u)])];
  }
  for (const Group& gr : m.groups) ++comp_groups[size_t(comp[size_t(gr.cluster)])];
  std::set<std::pair<int, int>> ready;
  for (int k = 0; k < ncomp; ++k)
    if (indeg[size_t(k)] == 0) ready.insert({comp_min[size_t(k)], k});
  std::vector<int> phase_of_comp(static_cast<size_t>(ncomp), 0), comp_size(static_cast<size_t>(ncomp), 0);
  for (int c = 0; c < nc; ++c) ++comp_size[size_t(comp[size_t(c)])];
  // A single layer larger than the chip (one cluster, no cycle: its groups exchange nothing) is
  // spread over consecutive phases group by group: phase_of_group, -1 = the component's phase.
  std::vector<int> phase_of_group(m.groups.size(), -1);
  m.phases.assign(1, Phase{});
  int64_t in_phase = 0;
  while (!ready.empty()) {
    const int k = ready.begin()->second;
    ready.erase(ready.begin());
    if (comp_groups[size_t(k)] > cores && comp_size[size_t(k)] == 1) {
      for (const Group& gr : m.groups) {
        if (comp[size_t(gr.cluster)] != k) continue;
        if (in_phase == cores) m.phases.push_back(Phase{}), in_phase = 0;
        phase_of_group[size_t(gr.id)] = int(m.phases.size()) - 1;
        ++in_phase;
      }
      for (int u : cout_[size_t(k)])
        if (--indeg[size_t(u)] == 0) ready.insert({comp_min[size_t(u)], u});
      continue;
    }
    if (comp_groups[size_t(k)] > cores && too_big) {
      too_big->clear();
      for (int x = 0; x < nc; ++x)
        if (comp[size_t(x)] == k) too_big->push_back(x);
      return false;
    }
    if (comp_groups[size_t(k)] > cores) {
      const Cluster& c = m.clusters[size_t(comp_min[size_t(k)])];
      int members = 0;
      int64_t mem = 0, wb = 0;
      for (int x = 0; x < nc; ++x) members += comp[size_t(x)] == k;
      for (const Group& gr : m.groups)
        if (comp[size_t(gr.cluster)] == k) mem += gr.membrane_bytes, wb += gr.weight_bytes;
      throw Error(fmt::format(
          "mapper: --time-multiplex cannot split layer {} and the {} layer(s) exchanging values with it within a "
          "timestep (a residual stage must be resident at once unless its stream can be cut at its Adds, docs/mapper.md \"Cut streams\"): together they need {} cores ({} membrane, {} "
          "weight SRAM) but the chip has {} (short by {}). To fix: more chips (--chips auto), larger "
          "core.membrane_sram_bytes / core.weight_sram_bytes, a smaller core.weight_prefetch_fraction (the "
          "prefetch buffer takes weight SRAM from the groups), or a chip with larger cores (preset mesh-hbm2: 1.5 MiB each; "
          "docs/architecture.md, \"Presets that resemble real chips\")",
          cluster_label(g, c), members - 1, comp_groups[size_t(k)], fmt_bytes(mem), fmt_bytes(wb), cores,
          comp_groups[size_t(k)] - cores));
    }
    if (in_phase + comp_groups[size_t(k)] > cores) m.phases.push_back(Phase{}), in_phase = 0;
    phase_of_comp[size_t(k)] = int(m.phases.size()) - 1;
    in_phase += comp_groups[size_t(k)];
    for (int u : cout_[size_t(k)])
      if (--indeg[size_t(u)] == 0) ready.insert({comp_min[size_t(u)], u});
  }
  for (Group& gr : m.groups) {
    gr.phase = phase_of_group[size_t(gr.id)] >= 0 ? phase_of_group[size_t(gr.id)] : phase_of_comp[size_t(comp[size_t(gr.cluster)])];
    Phase& p = m.phases[size_t(gr.phase)];
    p.groups++;
    p.reload_bytes += gr.weight_bytes;
  }
  return true;
}

namespace detail {
// Bytes per inference that phases read back from DRAM: every event of a route whose destination
// runs in a later phase is written once and read once per destination phase, 4 bytes each.
void phase_spills(Mapping& m, int timesteps) {
  for (Phase& p : m.phases) p.spill_in_bytes = 0;
  for (const Route& r : m.routes) {
    if (r.src_group < 0) continue;
    std::set<int> phases;
    for (int d : r.dests)
      if (d >= 0 && m.groups[d].phase != m.groups[r.src_group].phase) phases.insert(m.groups[d].phase);
    for (int p : phases) m.phases[size_t(p)].spill_in_bytes += r.events * timesteps * 4;
  }
}
}  // namespace detail

}  // namespace spikechip::mapper
