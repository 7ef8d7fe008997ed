#include "models/graph_io.hpp"

#include <algorithm>
#include <filesystem>
#include <set>

#include "base/file_util.hpp"
#include "base/error.hpp"
#include "base/json_text.hpp"
#include "base/strict_json.hpp"

namespace spikechip::model {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

namespace {

constexpr int kMaxShift = 24;
constexpr int kMaxTauShift = 30;

std::string shape_str(const Shape& s) {
  // Appending (not "[" + std::string&&) avoids a GCC 12 -Wrestrict false positive.
  std::string r = "[";
  r.append(std::to_string(s.c)).append(", ").append(std::to_string(s.h)).append(", ");
  r.append(std::to_string(s.w)).append("]");
  return r;
}
const char* kind_name(ValueKind k) {
  switch (k) {
    case ValueKind::Input: return "input";
    case ValueKind::Spike: return "spike";
    default: return "membrane";
  }
}

// Prefix of every message about one node.
std::string at(const std::string& origin, const std::string& node) {
  return origin + ": node '" + excerpt(node) + "': ";
}

// ---------------------------------------------------------------------------------------------
// Strict JSON field access: every miss names origin, node and key.
struct Fields {
  const json& j;
  std::string where;  // "graph.json: node 'x': attrs." or "graph.json: "

  [[noreturn]] void fail(const std::string& key, const std::string& msg) const {
    throw Error(where + key + ": " + msg);
  }
  void only(std::initializer_list<const char*> allowed, const std::string& what) const {
    for (const auto& item : j.items()) {
      const std::string& k = item.key();  // not a structured binding: clang 14 (fuzz build) cannot capture one
      if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return k == a; })) {
        std::string list;
        for (const char* a : allowed) list += std::string(list.empty() ? "" : ", ") + a;
        fail(excerpt(k), "unknown key in " + what + " (allowed: " + (list.empty() ? "none" : list) + ")");
      }
    }
  }
  const json& need(const std::string& key) const {
    if (!j.contains(key)) fail(key, "missing (required)");
    return j.at(key);
  }
  int integer(const std::string& key, const json& v, int lo, int hi) const {
    if (!v.is_number_integer()) fail(key, "expected an integer, got " + describe_json(v));
    const int64_t x = v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX) ? INT64_MAX : v.get<int64_t>();
    if (x < lo || x > hi)
      fail(key, std::to_string(x) + " out of range " + std::to_string(lo) + ".." + std::to_string(hi));
    return int(x);
  }
  int get_int(const std::string& key, int lo, int hi) const { return integer(key, need(key), lo, hi); }
  int get_int(const std::string& key, int lo, int hi, int def) const {
    return j.contains(key) ? integer(key, j.at(key), lo, hi) : def;
  }
  std::string get_string(const std::string& key) const {
    const json& v = need(key);
    if (!v.is_string()) fail(key, "expected a string, got " + describe_json(v));
    return v.get<std::string>();
  }
  std::string get_string(const std::string& key, const std::string& def) const {
    return j.contains(key) ? get_string(key) : def;
  }
  // [a, b] pair of integers
  std::pair<int, int> get_pair(const std::string& key, int lo, int hi, std::pair<int, int> def,
                               bool required) const {
    if (!j.contains(key)) {
      if (required) fail(key, "missing (required)");
      return def;
    }
    const json& v = j.at(key);
    if (!v.is_array() || v.size() != 2) fail(key, "expected [int, int], got " + describe_json(v));
    return {integer(key, v[0], lo, hi), integer(key, v[1], lo, hi)};
  }
  const json& get_object(const std::string& key) const {
    const json& v = need(key);
    if (!v.is_object()) fail(key, "expected an object, got " + describe_json(v));
    return v;
  }
};

constexpr int kMaxDim = 1 << 20;

