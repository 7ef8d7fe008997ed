// Latency-throughput sweeps over offered load and the saturation rule (arch/noc/sweep.hpp).
#include "arch/noc/sweep.hpp"

#include <cmath>
#include <cstdlib>

#include "base/error.hpp"

namespace spikechip::arch::noc {

std::vector<double> parse_rate_range(const std::string& spec, const std::string& what) {
  auto bad = [&] {
    return UsageError(what + ": '" + spec + "' is not FROM:TO:STEP with 0 < FROM <= TO and STEP > 0 (e.g. 0.02:0.4:0.02)");
  };
  double v[3];
  size_t pos = 0;
  for (int k = 0; k < 3; ++k) {
    const size_t end = k < 2 ? spec.find(':', pos) : spec.size();
    if (end == std::string::npos) throw bad();
    const std::string part = spec.substr(pos, end - pos);
    char* stop = nullptr;
    v[k] = std::strtod(part.c_str(), &stop);
    if (part.empty() || stop != part.c_str() + part.size() || !std::isfinite(v[k])) throw bad();
    pos = end + 1;
  }
  if (!(v[0] > 0 && v[1] >= v[0] && v[2] > 0)) throw bad();
  const double n = std::floor((v[1] - v[0]) / v[2] + 0.5);
  if (n > 10000) throw UsageError(what + ": '" + spec + "' has more than 10000 loads");
  std::vector<double> rates;
  for (int i = 0; i <= int(n); ++i) rates.push_back(v[0] + v[2] * i);  // multiplied, not summed: no drift
  return rates;
}

bool past_saturation(const TrafficResult& r, double zero_load_latency) {
  return !r.drained || r.accepted < kSaturationAccepted * r.offered ||
         r.avg_latency > kSaturationLatencyFactor * zero_load_latency;
}

Sweep run_sweep(const NetworkParams& np, TrafficParams tp, const std::vector<double>& rates,
                const std::function<void(size_t, const SweepPoint&)>& progress) {
  Sweep s;
  double zero_load = 0;
  for (size_t i = 0; i < rates.size(); ++i) {
    tp.rate = rates[i];
    Network net(np);
    SweepPoint pt;
    pt.rate = rates[i];
    pt.result = run_traffic(net, tp);
    if (i == 0) zero_load = pt.result.avg_latency;
    pt.saturated = past_saturation(pt.result, zero_load);
    s.points.push_back(pt);
    if (progress) progress(i, s.points.back());
    if (pt.saturated) {
      s.reached_saturation = true;
      break;
    }
    s.saturation_index = int(i);
  }
  return s;
}

}  // namespace spikechip::arch::noc
