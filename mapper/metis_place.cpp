#include "mapper/metis_place.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>
#include <metis.h>

#include "base/error.hpp"

namespace spikechip::mapper {

namespace {

struct Bisector {
  int w;
  const std::vector<std::vector<std::pair<int, double>>>& nb;
  uint64_t seed;
  double scale;  // packets -> integer edge weight (METIS takes integers)
  std::vector<int> core;
  std::vector<int> local;  // vertex -> index in the current sub-graph, -1 outside

  // Places `verts` into the rectangle [x0,x1) x [y0,y1) (which has at least verts.size() cores).
  void place(const std::vector<int>& verts, int x0, int x1, int y0, int y1) {
    if (verts.empty()) return;
    const int cap = (x1 - x0) * (y1 - y0);
    if (cap == 1) {
      core[size_t(verts[0])] = y0 * w + x0;
      return;
    }
    // Halve the longer side: two levels give the quadrants of the rectangle.
    int ax1 = x1, ay1 = y1, bx0 = x0, by0 = y0;
    if (x1 - x0 >= y1 - y0)
      ax1 = bx0 = x0 + (x1 - x0) / 2;
    else
      ay1 = by0 = y0 + (y1 - y0) / 2;
    const int cap_a = (ax1 - x0) * (ay1 - y0), cap_b = cap - cap_a;
    std::vector<int> part = bisect(verts, cap_a, cap_b);
    std::vector<int> a, b;
    for (size_t i = 0; i < verts.size(); ++i) (part[i] == 0 ? a : b).push_back(verts[i]);
    place(a, x0, ax1, y0, ay1);
    place(b, bx0, x1, by0, y1);
  }

  // Part (0/1) of every vertex with at most cap_a / cap_b vertices per part.
  std::vector<int> bisect(const std::vector<int>& verts, int cap_a, int cap_b) {
    const idx_t n = idx_t(verts.size());
    std::vector<int> part(verts.size(), 0);
    for (size_t i = 0; i < verts.size(); ++i) local[size_t(verts[i])] = int(i);
    std::vector<idx_t> xadj{0}, adjncy, adjwgt;
    for (int v : verts) {
      for (const auto& [o, wt] : nb[size_t(v)])
        if (o >= 0 && local[size_t(o)] >= 0 && o != v) {
          adjncy.push_back(local[size_t(o)]);
          adjwgt.push_back(std::max<idx_t>(1, idx_t(std::llround(wt * scale))));
        }
      xadj.push_back(idx_t(adjncy.size()));
    }
    if (n >= 2 && !adjncy.empty()) {
      idx_t nv = n, ncon = 1, nparts = 2, objval = 0;
      real_t tpwgts[2] = {real_t(cap_a) / real_t(cap_a + cap_b), real_t(cap_b) / real_t(cap_a + cap_b)};
      idx_t options[METIS_NOPTIONS];
      METIS_SetDefaultOptions(options);
      options[METIS_OPTION_SEED] = idx_t(seed % 1000000007u);
      options[METIS_OPTION_NUMBERING] = 0;
      std::vector<idx_t> p(size_t(n), 0);
      int rc = METIS_PartGraphRecursive(&nv, &ncon, xadj.data(), adjncy.data(), nullptr, nullptr, adjwgt.data(), &nparts,
                                        tpwgts, nullptr, options, &objval, p.data());
      if (rc != METIS_OK) throw Error(fmt::format("mapper: METIS_PartGraphRecursive failed (code {}) on {} groups", rc, n));
      for (size_t i = 0; i < p.size(); ++i) part[i] = int(p[i]);
    } else {  // nothing to cut: fill the first half first
      for (size_t i = 0; i < verts.size(); ++i) part[i] = int(i) < cap_a ? 0 : 1;
    }
    // METIS balances only approximately: move the vertices that lose least until both halves fit.
    for (int from = 0; from < 2; ++from) {
      const int cap = from == 0 ? cap_a : cap_b;
      int count = int(std::count(part.begin(), part.end(), from));
      while (count > cap) {
        size_t best = 0;
        double best_gain = -1e300;
        for (size_t i = 0; i < verts.size(); ++i) {
          if (part[i] != from) continue;
          double gain = 0;  // connection to the other side minus connection to this side
          for (idx_t e = xadj[i]; e < xadj[i + 1]; ++e) gain += part[size_t(adjncy[size_t(e)])] == from ? -adjwgt[size_t(e)] : adjwgt[size_t(e)];
          if (gain > best_gain) best_gain = gain, best = i;
        }
        part[best] = 1 - from;
        --count;
      }
    }
    for (int v : verts) local[size_t(v)] = -1;
    return part;
  }
};

}  // namespace

std::vector<int> metis_place(int w, int h, const std::vector<std::vector<std::pair<int, double>>>& nb, uint64_t seed) {
  const size_t n = nb.size();
  if (int64_t(n) > int64_t(w) * h) throw Error(fmt::format("mapper: {} groups do not fit {} cores", n, w * h));
  double maxw = 0;
  for (const auto& l : nb)
    for (const auto& [o, wt] : l) maxw = std::max(maxw, wt);
  // Largest edge weight 1000: keeps METIS' integer cut sums far from idx_t overflow.
  Bisector b{w, nb, seed, maxw > 0 ? 1000.0 / maxw : 1.0, std::vector<int>(n, -1), std::vector<int>(n, -1)};
  std::vector<int> all(n);
  std::iota(all.begin(), all.end(), 0);
  b.place(all, 0, w, 0, h);
  return b.core;
}

}  // namespace spikechip::mapper
