// Issue 7: the chip is bit-exact with the golden executor on the shipped trained model
// (models/fmnist) for real Fashion-MNIST test images, T = 1..4, on arch/presets/tiny.json with the
// default mapper options; at T = 1 its predictions also equal the PyTorch integer reference's
// (models/fmnist/sample.json, computed by scripts/spikechip_py/intref.py, independent of the C++).
// A synthetic model of the same size (random weights) is kept as a second, differently-firing case.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "arch/chip.hpp"
#include "chip_test_util.hpp"
#include "models/graph_io.hpp"
#include "models/inputs.hpp"
#include "models/meta_spikeformer.hpp"
#include "spikechip/source_dir.hpp"

namespace spikechip {
namespace {

const std::string kModel = std::string(SPIKECHIP_SOURCE_DIR) + "/models/fmnist";

void expect_bit_exact(const model::Graph& g0, const std::vector<model::InputItem>& items, int T) {
  model::Graph g = g0;
  g.timesteps = T;
  const arch::ChipConfig chip = testing::chip_preset("tiny");
  const mapper::Mapping m = mapper::map_model(g, chip, mapper::MapOptions{});
  model::GoldenExecutor gold(g);
  for (const auto& it : items) {
    model::RunOptions ro;
    ro.record_spikes = true;
    const model::RunResult gr = gold.run_item(it, T, ro);
    arch::Chip c(g, chip, m);
    const arch::ChipRunResult cr = c.run(model::InputView{it.data.data(), it.frames, it.shape}, T);
    ASSERT_TRUE(cr.complete) << it.origin;
    EXPECT_EQ(arch::compare_with_golden(g, cr, gr), "") << it.origin << " T=" << T;
    int64_t gs = 0, cs = 0, gsops = 0, csops = 0;
    for (size_t i = 0; i < g.nodes.size(); ++i)
      for (int t = 0; t < T; ++t) {
        gs += gr.stats[i][size_t(t)].spikes, cs += cr.stats[i][size_t(t)].spikes;
        gsops += gr.stats[i][size_t(t)].sops, csops += cr.stats[i][size_t(t)].sops;
      }
    EXPECT_EQ(cs, gs) << it.origin;
    EXPECT_EQ(csops, gsops) << it.origin;
    EXPECT_GT(cs, 0) << it.origin;
    EXPECT_EQ(cr.prediction, gr.prediction) << it.origin;
  }
}

class ShippedModel : public ::testing::TestWithParam<int> {};

TEST_P(ShippedModel, BitExactOnFashionMnistTestImages) {
  ASSERT_TRUE(std::filesystem::exists(kModel + "/graph.json")) << "the shipped model is missing: " << kModel;
  const model::Graph g = model::load_model(kModel);
  // Three test-set images that are not among sample.npy's first eight.
  std::vector<model::InputItem> all = model::fashion_mnist_test_set(11, g.input().shape);
  ASSERT_EQ(all.size(), 11u);
  std::vector<model::InputItem> items(all.begin() + 8, all.end());
  expect_bit_exact(g, items, GetParam());
}

INSTANTIATE_TEST_SUITE_P(T, ShippedModel, ::testing::Values(1, 2, 3, 4));

TEST(ShippedModelIntRef, ChipPredictionsEqualPyTorchIntegerReferenceAtT1) {
  const model::Graph g = model::load_model(kModel);
  const std::vector<model::InputItem> items = model::read_inputs(kModel + "/sample.npy", g);
  std::ifstream sf(kModel + "/sample.json");
  const nlohmann::json sample = nlohmann::json::parse(sf);
  const auto want = sample.at("intref_predictions_T1").get<std::vector<int>>();
  ASSERT_EQ(items.size(), want.size());
  const arch::ChipConfig chip = testing::chip_preset("tiny");
  model::Graph g1 = g;
  g1.timesteps = 1;
  const mapper::Mapping m = mapper::map_model(g1, chip, mapper::MapOptions{});
  for (size_t i = 0; i < items.size(); ++i) {
    arch::Chip c(g1, chip, m);
    const arch::ChipRunResult cr = c.run(model::InputView{items[i].data.data(), 1, items[i].shape}, 1);
    ASSERT_TRUE(cr.complete);
    EXPECT_EQ(cr.prediction, want[i]) << "sample " << i;
  }
}

class SyntheticModel : public ::testing::TestWithParam<int> {};

// `spikechip model build --dims 16,32,64,64 --blocks 1,1 --input 28 --channels 1 --classes 10`.
TEST_P(SyntheticModel, BitExactOnFashionMnistTestImages) {
  model::MetaSpikeFormerSpec s;
  s.dims = {16, 32, 64, 64};
  s.blocks3 = 1, s.blocks4 = 1;
  s.in_channels = 1, s.height = 28, s.width = 28, s.num_classes = 10, s.T = 1;
  const model::Graph g = model::build_meta_spikeformer(s, 1, 0.2);
  expect_bit_exact(g, model::fashion_mnist_test_set(2, g.input().shape), GetParam());
}

INSTANTIATE_TEST_SUITE_P(T, SyntheticModel, ::testing::Values(1, 4));

}  // namespace
}  // namespace spikechip
