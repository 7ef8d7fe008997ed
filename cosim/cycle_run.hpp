#pragma once
// The cosim server's cycle mode: a batch on the cycle-accurate chip, run in the calling (worker)
// thread by the run pipeline (pipeline/run_pipeline.hpp), the code behind `spikechip run`, on its
// event-loop engine (no SystemC kernel, so several runs may proceed at once in one process): the
// reply's figures equal that command's report.
#include <atomic>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arch/chip_config.hpp"
#include "mapper/mapper.hpp"
#include "models/executor.hpp"
#include "models/graph.hpp"

namespace spikechip::cosim {

struct CycleBatch {
  const model::Graph* graph = nullptr;  // with timesteps = T (as `spikechip run` maps it)
  const arch::ChipConfig* chip = nullptr;
  const mapper::Mapping* mapping = nullptr;
  std::vector<model::InputView> inputs;
  std::vector<std::string> origins;  // per input
  std::vector<int> labels;           // per input, -1 unknown
  int T = 1;
  int exec_threads = 1;              // threads of the golden reference runs
  std::string model_origin;          // shown in the report as the model path
};

struct CycleOutcome {
  nlohmann::json report;              // spikechip.run-report/1 (report::build_run_report)
  std::vector<uint64_t> spikes;       // per input, all layers and timesteps
  std::string mismatch;               // first difference from the golden executor, "" if none
};

// Golden reference, chip simulation of every input, verification and report. `cancel` is polled
// between node evaluations (golden) and between chip events: when set, model::RunCancelled is
// thrown. A chip that cannot run the mapping (stall, bad mapping) throws spikechip::Error.
CycleOutcome run_cycle_batch(const CycleBatch& b, const std::atomic<bool>& cancel);

}  // namespace spikechip::cosim
