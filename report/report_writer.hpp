#pragma once
// Human and spreadsheet outputs of a run (report.json, *.csv, report.html) and of a sweep
// (sweep.html). Inputs follow docs/reports.md: the run report schema "spikechip.run-report/1"
// and the sweep schema "spikechip.sweep/1".
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace spikechip::report {

// Writes report.json, layers.csv, cores.csv, links.csv, inputs.csv, energy.csv and report.html
// into out_dir (created if missing). All files are rendered in memory and written (flushed) as
// hidden temporary files; only then is any stale report.json removed and the files renamed into
// place, report.json last. So a directory holding a report.json always holds a complete,
// consistent set, and a write that fails (disk full) leaves an earlier run's files as they were.
// Throws spikechip::Error naming the key for a report it cannot render (nothing written), and
// spikechip::WriteError naming the directory and file when the disk refuses (no report.json left
// behind, no temporaries).
void write_run_outputs(const nlohmann::json& report, const std::string& out_dir);

// Writes one self-contained sweep page (points table, Pareto fronts, sensitivity plots), via a
// temporary file renamed into place.
void write_sweep_html(const nlohmann::json& sweep, const std::string& path);

// Writes bytes to path via a hidden temporary in the same directory, renamed into place; throws
// spikechip::Error naming the path (and removes the temporary) on failure.
void write_file_atomic(const std::string& path, const std::string& bytes);

// The pieces above, without touching the disk (file name -> bytes), for tests and other callers.
std::map<std::string, std::string> render_run_outputs(const nlohmann::json& report);
std::string render_run_html(const nlohmann::json& report);
std::string render_sweep_html(const nlohmann::json& sweep);

// Energy components in the schema's order (compute, memory, network, DRAM, static); a report's
// other components follow them (energy.csv, compare).
const std::vector<std::string>& energy_component_order();

// JSON text that is safe inside <script type="application/json">: '<', '>' and '&' are written as
// \u003c etc. (only possible inside JSON strings), so "</script>" or "<!--" can never end the block.
std::string script_safe_json(const nlohmann::json& j);

}  // namespace spikechip::report
