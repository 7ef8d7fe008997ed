// Issue 18's defects through the real binary (SPIKECHIP_BINARY): each bad input is exit 1 and
// exactly one short "spikechip: error:" line naming the file and the JSON path, nothing on stdout,
// no output file; never a crash or an "internal error". A wrong mapping is rejected before the
// simulation even with --no-verify; an interrupted sweep point is failed and retried on resume.
#include <gtest/gtest.h>

#include <chrono>
#include <fcntl.h>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "spikechip/source_dir.hpp"
#include "tiny_graph.hpp"

namespace spikechip {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::CmdResult;
using testing::fresh_dir;
using testing::slurp;
using testing::spit;

using testing::kChip;
using testing::kModel;
using testing::kSrc;
using testing::q;
using testing::write_pgm;

std::string nested(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }


// tiny.json with the energy table as an absolute path (the copy lives elsewhere), edited.
std::string chip_file(const std::string& dir, const std::string& name, const std::function<void(json&)>& edit) {
  json j = json::parse(slurp(kChip));
  j["tech"]["energy_table"] = kSrc + "/arch/energy/45nm.json";
  edit(j);
  spit(dir + "/" + name, j.dump());
  return dir + "/" + name;
}

// Exit 1, one stderr line "spikechip: error: ..." of bounded length naming every part, empty stdout.
void expect_one_line_error(const std::string& args, std::initializer_list<std::string> parts) {
  const CmdResult r = testing::run_spikechip(args);
  EXPECT_EQ(r.code, 1) << r.err.substr(0, 2000);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err.substr(0, 2000);
  EXPECT_EQ(r.err.rfind("spikechip: error: ", 0), 0u) << r.err.substr(0, 2000);
  EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err.substr(0, 2000);
  EXPECT_LE(r.err.size(), 1000u) << r.err.substr(0, 2000);
  for (const auto& p : parts) EXPECT_NE(r.err.find(p), std::string::npos) << "missing '" << p << "' in: " << r.err.substr(0, 2000);
  EXPECT_TRUE(r.out.empty()) << r.out.substr(0, 2000);
}

std::string map_args(const std::string& chip, const std::string& out) {
  return "map --model " + q(kModel) + " --chip " + q(chip) + " -o " + q(out);
}
std::string run_args(const std::string& chip, const std::string& dir) {
  return "run --model " + q(kModel) + " --chip " + q(chip) + " --input " + q(write_pgm(dir)) + " -o " + q(dir + "/report");
}

// A mapping of the shipped model on tiny made by the binary itself.
json made_mapping(const std::string& dir) {
  const CmdResult r = testing::run_spikechip(map_args(kChip, dir + "/good.mapping.json"));
  EXPECT_EQ(r.code, 0) << r.err;
  return json::parse(slurp(dir + "/good.mapping.json"));
}

std::string run_mapping(const std::string& dir, const json& m, const std::string& name) {
  spit(dir + "/" + name, m.dump(1));
  return run_args(kChip, dir) + " --mapping " + q(dir + "/" + name);
}

// ---- defect 1: deep nesting crashed every JSON reader (SIGSEGV) --------------------------------
TEST(BadInputsCli, DeeplyNestedJsonInEveryReader) {
  const std::string d = fresh_dir("deep"), deep = nested(100000);
  const std::string chip = chip_file(d, "chip.json", [](json&) {});
  spit(d + "/deep_chip.json", R"({"name": "x", "description": )" + deep + "}");
  expect_one_line_error(map_args(d + "/deep_chip.json", d + "/m.json"), {d + "/deep_chip.json: /description/0/0", "nested deeper"});
  EXPECT_FALSE(fs::exists(d + "/m.json"));

  const std::string model = d + "/model";
  fs::create_directories(model);
  fs::copy_file(kModel + "/weights.safetensors", model + "/weights.safetensors");
  json g = json::parse(slurp(kModel + "/graph.json"));
  std::string text = g.dump();
  text.insert(text.size() - 1, ", \"deep\": " + deep);
  spit(model + "/graph.json", text);
  expect_one_line_error("model info " + q(model), {model + "/graph.json: /deep/0/0", "nested deeper"});

  json m = made_mapping(d);
  std::string mt = m.dump();
  mt.insert(mt.size() - 1, ", \"deep\": " + deep);
  spit(d + "/deep.mapping.json", mt);
  expect_one_line_error(run_args(chip, d) + " --mapping " + q(d + "/deep.mapping.json"),
                        {d + "/deep.mapping.json: /deep/0/0", "nested deeper"});

  spit(d + "/deep_sweep.json", R"({"job": "map", "model": ")" + kModel + R"(", "chip": ")" + chip +
                                   R"(", "grid": {"mesh.width": )" + deep + "}}");
  expect_one_line_error("sweep " + q(d + "/deep_sweep.json") + " -o " + q(d + "/sweep"),
                        {d + "/deep_sweep.json: /grid/mesh.width/0", "nested deeper"});

  std::string table = slurp(kSrc + "/arch/energy/45nm.json");
  table.insert(table.find('{') + 1, "\"deep\": " + deep + ", ");
  spit(d + "/deep_table.json", table);
  const std::string via = chip_file(d, "via.json", [&](json& j) { j["tech"]["energy_table"] = d + "/deep_table.json"; });
  expect_one_line_error(run_args(via, d), {d + "/deep_table.json: /deep/0/0", "nested deeper"});
  EXPECT_FALSE(fs::exists(d + "/report/report.json"));
}

