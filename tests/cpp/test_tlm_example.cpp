// Issue 14 item 6: the chip as a TLM-2.0 module (sim/chip_tlm.hpp) in the example platform
// (examples/systemc: host driver + TLM memory model) gives the same predictions, latencies,
// per-timestep cycles, spike and SOP counts and off-chip bytes as `spikechip run` on the same
// mapping and inputs, and the output accumulators of the golden executor; on a time-multiplexed
// mapping the weight reloads and spills go through the memory model's socket (its own counters).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include "arch/chip_config.hpp"
#include "chip_test_util.hpp"
#include "models/executor.hpp"
#include "models/graph_io.hpp"
#include "models/inputs.hpp"
#include "spikechip/source_dir.hpp"
#include "tiny_graph.hpp"

namespace spikechip {
namespace {

using nlohmann::json;

// $SPIKECHIP_TLM_EXAMPLE, else the one CMake built beside the tests' folder.
std::string example_binary() {
  const char* env = std::getenv("SPIKECHIP_TLM_EXAMPLE");
  if (env && *env) return env;
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (self.parent_path().parent_path() / "examples" / "systemc" / "spikechip_tlm_example").string();
}

// Maps with `map_flags`, runs `spikechip run --mapping` and the example on the same files, and
// compares. Returns the example's JSON.
json check_example_matches_run(const std::string& model_name, const std::string& chip_path, const std::string& map_flags,
                               const std::string& example_flags = "") {
  const std::string src = SPIKECHIP_SOURCE_DIR, dir = testing::fresh_dir("tlm");
  const std::string model = src + "/models/" + model_name, input = model + "/sample.npy";
  const std::string files = "--model '" + model + "' --chip '" + chip_path + "'";
  auto map = testing::run_spikechip("map " + files + " " + map_flags + " -o '" + dir + "/map.json'");
  EXPECT_EQ(map.code, 0) << map.err;
  auto run = testing::run_spikechip("run " + files + " --mapping '" + dir + "/map.json' --input '" + input + "' --quiet -o '" + dir + "/run'");
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.out.find("verified bit-exact"), std::string::npos) << run.out;
  const std::string cmd = "'" + example_binary() + "' " + files + " --mapping '" + dir + "/map.json' --input '" + input +
                          "' " + example_flags + " -o '" + dir + "/tlm.json' 2>'" + dir + "/err'";
  const int st = std::system(cmd.c_str());
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << cmd << "\n" << testing::slurp(dir + "/err");
  const json rep = json::parse(testing::slurp(dir + "/run/report.json"));
  const json tlm = json::parse(testing::slurp(dir + "/tlm.json"));

  const json& ri = rep["inputs"];
  const json& ti = tlm["inputs"];
  EXPECT_EQ(ti.size(), ri.size());
  EXPECT_GE(ri.size(), 2u);
  double spikes = 0, sops = 0, dram = 0;
  const model::Graph g = model::load_model(model);
  const int T = g.timesteps;
  const auto items = model::read_inputs(input, g);
  model::RunOptions ro;
  ro.threads = 1;
  for (size_t i = 0; i < ri.size() && i < ti.size(); ++i) {
    EXPECT_EQ(ti[i]["prediction"], ri[i]["prediction"]) << "input " << i;
    EXPECT_EQ(ti[i]["latency_cycles"], ri[i]["latency_cycles"]) << "input " << i;
    EXPECT_EQ(ti[i]["timestep_end_cycles"], ri[i]["timestep_end_cycles"]) << "input " << i;
    spikes += ti[i]["spikes"].get<double>(), sops += ti[i]["sops"].get<double>(), dram += ti[i]["dram_bytes"].get<double>();
    // The output accumulators the host read equal the golden executor's.
    const model::RunResult gold = model::GoldenExecutor(g).run(
        model::InputView{items[i].data.data(), items[i].frames, items[i].shape}, T, ro);
    EXPECT_EQ(ti[i]["output_acc"].get<std::vector<int64_t>>(), gold.output_acc) << "input " << i;
  }
  const double n = double(ti.size());
  EXPECT_DOUBLE_EQ(spikes / n, rep["summary"]["spikes"].get<double>());
  EXPECT_DOUBLE_EQ(sops / n, rep["summary"]["sops"].get<double>());
  const json& d = rep["dram"];
  EXPECT_DOUBLE_EQ(dram / n, d["weight_bytes"].get<double>() + d["spill_write_bytes"].get<double>() +
                                 d["spill_read_bytes"].get<double>());
  // What crossed the memory socket, counted by the memory model itself.
  const json& mem = tlm["memory"];
  EXPECT_DOUBLE_EQ(mem["read_bytes"].get<double>(), (d["weight_bytes"].get<double>() + d["spill_read_bytes"].get<double>()) * n);
  EXPECT_DOUBLE_EQ(mem["write_bytes"].get<double>(), d["spill_write_bytes"].get<double>() * n);
  EXPECT_TRUE(tlm["host_used_dmi"].get<bool>());
  return tlm;
}

// Single phase on the tiny preset: no off-chip traffic. The image model (one frame shown at every
// timestep) and the event model (FRAMES = T event frames).
TEST(TlmExample, MatchesRunOnTinyChip) {
  const json tlm = check_example_matches_run("fmnist", std::string(SPIKECHIP_SOURCE_DIR) + "/arch/presets/tiny.json", "");
  EXPECT_EQ(tlm["memory"]["reads"].get<int>(), 0);
}
TEST(TlmExample, MatchesRunOnTinyChipEventFrames) {
  check_example_matches_run("fmnist-events", std::string(SPIKECHIP_SOURCE_DIR) + "/arch/presets/tiny.json", "");
}

// A 4x4 chip holds the model only time-multiplexed: weight reloads and spills are transactions on
// the chip's initiator socket, timed by the memory model, and the cycles still match the run's
// internal DRAM channel.
void check_time_multiplexed(const std::string& example_flags) {
  const std::string src = SPIKECHIP_SOURCE_DIR, dir = testing::fresh_dir("tlmchip");
  json cj = arch::chip_config_to_json(testing::chip_preset("tiny"));
  cj["name"] = "tiny4x4", cj["mesh"] = {{"width", 4}, {"height", 4}};
  cj["tech"]["energy_table"] = src + "/arch/energy/45nm.json";
  testing::spit(dir + "/chip.json", cj.dump());
  const json tlm = check_example_matches_run("fmnist", dir + "/chip.json", "--time-multiplex", example_flags);
  EXPECT_GT(tlm["memory"]["reads"].get<int>(), 0);
  EXPECT_GT(tlm["memory"]["writes"].get<int>(), 0);
}
TEST(TlmExample, MatchesRunTimeMultiplexed) { check_time_multiplexed(""); }
// The clock port bound to a signal nobody toggles (no sc_clock events): the same cycles.
TEST(TlmExample, MatchesRunTimeMultiplexedStaticClock) { check_time_multiplexed("--static-clock"); }

}  // namespace
}  // namespace spikechip
