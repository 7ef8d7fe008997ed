#include "arch/noc/traffic.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <random>

#include "base/error.hpp"
#include "base/registry.hpp"

namespace spikechip::arch::noc {

#define SPIKECHIP_TRAFFIC(k) extern const TrafficPattern k;
#include "arch/noc/traffic/list.hpp"
#undef SPIKECHIP_TRAFFIC

const std::vector<const TrafficPattern*>& traffic_patterns() {
#define SPIKECHIP_TRAFFIC(k) &k,
  static const std::vector<const TrafficPattern*> table = {
#include "arch/noc/traffic/list.hpp"
  };
#undef SPIKECHIP_TRAFFIC
  return table;
}

std::vector<std::string> traffic_pattern_names() { return names_of(traffic_patterns()); }

const TrafficPattern& traffic_pattern(const std::string& name) {
  if (const TrafficPattern* p = find_by_name(traffic_patterns(), name)) return *p;
  throw UsageError("--traffic: unknown pattern '" + name + "' (use " + join_names(traffic_pattern_names(), " or ") + ")");
}

namespace {

struct NodeGen : TrafficRng {
  uint64_t next = 0;  // cycle of the next packet creation
};

uint64_t gap(NodeGen& g, double p) {
  if (p >= 1.0) return 1;
  // Geometric number of Bernoulli(p) trials up to the next success: same process as a coin per
  // cycle, without visiting the cycles in between.
  const double u = 1.0 - g.uniform();  // (0, 1]
  return 1 + uint64_t(std::floor(std::log(u) / std::log1p(-p)));
}

}  // namespace

TrafficResult run_traffic(Network& net, const TrafficParams& tp) {
  const NetworkParams& np = net.params();
  const int W = np.width, H = np.height, N = W * H;
  if (!(tp.rate > 0) || tp.rate > 1.0 * tp.packet_size)
    throw UsageError("--rate must be in (0, packet_size] flits/node/cycle");
  if (tp.packet_size < 1) throw UsageError("--packet-size must be >= 1");
  if (tp.multicast_fanout < 1 || tp.multicast_fanout > N - 1 + (N == 1))
    throw UsageError("--multicast-fanout must be 1.." + std::to_string(std::max(1, N - 1)));
  if (tp.measure < 1) throw UsageError("--measure must be >= 1");
  if (tp.pattern->needs == TrafficPattern::kPowerOfTwoNodes && !std::has_single_bit(unsigned(N)))
    throw UsageError(std::string("--traffic ") + tp.pattern->name + ": needs a power-of-two node count (the mesh has " +
                     std::to_string(N) + ")");
  for (int h : tp.hotspot_nodes)
    if (h < 0 || h >= N)
      throw UsageError("--hotspot-nodes: node " + std::to_string(h) + " is not in the mesh (0.." + std::to_string(N - 1) + ")");
  if (!(tp.hotspot_fraction >= 0 && tp.hotspot_fraction <= 1)) throw UsageError("--hotspot-fraction must be in [0, 1]");
  const double p = tp.rate / tp.packet_size;
  std::vector<NodeGen> gens(N);
  for (int n = 0; n < N; ++n) {
    std::seed_seq ss{uint64_t(tp.seed), uint64_t(n), uint64_t(0x5eed)};
    gens[n].rng.seed(ss);
    gens[n].next = net.now() + gap(gens[n], p) - 1;
  }
  const uint64_t t0 = net.now();
  const uint64_t m0 = t0 + tp.warmup, m1 = m0 + tp.measure;
  const uint64_t limit = m1 + (tp.drain_limit > 0 ? tp.drain_limit : 20 * tp.measure + 100000);

  TrafficResult res;
  std::vector<uint64_t> lat;
  uint64_t outstanding = 0;  // measured deliveries still to come
  uint64_t flits_created = 0, flits_accepted = 0;
  net.on_deliver([&](int, const Packet& pk, uint64_t cycle) {
    if (cycle >= m0 && cycle < m1) flits_accepted += uint64_t(pk.size_flits);
    if (pk.created_cycle >= m0 && pk.created_cycle < m1) {
      lat.push_back(cycle - pk.created_cycle);
      --outstanding;
    }
  });

  const uint64_t chunk = 64;
  uint64_t t = t0;
  std::vector<int> dests;
  while (t < m1 || (outstanding > 0 && t < limit)) {
    const uint64_t horizon = t + chunk;
    for (int n = 0; n < N; ++n) {
      NodeGen& g = gens[n];
      while (g.next < horizon) {
        dests.clear();
        dests.push_back(tp.pattern->dest(g, tp, n, W, H));
        while (int(dests.size()) < tp.multicast_fanout) {
          const int d = g.below(N);
          if (d != n && std::find(dests.begin(), dests.end(), d) == dests.end()) dests.push_back(d);
        }
        Packet pk;
        pk.kind = PacketKind::Spike;
        pk.src = n;
        pk.dests = dests;
        pk.size_flits = tp.packet_size;
        pk.payload = g.next;
        if (g.next >= m0 && g.next < m1) {
          ++res.packets_measured;
          outstanding += dests.size();
          res.deliveries_measured += dests.size();
          flits_created += uint64_t(tp.packet_size);
        }
        net.inject(std::move(pk), g.next);
        g.next += gap(g, p);
      }
    }
    net.advance_to(horizon);
    t = horizon;
  }
  net.on_deliver(nullptr);
  res.drained = outstanding == 0;
  res.end_cycle = net.now();
  std::sort(lat.begin(), lat.end());
  if (!lat.empty()) {
    double sum = 0;
    for (auto v : lat) sum += double(v);
    res.avg_latency = sum / double(lat.size());
    const size_t k = size_t(std::ceil(0.99 * double(lat.size()))) - 1;
    res.p99_latency = double(lat[std::min(k, lat.size() - 1)]);
    res.max_latency = lat.back();
  }
  res.offered = double(flits_created) / (double(N) * double(tp.measure));
  res.accepted = double(flits_accepted) / (double(N) * double(tp.measure));
  res.totals = net.totals();
  return res;
}

nlohmann::json traffic_report(const Network& net, const TrafficParams& tp, const TrafficResult& r) {
  using nlohmann::json;
  const NetworkParams& np = net.params();
  json j;
  j["config"] = {{"width", np.width},
                 {"height", np.height},
                 {"vcs", np.vcs},
                 {"buffer_depth", np.buffer_depth},
                 {"pipeline_stages", np.pipeline_stages},
                 {"link_latency", np.link_latency},
                 {"routing", np.routing->name},
                 {"router_model", router_model_name(np.model)},
                 {"traffic", tp.pattern->name},
                 {"rate", tp.rate},
                 {"packet_size", tp.packet_size},
                 {"warmup", tp.warmup},
                 {"measure", tp.measure},
                 {"multicast_fanout", tp.multicast_fanout},
                 {"seed", tp.seed}};
  // Only when set, so the statistics of runs without them keep their bytes (tests/data/noc_golden).
  if (tp.self_send) j["config"]["self_send"] = true;
  if (!tp.hotspot_nodes.empty()) {
    j["config"]["hotspot_nodes"] = tp.hotspot_nodes;
    j["config"]["hotspot_fraction"] = tp.hotspot_fraction;
  }
  j["latency_cycles"] = {{"average", r.avg_latency}, {"p99", r.p99_latency}, {"max", r.max_latency}};
  j["offered_flits_per_node_cycle"] = r.offered;
  j["accepted_flits_per_node_cycle"] = r.accepted;
  j["packets_measured"] = r.packets_measured;
  j["deliveries_measured"] = r.deliveries_measured;
  j["drained"] = r.drained;
  j["end_cycle"] = r.end_cycle;
  j["flits_injected"] = r.totals.flits_injected;
  j["flits_delivered"] = r.totals.flits_ejected;
  j["packets_delivered"] = r.totals.packets_delivered;
  j["router_traversals"] = r.totals.router_traversals;
  j["link_flit_hops"] = r.totals.link_flits + r.totals.chip_link_flits;
  RouterStats s;
  json links = json::array();
  const double cycles = double(std::max<uint64_t>(1, r.end_cycle));
  for (int n = 0; n < net.num_nodes(); ++n) {
    const RouterStats rs = net.router_stats(n);
    s.traversals += rs.traversals;
    s.stall_no_credit += rs.stall_no_credit;
    s.stall_arbitration += rs.stall_arbitration;
    s.stall_no_vc += rs.stall_no_vc;
    s.stall_sink += rs.stall_sink;
    for (int d = 0; d < 4; ++d) {
      if (!net.link_exists(n, d)) continue;
      const LinkStats& ls = net.link_stats(n, d);
      links.push_back({{"x", n % np.width},
                       {"y", n / np.width},
                       {"dir", port_name(d)},
                       {"chip_link", net.is_chip_link(n, d)},
                       {"flits", ls.flits},
                       {"utilisation", double(ls.busy_cycles) / cycles}});
    }
  }
  j["router_stalls"] = {{"no_credit", s.stall_no_credit},
                        {"lost_arbitration", s.stall_arbitration},
                        {"no_vc", s.stall_no_vc},
                        {"sink", s.stall_sink}};
  j["links"] = links;
  return j;
}

}  // namespace spikechip::arch::noc
