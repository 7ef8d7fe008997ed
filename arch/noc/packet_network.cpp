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

namespace {
constexpr int kInjectLatency = 2;  // the separable model's (network.hpp, timing contract)
constexpr uint64_t kNodeKeyMax = (uint64_t(1) << 24) - 1;  // NetworkParams::validate: <= 2^22 nodes
int opposite(int p) { return (p + 2) & 3; }
}  // namespace

PacketNet::PacketNet(Network& net, const NetworkParams& p)
    : net_(net), p_(p), pbody_(std::max(1, p.pipeline_stages - 2)) {
  const int N = p.width * p.height;
  nodes_.resize(size_t(N));
  sinks.assign(size_t(N), nullptr);
  ring_.resize(kRing);
  ring_bits_.assign(kRing / 64, 0);
  const int cw = p.chip_width > 0 ? p.chip_width : p.width;
  const int ch = p.chip_height > 0 ? p.chip_height : p.height;
  const int ser_chip = (p.flit_bits + p.chip_link_bits_per_cycle - 1) / p.chip_link_bits_per_cycle;
  for (int n = 0; n < N; ++n) {
    Node& r = nodes_[size_t(n)];
    const int x = n % p.width, y = n / p.width;
    for (int d = 0; d < 4; ++d) {
      const int nx = x + (d == kEast) - (d == kWest), ny = y + (d == kSouth) - (d == kNorth);
      if (nx < 0 || ny < 0 || nx >= p.width || ny >= p.height) continue;
      r.nbr[d] = ny * p.width + nx;
      r.chip[d] = (nx / cw != x / cw) || (ny / ch != y / ch);
      r.ser[d] = r.chip[d] ? ser_chip : 1;
      r.lat[d] = r.chip[d] ? p.link_latency + p.chip_link_latency + ser_chip - 1 : p.link_latency;
    }
  }
}

void PacketNet::schedule(Kind k, uint64_t cycle, int node, int port, uint64_t id, uint32_t copy, uint32_t size,
                         uint32_t tail, int32_t dest) {
  const uint64_t key = reverse_same_cycle ? kNodeKeyMax - uint64_t(node) : uint64_t(node);
  push(Ev{cycle, uint64_t(k) << 40 | key << 8 | uint64_t(port), id, copy, size, tail, dest});
}

void PacketNet::push(const Ev& e) {
  ++pending_;
  if (e.cycle - base_ < kRing) {
    const uint64_t b = e.cycle & (kRing - 1);
    ring_[b].push_back(e);
    ring_bits_[b >> 6] |= uint64_t(1) << (b & 63);
  } else {
    far_.push(e);
  }
}

uint64_t PacketNet::first_cycle() const {
  // Ring events are all earlier than far ones (those are >= base_ + kRing).
  const uint64_t start = base_ & (kRing - 1);
  const uint64_t words = kRing / 64;
  for (uint64_t k = 0; k <= words; ++k) {
    const uint64_t w = ((start >> 6) + k) % words;
    uint64_t bits = ring_bits_[w];
    if (k == 0) bits &= ~uint64_t(0) << (start & 63);                        // from base_ on
    else if (k == words) bits &= (uint64_t(1) << (start & 63)) - 1;          // the wrapped part
    if (bits) {
      const uint64_t b = w * 64 + uint64_t(__builtin_ctzll(bits));
      return base_ + ((b - start) & (kRing - 1));
    }
  }
  return far_.top().cycle;
}

uint32_t PacketNet::new_copy(uint32_t pkt, int32_t dest) {
  uint32_t c;
  if (!free_copies_.empty()) {
    c = free_copies_.back();
    free_copies_.pop_back();
  } else {
    c = uint32_t(copies_.size());
    copies_.emplace_back();
  }
  Copy& cp = copies_[c];
  cp.pkt = pkt;
  cp.dest = dest;
  cp.next = kNone;
  cp.dests.clear();
  return c;
}

void PacketNet::release_copy(uint32_t c) { free_copies_.push_back(c); }

