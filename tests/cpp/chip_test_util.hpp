#pragma once
// Helpers of the chip fidelity tests: graphs with real integer tensors (seeded), thresholds
// calibrated with the golden executor, and a builder of hand-made mappings (mapper::Mapping built
// field by field, not by the mapper) that is validated by the strict mapping loader.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "arch/chip.hpp"
#include "arch/chip_config.hpp"
#include "mapper/mapper.hpp"
#include "models/executor.hpp"
#include "models/graph.hpp"
#include "models/graph_io.hpp"
#include "models/inputs.hpp"
#include "models/meta_spikeformer.hpp"
#include "spikechip/source_dir.hpp"

namespace spikechip::testing {

// The shipped model (models/fmnist) at T = 2 and its samples.
struct ShippedModel {
  model::Graph g;
  std::vector<model::InputItem> items;
  ShippedModel() {
    const std::string dir = std::string(SPIKECHIP_SOURCE_DIR) + "/models/fmnist";
    g = model::load_model(dir);
    g.timesteps = 2;
    items = model::read_inputs(dir + "/sample.npy", g);
  }
  model::InputView input() const { return {items.at(0).data.data(), 1, items.at(0).shape}; }
};

inline arch::ChipConfig chip_preset(const std::string& name) {
  return arch::load_chip_config(std::string(SPIKECHIP_SOURCE_DIR) + "/arch/presets/" + name + ".json");
}

// The default model's size (27 cores on tiny's 8x8 at T = 1) with seeded synthetic weights.
inline model::Graph small_meta_spikeformer(int T) {
  model::MetaSpikeFormerSpec s;
  s.dims = {16, 32, 48, 64};
  s.blocks3 = 1, s.blocks4 = 1;
  s.in_channels = 1, s.height = 28, s.width = 28, s.num_classes = 10, s.T = T;
  model::Graph g = model::build_meta_spikeformer(s, 7, 0.2);
  g.timesteps = T;
  return g;
}

// The time-multiplexed set-up of the chip tests: the `tiny` preset cut to a 4x4 mesh, on which
// small_meta_spikeformer's groups outnumber the cores, and `g` mapped with --time-multiplex (so
// in two phases or more; callers assert it).
struct TimeMultiplexedChip {
  arch::ChipConfig chip;
  mapper::Mapping m;
};
inline TimeMultiplexedChip time_multiplexed_tiny(const model::Graph& g) {
  TimeMultiplexedChip t{chip_preset("tiny"), {}};
  t.chip.mesh.width = 4, t.chip.mesh.height = 4;
  mapper::MapOptions mo;
  mo.time_multiplex = true;
  t.m = mapper::map_model(g, t.chip, mo);
  return t;
}

// Builds a graph with seeded int8 weights, small biases and shifts 0; thresholds are set later by
// calibrate_thresholds.
class WeightedGraphBuilder {
 public:
  WeightedGraphBuilder(std::string name, uint64_t seed) : rng_(seed) { g.name = std::move(name); }

  int input(int c, int h, int w, int zero_point = 0) {
    model::Node n;
    n.name = "input", n.op = model::Op::Input, n.shape = {c, h, w};
    n.zero_point.assign(size_t(c), zero_point);
    return push(std::move(n), {});
  }
  int conv(const std::string& name, int in, int cout, int k, int s, int p) {
    const model::Shape& i = g.nodes[size_t(in)].shape;
    model::Node n;
    n.name = name, n.op = model::Op::Conv2d;
    n.shape = {cout, (i.h + 2 * p - k) / s + 1, (i.w + 2 * p - k) / s + 1};
    n.kh = n.kw = k, n.sy = n.sx = s, n.py = n.px = p;
    fill_weights(n, int64_t(cout) * i.c * k * k, cout);
    return push(std::move(n), {in});
  }
  int linear(const std::string& name, int in, int out) {
    model::Node n;
    n.name = name, n.op = model::Op::Linear, n.shape = {out, 1, 1};
    fill_weights(n, int64_t(out) * g.nodes[size_t(in)].shape.size(), out);
    return push(std::move(n), {in});
  }
  int lif(const std::string& name, int in) {
    model::Node n;
    n.name = name, n.op = model::Op::LIF, n.shape = g.nodes[size_t(in)].shape;
    n.threshold.assign(size_t(n.shape.c), 1);
    return push(std::move(n), {in});
  }
  int add(const std::string& name, std::vector<int> ins) {
    model::Node n;
    n.name = name, n.op = model::Op::Add, n.shape = g.nodes[size_t(ins[0])].shape;
    return push(std::move(n), std::move(ins));
  }
  int sdsa(const std::string& name, int q, int k, int v, int heads, int shift) {
    model::Node n;
    n.name = name, n.op = model::Op::SDSA, n.shape = g.nodes[size_t(q)].shape;
    n.heads = heads, n.sdsa_shift = shift;
    return push(std::move(n), {q, k, v});
  }
  int mean(const std::string& name, int in) {
    const model::Shape& s = g.nodes[size_t(in)].shape;
    model::Node n;
    n.name = name, n.op = model::Op::Mean, n.shape = {s.c, 1, 1}, n.count = s.h * s.w;
    return push(std::move(n), {in});
  }
  int output(int in) {
    model::Node n;
    n.name = "output", n.op = model::Op::Output, n.shape = g.nodes[size_t(in)].shape;
    n.quant = {{"scale", 1.0}};
    g.num_classes = n.shape.c;
    return push(std::move(n), {in});
  }

