// Sweep files (expansion, strict validation) and the sweep command end to end: failures recorded,
// tech-only points sharing one simulation, resume after SIGKILL, MPI back end == local.
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>

#include "arch/energy.hpp"
#include "explore/sweep.hpp"
#include "models/graph_io.hpp"
#include "models/meta_spikeformer.hpp"
#include "base/npy.hpp"
#include "base/error.hpp"
#include "tiny_graph.hpp"
#include "spikechip/source_dir.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;
using namespace spikechip;

namespace {

std::string binary() { return spikechip::testing::spikechip_binary(); }

fs::path scratch(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("spikechip-test-sweep-" + std::to_string(getpid())) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// A Fashion-MNIST-sized Meta-SpikeFormer with synthetic weights (the mapper reads its structure).
std::string tiny_model() {
  static std::string dir;
  if (!dir.empty()) return dir;
  model::MetaSpikeFormerSpec s;
  s.variant = "tiny";
  s.dims = {8, 16, 16, 24};
  s.blocks3 = 1, s.blocks4 = 1;
  s.in_channels = 1, s.height = 28, s.width = 28, s.num_classes = 10;
  dir = (scratch("model") / "tiny").string();
  model::save_model(model::build_meta_spikeformer_structure(s, 1), dir);
  return dir;
}

// Removes this process's scratch directories when the tests pass (kept on failure, to look at).
class ScratchCleanup : public ::testing::Environment {
 public:
  void TearDown() override {
    std::error_code ec;  // best effort: a daemon may still be writing while it exits
    if (!::testing::UnitTest::GetInstance()->Failed())
      fs::remove_all(fs::temp_directory_path() / ("spikechip-test-sweep-" + std::to_string(getpid())), ec);
  }
};
const auto* const kCleanup = ::testing::AddGlobalTestEnvironment(new ScratchCleanup);

std::string chip_preset() { return std::string(SPIKECHIP_SOURCE_DIR) + "/arch/presets/tiny.json"; }

explore::SweepSpec parse(const std::string& text) {
  return explore::parse_sweep(ordered_json::parse(text), "test.json", fs::current_path().string());
}

std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string base_fields() {
  return "\"job\": \"map\", \"model\": \"" + tiny_model() + "\", \"chip\": \"" + chip_preset() + "\"";
}

int run(const std::vector<std::string>& args, const std::string& log) {
  std::string cmd;
  for (const auto& a : args) cmd += "'" + a + "' ";
  return WEXITSTATUS(std::system((cmd + ">" + log + " 2>&1").c_str()));
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// results.csv without its timing column (wall_s, the last one).
std::string without_timing(const std::string& csv) {
  std::stringstream in(csv), out;
  std::string line;
  while (std::getline(in, line)) out << line.substr(0, line.rfind(',')) << "\n";
  return out.str();
}

}  // namespace

TEST(SweepSpec, GridZipListExpandInOrder) {
  const auto s = parse("{" + base_fields() +
                       R"(, "grid": {"core.adder_lanes": [8, 16], "map.placement": ["snake", "anneal"]},
                            "zip": {"mesh.width": [6, 8], "mesh.height": [5, 8]},
                            "list": [{"router.buffer_depth": 2}, {"router.buffer_depth": 8, "router.vcs": 4}]})");
  ASSERT_EQ(s.points.size(), 16u);
  EXPECT_EQ(s.parameters, (std::vector<std::string>{"core.adder_lanes", "map.placement", "mesh.width", "mesh.height",
                                                    "router.buffer_depth", "router.vcs"}));
  // The first axis is outermost; zip steps its lists together; list keys missing in an entry keep the base.
  EXPECT_EQ(s.points[0].params.dump(), R"({"core.adder_lanes":8,"map.placement":"snake","mesh.width":6,"mesh.height":5,"router.buffer_depth":2,"router.vcs":2})");
  EXPECT_EQ(s.points[1].params.dump(), R"({"core.adder_lanes":8,"map.placement":"snake","mesh.width":6,"mesh.height":5,"router.buffer_depth":8,"router.vcs":4})");
  EXPECT_EQ(s.points[2].params["mesh.width"], 8);
  EXPECT_EQ(s.points[2].params["mesh.height"], 8);
  EXPECT_EQ(s.points[4].params["map.placement"], "anneal");
  EXPECT_EQ(s.points[8].params["core.adder_lanes"], 16);
  EXPECT_EQ(s.points[15].chip["router"]["vcs"], 4);
  EXPECT_EQ(s.points[15].map["placement"], "anneal");
  for (const auto& p : s.points) EXPECT_EQ(p.sim_point, p.id);  // no two points share a simulation
}

TEST(SweepSpec, TechOnlyPointsShareOneSimulation) {
  const auto s = parse("{" + base_fields() + R"(, "grid": {"core.adder_lanes": [8, 16]},
      "list": [{"tech.node": "45nm", "tech.energy_table": "arch/energy/45nm.json"},
               {"tech.node": "28nm", "tech.energy_table": "arch/energy/28nm.json"}]})");
  ASSERT_EQ(s.points.size(), 4u);
  EXPECT_EQ(s.points[1].sim_point, 0);
  EXPECT_EQ(s.points[3].sim_point, 2);
  EXPECT_NE(s.points[1].key, s.points[0].key);
  EXPECT_TRUE(fs::path(s.points[1].chip["tech"]["energy_table"].get<std::string>()).is_absolute());
  // The area proxy scales with the node squared.
  EXPECT_NEAR(s.points[1].area_proxy_mm2 / s.points[0].area_proxy_mm2, (28.0 / 45) * (28.0 / 45), 1e-12);
}

