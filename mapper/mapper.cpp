#include "mapper/mapper.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <tuple>
#include <cmath>
#include <numeric>
#include <random>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "arch/noc/routing.hpp"
#include "mapper/placement.hpp"
#include "base/error.hpp"

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

int ceil_div(int64_t a, int64_t b) { return int((a + b - 1) / b); }

std::string fmt_bytes(int64_t b) {
  if (b >= (int64_t(1) << 20)) return fmt::format("{:.2f} MiB", double(b) / (1 << 20));
  if (b >= 1024) return fmt::format("{:.1f} KiB", double(b) / 1024);
  return fmt::format("{} B", b);
}

// FNV-1a: stable across platforms and library versions (std::hash is not).
uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : s) {
    h ^= ch;
    h *= 1099511628211ull;
  }
  return h;
}
std::string hex64(uint64_t v) { return fmt::format("{:016x}", v); }

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
    case Op::SDSA:
    case Op::Mean: return Box{out.c0, out.c1, 0, in.h, 0, in.w};
    default: return full_box(in);  // Linear reads the whole (flattened) input
  }
}

struct XY {
  int x, y;
};
XY pos_of(int core, int w) { return core < 0 ? XY{-1, 0} : XY{core % w, core / w}; }
int manhattan(XY a, XY b) { return std::abs(a.x - b.x) + std::abs(a.y - b.y); }

