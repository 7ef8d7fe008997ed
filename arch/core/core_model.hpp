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
  uint64_t bank_conflict = 0;  // synapse-engine cycles lost to membrane bank conflicts (spike_cost)
};

struct CoreCounters {
  CoreStalls stalls;
  uint64_t sops = 0, macs = 0, sdsa_ops = 0, neuron_updates = 0;
  uint64_t weight_sram_reads = 0, membrane_sram_reads = 0, membrane_sram_writes = 0;
  uint64_t packets_in = 0, packets_out = 0, flits_out = 0;
  uint64_t adds = 0, mults = 0;
  uint64_t dense_macs = 0;     // MAC-array multiply-accumulates of a dense core (energy: mac_8bit)
};

// Exact cycle accounting (docs/architecture.md, "Cycle accounting"): for each timed resource of a
// core, every cycle of the run [0, run_cycles) is busy, one stall, or idle, and they sum to
// run_cycles. The input engine serves the synapse engine's and the encoder's packets one at a
// time; the node unit runs node and SDSA tasks one at a time; the packetiser hands one flit per
// cycle to the router; the input queue is busy (holding packets), full (refusing) or empty.
struct CoreTime {
  uint64_t run_cycles = 0;
  uint64_t synapse_busy = 0, encoder_busy = 0, bank_conflict = 0, engine_idle = 0;
  uint64_t node_busy = 0, sdsa_busy = 0, waiting_input = 0, waiting_eot = 0, waiting_dram = 0, waiting_phase = 0,
           node_idle = 0;
  uint64_t output_busy = 0, output_idle = 0;
  uint64_t queue_busy = 0, queue_full = 0, queue_idle = 0;
  uint64_t engine_total() const { return synapse_busy + encoder_busy + bank_conflict + engine_idle; }
  uint64_t node_total() const { return node_busy + sdsa_busy + waiting_input + waiting_eot + waiting_dram + waiting_phase + node_idle;
  }
  uint64_t output_total() const { return output_busy + output_idle; }
  uint64_t queue_total() const { return queue_busy + queue_full + queue_idle; }
  // The core's busy cycles: the work of its units (input engine, node unit, packetiser).
  uint64_t busy() const { return synapse_busy + encoder_busy + node_busy + sdsa_busy + output_busy; }
  // Every resource's categories sum to the run.
  bool exact() const {
    return engine_total() == run_cycles && node_total() == run_cycles && output_total() == run_cycles &&
           queue_total() == run_cycles;
  }
};