TEST(SweepSpec, AreaProxyByHand) {
  arch::ChipConfig c;  // defaults: 4x4 mesh, 64 + 128 + 16 KiB SRAM, 16 adders, 8 LIF, 16 SDSA, 4 MAC, 2 VC x 4 x 64 bit
  const double core = (65536.0 + 131072.0 + 16384.0) * 8 * 0.5 + 16 * 180 + 8 * 400 + 16 * 60 + 4 * 600 + 5 * 2 * 4 * 64 * 4.5 +
                      25 * 64 * 1.0;
  EXPECT_DOUBLE_EQ(explore::area_proxy_mm2(c), 16 * core / 1e6);
}

TEST(SweepSpec, StrictErrorsNameThePath) {
  EXPECT_NE(error_of("{" + base_fields() + R"(, "grid": {"core.adder_lane": [8]}})").find("'core.adder_lane' is not a chip-config path"),
            std::string::npos);
  EXPECT_NE(error_of("{" + base_fields() + R"(, "grid": {"map.sed": [1]}})").find("map.sed"), std::string::npos);
  EXPECT_NE(error_of("{" + base_fields() + R"(, "grid": {"core": [1]}})").find("is a section"), std::string::npos);
  const std::string range = error_of("{" + base_fields() + R"(, "grid": {"core.adder_lanes": [8, 0]}})");
  EXPECT_NE(range.find("point 1"), std::string::npos) << range;
  EXPECT_NE(range.find("/core/adder_lanes: 0 is out of range"), std::string::npos) << range;
  EXPECT_NE(error_of("{" + base_fields() + R"(, "grid": {"map.placement": ["best"]}})").find("'best' is not one of"),
            std::string::npos);
  EXPECT_NE(error_of("{" + base_fields() + R"(, "grid": {"mesh.width": [4]}, "zip": {"mesh.width": [4]}})").find("varied twice"),
            std::string::npos);
  EXPECT_NE(error_of("{" + base_fields() + R"(, "zip": {"mesh.width": [4, 5], "mesh.height": [4]}})").find("same, non-zero length"),
            std::string::npos);
  EXPECT_NE(error_of("{" + base_fields() + R"(, "gird": {}})").find("/gird: unknown key"), std::string::npos);
  EXPECT_NE(error_of("{" + base_fields() + R"(, "list": [{"tech.energy_table": "nope.json"}]})").find("energy table 'nope.json' not found"),
            std::string::npos);
}

// A preset's and a shipped energy table's name, as `--chip tiny` and `--table 28nm` take them
// (session 36: "chip config 'tiny' not found (tried ...)"); a file of that name comes first.
TEST(SweepSpec, PresetAndTableNamesAsOnTheCommandLine) {
  const std::string src = SPIKECHIP_SOURCE_DIR;
  const auto s = parse(R"({"model": ")" + tiny_model() + R"(", "chip": "tiny", "list": [{"tech.energy_table": "28nm"}]})");
  ASSERT_EQ(s.points.size(), 1u);
  EXPECT_EQ(s.points[0].chip["mesh"], json::parse(spikechip::testing::slurp(chip_preset()))["mesh"]);
  EXPECT_EQ(s.points[0].chip["tech"]["energy_table"].get<std::string>(),
            fs::weakly_canonical(src + "/arch/energy/28nm.json").string());
  const std::string e = error_of(R"({"model": ")" + tiny_model() + R"(", "chip": "tinyy"})");
  EXPECT_NE(e.find("chip config 'tinyy' not found"), std::string::npos) << e;
  EXPECT_NE(e.find(", or name one of: "), std::string::npos) << e;
  EXPECT_NE(e.find("tiny"), std::string::npos) << e;
}

