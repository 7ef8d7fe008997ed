// Memory controllers as tiles of the mesh (docs/architecture.md, "Memory controllers on the mesh";
// cfg.memory_controllers): each controller owns its DRAM (an OffchipMemory of its model and
// channels) and streams, through its router's local port, the weights of the groups nearest to it
// and the values spilled to it as network packets; they share links and buffers with the spike
// traffic and are counted like any packet. Without controllers chip_phases.cpp's channel behind
// the host port serves the phases.
#include "arch/chip_engine.hpp"
#include "arch/memory_controllers.hpp"

namespace spikechip::arch::detail {

void ChipEngine::build_controllers() {
  ctrls.clear();
  if (cfg.memory_controllers.empty()) return;
  const int ncores = m.mesh_w * m.mesh_h;
  ctrl_at_core.assign(size_t(ncores), -1);
  for (const MemoryControllerConfig& mc : cfg.memory_controllers) {
    MemCtrl c;
    c.core = memory_controller_router(mc, m.mesh_w, m.mesh_h);
    if (c.core < 0 || c.core >= ncores)
      throw Error(fmt::format("chip: memory controller on the {} edge at {} is outside the mapping's {}x{} mesh", mc.edge,
                              mc.position, m.mesh_w, m.mesh_h));
    ctrl_at_core[size_t(c.core)] = int(ctrls.size());
    ctrls.push_back(std::move(c));
  }
  // Each core's nearest controller (ties: the first listed) holds its group's weights and the
  // values its groups spill.
  std::vector<int> routers;
  for (const MemCtrl& c : ctrls) routers.push_back(c.core);
  core_ctrl = nearest_memory_controller(routers, m.mesh_w, ncores);
  // Each controller's weights image: its groups' weights phase by phase, in group order; then its
  // spill area (64-byte aligned).
  std::vector<uint64_t> next(ctrls.size(), 0);
  group_waddr.assign(m.groups.size(), 0);
  for (const auto& pg : phase_groups)
    for (int gid : pg) {
      uint64_t& a = next[size_t(core_ctrl[size_t(m.groups[size_t(gid)].core)])];
      group_waddr[size_t(gid)] = a;
      a += uint64_t(m.groups[size_t(gid)].weight_bytes);
    }
  for (size_t c = 0; c < ctrls.size(); ++c) ctrls[c].spill_base = (next[c] + 63) / 64 * 64;
}

void ChipEngine::reset_controllers() {
  weights_in.assign(m.groups.size(), 0);
  host_started = ctrls.empty() || phase_groups.size() < 2;
  if (ctrls.empty()) return;
  if (opt.offchip)
    throw Error("chip: the chip config places memory controllers on the mesh, and a TLM memory socket serves only the "
                "channel behind the host port: remove memory_controllers from the chip config or leave the socket unbound");
  for (size_t c = 0; c < ctrls.size(); ++c) {
    MemoryControllerConfig mc = cfg.memory_controllers[c];
    ChipConfig one = cfg;
    one.dram.model = mc.model, one.dram.channels = mc.channels;
    ctrls[c].mem = make_offchip_memory(one);
    ctrls[c].spill_next = 0, ctrls[c].port_free = 0;
    ctrls[c].queue.clear();
  }
  weights_pending.assign(m.groups.size(), 0);
  weights_act.assign(m.groups.size(), kNoAct);
  spill_ctrl.assign(phase_groups.size(), {});
}

void ChipEngine::ctrl_queue_weights(int gid, uint64_t from, uint64_t to, uint64_t cycle) {
  const uint64_t chunk = uint64_t(weight_chunk_bytes());
  MemCtrl& c = ctrls[size_t(core_ctrl[size_t(groups[size_t(gid)].core)])];
  const bool idle = c.queue.empty();
  for (uint64_t off = from; off < to; off += chunk)
    c.queue.push_back(CtrlItem{gid, groups[size_t(gid)].phase, group_waddr[size_t(gid)] + off, std::min(chunk, to - off), 0, cycle});
  if (idle) ctrl_arm(int(&c - ctrls.data()));
}

void ChipEngine::ctrl_start_phase(int q, uint64_t cycle, uint32_t trigger) {
  cur_phase = q;
  phase_left = int(phase_groups[size_t(q)].size());
  phase_begin = cycle, phase_trigger = trigger;
  res.phase_start_cycles.push_back(cycle);
  res.phase_ready_cycles.push_back(cycle);  // raised as the groups' weights arrive
  phase_act[size_t(q)] = trigger;
  phase_weights_left = 0;
  const uint64_t chunk = uint64_t(weight_chunk_bytes());
  for (int gid : phase_groups[size_t(q)]) {
    const GroupState& G = groups[size_t(gid)];
    for (size_t k = 0; k < G.slots.size(); ++k)
      charge_dram(G.slots[k].node, 0, 8 * uint64_t(group_node_weight_bytes[size_t(gid)][k]));
    const uint64_t wb = uint64_t(m.groups[size_t(gid)].weight_bytes), pre = group_prefetched[size_t(gid)];
    res.dram_weight_bytes += wb;
    if (pre == 0) weights_in[size_t(gid)] = wb == 0 ? cycle : kNever, weights_pending[size_t(gid)] = int((wb + chunk - 1) / chunk);
    if (weights_in[size_t(gid)] != kNever) {  // no weights, or all prefetched and in: usable from the start
      weights_in[size_t(gid)] = cycle, weights_act[size_t(gid)] = trigger;
      schedule(cycle, gid, false);
      continue;
    }
    ++phase_weights_left;
    ctrl_queue_weights(gid, pre, wb, cycle);  // the part the prefetch buffer did not hold
  }
  if (phase_weights_left == 0) phase_weights_done(cycle);
  if (phase_left == 0) maybe_next_phase(cycle, trigger);
}

// The front packet's bytes are read (requested when its stream began, so the DRAM streams them
// back to back) and the packet leaves when they are in and the local port is free.
void ChipEngine::ctrl_arm(int c) {
  MemCtrl& mc = ctrls[size_t(c)];
  if (mc.queue.empty()) return;
  const CtrlItem& it = mc.queue.front();
  const uint64_t data = mc.mem->read(it.addr, it.bytes, it.req, false, nullptr);
  schedule(std::max({data, mc.port_free, it.req}), -3 - c, false);
}

void ChipEngine::ctrl_send(int c, uint64_t cycle) {
  MemCtrl& mc = ctrls[size_t(c)];
  const CtrlItem it = mc.queue.front();
  mc.queue.pop_front();
  const int fb = cfg.router.flit_bits;
  int flits = 0;
  if (it.group >= 0) {
    const GroupState& G = groups[size_t(it.group)];
    const uint32_t h = alloc();
    PacketData& d = pool[h];
    d.kind = DataKind::Weights, d.src_group = it.group, d.src_node = G.slots[0].node, d.t = 0, d.route = -1;
    d.phase = G.phase;
    flits = 1 + int(ceil_div64(int64_t(it.bytes) * 8, fb));
    sender_act = phase_trigger;
    send(h, mc.core, {G.core}, flits, cycle, true);
    ++res.reload_packets, res.reload_flits += uint64_t(flits);
  } else {
    PacketData& sp = spill_store[size_t(it.phase)][it.index];
    std::vector<int> dests = spill_dests(sp, it.phase);
    flits = sp.flits;
    const uint32_t h = alloc();
    pool[h] = std::move(spill_store[size_t(it.phase)][it.index]);
    const uint32_t in = phase_act[size_t(it.phase)];  // the phase's weights were in, then its spills streamed
    sender_act = path_act(PathKind::Dram, -1, pool[h].src_node, pool[h].t, act_end(in), cycle, in);
    send(h, mc.core, dests, flits, cycle, true);
  }
  mc.port_free = cycle + uint64_t(flits);
  ctrl_arm(c);
}

void ChipEngine::on_weights(const PacketData& d, uint64_t cycle) {
  const int gid = d.src_group;
  if (--weights_pending[size_t(gid)] > 0) return;
  weights_in[size_t(gid)] = cycle;
  if (groups[size_t(gid)].phase != cur_phase) return;  // prefetched whole: its phase's start takes it
  weights_act[size_t(gid)] = path_act(PathKind::Dram, -1, -1, -1, act_end(phase_trigger), cycle, phase_trigger);
  res.phase_ready_cycles.back() = std::max(res.phase_ready_cycles.back(), cycle);
  schedule(cycle, gid, false);
  if (--phase_weights_left == 0) {
    phase_act[size_t(cur_phase)] = weights_act[size_t(gid)];
    schedule(cycle, -2, false);  // delivery may not inject: the spills and frames follow as an event
  }
}

// Every group of the phase has its weights: the controllers stream the values spilled for it (their
// groups now hold the weights that the arriving spikes need), and in phase 0 the host its frames.
void ChipEngine::phase_weights_done(uint64_t cycle) {
  const int q = cur_phase;
  auto& store = spill_store[size_t(q)];
  std::vector<char> idle(ctrls.size());
  for (size_t c = 0; c < ctrls.size(); ++c) idle[c] = ctrls[c].queue.empty();
  for (size_t i = 0; i < store.size(); ++i) {
    const uint64_t bytes = spill_bytes(store[i]);
    res.dram_spill_read_bytes += bytes;
    charge_dram(store[i].src_node, store[i].t, 8 * bytes);
    ctrls[size_t(spill_ctrl[size_t(q)][i])].queue.push_back(CtrlItem{-1, q, spill_addr[size_t(q)][i], bytes, i, cycle});
  }
  for (size_t c = 0; c < ctrls.size(); ++c)
    if (idle[c]) ctrl_arm(int(c));
  // Double buffering: then the next phase's weights, as much of each group's as the prefetch
  // buffer holds (whole packets, unless the group's weights fit entirely).
  if (size_t(q) + 1 < phase_groups.size() && prefetch_cap > 0) {
    const uint64_t chunk = uint64_t(weight_chunk_bytes());
    for (int gid : phase_groups[size_t(q) + 1]) {
      const uint64_t wb = uint64_t(m.groups[size_t(gid)].weight_bytes);
      const uint64_t pre = wb <= prefetch_cap ? wb : prefetch_cap / chunk * chunk;
      if (pre == 0) continue;
      group_prefetched[size_t(gid)] = pre;
      weights_in[size_t(gid)] = kNever, weights_pending[size_t(gid)] = int((wb + chunk - 1) / chunk);
      ctrl_queue_weights(gid, 0, pre, cycle);
    }
  }
  if (!host_started) {
    host_started = true;
    host_base = cycle, host_base_act = phase_act[size_t(q)];
    start_host_frames(cycle);
  }
}

}  // namespace spikechip::arch::detail
