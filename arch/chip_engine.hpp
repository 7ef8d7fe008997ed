#pragma once
// Inside the chip (internal to arch/chip_*.cpp; users include arch/chip.hpp): the state of a
// mapped chip and the engine that runs it, one concept per source file:
//   chip_build.cpp     set-up from the mapping (groups, ports, routes, emissions, host ports)
//   chip_packets.cpp   packets: the pool, sending, spike/word packetisation, the host's frames
//   chip_delivery.cpp  the network's sink: a packet reaching a core, end-of-step markers
//   chip_ops.cpp       per layer op, in one table: set-up, weight bytes, arrival and compute
//   chip_shares.cpp    spike shares: a layer's slots that receive the same packets add them once
//   chip_phases.cpp    time multiplexing: phases, weight reloads and spills over the DRAM channel
//   chip_memory.cpp    memory controllers on the mesh: weight and spill streams as network packets
//   chip_schedule.cpp  the controller (tasks in graph order per group) and the event loop
//   chip_energy.cpp    accounting: delivery trees, per-layer events, the run's totals
//   chip_trace.cpp     activity records for the trace writers
// Small helpers on the per-packet path stay inline here.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <tuple>
#include <memory>
#include <queue>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "arch/chip.hpp"
#include "arch/offchip_memory.hpp"
#include "base/aligned.hpp"
#include "base/error.hpp"

namespace spikechip::arch::detail {

using model::Node;
using model::Op;
using noc::kNever;
using noc::Packet;
using noc::PacketKind;

// Membrane: a cut residual stream's values (32-bit words, docs/architecture.md "Cut streams").
// FanIn: a fan-in split's partial sums of one input-channel slice (docs/architecture.md, "Split fan-in").
enum class DataKind : uint8_t { Spike, Pixel, PartialSum, EndOfStep, Result, Weights, Membrane, FanIn };

// The data a packet carries, owned by the chip; Packet::payload is its index in the pool. The
// fields a delivery reads come first: the first two cache lines of an entry (cache-line aligned)
// are what the network's ejection prefetches (ChipEngine::prefetch; a miss on `dram_leg` in the
// third line was a quarter of deliver()'s samples at 55.4M T=4, docs/performance.md "Session 28").
struct alignas(64) PacketData {
  DataKind kind = DataKind::Spike;
  // Time multiplexing: which leg through the host port's DRAM the packet travels (0: direct, 1:
  // written to DRAM, 2: read back from DRAM), and the phase whose groups receive it.
  uint8_t dram_leg = 0;
  // Spike shares that already hold this packet's spikes, with the packet's taps on their box
  // (SpikeSopCounter::taps; conv_arrive; written on delivery, hence mutable): the first
  // kInlineShares in the entry's first two lines (share_ids, share_taps), the rest in more_shares.
  // (One vector: its heap block was a cache miss of its own on every delivery, 1.8 % of the 55.4M
  // T=4 process, docs/performance.md "Session 29".)
  mutable uint8_t inline_shares = 0;
  int src_group = -1, src_node = 0, t = 0, route = -1;
  int refs = 0;
  int phase = 0;
  uint32_t src_act = 0;  // critical path: the recorded interval whose end made the packet (ChipEngine::path_act)
  uint64_t serial = 0;   // distinct per packet made (alloc): what the spike shares' digests add up
  std::vector<int32_t> idx;  // spikes / pixels: flat indices of the source tensor
  static constexpr int kInlineShares = 2;
  mutable int32_t share_ids[kInlineShares] = {}, share_taps[kInlineShares] = {};
  std::vector<int32_t> val;                 // pixels: u8 - zero_point; membrane: the values, route region in raster order from pc0
  std::vector<int64_t> part;                // partial sums / results, per channel of the region; fan-in: the
                                            // values, route region in raster order from pc0
  std::vector<std::pair<int, int>> expect;  // end-of-step: (destination group, packets sent)
  int pc0 = 0;                              // partial sums / results: first channel of `part`; membrane: first value
  int flits = 0;
  mutable std::vector<std::pair<int, int64_t>> more_shares;  // (see inline_shares)

