#pragma once
// The chip as a SystemC/TLM-2.0 module for virtual platforms (docs/systemc.md): a clock and an
// active-high reset input, a TLM target socket through which a host (a CPU model, a driver) writes
// an input, starts a run, polls the status and reads the outputs, and an initiator socket to
// off-chip memory that carries the weight reloads and spilled values of time-multiplexed mappings.
//
// The chip inside is arch::Chip, the event-driven engine `spikechip run` uses: the module's one
// thread wakes at the chip's next event (at most kQuantum cycles ahead of the kernel, as a TLM
// quantum keeper allows), never per cycle or per flit, so a run gives the same cycles and spikes
// as `spikechip run` on the same mapping and input (tested by examples/systemc and
// tests/cpp/test_tlm_example.cpp).
//
// Self-contained: include this header, link the spikechip library, bind clk, rst, host (and mem
// when the mapping is time-multiplexed; unbound, the chip config's DRAM channel is used). The
// graph, chip config and mapping must outlive the module. Register map: namespace chip_regs below.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include "arch/chip.hpp"
#include "arch/chip_config.hpp"
#include "arch/chip_mapping.hpp"
#include "arch/offchip_memory.hpp"
#include "models/graph.hpp"

namespace spikechip::sim {

// Host-visible memory map of the target socket (byte offsets, little-endian). Registers may be
// read with any width inside 0x000-0x0FF; only CTRL, TIMESTEPS and FRAMES are writable (aligned
// 32-bit writes). Accesses elsewhere, or writes to read-only places, get
// TLM_ADDRESS_ERROR_RESPONSE / TLM_COMMAND_ERROR_RESPONSE.
namespace chip_regs {
constexpr uint64_t kId = 0x000;          // R  32  0x53504b43 ("SPKC")
constexpr uint64_t kVersion = 0x004;     // R  32  1 (this map)
constexpr uint64_t kCtrl = 0x008;        // W  32  bit 0 START: run the input window with TIMESTEPS
constexpr uint64_t kStatus = 0x00c;      // R  32  bit 0 BUSY, bit 1 DONE (outputs valid), bit 2 ERROR
                                         //        (sticky until the next accepted START or reset)
constexpr uint64_t kTimesteps = 0x010;   // RW 32  T of the next run (reset: the model's timesteps)
constexpr uint64_t kFrames = 0x014;      // RW 32  frames in the input window: 1 (an image shown at
                                         //        every timestep) or T (event frames); reset: 1
constexpr uint64_t kFrameBytes = 0x018;  // R  32  bytes of one frame (C*H*W, u8)
constexpr uint64_t kNumOutputs = 0x01c;  // R  32  output accumulators (classes)
constexpr uint64_t kCycle = 0x020;       // R  64  cycles since the run began (its latency once done)
constexpr uint64_t kTimestep = 0x028;    // R  32  lowest timestep a core still works on (T when done)
constexpr uint64_t kPrediction = 0x02c;  // R  32  argmax of the outputs (int32; -1 before a result)
constexpr uint64_t kLatency = 0x030;     // R  64  latency of the last run: cycles until its result was at the host
constexpr uint64_t kSpikes = 0x038;      // R  64  spikes fired in the last run (every LIF layer, all timesteps)
constexpr uint64_t kSops = 0x040;        // R  64  synaptic operations of the last run
constexpr uint64_t kDramBytes = 0x048;   // R  64  off-chip bytes of the last run (weights + spill writes + reads)
constexpr uint64_t kRuns = 0x050;        // R  32  runs finished since reset
constexpr uint64_t kError = 0x054;       // R  32  why ERROR is set: 1 bad TIMESTEPS, 2 bad FRAMES, 3 START while
                                         //        busy, 4 the chip failed (message: ChipTlm::error_message())
constexpr uint64_t kInputCapacity = 0x058;  // R 32  bytes of the input window
constexpr uint64_t kRegsEnd = 0x100;
constexpr uint64_t kOutput = 0x1000;       // R  int64 [NUM_OUTPUTS]: output accumulators (summed over timesteps)
constexpr uint64_t kOutputEnd = 0x2000;
constexpr uint64_t kTimestepEnd = 0x2000;  // R  uint64 [T]: cycle the Output layer finished timestep t
constexpr uint64_t kTimestepEndEnd = 0x4000;
constexpr uint64_t kInput = 0x10000;       // RW u8 [FRAMES][C][H][W]; read at START (the host may
                                           //    write the next input while a run is busy); DMI
constexpr uint32_t kIdValue = 0x53504b43, kVersionValue = 1;
constexpr uint32_t kStart = 1;
constexpr uint32_t kBusy = 1, kDone = 2, kErr = 4;
enum ErrorCode : uint32_t { kNoError = 0, kBadTimesteps = 1, kBadFrames = 2, kStartWhileBusy = 3, kChipFailed = 4 };
}  // namespace chip_regs

class ChipTlm : public sc_core::sc_module, private arch::OffchipMemory {
 public:
  // Bound to an sc_clock, its period is the chip's cycle and runs begin at its rising edges. Bound
  // to any other bool signal (a clock the platform does not toggle), the cycle is 1 / clock_hz of
  // the chip config on a grid from time 0: the same cycles without the kernel's two events per
  // cycle that an sc_clock costs (docs/systemc.md "Speed").
  sc_core::sc_in<bool> clk;
  sc_core::sc_in<bool> rst;  // active high: aborts a run, clears status and outputs
  tlm_utils::simple_target_socket<ChipTlm> host;
  // Off-chip memory, at mem_base: the weights image and the spill area (arch/offchip_memory.hpp).
  tlm_utils::simple_initiator_socket_optional<ChipTlm> mem;

