#pragma once
// A TLM-2.0 memory model for the example platform (docs/systemc.md): a loosely-timed target that
// holds the chip's weights image and spill area and times every access like a DRAM channel: one
// access at a time; an access waits until the channel is free; a read pays `latency` unless it
// begins exactly when the previous read ended (a burst streaming on), a write never does (posted);
// the data then take ceil(bytes / bytes_per_cycle) clock periods. With the chip config's
// dram.latency_cycles and dram.bytes_per_cycle at the chip clock, this is the timing of the chip's
// internal DRAM channel (arch/offchip_memory.hpp), which the example's test checks cycle for cycle.
// b_transport never calls wait(): it returns the access's end as the annotated delay.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

namespace spikechip::example {

class TlmMemory : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<TlmMemory> socket;

  struct Counters {
    uint64_t reads = 0, writes = 0, read_bytes = 0, write_bytes = 0;
  };

  // `image`: the initial contents from address 0 (the weights image); the memory grows on writes
  // up to `size` bytes. Accesses beyond get TLM_ADDRESS_ERROR_RESPONSE.
  TlmMemory(sc_core::sc_module_name name, std::vector<uint8_t> image, uint64_t size, sc_core::sc_time cycle,
            sc_core::sc_time latency, uint64_t bytes_per_cycle)
      : sc_core::sc_module(name), socket("socket"), data_(std::move(image)), size_(size), cycle_(cycle),
        latency_(latency), bytes_per_cycle_(std::max<uint64_t>(1, bytes_per_cycle)) {
    socket.register_b_transport(this, &TlmMemory::b_transport);
  }

  const Counters& counters() const { return n_; }
  const std::vector<uint8_t>& data() const { return data_; }

 private:
  void b_transport(tlm::tlm_generic_payload& tr, sc_core::sc_time& delay) {
    const uint64_t a = tr.get_address(), len = tr.get_data_length();
    if (tr.get_byte_enable_ptr() || tr.get_streaming_width() < len) return tr.set_response_status(tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
    if (a + len > size_ || a + len < a) return tr.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    const bool rd = tr.is_read();
    if (!rd && !tr.is_write()) return tr.set_response_status(tlm::TLM_OK_RESPONSE);
    if (data_.size() < a + len) data_.resize(a + len, 0);
    if (len) rd ? std::memcpy(tr.get_data_ptr(), &data_[a], len) : std::memcpy(&data_[a], tr.get_data_ptr(), len);
    // Timing: when the access begins and ends on the channel.
    const sc_core::sc_time t = sc_core::sc_time_stamp() + delay;
    sc_core::sc_time start = std::max(t, free_);
    if (rd && !(last_read_ && t == free_)) start += latency_;
    free_ = start + cycle_ * double((len + bytes_per_cycle_ - 1) / bytes_per_cycle_);
    last_read_ = rd;
    delay = free_ - sc_core::sc_time_stamp();
    (rd ? n_.reads : n_.writes)++;
    (rd ? n_.read_bytes : n_.write_bytes) += len;
    tr.set_response_status(tlm::TLM_OK_RESPONSE);
  }

  std::vector<uint8_t> data_;
  uint64_t size_;
  sc_core::sc_time cycle_, latency_;
  uint64_t bytes_per_cycle_;
  sc_core::sc_time free_ = sc_core::SC_ZERO_TIME;
  bool last_read_ = false;
  Counters n_;
};

}  // namespace spikechip::example
