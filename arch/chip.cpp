#include "arch/chip.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <queue>
#include <type_traits>
#include <unordered_map>

#include <fmt/format.h>

#include "base/error.hpp"

namespace spikechip::arch {

using model::Node;
using model::Op;
using noc::kNever;
using noc::Packet;
using noc::PacketKind;

namespace {

enum class DataKind : uint8_t { Spike, Pixel, PartialSum, EndOfStep, Result };

DataKind kind_of(const std::string& k) {
  if (k == "spike") return DataKind::Spike;
  if (k == "pixel") return DataKind::Pixel;
  if (k == "partial_sum") return DataKind::PartialSum;
  if (k == "result") return DataKind::Result;
  throw Error("mapping: unknown route kind '" + k + "'");
}

int bits_for(int64_t n) {
  int b = 1;
  while ((int64_t(1) << b) < n) ++b;
  return b;
}

// The data a packet carries, owned by the chip; Packet::payload is its index in the pool.
struct PacketData {
  DataKind kind = DataKind::Spike;
  int src_group = -1, src_node = 0, t = 0, route = -1;
  std::vector<int32_t> idx;                 // spikes / pixels: flat indices of the source tensor
  std::vector<int32_t> val;                 // pixels: u8 - zero_point; result: accumulators (low)
  std::vector<int64_t> part;                // partial sums / results, per channel of the region
  std::vector<std::pair<int, int>> expect;  // end-of-step: (destination group, packets sent)
  int pc0 = 0;                              // partial sums / results: first channel of `part`
  int refs = 0;
  int flits = 0;
  // Time multiplexing: the phase whose groups receive the packet, and which leg through the
  // host port's DRAM it travels (0: direct, 1: written to DRAM, 2: read back from DRAM).
  int phase = 0;
  uint8_t dram_leg = 0;
};

// Which route a value at (c, y, x) of a source group's box leaves on: the routes of one
// (group, node) cut the box into cells; per-dimension maps give the cell of a coordinate.
struct CellIndex {
  mapper::Box box;
  std::vector<int> cmap, ymap, xmap;  // coordinate - box origin -> cell index along the dimension
  int ny = 0, nx = 0;
  std::vector<int> route_of_cell;     // local route index, -1: nobody needs it
  int lookup(int c, int y, int x) const {
    return route_of_cell[(size_t(cmap[c - box.c0]) * ny + ymap[y - box.y0]) * nx + xmap[x - box.x0]];
  }
};

struct Emission {              // what a (group, node) sends after its task
  int node = 0;
  DataKind kind = DataKind::Spike;
  std::vector<int> routes;     // route ids
  CellIndex cells;
  std::vector<int> dest_groups;            // union of the routes' destinations (EOS targets)
  std::vector<std::vector<int>> route_dest_local;  // per local route: indices into dest_groups
  std::vector<int> eos_cores;               // of the destinations in the source's phase
  bool eos_spills = false;                  // some destination runs in a later phase
  int addr_bits = 1;
};

struct Port {                  // a remote input of a group: all packets of one source node
  int src_node = 0;
  std::vector<int> srcs;       // source groups (-1 host)
  std::unordered_map<int, int> src_index;
  std::vector<int> recv, expect;       // [t * nsrc + s]
  std::vector<int> pending;            // [t] sources not yet complete
  std::vector<uint64_t> ready, last_data;  // [t]
  std::vector<std::pair<int, int>> consumers;  // (slot, input index)
};

struct Slot {                  // one node of the group's cluster
  int node = 0;
  Op op = Op::Input;
  const model::ConvPlan* plan = nullptr;
  std::vector<int> ports;      // per input: port index, -1 when the input is local (same cluster)
  int emission = -1;
  bool pixel_in = false;                    // conv reading the input image (MACs on arrival)
  std::vector<std::vector<int32_t>> acc32;  // pixel conv: [t] accumulator of the slice
  std::vector<std::vector<int64_t>> acc64;
  std::vector<std::vector<int32_t>> spikes_in;  // spike conv: [t] spikes received, added at finalise
  std::vector<int64_t> sops_in;                 // [t] their SOPs as timed on arrival
  std::vector<int32_t> v, x;                // LIF: local membranes and gathered input
  std::vector<uint8_t> spk;
  std::vector<int32_t> active_local, active;  // LIF: spikes of the last timestep (local / global)
  std::vector<std::vector<std::vector<uint8_t>>> sdsa;  // SDSA: [input][t] spike maps (full CHW)
  std::vector<std::vector<int64_t>> part;   // Mean: [t] per channel of the box
};

struct GroupState {
  int id = 0, cluster = 0, core = 0, phase = 0;
  mapper::Box box;
  model::Slice slice;
  std::vector<Slot> slots;
  std::vector<Port> ports;
  std::unordered_map<int, int> port_of_src;  // source node -> port
  std::vector<Emission> emissions;
  int t = 0, k = 0;
  bool busy = false;
  uint64_t task_start = 0;
};

struct Event {
  uint64_t cycle;
  uint64_t seq;
  int group;    // -1: the controller checks whether the next phase can start
  bool finish;  // true: the group's current task ends; false: try to start a task
  bool operator>(const Event& o) const { return cycle != o.cycle ? cycle > o.cycle : seq > o.seq; }
};

}  // namespace

struct Chip::Impl : noc::PacketSink {
  const model::Graph& g;
  ChipConfig cfg;
  const mapper::Mapping& m;
  std::unique_ptr<noc::Network> net;
  std::vector<NeuroCore> cores;
  std::vector<std::vector<int>> groups_on_core;
  std::vector<GroupState> groups;
  ConvPlans plans;  // shared by the chips of one batch run (the weights re-arranged once)
  std::vector<std::vector<int>> route_cores;       // route -> destination cores in the source's phase
  // Time multiplexing (docs/architecture.md, "Phases"): per route, the later phases holding
  // destinations and their cores there; packets are sized for the widest of these deliveries.
  std::vector<std::vector<int>> route_later;
  std::vector<std::map<int, std::vector<int>>> route_phase_cores;
  std::vector<size_t> route_fanout;
  std::vector<std::vector<int>> phase_groups;
  std::vector<std::vector<int64_t>> group_node_weight_bytes;  // [group][slot]: its share of the reload
  std::vector<Emission> host_emissions;             // pixel routes of the host
  std::vector<int> host_port_core;                  // router of each host port (west edge)
  std::vector<int> route_port;                      // host route -> port, -1 for other routes
  std::vector<uint64_t> port_free;                  // per host port: first free link cycle
  std::vector<std::vector<int32_t>> val;            // [node] full membrane tensors (disjoint writes)
  std::vector<PacketData> pool;
  std::vector<uint32_t> free_list;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events;
  uint64_t seq = 0;
  std::vector<int64_t> counts_scratch, part_scratch;
  std::vector<int32_t> acc32_scratch;              // a spike conv slice's accumulator while it finalises
  std::vector<int64_t> acc64_scratch;
  // Per-layer energy: each layer's own counted events (core counter deltas of its work, and the
  // router/link events of the packets it sends); TreeCost per route = its delivery tree.
  struct TreeCost { uint64_t links = 0, chip_links = 0, dests = 0; };
  std::vector<TreeCost> route_tree;
  std::vector<CoreCounters> node_cc;
  struct NetEv { uint64_t traversals = 0, link_bits = 0, chip_link_bits = 0; };
  std::vector<NetEv> node_net;
  std::vector<std::vector<int32_t>> bucket;        // per local route: values to send

