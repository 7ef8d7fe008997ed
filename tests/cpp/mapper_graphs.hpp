#pragma once
// Hand-built graphs for the mapper tests. The mapper reads only structure (ops, shapes,
// attributes), so the integer tensors are left empty here; the Meta-SpikeFormer-shaped builder
// follows NAMING.md until models/meta_spikeformer.hpp is available to the tests.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "arch/chip_config.hpp"
#include "models/graph.hpp"
#include "base/strict_json.hpp"
#include "spikechip/source_dir.hpp"

namespace spikechip::testing {

class GraphBuilder {
 public:
  explicit GraphBuilder(std::string name, int timesteps = 1) {
    g.name = std::move(name);
    g.timesteps = timesteps;
  }
  int input(int c, int h, int w) { return add("input", model::Op::Input, {}, {c, h, w}); }
  int conv(const std::string& name, int in, int cout, int k, int s, int p) {
    const model::Shape& i = g.nodes[in].shape;
    int id = add(name, model::Op::Conv2d, {in}, {cout, (i.h + 2 * p - k) / s + 1, (i.w + 2 * p - k) / s + 1});
    auto& n = g.nodes[id];
    n.kh = n.kw = k, n.sy = n.sx = s, n.py = n.px = p;
    return id;
  }
  int lif(const std::string& name, int in) { return add(name, model::Op::LIF, {in}, g.nodes[in].shape); }
  int add_(const std::string& name, int a, int b) { return add(name, model::Op::Add, {a, b}, g.nodes[a].shape); }
  int sdsa(const std::string& name, int q, int k, int v, int heads) {
    int id = add(name, model::Op::SDSA, {q, k, v}, g.nodes[q].shape);
    g.nodes[id].heads = heads;
    return id;
  }
  int mean(const std::string& name, int in) {
    const model::Shape& s = g.nodes[in].shape;
    int id = add(name, model::Op::Mean, {in}, {s.c, 1, 1});
    // (In 64 bits, saturated: a huge test shape's h * w overflows int, undefined behaviour that
    // UBSan reports; the mapper refuses such shapes before it reads the count.)
    g.nodes[id].count = int(std::min<int64_t>(int64_t(s.h) * s.w, INT32_MAX));
    return id;
  }
  int linear(const std::string& name, int in, int out) { return add(name, model::Op::Linear, {in}, {out, 1, 1}); }
  int output(int in) { return add("output", model::Op::Output, {in}, g.nodes[in].shape); }

  model::Graph g;

 private:
  int add(const std::string& name, model::Op op, std::vector<int> in, model::Shape s) {
    model::Node n;
    n.name = name, n.op = op, n.inputs = std::move(in), n.shape = s;
    g.nodes.push_back(std::move(n));
    return int(g.nodes.size()) - 1;
  }
};

// Meta-SpikeFormer structure (NAMING.md) with dims e[0..3], n3/n4 transformer blocks.
inline model::Graph meta_spikeformer_shape(std::vector<int> e, int n3, int n4, int cin, int size, int classes,
                                           int timesteps = 1) {
  GraphBuilder b("msf", timesteps);
  b.g.num_classes = classes;
  int x = b.input(cin, size, size);
  auto conv_block = [&](const std::string& p, int u, int c) {
    int l1 = b.lif(p + ".Conv.lif1", u);
    int pw1 = b.conv(p + ".Conv.pwconv1", l1, 2 * c, 1, 1, 0);
    int l2 = b.lif(p + ".Conv.lif2", pw1);
    int pw2 = b.conv(p + ".Conv.pwconv2", l2, c, 7, 1, 3);
    int u1 = b.add_(p + ".add1", u, pw2);
    int l3 = b.lif(p + ".lif1", u1);
    int c1 = b.conv(p + ".conv1", l3, 4 * c, 3, 1, 1);
    int l4 = b.lif(p + ".lif2", c1);
    int c2 = b.conv(p + ".conv2", l4, c, 3, 1, 1);
    return b.add_(p + ".add2", u1, c2);
  };
  auto ms_block = [&](const std::string& p, int u, int c) {
    int h = b.lif(p + ".attn.head_lif", u);
    int q = b.lif(p + ".attn.q_lif", b.conv(p + ".attn.q_conv", h, c, 3, 1, 1));
    int k = b.lif(p + ".attn.k_lif", b.conv(p + ".attn.k_conv", h, c, 3, 1, 1));
    int v = b.lif(p + ".attn.v_lif", b.conv(p + ".attn.v_conv", h, c, 3, 1, 1));
    int a = b.lif(p + ".attn.attn_lif", b.sdsa(p + ".attn.sdsa", q, k, v, 8));
    int u1 = b.add_(p + ".add1", u, b.conv(p + ".attn.proj_conv", a, c, 3, 1, 1));
    int f1 = b.lif(p + ".mlp.fc1_lif", u1);
    int f2 = b.lif(p + ".mlp.fc2_lif", b.conv(p + ".mlp.fc1_conv", f1, 4 * c, 1, 1, 0));
    return b.add_(p + ".add2", u1, b.conv(p + ".mlp.fc2_conv", f2, c, 1, 1, 0));
  };
  int u = b.conv("downsample1_1.encode_conv", x, e[0] / 2, 7, 2, 3);
  u = conv_block("ConvBlock1_1.0", u, e[0] / 2);
  u = b.conv("downsample1_2.encode_conv", b.lif("downsample1_2.encode_lif", u), e[0], 3, 2, 1);
  u = conv_block("ConvBlock1_2.0", u, e[0]);
  u = b.conv("downsample2.encode_conv", b.lif("downsample2.encode_lif", u), e[1], 3, 2, 1);
  u = conv_block("ConvBlock2_1.0", u, e[1]);
  u = conv_block("ConvBlock2_2.0", u, e[1]);
  u = b.conv("downsample3.encode_conv", b.lif("downsample3.encode_lif", u), e[2], 3, 2, 1);
  for (int i = 0; i < n3; ++i) u = ms_block("block3." + std::to_string(i), u, e[2]);
  u = b.conv("downsample4.encode_conv", b.lif("downsample4.encode_lif", u), e[3], 3, 1, 1);
  for (int i = 0; i < n4; ++i) u = ms_block("block4." + std::to_string(i), u, e[3]);
  int l = b.lif("lif", b.mean("head_mean", u));
  b.output(b.linear("head", l, classes));
  return std::move(b.g);
}

// A preset as the mapper tests read it (the JSON alone, no energy-table lookup).
inline arch::ChipConfig mapper_preset(const std::string& name) {
  return arch::chip_config_from_json(
      read_json_file(std::string(SPIKECHIP_SOURCE_DIR) + "/arch/presets/" + name + ".json", "chip"), name);
}

// The structure of the shipped model's size ([16,32,48,64], 1+1 blocks, 28x28, 10 classes).
inline model::Graph fmnist_sized_shape() { return meta_spikeformer_shape({16, 32, 48, 64}, 1, 1, 1, 28, 10); }

}  // namespace spikechip::testing
