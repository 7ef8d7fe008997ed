#pragma once
// PNG and JPEG images as model inputs (docs/model-format.md "Images"): decoding with libpng /
// libjpeg, the channel conversion of PIL's Image.convert ("L" / "RGB") and the official
// Meta-SpikeFormer evaluation transform (PIL bicubic resize of the shorter side to
// int(S / 0.875), centre crop S), written to give the same bytes as PIL + torchvision.
#include <cstdint>
#include <string>
#include <vector>

#include "models/graph.hpp"

namespace spikechip::model {

// u8 samples, interleaved H x W x C (C = 1 grey or 3 RGB; alpha dropped), as PIL's "L" / "RGB".
struct Image {
  int w = 0, h = 0, c = 0;
  std::vector<uint8_t> pix;
};

// Largest image accepted (pixels): bigger files are refused before any allocation. The fuzz build
// lowers it (fuzz/CMakeLists.txt), as the image-library fuzzers do, so that a few hundred bytes
// declaring a huge picture do not take seconds under the sanitizers.
#ifndef SPIKECHIP_MAX_IMAGE_PIXELS
#define SPIKECHIP_MAX_IMAGE_PIXELS (int64_t(1) << 26)  // 67 M pixels (8192 x 8192)
#endif
inline constexpr int64_t kMaxImagePixels = SPIKECHIP_MAX_IMAGE_PIXELS;

// Decode a whole file's bytes. Throw spikechip::Error "<origin>: ..." on a bad or truncated file.
Image decode_png(const std::vector<uint8_t>& bytes, const std::string& origin);
Image decode_jpeg(const std::vector<uint8_t>& bytes, const std::string& origin);
// By extension (.png, .jpg, .jpeg, any case).
Image read_image_file(const std::string& path);

// PIL Image.convert to "L" (c = 1: L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16) or "RGB"
// (c = 3: grey replicated).
Image convert_channels(const Image& im, int c);
// PIL Image.resize(..., Image.BICUBIC) of an 8-bit image (Pillow's two-pass fixed-point
// resampler, 22 fraction bits; horizontal pass first).
Image resize_bicubic(const Image& im, int w, int h);
// torchvision CenterCrop: top = round((h - ch) / 2), left = round((w - cw) / 2), halves to even.
Image center_crop(const Image& im, int w, int h);

enum class ImageTransform {
  Auto,      // an image of the model's size is taken as it is; any other size gets Eval
  Eval,      // always the official evaluation transform
  None,      // no resampling: the image must have the model's size
};
ImageTransform image_transform_from_name(const std::string& name);  // auto | eval | none (UsageError)

// The official evaluation transform for a model input H x W: the shorter side resized to
// int(max(H, W) / crop_pct) (crop_pct = 224/256 when max(H, W) <= 224, else 1; the longer side
// int(new_short * long / short)), then the centre H x W crop.
Image eval_transform(const Image& im, int h, int w);

// Image -> the model's Input (C planes, H x W), by `t`; the error names `origin`.
std::vector<uint8_t> image_to_input(const Image& im, const Shape& input, ImageTransform t, const std::string& origin);

}  // namespace spikechip::model
