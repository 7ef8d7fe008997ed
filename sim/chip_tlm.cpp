// ChipTlm (sim/chip_tlm.hpp): the register file behind the host target socket, the run thread that
// drives arch::Chip in the SystemC kernel, and the chip's off-chip accesses as TLM transactions.
#include "sim/chip_tlm.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "sim/chip_module.hpp"
#include "base/error.hpp"

namespace spikechip::sim {

using namespace chip_regs;
using sc_core::sc_time;

namespace {

void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}
void put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = uint8_t(v >> (8 * i));
}
uint32_t get32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t(p[i]) << (8 * i);
  return v;
}

}  // namespace

ChipTlm::ChipTlm(sc_core::sc_module_name name, const model::Graph& g, const arch::ChipConfig& chip,
                 const arch::ChipMapping& m, uint64_t mem_base, int max_frames)
    : sc_core::sc_module(name), clk("clk"), rst("rst"), host("host"), mem("mem"), g_(g), cfg_(chip), m_(m),
      mem_base_(mem_base), layout_(arch::offchip_layout(m)) {
  frame_bytes_ = uint64_t(g.input().shape.size());
  for (const auto& n : g.nodes)
    if (n.op == model::Op::Output) num_outputs_ = int(n.shape.size());
  input_.assign(frame_bytes_ * uint64_t(std::max(1, max_frames)), 0);
  host.register_b_transport(this, &ChipTlm::b_transport);
  host.register_get_direct_mem_ptr(this, &ChipTlm::get_direct_mem_ptr);
  SC_THREAD(run_thread);
  async_reset_signal_is(rst, true);
}

void ChipTlm::clear() {
  chip_.reset();
  timesteps_ = uint32_t(std::max(1, g_.timesteps)), frames_ = 1, runs_ = 0, error_code_ = kNoError;
  busy_ = false, done_ = false;
  result_ = arch::ChipRunResult{};
  spikes_ = 0, sops_ = 0;
  error_.clear();
}

// ---------------------------------------------------------------------------------------------
// Run thread. The code before the first wait is the reset section (async_reset_signal_is).

void ChipTlm::run_thread() {
  clear();
  const auto* clock = dynamic_cast<const sc_core::sc_clock*>(clk.get_interface());
  period_ = clock ? clock->period() : sc_time(1e12 / cfg_.clock_hz, sc_core::SC_PS);
  for (;;) {
    wait(start_ev_);
    // A run begins at a rising edge: the clock's, or without an sc_clock the next multiple of the period.
    if (clock) {
      wait(clk.posedge_event());
    } else {
      const uint64_t p = period_.value(), now = sc_core::sc_time_stamp().value();
      wait(sc_time::from_value((now + p - 1) / p * p - now));
    }
    run_start_ = sc_core::sc_time_stamp();
    try {
      simulate();
    } catch (const sc_core::sc_unwind_exception&) {
      throw;  // reset: the kernel restarts the thread
    } catch (const std::exception& e) {
      chip_.reset();
      busy_ = false, done_ = false;
      fail(kChipFailed, e.what());
    }
    done_ev_.notify(sc_core::SC_ZERO_TIME);
  }
}

void ChipTlm::simulate() {
  // One chip for every run, as in a batch run: begin() resets what the previous run left. A
  // reset or a failed run drops it (clear(), run_thread), and the next run builds a new one.
  if (!chip_) chip_ = std::make_unique<arch::Chip>(g_, cfg_, m_);
  arch::ChipRunOptions opt;
  opt.record_spikes = false;
  opt.timeline_limit = 0;
  if (mem.size() > 0) opt.offchip = this;
  chip_->begin(model::InputView{input_.data(), run_frames_, g_.input().shape}, run_T_, opt);
  for (;;) {
    const uint64_t now = cycle_at(sc_core::sc_time_stamp());
    if (run_events_before(*chip_, now + kQuantum, 0)) break;
    const uint64_t next = chip_->next_event_cycle();
    if (next == arch::noc::kNever) chip_->step();  // throws the stall diagnostic
    wait(time_of(next) - sc_core::sc_time_stamp());
  }
  arch::ChipRunResult r = chip_->finish();
  // The engine ran ahead of the kernel: the result is at the host at run_start + latency.
  const sc_time at = time_of(r.latency_cycles);
  if (at > sc_core::sc_time_stamp()) wait(at - sc_core::sc_time_stamp());
  uint64_t spikes = 0, sops = 0;
  for (const auto& node : r.stats)
    for (const auto& s : node) spikes += uint64_t(s.spikes), sops += uint64_t(s.sops);
  result_ = std::move(r);
  spikes_ = spikes, sops_ = sops;
  busy_ = false, done_ = true, ++runs_;
}

