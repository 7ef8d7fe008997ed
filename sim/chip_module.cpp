#include "sim/chip_module.hpp"

namespace spikechip::sim {

ChipModule::ChipModule(sc_core::sc_module_name name, sc_core::sc_time period, const arch::ChipRunOptions& opt,
                       std::function<arch::Chip*()> next, std::function<void(arch::Chip&)> done)
    : sc_core::sc_module(name), period_(period), opt_(opt), next_(std::move(next)), done_(std::move(done)) {
  SC_METHOD(tick);
  sensitive << wake_;
  dont_initialize();
}

void ChipModule::start() { wake_.notify(sc_core::SC_ZERO_TIME); }

void ChipModule::tick() {
  try {
    advance();
  } catch (...) {
    // No notification is left, so sc_start returns; simulate_inputs rethrows.
    failure_ = std::current_exception();
  }
}

void ChipModule::advance() {
  ++wakes_;
  const uint64_t abs = uint64_t(sc_core::sc_time_stamp() / period_);
  if (!chip_) {
    chip_ = next_();
    base_ = abs;
    if (!chip_) return;  // no notification left: sc_start returns (no "stopped by user" banner)
  }
  const uint64_t now = abs - base_;
  // Handle every event due before now + kQuantum, then sleep until the next one. While flits are
  // in flight the chip has an event every cycle; letting it run up to a quantum ahead of the
  // kernel (temporal decoupling, as a TLM quantum keeper does) saves a kernel wake per cycle and
  // changes nothing, since no other process observes the chip in between.
  if (run_events_before(*chip_, now + kQuantum, opt_.max_cycles)) {
    done_(*chip_);
    const uint64_t end = chip_->now();
    chip_ = nullptr;
    wake_.notify(period_ * double(end > now ? end - now : 1));  // the next input starts after this one
    return;
  }
  if (progress_) progress_(*chip_, chip_->now());
  if (opt_.stop && opt_.stop->load(std::memory_order_relaxed)) {
    stopped_ = true;
    return;  // no notification left: sc_start returns (no "stopped by user" banner)
  }
  const uint64_t next = chip_->next_event_cycle();
  if (opt_.max_cycles && next != arch::noc::kNever && next > opt_.max_cycles) {
    stopped_ = true;
    return;  // no notification left: sc_start returns (no "stopped by user" banner)
  }
  if (next == arch::noc::kNever) chip_->step();  // throws the stall diagnostic
  wake_.notify(period_ * double(next > now ? next - now : 1));
}

}  // namespace spikechip::sim
