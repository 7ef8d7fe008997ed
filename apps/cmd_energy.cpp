// `spikechip energy --report R.json --table T.json [--chip C.json]`: the energy of a finished run
// under another energy table, from the report's counted events (no re-simulation; docs/energy.md,
// docs/exploration.md). Sweeps use the same call for points that differ only in tech.*.
#include <iostream>
#include <memory>

#include "apps/cli.hpp"
#include "explore/sweep.hpp"
#include "base/strict_json.hpp"

namespace spikechip::cli {
namespace {

struct EnergyArgs {
  std::string report, table, chip;
};

RegisterCommand reg(65, [](CLI::App& app) {
  auto a = std::make_shared<EnergyArgs>();
  CLI::App* c = app.add_subcommand("energy", "Re-apply an energy table to a run report's event counts");
  c->add_option("--report", a->report, "report.json of spikechip run")->required();
  c->add_option("--table", a->table, "energy table JSON (arch/energy/*.json)")->required();
  c->add_option("--chip", a->chip, "chip config (default: the one recorded in the report)");
  c->callback([a] {
    std::optional<nlohmann::json> chip;
    if (!a->chip.empty()) {
      arch::ChipConfig cfg = arch::load_chip_config(a->chip);
      chip = arch::chip_config_to_json(cfg);
    }
    std::cout << explore::reapply_energy(read_json_file(a->report, "run report"), a->report, a->table, chip).dump(2)
              << "\n";
  });
});

}  // namespace
}  // namespace spikechip::cli
