#pragma once
// Input samples for a model: images (.png/.jpg through the official evaluation transform,
// .npy/.npz u8 or normalised float, binary .pgm/.ppm), event tensors and traces (.npy, .npz, .evt,
// .csv; docs/traces.md), labels from a file, and the Fashion-MNIST IDX test set.
#include <cstdint>
#include <string>
#include <vector>

#include "models/graph.hpp"
#include "models/image_file.hpp"

namespace spikechip::model {

// The largest class index a label may give (labels files, .npy sidecars, .npz "labels", Python's
// labels=): one bound, so a corrupt label is refused instead of becoming an index far off the end.
inline constexpr int64_t kMaxLabel = 1000000;

struct InputItem {
  std::vector<uint8_t> data;  // u8, [frames][C][H][W] in C order
  int frames = 1;             // 1 for an image (seen at every timestep); T for events
  Shape shape;                // C, H, W of one frame
  int label = -1;             // -1 when unknown
  std::string origin;         // "path" or "path[i]" for batches, used in reports and errors
};

struct InputOptions {
  ImageTransform transform = ImageTransform::Auto;  // for .png/.jpg/.jpeg
  std::string labels;  // labels file ("<file name> <class>" per line); "" = DIR/labels.txt if present
};

// Reads one file (or every supported file of a directory, in name order) as inputs of `g`'s
// Input node, checking channels/size against it (error says expected vs got):
//   image model:  .npy/.npz u8 [C,H,W], [H,W] (C = 1), [B,C,H,W] (also [B,H,W] when C = 1), or the
//                 same shapes as normalised float32/64 (input_arrays.hpp); .png/.jpg/.jpeg (any
//                 size: image_file.hpp); .pgm/.ppm (exact size)
//   events model: .npy/.npz u8 [T,2,H,W] or [B,T,2,H,W] (T = g.timesteps); traces .evt/.csv/.npy
//                 int64 [N,4], binned into T frames (docs/traces.md)
// An .npz member is named as "file.npz:name" (just "file.npz" when it holds one array, or one
// array and "labels"); an integer array "labels" beside it labels a batch.
std::vector<InputItem> read_inputs(const std::string& path, const Graph& g, const InputOptions& opt = {});

// A labels file: one "<file name> <class index>" per line (whitespace or a comma between), blank
// lines and lines starting with '#' ignored. Errors name the file and line.
std::vector<std::pair<std::string, int>> read_labels_file(const std::string& path);

// How a uint8 array of `shape` (C order) holds inputs of `g` by the .npy rules above: `items`
// inputs of `frames` frames each, `batch` when the first axis counts them (origins get "[i]").
// Throws spikechip::Error "<origin>: input shape ... does not fit ..." otherwise.
struct ArrayLayout {
  int64_t items = 1;
  int frames = 1;
  bool batch = false;
};
ArrayLayout input_array_layout(const std::vector<int64_t>& shape, const Graph& g, const std::string& origin);

// Binary PGM (P5, C = 1) / PPM (P6, C = 3, stored as C,H,W), maxval <= 255.
InputItem read_pnm(const std::string& path);

// Fashion-MNIST IDX files (gzip-compressed idx3 images / idx1 labels). limit <= 0 reads all.
// Images are 1x28x28; with a larger `target` (C = 1) they are centre-padded with zeros
// (e.g. 32x32: 2 pixels on every side), as the PyTorch exporter does.
std::vector<InputItem> read_idx_dataset(const std::string& images_gz, const std::string& labels_gz, int limit,
                                        const Shape& target = Shape{1, 28, 28});
// The Debian dataset (package dataset-fashion-mnist) under /usr/share/datasets/fashion-mnist, or
// $SPIKECHIP_FMNIST_DIR: the 10k test images t10k-*.
std::string fashion_mnist_dir();
std::vector<InputItem> fashion_mnist_test_set(int limit, const Shape& target = Shape{1, 28, 28});

// Centre-pads an image item (frames = 1) with zeros to `target` (same C, larger or equal H, W).
void pad_to(InputItem& item, const Shape& target);

}  // namespace spikechip::model
