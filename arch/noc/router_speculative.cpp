// The speculative router model (RouterModel::Speculative, router.model = "speculative"): one
// visit per cycle does VC allocation and switch allocation together, a head competing for the
// switch in the cycle it wins a VC (docs/architecture.md, "Router stages").
#include "arch/noc/network_impl.hpp"

#include "base/error.hpp"

namespace spikechip::arch::noc {

// NVC: the VC count as a compile-time constant (1, 2 or 4; 0 = read V at run time). For 1/2/4
// the candidates of both allocators are one packed word over all (port, VC) pairs, put in
// round-robin order up front, and visited in one loop: no per-port loop, whose data-dependent
// trip counts were the visit's most mispredicted branches (callgrind --branch-sim), and the
// per-VC pipeline test is a fixed sequence of compares over the router's VCs.
template <int NVC>
void Network::Impl::process_router(int node, uint64_t t) {
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
        if (park_no_vc && f.dest() >= 0) {
          // Every VC of its fixed output port is busy; only a tail leaving through that port
          // here can free one.
          park(r, i, ip, vc, t);
          const int op = unicast_port(node, f.dest());
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
    unsigned used = 0;
    SinkCheck sk;
    auto sa_one = [&](int ip, int vc, bool won) __attribute__((always_inline)) -> bool {
      const size_t i = base0 + size_t(ip) * nv + vc;
      const InVC& iv = ivp[i];
      const unsigned outs = sa_outputs(r, node, ip, vc, i, iv, op0, nv, t, sk, tmr, s_no_credit, s_sink);
      if (!outs) return false;
      if (won | ((used & outs) != 0)) {
        ++s_arb;
        return false;
      }
      used |= outs;
      if (iv.nout == 1 && iv.out_port[0] != kLocal) traverse1(r, node, ip, vc, i, t, iv.out_port[0], iv.out_port[0] * nv + iv.out_vc[0]);
      else traverse(r, node, ip, vc, i, t);
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
  if (r.may_inject()) inject_flit(r, node, t);
}

template void Network::Impl::process_router<0>(int, uint64_t);
template void Network::Impl::process_router<1>(int, uint64_t);
template void Network::Impl::process_router<2>(int, uint64_t);
template void Network::Impl::process_router<4>(int, uint64_t);

}  // namespace spikechip::arch::noc