// ---------------------------------------------------------------------------------------------
Node node_from_json(const json& jn, size_t index, const std::string& origin,
                    std::vector<std::string>& input_names) {
  const std::string idx = "nodes[" + std::to_string(index) + "]";
  if (!jn.is_object()) throw Error(origin + ": " + idx + ": expected an object, got " + describe_json(jn));
  Node n;
  {
    Fields f{jn, origin + ": " + idx + "."};
    n.name = f.get_string("name");
    if (n.name.empty()) f.fail("name", "must not be empty");
  }
  const std::string where = at(origin, n.name);
  Fields f{jn, where};
  f.only({"name", "op", "inputs", "shape", "attrs", "quant", "source", "weight_bits"}, "a node");
  const std::string op = f.get_string("op");
  try {
    n.op = op_from_name(op);
  } catch (const Error& e) {
    f.fail("op", e.what());
  }
  const json& ins = f.need("inputs");
  if (!ins.is_array()) f.fail("inputs", "expected an array of node names, got " + describe_json(ins));
  for (const auto& v : ins) {
    if (!v.is_string()) f.fail("inputs", "expected node names (strings), got " + describe_json(v));
    input_names.push_back(v.get<std::string>());
  }
  const json& shp = f.need("shape");
  if (!shp.is_array() || shp.size() != 3) f.fail("shape", "expected [C, H, W], got " + describe_json(shp));
  n.shape.c = f.integer("shape", shp[0], 1, kMaxDim);
  n.shape.h = f.integer("shape", shp[1], 1, kMaxDim);
  n.shape.w = f.integer("shape", shp[2], 1, kMaxDim);
  n.source = f.get_string("source", "");
  if (jn.contains("quant")) n.quant = f.get_object("quant");
  if (jn.contains("weight_bits")) {
    if (n.op != Op::Conv2d && n.op != Op::Linear)
      f.fail("weight_bits", "only Conv2d and Linear nodes have weights (a per-layer width is set on them)");
    n.weight_bits = f.get_int("weight_bits", 1, 64);  // the value is checked against the choices in validate
  }

  static const json kEmpty = json::object();
  const json& attrs = jn.contains("attrs") ? f.get_object("attrs") : kEmpty;
  Fields a{attrs, where + "attrs."};
  switch (n.op) {
    case Op::Input:
      a.only({"encoding"}, "Input attrs");
      n.encoding = a.get_string("encoding");
      if (n.encoding != "image" && n.encoding != "events")
        a.fail("encoding", "'" + excerpt(n.encoding) + "' is neither 'image' nor 'events'");
      break;
    case Op::Conv2d: {
      a.only({"kernel", "stride", "padding", "groups"}, "Conv2d attrs");
      std::tie(n.kh, n.kw) = a.get_pair("kernel", 1, 255, {1, 1}, true);
      std::tie(n.sy, n.sx) = a.get_pair("stride", 1, 255, {1, 1}, false);
      std::tie(n.py, n.px) = a.get_pair("padding", 0, 255, {0, 0}, false);
      n.groups = a.get_int("groups", 1, kMaxDim, 1);
      break;
    }
    case Op::LIF:
      a.only({"tau_shift"}, "LIF attrs");
      n.tau_shift = a.get_int("tau_shift", 0, kMaxTauShift, 1);
      break;
    case Op::SDSA:
      a.only({"heads", "shift"}, "SDSA attrs");
      n.heads = a.get_int("heads", 1, kMaxDim);
      n.sdsa_shift = a.get_int("shift", 0, kMaxShift, 0);
      break;
    case Op::Mean:
      a.only({"count"}, "Mean attrs");
      n.count = a.get_int("count", 1, 1 << 30);
      break;
    case Op::Linear:
    case Op::Add:
    case Op::Output:
      a.only({}, std::string(op_name(n.op)) + " attrs");
      break;
  }
  return n;
}