// 8 points: mesh 3x3 (does not fit: 27 cores needed) and 8x8, two placements, two energy tables.
std::string write_e2e_sweep(const fs::path& dir, const std::string& extra = "") {
  const fs::path f = dir / "sweep.json";
  std::ofstream(f) << "{" << base_fields() << R"(, "name": "e2e",
      "grid": {"map.placement": ["snake", "anneal"]},
      "zip": {"mesh.width": [3, 8], "mesh.height": [3, 8]},
      "list": [{"tech.energy_table": "arch/energy/45nm.json", "tech.node": "45nm"},
               {"tech.energy_table": "arch/energy/28nm.json", "tech.node": "28nm"}])" << extra << "}";
  return f.string();
}

TEST(SweepRun, LocalRecordsFailuresAndSharesTechPoints) {
  const fs::path d = scratch("local");
  const std::string f = write_e2e_sweep(d);
  ASSERT_EQ(run({binary(), "sweep", f, "-j", "2", "-o", (d / "out").string()}, (d / "log").string()), 0)
      << slurp(d / "log");
  const std::string csv = slurp(d / "out/results.csv");
  std::stringstream in(csv);
  std::string header, line;
  std::getline(in, header);
  EXPECT_EQ(header, "point,status,map.placement,mesh.width,mesh.height,tech.energy_table,tech.node,cores_used,cores_total,"
                    "traffic_hops,link_traversals,packets_per_step,max_link_load,weight_replication,membrane_util_max,"
                    "weight_util_max,area_proxy_mm2,sim_point,error,wall_s");
  int rows = 0, failed = 0;
  while (std::getline(in, line)) {
    ++rows;
    if (line.find(",failed,") != std::string::npos) {
      ++failed;
      EXPECT_NE(line.find(",3,3,"), std::string::npos) << line;
    }
  }
  EXPECT_EQ(rows, 8);
  EXPECT_EQ(failed, 8 - 4);  // every 3x3 point: the model needs more cores than 9
  // The 3x3 failures carry the mapper's message (last line of stderr); tech points reuse point 2's mapping.
  const json sweep = json::parse(slurp(d / "out/sweep.json"));
  EXPECT_EQ(sweep["status"], "complete");
  EXPECT_EQ(sweep["points"][0]["status"], "failed");
  EXPECT_NE(sweep["points"][0]["error"].get<std::string>().find("core"), std::string::npos) << sweep["points"][0]["error"];
  EXPECT_NE(sweep["points"][1]["error"].get<std::string>().find("shares the simulation of point 0"), std::string::npos);
  EXPECT_EQ(sweep["points"][2]["status"], "ok");
  EXPECT_EQ(sweep["points"][3]["metrics"]["traffic_hops"], sweep["points"][2]["metrics"]["traffic_hops"]);
  EXPECT_NE(sweep["points"][3]["metrics"]["area_proxy_mm2"], sweep["points"][2]["metrics"]["area_proxy_mm2"]);
  EXPECT_FALSE(fs::exists(d / "out/points/0003/summary.json"));  // not mapped again
  EXPECT_TRUE(fs::exists(d / "out/sweep.html"));
  // A re-run finds every point recorded and runs nothing.
  ASSERT_EQ(run({binary(), "sweep", f, "-o", (d / "out").string()}, (d / "log2").string()), 0);
  EXPECT_NE(slurp(d / "log2").find("8 of them from earlier runs"), std::string::npos) << slurp(d / "log2");
  EXPECT_EQ(slurp(d / "out/results.csv"), csv);
}

