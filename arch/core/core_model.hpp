#pragma once
// The core-model interface (docs/architecture.md, "Core models"): what the chip's controller
// (arch/chip_schedule.cpp, the op table arch/chip_ops.cpp) asks a core. Plain C++: every unit is
// a "free at cycle" number that work is booked against; nothing runs per cycle. The units every
// model shares (input event queue, node unit, packetiser, the elementwise / LIF / encoder costs)
// are here; a model decides what spike-driven work costs: spikes arriving for a Conv2d/Linear
// slice, that slice's per-timestep task, and an SDSA task. Models are chosen by `core.type`
// (arch/core/core_registry.hpp).
#include <algorithm>
#include <cstdint>
#include <deque>

#include "arch/chip_config.hpp"

namespace spikechip::arch {

struct CoreStalls {
  uint64_t waiting_input = 0;  // node unit idle while a task waited for its remote inputs
  uint64_t bank_conflict = 0;  // synapse-engine cycles lost to membrane bank conflicts
  uint64_t output_full = 0;    // emission delayed because the output queue was full
  uint64_t waiting_eot = 0;    // inputs processed but an end-of-step marker was still missing
};

struct CoreCounters {
  uint64_t busy_cycles = 0;    // cycles any unit of the core worked (synapse + node unit, summed)
  CoreStalls stalls;
  uint64_t sops = 0, macs = 0, sdsa_ops = 0, neuron_updates = 0;
  uint64_t weight_sram_reads = 0, membrane_sram_reads = 0, membrane_sram_writes = 0;
  uint64_t packets_in = 0, packets_out = 0, flits_out = 0;
  uint64_t adds = 0, mults = 0;
  uint64_t dense_macs = 0;     // MAC-array multiply-accumulates of a dense core (energy: mac_8bit)
};

inline int64_t ceil_div64(int64_t a, int64_t b) { return (a + b - 1) / b; }

class CoreModel {
 public:
  CoreModel(int id, const CoreConfig& c) : id_(id), cfg_(c) {
    lanes_ = std::max(1, std::min(c.adder_lanes, c.membrane_banks));
    weights_per_read_ = std::max(1, c.weight_word_bits / 8);
  }
  virtual ~CoreModel() = default;
  int id() const { return id_; }
  const CoreConfig& config() const { return cfg_; }

  // --- what distinguishes a model ------------------------------------------------------------
  // `spikes` spike addresses arriving for a Conv2d/Linear slice whose fan-out into the slice is
  // `sops` additions in runs of `run` contiguous output channels: synapse-engine cycles.
  virtual uint64_t spike_input_cost(int64_t spikes, int64_t sops, int run) = 0;
  // A Conv2d/Linear slice's task for a timestep: `outputs` accumulators finalised; `dense_macs`
  // = the MACs of the slice's whole fan-in over every input position (0 for an encoder slice,
  // whose MACs ran as its pixels arrived). Node-unit cycles.
  virtual uint64_t conv_task_cost(int64_t outputs, int64_t dense_macs) = 0;
  // An SDSA slice's task: `ops` spike-driven AND/increment and row-add operations, or the
  // `dense_macs` of its two matrix products over every position. Node-unit cycles.
  virtual uint64_t sdsa_task_cost(int64_t ops, int64_t dense_macs) = 0;

