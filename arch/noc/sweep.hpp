#pragma once
// Latency-throughput curves: one synthetic-traffic run per offered load, a fresh network each,
// and the saturation point (BookSim-style experiment, `spikechip noc --sweep-rates`). The
// saturation rule is declared once here and shared by the command, its plot and the reference-
// curve test (tests/cpp/test_noc_reference.cpp), so they cannot disagree on what "saturated" is.
#include <functional>
#include <string>
#include <vector>

#include "arch/noc/network.hpp"
#include "arch/noc/traffic.hpp"

namespace spikechip::arch::noc {

// "A:B:S" -> A, A+S, ... up to B (inclusive within half a step). Throws UsageError naming `what`.
std::vector<double> parse_rate_range(const std::string& spec, const std::string& what);

// A load is past saturation when its measured packets do not all arrive (the run never drains),
// the network accepts less than kSaturationAccepted of the offered load, or the mean latency
// exceeds kSaturationLatencyFactor x the zero-load latency (the latency at the lowest load of
// the curve): the point where the curve turns up, as in BookSim's latency_thres stop.
inline constexpr double kSaturationLatencyFactor = 3.0;
inline constexpr double kSaturationAccepted = 0.95;
bool past_saturation(const TrafficResult& r, double zero_load_latency);

struct SweepPoint {
  double rate = 0;
  TrafficResult result;
  bool saturated = false;
};

struct Sweep {
  std::vector<SweepPoint> points;  // in rate order; stops at the first saturated point
  int saturation_index = -1;       // last point before saturation (-1: the first load already was)
  bool reached_saturation = false; // false: every load of the grid was below saturation
  // Saturation throughput: the accepted load of the last point before saturation.
  double saturation_accepted() const {
    return saturation_index >= 0 ? points[size_t(saturation_index)].result.accepted : 0.0;
  }
};

// Runs the loads in order on fresh networks of parameters np; stops after the first saturated
// load (beyond it a run only takes longer and says nothing new). progress(i, point) after each.
Sweep run_sweep(const NetworkParams& np, TrafficParams tp, const std::vector<double>& rates,
                const std::function<void(size_t, const SweepPoint&)>& progress = {});

}  // namespace spikechip::arch::noc
