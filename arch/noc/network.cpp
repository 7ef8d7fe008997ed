// Router/network implementation. Structure follows BookSim2's IQRouter (input VCs, route
// computation, VC allocation, switch allocation, switch traversal, credits) but is evaluated only
// for routers that hold work, with link and credit traversals kept in a calendar ring.
#include "arch/noc/network.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <deque>
#include <queue>
#include <tuple>
#include <sstream>

#include "base/error.hpp"

namespace spikechip::arch::noc {

const char* packet_kind_name(PacketKind k) {
  switch (k) {
    case PacketKind::Spike: return "spike";
    case PacketKind::PartialSum: return "psum";
    case PacketKind::EndOfStep: return "end_of_step";
  }
  return "?";
}

const std::vector<std::string>& router_model_names() {
  static const std::vector<std::string> names = {"separable", "speculative"};
  return names;
}
const char* router_model_name(RouterModel m) { return router_model_names()[size_t(m)].c_str(); }
RouterModel router_model(const std::string& name) {
  const auto& n = router_model_names();
  for (size_t i = 0; i < n.size(); ++i)
    if (n[i] == name) return RouterModel(i);
  throw Error("router.model: unknown '" + name + "' (use separable or speculative)");
}

NetworkParams NetworkParams::from_chip(const ChipConfig& c) {
  NetworkParams p;
  p.width = c.global_width();
  p.height = c.global_height();
  p.chip_width = c.mesh.width;
  p.chip_height = c.mesh.height;
  p.vcs = c.router.vcs;
  p.buffer_depth = c.router.buffer_depth;
  p.flit_bits = c.router.flit_bits;
  p.pipeline_stages = c.router.pipeline_stages;
  p.link_latency = c.router.link_latency;
  p.chip_link_latency = c.chips.latency_cycles;
  p.chip_link_bits_per_cycle = c.chips.bits_per_cycle;
  p.routing = &routing_function(c.router.routing);
  p.multicast = c.router.multicast;
  if (c.router.arbitration == "round_robin") p.round_robin = true;
  else if (c.router.arbitration == "fixed_priority") p.round_robin = false;
  else throw Error("router.arbitration: unknown '" + c.router.arbitration + "' (use round_robin or fixed_priority)");
  p.model = router_model(c.router.model);
  p.watchdog_cycles = c.watchdog_cycles;
  return p;
}

void NetworkParams::validate() const {
  auto need = [](bool ok, const std::string& what) {
    if (!ok) throw Error("network parameters: " + what);
  };
  need(width >= 1 && height >= 1 && int64_t(width) * height <= (1 << 22), "mesh width/height must be >= 1");
  need(vcs >= 1 && vcs <= 16, "router.vcs must be 1..16");
  need(buffer_depth >= 1 && buffer_depth <= 1024, "router.buffer_depth must be 1..1024");
  need(flit_bits >= 1, "router.flit_bits must be >= 1");
  need(pipeline_stages >= 1 && pipeline_stages <= 64, "router.pipeline_stages must be 1..64");
  need(link_latency >= 1 && link_latency <= 1024, "router.link_latency must be 1..1024");
  need(chip_link_latency >= 0 && chip_link_latency <= 100000, "chips.latency_cycles must be 0..100000");
  need(chip_link_bits_per_cycle >= 1, "chips.bits_per_cycle must be >= 1");
  need(chip_width >= 0 && chip_height >= 0, "chip width/height must be >= 0");
  need(watchdog_cycles >= 1, "watchdog_cycles must be >= 1");
}

namespace {

inline int opposite(int p) { return (p + 2) & 3; }

struct Flit {
  uint64_t ready;    // earliest switch-traversal cycle (arrival + pipeline_stages)
  uint32_t copy;     // which (packet, destination subset) this flit belongs to
  int32_t dest;      // the copy's only destination, or -1 for a multicast set (route without a lookup)
  uint32_t idx;      // flit index in the packet
  bool last;         // tail flit (kept in the flit so the hot path needs no packet lookup)
};

// Input VC state, split by use. InVC is what the switch allocator reads for every candidate VC
// each cycle (16 bytes, four per cache line; at saturation the allocator scan is memory-bound);
// InVCRoute is only touched by VC allocation and by a winning flit's traversal. The flits
// themselves live in one network-wide array (Impl::fbuf), buffer_depth rounded up to a power of
// two per VC, so a VC is a head index and a count, no heap block of its own.
struct InVC {
  uint16_t head = 0, n = 0;
  uint8_t nout = 0;  // branches of the allocated packet (valid while allocated)
  uint8_t out_port[kNumPorts];
  uint8_t out_vc[kNumPorts];  // vcs <= 16
};
static_assert(sizeof(InVC) == 16, "InVC is sized to share cache lines four ways");

// Whether the head won VC allocation (out ports/VCs valid until the tail) is bit vc of
// Router::al[port] only, so a traversal's bookkeeping does not touch this record.
struct InVCRoute {
  bool forked = false;
  // VC allocation of the head failed while its router's output VCs were in state `fail_epoch`
  // (Router::vc_epoch): until that changes, a retry fails the same way and is skipped.
  bool failed = false;
  uint32_t out_copy[kNumPorts];
  int32_t out_dest[kNumPorts];
  uint64_t fail_epoch = 0;
};

struct OutVC {
  int credits = 0;
  bool busy = false;  // owned by a packet between its head and tail
  // The waiter's input port and VC (unparking it needs them; recomputing them from the index
  // took two divisions per credit).
  uint8_t waiter_ip = 0;
  uint16_t waiter_mask = 0;  // 1 << the waiter's VC, 0 without a waiter (unparking is then a no-op)
  int32_t waiter = -1;  // input VC index parked on this VC's next credit (Impl::park_credit), or -1
};

struct Router {
  // Fields are ordered by use: the first cache line holds what every visit reads (occupancy,
  // per-port VC masks, arbiter pointers, the injection state); what only a traversal or an event
  // touches follows. A router visit at saturation is memory-bound, so this is worth keeping.
  uint32_t buffered = 0;
  // Per input port bitmasks over VCs: non-empty buffers and VCs whose packet holds output VCs;
  // the allocators visit only set bits instead of every VC of every port.
  // Eight lanes, the last three always 0, so a visit tests all ports at once (Impl::port_masks).
  uint16_t ne[8] = {};
  uint16_t al[8] = {};
  // Parked VCs (per input port): a ready head whose stall can only end on a known event (a credit
  // for its output VC, or an output VC of its port released here), left out of the allocators
  // until then; its per-cycle stall is added in bulk on unpark (Impl::park_*).
  uint16_t parked[8] = {};
  bool active = false;
  // Asleep: holds flits but nothing can move until a flit or credit arrives or a packet is
  // released (every wait is on credits, output VCs or the local VC, none on a timer or a sink).
  // Each slept cycle would have counted `inc` stalls and rotated the arbiters: applied on wake.
  bool asleep = false;
  // The head copy's size and destination, looked up once per copy: at saturation a router asks
  // every cycle whether its full local VC can take a flit, and the lookups cost more than that.
  bool inj_known = false, inj_whole = false;
  int rr_in = 0;
  int rr_va = 0;
  int rr_vc[kNumPorts] = {0, 0, 0, 0, 0};
  // injection (source queue of packet copies, one flit per cycle into a local input VC)
  int inj_vc = -1;
  uint32_t inj_flit = 0;
  int32_t inj_dest = -1;
  uint32_t inj_size = 0;
  uint32_t local_busy = 0;  // bit v: local input VC v is taken by the packet being injected
  size_t srcq_head = 0;
  std::vector<uint32_t> srcq;
  // Bumped whenever one of this router's output VCs is released or, not busy, gets its last credit
  // back: the only changes that can turn a failed VC allocation into a success (a unicast head
  // fails only when every VC of its port is busy, a multicast branch when none is free and
  // empty; taking credits or VCs cannot help either).
  uint64_t vc_epoch = 0;
  uint64_t link_free[4] = {0, 0, 0, 0};
  RouterStats st;
  int nbr[4] = {-1, -1, -1, -1};
  int lat[4] = {0, 0, 0, 0};      // flit latency on the output link
  int ser[4] = {1, 1, 1, 1};      // cycles a flit occupies the output link
  // Per input port: the credit latency back to the upstream router (its clat of the link), kept
  // here so a traversal does not load the upstream router.
  int in_clat[4] = {0, 0, 0, 0};
  uint32_t in_ovc[4] = {0, 0, 0, 0};  // per input port: the upstream output VC 0's index in Impl::ovc
  // novc[op][ip]: VCs of input port ip parked until an output VC of port op is released;
  // novc_ports bit op: some novc[op][*] is non-zero.
  uint16_t novc[4][kNumPorts] = {};
  unsigned novc_ports = 0;
  LinkStats ls[4];
  int clat[4] = {0, 0, 0, 0};     // credit latency back over the output link
  bool chip[4] = {false, false, false, false};
  uint64_t sleep_since = 0;
  uint64_t inc[4] = {0, 0, 0, 0};  // no_vc, no_credit, sink, arbitration per cycle
  bool has_source() const { return srcq_head < srcq.size(); }
};

// Flit events (link arrival, ejection) keep their scheduling order within a cycle (it decides
// router activation order and delivery order); credits only add to counters, so they live in a
// separate ring of 4-byte output-VC indices.
enum class EvType : uint8_t { Arrive, Eject };
struct Event {
  EvType type;
  uint8_t port;
  uint16_t vc;
  uint32_t node;
  Flit flit;
};

struct Copy {
  uint32_t pkt;
  std::vector<int> dests;
};

struct PacketRec {
  Packet p;
  uint32_t remaining = 0;
};

}  // namespace

struct Network::Impl {
  Network& net;
  const NetworkParams& p;
  int V, D, P;
  std::vector<Router> routers;
  // Flat per-network state: input VC i of (node, port) is ivc[(node*kNumPorts + port)*V + i], its
  // flits fbuf[that index << cap_shift ...]; output VC of (node, dir, vc) is ovc[(node*4 + dir)*V + vc].
  std::vector<InVC> ivc;
  std::vector<InVCRoute> ivr;  // same index as ivc
  std::vector<Flit> fbuf;
  int cap_shift = 0;
  uint32_t cap_mask = 0;
  std::vector<OutVC> ovc;
  std::vector<uint64_t> head_ready;    // per input VC: its front flit's ready cycle (dense: the switch
                                      // allocator tests it without touching the flit buffer)
  std::vector<uint64_t> parked_since;  // per input VC: first cycle whose stall is not yet counted
  // Separable model (RouterModel::Separable, process_router_sep): per input VC the first cycle its
  // front head may request a VC (route computation done); per router the iSLIP pointers.
  const bool sep;
  const int bub;       // cycles between a head's stages (1; 0 for a single-stage router, P = 1)
  const int Pbody;     // body flits: earliest traversal after arrival (they skip RC and VA)
  const int cdelay;    // extra cycles before a returned credit is usable
  std::vector<uint64_t> va_from;
  struct IslipPtrs {
    uint8_t sa_grant[kNumPorts] = {}, sa_accept[kNumPorts] = {};  // switch: per output / input port
    std::vector<uint8_t> va_grant, va_accept;  // VC: per output VC (port * V + vc) / input VC
  };
  std::vector<IslipPtrs> islip;
  bool park_no_vc;  // unicast routes are fixed (deterministic routing), so a VC-less head waits on one port
  // Resolved once from p.routing: the unicast function's sign table (null: call its ports()),
  // and the XY table of the multicast trees.
  const int* uni_table = nullptr;
  const int* mc_table = nullptr;
  std::vector<int> xs, ys;  // node -> coordinates (no divisions in route computation)
  std::vector<PacketSink*> sinks;
  PacketSink* default_sink = nullptr;
  std::vector<std::vector<Event>> cal;
  // Credit returns: the output VC's index and its router (a division per credit otherwise).
  struct Credit {
    uint32_t ovc, node;
  };
  std::vector<std::vector<Credit>> ccal;
  uint64_t cal_mask = 0;
  uint64_t events_pending = 0;
  std::vector<int> active, next_active;
  // deques: references stay valid while sinks inject new packets from deliver() and while a
  // fork creates copies from a copy being read.
  std::deque<Copy> copies;
  std::vector<uint32_t> free_copies;
  std::deque<PacketRec> packets;
  std::vector<uint32_t> free_packets;
  using Pending = std::tuple<uint64_t, uint64_t, uint32_t>;  // (cycle, sequence, packet record)
  std::priority_queue<Pending, std::vector<Pending>, std::greater<>> pending;
  uint64_t seq = 0;
  uint64_t next_id = 0;
  uint64_t last_progress = 0;
  uint64_t asleep_count = 0;
  using Wake = std::pair<uint64_t, int>;  // (cycle, router): a refusing sink may accept again
  std::priority_queue<Wake, std::vector<Wake>, std::greater<>> wakes;
  uint64_t sink_wake = 0;  // of the router being processed: kNever, or when its sink may accept
  bool moved = false, timer = false;  // of the router being processed
  NetworkTotals tot;

