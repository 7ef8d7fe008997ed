// Serial core: the smallest event-driven design, one adder. Every SOP, every finalised output
// and every SDSA operation takes one cycle, whatever adder_lanes and sdsa_lanes say; the SRAM
// accesses are the event core's. Registered by one line in arch/core/list.hpp:
//   SPIKECHIP_CORE_MODEL(kCoreSerial)
#include "arch/core/core_registry.hpp"

namespace spikechip::arch {

class SerialCore : public CoreModel {
 public:
  using CoreModel::CoreModel;

  // `sops` additions in runs of `run` contiguous output channels, one per cycle.
  uint64_t spike_input_cost(int64_t, int64_t sops, int run) override {
    const int64_t taps = ceil_div64(sops, run);
    cnt.sops += uint64_t(sops), cnt.adds += uint64_t(sops);
    cnt.weight_sram_reads += uint64_t(taps * ceil_div64(run, weights_per_read_));
    cnt.membrane_sram_reads += uint64_t(sops), cnt.membrane_sram_writes += uint64_t(sops);
    return uint64_t(sops);
  }
  // Finalise each accumulator (the shared element-wise pass counts its accesses), one per cycle.
  uint64_t conv_task_cost(int64_t outputs, int64_t) override {
    elementwise_cost(outputs, 1, 1);
    return uint64_t(outputs);
  }
  uint64_t sdsa_task_cost(int64_t ops, int64_t) override {
    cnt.sdsa_ops += uint64_t(ops);
    return uint64_t(ops);
  }
};

extern const CoreModelInfo kCoreSerial{"serial", "one adder: a cycle per SOP, per finalised output and per SDSA op",
                                       make_core<SerialCore>};

}  // namespace spikechip::arch
