// Place and route (docs/mapper.md): groups onto cores, per phase, by a placement algorithm
// (mapper/placement.hpp) optionally refined by simulated annealing on events x hops (plus, with
// memory controllers, each group's weight reload x hops from its controller); then each route's
// links as the chip's routing function takes them (multicast trees or unicast legs, through the
// host port's or the nearest memory controller's DRAM between phases), the expected link loads,
// and the mapping's summary.
#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "arch/memory_controllers.hpp"
#include "arch/noc/routing.hpp"
#include "base/error.hpp"
#include "mapper/mapper.hpp"
#include "mapper/placement.hpp"

namespace spikechip::mapper {

namespace {

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

// Where a time-multiplexed mapping's off-chip traffic enters the mesh: per core, the router of
// its nearest memory controller (arch::nearest_memory_controller, the chip's rule), or -1 (the host
// port) without controllers; and per group the weight the annealer gives its reload stream.
struct Dram {
  std::vector<int> via;       // [core]
  std::vector<double> reload;  // [group]: weight bytes per inference / (4 bytes x T), in events/step
  int at(int core) const { return core < 0 || via.empty() ? -1 : via[size_t(core)]; }
};

Dram dram_of(const Mapping& m) {
  Dram d;
  if (m.memory_routers.empty()) return d;
  const std::vector<int> near = arch::nearest_memory_controller(m.memory_routers, m.mesh_w, m.mesh_w * m.mesh_h);
  for (int k : near) d.via.push_back(m.memory_routers[size_t(k)]);
  // A reload moves the group's weight bytes once per inference from the controller to its core;
  // spike traffic is weighted in events per timestep, 4 bytes each (the spill convention).
  if (m.phases.size() > 1)
    for (const Group& g : m.groups) d.reload.push_back(double(g.weight_bytes) / (4.0 * std::max(1, m.timesteps)));
  return d;
}

// Hops between a group on `core` in `phase` and another group (or the host, o < 0): a value for a
// group of another phase waits in DRAM behind the host port (or the memory controller nearest
// `core`), so it goes there and back.
int hops_between(int core, int phase, int o, const std::vector<int>& core_of, const std::vector<int>& phase_of, int w,
                 const Dram& dr) {
  const XY p = pos_of(core, w);
  if (o < 0) return manhattan(p, pos_of(-1, w));
  if (phase_of[o] != phase) {
    const XY via = pos_of(dr.at(core), w);
    return manhattan(p, via) + manhattan(via, pos_of(core_of[o], w));
  }
  return manhattan(p, pos_of(core_of[o], w));
}

// A group's share of the objective: its traffic x hops, and with memory controllers its weight
// reload stream x hops from the nearest controller (keeps heavy reloads near the controllers).
double local_cost(const Adjacency& a, const std::vector<int>& core_of, const std::vector<int>& phase_of, int g, int w,
                  const Dram& dr) {
  double s = 0;
  for (const auto& [o, wt] : a.nb[g]) s += wt * hops_between(core_of[g], phase_of[g], o, core_of, phase_of, w, dr);
  if (!dr.reload.empty()) s += dr.reload[size_t(g)] * manhattan(pos_of(core_of[g], w), pos_of(dr.at(core_of[g]), w));
  return s;
}

// Moves stay within a group's phase (each phase owns the whole mesh while it runs).
void anneal(const Mapping& m, std::vector<int>& core_of, const std::vector<int>& phase_of, uint64_t seed,
            int64_t moves_per_group) {
  const int w = m.mesh_w, h = m.mesh_h, ncores = w * h, ng = int(core_of.size());
  if (ng < 2) return;
  Adjacency adj = build_adjacency(m);
  const Dram dr = dram_of(m);
  std::vector<int> group_at(size_t(ncores) * m.phases.size(), -1);  // [phase * ncores + core]
  for (int g = 0; g < ng; ++g) group_at[size_t(phase_of[g]) * ncores + core_of[g]] = g;
  Rng rng(seed);
  auto try_move = [&](int a, int t, double temp, bool apply_always) -> double {
    const size_t base = size_t(phase_of[a]) * ncores;
    int ca = core_of[a], b = group_at[base + t];
    if (t == ca) return 0;
    double before = local_cost(adj, core_of, phase_of, a, w, dr) + (b >= 0 ? local_cost(adj, core_of, phase_of, b, w, dr) : 0);
    core_of[a] = t;
    if (b >= 0) core_of[b] = ca;
    double after = local_cost(adj, core_of, phase_of, a, w, dr) + (b >= 0 ? local_cost(adj, core_of, phase_of, b, w, dr) : 0);
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
// direct, or through DRAM when the two groups run in different phases: the host port's, or the
// memory controller nearest the source's core (where the chip spills it and reads it back from).
int route_legs(const Mapping& m, const Dram& dr, const Route& r, int d, std::array<std::pair<int, int>, 2>& out) {
  const int sc = r.src_group < 0 ? -1 : m.groups[r.src_group].core, dc = d < 0 ? -1 : m.groups[d].core;
  if (r.src_group >= 0 && d >= 0 && m.groups[r.src_group].phase != m.groups[d].phase) {
    const int via = dr.at(sc);
    out = {{{sc, via}, {via, dc}}};
    return 2;
  }
  out[0] = {sc, dc};
  return 1;
}

double route_hops(const Mapping& m, const Dram& dr, const Route& r, int d) {
  std::array<std::pair<int, int>, 2> legs;
  const int n = route_legs(m, dr, r, d, legs);
  double h = 0;
  for (int i = 0; i < n; ++i) h += manhattan(pos_of(legs[i].first, m.mesh_w), pos_of(legs[i].second, m.mesh_w));
  return h;
}

void build_trees_and_loads(Mapping& m, const arch::noc::RoutingFunction& rf, bool unicast) {
  const int w = m.mesh_w;
  const Dram dr = dram_of(m);
  std::map<std::pair<int, int>, double> load;
  for (Route& r : m.routes) {
    std::vector<std::pair<int, int>> links;
    std::array<std::pair<int, int>, 2> legs;
    std::vector<int> direct;  // destination cores reached straight from a source core
    for (int d : r.dests)
      for (int i = 0, n = route_legs(m, dr, r, d, legs); i < n; ++i)
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
  const Dram dr = dram_of(m);
  double hops = 0, traversals = 0, events = 0, c2c = 0;
  std::map<int, std::array<double, 4>> per_layer;  // events, packet-hops, link traversals, destinations
  for (const Route& r : m.routes) {
    double h = 0;
    for (int d : r.dests) h += route_hops(m, dr, r, d);
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
  const Dram dr = dram_of(m);
  double s = 0;
  for (const Route& r : m.routes)
    for (int d : r.dests) s += r.events * route_hops(m, dr, r, d);
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
}  // namespace spikechip::mapper
