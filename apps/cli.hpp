#pragma once
// Each apps/cmd_*.cpp registers its subcommands with a static RegisterCommand object; the files
// are compiled into the executable itself (not the static library), so the registrations are kept.
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace spikechip::cli {

using CommandSetup = std::function<void(CLI::App& app)>;

struct CommandEntry {
  int order;  // position in --help; lower first
  CommandSetup setup;
};

std::vector<CommandEntry>& registry();

struct RegisterCommand {
  RegisterCommand(int order, CommandSetup setup) { registry().push_back({order, std::move(setup)}); }
};

// The subcommand group `name` (e.g. "model"), created on first use: several cmd_*.cpp files add
// subcommands to one group ("model info", "model build"), and CLI11 rejects duplicate names.
inline CLI::App* command_group(CLI::App& app, const std::string& name, const std::string& description) {
  auto found = app.get_subcommands([&](CLI::App* s) { return s->get_name() == name; });
  if (!found.empty()) return found.front();
  CLI::App* g = app.add_subcommand(name, description);
  g->require_subcommand(1);
  return g;
}

// The --chips value of map and run: "auto" -> -1 (as many as needed), "" -> 0 (the chip file's
// own count), N -> N. Throws UsageError otherwise.
int parse_chips_option(const std::string& chips);

// True when --quiet was given or stderr is not a terminal (progress lines are suppressed).
bool quiet();
void set_quiet(bool q);

}  // namespace spikechip::cli
