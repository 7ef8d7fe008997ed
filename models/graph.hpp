#pragma once
// The model IR: a topologically sorted graph of integer nodes (docs/model-format.md), with the
// arithmetic of docs/semantics.md. Plain data: the golden executor, the mapper and the chip model
// all read it; only models/graph_io.* reads and writes files.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "models/weights.hpp"

namespace spikechip::model {

enum class Op { Input, Conv2d, Linear, LIF, Add, SDSA, Mean, Output };
enum class ValueKind { Input, Spike, Membrane };

const char* op_name(Op op);
Op op_from_name(const std::string& name);  // throws spikechip::Error for unknown names
ValueKind output_kind(Op op);              // Input->Input, LIF->Spike, Output->Membrane, else Membrane

struct Shape {
  int c = 0, h = 1, w = 1;
  int64_t size() const { return int64_t(c) * h * w; }
  bool operator==(const Shape&) const = default;
};

struct Node {
  std::string name;
  Op op = Op::Input;
  std::vector<int> inputs;  // indices of earlier nodes
  Shape shape;              // output shape
  std::string source;       // optional: PyTorch module(s) it came from

  // Conv2d attributes (Linear uses none of them)
  int kh = 1, kw = 1, sy = 1, sx = 1, py = 0, px = 0, groups = 1;
  // LIF
  int tau_shift = 1;
  // SDSA
  int heads = 1, sdsa_shift = 0;
  // Mean
  int count = 1;
  // Input
  std::string encoding = "image";  // "image" or "events"
  // Conv2d / Linear: this layer's weight width; 0 = the model's precision.weight_bits
  // (graph.json node key "weight_bits", written only when it differs). Read it via weight_bits_of.
  int weight_bits = 0;

  // Integer tensors (see docs/model-format.md for which op has which).
  Weights weight;                   // Conv2d [O][I/g][kh][kw]; Linear [O][I] (stored I8 up to 8 bits, else I16)
  std::vector<int32_t> bias;        // [O]
  std::vector<uint8_t> shift;       // [O]
  std::vector<int32_t> threshold;   // LIF [C]
  std::vector<int32_t> zero_point;  // Input [C]

  nlohmann::json quant = nlohmann::json::object();  // floats for documentation / dequantisation

  ValueKind kind() const { return output_kind(op); }
  int in_channels_per_group(const Shape& in) const { return in.c / groups; }
};

// Widths a model's integers are quantised to (docs/semantics.md "Integer widths and overflow"):
// graph.json "precision" {weight_bits, membrane_bits}; absent = 8 / 32.
inline constexpr int kWeightBitsChoices[] = {4, 6, 8, 12, 16};
inline constexpr int kMembraneBitsChoices[] = {16, 24, 32};

// The most timesteps a run may ask for (-T of run/infer/eval, a sweep's "T", Python's T, and a
// chip run of a model whose own timesteps are more). graph.json's "timesteps" may be larger; the
// golden commands take such a model's own T.
inline constexpr int kMaxRunTimesteps = 64;

struct Graph {
  int format_version = 1;
  std::string name;
  std::string description;
  int timesteps = 1;
  int num_classes = 0;
  int weight_bits = 8;     // weights in [-2^(b-1), 2^(b-1) - 1] (the default of every layer)
  int membrane_bits = 32;  // every membrane value saturates to [-2^(m-1), 2^(m-1) - 1]
  nlohmann::json provenance = nlohmann::json::object();
  std::vector<Node> nodes;

  const Node& input() const { return nodes.front(); }
  const Node& output() const { return nodes.back(); }
  int find(const std::string& name) const;  // -1 if absent
  const Shape& input_shape(const Node& n, int i = 0) const { return nodes[n.inputs[i]].shape; }
};

// The weight width of a Conv2d / Linear node: its own override, else the model's.
inline int weight_bits_of(const Graph& g, const Node& n) { return n.weight_bits ? n.weight_bits : g.weight_bits; }
// The widest weights of any layer (what a chip's core.weight_bits must take).
int max_weight_bits(const Graph& g);
// Bytes of `count` weights of `bits` each, packed (a 4-bit layer needs half the SRAM of an 8-bit one).
inline int64_t packed_weight_bytes(int64_t count, int bits) { return (count * bits + 7) / 8; }

// Bytes of one membrane-width word (bias, threshold, membrane): 2, 3 or 4.
inline int membrane_word_bytes(const Graph& g) { return g.membrane_bits / 8; }
// Inputs each output neuron of a Conv2d / Linear node adds up (Cin/g * kh * kw, or C*H*W).
int64_t node_fan_in(const Graph& g, const Node& n);
// Packed weight bytes of one output channel's fan-in over `channels` of its input channels (a
// fan-in split's slice, docs/mapper.md "Split fan-in"; Conv2d with groups 1, or Linear).
int64_t fan_in_slice_weight_bytes(const Graph& g, const Node& n, int channels);
// Weight-SRAM bytes of one output channel's parameters on a core (the mapper sizes groups with it,
// the chip reloads it): Conv2d / Linear: fan-in weights packed at the layer's width + a bias at
// the membrane width + a u8 shift; LIF: a threshold at the membrane width; others 0. At 8 / 32
// bits: fan_in + 4 + 1 and 4.
int64_t param_bytes_per_channel(const Graph& g, const Node& n);

// Dense (every input = 1) operation count of a weight node, k*k*Cin/g*Cout*Ho*Wo (mspk_ops.py).
int64_t dense_ops(const Graph& g, const Node& n);
// Number of learned parameters of a weight node in the folded graph (weights + biases).
int64_t folded_params(const Node& n);

}  // namespace spikechip::model