void ChipTlm::fail(uint32_t code, const std::string& msg) {
  error_code_ = code, error_ = msg;
  SC_REPORT_WARNING(name(), msg.c_str());
}

uint64_t ChipTlm::cycle_at(const sc_time& t) const {
  if (t <= run_start_ || period_ == sc_core::SC_ZERO_TIME) return 0;
  return (t.value() - run_start_.value()) / period_.value();
}
sc_time ChipTlm::time_of(uint64_t cycle) const { return run_start_ + period_ * double(cycle); }

// ---------------------------------------------------------------------------------------------
// Host target socket.

uint64_t ChipTlm::status() const { return (busy_ ? kBusy : 0) | (done_ ? kDone : 0) | (error_code_ ? kErr : 0); }

void ChipTlm::read_regs(uint8_t* r, const sc_time& at) const {
  std::memset(r, 0, kRegsEnd);
  put32(r + kId, kIdValue);
  put32(r + kVersion, kVersionValue);
  put32(r + kStatus, uint32_t(status()));
  put32(r + kTimesteps, timesteps_);
  put32(r + kFrames, frames_);
  put32(r + kFrameBytes, uint32_t(frame_bytes_));
  put32(r + kNumOutputs, uint32_t(num_outputs_));
  put64(r + kCycle, busy_ ? cycle_at(at) : result_.latency_cycles);
  put32(r + kTimestep, uint32_t(busy_ ? (chip_ ? chip_->timestep() : 0) : done_ ? run_T_ : 0));
  put32(r + kPrediction, uint32_t(done_ ? result_.prediction : -1));
  put64(r + kLatency, result_.latency_cycles);
  put64(r + kSpikes, spikes_);
  put64(r + kSops, sops_);
  put64(r + kDramBytes, result_.dram_weight_bytes + result_.dram_spill_write_bytes + result_.dram_spill_read_bytes);
  put32(r + kRuns, runs_);
  put32(r + kError, error_code_);
  put32(r + kInputCapacity, uint32_t(std::min<uint64_t>(input_.size(), UINT32_MAX)));
}

void ChipTlm::b_transport(tlm::tlm_generic_payload& tr, sc_time& delay) {
  const uint64_t a = tr.get_address(), len = tr.get_data_length();
  uint8_t* p = tr.get_data_ptr();
  // One chip cycle per 8-byte beat of the host bus.
  delay += (period_ == sc_core::SC_ZERO_TIME ? sc_time(1, sc_core::SC_NS) : period_) * double(std::max<uint64_t>(1, (len + 7) / 8));
  if (tr.get_byte_enable_ptr()) return tr.set_response_status(tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
  if (tr.get_streaming_width() < len) return tr.set_response_status(tlm::TLM_BURST_ERROR_RESPONSE);
  const bool rd = tr.is_read();
  if (!rd && !tr.is_write()) return tr.set_response_status(tlm::TLM_OK_RESPONSE);  // TLM_IGNORE_COMMAND
  auto inside = [&](uint64_t lo, uint64_t hi) { return a >= lo && a + len <= hi && a + len >= a; };
  if (inside(kInput, kInput + input_.size())) {
    uint8_t* w = input_.data() + (a - kInput);
    rd ? std::memcpy(p, w, len) : std::memcpy(w, p, len);
    return tr.set_response_status(tlm::TLM_OK_RESPONSE);
  }
  if (inside(kOutput, kOutputEnd) || inside(kTimestepEnd, kTimestepEndEnd)) {
    if (!rd) return tr.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
    const bool out = a < kOutputEnd;
    const uint64_t base = out ? kOutput : kTimestepEnd;
    std::vector<uint8_t> img(out ? kOutputEnd - kOutput : kTimestepEndEnd - kTimestepEnd, 0);
    if (done_) {
      if (out)
        for (size_t i = 0; i < result_.output_acc.size() && 8 * i < img.size(); ++i) put64(&img[8 * i], uint64_t(result_.output_acc[i]));
      else
        for (size_t i = 0; i < result_.timestep_end_cycles.size() && 8 * i < img.size(); ++i) put64(&img[8 * i], result_.timestep_end_cycles[i]);
    }
    std::memcpy(p, img.data() + (a - base), len);
    return tr.set_response_status(tlm::TLM_OK_RESPONSE);
  }
  if (!inside(0, kRegsEnd)) return tr.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
  if (rd) {
    uint8_t regs[kRegsEnd];
    read_regs(regs, sc_core::sc_time_stamp() + delay);
    std::memcpy(p, regs + a, len);
    return tr.set_response_status(tlm::TLM_OK_RESPONSE);
  }
  if (len != 4 || (a != kCtrl && a != kTimesteps && a != kFrames))
    return tr.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
  const uint32_t v = get32(p);
  tr.set_response_status(tlm::TLM_OK_RESPONSE);
  if (a == kTimesteps) timesteps_ = v;
  if (a == kFrames) frames_ = v;
  if (a != kCtrl || !(v & kStart)) return;
  if (rst.read()) return tr.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);  // in reset
  if (busy_) return fail(kStartWhileBusy, "START written while a run is busy");
  if (timesteps_ < 1 || int(timesteps_) > kMaxTimesteps)
    return fail(kBadTimesteps, fmt::format("TIMESTEPS {} is not in 1..{}", timesteps_, kMaxTimesteps));
  if ((frames_ != 1 && frames_ != timesteps_) || frames_ * frame_bytes_ > input_.size())
    return fail(kBadFrames, fmt::format("FRAMES {} must be 1 or TIMESTEPS ({}) and fit the input window ({} frames)", frames_,
                                        timesteps_, input_.size() / std::max<uint64_t>(1, frame_bytes_)));
  run_T_ = int(timesteps_), run_frames_ = int(frames_);
  busy_ = true, done_ = false, error_code_ = kNoError, error_.clear();
  start_ev_.notify(delay);  // takes effect at the host's local time
}

