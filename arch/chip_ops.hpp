#pragma once
// The layer ops as the chip executes them, one table row per model::Op (arch/chip_ops.cpp): what a
// new op needs on the chip is its row. The engine (arch/chip_engine.hpp) asks the row how to set
// up a slot, how many weight bytes it holds, what a packet arriving for it does (and costs on the
// core's synapse engine), and what its task for a timestep computes (and costs on the node unit).
#include <cstdint>

#include "arch/chip_engine.hpp"

namespace spikechip::arch::detail {

struct OpRules {
  // The op's output is a membrane tensor kept whole in ChipEngine::val (the ops after it read it).
  bool membrane_tensor = false;
  // Reads spikes only through its synapse engine (packets): a LIF of the same cluster cannot feed it.
  bool spikes_remote_only = false;
  // Its task runs on the core's SDSA unit (the time is booked as sdsa_busy, not node_busy).
  bool sdsa_unit = false;
  // Per-slot state at set-up (after the slot's ports are known); may be null.
  void (*setup)(ChipEngine&, GroupState&, Slot&) = nullptr;
  // Weight bytes the slot holds in the weight SRAM (the mapper's per-channel rule); may be null (0).
  int64_t (*weight_bytes)(const model::Graph&, const model::Node&, const model::Slice&) = nullptr;
  // A data packet for input `input` of the slot arrives: store or accumulate it, count the
  // golden's statistics in `st`, return the synapse-engine cycles. Null: the op reads no packets.
  uint64_t (*arrive)(ChipEngine&, GroupState&, Slot&, int input, const PacketData&, CoreModel&, model::StepStats& st) =
      nullptr;
  // The slot's task for timestep t: compute its slice, return the node unit's cycles. Null: 1 cycle.
  uint64_t (*compute)(ChipEngine&, GroupState&, Slot&, int t, CoreModel&, model::StepStats& st) = nullptr;
};

const OpRules& op_rules(model::Op op);

}  // namespace spikechip::arch::detail
