// The controller and the event loop: per group, one (node slice, timestep) task at a time in
// graph order, started when the task's remote inputs of that timestep are complete and the node
// unit is free; a run = begin (host frames, first phase), step until the result is at the host.
#include "arch/chip_engine.hpp"
#include "arch/chip_ops.hpp"

namespace spikechip::arch::detail {

void ChipEngine::try_start(GroupState& G, uint64_t cycle) {
  if (G.busy || G.t >= T || G.phase != cur_phase || weights_in[size_t(G.id)] > cycle) return;
  Slot& s = G.slots[G.k];
  const int t = G.t;
  uint64_t ready = cycle;
  NodeWait wait;  // when the phase's weights were in, the task's remote data processed, its markers in
  // Critical path: what released the task, the latest of its inputs' last arrivals, the group's
  // previous task, the phase's weights (one of these ended at `cycle`), or the node unit below.
  uint32_t pred = G.act;
  if (phase_groups.size() > 1) {
    // The group's weights: the phase's reload, or its own stream from a memory controller.
    const uint32_t wa = ctrls.empty() ? phase_act[size_t(G.phase)] : weights_act[size_t(G.id)];
    wait.phase = res.phase_start_cycles[size_t(G.phase)], wait.weights = weights_in[size_t(G.id)];
    if (act_end(wa) > act_end(pred)) pred = wa;
  }
  for (int pi : s.ports) {
    if (pi < 0) continue;
    const Port& P = G.ports[pi];
    const PortStep& ps = P.step[t];
    if (ps.pending > 0) return;  // a remote input of this timestep is not complete
    ready = std::max(ready, ps.ready);
    wait.data = std::max(wait.data, ps.last_data), wait.inputs = std::max(wait.inputs, ps.ready);
    if (ps.ready >= act_end(pred)) pred = ps.ready_act;  // data first on a tie
  }
  CoreModel& core = *cores[G.core];
  if (core.node_free() > ready) pred = node_act[size_t(G.core)];
  const CoreCounters before = core.cnt;
  const OpRules& rules = op_rules(s.op);
  const uint64_t cyc = rules.compute ? rules.compute(*this, G, s, t, core, res.stats[s.node][t]) : 1;
  charge_core(s.node, t, core.cnt, before);
  const CoreTime tbefore = core.time;
  const uint64_t end = core.book_node(ready, cyc, wait, rules.sdsa_unit);
  layer_wait(s.node, core.time, tbefore);
  G.busy = true;
  G.task_start = end - std::max<uint64_t>(1, cyc);
  layer_work(s.node, t, G.task_start, end, end - G.task_start);
  G.act = node_act[size_t(G.core)] =
      path_act(rules.sdsa_unit ? PathKind::Sdsa : PathKind::Node, G.core, s.node, t, G.task_start, end, pred);
  schedule(end, G.id, true);
}

void ChipEngine::finish_task(GroupState& G, uint64_t cycle) {
  Slot& s = G.slots[G.k];
  const int t = G.t;
  if (res.timeline.size() < opt.timeline_limit)
    res.timeline.push_back({G.core, s.node, t, G.task_start, cycle});
  else
    res.timeline_truncated = true;
  sender_act = G.act;
  if (s.emission >= 0) send_outputs(G, s, t, cycle);
  if (s.op == Op::Output) res.timestep_end_cycles[t] = std::max(res.timestep_end_cycles[t], cycle);
  G.busy = false;
  if (++G.k == int(G.slots.size())) G.k = 0, ++G.t;
  if (G.t >= T) {
    ++groups_finished;
    --phase_left;
    maybe_next_phase(cycle, G.act);
    // The group is done for the run: nothing reads its records again, so it stops keeping them
    // (and the chains behind them) alive for collect_acts; what they released keeps them if needed.
    G.act = kNoAct;
    if (size_t(G.id) < weights_act.size()) weights_act[size_t(G.id)] = kNoAct;  // (controllers only)
    for (Port& P : G.ports)
      for (PortStep& ps : P.step) ps.ready_act = kNoAct;
    return;
  }
  try_start(G, cycle);
}

void ChipEngine::begin(const model::InputView& input, int t_steps, const ChipRunOptions& o) {
  const Node& inp = g.input();
  if (!(input.shape == inp.shape))
    throw Error(fmt::format("input shape {}x{}x{} does not match the model's input '{}' {}x{}x{}: resize the input or "
                            "use another model", input.shape.c, input.shape.h, input.shape.w, inp.name, inp.shape.c,
                            inp.shape.h, inp.shape.w));
  if (inp.encoding == "events" && input.frames < t_steps)
    throw Error(fmt::format("input has {} event frames but {} timesteps were requested: run with -T {} or less",
                            input.frames, t_steps, input.frames));
  if (t_steps < 1) throw UsageError("the number of timesteps must be >= 1");
  if (runs++ > 0) clear_previous_run();
  in = input, T = t_steps, opt = o;
  res = ChipRunResult{};
  res.T = T;
  const size_t nn = g.nodes.size();
  res.stats.assign(nn, std::vector<model::StepStats>(size_t(T)));
  node_cc.assign(nn, CoreCounters{});
  node_net.assign(nn, NetEv{});
  step_cc.assign(size_t(T), CoreCounters{}), step_net.assign(size_t(T), NetEv{});
  res.step_packets.assign(size_t(T), 0), res.step_flits.assign(size_t(T), 0);
  res.output_acc.assign(size_t(g.output().shape.c), 0);
  res.timestep_end_cycles.assign(size_t(T), 0);
  res.node_start.assign(nn, kNever), res.node_end.assign(nn, 0), res.layer_time.assign(nn, LayerTime{});
  res.node_step_start.assign(nn * size_t(T), kNever), res.node_step_end.assign(nn * size_t(T), 0);
  if (opt.record_spikes) {
    res.spikes.assign(nn, {});
    for (size_t i = 0; i < nn; ++i)
      if (g.nodes[i].op == Op::LIF) res.spikes[i].assign(size_t(T) * g.nodes[i].shape.size(), 0);
  }
  if (net->now() != 0 || !net->idle()) throw Error("internal: chip: the network was not reset before the run");
  net->set_reverse_same_cycle(opt.reverse_same_cycle);
  last_syn.assign(cores.size(), -1), last_link.clear();
  if (opt.record_activity)
    net->on_link_flit([this](int node, int port, uint64_t cycle, uint64_t busy) { record_link(node, port, cycle, busy); });
  else
    net->on_link_flit(nullptr);
  for (auto& c : cores) c->reset();
  accepts_from.assign(cores.size(), 0);
  acts.clear(), acts_collect_at = acts_collect_min;
  node_act.assign(cores.size(), kNoAct), syn_act.assign(cores.size(), kNoAct), syn_ref.assign(cores.size(), nullptr);
  phase_act.assign(phase_groups.size(), kNoAct);
  result_act = sender_act = spill_act = host_base_act = kNoAct;
  for (GroupState& G : groups) {
    G.t = 0, G.k = 0, G.busy = false, G.task_start = 0, G.act = kNoAct;
    for (Port& P : G.ports) {
      P.count.assign(size_t(T) * P.srcs.size(), SrcCount{});
      P.step.assign(size_t(T), PortStep{.ready_act = kNoAct, .pending = int(P.srcs.size())});
    }
    for (Slot& s : G.slots) {
      std::fill(s.v.begin(), s.v.end(), 0);
      if (s.share >= 0) s.recv.assign(size_t(T), ShareRecv{});
    }
  }
  for (SpikeShare& S : shares) S.step.assign(size_t(T), SpikeShare::Step{});
  results_expected = 0, results_got = 0, groups_finished = 0;
  for (const auto& r : m.routes)
    if (r.kind == "result") results_expected += words_packets(r.region.c1 - r.region.c0, 1);
  if (results_expected == 0) throw Error("mapping: no result route to the host (the Output node is not mapped)");
  // Host ports: every timestep's frame in CHW order, split over the ports (see emit), each port
  // sending ceil(flit_bits / host.bits_per_cycle) cycles per flit; the next frame follows the last.
  // A time-multiplexed chip first loads phase 0's weights from DRAM (the groups of an
  // unmultiplexed mapping hold theirs from configuration); the frames follow.
  cur_phase = 0, spills_in_flight = 0, spill_next = 0;
  own_mem = make_offchip_memory(cfg);
  mem = opt.offchip ? opt.offchip : own_mem.get();
  reset_controllers();
  prefetch_cap = phase_groups.size() > 1 ? uint64_t(weight_prefetch_bytes(cfg)) : 0;
  prefetched.assign(phase_groups.size(), 0), prefetch_end.assign(phase_groups.size(), 0);
  group_prefetched.assign(m.groups.size(), 0);
  spill_addr.assign(phase_groups.size(), {});
  phase_left = int(phase_groups[0].size());
  spill_store.assign(phase_groups.size(), {});
  node_dram_bits.assign(nn, 0), step_dram_bits.assign(size_t(T), 0);
  if (phase_groups.size() > 1) {
    start_phase(0, 0, kNoAct);
    if (ctrls.empty()) {  // with memory controllers the frames start when phase 0's weights are in
      host_base = res.phase_ready_cycles[0], host_base_act = phase_act[0];
      start_host_frames(host_base);
    }
  } else {
    for (GroupState& G : groups) schedule(0, G.id, false);
    host_base = 0;
    start_host_frames(0);
  }
}

void ChipEngine::start_host_frames(uint64_t c) {
  const int64_t size = g.input().shape.size();
  for (int t = 0; t < T; ++t) {
    const uint8_t* f = in.data + (in.frames == 1 ? 0 : int64_t(t) * size);
    for (const Emission& e : host_emissions) c = host_frame(e, t, f, c) + 1;
  }
}

uint64_t ChipEngine::next_event_cycle() const {
  const uint64_t tc = events.empty() ? kNever : events.top().cycle;
  return std::min(tc, net->next_event_cycle());
}

void ChipEngine::step() {
  if (acts.size() >= acts_collect_at) collect_acts();
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
        if (e.group == -1) maybe_next_phase(e.cycle, spill_act);
        else if (e.group == -2) phase_weights_done(e.cycle);
        else ctrl_send(-3 - e.group, e.cycle);
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

std::string ChipEngine::stall_message() const {
  for (const GroupState& G : groups)
    if (G.t < T && G.phase == cur_phase) {
      const Slot& s = G.slots[G.k];
      std::string waits;
      for (int pi : s.ports)
        if (pi >= 0 && G.ports[pi].step[size_t(G.t)].pending > 0) waits += " '" + g.nodes[G.ports[pi].src_node].name + "'";
      return fmt::format("chip: no event left but group {} (core {}) waits at node '{}' timestep {} for{}; the "
                         "mapping's routes do not deliver every input (re-run the mapper)",
                         G.id, G.core, g.nodes[s.node].name, G.t, waits.empty() ? " nothing" : waits);
    }
  return "chip: no event left but the result never reached the host";
}

}  // namespace spikechip::arch::detail