  Impl(Network& n, const NetworkParams& params)
      : net(n), p(params), V(params.vcs), D(params.buffer_depth), P(params.pipeline_stages),
        sep(params.model == RouterModel::Separable),
        bub(sep && params.pipeline_stages > 1 ? 1 : 0),
        Pbody(sep ? std::max(1, params.pipeline_stages - 2) : params.pipeline_stages),
        cdelay(sep ? 1 : 0) {
    const int N = p.width * p.height;
    routers.resize(N);
    sinks.assign(N, nullptr);
    while ((1 << cap_shift) < D) ++cap_shift;
    cap_mask = (1u << cap_shift) - 1;
    ivc.resize(size_t(N) * kNumPorts * V);
    ivr.resize(ivc.size());
    fbuf.resize(ivc.size() << cap_shift);
    ovc.resize(size_t(N) * 4 * V);
    parked_since.resize(ivc.size());
    head_ready.resize(ivc.size());
    if (sep) {
      va_from.resize(ivc.size());
      islip.resize(N);
      for (auto& s : islip) s.va_grant.assign(size_t(4) * V, 0), s.va_accept.assign(size_t(kNumPorts) * V, 0);
    }
    park_no_vc = !p.routing->adaptive;
    uni_table = p.routing->sign_table;
    mc_table = multicast_routing().sign_table;
    for (auto& o : ovc) o.credits = D;
    xs.resize(N);
    ys.resize(N);
    const int cw = p.chip_width > 0 ? p.chip_width : p.width;
    const int ch = p.chip_height > 0 ? p.chip_height : p.height;
    const int ser_chip = (p.flit_bits + p.chip_link_bits_per_cycle - 1) / p.chip_link_bits_per_cycle;
    int max_lat = 1;
    for (int n = 0; n < N; ++n) {
      Router& r = routers[n];
      const int x = n % p.width, y = n / p.width;
      xs[n] = x;
      ys[n] = y;
      for (int d = 0; d < 4; ++d) {
        int nx = x + (d == kEast) - (d == kWest), ny = y + (d == kSouth) - (d == kNorth);
        if (nx < 0 || ny < 0 || nx >= p.width || ny >= p.height) continue;
        r.nbr[d] = ny * p.width + nx;
        r.chip[d] = (nx / cw != x / cw) || (ny / ch != y / ch);
        if (r.chip[d]) {
          r.ser[d] = ser_chip;
          r.lat[d] = p.link_latency + p.chip_link_latency + ser_chip - 1;
          r.clat[d] = p.link_latency + p.chip_link_latency;
        } else {
          r.lat[d] = p.link_latency;
          r.clat[d] = p.link_latency;
        }
        max_lat = std::max({max_lat, r.lat[d], r.clat[d]});
      }
    }
    for (int n = 0; n < N; ++n)
      for (int d = 0; d < 4; ++d)
        if (const int up = routers[n].nbr[d]; up >= 0) {
          routers[n].in_clat[d] = routers[up].clat[opposite(d)];
          routers[n].in_ovc[d] = uint32_t((size_t(up) * 4 + opposite(d)) * V);
        }
    size_t ring = 1;
    while (ring < size_t(max_lat) + 2 + size_t(cdelay)) ring <<= 1;  // power of two: index by mask
    cal.resize(ring);
    ccal.resize(ring);
    cal_mask = ring - 1;
  }

  // ---- buffers ---------------------------------------------------------------------------
  size_t vci(int node, int port, int vc) const { return (size_t(node) * kNumPorts + port) * V + vc; }
  OutVC& out(int node, int dir, int vc) { return ovc[(size_t(node) * 4 + dir) * V + vc]; }
  const OutVC& out(int node, int dir, int vc) const { return ovc[(size_t(node) * 4 + dir) * V + vc]; }
  Flit& front(size_t i) { return fbuf[(i << cap_shift) + ivc[i].head]; }
  const Flit& flit_at(size_t i, uint32_t k) const { return fbuf[(i << cap_shift) + ((ivc[i].head + k) & cap_mask)]; }
  void push(size_t i, const Flit& f) {
    InVC& iv = ivc[i];
    if (iv.n >= D) throw Error("internal: router input buffer overflow (credit accounting broken)");
    fbuf[(i << cap_shift) + ((iv.head + iv.n) & cap_mask)] = f;
    // Selects, not branches: whether a VC was empty is a coin flip at saturation.
    const uint64_t first = uint64_t(0) - uint64_t(iv.n == 0);
    head_ready[i] = (f.ready & first) | (head_ready[i] & ~first);
    if (sep && iv.n == 0) va_from[i] = f.ready - uint64_t(bub);  // route computation ends a stage before
    ++iv.n;
  }
  void pop(size_t i) {
    InVC& iv = ivc[i];
    iv.head = uint16_t((iv.head + 1) & cap_mask);
    --iv.n;
    // Unconditional: an emptied VC's value is stale but never read (push sets it first).
    head_ready[i] = fbuf[(i << cap_shift) + iv.head].ready;
  }

