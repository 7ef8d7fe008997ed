// The real spikechip binary: --version, --help, usage errors (exit 2), runtime errors (exit 1,
// one line), and `model info` text/JSON on a hand-built model.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <sys/wait.h>

#include "models/graph_io.hpp"
#include "spikechip/version.hpp"
#include "tiny_graph.hpp"

using spikechip::testing::CmdResult;
using spikechip::testing::fresh_dir;

namespace {

int lines(const std::string& s) { return int(std::count(s.begin(), s.end(), '\n')); }

}  // namespace

TEST(Cli, Version) {
  const CmdResult r = spikechip::testing::run_spikechip("--version");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, std::string("spikechip ") + spikechip::kVersion + "\n");
}

TEST(Cli, Help) {
  const CmdResult r = spikechip::testing::run_spikechip("--help");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("model"), std::string::npos) << r.out;
  EXPECT_EQ(spikechip::testing::run_spikechip("model info --help").code, 0);
}

TEST(Cli, UnknownSubcommandIsUsageError) {
  const CmdResult r = spikechip::testing::run_spikechip("frobnicate");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown subcommand 'frobnicate'"), std::string::npos) << r.err;
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_EQ(spikechip::testing::run_spikechip("model info").code, 2);  // missing DIR
  EXPECT_EQ(spikechip::testing::run_spikechip("model info --bogus x").code, 2);
}

TEST(Cli, ModelInfoMissingDirIsOneLineRuntimeError) {
  const CmdResult r = spikechip::testing::run_spikechip("model info /nonexistent/spikechip-model");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("/nonexistent/spikechip-model: model directory not found"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST(Cli, ModelInfoTextAndJson) {
  const std::string dir = fresh_dir("model");
  spikechip::model::save_model(spikechip::testing::tiny_graph(), dir);
  const CmdResult t = spikechip::testing::run_spikechip("model info '" + dir + "'");
  EXPECT_EQ(t.code, 0) << t.err;
  EXPECT_NE(t.out.find("sdsa"), std::string::npos) << t.out;
  const CmdResult j = spikechip::testing::run_spikechip("model info --json '" + dir + "'");
  ASSERT_EQ(j.code, 0) << j.err;
  const auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc["nodes"].size(), 10u);
  EXPECT_EQ(doc["nodes"][1]["name"], "conv1");
  EXPECT_EQ(doc["nodes"][1]["dense_ops"], 576);
  // 576 (conv1) + 3*... conv2 1x1 4->4 on 4x4 = 256, head 12.
  EXPECT_EQ(doc["totals"]["dense_ops"], 576 + 256 + 12);
  EXPECT_EQ(doc["totals"]["dense_ops_per_inference"], 2 * (576 + 256 + 12));
  EXPECT_EQ(doc["timesteps"], 2);
}

TEST(Cli, ModelInfoOnBrokenModelNamesNodeAndKey) {
  const std::string dir = fresh_dir("broken");
  spikechip::model::save_model(spikechip::testing::tiny_graph(), dir);
  auto g = nlohmann::json::parse(spikechip::testing::slurp(dir + "/graph.json"));
  g["nodes"][4]["attrs"]["heads"] = 3;
  spikechip::testing::spit(dir + "/graph.json", g.dump());
  const CmdResult r = spikechip::testing::run_spikechip("model info '" + dir + "'");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("node 'sdsa': attrs.heads: 3 does not divide 4 channels"), std::string::npos) << r.err;
}
