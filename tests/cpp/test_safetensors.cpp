// safetensors and .npy: round trips, determinism and every corruption the reader must reject.
#include <gtest/gtest.h>

#include "base/file_util.hpp"
#include "base/npy.hpp"
#include "models/safetensors.hpp"
#include "tiny_graph.hpp"

using namespace spikechip;
using namespace spikechip::model;
using spikechip::testing::expect_error;

namespace {

SafeTensors sample() {
  SafeTensors st;
  st.tensors["b.weight"] = from_vector(std::vector<int8_t>{-128, -1, 0, 1, 127, 5}, {2, 3});
  st.tensors["a.bias"] = from_vector(std::vector<int32_t>{-2147483647 - 1, 2147483647}, {2});
  st.tensors["c.f"] = from_vector(std::vector<float>{0.5f}, {1});
  st.tensors["d.i64"] = from_vector(std::vector<int64_t>{-5}, {1, 1});
  st.tensors["e.empty"] = from_vector(std::vector<uint8_t>{}, {0});
  st.metadata = {{"format", "spikechip"}};
  return st;
}

// A hand-written file: header text + data, with the 8-byte length prefix.
std::vector<uint8_t> raw(const std::string& header, const std::vector<uint8_t>& data, int64_t len = -1) {
  std::vector<uint8_t> out;
  store_le64(out, uint64_t(len < 0 ? int64_t(header.size()) : len));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

}  // namespace

TEST(SafeTensors, RoundTripIsExactAndDeterministic) {
  const auto bytes = serialize_safetensors(sample());
  EXPECT_EQ(bytes, serialize_safetensors(sample()));
  EXPECT_EQ((load_le64(bytes.data()) + 8) % 8, 0u) << "data section is 8-byte aligned";
  const SafeTensors back = parse_safetensors(bytes, "mem");
  ASSERT_EQ(back.tensors.size(), 5u);
  EXPECT_EQ(to_vector<int8_t>(back.tensors.at("b.weight")), (std::vector<int8_t>{-128, -1, 0, 1, 127, 5}));
  EXPECT_EQ(back.tensors.at("b.weight").shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(to_vector<int32_t>(back.tensors.at("a.bias"))[0], -2147483647 - 1);
  EXPECT_EQ(to_vector<float>(back.tensors.at("c.f"))[0], 0.5f);
  EXPECT_EQ(back.metadata["format"], "spikechip");
  EXPECT_EQ(serialize_safetensors(back), bytes);

  const std::string dir = spikechip::testing::fresh_dir("st");
  write_safetensors(dir + "/w.safetensors", sample());
  EXPECT_EQ(read_file_bytes(dir + "/w.safetensors"), bytes);
}

TEST(SafeTensors, HeaderIsTheStandardLayout) {
  // Name order, offsets contiguous from 0: what Python's safetensors/numpy readers expect.
  const auto bytes = serialize_safetensors(sample());
  const auto n = load_le64(bytes.data());
  const auto header = nlohmann::json::parse(std::string(bytes.begin() + 8, bytes.begin() + 8 + int64_t(n)));
  EXPECT_EQ(header["a.bias"]["dtype"], "I32");
  EXPECT_EQ(header["a.bias"]["data_offsets"], nlohmann::json({0, 8}));
  EXPECT_EQ(header["b.weight"]["data_offsets"], nlohmann::json({8, 14}));
  EXPECT_EQ(header["__metadata__"]["format"], "spikechip");
}

TEST(SafeTensors, RejectsTruncatedFile) {
  auto bytes = serialize_safetensors(sample());
  bytes.resize(bytes.size() - 3);
  expect_error([&] { parse_safetensors(bytes, "w.safetensors"); }, {"w.safetensors", "out of range", "truncated"});
  expect_error([&] { parse_safetensors({1, 2, 3}, "w.safetensors"); }, {"w.safetensors", "truncated"});
}

TEST(SafeTensors, RejectsBadHeaderLength) {
  expect_error([&] { parse_safetensors(raw("{}", {}, 1000), "w.st"); }, {"w.st", "header length 1000", "beyond the file"});
}

TEST(SafeTensors, RejectsBadJson) {
  expect_error([&] { parse_safetensors(raw("{\"a\": ", {}), "w.st"); }, {"w.st", "not valid JSON"});
}

TEST(SafeTensors, RejectsMissingField) {
  expect_error([&] { parse_safetensors(raw(R"({"t":{"dtype":"I8","shape":[1]}})", {0}), "w.st"); },
               {"w.st", "tensor 't'", "data_offsets"});
}

TEST(SafeTensors, RejectsUnknownDtype) {
  expect_error([&] { parse_safetensors(raw(R"({"t":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}})", {0, 0}), "w.st"); },
               {"w.st", "tensor 't'", "unsupported dtype", "BF16"});
}

TEST(SafeTensors, RejectsSizeMismatch) {
  expect_error([&] { parse_safetensors(raw(R"({"t":{"dtype":"I32","shape":[2],"data_offsets":[0,4]}})", {0, 0, 0, 0}), "w.st"); },
               {"tensor 't'", "4 bytes", "needs 8 bytes"});
}

// Dimensions whose byte size does not fit in 64 bits: refused by name. The reader multiplied them
// in long double and printed the product cast to unsigned long long (undefined above 2^64: UBSan
// "4.8357e+24 is outside the range of representable values", found reviewing session 33).
TEST(SafeTensors, RejectsSizeAbove64Bits) {
  expect_error(
      [&] {
        parse_safetensors(raw(R"({"t":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,4]}})",
                              {0, 0, 0, 0}),
                          "w.st");
      },
      {"tensor 't'", "4 bytes", "needs more than 2^64 bytes"});
}

TEST(SafeTensors, RejectsOffsetOutOfRange) {
  expect_error([&] { parse_safetensors(raw(R"({"t":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}})", {0, 0, 0, 0}), "w.st"); },
               {"tensor 't'", "data_offsets [2, 6] out of range"});
}

TEST(SafeTensors, RejectsOverlap) {
  expect_error([&] {
    parse_safetensors(raw(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}})",
                          {0, 0, 0}), "w.st");
  }, {"tensor 'b'", "overlap"});
}

