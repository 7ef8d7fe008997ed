#pragma once
// Reading, writing and validating spikechip model directories (docs/model-format.md):
//   DIR/graph.json + DIR/weights.safetensors.
// Every error is a spikechip::Error whose message names the file, the node and the key.
#include <nlohmann/json.hpp>
#include <string>

#include "models/graph.hpp"
#include "models/safetensors.hpp"

namespace spikechip::model {

inline constexpr const char* kGraphFile = "graph.json";
inline constexpr const char* kWeightsFile = "weights.safetensors";

// Loads and fully validates a model directory.
Graph load_model(const std::string& dir);
// Validates, then writes both files (each to a temporary file renamed into place; the directory
// is created if missing). Deterministic: the same graph gives the same bytes on every run.
void save_model(const Graph& g, const std::string& dir);

// Structural, attribute, shape and tensor-size checks of an in-memory graph (builders call it
// too). `origin` prefixes every message (e.g. "models/x/graph.json").
void validate_graph(const Graph& g, const std::string& origin);
// The structural checks alone, for a graph read from JSON before its tensors are attached
// (attach_tensors relies on them: every node's inputs exist).
void validate_graph_structure(const Graph& g, const std::string& origin);

// The graph without its tensors. graph_from_json checks keys and types strictly but not the
// graph-level rules (validate_graph does, after the tensors are attached).
nlohmann::json graph_to_json(const Graph& g);
Graph graph_from_json(const nlohmann::json& j, const std::string& origin);
// graph.json text exactly as save_model writes it (human key order, 2-space indent, final '\n').
std::string graph_to_json_text(const Graph& g);

// Tensors <-> nodes. attach_tensors checks that each expected tensor exists with the right dtype
// and shape (computed from the node and its input shapes) and that no extra tensor is left.
SafeTensors graph_tensors(const Graph& g);
void attach_tensors(Graph& g, const SafeTensors& st, const std::string& origin);

// The input shape a node's tensor must have; useful to builders. Empty if the node has no such
// tensor. `tensor` is the suffix: "weight", "bias", "shift", "threshold", "zero_point".
std::vector<int64_t> expected_tensor_shape(const Graph& g, const Node& n, const std::string& tensor);

// Bytes of integer tensors a node owns (weights packed at the layer's width, bias/threshold/zero point 4 B, shift 1 B),
// and bytes of state it keeps across timesteps (LIF membranes, Output accumulators: int32).
int64_t weight_bytes(const Graph& g, const Node& n);
int64_t state_bytes(const Node& n);

// Largest |value| a Conv2d/Linear accumulation can reach before saturation, from the weights:
// max over outputs of (sum |w| * max|input|) << shift + |bias| (max|input| = 1 on spikes, 255 on
// input tensors). Lets kernels prove that 32-bit accumulators suffice. 0 for other ops.
int64_t accumulator_bound(const Graph& g, const Node& n);

}  // namespace spikechip::model
