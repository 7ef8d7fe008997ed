// `spikechip model info DIR [--json]`: validates a model directory and summarises it per layer.
#include <fmt/format.h>
#include <iostream>

#include "apps/cli.hpp"
#include "models/graph_io.hpp"

namespace spikechip::cli {
namespace {

struct InfoOptions {
  std::string dir;
  bool json = false;
};

std::string shape_text(const model::Shape& s) { return fmt::format("{}x{}x{}", s.c, s.h, s.w); }

void run_info(const InfoOptions& o) {
  using namespace model;
  const Graph g = load_model(o.dir);
  int64_t params = 0, ops = 0, wbytes = 0, sbytes = 0;
  nlohmann::ordered_json nodes = nlohmann::ordered_json::array();
  for (const Node& n : g.nodes) {
    const int64_t p = folded_params(n), d = dense_ops(g, n), wb = weight_bytes(n), sb = state_bytes(n);
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
  if (o.json) {
    nlohmann::ordered_json j;
    j["model"] = o.dir;
    j["name"] = g.name;
    j["timesteps"] = g.timesteps;
    j["num_classes"] = g.num_classes;
    j["input"] = {{"shape", {g.input().shape.c, g.input().shape.h, g.input().shape.w}},
                  {"encoding", g.input().encoding}};
    j["nodes"] = nodes;
    j["totals"] = {{"nodes", g.nodes.size()}, {"params", params}, {"dense_ops", ops},
                   {"dense_ops_per_inference", ops * g.timesteps}, {"weight_bytes", wbytes},
                   {"membrane_bytes", sbytes}};
    std::cout << j.dump(2) << "\n";
    return;
  }
  size_t wname = 4;
  for (const Node& n : g.nodes) wname = std::max(wname, n.name.size());
  std::cout << fmt::format("model {} ({}): T = {}, {} classes, input {} ({})\n", g.name, o.dir, g.timesteps,
                           g.num_classes, shape_text(g.input().shape), g.input().encoding);
  const auto row = [&](auto a, auto b, auto c, auto d, auto e, auto f, auto h) {
    std::cout << fmt::format("{:<{}}  {:<6}  {:>12}  {:>10}  {:>14}  {:>12}  {:>14}\n", a, wname, b, c, d, e, f, h);
  };
  row("node", "op", "shape", "params", "dense ops", "weight B", "membrane B");
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const auto& n = nodes[i];
    row(n["name"].get<std::string>(), n["op"].get<std::string>(), shape_text(g.nodes[i].shape),
        n["params"].get<int64_t>(), n["dense_ops"].get<int64_t>(), n["weight_bytes"].get<int64_t>(),
        n["membrane_bytes"].get<int64_t>());
  }
  row("total", "", "", params, ops, wbytes, sbytes);
  std::cout << fmt::format("dense ops per inference (x T = {}): {}\n", g.timesteps, ops * g.timesteps);
}

const RegisterCommand reg(10, [](CLI::App& app) {
  CLI::App* model = command_group(app, "model", "Inspect, build and convert models (a directory with graph.json + weights.safetensors)");
  auto opts = std::make_shared<InfoOptions>();
  CLI::App* info = model->add_subcommand("info", "Validate a model directory and list its layers (op, shape, params, dense ops, bytes)");
  info->add_option("DIR", opts->dir, "Model directory")->required();
  info->add_flag("--json", opts->json, "Machine-readable JSON on stdout");
  info->callback([opts] { run_info(*opts); });
});

}  // namespace
}  // namespace spikechip::cli