  // The packet's taps on share `share`'s box, or -1 when that share does not hold its spikes yet.
  int64_t taps_for(int share) const {
    for (int i = 0; i < inline_shares; ++i)
      if (share_ids[i] == share) return share_taps[i];
    for (const auto& [sh, k] : more_shares)
      if (sh == share) return k;
    return -1;
  }
  void add_share(int share, int64_t taps) const {
    if (inline_shares < kInlineShares && taps <= INT32_MAX) {
      share_ids[inline_shares] = share, share_taps[inline_shares] = int32_t(taps), ++inline_shares;
    } else {
      more_shares.push_back({share, taps});
    }
  }
  void clear_shares() const { inline_shares = 0, more_shares.clear(); }
};
static_assert(offsetof(PacketData, share_taps) + sizeof(PacketData::share_taps) <= 128, "a delivery's fields in two lines");
static_assert(sizeof(PacketData) == 192, "three cache lines");

// Which route a value at (c, y, x) of a source group's box leaves on: the routes of one
// (group, node) cut the box into cells; per-dimension maps give the cell of a coordinate.
struct CellIndex {
  Box box;
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

// A port's state for one timestep, and for one source in one timestep: a packet's delivery updates
// one of each (kept together: five arrays were five cache misses per packet at 55.4M T=4,
// docs/performance.md "Session 27").
struct PortStep {
  uint64_t ready = 0, last_data = 0;  // when the step's inputs are all in; its last data packet's end
  uint32_t ready_act = ~uint32_t(0);  // critical path: the interval that set `ready` (none: kNoAct)
  int pending = 0;                    // sources not yet complete
};
struct SrcCount {
  int recv = 0, expect = -1;  // data packets received; announced by the end-of-step marker (-1: not yet)
};

struct Port {                  // a remote input of a group: all packets of one source node
  int src_node = 0;
  std::vector<int> srcs;       // source groups (-1 host)
  std::unordered_map<int, int> src_index;
  std::vector<PortStep> step;  // [t]
  std::vector<SrcCount> count;  // [t * nsrc + s]
  std::vector<std::pair<int, int>> consumers;  // (slot, input index)
};

// The slots of one spike conv layer that read the same packets (the same node, phase and box,
// fed by the same routes; a layer's channel slices on several cores), their channels side by
// side (docs/architecture.md "Spike shares"). Every member times each packet it receives on its
// own slice, as before; the spikes are kept once, and added once for all the members' channels
// by the first member to finalise a timestep (at 55.4M T=4, 2,771 spike conv slots form 207
// shares: each slot added every spike of its layer for its 1-44 channels). A member finalises its
// channels from that sum after checking that it received exactly the packets the share holds
// (their number and a digest of their serials).
struct SpikeShare {
  const model::ConvPlan* plan = nullptr;  // the members' channels' own plan (model::slice_plan) or the layer's
  model::Slice slice;                     // the members' slices together, in plan's channels
  model::SpikeSopCounter box;             // taps per spike over the box (ungrouped plans)
  int members = 0;
  struct Step {                           // one timestep
    std::vector<int32_t> spikes;          // received by some member, not yet added
    std::vector<int32_t, AlignedAllocator<int32_t>> acc32;  // the sums so far (plan.wide: acc64)
    std::vector<int64_t, AlignedAllocator<int64_t>> acc64;
    uint64_t digest = 0;                  // sum of mix(serial) of the packets received
    int packets = 0;
    int64_t sops_added = 0, sops_timed = 0;  // SOPs the kernels added; the members' timed SOPs (checked equal)
    bool added = false;                   // every spike added: the members finalise from the sums
    int finalised = 0;
  };
  std::vector<Step> step;  // [t]
};
// What one member of a share received in a timestep.
struct ShareRecv {
  uint64_t digest = 0;
  int packets = 0;
  int64_t sops = 0;  // as timed on arrival
};

struct Slot {                  // one node of the group's cluster
  int node = 0;
  model::Op op = model::Op::Input;
  const model::ConvPlan* plan = nullptr;
  model::SpikeSopCounter sop_counter;      // spike conv: a packet's SOPs on the group's slice
  int share = -1;                          // spike conv: its SpikeShare (ChipEngine::shares)
  int share_off = 0;                       // its first channel's place among the share's
  std::vector<ShareRecv> recv;             // spike conv: [t]
  std::vector<int> ports;      // per input: port index, -1 when the input is local (same cluster)
  int emission = -1;
  bool pixel_in = false;                    // conv reading the input image (MACs on arrival)
  int64_t dense_macs = 0;                   // conv: MACs of the slice's whole fan-in per timestep
  // [t] slice accumulator of a pixel conv; cache-line aligned for the kernels' 64-byte vectors
  // (base/aligned.hpp)
  std::vector<std::vector<int32_t, AlignedAllocator<int32_t>>> acc32;
  std::vector<std::vector<int64_t, AlignedAllocator<int64_t>>> acc64;
  std::vector<int32_t> v;                   // LIF: local membranes
  std::vector<int32_t> active;              // LIF: spikes of the last timestep (flat indices of the node)
  std::vector<std::vector<std::vector<uint8_t>>> sdsa;  // SDSA: [input][t] spike maps (full CHW)
  std::vector<std::vector<int64_t>> part;   // Mean: [t] per channel of the box
  std::vector<std::vector<std::vector<int32_t>>> mem_in;  // Add of a cut stream: [input][t] the operand over the slice
  std::vector<std::vector<int64_t>> fan_acc;  // accumulating conv of a fan-in split: [t] the partial sums received
  std::vector<int64_t> fan_send;              // partial conv of a fan-in split: its slice's sums of the last task
};

struct GroupState {
  int id = 0, cluster = 0, core = 0, phase = 0;
  // Fan-in split (docs/architecture.md, "Split fan-in"): the slice [in0, in1) of the split node's
  // input channels; a partial group sends its sums, the accumulating group adds them in.
  bool fan_in_partial = false, fan_in_acc = false;
  int in0 = 0, in1 = 0;
  Box box;
  model::Slice slice;
  std::vector<Slot> slots;
  std::vector<Port> ports;
  std::unordered_map<int, int> port_of_src;  // source node -> port
  std::vector<Emission> emissions;
  int t = 0, k = 0;
  bool busy = false;
  uint64_t task_start = 0;
  uint32_t act = 0;  // critical path: the interval of the current (or last) task, kNoAct before the first
};

struct Event {
  uint64_t cycle;
  uint64_t seq;
  int group;    // -1: the controller checks whether the next phase can start; -2: the phase's weights are
                // all in (chip_memory.cpp); <= -3: memory controller -3 - group sends its next packet
  bool finish;  // true: the group's current task ends; false: try to start a task
  bool operator>(const Event& o) const { return cycle != o.cycle ? cycle > o.cycle : seq > o.seq; }
};

struct ChipEngine : noc::PacketSink {
  const model::Graph& g;
  ChipConfig cfg;
  const ChipMapping& m;
  noc::NetworkParams net_params;  // the mesh of the mapping with the config's router
  std::unique_ptr<noc::Network> net;
  std::vector<std::unique_ptr<CoreModel>> cores;  // the model core.type names (arch/core/core_registry.hpp)
  std::vector<std::vector<int>> groups_on_core;
  std::vector<GroupState> groups;
  // Per route: its destination groups with the port and source index a data packet of the route
  // lands on, by core and in groups_on_core's order (deliver() visits a core's readers without a
  // search of the route's destinations and two hash lookups per group). The port and its first
  // consumer's slot by address (groups, ports and slots stay put after build()): deliver() asks
  // for a core's readers' group, port and slot together rather than one miss after another
  // (on_data + deliver -12 % of the samples at 15.1M, ~1 % of the run: the misses partly move on,
  // docs/performance.md "Session 27").
  struct DataDest {
    int core, group, src, src_group;
    Port* port = nullptr;
    const Slot* first = nullptr;  // nullptr: the port has no consumers
  };
  std::vector<std::vector<DataDest>> route_readers;
  // The readers on `core` of a route (rd: its route_readers, sorted by core): [first, last).
  static std::pair<size_t, size_t> readers_on(const std::vector<DataDest>& rd, int core) {
    const auto b = std::lower_bound(rd.begin(), rd.end(), core, [](const DataDest& x, int c) { return x.core < c; });
    auto e = b;
    while (e != rd.end() && e->core == core) ++e;
    return {size_t(b - rd.begin()), size_t(e - rd.begin())};
  }
  // Per route, per rank of a destination core among route_cores sorted by column key (the
  // packet model's deliver_ranked): its readers [begin, end) in route_readers, found without the
  // binary search (half of deliver()'s samples at 55.4M T=4, docs/performance.md "Session 28").
  std::vector<std::vector<std::pair<uint32_t, uint32_t>>> route_rank_readers;
  ConvPlans plans;  // the weights re-arranged once per chip (build())
  // (node, first channel, end channel) -> a spike share's own plan for the spikes' adds, when its
  // channels are not all the layer's: in the layer's rows a 16-channel slice read 16 bytes of each
  // 64-byte line (docs/performance.md "Session 27"). A layer whose every share adds through these
  // drops its rows from `plans`.
  std::map<std::tuple<int, int, int>, model::ConvPlan> slice_plans;
  std::vector<SpikeShare> shares;
  std::vector<std::pair<int, int>> share_slots;  // (group, slot) of every spike conv slot (conv_setup)
  uint64_t packet_serial = 0;                    // the last PacketData::serial given
  // Groups the spike conv slots into shares (after every slot's setup): see SpikeShare.
  void build_shares();
  // Adds a share's received spikes for timestep t into its accumulator (made on first use).
  void share_add(SpikeShare& S, SpikeShare::Step& st);
  // The spikes counting-sorted by input position (stable), in position_sorted.
  const int32_t* by_position(const model::ConvPlan& p, const std::vector<int32_t>& spikes);
  std::vector<int32_t> position_fill, position_sorted;
  // A wide share's scatter works on bands of output rows whose accumulator is at most this (as
  // the golden executor's RunOptions::band_bytes: the scatter is random access within a band);
  // tests lower it.
  int64_t share_band_bytes = model::RunOptions{}.band_bytes;
  static uint64_t serial_mix(uint64_t x) {  // (splitmix64's finaliser: digests of packet serials)
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
  }
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
  // A LIF slice's gathered input, spike bytes and local spike indices while it updates (one set for
  // the engine, not per slot: at 55.4M that is ~5 bytes per LIF neuron, ~114 MB, not kept).
  std::vector<int32_t> lif_x_scratch, lif_active_scratch;
  std::vector<uint8_t> lif_spk_scratch;
  // Per-layer energy: each layer's own counted events (core counter deltas of its work, and the
  // router/link events of the packets it sends); TreeCost per route = its delivery tree.
  struct TreeCost { uint64_t links = 0, chip_links = 0, dests = 0; };
  std::vector<TreeCost> route_tree;
  std::vector<CoreCounters> node_cc;
  struct NetEv { uint64_t traversals = 0, link_bits = 0, chip_link_bits = 0; };
  std::vector<NetEv> node_net;
  std::vector<CoreCounters> step_cc;                // [t]: the same events per timestep
  std::vector<NetEv> step_net;
  std::vector<std::vector<int32_t>> bucket;        // per local route: values to send

