#pragma once
// A DRAM device timing model behind arch::OffchipMemory (docs/architecture.md, "Off-chip memory
// timing"): independent channels, each with banks holding one open row (open-page policy), the
// core timings tRCD (activate -> column command), tRP (precharge), tCL (column command -> first
// data) and tBurst (one burst on the data bus), and all-bank refresh every tREFI that blocks the
// channel for tRFC and closes every row. The device figures are presets named by `dram.model`
// (dram_devices(), each with its source); `dram.model = channel` keeps the fixed-latency
// DramChannel (arch/offchip_memory.hpp), the default.
#include <cstdint>
#include <string>
#include <vector>

#include "arch/offchip_memory.hpp"

namespace spikechip::arch {

// One channel's energy per device action, worked out from the device's currents with DRAMPower's
// equations (Chandrasekar et al., DATE 2011 / DAC 2012; docs/energy.md "DRAM device energy"):
//   activate + precharge = ((IDD0 - IDD3N) tRAS + (IDD0 - IDD2N) tRP) V
//   read (write) burst   = (IDD4R (IDD4W) - IDD3N) tBurst V
//   all-bank refresh     = (IDD5 - IDD3N) tRFC V;   background (active standby) = IDD3N V
// summed over the device's supplies. All zero: no sourced figures for the device, so its traffic is
// priced per bit by the technology table's dram_bit instead.
struct DramEnergy {
  const char* source = "";
  double act_pre_pj = 0, read_burst_pj = 0, write_burst_pj = 0, refresh_pj = 0;
  double background_mw = 0;  // per channel, while the run lasts
  bool sourced() const { return act_pre_pj > 0; }
};

// One DRAM channel's organisation and timing (times in picoseconds).
struct DramDevice {
  const char* name;
  const char* source;    // where the figures come from (docs/architecture.md cites the same)
  int banks;             // per channel
  int row_bytes;         // row (page) size of one channel
  int burst_bytes;       // bytes one burst moves: bus width x burst length
  uint64_t tRCD, tRP, tCL, tBurst, tREFI, tRFC;
  DramEnergy energy;
  // Data-bus peak of one channel: burst_bytes per tBurst.
  double peak_bytes_per_s() const { return double(burst_bytes) * 1e12 / double(tBurst); }
};

const std::vector<DramDevice>& dram_devices();
// Null when `name` is not a device (e.g. "channel").
const DramDevice* find_dram_device(const std::string& name);
// The values of `dram.model`: "channel", then the devices.
std::vector<std::string> dram_model_names();

struct DramStats {
  uint64_t row_hits = 0, row_misses = 0, row_conflicts = 0;  // bursts: open row / closed bank / other row open
  uint64_t read_bursts = 0, write_bursts = 0;                // the same bursts by direction
  uint64_t refreshes = 0;          // refresh windows passed (each closes every row of its channel)
  uint64_t refresh_waits = 0;      // bursts pushed behind a refresh window
  uint64_t bytes_read = 0, bytes_written = 0;
  uint64_t busy_ps = 0;            // data-bus time of the bursts, summed over channels
  uint64_t activates() const { return row_misses + row_conflicts; }  // each with its precharge
};

// Addresses map row : bank : channel : column, so a sequential stream fills one row of channel 0,
// then the same row number of channel 1, ..., then the next bank: streams spread over every
// channel and keep the next banks' rows opening while one streams. A request is cut into bursts
// of burst_bytes, served in address order per channel, all channels in parallel. Per burst:
//   row hit:      column command at max(request, bank free for the next column command)
//   row closed:   activate at max(request, bank precharged), column command tRCD later
//   row conflict: precharge first (tRP), then as a closed row
//   data:         from max(column command + tCL, data bus free), for tBurst.
// Refresh k (k >= 1) occupies [k tREFI, k tREFI + tRFC) of every channel: a burst whose data would
// end after k tREFI waits until the window ends, with every row closed. Writes are timed like
// reads (write latency taken as tCL). Chip cycles convert to picoseconds at clock_hz (rounded to
// 1 Hz), exactly; a returned cycle is the first chip cycle at or after the last byte.
class DramTiming final : public OffchipMemory {
 public:
  DramTiming(const DramDevice& d, int channels, double clock_hz);
  uint64_t read(uint64_t addr, uint64_t bytes, uint64_t cycle, bool burst, uint8_t* data) override;
  uint64_t write(uint64_t addr, uint64_t bytes, uint64_t cycle, const uint8_t* data) override;
  const DramStats& stats() const { return st_; }
  const DramDevice& device() const { return dev_; }
  int channels() const { return int(ch_.size()); }
  uint64_t ps_of_cycle(uint64_t cycle) const;
  uint64_t cycle_of_ps(uint64_t ps) const;  // rounded up

 private:
  struct Bank {
    int64_t row = -1;          // open row, -1: precharged
    uint64_t col_ready = 0;    // next column command to the open row
    uint64_t pre_ready = 0;    // the bank may precharge / activate from then
  };
  struct Channel {
    std::vector<Bank> banks;
    uint64_t bus_free = 0;
    uint64_t refreshed = 0;    // refresh windows 1..refreshed have been applied
  };
  uint64_t access(uint64_t addr, uint64_t bytes, uint64_t cycle, uint64_t& bursts);
  uint64_t burst(Channel& ch, int bank, int64_t row, uint64_t t0);
  void refresh(Channel& ch);   // applies window ch.refreshed + 1

  DramDevice dev_;
  std::vector<Channel> ch_;
  uint64_t clock_hz_;
  DramStats st_;
};

}  // namespace spikechip::arch