ordered_json node_to_json(const Graph& g, const Node& n) {
  ordered_json j;
  j["name"] = n.name;
  j["op"] = op_name(n.op);
  ordered_json ins = ordered_json::array();
  for (int i : n.inputs) ins.push_back(g.nodes.at(size_t(i)).name);
  j["inputs"] = ins;
  j["shape"] = {n.shape.c, n.shape.h, n.shape.w};
  ordered_json attrs = ordered_json::object();
  switch (n.op) {
    case Op::Input: attrs["encoding"] = n.encoding; break;
    case Op::Conv2d:
      attrs["kernel"] = {n.kh, n.kw};
      attrs["stride"] = {n.sy, n.sx};
      attrs["padding"] = {n.py, n.px};
      attrs["groups"] = n.groups;
      break;
    case Op::LIF: attrs["tau_shift"] = n.tau_shift; break;
    case Op::SDSA:
      attrs["heads"] = n.heads;
      attrs["shift"] = n.sdsa_shift;
      break;
    case Op::Mean: attrs["count"] = n.count; break;
    default: break;
  }
  if (!attrs.empty()) j["attrs"] = attrs;
  if (n.weight_bits && n.weight_bits != g.weight_bits) j["weight_bits"] = n.weight_bits;  // a per-layer width
  if (!n.quant.is_null() && !n.quant.empty()) j["quant"] = ordered_json::parse(json_text(n.quant));
  if (!n.source.empty()) j["source"] = n.source;
  return j;
}

ordered_json graph_to_ordered(const Graph& g) {
  ordered_json j;
  j["format_version"] = g.format_version;
  j["name"] = g.name;
  if (!g.description.empty()) j["description"] = g.description;
  j["timesteps"] = g.timesteps;
  j["num_classes"] = g.num_classes;
  if (g.weight_bits != 8 || g.membrane_bits != 32)  // the defaults are not written (files stay as they were)
    j["precision"] = ordered_json{{"weight_bits", g.weight_bits}, {"membrane_bits", g.membrane_bits}};
  j["provenance"] = ordered_json::parse(g.provenance.is_null() ? "{}" : json_text(g.provenance));
  ordered_json nodes = ordered_json::array();
  for (const auto& n : g.nodes) nodes.push_back(node_to_json(g, n));
  j["nodes"] = nodes;
  return j;
}

// Expected tensors of a node: suffix, dtype, and the in-memory vector size.
struct TensorSpec {
  const char* suffix;
  DType dtype;
};
// Weights are stored I8 up to 8 bits (every existing file) and I16 above.
DType weight_dtype(const Graph& g, const Node& n) { return weight_bits_of(g, n) <= 8 ? DType::I8 : DType::I16; }

std::vector<TensorSpec> tensor_specs(const Graph& g, const Node& n) {
  switch (n.op) {
    case Op::Input: return {{"zero_point", DType::I32}};
    case Op::Conv2d:
    case Op::Linear: return {{"weight", weight_dtype(g, n)}, {"bias", DType::I32}, {"shift", DType::U8}};
    case Op::LIF: return {{"threshold", DType::I32}};
    default: return {};
  }
}

size_t stored_size(const Node& n, const std::string& suffix) {
  if (suffix == "weight") return n.weight.size();
  if (suffix == "bias") return n.bias.size();
  if (suffix == "shift") return n.shift.size();
  if (suffix == "threshold") return n.threshold.size();
  return n.zero_point.size();
}

