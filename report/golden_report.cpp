// The golden executor's JSON report (schema spikechip.golden-report/1, docs/golden.md).
#include "report/golden_report.hpp"

#include "base/error.hpp"
#include "spikechip/version.hpp"

namespace spikechip::report {

using model::Graph;
using model::kEnergyAcPj;
using model::kEnergyMacPj;
using model::Node;
using model::Op;
using model::RunResult;
using model::StepStats;

nlohmann::json make_golden_report(const Graph& g, const RunResult& r, const ReportOptions& o) {
  return make_golden_report(g, std::vector<RunResult>{r}, std::vector<ReportOptions>{o});
}

nlohmann::json make_golden_report(const Graph& g, const std::vector<RunResult>& runs, const std::vector<ReportOptions>& opts) {
  using nlohmann::json;
  if (runs.empty() || runs.size() != opts.size()) throw Error("make_golden_report: needs one ReportOptions per run");
  const int T = runs.front().T;
  // SDSA additions are accumulates like SOPs (mspk_ops.py counts them in AC_dense as well).
  auto energy = [](const StepStats& s) {
    return kEnergyMacPj * double(s.macs) + kEnergyAcPj * double(s.sops + s.sdsa_ops);
  };
  auto add = [](StepStats& a, const StepStats& x) {
    a.spikes += x.spikes, a.sops += x.sops, a.macs += x.macs, a.sdsa_ops += x.sdsa_ops;
    a.dense_ops += x.dense_ops, a.saturations += x.saturations;
  };
  json layers = json::array();
  StepStats tot;
  double e_tot = 0;
  int64_t neurons = 0;  // LIF neuron updates over all inputs and timesteps
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    std::vector<StepStats> per(T);
    for (const RunResult& r : runs) {
      if (r.T != T) throw Error("make_golden_report: all runs must have the same number of timesteps");
      for (int t = 0; t < T; ++t) add(per[t], r.stats[i][t]);
    }
    StepStats s;
    json pt = {{"spikes", json::array()}, {"sops", json::array()}, {"macs", json::array()},
               {"sdsa_ops", json::array()}, {"saturations", json::array()}};
    for (const StepStats& x : per) {
      add(s, x);
      pt["spikes"].push_back(x.spikes), pt["sops"].push_back(x.sops), pt["macs"].push_back(x.macs);
      pt["sdsa_ops"].push_back(x.sdsa_ops), pt["saturations"].push_back(x.saturations);
    }
    const int64_t updates = n.shape.size() * T * int64_t(runs.size());
    if (n.op == Op::LIF) neurons += updates;
    layers.push_back({{"name", n.name},
                      {"op", op_name(n.op)},
                      {"shape", {n.shape.c, n.shape.h, n.shape.w}},
                      {"spikes", s.spikes},
                      {"firing_rate", n.op == Op::LIF ? double(s.spikes) / double(updates) : 0.0},
                      {"sops", s.sops},
                      {"macs", s.macs},
                      {"sdsa_ops", s.sdsa_ops},
                      {"dense_ops", s.dense_ops},
                      {"saturations", s.saturations},
                      {"paper_energy_pJ", energy(s)},
                      {"per_timestep", std::move(pt)}});
    add(tot, s);
    e_tot += energy(s);
  }
  json inputs = json::array(), preds = json::array();
  const Node& outn = g.output();
  const bool has_scale = outn.quant.contains("scale") && outn.quant["scale"].is_number();
  for (size_t k = 0; k < runs.size(); ++k) {
    const RunResult& r = runs[k];
    StepStats s;
    for (const auto& node : r.stats)
      for (const auto& x : node) add(s, x);
    json in = {{"index", k},          {"origin", opts[k].input_origin}, {"label", opts[k].label},
               {"prediction", r.prediction}, {"spikes", s.spikes},      {"sops", s.sops},
               {"macs", s.macs},      {"sdsa_ops", s.sdsa_ops},         {"saturations", s.saturations},
               {"paper_energy_pJ", energy(s)}, {"output_acc", r.output_acc}};
    if (has_scale) {
      const double sc = outn.quant["scale"].get<double>();
      json lg = json::array();
      for (int64_t a : r.output_acc) lg.push_back(double(a) * sc / r.T);
      in["logits"] = lg;
    }
    inputs.push_back(std::move(in));
    preds.push_back(r.prediction);
  }
  return {{"schema", "spikechip.golden-report/1"},
          {"tool", {{"name", "spikechip"}, {"version", kVersion}}},
          {"units",
           {{"_pJ", "picojoules"},
            {"(no suffix)", "counts (spikes, operations, saturated values) or ratios in [0,1] (firing_rate = "
                            "spikes per neuron per timestep)"}}},
          {"model", {{"name", g.name}, {"provenance", g.provenance}}},
          {"energy_constants_pJ", {{"mac", kEnergyMacPj}, {"ac", kEnergyAcPj}}},
          {"run", {{"timesteps", T}, {"inputs", runs.size()}}},
          {"summary",
           {{"spikes", tot.spikes},
            {"firing_rate", neurons ? double(tot.spikes) / double(neurons) : 0.0},
            {"sops", tot.sops},
            {"macs", tot.macs},
            {"sdsa_ops", tot.sdsa_ops},
            {"dense_ops", tot.dense_ops},
            {"saturations", tot.saturations},
            {"paper_energy_pJ", e_tot},
            {"paper_energy_pJ_per_input", e_tot / double(runs.size())},
            {"top1_predictions", preds}}},
          {"inputs", std::move(inputs)},
          {"layers", std::move(layers)}};
}

}  // namespace spikechip::report
