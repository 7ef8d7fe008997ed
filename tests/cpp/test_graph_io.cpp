// Model directories: save/load round trip (byte-identical), and one test per kind of mistake,
// each asserting that the message names the file, the node and the key.
#include <gtest/gtest.h>

#include "base/file_util.hpp"
#include "models/graph_io.hpp"
#include "tiny_graph.hpp"

using namespace spikechip;
using namespace spikechip::model;
using spikechip::testing::expect_error;
using spikechip::testing::fresh_dir;
using spikechip::testing::slurp;
using spikechip::testing::spit;
using spikechip::testing::tiny_graph;

namespace {

// load_model(dir) fails with a message naming dir/file and every one of `parts`.
void expect_load_error(const std::string& dir, const std::string& file, std::initializer_list<std::string> parts) {
  std::vector<std::string> all{dir + "/" + file};
  all.insert(all.end(), parts.begin(), parts.end());
  try {
    load_model(dir);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    for (const auto& p : all) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what() << "\nmissing: " << p;
  }
}

// Saves the tiny graph, lets `edit` change graph.json, and expects load_model to fail with `parts`.
void expect_json_error(const std::function<void(nlohmann::json&)>& edit, std::initializer_list<std::string> parts) {
  const std::string dir = fresh_dir("m");
  save_model(tiny_graph(), dir);
  auto j = nlohmann::json::parse(slurp(dir + "/graph.json"));
  edit(j);
  spit(dir + "/graph.json", j.dump(1));
  expect_load_error(dir, "graph.json", parts);
}

nlohmann::json& node(nlohmann::json& j, const std::string& name) {
  for (auto& n : j["nodes"])
    if (n["name"] == name) return n;
  throw std::runtime_error("no node " + name);
}

// Saves the tiny graph, replaces the weights with `edit`ed tensors, expects `parts`.
void expect_weights_error(const std::function<void(SafeTensors&)>& edit, std::initializer_list<std::string> parts) {
  const std::string dir = fresh_dir("w");
  save_model(tiny_graph(), dir);
  SafeTensors st = read_safetensors(dir + "/weights.safetensors");
  edit(st);
  write_safetensors(dir + "/weights.safetensors", st);
  expect_load_error(dir, "weights.safetensors", parts);
}

}  // namespace

TEST(GraphIo, TinyGraphIsValid) { validate_graph(tiny_graph(), "tiny"); }

TEST(GraphIo, SaveLoadSaveIsByteIdentical) {
  const Graph g = tiny_graph();
  const std::string a = fresh_dir("a"), b = fresh_dir("b");
  save_model(g, a);
  const Graph back = load_model(a);
  save_model(back, b);
  EXPECT_EQ(slurp(a + "/graph.json"), slurp(b + "/graph.json"));
  EXPECT_EQ(slurp(a + "/weights.safetensors"), slurp(b + "/weights.safetensors"));
  ASSERT_EQ(back.nodes.size(), g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node &x = g.nodes[i], &y = back.nodes[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.op, y.op);
    EXPECT_EQ(x.inputs, y.inputs);
    EXPECT_EQ(x.shape, y.shape);
    EXPECT_EQ(x.weight, y.weight);
    EXPECT_EQ(x.bias, y.bias);
    EXPECT_EQ(x.shift, y.shift);
    EXPECT_EQ(x.threshold, y.threshold);
    EXPECT_EQ(x.zero_point, y.zero_point);
    EXPECT_EQ(x.quant, y.quant);
    EXPECT_EQ(x.source, y.source);
    EXPECT_EQ(std::tie(x.kh, x.kw, x.sy, x.sx, x.py, x.px, x.groups, x.tau_shift, x.heads, x.sdsa_shift, x.count),
              std::tie(y.kh, y.kw, y.sy, y.sx, y.py, y.px, y.groups, y.tau_shift, y.heads, y.sdsa_shift, y.count));
  }
  EXPECT_EQ(back.provenance, g.provenance);
  EXPECT_EQ(back.timesteps, 2);
  // No temporary files are left behind.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(a)) files += e.is_regular_file();
  EXPECT_EQ(files, 2);
}

TEST(GraphIo, JsonKeyOrderIsReadable) {
  const std::string text = graph_to_json_text(tiny_graph());
  EXPECT_LT(text.find("\"format_version\""), text.find("\"nodes\""));
  EXPECT_EQ(text.back(), '\n');
}

