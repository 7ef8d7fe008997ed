// PNG / JPEG decoding (libpng, libjpeg) and the PIL-exact conversions of models/image_file.hpp.
// Both C libraries report errors through longjmp: the functions that call setjmp hold only plain
// data (the image vector lives in the caller), so no C++ destructor is jumped over.
#include "models/image_file.hpp"

#include <algorithm>
#include <csetjmp>
#include <cmath>
#include <cstdio>
#include <cstring>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include "base/error.hpp"
#include "base/file_util.hpp"

namespace spikechip::model {

namespace {

std::string size_text(int64_t w, int64_t h) { return std::to_string(w) + "x" + std::to_string(h); }

void check_size(int64_t w, int64_t h, const std::string& origin) {
  if (w < 1 || h < 1) throw Error(origin + ": image size " + size_text(w, h) + " is empty");
  if (w * h > kMaxImagePixels)
    throw Error(origin + ": image is " + size_text(w, h) + " pixels, above the limit of " +
                std::to_string(kMaxImagePixels) + " pixels: scale it down first");
}

// ----------------------------------------------------------------------------------- PNG
struct PngSource {
  const uint8_t* data;
  size_t size, pos;
  char msg[200];
};

void png_read_bytes(png_structp png, png_bytep out, png_size_t n) {
  auto* s = static_cast<PngSource*>(png_get_io_ptr(png));
  if (s->size - s->pos < n) png_error(png, "truncated file (the image data ends early)");
  std::memcpy(out, s->data + s->pos, n);
  s->pos += n;
}
void png_on_error(png_structp png, png_const_charp msg) {
  auto* s = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(s->msg, sizeof s->msg, "%s", msg);
  png_longjmp(png, 1);
}
void png_on_warning(png_structp, png_const_charp) {}

// Header pass + decode into `im` (sized here). False with src->msg set on any libpng error.
bool png_decode(PngSource* src, Image* im, std::vector<png_bytep>* rows, bool* too_large) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, src, png_on_error, png_on_warning);
  if (!png) {
    std::snprintf(src->msg, sizeof src->msg, "out of memory");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    std::snprintf(src->msg, sizeof src->msg, "out of memory");
    return false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  png_set_read_fn(png, src, png_read_bytes);
  png_set_user_limits(png, 65535, 65535);
  png_set_chunk_malloc_max(png, 16u << 20);  // ancillary chunks (text, ICC) decompress to <= 16 MB
  png_read_info(png, info);
  png_uint_32 w = 0, h = 0;
  int depth = 0, color = 0, interlace = 0;
  png_get_IHDR(png, info, &w, &h, &depth, &color, &interlace, nullptr, nullptr);
  if (int64_t(w) * int64_t(h) > kMaxImagePixels) {
    *too_large = true;
    im->w = int(w), im->h = int(h);
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  if (depth == 16) png_set_strip_16(png);  // the high byte, as PIL's RGB;16B
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (color & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  const int c = png_get_channels(png, info);
  if ((c != 1 && c != 3) || png_get_rowbytes(png, info) != size_t(w) * size_t(c))
    png_error(png, "unsupported pixel layout");
  im->w = int(w), im->h = int(h), im->c = c;
  im->pix.resize(size_t(w) * size_t(h) * size_t(c));
  rows->resize(h);
  for (png_uint_32 y = 0; y < h; ++y) (*rows)[y] = im->pix.data() + size_t(y) * size_t(w) * size_t(c);
  png_read_image(png, rows->data());
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

// ---------------------------------------------------------------------------------- JPEG
struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char msg[JMSG_LENGTH_MAX];
};

[[noreturn]] void jpeg_on_error(j_common_ptr c) {
  auto* e = reinterpret_cast<JpegError*>(c->err);
  (*c->err->format_message)(c, e->msg);
  std::longjmp(e->jump, 1);
}
// Warnings are ignored (as PIL does), except a file that ends early: PIL refuses it too.
void jpeg_on_message(j_common_ptr c, int level) {
  if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF) {
    auto* e = reinterpret_cast<JpegError*>(c->err);
    std::snprintf(e->msg, sizeof e->msg, "truncated file (the image data ends early)");
    std::longjmp(e->jump, 1);
  }
}
// A progressive file may hold thousands of tiny scans, each a full pass over the image.
void jpeg_on_progress(j_common_ptr c) {
  auto* d = reinterpret_cast<j_decompress_ptr>(c);
  if (d->input_scan_number > 1000) {
    auto* e = reinterpret_cast<JpegError*>(c->err);
    std::snprintf(e->msg, sizeof e->msg, "more than 1000 scans");
    std::longjmp(e->jump, 1);
  }
}

enum class JpegStatus { Ok, Error, TooLarge, Cmyk };

JpegStatus jpeg_decode(const uint8_t* data, size_t size, JpegError* err, Image* im) {
  jpeg_decompress_struct cinfo;
  jpeg_progress_mgr progress;
  cinfo.err = jpeg_std_error(&err->mgr);
  err->mgr.error_exit = jpeg_on_error;
  err->mgr.emit_message = jpeg_on_message;
  progress.progress_monitor = jpeg_on_progress;
  if (setjmp(err->jump)) {
    jpeg_destroy_decompress(&cinfo);
    return JpegStatus::Error;
  }
  jpeg_create_decompress(&cinfo);
  cinfo.progress = &progress;
  cinfo.mem->max_memory_to_use = 512L << 20;
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  im->w = int(cinfo.image_width), im->h = int(cinfo.image_height);
  if (int64_t(cinfo.image_width) * int64_t(cinfo.image_height) > kMaxImagePixels) {
    jpeg_destroy_decompress(&cinfo);
    return JpegStatus::TooLarge;
  }
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    jpeg_destroy_decompress(&cinfo);
    return JpegStatus::Cmyk;
  }
  cinfo.out_color_space = cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;  // libjpeg's defaults otherwise, as PIL
  jpeg_start_decompress(&cinfo);
  const int c = cinfo.output_components;
  im->c = c;
  im->pix.resize(size_t(cinfo.output_width) * size_t(cinfo.output_height) * size_t(c));
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = im->pix.data() + size_t(cinfo.output_scanline) * size_t(cinfo.output_width) * size_t(c);
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return JpegStatus::Ok;
}

// ------------------------------------------------------------------- Pillow's resampler
constexpr int kPrecisionBits = 32 - 8 - 2;

double bicubic_filter(double x) {
  const double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

struct Coeffs {
  int ksize = 0;
  std::vector<int> bounds;  // per output: first input index, count
  std::vector<int32_t> k;   // per output: ksize fixed-point weights
};

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for the box [0, in_size), same operation order.
Coeffs precompute(int in_size, int out_size) {
  const float in0 = 0.0f, in1 = float(in_size);
  double filterscale, scale;
  filterscale = scale = double(in1 - in0) / out_size;
  if (filterscale < 1.0) filterscale = 1.0;
  const double support = 2.0 * filterscale;
  Coeffs c;
  c.ksize = int(std::ceil(support)) * 2 + 1;
  c.bounds.resize(size_t(out_size) * 2);
  c.k.assign(size_t(out_size) * size_t(c.ksize), 0);
  std::vector<double> kk(size_t(c.ksize));
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = in0 + (xx + 0.5) * scale;
    double ww = 0.0;
    const double ss = 1.0 / filterscale;
    int xmin = int(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = int(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    std::fill(kk.begin(), kk.end(), 0.0);
    for (int x = 0; x < xmax; ++x) {
      const double w = bicubic_filter((x + xmin - center + 0.5) * ss);
      kk[size_t(x)] = w;
      ww += w;
    }
    for (int x = 0; x < xmax; ++x)
      if (ww != 0.0) kk[size_t(x)] /= ww;
    for (int x = 0; x < c.ksize; ++x) {
      const double v = kk[size_t(x)];
      c.k[size_t(xx) * size_t(c.ksize) + size_t(x)] =
          v < 0 ? int(-0.5 + v * (1 << kPrecisionBits)) : int(0.5 + v * (1 << kPrecisionBits));
    }
    c.bounds[size_t(xx) * 2] = xmin;
    c.bounds[size_t(xx) * 2 + 1] = xmax;
  }
  return c;
}

uint8_t clip8(int v) {
  if (v >= (1 << kPrecisionBits << 8)) return 255;
  if (v <= 0) return 0;
  return uint8_t(v >> kPrecisionBits);
}

Image resample_horizontal(const Image& in, int w) {
  const Coeffs co = precompute(in.w, w);
  Image out{w, in.h, in.c, std::vector<uint8_t>(size_t(w) * size_t(in.h) * size_t(in.c))};
  for (int y = 0; y < in.h; ++y)
    for (int xx = 0; xx < w; ++xx) {
      const int xmin = co.bounds[size_t(xx) * 2], xmax = co.bounds[size_t(xx) * 2 + 1];
      const int32_t* k = &co.k[size_t(xx) * size_t(co.ksize)];
      for (int ch = 0; ch < in.c; ++ch) {
        int ss = 1 << (kPrecisionBits - 1);
        for (int x = 0; x < xmax; ++x)
          ss += int(in.pix[(size_t(y) * size_t(in.w) + size_t(x + xmin)) * size_t(in.c) + size_t(ch)]) * k[x];
        out.pix[(size_t(y) * size_t(w) + size_t(xx)) * size_t(in.c) + size_t(ch)] = clip8(ss);
      }
    }
  return out;
}

Image resample_vertical(const Image& in, int h) {
  const Coeffs co = precompute(in.h, h);
  Image out{in.w, h, in.c, std::vector<uint8_t>(size_t(in.w) * size_t(h) * size_t(in.c))};
  const size_t row = size_t(in.w) * size_t(in.c);
  for (int yy = 0; yy < h; ++yy) {
    const int ymin = co.bounds[size_t(yy) * 2], ymax = co.bounds[size_t(yy) * 2 + 1];
    const int32_t* k = &co.k[size_t(yy) * size_t(co.ksize)];
    for (size_t i = 0; i < row; ++i) {
      int ss = 1 << (kPrecisionBits - 1);
      for (int y = 0; y < ymax; ++y) ss += int(in.pix[size_t(y + ymin) * row + i]) * k[y];
      out.pix[size_t(yy) * row + i] = clip8(ss);
    }
  }
  return out;
}

}  // namespace

Image decode_png(const std::vector<uint8_t>& bytes, const std::string& origin) {
  PngSource src{bytes.data(), bytes.size(), 0, {0}};
  Image im;
  std::vector<png_bytep> rows;
  bool too_large = false;
  if (!png_decode(&src, &im, &rows, &too_large)) {
    if (too_large) check_size(im.w, im.h, origin);
    throw Error(origin + ": not a readable PNG image (libpng: " + std::string(src.msg) +
                "): re-save it as an 8-bit grey or RGB PNG");
  }
  check_size(im.w, im.h, origin);
  return im;
}

Image decode_jpeg(const std::vector<uint8_t>& bytes, const std::string& origin) {
  JpegError err{};
  Image im;
  switch (jpeg_decode(bytes.data(), bytes.size(), &err, &im)) {
    case JpegStatus::Ok:
      break;
    case JpegStatus::TooLarge:
      check_size(im.w, im.h, origin);
      break;
    case JpegStatus::Cmyk:
      throw Error(origin + ": a CMYK JPEG; convert it to RGB (e.g. PIL Image.convert('RGB')) first");
    case JpegStatus::Error:
      throw Error(origin + ": not a readable JPEG image (libjpeg: " + std::string(err.msg) +
                  "): re-save it as a baseline grey or RGB JPEG");
  }
  check_size(im.w, im.h, origin);
  return im;
}

Image read_image_file(const std::string& path) {
  std::string ext = file_extension(path);
  for (auto& ch : ext) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  const auto bytes = read_file_bytes(path);
  if (ext == ".png") return decode_png(bytes, path);
  if (ext == ".jpg" || ext == ".jpeg") return decode_jpeg(bytes, path);
  throw Error(path + ": not a .png/.jpg/.jpeg image");
}

Image convert_channels(const Image& im, int c) {
  if (im.c == c) return im;
  Image out{im.w, im.h, c, std::vector<uint8_t>(size_t(im.w) * size_t(im.h) * size_t(c))};
  const size_t n = size_t(im.w) * size_t(im.h);
  if (c == 1 && im.c == 3) {
    for (size_t p = 0; p < n; ++p) {
      const uint8_t* rgb = &im.pix[p * 3];
      out.pix[p] = uint8_t((rgb[0] * 19595 + rgb[1] * 38470 + rgb[2] * 7471 + 0x8000) >> 16);
    }
  } else if (c == 3 && im.c == 1) {
    for (size_t p = 0; p < n; ++p) out.pix[p * 3] = out.pix[p * 3 + 1] = out.pix[p * 3 + 2] = im.pix[p];
  } else {
    throw Error("convert_channels: " + std::to_string(im.c) + " -> " + std::to_string(c) + " channels");
  }
  return out;
}

Image resize_bicubic(const Image& im, int w, int h) {
  Image out = im;
  if (w != im.w) out = resample_horizontal(out, w);
  if (h != im.h) out = resample_vertical(out, h);
  return out;
}

Image center_crop(const Image& im, int w, int h) {
  if (w > im.w || h > im.h) throw Error("center_crop: crop larger than the image");
  const int top = int(std::nearbyint((im.h - h) / 2.0)), left = int(std::nearbyint((im.w - w) / 2.0));
  Image out{w, h, im.c, std::vector<uint8_t>(size_t(w) * size_t(h) * size_t(im.c))};
  const size_t row = size_t(w) * size_t(im.c);
  for (int y = 0; y < h; ++y)
    std::memcpy(&out.pix[size_t(y) * row], &im.pix[(size_t(y + top) * size_t(im.w) + size_t(left)) * size_t(im.c)], row);
  return out;
}

ImageTransform image_transform_from_name(const std::string& name) {
  if (name == "auto") return ImageTransform::Auto;
  if (name == "eval") return ImageTransform::Eval;
  if (name == "none") return ImageTransform::None;
  throw UsageError("--image-transform must be auto, eval or none, got '" + name + "'");
}

Image eval_transform(const Image& im, int h, int w) {
  const int s = std::max(h, w);
  const double crop_pct = s <= 224 ? 224.0 / 256.0 : 1.0;
  const int size = int(s / crop_pct);
  const int64_t shorter = std::min(im.w, im.h), longer = std::max(im.w, im.h);
  const int new_long = int(double(int64_t(size) * longer) / double(shorter));
  const int nw = im.w <= im.h ? size : new_long, nh = im.w <= im.h ? new_long : size;
  if (int64_t(nw) * int64_t(nh) > kMaxImagePixels)
    throw Error("image of " + size_text(im.w, im.h) + " resized to " + size_text(nw, nh) + " is too large");
  return center_crop(resize_bicubic(im, nw, nh), w, h);
}

std::vector<uint8_t> image_to_input(const Image& im, const Shape& input, ImageTransform t, const std::string& origin) {
  if (input.c != 1 && input.c != 3)
    throw Error(origin + ": the model takes " + std::to_string(input.c) +
                " input channels; an image gives 1 (grey) or 3 (RGB): give a .npy of that shape");
  Image x = convert_channels(im, int(input.c));
  if (x.w != input.w || x.h != input.h) {
    if (t == ImageTransform::None)
      throw Error(origin + ": image is " + size_text(x.w, x.h) + " but the model's input is " +
                  size_text(input.w, input.h) + " (--image-transform none): resize it, or drop that option to "
                  "apply the official evaluation transform (bicubic resize, centre crop)");
    x = eval_transform(x, int(input.h), int(input.w));
  } else if (t == ImageTransform::Eval) {
    x = eval_transform(x, int(input.h), int(input.w));
  }
  std::vector<uint8_t> planes(size_t(input.size()));
  const size_t n = size_t(x.w) * size_t(x.h);
  for (size_t p = 0; p < n; ++p)
    for (int ch = 0; ch < x.c; ++ch) planes[size_t(ch) * n + p] = x.pix[p * size_t(x.c) + size_t(ch)];
  return planes;
}

}  // namespace spikechip::model
