#include "cosim/protocol.hpp"

#include <cstring>

#include <fmt/format.h>

#include "base/json_text.hpp"

namespace spikechip::cosim {

using nlohmann::json;

const char* wire_dtype_name(model::DType d) {
  switch (d) {
    case model::DType::U8: return "uint8";
    case model::DType::I8: return "int8";
    case model::DType::I16: return "int16";  // weights of 12 / 16-bit layers
    case model::DType::I32: return "int32";
    case model::DType::F32: return "float32";
    default: return "?";
  }
}

bool wire_dtype_from_name(const std::string& s, model::DType& out) {
  for (model::DType d : {model::DType::U8, model::DType::I8, model::DType::I16, model::DType::I32, model::DType::F32})
    if (s == wire_dtype_name(d)) {
      out = d;
      return true;
    }
  return false;
}

json header_id(const json& header) {
  if (header.is_object() && header.contains("id") && (header["id"].is_number() || header["id"].is_string()))
    return header["id"];
  return nullptr;
}

json error_header(const json& id, const std::string& c, const std::string& message) {
  return {{"type", "error"}, {"id", id}, {"protocol", kProtocolVersion}, {"code", c}, {"message", message}};
}

void check_keys(const json& h, std::initializer_list<const char*> allowed) {
  for (const auto& [k, v] : h.items()) {
    bool ok = false;
    for (const char* a : allowed) ok = ok || k == a;
    if (!ok) {
      std::string list;
      for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      throw ProtocolError(code::kBadHeader, "unknown header key '" + k + "' for request '" +
                                                h.value("type", std::string("?")) + "' (allowed: " + list + ")");
    }
  }
}

json parse_header(const zmq::message_t& f0, const FrameLimits& limits) {
  if (f0.size() > limits.max_header_bytes)
    throw ProtocolError(code::kTooLarge, fmt::format("header frame of {} bytes exceeds the limit of {} (--max-header-bytes)",
                                                     f0.size(), limits.max_header_bytes));
  json h;
  try {  // the project's strict reader: nesting depth and number range limited
    h = parse_json_text(std::string_view(static_cast<const char*>(f0.data()), f0.size()), "header frame", "request header");
  } catch (const Error& e) {
    throw ProtocolError(code::kBadJson, e.what());
  }
  if (!h.is_object()) throw ProtocolError(code::kBadHeader, "header must be a JSON object");
  return h;
}

Message parse_message(const std::vector<zmq::message_t>& body, const FrameLimits& limits) {
  if (body.empty()) throw ProtocolError(code::kBadFrames, "empty message: expected a JSON header frame");
  return parse_message(parse_header(body.front(), limits), body, limits);
}

Message parse_message(json header, const std::vector<zmq::message_t>& body, const FrameLimits& limits) {
  if (body.empty()) throw ProtocolError(code::kBadFrames, "empty message: expected a JSON header frame");
  Message m;
  m.header = std::move(header);
  const json& h = m.header;
  if (!h.is_object()) throw ProtocolError(code::kBadHeader, "header must be a JSON object");
  if (!h.contains("type") || !h["type"].is_string())
    throw ProtocolError(code::kBadHeader, "header needs \"type\" (string)");
  if (!h.contains("id") || !(h["id"].is_number() || h["id"].is_string()))
    throw ProtocolError(code::kBadHeader, "header needs \"id\" (number or string), echoed in the reply");
  if (!h.contains("protocol") || !h["protocol"].is_number_integer())
    throw ProtocolError(code::kBadHeader, "header needs \"protocol\" (integer, this server speaks " +
                                              std::to_string(kProtocolVersion) + ")");
  if (h["protocol"].get<int64_t>() != kProtocolVersion)
    throw ProtocolError(code::kProtocolMismatch, "protocol " + json_text(h["protocol"]) +
                                                     " requested, this server speaks " +
                                                     std::to_string(kProtocolVersion));
  const json desc = h.contains("tensors") ? h["tensors"] : json::array();
  if (!desc.is_array()) throw ProtocolError(code::kBadHeader, "\"tensors\" must be an array of {name, dtype, shape}");
  if (desc.size() != body.size() - 1)
    throw ProtocolError(code::kBadFrames, "header lists " + std::to_string(desc.size()) + " tensor(s) but " +
                                              std::to_string(body.size() - 1) + " data frame(s) follow");
  for (size_t i = 0; i < desc.size(); ++i) {
    const json& d = desc[i];
    const std::string where = "tensors[" + std::to_string(i) + "]";
    if (!d.is_object() || !d.contains("name") || !d["name"].is_string() || !d.contains("dtype") ||
        !d["dtype"].is_string() || !d.contains("shape") || !d["shape"].is_array() || d.size() != 3)
      throw ProtocolError(code::kBadHeader, where + ": expected exactly {name: str, dtype: str, shape: [int]}");
    NamedTensor t;
    t.name = d["name"].get<std::string>();
    if (!wire_dtype_from_name(d["dtype"].get<std::string>(), t.data.dtype))
      throw ProtocolError(code::kBadTensor, where + " '" + excerpt(t.name) + "': dtype '" +
                                                excerpt(d["dtype"].get<std::string>()) +
                                                "' (expected uint8, int8, int32 or float32)");
    if (d["shape"].size() > 8)
      throw ProtocolError(code::kBadTensor, where + " '" + excerpt(t.name) + "': at most 8 dimensions");
    // Bytes = prod(shape) * dtype size, every step checked: a product that would overflow, or
    // exceed the limit, is refused before anything is compared or allocated.
    int64_t bytes = model::dtype_size(t.data.dtype);
    for (const json& s : d["shape"]) {
      // Non-negative integers are stored unsigned, negative ones signed (nlohmann::json).
      if (!s.is_number_unsigned() || s.get<uint64_t>() > uint64_t(INT64_MAX))
        throw ProtocolError(code::kBadTensor, where + " '" + excerpt(t.name) + "': shape entries must be integers >= 0");
      t.data.shape.push_back(s.get<int64_t>());
      if (__builtin_mul_overflow(bytes, t.data.shape.back(), &bytes) || bytes > limits.max_tensor_bytes)
        throw ProtocolError(code::kTooLarge, fmt::format("{} '{}': shape {} needs more than {} bytes", where,
                                                         excerpt(t.name), json_text(s), limits.max_tensor_bytes));
    }
    for (const NamedTensor& o : m.tensors)
      if (o.name == t.name) throw ProtocolError(code::kBadTensor, where + ": duplicate tensor name '" + t.name + "'");
    const auto& f = body[i + 1];
    const size_t want = size_t(bytes);
    if (f.size() != want)
      throw ProtocolError(code::kBadTensor, where + " '" + t.name + "': frame has " + std::to_string(f.size()) +
                                                " bytes, dtype and shape " + model::shape_to_string(t.data.shape) +
                                                " need " + std::to_string(want));
    t.data.bytes.resize(want);
    if (want) std::memcpy(t.data.bytes.data(), f.data(), want);
    m.tensors.push_back(std::move(t));
  }
  return m;
}

std::vector<zmq::message_t> encode_message(const Message& m) {
  json h = m.header;
  json desc = json::array();
  for (const NamedTensor& t : m.tensors)
    desc.push_back({{"name", t.name}, {"dtype", wire_dtype_name(t.data.dtype)}, {"shape", t.data.shape}});
  if (!m.tensors.empty()) h["tensors"] = desc;
  std::vector<zmq::message_t> out;
  out.emplace_back(json_text(h));  // user strings may not be UTF-8
  for (const NamedTensor& t : m.tensors) out.emplace_back(t.data.bytes.data(), t.data.bytes.size());
  return out;
}

}  // namespace spikechip::cosim