  // Per run. A chip runs inputs one after the other: begin() resets what a run changes (the
  // network is made afresh, every other allocation is kept).
  int runs = 0;  // begin() calls so far
  model::InputView in;
  int T = 1;
  ChipRunOptions opt;
  ChipRunResult res;
  int results_expected = 0, results_got = 0;
  int groups_finished = 0;
  int cur_phase = 0, phase_left = 0, spills_in_flight = 0;
  std::vector<std::vector<PacketData>> spill_store;  // [phase]: values waiting in DRAM for it
  std::vector<std::vector<uint64_t>> spill_addr;    // [phase]: where each of spill_store is
  std::unique_ptr<OffchipMemory> own_mem;           // the chip config's off-chip memory (cfg.dram), per run
  OffchipMemory* mem = nullptr;                     // opt.offchip or own_mem
  OffchipLayout mem_layout;                         // weights image and spill area
  uint64_t spill_next = 0;                          // next free spill address
  std::vector<uint8_t> spill_buf, spill_check;      // a spilled packet's values (holds_data)
  std::vector<uint64_t> node_dram_bits, step_dram_bits;  // [node], [t]
  std::vector<std::vector<int>> spill_ctrl;         // [phase]: the memory controller holding each of spill_store
  std::vector<uint64_t> weights_in;                 // [group]: cycle its weights are in (0 before any phase)
  // Double-buffered reloads (core.weight_prefetch_fraction): the per-core prefetch buffer's bytes;
  // per phase, the bytes of its image read during the previous phase and when they are in.
  uint64_t prefetch_cap = 0;
  std::vector<uint64_t> prefetched, prefetch_end;   // [phase]
  std::vector<uint64_t> group_prefetched;           // [group]: with controllers, its bytes already streamed

