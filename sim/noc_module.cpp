#include "sim/noc_module.hpp"

#include "base/error.hpp"

namespace spikechip::sim {

NocModule::NocModule(sc_core::sc_module_name name, arch::noc::Network& net, sc_core::sc_time clock_period)
    : sc_core::sc_module(name), net_(net), period_(clock_period) {
  if (period_ == sc_core::SC_ZERO_TIME) throw Error("NocModule: clock period must be > 0");
  SC_METHOD(tick);
  sensitive << wake_;
  dont_initialize();
}

uint64_t NocModule::current_cycle() const {
  return uint64_t(sc_core::sc_time_stamp() / period_);
}

uint64_t NocModule::inject(arch::noc::Packet p) {
  const uint64_t cycle = std::max(current_cycle(), net_.now());
  const uint64_t id = net_.inject(std::move(p), cycle);
  schedule();
  return id;
}

void NocModule::tick() {
  // Simulate the current cycle (and any earlier cycle not yet simulated), then sleep until the
  // network has something to do again.
  net_.advance_to(current_cycle() + 1);
  schedule();
}

void NocModule::schedule() {
  const uint64_t next = net_.next_event_cycle();
  if (next == arch::noc::kNever) return;
  const sc_core::sc_time at = time_of(next);
  const sc_core::sc_time now = sc_core::sc_time_stamp();
  wake_.notify(at > now ? at - now : sc_core::SC_ZERO_TIME);
}

}  // namespace spikechip::sim
