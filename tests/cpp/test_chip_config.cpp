#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "arch/chip_config.hpp"
#include "base/error.hpp"
#include "base/strict_json.hpp"
#include "spikechip/source_dir.hpp"

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
  EXPECT_NE(error_of({{"mesh", {{"width", 2}}}}).find("x.json: /name: missing (required key)"), std::string::npos);
  EXPECT_NE(error_of({{"name", "n"}, {"router", {{"multicast", 1}}}}).find("must be true or false"), std::string::npos);
  EXPECT_NE(error_of({{"name", "n"}, {"core", {{"weight_sram_bytes", 131072}, {"weight_banks", 3}}}}).find("/core/weight_banks"),
            std::string::npos);
}

TEST(ChipConfig, ZeroSizeMeshRejected) {
  EXPECT_EQ(error_of({{"name", "n"}, {"mesh", {{"width", 0}, {"height", 4}}}}), "x.json: /mesh/width: 0 is out of range 1..256");
  EXPECT_EQ(error_of({{"name", "n"}, {"mesh", {{"height", 0}}}}), "x.json: /mesh/height: 0 is out of range 1..256");
  EXPECT_NE(error_of({{"name", "n"}, {"chips", {{"chips_x", 0}}}}).find("/chips/chips_x: 0 is out of range"), std::string::npos);
}

// The input and output queues live in the queue SRAM, one whole packet (header + 8 payload flits)
// per entry: the defaults need (64 + 64) x 9 x 8 B = 9216 B of the 16384.
TEST(ChipConfig, QueuesMustFitTheQueueSram) {
  const arch::ChipConfig d = arch::chip_config_from_json({{"name", "n"}}, "x.json");
  EXPECT_EQ(arch::queue_entry_bytes(d), 72);
  EXPECT_EQ(arch::queue_sram_needed(d), 9216);
  EXPECT_EQ(d.core.queue_sram_bytes, 16384);
  // Exactly full is fine; one byte short is not.
  EXPECT_EQ(error_of({{"name", "n"}, {"core", {{"queue_sram_bytes", 9216}}}}), "");
  EXPECT_EQ(error_of({{"name", "n"}, {"core", {{"queue_sram_bytes", 9215}}}}),
            "x.json: /core/queue_sram_bytes: 9215 bytes cannot hold the queues: input_queue_depth 64 + "
            "output_queue_depth 64 packets of up to 9 flits x 64 bits (72 B each) need 9216 bytes; raise "
            "core.queue_sram_bytes or lower the queue depths");
  // Deeper queues, or wider flits, outgrow the default SRAM; the error names the key even when
  // the file leaves it at its default.
  const std::string deep = error_of({{"name", "n"}, {"core", {{"input_queue_depth", 200}}}});
  EXPECT_NE(deep.find("x.json: /core/queue_sram_bytes: 16384 bytes cannot hold the queues: input_queue_depth 200"),
            std::string::npos) << deep;
  EXPECT_NE(deep.find("need 19008 bytes"), std::string::npos) << deep;
  const std::string wide = error_of({{"name", "n"}, {"router", {{"flit_bits", 256}}}});
  EXPECT_NE(wide.find("9 flits x 256 bits (288 B each) need 36864 bytes"), std::string::npos) << wide;
  EXPECT_EQ(error_of({{"name", "n"}, {"router", {{"flit_bits", 256}}}, {"core", {{"queue_sram_bytes", 36864}}}}), "");
  EXPECT_NE(error_of({{"name", "n"}, {"core", {{"queue_sram_bytes", 0}}}}).find("/core/queue_sram_bytes: 0 is out of range"),
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
