// DRAM figures of a time-multiplexed run report (report/dram_figures.hpp).
#include "report/dram_figures.hpp"

#include "arch/memory_controllers.hpp"

namespace spikechip::report {

using json = nlohmann::json;

void add_dram_figures(json& report, const arch::ChipConfig& chip, const std::vector<arch::ChipRunResult>& results) {
  const json mapping = report.value("mapping", json::object());
  if (mapping.value("phases", 0) < 2 || results.empty()) return;
  json& sum = report["summary"];
  json& d = report["dram"];
  const double bytes = d.value("weight_bytes", 0.0) + d.value("spill_write_bytes", 0.0) + d.value("spill_read_bytes", 0.0);
  const double peak = arch::dram_peak_bytes_per_s(chip), lat_s = sum.value("latency_s", 0.0);
  const double util = peak > 0 && lat_s > 0 ? bytes / (peak * lat_s) : 0.0;
  // The last input's node units (the cycle accounting's input): cycles its cores waited for
  // weights still loading, and for their phase to start, over the used cores' cycles.
  const arch::ChipRunResult& last = results.back();
  uint64_t weight_wait = 0, phase_wait = 0;
  for (const auto& ct : last.core_time) weight_wait += ct.waiting_dram, phase_wait += ct.waiting_phase;
  const double core_cycles = mapping.value("cores_used", 0.0) * double(last.run_cycles);
  const double share = core_cycles > 0 ? double(weight_wait) / core_cycles : 0.0;
  d["bytes_per_inference"] = bytes;
  d["peak_bytes_per_s"] = peak;
  d["bandwidth_utilisation"] = util;
  d["weight_stall_cycles"] = weight_wait;
  d["phase_wait_cycles"] = phase_wait;
  d["weight_stall_share"] = share;
  sum["dram_bytes_per_inference"] = bytes;
  sum["dram_bandwidth_utilisation"] = util;
  sum["weight_stall_share"] = share;
}

}  // namespace spikechip::report
