// libFuzzer target: a NumPy .npy file (base/npy), as read for --input batches.
#include "fuzz/fuzz_util.hpp"
#include "base/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace spikechip;
  const std::string p = fuzz::write_scratch("x.npy", data, size);
  fuzz::expect_clean([&] { (void)spikechip::serialize_npy(spikechip::read_npy(p)); });
  return 0;
}