TEST(GraphIo, UnknownTopLevelKey) {
  expect_json_error([](auto& j) { j["colour"] = "red"; }, {"colour", "unknown key"});
}
TEST(GraphIo, UnknownNodeKey) {
  expect_json_error([](auto& j) { node(j, "conv1")["padd"] = 1; }, {"node 'conv1'", "padd", "unknown key"});
}
TEST(GraphIo, UnknownAttr) {
  expect_json_error([](auto& j) { node(j, "lif1")["attrs"]["v_th"] = 1; }, {"node 'lif1'", "attrs.v_th", "unknown key"});
}
TEST(GraphIo, MissingKey) {
  expect_json_error([](auto& j) { node(j, "mean")["attrs"].erase("count"); }, {"node 'mean'", "attrs.count", "missing"});
  expect_json_error([](auto& j) { j.erase("num_classes"); }, {"num_classes", "missing"});
}
TEST(GraphIo, WrongType) {
  expect_json_error([](auto& j) { node(j, "conv1")["attrs"]["stride"] = "2"; }, {"node 'conv1'", "attrs.stride", "expected [int, int]"});
  expect_json_error([](auto& j) { j["timesteps"] = 1.5; }, {"timesteps", "expected an integer"});
}
TEST(GraphIo, UnknownOp) {
  expect_json_error([](auto& j) { node(j, "lif2")["op"] = "PLIF"; }, {"node 'lif2'", "op", "unknown op 'PLIF'"});
}
TEST(GraphIo, DanglingEdge) {
  expect_json_error([](auto& j) { node(j, "lif1")["inputs"][0] = "conv9"; }, {"node 'lif1'", "inputs", "'conv9'", "dangling"});
}
TEST(GraphIo, ForwardEdge) {
  expect_json_error([](auto& j) { node(j, "conv2")["inputs"][0] = "head"; }, {"node 'conv2'", "inputs", "'head'", "forward"});
}
TEST(GraphIo, WrongInputKind) {
  // A spike tensor into Add (the membrane shortcut takes membranes).
  expect_json_error([](auto& j) { node(j, "add")["inputs"][1] = "lif1"; }, {"node 'add'", "inputs", "'lif1' is a spike", "membrane"});
  // A membrane into SDSA.
  expect_json_error([](auto& j) { node(j, "sdsa")["inputs"][2] = "conv2"; }, {"node 'sdsa'", "inputs", "membrane", "spike"});
}
TEST(GraphIo, WrongInputCount) {
  expect_json_error([](auto& j) { node(j, "lif2")["inputs"].push_back("mean"); }, {"node 'lif2'", "inputs", "takes 1 input(s), got 2"});
  expect_json_error([](auto& j) { node(j, "add")["inputs"] = {"conv1"}; }, {"node 'add'", "inputs", "at least 2"});
}
TEST(GraphIo, ConvShapeMismatch) {
  expect_json_error([](auto& j) { node(j, "conv1")["shape"] = {4, 8, 8}; },
                    {"node 'conv1'", "shape", "declared [4, 8, 8] but computed [4, 4, 4]"});
}
TEST(GraphIo, AddOperandShapes) {
  expect_json_error([](auto& j) {
    node(j, "conv2")["attrs"]["stride"] = {2, 2};
    node(j, "conv2")["shape"] = {4, 2, 2};
  }, {"node 'add'", "inputs", "'conv2' has shape [4, 2, 2]", "'conv1' has [4, 4, 4]"});
}
TEST(GraphIo, SdsaHeadsMustDivideChannels) {
  expect_json_error([](auto& j) { node(j, "sdsa")["attrs"]["heads"] = 3; }, {"node 'sdsa'", "attrs.heads", "3 does not divide 4 channels"});
}
TEST(GraphIo, MeanCount) {
  expect_json_error([](auto& j) { node(j, "mean")["attrs"]["count"] = 15; }, {"node 'mean'", "attrs.count", "H*W = 16"});
}
TEST(GraphIo, LinearShape) {
  expect_json_error([](auto& j) { node(j, "head")["shape"] = {3, 2, 1}; }, {"node 'head'", "shape", "computed [3, 1, 1]"});
}
TEST(GraphIo, OutputMustBeLastAndUnique) {
  expect_json_error([](auto& j) { j["nodes"].erase(j["nodes"].size() - 1); }, {"node 'head'", "op", "last node must be the Output"});
  expect_json_error([](auto& j) {
    auto in = j["nodes"][0];
    in["name"] = "input2";
    j["nodes"].insert(j["nodes"].begin() + 1, in);
  }, {"node 'input2'", "op", "only one Input"});
}
TEST(GraphIo, NumClassesMatchesOutput) {
  expect_json_error([](auto& j) { j["num_classes"] = 10; }, {"node 'output'", "shape", "num_classes is 10"});
}
TEST(GraphIo, ShiftAttrRange) {
  expect_json_error([](auto& j) { node(j, "sdsa")["attrs"]["shift"] = 25; }, {"node 'sdsa'", "attrs.shift", "out of range 0..24"});
}
TEST(GraphIo, DuplicateName) {
  expect_json_error([](auto& j) { node(j, "conv2")["name"] = "conv1"; }, {"node 'conv1'", "name", "duplicate"});
}
TEST(GraphIo, BadJsonText) {
  const std::string dir = fresh_dir("m");
  save_model(tiny_graph(), dir);
  spit(dir + "/graph.json", "{\"format_version\": 1,");
  expect_error([&] { load_model(dir); }, {dir + "/graph.json", "not valid JSON"});
}

