#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

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

// ---- configs as people name them (docs/chip-config.md, "Naming a chip") ----------------------

namespace {
std::string load_error(const std::string& chip, const std::vector<std::string>& sets = {}) {
  try {
    arch::load_chip_config(chip, sets);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}
fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("spikechip_cfg_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}
}  // namespace

TEST(ChipConfigNames, PresetByNameEqualsTheFile) {
  const std::string file = std::string(SPIKECHIP_SOURCE_DIR) + "/arch/presets/tiny.json";
  EXPECT_EQ(arch::chip_config_to_json(arch::load_chip_config("tiny")), arch::chip_config_to_json(arch::load_chip_config(file)));
  EXPECT_EQ(arch::find_chip_file("meta15m"), std::string(SPIKECHIP_SOURCE_DIR) + "/arch/presets/meta15m.json");
  const std::string e = load_error("tinyy");
  EXPECT_NE(e.find("tinyy: no such chip config file or preset (presets: "), std::string::npos) << e;
  EXPECT_NE(e.find("meta15m, meta55m, tiny)"), std::string::npos) << e;
}

TEST(ChipConfigNames, SetOverridesAreValidatedLikeTheFile) {
  const arch::ChipConfig c = arch::load_chip_config("tiny", {"core.adder_lanes=32", "router.routing=yx", "clock_hz=1e8"});
  EXPECT_EQ(c.core.adder_lanes, 32);
  EXPECT_EQ(c.router.routing, "yx");
  EXPECT_EQ(c.clock_hz, 1e8);
  EXPECT_EQ(c.mesh.width, 8);  // the rest is the preset's
  // The same messages as the file's, naming the key; a bad --set is a usage error.
  EXPECT_EQ(load_error("tiny", {"core.adder_lanes=0"}), "--set core.adder_lanes=0: /core/adder_lanes: 0 is out of range 1..4096");
  EXPECT_THROW(arch::load_chip_config("tiny", {"core.adder_lanes=0"}), UsageError);
  EXPECT_NE(load_error("tiny", {"router.routing=zigzag"}).find("/router/routing: 'zigzag' is not one of: xy, yx, west_first"),
            std::string::npos);
  EXPECT_NE(load_error("tiny", {"core.weight_word_bits=12"}).find("/core/weight_word_bits: 12 is not a multiple of 8"),
            std::string::npos);
  EXPECT_NE(load_error("tiny", {"mesh.width=eight"}).find("/mesh/width: must be an integer"), std::string::npos);
  const std::string unknown = load_error("tiny", {"core.adder_lane=3"});
  EXPECT_NE(unknown.find("unknown key 'core.adder_lane' (did you mean core.adder_lanes"), std::string::npos) << unknown;
  EXPECT_NE(load_error("tiny", {"core.adder_lanes"}).find("expected KEY=VALUE"), std::string::npos);
  // Cross-key rules see the overrides and name the file and them.
  const std::string q = load_error("tiny", {"core.input_queue_depth=500"});
  EXPECT_NE(q.find("tiny.json with --set core.input_queue_depth=500: /core/queue_sram_bytes:"), std::string::npos) << q;
}

TEST(ChipConfigNames, BaseIsMergedAndOverridden) {
  const fs::path d = temp_dir("base");
  std::ofstream(d / "big.json") << R"({"base": "tiny", "name": "tiny-32", "core": {"adder_lanes": 32}})";
  const arch::ChipConfig c = arch::load_chip_config((d / "big.json").string());
  const arch::ChipConfig tiny = arch::load_chip_config("tiny");
  EXPECT_EQ(c.name, "tiny-32");
  EXPECT_EQ(c.core.adder_lanes, 32);
  EXPECT_EQ(c.core.membrane_sram_bytes, tiny.core.membrane_sram_bytes);  // the section is merged key by key
  EXPECT_EQ(c.mesh.width, tiny.mesh.width);
  // The preset's table (../energy/45nm.json relative to the preset) is still found.
  EXPECT_EQ(arch::resolve_energy_table(c), arch::resolve_energy_table(tiny));
  // A base of a base, relative to the file; a cycle is an error naming the key.
  std::ofstream(d / "bigger.json") << R"({"base": "big.json", "mesh": {"width": 10}})";
  const arch::ChipConfig c2 = arch::load_chip_config((d / "bigger.json").string());
  EXPECT_EQ(c2.core.adder_lanes, 32);
  EXPECT_EQ(c2.mesh.width, 10);
  std::ofstream(d / "a.json") << R"({"base": "b.json", "name": "a"})";
  std::ofstream(d / "b.json") << R"({"base": "a.json", "name": "b"})";
  EXPECT_NE(load_error((d / "a.json").string()).find("/base: 'a.json' leads back to a file already being read"), std::string::npos);
  std::ofstream(d / "bad.json") << R"({"base": "nothere", "name": "x"})";
  EXPECT_NE(load_error((d / "bad.json").string()).find("/base: 'nothere' is neither a preset"), std::string::npos);
  // An error in the file's own keys names the file.
  std::ofstream(d / "badkey.json") << R"({"base": "tiny", "core": {"adder_lanes": 0}})";
  EXPECT_EQ(load_error((d / "badkey.json").string()), (d / "badkey.json").string() + ": /core/adder_lanes: 0 is out of range 1..4096");
  fs::remove_all(d);
}

TEST(ChipConfigNames, EnergyTablesByNameAndFromACopiedPreset) {
  const fs::path d = temp_dir("tables");
  const std::string t45 = fs::weakly_canonical(std::string(SPIKECHIP_SOURCE_DIR) + "/arch/energy/45nm.json").string();
  const std::string t28 = fs::weakly_canonical(std::string(SPIKECHIP_SOURCE_DIR) + "/arch/energy/28nm.json").string();
  // A preset copied elsewhere: its "../energy/45nm.json" does not exist there.
  fs::copy_file(std::string(SPIKECHIP_SOURCE_DIR) + "/arch/presets/tiny.json", d / "tiny.json");
  EXPECT_EQ(arch::resolve_energy_table(arch::load_chip_config((d / "tiny.json").string())), t45);
  // By name, in a file or with --set.
  std::ofstream(d / "n.json") << R"({"name": "n", "tech": {"node": "28nm", "energy_table": "28nm"}})";
  EXPECT_EQ(arch::resolve_energy_table(arch::load_chip_config((d / "n.json").string())), t28);
  EXPECT_EQ(arch::resolve_energy_table(arch::load_chip_config("tiny", {"tech.energy_table=28nm"})), t28);
  EXPECT_EQ(arch::find_energy_table("22nm"), fs::weakly_canonical(std::string(SPIKECHIP_SOURCE_DIR) + "/arch/energy/22nm.json").string());
  EXPECT_NE(load_error("tiny", {"tech.energy_table=7nm"}).find("name a shipped table (22nm, 28nm, 45nm)"), std::string::npos);
  fs::remove_all(d);
}

// One declaration per key: the table lists every key chip_config_to_json writes, its defaults are
// those of a default ChipConfig, and docs/chip-config.md embeds exactly the generated table.
TEST(ChipConfigNames, KeyTableDrivesReaderWriterAndDocs) {
  const arch::ChipConfig d;
  nlohmann::json written = arch::chip_config_to_json(d);
  const auto keys = arch::chip_config_keys();
  size_t leaves = 0;
  for (const auto& k : keys) {
    std::string ptr = "/" + k.path;
    for (auto& ch : ptr) ch = ch == '.' ? '/' : ch;
    EXPECT_FALSE(k.meaning.empty()) << k.path;
    if (k.written_if_set) {  // keys added after outputs were fixed: absent at their default
      EXPECT_FALSE(written.contains(nlohmann::json::json_pointer(ptr))) << k.path;
      if (k.path == "core.weight_bits" || k.path == "core.membrane_bits") {  // and written once set
        nlohmann::json set = arch::chip_config_to_json(arch::load_chip_config("tiny", {k.path + "=" + (k.path == "core.weight_bits" ? "4" : "16")}));
        EXPECT_TRUE(set.contains(nlohmann::json::json_pointer(ptr))) << k.path;
      }
      continue;
    }
    ASSERT_TRUE(written.contains(nlohmann::json::json_pointer(ptr))) << k.path;
    if (!k.default_value.is_null()) {  // (braces: EXPECT_EQ expands to an if/else)
      EXPECT_EQ(written[nlohmann::json::json_pointer(ptr)], k.default_value) << k.path;
    }
    ++leaves;
  }
  size_t n = 0;
  for (auto& [sec, v] : written.items()) n += v.is_object() ? v.size() : 1;
  EXPECT_EQ(n, leaves);
  std::ifstream f(std::string(SPIKECHIP_SOURCE_DIR) + "/docs/chip-config.md");
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string doc = ss.str(), b = "<!-- BEGIN config describe", e = "<!-- END config describe -->";
  const size_t i = doc.find(b), j = doc.find(e);
  ASSERT_NE(i, std::string::npos);
  ASSERT_NE(j, std::string::npos);
  const size_t start = doc.find('\n', i) + 1;
  EXPECT_EQ(doc.substr(start, j - start), arch::chip_config_keys_markdown())
      << "regenerate the block with: spikechip config describe --format markdown";
}
