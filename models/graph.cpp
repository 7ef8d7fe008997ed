#include "models/graph.hpp"

#include <algorithm>

#include "base/error.hpp"

namespace spikechip::model {

namespace {
struct OpInfo {
  Op op;
  const char* name;
};
constexpr OpInfo kOps[] = {{Op::Input, "Input"}, {Op::Conv2d, "Conv2d"}, {Op::Linear, "Linear"},
                           {Op::LIF, "LIF"},     {Op::Add, "Add"},       {Op::SDSA, "SDSA"},
                           {Op::Mean, "Mean"},   {Op::Output, "Output"}};
}  // namespace

const char* op_name(Op op) {
  for (const auto& o : kOps)
    if (o.op == op) return o.name;
  return "?";
}

Op op_from_name(const std::string& name) {
  for (const auto& o : kOps)
    if (name == o.name) return o.op;
  throw Error("unknown op '" + name + "' (known: Input, Conv2d, Linear, LIF, Add, SDSA, Mean, Output)");
}

ValueKind output_kind(Op op) {
  switch (op) {
    case Op::Input: return ValueKind::Input;
    case Op::LIF: return ValueKind::Spike;
    default: return ValueKind::Membrane;
  }
}

int Graph::find(const std::string& n) const {
  for (size_t i = 0; i < nodes.size(); ++i)
    if (nodes[i].name == n) return int(i);
  return -1;
}

int64_t dense_ops(const Graph& g, const Node& n) {
  if (n.op == Op::Conv2d) {
    const Shape& in = g.input_shape(n);
    return int64_t(n.kh) * n.kw * (in.c / n.groups) * n.shape.c * n.shape.h * n.shape.w;
  }
  if (n.op == Op::Linear) return g.input_shape(n).size() * n.shape.c;
  return 0;
}

int max_weight_bits(const Graph& g) {
  int b = 0;
  for (const Node& n : g.nodes)
    if (n.op == Op::Conv2d || n.op == Op::Linear) b = std::max(b, weight_bits_of(g, n));
  return b ? b : g.weight_bits;
}

int64_t node_fan_in(const Graph& g, const Node& n) {
  const Shape& in = g.input_shape(n);
  return n.op == Op::Conv2d ? int64_t(in.c / n.groups) * n.kh * n.kw : in.size();
}

int64_t fan_in_slice_weight_bytes(const Graph& g, const Node& n, int channels) {
  return packed_weight_bytes(node_fan_in(g, n) / g.input_shape(n).c * channels, weight_bits_of(g, n));
}

int64_t param_bytes_per_channel(const Graph& g, const Node& n) {
  switch (n.op) {
    case Op::Conv2d:
    case Op::Linear: return packed_weight_bytes(node_fan_in(g, n), weight_bits_of(g, n)) + membrane_word_bytes(g) + 1;
    case Op::LIF: return membrane_word_bytes(g);
    default: return 0;
  }
}

int64_t folded_params(const Node& n) { return int64_t(n.weight.size()) + int64_t(n.bias.size()); }

}  // namespace spikechip::model