int64_t prod(const std::vector<int64_t>& s) {
  int64_t p = 1;
  for (int64_t d : s) p *= d;
  return p;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
std::vector<int64_t> expected_tensor_shape(const Graph& g, const Node& n, const std::string& t) {
  const int64_t c = n.shape.c;
  switch (n.op) {
    case Op::Input:
      if (t == "zero_point") return {c};
      break;
    case Op::Conv2d:
      if (t == "weight") return {c, g.input_shape(n).c / std::max(1, n.groups), n.kh, n.kw};
      if (t == "bias" || t == "shift") return {c};
      break;
    case Op::Linear:
      if (t == "weight") return {c, g.input_shape(n).size()};
      if (t == "bias" || t == "shift") return {c};
      break;
    case Op::LIF:
      if (t == "threshold") return {c};
      break;
    default: break;
  }
  return {};
}

namespace {
// check_tensors = false validates a graph read from graph.json before its tensors are attached.
void validate_impl(const Graph& g, const std::string& origin, bool check_tensors) {
  if (g.format_version != 1)
    throw Error(origin + ": format_version: " + std::to_string(g.format_version) + " is not supported (expected 1)");
  if (g.timesteps < 1) throw Error(origin + ": timesteps: must be >= 1, got " + std::to_string(g.timesteps));
  if (g.num_classes < 0) throw Error(origin + ": num_classes: must be >= 0");
  auto one_of = [](int v, const auto& choices) { return std::find(std::begin(choices), std::end(choices), v) != std::end(choices); };
  if (!one_of(g.weight_bits, kWeightBitsChoices))
    throw Error(origin + ": precision.weight_bits: " + std::to_string(g.weight_bits) +
                " is not supported (4, 6, 8, 12 or 16)");
  if (!one_of(g.membrane_bits, kMembraneBitsChoices))
    throw Error(origin + ": precision.membrane_bits: " + std::to_string(g.membrane_bits) + " is not supported (16, 24 or 32)");
  if (g.nodes.size() < 2) throw Error(origin + ": nodes: a model needs at least an Input and an Output node");
  if (g.nodes.front().op != Op::Input)
    throw Error(at(origin, g.nodes.front().name) + "op: the first node must be the Input, got " + op_name(g.nodes.front().op));
  if (g.nodes.back().op != Op::Output)
    throw Error(at(origin, g.nodes.back().name) + "op: the last node must be the Output, got " + op_name(g.nodes.back().op));

  std::set<std::string> seen;
  for (size_t idx = 0; idx < g.nodes.size(); ++idx) {
    const Node& n = g.nodes[idx];
    if (n.name.empty()) throw Error(origin + ": nodes[" + std::to_string(idx) + "].name: must not be empty");
    const std::string where = at(origin, n.name);
    if (!seen.insert(n.name).second) throw Error(where + "name: duplicate node name");
    if (n.op == Op::Input && idx != 0) throw Error(where + "op: only one Input node is allowed (the first)");
    if (n.op == Op::Output && idx != g.nodes.size() - 1)
      throw Error(where + "op: only one Output node is allowed (the last)");
    if (n.shape.c < 1 || n.shape.h < 1 || n.shape.w < 1)
      throw Error(where + "shape: " + shape_str(n.shape) + " must be positive");
    if (n.weight_bits && !one_of(n.weight_bits, kWeightBitsChoices))
      throw Error(where + "weight_bits: " + std::to_string(n.weight_bits) + " is not supported (4, 6, 8, 12 or 16)");
    for (int i : n.inputs)
      if (i < 0 || size_t(i) >= idx)
        throw Error(where + "inputs: index " + std::to_string(i) + " is not an earlier node (graph must be topologically sorted)");

    // Input count and kind.
    auto need_inputs = [&](size_t lo, size_t hi, std::initializer_list<ValueKind> kinds) {
      if (n.inputs.size() < lo || n.inputs.size() > hi) {
        const std::string want = lo == hi ? std::to_string(lo) : (hi > 1000 ? "at least " + std::to_string(lo)
                                                                            : std::to_string(lo) + ".." + std::to_string(hi));
        throw Error(where + "inputs: " + op_name(n.op) + " takes " + want + " input(s), got " +
                    std::to_string(n.inputs.size()));
      }
      for (int i : n.inputs) {
        const Node& src = g.nodes[size_t(i)];
        if (std::find(kinds.begin(), kinds.end(), src.kind()) == kinds.end()) {
          std::string list;
          for (ValueKind k : kinds) list += std::string(list.empty() ? "" : " or ") + kind_name(k);
          throw Error(where + "inputs: '" + excerpt(src.name) + "' is a " + kind_name(src.kind()) + " tensor (" +
                      op_name(src.op) + "), " + op_name(n.op) + " takes " + list);
        }
      }
    };
    auto shape_must_be = [&](const Shape& want, const std::string& why) {
      if (!(n.shape == want))
        throw Error(where + "shape: declared " + shape_str(n.shape) + " but computed " + shape_str(want) + " (" + why + ")");
    };

    switch (n.op) {
      case Op::Input:
        need_inputs(0, 0, {});
        if (n.encoding != "image" && n.encoding != "events")
          throw Error(where + "attrs.encoding: '" + n.encoding + "' is neither 'image' nor 'events'");
        if (n.encoding == "events" && n.shape.c != 2)
          throw Error(where + "shape: an events Input has 2 channels (OFF, ON), got " + std::to_string(n.shape.c));
        break;
      case Op::Conv2d: {
        need_inputs(1, 1, {ValueKind::Input, ValueKind::Spike});
        const Shape& in = g.input_shape(n);
        if (n.kh < 1 || n.kw < 1 || n.sy < 1 || n.sx < 1 || n.py < 0 || n.px < 0)
          throw Error(where + "attrs: kernel/stride must be >= 1 and padding >= 0");
        if (n.groups < 1 || in.c % n.groups != 0 || n.shape.c % n.groups != 0)
          throw Error(where + "attrs.groups: " + std::to_string(n.groups) + " does not divide " +
                      std::to_string(in.c) + " input and " + std::to_string(n.shape.c) + " output channels");
        const int eh = in.h + 2 * n.py - n.kh, ew = in.w + 2 * n.px - n.kw;
        if (eh < 0 || ew < 0)
          throw Error(where + "attrs.kernel: [" + std::to_string(n.kh) + ", " + std::to_string(n.kw) +
                      "] is larger than the padded input " + shape_str(in));
        shape_must_be({n.shape.c, eh / n.sy + 1, ew / n.sx + 1}, "Ho = (H + 2p - k) / s + 1 from input " + shape_str(in));
        break;
      }
      case Op::Linear:
        need_inputs(1, 1, {ValueKind::Input, ValueKind::Spike});
        shape_must_be({n.shape.c, 1, 1}, "Linear outputs C x 1 x 1");
        break;
      case Op::LIF:
        need_inputs(1, 1, {ValueKind::Membrane});
        if (n.tau_shift < 0 || n.tau_shift > kMaxTauShift)
          throw Error(where + "attrs.tau_shift: " + std::to_string(n.tau_shift) + " out of range 0.." + std::to_string(kMaxTauShift));
        shape_must_be(g.input_shape(n), "same as its input");
        break;
      case Op::Add:
        need_inputs(2, size_t(-1), {ValueKind::Membrane});
        for (size_t k = 1; k < n.inputs.size(); ++k)
          if (!(g.input_shape(n, int(k)) == g.input_shape(n, 0)))
            throw Error(where + "inputs: operand '" + excerpt(g.nodes[size_t(n.inputs[k])].name) + "' has shape " +
                        shape_str(g.input_shape(n, int(k))) + " but '" + excerpt(g.nodes[size_t(n.inputs[0])].name) +
                        "' has " + shape_str(g.input_shape(n, 0)));
        shape_must_be(g.input_shape(n), "same as its operands");
        break;
      case Op::SDSA: {
        need_inputs(3, 3, {ValueKind::Spike});
        for (int k = 1; k < 3; ++k)
          if (!(g.input_shape(n, k) == g.input_shape(n, 0)))
            throw Error(where + "inputs: q, k, v must have the same shape, '" + excerpt(g.nodes[size_t(n.inputs[size_t(k)])].name) +
                        "' has " + shape_str(g.input_shape(n, k)) + " but q has " + shape_str(g.input_shape(n, 0)));
        const int c = g.input_shape(n).c;
        if (n.heads < 1 || c % n.heads != 0)
          throw Error(where + "attrs.heads: " + std::to_string(n.heads) + " does not divide " + std::to_string(c) + " channels");
        if (n.sdsa_shift < 0 || n.sdsa_shift > kMaxShift)
          throw Error(where + "attrs.shift: " + std::to_string(n.sdsa_shift) + " out of range 0..24");
        shape_must_be(g.input_shape(n), "same as q, k, v");
        break;
      }
      case Op::Mean: {
        need_inputs(1, 1, {ValueKind::Membrane});
        const Shape& in = g.input_shape(n);
        if (int64_t(n.count) != int64_t(in.h) * in.w)
          throw Error(where + "attrs.count: " + std::to_string(n.count) + " but the input " + shape_str(in) +
                      " has H*W = " + std::to_string(int64_t(in.h) * in.w) + " positions");
        shape_must_be({in.c, 1, 1}, "Mean outputs C x 1 x 1");
        break;
      }
      case Op::Output:
        need_inputs(1, 1, {ValueKind::Membrane});
        if (!(g.input_shape(n) == Shape{g.input_shape(n).c, 1, 1}))
          throw Error(where + "inputs: Output takes a C x 1 x 1 membrane, got " + shape_str(g.input_shape(n)));
        shape_must_be(g.input_shape(n), "same as its input");
        if (g.num_classes > 0 && n.shape.c != g.num_classes)
          throw Error(where + "shape: " + std::to_string(n.shape.c) + " outputs but num_classes is " +
                      std::to_string(g.num_classes));
        break;
    }

    if (!check_tensors) continue;
    // Tensors: present with the right number of values; nothing on ops that have none.
    const auto specs = tensor_specs(g, n);
    for (const char* s : {"weight", "bias", "shift", "threshold", "zero_point"}) {
      const bool wanted = std::any_of(specs.begin(), specs.end(), [&](const TensorSpec& t) { return s == std::string(t.suffix); });
      const size_t have = stored_size(n, s);
      if (!wanted) {
        if (have != 0) throw Error(where + s + ": " + op_name(n.op) + " has no " + s + " tensor, but " + std::to_string(have) + " values are set");
        continue;
      }
      const auto shape = expected_tensor_shape(g, n, s);
      if (int64_t(have) != prod(shape))
        throw Error(where + s + ": " + std::to_string(have) + " values, expected " + std::to_string(prod(shape)) +
                    " (shape " + shape_to_string(shape) + ")");
    }
    // Values must fit the declared widths (int8 / int16 / int32 storage already bounds 8, 16, 32).
    const int wb = weight_bits_of(g, n);
    const int64_t wlo = -(int64_t(1) << (wb - 1)), whi = (int64_t(1) << (wb - 1)) - 1;
    for (size_t k = 0; k < n.weight.size(); ++k)
      if (n.weight[k] < wlo || n.weight[k] > whi)
        throw Error(where + "weight: weight[" + std::to_string(k) + "] = " + std::to_string(n.weight[k]) + " does not fit " +
                    std::to_string(wb) + " bits (" + (n.weight_bits ? "the node's weight_bits" : "precision.weight_bits") +
                    ": " + std::to_string(wlo) + ".." + std::to_string(whi) + ")");
    const int64_t mlo = -(int64_t(1) << (g.membrane_bits - 1)), mhi = (int64_t(1) << (g.membrane_bits - 1)) - 1;
    for (const auto* vec : {&n.bias, &n.threshold})
      for (size_t k = 0; k < vec->size() && g.membrane_bits < 32; ++k)
        if ((*vec)[k] < mlo || (*vec)[k] > mhi)
          throw Error(where + (vec == &n.bias ? "bias" : "threshold") + ": value " + std::to_string((*vec)[k]) + " at [" +
                      std::to_string(k) + "] does not fit the " + std::to_string(g.membrane_bits) +
                      "-bit membrane (precision.membrane_bits)");
    for (size_t o = 0; o < n.shift.size(); ++o)
      if (n.shift[o] > kMaxShift)
        throw Error(where + "shift: shift[" + std::to_string(o) + "] = " + std::to_string(n.shift[o]) + " > 24");
    if (n.op == Op::Input && n.encoding == "events")
      for (int32_t z : n.zero_point)
        if (z != 0) throw Error(where + "zero_point: must be 0 for an events Input, got " + std::to_string(z));
  }
}
}  // namespace

void validate_graph(const Graph& g, const std::string& origin) { validate_impl(g, origin, true); }
void validate_graph_structure(const Graph& g, const std::string& origin) { validate_impl(g, origin, false); }

// ---------------------------------------------------------------------------------------------
json graph_to_json(const Graph& g) { return json::parse(json_text(graph_to_ordered(g))); }

std::string graph_to_json_text(const Graph& g) { return json_text(graph_to_ordered(g), 2) + "\n"; }

Graph graph_from_json(const json& j, const std::string& origin) {
  if (!j.is_object()) throw Error(origin + ": the top level must be a JSON object");
  Fields f{j, origin + ": "};
  f.only({"format_version", "name", "description", "timesteps", "num_classes", "precision", "provenance", "nodes"},
         "the graph");
  Graph g;
  g.format_version = f.get_int("format_version", 0, 1 << 30);
  if (g.format_version != 1) f.fail("format_version", std::to_string(g.format_version) + " is not supported (expected 1)");
  g.name = f.get_string("name");
  g.description = f.get_string("description", "");
  g.timesteps = f.get_int("timesteps", 1, 1 << 16);
  g.num_classes = f.get_int("num_classes", 0, 1 << 24);
  g.provenance = f.get_object("provenance");
  if (j.contains("precision")) {
    const json& pj = j.at("precision");
    if (!pj.is_object()) f.fail("precision", "expected an object {weight_bits, membrane_bits}, got " + describe_json(pj));
    Fields pf{pj, origin + ": precision."};
    pf.only({"weight_bits", "membrane_bits"}, "precision");
    g.weight_bits = pf.get_int("weight_bits", 1, 64, 8);
    g.membrane_bits = pf.get_int("membrane_bits", 1, 64, 32);
  }
  const json& nodes = f.need("nodes");
  if (!nodes.is_array()) f.fail("nodes", "expected an array of nodes");
  std::vector<std::string> names;
  for (size_t i = 0; i < nodes.size(); ++i) {
    std::vector<std::string> ins;
    Node n = node_from_json(nodes[i], i, origin, ins);
    if (std::find(names.begin(), names.end(), n.name) != names.end())
      throw Error(at(origin, n.name) + "name: duplicate node name");
    for (const auto& in : ins) {
      auto it = std::find(names.begin(), names.end(), in);
      if (it != names.end()) {
        n.inputs.push_back(int(it - names.begin()));
        continue;
      }
      bool later = false;
      for (size_t k = i + 1; k < nodes.size() && !later; ++k)
        later = nodes[k].is_object() && nodes[k].contains("name") && nodes[k]["name"] == in;
      if (later || in == n.name)
        throw Error(at(origin, n.name) + "inputs: '" + excerpt(in) + "' is defined later (forward edge); nodes must be topologically sorted");
      throw Error(at(origin, n.name) + "inputs: '" + excerpt(in) + "' is not a node of this graph (dangling edge)");
    }
    names.push_back(n.name);
    g.nodes.push_back(std::move(n));
  }
  return g;
}

// ---------------------------------------------------------------------------------------------
SafeTensors graph_tensors(const Graph& g) {
  SafeTensors st;
  st.metadata = {{"format", "spikechip"}, {"format_version", std::to_string(g.format_version)}};
  for (const Node& n : g.nodes) {
    for (const auto& spec : tensor_specs(g, n)) {
      const std::string s = spec.suffix;
      auto shape = expected_tensor_shape(g, n, s);
      const std::string key = n.name + "." + s;
      if (s == "weight")
        st.tensors[key] = spec.dtype == DType::I8 ? from_vector(std::vector<int8_t>(n.weight.begin(), n.weight.end()), shape)
                                                  : from_vector(n.weight.to_vector(), shape);
      else if (s == "bias") st.tensors[key] = from_vector(n.bias, shape);
      else if (s == "shift") st.tensors[key] = from_vector(n.shift, shape);
      else if (s == "threshold") st.tensors[key] = from_vector(n.threshold, shape);
      else st.tensors[key] = from_vector(n.zero_point, shape);
    }
  }
  return st;
}

void attach_tensors(Graph& g, const SafeTensors& st, const std::string& origin) {
  // Structure first, whoever the caller: the expected tensor shapes read each node's inputs (a
  // Linear with "inputs": [] crashed a co-simulation load_model that attached before validating).
  validate_impl(g, origin, false);
  std::set<std::string> used;
  for (Node& n : g.nodes) {
    for (const auto& spec : tensor_specs(g, n)) {
      const std::string s = spec.suffix;
      const std::string key = n.name + "." + s;
      auto it = st.tensors.find(key);
      const std::string where = origin + ": tensor '" + excerpt(key) + "' (node '" + excerpt(n.name) + "')";
      if (it == st.tensors.end()) throw Error(where + ": missing; " + op_name(n.op) + " nodes need " + s);
      const TensorData& t = it->second;
      if (t.dtype != spec.dtype)
        throw Error(where + ": dtype " + dtype_name(t.dtype) + ", expected " + dtype_name(spec.dtype));
      const auto shape = expected_tensor_shape(g, n, s);
      if (t.shape != shape)
        throw Error(where + ": shape " + shape_to_string(t.shape) + ", expected " + shape_to_string(shape));
      if (s == "weight") {
        if (t.dtype == DType::I8) {
          n.weight.assign_narrow(to_vector<int8_t>(t, where));  // one byte per weight, as stored
        } else {
          const auto w16 = to_vector<int16_t>(t, where);
          n.weight.assign(w16.begin(), w16.end());
          n.weight.compact();
        }
      }
      else if (s == "bias") n.bias = to_vector<int32_t>(t, where);
      else if (s == "shift") n.shift = to_vector<uint8_t>(t, where);
      else if (s == "threshold") n.threshold = to_vector<int32_t>(t, where);
      else n.zero_point = to_vector<int32_t>(t, where);
      used.insert(key);
    }
  }
  for (const auto& [name, t] : st.tensors)
    if (!used.count(name))
      throw Error(origin + ": tensor '" + excerpt(name) + "': extra tensor that no node uses (expected <node>.<weight|bias|shift|threshold|zero_point> of a node that has it)");
}

Graph load_model(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw Error(dir + ": model directory not found (a model is a directory with " + kGraphFile + " and " + kWeightsFile + ")");
  const std::string gpath = (fs::path(dir) / kGraphFile).string();
  const std::string wpath = (fs::path(dir) / kWeightsFile).string();
  const auto bytes = read_file_bytes(gpath);
  Graph g = graph_from_json(
      parse_json_text(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), gpath, "graph"), gpath);
  validate_graph_structure(g, gpath);  // structure first: these errors name graph.json
  attach_tensors(g, read_safetensors(wpath), wpath);
  validate_graph(g, wpath);  // value checks (shift range, event zero points)
  return g;
}