// The links of a unicast leg as the chip's routing function routes it (arch/noc/routing.hpp); the
// host port hangs west of core (0,0).
void leg_path(const arch::noc::RoutingFunction& rf, int from, int to, int w, std::vector<std::pair<int, int>>& out) {
  if (from < 0) out.push_back({-1, 0});
  arch::noc::route_links(rf, w, from < 0 ? 0 : from, {to < 0 ? 0 : to}, out);
  if (to < 0) out.push_back({0, -1});
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Clusters

std::vector<Cluster> build_clusters(const Graph& g) {
  const int n = int(g.nodes.size());
  std::vector<int> parent(n);
  std::iota(parent.begin(), parent.end(), 0);
  auto find = [&](int a) {
    while (parent[a] != a) a = parent[a] = parent[parent[a]];
    return a;
  };
  auto unite = [&](int a, int b) { parent[find(a)] = find(b); };
  for (int i = 0; i < n; ++i) {
    const Node& nd = g.nodes[i];
    // A LIF / Output reads its input membrane locally; an Add reads all its operands locally.
    // A Mean is a reduction: its input stream stays where it is and sends partial sums.
    if (nd.op == Op::LIF || nd.op == Op::Output || nd.op == Op::Add)
      for (int in : nd.inputs) unite(i, in);
  }
  std::map<int, std::vector<int>> members;
  for (int i = 0; i < n; ++i)
    if (g.nodes[i].op != Op::Input) members[find(i)].push_back(i);
  // Consumers of each node, to know which membranes need their own word.
  std::vector<std::vector<int>> consumers(n);
  for (int i = 0; i < n; ++i)
    for (int in : g.nodes[i].inputs) consumers[in].push_back(i);

  std::vector<Cluster> out;
  for (auto& [root, nodes] : members) {
    Cluster c;
    c.nodes = nodes;
    c.shape = g.nodes[nodes.front()].shape;
    int64_t words = 0, weight = 0;
    for (int i : nodes) {
      const Node& nd = g.nodes[i];
      if (!(nd.shape == c.shape))
        throw Error(fmt::format("mapper: node '{}' ({}x{}x{}) must share cores with '{}' ({}x{}x{}) but "
                                "the shapes differ; the graph is not valid (run 'spikechip model info')",
                                nd.name, nd.shape.c, nd.shape.h, nd.shape.w, g.nodes[nodes.front()].name,
                                c.shape.c, c.shape.h, c.shape.w));
      switch (nd.op) {
        case Op::Conv2d:
        case Op::Linear: {
          // A weight layer whose only consumers are Adds of its own cluster accumulates straight
          // into the Add's word (the residual accumulator) and needs no word of its own.
          bool into_add = !consumers[i].empty();
          for (int k : consumers[i])
            if (g.nodes[k].op != Op::Add || find(k) != root) into_add = false;
          if (!into_add) words += 1;
          const model::Shape& in = g.input_shape(nd);
          int64_t fan_in = nd.op == Op::Conv2d ? int64_t(in.c / nd.groups) * nd.kh * nd.kw : in.size();
          weight += fan_in + 4 + 1;  // int8 weights, int32 bias, u8 shift per output channel
          break;
        }
        case Op::LIF:
          if (g.timesteps > 1) words += 1;  // V carried across timesteps (zero at t=0 otherwise)
          weight += 4;                      // int32 threshold per channel
          break;
        case Op::SDSA: {
          words += 1;
          c.sdsa = true;
          c.heads = nd.heads;
          int64_t d = nd.shape.c / nd.heads, tokens = int64_t(nd.shape.h) * nd.shape.w;
          // KV coincidence matrix d x d, plus q/k/v spike bits of all tokens of the head.
          c.mem_bytes_per_head = 4 * (d * d + (3 * d * tokens + 31) / 32);
          break;
        }
        default: words += 1;  // Add, Mean, Output accumulators
      }
    }
    c.mem_bytes_per_neuron = words * 4;
    c.weight_bytes_per_channel = weight;
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(), [](const Cluster& a, const Cluster& b) { return a.nodes[0] < b.nodes[0]; });
  for (size_t i = 0; i < out.size(); ++i) out[i].id = int(i);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Partition

namespace {
std::string cluster_label(const Graph& g, const Cluster& c) {
  std::string s = "'" + g.nodes[c.nodes.front()].name + "'";
  if (c.nodes.size() > 1) s += fmt::format(" (with {} co-located node(s))", c.nodes.size() - 1);
  return s;
}

struct Split {
  int cc = 0, th = 0, tw = 0, nc = 0, ty = 0, tx = 0;
  int64_t groups() const { return int64_t(nc) * ty * tx; }
};

int64_t group_membrane(const Cluster& c, int cc, int th, int tw) {
  int64_t heads = c.sdsa ? cc / (c.shape.c / c.heads) : 0;
  return int64_t(cc) * th * tw * c.mem_bytes_per_neuron + heads * c.mem_bytes_per_head;
}

}  // namespace

int64_t group_membrane_bytes(const Cluster& c, const Box& b) {
  return group_membrane(c, b.c1 - b.c0, b.y1 - b.y0, b.x1 - b.x0);
}

namespace {
Split choose_split(const Graph& g, const Cluster& c, const arch::CoreConfig& core, const std::string& policy) {
  const int C = c.shape.c, H = c.shape.h, W = c.shape.w;
  const int unit = c.sdsa ? C / c.heads : 1;  // SDSA: whole heads
  std::optional<Split> best;
  auto better = [&](const Split& a, const Split& b) {
    int64_t ha = int64_t(a.th) + a.tw, hb = int64_t(b.th) + b.tw;
    if (policy == "channels-first")
      return std::tuple(int64_t(a.ty) * a.tx, a.groups(), ha) < std::tuple(int64_t(b.ty) * b.tx, b.groups(), hb);
    return std::tuple(a.groups(), int64_t(a.ty) * a.tx, ha) < std::tuple(b.groups(), int64_t(b.ty) * b.tx, hb);
  };
  int prev_cc = -1;
  for (int nc = 1; nc <= C / unit; ++nc) {
    int cc = ceil_div(C / unit, nc) * unit;
    if (cc == prev_cc) continue;
    prev_cc = cc;
    if (int64_t(cc) * c.weight_bytes_per_channel > core.weight_sram_bytes) continue;
    Split s;
    s.cc = cc, s.nc = ceil_div(C, cc);
    if (c.sdsa) {  // all tokens of a head on one core
      if (group_membrane(c, cc, H, W) > core.membrane_sram_bytes) continue;
      s.th = H, s.tw = W, s.ty = 1, s.tx = 1;
    } else {
      int64_t max_pix = core.membrane_sram_bytes / (int64_t(cc) * std::max<int64_t>(1, c.mem_bytes_per_neuron));
      if (max_pix < 1) continue;
      std::optional<Split> bs;
      for (int ty = 1; ty <= H; ++ty) {
        int th = ceil_div(H, ty);
        if (ty > 1 && th == ceil_div(H, ty - 1)) continue;
        int64_t tw_max = std::min<int64_t>(W, max_pix / th);
        if (tw_max < 1) continue;
        int tx = ceil_div(W, tw_max), tw = ceil_div(W, tx);
        Split t = s;
        t.th = th, t.tw = tw, t.ty = ceil_div(H, th), t.tx = ceil_div(W, tw);
        if (!bs || better(t, *bs)) bs = t;
      }
      if (!bs) continue;
      s = *bs;
    }
    if (!best || better(s, *best)) best = s;
  }
  if (!best) {
    int64_t w_need = int64_t(unit) * c.weight_bytes_per_channel;
    int64_t m_need = c.sdsa ? group_membrane(c, unit, H, W) : c.mem_bytes_per_neuron;
    std::string what;
    if (w_need > core.weight_sram_bytes)
      what += fmt::format("needs {} of weight SRAM for one output channel{} but a core has {} (short by {}); ",
                          fmt_bytes(w_need), c.sdsa ? " head" : "", fmt_bytes(core.weight_sram_bytes),
                          fmt_bytes(w_need - core.weight_sram_bytes));
    if (m_need > core.membrane_sram_bytes)
      what += fmt::format("needs {} of membrane SRAM for its smallest group but a core has {} (short by {}); ",
                          fmt_bytes(m_need), fmt_bytes(core.membrane_sram_bytes),
                          fmt_bytes(m_need - core.membrane_sram_bytes));
    throw Error(fmt::format("mapper: layer {} does not fit one core even at its smallest group: {}"
                            "use a chip with larger core.weight_sram_bytes / core.membrane_sram_bytes",
                            cluster_label(g, c), what));
  }
  return *best;
}
}  // namespace

std::vector<Group> partition(const Graph& g, std::vector<Cluster>& clusters, const arch::ChipConfig& chip,
                             const MapOptions& opt) {
  if (opt.split != "min-cores" && opt.split != "channels-first")
    throw UsageError("mapper: split policy '" + opt.split + "' is not one of: min-cores, channels-first");
  // The number of groups is known before any is built: a graph whose shapes ask for more than
  // the mapper can place and route in reasonable time (routes grow with the product of producer
  // and consumer groups) is refused here, not after gigabytes of groups (issue 18).
  std::vector<Split> splits;
  int64_t total = 0;
  for (Cluster& c : clusters) {
    splits.push_back(choose_split(g, c, chip.core, opt.split));
    const Split& s = splits.back();
    total += s.groups();
  }
  if (total > kMaxGroups)
    throw Error(fmt::format("mapper: model '{}' would need {} groups (one core's share each) on chip '{}', more than "
                            "the mapper handles ({}; the largest shipped example uses 797): use cores with larger "
                            "core.membrane_sram_bytes / core.weight_sram_bytes, or check the model's shapes",
                            g.name, total, chip.name, kMaxGroups));
  std::vector<Group> groups;
  for (Cluster& c : clusters) {
    const Split& s = splits[size_t(&c - clusters.data())];
    c.channels_per_group = s.cc, c.tile_h = s.th, c.tile_w = s.tw;
    c.n_channel_chunks = s.nc, c.n_tiles_y = s.ty, c.n_tiles_x = s.tx;
    for (int ci = 0; ci < s.nc; ++ci)
      for (int yi = 0; yi < s.ty; ++yi)
        for (int xi = 0; xi < s.tx; ++xi) {
          Group gr;
          gr.id = int(groups.size());
          gr.cluster = c.id;
          gr.box = Box{ci * s.cc, std::min(c.shape.c, (ci + 1) * s.cc), yi * s.th,
                       std::min(c.shape.h, (yi + 1) * s.th), xi * s.tw, std::min(c.shape.w, (xi + 1) * s.tw)};
          const Box& b = gr.box;
          gr.membrane_bytes = group_membrane_bytes(c, b);
          gr.weight_bytes = int64_t(b.c1 - b.c0) * c.weight_bytes_per_channel;
          groups.push_back(gr);
        }
  }
  return groups;
}

// ---------------------------------------------------------------------------------------------
// Routes (destination sets; trees are built after placement)

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
        std::string kk = pn.op == Op::Input ? "pixel" : pn.op == Op::LIF ? "spike" : kn.op == Op::Mean ? "partial_sum" : "";
        if (kk.empty() || (kk == "spike" && !(kn.op == Op::Conv2d || kn.op == Op::Linear || kn.op == Op::SDSA)))
          throw Error(fmt::format("mapper: node '{}' ({}) reads '{}' ({}) from another core, which the execution "
                                  "model does not support (docs/mapper.md)",
                                  kn.name, model::op_name(kn.op), pn.name, model::op_name(pn.op)));
        kind = kk;
        for (int d : groups_of[cluster_of[k]]) {
          Box nb = need_box(g, kn, int(ii), groups[d].box);
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
      for (int s : groups_of[cluster_of[p]]) sources.push_back({s, groups[s].box});
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
            r.events = kind == "partial_sum" ? double(cell.c1 - cell.c0) : rate * double(cell.volume());
            r.id = int(routes.size());
            routes.push_back(std::move(r));
          }
    }
  }
  // The Output's accumulators go to the host once per input (amortised per timestep).
  for (const Cluster& c : clusters)
    if (g.nodes[c.nodes.back()].op == Op::Output)
      for (int s : groups_of[c.id]) {
        Route r;
        r.kind = "result", r.src_group = s, r.src_node = c.nodes.back(), r.region = groups[s].box;
        r.dests = {-1};
        r.events = double(groups[s].box.volume()) / g.timesteps;
        r.id = int(routes.size());
        routes.push_back(std::move(r));
      }
  return routes;
}

