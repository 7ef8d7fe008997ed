// The packet-level network model (packet_network.hpp): one event per packet copy per router,
// links reserved for a packet's serialisation time.
//
// Timing (the separable model's rules for one packet alone; P = pipeline_stages, B = body flits'
// max(1, P - 2), I = 2). A copy travels as its head's cycle and its tail's distance behind it
// (size - 1 at injection; after a serialised chip link more):
// - a packet created at c starts injecting at s = max(c, the source's injection port free);
//   the port is then busy for size flits; its head is in the source router at s + I, its tail
//   size - 1 cycles behind;
// - a head in a router at t, tail at t + tail, leaves at d = max(t + P, every branch's output
//   link free): all branches of a fork leave together, as the flit models' virtual cut-through
//   fork. Its tail leaves at d' = max(t + tail + B, d + (size - 1) * ser) (ser: cycles per flit on
//   the link, 1 on chip), the link is busy until d' + ser, and the head reaches the next router at
//   d + lat (lat as the flit models: link_latency, plus chips.latency_cycles and ser - 1 on a chip
//   link), the tail d' - d behind;
// - a destination's branch enters the ejection port at e = max(t + P, port free) if the core's
//   sink is ready then (else at the cycle its ready_again() names); its tail enters at
//   max(t + tail + B, e + size - 1), leaves a cycle later, which frees the port and delivers it.
// So latency(tail) = hops * (P + L) + P + I + 1 + (size - 1) on chip with nothing else in flight,
// and every delivery cycle of a packet alone equals the separable model's (tests/cpp/
// test_noc_packet.cpp).
//
// Statistics: traversals count flit copies through a router (size per branch, as the flit models
// count flits), link flits and busy cycles as there; a head waiting for a busy link counts its
// waiting cycles as stall_no_credit (the flit models' "output VC had no credit or serial link
// busy"), waiting for a refusing sink as stall_sink; stall_no_vc and stall_arbitration stay 0
// (no VCs, no allocators).
#include "arch/noc/packet_network.hpp"

#include <algorithm>
#include <sstream>

#include "base/error.hpp"

