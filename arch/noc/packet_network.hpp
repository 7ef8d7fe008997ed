#pragma once
// The packet-level network model (RouterModel::Packet, router.model = "packet"): an opt-in model
// for sweeps that trades the flit-level router for speed, as gem5's "simple" network stands beside
// Garnet. A packet (or a multicast copy) is one event per router it crosses, not one per flit per
// cycle; each output link, each ejection port and each injection port is a resource reserved for
// the packet's serialisation time, first come first served; there are no buffers, VCs, credits or
// allocators (unbounded buffering: contention is queueing for links and for each destination's
// ejection port, whose queue is first come first served; no head-of-line blocking in the mesh).
// At zero load its latencies are the separable model's timing contract exactly
// (docs/architecture.md, "Network"); under load it congests later than the flit models
// (docs/performance.md, "Session 22"). Plain C++, driven through Network (network.hpp), which
// owns one of these when the model is Packet. Included by network.cpp and packet_network.cpp.
#include <cstdint>
#include <string>
#include <vector>

#include "arch/noc/event_calendar.hpp"
#include "arch/noc/key_sets.hpp"
#include "arch/noc/network.hpp"
#include "base/chunk_fifos.hpp"
#include "base/chunk_pool.hpp"

namespace spikechip::arch::noc {

struct PacketNet {
  PacketNet(Network& net, const NetworkParams& p);

  void inject(const Packet& pk, uint64_t cycle);  // pk validated, given its id and split by Network::inject
  void advance_to(uint64_t cycle);
  uint64_t next_event_cycle() const;
  bool idle() const { return cal_.empty(); }
  RouterStats router_stats(int node) const { return nodes_.at(size_t(node)).st; }
  const LinkStats& link_stats(int node, int port) const { return nodes_.at(size_t(node)).ls[port & 3]; }
  bool is_chip_link(int node, int port) const { return nodes_.at(size_t(node)).chip[port & 3]; }
  bool link_exists(int node, int port) const { return port >= 0 && port < 4 && nodes_.at(size_t(node)).nbr[port] >= 0; }
  NetworkTotals totals() const;
  std::string describe() const;  // the packets in flight, for the watchdog and describe_buffers()

  std::vector<PacketSink*> sinks;
  PacketSink* default_sink = nullptr;
  bool reverse_same_cycle = false;

 private:
  // Events of a cycle are handled in a fixed order that does not depend on the order they were
  // made in: deliveries first (a core's sink sees them before it is asked to accept more, as in
  // the flit models), then heads arriving at routers, then ejection attempts; within a kind by
  // router (descending under set_reverse_same_cycle), input port, packet id and record. Routers
  // interact only through later cycles, so that router order changes nothing. (Events carry no
  // packet id: two events of one cycle, kind, router and port never occurred in the suite or the
  // benches, so the tie-break reads the packets' records, PacketNet::before.)
  enum Kind : uint8_t { kDeliver = 0, kArrive = 1, kEject = 2 };
  static constexpr uint32_t kNone = ~uint32_t(0);
  static constexpr uint64_t kNodeKeyMax = (uint64_t(1) << 24) - 1;  // NetworkParams::validate: <= 2^22 nodes
  // An event carries what a hop needs, so a unicast packet's hops and its ejection read no
  // record (the records' loads were most of a hop's time, docs/performance.md "Session 22").
  struct Ev {
    uint64_t cycle;
    uint64_t order;  // kind, router, input port (see above)
    uint32_t pkt;    // packet record
    uint32_t from, to;  // a multicast set: the keys [from, to) of the packet's set (KeySets)
    uint32_t size;   // flits
    // Arrive: cycles from the head to the tail (size - 1, more after a serialised link).
    // Eject: cycles from this event to the first its tail may enter the ejection port, if later.
    uint32_t tail;
    int32_t dest;    // the only destination, or for a multicast set mc_dest(its set's id) < 0
    bool operator>(const Ev& o) const {
      if (cycle != o.cycle) return cycle > o.cycle;
      if (order != o.order) return order > o.order;
      return pkt > o.pkt;  // (a strict order for the calendar's heap; a cycle's events are sorted by before())
    }
  };
  // A packet waiting for its router's ejection port behind another: its arriving event without
  // the order its Eject event is given when it reaches the front (32 bytes, not 72: there can be
  // millions, docs/performance.md "Sessions 24, 26 and 27"). Its head may eject from `at` + P, its
  // tail from `at` + tail + B (arrive()).
  struct Waiting {
    uint64_t at = 0;
    uint32_t pkt = 0, from = 0, to = 0, size = 0, tail = 0;
    int32_t dest = 0;
    Waiting() = default;
    explicit Waiting(const Ev& e)
        : at(e.cycle), pkt(e.pkt), from(e.from), to(e.to), size(e.size), tail(e.tail), dest(e.dest) {}
    Ev ev() const {
      Ev e{};
      e.pkt = pkt, e.from = from, e.to = to, e.size = size, e.dest = dest;
      return e;
    }
  };
  struct Node {
    int nbr[4] = {-1, -1, -1, -1};
    bool chip[4] = {};
    int lat[4] = {}, ser[4] = {};
    uint64_t link_free[4] = {};  // first cycle each output link can start a new packet
    uint64_t eject_free = 0, inject_free = 0;
    // Ejection: the front packet has an Eject event; those behind it wait in the router's queue
    // of Waiting records (waits_), in arrival order.
    bool ejecting = false;
    // The next packet of the queue tries the port in the cycle the front one is delivered: its
    // Eject event is held here (`next`) and handled by that delivery (deliver()), not scheduled.
    bool chained = false;
    Ev next{};
    uint64_t ejects_at = 0;  // the cycle of the last ejection decided ahead (eject(), PacketSink::ready_at)
    RouterStats st;
    LinkStats ls[4];
  };
  // A packet; a multicast one holds a set of its destinations as sorted column-major keys
  // (key_of; shared with the other packets of the same list when the list recurs, KeySets): each
  // XY branch of a fork is a slice of a slice, so its copies need no record of their own, and a
  // multicast hop reads the set (a recurring one is in the cache), not the record.
  struct Rec {
    Packet p;
    uint32_t remaining = 0;
    uint32_t set = kNone;  // KeySets id, or kNone for one destination
  };
  static int32_t mc_dest(uint32_t set) { return -1 - int32_t(set); }
  static uint32_t set_of(int32_t dest) { return uint32_t(-1 - dest); }