// ---- defect 3: "internal error" reachable from input -------------------------------------------
TEST(BadInputsCli, EnergyTableDescriptionNumber) {
  const std::string d = fresh_dir("desc");
  json t = json::parse(slurp(kSrc + "/arch/energy/45nm.json"));
  t["description"] = 5;
  spit(d + "/table.json", t.dump());
  const std::string chip = chip_file(d, "chip.json", [&](json& j) { j["tech"]["energy_table"] = d + "/table.json"; });
  expect_one_line_error(run_args(chip, d), {d + "/table.json: /description: must be a string, got number 5"});
}

TEST(BadInputsCli, NumberOutOfDoubleRange) {
  const std::string d = fresh_dir("range");
  std::string c = slurp(kChip);
  c.insert(c.find('{') + 1, "\"clock_hz\": 1e999, ");
  spit(d + "/chip.json", c);
  expect_one_line_error(map_args(d + "/chip.json", d + "/m.json"), {d + "/chip.json: /clock_hz: number 1e999 is out of the range"});
}

TEST(BadInputsCli, MappingChipsOfTheWrongTypeOrRange) {
  const std::string d = fresh_dir("chips");
  json m = made_mapping(d);
  m["options"]["chips_x"] = {1};
  expect_one_line_error(run_mapping(d, m, "a.json"), {d + "/a.json: /options/chips_x: must be an integer"});
  m["options"]["chips_x"] = 4294967297ull;  // was truncated to 1 and accepted
  expect_one_line_error(run_mapping(d, m, "b.json"), {d + "/b.json: /options/chips_x: 4294967297 is out of range"});
}

TEST(BadInputsCli, PathsLongerThanNameMax) {
  const std::string d = fresh_dir("long"), long_name(10000, 'a');
  const std::string chip = chip_file(d, "chip.json", [&](json& j) { j["tech"]["energy_table"] = long_name; });
  expect_one_line_error(map_args(chip, d + "/m.json"), {chip + ": /tech/energy_table: file 'aaa", "not found"});
  spit(d + "/sweep.json", R"({"job": "map", "model": ")" + long_name + R"(", "chip": ")" + kChip + "\"}");
  expect_one_line_error("sweep " + q(d + "/sweep.json") + " -o " + q(d + "/out"), {d + "/sweep.json: /model: model directory 'aaa"});
}

// The check ran inside the SystemC process: a three-line "internal error ... In process: chip.tick".
TEST(BadInputsCli, RouteSentByAnotherGroup) {
  const std::string d = fresh_dir("src");
  json m = made_mapping(d);
  // A group of another cluster whose output box also holds the route's region passes the reader's
  // form checks; only the semantic check sees that it does not compute the route's node.
  auto box_of = [](const json& e) {
    return std::array<int, 6>{e["channels"][0], e["channels"][1], e["rows"][0], e["rows"][1], e["cols"][0], e["cols"][1]};
  };
  int route = -1, other = -1;
  for (size_t r = 0; r < m["routes"].size() && route < 0; ++r) {
    const json& e = m["routes"][r];
    if (!e["src_group"].is_number()) continue;
    const auto rb = box_of(e);
    const int own = e["src_group"], own_cluster = m["groups"][size_t(own)]["cluster"];
    for (size_t g = 0; g < m["groups"].size(); ++g) {
      const auto gb = box_of(m["groups"][g]);
      if (m["groups"][g]["cluster"] != own_cluster && gb[0] <= rb[0] && rb[1] <= gb[1] && gb[2] <= rb[2] && rb[3] <= gb[3] &&
          gb[4] <= rb[4] && rb[5] <= gb[5]) {
        route = int(r), other = int(g);
        break;
      }
    }
  }
  ASSERT_GE(route, 0) << "no route whose region another cluster's group also covers";
  m["routes"][size_t(route)]["src_group"] = other;
  expect_one_line_error(run_mapping(d, m, "src.json"),
                        {d + "/src.json: /routes/" + std::to_string(route) + "/src_group: group " + std::to_string(other)});
}

