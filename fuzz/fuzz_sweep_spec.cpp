// libFuzzer target: a sweep specification JSON file (`spikechip sweep SPEC`, explore/sweep_spec).
#include "explore/sweep.hpp"
#include "fuzz/fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace spikechip;
  const std::string p = fuzz::write_scratch("sweep.json", data, size);
  fuzz::expect_clean([&] { (void)explore::load_sweep(p); });
  return 0;
}
