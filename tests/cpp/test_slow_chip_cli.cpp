// Issue 7: `spikechip run` through the real binary (SPIKECHIP_BINARY): a complete, verified report
// directory on the shipped model and the tiny chip, and bad inputs that must each give exactly one
// error line naming the culprit, a non-zero exit and no report.json.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include "arch/chip_config.hpp"
#include "chip_test_util.hpp"
#include "mapper/mapper.hpp"
#include "models/graph_io.hpp"
#include "tiny_graph.hpp"
#include "spikechip/source_dir.hpp"

namespace spikechip {
namespace {

namespace fs = std::filesystem;
using testing::CmdResult;
using testing::fresh_dir;
using testing::slurp;
using testing::spit;

using testing::kChip;
using testing::kModel;
using testing::kSrc;
using testing::q;
using testing::write_pgm;

std::string run_args(const std::string& model, const std::string& chip, const std::string& input, const std::string& out) {
  return "run --model " + q(model) + " --chip " + q(chip) + " --input " + q(input) + " -o " + q(out);
}

// A bad run: exit 1, exactly one stderr line that starts with the error prefix and names every
// part, nothing on stdout, and no report.json in the output directory.
void expect_clean_failure(const std::string& args, const std::string& out, std::initializer_list<std::string> parts) {
  const CmdResult r = testing::run_spikechip(args);
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.rfind("spikechip: error: ", 0), 0u) << r.err;
  for (const auto& p : parts) EXPECT_NE(r.err.find(p), std::string::npos) << "missing '" << p << "' in: " << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_FALSE(fs::exists(out + "/report.json"));
}

TEST(RunCli, ShippedModelOnTinyWritesACompleteVerifiedReport) {
  const std::string dir = fresh_dir("ok"), out = dir + "/report";
  const std::string img = write_pgm(dir, 28, 28);
  const CmdResult r = testing::run_spikechip(run_args(kModel, kChip, img, out) + " -T 2 --quiet");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("verified bit-exact against golden"), std::string::npos) << r.out;
  for (const char* f : {"report.json", "report.html", "layers.csv", "cores.csv", "links.csv", "inputs.csv", "energy.csv",
                        "critical_path.csv"})
    EXPECT_TRUE(fs::exists(out + "/" + f) && fs::file_size(out + "/" + f) > 0) << f;
  const nlohmann::json rep = nlohmann::json::parse(slurp(out + "/report.json"));
  // The critical path (issue 21 item 3), end to end: report.json says it is exact, and the cycles
  // column of critical_path.csv sums to the latency.
  const nlohmann::json& cp = rep.at("critical_path");
  EXPECT_EQ(cp.at("exact"), true);
  EXPECT_EQ(cp.at("segments_truncated"), false);
  EXPECT_EQ(cp.at("latency_cycles"), rep.at("inputs").at(0).at("latency_cycles"));
  EXPECT_NE(r.out.find("critical path: compute"), std::string::npos) << r.out;
  {
    std::istringstream csv(slurp(out + "/critical_path.csv"));
    std::string line;
    std::getline(csv, line);
    EXPECT_EQ(line, "index,kind,category,layer,timestep,core,start_cycles,end_cycles,cycles");
    uint64_t sum = 0, rows = 0;
    while (std::getline(csv, line)) sum += std::stoull(line.substr(line.rfind(',') + 1)), ++rows;
    EXPECT_EQ(rows, cp.at("segments_total").get<uint64_t>());
    EXPECT_EQ(sum, cp.at("latency_cycles").get<uint64_t>());
  }
  EXPECT_EQ(rep.at("schema"), "spikechip.run-report/1");
  EXPECT_EQ(rep.at("status"), "complete");
  EXPECT_EQ(rep.at("run").at("verified"), true);
  EXPECT_EQ(rep.at("run").at("timesteps"), 2);
  EXPECT_EQ(rep.at("run").at("inputs"), 1);
  EXPECT_GT(rep.at("summary").at("latency_cycles").get<double>(), 0);
  EXPECT_GT(rep.at("summary").at("sops").get<int64_t>(), 0);
  // Energy total = sum of the components (the report's own numbers).
  double sum = 0;
  for (const auto& [k, v] : rep.at("energy_by_component_pJ").items()) sum += v.get<double>();
  EXPECT_NEAR(sum, rep.at("summary").at("energy_pJ").get<double>(), 1e-6 * sum);
  EXPECT_EQ(rep.at("layers").size(), model::load_model(kModel).nodes.size());
  EXPECT_GT(rep.at("cores").size(), 0u);
  // The report.html embeds the report (rendered by the browser test in tests/python).
  EXPECT_NE(slurp(out + "/report.html").find("spikechip.run-report/1"), std::string::npos);
  // Same command, same numbers: everything but the wall-clock fields is deterministic.
  const std::string out2 = dir + "/report2";
  ASSERT_EQ(testing::run_spikechip(run_args(kModel, kChip, img, out2) + " -T 2 --quiet").code, 0);
  nlohmann::json a = rep, b = nlohmann::json::parse(slurp(out2 + "/report.json"));
  for (auto* j : {&a, &b}) {
    for (const char* k : {"wall_s", "chip_wall_s", "golden_wall_s", "cycles_per_wall_s", "sops_per_wall_s"})
      (*j)["run"].erase(k);
    (*j)["tool"].erase("command");
  }
  EXPECT_EQ(a, b);
}