// Why the node unit waited before a task (docs/architecture.md, "Cycle accounting"): its phase's
// weights were in at `weights` (time multiplexing; 0 otherwise), its remote data was processed at
// `data`, its last end-of-step marker arrived by `inputs`, its phase started at `phase` (<= weights).
struct NodeWait {
  uint64_t weights = 0, data = 0, inputs = 0, phase = 0;
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
  // The weight width of the layer whose synapse work is costed next: a weight-SRAM word holds
  // floor(weight_word_bits / bits) packed weights (8 bits: word/8, as before).
  void set_weight_bits(int bits) { weights_per_read_ = std::max(1, cfg_.weight_word_bits / std::max(1, bits)); }
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
  // The first cycle the queue accepts, given the packets booked so far: 0 while fewer than
  // input_queue_depth are booked, else the finish of the depth-th newest (finishes are monotone,
  // so queue_ready(c) == (c >= accepts_from())). Changes only when book_synapse adds a packet.
  uint64_t accepts_from() const {
    const size_t n = queue_.size(), d = size_t(cfg_.input_queue_depth);
    return n < d ? 0 : queue_[n - d];
  }
  // When a queue that is full at `cycle` accepts again (its oldest packet's finish); UINT64_MAX
  // when it is not refusing. The network may skip a backpressure wait up to the minimum.
  uint64_t accepts_again_at(uint64_t cycle) {
    return queue_ready(cycle) ? UINT64_MAX : queue_.front();
  }
  // Books `cycles` of synapse-engine work for a packet that arrived at `arrival`; returns the
  // cycle its effects are complete (membranes written).
  // `conflict` of the cycles are bank-conflict stalls; `encoder`: a pixel packet (the encoder's MACs).
  uint64_t book_synapse(uint64_t arrival, uint64_t cycles, uint64_t conflict = 0, bool encoder = false) {
    const uint64_t start = std::max(arrival, syn_free_);
    time.engine_idle += start - syn_free_;
    (encoder ? time.encoder_busy : time.synapse_busy) += cycles - conflict;
    time.bank_conflict += conflict;
    syn_free_ = start + cycles;
    // Packets finished by `arrival` have left (the network asks no earlier cycle from now on);
    // dropped here so the queue stays short when nothing else pops it.
    while (!queue_.empty() && queue_.front() <= arrival) queue_.pop_front();
    queue_.push_back(syn_free_);
    queue_time(arrival);
    acct_q_.push_back(syn_free_);
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
  // Books a task ready at `ready` (a task takes at least one cycle). The unit's idle gap before it
  // is charged to why the task was not ready, in order: its phase not started (waiting_phase), the
  // phase's weights still loading (waiting_dram: the weight stall), its data (waiting_input), its
  // end-of-step markers (waiting_eot). A gap past all four (none in the chip's controller: tested)
  // counts as waiting_input. Returns the end cycle.
  uint64_t book_node(uint64_t ready, uint64_t cycles, NodeWait w = {}, bool sdsa = false) {
    const uint64_t start = std::max(ready, node_free_);
    const uint64_t ph = std::clamp(w.phase, node_free_, start), wt = std::clamp(w.weights, ph, start);
    const uint64_t d = std::clamp(w.data, wt, start), i = std::clamp(w.inputs, d, start);
    time.waiting_phase += ph - node_free_, time.waiting_dram += wt - ph;
    time.waiting_input += d - wt + (start - i), time.waiting_eot += i - d;
    const uint64_t c = std::max<uint64_t>(1, cycles);
    (sdsa ? time.sdsa_busy : time.node_busy) += c;
    node_free_ = start + c;
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
  // Writing `n` received membrane words (a cut stream's operand) into the membrane SRAM.
  uint64_t store_cost(int64_t n) {
    cnt.membrane_sram_writes += uint64_t(n);
    return uint64_t(ceil_div64(n, lanes_));
  }
  uint64_t lif_cost(int64_t n) {
    cnt.neuron_updates += uint64_t(n);
    cnt.membrane_sram_reads += uint64_t(2 * n), cnt.membrane_sram_writes += uint64_t(n);
    return uint64_t(ceil_div64(n, std::max(1, cfg_.neuron_updates_per_cycle)));
  }

  // --- packetiser ------------------------------------------------------------------------------
  // A packet of `flits` flits made at `cycle`, handed to the router's local port one flit per
  // cycle after the packets before it (the network's injection queue holds the rest). Returns the
  // cycle its last flit is handed over.
  uint64_t count_sent(int flits, uint64_t cycle) {
    cnt.packets_out++, cnt.flits_out += uint64_t(flits);
    const uint64_t start = std::max(cycle, out_free_);
    time.output_idle += start - out_free_, time.output_busy += uint64_t(flits);
    out_free_ = start + uint64_t(flits);
    return out_free_;
  }
  // The last cycle any unit of the core is booked until.
  uint64_t booked_until() const { return std::max({syn_free_, node_free_, out_free_}); }
  // Closes the accounting at the run's end (>= booked_until()): the units' trailing idle cycles.
  void close_time(uint64_t run_cycles) {
    time.run_cycles = run_cycles;
    time.engine_idle += run_cycles - std::min(run_cycles, syn_free_);
    time.node_idle += run_cycles - std::min(run_cycles, node_free_);
    time.output_idle += run_cycles - std::min(run_cycles, out_free_);
    queue_time(run_cycles);
  }

  void reset() {
    cnt = CoreCounters{};
    time = CoreTime{};
    syn_free_ = node_free_ = out_free_ = q_cursor_ = 0;
    queue_.clear(), acct_q_.clear();
  }

  CoreCounters cnt;
  CoreTime time;

 protected:
  int id_;
  CoreConfig cfg_;
  int lanes_ = 1, weights_per_read_ = 8;

 private:
  // The input queue's occupancy from q_cursor_ to `to` (arrivals come in cycle order): empty =
  // idle, input_queue_depth packets = full (refusing), in between = busy.
  void queue_time(uint64_t to) {
    auto account = [&](uint64_t a, uint64_t b, size_t n) {
      if (b <= a) return;
      (n == 0 ? time.queue_idle : n >= size_t(cfg_.input_queue_depth) ? time.queue_full : time.queue_busy) += b - a;
    };
    while (!acct_q_.empty() && acct_q_.front() <= to) {
      account(q_cursor_, acct_q_.front(), acct_q_.size());
      q_cursor_ = std::max(q_cursor_, acct_q_.front());
      acct_q_.pop_front();
    }
    account(q_cursor_, to, acct_q_.size());
    q_cursor_ = std::max(q_cursor_, to);
  }

  uint64_t syn_free_ = 0, node_free_ = 0, out_free_ = 0, q_cursor_ = 0;
  std::deque<uint64_t> queue_;   // finish cycles of accepted packets (FIFO, monotone)
  std::deque<uint64_t> acct_q_;  // the same, for the occupancy accounting (queue_time)
};

}  // namespace spikechip::arch