TEST(SweepRun, ResumeAfterSigkillMatchesUninterrupted) {
  const fs::path d = scratch("resume");
  // 12 anneal points on the 8x8 chip (varied seeds), so the sweep is still running when killed.
  const fs::path f = d / "sweep.json";
  std::ofstream(f) << "{" << base_fields() << R"(, "map": {"placement": "anneal"},
      "grid": {"map.seed": [1, 2, 3, 4, 5, 6], "core.adder_lanes": [8, 16]}})";
  ASSERT_EQ(run({binary(), "sweep", f.string(), "-j", "2", "-o", (d / "ref").string()}, (d / "log").string()), 0);
  const std::string ref = without_timing(slurp(d / "ref/results.csv"));

  const std::string out = (d / "killed").string();
  const pid_t pid = fork();
  if (pid == 0) {
    execl(binary().c_str(), binary().c_str(), "sweep", f.c_str(), "-j", "2", "-o", out.c_str(), (char*)nullptr);
    _exit(127);
  }
  // Kill the parent once a few points are finished (point 3's summary), mid-way through.
  for (int i = 0; i < 3000 && !fs::exists(out + "/points/0003/summary.json"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  kill(pid, SIGKILL);
  int st = 0;
  waitpid(pid, &st, 0);
  ASSERT_TRUE(WIFSIGNALED(st)) << "the sweep finished before it could be killed";
  EXPECT_FALSE(fs::exists(out + "/results.csv"));
  ASSERT_EQ(run({binary(), "sweep", f.string(), "-j", "2", "-o", out}, (d / "log2").string()), 0) << slurp(d / "log2");
  EXPECT_EQ(without_timing(slurp(out + "/results.csv")), ref);
}

TEST(SweepRun, MpiBackendEqualsLocal) {
  if (std::system("command -v mpirun >/dev/null 2>&1") != 0) GTEST_SKIP() << "mpirun is not installed (openmpi-bin)";
  const fs::path d = scratch("mpi");
  const std::string f = write_e2e_sweep(d);
  ASSERT_EQ(run({binary(), "sweep", f, "-j", "2", "-o", (d / "local").string()}, (d / "log").string()), 0);
  std::vector<std::string> cmd = {"mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "3"};
#ifdef __SANITIZE_ADDRESS__
  // Open MPI 4.1 leaks in MPI_Init/MPI_Finalize from components it has dlclose'd by exit time
  // (frames "<unknown module>", which no LSan suppression can name), so the ranks run without leak
  // checking; ASan's other checks and UBSan stay on. Our sweep code's leaks are checked by the
  // local-backend tests.
  const char* asan = std::getenv("ASAN_OPTIONS");
  cmd.insert(cmd.end(), {"-x", std::string("ASAN_OPTIONS=") + (asan ? asan : "") + ":detect_leaks=0"});
#endif
  cmd.insert(cmd.end(), {binary(), "sweep", f, "--backend", "mpi", "-o", (d / "mpi").string()});
  ASSERT_EQ(run(cmd, (d / "log2").string()), 0) << slurp(d / "log2");
  EXPECT_EQ(without_timing(slurp(d / "mpi/results.csv")), without_timing(slurp(d / "local/results.csv")));
}

TEST(SweepRun, PointAndCollectEqualLocal) {
  // The Slurm back end's two steps, run by hand: each point as its own task, then the merge.
  const fs::path d = scratch("collect");
  const std::string f = write_e2e_sweep(d);
  ASSERT_EQ(run({binary(), "sweep", f, "-j", "2", "-o", (d / "local").string()}, (d / "log").string()), 0);
  const auto spec = explore::load_sweep(f);
  for (const auto& p : spec.points) {
    if (p.sim_point != p.id) continue;
    ASSERT_EQ(run({binary(), "sweep", f, "--point", std::to_string(p.id), "-o", (d / "tasks").string()},
                    (d / "log2").string()),
                0)
          << slurp(d / "log2");
  }
  ASSERT_EQ(run({binary(), "sweep", f, "--collect", "-o", (d / "tasks").string()}, (d / "log3").string()), 0)
      << slurp(d / "log3");
  EXPECT_EQ(without_timing(slurp(d / "tasks/results.csv")), without_timing(slurp(d / "local/results.csv")));
}

TEST(SweepRun, SlurmBackendEqualsLocal) {
  // A one-node Slurm cluster on this machine (scripts/slurm-local), torn down at the end. Its
  // directory and the sweep's have spaces in their names (slurm.conf took a value to the first
  // space: the cluster did not start, session 38).
  const fs::path d = scratch("slurm");
  const std::string script = std::string(SPIKECHIP_SOURCE_DIR) + "/scripts/slurm-local";
  const int rc = run({script, "start", (d / "a cluster").string()}, (d / "cluster.log").string());
  if (rc == 3) GTEST_SKIP() << "no local Slurm: " << slurp(d / "cluster.log");
  struct Stop {
    std::string cmd;
    ~Stop() { (void)!std::system(cmd.c_str()); }
  } stop{"'" + script + "' stop '" + (d / "a cluster").string() + "'"};
  ASSERT_EQ(rc, 0) << slurp(d / "cluster.log");
  setenv("SLURM_CONF", (d / "a cluster/slurm.conf").c_str(), 1);
  const std::string f = write_e2e_sweep(d);
  ASSERT_EQ(run({binary(), "sweep", f, "-j", "2", "-o", (d / "local").string()}, (d / "log").string()), 0);
  ASSERT_EQ(run({binary(), "sweep", f, "--backend", "slurm", "-j", "2", "-o", (d / "slurm runs").string()},
                (d / "log2").string()),
            0)
      << slurp(d / "log2");
  for (int i = 0; i < 1200 && !fs::exists(d / "slurm runs/results.csv"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(fs::exists(d / "slurm runs/results.csv")) << slurp(d / "slurm runs/slurm/collect.out");
  EXPECT_EQ(without_timing(slurp(d / "slurm runs/results.csv")), without_timing(slurp(d / "local/results.csv")));
}

TEST(SweepEnergy, ReapplyFromReportEventsMatchesDirectApplication) {
  // Until `spikechip run` lands this checks the re-application path (event JSON round trip, per
  // inference division, table and chip) against arch::apply_energy on the original counts.
  arch::EventCounts c;
  c.adds16 = 123456, c.adds32 = 789, c.mults8 = 4321, c.membrane_reads = 5555, c.membrane_writes = 4444;
  c.neuron_updates = 3333, c.sdsa_ops = 2222, c.router_traversals = 999, c.link_bits = 64000, c.core_cycles = 1000000;
  c.paper_macs = 4321, c.paper_acs = 123456;
  c.weight_reads[{32768, 64}] = 7777;
  c.weight_reads[{16384, 64}] = 11;
  arch::ChipConfig chip;
  chip.name = "t";
  const json report = {{"events", c.to_json()}, {"run", {{"inputs", 4}}}, {"summary", {{"energy_pJ", 2.0}, {"energy_per_sop_pJ", 2.0 * 4 / 1000}}},
                       {"chip", {{"config", arch::chip_config_to_json(chip)}}}};
  const std::string t28 = std::string(SPIKECHIP_SOURCE_DIR) + "/arch/energy/28nm.json";
  const json e = explore::reapply_energy(report, "r.json", t28, std::nullopt);
  const auto direct = arch::apply_energy(c, arch::load_energy_table(t28), chip);
  EXPECT_DOUBLE_EQ(e["energy_pJ"].get<double>(), direct.total_pj / 4);
  EXPECT_DOUBLE_EQ(e["energy_per_sop_pJ"].get<double>(), direct.total_pj / 1000);  // 1000 ops in total
  EXPECT_DOUBLE_EQ(e["components_pJ"]["weight_sram"].get<double>(), direct.components_pj.at("weight_sram") / 4);
}

TEST(SweepRun, RunJobTechPointEnergyEqualsFullSimulation) {
  // A "run" sweep over two energy tables: point 1 only re-applies 28 nm to point 0's counted
  // events. A separate, full `spikechip run` of point 1's chip must give the same energy.
  const fs::path d = scratch("runjob");
  model::MetaSpikeFormerSpec s;
  s.variant = "tiny";
  s.dims = {8, 16, 16, 24};
  s.blocks3 = 1, s.blocks4 = 1;
  s.in_channels = 1, s.height = 28, s.width = 28, s.num_classes = 10;
  model::save_model(model::build_meta_spikeformer(s, 1, 0.2), (d / "model").string());
  NpyArray img{"|u1", {1, 1, 28, 28}, {}};
  for (int i = 0; i < 28 * 28; ++i) img.bytes.push_back(uint8_t((i * 37) % 256));
  write_npy((d / "in.npy").string(), img);
  std::ofstream(d / "sweep.json") << R"({"job": "run", "model": "model", "inputs": "in.npy", "chip": ")" << chip_preset()
                                  << R"(", "list": [{"tech.energy_table": "arch/energy/45nm.json", "tech.node": "45nm"},
               {"tech.energy_table": "arch/energy/28nm.json", "tech.node": "28nm"}]})";
  ASSERT_EQ(run({binary(), "sweep", (d / "sweep.json").string(), "-o", (d / "out").string()}, (d / "log").string()), 0)
      << slurp(d / "log");
  const json sw = json::parse(slurp(d / "out/sweep.json"));
  ASSERT_EQ(sw["points"][1]["status"], "ok") << sw.dump();
  EXPECT_FALSE(fs::exists(d / "out/points/0001/report.json"));  // not simulated again
  ASSERT_EQ(run({binary(), "run", "--model", (d / "model").string(), "--chip", (d / "out/points/0001/chip.json").string(),
                 "--input", (d / "in.npy").string(), "-o", (d / "full").string(), "--quiet"},
                (d / "log2").string()),
            0)
      << slurp(d / "log2");
  const json full = json::parse(slurp(d / "full/report.json"))["summary"];
  const json m1 = sw["points"][1]["metrics"], m0 = sw["points"][0]["metrics"];
  EXPECT_NEAR(m1["energy_pJ"].get<double>(), full["energy_pJ"].get<double>(), 1e-9 * full["energy_pJ"].get<double>());
  EXPECT_NEAR(m1["energy_per_sop_pJ"].get<double>(), full["energy_per_sop_pJ"].get<double>(),
              1e-9 * full["energy_per_sop_pJ"].get<double>());
  EXPECT_EQ(m1["latency_cycles"], full["latency_cycles"]);
  EXPECT_LT(m1["energy_pJ"].get<double>(), m0["energy_pJ"].get<double>());  // 28 nm costs less than 45 nm
}


// Issue 21 item 10: a "run" sweep may vary anything `spikechip run` takes: T, the model, the
// inputs and the mapper options; each point's command carries them.
TEST(SweepSpec, RunJobVariesTModelInputsAndMapperOptions) {
  const std::string src = SPIKECHIP_SOURCE_DIR;
  const auto s = parse(R"({"job": "run", "model": ")" + src + R"(/models/fmnist", "inputs": ")" + src +
                       R"(/models/fmnist/sample.npy", "chip": ")" + chip_preset() + R"(", "T": 2,
      "map": {"split": "channels-first"},
      "grid": {"T": [1, 3], "map.placement": ["snake", "anneal"]},
      "list": [{}, {"model": ")" + tiny_model() + R"(", "inputs": ")" + src + R"(/models/fmnist/sample.npy"}]})");
  ASSERT_EQ(s.points.size(), 8u);
  EXPECT_EQ(s.parameters, (std::vector<std::string>{"T", "map.placement", "model", "inputs"}));
  EXPECT_EQ(s.points[0].T, 1);
  EXPECT_EQ(s.points[7].T, 3);
  EXPECT_EQ(s.points[0].model, src + "/models/fmnist");
  EXPECT_EQ(fs::path(s.points[1].model), fs::weakly_canonical(tiny_model()));
  EXPECT_NE(s.points[0].key, s.points[1].key);
  const auto cmd = explore::point_command(s, s.points[3], "/out", "spikechip");
  auto has = [&](const std::vector<std::string>& want) {
    return std::search(cmd.begin(), cmd.end(), want.begin(), want.end()) != cmd.end();
  };
  EXPECT_TRUE(has({"-T", "1"}));
  EXPECT_TRUE(has({"--placement", "anneal"}));
  EXPECT_TRUE(has({"--split", "channels-first"}));
  EXPECT_TRUE(has({"--model", s.points[3].model}));
  // A sweep varying none of these keeps its points' keys (stores of earlier sweeps stay valid).
  const auto plain = parse(R"({"job": "run", "model": ")" + src + R"(/models/fmnist", "inputs": ")" + src +
                           R"(/models/fmnist/sample.npy", "chip": ")" + chip_preset() + R"(", "grid": {"core.adder_lanes": [8]}})");
  EXPECT_EQ(plain.points[0].key.find("\"run\":{"), std::string::npos);
  EXPECT_NE(s.points[0].key.find("\"run\":{"), std::string::npos);
  // What each job takes.
  const std::string run_base = R"("job": "run", "model": ")" + src + R"(/models/fmnist", "inputs": ")" + src +
                               R"(/models/fmnist/sample.npy", "chip": ")" + chip_preset() + "\"";
  EXPECT_NE(error_of("{" + run_base + R"(, "grid": {"map.rate": [0.1]}})").find("map.rate applies to"), std::string::npos);
  EXPECT_NE(error_of("{" + run_base + R"(, "grid": {"T": [0]}})").find("point 0: /T: 0 is out of range"), std::string::npos);
  EXPECT_NE(error_of("{" + run_base + R"(, "grid": {"model": ["nope"]}})").find("model directory 'nope' not found"),
            std::string::npos);
  EXPECT_NE(error_of("{" + run_base + R"(, "grid": {"noc.rate": [0.1]}})").find("\"job\": \"noc\" sweeps only"),
            std::string::npos);
  EXPECT_NE(error_of("{" + base_fields() + R"(, "grid": {"inputs": ["x.npy"]}})").find("'inputs' can be varied in \"job\": \"run\" sweeps only"),
            std::string::npos);
  // A map sweep takes timesteps too (a mapping is for a model at some T): `map -T`.
  const auto maps = parse("{" + base_fields() + R"(, "T": 2, "grid": {"T": [1, 4]}})");
  ASSERT_EQ(maps.points.size(), 2u);
  EXPECT_EQ(maps.points[1].T, 4);
  const auto map_cmd = explore::point_command(maps, maps.points[1], "/out", "spikechip");
  EXPECT_EQ(map_cmd[1], "map");
  const std::vector<std::string> t4 = {"-T", "4"};
  EXPECT_NE(std::search(map_cmd.begin(), map_cmd.end(), t4.begin(), t4.end()), map_cmd.end());
  const std::string noc_base = R"("job": "noc", "chip": ")" + chip_preset() + "\"";
  EXPECT_NE(error_of("{" + noc_base + R"(, "T": 2})").find("a \"job\": \"noc\" sweep takes no timesteps"), std::string::npos);
}

