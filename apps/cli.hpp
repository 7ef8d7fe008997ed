#pragma once
// Each apps/cmd_*.cpp registers its subcommands with a static RegisterCommand object; the files
// are compiled into the executable itself (not the static library), so the registrations are kept.
#include <CLI/CLI.hpp>
#include <functional>
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

// True when --quiet was given or stderr is not a terminal (progress lines are suppressed).
bool quiet();
void set_quiet(bool q);

}  // namespace spikechip::cli
