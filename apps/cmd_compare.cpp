// `spikechip compare A B [-o DIR] [--summary-only]`: two run reports side by side, text on stdout,
// and with -o compare.json + compare.html in DIR (docs/reports.md, "Comparing two runs").
#include <filesystem>
#include <iostream>
#include <memory>

#include "apps/cli.hpp"
#include "report/compare.hpp"
#include "report/report_writer.hpp"
#include "base/strict_json.hpp"

namespace spikechip::cli {
namespace {

struct CompareArgs {
  std::string a, b, out;
  bool summary_only = false;
};

// A run directory stands for its report.json.
std::string report_path(const std::string& p) {
  return std::filesystem::is_directory(p) ? (std::filesystem::path(p) / "report.json").string() : p;
}

RegisterCommand reg(82, [](CLI::App& app) {
  auto a = std::make_shared<CompareArgs>();
  CLI::App* c = app.add_subcommand("compare", "Compare two run reports: summary, energy and power per component, "
                                              "chip-config changes, per layer (absolute and relative deltas)");
  c->add_option("A", a->a, "report.json (or run directory) of the first run")->required();
  c->add_option("B", a->b, "report.json (or run directory) of the second run")->required();
  c->add_option("-o,--output", a->out, "also write compare.json and compare.html into this directory");
  c->add_flag("--summary-only", a->summary_only, "reports of different models: compare summary and energy, no layers");
  c->callback([a] {
    report::CompareOptions o;
    o.name_a = report_path(a->a), o.name_b = report_path(a->b), o.summary_only = a->summary_only;
    const nlohmann::json cmp =
        report::compare_reports(read_json_file(o.name_a, "run report"), read_json_file(o.name_b, "run report"), o);
    std::cout << report::compare_text(cmp);
    if (!a->out.empty()) {
      const auto dir = std::filesystem::path(a->out);
      report::write_file_atomic((dir / "compare.json").string(), cmp.dump(2) + "\n");
      report::write_file_atomic((dir / "compare.html").string(), report::render_compare_html(cmp));
      std::cout << "\nwrote " << (dir / "compare.json").string() << ", " << (dir / "compare.html").string() << "\n";
    }
  });
});

}  // namespace
}  // namespace spikechip::cli
