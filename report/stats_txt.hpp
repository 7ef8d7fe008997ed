#pragma once
// stats.txt of a run (docs/reports.md, "stats.txt"): the report's figures as flat lines
// `name value # description (unit)`, one per line, in a fixed order, as gem5's stats.txt: grep
// for a figure, diff two runs. Rendered from report.json alone, so `spikechip report` rewrites it.
#include <string>

#include <nlohmann/json.hpp>

namespace spikechip::report {

std::string render_stats_txt(const nlohmann::json& report);
// timesteps.csv: one row per timestep of report.json's `timesteps`.
std::string render_timesteps_csv(const nlohmann::json& report);

}  // namespace spikechip::report
