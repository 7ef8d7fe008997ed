#pragma once
// Wire format of the co-simulation protocol (docs/cosim.md, protocol 1): one JSON header frame
// followed by one raw frame per tensor the header lists in "tensors": [{name, dtype, shape}]
// (little-endian, C order). Parsing is strict: every malformed message becomes a ProtocolError
// with a stable code that the server returns to the client.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "models/safetensors.hpp"
#include "base/error.hpp"
#include "base/strict_json.hpp"

namespace spikechip::cosim {

inline constexpr int kProtocolVersion = 1;

// Error codes of {type:"error"} replies (the table in docs/cosim.md).
namespace code {
inline constexpr const char* kBadJson = "bad_json";
inline constexpr const char* kBadHeader = "bad_header";
inline constexpr const char* kUnknownType = "unknown_type";
inline constexpr const char* kProtocolMismatch = "protocol_mismatch";
inline constexpr const char* kBadFrames = "bad_frames";
inline constexpr const char* kBadTensor = "bad_tensor";
inline constexpr const char* kTooLarge = "too_large";
inline constexpr const char* kNoModel = "no_model";
inline constexpr const char* kNoChip = "no_chip";
inline constexpr const char* kBadModel = "bad_model";
inline constexpr const char* kBadChip = "bad_chip";
inline constexpr const char* kMapFailed = "map_failed";
// The chip model failed a cycle-mode run (mapping it cannot execute, stall) or its worker process died.
inline constexpr const char* kSimFailed = "sim_failed";
inline constexpr const char* kUnsupported = "unsupported";
inline constexpr const char* kTimeout = "timeout";
inline constexpr const char* kBusy = "busy";
inline constexpr const char* kShuttingDown = "shutting_down";
inline constexpr const char* kInternal = "internal";
}  // namespace code

class ProtocolError : public Error {
 public:
  ProtocolError(std::string c, const std::string& msg) : Error(msg), code_(std::move(c)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

struct NamedTensor {
  std::string name;
  model::TensorData data;  // dtype: U8, I8, I32 or F32
};

struct Message {
  nlohmann::json header = nlohmann::json::object();
  std::vector<NamedTensor> tensors;
};

// "uint8" <-> DType::U8 etc. (only the four wire dtypes).
const char* wire_dtype_name(model::DType d);
bool wire_dtype_from_name(const std::string& s, model::DType& out);

// The header's id (a number or a string) or null when the header is unusable.
nlohmann::json header_id(const nlohmann::json& header);

// Limits checked while parsing, before anything is allocated for the data they bound.
struct FrameLimits {
  size_t max_header_bytes = 1 << 20;      // the JSON header frame (checked before it is parsed)
  int64_t max_tensor_bytes = 256 << 20;   // prod(shape) * dtype size of one tensor
};

// The header frame as a JSON object: too_large above limits.max_header_bytes (not parsed then),
// bad_json when it is not JSON, bad_header when it is not an object. Throws ProtocolError.
nlohmann::json parse_header(const zmq::message_t& frame, const FrameLimits& limits);

// Checks a parsed header and takes the tensor frames (body[1..]): "type" string, "id" number or
// string, "protocol" == kProtocolVersion, descriptors well formed, one frame per descriptor,
// frame size == prod(shape) * dtype size, computed with overflow checks. Throws ProtocolError.
Message parse_message(nlohmann::json header, const std::vector<zmq::message_t>& body, const FrameLimits& limits);
// Both steps: body[0] is the header frame.
Message parse_message(const std::vector<zmq::message_t>& body, const FrameLimits& limits = {});

// Header frame (compact JSON) followed by the tensor frames.
std::vector<zmq::message_t> encode_message(const Message& m);

nlohmann::json error_header(const nlohmann::json& id, const std::string& code, const std::string& message);

// Throws ProtocolError(bad_header) naming the first key of `h` not in `allowed`.
void check_keys(const nlohmann::json& h, std::initializer_list<const char*> allowed);

}  // namespace spikechip::cosim
