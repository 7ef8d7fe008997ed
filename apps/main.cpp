// spikechip command-line entry point: a thin shell over the library.
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <new>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "apps/cli.hpp"
#include "arch/chip_config.hpp"
#include "mapper/placement.hpp"
#include "base/error.hpp"
#include "base/strict_json.hpp"
#include "models/graph.hpp"
#include "spikechip/version.hpp"

namespace spikechip::cli {
std::vector<CommandEntry>& registry() {
  static std::vector<CommandEntry> entries;
  return entries;
}
static bool g_quiet = false;
static int g_exit_code = 0;
void set_exit_code(int code) { g_exit_code = code; }
bool quiet() { return g_quiet || !isatty(fileno(stderr)); }
void set_quiet(bool q) { g_quiet = q; }

void add_timesteps_option(CLI::App* cmd, int& T, const std::string& lead, const std::string& note) {
  cmd->add_option("-T,--timesteps", T, fmt::format("{}, 1..{} (default: the model's{})", lead, model::kMaxRunTimesteps, note))
      ->check(CLI::Range(1, model::kMaxRunTimesteps))
      ->default_str("the model's");
}

int chip_run_timesteps(int T, int model_timesteps, const std::string& model_dir) {
  const int t = T > 0 ? T : model_timesteps;
  if (t < 1 || t > model::kMaxRunTimesteps)
    throw UsageError(T > 0 ? fmt::format("-T {} is out of range 1..{}", t, model::kMaxRunTimesteps)
                           : fmt::format("{}: the model's timesteps {} are more than a chip run takes (1..{}); pass -T",
                                         model_dir, t, model::kMaxRunTimesteps));
  return t;
}

int parse_chips_option(const std::string& chips) {
  if (chips.empty()) return 0;
  if (chips == "auto") return -1;
  try {
    size_t pos = 0;
    const int n = std::stoi(chips, &pos);
    if (pos == chips.size() && n >= 1) return n;
  } catch (const std::exception&) {
  }
  throw UsageError("--chips '" + chips + "' must be 'auto' or a positive integer");
}

void add_chip_options(CLI::App* cmd, std::string& chip, std::vector<std::string>& sets, bool required) {
  std::string presets;
  for (const auto& p : arch::preset_names()) presets += (presets.empty() ? "" : ", ") + p;
  auto* c = cmd->add_option("--chip", chip, "Chip: a preset name (" + presets + ") or a chip config JSON (docs/chip-config.md)");
  if (required) c->required();
  cmd->add_option("--set", sets, "Override one chip-config key, KEY=VALUE, e.g. core.adder_lanes=32 (repeatable; "
                                  "'spikechip config describe' lists the keys)")
      ->allow_extra_args(false)
      ->always_capture_default(false);
}

void add_input_options(CLI::App* cmd, InputFlags& f) {
  cmd->add_option("--input", f.input,
                  "Input file or directory: .png/.jpg/.jpeg images, .npy/.npz arrays (u8, or normalised float "
                  "images; FILE.npz:NAME for one array), .pgm/.ppm, event traces .evt/.csv (docs/model-format.md \"Inputs\")")
      ->required();
  cmd->add_option("--image-transform", f.image_transform,
                  "PNG/JPEG to the model's input size: auto (an image of that size as it is, others the official "
                  "evaluation transform) | eval (always: bicubic resize of the shorter side to int(S/0.875), centre "
                  "crop S) | none (the size must match)")
      ->check(CLI::IsMember({"auto", "eval", "none"}))
      ->capture_default_str();
  cmd->add_option("--labels", f.labels,
                  "Labels file, one '<file name> <class index>' per line (default: labels.txt in an --input directory)");
}

model::InputOptions InputFlags::options() const {
  return model::InputOptions{model::image_transform_from_name(image_transform), labels};
}

std::string InputFlags::command_text() const {
  return (image_transform != "auto" ? " --image-transform " + image_transform : "") +
         (labels.empty() ? "" : " --labels " + labels);
}

void add_map_options(CLI::App* cmd, MapFlags& f, const std::string& prefix) {
  cmd->add_option("--placement", f.placement, prefix + fmt::format("placement: {}", fmt::join(mapper::placement_names(), " | ")))
      ->check(CLI::IsMember(mapper::placement_names()));
  cmd->add_option("--seed", f.seed, prefix + "seed of random / anneal placement")
      ->check(kNonNegative);
  cmd->add_option("--split", f.split, prefix + "min-cores | channels-first (avoid weight replication)")
      ->check(CLI::IsMember({"min-cores", "channels-first"}));
  cmd->add_flag("--unicast", f.unicast, prefix + "one packet per destination instead of multicast trees");
  cmd->add_option("--chips", f.chips, prefix + "auto | N: spread the model over several chips");
  CLI::Option* tm = cmd->add_flag("--time-multiplex", f.time_multiplex,
                prefix + "if the model does not fit: layers take turns on the cores in phases (weights reloaded from "
                         "DRAM, docs/architecture.md \"Phases\")");
  std::string phases_help = prefix + "with --time-multiplex, how the dataflow is cut into phases:";
  for (const auto& p : mapper::phase_partitioners()) phases_help += fmt::format(" {} = {};", p.name, p.help);
  cmd->add_option("--phases", f.phases, phases_help + " docs/mapper.md \"Phase partitioning\"")
      ->check(CLI::IsMember(mapper::phase_partitioner_names()))
      ->capture_default_str()
      ->needs(tm);
}

bool MapFlags::any_set() const { return command_text() != ""; }

std::string MapFlags::command_text() const {
  const MapFlags d;
  std::string s;
  if (placement != d.placement) s += " --placement " + placement;
  if (seed != d.seed) s += " --seed " + std::to_string(seed);
  if (split != d.split) s += " --split " + split;
  if (unicast) s += " --unicast";
  if (!chips.empty()) s += " --chips " + chips;
  if (time_multiplex) s += " --time-multiplex";
  if (phases != d.phases) s += " --phases " + phases;
  return s;
}

}  // namespace spikechip::cli

