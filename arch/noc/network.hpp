#pragma once
// Cycle-accurate spike network of the chip: a 2-D mesh of 5-port input-buffered routers with
// virtual channels, credit-based flow control, wormhole packets and tree multicast (or, opt-in,
// the packet-level model of packet_network.hpp behind the same API, RouterModel). Plain C++:
// the SystemC wrapper (sim/noc_module.hpp) only decides *when* to call advance_to().
//
// Timing contract (docs/architecture.md, "Network"): a packet created at cycle c has its head in
// the source router's local input buffer at c+I (I = 2 in the separable model, BookSim2's
// terminal and injection channel; 1 in the speculative one), every flit leaves a router
// pipeline_stages cycles after it arrived (at the earliest), a link takes link_latency cycles,
// ejection takes 1 cycle, so at zero load  latency(tail) = hops*(P+L) + P + I + 1 + (size-1).
//
// Speed: only routers that hold flits (or have packets waiting to inject) are visited in a cycle;
// link traversals and credits are events in a calendar ring; when nothing is in flight the next
// simulated cycle is the next injection (time skipping).
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "arch/chip_config.hpp"
#include "arch/noc/routing.hpp"

namespace spikechip::arch::noc {

inline constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();

enum class PacketKind : uint8_t { Spike, PartialSum, EndOfStep };
const char* packet_kind_name(PacketKind k);

struct PacketNet;

// What a core hands to the network. dests has one entry (unicast) or several (multicast set);
// entries are global core ids (y * global_width + x), sorted and unique after inject().
struct Packet {
  PacketKind kind = PacketKind::Spike;
  int src = 0;
  std::vector<int> dests;
  int size_flits = 1;           // header + payload flits
  int32_t src_group = 0;        // source neuron group id (AER header)
  int32_t timestep = 0;
  uint64_t payload = 0;         // opaque handle owned by the cores (spike indices, psum values...)
  uint64_t created_cycle = 0;   // set by inject()
  uint64_t id = 0;              // set by inject(): 0, 1, 2... in injection-call order
};

// Receives whole packets at their destination core (after the tail flit is ejected). ready() is
// asked before every flit enters the ejection channel: returning false applies backpressure
// (the flit waits in the router, and eventually the network stalls up to the watchdog).
class PacketSink {
 public:
  virtual ~PacketSink() = default;
  virtual bool ready(int /*core*/, uint64_t /*cycle*/) { return true; }
  // After ready(core, cycle) was false: a cycle <= the first one at which it can be true again
  // (a lower bound is fine). The router then sleeps until it instead of asking every cycle;
  // the default, cycle + 1, keeps it asking.
  virtual uint64_t ready_again(int /*core*/, uint64_t cycle) { return cycle + 1; }
  // After ready(core, cycle) was false: the first cycle at which it is true, when the sink knows
  // it and nothing but a delivery to core can change it (deliveries to core wait behind the
  // refused packet); 0, the default, when it cannot tell. The packet model then has the packet
  // enter the ejection port at that cycle without asking again (the flit models ask as before).
  virtual uint64_t ready_at(int /*core*/, uint64_t /*cycle*/) { return 0; }
  virtual void deliver(int core, const Packet& p, uint64_t cycle) = 0;
  // deliver(), told the core's rank among the packet's destinations sorted by column_key
  // (routing.hpp): the packet model knows it (a multicast copy's place in its key set), and a
  // sink may find what the core reads from it without a search. The default forwards.
  virtual void deliver_ranked(int core, const Packet& p, uint64_t cycle, uint32_t /*rank*/) { deliver(core, p, cycle); }
  // A hint that p will be delivered to core soon (the packet model calls it when a packet enters
  // the ejection port): a sink may prefetch what deliver() will read. Changes no result.
  virtual void prefetch(int /*core*/, const Packet& /*p*/) {}
};

// Router micro-architecture (docs/architecture.md, "Router stages"):
// - Separable: BookSim2's input-queued VC router (`iq`, non-speculative): route computation,
//   VC allocation and switch allocation are separate stages (a new head allocates its VC one cycle
//   and the switch the next at the earliest; the next head of an input VC starts route computation
//   the cycle after the previous tail left), both allocators are separable iSLIP with one
//   iteration, body flits skip the head stages, and a credit is usable one cycle after it arrives.
// - Speculative: a router with lookahead routing and a speculative single-cycle VC + switch
//   allocator with maximal (greedy, wavefront-like) matching (Peh & Dally's speculative router):
//   a head may allocate its VC and the switch in the same cycle, the next head in the VC follows
//   without a bubble, every flit takes pipeline_stages, credits are usable on arrival.
// - Packet: not a router at flit level but the packet-level model of arch/noc/packet_network.hpp
//   (one event per packet per router, links reserved first come first served, no buffers or VCs):
//   the separable model's latencies at zero load, congestion only as link queueing; for fast
//   sweeps, opt-in.
enum class RouterModel : uint8_t { Separable, Speculative, Packet };
// The separable model's cycles from a packet's creation to its head in the source router's input
// buffer, and from a body flit's arrival in a router to its traversal (the packet model follows
// both).
inline constexpr int kSeparableInjectionCycles = 2;
inline int separable_body_cycles(int pipeline_stages) { return pipeline_stages > 3 ? pipeline_stages - 2 : 1; }
const char* router_model_name(RouterModel m);
const std::vector<std::string>& router_model_names();  // in enum order
RouterModel router_model(const std::string& name);     // throws spikechip::Error naming the choices

struct NetworkParams {
  int width = 4, height = 4;      // global mesh
  int chip_width = 0, chip_height = 0;  // tiles per chip (0: one chip = whole mesh)
  int vcs = 2;
  int buffer_depth = 4;
  int flit_bits = 64;
  int pipeline_stages = 2;
  int link_latency = 1;
  int chip_link_latency = 20;     // extra cycles on a chip-to-chip link
  int chip_link_bits_per_cycle = 16;
  const RoutingFunction* routing = &routing_function("xy");  // unicast routes (arch/noc/routing.hpp)
  bool multicast = true;          // false: inject() splits a destination set into unicasts
  bool round_robin = true;        // false: fixed priority (lower port / VC index wins)
  RouterModel model = RouterModel::Separable;
  int64_t watchdog_cycles = 100000;