void save_model(const Graph& g, const std::string& dir) {
  validate_graph(g, dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create model directory (" + ec.message() + ")");
  // Weights first: a reader that sees the new graph.json also sees matching weights, except for
  // the window between the two renames (a crash there leaves a mismatch that load_model reports).
  write_safetensors((fs::path(dir) / kWeightsFile).string(), graph_tensors(g));
  write_file_atomic((fs::path(dir) / kGraphFile).string(), graph_to_json_text(g));
}

// ---------------------------------------------------------------------------------------------
int64_t weight_bytes(const Graph& g, const Node& n) {
  return packed_weight_bytes(int64_t(n.weight.size()), weight_bits_of(g, n)) + 4 * int64_t(n.bias.size()) + int64_t(n.shift.size()) +
         4 * int64_t(n.threshold.size()) + 4 * int64_t(n.zero_point.size());
}

int64_t state_bytes(const Node& n) {
  if (n.op == Op::LIF || n.op == Op::Output) return 4 * n.shape.size();
  return 0;
}

int64_t accumulator_bound(const Graph& g, const Node& n) {
  if (n.op != Op::Conv2d && n.op != Op::Linear) return 0;
  const Node& src = g.nodes.at(size_t(n.inputs.at(0)));
  int64_t max_in = 1;
  if (src.kind() == ValueKind::Input) {
    max_in = 0;
    for (int32_t z : src.zero_point) max_in = std::max({max_in, std::abs(int64_t(z)), std::abs(255 - int64_t(z))});
    if (src.zero_point.empty()) max_in = 255;
  }
  const size_t O = size_t(n.shape.c);
  if (O == 0 || n.weight.size() % O != 0) return 0;
  const size_t fan = n.weight.size() / O;
  int64_t bound = 0;
  for (size_t o = 0; o < O; ++o) {
    int64_t s = 0;
    for (size_t k = 0; k < fan; ++k) s += std::abs(int64_t(n.weight[o * fan + k]));
    const int sh = o < n.shift.size() ? n.shift[o] : 0;
    const int64_t b = o < n.bias.size() ? std::abs(int64_t(n.bias[o])) : 0;
    bound = std::max(bound, ((s * max_in) << sh) + b);
  }
  return bound;
}

}  // namespace spikechip::model