  // A table lookup on the signs of the offsets, not an if-chain: the direction is random per
  // packet, so the chain's branches were mispredicted.
  int xy_port(int node, int dest) const { return mc_table[offset_index(xs[node], ys[node], xs[dest], ys[dest])]; }
  // The lowest free VC of an output port with room (whole_packet: with all D credits), else
  // (not whole_packet) the lowest free one, else -1. Bitmasks over a fixed-count loop, not an
  // early exit per VC (whose exit point is data-dependent).
  int free_vc(int node, int port, bool whole_packet) const {
    const OutVC* o = &ovc[(size_t(node) * 4 + port) * V];
    unsigned room = 0, free = 0;
    for (int v = 0; v < V; ++v) {
      const bool ok = !o[v].busy;
      free |= unsigned(ok) << v;
      room |= unsigned(ok & (whole_packet ? o[v].credits == D : o[v].credits > 0)) << v;
    }
    if (whole_packet) free = 0;
    return room ? __builtin_ctz(room) : free ? __builtin_ctz(free) : -1;
  }
  // Unicast route by the routing function resolved at construction: a sign-table lookup for the
  // dimension-order functions, else its ports(); of two productive ports (adaptive) the one whose
  // output VCs have the most credits, the first on a tie.
  int unicast_port(int node, int dest) const {
    if (uni_table) return uni_table[offset_index(xs[node], ys[node], xs[dest], ys[dest])];
    int cand[2];
    const int nc = p.routing->ports(xs[node], ys[node], xs[dest], ys[dest], cand);
    if (nc == 0) return kLocal;
    if (nc == 1) return cand[0];
    auto score = [&](int port) {
      int best = -1;
      for (int v = 0; v < V; ++v) {
        const OutVC& o = out(node, port, v);
        if (!o.busy) best = std::max(best, o.credits);
      }
      return best;
    };
    return score(cand[1]) > score(cand[0]) ? cand[1] : cand[0];
  }

  void schedule(uint64_t cycle, const Event& e) {
    cal[cycle & cal_mask].push_back(e);
    ++events_pending;
  }
  void schedule_credit(uint64_t cycle, uint32_t out_index, uint32_t node) {
    ccal[cycle & cal_mask].push_back(Credit{out_index, node});
    ++events_pending;
  }
  void activate(int n, uint64_t t) {
    Router& r = routers[n];
    if (r.asleep) {
      const uint64_t slept = t - r.sleep_since;
      r.st.stall_no_vc += r.inc[0] * slept, r.st.stall_no_credit += r.inc[1] * slept;
      r.st.stall_sink += r.inc[2] * slept, r.st.stall_arbitration += r.inc[3] * slept;
      if (p.round_robin && r.buffered > 0) {
        r.rr_va = int((uint64_t(r.rr_va) + slept) % kNumPorts);
        r.rr_in = int((uint64_t(r.rr_in) + slept) % kNumPorts);
      }
      r.asleep = false;
      --asleep_count;
    }
    if (!r.active) {
      r.active = true;
      active.push_back(n);
    }
  }
  // Recycled records keep their dests capacity, so a copy costs no allocation in steady state.
  uint32_t new_copy(uint32_t pkt, const std::vector<int>& dests) {
    uint32_t id;
    if (!free_copies.empty()) {
      id = free_copies.back();
      free_copies.pop_back();
      copies[id].pkt = pkt;
      copies[id].dests.assign(dests.begin(), dests.end());
    } else {
      id = uint32_t(copies.size());
      copies.push_back(Copy{pkt, dests});
    }
    return id;
  }
  void release_copy(uint32_t id) {
    copies[id].dests.clear();
    free_copies.push_back(id);
  }
  PacketSink* sink_of(int node) const { return sinks[node] ? sinks[node] : default_sink; }

  // ---- parked heads ----------------------------------------------------------------------
  // A stalled head is re-examined every cycle only to count its stall (the counts are part of
  // the output). When the stall can only end on one known event, the VC is parked instead: the
  // allocators skip it, and the event adds one stall per cycle parked, the count the per-cycle
  // examination would have made (a stall is side-effect free: no arbiter moves, no port is
  // taken). Parking at cycle t counts t itself in bulk, so a router's per-cycle stall increments
  // for sleeping (Router::inc) never include a parked VC.
  void park(Router& r, size_t i, int ip, int vc, uint64_t t) {
    r.parked[ip] |= uint16_t(1u << vc);
    parked_since[i] = t;
  }
  static void set_waiter(OutVC& o, size_t i, int ip, int vc) {
    o.waiter = int32_t(i);
    o.waiter_ip = uint8_t(ip);
    o.waiter_mask = uint16_t(1u << vc);
  }
  void unpark(Router& r, int ip, int vc) {
    r.parked[ip] &= uint16_t(~(1u << vc));
  }
  // An output VC of port op was released by a tail in cycle t: heads parked for a VC of that port
  // stalled through t and compete again from t+1 (VC allocation of t came before the release).
  void release_no_vc_waiters(Router& r, int node, int op, uint64_t t) {
    for (int ip = 0; ip < kNumPorts; ++ip) {
      for (unsigned m = r.novc[op][ip]; m; m &= m - 1) {
        const int vc = __builtin_ctz(m);
        r.st.stall_no_vc += t + 1 - parked_since[vci(node, ip, vc)];
        unpark(r, ip, vc);
      }
      r.novc[op][ip] = 0;
    }
    r.novc_ports &= ~(1u << op);
  }

  // ---- per-cycle work -------------------------------------------------------------------
  // heads: input ports with a non-empty, unparked, unallocated VC; ready: with a non-empty,
  // unparked, allocated one. The per-port VC masks are read as 16-bit lanes of two 64-bit words
  // (SWAR) instead of a loop over ports: every visit does this, and the loop cost ~80
  // instructions per visit.
  static_assert(std::endian::native == std::endian::little, "port_masks reads lane k of a uint16_t array as bits 16k..");
  static unsigned nonzero_lanes(uint64_t x) {  // bit k: lane k (of 4) is non-zero
    constexpr uint64_t k = 0x7FFF7FFF7FFF7FFFull;
    const uint64_t h = ((((x & k) + k) | x) & ~k) >> 15;  // bit 16k: lane k non-zero
    // Multiplying by 2^0 + 2^15 + 2^30 + 2^45 moves bit 16k to bit 45 + k (no two partial
    // products meet, so no carries).
    return unsigned((h * 0x0000200040008001ull) >> 45) & 0xFu;
  }
  static void port_masks(const Router& r, unsigned& heads, unsigned& ready) {
    uint64_t ne[2], al[2], pk[2];
    std::memcpy(ne, r.ne, sizeof ne);
    std::memcpy(al, r.al, sizeof al);
    std::memcpy(pk, r.parked, sizeof pk);
    const uint64_t w0 = ne[0] & ~pk[0], w1 = ne[1] & ~pk[1];
    heads = nonzero_lanes(w0 & ~al[0]) | nonzero_lanes(w1 & ~al[1]) << 4;
    ready = nonzero_lanes(w0 & al[0]) | nonzero_lanes(w1 & al[1]) << 4;
  }
  // Port set `m` (bit i = port i) renumbered so bit k is port (start + k) mod kNumPorts: visiting
  // its set bits upwards is the round-robin order starting at `start`.
  static unsigned rotate_ports(unsigned m, int start) {
    return ((m >> start) | (m << (kNumPorts - start))) & ((1u << kNumPorts) - 1);
  }
  void process_events(uint64_t t) {
    auto& credits = ccal[t & cal_mask];
    for (const Credit& c : credits) {
      OutVC& o = ovc[c.ovc];
      if (++o.credits > D) throw Error("internal: credit count exceeds buffer depth");
      const int cn = int(c.node);
      routers[cn].vc_epoch += (o.credits == D) & !o.busy;  // now free for a whole (multicast) packet
      // A waiter stalled on this credit through cycle t-1; the allocator looks at it again this
      // cycle. Done without a branch (whether a VC has a waiter is a coin flip): no waiter adds 0
      // and clears no bit.
      const bool has = o.waiter >= 0;
      const uint64_t since = parked_since[has ? size_t(o.waiter) : 0];
      routers[cn].st.stall_no_credit += (t - since) & (uint64_t(0) - uint64_t(has));
      routers[cn].parked[o.waiter_ip] &= uint16_t(~o.waiter_mask);
      o.waiter = -1;
      o.waiter_mask = 0;
      if (routers[cn].asleep) activate(cn, t);  // a credit may unblock a sleeping router
    }
    events_pending -= credits.size();
    credits.clear();
    auto& bucket = cal[t & cal_mask];
    // Index loop: deliveries may not schedule into the current bucket (all latencies >= 1).
    for (size_t i = 0; i < bucket.size(); ++i) {
      const Event& e = bucket[i];
      if (e.type == EvType::Arrive) {
        Router& r = routers[e.node];
        push(vci(int(e.node), e.port, e.vc), e.flit);
        r.ne[e.port] |= uint16_t(1u << e.vc);
        ++r.buffered;
        activate(int(e.node), t);
      } else {
        eject(int(e.node), Flit(e.flit), t);
      }
    }
    events_pending -= bucket.size();
    bucket.clear();
  }

  void eject(int node, const Flit& f, uint64_t t) {
    --net.flits_in_network_;
    ++tot.flits_ejected;
    last_progress = t;
    if (!f.last) return;
    const uint32_t pkt = copies[f.copy].pkt;
    const PacketRec& pr = packets[pkt];
    ++tot.packets_delivered;
    release_copy(f.copy);
    if (PacketSink* s = sink_of(node)) s->deliver(node, pr.p, t);
    if (net.on_deliver_) net.on_deliver_(node, pr.p, t);
    if (--packets[pkt].remaining == 0) free_packets.push_back(pkt);
  }

