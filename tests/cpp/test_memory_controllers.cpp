// Issue 20, memory controllers as tiles of the mesh (arch/memory_controllers.hpp, arch/chip_memory.cpp;
// docs/architecture.md "Memory controllers on the mesh"): the config list is strict and names the
// JSON path; a time-multiplexed run with controllers is bit-exact with the golden executor, moves
// the DRAM bytes re-derived from the mapping, and its weight reloads are network packets whose
// flits appear, link by link, in the network's link counts (derived here from the XY paths, not
// from the chip's counters).
#include <gtest/gtest.h>

#include <map>

#include "arch/chip.hpp"
#include "arch/chip_config.hpp"
#include "arch/memory_controllers.hpp"
#include "base/error.hpp"
#include "chip_test_util.hpp"
#include "critical_path_check.hpp"
#include "dram_expect.hpp"
#include "mapper/mapper.hpp"

namespace spikechip {
namespace {

using nlohmann::json;

std::string config_error(const json& mcs) {
  json j = arch::chip_config_to_json(testing::chip_preset("tiny"));
  j["memory_controllers"] = mcs;
  try {
    arch::chip_config_from_json(j, "c.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "accepted";
}

TEST(MemoryControllers, ConfigIsStrictAndNamesThePath) {
  const arch::ChipConfig tiny = testing::chip_preset("tiny");
  EXPECT_TRUE(tiny.memory_controllers.empty());
  EXPECT_FALSE(arch::chip_config_to_json(tiny).contains("memory_controllers"));  // outputs unchanged
  json j = arch::chip_config_to_json(tiny);
  j["memory_controllers"] = json::array({{{"edge", "west"}, {"position", 3}},
                                         {{"edge", "south"}, {"position", 7}, {"channels", 8}, {"model", "hbm2-2000"}}});
  const arch::ChipConfig c = arch::chip_config_from_json(j, "c.json");
  ASSERT_EQ(c.memory_controllers.size(), 2u);
  EXPECT_EQ(c.memory_controllers[0].model, "lpddr4-3200");
  EXPECT_EQ(c.memory_controllers[1].channels, 8);
  EXPECT_EQ(arch::memory_controller_router(c.memory_controllers[0], 8, 8), 24);  // (0, 3)
  EXPECT_EQ(arch::memory_controller_router(c.memory_controllers[1], 8, 8), 63);  // (7, 7)
  EXPECT_EQ(arch::chip_config_to_json(arch::chip_config_from_json(arch::chip_config_to_json(c), "again")),
            arch::chip_config_to_json(c));
  EXPECT_NE(config_error(json::object()).find("c.json: /memory_controllers: must be an array"), std::string::npos);
  EXPECT_NE(config_error(json::array({{{"edge", "up"}, {"position", 0}}})).find("/memory_controllers/0/edge"), std::string::npos);
  EXPECT_NE(config_error(json::array({{{"edge", "west"}}})).find("/memory_controllers/0/position"), std::string::npos);
  EXPECT_NE(config_error(json::array({{{"edge", "west"}, {"position", 8}}})).find("/memory_controllers/0/position: 8 is out of range 0..7"),
            std::string::npos);
  EXPECT_NE(config_error(json::array({{{"edge", "west"}, {"position", 0}, {"bandwidth", 9}}})).find("/memory_controllers/0/bandwidth"),
            std::string::npos);
  EXPECT_NE(config_error(json::array({{{"edge", "west"}, {"position", 0}, {"model", "ddr9"}}})).find("/memory_controllers/0/model"),
            std::string::npos);
  EXPECT_NE(config_error(json::array({{{"edge", "west"}, {"position", 0}, {"model", "channel"}, {"channels", 2}}}))
                .find("/memory_controllers/0/channels"),
            std::string::npos);
  // West row 0 and north column 0 are the same router.
  EXPECT_NE(config_error(json::array({{{"edge", "west"}, {"position", 0}}, {{"edge", "north"}, {"position", 0}}}))
                .find("/memory_controllers/1: a second controller at router (0, 0)"),
            std::string::npos);
  bool listed = false;
  for (const auto& k : arch::chip_config_keys()) listed |= k.path == "memory_controllers[].edge";
  EXPECT_TRUE(listed);
}

// Per directed link (node, port), the flits of the weight packets: each chunk of a group's weights
// (kMaxPayloadFlits x flit_bits / 8 bytes) is one packet of 1 + payload flits from the controller's
// router to the group's core along the XY path.
std::map<std::pair<int, int>, uint64_t> reload_link_flits(const arch::ChipConfig& chip, const mapper::Mapping& m,
                                                          const std::vector<int>& ctrl_core, uint64_t& packets,
                                                          uint64_t& flits) {
  std::map<std::pair<int, int>, uint64_t> out;
  const int w = m.mesh_w, fb = chip.router.flit_bits;
  const uint64_t chunk = uint64_t(arch::kMaxPayloadFlits) * uint64_t(fb / 8);
  for (const auto& gr : m.groups) {
    int best = 0;  // nearest controller, first on ties
    auto dist = [&](int a, int b) { return std::abs(a % w - b % w) + std::abs(a / w - b / w); };
    for (size_t c = 1; c < ctrl_core.size(); ++c)
      if (dist(gr.core, ctrl_core[c]) < dist(gr.core, ctrl_core[size_t(best)])) best = int(c);
    for (uint64_t off = 0; off < uint64_t(gr.weight_bytes); off += chunk) {
      const uint64_t bytes = std::min(chunk, uint64_t(gr.weight_bytes) - off);
      const uint64_t f = 1 + (bytes * 8 + uint64_t(fb) - 1) / uint64_t(fb);
      ++packets, flits += f;
      int x = ctrl_core[size_t(best)] % w, y = ctrl_core[size_t(best)] / w;
      const int tx = gr.core % w, ty = gr.core / w;
      while (x != tx) out[{y * w + x, x < tx ? 1 : 3}] += f, x += x < tx ? 1 : -1;  // E = 1, W = 3
      while (y != ty) out[{y * w + x, y < ty ? 2 : 0}] += f, y += y < ty ? 1 : -1;  // S = 2, N = 0
    }
  }
  return out;
}

struct Runs {
  model::Graph g = testing::small_meta_spikeformer(1);
  testing::TimeMultiplexedChip tm = testing::time_multiplexed_tiny(g);
  std::vector<uint8_t> img = testing::random_image(g.input().shape, 11);
  model::InputView in{img.data(), 1, g.input().shape};
  model::RunResult gold;
  Runs() {
    model::RunOptions ro;
    ro.record_spikes = true;
    ro.threads = 1;
    gold = model::GoldenExecutor(g).run(in, 1, ro);
  }
  // A complete run, bit-exact, whose DRAM bytes equal the derivation from the mapping and the
  // golden spikes (tests/cpp/dram_expect.hpp).
  void expect_exact_with_derived_bytes(const arch::ChipRunResult& r, const arch::ChipConfig& chip) const {
    ASSERT_TRUE(r.complete);
    EXPECT_EQ(arch::compare_with_golden(g, r, gold), "");
    const testing::DramExpect e = testing::expected_dram(g, tm.m, gold, chip);
    EXPECT_EQ(r.dram_weight_bytes, e.weights);
    EXPECT_EQ(r.dram_spill_write_bytes, e.spill_write);
    EXPECT_EQ(r.dram_spill_read_bytes, e.spill_read);
    EXPECT_EQ(r.events.dram_bits, 8 * (e.weights + e.spill_write + e.spill_read));
  }
};

// One controller at the host port's router (west, row 0): the spills travel exactly as without
// controllers (to and from core 0), so the run's link counts differ from the channel run's by
// exactly the weight packets' flits on their XY paths.
TEST(MemoryControllers, ReloadFlitsAreConservedAndCountedPerLink) {
  Runs s;
  ASSERT_GE(s.tm.m.phases.size(), 2u);
  arch::ChipConfig with = s.tm.chip;
  with.memory_controllers = {arch::MemoryControllerConfig{"west", 0, 1, "channel"}};
  const arch::ChipRunResult r = arch::Chip(s.g, with, s.tm.m).run(s.in, 1);
  const arch::ChipRunResult r0 = arch::Chip(s.g, s.tm.chip, s.tm.m).run(s.in, 1);
  ASSERT_TRUE(r0.complete);
  s.expect_exact_with_derived_bytes(r, with);
  uint64_t packets = 0, flits = 0;
  const auto expect_links = reload_link_flits(with, s.tm.m, {0}, packets, flits);
  EXPECT_EQ(r.reload_packets, packets);
  EXPECT_EQ(r.reload_flits, flits);
  // Conservation: every injected flit is ejected, the reload's included.
  EXPECT_EQ(r.net.flits_injected - r0.net.flits_injected, flits);
  EXPECT_EQ(r.net.packets_delivered - r0.net.packets_delivered, packets);
  EXPECT_EQ(r.net.flits_ejected - r0.net.flits_ejected, flits);
  // Per link: the controller run's flits = the channel run's + the weights' XY paths.
  std::map<std::pair<int, int>, uint64_t> got, base;
  for (const auto& [k, st] : r.links) got[k] = st.flits;
  for (const auto& [k, st] : r0.links) base[k] = st.flits;
  uint64_t hop_flits = 0;
  for (const auto& [k, f] : expect_links) hop_flits += f;
  EXPECT_GT(hop_flits, 0u);
  for (const auto& [k, f] : got) {
    const uint64_t b = base.count(k) ? base[k] : 0, x = expect_links.count(k) ? expect_links.at(k) : 0;
    EXPECT_EQ(f, b + x) << "link from node " << k.first << " port " << k.second;
  }
  for (const auto& [k, f] : expect_links) EXPECT_TRUE(got.count(k)) << "link " << k.first << "/" << k.second;
  EXPECT_EQ(r.net.link_flits - r0.net.link_flits, hop_flits);
  // The layers' events still sum to the run's (reload packets are charged to their groups' layers).
  uint64_t layer_link_bits = 0;
  for (const auto& ne : r.node_events) layer_link_bits += ne.link_bits;
  EXPECT_EQ(layer_link_bits, r.events.link_bits);
  EXPECT_EQ(r.events.link_bits, r.net.on_chip_link_bits);
  // The reload now takes the network's time too: slower than the channel alone.
  EXPECT_GT(r.latency_cycles, r0.latency_cycles);
  // The critical path still runs contiguously from 0 to the latency (the reload is a DRAM segment
  // per group), and every core's units account for every cycle.
  testing::expect_exact_critical_path(r);
  for (const auto& ct : r.core_time) EXPECT_TRUE(ct.exact());
  // No task of a phase starts before that phase began, and every phase's groups got their weights.
  for (size_t p = 0; p < r.phase_ready_cycles.size(); ++p) EXPECT_GE(r.phase_ready_cycles[p], r.phase_start_cycles[p]);
}

// Two LPDDR4 controllers on opposite edges: groups take their weights from the nearer one and
// spills go to the nearer one; still bit-exact with the same DRAM bytes and weight packets.
TEST(MemoryControllers, TwoControllersOnOppositeEdgesAreBitExact) {
  Runs s;
  arch::ChipConfig with = s.tm.chip;
  with.memory_controllers = {arch::MemoryControllerConfig{"west", 1, 1, "lpddr4-3200"},
                             arch::MemoryControllerConfig{"east", 2, 2, "lpddr4-3200"}};
  arch::Chip chip(s.g, with, s.tm.m);
  const arch::ChipRunResult r = chip.run(s.in, 1);
  s.expect_exact_with_derived_bytes(r, with);
  uint64_t packets = 0, flits = 0;
  reload_link_flits(with, s.tm.m, {1 * 4, 2 * 4 + 3}, packets, flits);
  EXPECT_EQ(r.reload_packets, packets);
  EXPECT_EQ(r.reload_flits, flits);
  // A second input on the same chip gives the same result (the controllers are reset per run).
  const arch::ChipRunResult r2 = chip.run(s.in, 1);
  EXPECT_EQ(r2.latency_cycles, r.latency_cycles);
  EXPECT_EQ(r2.net.link_flits, r.net.link_flits);
  testing::expect_exact_critical_path(r);
}

// An unmultiplexed mapping holds its weights from configuration: controllers change nothing.
TEST(MemoryControllers, UnmultiplexedRunIsUnchanged) {
  model::Graph g = testing::small_meta_spikeformer(1);
  const arch::ChipConfig tiny = testing::chip_preset("tiny");
  const mapper::Mapping m = mapper::map_model(g, tiny, {});
  ASSERT_EQ(m.phases.size(), 1u);
  arch::ChipConfig with = tiny;
  with.memory_controllers = {arch::MemoryControllerConfig{"north", 5, 1, "lpddr4-3200"}};
  auto img = testing::random_image(g.input().shape, 3);
  model::InputView in{img.data(), 1, g.input().shape};
  const arch::ChipRunResult a = arch::Chip(g, tiny, m).run(in, 1), b = arch::Chip(g, with, m).run(in, 1);
  EXPECT_EQ(a.latency_cycles, b.latency_cycles);
  EXPECT_EQ(a.net.link_flits, b.net.link_flits);
  EXPECT_EQ(b.reload_packets, 0u);
}

}  // namespace
}  // namespace spikechip
