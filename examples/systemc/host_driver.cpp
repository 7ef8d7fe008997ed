// The example host driver (examples/systemc/host_driver.hpp).
#include "host_driver.hpp"

#include <cstring>

#include <fmt/format.h>

#include "sim/chip_tlm.hpp"

namespace spikechip::example {

using namespace sim::chip_regs;

HostDriver::HostDriver(sc_core::sc_module_name name, std::vector<HostInput> inputs, sc_core::sc_time poll)
    : sc_core::sc_module(name), socket("socket"), rst("rst"), inputs_(std::move(inputs)), poll_(poll) {
  SC_THREAD(run);
}

void HostDriver::access(tlm::tlm_command cmd, uint64_t addr, uint8_t* data, unsigned len) {
  tlm::tlm_generic_payload tr;
  tr.set_command(cmd);
  tr.set_address(addr);
  tr.set_data_ptr(data);
  tr.set_data_length(len);
  tr.set_streaming_width(len);
  tr.set_byte_enable_ptr(nullptr);
  tr.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
  socket->b_transport(tr, delay);
  if (tr.is_response_error())
    SC_REPORT_FATAL(name(), fmt::format("{} of {} bytes at 0x{:x}: {}", tr.is_read() ? "read" : "write", len, addr,
                                        tr.get_response_string()).c_str());
  wait(delay);
}

uint32_t HostDriver::read32(uint64_t addr) {
  uint8_t b[4];
  access(tlm::TLM_READ_COMMAND, addr, b, 4);
  return uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24;
}

uint64_t HostDriver::read64(uint64_t addr) { return uint64_t(read32(addr)) | uint64_t(read32(addr + 4)) << 32; }

void HostDriver::write32(uint64_t addr, uint32_t v) {
  uint8_t b[4] = {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)};
  access(tlm::TLM_WRITE_COMMAND, addr, b, 4);
}

void HostDriver::write_input(const std::vector<uint8_t>& frames) {
  // Ask for a direct pointer to the input window; fall back to one write transaction.
  tlm::tlm_generic_payload tr;
  tr.set_address(kInput);
  tr.set_command(tlm::TLM_WRITE_COMMAND);
  tlm::tlm_dmi dmi;
  if (socket->get_direct_mem_ptr(tr, dmi) && dmi.is_write_allowed() && dmi.get_start_address() <= kInput &&
      dmi.get_end_address() + 1 >= kInput + frames.size()) {
    std::memcpy(dmi.get_dmi_ptr() + (kInput - dmi.get_start_address()), frames.data(), frames.size());
    wait(dmi.get_write_latency() * double((frames.size() + 7) / 8));
    used_dmi_ = true;
    return;
  }
  std::vector<uint8_t> copy = frames;
  access(tlm::TLM_WRITE_COMMAND, kInput, copy.data(), unsigned(copy.size()));
}

void HostDriver::run() {
  rst.write(true);
  wait(10, sc_core::SC_NS);
  rst.write(false);
  wait(10, sc_core::SC_NS);
  if (read32(kId) != kIdValue) SC_REPORT_FATAL(name(), "no spikechip at the host socket (ID register)");
  const uint32_t n_out = read32(kNumOutputs);
  for (const HostInput& in : inputs_) {
    write_input(in.frames);
    write32(kTimesteps, uint32_t(in.T));
    write32(kFrames, uint32_t(in.frames_count));
    write32(kCtrl, kStart);
    HostResult r;
    do {
      wait(poll_);
      r.status = read32(kStatus);
      ++r.polls;
    } while (r.status & kBusy);
    if (!(r.status & kDone)) {
      r.error = read32(kError);
      results_.push_back(r);
      break;
    }
    r.prediction = int(int32_t(read32(kPrediction)));
    r.latency_cycles = read64(kLatency);
    r.spikes = read64(kSpikes);
    r.sops = read64(kSops);
    r.dram_bytes = read64(kDramBytes);
    std::vector<uint8_t> buf(8 * size_t(std::max<uint32_t>(n_out, uint32_t(in.T))));
    access(tlm::TLM_READ_COMMAND, kOutput, buf.data(), 8 * n_out);
    for (uint32_t i = 0; i < n_out; ++i) {
      int64_t v;
      std::memcpy(&v, &buf[8 * i], 8);
      r.output_acc.push_back(v);
    }
    access(tlm::TLM_READ_COMMAND, kTimestepEnd, buf.data(), 8 * unsigned(in.T));
    for (int t = 0; t < in.T; ++t) {
      uint64_t v;
      std::memcpy(&v, &buf[8 * size_t(t)], 8);
      r.timestep_end_cycles.push_back(v);
    }
    results_.push_back(std::move(r));
  }
  sc_core::sc_stop();
}

}  // namespace spikechip::example
