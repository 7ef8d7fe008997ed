#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "arch/chip_config.hpp"
#include "sim/error.hpp"
#include "sim/strict_json.hpp"

using namespace spikechip;
namespace fs = std::filesystem;

namespace {
std::string error_of(const nlohmann::json& j) {
  try {
    arch::chip_config_from_json(j, "x.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
nlohmann::json preset(const std::string& name) {
  return read_json_file(std::string(SPIKECHIP_SOURCE_DIR) + "/arch/presets/" + name + ".json", "chip");
}
}  // namespace

TEST(ChipConfig, PresetsParseAndRoundTrip) {
  for (const char* name : {"tiny", "meta15m", "meta55m"}) {
    arch::ChipConfig c = arch::chip_config_from_json(preset(name), name);
    EXPECT_EQ(c.name, name);
    EXPECT_FALSE(c.description.empty());
    nlohmann::json j = arch::chip_config_to_json(c);
    arch::ChipConfig c2 = arch::chip_config_from_json(j, "again");
    EXPECT_EQ(arch::chip_config_to_json(c2), j);
  }
  EXPECT_EQ(arch::chip_config_from_json(preset("meta55m"), "m").num_cores(), 1024);
}

TEST(ChipConfig, DefaultsWhenOptionalKeysAbsent) {
  arch::ChipConfig c = arch::chip_config_from_json({{"name", "n"}}, "x.json");
  EXPECT_EQ(c.mesh.width, 4);
  EXPECT_EQ(c.router.vcs, 2);
  EXPECT_EQ(c.core.membrane_sram_bytes, 65536);
}

TEST(ChipConfig, ErrorsNameFileAndPath) {
  nlohmann::json j = {{"name", "n"}, {"router", {{"vcs", 0}}}};
  EXPECT_EQ(error_of(j), "x.json: /router/vcs: 0 is out of range 1..16");
  EXPECT_NE(error_of({{"name", "n"}, {"core", {{"adder_lanez", 3}}}}).find("x.json: /core/adder_lanez: unknown key"),
            std::string::npos);
  EXPECT_NE(error_of({{"name", "n"}, {"mesh", {{"width", "8"}}}}).find("/mesh/width: must be an integer"),
            std::string::npos);
  EXPECT_NE(error_of({{"name", "n"}, {"router", {{"routing", "zigzag"}}}}).find("/router/routing: 'zigzag' is not one of"),
            std::string::npos);
  EXPECT_NE(error_of({{"name", "n"}, {"clock_hz", -5}}).find("/clock_hz: -5"), std::string::npos);
  EXPECT_NE(error_of({{"mesh", {{"width", 2}}}}).find("x.json: /: missing key 'name'"), std::string::npos);
  EXPECT_NE(error_of({{"name", "n"}, {"router", {{"multicast", 1}}}}).find("must be true or false"), std::string::npos);
  EXPECT_NE(error_of({{"name", "n"}, {"core", {{"weight_sram_bytes", 131072}, {"weight_banks", 3}}}}).find("/core/weight_banks"),
            std::string::npos);
}

TEST(ChipConfig, MissingEnergyTableReported) {
  fs::path dir = fs::temp_directory_path() / "spikechip_chip_cfg_test";
  fs::create_directories(dir);
  fs::path f = dir / "c.json";
  std::ofstream(f) << R"({"name": "c", "tech": {"energy_table": "nowhere/none.json"}})";
  try {
    arch::load_chip_config(f.string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find(f.string() + ": /tech/energy_table: file 'nowhere/none.json' not found"), std::string::npos) << m;
  }
  // A table next to the chip file is found relative to the chip file's directory.
  fs::create_directories(dir / "nowhere");
  std::ofstream(dir / "nowhere" / "none.json") << "{}";
  EXPECT_EQ(arch::load_chip_config(f.string()).name, "c");
  fs::remove_all(dir);
}

TEST(ChipConfig, BadJsonSyntaxNamesFile) {
  fs::path f = fs::temp_directory_path() / "spikechip_bad_chip.json";
  std::ofstream(f) << "{\"name\": ";
  EXPECT_THROW(arch::load_chip_config(f.string()), Error);
  fs::remove(f);
}

// Host interface keys of the chip config (docs/chip-config.md): strict validation and defaults.
TEST(HostConfig, DefaultsAndRoundTrip) {
  arch::ChipConfig c = arch::chip_config_from_json({{"name", "n"}}, "x.json");
  EXPECT_EQ(c.host.ports, 1);
  EXPECT_EQ(c.host.bits_per_cycle, 64);
  c = arch::chip_config_from_json({{"name", "n"}, {"host", {{"ports", 3}, {"bits_per_cycle", 16}}}}, "x.json");
  EXPECT_EQ(c.host.ports, 3);
  EXPECT_EQ(c.host.bits_per_cycle, 16);
  EXPECT_EQ(arch::chip_config_to_json(c)["host"], nlohmann::json({{"ports", 3}, {"bits_per_cycle", 16}}));
}

TEST(HostConfig, BadValuesNameTheKey) {
  EXPECT_NE(error_of({{"name", "n"}, {"host", {{"port", 2}}}}).find("/host/port: unknown key"), std::string::npos);
  EXPECT_NE(error_of({{"name", "n"}, {"host", {{"ports", 0}}}}).find("/host/ports"), std::string::npos);
  EXPECT_NE(error_of({{"name", "n"}, {"host", {{"bits_per_cycle", 0}}}}).find("/host/bits_per_cycle"), std::string::npos);
  // The default mesh is 4 rows high: one port per west-edge row at most.
  const std::string e = error_of({{"name", "n"}, {"host", {{"ports", 5}}}});
  EXPECT_NE(e.find("/host/ports: 5 ports do not fit the 4 rows"), std::string::npos) << e;
}