// Errors the chip finds while it runs (found in session 21): under the default SystemC engine they
// left the kernel as "internal error: Error: (E549) uncaught exception: ... In process: chip.tick";
// now both engines give the chip's own error, exit 1, and no report directory.
TEST(BadInputsCli, ErrorsDuringTheSimulationInBothEngines) {
  const std::string d = fresh_dir("during");
  for (const std::string engine : {"systemc", "event"}) {
    SCOPED_TRACE(engine);
    // A multicast packet longer than a VC buffer: the network refuses it when it is injected.
    expect_one_line_error(run_args(kChip, d) + " --engine " + engine + " --set router.buffer_depth=1",
                          {"network: a multicast packet of 2 flits needs router.buffer_depth >= packet size"});
    EXPECT_FALSE(fs::exists(d + "/report"));
    // A watchdog too short for the sink's wait: the stall diagnostic, several lines, no kernel report.
    const CmdResult r = testing::run_spikechip(run_args(kChip, d) + " --engine " + engine + " --set watchdog_cycles=1");
    EXPECT_EQ(r.code, 1) << r.err.substr(0, 2000);
    EXPECT_EQ(r.err.rfind("spikechip: error: network watchdog: no flit moved for 1 cycles", 0), 0u) << r.err.substr(0, 2000);
    EXPECT_NE(r.err.find("raise watchdog_cycles"), std::string::npos) << r.err.substr(0, 2000);
    EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err.substr(0, 2000);
    EXPECT_EQ(r.err.find("E549"), std::string::npos) << r.err.substr(0, 2000);
    EXPECT_FALSE(fs::exists(d + "/report"));
  }
}

// --time-limit -1, nan or inf were taken as "no limit" (session 21): a usage error now.
TEST(BadInputsCli, TimeLimitIsSecondsAtLeastZero) {
  const std::string d = fresh_dir("tlimit");
  for (const std::string v : {"-1", "nan", "inf"}) {
    const CmdResult r = testing::run_spikechip(run_args(kChip, d) + " --time-limit " + v);
    EXPECT_EQ(r.code, 2) << v << ": " << r.err;
    EXPECT_EQ(r.err, "spikechip: usage error: --time-limit " + v + " must be a number of seconds >= 0 (0: no limit)\n");
    EXPECT_FALSE(fs::exists(d + "/report"));
  }
}

// Session 37: CLI11 reads "-1" into an unsigned option as 2^64-1, so `map --seed -1` placed with
// seed 18446744073709551615, `noc --warmup -5` warmed up for 2^64-5 cycles and reported an empty
// measurement, `eval --limit -1` evaluated everything, `run --trace-max-events -1` lifted the cap:
// each exit 0. A usage error now, before any work.
TEST(BadInputsCli, NegativeValuesOfUnsignedOptions) {
  const std::string d = fresh_dir("unsigned");
  const std::string model = " --model " + q(kModel), out = " -o " + q(d + "/out");
  for (const auto& [args, option] : std::vector<std::pair<std::string, std::string>>{
           {"map" + model + " --chip " + q(kChip) + " --seed -1" + out, "--seed: must be >= 0, got -1"},
           {"run" + model + " --chip " + q(kChip) + " --input " + q(write_pgm(d)) + " --seed -3" + out,
            "--seed: must be >= 0, got -3"},
           {"run" + model + " --chip " + q(kChip) + " --input " + q(write_pgm(d)) + " --trace-max-events -1" + out,
            "--trace-max-events: must be >= 0, got -1"},
           {"noc --width 4 --height 4 --rate 0.1 --seed -1" + out, "--seed: must be >= 0, got -1"},
           {"noc --width 4 --height 4 --rate 0.1 --warmup -5" + out, "--warmup: Value -5 not in range 0 to 1000000000"},
           {"model build --variant 15M --input 16 --seed -1" + out, "--seed: must be >= 0, got -1"},
           {"eval" + model + " --dataset fashion-mnist --limit -1" + out, "--limit: must be >= 0, got -1"}}) {
    const CmdResult r = testing::run_spikechip(args);
    EXPECT_EQ(r.code, 2) << args << ": " << r.err;
    EXPECT_EQ(r.err, "spikechip: usage error: " + option + " (run with --help for usage)\n") << args;
    EXPECT_FALSE(fs::exists(d + "/out")) << args;
  }
  EXPECT_EQ(testing::run_spikechip("noc --width 4 --height 4 --rate 0.1 --measure 100 --seed 18446744073709551615").code, 0);
}

