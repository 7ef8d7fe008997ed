// Time multiplexing (docs/architecture.md, "Phases"): when the groups outnumber the cores, groups
// take turns in phases. Clusters that exchange values within a timestep share a phase; phases
// follow the dataflow; values crossing phases are spilled to DRAM and read back. A layer larger
// than the chip on its own is spread over consecutive phases.
#include <algorithm>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "base/error.hpp"
#include "mapper/internal.hpp"
#include "mapper/mapper.hpp"

namespace spikechip::mapper {

using model::Graph;
using detail::cluster_label;
using detail::fmt_bytes;

namespace {

// Phase ids per component (and per group of a layer spread over phases) for the components in
// dataflow order `seq`; big[k]: component k is one layer larger than the chip.
struct Packing {
  std::vector<int> phase_of_comp, phase_of_group;
  int phases = 0;
};

// Spreads the groups of component k (one layer larger than the chip) over consecutive phases,
// continuing phase `phase`, which already holds `in_phase` groups.
void spread_groups(const Mapping& m, const std::vector<int>& comp, int k, int cores, int& phase, int64_t& in_phase,
                   Packing& p) {
  for (const Group& gr : m.groups) {
    if (comp[size_t(gr.cluster)] != k) continue;
    if (in_phase == cores) ++phase, in_phase = 0;
    p.phase_of_group[size_t(gr.id)] = phase;
    ++in_phase;
  }
}

// Next-fit in dataflow order: the fewest phases for that order; a layer larger than the chip
// continues the current phase group by group.
Packing pack_greedy(const Mapping& m, const std::vector<int>& seq, const std::vector<int>& comp,
                    const std::vector<int64_t>& comp_groups, const std::vector<char>& big, int cores) {
  Packing p;
  p.phase_of_comp.assign(comp_groups.size(), 0);
  p.phase_of_group.assign(m.groups.size(), -1);
  int phase = 0;
  int64_t in_phase = 0;
  for (int k : seq) {
    if (big[size_t(k)]) {
      spread_groups(m, comp, k, cores, phase, in_phase, p);
      continue;
    }
    if (in_phase + comp_groups[size_t(k)] > cores) ++phase, in_phase = 0;
    p.phase_of_comp[size_t(k)] = phase;
    in_phase += comp_groups[size_t(k)];
  }
  p.phases = phase + 1;
  return p;
}

// The routes that leave their component, by position in the dataflow order `seq`: what a phase
// [s, e] of the order writes (every route from it with a destination in a later phase, once) and
// reads (every route from an earlier phase with a destination in it, once), 4 B per value, the
// same count as detail::phase_spill_bytes. `start(s)` then `extend(e)` for e = s, s + 1, ...
class Spills {
 public:
  Spills(const Mapping& m, const std::vector<int>& seq, const std::vector<int>& comp, const std::vector<Route>& routes,
         int timesteps) {
    const size_t n = seq.size();
    std::vector<int> pos(n == 0 ? 0 : size_t(*std::max_element(seq.begin(), seq.end())) + 1, 0);
    for (size_t i = 0; i < n; ++i) pos[size_t(seq[i])] = int(i);
    from_.resize(n), into_.resize(n), ends_.resize(n);
    for (const Route& r : routes) {
      if (r.src_group < 0) continue;
      const int ps = pos[size_t(comp[size_t(m.groups[size_t(r.src_group)].cluster)])];
      std::vector<int> ds;
      for (int d : r.dests)
        if (d >= 0) ds.push_back(pos[size_t(comp[size_t(m.groups[size_t(d)].cluster)])]);
      std::sort(ds.begin(), ds.end());
      ds.erase(std::unique(ds.begin(), ds.end()), ds.end());
      if (ds.empty() || ds.back() <= ps) continue;  // stays within its component
      const int id = int(rs_.size());
      rs_.push_back({ps, ds.back(), r.events * timesteps * 4});
      from_[size_t(ps)].push_back(id);
      ends_[size_t(ds.back())].push_back(id);
      for (int d : ds)
        if (d > ps) into_[size_t(d)].push_back(id);
    }
    stamp_.assign(rs_.size(), -1);
  }
  void start(int s) { s_ = s, reads = writes = 0; }
  void extend(int e) {
    for (int id : into_[size_t(e)])
      if (rs_[size_t(id)].src < s_ && stamp_[size_t(id)] != s_) stamp_[size_t(id)] = s_, reads += rs_[size_t(id)].bytes;
    for (int id : from_[size_t(e)])
      if (rs_[size_t(id)].last > e) writes += rs_[size_t(id)].bytes;
    for (int id : ends_[size_t(e)])
      if (rs_[size_t(id)].src >= s_ && rs_[size_t(id)].src < e) writes -= rs_[size_t(id)].bytes;
  }
  double reads = 0, writes = 0;

