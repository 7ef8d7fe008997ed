// Node weights held one byte each when they fit int8 (models/weights.hpp): reads give the same
// int16 values whatever the storage, writes widen first, compact() narrows only when every value
// fits, and a model built or loaded from disk is narrow where its weights are 8-bit and wide where
// they are not (a 16-bit layer), with the same values and the same golden results.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "chip_test_util.hpp"
#include "models/executor.hpp"
#include "models/graph_io.hpp"
#include "models/meta_spikeformer.hpp"
#include "models/weights.hpp"
#include "tiny_graph.hpp"

namespace spikechip {
namespace {

using model::Weights;

TEST(Weights, ReadsWritesAndCompaction) {
  Weights w = {-128, -1, 0, 1, 127};
  EXPECT_FALSE(w.is_narrow());
  ASSERT_TRUE(w.compact());
  EXPECT_TRUE(w.is_narrow());
  EXPECT_EQ(w.size(), 5u);
  const Weights& cw = w;
  EXPECT_EQ(cw[0], -128);
  EXPECT_EQ(cw[4], 127);
  EXPECT_EQ(std::vector<int16_t>(cw.begin(), cw.end()), (std::vector<int16_t>{-128, -1, 0, 1, 127}));
  EXPECT_EQ(std::accumulate(cw.begin(), cw.end(), 0), -1);
  EXPECT_EQ(cw.end() - cw.begin(), 5);
  EXPECT_TRUE(w.is_narrow());  // const reads do not widen
  // A write widens and keeps every value.
  w[2] = 300;
  EXPECT_FALSE(w.is_narrow());
  EXPECT_EQ(w.to_vector(), (std::vector<int16_t>{-128, -1, 300, 1, 127}));
  EXPECT_FALSE(w.compact());  // 300 does not fit int8
  EXPECT_FALSE(w.is_narrow());
  w[2] = -5;
  EXPECT_TRUE(w.compact());
  // Equality by value, whatever the storage.
  Weights wide = {-128, -1, -5, 1, 127};
  EXPECT_EQ(w, wide);
  wide.push_back(0);
  EXPECT_NE(w, wide);
  // Loops that write through references widen too.
  for (auto& x : w) x = int16_t(x * 2);
  EXPECT_EQ(w.to_vector(), (std::vector<int16_t>{-256, -2, -10, 2, 254}));
  w.assign_narrow({1, 2, 3});
  EXPECT_TRUE(w.is_narrow());
  EXPECT_EQ(w.to_vector(), (std::vector<int16_t>{1, 2, 3}));
  w.assign(2, 7);
  EXPECT_EQ(w.to_vector(), (std::vector<int16_t>{7, 7}));
}

TEST(Weights, ModelsAreNarrowWhereTheirWeightsAre8Bit) {
  // A synthetic Meta-SpikeFormer (8-bit weights): every weighted node narrow after the build, and
  // after a save and load; the loaded model's values and golden outputs equal the built one's.
  model::MetaSpikeFormerSpec s;
  s.variant = "tiny";
  s.dims = {8, 16, 16, 24};
  s.blocks3 = 1, s.blocks4 = 1;
  s.in_channels = 1, s.height = 28, s.width = 28, s.num_classes = 10;
  const model::Graph g = model::build_meta_spikeformer(s, 1, 0.2);
  int weighted = 0;
  for (const auto& n : g.nodes)
    if (!n.weight.empty()) {
      ++weighted;
      EXPECT_TRUE(n.weight.is_narrow()) << n.name;
    }
  EXPECT_GT(weighted, 10);
  const std::string dir = testing::fresh_dir("weights-narrow");
  model::save_model(g, dir);
  const model::Graph back = model::load_model(dir);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    EXPECT_EQ(back.nodes[i].weight, g.nodes[i].weight) << g.nodes[i].name;
    if (!g.nodes[i].weight.empty()) {
      EXPECT_TRUE(back.nodes[i].weight.is_narrow()) << g.nodes[i].name;
    }
  }
  auto img = testing::random_image(g.input().shape, 3);
  const model::InputView in{img.data(), 1, g.input().shape};
  model::RunOptions ro;
  ro.threads = 1;
  // The same graph with every weight widened (as before narrow storage) computes the same.
  model::Graph wide = g;
  for (auto& n : wide.nodes) n.weight.wide();
  EXPECT_EQ(model::GoldenExecutor(g).run(in, 2, ro).output_acc, model::GoldenExecutor(wide).run(in, 2, ro).output_acc);
  EXPECT_EQ(model::GoldenExecutor(back).run(in, 2, ro).output_acc, model::GoldenExecutor(wide).run(in, 2, ro).output_acc);
  // A 16-bit layer with values beyond int8 stays wide through a save and load.
  model::Graph g16 = g;
  g16.weight_bits = 16;
  const int head = g16.find("head");
  ASSERT_GE(head, 0);
  g16.nodes[size_t(head)].weight[0] = 1000;
  const std::string dir16 = testing::fresh_dir("weights-wide");
  model::save_model(g16, dir16);
  const model::Graph back16 = model::load_model(dir16);
  EXPECT_FALSE(back16.nodes[size_t(head)].weight.is_narrow());
  EXPECT_EQ(back16.nodes[size_t(head)].weight[0], 1000);
  EXPECT_EQ(back16.nodes[size_t(head)].weight, g16.nodes[size_t(head)].weight);
}

}  // namespace
}  // namespace spikechip