// ---------------------------------------------------------------------------------------------
// Placement

namespace {
struct Adjacency {
  std::vector<std::vector<std::pair<int, double>>> nb;  // per group: (other group or -1 host, weight)
};

Adjacency build_adjacency(const Mapping& m) {
  std::vector<std::map<int, double>> acc(m.groups.size());
  for (const Route& r : m.routes)
    for (int d : r.dests) {
      if (r.src_group >= 0) acc[r.src_group][d] += r.events;
      if (d >= 0) acc[d][r.src_group] += r.events;
    }
  Adjacency a;
  a.nb.resize(m.groups.size());
  for (size_t i = 0; i < acc.size(); ++i) a.nb[i].assign(acc[i].begin(), acc[i].end());
  return a;
}

// Hops between a group on `core` in `phase` and another group (or the host, o < 0): a value for a
// group of another phase waits in DRAM behind the host port, so it goes there and back.
int hops_between(XY p, int phase, int o, const std::vector<int>& core_of, const std::vector<int>& phase_of, int w) {
  const XY host = pos_of(-1, w);
  if (o < 0) return manhattan(p, host);
  if (phase_of[o] != phase) return manhattan(p, host) + manhattan(host, pos_of(core_of[o], w));
  return manhattan(p, pos_of(core_of[o], w));
}

double local_cost(const Adjacency& a, const std::vector<int>& core_of, const std::vector<int>& phase_of, int g, int w) {
  XY p = pos_of(core_of[g], w);
  double s = 0;
  for (const auto& [o, wt] : a.nb[g]) s += wt * hops_between(p, phase_of[g], o, core_of, phase_of, w);
  return s;
}

// Moves stay within a group's phase (each phase owns the whole mesh while it runs).
void anneal(const Mapping& m, std::vector<int>& core_of, const std::vector<int>& phase_of, uint64_t seed,
            int64_t moves_per_group) {
  const int w = m.mesh_w, h = m.mesh_h, ncores = w * h, ng = int(core_of.size());
  if (ng < 2) return;
  Adjacency adj = build_adjacency(m);
  std::vector<int> group_at(size_t(ncores) * m.phases.size(), -1);  // [phase * ncores + core]
  for (int g = 0; g < ng; ++g) group_at[size_t(phase_of[g]) * ncores + core_of[g]] = g;
  Rng rng(seed);
  auto try_move = [&](int a, int t, double temp, bool apply_always) -> double {
    const size_t base = size_t(phase_of[a]) * ncores;
    int ca = core_of[a], b = group_at[base + t];
    if (t == ca) return 0;
    double before = local_cost(adj, core_of, phase_of, a, w) + (b >= 0 ? local_cost(adj, core_of, phase_of, b, w) : 0);
    core_of[a] = t;
    if (b >= 0) core_of[b] = ca;
    double after = local_cost(adj, core_of, phase_of, a, w) + (b >= 0 ? local_cost(adj, core_of, phase_of, b, w) : 0);
    double delta = after - before;
    bool accept = apply_always || delta <= 0 || (temp > 0 && rng.unit() < std::exp(-delta / temp));
    if (accept && !apply_always) {
      group_at[base + t] = a, group_at[base + ca] = b;
    } else {
      core_of[a] = ca;
      if (b >= 0) core_of[b] = t;
    }
    return delta;
  };
  auto pick_target = [&](int a, int radius) {
    XY p = pos_of(core_of[a], w);
    int x = std::clamp(p.x + int(rng.below(2 * radius + 1)) - radius, 0, w - 1);
    int y = std::clamp(p.y + int(rng.below(2 * radius + 1)) - radius, 0, h - 1);
    return y * w + x;
  };
  // Initial temperature: the mean uphill delta of random moves (measured, then undone).
  double sum = 0;
  int cnt = 0;
  for (int i = 0; i < 200; ++i) {
    int a = int(rng.below(ng));
    double d = try_move(a, pick_target(a, std::max(w, h)), 0, true);
    if (d > 0) sum += d, ++cnt;
  }
  double t0 = cnt ? sum / cnt : 1.0, t_end = t0 * 1e-4;
  const int64_t total = std::max<int64_t>(1000, moves_per_group * ng);
  const double cool = std::pow(t_end / t0, 1.0 / double(total));
  double temp = t0;
  const int rmax = std::max(w, h);
  for (int64_t i = 0; i < total; ++i, temp *= cool) {
    int a = int(rng.below(ng));
    // The move window shrinks with the temperature: long jumps early, local polishing late.
    int radius = std::max(1, int(std::lround(rmax * std::sqrt(temp / t0))));
    try_move(a, pick_target(a, radius), temp, false);
  }
}

// The (from core, to core) legs a value takes from the route's source to destination d (-1: host):
// direct, or through the host port's DRAM when the two groups run in different phases.
int route_legs(const Mapping& m, const Route& r, int d, std::array<std::pair<int, int>, 2>& out) {
  const int sc = r.src_group < 0 ? -1 : m.groups[r.src_group].core, dc = d < 0 ? -1 : m.groups[d].core;
  if (r.src_group >= 0 && d >= 0 && m.groups[r.src_group].phase != m.groups[d].phase) {
    out = {{{sc, -1}, {-1, dc}}};
    return 2;
  }
  out[0] = {sc, dc};
  return 1;
}

double route_hops(const Mapping& m, const Route& r, int d) {
  std::array<std::pair<int, int>, 2> legs;
  const int n = route_legs(m, r, d, legs);
  double h = 0;
  for (int i = 0; i < n; ++i) h += manhattan(pos_of(legs[i].first, m.mesh_w), pos_of(legs[i].second, m.mesh_w));
  return h;
}

void build_trees_and_loads(Mapping& m, const arch::noc::RoutingFunction& rf, bool unicast) {
  const int w = m.mesh_w;
  std::map<std::pair<int, int>, double> load;
  for (Route& r : m.routes) {
    std::vector<std::pair<int, int>> links;
    std::array<std::pair<int, int>, 2> legs;
    std::vector<int> direct;  // destination cores reached straight from a source core
    for (int d : r.dests)
      for (int i = 0, n = route_legs(m, r, d, legs); i < n; ++i)
        if (unicast || n > 1 || legs[i].first < 0 || legs[i].second < 0) leg_path(rf, legs[i].first, legs[i].second, w, links);
        else direct.push_back(legs[i].second);
    if (!unicast) {  // multicast: the network's tree (XY forks, a one-destination branch by rf), once per link
      arch::noc::route_links(rf, w, r.src_group < 0 ? 0 : m.groups[r.src_group].core, direct, links);
      std::sort(links.begin(), links.end());
      links.erase(std::unique(links.begin(), links.end()), links.end());
    }
    for (const auto& l : links) load[l] += r.events;
    r.links = std::move(links);
  }
  m.links.clear();
  for (const auto& [l, v] : load) {
    LinkLoad ll{l.first, l.second, v, false};
    if (l.first >= 0 && l.second >= 0) {
      XY a = pos_of(l.first, w), b = pos_of(l.second, w);
      ll.chip_to_chip = a.x / m.chip_w != b.x / m.chip_w || a.y / m.chip_h != b.y / m.chip_h;
    }
    m.links.push_back(ll);
  }
}

void build_summary(Mapping& m, const std::string& placement) {
  nlohmann::json s;
  s["placement"] = placement;
  s["cores_total"] = m.mesh_w * m.mesh_h;
  std::set<int> used;
  for (const Group& g : m.groups) used.insert(g.core);
  s["cores_used"] = used.size();
  s["groups"] = m.groups.size();
  int64_t reload = 0;
  double spill = 0;
  nlohmann::json ph = nlohmann::json::array();
  for (size_t p = 0; p < m.phases.size(); ++p) {
    reload += m.phases[p].reload_bytes, spill += m.phases[p].spill_in_bytes;
    ph.push_back({{"phase", p}, {"groups", m.phases[p].groups}, {"dram_reload_bytes", m.phases[p].reload_bytes},
                  {"dram_spill_in_bytes", m.phases[p].spill_in_bytes}});
  }
  s["phases"] = m.phases.size();
  // Per inference: 0 unless time-multiplexed (then every phase loads its weights once per input).
  s["dram_reload_bytes_per_inference"] = reload;
  s["dram_spill_bytes_per_inference"] = spill;
  if (m.phases.size() > 1) s["phase_table"] = ph;
  double mem_sum = 0, w_sum = 0, mem_max = 0, w_max = 0;
  for (const Group& g : m.groups) {
    double mu = double(g.membrane_bytes) / m.membrane_sram_bytes, wu = double(g.weight_bytes) / m.weight_sram_bytes;
    mem_sum += mu, w_sum += wu, mem_max = std::max(mem_max, mu), w_max = std::max(w_max, wu);
  }
  double ng = std::max<double>(1, m.groups.size());
  s["membrane_util_mean"] = mem_sum / ng, s["membrane_util_max"] = mem_max;
  s["weight_util_mean"] = w_sum / ng, s["weight_util_max"] = w_max;
  // Weight replication: bytes stored over all groups vs one copy per cluster channel.
  int64_t stored = 0, unique = 0;
  for (const Group& g : m.groups) stored += g.weight_bytes;
  for (const Cluster& c : m.clusters) unique += int64_t(c.shape.c) * c.weight_bytes_per_channel;
  s["weight_bytes_stored"] = stored, s["weight_bytes_unique"] = unique;
  s["weight_replication"] = unique ? double(stored) / double(unique) : 1.0;
  double hops = 0, traversals = 0, events = 0, c2c = 0;
  std::map<int, std::array<double, 4>> per_layer;  // events, packet-hops, link traversals, destinations
  for (const Route& r : m.routes) {
    double h = 0;
    for (int d : r.dests) h += route_hops(m, r, d);
    auto& pl = per_layer[r.src_node];
    pl[0] += r.events, pl[1] += r.events * h, pl[2] += r.events * double(r.links.size()),
        pl[3] += r.events * double(r.dests.size());
    events += r.events, hops += r.events * h, traversals += r.events * double(r.links.size());
  }
  for (const LinkLoad& l : m.links)
    if (l.chip_to_chip) c2c += l.load;
  double max_load = 0;
  for (const LinkLoad& l : m.links) max_load = std::max(max_load, l.load);
  s["packets_per_step"] = events;
  s["traffic_hops"] = hops;
  s["link_traversals"] = traversals;
  s["chip_to_chip_traversals"] = c2c;
  s["max_link_load"] = max_load;
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& [node, v] : per_layer)
    layers.push_back({{"node", m.node_names[node]}, {"packets_per_step", v[0]}, {"traffic_hops", v[1]},
                      {"link_traversals", v[2]}, {"mean_hops", v[3] > 0 ? v[1] / v[3] : 0.0}});
  s["layers"] = layers;
  m.summary = s;
}
}  // namespace

