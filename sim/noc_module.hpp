#pragma once
// Thin SystemC wrapper around arch::noc::Network: one SC_METHOD, woken only at the network's next
// event cycle, so an idle network costs the kernel nothing and a busy one costs one method call
// per cycle for the whole mesh (not one process per router).
#include <systemc>

#include "arch/noc/network.hpp"

namespace spikechip::sim {

class NocModule : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(NocModule);
  NocModule(sc_core::sc_module_name name, arch::noc::Network& net, sc_core::sc_time clock_period);

  // Inject from any SystemC process: the packet is created at the current cycle, or at the next
  // one if the network already simulated the current cycle in an earlier delta. Returns its id.
  uint64_t inject(arch::noc::Packet p);
  uint64_t current_cycle() const;  // floor(sc_time_stamp / period)
  sc_core::sc_time time_of(uint64_t cycle) const { return period_ * double(cycle); }
  sc_core::sc_time period() const { return period_; }
  arch::noc::Network& network() { return net_; }

 private:
  void tick();
  void schedule();
  arch::noc::Network& net_;
  sc_core::sc_time period_;
  sc_core::sc_event wake_;
};

}  // namespace spikechip::sim
