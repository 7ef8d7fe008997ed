#pragma once
// Thin SystemC wrapper of arch::Chip: a single scheduler process (one SC_METHOD) woken by an
// sc_event notified at the chip's next event cycle (a core unit finishing, or the network having
// flits in flight). Idle stretches cost the kernel nothing; per-core processes were not used
// because every wake of a method costs the kernel ~5 ns and the chip already knows the order.
#include <exception>
#include <functional>
#include <systemc>

#include "arch/chip.hpp"

namespace spikechip::sim {

// Handles every event of `chip` due before cycle `horizon` (and not after max_cycles, 0: no
// limit); true when the chip is done. The loop of both SystemC wrappers (ChipModule, ChipTlm).
inline bool run_events_before(arch::Chip& chip, uint64_t horizon, uint64_t max_cycles) {
  for (;;) {
    if (chip.done()) return true;
    const uint64_t next = chip.next_event_cycle();
    if (next >= horizon || (max_cycles && next > max_cycles)) return false;
    chip.step();
  }
}

class ChipModule : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(ChipModule);
  // next(): the chip of the next input, already begun (nullptr: no more inputs); done(chip):
  // called when an input's result reached the host. Inputs run back to back on one timeline;
  // each chip counts its own cycles from 0 (its start cycle in the kernel is the offset).
  ChipModule(sc_core::sc_module_name name, sc_core::sc_time period, const arch::ChipRunOptions& opt,
             std::function<arch::Chip*()> next, std::function<void(arch::Chip&)> done);
  // Called at every wake with the chip in progress and its current cycle (progress display).
  void on_progress(std::function<void(const arch::Chip&, uint64_t)> f) { progress_ = std::move(f); }
  // Called before sc_start: the first wake-up.
  void start();
  uint64_t wakes() const { return wakes_; }
  bool stopped() const { return stopped_; }
  arch::Chip* current() const { return chip_; }  // the unfinished chip after a stop
  // An exception the chip threw at a wake (a spikechip::Error such as a configuration the network
  // cannot carry, or the stall diagnostic): kept here, not thrown through the kernel, which would
  // wrap it in an sc_report ("E549 uncaught exception") and lose its type. The caller rethrows it
  // after sc_start returns (simulate_inputs).
  std::exception_ptr failure() const { return failure_; }

 private:
  void tick();
  void advance();
  static constexpr uint64_t kQuantum = 4096;  // cycles the chip may run ahead of the kernel
  arch::Chip* chip_ = nullptr;
  uint64_t base_ = 0;
  sc_core::sc_time period_;
  arch::ChipRunOptions opt_;
  std::function<arch::Chip*()> next_;
  std::function<void(arch::Chip&)> done_;
  std::function<void(const arch::Chip&, uint64_t)> progress_;
  sc_core::sc_event wake_;
  uint64_t wakes_ = 0;
  bool stopped_ = false;
  std::exception_ptr failure_;
};

}  // namespace spikechip::sim
