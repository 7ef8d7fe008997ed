// libFuzzer target: a mapping JSON file as `spikechip run --mapping FILE` loads it (mapper/mapping_io).
#include "fuzz/fuzz_util.hpp"
#include "mapper/mapper.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace spikechip;
  const std::string p = fuzz::write_scratch("mapping.json", data, size);
  fuzz::expect_clean([&] { (void)mapper::mapping_to_json(mapper::load_mapping(p)); });
  return 0;
}
