// spikechip map: model directory + chip config -> mapping JSON and a summary (docs/mapper.md).
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "apps/cli.hpp"
#include "arch/chip_config.hpp"
#include "mapper/mapper.hpp"
#include "mapper/placement.hpp"
#include "base/error.hpp"
#include "base/file_util.hpp"
#include "base/json_text.hpp"
#include "base/strict_json.hpp"

#include "models/graph_io.hpp"

namespace spikechip::cli {
namespace {

struct MapArgs {
  std::vector<std::string> sets;
  std::string model, chip, out, summary_json, rates, rates_inputs;
  int rate_samples = 4, T = 0;  // T 0: the model's
  MapFlags map;
  double rate = 0.2;
};

void run_map(const MapArgs& a) {
  mapper::MapOptions o;
  o.placement = a.map.placement, o.seed = a.map.seed, o.default_rate = a.rate, o.split = a.map.split;
  o.time_multiplex = a.map.time_multiplex, o.unicast = a.map.unicast;
  o.phases = a.map.phases;
  o.chips = parse_chips_option(a.map.chips);
  check_output_file(a.out);
  if (!a.summary_json.empty()) check_output_file(a.summary_json);
  model::Graph g = model::load_model(a.model);
  g.timesteps = chip_run_timesteps(a.T, g.timesteps, a.model);  // a mapping is for a T (run --mapping checks it)
  arch::ChipConfig chip = arch::load_chip_config(a.chip, a.sets);
  if (!a.rates.empty()) o.rates = mapper::read_rates_file(g, a.rates);
  if (!a.rates_inputs.empty()) o.rates = mapper::rates_from_inputs(g, a.rates_inputs, a.rate_samples);
  mapper::Mapping m = mapper::map_model(g, chip, o);
  mapper::save_mapping(m, a.out);
  if (!a.summary_json.empty()) write_file_atomic(a.summary_json, json_text(m.summary, 1) + "\n");
  std::cout << mapper::summary_text(m) << "mapping written to " << a.out << "\n";
}

RegisterCommand reg(40, [](CLI::App& app) {
  auto args = std::make_shared<MapArgs>();
  CLI::App* c = app.add_subcommand("map", "Map a model onto a chip: partition, place, route (docs/mapper.md)");
  c->add_option("--model", args->model, "model directory (graph.json + weights.safetensors)")->required();
  add_chip_options(c, args->chip, args->sets);
  c->add_option("-o,--output", args->out, "mapping JSON to write")->required();
  add_timesteps_option(c, args->T, "Timesteps the mapping is for", "; 'run --mapping' needs the same -T");
  add_map_options(c, args->map);
  c->add_option("--rate", args->rate, "firing rate assumed for LIFs without a measured rate")
      ->check(CLI::Range(0.0, 1.0));
  auto* rates = c->add_option("--rates", args->rates,
                              "JSON {lif name: firing rate}, or a golden report (spikechip infer -o) to take them from");
  c->add_option("--rates-from-inputs", args->rates_inputs,
                "measure firing rates with the golden executor on these inputs (file or directory)")
      ->excludes(rates);
  c->add_option("--rate-samples", args->rate_samples, "inputs used by --rates-from-inputs (default 4)")
      ->check(CLI::Range(1, 1000000));
  c->add_option("--summary-json", args->summary_json, "also write the summary to this JSON file");
  c->callback([args] { run_map(*args); });
});

}  // namespace
}  // namespace spikechip::cli