// A model whose own timesteps exceed a run's limit: `run` said "-T 100 is out of range" though no
// -T was given (Python's run simulated it); the golden commands take it. `serve` took NaN and
// infinite timeouts and any --max-timesteps (session 21).
TEST(BadInputsCli, TimestepLimitAndServerTimes) {
  const std::string d = fresh_dir("tsteps");
  fs::create_directories(d + "/m");
  fs::copy_file(kModel + "/weights.safetensors", d + "/m/weights.safetensors");
  json g = json::parse(slurp(kModel + "/graph.json"));
  g["timesteps"] = 100;
  spit(d + "/m/graph.json", g.dump());
  const std::string in = q(write_pgm(d));
  const std::string run = "run --model " + q(d + "/m") + " --chip " + q(kChip) + " --input " + in;
  const CmdResult r = testing::run_spikechip(run);
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "spikechip: usage error: " + d + "/m: the model's timesteps 100 are more than a chip run takes (1..64); pass -T\n");
  EXPECT_EQ(testing::run_spikechip(run + " -T 2 -q").code, 0);
  const CmdResult inf = testing::run_spikechip("infer --model " + q(d + "/m") + " --input " + in);
  EXPECT_EQ(inf.code, 0) << inf.err;
  EXPECT_NE(inf.out.find("T = 100"), std::string::npos) << inf.out;
  for (const auto& [args, msg] : std::vector<std::pair<std::string, std::string>>{
           {"--timeout nan", "--timeout must be in (0, 1e9] seconds"},
           {"--timeout inf", "--timeout must be in (0, 1e9] seconds"},
           {"--session-timeout 1e300", "--session-timeout must be in (0, 1e9] seconds"},
           {"--max-timesteps 65", "--max-timesteps must be in 1..64"},
           {"--max-timesteps 0", "--max-timesteps must be in 1..64"}}) {
    const CmdResult s = testing::run_spikechip("serve --bind tcp://127.0.0.1:* " + args);
    EXPECT_EQ(s.code, 2) << args;
    EXPECT_EQ(s.err, "spikechip: usage error: " + msg + "\n") << args;
    EXPECT_TRUE(s.out.empty()) << args;
  }
}

// Session 21: `report infer.json -o DIR` wrote a run report's HTML and CSVs from a golden report and
// `compare` compared one, both exit 0; a directory given as a JSON file was "not valid JSON ...
// unexpected end of input"; `energy --report` did not take a run directory as `compare` does.
TEST(BadInputsCli, ReportsOfAnotherKindAndDirectories) {
  const std::string d = fresh_dir("kinds");
  ASSERT_EQ(testing::run_spikechip(run_args(kChip, d) + " -q").code, 0);
  const std::string in = q(write_pgm(d)), golden = d + "/golden.json", table = q(kSrc + "/arch/energy/45nm.json");
  ASSERT_EQ(testing::run_spikechip("infer --model " + q(kModel) + " --input " + in + " -o " + q(golden)).code, 0);
  const std::string kind = golden + ": /schema: 'spikechip.golden-report/1' is not a run report (spikechip.run-report/1)";
  expect_one_line_error("report " + q(golden) + " -o " + q(d + "/out"), {kind, "'spikechip infer'"});
  EXPECT_FALSE(fs::exists(d + "/out"));
  expect_one_line_error("compare " + q(d + "/report") + " " + q(golden), {kind});
  expect_one_line_error("energy --report " + q(golden) + " --table " + table, {kind});
  const CmdResult e = testing::run_spikechip("energy --report " + q(d + "/report") + " --table " + table);
  EXPECT_EQ(e.code, 0) << e.err;
  expect_one_line_error(run_args(kChip, d) + " --mapping " + q(d), {d + ": is a directory; give the mapping file"});
  expect_one_line_error("config show --chip " + q(d), {d + ": is a directory; give the chip config file"});
}