double traffic_hops(const Mapping& m) {
  double s = 0;
  for (const Route& r : m.routes)
    for (int d : r.dests) s += r.events * route_hops(m, r, d);
  return s;
}

void place_and_route(Mapping& m, const std::string& placement, uint64_t seed, bool unicast, int64_t moves_per_group,
                     const arch::noc::RoutingFunction& routing) {
  const int ncores = m.mesh_w * m.mesh_h, ng = int(m.groups.size());
  std::vector<int> core_of(ng), phase_of(ng);
  std::vector<std::vector<int>> members(m.phases.size());  // group ids of each phase, ascending
  for (const Group& g : m.groups) {
    if (g.phase < 0 || size_t(g.phase) >= m.phases.size())
      throw Error(fmt::format("mapper: group {} is in phase {} but the mapping has {} phase(s)", g.id, g.phase, m.phases.size()));
    phase_of[g.id] = g.phase;
    members[size_t(g.phase)].push_back(g.id);
  }
  for (size_t p = 0; p < members.size(); ++p)
    if (int64_t(members[p].size()) > ncores)
      throw Error(fmt::format("mapper: phase {} has {} groups but the mesh has {} cores", p, members[p].size(), ncores));
  const PlacementAlgorithm& algo = placement_algorithm(placement);
  Rng rng(seed);
  const Adjacency adj = build_adjacency(m);
  for (const auto& mem : members) {
    PlacementContext ctx{m, mem, adj.nb, seed, rng};
    algo.place(ctx, core_of);
  }
  if (algo.anneal) anneal(m, core_of, phase_of, seed, moves_per_group);
  for (int i = 0; i < ng; ++i) m.groups[i].core = core_of[i];
  build_trees_and_loads(m, routing, unicast);
  build_summary(m, placement);
}

