// Time multiplexing (docs/architecture.md, "Phases"): a phase starts when the previous one has
// finished and its spills are written; the DRAM channel behind the host port reads the phase's
// weights, then the values earlier phases spilled for it, and injects those at the host port. The
// channel is an OffchipMemory (arch/offchip_memory.hpp): the config's DramChannel, or a TLM memory.
#include "arch/chip_engine.hpp"

namespace spikechip::arch::detail {

void ChipEngine::to_dram(const PacketData& d, int core, uint64_t cycle) {
  const uint64_t bytes = spill_bytes(d);
  res.dram_spill_write_bytes += bytes;
  charge_dram(d.src_node, d.t, 8 * bytes);
  // The memory controller at this router (chip_memory.cpp), or the channel behind the host port.
  const int ci = ctrls.empty() ? -1 : ctrl_at_core[size_t(core)];
  OffchipMemory* const to = ci < 0 ? mem : ctrls[size_t(ci)].mem.get();
  uint64_t& next = ci < 0 ? spill_next : ctrls[size_t(ci)].spill_next;
  const uint64_t addr = (ci < 0 ? mem_layout.spill_base : ctrls[size_t(ci)].spill_base) + next;
  next += bytes;
  to->write(addr, bytes, cycle, to->holds_data() ? spill_values(d, spill_buf) : nullptr);
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
    // Read back, the copy is sent afresh (its record then starts at the phase's weights being in):
    // its own record would only keep the chain behind it alive until then (collect_acts).
    c.phase = q, c.dram_leg = 2, c.src_act = kNoAct;
    c.serial = ++packet_serial, c.clear_shares();  // a packet of its own for the phase's spike shares
    spill_store[size_t(q)].push_back(std::move(c));
    spill_addr[size_t(q)].push_back(addr);
    if (ci >= 0) spill_ctrl[size_t(q)].push_back(ci);
  }
  // The phase check runs as a controller event: this is the network's delivery callback, which
  // must not inject (start_phase does).
  if (--spills_in_flight == 0) {
    spill_act = trip_act(PathKind::Network, -1, d, cycle);
    schedule(cycle, -1, false);
  }
}

void ChipEngine::maybe_next_phase(uint64_t cycle, uint32_t trigger) {
  if (phase_left > 0 || spills_in_flight > 0 || cur_phase + 1 >= int(phase_groups.size())) return;
  start_phase(cur_phase + 1, cycle, trigger);
}

std::vector<int> ChipEngine::spill_dests(const PacketData& sp, int q) const {
  std::vector<int> dests;
  if (sp.kind == DataKind::EndOfStep) {
    for (const auto& [dg, n] : sp.expect)
      if (dg >= 0 && groups[size_t(dg)].phase == q) dests.push_back(groups[size_t(dg)].core);
    std::sort(dests.begin(), dests.end());
    dests.erase(std::unique(dests.begin(), dests.end()), dests.end());
  } else {
    dests = route_phase_cores[size_t(sp.route)].at(q);
  }
  return dests;
}

void ChipEngine::start_phase(int q, uint64_t cycle, uint32_t trigger) {
  if (q > 0) {  // the values spilled for the phase that ended have all been sent
    std::vector<PacketData>().swap(spill_store[size_t(q - 1)]);
    std::vector<uint64_t>().swap(spill_addr[size_t(q - 1)]);
  }
  if (!ctrls.empty()) return ctrl_start_phase(q, cycle, trigger);  // chip_memory.cpp
  cur_phase = q;
  phase_left = int(phase_groups[size_t(q)].size());
  res.phase_start_cycles.push_back(cycle);
  uint64_t wbytes = 0;
  for (int gid : phase_groups[size_t(q)]) {
    const GroupState& G = groups[size_t(gid)];
    for (size_t k = 0; k < G.slots.size(); ++k)
      charge_dram(G.slots[k].node, 0, 8 * uint64_t(group_node_weight_bytes[size_t(gid)][k]));  // for its first timestep
    wbytes += uint64_t(m.groups[size_t(gid)].weight_bytes);
  }
  res.dram_weight_bytes += wbytes;
  // Double buffering: what the previous phase prefetched is in (or arrives) at prefetch_end; the
  // rest of the image is read now.
  const uint64_t pre = prefetched[size_t(q)], addr = mem_layout.phase_weights_addr[size_t(q)];
  uint64_t c = pre < wbytes ? mem->read(addr + pre, wbytes - pre, cycle, false, nullptr) : cycle;
  c = std::max(c, prefetch_end[size_t(q)]);
  const uint64_t ready = c;
  res.phase_ready_cycles.push_back(ready);
  phase_act[size_t(q)] = path_act(PathKind::Dram, -1, -1, -1, cycle, ready, trigger);
  const uint64_t flit_cycles = uint64_t(ceil_div64(cfg.router.flit_bits, cfg.host.bits_per_cycle));
  uint64_t port = c;
  for (size_t i = 0; i < spill_store[size_t(q)].size(); ++i) {
    PacketData& sp = spill_store[size_t(q)][i];
    const uint64_t bytes = spill_bytes(sp), addr = spill_addr[size_t(q)][i];
    res.dram_spill_read_bytes += bytes;
    charge_dram(sp.src_node, sp.t, 8 * bytes);
    if (mem->holds_data()) {  // the memory keeps data: what comes back must be what was written
      spill_check.resize(bytes);
      c = mem->read(addr, bytes, c, true, spill_check.data());
      spill_values(sp, spill_buf);
      if (spill_check != spill_buf)
        throw Error(fmt::format("off-chip memory: the {} bytes read back at spill address 0x{:x} differ from those written", bytes, addr));
    } else {
      c = mem->read(addr, bytes, c, true, nullptr);
    }
    const std::vector<int> dests = spill_dests(sp, q);
    const int flits = sp.flits;
    const uint32_t h = alloc();
    pool[h] = std::move(sp);
    const uint64_t at = std::max(c, port);
    sender_act = path_act(PathKind::Dram, -1, pool[h].src_node, pool[h].t, cycle, at, trigger);
    send(h, host_port_core[0], dests, flits, at, true);
    port = at + uint64_t(flits) * flit_cycles;
  }
  std::vector<PacketData>().swap(spill_store[size_t(q)]);
  std::vector<uint64_t>().swap(spill_addr[size_t(q)]);
  // Then, while the phase computes, the next phase's image from its start: as much as the cores'
  // prefetch buffers hold, min(reserve, group's weights) per group.
  if (size_t(q) + 1 < phase_groups.size() && prefetch_cap > 0) {
    uint64_t p = 0;
    for (int gid : phase_groups[size_t(q) + 1]) p += std::min(prefetch_cap, uint64_t(m.groups[size_t(gid)].weight_bytes));
    prefetched[size_t(q) + 1] = p;
    if (p > 0) prefetch_end[size_t(q) + 1] = mem->read(mem_layout.phase_weights_addr[size_t(q) + 1], p, c, false, nullptr);
  }
  for (int gid : phase_groups[size_t(q)]) weights_in[size_t(gid)] = ready;
  for (int gid : phase_groups[size_t(q)]) schedule(ready, gid, false);
  if (phase_left == 0) maybe_next_phase(ready, phase_act[size_t(q)]);
}

}  // namespace spikechip::arch::detail
