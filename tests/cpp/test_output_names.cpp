// Output names at the file system's limits (session 38), through the real binary
// (SPIKECHIP_BINARY). An output's temporary was its name plus ".tmp.PID", so a name that fits the
// 255 bytes a name may have (a long generated sweep label, say) could not be written: exit 4,
// "File name too long; check ... free space". A name or path too long for the system was found
// only when the outputs were written, after the whole run.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "base/file_util.hpp"
#include "tiny_graph.hpp"

namespace spikechip {
namespace {

namespace fs = std::filesystem;
using testing::CmdResult;
using testing::fresh_dir;
using testing::kChip;
using testing::kModel;
using testing::map_to;
using testing::q;

std::string run_to(const std::string& dir) {
  return "run --model " + q(kModel) + " --chip " + q(kChip) + " --input " + q(testing::kSrc + "/models/fmnist/sample.npy") +
         " --quiet -o " + q(dir);
}

// The names in `dir`, hidden ones too.
std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  return names;
}

TEST(OutputNames, TheTemporaryOfALongNameFitsAndIsItsOwn) {
  const std::string a(255, 'a'), b = std::string(254, 'a') + "b";
  for (const std::string& name : {a, b, std::string("m.json")}) {
    const fs::path t = temp_path_beside("d/" + name);
    EXPECT_EQ(t.parent_path(), fs::path("d"));
    EXPECT_LE(t.filename().string().size(), 255u) << t;
    EXPECT_EQ(t.filename().string()[0], '.') << t;
  }
  EXPECT_NE(temp_path_beside(a), temp_path_beside(b));  // the hash tells names of one prefix apart
  EXPECT_EQ(fs::path(temp_path_beside("d/m.json")).filename().string().rfind(".m.json.tmp-", 0), 0u);
}

// A file named with all 255 bytes is written, and re-written; nothing else is left beside it.
TEST(OutputNames, ANameOfTheFullLengthIsWritten) {
  const std::string d = fresh_dir("full");
  const std::string m = d + "/" + std::string(250, 'm') + ".json";
  for (int i = 0; i < 2; ++i) {
    CmdResult c = testing::run_spikechip(map_to(m));
    ASSERT_EQ(c.code, 0) << c.err;
  }
  EXPECT_GT(fs::file_size(m), 1000u);
  EXPECT_EQ(names_in(d), std::vector<std::string>{fs::path(m).filename().string()});
  const std::string r = d + "/" + std::string(255, 'r');
  CmdResult c = testing::run_spikechip(run_to(r) + " --trace-json " + q(r + "/" + std::string(250, 't') + ".json"));
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_TRUE(fs::exists(r + "/report.json"));
}

// A name over the limit, or a path over PATH_MAX, is refused before the run (exit 1, naming the
// length), and nothing is made.
TEST(OutputNames, ANameTooLongIsRefusedBeforeTheWork) {
  const std::string d = fresh_dir("long");
  struct Case {
    std::string args, says;
  };
  const std::string deep = [&] {
    std::string p = d;
    while (p.size() < 4200) p += "/" + std::string(200, 'p');
    return p;
  }();
  const Case cases[] = {
      {run_to(d + "/" + std::string(256, 'r')), "in it is 256 bytes long"},
      {run_to(d + "/" + std::string(300, 'r') + "/sub"), "is 300 bytes long"},
      {map_to(d + "/" + std::string(252, 'm') + ".json"), "in it is 257 bytes long"},
      {map_to(d + "/new/" + std::string(260, 'm')), "is 260 bytes long"},
      {run_to(d + "/ok") + " --trace-json " + q(d + "/" + std::string(256, 't')), "is 256 bytes long"},
      {run_to(deep), "the path is"},
  };
  for (const Case& k : cases) {
    CmdResult c = testing::run_spikechip(k.args);
    EXPECT_EQ(c.code, 1) << k.args.substr(0, 200) << "\n" << c.err.substr(0, 400);
    EXPECT_NE(c.err.find(k.says), std::string::npos) << c.err.substr(0, 400);
    EXPECT_NE(c.err.find("choose a shorter"), std::string::npos) << c.err.substr(0, 400);
    EXPECT_EQ(c.err.find("free space"), std::string::npos) << c.err.substr(0, 400);
  }
  EXPECT_TRUE(names_in(d).empty());
}

}  // namespace
}  // namespace spikechip