 private:
  struct R { int src, last; double bytes; };
  std::vector<R> rs_;
  std::vector<std::vector<int>> from_, into_, ends_;
  std::vector<int> stamp_;
  int s_ = 0;
};

// The packing of consecutive segments [s, e) of the order, one phase each (a layer larger than
// the chip, alone in its segment, gets as many as it needs).
Packing pack_segments(const Mapping& m, const std::vector<int>& seq, const std::vector<int>& comp,
                      const std::vector<char>& big, int cores, const std::vector<std::pair<int, int>>& segs,
                      size_t ncomp) {
  Packing p;
  p.phase_of_comp.assign(ncomp, 0);
  p.phase_of_group.assign(m.groups.size(), -1);
  int phase = 0;
  for (const auto& [s, e] : segs) {
    const int k0 = seq[size_t(s)];
    if (big[size_t(k0)]) {
      int64_t in_phase = 0;
      spread_groups(m, comp, k0, cores, phase, in_phase, p);
    } else {
      for (int i = s; i < e; ++i) p.phase_of_comp[size_t(seq[size_t(i)])] = phase;
    }
    ++phase;
  }
  p.phases = phase;
  return p;
}

// min-dram: cuts the dataflow order into consecutive phases (each at most `cores` groups) so that
// the expected spill bytes per inference (Spills: written + read) are least, then the fewest
// phases. Exact dynamic programme over the cut positions; a layer larger than the chip gets
// phases of its own.
Packing pack_min_dram(const Mapping& m, const std::vector<int>& seq, const std::vector<int>& comp,
                      const std::vector<int64_t>& comp_groups, const std::vector<char>& big, int cores,
                      const std::vector<Route>& routes, int timesteps) {
  const int n = int(seq.size());
  Spills sp(m, seq, comp, routes, timesteps);
  constexpr double kInf = 1e300;
  std::vector<double> best(size_t(n) + 1, kInf);
  std::vector<int> phases(size_t(n) + 1, 0), cut(size_t(n) + 1, 0);
  best[0] = 0;
  for (int s = 0; s < n; ++s) {
    if (best[size_t(s)] >= kInf) continue;
    sp.start(s);
    int64_t groups = 0;
    for (int e = s; e < n; ++e) {
      const int k = seq[size_t(e)];
      if (big[size_t(k)] && e > s) break;  // a layer larger than the chip runs alone
      groups += comp_groups[size_t(k)];
      if (!big[size_t(k)] && groups > cores) break;
      sp.extend(e);
      const int used = big[size_t(k)] ? int((comp_groups[size_t(k)] + cores - 1) / cores) : 1;
      const double c = best[size_t(s)] + sp.reads + sp.writes;
      const int np = phases[size_t(s)] + used;
      // Equal costs (e.g. nothing crosses either cut) prefer fewer phases.
      if (c < best[size_t(e) + 1] || (c == best[size_t(e) + 1] && np < phases[size_t(e) + 1]))
        best[size_t(e) + 1] = c, phases[size_t(e) + 1] = np, cut[size_t(e) + 1] = s;
      if (big[size_t(k)]) break;
    }
  }
  std::vector<std::pair<int, int>> segs;  // [s, e) in order
  for (int e = n; e > 0; e = cut[size_t(e)]) segs.push_back({cut[size_t(e)], e});
  std::reverse(segs.begin(), segs.end());
  return pack_segments(m, seq, comp, big, cores, segs, comp_groups.size());
}

// min-time: cuts the dataflow order so that the expected latency of an inference is least (then
// the fewest phases): the sum over phases of PhaseTimeModel::phase_cycles, whose terms are the
// weights not prefetched, the spills read and written (Spills), the compute, and the stall when
// the next phase's prefetch outlasts it. A phase's cost depends on the next phase's prefetchable
// bytes, so the exact dynamic programme's state is the last phase [s, e): O(phases x choices^2).
// A layer larger than the chip (one cluster) runs its `used` phases alone, each T x its slowest group.
Packing pack_min_time(const Mapping& m, const std::vector<int>& seq, const std::vector<int>& comp,
                      const std::vector<int64_t>& comp_groups, const std::vector<char>& big, int cores,
                      const std::vector<Route>& routes, const PhaseTimeModel& tm) {
  const int n = int(seq.size());
  const size_t ncomp = comp_groups.size();
  // Per component: weight bytes, prefetchable bytes, and its layers (cluster id, slowest group's
  // cycles per timestep).
  std::vector<double> w(ncomp, 0), pre(ncomp, 0);
  std::vector<std::vector<std::pair<int, double>>> layers(ncomp);
  {
    std::vector<double> slowest(m.clusters.size(), 0);
    for (const Group& gr : m.groups) {
      const size_t k = size_t(comp[size_t(gr.cluster)]);
      w[k] += double(gr.weight_bytes);
      pre[k] += tm.prefetchable(gr.weight_bytes);
      slowest[size_t(gr.cluster)] = std::max(slowest[size_t(gr.cluster)], tm.group_cycles[size_t(gr.id)]);
    }
    for (size_t c = 0; c < m.clusters.size(); ++c) layers[size_t(comp[c])].push_back({int(c), slowest[c]});
  }
  // Every allowed phase [s, e) of the order with its load (prefetched_bytes: what the phase before
  // can stream for it; not for the first phase).
  Spills sp(m, seq, comp, routes, tm.timesteps);
  std::vector<std::vector<PhaseLoad>> seg(static_cast<size_t>(n));  // seg[s][e - s - 1]
  for (int s = 0; s < n; ++s) {
    sp.start(s);
    PhaseLoad q;
    int64_t groups = 0;
    std::vector<std::pair<int, double>> in_phase;  // its layers in cluster order
    std::vector<double> stages;
    for (int e = s; e < n; ++e) {
      const int k = seq[size_t(e)];
      if (big[size_t(k)] && e > s) break;
      groups += comp_groups[size_t(k)];
      if (!big[size_t(k)] && groups > cores) break;
      sp.extend(e);
      q.weight_bytes += w[size_t(k)], q.prefetched_bytes += pre[size_t(k)];
      q.read_bytes = sp.reads, q.write_bytes = sp.writes;
      if (big[size_t(k)]) {
        q.phases = int((comp_groups[size_t(k)] + cores - 1) / cores);
        q.compute = double(q.phases) * tm.timesteps * layers[size_t(k)].front().second;
        q.prefetched_bytes /= q.phases;  // only its first chunk streams during the phase before
      } else {
        in_phase.insert(in_phase.end(), layers[size_t(k)].begin(), layers[size_t(k)].end());
        std::sort(in_phase.begin(), in_phase.end());
        stages.clear();
        for (const auto& [c, cyc] : in_phase) stages.push_back(cyc);
        q.compute = tm.compute_cycles(stages);
      }
      seg[size_t(s)].push_back(q);
      if (big[size_t(k)]) break;
    }
  }
  auto load = [&](int s, int e) {
    PhaseLoad q = seg[size_t(s)][size_t(e - s - 1)];
    if (s == 0) q.prefetched_bytes = 0;
    return q;
  };
  // best[s][e - s - 1]: the least cost of the phases before [s, e) (each priced with its next),
  // when [s, e) is a phase; its phase count and the start of the phase before it.
  constexpr double kInf = 1e300;
  struct Cell { double cost = kInf; int phases = 0, prev = -1; };
  std::vector<std::vector<Cell>> best(static_cast<size_t>(n));
  for (int s = 0; s < n; ++s) best[size_t(s)].resize(seg[size_t(s)].size());
  for (size_t j = 0; j < best[0].size(); ++j) best[0][j] = {0, 0, -1};
  auto better = [](double c, int np, const Cell& x) { return c < x.cost || (c == x.cost && np < x.phases); };
  for (int s = 0; s < n; ++s)
    for (size_t j = 0; j < best[size_t(s)].size(); ++j) {
      const Cell& here = best[size_t(s)][j];
      if (here.cost >= kInf) continue;
      const int e = s + int(j) + 1;
      const PhaseLoad q = load(s, e);
      if (e == n) continue;
      for (size_t jn = 0; jn < best[size_t(e)].size(); ++jn) {
        const double c = here.cost + tm.phase_cycles(q, seg[size_t(e)][jn].prefetched_bytes);
        const int np = here.phases + q.phases;
        Cell& next = best[size_t(e)][jn];
        if (better(c, np, next)) next = {c, np, s};
      }
    }
  Cell end;
  int last = -1;
  for (int s = 0; s < n; ++s) {
    const size_t j = size_t(n - s - 1);
    if (j >= best[size_t(s)].size() || best[size_t(s)][j].cost >= kInf) continue;
    const PhaseLoad q = load(s, n);
    const double c = best[size_t(s)][j].cost + tm.phase_cycles(q, 0);
    if (better(c, best[size_t(s)][j].phases + q.phases, end)) end = {c, best[size_t(s)][j].phases + q.phases, s}, last = s;
  }
  std::vector<std::pair<int, int>> segs;  // [s, e) in order
  for (int e = n, s = last; e > 0;) {
    segs.push_back({s, e});
    const int prev = best[size_t(s)][size_t(e - s - 1)].prev;
    e = s, s = prev;
  }
  std::reverse(segs.begin(), segs.end());
  return pack_segments(m, seq, comp, big, cores, segs, ncomp);
}

}  // namespace

const std::vector<PhasePartitioner>& phase_partitioners() {
  static const std::vector<PhasePartitioner> kTable = {
      {"greedy", "fill each phase in dataflow order before opening the next (fewest phases)"},
      {"min-dram", "cut the dataflow order where the fewest expected spill bytes cross (exact; then fewest phases)"},
      {"min-time", "cut the dataflow order where the expected latency is least: reloads, spills, compute and prefetch "
                   "stalls (exact over the time model; then fewest phases)"},
  };
  return kTable;
}

std::vector<std::string> phase_partitioner_names() {
  std::vector<std::string> out;
  for (const PhasePartitioner& p : phase_partitioners()) out.push_back(p.name);
  return out;
}

void check_phase_partitioner(const std::string& name) {
  const std::vector<std::string> names = phase_partitioner_names();
  if (std::find(names.begin(), names.end(), name) == names.end())
    throw UsageError(fmt::format("mapper: unknown phase partitioner '{}' (known: {})", name, fmt::join(names, ", ")));
}

bool assign_phases(const Graph& g, Mapping& m, int cores, std::vector<int>* too_big, const MapOptions& opt,
                   const arch::ChipConfig* chip) {
  check_phase_partitioner(opt.phases);
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
  std::vector<int> comp_size(static_cast<size_t>(ncomp), 0);
  for (int c = 0; c < nc; ++c) ++comp_size[size_t(comp[size_t(c)])];
  // A single layer larger than the chip (one cluster, no cycle: its groups exchange nothing) is
  // spread over consecutive phases group by group; a larger cycle cannot run.
  std::vector<int> seq;
  std::vector<char> big(static_cast<size_t>(ncomp), 0);
  while (!ready.empty()) {
    const int k = ready.begin()->second;
    ready.erase(ready.begin());
    seq.push_back(k);
    for (int u : cout_[size_t(k)])
      if (--indeg[size_t(u)] == 0) ready.insert({comp_min[size_t(u)], u});
    if (comp_groups[size_t(k)] <= cores) continue;
    if (comp_size[size_t(k)] == 1) {
      big[size_t(k)] = 1;
      continue;
    }
    if (too_big) {
      too_big->clear();
      for (int x = 0; x < nc; ++x)
        if (comp[size_t(x)] == k) too_big->push_back(x);
      return false;
    }
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
  Packing p;
  if (opt.phases == "min-dram") {
    p = pack_min_dram(m, seq, comp, comp_groups, big, cores, build_routes(g, m.clusters, m.groups, opt), g.timesteps);
  } else if (opt.phases == "min-time") {
    if (!chip) throw Error("mapper: --phases min-time needs the chip's configuration (internal: assign_phases without it)");
    p = pack_min_time(m, seq, comp, comp_groups, big, cores, build_routes(g, m.clusters, m.groups, opt),
                      phase_time_model(g, m, *chip, opt));
  } else {
    p = pack_greedy(m, seq, comp, comp_groups, big, cores);
  }
  m.phases.assign(size_t(p.phases), Phase{});
  for (Group& gr : m.groups) {
    gr.phase = p.phase_of_group[size_t(gr.id)] >= 0 ? p.phase_of_group[size_t(gr.id)]
                                                    : p.phase_of_comp[size_t(comp[size_t(gr.cluster)])];
    Phase& ph = m.phases[size_t(gr.phase)];
    ph.groups++;
    ph.reload_bytes += gr.weight_bytes;
  }
  return true;
}

namespace detail {
std::vector<SpillBytes> phase_spill_bytes(const Mapping& m, int timesteps) {
  std::vector<SpillBytes> out(m.phases.size());
  for (const Route& r : m.routes) {
    if (r.src_group < 0) continue;
    const int sp = m.groups[size_t(r.src_group)].phase;
    std::set<int> later;
    for (int d : r.dests)
      if (d >= 0 && m.groups[size_t(d)].phase != sp) later.insert(m.groups[size_t(d)].phase);
    if (later.empty()) continue;
    const double bytes = r.events * timesteps * 4;
    out[size_t(sp)].written += bytes;
    for (int p : later) out[size_t(p)].read += bytes;
  }
  return out;
}

void phase_spills(Mapping& m, int timesteps) {
  const std::vector<SpillBytes> b = phase_spill_bytes(m, timesteps);
  for (size_t p = 0; p < m.phases.size(); ++p) m.phases[p].spill_in_bytes = b[p].read;
}
}  // namespace detail

}  // namespace spikechip::mapper
