// Writes the synthetic stand-in for the default model (models/fmnist has not landed): a
// Fashion-MNIST-sized Meta-SpikeFormer [16,32,48,64], 1+1 blocks, 1x28x28, 10 classes, T=1, with
// seeded synthetic weights (the size arch/presets/tiny.json was sized for).
#include <iostream>

#include "models/graph_io.hpp"
#include "models/meta_spikeformer.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: sweep_model OUT_DIR\n";
    return 2;
  }
  spikechip::model::MetaSpikeFormerSpec s;
  s.variant = "fmnist-synthetic";
  s.dims = {16, 32, 48, 64};
  s.blocks3 = 1, s.blocks4 = 1;
  s.in_channels = 1, s.height = 28, s.width = 28, s.num_classes = 10;
  spikechip::model::save_model(spikechip::model::build_meta_spikeformer_structure(s, 1), argv[1]);
  return 0;
}
