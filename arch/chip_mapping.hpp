#pragma once
// What the chip runs: the placed and routed result of mapping a model (docs/mapper.md). The mapper
// produces it (mapper::Mapping extends it with the file's metadata, options, link loads and
// summary); the chip (arch/chip.hpp) reads only these fields, so arch/ never includes mapper/.
#include <cstdint>
#include <string>
#include <vector>

#include "models/graph.hpp"

namespace spikechip::arch {

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
  // Fan-in split (docs/mapper.md, "Split fan-in"): when one output channel's weights fit no core,
  // the input channels of node `fan_in_node` (a Conv2d / Linear of the cluster) are cut into
  // `fan_in_slices` slices; each output box then has one group per slice. The group of the last
  // slice holds the whole cluster and accumulates; the others hold only that node's slice and send
  // it their exact partial sums (route kind `fan_in`). 1 / -1: not split.
  int fan_in_node = -1, fan_in_slices = 1, fan_in_channels = 0;
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
  int in0 = 0, in1 = 0;    // fan-in split: the slice [in0, in1) of the cluster's fan_in_node's input channels
  // A group of a fan-in split that only adds up its slice (the accumulating group has the last slice).
  bool fan_in_partial(const Cluster& c) const { return c.fan_in_slices > 1 && in1 < c.fan_in_channels; }
};

// One multicast: every spike (or pixel / partial sum) produced inside `region` of `src_node` by
// group `src_group` (-1: the host port) goes to exactly the groups in `dests`.
struct Route {
  int id = 0;
  std::string kind;        // spike | pixel | partial_sum | membrane | fan_in | result
  int src_group = -1;      // -1: host
  int src_node = 0;        // graph node whose values travel (LIF, Input, or the stream for Mean)
  Box region;
  std::vector<int> dests;  // group ids, ascending; -1 = host (results)
  double events = 0;       // expected packets per timestep leaving the source
  std::vector<std::pair<int, int>> links;  // directed links (from core, to core) of the tree; -1 = host
};

// One phase of a time-multiplexed mapping: its groups own their cores while it runs; entering it
// loads their weights from off-chip DRAM (per inference), and the spikes / partial sums that
// earlier phases produced for it are read back from DRAM.
struct Phase {
  int groups = 0;
  int64_t reload_bytes = 0;        // weight bytes of the phase's groups (loaded from DRAM)
  double spill_in_bytes = 0;       // expected bytes per inference read back from DRAM (4 B per event)
};

struct ChipMapping {
  std::string model_name;
  int mesh_w = 0, mesh_h = 0, chip_w = 0, chip_h = 0;  // global mesh and per-chip tiles
  std::vector<std::string> node_names;  // graph node names (index -> name)
  std::vector<Cluster> clusters;
  std::vector<Group> groups;
  std::vector<Route> routes;
  std::vector<Phase> phases{Phase{}};  // one entry unless time-multiplexed
};

}  // namespace spikechip::arch