  // VC allocation for a head flit at the front of input VC iv (all-or-nothing over its branches).
  bool allocate(int node, InVC& iv, InVCRoute& ir, const Flit& f) {
    if (f.dest >= 0) {
      const int port = unicast_port(node, f.dest);
      int vc = 0;
      if (port != kLocal) {
        vc = free_vc(node, port, false);
        if (vc < 0) return false;
        out(node, port, vc).busy = true;
      }
      iv.nout = 1;
      iv.out_port[0] = uint8_t(port);
      iv.out_vc[0] = uint8_t(vc);
      ir.out_copy[0] = f.copy;
      ir.out_dest[0] = f.dest;
      ir.forked = false;
      return true;
    }
    // Multicast: branches of the XY tree; each branch needs an empty VC that can hold the whole
    // packet (virtual cut-through), so a granted fork never blocks on any of its branches.
    const Copy& c = copies[f.copy];
    int mask = 0;
    for (int d : c.dests) mask |= 1 << xy_port(node, d);
    int vcs[kNumPorts];
    int nb = 0;
    for (int port = 0; port < kNumPorts; ++port) {
      if (!(mask & (1 << port))) continue;
      vcs[port] = 0;
      if (port != kLocal) {
        vcs[port] = free_vc(node, port, true);
        if (vcs[port] < 0) return false;
      }
      ++nb;
    }
    iv.nout = 0;
    ir.forked = nb > 1;
    for (int port = 0; port < kNumPorts; ++port) {
      if (!(mask & (1 << port))) continue;
      if (port != kLocal) out(node, port, vcs[port]).busy = true;
      const int b = iv.nout++;
      iv.out_port[b] = uint8_t(port);
      iv.out_vc[b] = uint8_t(vcs[port]);
      if (nb == 1) {
        ir.out_copy[b] = f.copy;
        ir.out_dest[b] = -1;
      } else {
        std::vector<int> sub;
        for (int d : copies[f.copy].dests)
          if (xy_port(node, d) == port) sub.push_back(d);
        ir.out_dest[b] = sub.size() == 1 ? sub[0] : -1;
        ir.out_copy[b] = new_copy(copies[f.copy].pkt, sub);
      }
    }
    return true;
  }

  // ---- switch traversal -------------------------------------------------------------------
  // Takes the front flit of input VC i = (ip, vc) of router r and returns its credit upstream.
  __attribute__((always_inline)) Flit take_front(Router& r, int ip, int vc, size_t i, uint64_t t) {
    InVC& iv = ivc[i];
    const Flit f = front(i);
    pop(i);
    r.ne[ip] &= uint16_t(~(unsigned(iv.n == 0) << vc));
    --r.buffered;
    if (ip != kLocal) schedule_credit(t + r.in_clat[ip] + cdelay, r.in_ovc[ip] + uint32_t(vc), uint32_t(r.nbr[ip]));
    return f;
  }
  // Sends flit nf over output link op on output VC `vc` (index oi = op * V + vc in the router).
  __attribute__((always_inline)) void send(Router& r, int node, int op, int vc, int oi, Flit nf, uint64_t t) {
    OutVC& o = ovc[size_t(node) * 4 * V + oi];
    --o.credits;
    // A tail releases the output VC: as selects, since one flit in packet_size is a tail.
    const bool tail = nf.last;
    o.busy &= !tail;
    r.vc_epoch += tail;
    if (tail & ((r.novc_ports >> op) & 1)) release_no_vc_waiters(r, node, op, t);
    const int lat = r.lat[op], ser = r.ser[op];
    nf.ready = t + uint64_t(lat) + uint64_t(nf.idx == 0 ? P : Pbody);
    schedule(t + lat, Event{EvType::Arrive, uint8_t(opposite(op)), uint16_t(vc), uint32_t(r.nbr[op]), nf});
    r.link_free[op] = t + ser;
    ++r.ls[op].flits;  // network link totals are summed from these in totals()
    r.ls[op].busy_cycles += ser;
    if (net.on_link_) net.on_link_(int(node), op, t, ser);
  }
  // After the input VC's flit left: a tail ends the packet's hold on its output VCs.
  __attribute__((always_inline)) void finish(Router& r, int ip, int vc, bool tail, uint64_t t) {
    r.al[ip] &= uint16_t(~(unsigned(tail) << vc));
    last_progress = t;
  }

  // i: the input VC's index (vci(node, ip, vc)), which the caller has at hand.
  void traverse(Router& r, int node, int ip, int vc, size_t i, uint64_t t) {
    InVC& iv = ivc[i];
    InVCRoute& ir = ivr[i];
    const Flit f = take_front(r, ip, vc, i, t);
    net.flits_in_network_ += iv.nout - 1;
    for (int b = 0; b < iv.nout; ++b) {
      const int op = iv.out_port[b];
      const Flit nf{0, ir.out_copy[b], ir.out_dest[b], f.idx, f.last};
      ++r.st.traversals;
      if (op == kLocal) schedule(t + 1, Event{EvType::Eject, kLocal, 0, uint32_t(node), nf});
      else send(r, node, op, iv.out_vc[b], op * V + iv.out_vc[b], nf, t);
    }
    if (f.last & ir.forked) release_copy(f.copy);
    finish(r, ip, vc, f.last, t);
  }
  // traverse() for the common case, a single non-local branch (output port op, output VC index
  // oi = op * V + vc): no branch loop, inlined into the switch allocator. With one branch the
  // flit leaves as it came but for its ready cycle (allocate() gives a lone branch the flit's own
  // copy and destination, and such a branch is never a fork).
  __attribute__((always_inline)) void traverse1(Router& r, int node, int ip, int vc, size_t i, uint64_t t, int op, int oi) {
    const Flit f = take_front(r, ip, vc, i, t);
    ++r.st.traversals;
    send(r, node, op, ivc[i].out_vc[0], oi, f, t);
    finish(r, ip, vc, f.last, t);
  }

  // kPortAt[s][k]: the k-th port of a round-robin pass starting at port s.
  static constexpr uint8_t kPortAt[kNumPorts][kNumPorts] = {
      {0, 1, 2, 3, 4}, {1, 2, 3, 4, 0}, {2, 3, 4, 0, 1}, {3, 4, 0, 1, 2}, {4, 0, 1, 2, 3}};

  // Lanes 0..4 of a per-port VC mask pair (16-bit lanes, as Router::ne) packed into one word:
  // port ip's VCs at bits ip*NVC... (NVC <= 4: at most 20 bits).
  template <int NVC>
  static unsigned pack_lanes(uint64_t w0, uint64_t w1) {
    constexpr uint64_t vm = (1u << NVC) - 1;
    return unsigned((w0 & vm) | ((w0 >> 16) & vm) << NVC | ((w0 >> 32) & vm) << (2 * NVC) |
                    ((w0 >> 48) & vm) << (3 * NVC) | (w1 & vm) << (4 * NVC));
  }

