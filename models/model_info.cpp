#include "models/model_info.hpp"

#include "models/graph_io.hpp"

namespace spikechip::model {

nlohmann::ordered_json model_info_json(const Graph& g, const std::string& dir) {
  int64_t params = 0, ops = 0, wbytes = 0, sbytes = 0;
  nlohmann::ordered_json nodes = nlohmann::ordered_json::array();
  for (const Node& n : g.nodes) {
    const int64_t p = folded_params(n), d = dense_ops(g, n), wb = weight_bytes(g, n), sb = state_bytes(n);
    params += p;
    ops += d;
    wbytes += wb;
    sbytes += sb;
    nlohmann::ordered_json in = nlohmann::ordered_json::array();
    for (int i : n.inputs) in.push_back(g.nodes[size_t(i)].name);
    nodes.push_back({{"name", n.name}, {"op", op_name(n.op)}, {"inputs", in},
                     {"shape", {n.shape.c, n.shape.h, n.shape.w}}, {"params", p}, {"dense_ops", d},
                     {"weight_bytes", wb}, {"membrane_bytes", sb}});
  }
  nlohmann::ordered_json j;
  j["model"] = dir;
  j["name"] = g.name;
  j["timesteps"] = g.timesteps;
  j["num_classes"] = g.num_classes;
  j["input"] = {{"shape", {g.input().shape.c, g.input().shape.h, g.input().shape.w}}, {"encoding", g.input().encoding}};
  j["nodes"] = nodes;
  j["totals"] = {{"nodes", g.nodes.size()}, {"params", params}, {"dense_ops", ops},
                 {"dense_ops_per_inference", ops * g.timesteps}, {"weight_bytes", wbytes},
                 {"membrane_bytes", sbytes}};
  return j;
}

}  // namespace spikechip::model
