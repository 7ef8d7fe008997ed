// spikechip map: model directory + chip config -> mapping JSON and a summary (docs/mapper.md).
#include <fstream>
#include <iostream>
#include <memory>

#include "apps/cli.hpp"
#include "arch/chip_config.hpp"
#include "mapper/mapper.hpp"
#include "sim/error.hpp"
#include "sim/strict_json.hpp"

#include "models/graph_io.hpp"

namespace spikechip::cli {
namespace {

struct MapArgs {
  std::string model, chip, out, summary_json, rates;
  std::string placement = "anneal", chips = "", split = "min-cores";
  uint64_t seed = 1;
  double rate = 0.2;
  bool time_multiplex = false, unicast = false;
};

void run_map(const MapArgs& a) {
  mapper::MapOptions o;
  o.placement = a.placement, o.seed = a.seed, o.default_rate = a.rate, o.split = a.split;
  o.time_multiplex = a.time_multiplex, o.unicast = a.unicast;
  if (a.chips == "auto") {
    o.chips = -1;
  } else if (!a.chips.empty()) {
    try {
      size_t pos = 0;
      o.chips = std::stoi(a.chips, &pos);
      if (pos != a.chips.size() || o.chips < 1) throw std::invalid_argument("");
    } catch (const std::exception&) {
      throw UsageError("--chips '" + a.chips + "' must be 'auto' or a positive integer");
    }
  }
  if (!a.rates.empty()) {  // {"lif node name": firing rate, ...}, e.g. from a golden run
    nlohmann::json j = read_json_file(a.rates, "firing rates");
    StrictJson sj(j, a.rates);
    sj.expect_object();
    for (auto it = j.begin(); it != j.end(); ++it) o.rates[it.key()] = sj.at(it.key()).as_double(0, 1);
  }
  model::Graph g = model::load_model(a.model);
  arch::ChipConfig chip = arch::load_chip_config(a.chip);
  for (const auto& [name, r] : o.rates)
    if (g.find(name) < 0 || g.nodes[g.find(name)].op != model::Op::LIF)
      throw Error(a.rates + ": /" + name + ": not a LIF node of model '" + g.name + "'");
  mapper::Mapping m = mapper::map_model(g, chip, o);
  mapper::save_mapping(m, a.out);
  if (!a.summary_json.empty()) {
    std::ofstream f(a.summary_json);
    f << m.summary.dump(1) << "\n";
    if (!f) throw Error(a.summary_json + ": cannot write the summary");
  }
  std::cout << mapper::summary_text(m) << "mapping written to " << a.out << "\n";
}

RegisterCommand reg(40, [](CLI::App& app) {
  auto args = std::make_shared<MapArgs>();
  CLI::App* c = app.add_subcommand("map", "Map a model onto a chip: partition, place, route (docs/mapper.md)");
  c->add_option("--model", args->model, "model directory (graph.json + weights.safetensors)")->required();
  c->add_option("--chip", args->chip, "chip config JSON (docs/chip-config.md)")->required();
  c->add_option("-o,--output", args->out, "mapping JSON to write")->required();
  c->add_option("--placement", args->placement, "naive | random | snake | anneal")
      ->check(CLI::IsMember({"naive", "random", "snake", "anneal"}));
  c->add_option("--seed", args->seed, "seed of random / anneal placement");
  c->add_option("--rate", args->rate, "firing rate assumed for LIFs without a measured rate")
      ->check(CLI::Range(0.0, 1.0));
  c->add_option("--rates", args->rates, "JSON {lif name: firing rate} measured by a golden run");
  c->add_option("--chips", args->chips, "auto | N: spread over several chips");
  c->add_option("--split", args->split, "min-cores | channels-first (avoid weight replication)")
      ->check(CLI::IsMember({"min-cores", "channels-first"}));
  c->add_flag("--time-multiplex", args->time_multiplex, "layers take turns on cores (not implemented yet)");
  c->add_flag("--unicast", args->unicast, "one packet per destination instead of multicast trees");
  c->add_option("--summary-json", args->summary_json, "also write the summary to this JSON file");
  c->callback([args] { run_map(*args); });
});

}  // namespace
}  // namespace spikechip::cli