// Issue 20: time-multiplexed points (map.time_multiplex, map.phases) and the memory controllers as a
// parameter (a list value), checked like every other key; a sweep that sets neither keeps its keys.
TEST(SweepSpec, TimeMultiplexPhasesAndMemoryControllers) {
  const auto s = parse("{" + base_fields() + R"(, "map": {"time_multiplex": true},
      "grid": {"map.phases": ["greedy", "min-dram"]},
      "list": [{"memory_controllers": [{"edge": "west", "position": 1}]},
               {"memory_controllers": [{"edge": "east", "position": 2, "model": "hbm2-2000", "channels": 2}]}]})");
  ASSERT_EQ(s.points.size(), 4u);
  EXPECT_EQ(s.parameters, (std::vector<std::string>{"map.phases", "memory_controllers"}));
  EXPECT_EQ(s.points[3].chip["memory_controllers"][0]["model"], "hbm2-2000");
  const auto cmd = explore::point_command(s, s.points[3], "/out", "spikechip");
  auto has = [&](const std::vector<std::string>& want) {
    return std::search(cmd.begin(), cmd.end(), want.begin(), want.end()) != cmd.end();
  };
  EXPECT_TRUE(has({"--time-multiplex"}));
  EXPECT_TRUE(has({"--phases", "min-dram"}));
  const auto plain = parse("{" + base_fields() + R"(, "grid": {"core.adder_lanes": [8]}})");
  EXPECT_EQ(plain.points[0].key.find("time_multiplex"), std::string::npos);
  const auto pc = explore::point_command(plain, plain.points[0], "/out", "spikechip");
  EXPECT_EQ(std::find(pc.begin(), pc.end(), "--time-multiplex"), pc.end());
  // Errors name the point and the path.
  const std::string no_tm = error_of("{" + base_fields() + R"(, "grid": {"map.phases": ["min-dram"]}})");
  EXPECT_NE(no_tm.find("point 0"), std::string::npos) << no_tm;
  EXPECT_NE(no_tm.find("map.phases chooses how --time-multiplex cuts phases"), std::string::npos) << no_tm;
  EXPECT_NE(error_of("{" + base_fields() + R"(, "grid": {"map.phases": ["fastest"]}})").find("'fastest' is not one of"),
            std::string::npos);
  EXPECT_NE(error_of("{" + base_fields() + R"(, "map": {"time_multiplex": 1}})").find("/map/time_multiplex"), std::string::npos);
  const std::string bad_edge = error_of("{" + base_fields() + R"(, "list": [{"memory_controllers": [{"edge": "up", "position": 0}]}]})");
  EXPECT_NE(bad_edge.find("point 0"), std::string::npos) << bad_edge;
  EXPECT_NE(bad_edge.find("/memory_controllers/0/edge"), std::string::npos) << bad_edge;
}