bool ChipTlm::get_direct_mem_ptr(tlm::tlm_generic_payload& tr, tlm::tlm_dmi& dmi) {
  const uint64_t a = tr.get_address();
  if (a < kInput || a >= kInput + input_.size()) return false;
  dmi.set_dmi_ptr(input_.data());
  dmi.set_start_address(kInput);
  dmi.set_end_address(kInput + input_.size() - 1);
  dmi.allow_read_write();
  dmi.set_read_latency(period_);
  dmi.set_write_latency(period_);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Off-chip memory on the initiator socket: a chip cycle becomes the transaction's local time
// offset (the chip may run ahead of the kernel), the returned delay the cycle the access ends.

uint64_t ChipTlm::transport(tlm::tlm_command cmd, uint64_t addr, uint64_t bytes, uint64_t cycle, uint8_t* data) {
  if (!data) {
    if (scratch_.size() < bytes) scratch_.resize(bytes);
    data = scratch_.data();
  }
  tlm::tlm_generic_payload tr;
  tr.set_command(cmd);
  tr.set_address(mem_base_ + addr);
  tr.set_data_ptr(data);
  tr.set_data_length(unsigned(bytes));
  tr.set_streaming_width(unsigned(bytes));
  tr.set_byte_enable_ptr(nullptr);
  tr.set_dmi_allowed(false);
  tr.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  const sc_time at = time_of(cycle), now = sc_core::sc_time_stamp();
  sc_time delay = at > now ? at - now : sc_core::SC_ZERO_TIME;
  mem->b_transport(tr, delay);
  if (tr.is_response_error())
    throw Error(fmt::format("off-chip memory: {} of {} bytes at 0x{:x} failed ({})", cmd == tlm::TLM_READ_COMMAND ? "read" : "write",
                            bytes, mem_base_ + addr, tr.get_response_string()));
  // The access ends at the first clock edge at or after now + delay.
  const sc_time end = sc_core::sc_time_stamp() + delay;
  const uint64_t c = end <= run_start_ ? 0 : (end.value() - run_start_.value() + period_.value() - 1) / period_.value();
  return std::max(c, cycle);
}

uint64_t ChipTlm::read(uint64_t addr, uint64_t bytes, uint64_t cycle, bool, uint8_t* data) {
  return transport(tlm::TLM_READ_COMMAND, addr, bytes, cycle, data);
}

uint64_t ChipTlm::write(uint64_t addr, uint64_t bytes, uint64_t cycle, const uint8_t* data) {
  // b_transport takes a non-const pointer; a write target only reads it.
  return transport(tlm::TLM_WRITE_COMMAND, addr, bytes, cycle, const_cast<uint8_t*>(data));
}

}  // namespace spikechip::sim