void PacketNet::inject(Packet pk, uint64_t cycle) {
  uint32_t rec;
  if (!free_packets_.empty()) {
    rec = free_packets_.back();
    free_packets_.pop_back();
  } else {
    rec = uint32_t(packets_.size());
    packets_.emplace_back();
  }
  const uint64_t id = pk.id;
  const int src = pk.src, size = pk.size_flits;
  packets_[rec].remaining = uint32_t(pk.dests.size());
  packets_[rec].p = std::move(pk);
  const std::vector<int>& ds = packets_[rec].p.dests;
  const int32_t dest = ds.size() == 1 ? ds[0] : -1;
  const uint32_t c = new_copy(rec, dest);
  if (dest < 0) copies_[c].dests = ds;
  Node& r = nodes_[size_t(src)];
  const uint64_t s = std::max(cycle, r.inject_free);
  r.inject_free = s + uint64_t(size);
  ++tot_.packets_injected;
  tot_.flits_injected += uint64_t(size);
  net_.flits_in_network_ += uint64_t(size);
  schedule(kArrive, s + kInjectLatency, src, kLocal, id, c, uint32_t(size), uint32_t(size - 1), dest);
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
  const uint32_t c = e.copy;
  const uint64_t size = e.size;
  const uint64_t ready = e.cycle + uint64_t(p_.pipeline_stages);
  const uint64_t tail_ready = e.cycle + e.tail + uint64_t(pbody_);
  // Branches: one destination follows the routing function, several the XY tree.
  unsigned mask;
  uint32_t pkt = 0;
  if (e.dest >= 0) {
    mask = 1u << unicast_port(node, e.dest);
  } else {
    mask = 0;
    for (int k = 0; k < kNumPorts; ++k) branch_[k].clear();
    const Copy& cp = copies_[c];
    pkt = cp.pkt;
    const RoutingFunction& mc = multicast_routing();
    const int w = p_.width, x = node % w, y = node / w;
    for (const int d : cp.dests) {
      const int port = mc.first_port(x, y, d % w, d / w);
      branch_[port].push_back(d);
      mask |= 1u << port;
    }
  }
  const unsigned links = mask & ~(1u << kLocal);
  const bool forked = __builtin_popcount(mask) > 1;
  // A branch of a fork: a new copy to its destinations (the arriving one is released below).
  auto branch = [&](int port) -> std::pair<uint32_t, int32_t> {
    if (!forked) return {c, e.dest};
    const int32_t only = branch_[port].size() == 1 ? branch_[port][0] : -1;
    const uint32_t b = new_copy(pkt, only);
    if (only < 0) copies_[b].dests.swap(branch_[port]);
    net_.flits_in_network_ += size;
    return {b, only};
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
      const auto [b, only] = branch(op);
      schedule(kArrive, d + uint64_t(r.lat[op]), r.nbr[op], opposite(op), e.id, b, e.size, uint32_t(tail), only);
    }
  }
  if (mask & (1u << kLocal)) {
    // Into the ejection queue; the front one alone tries the port (and the core's sink).
    const uint32_t b = branch(kLocal).first;
    Copy& q = copies_[b];
    q.ready = ready, q.tail_ready = tail_ready, q.size = e.size, q.next = kNone;
    if (r.ej_head == kNone) {
      r.ej_head = r.ej_tail = b;
      schedule(kEject, std::max(ready, r.eject_free), node, kLocal, e.id, b, e.size, 0, q.dest);
    } else {
      copies_[r.ej_tail].next = b;
      r.ej_tail = b;
    }
  }
  if (forked) {  // the arriving copy was split into its branches
    net_.flits_in_network_ -= size;
    release_copy(c);
  }
}

// The front copy of the router's ejection queue tries the port: it enters if the core's sink is
// ready (the flit models ask before every flit; here before the head, the packet then streams),
// else it retries when the sink says it may be ready again. Either way the queue behind it waits.
void PacketNet::eject(const Ev& e, int node) {
  Node& r = nodes_[size_t(node)];
  const uint64_t t = e.cycle;
  const uint64_t size = e.size;
  PacketSink* sink = sink_of(node);
  if (sink && !sink->ready(node, t)) {
    const uint64_t again = std::max(t + 1, sink->ready_again(node, t));
    if (again - last_progress_ > uint64_t(p_.watchdog_cycles))
      throw Error("network watchdog: no packet moved for " + std::to_string(p_.watchdog_cycles) + " cycles (cycle " +
                  std::to_string(t) + ", " + std::to_string(net_.flits_in_network_) + " flits in flight; core " +
                  std::to_string(node) + " refuses packet #" + std::to_string(e.id) +
                  "); in flight:\n" + describe() +
                  "Check that every destination core consumes its packets, or raise watchdog_cycles.");
    r.st.stall_sink += again - t;
    push(Ev{again, e.order, e.id, e.copy, e.size, 0, e.dest});
    return;
  }
  last_progress_ = t;
  r.st.traversals += size;
  const Copy& cp = copies_[e.copy];
  const uint64_t done = std::max(cp.tail_ready, t + size - 1) + 1;  // the tail's ejection, when the port frees
  r.eject_free = done;
  schedule(kDeliver, done, node, kLocal, e.id, e.copy, e.size, 0, e.dest);
  r.ej_head = cp.next;
  if (r.ej_head == kNone) {
    r.ej_tail = kNone;
  } else {
    const Copy& n = copies_[r.ej_head];
    schedule(kEject, std::max(n.ready, done), node, kLocal, packets_[n.pkt].p.id, r.ej_head, n.size, 0, n.dest);
  }
}

