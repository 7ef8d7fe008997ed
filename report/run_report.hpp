#pragma once
// The run report of a batch of inputs on the cycle-accurate chip (schema spikechip.run-report/1,
// docs/reports.md): every figure `spikechip run`, the cosim server's cycle mode and sweeps report.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arch/batch_run.hpp"
#include "arch/chip_config.hpp"
#include "mapper/mapper.hpp"
#include "models/graph.hpp"

namespace spikechip::report {

inline constexpr const char* kRunReportSchema = "spikechip.run-report/1";

struct RunReportContext {
  std::string model_path, chip_path, command;  // as given by the user (shown in the report)
  std::vector<std::string> origins;            // per input
  std::vector<int> labels;                     // per input, -1 unknown
  int T = 1;
  bool verified = false;
  std::string partial_reason;  // reported when run.partial
  double wall_s = 0, golden_wall_s = 0;
  uint64_t trace_from = 0, trace_to = UINT64_MAX;  // timeline entries kept (cycles)
};

// The run report of `run` (every figure of spikechip.run-report/1).
nlohmann::json build_run_report(const model::Graph& g, const arch::ChipConfig& chip, const mapper::Mapping& m,
                                const arch::ChipBatchRun& run, const RunReportContext& ctx);

// A run report as the user names it to `report`, `compare` and `energy`: a run directory stands for
// its report.json (`path` becomes the file read); a JSON whose "schema" names another kind of
// report (golden, sweep, compare) is refused with what to give instead. A report without "schema"
// (hand-made) is taken; its fields are checked where they are read.
nlohmann::json read_run_report(std::string& path);

}  // namespace spikechip::report