  // --- memory controllers on the mesh (chip_memory.cpp; cfg.memory_controllers, docs/architecture.md
  // "Memory controllers on the mesh"). Empty: the DRAM channel behind the host port (chip_phases.cpp).
  struct CtrlItem {
    int group = -1;          // >= 0: a chunk of that group's weights; -1: spilled packet spill_store[phase][index]
    int phase = 0;
    uint64_t addr = 0, bytes = 0;
    size_t index = 0;
    uint64_t req = 0;        // the cycle it was requested (its stream's start)
  };
  struct MemCtrl {
    int core = 0;                             // its router
    std::unique_ptr<OffchipMemory> mem;
    uint64_t spill_base = 0, spill_next = 0;  // spill area after its weights image
    uint64_t port_free = 0;                   // its local port: one flit per cycle
    std::deque<CtrlItem> queue;               // packets to send, in order; front: read, its event pending
  };
  std::vector<MemCtrl> ctrls;
  std::vector<int> core_ctrl;                // [core]: the nearest controller (spills, weights)
  std::vector<int> ctrl_at_core;             // [core]: the controller at that router, -1 none
  std::vector<uint64_t> group_waddr;         // [group]: its weights in its controller's image
  std::vector<int> weights_pending;          // [group]: weight packets not yet delivered
  std::vector<uint32_t> weights_act;         // [group]: critical path of its reload
  int phase_weights_left = 0;                // groups of the current phase whose weights are not all in
  uint64_t phase_begin = 0;
  uint32_t phase_trigger = kNoAct;
  bool host_started = false;
  void build_controllers();
  void reset_controllers();
  void ctrl_start_phase(int q, uint64_t cycle, uint32_t trigger);
  void ctrl_arm(int c);
  // Queues chunks [from, to) of group gid's weights on its controller, requested at `cycle`.
  void ctrl_queue_weights(int gid, uint64_t from, uint64_t to, uint64_t cycle);
  void ctrl_send(int c, uint64_t cycle);
  void on_weights(const PacketData& d, uint64_t cycle);
  void phase_weights_done(uint64_t cycle);
  int weight_chunk_bytes() const { return kMaxPayloadFlits * cfg.router.flit_bits / 8; }

