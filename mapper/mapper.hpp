#pragma once
// The mapper (docs/mapper.md): co-location clusters -> neuron groups that fit one core
// (partition) -> cores (place) -> multicast routes with expected link loads (route).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arch/chip_config.hpp"
#include "arch/noc/routing.hpp"
#include "arch/chip_mapping.hpp"
#include "models/executor.hpp"
#include "models/graph.hpp"

namespace spikechip::mapper {

// 2: groups carry a `phase` and the mapping a `phases` table (time multiplexing); version 1
// files (one phase) are still read.
inline constexpr int kMappingVersion = 2;

// The data types a mapping shares with the chip that runs it (arch/chip_mapping.hpp).
using arch::Box;
using arch::Cluster;
using arch::Group;
using arch::Phase;
using arch::Route;

Box intersect(const Box& a, const Box& b);

struct MapOptions {
  std::string placement = "anneal";   // naive | random | snake | anneal | metis | metis-anneal
  uint64_t seed = 1;
  double default_rate = 0.2;          // firing rate of a LIF without a measured rate
  std::map<std::string, double> rates;  // measured firing rate per LIF node name
  int chips = 0;                      // 0: as the chip config says; N: N chips; -1: auto
  bool time_multiplex = false;       // groups take turns on cores in phases when they do not fit
  std::string phases = "greedy";      // how time multiplexing cuts phases: phase_partitioners()
  bool unicast = false;               // one packet per destination instead of multicast trees
  std::string split = "min-cores";    // min-cores | channels-first
  int64_t anneal_moves_per_group = 400;
};

struct LinkLoad {
  int from = 0, to = 0;    // global core indices; -1 = host port (west of core (0,0))
  double load = 0;         // expected packets per timestep
  bool chip_to_chip = false;
};

// A mapping file: what the chip runs (arch::ChipMapping: model name, mesh, node names, clusters,
// groups, routes, phases) plus the file's metadata, the options it was made with and its estimates.
struct Mapping : arch::ChipMapping {
  int mapping_version = kMappingVersion;
  std::string model_hash, chip_name, chip_hash;
  int64_t membrane_sram_bytes = 0, weight_sram_bytes = 0;
  nlohmann::json options = nlohmann::json::object();
  std::vector<LinkLoad> links;
  int timesteps = 1;                   // of the model (spill bytes are per inference)
  // The chip's memory controllers' routers (global ids; from the chip config, not written to the
  // file): a time-multiplexed mapping's spills and weight reloads use the one nearest each core.
  std::vector<int> memory_routers;
  nlohmann::json summary = nlohmann::json::object();
};

// The whole pipeline. Throws spikechip::Error when the model does not fit (naming the layer,
// the shortfall and what to change).
Mapping map_model(const model::Graph& g, const arch::ChipConfig& chip, const MapOptions& opt);
// The model's widths (graph.json precision) must not exceed the chip's core.weight_bits /
// core.membrane_bits: one error naming both and the two ways out. map_model and check_mapping call it.
void check_precision(const model::Graph& g, const arch::ChipConfig& chip);

// Measured firing rates per LIF node name (spikes per neuron per timestep) over golden runs.
std::map<std::string, double> measured_rates(const model::Graph& g, const std::vector<model::RunResult>& runs);
// Runs the golden executor on the inputs of `path` (file or directory, models/inputs.hpp; at most
// `max_inputs`) and returns the measured rates.
std::map<std::string, double> rates_from_inputs(const model::Graph& g, const std::string& path, int max_inputs = 4);
// A rates file: {"lif name": rate, ...} or a golden report (`spikechip infer -o`, its "layers").
// Every name must be a LIF node of `g`.
std::map<std::string, double> read_rates_file(const model::Graph& g, const std::string& path);

// Pieces, exposed for tests and the benchmark.
// Co-location clusters; the Adds in `cut_adds` read their stream operand (a membrane input that
// other nodes read too) from other cores, as `membrane` values, which cuts a residual stream there.
std::vector<Cluster> build_clusters(const model::Graph& g, const std::vector<int>& cut_adds = {});
// The Adds that have a stream operand (where a residual stream can be cut), in graph order.
std::vector<int> cuttable_adds(const model::Graph& g);
// The Adds whose stream operand is in another cluster of `clusters` (a mapping file's cuts).
std::vector<int> cut_adds_of(const model::Graph& g, const std::vector<Cluster>& clusters);
// The most groups a mapping may have (partition refuses more before building any).
inline constexpr int64_t kMaxGroups = 65536;
std::vector<Group> partition(const model::Graph& g, std::vector<Cluster>& clusters,
                             const arch::ChipConfig& chip, const MapOptions& opt);
// Whether the smallest group of `c` (one channel or head, one pixel) fits a core.
bool fits_one_core(const Cluster& c, const arch::CoreConfig& core);
// Membrane SRAM bytes a group of cluster `c` with output box `b` needs (neurons and SDSA heads).
int64_t group_membrane_bytes(const Cluster& c, const Box& b);
// Fan-in split (docs/mapper.md, "Split fan-in"): the Conv2d (groups 1) / Linear of a cluster whose
// input channels would be split (its largest), -1 none; a group's membrane and weight bytes (any
// cluster: the fan-in slice decides for split ones).
int fan_in_candidate(const model::Graph& g, const Cluster& c);
void set_group_bytes(const model::Graph& g, const Cluster& c, Group& gr);
std::vector<Route> build_routes(const model::Graph& g, const std::vector<Cluster>& clusters,
                                const std::vector<Group>& groups, const MapOptions& opt);
// Time multiplexing: assigns Group::phase (clusters that feed each other in a cycle share a phase;
// phases follow the dataflow) and fills m.phases. When one such cycle exceeds the cores: with
// `too_big`, fills it with that cycle's clusters and returns false; else throws.
// The cut into phases follows opt.phases (phase_partitioners(); min-dram builds the routes to
// price the cuts with their expected events; min-time also the chip's timing, `chip`).
bool assign_phases(const model::Graph& g, Mapping& m, int cores, std::vector<int>* too_big = nullptr,
                   const MapOptions& opt = MapOptions{}, const arch::ChipConfig* chip = nullptr);
// The phase partitioners by name (MapOptions::phases, `--phases`), in the order `--help` lists them.
struct PhasePartitioner {
  const char* name;
  const char* help;
};
const std::vector<PhasePartitioner>& phase_partitioners();
std::vector<std::string> phase_partitioner_names();
// Throws UsageError naming the known partitioners when `name` is not one.
void check_phase_partitioner(const std::string& name);
// Time multiplexing's time model (mapper/phase_time.cpp; docs/mapper.md, "Phase partitioning"):
// what one phase (or a layer spread over `phases` consecutive phases) is expected to take.
struct PhaseLoad {
  double weight_bytes = 0;      // its groups' weights, loaded from DRAM
  double prefetched_bytes = 0;  // of those, streamed into the prefetch buffers during the phase before
  double read_bytes = 0;        // spilled values read back for it
  double write_bytes = 0;       // values it spills for later phases (each once)
  double compute = 0;           // expected compute cycles (PhaseTimeModel::compute_cycles)
  int phases = 1;
};
struct PhaseTimeModel {
  int timesteps = 1;
  double dram_bytes_per_cycle = 1;  // all channels' data-bus peak (and at most a flit per cycle per controller)
  double dram_latency_cycles = 0;   // one access: the channel's latency, or a device's tRCD + tCL
  int64_t prefetch_buffer_bytes = 0;  // per core (arch::weight_prefetch_bytes)
  std::vector<double> group_cycles;   // expected work per timestep of each group (engine + node unit)
  // A phase's compute: its layers (`stages`: each layer's slowest group's cycles per timestep, in
  // dataflow order = cluster order) follow each other within a timestep and pipeline over the
  // timesteps with a blocking hand-over: a layer starts timestep t + 1 once it has finished t and
  // the next layer has finished t (a timestep's spikes far exceed the queues and the network's
  // buffers, so a layer's output waits in the network, blocking its links, until the next layer
  // takes it).
  double compute_cycles(const std::vector<double>& stages) const;
  // A phase: its access latencies, the weights not prefetched and its spilled inputs read, its
  // compute (overlapping the next phase's prefetch, which the channel serves first), then the
  // writes of its spills. Serial on purpose: on 55.4M T=4 on loihi2-lpddr4 (60 phases) this
  // form gives 0.977 of the run's latency, overlapping the spills with the compute 0.861.
  double phase_cycles(const PhaseLoad& q, double next_prefetch) const;
  // Bytes of a group's weights that its core's prefetch buffer takes (min(buffer, weights)).
  double prefetchable(int64_t weight_bytes) const;
};
PhaseTimeModel phase_time_model(const model::Graph& g, const Mapping& m, const arch::ChipConfig& chip,
                                const MapOptions& opt);
// The loads of the phases of `m` as mapped (its groups' phases, its routes), and their expected cycles.
std::vector<PhaseLoad> phase_loads(const PhaseTimeModel& tm, const Mapping& m);
std::vector<double> estimate_phase_cycles(const PhaseTimeModel& tm, const Mapping& m);
// Placement objective: sum over routes and destinations of events x hops (Manhattan: every
// routing function is minimal; host at (-1,0));
// a route between groups of different phases goes through DRAM both ways: the host port's, or with
// memory controllers the one nearest the source's core.
double traffic_hops(const Mapping& m);
// Re-places the groups of `m` with a placement algorithm (mapper/placement.hpp) and recomputes
// the trees and link loads as `routing` (the chip's router.routing) routes them, and the summary.
void place_and_route(Mapping& m, const std::string& placement, uint64_t seed, bool unicast, int64_t moves_per_group,
                     const arch::noc::RoutingFunction& routing);

std::string structure_hash(const model::Graph& g);  // the layers and g.timesteps: a mapping is for both
// "" when `m` was made for g's structure at g.timesteps; else why not, the sentence that follows
// "<mapping file>: " in an error (names the T it was made for when only the timesteps differ).
std::string mapping_model_mismatch(const Mapping& m, const model::Graph& g);
std::string chip_hash(const arch::ChipConfig& c);

nlohmann::json mapping_to_json(const Mapping& m);
Mapping mapping_from_json(const nlohmann::json& j, const std::string& origin);  // strict
Mapping load_mapping(const std::string& path);
void save_mapping(const Mapping& m, const std::string& path);
std::string summary_text(const Mapping& m);

}  // namespace spikechip::mapper
