#pragma once
// Small hand-built models and helpers shared by the foundation tests.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "models/graph.hpp"
#include "base/error.hpp"
#include "base/npy.hpp"
#include "spikechip/source_dir.hpp"

namespace spikechip::testing {

using model::Graph;
using model::Node;
using model::Op;

// input[1,8,8] -> conv1 3x3 s2 p1 (4ch) -> lif1 -> conv2 1x1 -> sdsa(lif1,lif1,lif1) heads 2
// -> add(conv1, conv2, sdsa) -> mean -> lif2 -> head Linear 4->3 -> output. Every op appears.
inline Graph tiny_graph() {
  Graph g;
  g.name = "tiny";
  g.timesteps = 2;
  g.num_classes = 3;
  g.provenance = {{"source", "hand-built test graph"}};
  auto add = [&](Node n, std::vector<int> inputs) {
    n.inputs = std::move(inputs);
    g.nodes.push_back(std::move(n));
    return int(g.nodes.size()) - 1;
  };
  Node in;
  in.name = "input";
  in.op = Op::Input;
  in.shape = {1, 8, 8};
  in.zero_point = {128};
  in.quant = {{"scale", {0.0171}}};
  const int i0 = add(in, {});
  Node c1;
  c1.name = "conv1";
  c1.op = Op::Conv2d;
  c1.shape = {4, 4, 4};
  c1.kh = c1.kw = 3;
  c1.sy = c1.sx = 2;
  c1.py = c1.px = 1;
  for (int k = 0; k < 4 * 9; ++k) c1.weight.push_back(int8_t((k * 37) % 255 - 127));
  c1.bias = {1, -2, 3, -4};
  c1.shift = {0, 1, 2, 24};
  c1.source = "conv1 + bn1";
  const int i1 = add(c1, {i0});
  Node l1;
  l1.name = "lif1";
  l1.op = Op::LIF;
  l1.shape = {4, 4, 4};
  l1.threshold = {10, 20, 30, 40};
  const int i2 = add(l1, {i1});
  Node c2;
  c2.name = "conv2";
  c2.op = Op::Conv2d;
  c2.shape = {4, 4, 4};
  c2.weight = {1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 6, -6, 7, -7, 8, -8};
  c2.bias = {0, 0, 0, 0};
  c2.shift = {3, 3, 3, 3};
  const int i3 = add(c2, {i2});
  Node sd;
  sd.name = "sdsa";
  sd.op = Op::SDSA;
  sd.shape = {4, 4, 4};
  sd.heads = 2;
  sd.sdsa_shift = 1;
  const int i4 = add(sd, {i2, i2, i2});
  Node ad;
  ad.name = "add";
  ad.op = Op::Add;
  ad.shape = {4, 4, 4};
  const int i5 = add(ad, {i1, i3, i4});
  Node mn;
  mn.name = "mean";
  mn.op = Op::Mean;
  mn.shape = {4, 1, 1};
  mn.count = 16;
  const int i6 = add(mn, {i5});
  Node l2;
  l2.name = "lif2";
  l2.op = Op::LIF;
  l2.shape = {4, 1, 1};
  l2.threshold = {160, 160, 160, 160};
  const int i7 = add(l2, {i6});
  Node hd;
  hd.name = "head";
  hd.op = Op::Linear;
  hd.shape = {3, 1, 1};
  hd.weight = {1, 2, 3, 4, -1, -2, -3, -4, 127, -128, 0, 5};
  hd.bias = {7, 8, 9};
  hd.shift = {0, 0, 0};
  const int i8 = add(hd, {i7});
  Node out;
  out.name = "output";
  out.op = Op::Output;
  out.shape = {3, 1, 1};
  out.quant = {{"scale", 0.125}};
  add(out, {i8});
  return g;
}

// Directories made by fresh_dir, removed when the test process exits (one test per process under
// ctest), so /tmp does not fill up across runs.
struct TempDirs {
  std::vector<std::filesystem::path> dirs;
  ~TempDirs() {
    std::error_code ec;
    for (const auto& d : dirs) std::filesystem::remove_all(d, ec);
  }
};
inline TempDirs& temp_dirs() {
  static TempDirs t;
  return t;
}

// A fresh empty directory under the gtest temp dir, named after the running test.
inline std::string fresh_dir(const std::string& tag) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::filesystem::path p = std::filesystem::path(::testing::TempDir()) /
                            ("spikechip_" + std::to_string(::getpid()) + "_" + info->test_suite_name() + "_" +
                             info->name() + "_" + tag);
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  temp_dirs().dirs.push_back(p);
  return p.string();
}

