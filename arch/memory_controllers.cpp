// The `memory_controllers` list of the chip config (arch/memory_controllers.hpp): item keys, the
// strict reader and writer, and a controller's router on the mesh edge.
#include "arch/memory_controllers.hpp"

#include <algorithm>
#include <cstdlib>
#include <set>

#include <fmt/format.h>

#include "arch/dram_timing.hpp"

namespace spikechip::arch {

namespace {

const std::vector<std::string> kEdges = {"west", "east", "north", "south"};

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

}  // namespace

std::vector<ConfigKeyInfo> memory_controller_keys() {
  const MemoryControllerConfig d;
  std::vector<ConfigKeyInfo> k = {
      {"memory_controllers[].edge", "enum", "-", joined(kEdges), nullptr,
       "mesh edge of the controller's router (a list of controllers; none = the DRAM channel behind the host port). "
       "Time-multiplexed runs stream weights and spills between the controllers and the cores as network packets"},
      {"memory_controllers[].position", "integer", "-", "0..edge length - 1", nullptr,
       "row (west, east) or column (north, south) of the global mesh; one controller per router"},
      {"memory_controllers[].channels", "integer", "channels", "1..64", d.channels,
       "DRAM channels behind the controller (a device model; the channel model has one)"},
      {"memory_controllers[].model", "enum", "-", joined(dram_model_names()), d.model,
       "DRAM timing of the controller's channels, as dram.model (channel = the dram section's fixed channel)"},
  };
  for (auto& r : k) r.written_if_set = true;
  return k;
}

int memory_controller_router(const MemoryControllerConfig& mc, int w, int h) {
  if (mc.edge == "west") return mc.position * w;
  if (mc.edge == "east") return mc.position * w + w - 1;
  if (mc.edge == "north") return mc.position;
  return (h - 1) * w + mc.position;
}

void read_memory_controllers(const StrictJson& j, ChipConfig& c) {
  j.expect_array();
  if (j.size() > 64) j.fail(fmt::format("{} controllers; at most 64 are supported", j.size()));
  c.memory_controllers.clear();
  std::set<int> routers;
  const std::vector<std::string> models = dram_model_names();
  for (size_t i = 0; i < j.size(); ++i) {
    const StrictJson e = j.at(i);
    e.only_keys({"edge", "position", "channels", "model"});
    MemoryControllerConfig mc;
    mc.edge = e.at("edge").as_string();
    if (std::find(kEdges.begin(), kEdges.end(), mc.edge) == kEdges.end())
      e.at("edge").fail("'" + mc.edge + "' is not one of: " + joined(kEdges));
    const bool rows = mc.edge == "west" || mc.edge == "east";
    const int len = rows ? c.global_height() : c.global_width();
    mc.position = int(e.at("position").as_int(0, len - 1));
    if (e.has("channels")) mc.channels = int(e.at("channels").as_int(1, 64));
    if (e.has("model")) {
      mc.model = e.at("model").as_string();
      if (std::find(models.begin(), models.end(), mc.model) == models.end())
        e.at("model").fail("'" + mc.model + "' is not one of: " + joined(models));
    }
    if (mc.model == "channel" && mc.channels != 1)
      e.at("channels").fail(fmt::format("{} channels need a device model: set model (spikechip config describe lists them)", mc.channels));
    const int r = memory_controller_router(mc, c.global_width(), c.global_height());
    if (!routers.insert(r).second)
      e.fail(fmt::format("a second controller at router ({}, {}): one controller per router", r % c.global_width(),
                         r / c.global_width()));
    c.memory_controllers.push_back(mc);
  }
}

nlohmann::json memory_controllers_to_json(const std::vector<MemoryControllerConfig>& mcs) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& mc : mcs)
    a.push_back({{"edge", mc.edge}, {"position", mc.position}, {"channels", mc.channels}, {"model", mc.model}});
  return a;
}

std::vector<int> nearest_memory_controller(const std::vector<int>& routers, int w, int ncores) {
  auto dist = [w](int a, int b) { return std::abs(a % w - b % w) + std::abs(a / w - b / w); };
  std::vector<int> near(size_t(std::max(0, ncores)), 0);
  for (int k = 0; k < ncores; ++k)
    for (size_t c = 1; c < routers.size(); ++c)
      if (dist(k, routers[c]) < dist(k, routers[size_t(near[size_t(k)])])) near[size_t(k)] = int(c);
  return near;
}

double dram_peak_bytes_per_s(const ChipConfig& c) {
  auto peak = [&](const std::string& model, int channels) {
    const DramDevice* d = find_dram_device(model);
    return d ? double(channels) * d->peak_bytes_per_s() : double(c.dram.bytes_per_cycle) * c.clock_hz;
  };
  if (c.memory_controllers.empty()) return peak(c.dram.model, c.dram.channels);
  double s = 0;
  for (const auto& mc : c.memory_controllers) s += peak(mc.model, mc.channels);
  return s;
}

}  // namespace spikechip::arch
