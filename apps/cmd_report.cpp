// `spikechip report`: (re)writes the human and spreadsheet outputs from an existing report JSON,
// e.g. after changing the page template, or to render a sweep's results file as HTML.
#include <fstream>
#include <iostream>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "apps/cli.hpp"
#include "report/report_writer.hpp"
#include "report/run_report.hpp"
#include "base/error.hpp"
#include "base/file_util.hpp"
#include "base/strict_json.hpp"

namespace {

struct ReportOptions {
  std::string input;
  std::string out;
  bool sweep = false;
};

const spikechip::cli::RegisterCommand kRegister(80, [](CLI::App& app) {
  auto opts = std::make_shared<ReportOptions>();
  auto* cmd = app.add_subcommand("report", "Write report.html and the CSV files from a run's report.json "
                                           "(or, with --sweep, a sweep page from a sweep JSON)");
  cmd->add_option("input", opts->input, "report.json (or run directory) of a run, or the sweep JSON with --sweep")->required();
  cmd->add_option("-o,--output", opts->out, "output directory (run) or .html file (sweep)")->required();
  cmd->add_flag("--sweep", opts->sweep, "input is a sweep results JSON (docs/reports.md)");
  cmd->callback([opts] {
    std::string path = opts->input;
    if (!opts->sweep) spikechip::check_output_dir(opts->out);  // a file there: exit 1 before any work
    const nlohmann::json j = opts->sweep ? spikechip::read_json_file(path, "sweep JSON") : spikechip::report::read_run_report(path);
    if (opts->sweep) {
      spikechip::reading_json_of(opts->input, "sweep JSON", [&] { spikechip::report::write_sweep_html(j, opts->out); });
      std::cout << "wrote " << opts->out << "\n";
    } else {
      spikechip::reading_json_of(path, "run report", [&] { spikechip::report::write_run_outputs(j, opts->out); });
      std::cout << "wrote " << opts->out << "/{report.json,report.html,stats.txt,layers.csv,cores.csv,links.csv,inputs.csv,energy.csv,timesteps.csv}\n";
    }
  });
});

}  // namespace
