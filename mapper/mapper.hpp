#pragma once
// The mapper (docs/mapper.md): co-location clusters -> neuron groups that fit one core
// (partition) -> cores (place) -> multicast routes with expected link loads (route).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arch/chip_config.hpp"
#include "models/executor.hpp"
#include "models/graph.hpp"

namespace spikechip::mapper {

// 2: groups carry a `phase` and the mapping a `phases` table (time multiplexing); version 1
// files (one phase) are still read.
inline constexpr int kMappingVersion = 2;

// Half-open box [c0,c1) x [y0,y1) x [x0,x1) of a node's output tensor.
struct Box {
  int c0 = 0, c1 = 0, y0 = 0, y1 = 0, x0 = 0, x1 = 0;
  int64_t volume() const { return empty() ? 0 : int64_t(c1 - c0) * (y1 - y0) * (x1 - x0); }
  bool empty() const { return c1 <= c0 || y1 <= y0 || x1 <= x0; }
  bool contains(const Box& b) const {
    return b.c0 >= c0 && b.c1 <= c1 && b.y0 >= y0 && b.y1 <= y1 && b.x0 >= x0 && b.x1 <= x1;
  }
  bool operator==(const Box&) const = default;
};
Box intersect(const Box& a, const Box& b);

struct MapOptions {
  std::string placement = "anneal";   // naive | random | snake | anneal | metis | metis-anneal
  uint64_t seed = 1;
  double default_rate = 0.2;          // firing rate of a LIF without a measured rate
  std::map<std::string, double> rates;  // measured firing rate per LIF node name
  int chips = 0;                      // 0: as the chip config says; N: N chips; -1: auto
  bool time_multiplex = false;       // groups take turns on cores in phases when they do not fit
  bool unicast = false;               // one packet per destination instead of multicast trees
  std::string split = "min-cores";    // min-cores | channels-first
  int64_t anneal_moves_per_group = 400;
};

// Nodes that must share cores tile by tile (they read each other's membranes locally).
struct Cluster {
  int id = 0;
  std::vector<int> nodes;           // graph node indices, ascending
  model::Shape shape;
  bool sdsa = false;                // split by heads only
  int heads = 1;
  int64_t mem_bytes_per_neuron = 0; // membrane SRAM bytes per (c,y,x) of the cluster shape
  int64_t mem_bytes_per_head = 0;   // SDSA: KV matrix and q/k/v spike buffers
  int64_t weight_bytes_per_channel = 0;  // int8 fan-in + bias/shift/threshold words, per output channel
  // Chosen split.
  int channels_per_group = 0, tile_h = 0, tile_w = 0;
  int n_channel_chunks = 0, n_tiles_y = 0, n_tiles_x = 0;
};

struct Group {
  int id = 0;
  int cluster = 0;
  Box box;                 // output region (every node of the cluster has the cluster's shape)
  int core = -1;           // global core index y*W + x
  int phase = 0;           // time multiplexing: the core holds this group during this phase
  int64_t membrane_bytes = 0;
  int64_t weight_bytes = 0;
};

// One multicast: every spike (or pixel / partial sum) produced inside `region` of `src_node` by
// group `src_group` (-1: the host port) goes to exactly the groups in `dests`.
struct Route {
  int id = 0;
  std::string kind;        // spike | pixel | partial_sum | result
  int src_group = -1;      // -1: host
  int src_node = 0;        // graph node whose values travel (LIF, Input, or the stream for Mean)
  Box region;
  std::vector<int> dests;  // group ids, ascending; -1 = host (results)
  double events = 0;       // expected packets per timestep leaving the source
  std::vector<std::pair<int, int>> links;  // directed links (from core, to core) of the tree; -1 = host
};

struct LinkLoad {
  int from = 0, to = 0;    // global core indices; -1 = host port (west of core (0,0))
  double load = 0;         // expected packets per timestep
  bool chip_to_chip = false;
};

// One phase of a time-multiplexed mapping: its groups own their cores while it runs; entering it
// loads their weights from off-chip DRAM (per inference), and the spikes / partial sums that
// earlier phases produced for it are read back from DRAM.
struct Phase {
  int groups = 0;
  int64_t reload_bytes = 0;        // weight bytes of the phase's groups (loaded from DRAM)
  double spill_in_bytes = 0;       // expected bytes per inference read back from DRAM (4 B per event)
};

struct Mapping {
  int mapping_version = kMappingVersion;
  std::string model_name, model_hash, chip_name, chip_hash;
  int mesh_w = 0, mesh_h = 0, chip_w = 0, chip_h = 0;  // global mesh and per-chip tiles
  int64_t membrane_sram_bytes = 0, weight_sram_bytes = 0;
  nlohmann::json options = nlohmann::json::object();
  std::vector<std::string> node_names;  // graph node names (index -> name)
  std::vector<Cluster> clusters;
  std::vector<Group> groups;
  std::vector<Route> routes;
  std::vector<LinkLoad> links;
  std::vector<Phase> phases{Phase{}};  // one entry unless time-multiplexed
  int timesteps = 1;                   // of the model (spill bytes are per inference)
  nlohmann::json summary = nlohmann::json::object();
};

// The whole pipeline. Throws spikechip::Error when the model does not fit (naming the layer,
// the shortfall and what to change).
Mapping map_model(const model::Graph& g, const arch::ChipConfig& chip, const MapOptions& opt);

// Measured firing rates per LIF node name (spikes per neuron per timestep) over golden runs.
std::map<std::string, double> measured_rates(const model::Graph& g, const std::vector<model::RunResult>& runs);
// Runs the golden executor on the inputs of `path` (file or directory, models/inputs.hpp; at most
// `max_inputs`) and returns the measured rates.
std::map<std::string, double> rates_from_inputs(const model::Graph& g, const std::string& path, int max_inputs = 4);
// A rates file: {"lif name": rate, ...} or a golden report (`spikechip infer -o`, its "layers").
// Every name must be a LIF node of `g`.
std::map<std::string, double> read_rates_file(const model::Graph& g, const std::string& path);

// Pieces, exposed for tests and the benchmark.
std::vector<Cluster> build_clusters(const model::Graph& g);
std::vector<Group> partition(const model::Graph& g, std::vector<Cluster>& clusters,
                             const arch::ChipConfig& chip, const MapOptions& opt);
// Membrane SRAM bytes a group of cluster `c` with output box `b` needs (neurons and SDSA heads).
int64_t group_membrane_bytes(const Cluster& c, const Box& b);
std::vector<Route> build_routes(const model::Graph& g, const std::vector<Cluster>& clusters,
                                const std::vector<Group>& groups, const MapOptions& opt);
// Time multiplexing: assigns Group::phase (clusters that feed each other in a cycle share a phase;
// phases follow the dataflow) and fills m.phases. Throws when one such cycle exceeds the cores.
void assign_phases(const model::Graph& g, Mapping& m, int cores);
// Placement objective: sum over routes and destinations of events x XY hops (host at (-1,0));
// a route between groups of different phases goes through the host port (DRAM) both ways.
double traffic_hops(const Mapping& m);
// Re-places the groups of `m` with another strategy and recomputes trees, loads and summary.
void place_and_route(Mapping& m, const std::string& placement, uint64_t seed, bool unicast,
                     int64_t moves_per_group);

std::string structure_hash(const model::Graph& g);
std::string chip_hash(const arch::ChipConfig& c);

nlohmann::json mapping_to_json(const Mapping& m);
Mapping mapping_from_json(const nlohmann::json& j, const std::string& origin);  // strict
Mapping load_mapping(const std::string& path);
void save_mapping(const Mapping& m, const std::string& path);
std::string summary_text(const Mapping& m);

}  // namespace spikechip::mapper
