// Measured firing rates for the mapper's traffic estimate (docs/mapper.md, "Routes / traffic").
#include <fmt/format.h>

#include "mapper/mapper.hpp"
#include "models/inputs.hpp"
#include "base/error.hpp"
#include "base/strict_json.hpp"

namespace spikechip::mapper {

std::map<std::string, double> measured_rates(const model::Graph& g, const std::vector<model::RunResult>& runs) {
  std::map<std::string, double> out;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const model::Node& n = g.nodes[i];
    if (n.op != model::Op::LIF) continue;
    double spikes = 0, updates = 0;
    for (const auto& r : runs) {
      if (i >= r.stats.size()) continue;
      for (const auto& s : r.stats[i]) spikes += double(s.spikes);
      updates += double(n.shape.size()) * double(r.stats[i].size());
    }
    if (updates > 0) out[n.name] = spikes / updates;
  }
  return out;
}

std::map<std::string, double> rates_from_inputs(const model::Graph& g, const std::string& path, int max_inputs) {
  std::vector<model::InputItem> items = model::read_inputs(path, g);
  if (items.empty()) throw Error(path + ": no input found to measure firing rates on");
  if (max_inputs > 0 && items.size() > size_t(max_inputs)) items.resize(size_t(max_inputs));
  model::GoldenExecutor ge(g);
  std::vector<model::RunResult> runs;
  for (const auto& it : items) runs.push_back(ge.run_item(it, g.timesteps));
  return measured_rates(g, runs);
}

std::map<std::string, double> read_rates_file(const model::Graph& g, const std::string& path) {
  nlohmann::json j = read_json_file(path, "firing rates");
  StrictJson sj(j, path);
  sj.expect_object();
  std::map<std::string, double> rates;
  std::map<std::string, StrictJson> where;
  if (sj.has("schema") && sj.has("layers")) {  // a golden report: LIF layers' measured firing_rate
    StrictJson ls = sj.at("layers");
    ls.expect_array();
    for (size_t i = 0; i < ls.size(); ++i) {
      StrictJson l = ls.at(i);
      if (l.at("op").as_string() != model::op_name(model::Op::LIF)) continue;
      const std::string name = l.at("name").as_string();
      rates[name] = l.at("firing_rate").as_double(0, 1);
      where.emplace(name, l.at("name"));
    }
    if (rates.empty()) sj.at("layers").fail("the report has no LIF layer with a firing_rate");
  } else {  // {"lif node name": rate}
    for (auto it = j.begin(); it != j.end(); ++it) {
      rates[it.key()] = sj.at(it.key()).as_double(0, 1);
      where.emplace(it.key(), sj.at(it.key()));
    }
  }
  for (const auto& [name, r] : rates) {
    const int k = g.find(name);
    if (k < 0 || g.nodes[size_t(k)].op != model::Op::LIF)
      where.at(name).fail(fmt::format("'{}' is not a LIF node of model '{}' (rates from another model?)", name, g.name));
  }
  return rates;
}

}  // namespace spikechip::mapper