// ---------------------------------------------------------------------------------------------
// Time multiplexing

void assign_phases(const Graph& g, Mapping& m, int cores) {
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
  std::vector<int> phase_of_comp(static_cast<size_t>(ncomp), 0);
  m.phases.assign(1, Phase{});
  int64_t in_phase = 0;
  while (!ready.empty()) {
    const int k = ready.begin()->second;
    ready.erase(ready.begin());
    if (comp_groups[size_t(k)] > cores) {
      const Cluster& c = m.clusters[size_t(comp_min[size_t(k)])];
      int members = 0;
      for (int x = 0; x < nc; ++x) members += comp[size_t(x)] == k;
      throw Error(fmt::format(
          "mapper: --time-multiplex cannot split layer {} and the {} layer(s) exchanging values with it within a "
          "timestep: together they need {} cores but the chip has {} (short by {}); use more chips (--chips) or "
          "larger SRAM", cluster_label(g, c), members - 1, comp_groups[size_t(k)], cores, comp_groups[size_t(k)] - cores));
    }
    if (in_phase + comp_groups[size_t(k)] > cores) m.phases.push_back(Phase{}), in_phase = 0;
    phase_of_comp[size_t(k)] = int(m.phases.size()) - 1;
    in_phase += comp_groups[size_t(k)];
    for (int u : cout_[size_t(k)])
      if (--indeg[size_t(u)] == 0) ready.insert({comp_min[size_t(u)], u});
  }
  for (Group& gr : m.groups) {
    gr.phase = phase_of_comp[size_t(comp[size_t(gr.cluster)])];
    Phase& p = m.phases[size_t(gr.phase)];
    p.groups++;
    p.reload_bytes += gr.weight_bytes;
  }
}

