// The default off-chip memory (the chip config's DRAM channel), the choice between it and the
// device timing model, and the chip's off-chip layout (arch/offchip_memory.hpp).
#include "arch/offchip_memory.hpp"

#include <algorithm>

#include "arch/dram_timing.hpp"

namespace spikechip::arch {
namespace {

uint64_t transfer_cycles(uint64_t bytes, int bytes_per_cycle) {
  const uint64_t b = uint64_t(bytes_per_cycle);
  return (bytes + b - 1) / b;
}

}  // namespace

uint64_t DramChannel::read(uint64_t, uint64_t bytes, uint64_t cycle, bool burst, uint8_t*) {
  free_ = std::max(free_, cycle) + (burst ? 0 : uint64_t(cfg_.latency_cycles)) + transfer_cycles(bytes, cfg_.bytes_per_cycle);
  return free_;
}

uint64_t DramChannel::write(uint64_t, uint64_t bytes, uint64_t cycle, const uint8_t*) {
  free_ = std::max(free_, cycle) + transfer_cycles(bytes, cfg_.bytes_per_cycle);
  return free_;
}

std::unique_ptr<OffchipMemory> make_offchip_memory(const ChipConfig& c) {
  if (const DramDevice* d = find_dram_device(c.dram.model)) return std::make_unique<DramTiming>(*d, c.dram.channels, c.clock_hz);
  return std::make_unique<DramChannel>(c.dram);
}

OffchipLayout offchip_layout(const ChipMapping& m) {
  OffchipLayout l;
  l.phase_weights_bytes.assign(std::max<size_t>(1, m.phases.size()), 0);
  for (const auto& gr : m.groups) l.phase_weights_bytes.at(size_t(gr.phase)) += uint64_t(gr.weight_bytes);
  uint64_t a = 0;
  for (uint64_t b : l.phase_weights_bytes) l.phase_weights_addr.push_back(a), a += b;
  l.spill_base = (a + 63) / 64 * 64;
  return l;
}

}  // namespace spikechip::arch
