// Co-location clusters (docs/mapper.md): nodes that must share cores (a LIF or Output with its
// input, an Add with its operands) and the membrane words and weight bytes each output neuron
// or channel of the cluster needs, from which the partition sizes groups. A residual stream too
// large for the chip is cut at its Adds (`cut_adds`): such an Add receives its stream operand as
// values from the cores holding it (route kind `membrane`) instead of reading it locally.
#include <algorithm>
#include <map>
#include <numeric>

#include <fmt/format.h>

#include "base/error.hpp"
#include "mapper/mapper.hpp"

namespace spikechip::mapper {

using model::Graph;
using model::Node;
using model::Op;

namespace {
// Consumer edges of every node (an input read twice counts twice).
std::vector<std::vector<int>> consumers_of(const Graph& g) {
  std::vector<std::vector<int>> consumers(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (int in : g.nodes[i].inputs) consumers[size_t(in)].push_back(int(i));
  return consumers;
}
// A stream operand of Add `k`: a membrane input that others read too (the stream the Add extends,
// not an accumulator that adds only into it).
bool stream_operand(const Graph& g, const std::vector<std::vector<int>>& consumers, int k, int in) {
  const Op op = g.nodes[size_t(in)].op;
  return g.nodes[size_t(k)].op == Op::Add && op != Op::Input && op != Op::LIF && consumers[size_t(in)].size() > 1;
}
}  // namespace

std::vector<int> cuttable_adds(const Graph& g) {
  const auto consumers = consumers_of(g);
  std::vector<int> out;
  for (size_t k = 0; k < g.nodes.size(); ++k)
    for (int in : g.nodes[k].inputs)
      if (stream_operand(g, consumers, int(k), in)) {
        out.push_back(int(k));
        break;
      }
  return out;
}

std::vector<int> cut_adds_of(const Graph& g, const std::vector<Cluster>& clusters) {
  std::vector<int> cluster_of(g.nodes.size(), -1);
  for (const Cluster& c : clusters)
    for (int i : c.nodes)
      if (i >= 0 && size_t(i) < g.nodes.size()) cluster_of[size_t(i)] = c.id;
  const auto consumers = consumers_of(g);
  std::vector<int> out;
  for (size_t k = 0; k < g.nodes.size(); ++k)
    for (int in : g.nodes[k].inputs)
      if (stream_operand(g, consumers, int(k), in) && cluster_of[size_t(in)] != cluster_of[k]) {
        out.push_back(int(k));
        break;
      }
  return out;
}

std::vector<Cluster> build_clusters(const Graph& g, const std::vector<int>& cut_adds) {
  const int n = int(g.nodes.size());
  std::vector<int> parent(n);
  std::iota(parent.begin(), parent.end(), 0);
  auto find = [&](int a) {
    while (parent[a] != a) a = parent[a] = parent[parent[a]];
    return a;
  };
  auto unite = [&](int a, int b) { parent[find(a)] = find(b); };
  const auto consumers = consumers_of(g);
  std::vector<char> cut(size_t(n), 0);
  for (int k : cut_adds) cut.at(size_t(k)) = 1;
  // Is input `in` of node i read from other cores (a cut Add's stream operand)?
  auto remote = [&](int i, int in) { return cut[size_t(i)] && stream_operand(g, consumers, i, in); };
  for (int i = 0; i < n; ++i) {
    const Node& nd = g.nodes[i];
    // A LIF / Output reads its input membrane locally; an Add reads all its operands locally
    // (unless cut: then its stream operand arrives as values). A Mean is a reduction: its input
    // stream stays where it is and sends partial sums.
    if (nd.op == Op::LIF || nd.op == Op::Output || nd.op == Op::Add)
      for (int in : nd.inputs)
        if (!remote(i, in)) unite(i, in);
  }
  std::map<int, std::vector<int>> members;
  for (int i = 0; i < n; ++i)
    if (g.nodes[i].op != Op::Input) members[find(i)].push_back(i);
  std::vector<Cluster> out;
  for (auto& [root, nodes] : members) {
    Cluster c;
    c.nodes = nodes;
    c.shape = g.nodes[nodes.front()].shape;
    int64_t words = 0, weight = 0;
    for (int i : nodes) {
      const Node& nd = g.nodes[i];
      if (!(nd.shape == c.shape))
        throw Error(fmt::format("mapper: node '{}' ({}x{}x{}) must share cores with '{}' ({}x{}x{}) but "
                                "the shapes differ; the graph is not valid (run 'spikechip model info')",
                                nd.name, nd.shape.c, nd.shape.h, nd.shape.w, g.nodes[nodes.front()].name,
                                c.shape.c, c.shape.h, c.shape.w));
      switch (nd.op) {
        case Op::Conv2d:
        case Op::Linear: {
          // A weight layer whose only consumers are Adds of its own cluster accumulates straight
          // into the Add's word (the residual accumulator) and needs no word of its own.
          bool into_add = !consumers[i].empty();
          for (int k : consumers[i])
            if (g.nodes[k].op != Op::Add || find(k) != root) into_add = false;
          if (!into_add) words += 1;
          weight += model::param_bytes_per_channel(g, nd);  // packed weights, bias, shift per output channel
          break;
        }
        case Op::LIF:
          if (g.timesteps > 1) words += 1;  // V carried across timesteps (zero at t=0 otherwise)
          weight += model::param_bytes_per_channel(g, nd);  // threshold per channel
          break;
        case Op::SDSA: {
          words += 1;
          c.sdsa = true;
          c.heads = nd.heads;
          int64_t d = nd.shape.c / nd.heads, tokens = int64_t(nd.shape.h) * nd.shape.w;
          // KV coincidence matrix d x d, plus q/k/v spike bits of all tokens of the head.
          c.mem_bytes_per_head = 4 * (d * d + (3 * d * tokens + 31) / 32);
          break;
        }
        case Op::Add:
          words += 1;  // the sum, plus a word per stream operand received from other cores
          for (int in : nd.inputs) words += remote(i, in);
          break;
        default: words += 1;  // Mean, Output accumulators
      }
    }
    c.mem_bytes_per_neuron = words * model::membrane_word_bytes(g);  // words at the model's membrane width
    c.weight_bytes_per_channel = weight;
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(), [](const Cluster& a, const Cluster& b) { return a.nodes[0] < b.nodes[0]; });
  for (size_t i = 0; i < out.size(); ++i) out[i].id = int(i);
  return out;
}
}  // namespace spikechip::mapper
