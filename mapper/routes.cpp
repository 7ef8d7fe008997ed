// Routes (docs/mapper.md): which groups each value goes to. For every producer (a group, or the
// host for the input), the region it sends is cut at every boundary of what its consumers'
// groups need (a Conv2d's halo, an SDSA head's tokens), so each route has one exact destination
// set and an expected number of events per timestep. Trees and link loads follow placement
// (mapper/place_and_route.cpp).
#include <algorithm>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "base/error.hpp"
#include "mapper/mapper.hpp"

namespace spikechip::mapper {

using model::Graph;
using model::Node;
using model::Op;

Box intersect(const Box& a, const Box& b) {
  return Box{std::max(a.c0, b.c0), std::min(a.c1, b.c1), std::max(a.y0, b.y0),
             std::min(a.y1, b.y1), std::max(a.x0, b.x0), std::min(a.x1, b.x1)};
}

namespace {

Box full_box(const model::Shape& s) { return Box{0, s.c, 0, s.h, 0, s.w}; }

// Which nodes of a Conv2d's input a group of its output needs (the halo), clipped to the input.
Box need_box(const Graph& g, const Node& n, int input_index, const Box& out) {
  const model::Shape& in = g.input_shape(n, input_index);
  switch (n.op) {
    case Op::Conv2d: {
      Box b;
      if (n.groups == 1) {
        b.c0 = 0, b.c1 = in.c;
      } else {
        int og = n.shape.c / n.groups, ig = in.c / n.groups;
        b.c0 = (out.c0 / og) * ig, b.c1 = ((out.c1 - 1) / og + 1) * ig;
      }
      b.y0 = std::max(0, out.y0 * n.sy - n.py);
      b.y1 = std::min(in.h, (out.y1 - 1) * n.sy - n.py + n.kh);
      b.x0 = std::max(0, out.x0 * n.sx - n.px);
      b.x1 = std::min(in.w, (out.x1 - 1) * n.sx - n.px + n.kw);
      return b;
    }
    // SDSA: k and v of every token of the group's heads (each token slice of a head builds K^T V
    // itself), q only of the group's own tokens (their row sums); unsplit heads need all tokens.
    case Op::SDSA:
      if (input_index == 0) return out;
      return Box{out.c0, out.c1, 0, in.h, 0, in.w};
    case Op::Mean: return Box{out.c0, out.c1, 0, in.h, 0, in.w};
    case Op::Add: return out;  // a cut stream's operand: element-wise, the group's own box
    default: return full_box(in);  // Linear reads the whole (flattened) input
  }
}

}  // namespace

std::vector<Route> build_routes(const Graph& g, const std::vector<Cluster>& clusters,
                                const std::vector<Group>& groups, const MapOptions& opt) {
  const int n = int(g.nodes.size());
  std::vector<int> cluster_of(n, -1);
  for (const Cluster& c : clusters)
    for (int i : c.nodes) cluster_of[i] = c.id;
  std::vector<std::vector<int>> groups_of(clusters.size());
  for (const Group& gr : groups) groups_of[gr.cluster].push_back(gr.id);

  std::vector<Route> routes;
  for (int p = 0; p < n; ++p) {
    const Node& pn = g.nodes[p];
    // Every (destination group, box of p it needs) over all consumers outside p's cluster.
    std::vector<std::pair<int, Box>> needs;
    std::string kind;
    for (int k = p + 1; k < n; ++k) {
      const Node& kn = g.nodes[k];
      for (size_t ii = 0; ii < kn.inputs.size(); ++ii) {
        if (kn.inputs[ii] != p || (cluster_of[k] == cluster_of[p] && pn.op != Op::Input)) continue;
        std::string kk = pn.op == Op::Input ? "pixel" : pn.op == Op::LIF ? "spike" : kn.op == Op::Mean ? "partial_sum"
                         : kn.op == Op::Add ? "membrane" : "";
        if (kk.empty() || (kk == "spike" && !(kn.op == Op::Conv2d || kn.op == Op::Linear || kn.op == Op::SDSA)) ||
            (!kind.empty() && kk != kind))
          throw Error(fmt::format("mapper: node '{}' ({}) reads '{}' ({}) from another core{}, which the execution "
                                  "model does not support (docs/mapper.md)",
                                  kn.name, model::op_name(kn.op), pn.name, model::op_name(pn.op),
                                  kk != kind && !kind.empty() ? " while other nodes read it as " + kind : ""));
        kind = kk;
        const Cluster& kc = clusters[size_t(cluster_of[k])];
        for (int d : groups_of[cluster_of[k]]) {
          // Fan-in split (docs/mapper.md, "Split fan-in"): a partial group reads only the split
          // node's input, and every group of the cluster only its slice of the input channels.
          if (kc.fan_in_slices > 1 && groups[d].fan_in_partial(kc) && k != kc.fan_in_node) continue;
          Box nb = need_box(g, kn, int(ii), groups[d].box);
          if (kc.fan_in_slices > 1 && k == kc.fan_in_node)
            nb.c0 = std::max(nb.c0, groups[d].in0), nb.c1 = std::min(nb.c1, groups[d].in1);
          if (!nb.empty()) needs.push_back({d, nb});
        }
      }
    }
    if (needs.empty()) continue;
    double rate = 1.0;
    if (kind == "spike") {
      auto it = opt.rates.find(pn.name);
      rate = it != opt.rates.end() ? it->second : opt.default_rate;
    }
    std::vector<std::pair<int, Box>> sources;
    if (pn.op == Op::Input)
      sources.push_back({-1, full_box(pn.shape)});
    else
      for (int s : groups_of[cluster_of[p]])  // a fan-in split's partial groups produce no node's values
        if (!groups[s].fan_in_partial(clusters[size_t(cluster_of[p])])) sources.push_back({s, groups[s].box});
    for (const auto& [src, sbox] : sources) {
      std::vector<std::pair<int, Box>> local;
      std::vector<int> cc{sbox.c0, sbox.c1}, cy{sbox.y0, sbox.y1}, cx{sbox.x0, sbox.x1};
      for (const auto& [d, nb] : needs) {
        Box b = intersect(nb, sbox);
        if (b.empty()) continue;
        local.push_back({d, b});
        cc.insert(cc.end(), {b.c0, b.c1}), cy.insert(cy.end(), {b.y0, b.y1}), cx.insert(cx.end(), {b.x0, b.x1});
      }
      for (auto* v : {&cc, &cy, &cx}) {
        std::sort(v->begin(), v->end());
        v->erase(std::unique(v->begin(), v->end()), v->end());
      }
      // Cut the source region at every boundary of a destination's need: each cell has one exact
      // destination set, so no spike reaches a core that does not use it.
      for (size_t a = 0; a + 1 < cc.size(); ++a)
        for (size_t b = 0; b + 1 < cy.size(); ++b)
          for (size_t c = 0; c + 1 < cx.size(); ++c) {
            Box cell{cc[a], cc[a + 1], cy[b], cy[b + 1], cx[c], cx[c + 1]};
            Route r;
            for (const auto& [d, nb] : local)
              if (nb.contains(cell)) r.dests.push_back(d);
            if (r.dests.empty()) continue;
            std::sort(r.dests.begin(), r.dests.end());
            r.dests.erase(std::unique(r.dests.begin(), r.dests.end()), r.dests.end());
            r.kind = kind, r.src_group = src, r.src_node = p, r.region = cell;
            // partial sums: a word per channel; membrane values: a word per neuron (rate 1).
            r.events = kind == "partial_sum" ? double(cell.c1 - cell.c0) : rate * double(cell.volume());
            r.id = int(routes.size());
            routes.push_back(std::move(r));
          }
    }
  }
  // Fan-in split: each partial group sends its box's partial sums (a word per neuron per
  // timestep) to the accumulating group of its box.
  for (const Cluster& c : clusters) {
    if (c.fan_in_slices <= 1) continue;
    for (int s : groups_of[c.id]) {
      if (!groups[s].fan_in_partial(c)) continue;
      int acc = -1;
      for (int d : groups_of[c.id])
        if (groups[d].box == groups[s].box && !groups[d].fan_in_partial(c)) acc = d;
      if (acc < 0) throw Error(fmt::format("mapper: group {} has no accumulating group for its box", s));
      Route r;
      r.kind = "fan_in", r.src_group = s, r.src_node = c.fan_in_node, r.region = groups[s].box;
      r.dests = {acc};
      r.events = double(groups[s].box.volume());
      r.id = int(routes.size());
      routes.push_back(std::move(r));
    }
  }
  // The Output's accumulators go to the host once per input (amortised per timestep).
  for (const Cluster& c : clusters)
    if (g.nodes[c.nodes.back()].op == Op::Output)
      for (int s : groups_of[c.id]) {
        if (groups[s].fan_in_partial(c)) continue;
        Route r;
        r.kind = "result", r.src_group = s, r.src_node = c.nodes.back(), r.region = groups[s].box;
        r.dests = {-1};
        r.events = double(groups[s].box.volume()) / g.timesteps;
        r.id = int(routes.size());
        routes.push_back(std::move(r));
      }
  return routes;
}
}  // namespace spikechip::mapper