  static NetworkParams from_chip(const ChipConfig& c);
  void validate() const;  // throws spikechip::Error naming the parameter
};

// The output link of `node` in direction `dir` (kNorth..kWest) under p, as both network models
// build it: the node it reaches (-1 at the mesh edge), whether it crosses chips, the cycles a
// flit occupies it (ser: 1 on chip, ceil(flit_bits / chips.bits_per_cycle) between chips), a
// flit's latency over it (link_latency, plus chips.latency_cycles + ser - 1 between chips) and a
// credit's back (link_latency, plus chips.latency_cycles).
struct MeshLink {
  int to = -1;
  bool chip = false;
  int ser = 1, lat = 0, credit_lat = 0;
};
MeshLink mesh_link(const NetworkParams& p, int node, int dir);

struct LinkStats {
  uint64_t flits = 0;
  uint64_t busy_cycles = 0;  // cycles the link wire was occupied (flits x serialisation)
};

struct RouterStats {
  uint64_t traversals = 0;       // flit copies through the crossbar (a fork to k ports counts k)
  uint64_t stall_no_credit = 0;  // flit ready, output VC had no credit (or serial link busy)
  uint64_t stall_arbitration = 0;  // flit ready with credit, lost the switch to another input
  uint64_t stall_no_vc = 0;      // head flit ready, no free output VC
  uint64_t stall_sink = 0;       // ejection refused by the core (backpressure)
};

struct NetworkTotals {
  uint64_t packets_injected = 0;   // packets handed to inject() (after unicast splitting)
  uint64_t flits_injected = 0;     // flits entering source routers
  uint64_t flits_ejected = 0;      // flit copies leaving the network at destinations
  uint64_t packets_delivered = 0;  // (packet, destination) deliveries
  uint64_t router_traversals = 0;
  uint64_t link_flits = 0;         // on-chip link flit traversals
  uint64_t chip_link_flits = 0;    // chip-to-chip link flit traversals
  uint64_t on_chip_link_bits = 0;
  uint64_t chip_link_bits = 0;
};

class Network {
 public:
  explicit Network(const NetworkParams& p);
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  const NetworkParams& params() const { return p_; }
  int num_nodes() const { return p_.width * p_.height; }