  ChipEngine(const model::Graph& gr, const ChipConfig& c, const ChipMapping& mp) : g(gr), cfg(c), m(mp) {
    build();
  }

  // --- set-up from the mapping (chip_build.cpp)
  void build();
  void make_network();
  // Before a run after the first: the state the previous run left (network, pending events, the
  // packet pool's handles, membranes, per-timestep buffers of a run cut short) as build() made it.
  void clear_previous_run();
  // Each slot's part of its group's weight bytes (the mapper's per-channel rule: int8 fan-in + int32
  // bias + u8 shift per Conv2d/Linear channel, an int32 threshold per LIF channel), so that the
  // per-layer DRAM bits of a reload add up; when they do not (a hand-made mapping with its own
  // weight figures), the first slot takes the group's whole weight bytes.
  void weight_shares();
  Emission make_emission(int src_group, int node, const std::vector<int>& rids);
  // --- accounting (chip_energy.cpp)
  // Links of a packet's delivery: the union of the XY paths from src to every destination (the
  // network's multicast tree), or each destination's own minimal path with router.multicast
  // false; chip-to-chip links are the chip boundaries those paths cross (the same for every
  // minimal path). A flit then makes links + destinations router traversals.
  TreeCost tree_cost(int src, const std::vector<int>& dests) const;
  // Charged twice: to the layer that did the work (node_*) and to the timestep it belongs to
  // (step_*: a packet's timestep, a task's timestep), so both the layers and the timesteps sum to
  // the run's events.
  size_t step_of(int t) const { return size_t(std::clamp(t, 0, T - 1)); }
  void charge_packet(int node, int t, const TreeCost& tc, int flits) {
    const uint64_t fb = uint64_t(cfg.router.flit_bits), f = uint64_t(flits);
    for (NetEv* e : {&node_net[size_t(node)], &step_net[step_of(t)]}) {
      e->traversals += f * (tc.links + tc.chip_links + tc.dests);
      e->link_bits += f * fb * tc.links;
      e->chip_link_bits += f * fb * tc.chip_links;
    }
  }
  // Adds what a unit of `core` counted since `before` to `node`'s and timestep t's counters.
  void charge_core(int node, int t, const CoreCounters& now, const CoreCounters& before) {
    for (CoreCounters* n : {&node_cc[size_t(node)], &step_cc[step_of(t)]}) {
      n->sops += now.sops - before.sops, n->macs += now.macs - before.macs;
      n->sdsa_ops += now.sdsa_ops - before.sdsa_ops, n->neuron_updates += now.neuron_updates - before.neuron_updates;
      n->weight_sram_reads += now.weight_sram_reads - before.weight_sram_reads;
      n->membrane_sram_reads += now.membrane_sram_reads - before.membrane_sram_reads;
      n->membrane_sram_writes += now.membrane_sram_writes - before.membrane_sram_writes;
      n->adds += now.adds - before.adds, n->mults += now.mults - before.mults;
      n->dense_macs += now.dense_macs - before.dense_macs;
    }
  }
  void charge_dram(int node, int t, uint64_t bits) {
    node_dram_bits[size_t(node)] += bits;
    step_dram_bits[step_of(t)] += bits;
  }
  // A unit's work for `node` at timestep t over [start, end), `busy` cycles of it (chip_schedule.cpp):
  // the layer's busy cycles and its first / last activity, over the run and per timestep.
  void layer_work(int node, int t, uint64_t start, uint64_t end, uint64_t busy) {
    res.layer_time[size_t(node)].busy += busy;
    res.node_start[size_t(node)] = std::min(res.node_start[size_t(node)], start);
    res.node_end[size_t(node)] = std::max(res.node_end[size_t(node)], end);
    const size_t k = size_t(node) * size_t(T) + size_t(t);
    res.node_step_start[k] = std::min(res.node_step_start[k], start);
    res.node_step_end[k] = std::max(res.node_step_end[k], end);
  }
  // The node unit's wait before a task of `node`, as CoreTime deltas, charged to the layer.
  void layer_wait(int node, const CoreTime& now, const CoreTime& before) {
    LayerTime& l = res.layer_time[size_t(node)];
    l.waiting_input += now.waiting_input - before.waiting_input;
    l.waiting_eot += now.waiting_eot - before.waiting_eot;
    l.waiting_dram += now.waiting_dram - before.waiting_dram;
    l.waiting_phase += now.waiting_phase - before.waiting_phase;
  }
  std::vector<std::array<uint64_t, 2>> consumer_scratch;  // on_data: (cycles, bank conflicts) per consumer
  noc::Packet send_packet;  // send(): the packet handed to the network, reused
  // Energy events of a set of core counters (whole chip or one layer), without static energy.
  EventCounts core_events(const CoreCounters& c) const;
  // The actions of the run's DRAM device models (arch/dram_timing.hpp), by model, over the latency.
  std::map<std::string, DramActions> dram_device_actions() const;
  ChipRunResult finish();