// A time-multiplexed "run" sweep over two memory set-ups on a 4x4 chip: each point equals a direct
// `spikechip run --time-multiplex` of its chip.json.
TEST(SweepRun, TimeMultiplexedRunPointsEqualDirectRuns) {
  const std::string src = SPIKECHIP_SOURCE_DIR;
  const fs::path d = scratch("tmjob");
  std::ofstream(d / "sweep.json") << R"({"job": "run", "model": ")" << src << R"(/models/fmnist", "inputs": ")" << src
                                  << R"(/models/fmnist/sample.npy", "chip": ")" << chip_preset() << R"(",
      "map": {"time_multiplex": true}, "zip": {"mesh.width": [4], "mesh.height": [4]},
      "list": [{"memory_controllers": [{"edge": "west", "position": 1}]},
               {"memory_controllers": [{"edge": "east", "position": 2, "model": "hbm2-2000"}]}]})";
  ASSERT_EQ(run({binary(), "sweep", (d / "sweep.json").string(), "-o", (d / "out").string()}, (d / "log").string()), 0)
      << slurp(d / "log");
  const json sw = json::parse(slurp(d / "out/sweep.json"));
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(sw["points"][i]["status"], "ok") << sw.dump();
    const std::string pd = (d / "out/points").string() + (i ? "/0001" : "/0000");
    const json rep = json::parse(slurp(pd + "/report.json"));
    EXPECT_GE(rep["mapping"]["phases"].get<int>(), 2);
    EXPECT_EQ(rep["dram"]["models"], i ? "hbm2-2000" : "lpddr4-3200");
    ASSERT_EQ(run({binary(), "run", "--model", src + "/models/fmnist", "--chip", pd + "/chip.json", "--input",
                   src + "/models/fmnist/sample.npy", "--time-multiplex", "-o", (d / "direct").string(), "--quiet"},
                  (d / "log2").string()),
              0)
        << slurp(d / "log2");
    const json direct = json::parse(slurp(d / "direct/report.json"))["summary"];
    const json m = sw["points"][i]["metrics"];
    EXPECT_EQ(m["latency_cycles"], direct["latency_cycles"]) << i;
    EXPECT_NEAR(m["energy_pJ"].get<double>(), direct["energy_pJ"].get<double>(), 1e-9 * direct["energy_pJ"].get<double>());
  }
}