  // Per run.
  model::InputView in;
  int T = 1;
  ChipRunOptions opt;
  ChipRunResult res;
  int results_expected = 0, results_got = 0;
  int groups_finished = 0;
  int cur_phase = 0, phase_left = 0, spills_in_flight = 0;
  std::vector<std::vector<PacketData>> spill_store;  // [phase]: values waiting in DRAM for it
  uint64_t dram_free = 0;                            // the DRAM channel is busy until then
  std::vector<uint64_t> node_dram_bits;              // [node]

  Impl(const model::Graph& gr, const ChipConfig& c, const mapper::Mapping& mp, ConvPlans pl)
      : g(gr), cfg(c), m(mp), plans(std::move(pl)) {
    build();
  }

  // ---------------------------------------------------------------------------------------
  // Construction

  void build() {
    if (m.node_names.size() != g.nodes.size())
      throw Error(fmt::format("mapping for model '{}' has {} nodes but model '{}' has {}: re-run the mapper",
                              m.model_name, m.node_names.size(), g.name, g.nodes.size()));
    for (size_t i = 0; i < g.nodes.size(); ++i)
      if (m.node_names[i] != g.nodes[i].name)
        throw Error(fmt::format("mapping node {} is '{}' but the model has '{}': the mapping belongs to another "
                                "model, re-run the mapper", i, m.node_names[i], g.nodes[i].name));
    noc::NetworkParams np = noc::NetworkParams::from_chip(cfg);
    np.width = m.mesh_w, np.height = m.mesh_h, np.chip_width = m.chip_w, np.chip_height = m.chip_h;
    net = std::make_unique<noc::Network>(np);
    net->set_default_sink(this);
    const int ncores = m.mesh_w * m.mesh_h;
    for (int i = 0; i < ncores; ++i) cores.emplace_back(i, cfg.core);
    groups_on_core.assign(ncores, {});

    if (!plans) plans = make_conv_plans(g);
    val.resize(g.nodes.size());
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      const Node& n = g.nodes[i];
      if (n.op != Op::Input && n.op != Op::LIF && n.op != Op::Output) val[i].assign(size_t(n.shape.size()), 0);
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
      const mapper::Cluster& cl = m.clusters.at(mg.cluster);
      for (int node : cl.nodes) {
        Slot s;
        s.node = node, s.op = g.nodes[node].op;
        if (s.op == Op::Conv2d || s.op == Op::Linear) {
          s.plan = &(*plans)[size_t(node)];
          s.pixel_in = g.nodes[g.nodes[node].inputs.at(0)].kind() == model::ValueKind::Input;
        }
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
            if (g.nodes[src].op == Op::LIF && (s.op == Op::Conv2d || s.op == Op::Linear || s.op == Op::SDSA))
              throw Error(fmt::format("chip: node '{}' reads spikes of '{}' on the same cores, which the neuro-core "
                                      "does not support (docs/architecture.md)", n.name, g.nodes[src].name));
            continue;
          }
          if (it == G.port_of_src.end()) continue;  // nothing of the input reaches this group
          s.ports[ii] = it->second;
          G.ports[it->second].consumers.push_back({int(si), int(ii)});
        }
        if (s.op == Op::LIF) {
          s.v.assign(size_t(G.slice.size()), 0), s.x.resize(size_t(G.slice.size())), s.spk.resize(size_t(G.slice.size()));
        }
      }
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
  }

  // Each slot's part of its group's weight bytes (the mapper's per-channel rule: int8 fan-in + int32
  // bias + u8 shift per Conv2d/Linear channel, an int32 threshold per LIF channel), so that the
  // per-layer DRAM bits of a reload add up; when they do not (a hand-made mapping with its own
  // weight figures), the first slot takes the group's whole weight bytes.
  void weight_shares() {
    group_node_weight_bytes.resize(groups.size());
    for (const GroupState& G : groups) {
      auto& w = group_node_weight_bytes[size_t(G.id)];
      w.assign(G.slots.size(), 0);
      int64_t sum = 0;
      for (size_t k = 0; k < G.slots.size(); ++k) {
        const Node& n = g.nodes[size_t(G.slots[k].node)];
        if (n.op == Op::Conv2d || n.op == Op::Linear) {
          const model::Shape& in = g.input_shape(n);
          const int64_t fan_in = n.op == Op::Conv2d ? int64_t(in.c / n.groups) * n.kh * n.kw : in.size();
          w[k] = G.slice.channels() * (fan_in + 4 + 1);
        } else if (n.op == Op::LIF) {
          w[k] = G.slice.channels() * 4;
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

  Emission make_emission(int src_group, int node, const std::vector<int>& rids) {
    Emission e;
    e.node = node;
    e.kind = kind_of(m.routes[rids[0]].kind);
    e.routes = rids;
    const model::Shape& sh = g.nodes[node].shape;
    e.addr_bits = bits_for(sh.size());
    mapper::Box box = src_group < 0 ? mapper::Box{0, sh.c, 0, sh.h, 0, sh.w} : m.groups[src_group].box;
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

  // Links of a packet's delivery: the union of the XY paths from src to every destination (the
  // network's multicast tree), or each destination's own minimal path with router.multicast
  // false; chip-to-chip links are the chip boundaries those paths cross (the same for every
  // minimal path). A flit then makes links + destinations router traversals.
  TreeCost tree_cost(int src, const std::vector<int>& dests) const {
    TreeCost tc;
    tc.dests = dests.size();
    const int W = m.mesh_w, cw = m.chip_w > 0 ? m.chip_w : m.mesh_w, ch = m.chip_h > 0 ? m.chip_h : m.mesh_h;
    const int sx = src % W, sy = src / W;
    auto xc = [&](int a, int b) { return uint64_t(std::abs(a / cw - b / cw)); };
    auto yc = [&](int a, int b) { return uint64_t(std::abs(a / ch - b / ch)); };
    if (!cfg.router.multicast || dests.size() == 1) {
      for (int d : dests) {
        const int dx = d % W, dy = d / W;
        tc.links += uint64_t(std::abs(dx - sx) + std::abs(dy - sy));
        tc.chip_links += xc(sx, dx) + yc(sy, dy);
      }
    } else {
      int minx = sx, maxx = sx;
      std::map<int, std::pair<int, int>> col;  // column -> (min y, max y) of the vertical branch
      for (int d : dests) {
        const int dx = d % W, dy = d / W;
        minx = std::min(minx, dx), maxx = std::max(maxx, dx);
        auto [it, fresh] = col.try_emplace(dx, sy, sy);
        it->second.first = std::min(it->second.first, dy), it->second.second = std::max(it->second.second, dy);
      }
      tc.links += uint64_t(maxx - minx), tc.chip_links += xc(minx, maxx);
      for (const auto& [x, yr] : col) tc.links += uint64_t(yr.second - yr.first), tc.chip_links += yc(yr.first, yr.second);
    }
    tc.links -= tc.chip_links;
    return tc;
  }
  void charge_packet(int node, const TreeCost& tc, int flits) {
    NetEv& e = node_net[size_t(node)];
    const uint64_t fb = uint64_t(cfg.router.flit_bits), f = uint64_t(flits);
    e.traversals += f * (tc.links + tc.chip_links + tc.dests);
    e.link_bits += f * fb * tc.links;
    e.chip_link_bits += f * fb * tc.chip_links;
  }
  // Adds what a unit of `core` counted since `before` to `node`'s counters.
  void charge_core(int node, const CoreCounters& now, const CoreCounters& before) {
    CoreCounters& n = node_cc[size_t(node)];
    n.sops += now.sops - before.sops, n.macs += now.macs - before.macs;
    n.sdsa_ops += now.sdsa_ops - before.sdsa_ops, n.neuron_updates += now.neuron_updates - before.neuron_updates;
    n.weight_sram_reads += now.weight_sram_reads - before.weight_sram_reads;
    n.membrane_sram_reads += now.membrane_sram_reads - before.membrane_sram_reads;
    n.membrane_sram_writes += now.membrane_sram_writes - before.membrane_sram_writes;
    n.adds += now.adds - before.adds, n.mults += now.mults - before.mults;
  }
  // Energy events of a set of core counters (whole chip or one layer), without static energy.
  EventCounts core_events(const CoreCounters& c) const {
    EventCounts ev;
    ev.adds32 = c.adds, ev.mults8 = c.mults;
    ev.membrane_reads = c.membrane_sram_reads, ev.membrane_writes = c.membrane_sram_writes;
    ev.neuron_updates = c.neuron_updates, ev.sdsa_ops = c.sdsa_ops;
    ev.paper_macs = c.macs, ev.paper_acs = c.sops + c.sdsa_ops;
    ev.weight_reads[SramShape{cfg.core.weight_sram_bytes / std::max(1, cfg.core.weight_banks), cfg.core.weight_word_bits}] =
        c.weight_sram_reads;
    return ev;
  }

  // ---------------------------------------------------------------------------------------
  // Packets

  uint32_t alloc() {
    if (free_list.empty()) {
      pool.emplace_back();
      pool.back().phase = cur_phase;
      return uint32_t(pool.size() - 1);
    }
    uint32_t i = free_list.back();
    free_list.pop_back();
    PacketData& d = pool[i];
    d.phase = cur_phase;
    d.idx.clear(), d.val.clear(), d.part.clear(), d.expect.clear();
    d.dram_leg = 0;
    return i;
  }

  // host: the packet comes from a host port (the router's local port), not from the core there.
  void send(uint32_t h, int src_core, const std::vector<int>& dests, int flits, uint64_t cycle, bool host = false) {
    PacketData& d = pool[h];
    d.refs = int(dests.size());
    d.flits = flits;
    Packet p;
    p.kind = d.kind == DataKind::EndOfStep ? PacketKind::EndOfStep
             : d.kind == DataKind::PartialSum || d.kind == DataKind::Result ? PacketKind::PartialSum
                                                                           : PacketKind::Spike;
    p.src = src_core;
    p.dests = dests;
    p.size_flits = flits;
    p.src_group = d.src_group;
    p.timestep = d.t;
    p.payload = h;
    charge_packet(d.src_node,
                  d.route >= 0 && d.kind != DataKind::EndOfStep && d.dram_leg == 0 ? route_tree[size_t(d.route)]
                                                                                   : tree_cost(src_core, dests),
                  flits);
    net->inject(std::move(p), std::max(cycle, net->now()));
    if (!host) {
      cores[src_core].cnt.packets_out++;
      cores[src_core].cnt.flits_out += uint64_t(flits);
    }
  }

  // A packet of route `rid`: straight to the destinations in the source's phase, and one copy to the
  // host port's DRAM when destinations in later phases will read it back (docs/architecture.md).
  void send_route(uint32_t h, int rid, int src_core, int flits, uint64_t cycle) {
    if (!route_later[size_t(rid)].empty()) spill(h, src_core, flits, cycle);
    if (!route_cores[size_t(rid)].empty()) send(h, src_core, route_cores[size_t(rid)], flits, cycle);
    else free_list.push_back(h);
  }
  void spill(uint32_t h, int src_core, int flits, uint64_t cycle) {
    const uint32_t c = alloc();
    pool[c] = pool[h];
    pool[c].dram_leg = 1;
    ++spills_in_flight;
    send(c, src_core, {host_port_core[0]}, flits, cycle);
  }

  // Sends the spikes bucketed per local route of `e` (flat indices), split into packets, then the
  // end-of-step marker with the per-group packet counts.
  uint64_t emit(const Emission& e, int src_group, int src_core, int t, uint64_t cycle) {
    const int fb = cfg.router.flit_bits;
    counts_scratch.assign(e.dest_groups.size(), 0);
    uint64_t c = cycle;
    for (size_t lr = 0; lr < e.routes.size(); ++lr) {
      const std::vector<int32_t>& b = bucket[lr];
      if (b.empty()) continue;
      const int per_flit = std::max(1, fb / e.addr_bits);
      const size_t per_pkt = size_t(per_flit) * size_t(max_payload_flits(route_fanout[size_t(e.routes[lr])]));
      for (size_t a = 0; a < b.size(); a += per_pkt) {
        const size_t n = std::min(per_pkt, b.size() - a);
        uint32_t h = alloc();
        PacketData& d = pool[h];
        d.kind = e.kind, d.src_group = src_group, d.src_node = e.node, d.t = t, d.route = e.routes[lr];
        d.idx.assign(b.begin() + a, b.begin() + a + n);
        const int flits = 1 + int(ceil_div64(int64_t(n), per_flit));
        send_route(h, e.routes[lr], src_core, flits, c);
        for (int dl : e.route_dest_local[lr]) counts_scratch[dl]++;
      }
    }
    send_eos(e, src_group, src_core, t, c);
    return c;
  }

  // The host streams a frame in raster (CHW) order, as a DMA would read it: every pixel goes into
  // the open packet of its route (u8 - zero point, flit_bits / 8 per flit), a full packet leaves on
  // its route's port when that port's link is free, each flit taking ceil(flit_bits /
  // host.bits_per_cycle) cycles. Raster order interleaves the encoder groups' packets, so they
  // all compute while the frame streams. The end-of-step marker follows on the port that finishes
  // last. Returns that cycle.
  uint64_t host_frame(const Emission& e, int t, const uint8_t* frame, uint64_t start) {
    const Node& inp = g.input();
    const int64_t size = inp.shape.size(), HW = int64_t(inp.shape.h) * inp.shape.w;
    const int per_flit = std::max(1, cfg.router.flit_bits / 8);
    const uint64_t flit_cycles = uint64_t(ceil_div64(cfg.router.flit_bits, cfg.host.bits_per_cycle));
    std::fill(port_free.begin(), port_free.end(), start);
    counts_scratch.assign(e.dest_groups.size(), 0);
    std::vector<uint32_t> open(e.routes.size(), UINT32_MAX);
    std::vector<size_t> cap(e.routes.size());
    for (size_t lr = 0; lr < e.routes.size(); ++lr)
      cap[lr] = size_t(per_flit) * size_t(max_payload_flits(route_cores[e.routes[lr]].size()));
    auto flush = [&](size_t lr) {
      const uint32_t h = open[lr];
      open[lr] = UINT32_MAX;
      const int port = route_port[e.routes[lr]];
      const int flits = 1 + int(ceil_div64(int64_t(pool[h].idx.size()), per_flit));
      send(h, host_port_core[size_t(port)], route_cores[e.routes[lr]], flits, port_free[size_t(port)], true);
      port_free[size_t(port)] += uint64_t(flits) * flit_cycles;
      for (int dl : e.route_dest_local[lr]) counts_scratch[dl]++;
    };
    const int w = inp.shape.w;
    for (int64_t j = 0; j < size; ++j) {
      const int c = int(j / HW), y = int(j % HW / w), x = int(j % w);
      const int r = e.cells.lookup(c, y, x);
      if (r < 0) continue;
      if (open[size_t(r)] == UINT32_MAX) {
        const uint32_t h = alloc();
        PacketData& d = pool[h];
        d.kind = DataKind::Pixel, d.src_group = -1, d.src_node = e.node, d.t = t, d.route = e.routes[size_t(r)];
        open[size_t(r)] = h;
      }
      PacketData& d = pool[open[size_t(r)]];
      d.idx.push_back(int32_t(j));
      d.val.push_back(int32_t(frame[j]) - inp.zero_point[size_t(c)]);
      if (d.idx.size() == cap[size_t(r)]) flush(size_t(r));
    }
    for (size_t lr = 0; lr < e.routes.size(); ++lr)
      if (open[lr] != UINT32_MAX) flush(lr);
    const size_t last = size_t(std::max_element(port_free.begin(), port_free.end()) - port_free.begin());
    send_eos(e, -1, host_port_core[last], t, port_free[last], true);
    return port_free[last];
  }

  void send_eos(const Emission& e, int src_group, int src_core, int t, uint64_t cycle, bool host = false) {
    uint32_t h = alloc();
    PacketData& d = pool[h];
    d.kind = DataKind::EndOfStep, d.src_group = src_group, d.src_node = e.node, d.t = t;
    for (size_t i = 0; i < e.dest_groups.size(); ++i) d.expect.push_back({e.dest_groups[i], int(counts_scratch[i])});
    if (e.eos_spills) spill(h, src_core, 1, cycle);
    if (!e.eos_cores.empty()) send(h, src_core, e.eos_cores, 1, cycle, host);
    else free_list.push_back(h);
  }

  // A forked (multicast) packet must fit one router buffer (the network forks by virtual
  // cut-through), so multicast packets are at most buffer_depth flits.
  int max_payload_flits(size_t ndest) const {
    return ndest > 1 && cfg.router.multicast ? std::max(1, std::min(kMaxPayloadFlits, cfg.router.buffer_depth - 1))
                                             : kMaxPayloadFlits;
  }

  // Sends the channel values part[c - c0] for channels [c0, c1) on `route` as packets of 32-bit words.
  void send_words(DataKind kind, int src_group, int src_node, int t, int route, int c0, int c1,
                  const std::vector<int64_t>& part, int src_core, uint64_t cycle) {
    const int per_flit = std::max(1, cfg.router.flit_bits / 32);
    const int per_pkt = per_flit * max_payload_flits(route_fanout[size_t(route)]);
    for (int a = c0; a < c1; a += per_pkt) {
      const int b = std::min(c1, a + per_pkt);
      uint32_t h = alloc();
      PacketData& d = pool[h];
      d.kind = kind, d.src_group = src_group, d.src_node = src_node, d.t = t, d.route = route, d.pc0 = a;
      d.part.assign(part.begin() + (a - c0), part.begin() + (b - c0));
      send_route(h, route, src_core, 1 + int(ceil_div64(b - a, per_flit)), cycle);
    }
  }
  int words_packets(int n, size_t ndest) const {
    const int per_flit = std::max(1, cfg.router.flit_bits / 32);
    return int(ceil_div64(n, per_flit * max_payload_flits(ndest)));
  }

  bool ready(int core, uint64_t cycle) override { return cores[core].queue_ready(cycle); }
  // A full input queue accepts again when its oldest packet's synapse work ends: the router
  // sleeps until then instead of asking every cycle.
  uint64_t ready_again(int core, uint64_t cycle) override {
    const uint64_t c = cores[core].accepts_again_at(cycle);
    return c == UINT64_MAX ? cycle + 1 : c;
  }

  void deliver(int core, const Packet& p, uint64_t cycle) override {
    PacketData& d = pool[p.payload];
    if (d.dram_leg == 1) {
      to_dram(d, cycle);
    } else if (d.kind == DataKind::Result) {
      if (d.route >= 0) {
        for (size_t j = 0; j < d.part.size(); ++j) res.output_acc[size_t(d.pc0) + j] = d.part[j];
      }
      ++results_got;
      res.latency_cycles = std::max(res.latency_cycles, cycle);
    } else {
      for (int gid : groups_on_core[core]) {
        GroupState& G = groups[gid];
        if (G.phase != d.phase) continue;  // the core holds another group in that phase
        if (d.kind == DataKind::EndOfStep) {
          for (const auto& [dg, n] : d.expect)
            if (dg == gid) on_eos(G, d, n, cycle);
        } else {
          const auto& dests = m.routes[d.route].dests;
          if (std::binary_search(dests.begin(), dests.end(), gid)) on_data(G, d, cycle);
        }
      }
    }
    if (--d.refs == 0) free_list.push_back(uint32_t(p.payload));
  }

  // ---------------------------------------------------------------------------------------
  // Time multiplexing: phases, DRAM (docs/architecture.md, "Phases")

  // DRAM bytes of a spilled packet: 4 per value (spike address or 32-bit word), as the mapper's
  // dram_spill_in_bytes; end-of-step markers are control, not data (as in the traffic estimate).
  static uint64_t spill_bytes(const PacketData& d) { return 4 * uint64_t(d.idx.size() + d.part.size()); }
  uint64_t dram_cycles(uint64_t bytes) const { return uint64_t(ceil_div64(int64_t(bytes), cfg.dram.bytes_per_cycle)); }

  // A spilled packet reaches the host port: written to DRAM (the channel is busy for its bytes) and
  // kept once for every later phase that has destinations of it. Nothing here may grow the pool
  // (deliver still holds a reference into it).
  void to_dram(const PacketData& d, uint64_t cycle) {
    const uint64_t bytes = spill_bytes(d);
    res.dram_spill_write_bytes += bytes;
    node_dram_bits[size_t(d.src_node)] += 8 * bytes;
    dram_free = std::max(dram_free, cycle) + dram_cycles(bytes);
    std::vector<int> later;
    if (d.kind == DataKind::EndOfStep) {
      for (const auto& [dg, n] : d.expect)
        if (dg >= 0 && groups[size_t(dg)].phase != d.phase) later.push_back(groups[size_t(dg)].phase);
      std::sort(later.begin(), later.end());
      later.erase(std::unique(later.begin(), later.end()), later.end());
    } else {
      later = route_later[size_t(d.route)];
    }
    for (int q : later) {
      PacketData c = d;
      c.phase = q, c.dram_leg = 2;
      spill_store[size_t(q)].push_back(std::move(c));
    }
    // The phase check runs as a controller event: this is the network's delivery callback, which
    // must not inject (start_phase does).
    if (--spills_in_flight == 0) schedule(cycle, -1, false);
  }

  // The next phase starts when every group of this one has finished all T timesteps and every
  // spilled value is in DRAM.
  void maybe_next_phase(uint64_t cycle) {
    if (phase_left > 0 || spills_in_flight > 0 || cur_phase + 1 >= int(phase_groups.size())) return;
    start_phase(cur_phase + 1, cycle);
  }

  // Entering phase q at `cycle`: the DRAM channel (after what it still writes) reads the weights of
  // the phase's groups (latency + bytes / bytes_per_cycle), then the values spilled for the phase,
  // each packet injected at the host port once its bytes are read and the port's link is free.
  // The groups start when their weights are in.
  void start_phase(int q, uint64_t cycle) {
    cur_phase = q;
    phase_left = int(phase_groups[size_t(q)].size());
    res.phase_start_cycles.push_back(cycle);
    uint64_t c = std::max(cycle, dram_free) + uint64_t(cfg.dram.latency_cycles);
    uint64_t wbytes = 0;
    for (int gid : phase_groups[size_t(q)]) {
      const GroupState& G = groups[size_t(gid)];
      for (size_t k = 0; k < G.slots.size(); ++k)
        node_dram_bits[size_t(G.slots[k].node)] += 8 * uint64_t(group_node_weight_bytes[size_t(gid)][k]);
      wbytes += uint64_t(m.groups[size_t(gid)].weight_bytes);
    }
    res.dram_weight_bytes += wbytes;
    c += dram_cycles(wbytes);
    const uint64_t ready = c;
    res.phase_ready_cycles.push_back(ready);
    const uint64_t flit_cycles = uint64_t(ceil_div64(cfg.router.flit_bits, cfg.host.bits_per_cycle));
    uint64_t port = c;
    std::vector<int> dests;
    for (PacketData& sp : spill_store[size_t(q)]) {
      const uint64_t bytes = spill_bytes(sp);
      res.dram_spill_read_bytes += bytes;
      node_dram_bits[size_t(sp.src_node)] += 8 * bytes;
      c += dram_cycles(bytes);
      if (sp.kind == DataKind::EndOfStep) {
        dests.clear();
        for (const auto& [dg, n] : sp.expect)
          if (dg >= 0 && groups[size_t(dg)].phase == q) dests.push_back(groups[size_t(dg)].core);
        std::sort(dests.begin(), dests.end());
        dests.erase(std::unique(dests.begin(), dests.end()), dests.end());
      } else {
        dests = route_phase_cores[size_t(sp.route)].at(q);
      }
      const int flits = sp.flits;
      const uint32_t h = alloc();
      pool[h] = std::move(sp);
      const uint64_t at = std::max(c, port);
      send(h, host_port_core[0], dests, flits, at, true);
      port = at + uint64_t(flits) * flit_cycles;
    }
    std::vector<PacketData>().swap(spill_store[size_t(q)]);
    dram_free = c;
    for (int gid : phase_groups[size_t(q)]) schedule(ready, gid, false);
    if (phase_left == 0) maybe_next_phase(ready);
  }

  Port& port_for(GroupState& G, const PacketData& d) {
    auto it = G.port_of_src.find(d.src_node);
    if (it == G.port_of_src.end())
      throw Error(fmt::format("chip: group {} received '{}' which it does not read", G.id, g.nodes[d.src_node].name));
    return G.ports[it->second];
  }

  void on_data(GroupState& G, const PacketData& d, uint64_t cycle) {
    NeuroCore& core = cores[G.core];
    Port& P = port_for(G, d);
    uint64_t cyc = 1;  // header decode
    for (const auto& [si, ii] : P.consumers) {
      Slot& s = G.slots[si];
      const CoreCounters before = core.cnt;
      model::StepStats& st = res.stats[s.node][d.t];
      if (s.op == Op::Conv2d || s.op == Op::Linear) {
        const model::ConvPlan& pl = *s.plan;
        if (d.kind == DataKind::Pixel) {
          if (!s.pixel_in) throw Error(fmt::format("chip: node '{}' got pixels but reads spikes", g.nodes[s.node].name));
          const int64_t hw = int64_t(pl.hin) * pl.win;
          auto mac = [&](auto* acc) {
            int64_t macs = 0;
            for (size_t j = 0; j < d.idx.size(); ++j) {
              const int32_t f = d.idx[j];
              macs += model::mac_pixel(pl, int(f / hw), int(f % hw / pl.win), int(f % pl.win), d.val[j], acc, G.slice);
            }
            st.macs += macs;
            cyc += core.mac_cost(macs);
          };
          if (pl.wide) mac(acc_for(s.acc64, d.t, G.slice.size()));
          else mac(acc_for(s.acc32, d.t, G.slice.size()));
        } else {
          // The engine's cycles follow from the packet's SOPs (every tap of every spike is a run
          // of `run` channels), counted by the golden's scatter kernel without adding. The adds
          // wait until the slice finalises (compute): integer sums do not depend on the order,
          // and one pass over a slice's accumulator keeps it in cache, where adding each packet
          // on arrival touched a cold accumulator per packet (the simulation interleaves all
          // layers' packets). A Linear plan has hin = win = 1: a flat index is its feature.
          const int run = std::max(1, std::min(G.slice.channels(), pl.cout_g));
          const int64_t sops = model::count_spike_sops(pl, d.idx.data(), int64_t(d.idx.size()), G.slice);
          st.sops += sops;
          cyc += core.spike_cost(sops, run);
          if (s.spikes_in.size() < size_t(T)) s.spikes_in.resize(size_t(T)), s.sops_in.resize(size_t(T), 0);
          s.spikes_in[d.t].insert(s.spikes_in[d.t].end(), d.idx.begin(), d.idx.end());
          s.sops_in[d.t] += sops;
        }
      } else if (s.op == Op::SDSA) {
        auto& buf = sdsa_buf(s, ii, d.t);
        for (int32_t f : d.idx) buf[size_t(f)] = 1;
        cyc += uint64_t(ceil_div64(int64_t(d.idx.size()), std::max(1, cfg.core.sdsa_lanes)));
      } else if (s.op == Op::Mean) {
        if (s.part.size() < size_t(T)) s.part.resize(size_t(T));
        auto& part = s.part[d.t];
        if (part.empty()) part.assign(size_t(G.slice.channels()), 0);
        const int pc1 = d.pc0 + int(d.part.size());
        for (int c = std::max(d.pc0, G.box.c0); c < std::min(pc1, G.box.c1); ++c) part[c - G.box.c0] += d.part[c - d.pc0];
        cyc += core.elementwise_cost(int64_t(d.part.size()), 1, 1);
      } else {
        throw Error(fmt::format("chip: node '{}' ({}) cannot consume packets", g.nodes[s.node].name, model::op_name(s.op)));
      }
      charge_core(s.node, core.cnt, before);
    }
    const uint64_t fin = core.book_synapse(cycle, cyc);
    if (opt.record_activity && !P.consumers.empty())
      record_synapse(G.core, G.slots[size_t(P.consumers.front().first)].node, d.t, fin - cyc, fin);
    const int s = src_idx(P, d.src_group, G);
    const size_t k = size_t(d.t) * P.srcs.size() + s;
    P.recv[k]++;
    P.last_data[d.t] = std::max(P.last_data[d.t], fin);
    P.ready[d.t] = std::max(P.ready[d.t], fin);
    if (P.recv[k] == P.expect[k]) source_complete(G, P, d.t);
  }

  // Activity record (trace writers): extend the core's last interval when the same node and
  // timestep continue without a gap, so a burst of packets costs one entry.
  std::vector<int64_t> last_syn;                       // [core] -> index in synapse_timeline
  std::map<std::pair<int, int>, size_t> last_link;     // (node, port) -> index in link_activity
  void record_synapse(int core, int node, int t, uint64_t start, uint64_t end) {
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
  void record_link(int node, int port, uint64_t cycle, uint64_t busy) {
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

  int src_idx(const Port& P, int src_group, const GroupState& G) {
    auto it = P.src_index.find(src_group);
    if (it == P.src_index.end())
      throw Error(fmt::format("chip: group {} got a packet from group {} which has no route to it", G.id, src_group));
    return it->second;
  }

  void on_eos(GroupState& G, const PacketData& d, int n, uint64_t cycle) {
    Port& P = port_for(G, d);
    const size_t k = size_t(d.t) * P.srcs.size() + src_idx(P, d.src_group, G);
    P.expect[k] = n;
    if (cycle > P.last_data[d.t]) cores[G.core].cnt.stalls.waiting_eot += cycle - std::max(P.last_data[d.t], uint64_t(0));
    P.ready[d.t] = std::max(P.ready[d.t], cycle);
    if (P.recv[k] == n) source_complete(G, P, d.t);
  }

  void source_complete(GroupState& G, Port& P, int t) {
    if (--P.pending[t] == 0) schedule(P.ready[t], G.id, false);
  }

  template <class A>
  A* acc_for(std::vector<std::vector<A>>& accs, int t, int64_t size) {
    if (accs.size() < size_t(T)) accs.resize(size_t(T));
    auto& a = accs[t];
    if (a.empty()) a.assign(size_t(size), 0);
    return a.data();
  }

  std::vector<uint8_t>& sdsa_buf(Slot& s, int input, int t) {
    if (s.sdsa.size() < 3) s.sdsa.resize(3);
    if (s.sdsa[input].size() < size_t(T)) s.sdsa[input].resize(size_t(T));
    auto& b = s.sdsa[input][t];
    if (b.empty()) b.assign(size_t(g.nodes[s.node].shape.size()), 0);
    return b;
  }

  void schedule(uint64_t cycle, int group, bool finish) { events.push(Event{cycle, seq++, group, finish}); }

  // ---------------------------------------------------------------------------------------
  // Controller: one (node slice, timestep) task at a time per group, in graph order.

  void try_start(GroupState& G, uint64_t cycle) {
    if (G.busy || G.t >= T || G.phase != cur_phase) return;
    Slot& s = G.slots[G.k];
    const int t = G.t;
    uint64_t ready = cycle;
    for (int pi : s.ports) {
      if (pi < 0) continue;
      const Port& P = G.ports[pi];
      if (P.pending[t] > 0) return;  // a remote input of this timestep is not complete
      ready = std::max(ready, P.ready[t]);
    }
    NeuroCore& core = cores[G.core];
    if (ready > core.node_free()) core.cnt.stalls.waiting_input += ready - std::max(core.node_free(), G.task_start);
    const CoreCounters before = core.cnt;
    const uint64_t cyc = compute(G, s, t);
    charge_core(s.node, core.cnt, before);
    const uint64_t end = core.book_node(ready, cyc);
    G.busy = true;
    G.task_start = end - std::max<uint64_t>(1, cyc);
    schedule(end, G.id, true);
  }

  void finish_task(GroupState& G, uint64_t cycle) {
    Slot& s = G.slots[G.k];
    const int t = G.t;
    if (res.timeline.size() < opt.timeline_limit)
      res.timeline.push_back({G.core, s.node, t, G.task_start, cycle});
    else
      res.timeline_truncated = true;
    res.node_start[s.node] = std::min(res.node_start[s.node], G.task_start);
    res.node_end[s.node] = std::max(res.node_end[s.node], cycle);
    res.node_busy[s.node] += cycle - G.task_start;
    if (s.emission >= 0) send_outputs(G, s, t, cycle);
    if (s.op == Op::Output) res.timestep_end_cycles[t] = std::max(res.timestep_end_cycles[t], cycle);
    G.busy = false;
    if (++G.k == int(G.slots.size())) G.k = 0, ++G.t;
    if (G.t >= T) {
      ++groups_finished;
      --phase_left;
      maybe_next_phase(cycle);
    }
    try_start(G, cycle);
  }

  uint64_t compute(GroupState& G, Slot& s, int t) {
    NeuroCore& core = cores[G.core];
    const Node& n = g.nodes[s.node];
    model::StepStats& st = res.stats[s.node][t];
    const model::Slice& sl = G.slice;
    const int64_t size = sl.size();
    const int64_t HW = int64_t(n.shape.h) * n.shape.w;
    switch (s.op) {
      case Op::Conv2d:
      case Op::Linear: {
        const model::ConvPlan& pl = *s.plan;
        auto finalize = [&](auto& accs, auto& scratch) {
          if (s.pixel_in) {
            st.saturations += model::conv_finalize(pl, acc_for(accs, t, size), sl, val[s.node].data());
            std::remove_reference_t<decltype(accs[0])>().swap(accs[t]);
            return;
          }
          // The spikes' adds, deferred from arrival (on_data) into one scratch accumulator.
          scratch.assign(size_t(size), 0);
          int64_t sops = 0, expect = 0;
          if (s.spikes_in.size() > size_t(t)) {
            auto& in = s.spikes_in[t];
            sops = model::scatter_spikes(pl, in.data(), int64_t(in.size()), scratch.data(), sl);
            expect = s.sops_in[t];
            std::vector<int32_t>().swap(in);
          }
          if (sops != expect)
            throw Error(fmt::format("internal: node '{}' group {}: {} SOPs added but {} timed", n.name, G.id, sops, expect));
          st.saturations += model::conv_finalize(pl, scratch.data(), sl, val[s.node].data());
        };
        if (pl.wide) finalize(s.acc64, acc64_scratch);
        else finalize(s.acc32, acc32_scratch);
        return core.elementwise_cost(size, 1, 1);
      }
      case Op::LIF: {
        const int32_t* xin = val[n.inputs[0]].data();
        size_t j = 0;
        for (int c = sl.c0; c < sl.c1; ++c)
          for (int y = sl.y0; y < sl.y1; ++y) {
            const int32_t* row = xin + c * HW + int64_t(y) * n.shape.w;
            for (int x = sl.x0; x < sl.x1; ++x) s.x[j++] = row[x];
          }
        const int64_t thw = int64_t(sl.y1 - sl.y0) * (sl.x1 - sl.x0);
        s.active_local.clear();
        st.saturations += model::lif_update(s.x.data(), s.v.data(), n.threshold.data() + sl.c0, n.tau_shift, 0,
                                            sl.channels(), thw, s.spk.data(), s.active_local);
        st.spikes += int64_t(s.active_local.size());
        s.active.clear();
        const int tw = sl.x1 - sl.x0;
        uint8_t* rec = opt.record_spikes ? res.spikes[s.node].data() + size_t(t) * size_t(n.shape.size()) : nullptr;
        for (int32_t a : s.active_local) {
          const int c = sl.c0 + int(a / thw), y = sl.y0 + int(a % thw / tw), x = sl.x0 + int(a % tw);
          const int32_t f = int32_t(c * HW + int64_t(y) * n.shape.w + x);
          s.active.push_back(f);
          if (rec) rec[f] = 1;
        }
        return core.lif_cost(size);
      }
      case Op::Add: {
        std::vector<const int32_t*> ins;
        for (int i : n.inputs) ins.push_back(val[i].data());
        for (int c = sl.c0; c < sl.c1; ++c)
          for (int y = sl.y0; y < sl.y1; ++y) {
            const int64_t i0 = c * HW + int64_t(y) * n.shape.w;
            st.saturations += model::add_membranes(ins, i0 + sl.x0, i0 + sl.x1, val[s.node].data());
          }
        return core.elementwise_cost(size, int(n.inputs.size()), 1);
      }
      case Op::SDSA: {
        const int d = n.shape.c / n.heads;
        std::vector<int32_t> A(size_t(d) * d);
        const uint8_t* q = sdsa_buf(s, 0, t).data();
        const uint8_t* k = sdsa_buf(s, 1, t).data();
        const uint8_t* v = sdsa_buf(s, 2, t).data();
        int64_t ops = 0;
        for (int h = sl.c0 / d; h < sl.c1 / d; ++h) {
          std::fill(A.begin(), A.end(), 0);
          ops += model::sdsa_accumulate_kv(k, v, h, d, HW, 0, HW, A.data());
          ops += model::sdsa_row_sums(q, A.data(), h, d, HW, 0, HW, n.sdsa_shift, val[s.node].data(), st.saturations);
        }
        for (int i = 0; i < 3; ++i) std::vector<uint8_t>().swap(s.sdsa[i][t]);
        st.sdsa_ops += ops;
        return core.sdsa_cost(ops);
      }
      case Op::Mean: {
        if (s.part.size() < size_t(T)) s.part.resize(size_t(T));
        auto& part = s.part[t];
        part.resize(size_t(sl.channels()), 0);
        for (int c = sl.c0; c < sl.c1; ++c) val[s.node][c] = model::sat32(part[c - sl.c0], st.saturations);
        std::vector<int64_t>().swap(part);
        return core.elementwise_cost(sl.channels(), 1, 1);
      }
      case Op::Output: {
        const int32_t* x = val[n.inputs[0]].data();
        for (int o = sl.c0; o < sl.c1; ++o) res.output_acc[o] += x[o];
        return core.elementwise_cost(sl.channels(), 2, 1);
      }
      case Op::Input: break;
    }
    return 1;
  }

  void send_outputs(GroupState& G, Slot& s, int t, uint64_t cycle) {
    const Emission& e = G.emissions[s.emission];
    const Node& n = g.nodes[s.node];
    bucket.resize(e.routes.size());
    for (auto& b : bucket) b.clear();
    if (e.kind == DataKind::Spike) {
      const int64_t HW = int64_t(n.shape.h) * n.shape.w;
      for (int32_t f : s.active) {
        const int r = e.cells.lookup(int(f / HW), int(f % HW / n.shape.w), int(f % n.shape.w));
        if (r >= 0) bucket[size_t(r)].push_back(f);
      }
      emit(e, G.id, G.core, t, cycle);
    } else if (e.kind == DataKind::PartialSum) {
      const int64_t HW = int64_t(n.shape.h) * n.shape.w;
      counts_scratch.assign(e.dest_groups.size(), 0);
      uint64_t extra = 0;
      for (size_t lr = 0; lr < e.routes.size(); ++lr) {
        const auto& rb = m.routes[e.routes[lr]].region;
        part_scratch.assign(size_t(rb.c1 - rb.c0), 0);
        for (int y = rb.y0; y < rb.y1; ++y)
          model::mean_partial(val[s.node].data(), HW, rb.c0, rb.c1, int64_t(y) * n.shape.w + rb.x0,
                              int64_t(y) * n.shape.w + rb.x1, part_scratch.data());
        const CoreCounters before = cores[G.core].cnt;
        extra += cores[G.core].elementwise_cost(rb.volume(), 1, 0);
        charge_core(s.node, cores[G.core].cnt, before);
        send_words(DataKind::PartialSum, G.id, s.node, t, e.routes[lr], rb.c0, rb.c1, part_scratch, G.core, cycle + extra);
        for (int dl : e.route_dest_local[lr])
          counts_scratch[dl] += words_packets(rb.c1 - rb.c0, route_fanout[size_t(e.routes[lr])]);
      }
      cores[G.core].book_node(cycle, extra);
      send_eos(e, G.id, G.core, t, cycle + extra);
    } else if (e.kind == DataKind::Result) {
      if (t != T - 1) return;
      for (size_t lr = 0; lr < e.routes.size(); ++lr) {
        const auto& rb = m.routes[e.routes[lr]].region;
        part_scratch.assign(res.output_acc.begin() + rb.c0, res.output_acc.begin() + rb.c1);
        send_words(DataKind::Result, G.id, s.node, t, e.routes[lr], rb.c0, rb.c1, part_scratch, G.core, cycle);
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // Run

  void begin(const model::InputView& input, int t_steps, const ChipRunOptions& o) {
    const Node& inp = g.input();
    if (!(input.shape == inp.shape))
      throw Error(fmt::format("input shape {}x{}x{} does not match the model's input '{}' {}x{}x{}: resize the input or "
                              "use another model", input.shape.c, input.shape.h, input.shape.w, inp.name, inp.shape.c,
                              inp.shape.h, inp.shape.w));
    if (inp.encoding == "events" && input.frames < t_steps)
      throw Error(fmt::format("input has {} event frames but {} timesteps were requested: run with -T {} or less",
                              input.frames, t_steps, input.frames));
    if (t_steps < 1) throw UsageError("the number of timesteps must be >= 1");
    in = input, T = t_steps, opt = o;
    res = ChipRunResult{};
    res.T = T;
    const size_t nn = g.nodes.size();
    res.stats.assign(nn, std::vector<model::StepStats>(size_t(T)));
    node_cc.assign(nn, CoreCounters{});
    node_net.assign(nn, NetEv{});
    res.output_acc.assign(size_t(g.output().shape.c), 0);
    res.timestep_end_cycles.assign(size_t(T), 0);
    res.node_start.assign(nn, kNever), res.node_end.assign(nn, 0), res.node_busy.assign(nn, 0);
    if (opt.record_spikes) {
      res.spikes.assign(nn, {});
      for (size_t i = 0; i < nn; ++i)
        if (g.nodes[i].op == Op::LIF) res.spikes[i].assign(size_t(T) * g.nodes[i].shape.size(), 0);
    }
    if (net->now() != 0 || !net->idle()) throw Error("chip: one run per Chip object (the network clock is not reset)");
    last_syn.assign(cores.size(), -1), last_link.clear();
    if (opt.record_activity)
      net->on_link_flit([this](int node, int port, uint64_t cycle, uint64_t busy) { record_link(node, port, cycle, busy); });
    else
      net->on_link_flit(nullptr);
    for (auto& c : cores) c.reset();
    for (GroupState& G : groups) {
      G.t = 0, G.k = 0, G.busy = false, G.task_start = 0;
      for (Port& P : G.ports) {
        P.recv.assign(size_t(T) * P.srcs.size(), 0);
        P.expect.assign(size_t(T) * P.srcs.size(), -1);
        P.pending.assign(size_t(T), int(P.srcs.size()));
        P.ready.assign(size_t(T), 0), P.last_data.assign(size_t(T), 0);
      }
      for (Slot& s : G.slots) {
        std::fill(s.v.begin(), s.v.end(), 0);
        s.spikes_in.clear(), s.sops_in.clear();
      }
    }
    results_expected = 0, results_got = 0, groups_finished = 0;
    for (const auto& r : m.routes)
      if (r.kind == "result") results_expected += words_packets(r.region.c1 - r.region.c0, 1);
    if (results_expected == 0) throw Error("mapping: no result route to the host (the Output node is not mapped)");
    // Host ports: every timestep's frame in CHW order, split over the ports (see emit), each port
    // sending ceil(flit_bits / host.bits_per_cycle) cycles per flit; the next frame follows the last.
    // A time-multiplexed chip first loads phase 0's weights from DRAM (the groups of an
    // unmultiplexed mapping hold theirs from configuration); the frames follow.
    cur_phase = 0, spills_in_flight = 0, dram_free = 0;
    phase_left = int(phase_groups[0].size());
    spill_store.assign(phase_groups.size(), {});
    node_dram_bits.assign(nn, 0);
    uint64_t c = 0;
    if (phase_groups.size() > 1) {
      start_phase(0, 0);
      c = res.phase_ready_cycles[0];
    } else {
      for (GroupState& G : groups) schedule(0, G.id, false);
    }
    const int64_t size = inp.shape.size();
    for (int t = 0; t < T; ++t) {
      const uint8_t* f = in.data + (in.frames == 1 ? 0 : int64_t(t) * size);
      for (const Emission& e : host_emissions) c = host_frame(e, t, f, c) + 1;
    }
  }

  uint64_t next_event_cycle() const {
    const uint64_t tc = events.empty() ? kNever : events.top().cycle;
    return std::min(tc, net->next_event_cycle());
  }

  bool done() const { return results_got >= results_expected && cur_phase + 1 >= int(phase_groups.size()); }

  void step() {
    const uint64_t tc = events.empty() ? kNever : events.top().cycle;
    const uint64_t tn = net->next_event_cycle();
    if (tc == kNever && tn == kNever) {
      if (!done()) throw Error(stall_message());
      return;
    }
    if (tc <= tn) {
      while (!events.empty() && events.top().cycle == tc) {
        Event e = events.top();
        events.pop();
        if (e.group < 0) {
          maybe_next_phase(e.cycle);
          continue;
        }
        GroupState& G = groups[e.group];
        if (e.finish) finish_task(G, e.cycle);
        else try_start(G, e.cycle);
      }
    } else {
      net->advance_to(tn + 1);
    }
  }

  std::string stall_message() const {
    for (const GroupState& G : groups)
      if (G.t < T && G.phase == cur_phase) {
        const Slot& s = G.slots[G.k];
        std::string waits;
        for (int pi : s.ports)
          if (pi >= 0 && G.ports[pi].pending[G.t] > 0) waits += " '" + g.nodes[G.ports[pi].src_node].name + "'";
        return fmt::format("chip: no event left but group {} (core {}) waits at node '{}' timestep {} for{}; the "
                           "mapping's routes do not deliver every input (re-run the mapper)",
                           G.id, G.core, g.nodes[s.node].name, G.t, waits.empty() ? " nothing" : waits);
      }
    return "chip: no event left but the result never reached the host";
  }

  ChipRunResult finish() {
    res.complete = done();
    res.prediction = int(std::max_element(res.output_acc.begin(), res.output_acc.end()) - res.output_acc.begin());
    res.net = net->totals();
    for (auto& c : cores) res.cores.push_back(c.cnt);
    for (int node = 0; node < net->num_nodes(); ++node)
      for (int p = 0; p < 4; ++p)
        if (net->link_exists(node, p) && net->link_stats(node, p).flits > 0)
          res.links.push_back({{node, p}, net->link_stats(node, p)});
    for (size_t i = 0; i < res.node_start.size(); ++i)
      if (res.node_start[i] == kNever) res.node_start[i] = 0;
    CoreCounters all;
    for (const auto& c : res.cores) {
      all.adds += c.adds, all.mults += c.mults, all.weight_sram_reads += c.weight_sram_reads;
      all.membrane_sram_reads += c.membrane_sram_reads, all.membrane_sram_writes += c.membrane_sram_writes;
      all.neuron_updates += c.neuron_updates, all.sdsa_ops += c.sdsa_ops, all.macs += c.macs, all.sops += c.sops;
    }
    EventCounts& ev = res.events;
    ev = core_events(all);
    ev.router_traversals = res.net.router_traversals;
    ev.link_bits = res.net.on_chip_link_bits;
    ev.chip_link_bits = res.net.chip_link_bits;
    ev.dram_bits = 8 * (res.dram_weight_bytes + res.dram_spill_write_bytes + res.dram_spill_read_bytes);
    // Static: every used core (one or more groups, one per phase) for the whole latency.
    std::vector<std::vector<int>> slot_nodes(cores.size());  // [core]: nodes of every group on it
    for (const GroupState& G : groups)
      for (const Slot& s : G.slots) slot_nodes[size_t(G.core)].push_back(s.node);
    uint64_t used = 0;
    for (const auto& v : slot_nodes) used += v.empty() ? 0 : 1;
    ev.core_cycles = used * res.latency_cycles;
    // Per layer: its own events; a core's static cycles are shared equally by the nodes of the
    // groups it holds (remainder to the first), so the layers sum exactly to the totals.
    res.node_events.assign(g.nodes.size(), EventCounts{});
    for (size_t k = 0; k < g.nodes.size(); ++k) {
      EventCounts& ne = res.node_events[k];
      ne = core_events(node_cc[k]);
      ne.router_traversals = node_net[k].traversals;
      ne.link_bits = node_net[k].link_bits, ne.chip_link_bits = node_net[k].chip_link_bits;
      ne.dram_bits = node_dram_bits[k];
    }
    for (const auto& nodes : slot_nodes) {
      if (nodes.empty()) continue;
      const uint64_t n = nodes.size(), share = res.latency_cycles / n;
      for (size_t i = 0; i < n; ++i)
        res.node_events[size_t(nodes[i])].core_cycles += share + (i == 0 ? res.latency_cycles - share * n : 0);
    }
    return std::move(res);
  }
};

ConvPlans make_conv_plans(const model::Graph& g) {
  auto plans = std::make_shared<std::vector<model::ConvPlan>>(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.op != Op::Conv2d && n.op != Op::Linear) continue;
    const Node& src = g.nodes[n.inputs.at(0)];
    int64_t in_max = 1;
    if (src.kind() == model::ValueKind::Input) {
      int64_t zp = 0;
      for (int32_t z : src.zero_point) zp = std::max<int64_t>(zp, std::abs(int64_t(z)));
      in_max = 255 + zp;
    }
    (*plans)[i] = model::make_conv_plan(g, n, in_max);
  }
  return plans;
}

Chip::Chip(const model::Graph& g, const ChipConfig& chip, const mapper::Mapping& m, ConvPlans plans)
    : impl_(std::make_unique<Impl>(g, chip, m, std::move(plans))) {}
ConvPlans Chip::conv_plans() const { return impl_->plans; }
Chip::~Chip() = default;
void Chip::begin(const model::InputView& in, int T, const ChipRunOptions& opt) { impl_->begin(in, T, opt); }
uint64_t Chip::next_event_cycle() const { return impl_->next_event_cycle(); }
void Chip::step() { impl_->step(); }
bool Chip::done() const { return impl_->done(); }
ChipRunResult Chip::finish() { return impl_->finish(); }
uint64_t Chip::now() const { return impl_->net->now(); }
noc::Network& Chip::network() { return *impl_->net; }
double Chip::progress() const {
  uint64_t done = 0, total = 0;
  for (const auto& G : impl_->groups) {
    done += uint64_t(G.t) * G.slots.size() + uint64_t(G.t < impl_->T ? G.k : 0);
    total += uint64_t(impl_->T) * G.slots.size();
  }
  return total ? double(done) / double(total) : 1.0;
}
int Chip::timestep() const {
  int t = impl_->T;
  for (const auto& G : impl_->groups) t = std::min(t, G.t);
  return t;
}
int Chip::num_cores() const { return int(impl_->cores.size()); }

ChipRunResult Chip::run(const model::InputView& in, int T, const ChipRunOptions& opt) {
  begin(in, T, opt);
  while (!done()) {
    if (opt.stop && opt.stop->load(std::memory_order_relaxed)) break;
    if (opt.max_cycles && next_event_cycle() > opt.max_cycles) break;
    step();
  }
  return finish();
}

std::string compare_with_golden(const model::Graph& g, const ChipRunResult& chip, const model::RunResult& golden) {
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.op != Op::LIF) continue;
    if (i >= chip.spikes.size() || i >= golden.spikes.size() || chip.spikes[i].empty() || golden.spikes[i].empty())
      return "spikes of '" + n.name + "' were not recorded";
    const int64_t size = n.shape.size(), HW = int64_t(n.shape.h) * n.shape.w;
    const int T = std::min(chip.T, golden.T);
    for (int t = 0; t < T; ++t) {
      const uint8_t* a = chip.spikes[i].data() + size_t(t) * size;
      const uint8_t* b = golden.spikes[i].data() + size_t(t) * size;
      if (std::memcmp(a, b, size_t(size)) == 0) continue;
      for (int64_t j = 0; j < size; ++j)
        if (a[j] != b[j])
          return fmt::format("spike mismatch at layer '{}', neuron (c={}, y={}, x={}), timestep {}: chip {} golden {}",
                             n.name, j / HW, j % HW / n.shape.w, j % n.shape.w, t, int(a[j]), int(b[j]));
    }
  }
  if (chip.output_acc != golden.output_acc) {
    for (size_t o = 0; o < chip.output_acc.size(); ++o)
      if (o >= golden.output_acc.size() || chip.output_acc[o] != golden.output_acc[o])
        return fmt::format("output accumulator {} differs: chip {} golden {}", o, chip.output_acc[o],
                           o < golden.output_acc.size() ? golden.output_acc[o] : 0);
  }
  if (chip.prediction != golden.prediction)
    return fmt::format("prediction differs: chip {} golden {}", chip.prediction, golden.prediction);
  return {};
}

}  // namespace spikechip::arch