namespace spikechip::arch::noc {

PacketNet::PacketNet(Network& net, const NetworkParams& p)
    : net_(net), p_(p), pbody_(separable_body_cycles(p.pipeline_stages)) {
  const int N = p.width * p.height;
  nodes_.resize(size_t(N));
  waits_.resize(size_t(N));
  sinks.assign(size_t(N), nullptr);
  for (int n = 0; n < N; ++n) {
    Node& r = nodes_[size_t(n)];
    for (int d = 0; d < 4; ++d) {
      const MeshLink l = mesh_link(p, n, d);
      r.nbr[d] = l.to, r.chip[d] = l.chip, r.ser[d] = l.ser, r.lat[d] = l.lat;
    }
  }
}

void PacketNet::schedule(Ev e, Kind k, uint64_t cycle, int node, int port) {
  const uint64_t key = reverse_same_cycle ? kNodeKeyMax - uint64_t(node) : uint64_t(node);
  e.cycle = cycle;
  e.order = uint64_t(k) << 40 | key << 8 | uint64_t(port);
  cal_.push(e);
}

PacketNet::Ev PacketNet::eject_event(Ev e, uint64_t at, uint64_t tail_ready) {
  // The packet's record is read when it enters the port (eject): fetched from now on. (Its loads
  // and the sink's were a third of the chip's delivery time, docs/performance.md "Session 23".)
  __builtin_prefetch(&packets_[e.pkt].p.payload);
  e.cycle = at;
  e.tail = uint32_t(tail_ready > at ? tail_ready - at : 0);
  return e;
}

void PacketNet::inject(const Packet& pk, uint64_t cycle) {
  const uint32_t rec = packets_.take();
  const int src = pk.src, size = pk.size_flits;
  Ev e{};
  e.pkt = rec, e.from = e.to = 0, e.size = uint32_t(size), e.tail = uint32_t(size - 1);
  Rec& rc = packets_[rec];
  rc.remaining = uint32_t(pk.dests.size());
  // Into the recycled record's destination list, which keeps its capacity (no allocation; records
  // keep the largest set they held: peak RSS +6 MB at 55.4M T=4, docs/performance.md "Session 25").
  rc.p = pk;
  if (pk.dests.size() == 1) {
    e.dest = pk.dests[0], rc.set = kNone;
  } else {
    rc.set = sets_.acquire(pk.dests, [&](int d) { return key_of(d); });
    e.dest = mc_dest(rc.set), e.to = uint32_t(pk.dests.size());
  }
  Node& r = nodes_[size_t(src)];
  const uint64_t s = std::max(cycle, r.inject_free);
  r.inject_free = s + uint64_t(size);
  ++tot_.packets_injected;
  tot_.flits_injected += uint64_t(size);
  net_.flits_in_network_ += uint64_t(size);
  schedule(e, kArrive, s + kSeparableInjectionCycles, src, kLocal);
}

int PacketNet::unicast_port(int node, int dest) const {
  const int w = p_.width;
  const int x = node % w, y = node / w, dx = dest % w, dy = dest / w;
  const RoutingFunction& rf = *p_.routing;
  if (rf.sign_table) return rf.sign_table[offset_index(x, y, dx, dy)];
  int cand[2];
  const int nc = rf.ports(x, y, dx, dy, cand);
  if (nc == 0) return kLocal;
  // Adaptive: of two productive ports the one whose link frees first (the first on a tie), as
  // the flit models take the one with the most credits.
  if (nc == 2 && nodes_[size_t(node)].link_free[cand[1]] < nodes_[size_t(node)].link_free[cand[0]]) return cand[1];
  return cand[0];
}

void PacketNet::arrive(const Ev& e, int node) {
  Node& r = nodes_[size_t(node)];
  last_progress_ = e.cycle;
  const uint64_t size = e.size;
  const uint64_t ready = e.cycle + uint64_t(p_.pipeline_stages);
  const uint64_t tail_ready = e.cycle + e.tail + uint64_t(pbody_);
  // Branches: one destination follows the routing function, several the XY tree.
  unsigned mask = 0;
  uint32_t from[kNumPorts], to[kNumPorts];  // a multicast branch's keys: [from, to) of the packet's
  // (Multicast sets only; the set's keys stay put while the packet holds them.)
  const uint32_t* ks = e.dest >= 0 ? nullptr : sets_.keys(set_of(e.dest));
  if (e.dest >= 0) {
    mask = 1u << unicast_port(node, e.dest);
  } else {
    const uint32_t k0 = key_of(node), col0 = k0 - uint32_t(node / p_.width), col1 = col0 + uint32_t(p_.height);
    const auto at = [&](uint32_t k) { return uint32_t(std::lower_bound(ks + e.from, ks + e.to, k) - ks); };
    const uint32_t a = at(col0), b = at(k0), b1 = b + uint32_t(b < e.to && ks[b] == k0), c = at(col1);
    const uint32_t cut[6] = {e.from, a, b, b1, c, e.to};
    for (int j = 0; j < 5; ++j)
      if (cut[j] < cut[j + 1]) {
        const int port = mc_port_[j];
        mask |= 1u << port;
        from[port] = cut[j], to[port] = cut[j + 1];
      }
  }
  const unsigned links = mask & ~(1u << kLocal);
  const bool forked = (mask & (mask - 1)) != 0;  // (more than one port; no popcount call)
  // The event of the branch through `port`: the arriving one, or for a fork a slice of its
  // destinations (one destination: that node).
  auto branch = [&](int port) {
    Ev b = e;
    if (!forked) return b;
    net_.flits_in_network_ += size;
    b.from = from[port], b.to = to[port];
    if (to[port] - from[port] == 1) b.dest = node_of(ks[from[port]]);
    return b;
  };
  if (links) {
    uint64_t d = ready;
    for (unsigned m = links; m; m &= m - 1) d = std::max(d, r.link_free[__builtin_ctz(m)]);
    r.st.stall_no_credit += d - ready;
    for (unsigned m = links; m; m &= m - 1) {
      const int op = __builtin_ctz(m);
      const uint32_t ser = uint32_t(r.ser[op]);
      const uint64_t tail = std::max(tail_ready, d + (size - 1) * ser) - d;
      r.link_free[op] = d + tail + ser;
      r.st.traversals += size;
      r.ls[op].flits += size;
      r.ls[op].busy_cycles += size * ser;
      if (net_.on_link_)
        for (uint64_t k = 0; k < size; ++k) net_.on_link_(node, op, d + (size > 1 ? k * tail / (size - 1) : 0), ser);
      Ev b = branch(op);
      b.tail = uint32_t(tail);
      schedule(b, kArrive, d + uint64_t(r.lat[op]), r.nbr[op], opposite(op));
    }
  }
  if (mask & (1u << kLocal)) {
    // The ejection port: the front packet alone tries it (and the core's sink); others wait.
    if (!r.ejecting) {
      r.ejecting = true;
      schedule_eject(branch(kLocal), std::max(ready, r.eject_free), tail_ready, node);
    } else {
      // Written from e and the fork's slice, not from branch()'s copy of e: loading a copy
      // whose fields had just been stored one by one waited for those stores (a failed
      // store-to-load forwarding; docs/performance.md "Session 25"). The slice repeats
      // branch()'s three lines: shared through a lambda (generic or returning the slice), GCC
      // stopped inlining the calendar's place() here and the network took 4-6 % more samples.
      Waiting wr(e);
      if (forked) {
        net_.flits_in_network_ += size;
        wr.from = from[kLocal], wr.to = to[kLocal];
        if (wr.to - wr.from == 1) wr.dest = node_of(ks[wr.from]);
      }
      waits_.push(size_t(node), wr);
    }
  }
  if (forked) net_.flits_in_network_ -= size;  // (the arriving copy was split into its branches)
}

// The front packet of the router's ejection queue tries the port: it enters if the core's sink is
// ready (the flit models ask before every flit; here before the head, the packet then streams),
// else it retries when the sink says it may be ready again. Either way those behind it wait.
// A sink that knows when it will be ready (PacketSink::ready_at: its readiness changes only by
// deliveries to the core, and those wait behind this packet) has the packet enter at that cycle,
// decided now instead of by a retry then: the same cycles and statistics, one event fewer per
// refusal (19 % of the packet model's events at 55.4M T=4, docs/performance.md "Session 24").
// Nothing else reads the port's state before then: arrivals in between queue behind the packet in
// the retry's case and are scheduled from eject_free here, at the same cycle.
void PacketNet::eject(const Ev& e, int node) {
  Node& r = nodes_[size_t(node)];
  uint64_t t = e.cycle;
  const uint64_t tail_at = t + e.tail;  // the first cycle the tail may enter
  PacketSink* sink = sink_of(node);
  bool decided_ahead = false;
  if (sink && !sink->ready(node, t)) {
    const uint64_t known = sink->ready_at(node, t);
    const uint64_t again = known > t ? known : std::max(t + 1, sink->ready_again(node, t));
    r.st.stall_sink += again - t;
    const uint64_t w = uint64_t(p_.watchdog_cycles);
    if (again - last_progress_ > w && again - progress_by(t) > w) {
      schedule_eject(e, again, tail_at, node);  // (listed by describe() as the retry)
      throw Error("network watchdog: no packet moved for " + std::to_string(p_.watchdog_cycles) + " cycles (cycle " +
                  std::to_string(t) + ", " + std::to_string(net_.flits_in_network_) + " flits in flight; core " +
                  std::to_string(node) + " refuses packet #" + std::to_string(packets_[e.pkt].p.id) + "); in flight:\n" + describe() +
                  "Check that every destination core consumes its packets, or raise watchdog_cycles.");
    }
    if (known <= t) {
      schedule_eject(e, again, tail_at, node);
      return;
    }
    t = again, decided_ahead = true;
  }
  if (decided_ahead) {
    // Progress at `t`, for the watchdog, from then on (progress_by); the previous such cycle has
    // passed (this packet's Eject came after that packet's delivery).
    last_progress_ = std::max(last_progress_, r.ejects_at);
    r.ejects_at = t;
  } else {
    last_progress_ = t;
  }
  r.st.traversals += e.size;
  const uint64_t done = std::max(tail_at, t + e.size - 1) + 1;  // the tail's ejection, when the port frees
  r.eject_free = done;
  schedule(e, kDeliver, done, node, kLocal);
  // (Also for an ejection decided ahead: early, but the payload then waits in the outer caches;
  // ChipEngine::deliver 9.1 -> 6.5 % at 55.4M T=4, docs/performance.md "Session 24".)
  if (sink) sink->prefetch(node, packets_[e.pkt].p);
  if (waits_.empty(size_t(node))) {
    r.ejecting = false;
    return;
  }
  const Waiting n = waits_.front(size_t(node));
  waits_.pop(size_t(node));
  if (!waits_.empty(size_t(node))) {
    // The record the next ejection here reads (the next block's first when this one is done; a
    // miss was most of eject()'s time at 55.4M T=4, docs/performance.md "Session 24").
    const char* q = reinterpret_cast<const char*>(&waits_.front(size_t(node)));
    __builtin_prefetch(q), __builtin_prefetch(q + sizeof(Waiting) - 1);
  }
  const uint64_t at = std::max(n.at + uint64_t(p_.pipeline_stages), done), tail_ready = n.at + n.tail + uint64_t(pbody_);
  if (at == done) {
    // It tries the port in the cycle this packet is delivered: that delivery tries it (deliver()).
    r.chained = true, r.next = eject_event(n.ev(), at, tail_ready);
    return;
  }
  schedule_eject(n.ev(), at, tail_ready, node);
}

uint64_t PacketNet::progress_by(uint64_t cycle) const {
  // Asked only when last_progress_ alone would fire the watchdog, so a scan.
  uint64_t l = last_progress_;
  for (const Node& n : nodes_)
    if (n.ejects_at <= cycle) l = std::max(l, n.ejects_at);
  return l;
}

void PacketNet::deliver(const Ev& e, int node) {
  const uint64_t size = e.size;
  last_progress_ = e.cycle;
  net_.flits_in_network_ -= size;
  tot_.flits_ejected += size;
  ++tot_.packets_delivered;
  const Packet& p = packets_[e.pkt].p;  // (records stay put if deliver() injects)
  if (PacketSink* s = sink_of(node)) s->deliver_ranked(node, p, e.cycle, e.from);  // (from: its rank in the set)
  if (net_.on_deliver_) net_.on_deliver_(node, p, e.cycle);
  Rec& rc = packets_[e.pkt];
  if (--rc.remaining == 0) {
    if (rc.set != kNone) sets_.release(rc.set);
    packets_.give(e.pkt);
  }
  Node& r = nodes_[size_t(node)];
  if (r.chained) {
    // The next packet of the queue tries the port now, as its Eject event would have after this
    // cycle's deliveries and arrivals: what it reads (the sink's readiness, which only this
    // delivery changes in this cycle, and the port) and writes (this router's ejection state,
    // later events) are the same (docs/architecture.md "Network", the packet model).
    r.chained = false;
    const Ev n = r.next;  // (a copy: eject() may hold the next packet there)
    eject(n, node);
  }
}

void PacketNet::advance_to(uint64_t cycle) {
  while (!cal_.empty()) {
    const uint64_t c = cal_.first_cycle();
    if (c >= cycle) break;
    cal_.pop(c, cur_);
    if (cur_.size() > 1) {
      std::sort(cur_.begin(), cur_.end(), [this](const Ev& x, const Ev& y) { return before(x, y); });
      // The records the cycle's deliveries and multicast arrivals read, fetched together rather
      // than one miss after another.
      for (const Ev& e : cur_) {
        const Kind k = Kind(e.order >> 40);
        if (k == kDeliver) __builtin_prefetch(&packets_[e.pkt].p.payload);
        else if (k == kArrive && e.dest < 0) sets_.prefetch(set_of(e.dest));
      }
    }
    net_.now_ = c;
    for (const Ev& e : cur_) {
      switch (Kind(e.order >> 40)) {
        case kDeliver: deliver(e, node_of_event(e)); break;
        case kArrive: arrive(e, node_of_event(e)); break;
        case kEject: eject(e, node_of_event(e)); break;
      }
    }
  }
  if (cycle > net_.now_) net_.now_ = cycle;
}

uint64_t PacketNet::next_event_cycle() const {
  return cal_.empty() ? kNever : std::max(net_.now_, cal_.first_cycle());
}

NetworkTotals PacketNet::totals() const {
  NetworkTotals t = tot_;
  for (const Node& r : nodes_) {
    t.router_traversals += r.st.traversals;
    for (int d = 0; d < 4; ++d) (r.chip[d] ? t.chip_link_flits : t.link_flits) += r.ls[d].flits;
  }
  t.chip_link_bits = t.chip_link_flits * uint64_t(p_.flit_bits);
  t.on_chip_link_bits = t.link_flits * uint64_t(p_.flit_bits);
  return t;
}

std::string PacketNet::describe() const {
  // Heads on their way (arrivals), packets at an ejection port or being ejected, then those
  // waiting behind them, in cycle order; at most 32 lines.
  std::vector<Ev> all;
  cal_.for_each([&](const Ev& e) { all.push_back(e); });
  std::sort(all.begin(), all.end(), [this](const Ev& x, const Ev& y) { return before(x, y); });
  std::ostringstream os;
  int shown = 0;
  auto line = [&](const Ev& e, const char* what, int node, uint64_t cycle) {
    if (shown++ >= 32) return;
    const Packet& pk = packets_[e.pkt].p;
    os << "  packet #" << pk.id << " (" << packet_kind_name(pk.kind) << ", src " << pk.src << ", " << pk.size_flits
       << " flit(s)) " << what << " router (" << node % p_.width << "," << node / p_.width << ") " << cycle << ", dests";
    if (e.dest >= 0) os << " " << e.dest;
    if (e.dest < 0) {
      const uint32_t* ks = sets_.keys(set_of(e.dest));
      for (uint32_t i = e.from; i < e.to && i < e.from + 8; ++i) os << " " << node_of(ks[i]);
      if (e.to - e.from > 8) os << " ...";
    }
    os << "\n";
  };
  static const char* const kWhat[] = {"is delivered by", "arrives at", "ejects at"};
  for (const Ev& e : all) {
    line(e, kWhat[e.order >> 40], node_of_event(e), e.cycle);
  }
  for (size_t n = 0; n < nodes_.size(); ++n) {
    if (nodes_[n].chained) line(nodes_[n].next, "ejects at", int(n), nodes_[n].next.cycle);  // (as if scheduled)
    waits_.for_each(n, [&](const Waiting& w) {
      line(w.ev(), "waits to eject at", int(n), w.at + uint64_t(p_.pipeline_stages));
    });
  }
  if (shown > 32) os << "  ... (" << shown - 32 << " more)\n";
  return os.str();
}

}  // namespace spikechip::arch::noc
