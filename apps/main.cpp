// spikechip command-line entry point: a thin shell over the library.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <unistd.h>

#include "apps/cli.hpp"
#include "base/error.hpp"
#include "base/strict_json.hpp"
#include "spikechip/version.hpp"

namespace spikechip::cli {
std::vector<CommandEntry>& registry() {
  static std::vector<CommandEntry> entries;
  return entries;
}
static bool g_quiet = false;
bool quiet() { return g_quiet || !isatty(fileno(stderr)); }
void set_quiet(bool q) { g_quiet = q; }

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
}  // namespace spikechip::cli

int main(int argc, char** argv) {
  using namespace spikechip;
  CLI::App app{"spikechip: cycle-accurate simulator of a Transformer-oriented neuromorphic chip"};
  app.set_version_flag("--version", std::string("spikechip ") + kVersion);
  app.require_subcommand(1);
  app.fallthrough();
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
  } catch (const Error& e) {
    std::cerr << "spikechip: error: " << e.what() << "\n";
    return 1;
  } catch (const std::filesystem::filesystem_error& e) {
    // A path given by the user that the OS refuses (too long, not writable, ...): the user's to fix.
    std::cerr << "spikechip: error: " << excerpt(e.path1().string(), 240) << ": " << e.code().message()
              << "; check the path\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "spikechip: internal error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
