// libFuzzer target: a chip configuration JSON file (arch/chip_config, docs/chip-config.md),
// loaded as `spikechip run --chip FILE` does, including the energy table it names.
#include "arch/chip_config.hpp"
#include "fuzz/fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace spikechip;
  const std::string p = fuzz::write_scratch("chip.json", data, size);
  fuzz::expect_clean([&] {
    const arch::ChipConfig c = arch::load_chip_config(p);
    (void)arch::resolve_energy_table(c);
    (void)arch::chip_config_to_json(c);
  });
  return 0;
}
