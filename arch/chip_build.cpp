// Set-up of a chip from a mapping (docs/architecture.md, "Chip"): validates the mapping against
// the graph, builds the network and cores, the groups with their slots (one per node of the
// cluster) and ports (one per remote source node), routes' destination cores per phase, host
// ports and the emissions (which route each value of a group leaves on).
#include "arch/chip_engine.hpp"
#include "arch/chip_ops.hpp"
#include "arch/core/core_registry.hpp"
#include "arch/noc/routing.hpp"

namespace spikechip::arch::detail {

namespace {
int bits_for(int64_t n) {
  int b = 1;
  while ((int64_t(1) << b) < n) ++b;
  return b;
}

DataKind kind_of(const std::string& k) {
  if (k == "spike") return DataKind::Spike;
  if (k == "pixel") return DataKind::Pixel;
  if (k == "partial_sum") return DataKind::PartialSum;
  if (k == "membrane") return DataKind::Membrane;
  if (k == "fan_in") return DataKind::FanIn;
  if (k == "result") return DataKind::Result;
  throw Error("mapping: unknown route kind '" + k + "'");
}
}  // namespace

void ChipEngine::build() {
  if (m.node_names.size() != g.nodes.size())
    throw Error(fmt::format("mapping for model '{}' has {} nodes but model '{}' has {}: re-run the mapper",
                            m.model_name, m.node_names.size(), g.name, g.nodes.size()));
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (m.node_names[i] != g.nodes[i].name)
      throw Error(fmt::format("mapping node {} is '{}' but the model has '{}': the mapping belongs to another "
                              "model, re-run the mapper", i, m.node_names[i], g.nodes[i].name));
  net_params = noc::NetworkParams::from_chip(cfg);
  net_params.width = m.mesh_w, net_params.height = m.mesh_h, net_params.chip_width = m.chip_w, net_params.chip_height = m.chip_h;
  make_network();
  const int ncores = m.mesh_w * m.mesh_h;
  for (int i = 0; i < ncores; ++i) cores.push_back(make_core_model(i, cfg.core));
  groups_on_core.assign(ncores, {});

  const auto own_plans = make_conv_plans(g);  // (mutable here: see the end)
  plans = own_plans;
  val.resize(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (op_rules(n.op).membrane_tensor) val[i].assign(size_t(n.shape.size()), 0);
  }

  route_cores.resize(m.routes.size());
  route_later.resize(m.routes.size());
  route_phase_cores.resize(m.routes.size());
  route_fanout.resize(m.routes.size());
  auto sort_unique = [](std::vector<int>& v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
  };
  phase_groups.assign(std::max<size_t>(1, m.phases.size()), {});
  for (const auto& mg : m.groups) {
    if (mg.phase < 0 || size_t(mg.phase) >= phase_groups.size())
      throw Error(fmt::format("mapping: group {} is in phase {} but the mapping has {} phase(s)", mg.id, mg.phase, phase_groups.size()));
    phase_groups[size_t(mg.phase)].push_back(mg.id);
  }
  mem_layout = offchip_layout(m);
  for (const auto& r : m.routes) {
    if (r.id < 0 || size_t(r.id) >= m.routes.size()) throw Error("mapping: route ids are not 0..n-1");
    const int sp = r.src_group < 0 ? 0 : m.groups.at(size_t(r.src_group)).phase;
    for (int d : r.dests) {
      if (d < 0) { route_cores[r.id].push_back(0); continue; }  // host port at core 0's router
      if (size_t(d) >= m.groups.size()) throw Error(fmt::format("mapping: route {} names group {} which does not exist", r.id, d));
      const int dp = m.groups[d].phase;
      if (dp < sp || (r.src_group < 0 && dp != 0))
        throw Error(fmt::format("mapping: route {} goes from phase {} to group {} of phase {}: values only flow to the "
                                "same or a later phase (the host's input to phase 0); re-run the mapper", r.id, sp, d, dp));
      if (dp == sp) route_cores[r.id].push_back(m.groups[d].core);
      else route_phase_cores[r.id][dp].push_back(m.groups[d].core);
    }
    sort_unique(route_cores[r.id]);
    route_fanout[r.id] = route_cores[r.id].size();
    for (auto& [p, cs] : route_phase_cores[r.id]) {
      sort_unique(cs);
      route_later[r.id].push_back(p);
      route_fanout[r.id] = std::max(route_fanout[r.id], cs.size());
    }
  }

  // Host ports on the west edge; each pixel route enters at the port nearest (in rows) to its
  // destinations, so the frame is spread over the ports the way a host would split it.
  const int nports = std::min(cfg.host.ports, m.mesh_h);
  for (int i = 0; i < nports; ++i) host_port_core.push_back((i * m.mesh_h / nports) * m.mesh_w);
  route_port.assign(m.routes.size(), -1);
  for (const auto& r : m.routes) {
    if (r.src_group >= 0) continue;
    int64_t best = -1;
    for (int i = 0; i < nports; ++i) {
      int64_t d = 0;
      for (int c : route_cores[r.id]) d += std::abs(c / m.mesh_w - host_port_core[i] / m.mesh_w);
      if (best < 0 || d < best) best = d, route_port[r.id] = i;
    }
  }
  port_free.assign(size_t(nports), 0);
  route_tree.resize(m.routes.size());
  for (const auto& r : m.routes)
    route_tree[r.id] = tree_cost(r.src_group < 0 ? host_port_core[size_t(route_port[r.id])] : m.groups.at(r.src_group).core,
                                 route_cores[r.id]);

  groups.resize(m.groups.size());
  for (const auto& mg : m.groups) {
    GroupState& G = groups[mg.id];
    G.id = mg.id, G.cluster = mg.cluster, G.core = mg.core, G.phase = mg.phase, G.box = mg.box;
    if (mg.core < 0 || mg.core >= ncores) throw Error(fmt::format("mapping: group {} is on core {}, outside the {}x{} mesh", mg.id, mg.core, m.mesh_w, m.mesh_h));
    G.slice = model::Slice{mg.box.c0, mg.box.c1, mg.box.y0, mg.box.y1, mg.box.x0, mg.box.x1};
    groups_on_core[mg.core].push_back(mg.id);
    const Cluster& cl = m.clusters.at(mg.cluster);
    if (cl.fan_in_slices > 1) {
      G.fan_in_partial = mg.fan_in_partial(cl), G.fan_in_acc = !G.fan_in_partial;
      G.in0 = mg.in0, G.in1 = mg.in1;
    }
    for (int node : cl.nodes) {
      if (G.fan_in_partial && node != cl.fan_in_node) continue;  // a partial group holds only its slice
      Slot s;
      s.node = node, s.op = g.nodes[node].op;
      s.ports.assign(g.nodes[node].inputs.size(), -1);
      G.slots.push_back(std::move(s));
    }
  }
  // Remote inputs (ports) from the routes' destinations.
  for (const auto& r : m.routes) {
    if (r.kind == "result") continue;
    for (int d : r.dests) {
      GroupState& G = groups[d];
      auto [it, fresh] = G.port_of_src.try_emplace(r.src_node, int(G.ports.size()));
      if (fresh) {
        Port p;
        p.src_node = r.src_node;
        G.ports.push_back(std::move(p));
      }
      Port& p = G.ports[it->second];
      if (!p.src_index.count(r.src_group)) {
        p.src_index[r.src_group] = int(p.srcs.size());
        p.srcs.push_back(r.src_group);
      }
    }
  }
  route_readers.assign(m.routes.size(), {});
  {
    std::vector<int> rank(groups.size(), 0);  // a group's place among its core's groups
    for (const auto& on : groups_on_core)
      for (size_t i = 0; i < on.size(); ++i) rank[size_t(on[i])] = int(i);
    for (const auto& r : m.routes) {
      if (r.kind == "result") continue;
      auto& rd = route_readers[r.id];
      for (int d : r.dests) {
        GroupState& G = groups[d];
        const int port = G.port_of_src.at(r.src_node);
        Port& P = G.ports[size_t(port)];
        rd.push_back({G.core, d, P.src_index.at(r.src_group), r.src_group, &P});
      }
      std::sort(rd.begin(), rd.end(), [&](const DataDest& a, const DataDest& b) {
        return a.core != b.core ? a.core < b.core : rank[size_t(a.group)] < rank[size_t(b.group)];
      });
    }
  }
  route_rank_readers.assign(m.routes.size(), {});
  for (size_t rid = 0; rid < m.routes.size(); ++rid) {
    std::vector<int> cores = route_cores[rid];
    std::sort(cores.begin(), cores.end(), [&](int a, int b) {
      return noc::column_key(a, m.mesh_w, m.mesh_h) < noc::column_key(b, m.mesh_w, m.mesh_h);
    });
    const auto& rd = route_readers[rid];
    for (int c : cores) {
      const auto [b, e] = readers_on(rd, c);
      route_rank_readers[rid].push_back({uint32_t(b), uint32_t(e)});
    }
  }
  for (GroupState& G : groups) {
    const std::vector<int>& cl = m.clusters[G.cluster].nodes;
    for (size_t si = 0; si < G.slots.size(); ++si) {
      Slot& s = G.slots[si];
      const Node& n = g.nodes[s.node];
      for (size_t ii = 0; ii < n.inputs.size(); ++ii) {
        const int src = n.inputs[ii];
        const bool local = std::find(cl.begin(), cl.end(), src) != cl.end();
        auto it = G.port_of_src.find(src);
        if (local) {
          if (g.nodes[src].op == Op::LIF && op_rules(s.op).spikes_remote_only)
            throw Error(fmt::format("chip: node '{}' reads spikes of '{}' on the same cores, which the neuro-core "
                                    "does not support (docs/architecture.md)", n.name, g.nodes[src].name));
          continue;
        }
        if (it == G.port_of_src.end()) continue;  // nothing of the input reaches this group
        s.ports[ii] = it->second;
        G.ports[it->second].consumers.push_back({int(si), int(ii)});
      }
      // The accumulating group of a fan-in split reads the partial groups' sums of its own node
      // as one more input (index inputs.size()).
      if (G.fan_in_acc && s.node == m.clusters[G.cluster].fan_in_node)
        if (auto it = G.port_of_src.find(s.node); it != G.port_of_src.end()) {
          s.ports.push_back(it->second);
          G.ports[it->second].consumers.push_back({int(si), int(n.inputs.size())});
        }
      if (const auto setup = op_rules(s.op).setup) setup(*this, G, s);
    }
  }
  for (auto& rd : route_readers)  // (the ports' consumers are known now)
    for (DataDest& x : rd)
      if (!x.port->consumers.empty()) x.first = &groups[size_t(x.group)].slots[size_t(x.port->consumers.front().first)];
  build_shares();
  // A layer whose every share adds its spikes through its channels' own plan needs its own weight
  // rows no more (the rest of a plan, bias and shift, finalises the slices).
  {
    std::vector<char> rows_read(g.nodes.size(), 0);
    for (const GroupState& G : groups)
      for (const Slot& s : G.slots)
        if (s.plan != nullptr && (s.share < 0 || shares[size_t(s.share)].plan == s.plan)) rows_read[size_t(s.node)] = 1;
    for (size_t i = 0; i < g.nodes.size(); ++i)
      if (!rows_read[i]) std::vector<int8_t>().swap((*own_plans)[i].wt);
  }
  weight_shares();
  // Emissions (what each group sends after which node).
  std::vector<std::vector<int>> by_src(groups.size() + 1);
  for (const auto& r : m.routes) by_src[size_t(r.src_group + 1)].push_back(r.id);
  for (size_t gi = 0; gi <= groups.size(); ++gi) {
    std::map<int, std::vector<int>> per_node;
    for (int rid : by_src[gi]) per_node[m.routes[rid].src_node].push_back(rid);
    for (auto& [node, rids] : per_node) {
      Emission e = make_emission(gi == 0 ? -1 : int(gi - 1), node, rids);
      if (gi == 0) { host_emissions.push_back(std::move(e)); continue; }
      GroupState& G = groups[gi - 1];
      int si = -1;
      for (size_t k = 0; k < G.slots.size(); ++k)
        if (G.slots[k].node == node) si = int(k);
      if (si < 0) throw Error(fmt::format("mapping: route from group {} sends node '{}' which is not in its cluster", G.id, g.nodes[node].name));
      G.slots[si].emission = int(G.emissions.size());
      G.emissions.push_back(std::move(e));
    }
  }
  build_controllers();
}

void ChipEngine::make_network() {
  net = std::make_unique<noc::Network>(net_params);
  net->set_default_sink(this);
}

void ChipEngine::clear_previous_run() {
  make_network();
  events = {};
  seq = 0;
  // Every packet handle free again, handed out from 0 up as a new pool would.
  free_list.resize(pool.size());
  for (size_t i = 0; i < pool.size(); ++i) free_list[i] = uint32_t(pool.size() - 1 - i);
  for (auto& v : val) std::fill(v.begin(), v.end(), 0);
  for (GroupState& G : groups)
    for (Slot& s : G.slots)
      s.acc32.clear(), s.acc64.clear(), s.sdsa.clear(), s.part.clear(), s.mem_in.clear(), s.fan_acc.clear();
}

// Each slot's part of its group's weight bytes (the mapper's per-channel rule, the op table's
// weight_bytes: int8 fan-in + int32 bias + u8 shift per Conv2d/Linear channel, an int32 threshold
// per LIF channel), so that the
void ChipEngine::weight_shares() {
  group_node_weight_bytes.resize(groups.size());
  for (const GroupState& G : groups) {
    auto& w = group_node_weight_bytes[size_t(G.id)];
    w.assign(G.slots.size(), 0);
    int64_t sum = 0;
    const Cluster& cl = m.clusters[size_t(G.cluster)];
    for (size_t k = 0; k < G.slots.size(); ++k) {
      const Node& n = g.nodes[size_t(G.slots[k].node)];
      if (const auto wb = op_rules(n.op).weight_bytes) w[k] = wb(g, n, G.slice);
      if ((G.fan_in_partial || G.fan_in_acc) && G.slots[k].node == cl.fan_in_node) {
        // A fan-in slice (docs/mapper.md, "Split fan-in"): the slice's packed weights and the shift
        // per channel, and the bias in the accumulating group.
        w[k] = G.slice.channels() * (model::fan_in_slice_weight_bytes(g, n, G.in1 - G.in0) + 1 +
                                     (G.fan_in_acc ? model::membrane_word_bytes(g) : 0));
      }
      sum += w[k];
    }
    const int64_t total = m.groups[size_t(G.id)].weight_bytes;
    if (sum != total && !w.empty()) {
      std::fill(w.begin(), w.end(), 0);
      w[0] = total;
    }
  }
}

Emission ChipEngine::make_emission(int src_group, int node, const std::vector<int>& rids) {
  Emission e;
  e.node = node;
  e.kind = kind_of(m.routes[rids[0]].kind);
  e.routes = rids;
  const model::Shape& sh = g.nodes[node].shape;
  e.addr_bits = bits_for(sh.size());
  Box box = src_group < 0 ? Box{0, sh.c, 0, sh.h, 0, sh.w} : m.groups[src_group].box;
  if (e.kind == DataKind::Result) box = m.groups[src_group].box;
  e.cells.box = box;
  std::vector<int> cc{box.c0, box.c1}, cy{box.y0, box.y1}, cx{box.x0, box.x1};
  for (int rid : rids) {
    const auto& b = m.routes[rid].region;
    cc.insert(cc.end(), {b.c0, b.c1}), cy.insert(cy.end(), {b.y0, b.y1}), cx.insert(cx.end(), {b.x0, b.x1});
  }
  for (auto* v : {&cc, &cy, &cx}) {
    std::sort(v->begin(), v->end());
    v->erase(std::unique(v->begin(), v->end()), v->end());
  }
  auto fill = [](std::vector<int>& map, const std::vector<int>& cuts, int lo, int hi) {
    map.assign(size_t(std::max(0, hi - lo)), 0);
    size_t cell = 0;
    for (int v = lo; v < hi; ++v) {
      while (cell + 1 < cuts.size() && cuts[cell + 1] <= v) ++cell;
      map[size_t(v - lo)] = int(cell);
    }
  };
  fill(e.cells.cmap, cc, box.c0, box.c1), fill(e.cells.ymap, cy, box.y0, box.y1), fill(e.cells.xmap, cx, box.x0, box.x1);
  e.cells.ny = int(cy.size()), e.cells.nx = int(cx.size());
  e.cells.route_of_cell.assign(size_t(cc.size()) * cy.size() * cx.size(), -1);
  for (size_t lr = 0; lr < rids.size(); ++lr) {
    const auto& b = m.routes[rids[lr]].region;
    if (!box.contains(b)) throw Error(fmt::format("mapping: route {} covers values outside its source group's box", rids[lr]));
    for (int c = b.c0; c < b.c1; ++c)
      for (int y = b.y0; y < b.y1; ++y)
        for (int x = b.x0; x < b.x1; ++x) {
          if (c > b.c0 && e.cells.cmap[c - box.c0] == e.cells.cmap[c - 1 - box.c0]) continue;
          if (y > b.y0 && e.cells.ymap[y - box.y0] == e.cells.ymap[y - 1 - box.y0]) continue;
          if (x > b.x0 && e.cells.xmap[x - box.x0] == e.cells.xmap[x - 1 - box.x0]) continue;
          int& cell = e.cells.route_of_cell[(size_t(e.cells.cmap[c - box.c0]) * e.cells.ny + e.cells.ymap[y - box.y0]) *
                                                 e.cells.nx + e.cells.xmap[x - box.x0]];
          if (cell >= 0) throw Error(fmt::format("mapping: routes {} and {} overlap", rids[cell], rids[lr]));
          cell = int(lr);
        }
  }
  std::vector<int> all;
  for (int rid : rids)
    for (int d : m.routes[rid].dests) all.push_back(d);
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  e.dest_groups = all;
  for (int rid : rids) {
    std::vector<int> loc;
    for (int d : m.routes[rid].dests) loc.push_back(int(std::lower_bound(all.begin(), all.end(), d) - all.begin()));
    e.route_dest_local.push_back(std::move(loc));
  }
  const int sp = src_group < 0 ? 0 : m.groups[src_group].phase;
  for (int d : all) {
    if (d >= 0 && m.groups[d].phase != sp) e.eos_spills = true;
    else e.eos_cores.push_back(d < 0 ? 0 : m.groups[d].core);
  }
  std::sort(e.eos_cores.begin(), e.eos_cores.end());
  e.eos_cores.erase(std::unique(e.eos_cores.begin(), e.eos_cores.end()), e.eos_cores.end());
  return e;
}

}  // namespace spikechip::arch::detail
