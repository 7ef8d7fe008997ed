// Delivery: the network's sink. A packet reaching a core goes to the groups on it that read it (in
// the packet's phase): data through the op table's arrival rule of each consuming slot (timed on
// the core's synapse engine), end-of-step markers completing a source's timestep, results to the
// host; spilled copies go to the DRAM channel.
#include "arch/chip_engine.hpp"
#include "arch/chip_ops.hpp"

namespace spikechip::arch::detail {

void ChipEngine::deliver_ranked(int core, const Packet& p, uint64_t cycle, uint32_t rank) {
  PacketData& d = pool[p.payload];
  if (d.dram_leg == 1) {
    to_dram(d, core, cycle);
  } else if (d.kind == DataKind::Weights) {
    on_weights(d, cycle);
  } else if (d.kind == DataKind::Result) {
    if (d.route >= 0) {
      for (size_t j = 0; j < d.part.size(); ++j) res.output_acc[size_t(d.pc0) + j] = d.part[j];
    }
    ++results_got;
    if (cycle >= res.latency_cycles) result_act = trip_act(PathKind::Network, -1, d, cycle);
    res.latency_cycles = std::max(res.latency_cycles, cycle);
  } else if (d.kind == DataKind::EndOfStep) {
    for (int gid : groups_on_core[core]) {
      GroupState& G = groups[gid];
      if (G.phase != d.phase) continue;  // the core holds another group in that phase
      for (const auto& [dg, n] : d.expect)
        if (dg == gid) on_eos(G, d, n, cycle);
    }
  } else {
    // The route's readers on this core, in groups_on_core's order (as the end-of-step loop): by
    // the core's rank among the route's destinations when the range it names is this core's
    // (a packet to all of them; not a copy read back from DRAM nor one of the copies a network
    // without multicast makes, whose ranks count other destination sets), else by a search.
    const auto& rd = route_readers[size_t(d.route)];
    const auto& rr = route_rank_readers[size_t(d.route)];
    const auto [b, e] = rank < rr.size() && rr[rank].first < rr[rank].second && rd[rr[rank].first].core == core
                            ? std::pair<size_t, size_t>(rr[rank])
                            : readers_on(rd, core);
    const auto first = rd.begin() + ptrdiff_t(b), last = rd.begin() + ptrdiff_t(e);
    for (auto it = first; it != last; ++it) {
      __builtin_prefetch(&groups[size_t(it->group)]);
      __builtin_prefetch(&it->port->consumers), __builtin_prefetch(it->first);
    }
    for (auto it = first; it != last; ++it) {
      GroupState& G = groups[size_t(it->group)];
      if (G.phase != d.phase) continue;  // the core holds another group in that phase
      if (it->src_group != d.src_group)  // a packet sent on a route not its source's
        throw Error(fmt::format("chip: group {} got a packet from group {} on a route of group {}", G.id, d.src_group,
                                it->src_group));
      on_data(G, *it->port, it->src, d, cycle);
    }
  }
  if (--d.refs == 0) free_list.push_back(uint32_t(p.payload));
}

void ChipEngine::on_data(GroupState& G, Port& P, int src, const PacketData& d, uint64_t cycle) {
  CoreModel& core = *cores[G.core];
  uint64_t cyc = core.header_cost(), conflict = 0;
  consumer_scratch.clear();
  for (const auto& [si, ii] : P.consumers) {
    Slot& s = G.slots[si];
    const CoreCounters before = core.cnt;
    const auto arrive = op_rules(s.op).arrive;
    if (!arrive)
      throw Error(fmt::format("chip: node '{}' ({}) cannot consume packets", g.nodes[s.node].name, model::op_name(s.op)));
    const uint64_t c = arrive(*this, G, s, ii, d, core, res.stats[s.node][d.t]);
    const uint64_t bc = core.cnt.stalls.bank_conflict - before.stalls.bank_conflict;
    consumer_scratch.push_back({c, bc});
    cyc += c, conflict += bc;
    charge_core(s.node, d.t, core.cnt, before);
  }
  const uint64_t fin = core.book_synapse(cycle, cyc, conflict, d.kind == DataKind::Pixel);
  accepts_from[size_t(G.core)] = core.accepts_from();
  // Critical path: the engine started on the packet when it arrived (its trip from the sender
  // released it; recorded with the first consumer's work) or when its previous packet was done.
  const size_t ci = size_t(G.core);
  bool trip = fin - cyc == cycle;
  uint32_t pred = trip ? d.src_act : syn_act[ci];
  const PathKind kind = d.kind == DataKind::Pixel ? PathKind::Encoder : PathKind::Synapse;
  uint64_t at = fin - cyc;
  PortStep& ps = P.step[size_t(d.t)];
  uint32_t* const ready_slot = &ps.ready_act;
  // Back-to-back packets of one port, layer and timestep extend one record (the walk would merge
  // them anyway), unless another port's ready time refers to the record's end.
  if (!trip && pred != kNoAct && consumer_scratch.size() == 1 && (syn_ref[ci] == nullptr || syn_ref[ci] == ready_slot)) {
    PathAct& prev = acts[pred];
    if (prev.kind == kind && prev.node == G.slots[size_t(P.consumers[0].first)].node && prev.t == d.t && prev.end == at)
      prev.end = fin, at = fin;
  }
  // Each consumer's layer gets its own cycles (the first also the header decode) and conflicts.
  for (size_t j = 0; j < consumer_scratch.size(); ++j) {
    const int node = G.slots[size_t(P.consumers[j].first)].node;
    const auto [c, bc] = consumer_scratch[j];
    layer_work(node, d.t, fin - cyc, fin, c - bc + (j == 0 ? core.header_cost() : 0));
    res.layer_time[size_t(node)].bank_conflict += bc;
    if (at == fin) continue;  // extended above
    const uint64_t until = j + 1 == consumer_scratch.size() ? fin : at + c + (j == 0 ? core.header_cost() : 0);
    pred = path_act(kind, G.core, node, d.t, at, until, pred, trip);
    at = until, trip = false, syn_ref[ci] = nullptr;
  }
  if (consumer_scratch.empty()) pred = path_act(kind, G.core, d.src_node, d.t, at, fin, pred, trip), syn_ref[ci] = nullptr;
  syn_act[ci] = pred;
  if (opt.record_activity && !P.consumers.empty())
    record_synapse(G.core, G.slots[size_t(P.consumers.front().first)].node, d.t, fin - cyc, fin);
  const size_t k = size_t(d.t) * P.srcs.size() + size_t(src);
  SrcCount& sc = P.count[k];
  sc.recv++;
  ps.last_data = std::max(ps.last_data, fin);
  if (fin >= ps.ready) {
    ps.ready_act = pred;
    syn_ref[ci] = syn_ref[ci] == nullptr || syn_ref[ci] == ready_slot ? ready_slot : &kManyRefs;
  }
  ps.ready = std::max(ps.ready, fin);
  if (sc.recv == sc.expect) source_complete(G, P, d.t);
}

void ChipEngine::on_eos(GroupState& G, const PacketData& d, int n, uint64_t cycle) {
  Port& P = port_for(G, d);
  const size_t k = size_t(d.t) * P.srcs.size() + src_idx(P, d.src_group, G);
  SrcCount& sc = P.count[k];
  PortStep& ps = P.step[size_t(d.t)];
  sc.expect = n;
  if (cycle >= ps.ready) ps.ready_act = trip_act(PathKind::EndOfStep, G.core, d, cycle);
  ps.ready = std::max(ps.ready, cycle);
  if (sc.recv == n) source_complete(G, P, d.t);
}

}  // namespace spikechip::arch::detail