inline std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
inline void spit(const std::string& path, const std::string& s) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << s;
}

// The spikechip binary under test: $SPIKECHIP_BINARY (ctest sets it), else the one CMake built
// beside the tests (build/tests/test_x -> build/spikechip). Found at run time rather than compiled
// in, so that the tests compile the same in every checkout (compiler caches stay warm).
inline std::string spikechip_binary() {
  const char* env = std::getenv("SPIKECHIP_BINARY");
  if (env && *env) return env;
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (self.parent_path().parent_path() / "spikechip").string();
}

// The command-line tests' inputs: the shipped model, the default chip, a path quoted for the
// shell, and a binary PGM (P5) image of w x h with a deterministic pattern written into `dir`.
inline const std::string kSrc = SPIKECHIP_SOURCE_DIR;
inline const std::string kModel = kSrc + "/models/fmnist";
inline const std::string kChip = kSrc + "/arch/presets/tiny.json";
inline std::string q(const std::string& s) { return "'" + s + "'"; }
// `spikechip map` of the shipped model onto the default chip, written to `out`: a quick command
// with one output file (the tests of output paths and modes).
inline std::string map_to(const std::string& out) {
  return "map --model " + q(kModel) + " --chip " + q(kChip) + " -o " + q(out);
}
// `spikechip run` of the shipped model and its sample inputs, quiet, into the run directory `dir`.
inline std::string run_to(const std::string& dir) {
  return "run --model " + q(kModel) + " --chip " + q(kChip) + " --input " + q(kSrc + "/models/fmnist/sample.npy") +
         " --quiet -o " + q(dir);
}
inline std::string write_pgm(const std::string& dir, int w = 28, int h = 28) {
  std::string s = "P5\n" + std::to_string(w) + " " + std::to_string(h) + "\n255\n";
  for (int i = 0; i < w * h; ++i) s.push_back(char((i * 37 + 11) % 256));
  const std::string p = dir + "/img_" + std::to_string(w) + "x" + std::to_string(h) + ".pgm";
  spit(p, s);
  return p;
}

struct CmdResult {
  int code;  // exit code, -1 if the process did not exit normally
  std::string out, err;
};
// Runs the binary with `args` (quoted by the caller) through the shell; stdout and stderr apart.
inline CmdResult run_spikechip(const std::string& args) {
  const std::string dir = fresh_dir("cmd"), bin = spikechip_binary();
  const std::string cmd = "'" + bin + "' " + args + " >'" + dir + "/out' 2>'" + dir + "/err'";
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(dir + "/out"), slurp(dir + "/err")};
}

// dir/inputs.npy: 1,024 Fashion-MNIST-shaped inputs with a deterministic pattern, ~2-3 s of
// simulation on the tiny chip (long enough to act on a run or a sweep point while it runs).
inline std::string write_1024_inputs(const std::string& dir) {
  NpyArray batch{"|u1", {1024, 1, 28, 28}, {}};
  for (int i = 0; i < 1024 * 28 * 28; ++i) batch.bytes.push_back(uint8_t((i * 37 + 11) % 256));
  write_npy(dir + "/inputs.npy", batch);
  return dir + "/inputs.npy";
}

// The first point process of a running `spikechip sweep` (its child), once it has exec'd
// `spikechip run` (until then it is a copy of the sweep, signal handlers included); 0 if none came
// within `timeout_ms`.
inline pid_t wait_for_run_point(pid_t sweep, int timeout_ms = 60000) {
  pid_t point = 0;
  for (int waited = 0; waited < timeout_ms; waited += 5) {
    if (point == 0) {
      std::ifstream children("/proc/" + std::to_string(sweep) + "/task/" + std::to_string(sweep) + "/children");
      children >> point;
    }
    if (point != 0 && slurp("/proc/" + std::to_string(point) + "/cmdline").find(std::string("\0run\0", 5)) != std::string::npos)
      return point;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return 0;
}

// Runs fn, expects spikechip::Error whose message contains every one of `parts`.
inline void expect_error(const std::function<void()>& fn, std::initializer_list<std::string> parts) {
  try {
    fn();
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "message: " << msg << "\nmissing: " << p;
    return;
  }
  ADD_FAILURE() << "expected spikechip::Error";
}

}  // namespace spikechip::testing
