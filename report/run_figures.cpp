// Power, area and per-timestep figures of a run report (report/run_figures.hpp).
#include "report/run_figures.hpp"

#include <algorithm>

#include "arch/area.hpp"
#include "arch/energy.hpp"

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

  // Per timestep, means over the inputs (the same inputs as the summary, so the timesteps sum to
  // it): the cycles from the previous timestep's end to this one's (the last one until the result
  // is at the host), the work tagged with the timestep (spike events emitted, synaptic ops, encoder
  // MACs, SDSA ops), the network packets and flits it sent and the energy of its events (static
  // energy for its cycles; a phase's weight reload counts to timestep 0).
  int T = 0;
  for (const auto& r : results) T = std::max(T, r.T);
  const arch::EnergyTable etab = arch::load_energy_table(arch::resolve_energy_table(chip));
  json steps = json::array();
  const double n = std::max<double>(1, double(results.size()));
  for (int t = 0; t < T; ++t) {
    const size_t k = size_t(t);
    double end = 0, cyc = 0, spikes = 0, sops = 0, macs = 0, sdsa = 0, packets = 0, flits = 0, energy = 0;
    for (const auto& r : results) {
      if (k < r.timestep_end_cycles.size()) end += double(r.timestep_end_cycles[k]);
      if (k < r.step_cycles.size()) cyc += double(r.step_cycles[k]);
      if (k < r.step_packets.size()) packets += double(r.step_packets[k]), flits += double(r.step_flits[k]);
      if (k < r.step_events.size()) energy += arch::apply_energy(r.step_events[k], etab, chip).total_pj;
      for (const auto& node : r.stats)
        if (k < node.size()) {
          const auto& s = node[k];
          spikes += double(s.spikes), sops += double(s.sops), macs += double(s.macs), sdsa += double(s.sdsa_ops);
        }
    }
    steps.push_back({{"timestep", t}, {"end_cycles", end / n}, {"cycles", cyc / n}, {"spikes", spikes / n},
                     {"sops", sops / n}, {"macs", macs / n}, {"sdsa_ops", sdsa / n}, {"packets", packets / n},
                     {"flits", flits / n}, {"energy_pJ", energy / n}});
  }
  report["timesteps"] = steps;
}

}  // namespace spikechip::report
