// `spikechip energy --report R.json --table T [--chip C] [-o FILE]`: the energy of a finished run
// under another energy table (a file or a shipped table's name, e.g. 28nm), from the report's
// counted events (no re-simulation; docs/energy.md, docs/exploration.md). Sweeps use the same call
// for points that differ only in tech.*.
#include <iostream>
#include <memory>

#include "apps/cli.hpp"
#include "explore/sweep.hpp"
#include "report/report_writer.hpp"
#include "report/run_report.hpp"
#include "base/json_text.hpp"
#include "base/strict_json.hpp"

namespace spikechip::cli {
namespace {

struct EnergyArgs {
  std::string report, table, chip, out;
  std::vector<std::string> sets;
};

RegisterCommand reg(65, [](CLI::App& app) {
  auto a = std::make_shared<EnergyArgs>();
  CLI::App* c = app.add_subcommand("energy", "Re-apply an energy table to a run report's event counts");
  c->add_option("--report", a->report, "report.json (or run directory) of spikechip run")->required();
  c->add_option("--table", a->table, "energy table: a name (45nm, 28nm, 22nm) or a JSON file (arch/energy/*.json)")
      ->required();
  add_chip_options(c, a->chip, a->sets, false);
  c->get_option("--chip")->description("chip config (default: the one recorded in the report): a preset name or a file");
  c->add_option("-o,--output", a->out, "write the JSON here instead of stdout");
  c->callback([a] {
    std::optional<nlohmann::json> chip;
    if (!a->chip.empty()) {
      arch::ChipConfig cfg = arch::load_chip_config(a->chip, a->sets);
      chip = arch::chip_config_to_json(cfg);
    } else if (!a->sets.empty()) {
      throw UsageError("--set needs --chip (the chip whose keys it overrides)");
    }
    std::string path = a->report;
    const nlohmann::json rep = report::read_run_report(path);
    const auto table = arch::find_energy_table(a->table);
    const nlohmann::json energy =
        reading_json_of(path, "run report", [&] { return explore::reapply_energy(rep, path, table, chip); });
    const std::string text = json_text(energy, 2) + "\n";
    if (a->out.empty()) std::cout << text;
    else report::write_file_atomic(a->out, text), std::cout << "wrote " << a->out << "\n";
  });
});

}  // namespace
}  // namespace spikechip::cli
