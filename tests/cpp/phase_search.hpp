#pragma once
// The exhaustive search of the phase-partitioning tests (tests/cpp/test_phase_partition.cpp,
// test_phase_time.cpp): the least cost over every phase assignment the chip could run, written
// from the mapping's clusters, groups and routes only (not from the mapper's code).
#include <algorithm>
#include <functional>
#include <limits>
#include <vector>

#include "mapper/mapper.hpp"

namespace spikechip::testing {

// The least `cost(phase of each group, phases used)` over every assignment of clusters to phases
// 0..P-1 (P <= max_phases) where a value never flows to an earlier phase and no phase holds more
// than `cores` groups.
// Clusters that reach each other (a cycle) must then share a phase: they are merged first (the
// transitive closure of the cluster graph), and the merged units are enumerated in an order where
// every unit follows the units it reads from, each at a phase no earlier than theirs.
inline double exhaustive_min(const mapper::Mapping& m, int cores, int max_phases,
                             const std::function<double(const std::vector<int>&, int)>& cost) {
  const int nc = int(m.clusters.size());
  const size_t ncs = static_cast<size_t>(nc);
  std::vector<std::vector<char>> reach(ncs, std::vector<char>(ncs, 0));
  for (int c = 0; c < nc; ++c) reach[size_t(c)][size_t(c)] = 1;
  for (const auto& r : m.routes) {
    if (r.src_group < 0) continue;
    for (int d : r.dests)
      if (d >= 0) reach[size_t(m.groups[size_t(r.src_group)].cluster)][size_t(m.groups[size_t(d)].cluster)] = 1;
  }
  for (size_t k = 0; k < ncs; ++k)
    for (size_t i = 0; i < ncs; ++i)
      if (reach[i][k])
        for (size_t j = 0; j < ncs; ++j) reach[i][j] |= reach[k][j];
  // Units: clusters that reach each other. A unit's rank = how many units reach it: a unit comes
  // after every unit it depends on when sorted by rank.
  std::vector<int> unit(ncs, -1);
  int nu = 0;
  for (int c = 0; c < nc; ++c) {
    if (unit[size_t(c)] >= 0) continue;
    for (int d = c; d < nc; ++d)
      if (reach[size_t(c)][size_t(d)] && reach[size_t(d)][size_t(c)]) unit[size_t(d)] = nu;
    ++nu;
  }
  const size_t nus = static_cast<size_t>(nu);
  std::vector<int> groups(nus, 0), rank(nus, 0), rep(nus, -1);
  for (const auto& gr : m.groups) ++groups[size_t(unit[size_t(gr.cluster)])];
  for (int c = 0; c < nc; ++c)
    if (rep[size_t(unit[size_t(c)])] < 0) rep[size_t(unit[size_t(c)])] = c;
  for (int u = 0; u < nu; ++u)
    for (int v = 0; v < nu; ++v)
      if (u != v && reach[size_t(rep[size_t(v)])][size_t(rep[size_t(u)])]) ++rank[size_t(u)];
  std::vector<int> order(nus);
  for (int u = 0; u < nu; ++u) order[size_t(u)] = u;
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return rank[size_t(a)] < rank[size_t(b)]; });
  std::vector<int> ph(nus, -1), load(static_cast<size_t>(max_phases), 0), pg(m.groups.size(), 0);
  double best = std::numeric_limits<double>::infinity();
  std::function<void(size_t)> rec = [&](size_t i) {
    if (i == nus) {
      int used = 0;
      for (int p = 0; p < max_phases; ++p) used = load[size_t(p)] ? p + 1 : used;
      for (int p = 0; p < used; ++p)
        if (!load[size_t(p)]) return;  // phases are numbered without gaps
      for (const auto& gr : m.groups) pg[size_t(gr.id)] = ph[size_t(unit[size_t(gr.cluster)])];
      best = std::min(best, cost(pg, used));
      return;
    }
    const int u = order[i];
    int lo = 0;
    for (int v = 0; v < nu; ++v)
      if (v != u && ph[size_t(v)] >= 0 && reach[size_t(rep[size_t(v)])][size_t(rep[size_t(u)])]) lo = std::max(lo, ph[size_t(v)]);
    for (int p = lo; p < max_phases; ++p) {
      if (load[size_t(p)] + groups[size_t(u)] > cores) continue;
      ph[size_t(u)] = p, load[size_t(p)] += groups[size_t(u)];
      rec(i + 1);
      load[size_t(p)] -= groups[size_t(u)], ph[size_t(u)] = -1;
    }
  };
  rec(0);
  return best;
}

}  // namespace spikechip::testing