// Session 21: `model build` with huge dims, input or blocks ran into std::bad_alloc ("internal
// error") or the OOM killer. Specs beyond generous bounds are usage errors before any allocation;
// a job that still does not fit is "out of memory", exit 1, not an internal error.
TEST(BadInputsCli, ModelBuildBoundsAndOutOfMemory) {
  const std::string d = fresh_dir("bounds");
  const std::string build = "model build -o " + q(d + "/m") + " ";
  for (const auto& [args, msg] : std::vector<std::pair<std::string, std::string>>{
           {"--dims 4096,4096,4096,4096", "parameters (limit 2000000000"},
           {"--dims 64,128,256,512 --input 8192", "widest feature map holds 2147483648 values (limit 268435456)"},
           {"--dims 8,16,32,64 --input 8192 --channels 4096", "widest feature map holds 274877906944 values"},
           {"--dims 8,16,32,64 --input 100000", "input sides <= 8192"},
           {"--dims 8,16,32,64 --blocks 100000,1", "blocks <= 256 per stage"}}) {
    const CmdResult r = testing::run_spikechip(build + args);
    EXPECT_EQ(r.code, 2) << args << ": " << r.err;
    EXPECT_NE(r.err.find(msg), std::string::npos) << args << ": " << r.err;
  }
#ifdef __SANITIZE_ADDRESS__
  // ASan reserves terabytes of address space for its shadow memory, so a sanitized binary cannot
  // start under `ulimit -v`: the out-of-memory half runs in the release build only.
  GTEST_SKIP() << "the address-space limit below cannot be tested under AddressSanitizer";
#endif
  // Within the bounds but beyond this process's address space (1.5 GB): ~2 s.
  const std::string out = d + "/oom.err";
  const int st = std::system(("ulimit -v 1500000; '" + testing::spikechip_binary() + "' " + build +
                              "--dims 8,16,32,64 --input 8192 --channels 4 >/dev/null 2>'" + out + "'").c_str());
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 1);
  const std::string err = slurp(out);
  EXPECT_EQ(err.rfind("spikechip: error: out of memory:", 0), 0u) << err;
  EXPECT_EQ(err.find("internal error"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(d + "/m"));
}

// Output paths that cannot be written (session 21): `infer -o DIR` exited 0 having written nothing,
// `map`/`noc -o DIR` said "cannot rename DIR.tmp", and all three left DIR.tmp behind; `run -o FILE`
// failed only after the simulation. Now one error before any work, and nothing left behind.
TEST(BadInputsCli, OutputPathsThatAreDirectoriesOrUnderFiles) {
  const std::string d = fresh_dir("outpaths");
  fs::create_directories(d + "/dir");
  spit(d + "/file", "x");
  const std::string pgm = write_pgm(d), in = q(pgm);
  const std::string dir = q(d + "/dir");
  for (const std::string& args : {"infer --model " + q(kModel) + " --input " + in + " -o " + dir,
                                  "infer --model " + q(kModel) + " --input " + in + " --dump-spikes " + dir,
                                  map_args(kChip, d + "/dir"),
                                  "noc --measure 10 -o " + dir,
                                  "noc --measure 10 --sweep-rates 0.1:0.2:0.1 -o " + dir})
    expect_one_line_error(args, {d + "/dir: is a directory; give the name of a file to write"});
  expect_one_line_error("infer --model " + q(kModel) + " --input " + in + " -o " + q(d + "/none/r.json"),
                        {d + "/none/r.json: directory '" + d + "/none' does not exist; create it first"});
  const std::string run = "run --model " + q(kModel) + " --chip " + q(kChip) + " --input " + in;
  expect_one_line_error(run + " -o " + q(d + "/file"), {d + "/file: is a file, not a directory"});
  expect_one_line_error(run + " -o " + q(d + "/file/sub"), {d + "/file/sub: '" + d + "/file' is a file, not a directory"});
  expect_one_line_error(run + " --trace-json " + q(d + "/file/t.json"), {d + "/file/t.json: '" + d + "/file' is a file"});
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(d)) left.push_back(e.path().filename().string());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"dir", "file", fs::path(pgm).filename().string()}));
  EXPECT_TRUE(fs::is_empty(d + "/dir"));
}

