// Host interface keys of the chip config (docs/chip-config.md): strict validation and defaults.
#include <gtest/gtest.h>

#include "arch/chip_config.hpp"
#include "sim/error.hpp"

using namespace spikechip;

namespace {
std::string error_of(const nlohmann::json& j) {
  try {
    arch::chip_config_from_json(j, "x.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

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
