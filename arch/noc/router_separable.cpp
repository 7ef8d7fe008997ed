// The separable router model (RouterModel::Separable, router.model = "separable", the default):
// BookSim2's input-queued router with route computation, VC allocation and switch allocation as
// separate stages, both allocators iSLIP with one iteration, and a credit delay.
#include "arch/noc/network_impl.hpp"

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
// model): marks its input and outputs used and, after a tail, starts the next head's route
// computation the next cycle.
void Network::Impl::sa_traverse(Router& r, int node, int ip, int vc, size_t i, uint64_t t, unsigned* eligible, unsigned& used_out) {
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
void Network::Impl::process_router_sep(int node, uint64_t t) {
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
    SinkCheck sk;
    const OutVC* const op0 = &ovc[size_t(node) * 4 * V];
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
        const unsigned outs = sa_outputs(r, node, ip, vc, i, ivc[i], op0, V, t, sk, tmr, s_no_credit, s_sink);
        if (!outs) continue;
        const InVC& iv = ivc[i];
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


template void Network::Impl::process_router_sep<0>(int, uint64_t);
template void Network::Impl::process_router_sep<1>(int, uint64_t);
template void Network::Impl::process_router_sep<2>(int, uint64_t);
template void Network::Impl::process_router_sep<4>(int, uint64_t);

}  // namespace spikechip::arch::noc
