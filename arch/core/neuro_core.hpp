#pragma once
// The event-driven, addition-only neuro-core (core.type "event", the default; docs/architecture.md,
// "Neuro-core"): its synapse engine adds each arriving spike's fan-out into the membranes
// (adder_lanes per cycle, limited by the membrane banks), so work follows the spikes; a
// Conv2d/Linear slice's task only finalises the accumulators, and SDSA runs on the sdsa_lanes.
#include "arch/core/core_model.hpp"

namespace spikechip::arch {

class NeuroCore : public CoreModel {
 public:
  NeuroCore(int id, const CoreConfig& c) : CoreModel(id, c) {}

  uint64_t spike_input_cost(int64_t, int64_t sops, int run) override { return spike_cost(sops, run); }
  uint64_t conv_task_cost(int64_t outputs, int64_t) override { return elementwise_cost(outputs, 1, 1); }
  uint64_t sdsa_task_cost(int64_t ops, int64_t) override { return sdsa_cost(ops); }

  // Synapse cycles for one input spike whose fan-out is `sops` additions in runs of `run`
  // contiguous output channels: each tap's run is read-modify-written over min(P, banks) banks
  // per cycle (bank = word address mod banks, so a run of k words needs ceil(k / min(P, banks))
  // cycles); the weight SRAM delivers weight_word_bits/8 weights per read.
  uint64_t spike_cost(int64_t sops, int run) {
    if (sops == 0) return 0;
    const int64_t taps = ceil_div64(sops, run);
    const int64_t cyc = taps * ceil_div64(run, lanes_);
    const int64_t ideal = ceil_div64(sops, cfg_.adder_lanes);
    if (cyc > ideal) cnt.stalls.bank_conflict += uint64_t(cyc - ideal);
    cnt.sops += uint64_t(sops), cnt.adds += uint64_t(sops);
    cnt.weight_sram_reads += uint64_t(taps * ceil_div64(run, weights_per_read_));
    cnt.membrane_sram_reads += uint64_t(sops), cnt.membrane_sram_writes += uint64_t(sops);
    return uint64_t(cyc);
  }
  uint64_t sdsa_cost(int64_t ops) {
    cnt.sdsa_ops += uint64_t(ops);
    return uint64_t(ceil_div64(ops, std::max(1, cfg_.sdsa_lanes)));
  }
};

}  // namespace spikechip::arch