TEST(SafeTensors, RejectsTrailingBytesAndGaps) {
  expect_error([&] { parse_safetensors(raw(R"({"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", {0, 9}), "w.st"); },
               {"w.st", "1 trailing bytes"});
  expect_error([&] { parse_safetensors(raw(R"({"t":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})", {0, 9}), "w.st"); },
               {"tensor 't'", "gap"});
}

TEST(SafeTensors, TypedViewChecksDtype) {
  const auto t = from_vector(std::vector<int8_t>{1}, {1});
  expect_error([&] { to_vector<int32_t>(t, "x.bias"); }, {"x.bias", "dtype I8, expected I32"});
}

TEST(SafeTensors, MissingFileNamesThePath) {
  expect_error([] { read_safetensors("/nonexistent/w.safetensors"); }, {"/nonexistent/w.safetensors", "cannot open"});
}

// No elements, but the other dimensions' product is 2^80: accepted (as NumPy's zero-size arrays),
// and its count is 0 (numel() multiplied 2^40 by 2^40 first: a signed overflow under UBSan).
TEST(SafeTensors, ZeroSizeTensorWithHugeDimensions) {
  const auto st = parse_safetensors(
      raw(R"({"z":{"dtype":"U8","shape":[1099511627776,1099511627776,0],"data_offsets":[0,0]}})", {}), "w.safetensors");
  EXPECT_EQ(st.tensors.at("z").numel(), 0);
}

TEST(Npy, RoundTripMatchesNumpyLayout) {
  NpyArray a{"|u1", {2, 3}, {1, 2, 3, 4, 5, 6}};
  const auto bytes = serialize_npy(a);
  EXPECT_EQ((bytes.size() - 6) % 64, 0u) << "numpy aligns the data to 64 bytes";
  const std::string hdr(bytes.begin() + 10, bytes.end() - 6);
  EXPECT_NE(hdr.find("'shape': (2, 3)"), std::string::npos) << hdr;
  const NpyArray b = parse_npy(bytes, "a.npy");
  EXPECT_EQ(b.shape, a.shape);
  EXPECT_EQ(b.bytes, a.bytes);
  NpyArray one{"<i8", {5}, std::vector<uint8_t>(40, 0)};
  const auto ob = serialize_npy(one);
  EXPECT_NE(std::string(ob.begin(), ob.end()).find("'shape': (5,)"), std::string::npos);
}

TEST(Npy, RejectsCorruption) {
  auto bytes = serialize_npy({"<i4", {2}, std::vector<uint8_t>(8, 0)});
  auto shorter = bytes;
  shorter.pop_back();
  expect_error([&] { parse_npy(shorter, "x.npy"); }, {"x.npy", "truncated"});
  auto longer = bytes;
  longer.push_back(0);
  expect_error([&] { parse_npy(longer, "x.npy"); }, {"x.npy", "trailing"});
  expect_error([&] { parse_npy({'P', '5'}, "x.npy"); }, {"x.npy", "not a .npy"});
  auto big = serialize_npy({"|u1", {1}, {0}});
  const std::string s(big.begin(), big.end());
  std::string be = s;
  be.replace(be.find("|u1"), 3, ">i2");
  expect_error([&] { parse_npy(std::vector<uint8_t>(be.begin(), be.end()), "x.npy"); }, {"x.npy", ">i2"});
  std::string fo = s;
  fo.replace(fo.find("False"), 5, "True ");
  expect_error([&] { parse_npy(std::vector<uint8_t>(fo.begin(), fo.end()), "x.npy"); }, {"x.npy", "Fortran"});
}

// A shape whose element count overflows 64 bits (each dimension within the reader's 2^40): its
// product wrapped to 0 and a file with no data was accepted (signed overflow, found by the
// `events` fuzz target in session 32). Also a count that fits but whose bytes do not.
TEST(Npy, ShapeWhoseSizeOverflowsIsRefused) {
  const auto with_shape = [](const std::string& descr, const std::string& shape) {
    const std::string s = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }\n";
    const std::string f = std::string("\x93NUMPY\x01\x00", 8) + char(s.size() & 0xff) + char(s.size() >> 8) + s;
    return std::vector<uint8_t>(f.begin(), f.end());
  };
  expect_error([&] { parse_npy(with_shape("|u1", "(1099511627776, 1099511627776)"), "x.npy"); }, {"x.npy", "2^64"});
  expect_error([&] { parse_npy(with_shape("|u1", "(7, 15, 350, 1099511627776, 1099511627776, 0)"), "x.npy"); },
               {"x.npy", "2^64"});  // (a zero dimension after the overflow does not rescue it)
  expect_error([&] { parse_npy(with_shape("<i8", "(1099511627776, 4194304)"), "x.npy"); }, {"x.npy", "2^64"});
  expect_error([&] { parse_npy(with_shape("<i8", "(1099511627776, 2)"), "x.npy"); }, {"x.npy", "truncated"});
  const auto empty = with_shape("|u1", "(1099511627776, 0)");  // zero elements: valid, no data
  EXPECT_EQ(parse_npy(empty, "x.npy").numel(), 0);
  // Zero elements, the other dimensions' product 2^63 (UBSan: no overflow in numel()).
  EXPECT_EQ(parse_npy(with_shape("|u1", "(1099511627776, 8388608, 0)"), "x.npy").numel(), 0);
}
