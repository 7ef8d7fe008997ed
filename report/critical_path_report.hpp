#pragma once
// The critical path in the run report (docs/reports.md, "Critical path"): per input the latency
// breakdown by segment kind, for the last input the segments with the layers and cores on the
// path and their shares, and critical_path.csv.
#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include "arch/chip.hpp"
#include "models/graph.hpp"

namespace spikechip::report {

// {kind: cycles} over every kind of arch::kPathKindNames (0 when absent); they sum to the path.
nlohmann::json critical_path_by_kind(const arch::ChipRunResult& r);
// Compute (per unit), network, DRAM and waiting totals of a by-kind object.
nlohmann::json critical_path_breakdown(const nlohmann::json& by_kind);
// The report's "critical_path" section for input `index` (its result `r`); at most
// `max_segments` segments are listed (segments_total counts them all).
nlohmann::json critical_path_json(const model::Graph& g, int mesh_w, const arch::ChipRunResult& r, std::size_t index,
                                  std::size_t max_segments);
// The summary's short form: breakdown and the top `top` layers and cores.
nlohmann::json critical_path_summary(const nlohmann::json& section, const nlohmann::json& mean_by_kind, std::size_t top);
// The summary's two lines for the terminal: the breakdown in % of `latency` and the top layers
// and cores.
std::string critical_path_text(const nlohmann::json& summary_section, double latency);
// critical_path.csv: one row per listed segment.
std::string critical_path_csv(const nlohmann::json& report);

}  // namespace spikechip::report
