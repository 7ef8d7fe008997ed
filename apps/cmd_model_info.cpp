// `spikechip model info DIR [--json]`: validates a model directory and summarises it per layer.
#include <fmt/format.h>
#include <iostream>

#include "base/json_text.hpp"
#include "apps/cli.hpp"
#include "models/graph_io.hpp"
#include "models/model_info.hpp"

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
  const nlohmann::ordered_json j = model_info_json(g, o.dir);
  if (o.json) {
    std::cout << json_text(j, 2) << "\n";
    return;
  }
  const auto& nodes = j["nodes"];
  const auto& tot = j["totals"];
  const int64_t params = tot["params"], ops = tot["dense_ops"], wbytes = tot["weight_bytes"], sbytes = tot["membrane_bytes"];
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