// ---- defect 4: a changed route was accepted and, with --no-verify, gave wrong results ----------
TEST(BadInputsCli, ChangedRouteDestinationsRejectedEvenWithoutVerification) {
  const std::string d = fresh_dir("dests");
  json m = made_mapping(d);
  const int groups = int(m["groups"].size());
  int route = -1;
  for (size_t r = 0; r < m["routes"].size(); ++r)
    if (m["routes"][r]["kind"] == "spike" && m["routes"][r]["dests"].size() == 1) {
      route = int(r);
      break;
    }
  ASSERT_GE(route, 0);
  const int was = m["routes"][size_t(route)]["dests"][0];
  m["routes"][size_t(route)]["dests"] = {(was + 1) % groups};
  const std::string at = "/routes/" + std::to_string(route) + "/dests";
  expect_one_line_error(run_mapping(d, m, "dests.json") + " --no-verify", {d + "/dests.json: " + at, "must reach groups"});
  expect_one_line_error(run_mapping(d, m, "dests.json"), {d + "/dests.json: " + at});
  EXPECT_FALSE(fs::exists(d + "/report/report.json"));
  // The untouched mapping still runs.
  EXPECT_EQ(testing::run_spikechip(run_args(kChip, d) + " --quiet --mapping " + q(d + "/good.mapping.json")).code, 0);
}

// ---- defect 6: error lines quoted the whole bad value (up to 300 kB) ---------------------------
TEST(BadInputsCli, ErrorLinesQuoteShortExcerpts) {
  const std::string d = fresh_dir("excerpt");
  const std::string chip = chip_file(d, "chip.json", [](json& j) { j["name"] = std::vector<int>(100000, 1); });
  expect_one_line_error(map_args(chip, d + "/m.json"), {chip + ": /name: must be a string, got array [1,1,1"});
  const std::string model = d + "/model";
  fs::create_directories(model);
  fs::copy_file(kModel + "/weights.safetensors", model + "/weights.safetensors");
  json g = json::parse(slurp(kModel + "/graph.json"));
  g["nodes"][1]["shape"] = std::vector<int>(100000, 7);
  spit(model + "/graph.json", g.dump());
  expect_one_line_error("model info " + q(model), {model + "/graph.json", "shape: expected [C, H, W], got array [7,7,7"});
  spit(d + "/events.csv", "x,y,t_us,p\n1,2,3,\r" + std::string(100000, '4') + "\n");
  const CmdResult r =
      testing::run_spikechip("infer --model " + q(kSrc + "/models/fmnist-events") + " --input " + q(d + "/events.csv"));
  EXPECT_EQ(r.code, 1) << r.err.substr(0, 2000);
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << r.err.substr(0, 2000);
  EXPECT_NE(r.err.find(d + "/events.csv:2"), std::string::npos) << r.err.substr(0, 2000);
  EXPECT_LE(r.err.size(), 1000u);
}

// A `run` sweep of one point over 1,024 inputs (~2-3 s of simulation, long enough to act on its
// point while it runs) in `d`; started in the background (output to /dev/null, SIGINT at its
// default: ctest may run as a background job, whose ignored SIGINT the point would keep).
pid_t start_one_point_sweep(const std::string& d, const std::string& out) {
  spit(d + "/sweep.json", R"({"job": "run", "model": ")" + kModel + R"(", "chip": ")" + kChip + R"(", "inputs": ")" +
                              testing::write_1024_inputs(d) + R"(", "list": [{"core.adder_lanes": 16}]})");
  const std::string bin = testing::spikechip_binary();
  const pid_t sweep = fork();
  if (sweep == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    dup2(null, 1), dup2(null, 2);
    std::signal(SIGINT, SIG_DFL);
    execl(bin.c_str(), bin.c_str(), "sweep", (d + "/sweep.json").c_str(), "-o", out.c_str(), (char*)nullptr);
    _exit(127);
  }
  return sweep;
}

