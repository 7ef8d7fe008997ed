// libFuzzer target: a model directory (graph.json + weights.safetensors, docs/model-format.md)
// loaded as every command loads --model. Input: graph.json, the 4-byte part marker, the weights.
#include <filesystem>

#include "fuzz/fuzz_util.hpp"
#include "models/graph_io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace spikechip;
  const auto parts = fuzz::split_parts(data, size);
  if (parts.size() != 2) return -1;  // not a model input: not added to the corpus
  std::filesystem::create_directories(fuzz::scratch_dir() / "model");
  fuzz::write_scratch("model/graph.json", reinterpret_cast<const uint8_t*>(parts[0].data()), parts[0].size());
  fuzz::write_scratch("model/weights.safetensors", reinterpret_cast<const uint8_t*>(parts[1].data()), parts[1].size());
  fuzz::expect_clean([&] {
    const model::Graph g = model::load_model((fuzz::scratch_dir() / "model").string());
    (void)model::graph_to_json_text(g);
  });
  return 0;
}
