// The core-model registry (arch/core/core_registry.hpp): `core.type` selects a model by name, the
// default is the event-driven core, and the name table drives the config check and the docs.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "arch/chip_config.hpp"
#include "arch/core/core_registry.hpp"
#include "base/error.hpp"
#include "spikechip/source_dir.hpp"

namespace spikechip::arch {
namespace {

TEST(CoreModels, DefaultIsTheEventDrivenCore) {
  ASSERT_FALSE(core_models().empty());
  EXPECT_STREQ(core_models().front()->name, "event");
  EXPECT_EQ(CoreConfig{}.type, "event");
  EXPECT_EQ(chip_config_from_json({{"name", "n"}}, "x.json").core.type, "event");
}

TEST(CoreModels, EveryNameMakesItsModelAndRoundTrips) {
  for (const CoreModelInfo* p : core_models()) {
    const CoreModelInfo& m = *p;
    ASSERT_EQ(find_core_model(m.name), &m);
    ChipConfig c = chip_config_from_json({{"name", "n"}, {"core", {{"type", m.name}}}}, "x.json");
    EXPECT_EQ(c.core.type, m.name);
    EXPECT_EQ(chip_config_from_json(chip_config_to_json(c), "again").core.type, m.name);
    auto core = make_core_model(3, c.core);
    ASSERT_NE(core, nullptr);
    EXPECT_EQ(core->id(), 3);
  }
  EXPECT_EQ(find_core_model("no-such-core"), nullptr);
}

TEST(CoreModels, UnknownTypeNamesTheKeyAndListsTheModels) {
  try {
    chip_config_from_json({{"name", "n"}, {"core", {{"type", "systolic"}}}}, "x.json");
    FAIL() << "accepted an unknown core type";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("x.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find("/core/type"), std::string::npos) << msg;
    EXPECT_NE(msg.find("systolic"), std::string::npos) << msg;
    for (const std::string& name : core_model_names()) EXPECT_NE(msg.find(name), std::string::npos) << msg;
  }
  CoreConfig c;
  c.type = "systolic";
  EXPECT_THROW(make_core_model(0, c), Error);
}

TEST(CoreModels, DocsListEveryModel) {
  std::ifstream f(std::string(SPIKECHIP_SOURCE_DIR) + "/docs/chip-config.md");
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string doc = ss.str();
  const size_t row = doc.find("| `core.type`");
  ASSERT_NE(row, std::string::npos);
  const std::string line = doc.substr(row, doc.find('\n', row) - row);
  for (const std::string& name : core_model_names()) EXPECT_NE(line.find("`" + name + "`"), std::string::npos) << line;
}

}  // namespace
}  // namespace spikechip::arch
