// `spikechip compare A B [-o DIR] [--summary-only]`: two run reports side by side, text on stdout,
// and with -o compare.json + compare.html in DIR (docs/reports.md, "Comparing two runs").
#include <optional>
#include <filesystem>
#include <iostream>
#include <memory>

#include "apps/cli.hpp"
#include "report/compare.hpp"
#include "report/report_writer.hpp"
#include "report/run_report.hpp"
#include "base/file_util.hpp"
#include "base/json_text.hpp"
#include "base/strict_json.hpp"

namespace spikechip::cli {
namespace {

struct CompareArgs {
  std::string a, b, out;
  bool summary_only = false;
};

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
    o.name_a = a->a, o.name_b = a->b, o.summary_only = a->summary_only;
    if (!a->out.empty()) check_output_dir(a->out);  // a file there is the user's to fix (exit 1), before any work
    const nlohmann::json ja = report::read_run_report(o.name_a), jb = report::read_run_report(o.name_b);
    std::string text;
    std::optional<std::string> html;
    const nlohmann::json cmp = reading_json_of(o.name_a + " or " + o.name_b, "run report", [&] {
      nlohmann::json c = report::compare_reports(ja, jb, o);
      text = report::compare_text(c);
      if (!a->out.empty()) html = report::render_compare_html(c);
      return c;
    });
    std::cout << text;
    if (!a->out.empty()) {
      const auto dir = std::filesystem::path(a->out);
      report::write_file_atomic((dir / "compare.json").string(), json_text(cmp, 2) + "\n");
      report::write_file_atomic((dir / "compare.html").string(), *html);
      std::cout << "\nwrote " << (dir / "compare.json").string() << ", " << (dir / "compare.html").string() << "\n";
    }
  });
});

}  // namespace
}  // namespace spikechip::cli