// A "noc" job: the chip's network under synthetic traffic, one point per load; sweep --dry-run
// lists the points and their commands without running or writing anything.
TEST(SweepRun, NocJobGivesLatencyThroughputCurvesAndDryRunListsPoints) {
  const fs::path d = scratch("nocjob");
  const fs::path f = d / "sweep.json";
  std::ofstream(f) << R"({"job": "noc", "chip": ")" << chip_preset() << R"(",
      "noc": {"traffic": "uniform", "packet_size": 4, "warmup": 300, "measure": 1500},
      "grid": {"router.vcs": [1, 2], "noc.rate": [0.02, 0.1, 0.3]}})";
  ASSERT_EQ(run({binary(), "sweep", f.string(), "--dry-run"}, (d / "dry").string()), 0) << slurp(d / "dry");
  const std::string dry = slurp(d / "dry");
  EXPECT_NE(dry.find("sweep 'sweep': job noc, 6 point(s), 6 simulation(s); parameters: router.vcs, noc.rate"),
            std::string::npos) << dry;
  EXPECT_NE(dry.find("point 5: {\"router.vcs\":2,\"noc.rate\":0.3}"), std::string::npos) << dry;
  EXPECT_NE(dry.find("'noc' '--chip' 'DIR/points/0005/chip.json' '--traffic' 'uniform' '--rate' '0.3'"), std::string::npos)
      << dry;
  EXPECT_FALSE(fs::exists(d / "out"));
  ASSERT_EQ(run({binary(), "sweep", f.string(), "-j", "2", "-o", (d / "out").string()}, (d / "log").string()), 0)
      << slurp(d / "log");
  const json sw = json::parse(slurp(d / "out/sweep.json"));
  ASSERT_EQ(sw["points"].size(), 6u);
  for (int vcs = 0; vcs < 2; ++vcs) {
    double last_lat = 0;
    for (int r = 0; r < 3; ++r) {
      const json& p = sw["points"][size_t(vcs * 3 + r)];
      ASSERT_EQ(p["status"], "ok") << p.dump();
      const json& m = p["metrics"];
      const double lat = m["latency_avg_cycles"].get<double>(), acc = m["accepted_flits_per_node_cycle"].get<double>();
      EXPECT_GT(lat, last_lat) << p.dump();  // latency grows with the load
      EXPECT_LE(acc, m["offered_flits_per_node_cycle"].get<double>() * 1.05 + 1e-9) << p.dump();
      EXPECT_GT(acc, 0.0);
      last_lat = lat;
    }
  }
  // The same point alone with spikechip noc gives the same figures.
  ASSERT_EQ(run({binary(), "noc", "--chip", (d / "out/points/0001/chip.json").string(), "--traffic", "uniform", "--rate",
                 "0.1", "--packet-size", "4", "--warmup", "300", "--measure", "1500", "-o", (d / "one.json").string()},
                (d / "log2").string()),
            0);
  const json one = json::parse(slurp(d / "one.json"));
  EXPECT_EQ(one["latency_cycles"]["average"], sw["points"][1]["metrics"]["latency_avg_cycles"]);
  const std::string html = slurp(d / "out/sweep.html");
  EXPECT_NE(html.find("latency_avg_cycles"), std::string::npos);
}

