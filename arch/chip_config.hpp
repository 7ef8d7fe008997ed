#pragma once
// Typed chip description (a JSON file, see docs/chip-config.md). The parser rejects unknown keys
// and out-of-range values naming the JSON path (e.g. "tiny.json: /router/vcs: must be 1..16").
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace spikechip::arch {

struct MeshConfig {
  int width = 4;   // tiles per chip in x
  int height = 4;  // tiles per chip in y
};

// Several identical chips joined in a grid; the global mesh is (chips_x*width) x (chips_y*height)
// and links that cross a chip boundary are chip-to-chip links.
struct ChipLinkConfig {
  int chips_x = 1;
  int chips_y = 1;
  int latency_cycles = 20;     // extra cycles to cross a chip-to-chip link
  int bits_per_cycle = 16;     // serial link width: a flit of F bits takes ceil(F/bits) cycles
};

struct RouterConfig {
  int buffer_depth = 4;        // flits per input VC buffer
  int vcs = 2;                 // virtual channels per input port
  int flit_bits = 64;
  int pipeline_stages = 2;     // cycles from head-flit arrival to switch traversal
  int link_latency = 1;        // cycles on a link between neighbouring routers
  std::string routing = "xy";  // "xy", "yx", "west_first"
  bool multicast = true;       // fork packets at routers (false: one unicast per destination)
  std::string arbitration = "round_robin";  // or "fixed_priority"
  std::string model = "separable";          // or "speculative" (arch/noc/network.hpp, RouterModel)
};

struct CoreConfig {
  int adder_lanes = 16;                 // synaptic additions per cycle (P)
  int64_t membrane_sram_bytes = 65536;
  int membrane_banks = 8;
  int membrane_word_bits = 32;          // one membrane value per word
  int64_t weight_sram_bytes = 131072;
  int weight_banks = 4;
  int weight_word_bits = 64;            // weights read per access = word_bits / 8
  double weight_prefetch_fraction = 0;  // of weight_sram_bytes, reserved to prefetch the next phase
  int neuron_updates_per_cycle = 8;     // LIF updates per cycle
  int sdsa_lanes = 16;                  // SDSA AND/increment or row-add lanes per cycle
  int input_queue_depth = 64;           // packets received, synapse work not finished
  int output_queue_depth = 64;          // packets formed, not yet injected
  int mac_lanes = 4;                    // encoding path multiply-accumulates per cycle
  int weight_bits = 8;                  // widest model weights the cores take (graph.json precision)
  int membrane_bits = 32;               // widest model membranes the cores take
  int64_t queue_sram_bytes = 16384;     // holds both queues, a whole packet per entry
  std::string type = "event";           // core model (arch/core/core_registry.hpp)
};

// Payload flits per packet at most: longer spike lists are split so that one packet cannot hold a
// router output for hundreds of cycles (wormhole) and a queue entry has a fixed size.
constexpr int kMaxPayloadFlits = 8;

// Host interface: input frames enter at `ports` routers spread over the west edge of the global
// mesh (port i at row i * height / ports, column 0), each fed by a link of `bits_per_cycle`.
struct HostConfig {
  int ports = 1;
  int bits_per_cycle = 64;
};

// Off-chip memory behind the host port (time-multiplexed mappings, docs/mapper.md): one channel
// shared by weight reloads and spilled values. Default = one LPDDR4 x16 channel at 3200 MT/s
// (6.4 GB/s = 32 B per 200 MHz cycle) with ~100 ns access latency.
// `model` names a DRAM device timing model instead (arch/dram_timing.hpp) with `channels` channels.
struct DramConfig {
  int bytes_per_cycle = 32;
  int latency_cycles = 20;     // before the first byte of a transfer burst
  std::string model = "channel";  // "channel" (the two figures above) or a device of arch/dram_timing.hpp
  int channels = 1;               // channels of a device model
};

// A memory controller as a tile of the mesh (arch/memory_controllers.hpp; docs/architecture.md,
// "Memory controllers on the mesh"): it sits at the router of `position` along `edge` of the global
// mesh and serves the weight reloads and spills of time-multiplexed runs through the network.
struct MemoryControllerConfig {
  std::string edge = "west";      // west, east, north, south (required in the file)
  int position = 0;               // row (west/east) or column (north/south) of the global mesh (required)
  int channels = 1;               // DRAM channels behind it
  std::string model = "lpddr4-3200";  // a dram.model value; "channel" = the dram section's channel
};

struct TechConfig {
  std::string node = "45nm";
  std::string energy_table = "arch/energy/45nm.json";  // relative to the chip file, or the source tree
};

struct ChipConfig {
  std::string name;
  std::string description;
  double clock_hz = 200e6;
  MeshConfig mesh;
  ChipLinkConfig chips;
  RouterConfig router;
  CoreConfig core;
  HostConfig host;
  DramConfig dram;
  std::vector<MemoryControllerConfig> memory_controllers;  // empty: the DRAM channel behind the host port
  TechConfig tech;
  int64_t watchdog_cycles = 100000;  // stop with a diagnostic when nothing moves this long
  std::string source_path;           // the file it was read from (for messages)

  int global_width() const { return mesh.width * chips.chips_x; }
  int global_height() const { return mesh.height * chips.chips_y; }
  int num_cores() const { return global_width() * global_height(); }
};

// A queue entry holds the largest packet: header + kMaxPayloadFlits flits of router.flit_bits.
int64_t queue_entry_bytes(const ChipConfig& c);
// Weight SRAM per core reserved as the prefetch buffer of double-buffered reloads
// (floor(weight_prefetch_fraction x weight_sram_bytes)), and what is left for a group's weights.
int64_t weight_prefetch_bytes(const ChipConfig& c);
inline int64_t weight_sram_usable(const ChipConfig& c) { return c.core.weight_sram_bytes - weight_prefetch_bytes(c); }
// Queue SRAM the two queues need: (input_queue_depth + output_queue_depth) entries.
int64_t queue_sram_needed(const ChipConfig& c);

// ---- the key table ------------------------------------------------------------------------
// Every key of the chip config is declared once, in arch/chip_config.cpp's table: the reader, the
// writer, `--set`, `spikechip config describe` and docs/chip-config.md's key table all derive
// from that declaration. Adding a key = adding its struct member and one table row.
struct ConfigKeyInfo {
  std::string path;                  // dotted, e.g. "core.adder_lanes"
  std::string type;                  // "integer", "number", "bool", "string", "enum"
  std::string unit;                  // "-" when dimensionless
  std::string range;                 // human text: "1..4096", "xy, yx, west_first", "non-empty"
  nlohmann::json default_value;      // of a default-constructed ChipConfig (null when required)
  std::string meaning;
  bool written_if_set = false;       // chip_config_to_json writes it only when it differs from the default
};
std::vector<ConfigKeyInfo> chip_config_keys();
// The table as Markdown (docs/chip-config.md embeds exactly this; a test compares them).
std::string chip_config_keys_markdown();

// One "key=value" text of `--set`, checked against the table and validated like the file's value:
// returns (JSON pointer, typed value). A value that is not JSON is taken as a string for string keys.
// Throws UsageError naming the key ("--set core.adder_lanes=0: /core/adder_lanes: 0 is out of range").
std::pair<std::string, nlohmann::json> parse_chip_override(const std::string& text);

// ---- reading --------------------------------------------------------------------------------
ChipConfig chip_config_from_json(const nlohmann::json& j, const std::string& origin);
nlohmann::json chip_config_to_json(const ChipConfig& c);

// A chip given on the command line: an existing file, or a preset name ("tiny" ->
// arch/presets/tiny.json of the source tree). Throws spikechip::Error listing the presets.
std::string find_chip_file(const std::string& name_or_path);
std::vector<std::string> preset_names();

// Reads a chip config file (or preset name). A file may say "base": "<preset name or path>"
// (relative to the file) and override some keys: the base's JSON is read (recursively) and the
// file's keys are merged over it, sections key by key. `overrides` are "key=value" texts
// (`--set core.adder_lanes=32`): every key is checked against the table and its value validated
// like the file's; the error names the key. Throws spikechip::Error (a bad --set: UsageError).
ChipConfig load_chip_config(const std::string& name_or_path, const std::vector<std::string>& overrides = {});
// The merged JSON load_chip_config parses (base resolved, overrides applied), for `config show`.
nlohmann::json chip_config_json(const std::string& name_or_path, const std::vector<std::string>& overrides = {});

// Absolute path of the energy table tech.energy_table names: an absolute path; a path relative
// to the chip file's directory, then to the source tree; a table name ("45nm" ->
// arch/energy/45nm.json); and for a relative path not found (a preset copied elsewhere), the
// table of the same file name in arch/energy/. Throws spikechip::Error if none exists.
std::string resolve_energy_table(const ChipConfig& c);
// An energy table given on the command line: a file, or a shipped table's name ("28nm").
std::string find_energy_table(const std::string& name_or_path);
// The shipped energy tables' names ("28nm", "45nm", ...), as find_energy_table takes them.
std::vector<std::string> energy_table_names();

}  // namespace spikechip::arch
