// `spikechip config show --chip NAME|FILE [--set k=v]...`: the resolved chip config (base merged,
// overrides applied, every key with its effective value); `spikechip config describe`: every key
// with type, unit, range, default and meaning, from the key table of arch/chip_config.cpp.
#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "base/json_text.hpp"
#include "apps/cli.hpp"
#include "arch/chip_config.hpp"

namespace spikechip::cli {
namespace {

struct ConfigArgs {
  std::string chip;
  std::vector<std::string> sets;
  std::string format = "text";
};

RegisterCommand reg(70, [](CLI::App& app) {
  CLI::App* g = command_group(app, "config", "Chip configurations: show a resolved config, describe every key");
  auto a = std::make_shared<ConfigArgs>();
  CLI::App* show = g->add_subcommand("show", "Print the resolved chip config (base merged, --set applied) as JSON");
  add_chip_options(show, a->chip, a->sets);
  show->callback([a] {
    std::cout << json_text(arch::chip_config_to_json(arch::load_chip_config(a->chip, a->sets)), 2) << "\n";
  });
  CLI::App* desc = g->add_subcommand("describe", "Every chip-config key: type, unit, range, default, meaning");
  desc->add_option("--format", a->format, "text | markdown | json")
      ->check(CLI::IsMember({"text", "markdown", "json"}))
      ->capture_default_str();
  desc->callback([a] {
    const auto keys = arch::chip_config_keys();
    if (a->format == "markdown") {
      std::cout << arch::chip_config_keys_markdown();
    } else if (a->format == "json") {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& k : keys)
        j.push_back({{"key", k.path}, {"type", k.type}, {"unit", k.unit}, {"range", k.range},
                     {"default", k.default_value}, {"meaning", k.meaning}});
      std::cout << json_text(j, 2) << "\n";
    } else {
      for (const auto& k : keys)
        std::cout << fmt::format("{}  ({}, {}{}; default {})\n    {}\n", k.path, k.type,
                                 k.unit == "-" ? "" : k.unit + ", ", k.range,
                                 k.default_value.is_null() ? "required" : json_text(k.default_value), k.meaning);
    }
  });
});

}  // namespace
}  // namespace spikechip::cli
