// DRAM section of a run report (report/dram_figures.hpp).
#include "report/dram_figures.hpp"

#include <algorithm>
#include <string>

#include "arch/memory_controllers.hpp"

namespace spikechip::report {

using json = nlohmann::json;

json dram_memory_json(const arch::ChipConfig& chip) {
  std::vector<std::string> models;
  int channels = 0;
  auto use = [&](const std::string& model, int ch) {
    if (std::find(models.begin(), models.end(), model) == models.end()) models.push_back(model);
    channels += model == "channel" ? 1 : ch;
  };
  if (chip.memory_controllers.empty()) use(chip.dram.model, chip.dram.channels);
  for (const auto& mc : chip.memory_controllers) use(mc.model, mc.channels);
  std::string joined;
  for (const auto& m : models) joined += (joined.empty() ? "" : "+") + m;
  json d = {{"models", joined}, {"channels", channels}, {"memory_controllers", chip.memory_controllers.size()}};
  if (std::find(models.begin(), models.end(), "channel") != models.end())
    d["bytes_per_cycle"] = chip.dram.bytes_per_cycle, d["latency_cycles"] = chip.dram.latency_cycles;
  return d;
}

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
  // DRAM device models (arch/dram_timing.hpp), summed over them, per inference: bursts, activates
  // (each a row miss or conflict) and refresh windows, and the share of bursts that hit an open row.
  const json ev = report.value("events", json::object());
  if (ev.contains("dram_actions")) {
    const double n_in = std::max(1.0, report["run"].value("inputs", 1.0));
    double rd = 0, wr = 0, act = 0, ref = 0;
    for (auto& [model, a] : ev["dram_actions"].items())
      rd += a.value("read_bursts", 0.0), wr += a.value("write_bursts", 0.0), act += a.value("activates", 0.0),
          ref += a.value("refreshes", 0.0);
    d["device_read_bursts"] = rd / n_in;
    d["device_write_bursts"] = wr / n_in;
    d["device_activates"] = act / n_in;
    d["device_refreshes"] = ref / n_in;
    d["device_row_hit_rate"] = rd + wr > 0 ? 1.0 - act / (rd + wr) : 0.0;
  }
  sum["dram_bytes_per_inference"] = bytes;
  sum["dram_bandwidth_utilisation"] = util;
  sum["weight_stall_share"] = share;
}

}  // namespace spikechip::report
