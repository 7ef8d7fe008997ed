// The DRAM device timing model (arch/dram_timing.hpp): the device presets with their sources, and
// per burst the bank state machine (open row, activate, precharge), the shared data bus and
// all-bank refresh.
#include "arch/dram_timing.hpp"

#include <algorithm>
#include <cmath>

namespace spikechip::arch {

const std::vector<DramDevice>& dram_devices() {
  // Times in ps. JEDEC figures as tabulated by Ramulator (Kim, Yang, Mutlu, IEEE CAL 2015;
  // github.com/CMU-SAFARI/ramulator src/LPDDR4.{h,cpp}, src/HBM.{h,cpp}), converted at their tCK.
  static const std::vector<DramDevice> kDevices = {
      // LPDDR4-3200 (JESD209-4), one x16 channel of a 4 Gb-per-channel die, tCK 0.625 ns: 8 banks,
      // 2 KiB page, BL16 = 32 B per burst (nBL 8 -> 5 ns, 6.4 GB/s); nRCD 29, nRPpb 27, nCL 32,
      // nREFI 6247 (3.904 us, 1x refresh), nRFCab 288 (180 ns).
      {"lpddr4-3200", "JESD209-4 LPDDR4-3200 x16 channel (Ramulator LPDDR4_3200, 4 Gb/channel)", 8, 2048, 32,
       18125, 16875, 20000, 5000, 3904375, 180000,
       // Energy: Micron 6 Gb LPDDR4-3200, one x16 channel (DRAMSys memspec
       // MICRON_6Gb_LPDDR4-3200_32bit_A.json, github.com/tukl-msd/DRAMSys configs/memspec): tCK
       // 0.625 ns, tRAS 68, tRPpb 29, tRFCab 448 tCK, BL16 (tBurst 5 ns); VDD1 1.8 V: IDD0 3.5,
       // IDD2N 2.0, IDD3N 2.25, IDD4R 2.25, IDD4W 2.25, IDD5 10 mA; VDD2 1.1 V: IDD0 45, IDD2N 27,
       // IDD3N 30, IDD4R 275, IDD4W 210, IDD5 90 mA. VDDQ (I/O) is left out: LPDDR4 is
       // unterminated and its I/O energy belongs to the PHY and the trace, not the die.
       {"Micron 6Gb LPDDR4-3200 x16 IDD/VDD (DRAMSys memspec MICRON_6Gb_LPDDR4-3200_32bit_A) with DRAMPower's equations",
        1204.6875, 1347.5, 990.0, 22386.0, 37.05}},
      // HBM2 at 2 Gb/s per pin (JESD235A), one 128-bit legacy-mode channel: 16 banks, 2 KiB page,
      // BL4 = 64 B per burst (2 ns -> 32 GB/s; 8 channels = the 256 GB/s of a stack); core timings
      // as Ramulator's HBM table at tCK 2 ns: nRCD 7, nRP 7, nCL 7 (14 ns each), nREFI 1950
      // (3.9 us), nRFC 130 for 4 Gb per channel (260 ns).
      {"hbm2-2000", "JESD235A HBM2 2 Gb/s/pin, 128-bit channel (core timings: Ramulator HBM, 4 Gb/channel)", 16, 2048, 64,
       14000, 14000, 14000, 2000, 3900000, 260000,
       // Energy: DRAMsim3's HBM2 8 Gb x128 channel (github.com/umd-memsys/DRAMsim3
       // configs/HBM2_8Gb_x128.ini; Li et al., IEEE CAL 2020): VDD 1.2 V, tCK 1 ns, tRAS 34, tRP 14,
       // tRFC 260 ns, BL4 (tBurst 2 ns); IDD0 65, IDD2N 40, IDD3N 55, IDD4R 390, IDD4W 500, IDD5AB
       // 250 mA. These are the simulator's estimates for a 128-bit channel, not a vendor datasheet
       // (DRAMSys' JEDEC HBM2 memspec has zero currents). I/O (VDDQ) is left out as for LPDDR4.
       {"HBM2 8Gb x128 channel IDD/VDD (DRAMsim3 configs/HBM2_8Gb_x128.ini) with DRAMPower's equations",
        828.0, 804.0, 1068.0, 60840.0, 66.0}},
  };
  return kDevices;
}

const DramDevice* find_dram_device(const std::string& name) {
  for (const DramDevice& d : dram_devices())
    if (name == d.name) return &d;
  return nullptr;
}

std::vector<std::string> dram_model_names() {
  std::vector<std::string> out = {"channel"};
  for (const DramDevice& d : dram_devices()) out.push_back(d.name);
  return out;
}

DramTiming::DramTiming(const DramDevice& d, int channels, double clock_hz)
    : dev_(d), ch_(size_t(std::max(1, channels))), clock_hz_(uint64_t(std::llround(clock_hz))) {
  for (Channel& c : ch_) c.banks.assign(size_t(d.banks), Bank{});
}

uint64_t DramTiming::ps_of_cycle(uint64_t cycle) const {
  return uint64_t((unsigned __int128)cycle * 1000000000000ULL / clock_hz_);
}

uint64_t DramTiming::cycle_of_ps(uint64_t ps) const {
  const unsigned __int128 n = (unsigned __int128)ps * clock_hz_;
  return uint64_t((n + 999999999999ULL) / 1000000000000ULL);
}

void DramTiming::refresh(Channel& ch) {
  const uint64_t end = ++ch.refreshed * dev_.tREFI + dev_.tRFC;
  for (Bank& b : ch.banks) b.row = -1, b.col_ready = std::max(b.col_ready, end), b.pre_ready = std::max(b.pre_ready, end);
  ch.bus_free = std::max(ch.bus_free, end);
  ++st_.refreshes;
}

uint64_t DramTiming::burst(Channel& ch, int bank, int64_t row, uint64_t t0) {
  while ((ch.refreshed + 1) * dev_.tREFI <= t0) refresh(ch);  // windows that began before the request
  for (;;) {
    Bank& b = ch.banks[size_t(bank)];
    uint64_t col;
    const bool hit = b.row == row;
    if (hit) {
      col = std::max(t0, b.col_ready);
    } else {
      col = std::max(t0, b.pre_ready) + (b.row >= 0 ? dev_.tRP : 0) + dev_.tRCD;
    }
    const uint64_t start = std::max(col + dev_.tCL, ch.bus_free), end = start + dev_.tBurst;
    if (end > (ch.refreshed + 1) * dev_.tREFI) {  // the next refresh is due first
      refresh(ch);
      ++st_.refresh_waits;
      continue;
    }
    (hit ? st_.row_hits : b.row >= 0 ? st_.row_conflicts : st_.row_misses)++;
    b.row = row;
    b.col_ready = start - dev_.tCL + dev_.tBurst;  // column commands to an open row: one per tBurst
    b.pre_ready = end;
    ch.bus_free = end;
    st_.busy_ps += dev_.tBurst;
    return end;
  }
}

uint64_t DramTiming::access(uint64_t addr, uint64_t bytes, uint64_t cycle, uint64_t& bursts) {
  if (bytes == 0) return cycle;
  const uint64_t t0 = ps_of_cycle(cycle), bb = uint64_t(dev_.burst_bytes), rb = uint64_t(dev_.row_bytes);
  const uint64_t nch = ch_.size(), nb = uint64_t(dev_.banks);
  uint64_t last = t0;
  for (uint64_t a = addr / bb * bb; a < addr + bytes; a += bb) {
    const uint64_t r = a / rb;  // row-sized chunk: row : bank : channel
    last = std::max(last, burst(ch_[r % nch], int(r / nch % nb), int64_t(r / nch / nb), t0));
    ++bursts;
  }
  return cycle_of_ps(last);
}

uint64_t DramTiming::read(uint64_t addr, uint64_t bytes, uint64_t cycle, bool, uint8_t*) {
  st_.bytes_read += bytes;
  return access(addr, bytes, cycle, st_.read_bursts);
}

uint64_t DramTiming::write(uint64_t addr, uint64_t bytes, uint64_t cycle, const uint8_t*) {
  st_.bytes_written += bytes;
  return access(addr, bytes, cycle, st_.write_bursts);
}

}  // namespace spikechip::arch
