// libFuzzer target: PNG and JPEG decoding (models/image_file, libpng / libjpeg behind it) and the
// image to model-input steps (channel conversion, the official resize + centre crop). The file
// kind is chosen by its magic, as a user's file would be read.
#include "fuzz/fuzz_util.hpp"
#include "models/image_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace spikechip;
  const std::vector<uint8_t> bytes(data, data + size);
  const bool png = size >= 4 && data[0] == 0x89 && data[1] == 'P' && data[2] == 'N' && data[3] == 'G';
  fuzz::expect_clean([&] {
    const model::Image im = png ? model::decode_png(bytes, "x.png") : model::decode_jpeg(bytes, "x.jpg");
    const model::Shape input{(size & 1) ? 3 : 1, 24, 20};
    (void)model::image_to_input(im, input, model::ImageTransform::Auto, "x");
  });
  return 0;
}