  // NVC: the VC count as a compile-time constant (1, 2 or 4; 0 = read V at run time). For 1/2/4
  // the candidates of both allocators are one packed word over all (port, VC) pairs, put in
  // round-robin order up front, and visited in one loop: no per-port loop, whose data-dependent
  // trip counts were the visit's most mispredicted branches (callgrind --branch-sim), and the
  // per-VC pipeline test is a fixed sequence of compares over the router's VCs.
  template <int NVC>
  void process_router(int node, uint64_t t) {
    Router& r = routers[node];
    if (r.buffered > 0) {
      // Locals, not members: the counter stores below would otherwise force reloads (aliasing).
      const bool rr = p.round_robin;
      const int nv = NVC > 0 ? NVC : V, cs = cap_shift;
      const unsigned vmask = (1u << nv) - 1;
      const size_t base0 = size_t(node) * kNumPorts * nv;
      InVC* const ivp = ivc.data();
      const Flit* const fb = fbuf.data();
      const uint64_t* const hr = head_ready.data();
      const OutVC* const op0 = &ovc[size_t(node) * 4 * nv];
      bool tmr = false;  // some flit waits on a pipeline or link timer (Impl::timer, kept local)
      // Stall counts of this visit, added to r.st at the end: kept in registers, since a store to
      // a counter in memory forces the loop to reload anything a uint64_t store may alias.
      uint64_t s_no_vc = 0, s_no_credit = 0, s_arb = 0, s_sink = 0;
      unsigned va_won = 0;  // input ports whose head won VC allocation in this visit

      // Route computation + VC allocation of the head at the front of unallocated input VC (ip, vc).
      auto va_one = [&](int ip, int vc) __attribute__((always_inline)) {
        const size_t i = base0 + size_t(ip) * nv + vc;
        InVC& iv = ivp[i];
        const Flit& f = fb[(i << cs) + iv.head];
        InVCRoute& ir = ivr[i];
        const bool known_fail = ir.failed & (ir.fail_epoch == r.vc_epoch);
        if (!known_fail && allocate(node, iv, ir, f)) {
          ir.failed = false;
          r.al[ip] |= uint16_t(1u << vc);
          va_won |= 1u << ip;
          moved = true;
          return;
        }
        ir.failed = true;
        ir.fail_epoch = r.vc_epoch;
        if (f.ready <= t) {
          if (park_no_vc && f.dest >= 0) {
            // Every VC of its fixed output port is busy; only a tail leaving through that port
            // here can free one.
            park(r, i, ip, vc, t);
            const int op = unicast_port(node, f.dest);
            r.novc[op][ip] |= uint16_t(1u << vc);
            r.novc_ports |= 1u << op;
          } else {
            ++s_no_vc;
          }
        } else {
          tmr = true;
        }
      };

      // Switch allocation (one flit per input port and per output port per cycle) + traversal of
      // allocated input VC (ip, vc), whose head is past the pipeline. won: another VC of ip
      // already traversed in this visit. Returns whether this one traversed.
      int used = 0;
      PacketSink* sink = nullptr;
      bool sink_checked = false, sink_ready = false;
      auto sa_one = [&](int ip, int vc, bool won) __attribute__((always_inline)) -> bool {
        const size_t i = base0 + size_t(ip) * nv + vc;
        const InVC& iv = ivp[i];
        if (iv.nout == 1 && iv.out_port[0] != kLocal) {
          // The common case, one non-local branch: the general loop below, minus its tests.
          const int op = iv.out_port[0];
          const int oi = op * nv + iv.out_vc[0];
          const bool no_credit = op0[oi].credits <= 0, link_busy = r.link_free[op] > t;
          if (no_credit | link_busy) {
            tmr |= link_busy;
            if (no_credit) {
              park(r, i, ip, vc, t);
              set_waiter(ovc[size_t(node) * 4 * nv + oi], i, ip, vc);
            } else {
              ++s_no_credit;
            }
            return false;
          }
          if (won | ((used >> op) & 1)) {
            ++s_arb;
            return false;
          }
          used |= 1 << op;
          traverse1(r, node, ip, vc, i, t, op, oi);
        } else {
          bool no_credit = false, lost = won, blocked_sink = false, local = false;
          int wait_out = -1;  // an output VC without credit
          for (int b = 0; b < iv.nout; ++b) {
            const int op = iv.out_port[b];
            if (used & (1 << op)) lost = true;
            if (op == kLocal) {
              local = true;
              if (!sink_checked) {
                sink = sink_of(node);
                sink_ready = !sink || sink->ready(node, t);
                sink_checked = true;
                if (!sink_ready) sink_wake = std::min(sink_wake, sink->ready_again(node, t));
              }
              if (!sink_ready) blocked_sink = true;
            } else {
              const int oi = op * nv + iv.out_vc[b];
              const bool out_empty = op0[oi].credits <= 0, link_busy = r.link_free[op] > t;
              no_credit |= out_empty | link_busy;
              if (out_empty) wait_out = oi;
              tmr |= link_busy;
            }
          }
          if (blocked_sink) {
            ++s_sink;
            return false;
          }
          if (no_credit) {
            // Without a local branch (whose sink could refuse, a different stall) it stays a
            // no-credit stall until that output VC gets a credit back.
            if (wait_out >= 0 && !local) {
              park(r, i, ip, vc, t);
              set_waiter(ovc[size_t(node) * 4 * nv + wait_out], i, ip, vc);
            } else {
              ++s_no_credit;
            }
            return false;
          }
          if (lost) {
            ++s_arb;
            return false;
          }
          for (int b = 0; b < iv.nout; ++b) used |= 1 << iv.out_port[b];
          traverse(r, node, ip, vc, i, t);
        }
        moved = true;
        if (rr) r.rr_vc[ip] = vc + 1 == nv ? 0 : vc + 1;
        return true;
      };

      const int va0 = rr ? r.rr_va : 0;
      if constexpr (NVC > 0) {
        constexpr int L = kNumPorts * NVC;
        constexpr unsigned all = (1u << L) - 1, vm = (1u << NVC) - 1;
        uint64_t ne[2], al[2], pk[2];
        std::memcpy(ne, r.ne, sizeof ne);
        std::memcpy(al, r.al, sizeof al);
        std::memcpy(pk, r.parked, sizeof pk);
        // Heads in VC-allocation order: ports from the round-robin pointer on, VCs upwards.
        const unsigned heads = pack_lanes<NVC>(ne[0] & ~pk[0] & ~al[0], ne[1] & ~pk[1] & ~al[1]);
        const int sh = va0 * NVC;
        for (unsigned m = ((heads >> sh) | (heads << (L - sh))) & all; m; m &= m - 1) {
          const int pos = __builtin_ctz(m);
          va_one(kPortAt[va0][pos / NVC], pos % NVC);
        }
        if (rr && ++r.rr_va == kNumPorts) r.rr_va = 0;
        // Allocation set al bits and parked only unallocated VCs: reload al, keep the rest.
        std::memcpy(al, r.al, sizeof al);
        unsigned cand = pack_lanes<NVC>(ne[0] & ~pk[0] & al[0], ne[1] & ~pk[1] & al[1]);
        if (cand) {
          // Heads still in the router pipeline only keep the router awake (no stall, no side
          // effect). Bit k of `late` is VC k of the router (port k / NVC): the router's head
          // ready cycles are contiguous, so this is L compares, no branch (an empty VC's stale
          // value is masked out by cand).
          unsigned late = 0;
          for (int k = 0; k < L; ++k) late |= unsigned(hr[base0 + k] > t) << k;
          tmr |= (cand & late) != 0;
          cand &= ~late;
          // Candidates in switch-allocation order: ports from the round-robin pointer on, and
          // within a port its VCs from that port's pointer on (copied: a traversal moves its
          // port's pointer, and the rest of that port's VCs keep this order).
          const int sa0 = rr ? r.rr_in : 0;
          unsigned order = 0;
          int rot[kNumPorts];
          for (int k = 0; k < kNumPorts; ++k) {
            const int ip = kPortAt[sa0][k];
            const int ro = rr ? r.rr_vc[ip] : 0;
            rot[ip] = ro;
            const unsigned lane = (cand >> (ip * NVC)) & vm;
            order |= (((lane >> ro) | (lane << (NVC - ro))) & vm) << (k * NVC);
          }
          int won_ip = -1;
          for (unsigned m = order; m; m &= m - 1) {
            const int pos = __builtin_ctz(m);
            const int ip = kPortAt[sa0][pos / NVC];
            const int vc = (pos + rot[ip]) & (NVC - 1);
            if (sa_one(ip, vc, won_ip == ip)) won_ip = ip;
          }
        }
      } else {
        // Any VC count: per-port loops over the same candidates in the same order.
        unsigned heads, ready_ports;
        port_masks(r, heads, ready_ports);
        for (unsigned pm = rotate_ports(heads, va0); pm; pm &= pm - 1) {
          int ip = __builtin_ctz(pm) + va0;
          if (ip >= kNumPorts) ip -= kNumPorts;
          for (unsigned m = r.ne[ip] & ~r.al[ip] & ~r.parked[ip]; m; m &= m - 1) va_one(ip, __builtin_ctz(m));
        }
        if (rr && ++r.rr_va == kNumPorts) r.rr_va = 0;
        ready_ports |= va_won;
        const int sa0 = rr ? r.rr_in : 0;
        for (unsigned pm = rotate_ports(ready_ports, sa0); pm; pm &= pm - 1) {
          int ip = __builtin_ctz(pm) + sa0;
          if (ip >= kNumPorts) ip -= kNumPorts;
          const size_t base = base0 + size_t(ip) * nv;
          unsigned cand = r.ne[ip] & r.al[ip] & ~r.parked[ip];
          unsigned waiting = 0;
          for (unsigned m = cand; m; m &= m - 1) {
            const int vc = __builtin_ctz(m);
            waiting |= unsigned(hr[base + vc] > t) << vc;
          }
          tmr |= waiting != 0;
          cand &= ~waiting;
          // VCs from the round-robin pointer upwards, then the ones below it: the mask rotated so
          // that bit k is VC (rot + k) mod nv.
          const int rot = rr ? r.rr_vc[ip] : 0;
          bool won = false;
          for (unsigned m = ((cand >> rot) | (cand << (nv - rot))) & vmask; m; m &= m - 1) {
            int vc = __builtin_ctz(m) + rot;
            if (vc >= nv) vc -= nv;
            if (sa_one(ip, vc, won)) won = true;
          }
        }
      }
      if (rr && ++r.rr_in == kNumPorts) r.rr_in = 0;
      timer = tmr;
      r.st.stall_no_vc += s_no_vc, r.st.stall_no_credit += s_no_credit;
      r.st.stall_arbitration += s_arb, r.st.stall_sink += s_sink;
    }
    if (r.has_source()) inject_flit(r, node, t);
  }

  // ---- separable router (RouterModel::Separable) --------------------------------------------
  // BookSim2's iq router, stage by stage (docs/architecture.md, "Router stages"): a head's VC
  // allocation no earlier than va_from (route computation done), its switch allocation from the
  // cycle after it won a VC; both allocators iSLIP with one iteration (requests, grants by the
  // outputs' pointers, accepts by the inputs' pointers; a pointer moves only past an accepted
  // match); multicast heads (not in BookSim) then allocate all-or-nothing as in the speculative
  // model. Stall counting, parking and sleeping are those of process_router.
  // Switch traversal of input VC (ip, vc) = index i after it won switch allocation (separable
  // model): marks its input and outputs used and, after a tail, starts the next head's route
  // computation the next cycle.
  void sa_traverse(Router& r, int node, int ip, int vc, size_t i, uint64_t t, unsigned* eligible, unsigned& used_out) {
    InVC& iv = ivc[i];
    for (int b = 0; b < iv.nout; ++b) used_out |= 1u << iv.out_port[b];
    eligible[ip] &= ~(1u << vc);
    const bool tail = fbuf[(i << cap_shift) + iv.head].last;
    if (iv.nout == 1 && iv.out_port[0] != kLocal) traverse1(r, node, ip, vc, i, t, iv.out_port[0], iv.out_port[0] * V + iv.out_vc[0]);
    else traverse(r, node, ip, vc, i, t);
    if (tail && iv.n > 0) va_from[i] = std::max(head_ready[i] - uint64_t(bub), t + 1 + uint64_t(bub));
    moved = true;
  }

