#pragma once
// `spikechip compare A B`: two run reports side by side (docs/reports.md, "Comparing two runs"):
// the summary, energy (and power) per component, the chip-config keys that differ, per-layer
// figures when both runs are of the same model, and the critical path when both reports have
// one; absolute and relative deltas (B - A, (B - A) / A).
#include <string>

#include <nlohmann/json.hpp>

namespace spikechip::report {

struct CompareOptions {
  std::string name_a = "A", name_b = "B";  // shown in the text and the page (the report paths)
  bool summary_only = false;               // reports of different models: compare summary and energy only
};

// The comparison as JSON (schema spikechip.compare/1). Throws spikechip::Error when the reports are
// of different models (graph hash or layer list) and summary_only is not set.
nlohmann::json compare_reports(const nlohmann::json& a, const nlohmann::json& b, const CompareOptions& opt);
// Plain-text rendering for the terminal.
std::string compare_text(const nlohmann::json& cmp);
// Self-contained HTML page (the report page's assets).
std::string render_compare_html(const nlohmann::json& cmp);

}  // namespace spikechip::report
