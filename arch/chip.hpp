#pragma once
// The whole chip (docs/architecture.md, "Chip"): the mesh network (arch/noc), one NeuroCore per
// tile holding the groups the mapping puts on it, and the host port. Plain C++ and event-driven:
// step() handles the earliest pending event (a core unit finishing, or the network having flits
// in flight); sim/chip_module.hpp only decides *when* step() runs in the SystemC kernel.
//
// Arithmetic: every neuron value is produced by the kernels of models/kernels.hpp on the slice
// of the layer the group owns, so the chip is bit-exact with the golden executor by construction
// (and verified against it spike for spike).
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "arch/chip_config.hpp"
#include "arch/chip_mapping.hpp"
#include "arch/core/core_model.hpp"
#include "arch/critical_path.hpp"
#include "arch/energy.hpp"
#include "arch/noc/network.hpp"
#include "models/executor.hpp"
#include "models/graph.hpp"
#include "models/kernels.hpp"

namespace spikechip::arch {

struct TimelineEntry {
  int core = 0, node = 0, timestep = 0;
  uint64_t start = 0, end = 0;
};

// Activity record for the run trace writers (report/trace_writer.hpp), kept only with
// ChipRunOptions::record_activity: intervals of one link carrying flits (back-to-back flits
// merged into one interval).
struct LinkActivity {
  int node = 0, port = 0;  // output link of `node` in direction port (0 N, 1 E, 2 S, 3 W)
  uint64_t start = 0, end = 0, flits = 0;
};

// A layer's share of its cores' cycles: the busy cycles of every unit's work for it (synapse
// engine / encoder for its inputs, node-unit tasks, packetiser flits of the packets it sends) and
// the stalls charged to it; the layers sum to the cores' CoreTime.
struct LayerTime {
  uint64_t busy = 0, bank_conflict = 0, waiting_input = 0, waiting_eot = 0, waiting_dram = 0, waiting_phase = 0;
};

struct ChipRunResult {
  int T = 0;
  bool complete = false;                           // false: stopped early (stop flag)
  std::vector<int64_t> output_acc;
  int prediction = -1;
  uint64_t latency_cycles = 0;                     // last result packet at the host
  std::vector<uint64_t> timestep_end_cycles;       // Output node done with timestep t
  std::vector<std::vector<model::StepStats>> stats;  // [node][t]
  std::vector<std::vector<uint8_t>> spikes;        // [node] -> [T][C][H][W] for LIF (if recorded)
  // Per layer (docs/architecture.md, "Cycle accounting"): first and last cycle of any unit's work
  // for it, over the run and per timestep ([node * T + t]), and its busy and stall cycles.
  std::vector<uint64_t> node_start, node_end;      // [node], cycles
  std::vector<uint64_t> node_step_start, node_step_end;  // [node * T + t], cycles
  std::vector<LayerTime> layer_time;               // [node]
  std::vector<CoreCounters> cores;                 // [global core id]
  std::vector<CoreTime> core_time;                 // [global core id]: exact per-unit cycles
  uint64_t run_cycles = 0;                         // the accounting window: max(latency, last booked work)
  std::vector<TimelineEntry> timeline;
  bool timeline_truncated = false;
  // The chain of dependent intervals that set latency_cycles (arch/critical_path.hpp): contiguous
  // segments from cycle 0 to the latency; empty when the run did not complete.
  std::vector<PathSegment> critical_path;
  // With record_activity: synapse-engine (and encoder MAC) work per core, packets of the same
  // (node, timestep) that follow each other without a gap merged; and per-link flit intervals.
  std::vector<TimelineEntry> synapse_timeline;
  std::vector<LinkActivity> link_activity;
  bool activity_truncated = false;  // activity_limit reached: later intervals were dropped
  // Time multiplexing (several phases): per phase, the cycle it began (its weight reload starts)
  // and the cycle its groups could start (weights loaded); DRAM bytes moved over the run.
  std::vector<uint64_t> phase_start_cycles, phase_ready_cycles;
  uint64_t dram_weight_bytes = 0, dram_spill_write_bytes = 0, dram_spill_read_bytes = 0;
  // With memory controllers on the mesh: the weight packets they sent and those packets' flits.
  uint64_t reload_packets = 0, reload_flits = 0;
  // A cut residual stream's values (route kind membrane): packets and flits sent by their sources.
  uint64_t membrane_packets = 0, membrane_flits = 0;
  // A fan-in split's partial sums (route kind fan_in): packets and flits sent by the partial groups.
  uint64_t fan_in_packets = 0, fan_in_flits = 0;
  EventCounts events;
  std::vector<EventCounts> node_events;            // [node]: each layer's own events; they sum to `events`
  // Per timestep [t] (docs/reports.md, "timesteps"): the latency cut at the timesteps' ends (the last
  // until the result is at the host), each timestep's own events (its tasks' and packets' work,
  // static energy of its cycles, a phase's weight reload at t = 0) and the network packets / flits
  // sent for it. Each sums over t to latency_cycles, `events`, net.packets_injected / flits_injected.
  std::vector<uint64_t> step_cycles, step_packets, step_flits;
  std::vector<EventCounts> step_events;
  noc::NetworkTotals net;
  std::vector<std::pair<std::pair<int, int>, noc::LinkStats>> links;  // ((node, port), stats) with flits > 0
};

class OffchipMemory;  // arch/offchip_memory.hpp

struct ChipRunOptions {
  bool record_spikes = true;
  size_t timeline_limit = 20000;
  bool record_activity = false;    // fill synapse_timeline / link_activity
  size_t activity_limit = 500000;  // per vector
  const std::atomic<bool>* stop = nullptr;  // checked between events; set -> partial result
  uint64_t max_cycles = 0;                   // 0: unlimited
  // Off-chip memory of time-multiplexed runs (arch/offchip_memory.hpp); null: the chip config's
  // DRAM channel. Must outlive the run.
  OffchipMemory* offchip = nullptr;
  // Tests only: the network takes each cycle's simultaneous events and router visits in reverse
  // order (noc::Network::set_reverse_same_cycle); the results must not change.
  bool reverse_same_cycle = false;
};

// The synapse engines' weights of every Conv2d/Linear node, re-arranged (models/kernels.hpp): the
// costly part of building a Chip, done once per chip (a chip runs a whole batch).
using ConvPlans = std::shared_ptr<const std::vector<model::ConvPlan>>;
std::shared_ptr<std::vector<model::ConvPlan>> make_conv_plans(const model::Graph& g);

class Chip {
 public:
  // The graph and mapping (a mapper::Mapping is a ChipMapping) must outlive the chip. Throws
  // spikechip::Error when the mapping does not belong to the graph / chip or uses a dataflow the
  // cores cannot execute.
  Chip(const model::Graph& g, const ChipConfig& chip, const ChipMapping& m);
  ~Chip();
  Chip(const Chip&) = delete;
  Chip& operator=(const Chip&) = delete;

  // Event-driven run of one input: reset, host injects the input, step() until the result is
  // at the host. Plain C++ driver (the SystemC driver calls begin/step/finish itself). A chip
  // runs any number of inputs one after the other: each begin() resets the state the previous
  // run left (its cycle counts from 0 again) and keeps the allocations, so a run gives the same
  // result on a used chip as on a new one.
  ChipRunResult run(const model::InputView& in, int T, const ChipRunOptions& opt = {});

  void begin(const model::InputView& in, int T, const ChipRunOptions& opt);
  // Next cycle with work (kNever when nothing is pending), and handling of that cycle.
  uint64_t next_event_cycle() const;
  void step();
  bool done() const;
  ChipRunResult finish();
  uint64_t now() const;

  // Progress for long runs: fraction of the (node slice, timestep) tasks finished, and the lowest
  // timestep a group still works on (T when all are done).
  double progress() const;
  int timestep() const;

  noc::Network& network();
  int num_cores() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// First difference between the chip's recorded spikes and the golden executor's, as a message
// naming layer, neuron (c,y,x) and timestep; empty when identical (also compares predictions).
std::string compare_with_golden(const model::Graph& g, const ChipRunResult& chip, const model::RunResult& golden);

}  // namespace spikechip::arch
