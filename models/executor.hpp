#pragma once
// The golden executor: the bit-exact definition in code of docs/semantics.md. Event-driven (the
// work of a spike-input layer is proportional to its input spikes) and multithreaded over output
// channels; results do not depend on the thread count (integer sums, each neuron written by one
// thread). Design and report schema: docs/golden.md.
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "models/graph.hpp"
#include "models/kernels.hpp"
#include "base/aligned.hpp"
#include "base/error.hpp"

namespace spikechip::model {

// The u8 input of one sample: `frames` frames of shape C x H x W (image encoding: 1 frame reused
// at every timestep; events: frame t at timestep t).
struct InputView {
  const uint8_t* data = nullptr;
  int frames = 1;
  Shape shape;
};

struct RunOptions {
  int threads = 2;             // worker threads for the conv layers (>= 1)
  bool record_spikes = false;  // keep every LIF's spikes, [T][C][H][W] u8
  // Conv outputs are computed in bands of rows whose accumulators take at most this many bytes,
  // so the scatter's random access stays in the L2 cache. Does not change any result.
  int64_t band_bytes = 512 * 1024;
  // Layers with fewer dense ops run on one thread (starting a thread costs tens of microseconds).
  int64_t min_parallel_ops = int64_t(1) << 22;
  // Polled between node evaluations; when it becomes true run() throws RunCancelled (the cosim
  // server's per-request timeout: a thread cannot be killed, so it is asked to stop).
  const std::atomic<bool>* cancel = nullptr;
};

struct RunCancelled : Error {
  RunCancelled() : Error("run cancelled") {}
};

// Per node, per timestep (semantics.md "Counted quantities").
struct StepStats {
  int64_t spikes = 0, sops = 0, macs = 0, sdsa_ops = 0, dense_ops = 0, saturations = 0;
};

struct RunResult {
  int T = 0;
  std::vector<std::vector<StepStats>> stats;  // [node][t]
  std::vector<int64_t> output_acc;            // Output accumulator, summed over timesteps
  int prediction = -1;                        // argmax of output_acc, ties to the lowest index
  std::vector<std::vector<uint8_t>> spikes;   // [node] -> [T][C][H][W] (LIF nodes, if recorded)
};

class GoldenExecutor {
 public:
  // The graph must outlive the executor. Weights are re-arranged once here; thresholds are read
  // from the graph at every evaluation (the builder's calibration sets them between nodes).
  explicit GoldenExecutor(const Graph& g);

  RunResult run(const InputView& in, int T, const RunOptions& opt = {});
  template <class Item>  // models/inputs.hpp InputItem (data, frames, shape)
  RunResult run_item(const Item& it, int T, const RunOptions& opt = {}) {
    return run(InputView{it.data.data(), it.frames, it.shape}, T, opt);
  }

  // Step-wise use (threshold calibration): reset all state for a new input, then evaluate nodes
  // in order for one timestep and read their outputs.
  void begin(const InputView& in, const RunOptions& opt = {});
  StepStats eval_node(size_t i, int t);
  const std::vector<int32_t>& values(size_t i) const { return val_[i]; }  // Input / membrane nodes
  const std::vector<uint8_t>& spike_map(size_t i) const { return spk_[i]; }  // LIF nodes

 private:
  StepStats eval_conv(size_t i, int t);
  void check_input(const InputView& in) const;

  const Graph& g_;
  Membrane membrane_;                       // the model's membrane width (docs/semantics.md)
  std::vector<ConvPlan> plans_;             // [node], Conv2d/Linear only
  std::vector<std::vector<int32_t>> val_;   // Input (u8 - zp) and membrane outputs, CHW
  std::vector<std::vector<int32_t>> vmem_;  // LIF state V
  std::vector<std::vector<uint8_t>> spk_;   // LIF spikes of the current timestep, CHW
  std::vector<std::vector<int32_t>> act_;   // LIF: flat indices of the current spikes
  std::vector<int64_t> out_acc_;
  std::vector<StepStats> cache_;            // first-layer stats reused when its input is constant
  // [thread] accumulators, cache-line aligned (base/aligned.hpp)
  std::vector<std::vector<int32_t, AlignedAllocator<int32_t>>> scratch32_;
  std::vector<std::vector<int64_t, AlignedAllocator<int64_t>>> scratch64_;
  std::vector<int64_t> row_start_;  // spikes of the conv input bucketed by row (CSR offsets)
  std::vector<int64_t> pos_fill_;   // the bucketing's cursors, one per input position
  std::vector<int32_t> by_row_;
  InputView in_;
  int threads_ = 1;
  int64_t band_bytes_ = 512 * 1024;
  int64_t min_parallel_ops_ = 0;
};

// Paper-formula energy constants (energy-constants.md, BICLab): pJ per MAC and per accumulate.
inline constexpr double kEnergyMacPj = 4.6;
inline constexpr double kEnergyAcPj = 0.9;

}  // namespace spikechip::model
