// libFuzzer target: an energy table JSON file (arch/energy, docs/energy.md).
#include "arch/energy.hpp"
#include "fuzz/fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace spikechip;
  const std::string p = fuzz::write_scratch("energy.json", data, size);
  fuzz::expect_clean([&] { (void)arch::energy_table_to_json(arch::load_energy_table(p)); });
  return 0;
}