TEST(RunCli, MissingModelDirectory) {
  const std::string dir = fresh_dir("bad"), out = dir + "/report";
  expect_clean_failure(run_args(dir + "/no-such-model", kChip, write_pgm(dir, 28, 28), out), out, {dir + "/no-such-model"});
}

TEST(RunCli, MissingInputFile) {
  const std::string dir = fresh_dir("bad"), out = dir + "/report";
  expect_clean_failure(run_args(kModel, kChip, dir + "/nothing.npy", out), out, {dir + "/nothing.npy"});
}

TEST(RunCli, ImageOfTheWrongSize) {
  const std::string dir = fresh_dir("bad"), out = dir + "/report";
  const std::string img = write_pgm(dir, 32, 32);
  expect_clean_failure(run_args(kModel, kChip, img, out), out, {img, "28"});
}

// Writes tiny.json with another mesh (energy table path made absolute, since the copy moves).
std::string chip_with_mesh(const std::string& dir, int w, int h) {
  nlohmann::json j = nlohmann::json::parse(slurp(kChip));
  j["mesh"] = {{"width", w}, {"height", h}};
  j["tech"]["energy_table"] = kSrc + "/arch/energy/45nm.json";
  j["name"] = "tiny_" + std::to_string(w) + "x" + std::to_string(h);
  const std::string p = dir + "/chip_" + std::to_string(w) + "x" + std::to_string(h) + ".json";
  spit(p, j.dump());
  return p;
}

TEST(RunCli, ChipTooSmallForTheModel) {
  const std::string dir = fresh_dir("bad"), out = dir + "/report";
  // The shipped model needs more than 4 cores (one group per core).
  expect_clean_failure(run_args(kModel, chip_with_mesh(dir, 2, 2), write_pgm(dir, 28, 28), out), out,
                       {"core"});
}

// Issue 5's bad chip configs through the real binary: each a single error line naming the file
// and the JSON path, exit 1, no report.
TEST(RunCli, BadChipConfigs) {
  const std::string dir = fresh_dir("badchip"), out = dir + "/report", img = write_pgm(dir, 28, 28);
  const auto variant = [&](const std::string& name, const auto& edit) {
    nlohmann::json j = nlohmann::json::parse(slurp(chip_with_mesh(dir, 8, 8)));
    edit(j);
    const std::string p = dir + "/" + name + ".json";
    spit(p, j.dump());
    return p;
  };
  const std::string unknown = variant("unknown", [](auto& j) { j["core"]["adder_lanez"] = 3; });
  expect_clean_failure(run_args(kModel, unknown, img, out), out, {unknown, "/core/adder_lanez: unknown key"});
  const std::string zero = variant("zero", [](auto& j) { j["mesh"]["width"] = 0; });
  expect_clean_failure(run_args(kModel, zero, img, out), out, {zero, "/mesh/width: 0 is out of range 1..256"});
  const std::string queue = variant("queue", [](auto& j) { j["core"]["queue_sram_bytes"] = 4096; });
  expect_clean_failure(run_args(kModel, queue, img, out), out,
                       {queue, "/core/queue_sram_bytes: 4096 bytes cannot hold the queues", "need 9216 bytes"});
  nlohmann::json table = nlohmann::json::parse(slurp(kSrc + "/arch/energy/45nm.json"));
  table["entries"].erase("router_flit");
  spit(dir + "/no_router_flit.json", table.dump());
  const std::string energy = variant("energy", [&](auto& j) { j["tech"]["energy_table"] = dir + "/no_router_flit.json"; });
  expect_clean_failure(run_args(kModel, energy, img, out), out, {dir + "/no_router_flit.json", "/entries/router_flit"});
}