TEST(GraphIo, MissingTensor) {
  expect_weights_error([](SafeTensors& st) { st.tensors.erase("conv2.shift"); },
                       {"tensor 'conv2.shift'", "node 'conv2'", "missing"});
}
TEST(GraphIo, TensorDtypeMismatch) {
  expect_weights_error([](SafeTensors& st) { st.tensors["lif1.threshold"] = from_vector(std::vector<int64_t>{1, 2, 3, 4}, {4}); },
                       {"tensor 'lif1.threshold'", "node 'lif1'", "dtype I64, expected I32"});
}
TEST(GraphIo, TensorShapeMismatch) {
  expect_weights_error([](SafeTensors& st) { st.tensors["head.weight"] = from_vector(std::vector<int8_t>(12, 0), {4, 3}); },
                       {"tensor 'head.weight'", "node 'head'", "shape [4, 3], expected [3, 4]"});
}
TEST(GraphIo, ExtraTensor) {
  expect_weights_error([](SafeTensors& st) { st.tensors["add.bias"] = from_vector(std::vector<int32_t>{0}, {1}); },
                       {"tensor 'add.bias'", "extra tensor"});
}
TEST(GraphIo, ShiftValueOutOfRange) {
  expect_weights_error([](SafeTensors& st) { st.tensors["conv2.shift"] = from_vector(std::vector<uint8_t>{3, 3, 25, 3}, {4}); },
                       {"node 'conv2'", "shift[2] = 25 > 24"});
}

TEST(GraphIo, InMemoryValidation) {
  Graph g = tiny_graph();
  g.nodes[1].bias.pop_back();
  expect_error([&] { validate_graph(g, "builder"); }, {"builder: node 'conv1': bias: 3 values, expected 4"});
  Graph h = tiny_graph();
  h.nodes[5].threshold = {1};  // Add has no tensors
  expect_error([&] { validate_graph(h, "builder"); }, {"node 'add'", "threshold", "Add has no threshold"});
  expect_error([&] { save_model(h, fresh_dir("x") + "/m"); }, {"node 'add'"});
}

// Issue 18 defect 2's class: attaching tensors to a structurally broken graph (a weight layer with
// no inputs) is an error naming the node, not a NULL read, whatever the caller checked before.
TEST(GraphIo, AttachValidatesStructureFirst) {
  const Graph good = tiny_graph();
  Graph g = good;
  for (Node& n : g.nodes)
    if (n.op == Op::Conv2d || n.op == Op::Linear) {
      n.inputs.clear();
      expect_error([&] { attach_tensors(g, graph_tensors(good), "inline"); }, {"inline", "node '" + n.name + "'", "inputs"});
      return;
    }
  FAIL() << "the tiny graph has no weight layer";
}

TEST(GraphIo, MissingDirectoryAndFiles) {
  expect_error([] { load_model("/nonexistent/model"); }, {"/nonexistent/model", "model directory not found"});
  const std::string dir = fresh_dir("m");
  save_model(tiny_graph(), dir);
  std::filesystem::remove(dir + "/weights.safetensors");
  expect_error([&] { load_model(dir); }, {dir + "/weights.safetensors", "cannot open"});
}

TEST(GraphIo, HelpersAgreeWithHandCounts) {
  const Graph g = tiny_graph();
  // conv1: 3*3*1*4 * 4*4 outputs = 576 dense ops; head: 4*3 = 12.
  EXPECT_EQ(dense_ops(g, g.nodes[1]), 576);
  EXPECT_EQ(dense_ops(g, g.nodes[8]), 12);
  EXPECT_EQ(weight_bytes(g, g.nodes[1]), 36 + 16 + 4);
  EXPECT_EQ(state_bytes(g.nodes[2]), 4 * 64);
  // conv2 channel 3: |7| + |-7| + |8| + |-8| = 30 on spikes, << 3 = 240.
  EXPECT_EQ(accumulator_bound(g, g.nodes[3]), 240);
}
