// Writes the synthetic stand-in for the default model (models/fmnist has not landed): a
// Fashion-MNIST-sized Meta-SpikeFormer [16,32,48,64], 1+1 blocks, 1x28x28, 10 classes, T=1, with
// seeded synthetic weights calibrated to ~0.2 firing rate, and one input image (the size arch/presets/tiny.json was sized for).
#include <iostream>

#include "models/graph_io.hpp"
#include "models/meta_spikeformer.hpp"
#include "models/npy.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: sweep_model OUT_DIR INPUT.npy\n";
    return 2;
  }
  spikechip::model::MetaSpikeFormerSpec s;
  s.variant = "fmnist-synthetic";
  s.dims = {16, 32, 48, 64};
  s.blocks3 = 1, s.blocks4 = 1;
  s.in_channels = 1, s.height = 28, s.width = 28, s.num_classes = 10;
  spikechip::model::save_model(spikechip::model::build_meta_spikeformer(s, 1, 0.2), argv[1]);
  // One deterministic 28x28 u8 image (a fixed pattern; the benchmark measures time, not accuracy).
  spikechip::model::NpyArray img{"|u1", {1, 1, 28, 28}, {}};
  for (int i = 0; i < 28 * 28; ++i) img.bytes.push_back(uint8_t((i * 37) % 256));
  spikechip::model::write_npy(argv[2], img);
  return 0;
}
