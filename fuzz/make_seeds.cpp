// Writes the generated seed corpora of the fuzz targets (docs/reliability.md) into DIR/<target>/:
// a small Meta-SpikeFormer built in memory (the same builder as the shipped models, 1x16x16 input)
// as a model directory and a .safetensors file, its mapping onto the tiny chip preset, .npy input
// batches, event traces in the three formats, and co-simulation requests. The shipped files
// (chip presets, energy tables, sweep examples, sample inputs) are added by scripts/fuzz.
//   make_seeds DIR SOURCE_DIR
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "arch/chip_config.hpp"
#include "cosim/protocol.hpp"
#include "fuzz/fuzz_util.hpp"
#include "mapper/mapper.hpp"
#include "models/graph_io.hpp"
#include "models/meta_spikeformer.hpp"
#include "base/npy.hpp"
#include "traces/events.hpp"

namespace fs = std::filesystem;
using namespace spikechip;

namespace {

fs::path g_out;

void put(const std::string& target, const std::string& name, const std::string& bytes) {
  fs::create_directories(g_out / target);
  std::ofstream(g_out / target / name, std::ios::binary) << bytes;
}
std::string str(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }
std::string joined(const std::vector<std::string>& parts) {
  std::string s;
  for (size_t i = 0; i < parts.size(); ++i) s += (i ? std::string(fuzz::kPartMarker) : "") + parts[i];
  return s;
}
std::string frames(const cosim::Message& m) {
  std::vector<std::string> parts;
  for (const auto& f : cosim::encode_message(m)) parts.push_back(f.to_string());
  return joined(parts);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: make_seeds DIR SOURCE_DIR\n");
    return 2;
  }
  g_out = argv[1];
  const fs::path src = argv[2];
  model::MetaSpikeFormerSpec spec;
  spec.dims = {8, 16, 16, 16};
  spec.blocks3 = 1, spec.blocks4 = 1, spec.in_channels = 1, spec.height = 16, spec.width = 16, spec.num_classes = 10;
  const model::Graph g = model::build_meta_spikeformer(spec, 7);
  const std::string weights = str(model::serialize_safetensors(model::graph_tensors(g)));
  put("model", "tiny", joined({model::graph_to_json_text(g), weights}));
  put("safetensors", "tiny.safetensors", weights);

  const arch::ChipConfig chip = arch::load_chip_config((src / "arch/presets/tiny.json").string());
  mapper::MapOptions mo;
  mo.placement = "snake";
  put("mapping", "tiny.json", mapper::mapping_to_json(mapper::map_model(g, chip, mo)).dump(1));
  // A fan-in split (split.fan_in, group inputs, fan_in routes, docs/mapper.md "Split fan-in"): weight
  // SRAM for 3/4 of the largest output channel, time-multiplexed on 4x4 cores.
  arch::ChipConfig small = chip;
  small.mesh.width = small.mesh.height = 4;
  int64_t widest = 0;
  for (const model::Node& n : g.nodes) widest = std::max(widest, model::param_bytes_per_channel(g, n));
  small.core.weight_sram_bytes = widest * 3 / 4;
  mapper::MapOptions split = mo;
  split.time_multiplex = true;
  put("mapping", "tiny-fan-in.json", mapper::mapping_to_json(mapper::map_model(g, small, split)).dump(1));

  spikechip::NpyArray x{"|u1", {2, 1, 16, 16}, std::vector<uint8_t>(512)};
  for (size_t i = 0; i < x.bytes.size(); ++i) x.bytes[i] = uint8_t(i * 37 % 251);
  put("npy", "x.npy", str(spikechip::serialize_npy(x)));
  spikechip::NpyArray f{"<f4", {3}, std::vector<uint8_t>(12, 0)};
  put("npy", "f.npy", str(spikechip::serialize_npy(f)));

  traces::EventTrace tr;
  tr.width = 34, tr.height = 34;
  for (uint32_t i = 0; i < 40; ++i) tr.events.push_back({uint16_t(i % 34), uint16_t(i * 7 % 34), i * 50, uint8_t(i % 2)});
  put("events", "t.evt", std::string(1, char(0)) + str(traces::serialize_evt(tr)));
  std::string csv = "x,y,t_us,p\n";
  for (const auto& e : tr.events) csv += std::to_string(e.x) + "," + std::to_string(e.y) + "," + std::to_string(e.t_us) + "," + std::to_string(int(e.p)) + "\n";
  put("events", "t.csv", std::string(1, char(1)) + csv);
  spikechip::NpyArray ev{"<i8", {int64_t(tr.events.size()), 4}, {}};
  for (const auto& e : tr.events)
    for (int64_t v : {int64_t(e.x), int64_t(e.y), int64_t(e.t_us), int64_t(e.p)})
      for (int b = 0; b < 8; ++b) ev.bytes.push_back(uint8_t(uint64_t(v) >> (8 * b)));
  put("events", "t.npy", std::string(1, char(2)) + str(spikechip::serialize_npy(ev)));

  using nlohmann::json;
  auto req = [](const std::string& type, json extra = json::object()) {
    json h = {{"type", type}, {"id", 1}, {"protocol", cosim::kProtocolVersion}};
    h.update(extra);
    return cosim::Message{h, {}};
  };
  put("cosim_frames", "hello", frames(req("hello", {{"client", "seed"}})));
  put("cosim_frames", "stats", frames(req("stats")));
  put("cosim_frames", "map", frames(req("map", {{"placement", "snake"}, {"seed", 3}})));
  cosim::Message run = req("run", {{"T", 2}, {"mode", "cycle"}, {"labels", {1, 2}}, {"layers", false}});
  run.tensors.push_back({"x", model::TensorData{model::DType::U8, {2, 1, 16, 16}, x.bytes}});
  put("cosim_frames", "run", frames(run));
  cosim::Message load = req("load_model", {{"graph", model::graph_to_json(g)}});
  for (const auto& [name, t] : model::graph_tensors(g).tensors) load.tensors.push_back({name, t});
  put("cosim_frames", "load_model", frames(load));
  cosim::Message upd = req("update_weights");
  upd.tensors.push_back({"head.bias", model::graph_tensors(g).tensors.at("head.bias")});
  put("cosim_frames", "update_weights", frames(upd));
  put("cosim_frames", "set_chip", frames(req("set_chip", {{"chip", arch::chip_config_to_json(chip)}})));
  return 0;
}
