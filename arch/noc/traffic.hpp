#pragma once
// Synthetic traffic (BookSim-style) over a Network: Bernoulli injection per node per cycle,
// classic destination patterns, warm-up / measurement windows, latency and throughput statistics.
// Used by `spikechip noc`, the tests and the benchmark.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arch/noc/network.hpp"

namespace spikechip::arch::noc {

enum class Pattern { Uniform, Transpose, BitComp, Hotspot, Neighbor };
Pattern parse_pattern(const std::string& name);  // throws UsageError naming the value
const char* pattern_name(Pattern p);

struct TrafficParams {
  Pattern pattern = Pattern::Uniform;
  double rate = 0.1;            // offered flits per node per cycle (packets: rate / packet_size)
  int packet_size = 4;          // flits
  uint64_t warmup = 1000;
  uint64_t measure = 10000;
  int multicast_fanout = 1;     // destinations per packet (1 = unicast)
  uint64_t seed = 1;
  double hotspot_fraction = 0.2;  // hotspot: share of packets sent to the centre node
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
