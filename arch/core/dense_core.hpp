#pragma once
// The dense MAC-array core (core.type "dense"; docs/architecture.md, "Core models"): the
// conventional accelerator baseline. Its synapse engine only writes arriving spikes into the
// slice's input bitmap; every timestep, a Conv2d/Linear slice's task multiplies its whole fan-in,
// every input position whether a spike arrived or not, on `mac_lanes` multiply-accumulate lanes
// (output-stationary: an output accumulates in its lane's register, then is finalised like on
// the event core), and an SDSA task runs its two matrix products (K^T V, then Q (K^T V)) densely
// on the same lanes. Same SRAMs, same bits (binary inputs times int8 weights). Energy: one
// `mac_8bit` per MAC, one weight read per MAC (weight_word_bits / 8 weights per access), the
// input bits read 32 per membrane-SRAM word.
#include "arch/core/core_model.hpp"

namespace spikechip::arch {

class DenseCore : public CoreModel {
 public:
  DenseCore(int id, const CoreConfig& c) : CoreModel(id, c) {}

  // Each spike sets its bit in the input bitmap (a read-modify-write of a 32-bit membrane-SRAM
  // word), mac_lanes per cycle; nothing is added yet.
  uint64_t spike_input_cost(int64_t spikes, int64_t, int) override {
    cnt.membrane_sram_reads += uint64_t(spikes), cnt.membrane_sram_writes += uint64_t(spikes);
    return uint64_t(ceil_div64(spikes, std::max(1, cfg_.mac_lanes)));
  }
  uint64_t conv_task_cost(int64_t outputs, int64_t dense_macs) override {
    return macs(dense_macs) + elementwise_cost(outputs, 1, 1);
  }
  uint64_t sdsa_task_cost(int64_t, int64_t dense_macs) override { return macs(dense_macs); }

 private:
  uint64_t macs(int64_t n) {
    cnt.dense_macs += uint64_t(n);
    cnt.weight_sram_reads += uint64_t(ceil_div64(n, weights_per_read_));
    cnt.membrane_sram_reads += uint64_t(ceil_div64(n, 32));
    return uint64_t(ceil_div64(n, std::max(1, cfg_.mac_lanes)));
  }
};

}  // namespace spikechip::arch
