#pragma once
// The chip's port to off-chip memory (docs/architecture.md "Phases", docs/systemc.md): the weight
// reloads and the spilled values of a time-multiplexed run are reads and writes through this
// interface. The default, DramChannel, is the channel of the chip config (dram.bytes_per_cycle,
// dram.latency_cycles) that the chip always modelled; sim/chip_tlm.hpp puts a TLM-2.0 initiator
// socket behind it, so that a SystemC platform's own memory model serves (and times) the accesses.
//
// The chip's addresses (relative to the memory's base; OffchipLayout):
//   weights image at 0: phase 0's groups' weights back to back (mapping group order), then
//   phase 1's, ...; phase p's reload is one read of its whole part (phase_weights_addr/bytes[p]);
//   spill area from spill_base (64-byte aligned after the weights): each spilled packet is written
//   once, in the order the chip spills them, 4 bytes per value (a spike's flat index or a 32-bit
//   partial sum, little-endian), and read back once per later phase that needs it.
#include <cstdint>
#include <memory>
#include <vector>

#include "arch/chip_config.hpp"
#include "arch/chip_mapping.hpp"

namespace spikechip::arch {

class OffchipMemory {
 public:
  virtual ~OffchipMemory() = default;
  // A read of `bytes` at `addr`, requested at chip cycle `cycle`, into `data` (null: the caller
  // only needs the timing). `burst`: the read follows the previous read without a gap (issued at
  // the cycle that one completed), so it pays no new access latency. Returns the cycle its last
  // byte is in.
  virtual uint64_t read(uint64_t addr, uint64_t bytes, uint64_t cycle, bool burst, uint8_t* data) = 0;
  // A posted write of `bytes` at `addr` requested at `cycle` (`data` may be null, as for read).
  // Returns the cycle the memory is done with it; the chip does not wait for it.
  virtual uint64_t write(uint64_t addr, uint64_t bytes, uint64_t cycle, const uint8_t* data) = 0;
  // True when the memory keeps the bytes written: the chip then passes the spilled values and
  // checks that what it reads back is what it wrote (a wrong memory model fails the run).
  virtual bool holds_data() const { return false; }
};

// The chip config's DRAM channel: one access at a time; a read pays latency_cycles unless it is a
// burst continuation, a write never does (posted); each access then occupies the channel for
// ceil(bytes / bytes_per_cycle) cycles. Timing only (holds no data).
class DramChannel final : public OffchipMemory {
 public:
  explicit DramChannel(const DramConfig& c) : cfg_(c) {}
  uint64_t read(uint64_t addr, uint64_t bytes, uint64_t cycle, bool burst, uint8_t* data) override;
  uint64_t write(uint64_t addr, uint64_t bytes, uint64_t cycle, const uint8_t* data) override;

 private:
  DramConfig cfg_;
  uint64_t free_ = 0;  // the channel is busy until then
};

// The chip config's off-chip memory: DramChannel for dram.model = "channel", else the device
// timing model DramTiming (arch/dram_timing.hpp) with dram.channels channels at clock_hz.
std::unique_ptr<OffchipMemory> make_offchip_memory(const ChipConfig& c);

// Where the chip's off-chip data lives (addresses relative to the memory's base).
struct OffchipLayout {
  std::vector<uint64_t> phase_weights_addr, phase_weights_bytes;  // [phase]
  uint64_t spill_base = 0;
};
// From the weight bytes of the mapping's groups and their phases.
OffchipLayout offchip_layout(const ChipMapping& m);

}  // namespace spikechip::arch
