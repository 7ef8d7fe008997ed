// The separable router model (RouterModel::Separable, router.model = "separable", the default):
// BookSim2's input-queued router with route computation, VC allocation and switch allocation as
// separate stages, both allocators iSLIP with one iteration, and a credit delay.
#include "arch/noc/network_impl.hpp"

#include <array>

#include "base/error.hpp"

namespace spikechip::arch::noc {

// ---- separable router (RouterModel::Separable) --------------------------------------------
// BookSim2's iq router, stage by stage (docs/architecture.md, "Router stages"): a head's VC
// allocation no earlier than va_from (route computation done), its switch allocation from the
// cycle after it won a VC; both allocators iSLIP with one iteration (requests, grants by the
// outputs' pointers, accepts by the inputs' pointers; a pointer moves only past an accepted
// match); multicast heads (not in BookSim) then allocate all-or-nothing as in the speculative
// model. Stall counting, parking and sleeping are those of process_router.
// Switch traversal of input VC (ip, vc) = index i after it won switch allocation (separable
// model): after a tail, starts the next head's route computation the next cycle.
__attribute__((always_inline)) inline void Network::Impl::sa_traverse(Router& r, int node, int ip, int vc, size_t i, uint64_t t) {
  InVC& iv = ivc[i];
  const bool tail = iv.nout == 1 && iv.out_port[0] != kLocal
                        ? traverse1(r, node, ip, vc, i, t, iv.out_port[0], iv.out_port[0] * V + iv.out_vc[0])
                        : traverse(r, node, ip, vc, i, t);
  // A select, not a branch (one flit in packet_size is a tail).
  const uint64_t next = std::max(head_ready[i] - uint64_t(bub), t + 1 + uint64_t(bub));
  const uint64_t upd = uint64_t(0) - uint64_t(tail & (iv.n > 0));
  va_from[i] = (next & upd) | (va_from[i] & ~upd);
  moved = true;
}

// kFirstFrom[s][m]: the first port of port set m (bit p = port p) in a round-robin pass starting
// at port s, or kNumPorts when m is empty.
static constexpr auto kFirstFrom = [] {
  std::array<std::array<uint8_t, 1u << kNumPorts>, kNumPorts> f{};
  for (int s = 0; s < kNumPorts; ++s)
    for (unsigned m = 0; m < (1u << kNumPorts); ++m) {
      f[s][m] = kNumPorts;
      for (int k = kNumPorts - 1; k >= 0; --k)
        if (m >> ((s + k) % kNumPorts) & 1) f[s][m] = uint8_t((s + k) % kNumPorts);
    }
  return f;
}();

template <int NVC>
void Network::Impl::process_router_sep(int node, uint64_t t) {
  Router& r = routers[node];
  if (r.buffered > 0) {
    const int V = NVC > 0 ? NVC : this->V;  // a constant for 1, 2, 4 VCs: loops unrolled
    const bool rr = p.round_robin;
    uint8_t* const va_grant = &va_ptrs[size_t(node) * (4 + kNumPorts) * V];  // per output VC
    uint8_t* const va_accept = va_grant + 4 * V;                                // per input VC
    const size_t base0 = size_t(node) * kNumPorts * V;
    const int NI = kNumPorts * V;  // input VCs of the router
    bool tmr = false;
    uint64_t s_no_vc = 0, s_no_credit = 0, s_arb = 0, s_sink = 0;

    // Input VCs as bit sets: bit k is VC k % V of input port k / V (the index base0 + k); the
    // allocators visit set bits in ascending k (port, then VC order) or in a rotated order, with
    // no per-port or per-VC loop (their data-dependent trip counts were mispredicted branches).
    using K = KSet<NVC>;
    const K NE = pack_k<NVC>(r.ne, V), AL0 = pack_k<NVC>(r.al, V), PK = pack_k<NVC>(r.parked, V);
    K AL = AL0;  // plus the VCs that win VC allocation below (r.al is not reloaded)
    auto won_vc = [&](int ip, int vc, int k) {
      r.al[ip] |= uint16_t(1u << vc);
      AL |= K(1) << k;
      const size_t i = base0 + size_t(k);
      head_ready[i] = std::max(head_ready[i], t + uint64_t(bub));  // switch allocation the next cycle
      moved = true;
    };
    auto later_than_t = [&](const std::vector<uint64_t>& when) { return later_than<NVC>(&when[base0], NI, t); };

    // -- VC allocation --
    K heads = NE & ~PK & ~AL0;
    {  // (unconditional: whether a visit has unallocated heads is a coin flip under load)
      const K rc_busy = later_than_t(va_from);  // route computation not done
      tmr |= (heads & rc_busy) != 0;
      heads &= ~rc_busy;
    }
    K req[4] = {0, 0, 0, 0};  // per output port: its unicast requesters
    K mcs = 0;                // multicast heads, allocated after the unicast match
    uint8_t op_of[kNumPorts * 16];  // requester k's output port
    unsigned free_of[4] = {0, 0, 0, 0};  // free output VCs per port (bit ov), looked up once
    unsigned requested_ports = 0;  // output ports whose free VCs were looked up
    unsigned req_ports = 0;        // output ports with requesters
    for (K m = heads; m; m &= m - 1) {
      const int k = ctz_k(m);
      const int ip = k / V, vc = k % V;
      const size_t i = base0 + size_t(k);
      const Flit& f = front(i);
      const int dest = f.dest();
      if (dest < 0) {
        mcs |= K(1) << k;
        continue;
      }
      const int op = unicast_port(node, dest);
      if (op == kLocal) {  // the ejection port has no VCs to allocate
        InVC& iv = ivc[i];
        iv.nout = 1, iv.out_port[0] = kLocal, iv.out_vc[0] = 0;  // (a lone branch: no route record)
        won_vc(ip, vc, k);
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
      req[op] |= K(1) << k;
      req_ports |= 1u << op;
      op_of[k] = uint8_t(op);
    }
    if (const K reqs = req[0] | req[1] | req[2] | req[3]) {
      // Grants: each free output VC picks the first requester of its port from its pointer on
      // (at or after the pointer, else the first); gvc[k]: the output VCs granted to requester k.
      uint16_t gvc[kNumPorts * 16];
      if (!(reqs & (reqs - 1))) {
        // One requester (most VC allocations at low load): every free VC of its port grants it.
        const int k = ctz_k(reqs);
        gvc[k] = uint16_t(free_of[op_of[k]]);
      } else {
        for (K m = reqs; m; m &= m - 1) gvc[ctz_k(m)] = 0;
        for (unsigned pm = req_ports; pm; pm &= pm - 1) {
          const int op = __builtin_ctz(pm);
          for (unsigned fm = free_of[op]; fm; fm &= fm - 1) {
            const int ov = __builtin_ctz(fm);
            const int start = rr ? va_grant[op * V + ov] : 0;
            const K after = req[op] & (~K(0) << start);
            gvc[ctz_k(after | (req[op] & (K(0) - K(after == 0))))] |= uint16_t(1u << ov);
          }
        }
      }
      // Accepts: each requester takes the first granting VC from its pointer on.
      for (K m = reqs; m; m &= m - 1) {
        const int k = ctz_k(m), op = op_of[k];
        const int ip = k / V, vc = k % V;
        const size_t i = base0 + size_t(k);
        const unsigned g = gvc[k];
        if (!g) {
          if (head_ready[i] <= t) ++s_no_vc;  // an unallocated VC's head_ready is its head's ready
          else tmr = true;
          continue;
        }
        const unsigned after = rr ? g & (~0u << va_accept[k]) : g;
        const int got = __builtin_ctz(after | (g & (0u - unsigned(after == 0))));
        if (rr) {
          va_grant[op * V + got] = uint8_t(k + 1 == NI ? 0 : k + 1);
          va_accept[k] = uint8_t(got + 1 == V ? 0 : got + 1);
        }
        out(node, op, got).busy = true;
        InVC& iv = ivc[i];
        iv.nout = 1, iv.out_port[0] = uint8_t(op), iv.out_vc[0] = uint8_t(got);
        won_vc(ip, vc, k);
      }
    }
    for (K m = mcs; m; m &= m - 1) {
      const int k = ctz_k(m);
      const int ip = k / V, vc = k % V;
      const size_t i = base0 + size_t(k);
      InVCRoute& ir = ivr[i];
      const Flit& f = front(i);
      const bool known_fail = ir.failed & (ir.fail_epoch == r.vc_epoch);
      if (!known_fail && allocate(node, ivc[i], ir, f)) {
        ir.failed = false;
        won_vc(ip, vc, k);
        continue;
      }
      ir.failed = true;
      ir.fail_epoch = r.vc_epoch;
      if (f.ready <= t) ++s_no_vc;
      else tmr = true;
    }

    // -- switch allocation --
    // A unicast match of input ip's VC vc to output op: the iSLIP pointers move past it (output
    // op's grant, input ip's accept, ip's VC choice) and the flit crosses.
    auto cross = [&](int ip, int op, int vc) __attribute__((always_inline)) {
      if (rr) {
        r.sa_grant[op] = uint8_t(ip + 1 == kNumPorts ? 0 : ip + 1);
        r.sa_accept[ip] = uint8_t(op + 1 == kNumPorts ? 0 : op + 1);
        r.rr_vc[ip] = vc + 1 == V ? 0 : vc + 1;
      }
      sa_traverse(r, node, ip, vc, base0 + size_t(ip) * V + vc, t);
    };
    // Allocated VCs whose head is past the pipeline (VC allocation above parked only unallocated
    // VCs, so PK still holds). The order of their tests does not matter (each counts its own stall
    // or parks on its own output VC).
    K cand = NE & ~PK & AL;
    if (cand) {
      const K late = later_than_t(head_ready);
      tmr |= (cand & late) != 0;
      cand &= ~late;
    }
    if (cand && !(cand & (cand - 1)) && ivc[base0 + size_t(ctz_k(cand))].nout == 1) {
      // One candidate with one branch (most visits with a candidate): if it can go, iSLIP grants
      // and accepts it, the pointers moving as for any match; the general code below gives the
      // same with its request sets and loops.
      const int k = ctz_k(cand);
      const int ip = k / V, vc = k % V;
      const size_t i = base0 + size_t(k);
      SinkCheck sk;
      const unsigned outs = sa_outputs(r, node, ip, vc, i, ivc[i], &ovc[size_t(node) * 4 * V], V, t, sk, tmr, s_no_credit, s_sink);
      if (outs) cross(ip, __builtin_ctz(outs), vc);
    } else if (cand) {  // (at low load most visits have no candidate: skip the set-up)
      SinkCheck sk;
      const OutVC* const op0 = &ovc[size_t(node) * 4 * V];
      // Requests as bit sets: want[op], the eligible VCs (bit k, as cand) requesting output op;
      // req_by_out[op], their input ports. Which of an input's VCs requests an output (vc_for)
      // is only worked out for the pairs that iSLIP matches.
      K want[kNumPorts] = {};
      unsigned req_by_out[kNumPorts] = {};  // per output port: requesting input ports
      unsigned forks[kNumPorts] = {};       // per input port: eligible multicast VCs (several branches)
      unsigned any_fork = 0;
      unsigned in_ports = 0;                // input ports with an eligible VC
      unsigned n_eligible = 0;
      int last_k = 0;            // the last eligible VC and its outputs (all there is when n_eligible = 1)
      unsigned last_outs = 0;
      for (K m = cand; m; m &= m - 1) {
        const int k = ctz_k(m);
        const int ip = k / V, vc = k % V;
        const size_t i = base0 + size_t(k);
        const unsigned outs = sa_outputs(r, node, ip, vc, i, ivc[i], op0, V, t, sk, tmr, s_no_credit, s_sink);
        if (!outs) continue;
        ++n_eligible;
        in_ports |= 1u << ip;
        last_k = k, last_outs = outs;
        if (ivc[i].nout == 1) {
          const int op = __builtin_ctz(outs);
          want[op] |= K(1) << k;
          req_by_out[op] |= 1u << ip;
        } else {
          forks[ip] |= 1u << vc;
          any_fork = 1;
          for (unsigned om = outs; om; om &= om - 1) {
            const int op = __builtin_ctz(om);
            want[op] |= K(1) << k;
            req_by_out[op] |= 1u << ip;
          }
        }
      }
      // Input ip's VC for output op: the first of its VCs requesting op in round-robin order, from
      // the port's pointer upwards, then from 0 (the pointer moves only when ip crosses, after
      // this is asked).
      auto vc_for = [&](int ip, int op) __attribute__((always_inline)) {
        const unsigned lane = unsigned(want[op] >> (ip * V)) & ((1u << V) - 1);
        const unsigned after = rr ? lane & (~0u << r.rr_vc[ip]) : lane;
        return __builtin_ctz(after | (lane & (0u - unsigned(after == 0))));  // (a select: a coin flip)
      };
      unsigned crossed = 0;
      if (n_eligible == 1 && !any_fork) {
        // One request for one output (most visits at low load): iSLIP grants and accepts it, the
        // pointers moving as for any match; the general code below gives the same, with loops.
        cross(last_k / V, __builtin_ctz(last_outs), last_k % V);
        crossed = 1;
      } else if (n_eligible > 0) {
        // Grants: each output port picks the first requesting input from its pointer on; accepts:
        // each input the first granting output from its pointer on (kFirstFrom, no loops).
        // Every output port, requested or not, in a fixed-count loop (no data-dependent branch):
        // an output without requests grants kNumPorts, a slot past the input ports.
        unsigned granted_to[kNumPorts + 1] = {};
        int grant[kNumPorts];
        unsigned used_out = 0, matched = 0;  // outputs and inputs of the flits that crossed
        unsigned granted = 0;  // input ports granted some output (bit kNumPorts: none)
        for (int op = 0; op < kNumPorts; ++op) {
          const int ip = kFirstFrom[rr ? r.sa_grant[op] : 0][req_by_out[op]];
          grant[op] = ip;
          granted_to[ip] |= 1u << op;
          granted |= 1u << ip;
        }
        if (!any_fork) {
          // Unicast requests only: every granted input accepts its first granting output and
          // crosses (the loop below, minus the multicast tests and the search past refused grants).
          for (unsigned pm = granted & ((1u << kNumPorts) - 1); pm; pm &= pm - 1) {
            const int ip = __builtin_ctz(pm);
            const int op = kFirstFrom[rr ? r.sa_accept[ip] : 0][granted_to[ip]];
            cross(ip, op, vc_for(ip, op));
            ++crossed;
          }
          in_ports = 0;  // (no multicast pass)
        }
        for (unsigned pm = in_ports; pm; pm &= pm - 1) {
          const int ip = __builtin_ctz(pm);
          const int start = rr ? r.sa_accept[ip] : 0;
          for (unsigned gm = rotate_ports(granted_to[ip], start); gm; gm &= gm - 1) {
            const int op = kPortAt[start][__builtin_ctz(gm)];
            const int vc = vc_for(ip, op);
            const size_t i = base0 + size_t(ip) * V + vc;
            InVC& iv = ivc[i];
            if (iv.nout > 1) {
              bool all = true;  // a multicast flit goes only with every branch's output granted to it
              for (int b = 0; b < iv.nout; ++b) all &= grant[iv.out_port[b]] == ip;
              if (!all) continue;
            }
            if (rr) {
              for (int b = 0; b < iv.nout; ++b) r.sa_grant[iv.out_port[b]] = uint8_t(ip + 1 == kNumPorts ? 0 : ip + 1);
              r.sa_accept[ip] = uint8_t(op + 1 == kNumPorts ? 0 : op + 1);
              r.rr_vc[ip] = vc + 1 == V ? 0 : vc + 1;
            }
            matched |= 1u << ip;
            for (int b = 0; b < iv.nout; ++b) used_out |= 1u << iv.out_port[b];
            sa_traverse(r, node, ip, vc, i, t);
            ++crossed;
            break;
          }
        }
        // A multicast flit whose branches iSLIP granted to different inputs matches nothing (and
        // would do so again every cycle, the pointers moving only on a match): it goes in a second,
        // greedy pass over the outputs left idle, inputs in port order.
        for (unsigned pm = in_ports & ~matched; pm; pm &= pm - 1) {
          const int ip = __builtin_ctz(pm);
          for (unsigned m = forks[ip]; m; m &= m - 1) {
            const int vc = __builtin_ctz(m);
            const size_t i = base0 + size_t(ip) * V + vc;
            const InVC& iv = ivc[i];
            unsigned outs = 0;
            for (int b = 0; b < iv.nout; ++b) outs |= 1u << iv.out_port[b];
            if (outs & used_out) continue;
            if (rr) r.rr_vc[ip] = vc + 1 == V ? 0 : vc + 1;
            matched |= 1u << ip;
            used_out |= outs;
            sa_traverse(r, node, ip, vc, i, t);
            ++crossed;
            break;
          }
        }
      }
      s_arb += n_eligible - crossed;  // every eligible VC that did not cross lost arbitration
    }
    timer = tmr;
    r.st.stall_no_vc += s_no_vc, r.st.stall_no_credit += s_no_credit;
    r.st.stall_arbitration += s_arb, r.st.stall_sink += s_sink;
  }
  if (r.may_inject()) inject_flit(r, node, t);
}

template void Network::Impl::process_router_sep<0>(int, uint64_t);
template void Network::Impl::process_router_sep<1>(int, uint64_t);
template void Network::Impl::process_router_sep<2>(int, uint64_t);
template void Network::Impl::process_router_sep<4>(int, uint64_t);

}  // namespace spikechip::arch::noc
