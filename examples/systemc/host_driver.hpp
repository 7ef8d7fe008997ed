#pragma once
// The example platform's host (docs/systemc.md): an sc_module with a TLM-2.0 initiator socket that
// drives the chip through its register map (sim/chip_tlm.hpp, chip_regs) as a CPU's driver would:
// hold reset for a few cycles, then for every input write the frames into the input window (over
// DMI when the chip grants it, else by b_transport), write TIMESTEPS and FRAMES, write START, poll
// STATUS until DONE or ERROR, and read the prediction, latency, counters, per-timestep cycles and
// output accumulators. Loosely timed: it waits out each transaction's annotated delay.
#include <cstdint>
#include <string>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>

namespace spikechip::example {

struct HostInput {
  std::vector<uint8_t> frames;  // [frames][C][H][W]
  int frames_count = 1, T = 1;
};

struct HostResult {
  uint32_t status = 0, error = 0;
  int prediction = -1;
  uint64_t latency_cycles = 0, spikes = 0, sops = 0, dram_bytes = 0;
  std::vector<uint64_t> timestep_end_cycles;
  std::vector<int64_t> output_acc;
  uint64_t polls = 0;
};

class HostDriver : public sc_core::sc_module {
 public:
  tlm_utils::simple_initiator_socket<HostDriver> socket;
  sc_core::sc_out<bool> rst;

  SC_HAS_PROCESS(HostDriver);
  // poll: the wait between two STATUS reads.
  HostDriver(sc_core::sc_module_name name, std::vector<HostInput> inputs, sc_core::sc_time poll);

  const std::vector<HostResult>& results() const { return results_; }
  bool used_dmi() const { return used_dmi_; }

 private:
  void run();
  // One b_transport; waits out its delay; a TLM error response stops the simulation with an error.
  void access(tlm::tlm_command cmd, uint64_t addr, uint8_t* data, unsigned len);
  uint32_t read32(uint64_t addr);
  uint64_t read64(uint64_t addr);
  void write32(uint64_t addr, uint32_t v);
  void write_input(const std::vector<uint8_t>& frames);

  std::vector<HostInput> inputs_;
  sc_core::sc_time poll_;
  std::vector<HostResult> results_;
  bool used_dmi_ = false;
};

}  // namespace spikechip::example
