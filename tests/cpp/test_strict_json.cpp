// Issue 18: the one strict JSON reader (depth limit, number range, bounded excerpts) and every JSON
// reader built on it: each bad input is one spikechip::Error naming the file and the JSON path,
// never a stack overflow, a nlohmann exception or an unbounded line.
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "arch/chip_config.hpp"
#include "arch/energy.hpp"
#include "explore/sweep.hpp"
#include "mapper/mapper.hpp"
#include "models/graph_io.hpp"
#include "models/safetensors.hpp"
#include "base/strict_json.hpp"
#include "spikechip/source_dir.hpp"
#include "chip_test_util.hpp"
#include "tiny_graph.hpp"
#include "traces/events.hpp"

namespace spikechip {
namespace {

using testing::expect_error;
using testing::fresh_dir;
using testing::slurp;
using testing::spit;

const std::string kSrc = SPIKECHIP_SOURCE_DIR;

std::string nested(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

std::string message_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// One line, bounded: at most `max` characters and no raw control bytes.
void expect_short_line(const std::string& msg, size_t max = 400) {
  EXPECT_LE(msg.size(), max) << msg.substr(0, 600);
  for (char ch : msg) EXPECT_FALSE(static_cast<unsigned char>(ch) < 0x20) << "raw control byte in: " << msg.substr(0, 600);
}

TEST(StrictJson, DepthLimit) {
  EXPECT_NO_THROW(parse_json_text(nested(kMaxJsonDepth), "f.json", "test"));
  expect_error([] { parse_json_text(nested(kMaxJsonDepth + 1), "f.json", "test"); },
               {"f.json: /0/0/0", "nested deeper than 128"});
  // The issue's crash: 100,000 levels (nlohmann's DOM and its destructor recurse on that).
  const std::string msg = message_of([] { parse_json_text("{\"d\": " + nested(100000) + "}", "f.json", "test"); });
  EXPECT_NE(msg.find("f.json: /d/0/0"), std::string::npos) << msg;
  expect_short_line(msg);
  expect_error([] { parse_ordered_json_text(nested(100000), "o.json", "test"); }, {"o.json", "nested deeper"});
}

TEST(StrictJson, NumberOutOfDoubleRangeNamesThePath) {
  expect_error([] { parse_json_text(R"({"a": [1, {"clock_hz": 1e999}]})", "f.json", "test"); },
               {"f.json: /a/1/clock_hz: number 1e999 is out of the range of a double"});
  expect_error([] { parse_json_text("[0, -1e400]", "f.json", "test"); }, {"f.json: /1: number -1e400"});
  // Integers beyond 64 bits are read as doubles (in range): not an error of the reader.
  EXPECT_TRUE(parse_json_text("123456789012345678901234567890", "f", "t").is_number_float());
}

TEST(StrictJson, SyntaxErrorsQuoteAShortExcerpt) {
  const std::string msg =
      message_of([] { parse_json_text("{\"a\": \"" + std::string(300000, 'x') + "\r\"}", "f.json", "test"); });
  EXPECT_NE(msg.find("f.json: not valid JSON (test): "), std::string::npos) << msg.substr(0, 300);
  expect_short_line(msg);
}

TEST(StrictJson, ExcerptEscapesAndCuts) {
  EXPECT_EQ(excerpt("plain"), "plain");
  EXPECT_EQ(excerpt("a\rb\nc\x1b"), "a\\rb\\nc\\x1b");
  EXPECT_EQ(excerpt("caf\xc3\xa9 \xff"), "caf\xc3\xa9 \\xff");  // valid UTF-8 kept, a stray byte escaped
  EXPECT_EQ(excerpt(std::string(200, 'z')), std::string(kExcerptChars, 'z') + "...");
  EXPECT_EQ(describe_json(nlohmann::json(std::vector<int>(100000, 1))).size(), std::string("array ").size() + 43);
}

TEST(StrictJson, TypeErrorsQuoteBoundedValues) {
  nlohmann::json j = {{"name", std::vector<int>(100000, 1)}};
  const std::string msg = message_of([&] { arch::chip_config_from_json(j, "c.json"); });
  EXPECT_NE(msg.find("c.json: /name: must be a string, got array [1,1,1"), std::string::npos) << msg.substr(0, 300);
  expect_short_line(msg);
  const std::string key(100000, 'k');
  const std::string unknown = message_of([&] { arch::chip_config_from_json({{"name", "x"}, {key, 1}}, "c.json"); });
  EXPECT_NE(unknown.find("unknown key"), std::string::npos) << unknown.substr(0, 300);
  expect_short_line(unknown);
}

// Defect 1 for each JSON reader: the deeply nested value is an error naming the file and key.
TEST(StrictJson, EveryReaderRejectsDeepNesting) {
  const std::string d = fresh_dir("deep"), deep = nested(100000);
  spit(d + "/chip.json", R"({"name": "x", "description": )" + deep + "}");
  expect_error([&] { arch::load_chip_config(d + "/chip.json"); }, {d + "/chip.json: /description/0/0", "nested deeper"});
  spit(d + "/table.json", R"({"node": "45nm", "description": )" + deep + "}");
  expect_error([&] { arch::load_energy_table(d + "/table.json"); }, {d + "/table.json: /description/0", "nested deeper"});
  spit(d + "/mapping.json", R"({"mapping_version": 2, "options": {"seed": )" + deep + "}}");
  expect_error([&] { mapper::load_mapping(d + "/mapping.json"); }, {d + "/mapping.json: /options/seed/0", "nested deeper"});
  spit(d + "/sweep.json", R"({"job": "map", "grid": {"mesh.width": )" + deep + "}}");
  expect_error([&] { explore::load_sweep(d + "/sweep.json"); }, {d + "/sweep.json: /grid/mesh.width/0", "nested deeper"});
  spit(d + "/rates.json", R"({"lif": )" + deep + "}");
  expect_error([&] { mapper::read_rates_file(testing::tiny_graph(), d + "/rates.json"); }, {"/lif/0", "nested deeper"});
  const std::string model = d + "/model";
  model::save_model(testing::tiny_graph(), model);
  spit(model + "/graph.json", R"({"format_version": 1, "nodes": [{"name": "in", "attrs": )" + deep + "}]}");
  expect_error([&] { model::load_model(model); }, {model + "/graph.json: /nodes/0/attrs/0", "nested deeper"});
  const std::string st = "{\"t\": " + deep + "}";
  std::string bytes;
  for (int i = 0; i < 8; ++i) bytes.push_back(char(st.size() >> (8 * i)));
  bytes += st;
  const std::vector<uint8_t> file(bytes.begin(), bytes.end());
  expect_error([&] { model::parse_safetensors(file, "w.safetensors"); }, {"w.safetensors: /t/0", "nested deeper"});
}

// Defect 3: type and range errors that reached "internal error" through nlohmann's exceptions.
TEST(StrictJson, EnergyTableDescriptionMustBeAString) {
  nlohmann::json t = nlohmann::json::parse(slurp(kSrc + "/arch/energy/45nm.json"));
  t["description"] = 3;
  expect_error([&] { arch::energy_table_from_json(t, "t.json"); }, {"t.json: /description: must be a string, got number 3"});
  t = nlohmann::json::parse(slurp(kSrc + "/arch/energy/45nm.json"));
  t["entries"]["add_16bit"]["value"] = "0.03";
  expect_error([&] { arch::energy_table_from_json(t, "t.json"); }, {"t.json: /entries/add_16bit/value: must be a number"});
  t = nlohmann::json::parse(slurp(kSrc + "/arch/energy/45nm.json"));
  t["entries"]["add_16bit"]["tag"] = nullptr;
  expect_error([&] { arch::energy_table_from_json(t, "t.json"); }, {"t.json: /entries/add_16bit/tag: must be a string"});
}

TEST(StrictJson, MappingOptionsAreTypedAndInRange) {
  const mapper::Mapping m = mapper::map_model(testing::tiny_graph(), testing::chip_preset("tiny"), mapper::MapOptions{});
  const nlohmann::json good = mapper::mapping_to_json(m);
  EXPECT_NO_THROW(mapper::mapping_from_json(good, "m.json"));
  auto with = [&](const char* key, const nlohmann::json& v) {
    nlohmann::json j = good;
    j["options"][key] = v;
    return j;
  };
  expect_error([&] { mapper::mapping_from_json(with("chips_x", {1}), "m.json"); },
               {"m.json: /options/chips_x: must be an integer, got array [1]"});
  expect_error([&] { mapper::mapping_from_json(with("chips_x", 4294967297ull), "m.json"); },
               {"m.json: /options/chips_x: 4294967297 is out of range 1..64"});
  expect_error([&] { mapper::mapping_from_json(with("chips_y", 2), "m.json"); }, {"m.json: /options/chips_y", "mesh"});
  expect_error([&] { mapper::mapping_from_json(with("unicast", "no"), "m.json"); }, {"m.json: /options/unicast"});
  expect_error([&] { mapper::mapping_from_json(with("colour", 1), "m.json"); }, {"m.json: /options/colour: unknown key"});
}

// A path longer than NAME_MAX is a file that is not there, not a filesystem exception.
TEST(StrictJson, OverlongPathsAreNotFound) {
  const std::string d = fresh_dir("long"), long_name(10000, 'a');
  nlohmann::json chip = nlohmann::json::parse(slurp(kSrc + "/arch/presets/tiny.json"));
  chip["tech"]["energy_table"] = long_name;
  spit(d + "/chip.json", chip.dump());
  const std::string msg = message_of([&] { arch::load_chip_config(d + "/chip.json"); });
  EXPECT_NE(msg.find(d + "/chip.json: /tech/energy_table: file 'aaaa"), std::string::npos) << msg.substr(0, 300);
  EXPECT_NE(msg.find("not found"), std::string::npos) << msg.substr(0, 300);
  expect_short_line(msg, 1000);
  spit(d + "/sweep.json", R"({"job": "map", "model": ")" + long_name + R"(", "chip": "arch/presets/tiny.json"})");
  const std::string sw = message_of([&] { explore::load_sweep(d + "/sweep.json"); });
  EXPECT_NE(sw.find(d + "/sweep.json: /model: model directory 'aaaa"), std::string::npos) << sw.substr(0, 300);
  expect_short_line(sw, 1000);
}

// Defect 6: a CSV event trace's bad line is quoted short and escaped (no raw \r).
TEST(StrictJson, CsvTraceErrorsAreEscapedExcerpts) {
  const std::string d = fresh_dir("csv");
  spit(d + "/t.csv", "x,y,t_us,p\r\n1,2,3,\rzz" + std::string(5000, '9') + "\r\n");
  const std::string msg = message_of([&] { traces::read_events(d + "/t.csv"); });
  EXPECT_NE(msg.find(d + "/t.csv:"), std::string::npos) << msg.substr(0, 300);
  expect_short_line(msg);
}

}  // namespace
}  // namespace spikechip
