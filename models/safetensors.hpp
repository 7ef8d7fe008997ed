#pragma once
// Reader/writer of the safetensors layout (docs/model-format.md, "weights.safetensors"):
// u64 LE header length, JSON header, raw little-endian data. Everything is validated on read.
#include <cstdint>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "base/error.hpp"

namespace spikechip::model {

enum class DType { I8, U8, I16, I32, I64, F32 };

const char* dtype_name(DType d);                 // "I8", ...
size_t dtype_size(DType d);                      // bytes per element
bool dtype_from_name(const std::string& s, DType& out);  // false if unknown

template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<int8_t>() { return DType::I8; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::U8; }
template <> constexpr DType dtype_of<int16_t>() { return DType::I16; }
template <> constexpr DType dtype_of<int32_t>() { return DType::I32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::I64; }
template <> constexpr DType dtype_of<float>() { return DType::F32; }

struct TensorData {
  DType dtype = DType::U8;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;  // little-endian, row-major

  int64_t numel() const;
};

struct SafeTensors {
  std::map<std::string, TensorData> tensors;
  nlohmann::json metadata = nlohmann::json::object();  // "__metadata__": string -> string
};

// Throws spikechip::Error "<path>: tensor '<name>': ..." on any malformed content.
SafeTensors read_safetensors(const std::string& path);
// Parses an in-memory image; `origin` names it in errors.
SafeTensors parse_safetensors(const std::vector<uint8_t>& file, const std::string& origin);
// Deterministic bytes: tensors in name order, compact JSON header with sorted keys, padded with
// spaces to a multiple of 8 bytes (as the reference implementation does, so data is aligned).
std::vector<uint8_t> serialize_safetensors(const SafeTensors& st);
// Atomic: written to a temporary file and renamed into place.
void write_safetensors(const std::string& path, const SafeTensors& st);

// Typed views. to_vector checks the dtype (error names `what`, e.g. the tensor name).
template <typename T>
std::vector<T> to_vector(const TensorData& t, const std::string& what = "tensor") {
  static_assert(std::is_arithmetic_v<T>);
  if (t.dtype != dtype_of<T>())
    throw Error(what + ": dtype " + dtype_name(t.dtype) + ", expected " + dtype_name(dtype_of<T>()));
  std::vector<T> v(t.bytes.size() / sizeof(T));
  // Host is little-endian (checked at compile time in safetensors.cpp), so a copy is exact.
  if (!v.empty()) std::memcpy(v.data(), t.bytes.data(), v.size() * sizeof(T));
  return v;
}

template <typename T>
TensorData from_vector(const std::vector<T>& v, std::vector<int64_t> shape) {
  static_assert(std::is_arithmetic_v<T>);
  TensorData t;
  t.dtype = dtype_of<T>();
  t.shape = std::move(shape);
  t.bytes.resize(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
  if (t.numel() != int64_t(v.size()))
    throw Error("from_vector: " + std::to_string(v.size()) + " values do not fill shape of " +
                std::to_string(t.numel()) + " elements");
  return t;
}

std::string shape_to_string(const std::vector<int64_t>& shape);  // "[8, 1, 3, 3]"

}  // namespace spikechip::model