  static constexpr uint64_t kQuantum = 4096;  // cycles the chip may run ahead of the kernel
  static constexpr int kMaxTimesteps = int((chip_regs::kTimestepEndEnd - chip_regs::kTimestepEnd) / 8);

  SC_HAS_PROCESS(ChipTlm);
  // max_frames: frames the input window holds (its size is max_frames * C*H*W bytes).
  ChipTlm(sc_core::sc_module_name name, const model::Graph& g, const arch::ChipConfig& chip, const arch::ChipMapping& m,
          uint64_t mem_base = 0, int max_frames = 64);

  // Where the chip reads weights and spills values (relative to mem_base): what a platform's
  // memory model must hold (the weights image occupies [0, layout().spill_base)).
  const arch::OffchipLayout& layout() const { return layout_; }
  // Notified when a run finishes (DONE or ERROR set): an interrupt for a platform to wire up.
  const sc_core::sc_event& done_event() const { return done_ev_; }
  // The full result of the last finished run and the message behind ERROR (C++ side channel).
  const arch::ChipRunResult& last_result() const { return result_; }
  const std::string& error_message() const { return error_; }

 private:
  void run_thread();
  void simulate();
  void clear();
  void fail(uint32_t code, const std::string& msg);  // sets ERROR (a run in progress goes on)
  uint64_t cycle_at(const sc_core::sc_time& t) const;
  sc_core::sc_time time_of(uint64_t cycle) const;
  uint64_t status() const;
  void read_regs(uint8_t* regs, const sc_core::sc_time& at) const;
  // Target socket.
  void b_transport(tlm::tlm_generic_payload& tr, sc_core::sc_time& delay);
  bool get_direct_mem_ptr(tlm::tlm_generic_payload& tr, tlm::tlm_dmi& dmi);
  // arch::OffchipMemory, on the initiator socket.
  uint64_t read(uint64_t addr, uint64_t bytes, uint64_t cycle, bool burst, uint8_t* data) override;
  uint64_t write(uint64_t addr, uint64_t bytes, uint64_t cycle, const uint8_t* data) override;
  bool holds_data() const override { return true; }
  uint64_t transport(tlm::tlm_command cmd, uint64_t addr, uint64_t bytes, uint64_t cycle, uint8_t* data);

  const model::Graph& g_;
  const arch::ChipConfig& cfg_;
  const arch::ChipMapping& m_;
  const uint64_t mem_base_;
  const arch::OffchipLayout layout_;
  uint64_t frame_bytes_ = 0;
  int num_outputs_ = 0;
  std::vector<uint8_t> input_;
  std::vector<uint8_t> scratch_;  // data of reads the chip only times (weights)
  sc_core::sc_time period_;
  std::unique_ptr<arch::Chip> chip_;
  // Registers.
  uint32_t timesteps_ = 1, frames_ = 1, runs_ = 0, error_code_ = 0;
  bool busy_ = false, done_ = false;
  sc_core::sc_time run_start_;
  arch::ChipRunResult result_;
  uint64_t spikes_ = 0, sops_ = 0;
  std::string error_;
  int run_T_ = 1, run_frames_ = 1;
  sc_core::sc_event start_ev_, done_ev_;
};

}  // namespace spikechip::sim