  template <int NVC>
  void process_router_sep(int node, uint64_t t) {
    Router& r = routers[node];
    if (r.buffered > 0) {
      const int V = NVC > 0 ? NVC : this->V;  // a constant for 1, 2, 4 VCs: loops unrolled
      const bool rr = p.round_robin;
      IslipPtrs& ptr = islip[node];
      const size_t base0 = size_t(node) * kNumPorts * V;
      const int NI = kNumPorts * V;  // input VCs of the router
      bool tmr = false;
      uint64_t s_no_vc = 0, s_no_credit = 0, s_arb = 0, s_sink = 0;

      // -- VC allocation --
      // Unicast requesters (input VC k = ip * V + vc, ascending) and the output port each asks for.
      int nreq = 0, req_k[kNumPorts * 16], req_op[kNumPorts * 16];
      unsigned free_of[4] = {0, 0, 0, 0};  // free output VCs per port (bit ov)
      unsigned requested_ports = 0;
      int nmc = 0, mc[kNumPorts * 16];  // multicast heads, allocated after the unicast match
      unsigned heads, ready_ports;
      port_masks(r, heads, ready_ports);
      auto won_vc = [&](int ip, int vc, size_t i) {
        r.al[ip] |= uint16_t(1u << vc);
        head_ready[i] = std::max(head_ready[i], t + uint64_t(bub));  // switch allocation the next cycle
        moved = true;
      };
      for (unsigned pm = heads; pm; pm &= pm - 1) {
        const int ip = __builtin_ctz(pm);
        for (unsigned m = r.ne[ip] & ~r.al[ip] & ~r.parked[ip]; m; m &= m - 1) {
          const int vc = __builtin_ctz(m);
          const size_t i = base0 + size_t(ip) * V + vc;
          if (va_from[i] > t) {
            tmr = true;
            continue;
          }
          const Flit& f = front(i);
          if (f.dest < 0) {
            mc[nmc++] = ip * V + vc;
            continue;
          }
          const int op = unicast_port(node, f.dest);
          InVC& iv = ivc[i];
          if (op == kLocal) {  // the ejection port has no VCs to allocate
            iv.nout = 1, iv.out_port[0] = kLocal, iv.out_vc[0] = 0;
            ivr[i].out_copy[0] = f.copy, ivr[i].out_dest[0] = f.dest, ivr[i].forked = false;
            won_vc(ip, vc, i);
            continue;
          }
          if (!(requested_ports >> op & 1)) {
            const OutVC* o = &ovc[(size_t(node) * 4 + op) * V];
            unsigned fr = 0;
            for (int v = 0; v < V; ++v) fr |= unsigned(!o[v].busy) << v;
            free_of[op] = fr;
            requested_ports |= 1u << op;
          }
          if (free_of[op] == 0) {  // every VC of the port is owned: wait for a tail to release one
            if (f.ready <= t) {
              if (park_no_vc) {
                park(r, i, ip, vc, t);
                r.novc[op][ip] |= uint16_t(1u << vc);
                r.novc_ports |= 1u << op;
              } else {
                ++s_no_vc;
              }
            } else {
              tmr = true;
            }
            continue;
          }
          req_k[nreq] = ip * V + vc, req_op[nreq] = op;
          ++nreq;
        }
      }
      if (nreq > 0) {
        // Grants: each free output VC picks the first requester from its pointer on (the
        // requesters are in ascending k: the first one at or after the pointer, else the first).
        int grant[4 * 16];
        for (int op = 0; op < 4; ++op)
          for (unsigned fm = free_of[op]; fm; fm &= fm - 1) {
            const int ov = __builtin_ctz(fm), g = op * V + ov;
            const int start = rr ? ptr.va_grant[g] : 0;
            int first = -1, after = -1;
            for (int q = 0; q < nreq; ++q) {
              if (req_op[q] != op) continue;
              if (first < 0) first = req_k[q];
              if (req_k[q] >= start) {
                after = req_k[q];
                break;
              }
            }
            grant[g] = after >= 0 ? after : first;
          }
        // Accepts: each requester takes the first granting VC from its pointer on.
        for (int q = 0; q < nreq; ++q) {
          const int k = req_k[q], op = req_op[q];
          const int ip = k / V, vc = k % V;
          const size_t i = base0 + size_t(k);
          int got = -1;
          const int start = rr ? ptr.va_accept[k] : 0;
          for (int j = 0; j < V; ++j) {
            int ov = start + j;
            if (ov >= V) ov -= V;
            if ((free_of[op] >> ov & 1) && grant[op * V + ov] == k) {
              got = ov;
              break;
            }
          }
          if (got < 0) {
            if (front(i).ready <= t) ++s_no_vc;
            else tmr = true;
            continue;
          }
          if (rr) {
            ptr.va_grant[op * V + got] = uint8_t(k + 1 == NI ? 0 : k + 1);
            ptr.va_accept[k] = uint8_t(got + 1 == V ? 0 : got + 1);
          }
          out(node, op, got).busy = true;
          const Flit& f = front(i);
          InVC& iv = ivc[i];
          iv.nout = 1, iv.out_port[0] = uint8_t(op), iv.out_vc[0] = uint8_t(got);
          ivr[i].out_copy[0] = f.copy, ivr[i].out_dest[0] = f.dest, ivr[i].forked = false;
          won_vc(ip, vc, i);
        }
      }
      for (int h = 0; h < nmc; ++h) {
        const int ip = mc[h] / V, vc = mc[h] % V;
        const size_t i = base0 + size_t(mc[h]);
        InVCRoute& ir = ivr[i];
        const Flit& f = front(i);
        const bool known_fail = ir.failed & (ir.fail_epoch == r.vc_epoch);
        if (!known_fail && allocate(node, ivc[i], ir, f)) {
          ir.failed = false;
          won_vc(ip, vc, i);
          continue;
        }
        ir.failed = true;
        ir.fail_epoch = r.vc_epoch;
        if (f.ready <= t) ++s_no_vc;
        else tmr = true;
      }

      // -- switch allocation --
      PacketSink* sink = nullptr;
      bool sink_checked = false, sink_ready = false;
      int vc_for[kNumPorts][kNumPorts];  // [input][output]: the input's VC requesting that output
      unsigned req_in[kNumPorts] = {};    // per input port: requested outputs
      unsigned eligible[kNumPorts] = {};  // per input port: VCs that requested (a loser counts a stall)
      unsigned forks[kNumPorts] = {};     // per input port: eligible multicast VCs (several branches)
      port_masks(r, heads, ready_ports);  // VA above may have made heads ready
      for (unsigned pm = ready_ports; pm; pm &= pm - 1) {
        const int ip = __builtin_ctz(pm);
        const unsigned cand = r.ne[ip] & r.al[ip] & ~r.parked[ip];
        // VCs from the round-robin pointer upwards, then the ones below it (mask rotated).
        const int rot = rr ? r.rr_vc[ip] : 0;
        const unsigned vmask = (1u << V) - 1;
        for (unsigned m = ((cand >> rot) | (cand << (V - rot))) & vmask; m; m &= m - 1) {
          int vc = __builtin_ctz(m) + rot;
          if (vc >= V) vc -= V;
          const size_t i = base0 + size_t(ip) * V + vc;
          if (head_ready[i] > t) {
            tmr = true;
            continue;
          }
          const InVC& iv = ivc[i];
          if (iv.nout == 1 && iv.out_port[0] != kLocal) {
            // The common case, one non-local branch: the general code below, minus its loops.
            const int op = iv.out_port[0];
            const int oi = op * V + iv.out_vc[0];
            const bool no_credit = ovc[size_t(node) * 4 * V + oi].credits <= 0, link_busy = r.link_free[op] > t;
            if (no_credit | link_busy) {
              tmr |= link_busy;
              if (no_credit) {
                park(r, i, ip, vc, t);
                set_waiter(ovc[size_t(node) * 4 * V + oi], i, ip, vc);
              } else {
                ++s_no_credit;
              }
              continue;
            }
            eligible[ip] |= 1u << vc;
            if (!(req_in[ip] >> op & 1)) vc_for[ip][op] = vc;
            req_in[ip] |= 1u << op;
            continue;
          }
          bool no_credit = false, blocked_sink = false, local = false;
          int wait_out = -1;
          unsigned outs = 0;
          for (int b = 0; b < iv.nout; ++b) {
            const int op = iv.out_port[b];
            outs |= 1u << op;
            if (op == kLocal) {
              local = true;
              if (!sink_checked) {
                sink = sink_of(node);
                sink_ready = !sink || sink->ready(node, t);
                sink_checked = true;
                if (!sink_ready) sink_wake = std::min(sink_wake, sink->ready_again(node, t));
              }
              if (!sink_ready) blocked_sink = true;
            } else {
              const int oi = op * V + iv.out_vc[b];
              const bool out_empty = out(node, op, iv.out_vc[b]).credits <= 0, link_busy = r.link_free[op] > t;
              no_credit |= out_empty | link_busy;
              if (out_empty) wait_out = oi;
              tmr |= link_busy;
            }
          }
          if (blocked_sink) {
            ++s_sink;
            continue;
          }
          if (no_credit) {
            if (wait_out >= 0 && !local) {
              park(r, i, ip, vc, t);
              set_waiter(ovc[size_t(node) * 4 * V + wait_out], i, ip, vc);
            } else {
              ++s_no_credit;
            }
            continue;
          }
          eligible[ip] |= 1u << vc;
          forks[ip] |= unsigned(iv.nout > 1) << vc;
          for (unsigned om = outs & ~req_in[ip]; om; om &= om - 1) vc_for[ip][__builtin_ctz(om)] = vc;
          req_in[ip] |= outs;
        }
      }
      // Grants: each output port picks the first requesting input from its pointer on; accepts:
      // each input the first granting output from its pointer on (bit masks rotated, no loops).
      unsigned req_by_out[kNumPorts] = {}, granted_to[kNumPorts] = {};
      unsigned outputs = 0;  // output ports with requests
      for (unsigned pm = ready_ports; pm; pm &= pm - 1) {
        const int ip = __builtin_ctz(pm);
        if (!req_in[ip]) continue;
        outputs |= req_in[ip];
        for (unsigned om = req_in[ip]; om; om &= om - 1) req_by_out[__builtin_ctz(om)] |= 1u << ip;
      }
      int grant[kNumPorts] = {-1, -1, -1, -1, -1};
      unsigned used_out = 0, matched = 0;  // outputs and inputs of the flits that crossed
      for (unsigned om = outputs; om; om &= om - 1) {
        const int op = __builtin_ctz(om);
        const int start = rr ? ptr.sa_grant[op] : 0;
        const unsigned m = rotate_ports(req_by_out[op], start);
        int ip = __builtin_ctz(m) + start;
        if (ip >= kNumPorts) ip -= kNumPorts;
        grant[op] = ip;
        granted_to[ip] |= 1u << op;
      }
      for (unsigned pm = ready_ports; pm; pm &= pm - 1) {
        const int ip = __builtin_ctz(pm);
        if (!eligible[ip]) continue;
        const int start = rr ? ptr.sa_accept[ip] : 0;
        for (unsigned gm = rotate_ports(granted_to[ip], start); gm; gm &= gm - 1) {
          int op = __builtin_ctz(gm) + start;
          if (op >= kNumPorts) op -= kNumPorts;
          const int vc = vc_for[ip][op];
          const size_t i = base0 + size_t(ip) * V + vc;
          InVC& iv = ivc[i];
          if (iv.nout > 1) {
            bool all = true;  // a multicast flit goes only with every branch's output granted to it
            for (int b = 0; b < iv.nout; ++b) all &= grant[iv.out_port[b]] == ip;
            if (!all) continue;
          }
          if (rr) {
            for (int b = 0; b < iv.nout; ++b) ptr.sa_grant[iv.out_port[b]] = uint8_t(ip + 1 == kNumPorts ? 0 : ip + 1);
            ptr.sa_accept[ip] = uint8_t(op + 1 == kNumPorts ? 0 : op + 1);
            r.rr_vc[ip] = vc + 1 == V ? 0 : vc + 1;
          }
          matched |= 1u << ip;
          sa_traverse(r, node, ip, vc, i, t, eligible, used_out);
          break;
        }
      }
      // A multicast flit whose branches iSLIP granted to different inputs matches nothing (and
      // would do so again every cycle, the pointers moving only on a match): it goes in a second,
      // greedy pass over the outputs left idle, inputs in port order.
      for (int ip = 0; ip < kNumPorts; ++ip) {
        if (!(forks[ip] & eligible[ip]) || (matched >> ip & 1)) continue;
        for (unsigned m = forks[ip] & eligible[ip]; m; m &= m - 1) {
          const int vc = __builtin_ctz(m);
          const size_t i = base0 + size_t(ip) * V + vc;
          const InVC& iv = ivc[i];
          unsigned outs = 0;
          for (int b = 0; b < iv.nout; ++b) outs |= 1u << iv.out_port[b];
          if (outs & used_out) continue;
          if (rr) r.rr_vc[ip] = vc + 1 == V ? 0 : vc + 1;
          matched |= 1u << ip;
          sa_traverse(r, node, ip, vc, i, t, eligible, used_out);
          break;
        }
      }
      for (int ip = 0; ip < kNumPorts; ++ip)
        for (unsigned m = eligible[ip]; m; m &= m - 1) ++s_arb;
      timer = tmr;
      r.st.stall_no_vc += s_no_vc, r.st.stall_no_credit += s_no_credit;
      r.st.stall_arbitration += s_arb, r.st.stall_sink += s_sink;
    }
    if (r.has_source()) inject_flit(r, node, t);
  }

