// Packets (docs/architecture.md, "Chip"): sending a packet on its route (and its DRAM copy for later
// phases), spikes and 32-bit words split into packets, end-of-step markers with per-destination
// packet counts, what a node's task sends when it ends, and the host streaming input frames.
#include "arch/chip_engine.hpp"

namespace spikechip::arch::detail {

namespace {

// 32-bit words over each of an emission's routes (cut streams' membrane values in
// PacketData::val, fan-in partial sums in PacketData::part): the route's region in raster order,
// `word(c, y, x)` each, flit_bits / 32 words per flit, one membrane SRAM read per word as it
// leaves; then the end-of-step markers. Counts the packets and flits in `packets` / `flits`.
template <class Words, class Word>
void send_region_words(ChipEngine& E, GroupState& G, Slot& s, const Emission& e, int t, uint64_t cycle, DataKind kind,
                       Words PacketData::*words, Word word, uint64_t& packets, uint64_t& flits) {
  const int per_flit = std::max(1, E.cfg.router.flit_bits / 32);
  E.counts_scratch.assign(e.dest_groups.size(), 0);
  const CoreCounters before = E.cores[G.core]->cnt;
  for (size_t lr = 0; lr < e.routes.size(); ++lr) {
    const int rid = e.routes[lr];
    const auto& rb = E.m.routes[size_t(rid)].region;
    const int64_t per_pkt = int64_t(per_flit) * E.max_payload_flits(E.route_fanout[size_t(rid)]);
    int64_t j = 0;
    uint32_t h = UINT32_MAX;
    auto flush = [&] {
      const int n_flits = 1 + int(ceil_div64(int64_t((E.pool[h].*words).size()), per_flit));
      ++packets, flits += uint64_t(n_flits);
      E.send_route(h, rid, G.core, n_flits, cycle);
      for (int dl : e.route_dest_local[lr]) E.counts_scratch[dl]++;
      h = UINT32_MAX;
    };
    for (int c = rb.c0; c < rb.c1; ++c)
      for (int y = rb.y0; y < rb.y1; ++y)
        for (int x = rb.x0; x < rb.x1; ++x, ++j) {
          if (h == UINT32_MAX) {
            h = E.alloc();
            PacketData& d = E.pool[h];
            d.kind = kind, d.src_group = G.id, d.src_node = s.node, d.t = t, d.route = rid;
            d.pc0 = int(j);
          }
          (E.pool[h].*words).push_back(word(c, y, x));
          if (int64_t((E.pool[h].*words).size()) == per_pkt) flush();
        }
    if (h != UINT32_MAX) flush();
    E.cores[G.core]->cnt.membrane_sram_reads += uint64_t(rb.volume());
  }
  E.charge_core(s.node, t, E.cores[G.core]->cnt, before);
  E.send_eos(e, G.id, G.core, t, cycle);
}

}  // namespace

void ChipEngine::send(uint32_t h, int src_core, const std::vector<int>& dests, int flits, uint64_t cycle, bool host) {
  PacketData& d = pool[h];
  d.refs = int(dests.size());
  d.flits = flits;
  d.src_act = sender_act;
  Packet& p = send_packet;  // (reused: its destination list keeps its capacity, Network::inject)
  p.kind = d.kind == DataKind::EndOfStep ? PacketKind::EndOfStep  // (weights travel as data, like spikes)
           : d.kind == DataKind::PartialSum || d.kind == DataKind::Result || d.kind == DataKind::Membrane ||
                     d.kind == DataKind::FanIn
               ? PacketKind::PartialSum
                                                                         : PacketKind::Spike;
  p.src = src_core;
  p.dests.assign(dests.begin(), dests.end());
  p.size_flits = flits;
  p.src_group = d.src_group;
  p.timestep = d.t;
  p.payload = h;
  charge_packet(d.src_node, d.t,
                d.route >= 0 && d.kind != DataKind::EndOfStep && d.dram_leg == 0 ? route_tree[size_t(d.route)]
                                                                                 : tree_cost(src_core, dests),
                flits);
  // Network packets of the timestep (the network splits a packet into one per destination
  // without multicast).
  const uint64_t copies = dests.size() > 1 && !cfg.router.multicast ? uint64_t(dests.size()) : 1;
  res.step_packets[step_of(d.t)] += copies, res.step_flits[step_of(d.t)] += copies * uint64_t(flits);
  const uint64_t at = std::max(cycle, net->now());
  net->inject(p, at);
  if (!host) {  // the packetiser's flits are work for the sending layer
    const uint64_t end = cores[src_core]->count_sent(flits, at);
    layer_work(d.src_node, d.t, end - uint64_t(flits), end, uint64_t(flits));
  }
}

void ChipEngine::send_route(uint32_t h, int rid, int src_core, int flits, uint64_t cycle) {
  if (!route_later[size_t(rid)].empty()) spill(h, src_core, flits, cycle);
  if (!route_cores[size_t(rid)].empty()) send(h, src_core, route_cores[size_t(rid)], flits, cycle);
  else free_list.push_back(h);
}

void ChipEngine::spill(uint32_t h, int src_core, int flits, uint64_t cycle) {
  const uint32_t c = alloc();
  pool[c] = pool[h];
  pool[c].dram_leg = 1;
  ++spills_in_flight;
  send(c, src_core, {ctrls.empty() ? host_port_core[0] : ctrls[size_t(core_ctrl[size_t(src_core)])].core}, flits, cycle);
}

uint64_t ChipEngine::emit(const Emission& e, int src_group, int src_core, int t, uint64_t cycle) {
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

uint64_t ChipEngine::host_frame(const Emission& e, int t, const uint8_t* frame, uint64_t start) {
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
    sender_act = path_act(PathKind::Host, -1, e.node, t, host_base, port_free[size_t(port)], host_base_act);
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
  sender_act = path_act(PathKind::Host, -1, e.node, t, host_base, port_free[last], host_base_act);
  send_eos(e, -1, host_port_core[last], t, port_free[last], true);
  return port_free[last];
}

void ChipEngine::send_eos(const Emission& e, int src_group, int src_core, int t, uint64_t cycle, bool host) {
  uint32_t h = alloc();
  PacketData& d = pool[h];
  d.kind = DataKind::EndOfStep, d.src_group = src_group, d.src_node = e.node, d.t = t;
  for (size_t i = 0; i < e.dest_groups.size(); ++i) d.expect.push_back({e.dest_groups[i], int(counts_scratch[i])});
  if (e.eos_spills) spill(h, src_core, 1, cycle);
  if (!e.eos_cores.empty()) send(h, src_core, e.eos_cores, 1, cycle, host);
  else free_list.push_back(h);
}

void ChipEngine::send_words(DataKind kind, int src_group, int src_node, int t, int route, int c0, int c1,
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

void ChipEngine::send_outputs(GroupState& G, Slot& s, int t, uint64_t cycle) {
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
    const uint32_t task = G.act;
    for (size_t lr = 0; lr < e.routes.size(); ++lr) {
      const auto& rb = m.routes[e.routes[lr]].region;
      part_scratch.assign(size_t(rb.c1 - rb.c0), 0);
      for (int y = rb.y0; y < rb.y1; ++y)
        model::mean_partial(val[s.node].data(), HW, rb.c0, rb.c1, int64_t(y) * n.shape.w + rb.x0,
                            int64_t(y) * n.shape.w + rb.x1, part_scratch.data());
      const CoreCounters before = cores[G.core]->cnt;
      extra += cores[G.core]->elementwise_cost(rb.volume(), 1, 0);
      charge_core(s.node, t, cores[G.core]->cnt, before);
      // The route's partial sums leave once the reduction has reached them (critical path).
      sender_act = path_act(PathKind::Node, G.core, s.node, t, cycle, cycle + extra, task);
      send_words(DataKind::PartialSum, G.id, s.node, t, e.routes[lr], rb.c0, rb.c1, part_scratch, G.core, cycle + extra);
      for (int dl : e.route_dest_local[lr])
        counts_scratch[dl] += words_packets(rb.c1 - rb.c0, route_fanout[size_t(e.routes[lr])]);
    }
    const uint64_t end = cores[G.core]->book_node(cycle, extra, {0, cycle, cycle});
    layer_work(s.node, t, end - std::max<uint64_t>(1, extra), end, std::max<uint64_t>(1, extra));
    const uint64_t rstart = end - std::max<uint64_t>(1, extra);
    node_act[size_t(G.core)] = path_act(PathKind::Node, G.core, s.node, t, rstart, end, rstart > cycle ? node_act[size_t(G.core)] : task);
    send_eos(e, G.id, G.core, t, cycle + extra);
  } else if (e.kind == DataKind::Membrane) {
    // A cut stream's values (docs/architecture.md, "Cut streams").
    const int64_t HW = int64_t(n.shape.h) * n.shape.w;
    const int32_t* v = val[s.node].data();
    send_region_words(*this, G, s, e, t, cycle, DataKind::Membrane, &PacketData::val,
                      [&](int c, int y, int x) { return v[c * HW + int64_t(y) * n.shape.w + x]; },
                      res.membrane_packets, res.membrane_flits);
  } else if (e.kind == DataKind::FanIn) {
    // A fan-in split's partial sums (docs/architecture.md, "Split fan-in"): the slice's exact sums
    // over the route's region (the group's box), sent as 32-bit words as the chip moves them (the
    // simulation keeps them exact).
    const Box& gb = G.box;
    const int gh = gb.y1 - gb.y0, gw = gb.x1 - gb.x0;
    send_region_words(*this, G, s, e, t, cycle, DataKind::FanIn, &PacketData::part,
                      [&](int c, int y, int x) {
                        return s.fan_send[size_t((int64_t(c - gb.c0) * gh + (y - gb.y0)) * gw + (x - gb.x0))];
                      },
                      res.fan_in_packets, res.fan_in_flits);
  } else if (e.kind == DataKind::Result) {
    if (t != T - 1) return;
    for (size_t lr = 0; lr < e.routes.size(); ++lr) {
      const auto& rb = m.routes[e.routes[lr]].region;
      part_scratch.assign(res.output_acc.begin() + rb.c0, res.output_acc.begin() + rb.c1);
      send_words(DataKind::Result, G.id, s.node, t, e.routes[lr], rb.c0, rb.c1, part_scratch, G.core, cycle);
    }
  }
}

}  // namespace spikechip::arch::detail
