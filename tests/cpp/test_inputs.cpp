// Input readers: .npy (single and batch), PGM/PPM, event inputs, Fashion-MNIST IDX, and errors
// that say expected vs got.
#include <cstring>
#include <gtest/gtest.h>

#include <zlib.h>

#include "base/file_util.hpp"
#include "models/inputs.hpp"
#include "base/npy.hpp"
#include "tiny_graph.hpp"
#include "traces/events.hpp"

using namespace spikechip;
using namespace spikechip::model;
using spikechip::testing::expect_error;
using spikechip::testing::fresh_dir;
using spikechip::testing::spit;
using spikechip::testing::tiny_graph;

namespace {
std::vector<uint8_t> ramp(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = uint8_t(i * 7);
  return v;
}
Graph events_graph() {
  Graph g = tiny_graph();
  g.nodes[0].encoding = "events";
  g.nodes[0].shape = {2, 8, 8};
  g.nodes[0].zero_point = {0, 0};
  g.nodes[1].weight.resize(4 * 2 * 9);
  g.timesteps = 3;
  return g;
}
void write_gz(const std::string& path, const std::vector<uint8_t>& b) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, b.data(), unsigned(b.size())), int(b.size()));
  gzclose(f);
}
void be32(std::vector<uint8_t>& o, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) o.push_back(uint8_t(v >> s));
}
}  // namespace

TEST(Inputs, NpyImageForms) {
  const Graph g = tiny_graph();  // Input [1, 8, 8]
  const std::string dir = fresh_dir("npy");
  write_npy(dir + "/chw.npy", {"|u1", {1, 8, 8}, ramp(64)});
  write_npy(dir + "/hw.npy", {"|u1", {8, 8}, ramp(64)});
  write_npy(dir + "/bchw.npy", {"|u1", {3, 1, 8, 8}, ramp(192)});
  for (const char* f : {"/chw.npy", "/hw.npy"}) {
    const auto items = read_inputs(dir + f, g);
    ASSERT_EQ(items.size(), 1u);
    EXPECT_EQ(items[0].data, ramp(64));
    EXPECT_EQ(items[0].frames, 1);
    EXPECT_EQ(items[0].shape, (Shape{1, 8, 8}));
  }
  const auto batch = read_inputs(dir + "/bchw.npy", g);
  ASSERT_EQ(batch.size(), 3u);
  EXPECT_EQ(batch[2].data[0], uint8_t(128 * 7));
  EXPECT_EQ(batch[2].origin, dir + "/bchw.npy[2]");
  // A directory reads every input file in name order.
  EXPECT_EQ(read_inputs(dir, g).size(), 5u);
}

TEST(Inputs, NpyErrorsSayExpectedVsGot) {
  const Graph g = tiny_graph();
  const std::string dir = fresh_dir("bad");
  write_npy(dir + "/wrong.npy", {"|u1", {3, 8, 8}, ramp(192)});
  // [3, 8, 8] is read as a batch of three 8x8 grayscale images for a 1-channel model; a 3-channel
  // 7x7 image is not.
  EXPECT_EQ(read_inputs(dir + "/wrong.npy", g).size(), 3u);
  write_npy(dir + "/w2.npy", {"|u1", {3, 7, 7}, ramp(147)});
  expect_error([&] { read_inputs(dir + "/w2.npy", g); }, {"w2.npy", "[3, 7, 7]", "expected [C,H,W] = [1, 8, 8]"});
  // float arrays are normalised images (input_arrays.hpp): 0.0 is the zero point, x / scale + 128
  std::vector<uint8_t> fb(256, 0);
  const float v = float(2 * 0.0171);  // two u8 steps above the zero point
  std::memcpy(&fb[4], &v, 4);
  write_npy(dir + "/f.npy", {"<f4", {1, 8, 8}, fb});
  const auto f = read_inputs(dir + "/f.npy", g);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].data[0], 128);
  EXPECT_EQ(f[0].data[1], 130);
  write_npy(dir + "/i.npy", {"<i4", {1, 8, 8}, std::vector<uint8_t>(256)});
  expect_error([&] { read_inputs(dir + "/i.npy", g); }, {"i.npy", "uint8", "<i4"});
  expect_error([&] { read_inputs(dir + "/none.npy", g); }, {"none.npy", "not found"});
  spit(dir + "/x.gif", "x");
  expect_error([&] { read_inputs(dir + "/x.gif", g); }, {"x.gif", "unsupported input type"});
  spit(dir + "/x.jpg", "x");
  expect_error([&] { read_inputs(dir + "/x.jpg", g); }, {"x.jpg", "not a readable JPEG image"});
}

