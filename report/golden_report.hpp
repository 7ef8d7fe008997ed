#pragma once
// The golden executor's JSON report (schema and units: docs/golden.md), for `spikechip golden`
// and the cosim server's golden mode.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/executor.hpp"
#include "models/graph.hpp"

namespace spikechip::report {

struct ReportOptions {
  std::string input_origin;  // where the input came from (file, index)
  int label = -1;
};
// Layer and summary figures are totals over all runs (inputs) and timesteps; "inputs" has one
// entry per run.
nlohmann::json make_golden_report(const model::Graph& g, const model::RunResult& r, const ReportOptions& o = {});
nlohmann::json make_golden_report(const model::Graph& g, const std::vector<model::RunResult>& runs,
                                  const std::vector<ReportOptions>& opts);

}  // namespace spikechip::report
