#pragma once
// The packet-level network model (RouterModel::Packet, router.model = "packet"): an opt-in model
// for sweeps that trades the flit-level router for speed, as gem5's "simple" network stands beside
// Garnet. A packet (or a multicast copy) is one event per router it crosses, not one per flit per
// cycle; each output link, each ejection port and each injection port is a resource reserved for
// the packet's serialisation time, first come first served; there are no buffers, VCs, credits or
// allocators (unbounded buffering: contention is queueing for links, no head-of-line blocking).
// At zero load its latencies are the separable model's timing contract exactly
// (docs/architecture.md, "Network"); under load it congests later than the flit models
// (docs/performance.md, "Session 22"). Plain C++, driven through Network (network.hpp), which
// owns one of these when the model is Packet. Included by network.cpp and packet_network.cpp.
#include <cstdint>
#include <deque>
#include <queue>
#include <string>
#include <vector>

#include "arch/noc/network.hpp"

namespace spikechip::arch::noc {

struct PacketNet {
  PacketNet(Network& net, const NetworkParams& p);

  void inject(Packet pk, uint64_t cycle);  // pk validated, given its id and split by Network::inject
  void advance_to(uint64_t cycle);
  uint64_t next_event_cycle() const;
  bool idle() const { return pending_ == 0; }
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
  // router (descending under set_reverse_same_cycle), input port, packet id and copy. Routers
  // interact only through later cycles, so that router order changes nothing.
  enum Kind : uint8_t { kDeliver = 0, kArrive = 1, kEject = 2 };
  // An event carries what a hop needs (a unicast hop reads no record: the records' loads were
  // most of a hop's time).
  struct Ev {
    uint64_t cycle;
    uint64_t order;  // kind, router, input port (see above)
    uint64_t id;     // packet id
    uint32_t copy;
    uint32_t size;   // flits
    uint32_t tail;   // cycles from the head to the tail (size - 1, more after a serialised link)
    int32_t dest;    // the copy's only destination, or -1 for a multicast set
    bool operator>(const Ev& o) const {
      if (cycle != o.cycle) return cycle > o.cycle;
      if (order != o.order) return order > o.order;
      if (id != o.id) return id > o.id;
      return copy > o.copy;
    }
  };
  struct Node {
    int nbr[4] = {-1, -1, -1, -1};
    bool chip[4] = {};
    int lat[4] = {}, ser[4] = {};
    uint64_t link_free[4] = {};  // first cycle each output link can start a new packet
    uint64_t eject_free = 0, inject_free = 0;
    // Copies waiting for the ejection port, in arrival order (a list through Copy::next); the
    // front one has an ejection attempt scheduled.
    uint32_t ej_head = kNone, ej_tail = kNone;
    RouterStats st;
    LinkStats ls[4];
  };
  // A packet's copy: its packet record and the destinations it still serves (sorted node ids;
  // filled for multicast sets only, dest for one).
  static constexpr uint32_t kNone = ~uint32_t(0);
  struct Copy {
    uint32_t pkt = 0;
    int32_t dest = -1;
    // In a destination's ejection queue: the next copy, its flits, the first cycle its head may
    // eject and the first its tail may.
    uint32_t next = kNone, size = 1;
    uint64_t ready = 0, tail_ready = 0;
    std::vector<int> dests;
  };
  struct Rec {
    Packet p;
    uint32_t remaining = 0;
  };

  // An event of kind k for router `node`, input port `port`; the rest as in Ev.
  void schedule(Kind k, uint64_t cycle, int node, int port, uint64_t id, uint32_t copy, uint32_t size, uint32_t tail,
                int32_t dest);
  uint32_t new_copy(uint32_t pkt, int32_t dest);
  void release_copy(uint32_t c);
  void arrive(const Ev& e, int node);
  void eject(const Ev& e, int node);
  void deliver(const Ev& e, int node);
  int unicast_port(int node, int dest) const;
  PacketSink* sink_of(int node) const { return sinks[size_t(node)] ? sinks[size_t(node)] : default_sink; }

  Network& net_;
  const NetworkParams& p_;
  const int pbody_;  // cycles from a body flit's arrival to its traversal (the separable model's)
  std::vector<Node> nodes_;
  // The event calendar: a ring of one bucket per cycle for [base_, base_ + kRing), a heap for
  // later cycles (moved into the ring as base_ reaches them), a bit per non-empty bucket. A
  // bucket is sorted when its cycle is handled (the order above); nothing is ever scheduled for
  // the cycle being handled (every delay is >= 1).
  static constexpr uint64_t kRing = 4096;
  void push(const Ev& e);
  uint64_t first_cycle() const;  // of the earliest event; pending_ > 0
  std::vector<std::vector<Ev>> ring_;
  std::vector<uint64_t> ring_bits_;
  std::priority_queue<Ev, std::vector<Ev>, std::greater<>> far_;
  uint64_t base_ = 0;
  uint64_t pending_ = 0;
  std::vector<Ev> cur_;  // the bucket being handled
  std::deque<Copy> copies_;
  std::vector<uint32_t> free_copies_;
  std::deque<Rec> packets_;
  std::vector<uint32_t> free_packets_;
  NetworkTotals tot_;
  uint64_t last_progress_ = 0;  // the last cycle a packet moved (the watchdog's reference)
  std::vector<int> branch_[kNumPorts];  // scratch of arrive(): each port's destinations
};

}  // namespace spikechip::arch::noc
