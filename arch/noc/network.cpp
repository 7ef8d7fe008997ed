// The network model's cycle loop (events, injection, router visits in activation order, sleep and
// wake, watchdog) and its public API (network.hpp). State and shared mechanisms are in
// network_impl.hpp; the router visits in router_speculative.cpp and router_separable.cpp. Structure
// follows BookSim2's IQRouter (input VCs, route computation, VC allocation, switch allocation,
// switch traversal, credits) but is evaluated only for routers that hold work, with link and
// credit traversals kept in a calendar ring. Under router.model = "packet" the API forwards to
// the packet-level model instead (packet_network.hpp); packet validation and ids stay here.
#include "arch/noc/network_impl.hpp"
#include "arch/noc/packet_network.hpp"

#include <algorithm>

#include "base/error.hpp"
#include "base/registry.hpp"

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
  static const std::vector<std::string> names = {"separable", "speculative", "packet"};
  return names;
}
const char* router_model_name(RouterModel m) { return router_model_names()[size_t(m)].c_str(); }
RouterModel router_model(const std::string& name) {
  const auto& n = router_model_names();
  for (size_t i = 0; i < n.size(); ++i)
    if (n[i] == name) return RouterModel(i);
  throw Error("router.model: unknown '" + name + "' (use " + join_names(n, " or ") + ")");
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

MeshLink mesh_link(const NetworkParams& p, int node, int dir) {
  MeshLink l;
  const int x = node % p.width, y = node / p.width;
  const int nx = x + (dir == kEast) - (dir == kWest), ny = y + (dir == kSouth) - (dir == kNorth);
  if (nx < 0 || ny < 0 || nx >= p.width || ny >= p.height) return l;
  const int cw = p.chip_width > 0 ? p.chip_width : p.width;
  const int ch = p.chip_height > 0 ? p.chip_height : p.height;
  l.to = ny * p.width + nx;
  l.chip = (nx / cw != x / cw) || (ny / ch != y / ch);
  l.lat = l.credit_lat = p.link_latency;
  if (l.chip) {
    l.ser = (p.flit_bits + p.chip_link_bits_per_cycle - 1) / p.chip_link_bits_per_cycle;
    l.lat = p.link_latency + p.chip_link_latency + l.ser - 1;
    l.credit_lat = p.link_latency + p.chip_link_latency;
  }
  return l;
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


void Network::Impl::process_events(uint64_t t) {
  auto& credits = ccal[t & cal_mask];
  if (reverse_same_cycle) {
    std::reverse(credits.begin(), credits.end());
    std::reverse(cal[t & cal_mask].begin(), cal[t & cal_mask].end());
  }
  for (const Credit& c : credits) {
    OutVC& o = ovc[c.ovc];
    if (++o.credits > D) throw Error("internal: credit count exceeds buffer depth");
    const int cn = int(c.node);
    const bool freed = (o.credits == D) & !o.busy;
    routers[cn].vc_epoch += freed;  // now free for a whole (multicast) packet
    // A waiter stalled on this credit through cycle t-1; the allocator looks at it again this
    // cycle. Done without a branch (whether a VC has a waiter is a coin flip): no waiter adds 0
    // and clears no bit.
    const bool has = o.waiter >= 0;
    const uint64_t since = parked_since[has ? size_t(o.waiter) : 0];
    routers[cn].st.stall_no_credit += (t - since) & (uint64_t(0) - uint64_t(has));
    routers[cn].parked[o.waiter_ip] &= uint16_t(~o.waiter_mask);
    o.waiter = -1;
    o.waiter_mask = 0;
    // A credit may unblock a sleeping router: a head parked on it, a multicast head waiting for a
    // whole free VC, or a head that counts a no-credit stall each cycle without parking (inc[1]).
    // Otherwise (separable model, deterministic routes, where no route depends on credits) its
    // visit would find what it found when it fell asleep: it sleeps on (a credit for an idle
    // output VC woke it: a fifth of the visits at 15.1M, docs/performance.md session 17).
    Router& rc = routers[cn];
    if (rc.asleep && (has | freed | (rc.inc[1] != 0) | !sep | !park_no_vc)) activate(cn, t);
  }
  events_pending -= credits.size();
  credits.clear();
  auto& bucket = cal[t & cal_mask];
  // Index loop: deliveries may not schedule into the current bucket (all latencies >= 1).
  for (size_t i = 0; i < bucket.size(); ++i) {
    const Event& e = bucket[i];
    if (e.type == EvType::Arrive) {
      Router& r = routers[e.node];
      if (sep & !r.active & !r.asleep & (r.buffered == 0)) r.quiet_at = t;  // (no source: it would be active)
      const size_t i = vci(int(e.node), e.port, e.vc);
      // A flit queued behind others of its VC changes nothing a sleeping router waits on (its
      // heads, their stalls and its source are as they were): its visit would find nothing to
      // move and sleep again, so it sleeps on (separable model; a blocked packet's body flits
      // woke it once each: 28 % of visits at 15.1M, docs/performance.md session 17).
      const bool behind = ivc[i].n > 0;
      push(i, e.flit(arrival_ready(t, e.body)));
      r.ne[e.port] |= uint16_t(1u << e.vc);
      ++r.buffered;
      if (!r.asleep || !(sep & behind)) activate(int(e.node), t);
    } else {
      eject(int(e.node), e.flit(0), t);
    }
  }
  events_pending -= bucket.size();
  bucket.clear();
}

void Network::Impl::eject(int node, const Flit& f, uint64_t t) {
  --net.flits_in_network_;
  ++tot.flits_ejected;
  last_progress = t;
  if (!f.last()) return;
  const uint32_t pkt = copies[f.copy].pkt;
  const PacketRec& pr = packets[pkt];
  ++tot.packets_delivered;
  release_copy(f.copy);
  if (PacketSink* s = sink_of(node)) s->deliver(node, pr.p, t);
  if (net.on_deliver_) net.on_deliver_(node, pr.p, t);
  if (--packets[pkt].remaining == 0) free_packets.push_back(pkt);
}

// VC allocation for a head flit at the front of input VC iv (all-or-nothing over its branches).

void Network::Impl::inject_flit(Router& r, int node, uint64_t t) {
  const size_t base = vci(node, kLocal, 0);
  // At saturation the packet being injected mostly finds its VC full: test that before
  // touching the source queue (a heap block of its own).
  if (r.inj_vc >= 0 && ivc[base + r.inj_vc].n >= uint32_t(D)) {
    r.inj_blocked = true;
    return;
  }
  const uint32_t cid = r.srcq[r.srcq_head];
  if (!r.inj_known) {
    const Copy& c = copies[cid];
    r.inj_size = uint32_t(packets[c.pkt].p.size_flits);
    r.inj_whole = c.keys.size() > 1;
    r.inj_known = true;
  }
  if (r.inj_vc < 0) {
    // The lowest local VC not taken by a packet being injected and with room (all of it for a
    // multicast copy): a mask over a fixed-count loop, not an early exit (at saturation whether
    // one has room is a coin flip).
    const uint32_t room = r.inj_whole ? 1 : uint32_t(D);  // occupancy must be below this
    unsigned ok = 0;
    for (int v = 0; v < V; ++v) ok |= unsigned(ivc[base + v].n < room) << v;
    ok &= ~r.local_busy;
    if (!ok) {
      r.inj_blocked = true;
      return;
    }
    const int v = __builtin_ctz(ok);
    r.inj_vc = v;
    r.local_busy |= 1u << v;
    r.inj_flit = 0;
  }
  if (ivc[base + r.inj_vc].n >= uint32_t(D)) {
    r.inj_blocked = true;
    return;
  }
  push(base + r.inj_vc, Flit{FlitBody::make(cid, r.inj_flit, copy_dest[cid], r.inj_flit + 1 == r.inj_size), t + uint64_t(inj_lat) + uint64_t(r.inj_flit == 0 ? P : Pbody)});
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


void Network::Impl::release_pending(uint64_t t) {
  pending.release(t, [&](uint32_t pkt) {
    const Packet& pk = packets[pkt].p;
    const uint32_t cid = root_copy(pkt, pk.dests);
    Router& r = routers[pk.src];
    r.srcq.push_back(cid);
    r.quiet_at = ~uint64_t(0);  // it has a packet to inject: visit it
    activate(pk.src, t);
  });
}

void Network::Impl::cycle(uint64_t t) {
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
  if (reverse_same_cycle) std::reverse(active.begin(), active.end());
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
void Network::Impl::visit_active(uint64_t t) {
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
      __builtin_prefetch(&head_ready[size_t(m + 1) * kNumPorts * nv - 1]);
      if (sep) {
        __builtin_prefetch(&va_from[size_t(m) * kNumPorts * nv]);
        __builtin_prefetch(&va_from[size_t(m + 1) * kNumPorts * nv - 1]);
        __builtin_prefetch(&va_ptrs[size_t(m) * (4 + kNumPorts) * nv]);
      }
      __builtin_prefetch(&ovc[size_t(m) * 4 * nv]);
    }
    Router& r = routers[n];
    if (r.quiet_at == t) {  // (separable model only; see Router::quiet_at)
      next_active.push_back(n);
      continue;
    }
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

std::string Network::Impl::describe() const {
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
           << ", src " << pk.src << ", flit " << f.idx() << "/" << pk.size_flits << ", dests";
        for (size_t i = 0; i < c.keys.size() && i < 8; ++i) os << " " << node_of_key(c.keys[i]);
        if (c.keys.size() > 8) os << " ...";
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


Network::Network(const NetworkParams& p) : p_(p) {
  p_.validate();
  if (p_.model == RouterModel::Packet) pn_ = new PacketNet(*this, p_);
  else impl_ = new Impl(*this, p_);
}

Network::~Network() {
  delete impl_;
  delete pn_;
}

void Network::set_sink(int core, PacketSink* sink) {
  if (core < 0 || core >= num_nodes()) throw Error("network: set_sink: core " + std::to_string(core) + " out of range");
  (pn_ ? pn_->sinks : impl_->sinks)[size_t(core)] = sink;
}
void Network::set_default_sink(PacketSink* sink) { (pn_ ? pn_->default_sink : impl_->default_sink) = sink; }
void Network::set_reverse_same_cycle(bool on) {
  if (pn_) {
    if (!pn_->idle()) throw Error("internal: set_reverse_same_cycle with packets in flight");
    pn_->reverse_same_cycle = on;
  } else {
    impl_->reverse_same_cycle = on;
  }
}

uint64_t Network::inject(const Packet& p, uint64_t cycle) {
  const int N = num_nodes();
  // A working copy whose destination list keeps its capacity, copied on into a record that keeps
  // its own: no allocation per packet (a new list per packet and the record's old one freed were
  // 3 % of a 15.1M chip run, docs/performance.md "Session 25").
  Packet& pk = in_;
  pk = p;
  if (cycle < now_)
    throw Error("network: inject at cycle " + std::to_string(cycle) + " is in the past (now " + std::to_string(now_) + ")");
  if (pk.src < 0 || pk.src >= N) throw Error("network: packet source core " + std::to_string(pk.src) + " out of range");
  if (pk.dests.empty()) throw Error("network: packet from core " + std::to_string(pk.src) + " has no destination");
  if (pk.size_flits < 1) throw Error("network: packet size must be >= 1 flit");
  // (A body flit carries its index in 30 bits, FlitBody.)
  if (uint64_t(pk.size_flits) > kFlitLow) throw Error("network: packet size must be below 2^30 flits");
  std::sort(pk.dests.begin(), pk.dests.end());
  pk.dests.erase(std::unique(pk.dests.begin(), pk.dests.end()), pk.dests.end());
  for (int d : pk.dests)
    if (d < 0 || d >= N) throw Error("network: packet destination core " + std::to_string(d) + " out of range (mesh has " + std::to_string(N) + " cores)");
  if (pk.dests.size() > 1 && p_.multicast && pk.size_flits > p_.buffer_depth)
    throw Error("network: a multicast packet of " + std::to_string(pk.size_flits) +
                " flits needs router.buffer_depth >= packet size (forks are virtual cut-through); "
                "raise buffer_depth or set router.multicast=false");
  pk.created_cycle = cycle;
  const uint64_t id = next_id_++;
  pk.id = id;
  auto add = [&](const Packet& q) {
    if (pn_) {
      pn_->inject(q, cycle);
      return;
    }
    auto& I = *impl_;
    uint32_t rec;
    if (!I.free_packets.empty()) {
      rec = I.free_packets.back();
      I.free_packets.pop_back();
    } else {
      rec = uint32_t(I.packets.size());
      I.packets.emplace_back();
    }
    I.packets[rec].remaining = uint32_t(q.dests.size());
    I.packets[rec].p = q;
    I.pending.push(cycle, rec);
    ++I.tot.packets_injected;
  };
  if (pk.dests.size() > 1 && !p_.multicast) {
    for (int d : pk.dests) {
      Packet& q = split_;
      q = pk;
      q.dests.assign(1, d);
      add(q);
    }
  } else {
    add(pk);
  }
  return id;
}

bool Network::idle() const {
  if (pn_) return pn_->idle();
  return impl_->active.empty() && impl_->events_pending == 0 && impl_->asleep_count == 0;
}

uint64_t Network::next_event_cycle() const {
  if (pn_) return pn_->next_event_cycle();
  // Asleep routers wait for events or injections only, so they need no cycle of their own.
  if (!impl_->active.empty() || impl_->events_pending != 0) return now_;
  uint64_t next = kNever;
  if (!impl_->pending.empty()) next = impl_->pending.next_cycle();
  if (!impl_->wakes.empty()) next = std::min(next, impl_->wakes.top().first);
  if (next != kNever) return std::max(now_, next);
  return kNever;
}

void Network::advance_to(uint64_t cycle) {
  if (pn_) return pn_->advance_to(cycle);
  auto& I = *impl_;
  while (now_ < cycle) {
    if (I.active.empty() && I.events_pending == 0) {
      uint64_t next = I.pending.empty() ? kNever : I.pending.next_cycle();
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
  if (pn_) return pn_->router_stats(node);
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
const LinkStats& Network::link_stats(int node, int port) const {
  return pn_ ? pn_->link_stats(node, port) : impl_->routers.at(node).ls[port & 3];
}
bool Network::is_chip_link(int node, int port) const {
  return pn_ ? pn_->is_chip_link(node, port) : impl_->routers.at(node).chip[port & 3];
}
bool Network::link_exists(int node, int port) const {
  if (pn_) return pn_->link_exists(node, port);
  return port >= 0 && port < 4 && impl_->routers.at(node).nbr[port] >= 0;
}
NetworkTotals Network::totals() const {
  if (pn_) return pn_->totals();
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
std::string Network::describe_buffers() const { return pn_ ? pn_->describe() : impl_->describe(); }

void Network::check_invariants() const {
  if (pn_) return;  // (no buffers or credits: nothing to check)
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