  // --- packets (chip_packets.cpp)
  uint32_t alloc() {
    if (free_list.empty()) {
      pool.emplace_back();
      pool.back().phase = cur_phase;
      pool.back().serial = ++packet_serial;
      return uint32_t(pool.size() - 1);
    }
    uint32_t i = free_list.back();
    free_list.pop_back();
    PacketData& d = pool[i];
    d.phase = cur_phase;
    d.idx.clear(), d.val.clear(), d.part.clear(), d.expect.clear(), d.clear_shares();
    d.dram_leg = 0;
    d.serial = ++packet_serial;
    return i;
  }
  // host: the packet comes from a host port (the router's local port), not from the core there.
  void send(uint32_t h, int src_core, const std::vector<int>& dests, int flits, uint64_t cycle, bool host = false);
  // A packet of route `rid`: straight to the destinations in the source's phase, and one copy to the
  // host port's DRAM when destinations in later phases will read it back (docs/architecture.md).
  void send_route(uint32_t h, int rid, int src_core, int flits, uint64_t cycle);
  void spill(uint32_t h, int src_core, int flits, uint64_t cycle);
  // Sends the spikes bucketed per local route of `e` (flat indices), split into packets, then the
  // end-of-step marker with the per-group packet counts.
  uint64_t emit(const Emission& e, int src_group, int src_core, int t, uint64_t cycle);
  // The host streams a frame in raster (CHW) order, as a DMA would read it: every pixel goes into
  // the open packet of its route (u8 - zero point, flit_bits / 8 per flit), a full packet leaves on
  // its route's port when that port's link is free, each flit taking ceil(flit_bits /
  // host.bits_per_cycle) cycles. Raster order interleaves the encoder groups' packets, so they
  // all compute while the frame streams. The end-of-step marker follows on the port that finishes
  // last. Returns that cycle.
  uint64_t host_frame(const Emission& e, int t, const uint8_t* frame, uint64_t start);
  void send_eos(const Emission& e, int src_group, int src_core, int t, uint64_t cycle, bool host = false);
  // A forked (multicast) packet must fit one router buffer (the network forks by virtual
  // cut-through), so multicast packets are at most buffer_depth flits.
  int max_payload_flits(size_t ndest) const {
    return ndest > 1 && cfg.router.multicast ? std::max(1, std::min(kMaxPayloadFlits, cfg.router.buffer_depth - 1))
                                             : kMaxPayloadFlits;
  }
  // Sends the channel values part[c - c0] for channels [c0, c1) on `route` as packets of 32-bit words.
  void send_words(DataKind kind, int src_group, int src_node, int t, int route, int c0, int c1,
                  const std::vector<int64_t>& part, int src_core, uint64_t cycle);
  int words_packets(int n, size_t ndest) const {
    const int per_flit = std::max(1, cfg.router.flit_bits / 32);
    return int(ceil_div64(n, per_flit * max_payload_flits(ndest)));
  }
  void send_outputs(GroupState& G, Slot& s, int t, uint64_t cycle);