  model::Graph g;

 private:
  int push(model::Node n, std::vector<int> inputs) {
    n.inputs = std::move(inputs);
    g.nodes.push_back(std::move(n));
    return int(g.nodes.size()) - 1;
  }
  void fill_weights(model::Node& n, int64_t count, int cout) {
    n.weight.resize(size_t(count));
    for (auto& w : n.weight) w = int8_t(int(rng_() % 255) - 127);
    n.bias.resize(size_t(cout));
    for (auto& b : n.bias) b = int32_t(rng_() % 41) - 20;
    n.shift.assign(size_t(cout), 0);
  }
  std::mt19937_64 rng_;
};

inline std::vector<uint8_t> random_image(const model::Shape& sh, uint64_t seed) {
  std::mt19937_64 r(seed);
  std::vector<uint8_t> v(size_t(sh.size()));
  for (auto& x : v) x = uint8_t(r() % 256);
  return v;
}

// A core model against the event core: `g` mapped for `model_cfg` (a core model never changes
// the mapping), a seeded random image run on the golden executor (spikes recorded) and on a chip
// of each config, the model's first.
struct CoreModelRuns {
  model::RunResult golden;
  arch::ChipRunResult model, event;
};
inline CoreModelRuns run_against_event_core(const model::Graph& g, const arch::ChipConfig& model_cfg,
                                            const arch::ChipConfig& event_cfg, int T, uint64_t seed = 5) {
  const mapper::Mapping m = mapper::map_model(g, model_cfg, mapper::MapOptions{});
  const auto img = random_image(g.input().shape, seed);
  const model::InputView in{img.data(), 1, g.input().shape};
  model::RunOptions ro;
  ro.record_spikes = true;
  CoreModelRuns r{model::GoldenExecutor(g).run(in, T, ro), {}, {}};
  r.model = arch::Chip(g, model_cfg, m).run(in, T);
  r.event = arch::Chip(g, event_cfg, m).run(in, T);
  return r;
}

// For every LIF in graph order: the smallest uniform threshold (>= 1) at which it fires at most
// `rate` of its neurons at T = 1 on `img` (the golden run's spike count is monotone in the
// threshold), so that every layer of a test network is active but not saturated.
inline void calibrate_thresholds(model::Graph& g, const std::vector<uint8_t>& img, double rate) {
  model::InputView in{img.data(), 1, g.input().shape};
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (g.nodes[i].op != model::Op::LIF) continue;
    const double size = double(g.nodes[i].shape.size());
    int32_t lo = 1, hi = 1 << 24;
    while (lo < hi) {
      const int32_t mid = lo + (hi - lo) / 2;
      std::fill(g.nodes[i].threshold.begin(), g.nodes[i].threshold.end(), mid);
      model::GoldenExecutor ex(g);
      model::RunOptions ro;
      ro.threads = 1;
      const model::RunResult r = ex.run(in, 1, ro);
      if (double(r.stats[i][0].spikes) <= rate * size) hi = mid;
      else lo = mid + 1;
    }
    std::fill(g.nodes[i].threshold.begin(), g.nodes[i].threshold.end(), lo);
  }
}

