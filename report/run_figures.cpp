// Power, area and per-timestep figures of a run report (report/run_figures.hpp).
#include "report/run_figures.hpp"

#include <algorithm>

#include "arch/area.hpp"

namespace spikechip::report {

using json = nlohmann::json;

json area_json(const arch::ChipConfig& chip) {
  const arch::AreaBreakdown a = arch::chip_area(chip);
  json per_core = json::object();
  for (const auto& [k, v] : a.per_core_um2) per_core[k] = v;
  return {{"model", "docs/architecture.md#area"}, {"node_nm", a.node_nm}, {"scale", a.scale},
          {"cores", a.cores}, {"core_um2", a.core_um2}, {"per_core_um2", per_core}, {"total_mm2", a.total_mm2}};
}

void add_run_figures(json& report, const arch::ChipConfig& chip, const std::vector<arch::ChipRunResult>& results) {
  json& sum = report["summary"];
  // Average power over an inference: its energy spread over its latency.
  const double lat_s = sum.value("latency_s", 0.0);
  const double to_w = lat_s > 0 ? 1e-12 / lat_s : 0.0;
  json comp = json::object();
  const json energy = report.value("energy_by_component_pJ", json::object());
  for (const auto& [k, v] : energy.items()) comp[k] = v.get<double>() * to_w;
  const double p = sum.value("energy_pJ", 0.0) * to_w;
  report["power"] = {{"average_W", p}, {"by_component_W", comp}};
  sum["power_W"] = p;
  double sdsa = 0;  // per inference, as the layers' counts (energy_per_sop_pJ divides by SOPs + these)
  const json layers = report.value("layers", json::array());
  for (const auto& l : layers) sdsa += l.value("sdsa_ops", 0.0);
  sum["sdsa_ops"] = sdsa;
  report["area"] = area_json(chip);
  sum["area_mm2"] = report["area"]["total_mm2"];

  // Per timestep, means over the complete inputs (all inputs when none finished): the cycles from
  // the previous timestep's end to this one's (the Output node done), and the work tagged with
  // the timestep (spike events emitted, synaptic ops, encoder MACs, SDSA ops).
  std::vector<const arch::ChipRunResult*> use;
  for (const auto& r : results)
    if (r.complete) use.push_back(&r);
  if (use.empty())
    for (const auto& r : results) use.push_back(&r);
  int T = 0;
  for (const auto* r : use) T = std::max(T, r->T);
  json steps = json::array();
  const double n = std::max<double>(1, double(use.size()));
  for (int t = 0; t < T; ++t) {
    double end = 0, cyc = 0, spikes = 0, sops = 0, macs = 0, sdsa = 0;
    for (const auto* r : use) {
      if (size_t(t) < r->timestep_end_cycles.size()) {
        const double e = double(r->timestep_end_cycles[size_t(t)]);
        const double prev = t > 0 ? double(r->timestep_end_cycles[size_t(t) - 1]) : 0.0;
        end += e, cyc += std::max(0.0, e - prev);
      }
      for (const auto& node : r->stats)
        if (size_t(t) < node.size()) {
          const auto& s = node[size_t(t)];
          spikes += double(s.spikes), sops += double(s.sops), macs += double(s.macs), sdsa += double(s.sdsa_ops);
        }
    }
    steps.push_back({{"timestep", t}, {"end_cycles", end / n}, {"cycles", cyc / n}, {"spikes", spikes / n},
                     {"sops", sops / n}, {"macs", macs / n}, {"sdsa_ops", sdsa / n}});
  }
  report["timesteps"] = steps;
}

}  // namespace spikechip::report