  // --- delivery (chip_delivery.cpp): the network's sink
  // (From a flat copy of each core's accepts_from(): the router asks on every visit with a flit
  // for its core, and the core's queue is two dependent cache misses away.)
  bool ready(int core, uint64_t cycle) override { return cycle >= accepts_from[size_t(core)]; }
  // A full input queue accepts again when its oldest packet's synapse work ends: the router
  // sleeps until then instead of asking every cycle.
  uint64_t ready_again(int core, uint64_t cycle) override {
    const uint64_t c = cores[core]->accepts_again_at(cycle);
    return c == UINT64_MAX ? cycle + 1 : c;
  }
  // Exact: accepts_from changes only when a packet is delivered to the core (on_data).
  uint64_t ready_at(int core, uint64_t) override { return accepts_from[size_t(core)]; }
  void deliver(int core, const noc::Packet& p, uint64_t cycle) override { deliver_ranked(core, p, cycle, UINT32_MAX); }
  void deliver_ranked(int core, const noc::Packet& p, uint64_t cycle, uint32_t rank) override;
  void prefetch(int, const noc::Packet& p) override {  // the pool entry's first two cache lines (PacketData)
    const char* e = reinterpret_cast<const char*>(&pool[p.payload]);
    __builtin_prefetch(e), __builtin_prefetch(e + 64);
  }
  Port& port_for(GroupState& G, const PacketData& d) {
    auto it = G.port_of_src.find(d.src_node);
    if (it == G.port_of_src.end())
      throw Error(fmt::format("chip: group {} received '{}' which it does not read", G.id, g.nodes[d.src_node].name));
    return G.ports[it->second];
  }
  int src_idx(const Port& P, int src_group, const GroupState& G) {
    auto it = P.src_index.find(src_group);
    if (it == P.src_index.end())
      throw Error(fmt::format("chip: group {} got a packet from group {} which has no route to it", G.id, src_group));
    return it->second;
  }
  void on_data(GroupState& G, Port& P, int src, const PacketData& d, uint64_t cycle);
  void on_eos(GroupState& G, const PacketData& d, int n, uint64_t cycle);
  void source_complete(GroupState& G, Port& P, int t) {
    if (--P.step[t].pending == 0) schedule(P.step[t].ready, G.id, false);
  }
  // Per-timestep buffers of a slot, allocated on first use.
  template <class A, class Alloc>
  A* acc_for(std::vector<std::vector<A, Alloc>>& accs, int t, int64_t size) {
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

  // --- time multiplexing (chip_phases.cpp)
  // DRAM bytes of a spilled packet: 4 per value (spike address or 32-bit word), as the mapper's
  // dram_spill_in_bytes; end-of-step markers are control, not data (as in the traffic estimate).
  static uint64_t spill_bytes(const PacketData& d) {
    return 4 * uint64_t(d.idx.size() + d.part.size() + (d.kind == DataKind::Membrane ? d.val.size() : 0));  // fan-in: part
  }
  // Its values as the off-chip memory holds them: 4 bytes each, little-endian (partial sums: the
  // low 32 bits, the word the chip moves).
  static const uint8_t* spill_values(const PacketData& d, std::vector<uint8_t>& buf) {
    buf.clear();
    auto put = [&](uint32_t v) { for (int i = 0; i < 4; ++i) buf.push_back(uint8_t(v >> (8 * i))); };
    for (int32_t v : d.idx) put(uint32_t(v));
    for (int64_t v : d.part) put(uint32_t(v));
    if (d.kind == DataKind::Membrane)
      for (int32_t v : d.val) put(uint32_t(v));
    return buf.data();
  }
  // A spilled packet reaches the host port: written to DRAM (the channel is busy for its bytes) and
  // kept once for every later phase that has destinations of it. Nothing here may grow the pool
  // (deliver still holds a reference into it).
  void to_dram(const PacketData& d, int core, uint64_t cycle);
  // The next phase starts when every group of this one has finished all T timesteps and every
  // spilled value is in DRAM.
  void maybe_next_phase(uint64_t cycle, uint32_t trigger);
  // Entering phase q at `cycle`: the DRAM channel (after what it still writes) reads the weights of
  // the phase's groups (latency + bytes / bytes_per_cycle), then the values spilled for the phase,
  // each packet injected at the host port once its bytes are read and the port's link is free.
  // The groups start when their weights are in.
  // `trigger`: the recorded interval whose end let the phase start (critical path).
  void start_phase(int q, uint64_t cycle, uint32_t trigger);
  // The cores of phase q that receive a spilled packet read back for it.
  std::vector<int> spill_dests(const PacketData& sp, int q) const;
  // Every timestep's input frame from `c` on (after phase 0's weights when time-multiplexed).
  void start_host_frames(uint64_t c);

  // --- activity records (chip_trace.cpp)
  std::vector<int64_t> last_syn;                       // [core] -> index in synapse_timeline
  std::map<std::pair<int, int>, size_t> last_link;     // (node, port) -> index in link_activity
  void record_synapse(int core, int node, int t, uint64_t start, uint64_t end);
  void record_link(int node, int port, uint64_t cycle, uint64_t busy);

  // --- critical path (arch/critical_path.hpp; walk in chip_critical.cpp). Every interval that may
  // lie on the path is recorded with the interval whose end released it (pred); the walk from the
  // last result back to cycle 0 gives the path. start == acts[pred].end by construction.
  static constexpr uint32_t kNoAct = UINT32_MAX;
  struct PathAct {
    uint64_t start, end;
    uint32_t pred;
    int32_t core, node;
    int16_t t;
    PathKind kind;
    bool trip;  // a packet's trip [acts[pred].end, start) to `core` precedes it (one record less per packet)
  };
  std::vector<PathAct> acts;
  std::vector<uint64_t> accepts_from;  // [core]: cores[core]->accepts_from(), kept by on_data
  std::vector<uint32_t> node_act, syn_act;  // [core]: the latest booking of its node unit / input engine
  // [core]: the port ready time (&Port::ready_act[t]) that refers to syn_act, nullptr none,
  // &kManyRefs several (on_data extends syn_act only while no other port refers to it).
  std::vector<const uint32_t*> syn_ref;
  static inline const uint32_t kManyRefs = 0;
  std::vector<uint32_t> phase_act;          // [phase]: its DRAM load
  uint32_t result_act = kNoAct;             // the result packet that set latency_cycles
  uint32_t sender_act = kNoAct;             // what the packets being sent come from (send stamps it)
  uint32_t spill_act = kNoAct;              // the spill whose write let the next phase start
  uint64_t host_base = 0;                   // the host's frames stream from here (0, or phase 0's load)
  uint32_t host_base_act = kNoAct;
  uint32_t path_act(PathKind k, int core, int node, int t, uint64_t start, uint64_t end, uint32_t pred, bool trip = false) {
    acts.push_back({start, end, pred, core, node, int16_t(t), k, trip});
    return uint32_t(acts.size() - 1);
  }
  uint64_t act_end(uint32_t a) const { return a == kNoAct ? 0 : acts[a].end; }
  // The records still reachable from what the engine holds (the roots: every unit's, port's,
  // packet's and phase's latest record) and their pred chains, compacted in order; the others can
  // never be on the path. step() calls it when the records have doubled since the last one, so they
  // stay proportional to the live ones instead of growing with every packet of the run
  // (chip_critical.cpp).
  void collect_acts();
  size_t acts_collect_min = size_t(1) << 20;  // records before the first collection (tests lower it)
  size_t acts_collect_at = acts_collect_min;
  // A packet's trip from its sender's end to `cycle` (its arrival).
  uint32_t trip_act(PathKind k, int core, const PacketData& d, uint64_t cycle) {
    return path_act(k, core, d.src_node, d.t, act_end(d.src_act), cycle, d.src_act);
  }
  void walk_critical_path();

  // --- controller and event loop (chip_schedule.cpp)
  void schedule(uint64_t cycle, int group, bool finish) { events.push(Event{cycle, seq++, group, finish}); }
  void try_start(GroupState& G, uint64_t cycle);
  void finish_task(GroupState& G, uint64_t cycle);
  void begin(const model::InputView& input, int t_steps, const ChipRunOptions& o);
  uint64_t next_event_cycle() const;
  bool done() const { return results_got >= results_expected && cur_phase + 1 >= int(phase_groups.size()); }
  void step();
  std::string stall_message() const;
};

}  // namespace spikechip::arch::detail

namespace spikechip::arch {
struct Chip::Impl : detail::ChipEngine {
  using ChipEngine::ChipEngine;
};
}  // namespace spikechip::arch