void PacketNet::deliver(const Ev& e, int node) {
  const uint32_t pkt = copies_[e.copy].pkt;
  const uint64_t size = e.size;
  last_progress_ = e.cycle;
  net_.flits_in_network_ -= size;
  tot_.flits_ejected += size;
  ++tot_.packets_delivered;
  release_copy(e.copy);
  const Packet& p = packets_[pkt].p;  // (packets_ is a deque: stays put if deliver() injects)
  if (PacketSink* s = sink_of(node)) s->deliver(node, p, e.cycle);
  if (net_.on_deliver_) net_.on_deliver_(node, p, e.cycle);
  if (--packets_[pkt].remaining == 0) free_packets_.push_back(pkt);
}

void PacketNet::advance_to(uint64_t cycle) {
  while (pending_ > 0) {
    const uint64_t c = first_cycle();
    if (c >= cycle) break;
    base_ = c;
    while (!far_.empty() && far_.top().cycle - base_ < kRing) {
      const Ev e = far_.top();
      far_.pop();
      --pending_;
      push(e);
    }
    const uint64_t b = c & (kRing - 1);
    cur_.clear();
    cur_.swap(ring_[b]);
    ring_bits_[b >> 6] &= ~(uint64_t(1) << (b & 63));
    pending_ -= cur_.size();
    if (cur_.size() > 1) std::sort(cur_.begin(), cur_.end(), [](const Ev& x, const Ev& y) { return y > x; });
    net_.now_ = c;
    for (const Ev& e : cur_) {
      const uint64_t key = (e.order >> 8) & kNodeKeyMax;
      const int node = int(reverse_same_cycle ? kNodeKeyMax - key : key);
      switch (Kind(e.order >> 40)) {
        case kDeliver: deliver(e, node); break;
        case kArrive: arrive(e, node); break;
        case kEject: eject(e, node); break;
      }
    }
  }
  if (cycle > net_.now_) net_.now_ = cycle;
}

uint64_t PacketNet::next_event_cycle() const {
  return pending_ == 0 ? kNever : std::max(net_.now_, first_cycle());
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
  // Heads on their way (arrivals), tails being ejected (deliveries), then each router's ejection
  // queue, front first; at most 32 lines.
  std::vector<Ev> all;
  for (const auto& b : ring_)
    for (const Ev& e : b)
      if ((e.order >> 40) != kEject) all.push_back(e);
  for (auto q = far_; !q.empty(); q.pop())
    if ((q.top().order >> 40) != kEject) all.push_back(q.top());
  std::sort(all.begin(), all.end(), [](const Ev& x, const Ev& y) { return y > x; });
  std::ostringstream os;
  int shown = 0;
  auto line = [&](uint32_t copy, const char* what, int node, uint64_t cycle) {
    if (shown++ >= 32) return;
    const Copy& c = copies_[copy];
    const Packet& pk = packets_[c.pkt].p;
    os << "  packet #" << pk.id << " (" << packet_kind_name(pk.kind) << ", src " << pk.src << ", " << pk.size_flits
       << " flit(s)) " << what << " router (" << node % p_.width << "," << node / p_.width << ") " << cycle << ", dests";
    if (c.dest >= 0) os << " " << c.dest;
    for (size_t i = 0; i < c.dests.size() && i < 8; ++i) os << " " << c.dests[i];
    if (c.dests.size() > 8) os << " ...";
    os << "\n";
  };
  for (const Ev& e : all) {
    const uint64_t key = (e.order >> 8) & kNodeKeyMax;
    const int node = int(reverse_same_cycle ? kNodeKeyMax - key : key);
    line(e.copy, (e.order >> 40) == kArrive ? "arrives at" : "is delivered by", node, e.cycle);
  }
  for (size_t n = 0; n < nodes_.size(); ++n)
    for (uint32_t c = nodes_[n].ej_head; c != kNone; c = copies_[c].next)
      line(c, "queued to eject at", int(n), copies_[c].ready);
  if (shown > 32) os << "  ... (" << shown - 32 << " more)\n";
  return os.str();
}

}  // namespace spikechip::arch::noc
