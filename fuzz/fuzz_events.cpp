// libFuzzer target: DVS event traces (traces/events, docs/traces.md). The first byte picks the
// format (.evt, .csv or .npy [N,4]); the rest is the file.
#include "fuzz/fuzz_util.hpp"
#include "traces/events.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace spikechip;
  if (size < 1) return -1;
  static const char* const kNames[] = {"t.evt", "t.csv", "t.npy"};
  const std::string p = fuzz::write_scratch(kNames[data[0] % 3], data + 1, size - 1);
  fuzz::expect_clean([&] {
    const traces::EventTrace tr = traces::read_events(p, 34, 34);
    (void)traces::bin_events(tr, 2);
  });
  return 0;
}
