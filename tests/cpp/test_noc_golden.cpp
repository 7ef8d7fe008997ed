// Regression lock on the network's cycle-level behaviour: every case in
// tests/data/noc_golden/cases.txt is run through the real CLI (`spikechip noc ... -o`) and its
// statistics JSON must equal, byte for byte, the file the pre-optimisation implementation wrote
// (tests/data/noc_golden/README.md names the commit). Any change in routing, arbitration, credit
// or event order shows up in latencies, stall counts or per-link flit counts.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "tiny_graph.hpp"
#include "spikechip/source_dir.hpp"

namespace fs = std::filesystem;

namespace {

const std::string kDir = std::string(SPIKECHIP_SOURCE_DIR) + "/tests/data/noc_golden";

struct Case {
  std::string name, args;
};
// How gtest names a case in its messages (without it, the struct's raw bytes, some of them never
// written: valgrind's memcheck reports those reads).
void PrintTo(const Case& c, std::ostream* os) { *os << c.name << ":" << c.args; }

std::vector<Case> load_cases() {
  std::vector<Case> out;
  std::ifstream f(kDir + "/cases.txt");
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream is(line);
    Case c;
    is >> c.name;
    std::getline(is, c.args);
    out.push_back(c);
  }
  return out;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}


class NocGolden : public ::testing::TestWithParam<Case> {};

TEST_P(NocGolden, StatsJsonByteIdentical) {
  const Case& c = GetParam();
  const std::string expect = slurp(kDir + "/" + c.name + ".out.json");
  ASSERT_FALSE(expect.empty()) << "missing golden " << c.name << ".out.json";
  const fs::path out = fs::temp_directory_path() / ("noc_golden_" + c.name + "_" + std::to_string(getpid()) + ".json");
  // Chip files in cases.txt are relative to the repository root.
  const std::string cmd = "cd '" + std::string(SPIKECHIP_SOURCE_DIR) + "' && '" + spikechip::testing::spikechip_binary() + "' noc" + c.args +
                          " -o '" + out.string() + "' > /dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const std::string got = slurp(out.string());
  fs::remove(out);
  EXPECT_TRUE(got == expect) << c.name << ": statistics differ from the golden file (" << got.size() << " vs "
                             << expect.size() << " bytes); the network's cycle-level behaviour changed.\n  " << cmd;
}

INSTANTIATE_TEST_SUITE_P(Cases, NocGolden, ::testing::ValuesIn(load_cases()),
                         [](const ::testing::TestParamInfo<Case>& i) { return i.param.name; });

}  // namespace