  void inject_flit(Router& r, int node, uint64_t t) {
    const size_t base = vci(node, kLocal, 0);
    // At saturation the packet being injected mostly finds its VC full: test that before
    // touching the source queue (a heap block of its own).
    if (r.inj_vc >= 0 && ivc[base + r.inj_vc].n >= uint32_t(D)) return;
    const uint32_t cid = r.srcq[r.srcq_head];
    if (!r.inj_known) {
      const Copy& c = copies[cid];
      r.inj_size = uint32_t(packets[c.pkt].p.size_flits);
      r.inj_whole = c.dests.size() > 1;
      r.inj_dest = c.dests.size() == 1 ? c.dests[0] : -1;
      r.inj_known = true;
    }
    if (r.inj_vc < 0) {
      for (int v = 0; v < V; ++v) {
        if (r.local_busy & (1u << v)) continue;
        const uint32_t occ = ivc[base + v].n;
        if (r.inj_whole ? occ == 0 : occ < uint32_t(D)) {
          r.inj_vc = v;
          r.local_busy |= 1u << v;
          r.inj_flit = 0;
          break;
        }
      }
      if (r.inj_vc < 0) return;
    }
    if (ivc[base + r.inj_vc].n >= uint32_t(D)) return;
    push(base + r.inj_vc, Flit{t + 1 + uint64_t(r.inj_flit == 0 ? P : Pbody), cid, r.inj_dest, r.inj_flit, r.inj_flit + 1 == r.inj_size});
    r.ne[kLocal] |= uint16_t(1u << r.inj_vc);
    ++r.buffered;
    ++net.flits_in_network_;
    ++tot.flits_injected;
    last_progress = t;
    moved = true;
    if (++r.inj_flit == r.inj_size) {
      r.local_busy &= ~(1u << r.inj_vc);
      r.inj_vc = -1;
      r.inj_flit = 0;
      r.inj_known = false;
      if (++r.srcq_head == r.srcq.size()) {
        r.srcq.clear();
        r.srcq_head = 0;
      }
    }
  }

  void release_pending(uint64_t t) {
    while (!pending.empty() && std::get<0>(pending.top()) <= t) {
      const uint32_t pkt = std::get<2>(pending.top());
      pending.pop();
      const Packet& pk = packets[pkt].p;
      const uint32_t cid = new_copy(pkt, pk.dests);
      Router& r = routers[pk.src];
      r.srcq.push_back(cid);
      activate(pk.src, t);
    }
  }

  void cycle(uint64_t t) {
    if (events_pending) process_events(t);
    while (!wakes.empty() && wakes.top().first <= t) {
      const int n = wakes.top().second;
      wakes.pop();
      if (routers[n].asleep) activate(n, t);  // a stale wake only makes it look once more
    }
    release_pending(t);
    // Routers are visited in activation order, itself a deterministic function of the inputs;
    // routers of one cycle interact only through events of later cycles.
    // A router's keep/drop decision is final right after its visit (others of this cycle cannot
    // change it), so the next active list is built in the same pass.
    next_active.clear();
    switch (V) {
      case 1: visit_active<1>(t); break;
      case 2: visit_active<2>(t); break;
      case 4: visit_active<4>(t); break;
      default: visit_active<0>(t); break;
    }
    active.swap(next_active);
    if (!active.empty() && t >= last_progress + uint64_t(p.watchdog_cycles)) {
      throw Error("network watchdog: no flit moved for " + std::to_string(p.watchdog_cycles) +
                  " cycles (cycle " + std::to_string(t) + ", " + std::to_string(net.flits_in_network_) +
                  " flits in flight); blocked buffers:\n" + describe() +
                  "Check that every destination core consumes its packets, or raise watchdog_cycles.");
    }
  }

  template <int NVC>
  void visit_active(uint64_t t) {
    const size_t na = active.size();
    const int nv = NVC > 0 ? NVC : V;
    for (size_t k = 0; k < na; ++k) {
      const int n = active[k];
      if (k + 2 < na) {
        // The list is in activation order, not memory order: fetch a later router's hot state
        // while this one is visited.
        const int m = active[k + 2];
        const char* rp = reinterpret_cast<const char*>(&routers[m]);
        for (size_t b = 0; b < 256; b += 64) __builtin_prefetch(rp + b);
        const char* vp = reinterpret_cast<const char*>(&ivc[size_t(m) * kNumPorts * nv]);
        for (size_t b = 0; b < kNumPorts * nv * sizeof(InVC); b += 64) __builtin_prefetch(vp + b);
        __builtin_prefetch(&head_ready[size_t(m) * kNumPorts * nv]);
        __builtin_prefetch(&ovc[size_t(m) * 4 * nv]);
      }
      Router& r = routers[n];
      const RouterStats before = r.st;
      moved = timer = false;
      sink_wake = kNever;
      if (sep) process_router_sep<NVC>(n, t);
      else process_router<NVC>(n, t);
      const bool has_work = r.buffered > 0 || r.has_source();
      if (moved || timer || sink_wake <= t + 1 || !has_work) {
        if (has_work) next_active.push_back(n);
        else r.active = false;
        continue;
      }
      if (sink_wake != kNever) wakes.push({sink_wake, n});
      // Nothing moved and nothing waits on a timer or a sink: sleep until an event wakes it.
      r.asleep = true;
      r.sleep_since = t + 1;
      r.inc[0] = r.st.stall_no_vc - before.stall_no_vc, r.inc[1] = r.st.stall_no_credit - before.stall_no_credit;
      r.inc[2] = r.st.stall_sink - before.stall_sink, r.inc[3] = r.st.stall_arbitration - before.stall_arbitration;
      ++asleep_count;
      r.active = false;
    }
  }

