// Internal state of the network model (Network::Impl; its records in network_records.hpp):
// routers, input and output VCs, flit buffers, the event calendars, and the mechanisms both
// router models share (buffers, parking, VC allocation of multicast heads, switch traversal). The per-cycle router visits are in
// router_speculative.cpp and router_separable.cpp, the cycle loop and the public API in
// network.cpp. Included by those three files only.
#pragma once

#include "arch/noc/network.hpp"
#include "arch/noc/network_records.hpp"
#include "arch/noc/pending_queue.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <deque>
#include <queue>
#include <tuple>
#include <type_traits>
#include <sstream>

#include "base/error.hpp"

namespace spikechip::arch::noc {

using detail::ctz_k, detail::kFlitLow, detail::FlitBody, detail::later_than, detail::top_k, detail::KSet, detail::Copy, detail::EvType, detail::Event, detail::Flit, detail::InVC, detail::InVCRoute,
    detail::OutVC, detail::PacketRec, detail::Router;

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
  // Cycles from injection to the flit's arrival in the local input buffer: 1, and 2 in the
  // separable model, whose source is BookSim2's terminal: it writes a flit to its 1-cycle
  // injection channel in cycle c and the router reads it in c + 2, as a router's neighbour reads
  // a flit sent in its switch-traversal cycle (here a router's traversal is that channel cycle,
  // so an inter-router link costs link_latency; the terminal has no traversal stage to hide it in).
  const int inj_lat;
  std::vector<uint64_t> va_from;
  // The VC allocator's iSLIP pointers, 9 * V bytes per router in one array (a visit touches one
  // cache line for them): per output VC (port * V + vc) its grant pointer, then per input VC its
  // accept pointer. The switch allocator's are in Router (sa_grant, sa_accept).
  std::vector<uint8_t> va_ptrs;
  bool park_no_vc;  // unicast routes are fixed (deterministic routing), so a VC-less head waits on one port
  bool reverse_same_cycle = false;  // Network::set_reverse_same_cycle (tests)
  // Resolved once from p.routing: the unicast function's sign table (null: call its ports()).
  const int* uni_table = nullptr;
  std::vector<int> xs, ys;  // node -> coordinates (no divisions in route computation)
  // XY multicast trees: a node's column-major key x * height + y (copies hold their destinations
  // as sorted keys), and the port of each part of a fork (west, above in the column, here, below,
  // east; routing.hpp multicast_part_ports).
  std::vector<uint32_t> mc_key;
  const int* mc_dir_port = multicast_part_ports();
  std::vector<uint32_t> mc_sorted;  // scratch of root_copy
  int node_of_key(uint32_t k) const { return node_of_column_key(k, p.width, p.height); }
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
  // Per copy: its only destination, or -1 for a multicast set (what a head flit carries).
  std::vector<int32_t> copy_dest;
  std::vector<uint32_t> free_copies;
  std::deque<PacketRec> packets;
  std::vector<uint32_t> free_packets;
  PendingQueue pending;  // packets not yet released to their source router
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
        Pbody(sep ? separable_body_cycles(params.pipeline_stages) : params.pipeline_stages),
        cdelay(sep ? 1 : 0), inj_lat(sep ? kSeparableInjectionCycles : 1) {
    const int N = p.width * p.height;
    // (A head flit carries destination + 1 in 30 bits, FlitBody; far beyond any memory anyway.)
    if (uint64_t(N) >= kFlitLow) throw Error("network: more than 2^30 - 2 nodes");
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
      va_ptrs.assign(size_t(N) * (4 + kNumPorts) * V, 0);
    }
    park_no_vc = !p.routing->adaptive;
    uni_table = p.routing->sign_table;
    for (auto& o : ovc) o.credits = D;
    xs.resize(N);
    ys.resize(N);
    mc_key.resize(N);
    int max_lat = 1;
    for (int n = 0; n < N; ++n) {
      Router& r = routers[n];
      const int x = n % p.width, y = n / p.width;
      xs[n] = x;
      ys[n] = y;
      mc_key[n] = column_key(n, p.width, p.height);
      for (int d = 0; d < 4; ++d) {
        const MeshLink l = mesh_link(p, n, d);
        if (l.to < 0) continue;
        r.nbr[d] = l.to;
        r.chip[d] = l.chip;
        r.ser[d] = l.ser;
        r.lat[d] = l.lat;
        r.clat[d] = l.credit_lat;
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
    // Route computation ends a stage before (separable model; a select, as above).
    if (sep) va_from[i] = ((f.ready - uint64_t(bub)) & first) | (va_from[i] & ~first);
    ++iv.n;
  }
  void pop(size_t i) {
    InVC& iv = ivc[i];
    iv.head = uint16_t((iv.head + 1) & cap_mask);
    --iv.n;
    // Unconditional: an emptied VC's value is stale but never read (push sets it first).
    head_ready[i] = fbuf[(i << cap_shift) + iv.head].ready;
  }

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
  __attribute__((always_inline)) void activate(int n, uint64_t t) {
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
  // Recycled records keep their keys' capacity, so a copy costs no allocation in steady state.
  // A copy to the destinations with keys [first, last) (sorted); `only`: the node of a single
  // destination when the caller has it at hand.
  uint32_t new_copy(uint32_t pkt, const uint32_t* first, const uint32_t* last, int only = -1) {
    uint32_t id;
    if (!free_copies.empty()) {
      id = free_copies.back();
      free_copies.pop_back();
      copies[id].pkt = pkt;
      copies[id].keys.assign(first, last);
    } else {
      id = uint32_t(copies.size());
      copies.push_back(Copy{pkt, std::vector<uint32_t>(first, last)});
      copy_dest.push_back(-1);
    }
    copy_dest[id] = last - first == 1 ? (only >= 0 ? only : node_of_key(*first)) : -1;
    return id;
  }
  // A packet's first copy: its destinations (node ids) as sorted keys.
  uint32_t root_copy(uint32_t pkt, const std::vector<int>& dests) {
    if (dests.size() == 1) {  // (unicast: no sort, no decoding)
      const uint32_t k = mc_key[size_t(dests[0])];
      return new_copy(pkt, &k, &k + 1, dests[0]);
    }
    mc_sorted.clear();
    for (int d : dests) mc_sorted.push_back(mc_key[size_t(d)]);
    std::sort(mc_sorted.begin(), mc_sorted.end());
    return new_copy(pkt, mc_sorted.data(), mc_sorted.data() + mc_sorted.size());
  }
  void release_copy(uint32_t id) {
    copies[id].keys.clear();
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
  // The ready cycle of a flit arriving over a link in cycle t: heads take P stages, body flits
  // Pbody (a select, not a branch: one flit in packet_size is a head).
  uint64_t arrival_ready(uint64_t t, const FlitBody& f) const {
    return t + uint64_t(Pbody) + (uint64_t(P - Pbody) & (uint64_t(0) - uint64_t(f.head())));
  }
  void process_events(uint64_t t);
  void eject(int node, const Flit& f, uint64_t t);

  static constexpr int kCountKeys = 64;  // copies to at most this many cores: keys counted, not searched
  bool allocate(int node, InVC& iv, InVCRoute& ir, const Flit& f) {
    if (const int dest = f.dest(); dest >= 0) {
      const int port = unicast_port(node, dest);
      int vc = 0;
      if (port != kLocal) {
        vc = free_vc(node, port, false);
        if (vc < 0) return false;
        out(node, port, vc).busy = true;
      }
      iv.nout = 1;
      iv.out_port[0] = uint8_t(port);
      iv.out_vc[0] = uint8_t(vc);
      return true;  // (a lone branch needs no route record: traverse() sends the flit as it is)
    }
    // Multicast: branches of the XY tree; each branch needs an empty VC that can hold the whole
    // packet (virtual cut-through), so a granted fork never blocks on any of its branches.
    // A head that failed before (ir.failed: still at the front, its branches as then) fails again
    // while one of its branch ports has no such VC: tested on those ports alone, before the keys
    // are read (three in four calls at 15.1M were such retries, docs/performance.md session 20).
    if (ir.failed)
      for (unsigned m = ir.fail_ports; m; m &= m - 1)
        if (free_vc(node, __builtin_ctz(m), true) < 0) return false;
    const Copy& c = copies[f.copy];
    int mask = 0;
    int from[kNumPorts], to[kNumPorts];  // each branch's destinations, c.keys[from, to)
    {
      // The sorted column-major keys split at this router's column and row: west of it, above it
      // in its column, itself, below it, east of it. Binary searches over the keys themselves, no
      // per-destination loop (a copy to tens of cores did one table lookup per destination at
      // every hop) and no lookup per probe.
      const uint32_t* ks = c.keys.data();
      const int nd = int(c.keys.size());
      const uint32_t k0 = mc_key[node], col0 = k0 - uint32_t(ys[node]), col1 = col0 + uint32_t(p.height);
      int a, b, e;
      if (nd <= kCountKeys) {  // counted in one branch-free pass (a binary search's branches miss)
        int ca = 0, cb = 0, ce = 0;
        for (int j = 0; j < nd; ++j) {
          const uint32_t x = ks[j];
          ca += x < col0, cb += x < k0, ce += x < col1;
        }
        a = ca, b = cb, e = ce;
      } else {
        auto first_at = [&](int lo, uint32_t k) { return int(std::lower_bound(ks + lo, ks + nd, k) - ks); };
        a = first_at(0, col0), b = first_at(a, k0), e = first_at(b, col1);
      }
      // (col0 <= k0 < col1, so the counts are those positions; b1 <= e as k0 < col1)
      const int b1 = b + int(b < nd && ks[b] == k0);
      const int cut[6] = {0, a, b, b1, e, nd};
      for (int j = 0; j < 5; ++j)
        if (cut[j] < cut[j + 1]) {
          const int port = mc_dir_port[j];
          mask |= 1 << port;
          from[port] = cut[j], to[port] = cut[j + 1];
        }
    }
    int vcs[kNumPorts];
    int nb = 0;
    for (int port = 0; port < kNumPorts; ++port) {
      if (!(mask & (1 << port))) continue;
      vcs[port] = 0;
      if (port != kLocal) {
        vcs[port] = free_vc(node, port, true);
        if (vcs[port] < 0) {
          ir.fail_ports = uint8_t(mask & ~(1 << kLocal));
          return false;
        }
      }
      ++nb;
    }
    iv.nout = 0;
    for (int port = 0; port < kNumPorts; ++port) {
      if (!(mask & (1 << port))) continue;
      if (port != kLocal) out(node, port, vcs[port]).busy = true;
      const int b = iv.nout++;
      iv.out_port[b] = uint8_t(port);
      iv.out_vc[b] = uint8_t(vcs[port]);
      if (nb > 1) {  // (a lone branch keeps the flit's copy, as above)
        const uint32_t* ks = c.keys.data();  // (copies is a deque: c stays put as copies are added)
        ir.out_copy[b] = new_copy(c.pkt, ks + from[port], ks + to[port]);
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
    r.inj_blocked &= ip != kLocal;
    --r.buffered;
    if (ip != kLocal) schedule_credit(t + r.in_clat[ip] + cdelay, r.in_ovc[ip] + uint32_t(vc), uint32_t(r.nbr[ip]));
    return f;
  }
  // Sends flit nf over output link op on output VC `vc` (index oi = op * V + vc in the router).
  __attribute__((always_inline)) void send(Router& r, int node, int op, int vc, int oi, Flit nf, uint64_t t) {
    OutVC& o = ovc[size_t(node) * 4 * V + oi];
    --o.credits;
    // A tail releases the output VC: as selects, since one flit in packet_size is a tail.
    const bool tail = nf.last();
    o.busy &= !tail;
    r.vc_epoch += tail;
    if (tail & ((r.novc_ports >> op) & 1)) release_no_vc_waiters(r, node, op, t);
    const int lat = r.lat[op], ser = r.ser[op];
    schedule(t + lat, Event(EvType::Arrive, opposite(op), vc, uint32_t(r.nbr[op]), nf));
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

  // i: the input VC's index (vci(node, ip, vc)), which the caller has at hand. Returns whether
  // the flit was a tail.
  bool traverse(Router& r, int node, int ip, int vc, size_t i, uint64_t t) {
    InVC& iv = ivc[i];
    const Flit f = take_front(r, ip, vc, i, t);
    net.flits_in_network_ += iv.nout - 1;
    const bool forked = iv.nout > 1;
    for (int b = 0; b < iv.nout; ++b) {
      const int op = iv.out_port[b];
      // A lone branch carries the flit's own copy (allocate() and the separable
      // VC allocator do not write the route record for it).
      const Flit nf = forked ? Flit{FlitBody::make(ivr[i].out_copy[b], f.idx(), copy_dest[ivr[i].out_copy[b]], f.last()), 0} : f;
      ++r.st.traversals;
      if (op == kLocal) schedule(t + 1, Event(EvType::Eject, kLocal, 0, uint32_t(node), nf));
      else send(r, node, op, iv.out_vc[b], op * V + iv.out_vc[b], nf, t);
    }
    if (f.last() & forked) release_copy(f.copy);
    finish(r, ip, vc, f.last(), t);
    return f.last();
  }
  // traverse() for the common case, a single non-local branch (output port op, output VC index
  // oi = op * V + vc): no branch loop, inlined into the switch allocator. With one branch the
  // flit leaves as it came but for its ready cycle (allocate() gives a lone branch the flit's own
  // copy and destination, and such a branch is never a fork).
  __attribute__((always_inline)) bool traverse1(Router& r, int node, int ip, int vc, size_t i, uint64_t t, int op, int oi) {
    const Flit f = take_front(r, ip, vc, i, t);
    ++r.st.traversals;
    send(r, node, op, ivc[i].out_vc[0], oi, f, t);
    finish(r, ip, vc, f.last(), t);
    return f.last();
  }

  // Switch allocation's test of allocated input VC i = (ip, vc), whose head is past the router
  // pipeline, shared by both router models: can every branch take a flit this cycle (a credit on
  // its output VC and a free link, or a ready sink for the local port)? If so, returns its output
  // ports (bit op); if not, counts the stall, or parks the VC on the credit it waits for, and
  // returns 0. op0: the router's output VCs (nv per port); sk: the router's sink, asked once per
  // visit.
  struct SinkCheck {
    bool checked = false, ready = false;
  };
  __attribute__((always_inline)) unsigned sa_outputs(Router& r, int node, int ip, int vc, size_t i, const InVC& iv,
                                                     const OutVC* op0, int nv, uint64_t t, SinkCheck& sk, bool& tmr,
                                                     uint64_t& s_no_credit, uint64_t& s_sink) {
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
        return 0;
      }
      return 1u << op;
    }
    bool no_credit = false, blocked_sink = false, local = false;
    int wait_out = -1;  // an output VC without credit
    unsigned outs = 0;
    for (int b = 0; b < iv.nout; ++b) {
      const int op = iv.out_port[b];
      outs |= 1u << op;
      if (op == kLocal) {
        local = true;
        if (!sk.checked) {
          PacketSink* sink = sink_of(node);
          sk.ready = !sink || sink->ready(node, t);
          sk.checked = true;
          if (!sk.ready) sink_wake = std::min(sink_wake, sink->ready_again(node, t));
        }
        if (!sk.ready) blocked_sink = true;
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
      return 0;
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
      return 0;
    }
    return outs;
  }

  // kPortAt[s][k]: the k-th port of a round-robin pass starting at port s.
  static constexpr uint8_t kPortAt[kNumPorts][kNumPorts] = {
      {0, 1, 2, 3, 4}, {1, 2, 3, 4, 0}, {2, 3, 4, 0, 1}, {3, 4, 0, 1, 2}, {4, 0, 1, 2, 3}};

  // Lanes 0..4 of a per-port VC mask pair (16-bit lanes, as Router::ne) packed into one word:
  // port ip's VCs at bits ip*NVC... (NVC <= 4: at most 20 bits).
  // Lanes 0..3 are gathered by one multiplication: lane j (bits 16j..) times 2^(48 + j*NVC - 16j)
  // lands at bit 48 + j*NVC; the other partial products fall on disjoint bits below 48 or past
  // 63, so no carry reaches the result.
  template <int NVC>
  static unsigned pack_lanes(uint64_t w0, uint64_t w1) {
    static_assert(NVC >= 1 && NVC <= 4);
    constexpr uint64_t vm = (1u << NVC) - 1;
    constexpr uint64_t lanes = vm | vm << 16 | vm << 32 | vm << 48;
    constexpr uint64_t gather = (uint64_t(1) << 48) | (uint64_t(1) << (32 + NVC)) | (uint64_t(1) << (16 + 2 * NVC)) |
                                (uint64_t(1) << (3 * NVC));
    return unsigned(((w0 & lanes) * gather) >> 48) | unsigned(w1 & vm) << (4 * NVC);
  }

  // A per-port VC mask array (Router::ne, al, parked) as one KSet.
  template <int NVC>
  static KSet<NVC> pack_k(const uint16_t* lanes, int nv) {
    if constexpr (NVC > 0) {
      uint64_t w[2];
      std::memcpy(w, lanes, sizeof w);
      return pack_lanes<NVC>(w[0], w[1]);
    } else {
      KSet<NVC> s = 0;
      for (int ip = 0; ip < kNumPorts; ++ip) s |= KSet<NVC>(lanes[ip]) << (ip * nv);
      return s;
    }
  }

  // The router visits, one per model (RouterModel): process_router in router_speculative.cpp,
  // process_router_sep in router_separable.cpp; NVC as there.
  template <int NVC>
  void process_router(int node, uint64_t t);
  template <int NVC>
  void process_router_sep(int node, uint64_t t);
  void sa_traverse(Router& r, int node, int ip, int vc, size_t i, uint64_t t);

  void inject_flit(Router& r, int node, uint64_t t);
  void release_pending(uint64_t t);
  void cycle(uint64_t t);
  template <int NVC>
  void visit_active(uint64_t t);
  std::string describe() const;
};

}  // namespace spikechip::arch::noc