  // Sinks: per core, or one default for every core without its own. Not owned.
  void set_sink(int core, PacketSink* sink);
  void set_default_sink(PacketSink* sink);
  // Optional callback on every delivery (after the sink), used by statistics.
  void on_deliver(std::function<void(int core, const Packet&, uint64_t cycle)> f) { on_deliver_ = std::move(f); }
  // Optional callback on every flit entering an output link (node, port N/E/S/W, cycle, cycles
  // the wire is occupied), used by the run trace writers; unset costs one test per traversal.
  void on_link_flit(std::function<void(int node, int port, uint64_t cycle, uint64_t busy)> f) { on_link_ = std::move(f); }

  // Queue a packet created at `cycle` (>= now()). Returns its id. Throws on bad destinations.
  // (Copied into a record whose destination list keeps its capacity, as is the caller's when it
  // reuses one Packet: no allocation per packet, docs/performance.md "Session 25".)
  uint64_t inject(const Packet& p, uint64_t cycle);

  // Simulate every cycle < `cycle`, skipping idle stretches. After it, now() == cycle.
  void advance_to(uint64_t cycle);
  void step() { advance_to(now_ + 1); }
  // Simulate until no packet is queued or in flight (throws via the watchdog if it never does).
  void drain();

  uint64_t now() const { return now_; }
  // The next cycle at which something can happen: now() while anything is in flight, the next
  // queued injection when idle, kNever when empty.
  uint64_t next_event_cycle() const;
  bool idle() const;
  uint64_t flits_in_flight() const { return flits_in_network_; }


  RouterStats router_stats(int node) const;  // by value: includes a sleeping router's pending stalls
  const LinkStats& link_stats(int node, int port) const;  // output link of node in direction port
  bool is_chip_link(int node, int port) const;
  bool link_exists(int node, int port) const;
  NetworkTotals totals() const;

  // Test hook: handle each cycle's simultaneous events (credits, flit arrivals, ejections) and
  // visit its active routers in reverse order. A chip has no such order, so nothing a run reports
  // may depend on it (tests/cpp/test_chip_order.cpp; the one exception, the order in which the
  // timeline and activity lists hold a cycle's records, is documented there).
  void set_reverse_same_cycle(bool on);

  // Test hooks: invariants (credits within [0, depth], occupancy + credits in flight == depth)
  // checked on demand; throws spikechip::Error describing the first violation.
  void check_invariants() const;
  std::string describe_buffers() const;  // which router buffers hold which packets

 private:
  struct Impl;
  NetworkParams p_;
  PacketNet* pn_ = nullptr;  // the packet-level model (RouterModel::Packet), else null
  uint64_t now_ = 0;
  uint64_t flits_in_network_ = 0;
  Impl* impl_ = nullptr;    // the flit-level models' state, else null
  uint64_t next_id_ = 0;    // the next packet id (inject())
  Packet in_, split_;       // inject()'s working copies (their destination lists keep their capacity)
  std::function<void(int, const Packet&, uint64_t)> on_deliver_;
  std::function<void(int, int, uint64_t, uint64_t)> on_link_;
  friend struct Impl;
  friend struct PacketNet;
};

}  // namespace spikechip::arch::noc