  // e with kind k at `cycle` for router `node`, input port `port`.
  void schedule(Ev e, Kind k, uint64_t cycle, int node, int port);
  // The Eject event of the packet of event e at cycle `at` (its tail may enter from tail_ready),
  // and that event scheduled.
  Ev eject_event(Ev e, uint64_t at, uint64_t tail_ready);
  void schedule_eject(Ev e, uint64_t at, uint64_t tail_ready, int node) {
    schedule(eject_event(e, at, tail_ready), kEject, at, node, kLocal);
  }
  void arrive(const Ev& e, int node);
  void eject(const Ev& e, int node);
  void deliver(const Ev& e, int node);
  int unicast_port(int node, int dest) const;
  int node_of_event(const Ev& e) const {
    const uint64_t key = (e.order >> 8) & kNodeKeyMax;
    return int(reverse_same_cycle ? kNodeKeyMax - key : key);
  }
  PacketSink* sink_of(int node) const { return sinks[size_t(node)] ? sinks[size_t(node)] : default_sink; }

  Network& net_;
  const NetworkParams& p_;
  const int pbody_;  // cycles from a body flit's arrival to its traversal (the separable model's)
  std::vector<Node> nodes_;
  EventCalendar<Ev> cal_;  // the events not yet handled
  std::vector<Ev> cur_;    // the cycle's events being handled
  // Each router's ejection queue, its records side by side in blocks (base/chunk_fifos.hpp): a
  // record is written where the router's previous one was and read in that order (a list of
  // records from one shared pool missed the cache twice per waiting packet, docs/performance.md
  // "Session 26").
  ChunkFifos<Waiting> waits_;
  static_assert(sizeof(Waiting) == 32);
  static_assert(sizeof(Ev) == 40, "Waiting keeps Ev's fields but order: give a new one a place there");
  // Packet records in pools of fixed chunks (base/chunk_pool.hpp): they stay put (deliver() may
  // inject while it reads one) and growth copies nothing.
  ChunkPool<Rec, 12> packets_;
  // The order events are handled in (see above): cycle, kind, router and port, then packet id
  // (from the packets' records: never needed in the suite or the benches) and record.
  bool before(const Ev& x, const Ev& y) const {
    if (x.cycle != y.cycle) return x.cycle < y.cycle;
    if (x.order != y.order) return x.order < y.order;
    const uint64_t a = packets_[x.pkt].p.id, b = packets_[y.pkt].p.id;
    return a != b ? a < b : x.pkt < y.pkt;
  }
  KeySets sets_;
  NetworkTotals tot_;
  // The last cycle a packet moved (the watchdog's reference), but for ejections decided ahead:
  // progress_by(c) adds those at or before c.
  uint64_t last_progress_ = 0;
  uint64_t progress_by(uint64_t cycle) const;
  // Multicast sets are sorted column-major keys, so each branch of the XY tree at a router is one
  // slice of them (routing.hpp multicast_part_ports), as the flit models' forks.
  const int* mc_port_ = multicast_part_ports();
  uint32_t key_of(int node) const { return column_key(node, p_.width, p_.height); }
  int node_of(uint32_t k) const { return node_of_column_key(k, p_.width, p_.height); }
};

}  // namespace spikechip::arch::noc