namespace {
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
}  // namespace

// ---------------------------------------------------------------------------------------------

std::string structure_hash(const Graph& g) {
  std::ostringstream os;
  os << g.timesteps << ';';
  for (const Node& n : g.nodes) {
    os << n.name << ',' << model::op_name(n.op) << ',' << n.shape.c << 'x' << n.shape.h << 'x' << n.shape.w;
    for (int i : n.inputs) os << ',' << i;
    os << ',' << n.kh << n.kw << ',' << n.sy << n.sx << ',' << n.py << n.px << ',' << n.groups << ','
       << n.heads << ',' << n.count << ';';
  }
  return hex64(fnv1a(os.str()));
}

std::string chip_hash(const arch::ChipConfig& c) {
  nlohmann::json j = chip_config_to_json(c);
  j.erase("description");
  // Off-chip memory timing changes how long a time-multiplexed run takes, never the mapping.
  j.erase("dram");
  // The core model changes timing and energy on the same SRAMs, never the mapping.
  j["core"].erase("type");
  return hex64(fnv1a(j.dump()));
}

Mapping map_model(const Graph& g, const arch::ChipConfig& chip_in, const MapOptions& opt) {
  if (!(opt.default_rate >= 0 && opt.default_rate <= 1))
    throw UsageError(fmt::format("mapper: --rate {} is out of range 0..1", opt.default_rate));
  arch::ChipConfig chip = chip_in;
  Mapping m;
  m.clusters = build_clusters(g);
  m.groups = partition(g, m.clusters, chip, opt);
  const int64_t need = int64_t(m.groups.size());
  const int per_chip = chip.mesh.width * chip.mesh.height;
  int nchips = opt.chips;
  if (opt.chips == -1) nchips = std::max<int>(chip.chips.chips_x * chip.chips.chips_y, ceil_div(need, per_chip));
  if (nchips > 0) {
    int cx = int(std::ceil(std::sqrt(double(nchips))));
    chip.chips.chips_x = cx, chip.chips.chips_y = ceil_div(nchips, cx);
    if (int64_t(chip.global_width()) * chip.global_height() > (1 << 20))
      throw Error(fmt::format("mapper: {} chips of {} cores exceed the 1048576-core limit", nchips, per_chip));
  }
  m.phases.assign(1, Phase{int(need), 0, 0});
  if (need > chip.num_cores() && opt.time_multiplex) {
    assign_phases(g, m, chip.num_cores());
  } else if (need > chip.num_cores()) {
    // Name the first layer (in graph order) that no longer finds free cores.
    int64_t used = 0;
    const Cluster* culprit = nullptr;
    int64_t culprit_groups = 0, culprit_mem = 0, culprit_w = 0;
    for (const Cluster& c : m.clusters) {
      int64_t n = int64_t(c.n_channel_chunks) * c.n_tiles_y * c.n_tiles_x;
      if (!culprit && used + n > chip.num_cores()) {
        culprit = &c, culprit_groups = n;
        for (const Group& gr : m.groups)
          if (gr.cluster == c.id) culprit_mem += gr.membrane_bytes, culprit_w += gr.weight_bytes;
      }
      used += n;
    }
    int64_t mem_total = 0, w_total = 0;
    for (const Group& gr : m.groups) mem_total += gr.membrane_bytes, w_total += gr.weight_bytes;
    int64_t cap = int64_t(chip.num_cores());
    throw Error(fmt::format(
        "mapper: model '{}' does not fit chip '{}': it needs {} cores ({} groups) but the chip has {} "
        "(short by {} cores). Layer {} is the first that finds no free core: it needs {} cores "
        "({} membrane, {} weights incl. replication). In total the model needs {} membrane SRAM and {} "
        "weight SRAM, the chip has {} and {} (short by {} / {}). To fix: a larger mesh, larger "
        "core.membrane_sram_bytes / core.weight_sram_bytes, or more chips (--chips auto would use {}), or --time-multiplex (layers take turns on the cores, weights reloaded from DRAM)",
        g.name, chip.name, need, need, cap, need - cap, culprit ? cluster_label(g, *culprit) : "?", culprit_groups,
        fmt_bytes(culprit_mem), fmt_bytes(culprit_w), fmt_bytes(mem_total), fmt_bytes(w_total),
        fmt_bytes(cap * chip.core.membrane_sram_bytes), fmt_bytes(cap * chip.core.weight_sram_bytes),
        fmt_bytes(std::max<int64_t>(0, mem_total - cap * chip.core.membrane_sram_bytes)),
        fmt_bytes(std::max<int64_t>(0, w_total - cap * chip.core.weight_sram_bytes)), ceil_div(need, per_chip)));
  }
  m.model_name = g.name;
  m.model_hash = structure_hash(g);
  m.chip_name = chip.name;
  m.chip_hash = chip_hash(chip);
  m.mesh_w = chip.global_width(), m.mesh_h = chip.global_height();
  m.chip_w = chip.mesh.width, m.chip_h = chip.mesh.height;
  m.membrane_sram_bytes = chip.core.membrane_sram_bytes;
  m.weight_sram_bytes = chip.core.weight_sram_bytes;
  for (const Node& n : g.nodes) m.node_names.push_back(n.name);
  m.options = {{"placement", opt.placement}, {"seed", opt.seed},          {"default_rate", opt.default_rate},
               {"unicast", opt.unicast},     {"split", opt.split},        {"chips_x", chip.chips.chips_x},
               {"chips_y", chip.chips.chips_y}, {"measured_rates", opt.rates.size()},
               {"anneal_moves_per_group", opt.anneal_moves_per_group}, {"time_multiplex", opt.time_multiplex}};
  m.routes = build_routes(g, m.clusters, m.groups, opt);
  phase_spills(m, g.timesteps);
  place_and_route(m, opt.placement, opt.seed, opt.unicast, opt.anneal_moves_per_group,
                  arch::noc::routing_function(chip.router.routing));
  return m;
}

}  // namespace spikechip::mapper