TEST(Inputs, PgmAndPpm) {
  const std::string dir = fresh_dir("pnm");
  std::string pgm = "P5\n# comment\n8 8\n255\n";
  for (uint8_t v : ramp(64)) pgm.push_back(char(v));
  spit(dir + "/a.pgm", pgm);
  const auto items = read_inputs(dir + "/a.pgm", tiny_graph());
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].data, ramp(64));

  std::string ppm = "P6 2 1 255\n";
  for (char c : {10, 20, 30, 40, 50, 60}) ppm.push_back(c);
  spit(dir + "/b.ppm", ppm);
  const InputItem rgb = read_pnm(dir + "/b.ppm");
  EXPECT_EQ(rgb.shape, (Shape{3, 1, 2}));
  EXPECT_EQ(rgb.data, (std::vector<uint8_t>{10, 40, 20, 50, 30, 60}));  // planes R, G, B
  expect_error([&] { read_inputs(dir + "/b.ppm", tiny_graph()); }, {"b.ppm", "[3, 1, 2]", "expects [1, 8, 8]"});
  spit(dir + "/t.pgm", "P5 8 8 255\nabc");
  expect_error([&] { read_pnm(dir + "/t.pgm"); }, {"t.pgm", "truncated"});
  spit(dir + "/p2.pgm", "P2 1 1 255\n0\n");
  expect_error([&] { read_pnm(dir + "/p2.pgm"); }, {"p2.pgm", "P5 or P6"});
}

TEST(Inputs, EventModelInputs) {
  const Graph g = events_graph();
  const std::string dir = fresh_dir("ev");
  traces::EventTrace tr{8, 8, {{1, 2, 0, 1}, {7, 7, 50, 0}, {3, 3, 99, 1}}, "t.evt"};
  traces::write_evt(dir + "/t.evt", tr);
  const auto items = read_inputs(dir + "/t.evt", g);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].frames, 3);
  EXPECT_EQ(items[0].data, traces::bin_events(tr, 3));
  write_npy(dir + "/b.npy", {"|u1", {2, 3, 2, 8, 8}, ramp(2 * 3 * 128)});
  EXPECT_EQ(read_inputs(dir + "/b.npy", g).size(), 2u);
  write_npy(dir + "/w.npy", {"|u1", {4, 2, 8, 8}, ramp(512)});
  expect_error([&] { read_inputs(dir + "/w.npy", g); }, {"w.npy", "[4, 2, 8, 8]", "[T,C,H,W] = [3, 2, 8, 8]"});
  // Image files into an events model and traces into an image model are rejected.
  write_npy(dir + "/img.npy", {"|u1", {1, 8, 8}, ramp(64)});
  expect_error([&] { read_inputs(dir + "/t.evt", tiny_graph()); }, {"t.evt", "takes images"});
}

