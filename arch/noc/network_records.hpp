// The records of the network model's state (arch/noc/network_impl.hpp): flits and what a link
// carries of them, input and output VCs, routers, calendar events, packet copies, and the bit sets
// over a router's input VCs that the router visits work on. Included by network_impl.hpp only.
#pragma once

#include "arch/noc/network.hpp"

#include <cstdint>
#include <type_traits>
#include <vector>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace spikechip::arch::noc {

namespace detail {


// What a flit carries over a link (an Event holds this part only): 8 bytes, so a buffered flit
// is 16 (four to a cache line: the flit buffer's store on arrival and load at traversal were the
// hottest memory accesses of `spikechip noc`). Only a head needs its copy's destination (for its
// route) and only a body flit a non-zero index, so they share bits (kFlitLow: Network::inject
// and the constructor keep packet sizes and node counts below 2^30).
constexpr uint32_t kFlitLow = (1u << 30) - 1;
struct FlitBody {
  uint32_t copy;  // which (packet, destination subset) this flit belongs to
  // Bit 31: tail (kept in the flit so the hot path needs no packet lookup); bit 30: head (index
  // 0); bits 0-29: a head's destination + 1 (0: a multicast set), a body flit's index.
  uint32_t aux;
  static FlitBody make(uint32_t copy, uint32_t idx, int32_t dest, bool last) {
    return {copy, uint32_t(last) << 31 | (idx == 0 ? 1u << 30 | uint32_t(dest + 1) : idx)};
  }
  bool last() const { return aux >> 31; }
  bool head() const { return (aux >> 30) & 1; }
  uint32_t idx() const { return head() ? 0 : aux & kFlitLow; }
  // The copy's only destination, or -1 for a multicast set (route without a lookup); heads only.
  int32_t dest() const { return int32_t(aux & kFlitLow) - 1; }
};
// A flit in an input buffer.
struct Flit : FlitBody {
  uint64_t ready;    // earliest switch-traversal cycle (arrival + pipeline_stages)
};
static_assert(sizeof(Flit) == 16, "four flits to a cache line");

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
// Router::al[port] only, so a traversal's bookkeeping does not touch this record. out_copy is
// written for a fork only (InVC::nout > 1): a packet with one branch leaves with the flit's own
// copy, so its VC allocation does not touch this record either.
struct InVCRoute {
  // VC allocation of the head failed while its router's output VCs were in state `fail_epoch`
  // (Router::vc_epoch): until that changes, a retry fails the same way and is skipped.
  bool failed = false;
  // After a multicast head's failure: its branches' output ports (bit p = port p, the ejection
  // port left out), so a retry first tests just their VCs (Impl::allocate).
  uint8_t fail_ports = 0;
  uint32_t out_copy[kNumPorts];
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

struct alignas(64) Router {
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
  // The packet being injected (or the next one's head) found no room in the local input VCs;
  // only a local flit leaving the router (take_front) can change that, so until then the source
  // is not tried (at saturation it was tried, and refused, every cycle).
  bool inj_blocked = false;
  // Separable model: the cycle in which the router's first flits arrived while it held nothing
  // (no flit, no packet to inject). Such flits are still in route computation or the pipeline,
  // so its visit in that cycle could only note the timer: it is kept in the active list unvisited.
  // (In the first cache line: every visit and every arrival reads it.)
  uint64_t quiet_at = ~uint64_t(0);
  // The head copy's size and destination, looked up once per copy: at saturation a router asks
  // every cycle whether its full local VC can take a flit, and the lookups cost more than that.
  bool inj_known = false, inj_whole = false;
  int rr_in = 0;
  int rr_va = 0;
  int rr_vc[kNumPorts] = {0, 0, 0, 0, 0};
  // Separable model: the switch allocator's iSLIP pointers, per output port (grant) and per input
  // port (accept).
  uint8_t sa_grant[kNumPorts] = {}, sa_accept[kNumPorts] = {};
  // injection (source queue of packet copies, one flit per cycle into a local input VC)
  int inj_vc = -1;
  uint32_t inj_flit = 0;
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
  bool may_inject() const { return !inj_blocked && has_source(); }
};

// Flit events (link arrival, ejection) keep their scheduling order within a cycle (it decides
// router activation order and delivery order); credits only add to counters, so they live in a
// separate ring of 4-byte output-VC indices. An event carries the flit without its ready cycle:
// that is a function of the arrival cycle (Impl::arrival_ready), so an event is 16 bytes.
enum class EvType : uint8_t { Arrive, Eject };
struct Event {
  uint32_t node;
  uint16_t vc;
  uint8_t port;
  EvType type;
  FlitBody body;
  Event(EvType ty, int po, int v, uint32_t n, const FlitBody& f)
      : node(n), vc(uint16_t(v)), port(uint8_t(po)), type(ty), body(f) {}
  Flit flit(uint64_t ready) const { return Flit{body, ready}; }
};
static_assert(sizeof(Event) == 16, "an event is two words");

struct Copy {
  uint32_t pkt;
  // Its destinations as column-major keys x * height + y (Impl::mc_key), sorted: at any router the
  // branches of the XY multicast tree are contiguous ranges of it (Impl::allocate).
  std::vector<uint32_t> keys;
};

struct PacketRec {
  Packet p;
  uint32_t remaining = 0;
};

__extension__ typedef unsigned __int128 u128;
// A set of a router's input VCs, bit k = VC k % V of input port k / V: 32 bits hold every VC of a
// router with 1, 2 or 4 VCs (NVC, as in the router visits), 128 bits any count up to 16 (NVC = 0).
template <int NVC>
using KSet = std::conditional_t<(NVC > 0), uint32_t, u128>;
inline int ctz_k(uint32_t m) { return __builtin_ctz(m); }
inline int top_k(uint32_t m) { return 31 - __builtin_clz(m); }
inline int top_k(u128 m) {
  const uint64_t hi = uint64_t(m >> 64);
  return hi ? 127 - __builtin_clzll(hi) : 63 - __builtin_clzll(uint64_t(m));
}
inline int ctz_k(u128 m) {
  const uint64_t lo = uint64_t(m);
  return lo ? __builtin_ctzll(lo) : 64 + __builtin_ctzll(uint64_t(m >> 64));
}

// Bit k: when[k] > t, for k < n (n <= the bits of KSet<NVC>). All values are cycles below 2^63,
// so when > t is the sign of t - when: with SSE2, two compares per subtraction and sign-bit move.
template <int NVC>
inline KSet<NVC> later_than(const uint64_t* when, int n, uint64_t t) {
  KSet<NVC> late = 0;
  int k = 0;
#if defined(__SSE2__)
  const __m128i tt = _mm_set1_epi64x(int64_t(t));
  for (; k + 2 <= n; k += 2) {
    const __m128i d = _mm_sub_epi64(tt, _mm_loadu_si128(reinterpret_cast<const __m128i*>(when + k)));
    late |= KSet<NVC>(unsigned(_mm_movemask_pd(_mm_castsi128_pd(d)))) << k;
  }
#endif
  for (; k < n; ++k) late |= KSet<NVC>(when[k] > t) << k;
  return late;
}

}  // namespace detail

}  // namespace spikechip::arch::noc
