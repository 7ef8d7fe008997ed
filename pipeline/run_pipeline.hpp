#pragma once
// The run pipeline, once for every caller (`spikechip run`, the cosim server's cycle mode, the
// Python bindings' run (python/src/runs.cpp); sweeps run `spikechip run` per point): golden runs -> measured firing rates ->
// map -> simulate on the chip -> verify spike for spike -> run report (spikechip.run-report/1).
// docs/architecture.md, "Layers" and "The run pipeline".
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arch/batch_run.hpp"
#include "arch/chip_config.hpp"
#include "mapper/mapper.hpp"
#include "models/executor.hpp"
#include "models/graph.hpp"
#include "models/inputs.hpp"

namespace spikechip::pipeline {

// How the chip is driven. Both give the same cycles, spikes and reports (tests/cpp/test_pipeline).
enum class Engine {
  SystemC,    // the SystemC kernel (sim/): one simulation per process
  EventLoop,  // arch::run_inputs, no kernel: several simulations per process, one per thread
};
struct EngineInfo {
  Engine engine;
  const char* name;
  const char* help;
};
// The name table (CLI choices, docs): "systemc", "event".
const std::vector<EngineInfo>& engines();
// Throws spikechip::UsageError listing the names when `name` is not one of them.
Engine engine_from_name(const std::string& name);
const char* engine_name(Engine e);

// The inputs of one run; the views point into data the caller keeps alive.
struct Inputs {
  std::vector<model::InputView> views;
  std::vector<std::string> origins;  // per input (reports, mismatch messages)
  std::vector<int> labels;           // per input, -1 unknown
  static Inputs from_items(const std::vector<model::InputItem>& items);
};

struct Options {
  int T = 1;  // timesteps; the graph's own `timesteps` must be T (the mapper reads it)
  Engine engine = Engine::SystemC;
  bool verify = true;      // golden runs of every input, compared spike for spike with the chip
  int golden_threads = 2;  // threads of the golden executor
  // The golden runs the chip does not need before it starts (all but the first 4 inputs, whose
  // rates place the mapping; all with a given mapping) on a second thread beside the chip, with
  // golden_threads - 1 threads (at least 1). false: every golden run before the chip.
  bool golden_alongside = true;
  // The mapping to run; nullptr: map here (map_for_inputs with `map`).
  const mapper::Mapping* mapping = nullptr;
  mapper::MapOptions map;
  arch::ChipRunOptions chip;  // record_spikes: also kept without verify; `stop` is set from the fields below
  // Set from outside (SIGINT, a cancelled request): the golden runs throw model::RunCancelled, the
  // chip stops with a partial result whose reason stop_reason() gives (asked when it stopped: the
  // CLI names the signal).
  const std::atomic<bool>* stop = nullptr;
  std::function<std::string()> stop_reason = [] { return std::string("interrupted"); };
  double time_limit_s = 0;  // > 0: the chip stops after this many wall seconds ("time limit")
  // Shown in the report.
  std::string model_path, chip_path, command;
  uint64_t trace_from = 0, trace_to = UINT64_MAX;  // timeline entries kept (cycles)
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();  // run.wall_s counts from here
  // Called once the mapping is known, before the chip starts.
  std::function<void(const mapper::Mapping&)> on_mapped;
  // Called after each golden run made before the chip starts (done of total inputs), on the
  // calling thread; the runs beside the chip report nothing.
  std::function<void(size_t done, size_t total)> golden_progress;
  // Called after each simulated input.
  std::function<void(const arch::ChipBatchRun&)> input_progress;
  // Called while an input is simulated (progress line).
  std::function<void(const arch::ChipBatchRun&, const arch::Chip&, uint64_t cycle)> cycle_progress;
};

struct Result {
  mapper::Mapping mapping;                // the one that ran (given or made here)
  std::vector<model::RunResult> golden;  // per input, with spikes; empty without verify
  double golden_wall_s = 0;  // wall time of the golden runs (before the chip + beside it)
  arch::ChipBatchRun run;
  std::string mismatch;        // first difference chip vs golden ("" when none or not verified)
  std::string partial_reason;  // when run.partial
  bool verified = false;       // verify, no mismatch, every input complete
  nlohmann::json report;       // spikechip.run-report/1
};

// The whole pipeline. Throws spikechip::Error (mapping, chip stall), model::RunCancelled (stop
// during the golden runs). A mismatch does not throw: it is in Result::mismatch.
Result run(const model::Graph& g, const arch::ChipConfig& chip, const Inputs& in, const Options& o);

// The steps, for callers that keep a mapping across runs (the cosim server).
// Firing rates for placement: those of the first (at most) 4 inputs' golden runs (`golden` when
// given, else run here).
std::map<std::string, double> placement_rates(const model::Graph& g, const std::vector<model::InputView>& inputs, int T,
                                              const std::vector<model::RunResult>* golden = nullptr);
// map_model with placement_rates filled in.
mapper::Mapping map_for_inputs(const model::Graph& g, const arch::ChipConfig& chip,
                               const std::vector<model::InputView>& inputs, int T, mapper::MapOptions mo,
                               const std::vector<model::RunResult>* golden = nullptr);

}  // namespace spikechip::pipeline
