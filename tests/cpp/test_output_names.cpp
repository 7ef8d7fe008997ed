// Output names at the file system's limits (session 38), through the real binary
// (SPIKECHIP_BINARY). An output's temporary was its name plus ".tmp.PID", so a name that fits the
// 255 bytes a name may have (a long generated sweep label, say) could not be written: exit 4,
// "File name too long; check ... free space". A name or path too long for the system was found
// only when the outputs were written, after the whole run. And a name whose bytes are not UTF-8
// (a Latin-1 directory) made several commands end in "internal error" (nlohmann's dump()).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "base/file_util.hpp"
#include "base/json_text.hpp"
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
using testing::run_to;

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
    while (p.size() < 4200) p.append(1, '/').append(200, 'p');
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

TEST(OutputNames, JsonTextWritesBytesThatAreNotUtf8AsReplacementCharacters) {
  EXPECT_EQ(json_text(nlohmann::json{{"path", "m\xff/x"}}), "{\"path\":\"m\xef\xbf\xbd/x\"}");
  EXPECT_EQ(json_text(nlohmann::ordered_json{{"b", 1}, {"a", "\xfe"}}, 1), "{\n \"b\": 1,\n \"a\": \"\xef\xbf\xbd\"\n}");
}

// Every command whose output records a path, with paths that are not UTF-8: each exits 0 and
// writes JSON that parses (the bytes as U+FFFD). Before: "internal error: [json.exception.type_error.316]".
TEST(OutputNames, APathThatIsNotUtf8IsAPathAllTheSame) {
  const std::string d = fresh_dir("latin1"), m = d + "/m\xe9od\xe8le";
  fs::copy(kModel, m, fs::copy_options::recursive);
  const std::string in = q(m + "/sample.npy"), r = d + "/r\xe9sultat";
  ASSERT_EQ(testing::run_spikechip("run --model " + q(m) + " --chip " + q(kChip) + " --input " + in + " --quiet -o " + q(r)).code, 0);
  // A sweep file in such a directory: its relative paths resolve to paths that are not UTF-8.
  const std::string sd = d + "/\xe9tude", spec = sd + "/spec.json";
  fs::create_directories(sd);
  fs::copy(kModel, sd + "/model", fs::copy_options::recursive);
  {
    std::ofstream f(spec);
    f << "{\"name\": \"lanes\", \"job\": \"run\", \"model\": \"model\", \"inputs\": \"model/sample.npy\", \"chip\": "
      << json_text(nlohmann::json(kChip)) << ", \"grid\": {\"core.adder_lanes\": [8, 16]}}\n";
  }
  struct Case {
    std::string args, out;
  };
  const Case cases[] = {
      {"infer --model " + q(m) + " --input " + in + " -o " + q(d + "/inf\xe9.json"), d + "/inf\xe9.json"},
      {"model info " + q(m) + " --json", ""},
      {"compare " + q(r) + " " + q(r) + " -o " + q(d + "/cmp\xe9"), d + "/cmp\xe9/compare.json"},
      {"sweep " + q(spec) + " -o " + q(d + "/sw\xe9"), d + "/sw\xe9/sweep.json"},
      {"sweep " + q(spec) + " -o " + q(d + "/sw\xe9"), d + "/sw\xe9/sweep.json"},  // resumed from its store
  };
  for (const Case& k : cases) {
    CmdResult c = testing::run_spikechip(k.args);
    EXPECT_EQ(c.code, 0) << k.args << "\n" << c.err.substr(0, 400);
    EXPECT_EQ(c.err.find("internal error"), std::string::npos) << c.err.substr(0, 400);
    const std::string text = k.out.empty() ? c.out : testing::slurp(k.out);
    EXPECT_TRUE(nlohmann::json::accept(text)) << k.args;
    EXPECT_NE(text.find("\xef\xbf\xbd"), std::string::npos) << k.args;  // the path, with U+FFFD
  }
}

}  // namespace
}  // namespace spikechip