// ---- defect 7: an interrupted sweep point was recorded as ok -----------------------------------
// A run sweep whose only point is stopped with SIGINT while it runs: the point writes a partial
// report (or dies on the signal) and exits; the sweep records it as failed ("interrupted") and a
// resumed sweep runs it again to a complete, verified result.
TEST(BadInputsCli, InterruptedSweepPointIsFailedAndRetried) {
  const std::string d = fresh_dir("sweep"), out = d + "/out";
  // 1,024 inputs: the SIGINT below comes 300 ms into the run; with 128 the whole run took ~0.4 s,
  // so a faster build or machine finished it first (a flaky failure).
  const pid_t sweep = start_one_point_sweep(d, out);
  // The point's process is the sweep's child; stop it once it is `spikechip run`, a moment into
  // its work: far from its 1,024 inputs' end.
  const pid_t point = testing::wait_for_run_point(sweep);
  ASSERT_GT(point, 0) << "the sweep started no point";
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  kill(point, SIGINT);
  int st = 0;
  waitpid(sweep, &st, 0);
  ASSERT_TRUE(WIFEXITED(st)) << "sweep status " << st;
  json sw = json::parse(slurp(out + "/sweep.json"));
  ASSERT_EQ(sw["points"].size(), 1u);
  EXPECT_EQ(sw["points"][0]["status"], "failed") << sw.dump();
  EXPECT_EQ(sw["points"][0]["error"].get<std::string>().rfind("interrupted", 0), 0u) << sw.dump();
  EXPECT_TRUE(sw["points"][0]["metrics"].is_null()) << sw.dump();
  // Resumed without --retry-failed: the interrupted point runs again and completes.
  const CmdResult again = testing::run_spikechip("sweep " + q(d + "/sweep.json") + " -o " + q(out));
  ASSERT_EQ(again.code, 0) << again.err;
  sw = json::parse(slurp(out + "/sweep.json"));
  EXPECT_EQ(sw["points"][0]["status"], "ok") << sw.dump();
  EXPECT_EQ(sw["points"][0]["metrics"]["verified"], true) << sw.dump();
}

// Two sweeps in one directory (session 35): the second started every point the first was running,
// in the same point directories (it removed their report.json before the first had read it, which
// recorded a good point as "output unusable"). The second is refused in one line naming the first;
// once the first has ended, the same command finds every point done.
TEST(BadInputsCli, SecondSweepInTheSameDirectoryIsRefused) {
  const std::string d = fresh_dir("twice"), out = d + "/out", args = "sweep " + q(d + "/sweep.json") + " -o " + q(out);
  const pid_t first = start_one_point_sweep(d, out);
  ASSERT_GT(testing::wait_for_run_point(first), 0) << "the first sweep started no point";
  const CmdResult second = testing::run_spikechip(args);
  EXPECT_EQ(second.code, 1) << second.err;
  EXPECT_EQ(second.err, "spikechip: error: " + out + ": another spikechip sweep (process " + std::to_string(first) +
                            ") is using this directory; wait for it to end, or give another -o\n");
  EXPECT_EQ(second.out, "");
  int st = 0;
  waitpid(first, &st, 0);
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "first sweep status " << st;
  const CmdResult again = testing::run_spikechip(args);
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("1 points, 1 ok, 0 failed; 1 of them from earlier runs"), std::string::npos) << again.out;
}

