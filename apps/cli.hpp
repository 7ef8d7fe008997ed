#pragma once
// Each apps/cmd_*.cpp registers its subcommands with a static RegisterCommand object; the files
// are compiled into the executable itself (not the static library), so the registrations are kept.
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "models/inputs.hpp"

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

// For unsigned options (seeds, counts, caps): CLI11 reads "-1" into one as 2^64-1 (strtoull), so
// `--seed -1` or `--trace-max-events -1` passed as huge values. A minus sign is a usage error.
inline const CLI::Validator kNonNegative(
    [](std::string& v) { return v.find('-') == std::string::npos ? std::string() : "must be >= 0, got " + v; },
    "", "NonNegative");  // no description: the help keeps "UINT=1"

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

// -T,--timesteps of a chip run (`run`, and `map`, whose mapping is for a T): 1..kMaxRunTimesteps,
// 0 when absent. Help text: "<lead>, 1..64 (default: the model's<note>)".
void add_timesteps_option(CLI::App* cmd, int& T, const std::string& lead, const std::string& note = "");
// The timesteps of a chip run: T if given, else the model's, refused (UsageError naming the model
// directory) when above what a chip run takes.
int chip_run_timesteps(int T, int model_timesteps, const std::string& model_dir);

// --chip (a preset name or a chip config file) and the repeatable --set KEY=VALUE of every command
// that takes a chip; both go to arch::load_chip_config(chip, sets).
void add_chip_options(CLI::App* cmd, std::string& chip, std::vector<std::string>& sets, bool required = true);

// The mapper's options of `map`, and of `run` when it maps the model itself (also what a sweep
// point passes): declared once here. `prefix` starts each help text ("When mapping here: ").
struct MapFlags {
  std::string placement = "anneal", split = "min-cores", chips, phases = "greedy";
  uint64_t seed = 1;
  bool time_multiplex = false, unicast = false;
  // Any option other than its default (run refuses them with --mapping).
  bool any_set() const;
  // " --placement X ..." for a command line shown in reports (only the options not at their default).
  std::string command_text() const;
};
void add_map_options(CLI::App* cmd, MapFlags& f, const std::string& prefix = "");

// --input with --image-transform and --labels, of `infer` and `run` (models::read_inputs).
struct InputFlags {
  std::string input, image_transform = "auto", labels;
  // " --image-transform X --labels F" for a command line shown in reports (only options set).
  std::string command_text() const;
  model::InputOptions options() const;
};
void add_input_options(CLI::App* cmd, InputFlags& f);

// Exit code of `spikechip run` when the run stopped before every input finished (a stop signal,
// apps/stop_signals.hpp, or --time-limit), and of `spikechip sweep` stopped by a signal: the
// outputs are written (status "partial"), but they are not a result.
constexpr int kRunPartialExit = 3;
// A command that completed but must not exit 0 sets its code here; main returns it.
void set_exit_code(int code);

// True when --quiet was given or stderr is not a terminal (progress lines are suppressed).
bool quiet();
void set_quiet(bool q);

}  // namespace spikechip::cli
