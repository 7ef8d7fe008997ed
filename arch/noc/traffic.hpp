#pragma once
// Synthetic traffic (BookSim-style) over a Network: Bernoulli injection per node per cycle,
// classic destination patterns, warm-up / measurement windows, latency and throughput statistics.
// Used by `spikechip noc`, the tests and the benchmark. Patterns are a registry
// (docs/extending.md, "A traffic pattern"): one file in arch/noc/traffic/ plus one line in
// arch/noc/traffic/list.hpp; the name table drives --traffic and the docs.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arch/noc/network.hpp"

namespace spikechip::arch::noc {

struct TrafficPattern;
// Throws spikechip::UsageError "--traffic: unknown pattern 'name' (use uniform, ...)".
const TrafficPattern& traffic_pattern(const std::string& name);
const std::vector<const TrafficPattern*>& traffic_patterns();  // in list.hpp order
std::vector<std::string> traffic_pattern_names();

struct TrafficParams {
  const TrafficPattern* pattern = &traffic_pattern("uniform");
  double rate = 0.1;            // offered flits per node per cycle (packets: rate / packet_size)
  int packet_size = 4;          // flits
  uint64_t warmup = 1000;
  uint64_t measure = 10000;
  int multicast_fanout = 1;     // destinations per packet (1 = unicast)
  uint64_t seed = 1;
  double hotspot_fraction = 0.2;  // hotspot: share of packets sent to a hotspot node
  std::vector<int> hotspot_nodes;  // hotspot: the hotspot nodes (empty: the centre node)
  bool self_send = false;          // uniform: the source is a possible destination (BookSim's convention)
  // Cycles after the measurement window to wait for measured packets (0: 20 x measure + 100000).
  // A saturated network never delivers them all; tests cap this to keep saturated runs short.
  uint64_t drain_limit = 0;
};

// One random stream per source node (the patterns' only source of randomness), so the traffic
// does not depend on how the generator is chunked in time.
struct TrafficRng {
  std::mt19937_64 rng;
  double uniform() { return double(rng() >> 11) * 0x1.0p-53; }  // [0, 1)
  int below(int n) { return int(uniform() * n); }               // 0..n-1
  int other_than(int src, int n) {                              // uniform over 0..n-1 without src
    if (n == 1) return src;
    const int d = below(n - 1);
    return d >= src ? d + 1 : d;
  }
};

struct TrafficPattern {
  const char* name;
  const char* help;  // one line for the docs and --help
  // The destination of a packet created at node `src` of a W x H mesh.
  int (*dest)(TrafficRng& rng, const TrafficParams& tp, int src, int W, int H);
  // What the mesh must satisfy (run_traffic checks it; the bit permutations need 2^k nodes).
  enum Needs : uint8_t { kAnyNodes, kPowerOfTwoNodes };
  Needs needs = kAnyNodes;
};

struct TrafficResult {
  uint64_t packets_measured = 0;     // created in the measurement window
  uint64_t deliveries_measured = 0;  // (packet, destination) deliveries of those packets
  double avg_latency = 0;            // cycles, creation to tail delivery
  double p99_latency = 0;
  uint64_t max_latency = 0;
  double offered = 0;    // flits created per node per cycle in the window
  double accepted = 0;   // flits delivered per node per cycle in the window (each copy counts)
  bool drained = true;   // false: measured packets were still undelivered at the drain limit
  uint64_t end_cycle = 0;
  NetworkTotals totals;
};

TrafficResult run_traffic(Network& net, const TrafficParams& tp);

// Full statistics document (config, results, per-link utilisation, router stall totals).
nlohmann::json traffic_report(const Network& net, const TrafficParams& tp, const TrafficResult& r);

}  // namespace spikechip::arch::noc