// Outputs the disk refuses (session 34). A full disk is made here by a file-size limit (`ulimit -f`,
// 64 KiB under dash's 512-byte blocks), which fails a write the same way (EFBIG instead of ENOSPC)
// without a file system of our own; the binary ignores SIGXFSZ so the write fails rather than the
// process dying. `run -o` into a directory holding an earlier run: exit 4, one line naming the
// file and the OS reason, and the earlier run's files as they were (its report.json used to be
// removed first). A sweep point that exited 4 is run again on resume without --retry-failed
// (it used to be recorded as failed like a point that does not fit).
TEST(BadInputsCli, OutputsTheDiskRefuses) {
  const std::string d = fresh_dir("refused"), bin = testing::spikechip_binary();
  const std::string run = run_args(kChip, d);  // writes d/report
  ASSERT_EQ(testing::run_spikechip(run).code, 0);
  auto files = [&](const std::string& dir) {
    std::map<std::string, std::string> m;
    for (const auto& e : fs::directory_iterator(dir)) m[e.path().filename().string()] = slurp(e.path().string());
    return m;
  };
  const auto before = files(d + "/report");
  ASSERT_GT(before.at("report.html").size(), 64u * 1024);  // the first file over the limit
  auto limited = [&](const std::string& args, const std::string& err) {
    const int st = std::system(("ulimit -f 128; exec '" + bin + "' " + args + " >/dev/null 2>'" + err + "'").c_str());
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  };
  EXPECT_EQ(limited(run + " -T 2", d + "/run.err"), 4);
  const std::string err = slurp(d + "/run.err");
  EXPECT_EQ(err, "spikechip: error: writing the run report to '" + d + "/report' failed: " + d +
                     "/report/report.html: write failed (File too large); check that its directory is writable and "
                     "its disk has free space, then rerun\n");
  EXPECT_TRUE(files(d + "/report") == before) << "the earlier run's report changed";

  spit(d + "/sweep.json", R"({"job": "run", "model": ")" + kModel + R"(", "chip": ")" + kChip + R"(", "inputs": ")" +
                              write_pgm(d) + R"("})");
  const std::string out = d + "/out";
  EXPECT_NE(limited("sweep " + q(d + "/sweep.json") + " -o " + q(out), d + "/sweep.err"), 0);  // sweep.html too
  json sw = json::parse(slurp(out + "/sweep.json"));
  ASSERT_EQ(sw["points"].size(), 1u) << sw.dump();
  EXPECT_EQ(sw["points"][0]["status"], "failed") << sw.dump();
  EXPECT_EQ(sw["points"][0]["error"].get<std::string>().rfind("output not written: ", 0), 0u) << sw.dump();
  const CmdResult again = testing::run_spikechip("sweep " + q(d + "/sweep.json") + " -o " + q(out));
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("1 ok, 0 failed; 0 of them from earlier runs"), std::string::npos) << again.out;
  sw = json::parse(slurp(out + "/sweep.json"));
  EXPECT_EQ(sw["points"][0]["status"], "ok") << sw.dump();
}
// A result printed on standard output was lost silently: `config describe >/dev/full` and
// `model info --json >&-` exited 0 (session 34). Now exit 4 and one line, as for a file.
TEST(BadInputsCli, StandardOutputThatRefusesTheResult) {
  const std::string d = fresh_dir("stdout"), bin = testing::spikechip_binary();
  auto status = [&](const std::string& args, const std::string& redirect) {
    const int st = std::system(("'" + bin + "' " + args + " " + redirect + " 2>'" + d + "/err'").c_str());
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  };
  const std::string info = "model info " + q(kModel) + " --json";
  ASSERT_EQ(status(info, ">'" + d + "/out'"), 0) << slurp(d + "/err");
  ASSERT_GT(slurp(d + "/out").size(), 100u);
  for (const std::string& args : {std::string("config describe"), info}) {
    for (const std::string& redirect : {std::string(">&-"), std::string(fs::exists("/dev/full") ? ">/dev/full" : ">&-")}) {
      EXPECT_EQ(status(args, redirect), 4) << args << " " << redirect;
      const std::string err = slurp(d + "/err");
      EXPECT_EQ(err.rfind("spikechip: error: writing the standard output failed (", 0), 0u) << err;
      EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    }
  }
}

// ---- the readers of a run's report.json (report, compare, energy) ------------------------------
// A report edited by hand (a field null or of another type) gave "internal error: [json.exception
// ...]" from `report` and `compare` (found by mutating every field of a quick-start report).
TEST(BadInputsCli, HandEditedReportNamesTheFile) {
  const std::string d = fresh_dir("report_fields");
  const CmdResult ok = testing::run_spikechip(run_args(kChip, d) + " -q");
  ASSERT_EQ(ok.code, 0) << ok.err;
  const json good = json::parse(slurp(d + "/report/report.json"));
  const std::vector<std::function<void(json&)>> edits = {
      [](json& j) { j["chip"]["clock_hz"] = nullptr; }, [](json& j) { j["chip"]["name"] = nullptr; },
      [](json& j) { j["model"]["name"] = 3; },         [](json& j) { j["layers"][0] = nullptr; },
      [](json& j) { j["layers"] = "x"; },              [](json& j) { j["model"]["graph_sha256"] = nullptr; }};
  const std::string table = q(kSrc + "/arch/energy/45nm.json");
  for (size_t i = 0; i < edits.size(); ++i) {
    json bad = good;
    edits[i](bad);
    const std::string f = d + "/bad" + std::to_string(i) + ".json";
    spit(f, bad.dump());
    SCOPED_TRACE(i);
    for (const std::string& args : {"report " + q(f) + " -o " + q(d + "/out" + std::to_string(i)),
                                    "compare " + q(d + "/report/report.json") + " " + q(f),
                                    "energy --report " + q(f) + " --table " + table}) {
      const CmdResult r = testing::run_spikechip(args);
      EXPECT_EQ(r.err.find("internal error"), std::string::npos) << args << "\n" << r.err;
      if (r.code != 0) {  // some edits are harmless to some readers; a refusal names the file
        EXPECT_EQ(r.code, 1) << args << "\n" << r.err;
        EXPECT_NE(r.err.find(f), std::string::npos) << args << "\n" << r.err;
      }
    }
  }
}

}  // namespace
}  // namespace spikechip
