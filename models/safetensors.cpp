#include "models/safetensors.hpp"

#include <algorithm>
#include <bit>

#include "base/file_util.hpp"
#include "base/json_text.hpp"
#include "base/shape.hpp"
#include "base/strict_json.hpp"

namespace spikechip::model {

static_assert(std::endian::native == std::endian::little,
              "tensor bytes are copied as-is: a big-endian host needs byte swapping here");

namespace {
struct DTypeInfo {
  DType d;
  const char* name;
  size_t size;
};
constexpr DTypeInfo kDTypes[] = {{DType::I8, "I8", 1},   {DType::U8, "U8", 1},
                                 {DType::I16, "I16", 2}, {DType::I32, "I32", 4},
                                 {DType::I64, "I64", 8}, {DType::F32, "F32", 4}};
// A header larger than this is not a weights file (the reference implementation uses 100 MB).
constexpr uint64_t kMaxHeader = 100u << 20;
}  // namespace

const char* dtype_name(DType d) {
  for (const auto& i : kDTypes)
    if (i.d == d) return i.name;
  return "?";
}
size_t dtype_size(DType d) {
  for (const auto& i : kDTypes)
    if (i.d == d) return i.size;
  return 0;
}
bool dtype_from_name(const std::string& s, DType& out) {
  for (const auto& i : kDTypes)
    if (s == i.name) {
      out = i.d;
      return true;
    }
  return false;
}

int64_t TensorData::numel() const { return shape_numel(shape); }

std::string shape_to_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s.append(i ? ", " : "").append(std::to_string(shape[i]));
  return s + "]";
}

SafeTensors parse_safetensors(const std::vector<uint8_t>& file, const std::string& origin) {
  const uint64_t size = file.size();
  if (size < 8)
    throw Error(origin + ": truncated safetensors file (" + std::to_string(size) +
                " bytes, needs at least the 8-byte header length)");
  const uint64_t n = load_le64(file.data());
  if (n > size - 8 || n > kMaxHeader)
    throw Error(origin + ": header length " + std::to_string(n) + " goes beyond the file (" +
                std::to_string(size) + " bytes): truncated or not a safetensors file");
  const nlohmann::json header =
      parse_json_text(std::string_view(reinterpret_cast<const char*>(file.data()) + 8, size_t(n)), origin,
                      "safetensors header");
  if (!header.is_object()) throw Error(origin + ": header must be a JSON object");
  const uint64_t data_size = size - 8 - n;
  const uint8_t* data = file.data() + 8 + n;

  SafeTensors st;
  struct Range {
    uint64_t b, e;
    std::string name;
  };
  std::vector<Range> ranges;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) throw Error(origin + ": __metadata__ must be an object");
      for (const auto& [k, v] : entry.items())
        if (!v.is_string())
          throw Error(origin + ": __metadata__." + excerpt(k) + " must be a string (safetensors metadata is string -> string)");
      st.metadata = entry;
      continue;
    }
    const std::string where = origin + ": tensor '" + excerpt(name) + "'";
    if (!entry.is_object()) throw Error(where + ": entry must be an object");
    for (const auto& [k, v] : entry.items()) {
      (void)v;
      if (k != "dtype" && k != "shape" && k != "data_offsets")
        throw Error(where + ": unknown key '" + excerpt(k) + "' (expected dtype, shape, data_offsets)");
    }
    for (const char* k : {"dtype", "shape", "data_offsets"})
      if (!entry.contains(k)) throw Error(where + ": missing '" + k + "'");
    TensorData t;
    if (!entry["dtype"].is_string() || !dtype_from_name(entry["dtype"].get<std::string>(), t.dtype))
      throw Error(where + ": unsupported dtype " + describe_json(entry["dtype"]) +
                  " (supported: I8, U8, I16, I32, I64, F32)");
    const auto& shp = entry["shape"];
    if (!shp.is_array()) throw Error(where + ": shape must be an array of non-negative integers");
    for (const auto& d : shp) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0 || d.get<int64_t>() > (int64_t(1) << 40))
        throw Error(where + ": shape " + describe_json(shp) + " must hold non-negative integers");
      t.shape.push_back(d.get<int64_t>());
    }
    const auto& off = entry["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw Error(where + ": data_offsets must be [begin, end] (non-negative integers)");
    const uint64_t b = off[0].get<uint64_t>(), e = off[1].get<uint64_t>();
    if (b > e) throw Error(where + ": data_offsets [" + std::to_string(b) + ", " + std::to_string(e) + "] has begin > end");
    if (e > data_size)
      throw Error(where + ": data_offsets [" + std::to_string(b) + ", " + std::to_string(e) +
                  "] out of range: the data section has " + std::to_string(data_size) + " bytes (truncated file?)");
    // Each dimension is at most 2^40, their product need not fit in 64 bits (an empty tensor is
    // empty whatever its other dimensions, as before).
    uint64_t expect = 0;
    const bool fits = has_zero_dimension(t.shape) || shape_bytes(t.shape, dtype_size(t.dtype), &expect);
    if (!fits || expect != e - b)
      throw Error(where + ": data_offsets span " + std::to_string(e - b) + " bytes but dtype " +
                  dtype_name(t.dtype) + " shape " + shape_to_string(t.shape) + " needs " +
                  (fits ? std::to_string(expect) : std::string("more than 2^64")) + " bytes");
    t.bytes.assign(data + b, data + e);
    ranges.push_back({b, e, name});
    st.tensors.emplace(name, std::move(t));
  }
  std::sort(ranges.begin(), ranges.end(), [](const Range& x, const Range& y) {
    return x.b != y.b ? x.b < y.b : x.e < y.e;
  });
  uint64_t pos = 0;
  for (const auto& r : ranges) {
    if (r.b < pos)
      throw Error(origin + ": tensor '" + excerpt(r.name) + "': data_offsets [" + std::to_string(r.b) + ", " +
                  std::to_string(r.e) + "] overlap the previous tensor (ending at " + std::to_string(pos) + ")");
    if (r.b > pos)
      throw Error(origin + ": tensor '" + excerpt(r.name) + "': gap of " + std::to_string(r.b - pos) +
                  " unused bytes before its data (offset " + std::to_string(pos) + ")");
    pos = r.e;
  }
  if (pos != data_size)
    throw Error(origin + ": " + std::to_string(data_size - pos) +
                " trailing bytes after the last tensor (data section has " + std::to_string(data_size) +
                " bytes, tensors end at " + std::to_string(pos) + ")");
  return st;
}