  // --- input event queue + synapse engine ------------------------------------------------------
  // Occupancy of the input queue at `cycle`: packets accepted whose synapse work is not finished.
  bool queue_ready(uint64_t cycle) {
    while (!queue_.empty() && queue_.front() <= cycle) queue_.pop_front();
    return int(queue_.size()) < cfg_.input_queue_depth;
  }
  // When a queue that is full at `cycle` accepts again (its oldest packet's finish); UINT64_MAX
  // when it is not refusing. The network may skip a backpressure wait up to the minimum.
  uint64_t accepts_again_at(uint64_t cycle) {
    return queue_ready(cycle) ? UINT64_MAX : queue_.front();
  }
  // Books `cycles` of synapse-engine work for a packet that arrived at `arrival`; returns the
  // cycle its effects are complete (membranes written).
  uint64_t book_synapse(uint64_t arrival, uint64_t cycles) {
    const uint64_t start = std::max(arrival, syn_free_);
    syn_free_ = start + cycles;
    queue_.push_back(syn_free_);
    cnt.busy_cycles += cycles;
    cnt.packets_in++;
    return syn_free_;
  }
  // Every packet costs the engine one cycle to decode its header before its payload's work.
  uint64_t header_cost() const { return 1; }
  // SDSA input: `n` spike addresses written into the q/k/v spike buffers, sdsa_lanes per cycle.
  uint64_t sdsa_store_cost(int64_t n) const { return uint64_t(ceil_div64(n, std::max(1, cfg_.sdsa_lanes))); }
  // Encoder: mac_lanes multiply-accumulates per cycle.
  uint64_t mac_cost(int64_t macs) {
    cnt.macs += uint64_t(macs), cnt.mults += uint64_t(macs), cnt.adds += uint64_t(macs);
    cnt.weight_sram_reads += uint64_t(ceil_div64(macs, weights_per_read_));
    cnt.membrane_sram_reads += uint64_t(macs), cnt.membrane_sram_writes += uint64_t(macs);
    return uint64_t(ceil_div64(macs, std::max(1, cfg_.mac_lanes)));
  }

  // --- node unit (neuron / SDSA / finalise / reduction), one task at a time ----------------
  uint64_t node_free() const { return node_free_; }
  // A task whose inputs are complete at `ready`: the node unit idled waiting for them since it
  // became free (or since the group's previous task began, `since`).
  void note_input_wait(uint64_t ready, uint64_t since) {
    if (ready > node_free_) cnt.stalls.waiting_input += ready - std::max(node_free_, since);
  }
  // An end-of-step marker arriving at `cycle` after the source's last data was processed at
  // `last_data`: the inputs were complete but unconfirmed in between.
  void note_eot_wait(uint64_t cycle, uint64_t last_data) {
    if (cycle > last_data) cnt.stalls.waiting_eot += cycle - last_data;
  }
  uint64_t book_node(uint64_t ready, uint64_t cycles) {
    const uint64_t start = std::max(ready, node_free_);
    node_free_ = start + std::max<uint64_t>(1, cycles);
    cnt.busy_cycles += std::max<uint64_t>(1, cycles);
    return node_free_;
  }
  // Element-wise pass over `n` membrane words (finalise, Add, Mean partial sums): lanes limited
  // by the adders and the membrane banks.
  uint64_t elementwise_cost(int64_t n, int reads_per_elem, int writes_per_elem) {
    cnt.membrane_sram_reads += uint64_t(n * reads_per_elem);
    cnt.membrane_sram_writes += uint64_t(n * writes_per_elem);
    cnt.adds += uint64_t(n);
    return uint64_t(ceil_div64(n, lanes_));
  }
  uint64_t lif_cost(int64_t n) {
    cnt.neuron_updates += uint64_t(n);
    cnt.membrane_sram_reads += uint64_t(2 * n), cnt.membrane_sram_writes += uint64_t(n);
    return uint64_t(ceil_div64(n, std::max(1, cfg_.neuron_updates_per_cycle)));
  }

  // --- packetiser ------------------------------------------------------------------------------
  // One flit per cycle into the router's local port; the output queue holds output_queue_depth
  // packets, so a burst larger than that waits for the oldest to leave.
  uint64_t emit_cost(uint64_t packets, uint64_t flits) {
    cnt.packets_out += packets, cnt.flits_out += flits;
    if (packets > uint64_t(cfg_.output_queue_depth))
      cnt.stalls.output_full += flits - flits * uint64_t(cfg_.output_queue_depth) / packets;
    return flits;
  }
  // A packet of `flits` flits handed to the router's local port.
  void count_sent(int flits) { cnt.packets_out++, cnt.flits_out += uint64_t(flits); }

  void reset() {
    cnt = CoreCounters{};
    syn_free_ = node_free_ = 0;
    queue_.clear();
  }

  CoreCounters cnt;

 protected:
  int id_;
  CoreConfig cfg_;
  int lanes_ = 1, weights_per_read_ = 8;

 private:
  uint64_t syn_free_ = 0, node_free_ = 0;
  std::deque<uint64_t> queue_;  // finish cycles of accepted packets (FIFO, monotone)
};

}  // namespace spikechip::arch
