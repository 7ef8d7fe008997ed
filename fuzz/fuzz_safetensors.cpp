// libFuzzer target: a .safetensors file (header JSON, offsets, dtypes; models/safetensors).
#include "fuzz/fuzz_util.hpp"
#include "models/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace spikechip;
  const std::string p = fuzz::write_scratch("w.safetensors", data, size);
  fuzz::expect_clean([&] { (void)model::serialize_safetensors(model::read_safetensors(p)); });
  return 0;
}