SafeTensors read_safetensors(const std::string& path) {
  return parse_safetensors(read_file_bytes(path), path);
}

std::vector<uint8_t> serialize_safetensors(const SafeTensors& st) {
  // nlohmann::json objects are std::map-ordered, so dump() sorts keys: deterministic header.
  nlohmann::json header = nlohmann::json::object();
  uint64_t pos = 0;
  for (const auto& [name, t] : st.tensors) {  // std::map: name order
    if (name == "__metadata__") throw Error("safetensors: '__metadata__' is reserved, not a tensor name");
    DType tmp;
    if (!dtype_from_name(dtype_name(t.dtype), tmp)) throw Error("safetensors: tensor '" + name + "': bad dtype");
    const uint64_t need = uint64_t(t.numel()) * dtype_size(t.dtype);
    if (need != t.bytes.size())
      throw Error("safetensors: tensor '" + name + "': " + std::to_string(t.bytes.size()) +
                  " bytes do not match dtype " + dtype_name(t.dtype) + " shape " + shape_to_string(t.shape));
    header[name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {pos, pos + need}}};
    pos += need;
  }
  if (!st.metadata.is_null() && !st.metadata.empty()) {
    for (const auto& [k, v] : st.metadata.items())
      if (!v.is_string()) throw Error("safetensors: __metadata__." + k + " must be a string");
    header["__metadata__"] = st.metadata;
  }
  std::string h = json_text(header);
  while (h.size() % 8 != 0) h.push_back(' ');
  std::vector<uint8_t> out;
  out.reserve(8 + h.size() + pos);
  store_le64(out, h.size());
  out.insert(out.end(), h.begin(), h.end());
  for (const auto& [name, t] : st.tensors) out.insert(out.end(), t.bytes.begin(), t.bytes.end());
  return out;
}

void write_safetensors(const std::string& path, const SafeTensors& st) {
  write_file_atomic(path, serialize_safetensors(st));
}

}  // namespace spikechip::model