TEST(RunCli, ChipsAutoSpreadsAModelTooBigForOneChip) {
  // The 2x2 chip above fails; run's own --chips auto maps onto as many such chips as needed.
  const std::string dir = fresh_dir("chips"), out = dir + "/report";
  const CmdResult r = testing::run_spikechip(run_args(kModel, chip_with_mesh(dir, 4, 4), write_pgm(dir, 28, 28), out) + " --chips auto");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = nlohmann::json::parse(slurp(out + "/report.json"));
  EXPECT_EQ(j["status"], "complete");
  EXPECT_GT(j["chip"]["chips"][0].get<int>() * j["chip"]["chips"][1].get<int>(), 1);
  EXPECT_NE(j["tool"]["command"].get<std::string>().find("--chips auto"), std::string::npos);
  const CmdResult bad = testing::run_spikechip(run_args(kModel, kChip, write_pgm(dir, 28, 28), out) + " --chips 0");
  EXPECT_EQ(bad.code, 2) << bad.err;
}

TEST(RunCli, MappingOfAnotherModel) {
  const std::string dir = fresh_dir("bad"), out = dir + "/report";
  const model::Graph other = testing::tiny_graph();
  const std::string mp = dir + "/other.mapping.json";
  mapper::save_mapping(mapper::map_model(other, testing::chip_preset("tiny"), mapper::MapOptions{}), mp);
  expect_clean_failure(run_args(kModel, kChip, write_pgm(dir, 28, 28), out) + " --mapping " + q(mp), out,
                       {mp, "re-run 'spikechip map'"});
}

// A mapping is for a model at some timesteps: `map -T` makes one for the T a run takes, and a run
// at another T than its mapping's names both (the shipped model's graph.json says T = 1). Before
// session 33 `map` had no -T, so `run -T 2 --mapping` could not be given any mapping, and the error
// said "another structure; re-run 'spikechip map'", which could not help.
TEST(RunCli, MappingMadeAtOtherTimesteps) {
  const std::string dir = fresh_dir("bad"), out = dir + "/report", img = write_pgm(dir, 28, 28);
  const std::string mp1 = dir + "/t1.mapping.json", mp2 = dir + "/t2.mapping.json";
  const std::string map_args = "map --model " + q(kModel) + " --chip " + q(kChip);
  ASSERT_EQ(testing::run_spikechip(map_args + " -o " + q(mp1)).code, 0);
  expect_clean_failure(run_args(kModel, kChip, img, out) + " -T 2 --mapping " + q(mp1), out,
                       {mp1, "made for this model at T = 1", "this run has T = 2", "'spikechip map -T 2 ...'"});
  const CmdResult m2 = testing::run_spikechip(map_args + " -T 2 -o " + q(mp2));
  ASSERT_EQ(m2.code, 0) << m2.err;
  const CmdResult ok = testing::run_spikechip(run_args(kModel, kChip, img, out) + " -T 2 --quiet --mapping " + q(mp2));
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_NE(ok.out.find("verified bit-exact against golden"), std::string::npos) << ok.out;
  expect_clean_failure(run_args(kModel, kChip, img, dir + "/r1") + " --mapping " + q(mp2), dir + "/r1",
                       {mp2, "made for this model at T = 2", "this run has T = 1", "or run at T = 2"});
  const CmdResult bad = testing::run_spikechip(map_args + " -T 65 -o " + q(dir + "/t65.json"));
  EXPECT_EQ(bad.code, 2) << bad.err;
  EXPECT_FALSE(fs::exists(dir + "/t65.json"));
}

// The mapping's chip hash must match the chip given to run (mappings made with `map --chips N`
// carry the hash of the multi-chip config).
TEST(RunCli, MappingMadeForAnotherChip) {
  const std::string dir = fresh_dir("bad"), out = dir + "/report";
  // Mapped for the 8x8 tiny chip, run on a 6x6 chip (which would hold the model by itself).
  const std::string mp = dir + "/tiny8x8.mapping.json";
  mapper::save_mapping(mapper::map_model(model::load_model(kModel), testing::chip_preset("tiny"), mapper::MapOptions{}), mp);
  expect_clean_failure(run_args(kModel, chip_with_mesh(dir, 6, 6), write_pgm(dir, 28, 28), out) + " --mapping " + q(mp),
                       out, {mp});
}

TEST(RunCli, TruncatedWeightsFile) {
  const std::string dir = fresh_dir("bad"), out = dir + "/report", model = dir + "/model";
  fs::create_directories(model);
  fs::copy_file(kModel + "/graph.json", model + "/graph.json");
  const std::string w = slurp(kModel + "/weights.safetensors");
  spit(model + "/weights.safetensors", w.substr(0, w.size() / 2));
  expect_clean_failure(run_args(model, kChip, write_pgm(dir, 28, 28), out), out, {model + "/weights.safetensors"});
}

}  // namespace
}  // namespace spikechip