  std::string describe() const {
    std::ostringstream os;
    int shown = 0;
    for (int n = 0; n < int(routers.size()) && shown < 32; ++n) {
      for (int ip = 0; ip < kNumPorts; ++ip)
        for (int v = 0; v < V; ++v) {
          const size_t i = vci(n, ip, v);
          const InVC& iv = ivc[i];
          if (iv.n == 0) continue;
          const Flit& f = flit_at(i, 0);
          const Copy& c = copies[f.copy];
          const Packet& pk = packets[c.pkt].p;
          os << "  router (" << n % p.width << "," << n / p.width << ") in " << port_name(ip) << " vc" << v
             << ": " << iv.n << " flit(s), front = packet #" << pk.id << " (" << packet_kind_name(pk.kind)
             << ", src " << pk.src << ", flit " << f.idx << "/" << pk.size_flits << ", dests";
          for (size_t i = 0; i < c.dests.size() && i < 8; ++i) os << " " << c.dests[i];
          if (c.dests.size() > 8) os << " ...";
          os << ")";
          if ((routers[n].al[ip] >> v) & 1) {
            os << " -> out";
            for (int b = 0; b < iv.nout; ++b) {
              os << " " << port_name(iv.out_port[b]);
              if (iv.out_port[b] == kLocal) os << "(sink " << (sink_of(n) ? "refusing" : "none") << ")";
              else os << " vc" << int(iv.out_vc[b]) << " credits " << out(n, iv.out_port[b], iv.out_vc[b]).credits;
            }
          } else {
            os << " waiting for a free output VC";
          }
          os << "\n";
          if (++shown >= 32) {
            os << "  ...\n";
            return os.str();
          }
        }
    }
    return os.str();
  }
};

Network::Network(const NetworkParams& p) : p_(p) {
  p_.validate();
  impl_ = new Impl(*this, p_);
}

Network::~Network() { delete impl_; }

void Network::set_sink(int core, PacketSink* sink) {
  if (core < 0 || core >= num_nodes()) throw Error("network: set_sink: core " + std::to_string(core) + " out of range");
  impl_->sinks[core] = sink;
}
void Network::set_default_sink(PacketSink* sink) { impl_->default_sink = sink; }

uint64_t Network::inject(Packet pk, uint64_t cycle) {
  auto& I = *impl_;
  const int N = num_nodes();
  if (cycle < now_)
    throw Error("network: inject at cycle " + std::to_string(cycle) + " is in the past (now " + std::to_string(now_) + ")");
  if (pk.src < 0 || pk.src >= N) throw Error("network: packet source core " + std::to_string(pk.src) + " out of range");
  if (pk.dests.empty()) throw Error("network: packet from core " + std::to_string(pk.src) + " has no destination");
  if (pk.size_flits < 1) throw Error("network: packet size must be >= 1 flit");
  std::sort(pk.dests.begin(), pk.dests.end());
  pk.dests.erase(std::unique(pk.dests.begin(), pk.dests.end()), pk.dests.end());
  for (int d : pk.dests)
    if (d < 0 || d >= N) throw Error("network: packet destination core " + std::to_string(d) + " out of range (mesh has " + std::to_string(N) + " cores)");
  if (pk.dests.size() > 1 && p_.multicast && pk.size_flits > p_.buffer_depth)
    throw Error("network: a multicast packet of " + std::to_string(pk.size_flits) +
                " flits needs router.buffer_depth >= packet size (forks are virtual cut-through); "
                "raise buffer_depth or set router.multicast=false");
  pk.created_cycle = cycle;
  const uint64_t id = I.next_id++;
  auto add = [&](Packet&& q) {
    uint32_t rec;
    if (!I.free_packets.empty()) {
      rec = I.free_packets.back();
      I.free_packets.pop_back();
    } else {
      rec = uint32_t(I.packets.size());
      I.packets.emplace_back();
    }
    I.packets[rec].remaining = uint32_t(q.dests.size());
    I.packets[rec].p = std::move(q);
    I.pending.push({cycle, I.seq++, rec});
    ++I.tot.packets_injected;
  };
  pk.id = id;
  if (pk.dests.size() > 1 && !p_.multicast) {
    for (int d : pk.dests) {
      Packet q = pk;
      q.dests = {d};
      add(std::move(q));
    }
  } else {
    add(std::move(pk));
  }
  return id;
}

bool Network::idle() const {
  return impl_->active.empty() && impl_->events_pending == 0 && impl_->asleep_count == 0;
}

uint64_t Network::next_event_cycle() const {
  // Asleep routers wait for events or injections only, so they need no cycle of their own.
  if (!impl_->active.empty() || impl_->events_pending != 0) return now_;
  uint64_t next = kNever;
  if (!impl_->pending.empty()) next = std::get<0>(impl_->pending.top());
  if (!impl_->wakes.empty()) next = std::min(next, impl_->wakes.top().first);
  if (next != kNever) return std::max(now_, next);
  return kNever;
}

void Network::advance_to(uint64_t cycle) {
  auto& I = *impl_;
  while (now_ < cycle) {
    if (I.active.empty() && I.events_pending == 0) {
      uint64_t next = I.pending.empty() ? kNever : std::get<0>(I.pending.top());
      if (!I.wakes.empty()) next = std::min(next, I.wakes.top().first);
      if (next >= cycle) {
        now_ = cycle;
        break;
      }
      if (next > now_) now_ = next;
      I.last_progress = now_;
    }
    I.cycle(now_);
    ++now_;
  }
}

void Network::drain() {
  while (next_event_cycle() != kNever) advance_to(next_event_cycle() + 1);
}

RouterStats Network::router_stats(int node) const {
  // A sleeping router's stalls of the cycles it slept so far are added when it wakes; include them.
  const auto& r = impl_->routers.at(node);
  RouterStats s = r.st;
  // So are the stalls of its parked VCs.
  for (int ip = 0; ip < kNumPorts; ++ip)
    for (unsigned m = r.parked[ip]; m; m &= m - 1) {
      const size_t i = impl_->vci(node, ip, __builtin_ctz(m));
      (((r.al[ip] >> __builtin_ctz(m)) & 1) ? s.stall_no_credit : s.stall_no_vc) += now_ - impl_->parked_since[i];
    }
  if (r.asleep && now_ > r.sleep_since) {
    const uint64_t slept = now_ - r.sleep_since;
    s.stall_no_vc += r.inc[0] * slept, s.stall_no_credit += r.inc[1] * slept;
    s.stall_sink += r.inc[2] * slept, s.stall_arbitration += r.inc[3] * slept;
  }
  return s;
}
const LinkStats& Network::link_stats(int node, int port) const { return impl_->routers.at(node).ls[port & 3]; }
bool Network::is_chip_link(int node, int port) const { return impl_->routers.at(node).chip[port & 3]; }
bool Network::link_exists(int node, int port) const { return port >= 0 && port < 4 && impl_->routers.at(node).nbr[port] >= 0; }
NetworkTotals Network::totals() const {
  // Traversal and link counts are kept per router/link only (fewer counters per flit) and summed here.
  NetworkTotals t = impl_->tot;
  for (const auto& r : impl_->routers) {
    t.router_traversals += r.st.traversals;
    for (int d = 0; d < 4; ++d) {
      if (r.chip[d]) t.chip_link_flits += r.ls[d].flits;
      else t.link_flits += r.ls[d].flits;
    }
  }
  t.chip_link_bits = t.chip_link_flits * uint64_t(p_.flit_bits);
  t.on_chip_link_bits = t.link_flits * uint64_t(p_.flit_bits);
  return t;
}
std::string Network::describe_buffers() const { return impl_->describe(); }

void Network::check_invariants() const {
  const auto& I = *impl_;
  const int V = p_.vcs, D = p_.buffer_depth;
  // credits in flight back to (node, port, vc) and flits in flight towards (node, in port, vc)
  std::map<std::tuple<int, int, int>, int> credit_fly, flit_fly;
  for (const auto& b : I.ccal)
    for (const auto& c : b) ++credit_fly[{int(c.ovc / (4 * V)), int(c.ovc / V % 4), int(c.ovc % V)}];
  for (const auto& b : I.cal)
    for (const auto& e : b)
      if (e.type == EvType::Arrive) ++flit_fly[{int(e.node), e.port, e.vc}];
  for (int n = 0; n < num_nodes(); ++n) {
    const Router& r = I.routers[n];
    for (int d = 0; d < 4; ++d) {
      if (r.nbr[d] < 0) continue;
      for (int v = 0; v < V; ++v) {
        const int c = I.out(n, d, v).credits;
        const int occ = int(I.ivc[I.vci(r.nbr[d], opposite(d), v)].n);
        const int cf = credit_fly[{n, d, v}];
        const int ff = flit_fly[{r.nbr[d], opposite(d), v}];
        if (c < 0 || c > D || c + cf + occ + ff != D)
          throw Error("credit invariant broken at router " + std::to_string(n) + " port " + port_name(d) + " vc" +
                      std::to_string(v) + ": credits " + std::to_string(c) + " + in-flight credits " + std::to_string(cf) +
                      " + downstream flits " + std::to_string(occ) + " + flits on link " + std::to_string(ff) +
                      " != depth " + std::to_string(D));
      }
    }
  }
}

}  // namespace spikechip::arch::noc