TEST(Inputs, IdxReaderAndPadding) {
  const std::string dir = fresh_dir("idx");
  std::vector<uint8_t> im, lb;
  be32(im, 0x803);
  be32(im, 2);
  be32(im, 2);
  be32(im, 3);
  for (int i = 1; i <= 12; ++i) im.push_back(uint8_t(i));
  be32(lb, 0x801);
  be32(lb, 2);
  lb.push_back(4);
  lb.push_back(9);
  write_gz(dir + "/i.gz", im);
  write_gz(dir + "/l.gz", lb);
  auto items = read_idx_dataset(dir + "/i.gz", dir + "/l.gz", 0, Shape{1, 2, 3});
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[1].label, 9);
  EXPECT_EQ(items[1].data, (std::vector<uint8_t>{7, 8, 9, 10, 11, 12}));
  // Centre padding 2x3 -> 4x5: one zero row/column on each side.
  items = read_idx_dataset(dir + "/i.gz", dir + "/l.gz", 1, Shape{1, 4, 5});
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].data, (std::vector<uint8_t>{0, 0, 0, 0, 0, 0, 1, 2, 3, 0, 0, 4, 5, 6, 0, 0, 0, 0, 0, 0}));
  expect_error([&] { read_idx_dataset(dir + "/i.gz", dir + "/l.gz", 1, Shape{1, 1, 1}); }, {"cannot centre-pad"});
  expect_error([&] { read_idx_dataset(dir + "/l.gz", dir + "/l.gz", 1); }, {"l.gz", "IDX3"});
  lb.pop_back();
  write_gz(dir + "/l2.gz", lb);
  expect_error([&] { read_idx_dataset(dir + "/i.gz", dir + "/l2.gz", 1, Shape{1, 2, 3}); }, {"l2.gz", "truncated"});
}

TEST(Inputs, FashionMnistTestSet) {
  if (!std::filesystem::exists(fashion_mnist_dir() + "/t10k-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "dataset-fashion-mnist not installed";
  const auto items = fashion_mnist_test_set(5, Shape{1, 32, 32});
  ASSERT_EQ(items.size(), 5u);
  // The first test image is an ankle boot (class 9), the second a pullover (2): the published
  // t10k label order.
  EXPECT_EQ(items[0].label, 9);
  EXPECT_EQ(items[1].label, 2);
  EXPECT_EQ(items[0].shape, (Shape{1, 32, 32}));
  for (int x = 0; x < 32; ++x) EXPECT_EQ(items[0].data[size_t(x)], 0) << "top padding row";
}

// Hand-worked cases of the PIL-exact image steps (models/image_file.hpp); the whole transform is
// compared byte for byte with PIL in tests/python/test_image_inputs.py.
TEST(Inputs, ImageStepsHandWorked) {
  // [0, 255] -> 1 pixel: scale 2, support 4, both taps at |x| = 0.25 -> bicubic 0.8671875 each,
  // normalised to 0.5 = 2^21 in 22-bit fixed point: (2^21 + 255 * 2^21) >> 22 = 128.
  const Image row{2, 1, 1, {0, 255}};
  EXPECT_EQ(resize_bicubic(row, 1, 1).pix, std::vector<uint8_t>{128});
  // torchvision CenterCrop rounds (5 - 2) / 2 = 1.5 half to even: offset 2.
  const Image col{1, 5, 1, {10, 11, 12, 13, 14}};
  EXPECT_EQ(center_crop(col, 1, 2).pix, (std::vector<uint8_t>{12, 13}));
  // PIL "L" from red: (255 * 19595 + 0x8000) >> 16 = 76; grey -> RGB replicates.
  EXPECT_EQ(convert_channels(Image{1, 1, 3, {255, 0, 0}}, 1).pix, std::vector<uint8_t>{76});
  EXPECT_EQ(convert_channels(Image{1, 1, 1, {7}}, 3).pix, (std::vector<uint8_t>{7, 7, 7}));
  // Official eval size for S = 28: shorter side int(28 / 0.875) = 32; a 40x20 image -> 64x32, crop 28.
  const Image wide{40, 20, 1, std::vector<uint8_t>(800, 9)};
  const Image e = eval_transform(wide, 28, 28);
  EXPECT_EQ(e.w, 28);
  EXPECT_EQ(e.h, 28);
  EXPECT_EQ(e.pix, std::vector<uint8_t>(784, 9));  // a flat image stays flat (weights sum to 1)
}