namespace {

int run_command(int argc, char** argv) {
  using namespace spikechip;
  // A file-size limit (ulimit -f) reached while writing: the write fails with EFBIG and the
  // command reports it (kWriteErrorExit), instead of the default action, a kill with a core dump.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"spikechip: cycle-accurate simulator of a Transformer-oriented neuromorphic chip"};
  app.set_version_flag("--version", std::string("spikechip ") + kVersion);
  app.require_subcommand(1);
  app.fallthrough();
  app.option_defaults()->always_capture_default();  // every --help shows the defaults
  auto& entries = cli::registry();
  std::stable_sort(entries.begin(), entries.end(),
                   [](const auto& a, const auto& b) { return a.order < b.order; });
  for (auto& e : entries) e.setup(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are "successful" parse errors with exit code 0.
    if (e.get_exit_code() == 0) return app.exit(e);
    // CLI11 reports "spikechip bogus" as "A subcommand is required"; name the unknown word instead.
    const auto rest = app.remaining(true);
    if (dynamic_cast<const CLI::RequiredError*>(&e) && !rest.empty()) {
      std::string cmd = "spikechip";
      for (CLI::App* a = &app; !a->get_subcommands().empty();) {
        a = a->get_subcommands().front();
        cmd += " " + a->get_name();
      }
      std::cerr << "spikechip: usage error: unknown " << (rest.front().starts_with("-") ? "option" : "subcommand")
                << " '" << rest.front() << "' (run '" << cmd << " --help' for the list)\n";
      return 2;
    }
    std::cerr << "spikechip: usage error: " << e.what() << " (run with --help for usage)\n";
    return 2;
  } catch (const UsageError& e) {
    std::cerr << "spikechip: usage error: " << e.what() << "\n";
    return 2;
  } catch (const WriteError& e) {  // an output the disk refused (full, not writable)
    std::cerr << "spikechip: error: " << e.what() << "\n";
    return kWriteErrorExit;
  } catch (const Error& e) {
    std::cerr << "spikechip: error: " << e.what() << "\n";
    return 1;
  } catch (const std::filesystem::filesystem_error& e) {
    // A path given by the user that the OS refuses (too long, not writable, ...): the user's to fix.
    std::cerr << "spikechip: error: " << excerpt(e.path1().string(), 240) << ": " << e.code().message()
              << "; check the path\n";
    return 1;
  } catch (const std::bad_alloc&) {
    // Not a defect of ours but a job larger than this machine: say so, and what to change.
    std::cerr << "spikechip: error: out of memory: this job needs more memory than the process can get; use a smaller "
                 "model, input, batch or chip, or a machine with more memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "spikechip: internal error: " << e.what() << "\n";
    return 1;
  }
  return cli::g_exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  const int code = run_command(argc, argv);
  // A result printed on standard output (config show, model info --json, the run summary) must not
  // be lost silently: an output that refuses it (a full disk, `>/dev/full`, `>&-`) is the error of
  // an output the disk refused, as coreutils' close_stdout makes it. A closed pipe is SIGPIPE's.
  errno = 0;
  std::cout.flush();
  const bool lost = !std::cout.good() || std::fflush(stdout) != 0 || std::ferror(stdout);
  if (lost && code == 0) {
    const int err = errno;
    std::cerr << "spikechip: error: writing the standard output failed (" << (err ? std::strerror(err) : "a write was refused: a full disk?")
              << "); check the file or pipe it goes to, then rerun\n";
    return spikechip::kWriteErrorExit;
  }
  return code;
}
