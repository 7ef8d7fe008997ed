// Accounting (docs/architecture.md, "Chip", energy per layer): the links of a packet's delivery
// tree, the energy events of core counters, and at the end of a run the totals and each layer's
// own events (they sum exactly to the totals), with static energy shared among a core's nodes and
// the DRAM devices' actions shared by the layers' DRAM bits.
#include "arch/chip_engine.hpp"
#include "arch/dram_timing.hpp"

namespace spikechip::arch::detail {

ChipEngine::TreeCost ChipEngine::tree_cost(int src, const std::vector<int>& dests) const {
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

EventCounts ChipEngine::core_events(const CoreCounters& c) const {
  EventCounts ev;
  // The accumulator is as wide as the chip's membranes: 16-bit chips add at the 16-bit price; the
  // table has no 24-bit entry, so 24-bit adds are priced as 32-bit ones (an upper bound).
  (cfg.core.membrane_bits <= 16 ? ev.adds16 : ev.adds32) = c.adds;
  ev.mults8 = c.mults;
  ev.membrane_reads = c.membrane_sram_reads, ev.membrane_writes = c.membrane_sram_writes;
  ev.neuron_updates = c.neuron_updates, ev.sdsa_ops = c.sdsa_ops;
  ev.dense_macs = c.dense_macs;
  // BICLab's formula: MACs (encoder, and every MAC of a dense core: the ANN figure E_MAC x FLOPs)
  // at E_MAC, spike-driven additions (SOPs, SDSA ops) at E_AC.
  ev.paper_macs = c.macs + c.dense_macs, ev.paper_acs = c.sops + c.sdsa_ops;
  ev.weight_reads[SramShape{cfg.core.weight_sram_bytes / std::max(1, cfg.core.weight_banks), cfg.core.weight_word_bits}] =
      c.weight_sram_reads;
  return ev;
}

std::map<std::string, DramActions> ChipEngine::dram_device_actions() const {
  // The memories that served this run: the host port's and the controllers'; only DRAM device
  // models count actions (a `channel` or a TLM memory is priced by the bit alone).
  std::vector<const OffchipMemory*> mems = {mem};
  for (const MemCtrl& c : ctrls) mems.push_back(c.mem.get());
  std::map<std::string, DramActions> out;
  for (const OffchipMemory* m : mems) {
    const auto* d = dynamic_cast<const DramTiming*>(m);
    if (!d) continue;
    const DramStats& s = d->stats();
    const uint64_t bits = 8 * (s.bytes_read + s.bytes_written);
    if (bits == 0) continue;  // a memory the run never used is taken as absent (powered down)
    DramActions& a = out[d->device().name];
    const uint64_t ch = uint64_t(d->channels());
    a.bits += bits, a.read_bursts += s.read_bursts, a.write_bursts += s.write_bursts, a.activates += s.activates();
    // Refresh and standby for the whole run on every channel, also after the last access.
    a.refreshes += ch * (d->ps_of_cycle(res.latency_cycles) / d->device().tREFI);
    a.channel_cycles += ch * res.latency_cycles;
  }
  return out;
}

ChipRunResult ChipEngine::finish() {
  res.complete = done();
  walk_critical_path();
  res.prediction = int(std::max_element(res.output_acc.begin(), res.output_acc.end()) - res.output_acc.begin());
  res.net = net->totals();
  // The accounting window: the latency, or later work if any unit was still booked after it.
  res.run_cycles = res.latency_cycles;
  for (const auto& c : cores) res.run_cycles = std::max(res.run_cycles, c->booked_until());
  for (auto& c : cores) {
    c->close_time(res.run_cycles);
    res.cores.push_back(c->cnt);
    res.core_time.push_back(c->time);
  }
  for (int node = 0; node < net->num_nodes(); ++node)
    for (int p = 0; p < 4; ++p)
      if (net->link_exists(node, p) && net->link_stats(node, p).flits > 0)
        res.links.push_back({{node, p}, net->link_stats(node, p)});
  for (size_t i = 0; i < res.node_start.size(); ++i)
    if (res.node_start[i] == kNever) res.node_start[i] = 0;
  for (auto& c : res.node_step_start)
    if (c == kNever) c = 0;
  CoreCounters all;
  for (const auto& c : res.cores) {
    all.adds += c.adds, all.mults += c.mults, all.weight_sram_reads += c.weight_sram_reads;
    all.membrane_sram_reads += c.membrane_sram_reads, all.membrane_sram_writes += c.membrane_sram_writes;
    all.neuron_updates += c.neuron_updates, all.sdsa_ops += c.sdsa_ops, all.macs += c.macs, all.sops += c.sops;
    all.dense_macs += c.dense_macs;
  }
  EventCounts& ev = res.events;
  ev = core_events(all);
  ev.router_traversals = res.net.router_traversals;
  ev.link_bits = res.net.on_chip_link_bits;
  ev.chip_link_bits = res.net.chip_link_bits;
  ev.dram_bits = 8 * (res.dram_weight_bytes + res.dram_spill_write_bytes + res.dram_spill_read_bytes);
  ev.dram_actions = dram_device_actions();
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
  // Each layer's (and below each timestep's) share of the DRAM devices' actions: in proportion to
  // its DRAM bits, so they sum exactly to the totals.
  auto share_dram = [&](const std::vector<uint64_t>& bits, std::vector<EventCounts>& parts_of) {
    for (const auto& [model, a] : ev.dram_actions) {
      const std::vector<DramActions> parts = split_dram_actions(a, bits);
      for (size_t k = 0; k < parts.size(); ++k)
        if (!parts[k].empty()) parts_of[k].dram_actions[model] = parts[k];
    }
  };
  share_dram(node_dram_bits, res.node_events);
  for (const auto& nodes : slot_nodes) {
    if (nodes.empty()) continue;
    const uint64_t n = nodes.size(), share = res.latency_cycles / n;
    for (size_t i = 0; i < n; ++i)
      res.node_events[size_t(nodes[i])].core_cycles += share + (i == 0 ? res.latency_cycles - share * n : 0);
  }
  // Per timestep: the latency cut at the timesteps' ends (the last one runs until the result is at
  // the host), its own events, and static energy for its cycles, so the timesteps sum to the totals.
  const size_t nt = size_t(T);
  res.step_cycles.assign(nt, 0);
  uint64_t prev = 0;
  for (size_t t = 0; t + 1 < nt; ++t) {
    const uint64_t e = std::min(res.latency_cycles, std::max(prev, res.timestep_end_cycles[t]));
    res.step_cycles[t] = e - prev, prev = e;
  }
  res.step_cycles[nt - 1] = res.latency_cycles - prev;
  res.step_events.assign(nt, EventCounts{});
  for (size_t t = 0; t < nt; ++t) {
    EventCounts& se = res.step_events[t];
    se = core_events(step_cc[t]);
    se.router_traversals = step_net[t].traversals;
    se.link_bits = step_net[t].link_bits, se.chip_link_bits = step_net[t].chip_link_bits;
    se.dram_bits = step_dram_bits[t];
    se.core_cycles = used * res.step_cycles[t];
  }
  share_dram(step_dram_bits, res.step_events);
  return std::move(res);
}

}  // namespace spikechip::arch::detail
