// libFuzzer target: one co-simulation request as the server receives it (cosim/protocol): the
// header frame and tensor frames, separated in the input by the 4-byte part marker.
#include <zmq.hpp>

#include "cosim/protocol.hpp"
#include "fuzz/fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace spikechip;
  std::vector<zmq::message_t> body;
  for (std::string_view part : fuzz::split_parts(data, size)) body.emplace_back(part.data(), part.size());
  cosim::FrameLimits limits;
  limits.max_header_bytes = 64 << 10;
  limits.max_tensor_bytes = 1 << 20;
  fuzz::expect_clean([&] {
    const cosim::Message m = cosim::parse_message(body, limits);
    (void)cosim::encode_message(m);
    (void)cosim::header_id(m.header);
  });
  return 0;
}
