// End-to-end through the spikechip binary: model build -> infer (report, spike dump) -> eval.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "models/graph_io.hpp"
#include "models/inputs.hpp"
#include "models/safetensors.hpp"
#include "tiny_graph.hpp"

namespace fs = std::filesystem;
using namespace spikechip::model;

namespace {
struct Out {
  int code;
  std::string text;
};
Out sh(const std::string& args) {
  const std::string cmd = spikechip::testing::q(spikechip::testing::spikechip_binary()) + " " + args + " 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> f(popen(cmd.c_str(), "r"), pclose);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f.get())) > 0) out.append(buf, n);
  const int st = pclose(f.release());
  return {WEXITSTATUS(st), out};
}
std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}
fs::path tmpdir() {
  fs::path d = fs::temp_directory_path() / ("spikechip-golden-cli-" + std::to_string(getpid()));
  fs::create_directories(d);
  return d;
}
}  // namespace

TEST(GoldenCli, BuildInferDumpAndDeterministicReport) {
  const fs::path d = tmpdir();
  Out b = sh("model build --dims 8,16,16,24 --blocks 1,1 --input 32 --channels 1 --classes 10 -T 2 --seed 3 -o " +
             (d / "m").string());
  ASSERT_EQ(b.code, 0) << b.text;
  {  // a 32x32 grey PGM
    std::ofstream f(d / "x.pgm", std::ios::binary);
    f << "P5\n32 32\n255\n";
    for (int i = 0; i < 32 * 32; ++i) f.put(char((i * 37) % 256));
  }
  const std::string args = "infer --model " + (d / "m").string() + " --input " + (d / "x.pgm").string();
  Out r1 = sh(args + " -o " + (d / "r1.json").string() + " --dump-spikes " + (d / "s.safetensors").string());
  ASSERT_EQ(r1.code, 0) << r1.text;
  EXPECT_NE(r1.text.find("prediction"), std::string::npos);
  Out r2 = sh(args + " --threads 1 -o " + (d / "r2.json").string());
  ASSERT_EQ(r2.code, 0) << r2.text;
  EXPECT_EQ(slurp(d / "r1.json"), slurp(d / "r2.json"));  // identical bytes, 2 vs 1 threads
  const auto j = nlohmann::json::parse(slurp(d / "r1.json"));
  EXPECT_EQ(j["run"]["timesteps"], 2);
  const Graph g = load_model((d / "m").string());
  const SafeTensors st = read_safetensors((d / "s.safetensors").string());
  int lifs = 0;
  for (const Node& n : g.nodes)
    if (n.op == Op::LIF) {
      ++lifs;
      ASSERT_TRUE(st.tensors.count(n.name)) << n.name;
      EXPECT_EQ(st.tensors.at(n.name).dtype, DType::U8);
      EXPECT_EQ(st.tensors.at(n.name).shape, (std::vector<int64_t>{2, n.shape.c, n.shape.h, n.shape.w}));
    }
  EXPECT_EQ(int(st.tensors.size()), lifs);
  // A wrong-size input is rejected with a message, exit 1, and no report written.
  {
    std::ofstream f(d / "bad.pgm", std::ios::binary);
    f << "P5\n8 8\n255\n" << std::string(64, '\1');
  }
  Out bad = sh("infer --model " + (d / "m").string() + " --input " + (d / "bad.pgm").string() + " -o " +
               (d / "bad.json").string());
  EXPECT_EQ(bad.code, 1) << bad.text;
  EXPECT_FALSE(fs::exists(d / "bad.json"));
  Out usage = sh("model build --variant 7M -o " + (d / "x").string());
  EXPECT_EQ(usage.code, 2) << usage.text;
  fs::remove_all(d);
}

TEST(GoldenCli, EvalFashionMnist) {
  try {
    fashion_mnist_test_set(1);
  } catch (const std::exception& e) {
    GTEST_SKIP() << "Fashion-MNIST not available: " << e.what();
  }
  const fs::path d = tmpdir();
  ASSERT_EQ(sh("model build --dims 8,16,16,24 --blocks 1,1 --input 28 --channels 1 --classes 10 -o " +
               (d / "m").string()).code, 0);
  Out e = sh("eval --model " + (d / "m").string() + " --dataset fashion-mnist --limit 40 -o " + (d / "e.json").string());
  ASSERT_EQ(e.code, 0) << e.text;
  EXPECT_NE(e.text.find("top-1 accuracy"), std::string::npos) << e.text;
  const auto j = nlohmann::json::parse(slurp(d / "e.json"));
  EXPECT_EQ(j["eval"]["count"], 40);
  EXPECT_EQ(j["inputs"].size(), 40u);
  fs::remove_all(d);
}
