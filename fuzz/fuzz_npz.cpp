// libFuzzer target: .npz archives (models/npz: zip directory, deflate, CRC, the .npy members), the
// float-to-u8 conversion of array inputs (models/input_arrays) and a labels file
// (read_labels_file). Parts (fuzz_util split_parts): the archive, then the labels file.
#include "fuzz/fuzz_util.hpp"
#include "models/input_arrays.hpp"
#include "models/inputs.hpp"
#include "models/npz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace spikechip;
  static const model::Graph g = [] {
    model::Graph g;
    model::Node in;
    in.name = "input";
    in.op = model::Op::Input;
    in.shape = {1, 4, 4};
    in.zero_point = {128};
    in.quant = {{"scale", {0.0171}}};
    g.nodes.push_back(in);
    g.provenance = {{"normalize", {{"mean", {0.5}}, {"std", {0.25}}}}};
    return g;
  }();
  const auto parts = fuzz::split_parts(data, size);
  const std::vector<uint8_t> archive(parts[0].begin(), parts[0].end());
  fuzz::expect_clean([&] {
    const auto names = model::npz_names(archive, "x.npz");
    for (size_t i = 0; i < names.size() && i < 4; ++i)
      fuzz::expect_clean([&] { (void)model::array_as_u8(model::npz_array(archive, names[i], "x.npz"), g, "x.npz"); });
  });
  if (parts.size() > 1) {
    const std::string p = fuzz::write_scratch("labels.txt", reinterpret_cast<const uint8_t*>(parts[1].data()), parts[1].size());
    fuzz::expect_clean([&] { (void)model::read_labels_file(p); });
  }
  return 0;
}