inline mapper::Box box(int c0, int c1, int y0, int y1, int x0, int x1) { return {c0, c1, y0, y1, x0, x1}; }

// A mapping written by hand: clusters, groups (box + core), routes (region + destination set).
// finish() adds the XY multicast trees (links) and passes the result through the strict loader.
class HandMapping {
 public:
  HandMapping(const model::Graph& g, const arch::ChipConfig& chip, int w, int h) : g_(g) {
    m.model_name = g.name, m.model_hash = mapper::structure_hash(g);
    m.chip_name = chip.name, m.chip_hash = mapper::chip_hash(chip);
    m.mesh_w = m.chip_w = w, m.mesh_h = m.chip_h = h;
    m.membrane_sram_bytes = chip.core.membrane_sram_bytes, m.weight_sram_bytes = chip.core.weight_sram_bytes;
    m.options = {{"placement", "hand"}};
    for (const auto& n : g.nodes) m.node_names.push_back(n.name);
  }
  int cluster(const std::vector<std::string>& nodes, int sdsa_heads = 0) {
    mapper::Cluster c;
    c.id = int(m.clusters.size());
    for (const auto& n : nodes) c.nodes.push_back(node(n));
    std::sort(c.nodes.begin(), c.nodes.end());
    c.shape = g_.nodes[size_t(c.nodes.back())].shape;
    c.sdsa = sdsa_heads > 0, c.heads = std::max(1, sdsa_heads);
    c.mem_bytes_per_neuron = 4 * int64_t(c.nodes.size());
    c.channels_per_group = c.shape.c, c.tile_h = c.shape.h, c.tile_w = c.shape.w;
    c.n_channel_chunks = c.n_tiles_y = c.n_tiles_x = 1;
    m.clusters.push_back(c);
    return c.id;
  }
  int group(int cluster, mapper::Box b, int x, int y) {
    mapper::Group gr;
    gr.id = int(m.groups.size()), gr.cluster = cluster, gr.box = b, gr.core = y * m.mesh_w + x;
    gr.membrane_bytes = b.volume() * m.clusters[size_t(cluster)].mem_bytes_per_neuron;
    m.groups.push_back(gr);
    return gr.id;
  }
  int route(const std::string& kind, int src_group, const std::string& src_node, mapper::Box region,
            std::vector<int> dests) {
    mapper::Route r;
    r.id = int(m.routes.size()), r.kind = kind, r.src_group = src_group, r.src_node = node(src_node);
    r.region = region, r.dests = std::move(dests), r.events = 1;
    m.routes.push_back(r);
    return r.id;
  }
  // Strict loader round trip: a hand mapping that the loader rejects fails the test here.
  mapper::Mapping finish() {
    for (auto& r : m.routes) {
      const int src = r.src_group < 0 ? -1 : m.groups[size_t(r.src_group)].core;
      std::vector<std::pair<int, int>> links;
      for (int d : r.dests) xy_path(src, d < 0 ? -1 : m.groups[size_t(d)].core, links);
      std::sort(links.begin(), links.end());
      links.erase(std::unique(links.begin(), links.end()), links.end());
      r.links = links;
    }
    // One phase holding every group (mapping_version 2's phase table must count them).
    m.phases.assign(1, mapper::Phase{});
    m.phases[0].groups = int(m.groups.size());
    return mapper::mapping_from_json(mapper::mapping_to_json(m), "hand mapping");
  }
  int node(const std::string& name) const {
    const int i = g_.find(name);
    EXPECT_GE(i, 0) << name;
    return i;
  }

  mapper::Mapping m;

 private:
  // The host port sits west of core (0,0) (docs/mapper.md): its links are host<->core 0.
  void xy_path(int from, int to, std::vector<std::pair<int, int>>& out) const {
    const int W = m.mesh_w;
    int cur = from;
    if (from < 0) out.push_back({-1, 0}), cur = 0;
    const int tgt = to < 0 ? 0 : to;
    while (cur % W != tgt % W) {
      const int nxt = cur + (tgt % W > cur % W ? 1 : -1);
      out.push_back({cur, nxt}), cur = nxt;
    }
    while (cur / W != tgt / W) {
      const int nxt = cur + (tgt / W > cur / W ? W : -W);
      out.push_back({cur, nxt}), cur = nxt;
    }
    if (to < 0) out.push_back({0, -1});
  }
  const model::Graph& g_;
};

}  // namespace spikechip::testing
