#pragma once
// Meta-SpikeFormer (Spike-driven Transformer V2): parameter count of the float PyTorch network and
// a builder of the folded integer graph (the official Spiking_vit_MetaFormer order and module names) with synthetic
// weights, used when no trained checkpoint is needed (performance, mapping, chip studies).
#include <array>
#include <cstdint>
#include <string>

#include "models/graph.hpp"

namespace spikechip::model {

struct MetaSpikeFormerSpec {
  std::string variant = "custom";
  std::array<int, 4> dims{64, 128, 256, 360};
  int blocks3 = 6, blocks4 = 2;
  int heads = 8, mlp_ratio = 4;
  int in_channels = 3;
  int height = 224, width = 224;
  int num_classes = 1000;
  int T = 1;
  bool kd = false;
};

// "15M" [64,128,256,360], "31M" = "8_384", "55M" = "8_512", "123M" = "8_768" (official dims,
// 6 + 2 blocks, 8 heads, mlp ratio 4, 3x224x224, 1000 classes). Throws UsageError otherwise.
MetaSpikeFormerSpec meta_spikeformer_preset(const std::string& name);

// Parameters of the unfolded PyTorch model as torch .parameters() counts them: conv/linear
// weights, biases where bias=True, BatchNorm weight and bias (+ head_kd when spec.kd).
int64_t float_param_count(const MetaSpikeFormerSpec& spec);

// The folded graph with int8 weights drawn from `seed` and LIF thresholds calibrated so that each
// LIF fires at about `target_rate` on a deterministic random input at T = 1 (docs/golden.md).
Graph build_meta_spikeformer(const MetaSpikeFormerSpec& spec, uint64_t seed, double target_rate = 0.2);

// Graph without calibration (thresholds set to 1): structure only, fast, for op-count checks.
Graph build_meta_spikeformer_structure(const MetaSpikeFormerSpec& spec, uint64_t seed);

}  // namespace spikechip::model
