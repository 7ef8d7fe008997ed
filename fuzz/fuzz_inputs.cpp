// libFuzzer target: model::read_inputs, the reader behind `infer`, `run` and `eval --input` for a
// user's input file or directory: the dispatch on the extension, the .npz member choice
// ("file.npz:name", one array, one array and "labels"), the array layouts of an image and an events
// model, sidecar labels (.npy + .json), labels files, PGM/PPM, PNG/JPEG through the evaluation
// transform, and event traces binned into T frames.
// Input: byte 0 picks the file kind (low 3 bits: .npy .npz .png .jpg .pgm .ppm .evt .csv), the model
// (bit 3: the events model, else the image model) and whether the directory is read instead of the
// file (bit 4); byte 1 picks the .npz member named (none, images, labels, frames, x); then parts
// (fuzz_util split_parts): the file, then a labels file (written as labels.txt and as the .npy
// sidecar .json).
#include <filesystem>

#include "fuzz/fuzz_util.hpp"
#include "models/inputs.hpp"

namespace {

spikechip::model::Graph input_graph(bool events) {
  using namespace spikechip::model;
  Graph g;
  Node in;
  in.name = "input";
  in.op = Op::Input;
  in.shape = {events ? 2 : 1, 28, 28};
  in.encoding = events ? "events" : "image";
  in.zero_point = events ? std::vector<int32_t>{0, 0} : std::vector<int32_t>{128};
  if (!events) in.quant = {{"scale", {0.0171}}};
  g.nodes.push_back(in);
  g.timesteps = events ? 2 : 1;
  if (!events) g.provenance = {{"normalize", {{"mean", {0.2860}}, {"std", {0.3530}}}}};
  return g;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace spikechip;
  namespace fs = std::filesystem;
  static const model::Graph image = input_graph(false), events = input_graph(true);
  static const char* const kExt[8] = {".npy", ".npz", ".png", ".jpg", ".pgm", ".ppm", ".evt", ".csv"};
  static const char* const kMember[5] = {"", ":images", ":labels", ":frames", ":x"};
  if (size < 2) return 0;
  const uint8_t kind = data[0], member = data[1];
  const auto parts = fuzz::split_parts(data + 2, size - 2);
  const fs::path dir = fuzz::scratch_dir() / "in";
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir);
  const std::string ext = kExt[kind & 7];
  const std::string file =
      fuzz::write_scratch("in/x" + ext, reinterpret_cast<const uint8_t*>(parts[0].data()), parts[0].size());
  model::InputOptions opt;
  if (parts.size() > 1) {
    const auto* l = reinterpret_cast<const uint8_t*>(parts[1].data());
    fuzz::write_scratch("in/labels.txt", l, parts[1].size());
    fuzz::write_scratch("in/x.json", l, parts[1].size());
  }
  const std::string path = (kind & 16) ? dir.string() : ext == ".npz" ? file + kMember[member % 5] : file;
  fuzz::expect_clean([&] { (void)model::read_inputs(path, (kind & 8) ? events : image, opt); });
  return 0;
}
