// One row per layer op (arch/chip_ops.hpp): set-up, weight bytes, packet arrival and the
// per-timestep task, with their core costs. The arithmetic is the golden executor's kernels
// (models/kernels.hpp) on the group's slice, so the chip is bit-exact by construction (and
// verified spike for spike). Adding an op = its functions here and its row in the table.
#include "arch/chip_ops.hpp"

#include <type_traits>

namespace spikechip::arch::detail {

namespace {

// --- Conv2d / Linear: the synapse engine --------------------------------------------------------

using model::node_fan_in;

// A spike share adds its received spikes once their list reaches this many or its accumulator's
// size, whichever is larger (conv_arrive): below it, one pass at finalise keeps the cache warm.
constexpr int64_t kMinSpikeFlush = 4096;

// A packet of 32-bit words covers its route's region `rb` in raster order from word `pc0` (cut
// streams' operands, fan-in partial sums): `op(place, word)` for each word's place in a buffer over
// the group's slice `sl`.
template <class T, class V, class Op>
void scatter_region(const Box& rb, const model::Slice& sl, int pc0, const std::vector<V>& words, T* buf, Op op) {
  const int64_t rw = rb.x1 - rb.x0, rhw = int64_t(rb.y1 - rb.y0) * rw;
  const int sw = sl.x1 - sl.x0, sh = sl.y1 - sl.y0;
  for (size_t k = 0; k < words.size(); ++k) {
    const int64_t j = pc0 + int64_t(k);
    const int c = rb.c0 + int(j / rhw), y = rb.y0 + int(j % rhw / rw), x = rb.x0 + int(j % rw);
    op(buf[(int64_t(c - sl.c0) * sh + (y - sl.y0)) * sw + (x - sl.x0)], words[k]);
  }
}

void conv_setup(ChipEngine& E, GroupState& G, Slot& s) {
  s.plan = &(*E.plans)[size_t(s.node)];
  s.sop_counter = model::SpikeSopCounter(*s.plan, G.slice);
  s.pixel_in = E.g.nodes[E.g.nodes[s.node].inputs.at(0)].kind() == model::ValueKind::Input;
  if (!s.pixel_in) E.share_slots.push_back({G.id, int(&s - G.slots.data())});  // (ChipEngine::build_shares)
  // Every input position's MACs for the slice (models/graph.hpp dense_ops, restricted to it).
  s.dense_macs = node_fan_in(E.g, E.g.nodes[s.node]) * G.slice.size();
  if (G.fan_in_partial || G.fan_in_acc)  // a fan-in slice: its share of the input channels
    s.dense_macs = s.dense_macs * (G.in1 - G.in0) / E.g.input_shape(E.g.nodes[s.node]).c;
}

// Packed fan-in weights + bias + shift per output channel (the mapper's rule, models/graph.hpp).
int64_t conv_weight_bytes(const model::Graph& g, const Node& n, const model::Slice& sl) {
  return sl.channels() * model::param_bytes_per_channel(g, n);
}

uint64_t conv_arrive(ChipEngine& E, GroupState& G, Slot& s, int, const PacketData& d, CoreModel& core,
                     model::StepStats& st) {
  const model::ConvPlan& pl = *s.plan;
  core.set_weight_bits(model::weight_bits_of(E.g, E.g.nodes[s.node]));
  if (d.kind == DataKind::FanIn) {
    // A partial group's sums for this slice (docs/architecture.md, "Split fan-in"): added into the
    // accumulating group's partial-sum buffer, one membrane write per value.
    scatter_region(E.m.routes[size_t(d.route)].region, G.slice, d.pc0, d.part, E.acc_for(s.fan_acc, d.t, G.slice.size()),
                   [](int64_t& b, int64_t v) { b += v; });
    return core.store_cost(int64_t(d.part.size()));
  }
  if (d.kind == DataKind::Pixel) {
    if (!s.pixel_in) throw Error(fmt::format("chip: node '{}' got pixels but reads spikes", E.g.nodes[s.node].name));
    const int64_t hw = int64_t(pl.hin) * pl.win;
    uint64_t cyc = 0;
    auto mac = [&](auto* acc) {
      int64_t macs = 0;
      for (size_t j = 0; j < d.idx.size(); ++j) {
        const int32_t f = d.idx[j];
        macs += model::mac_pixel(pl, int(f / hw), int(f % hw / pl.win), int(f % pl.win), d.val[j], acc, G.slice);
      }
      st.macs += macs;
      cyc = core.mac_cost(macs);
    };
    if (pl.wide) mac(E.acc_for(s.acc64, d.t, G.slice.size()));
    else mac(E.acc_for(s.acc32, d.t, G.slice.size()));
    return cyc;
  }
  // The engine's cycles follow from the packet's SOPs (every tap of every spike is a run of `run`
  // channels), counted without adding: the taps over the slot's box (once per packet for its
  // share: SpikeShare) times its channels, or for a grouped plan the slot's SpikeSopCounter; what
  // the golden's scatter kernel returns. The adds wait until a member of the share finalises
  // (conv_compute): integer sums do not depend on the order, and one pass over an accumulator
  // keeps it in cache, where adding each packet on arrival touched a cold accumulator per packet
  // (the simulation interleaves all layers' packets). A Linear plan has hin = win = 1: a flat
  // index is its feature.
  SpikeShare& S = E.shares[size_t(s.share)];
  SpikeShare::Step& ss = S.step[size_t(d.t)];
  const int64_t n = int64_t(d.idx.size());
  int64_t taps = d.taps_for(s.share);
  if (taps < 0) {  // the first member to receive the packet: its spikes join the share's
    if (ss.added)
      throw Error(fmt::format("internal: node '{}' group {}: a packet of timestep {} arrived after its share of "
                              "{} slots added that timestep's spikes", E.g.nodes[s.node].name, G.id, d.t, S.members));
    taps = S.box.per_tap() ? 0 : S.box.taps(d.idx.data(), n);
    d.add_share(s.share, taps);
    ss.spikes.insert(ss.spikes.end(), d.idx.begin(), d.idx.end());
    ss.digest += ChipEngine::serial_mix(d.serial), ++ss.packets;
    // Memory bound: a list as long as the share's accumulator is added into it now (sums do not
    // depend on the order), so a share never holds more spikes than it has outputs. (With one
    // list per slot, many groups per node kept a copy each of every input spike until they ran:
    // 0.8+ GB at 55.4M T=4 on loihi2-lpddr4, docs/performance.md.)
    if (int64_t(ss.spikes.size()) >= std::max<int64_t>(kMinSpikeFlush, S.slice.size())) E.share_add(S, ss);
  }
  const int64_t sops = s.sop_counter.per_tap() ? s.sop_counter.count(d.idx.data(), n) : taps * s.sop_counter.runs();
  ShareRecv& r = s.recv[size_t(d.t)];
  r.digest += ChipEngine::serial_mix(d.serial), ++r.packets, r.sops += sops;
  st.sops += sops;
  const int run = std::max(1, std::min(G.slice.channels(), pl.cout_g));
  return core.spike_input_cost(n, sops, run);
}

uint64_t conv_compute(ChipEngine& E, GroupState& G, Slot& s, int t, CoreModel& core, model::StepStats& st) {
  const Node& n = E.g.nodes[s.node];
  const model::Slice& sl = G.slice;
  const int64_t size = sl.size();
  const model::ConvPlan& pl = *s.plan;
  core.set_weight_bits(model::weight_bits_of(E.g, n));  // a dense core reads the weights here
  // Fan-in split: a partial group keeps its slice's exact sums for sending (no bias, no
  // saturation); the accumulating group adds the partial groups' sums into its own before the
  // bias and the one saturation (docs/semantics.md: computed exactly, saturated where produced).
  auto done = [&](auto* acc) {
    if (G.fan_in_partial) {
      s.fan_send.assign(acc, acc + size);
      return true;
    }
    if (G.fan_in_acc) {
      const int64_t* part = E.acc_for(s.fan_acc, t, size);
      for (int64_t i = 0; i < size; ++i) acc[i] += static_cast<std::remove_reference_t<decltype(acc[0])>>(part[i]);
      std::vector<int64_t>().swap(s.fan_acc[t]);
    }
    return false;
  };
  if (s.pixel_in) {
    auto finalize = [&](auto& accs) {
      auto* acc = E.acc_for(accs, t, size);
      if (!done(acc)) st.saturations += model::conv_finalize(pl, acc, sl, E.val[s.node].data());
      std::remove_reference_t<decltype(accs[0])>().swap(accs[t]);
    };
    if (pl.wide) finalize(s.acc64);
    else finalize(s.acc32);
    return core.conv_task_cost(size, 0);
  }
  // The spikes' adds, deferred from arrival (conv_arrive): the first member of the share to get
  // here adds them for all its members; each finalises its channels from those sums, once it is
  // sure it received exactly the packets they came from.
  SpikeShare& S = E.shares[size_t(s.share)];
  SpikeShare::Step& ss = S.step[size_t(t)];
  ShareRecv& r = s.recv[size_t(t)];
  if (r.packets != ss.packets || r.digest != ss.digest)
    throw Error(fmt::format("internal: node '{}' group {}: received {} packets in timestep {}, not the {} its share "
                            "of {} slots holds", n.name, G.id, r.packets, t, ss.packets, S.members));
  if (!ss.added) E.share_add(S, ss), ss.added = true, std::vector<int32_t>().swap(ss.spikes);
  ss.sops_timed += r.sops, r = ShareRecv{};
  if (pl.wide) {
    if (ss.acc64.empty()) ss.acc64.assign(size_t(S.slice.size()), 0);
  } else if (ss.acc32.empty()) {
    ss.acc32.assign(size_t(S.slice.size()), 0);
  }
  auto finalize = [&](auto* acc) {  // (a fan-in split's slot, whose done() reads its slice, is a share of one)
    if (!done(acc)) st.saturations += model::conv_finalize(pl, acc, sl, E.val[s.node].data(), S.slice.channels());
  };
  if (pl.wide) finalize(ss.acc64.data() + s.share_off);
  else finalize(ss.acc32.data() + s.share_off);
  if (++ss.finalised == S.members) {
    if (ss.sops_added != ss.sops_timed)
      throw Error(fmt::format("internal: node '{}' group {}: {} SOPs added but {} timed by its share of {} slots",
                              n.name, G.id, ss.sops_added, ss.sops_timed, S.members));
    ss = SpikeShare::Step{};
  }
  return core.conv_task_cost(size, s.dense_macs);
}

// --- LIF: the neuron update ------------------------------------------------------------------------

void lif_setup(ChipEngine&, GroupState& G, Slot& s) {
  s.v.assign(size_t(G.slice.size()), 0);
}

// An int32 threshold per channel.
int64_t lif_weight_bytes(const model::Graph& g, const Node& n, const model::Slice& sl) {
  return sl.channels() * model::param_bytes_per_channel(g, n);
}

uint64_t lif_compute(ChipEngine& E, GroupState& G, Slot& s, int t, CoreModel& core, model::StepStats& st) {
  const Node& n = E.g.nodes[s.node];
  const model::Slice& sl = G.slice;
  const int64_t HW = int64_t(n.shape.h) * n.shape.w;
  const int32_t* xin = E.val[n.inputs[0]].data();
  std::vector<int32_t>& xs = E.lif_x_scratch;
  std::vector<int32_t>& active_local = E.lif_active_scratch;
  if (xs.size() < size_t(sl.size())) xs.resize(size_t(sl.size())), E.lif_spk_scratch.resize(size_t(sl.size()));
  size_t j = 0;
  for (int c = sl.c0; c < sl.c1; ++c)
    for (int y = sl.y0; y < sl.y1; ++y) {
      const int32_t* row = xin + c * HW + int64_t(y) * n.shape.w;
      for (int x = sl.x0; x < sl.x1; ++x) xs[j++] = row[x];
    }
  const int64_t thw = int64_t(sl.y1 - sl.y0) * (sl.x1 - sl.x0);
  active_local.clear();
  st.saturations += model::lif_update(xs.data(), s.v.data(), n.threshold.data() + sl.c0, n.tau_shift, 0,
                                      sl.channels(), thw, E.lif_spk_scratch.data(), active_local,
                                      model::Membrane::of_bits(E.g.membrane_bits));
  st.spikes += int64_t(active_local.size());
  s.active.clear();
  const int tw = sl.x1 - sl.x0;
  uint8_t* rec = E.opt.record_spikes ? E.res.spikes[s.node].data() + size_t(t) * size_t(n.shape.size()) : nullptr;
  for (int32_t a : active_local) {
    const int c = sl.c0 + int(a / thw), y = sl.y0 + int(a % thw / tw), x = sl.x0 + int(a % tw);
    const int32_t f = int32_t(c * HW + int64_t(y) * n.shape.w + x);
    s.active.push_back(f);
    if (rec) rec[f] = 1;
  }
  return core.lif_cost(sl.size());
}

// --- Add: element-wise membrane sum ----------------------------------------------------------------

// A cut stream's operand arrives as values (docs/architecture.md, "Cut streams"): the route's
// region in raster order from the packet's first value, kept per timestep over the slice.
uint64_t add_arrive(ChipEngine& E, GroupState& G, Slot& s, int input, const PacketData& d, CoreModel& core,
                    model::StepStats&) {
  if (d.kind != DataKind::Membrane)
    throw Error(fmt::format("chip: node '{}' got a packet that is not membrane values", E.g.nodes[s.node].name));
  if (s.mem_in.size() <= size_t(input)) s.mem_in.resize(size_t(input) + 1);
  scatter_region(E.m.routes[size_t(d.route)].region, G.slice, d.pc0, d.val,
                 E.acc_for(s.mem_in[size_t(input)], d.t, G.slice.size()), [](int32_t& b, int32_t v) { b = v; });
  return core.store_cost(int64_t(d.val.size()));
}

uint64_t add_compute(ChipEngine& E, GroupState& G, Slot& s, int t, CoreModel& core, model::StepStats& st) {
  const Node& n = E.g.nodes[s.node];
  const model::Slice& sl = G.slice;
  const int64_t HW = int64_t(n.shape.h) * n.shape.w;
  const int sw = sl.x1 - sl.x0, sh = sl.y1 - sl.y0;
  // Per row: local operands from their membrane tensors, a cut stream's operand from its buffer.
  std::vector<const int32_t*> ins(n.inputs.size());
  if (s.mem_in.size() < ins.size()) s.mem_in.resize(ins.size());
  for (int c = sl.c0; c < sl.c1; ++c)
    for (int y = sl.y0; y < sl.y1; ++y) {
      const int64_t i0 = c * HW + int64_t(y) * n.shape.w + sl.x0;
      for (size_t k = 0; k < ins.size(); ++k)
        ins[k] = s.ports[k] < 0 ? E.val[size_t(n.inputs[k])].data() + i0
                                : E.acc_for(s.mem_in[k], t, sl.size()) + (int64_t(c - sl.c0) * sh + (y - sl.y0)) * sw;
      st.saturations += model::add_membranes(ins, 0, sw, E.val[s.node].data() + i0,
                                             model::Membrane::of_bits(E.g.membrane_bits));
    }
  for (size_t k = 0; k < ins.size(); ++k)
    if (s.ports[k] >= 0 && s.mem_in.size() > k && s.mem_in[k].size() > size_t(t)) std::vector<int32_t>().swap(s.mem_in[k][t]);
  return core.elementwise_cost(sl.size(), int(n.inputs.size()), 1);
}

// --- SDSA: spike-driven self-attention --------------------------------------------------------------

uint64_t sdsa_arrive(ChipEngine& E, GroupState&, Slot& s, int input, const PacketData& d, CoreModel& core,
                     model::StepStats&) {
  auto& buf = E.sdsa_buf(s, input, d.t);
  for (int32_t f : d.idx) buf[size_t(f)] = 1;
  return core.sdsa_store_cost(int64_t(d.idx.size()));
}

uint64_t sdsa_compute(ChipEngine& E, GroupState& G, Slot& s, int t, CoreModel& core, model::StepStats& st) {
  const Node& n = E.g.nodes[s.node];
  const model::Slice& sl = G.slice;
  const int64_t HW = int64_t(n.shape.h) * n.shape.w;
  const int d = n.shape.c / n.heads;
  std::vector<int32_t> A(size_t(d) * d);
  const uint8_t* q = E.sdsa_buf(s, 0, t).data();
  const uint8_t* k = E.sdsa_buf(s, 1, t).data();
  const uint8_t* v = E.sdsa_buf(s, 2, t).data();
  // A token slice of a head (docs/mapper.md, "Split heads"): whole rows, tokens [n0, n1); it
  // received k and v of all tokens and builds K^T V itself, q of its own tokens only.
  if (sl.x0 != 0 || sl.x1 != n.shape.w)
    throw Error(fmt::format("chip: SDSA node '{}' group {} holds part of a row of tokens; a token slice holds whole rows",
                            n.name, G.id));
  const int64_t n0 = int64_t(sl.y0) * n.shape.w, n1 = int64_t(sl.y1) * n.shape.w;
  int64_t ops = 0, kv_ops = 0;
  for (int h = sl.c0 / d; h < sl.c1 / d; ++h) {
    std::fill(A.begin(), A.end(), 0);
    kv_ops += model::sdsa_accumulate_kv(k, v, h, d, HW, 0, HW, A.data());
    ops += model::sdsa_row_sums(q, A.data(), h, d, HW, n0, n1, n.sdsa_shift, E.val[s.node].data(), st.saturations,
                                model::Membrane::of_bits(E.g.membrane_bits));
  }
  for (int i = 0; i < 3; ++i) std::vector<uint8_t>().swap(s.sdsa[i][t]);
  // The golden's count has K^T V once per head: the slice holding token 0 reports it; every slice
  // does (and is timed and charged for) the work.
  st.sdsa_ops += ops + (n0 == 0 ? kv_ops : 0);
  ops += kv_ops;
  // Dense equivalent: K^T V (d x HW x d) and Q (K^T V) (n1 - n0 tokens x d x d) per head of the slice.
  const int64_t dense = int64_t(sl.c1 / d - sl.c0 / d) * (HW + (n1 - n0)) * d * d;
  core.set_weight_bits(8);  // a dense core's SDSA operand reads: not layer weights, the 8-bit rule as before
  return core.sdsa_task_cost(ops, dense);
}

// --- Mean: partial sums per channel from the groups of the stream, then the mean ------------------

uint64_t mean_arrive(ChipEngine& E, GroupState& G, Slot& s, int, const PacketData& d, CoreModel& core,
                     model::StepStats&) {
  if (s.part.size() < size_t(E.T)) s.part.resize(size_t(E.T));
  auto& part = s.part[d.t];
  if (part.empty()) part.assign(size_t(G.slice.channels()), 0);
  const int pc1 = d.pc0 + int(d.part.size());
  for (int c = std::max(d.pc0, G.box.c0); c < std::min(pc1, G.box.c1); ++c) part[c - G.box.c0] += d.part[c - d.pc0];
  return core.elementwise_cost(int64_t(d.part.size()), 1, 1);
}

uint64_t mean_compute(ChipEngine& E, GroupState& G, Slot& s, int t, CoreModel& core, model::StepStats& st) {
  const model::Slice& sl = G.slice;
  if (s.part.size() < size_t(E.T)) s.part.resize(size_t(E.T));
  auto& part = s.part[t];
  part.resize(size_t(sl.channels()), 0);
  for (int c = sl.c0; c < sl.c1; ++c) E.val[s.node][c] = model::saturate(part[c - sl.c0], model::Membrane::of_bits(E.g.membrane_bits), st.saturations);
  std::vector<int64_t>().swap(part);
  return core.elementwise_cost(sl.channels(), 1, 1);
}

// --- Output: the classifier accumulators --------------------------------------------------------------

uint64_t output_compute(ChipEngine& E, GroupState& G, Slot& s, int, CoreModel& core, model::StepStats&) {
  const model::Slice& sl = G.slice;
  const int32_t* x = E.val[E.g.nodes[s.node].inputs[0]].data();
  for (int o = sl.c0; o < sl.c1; ++o) E.res.output_acc[o] += x[o];
  return core.elementwise_cost(sl.channels(), 2, 1);
}

// The table, in model::Op order.
const OpRules kRules[] = {
    /* Input  */ {},
    /* Conv2d */ {.membrane_tensor = true, .spikes_remote_only = true, .setup = conv_setup,
                  .weight_bytes = conv_weight_bytes, .arrive = conv_arrive, .compute = conv_compute},
    /* Linear */ {.membrane_tensor = true, .spikes_remote_only = true, .setup = conv_setup,
                  .weight_bytes = conv_weight_bytes, .arrive = conv_arrive, .compute = conv_compute},
    /* LIF    */ {.setup = lif_setup, .weight_bytes = lif_weight_bytes, .compute = lif_compute},
    /* Add    */ {.membrane_tensor = true, .arrive = add_arrive, .compute = add_compute},
    /* SDSA   */ {.membrane_tensor = true, .spikes_remote_only = true, .sdsa_unit = true, .arrive = sdsa_arrive,
                  .compute = sdsa_compute},
    /* Mean   */ {.membrane_tensor = true, .arrive = mean_arrive, .compute = mean_compute},
    /* Output */ {.compute = output_compute},
};
static_assert(sizeof(kRules) / sizeof(kRules[0]) == size_t(Op::Output) + 1, "one row per model::Op");

}  // namespace

const OpRules& op_rules(Op op) { return kRules[size_t(op)]; }

}  // namespace spikechip::arch::detail
