#pragma once
// Per-event energy table (data: arch/energy/<node>.json, every entry with its source and tag) and
// the post-run energy computation. Counts are gathered during simulation; energy is applied
// afterwards, so a different table (technology node) needs no re-simulation. See docs/energy.md.
#include <compare>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arch/chip_config.hpp"

namespace spikechip::arch {

struct EnergyEntry {
  double value = 0;
  std::string unit;    // "pJ", "pJ/bit", "mW", "1"
  std::string source;  // publication / derivation
  std::string tag;     // [P] [S] [D] [U] as in energy-constants.md
};

struct EnergyTable {
  std::string node;         // "45nm"
  double vdd = 0;
  std::string description;
  std::string source_path;
  std::map<std::string, EnergyEntry> entries;

  double at(const std::string& key) const;  // throws Error naming the table and key
  // One SRAM access of `width_bits` on a bank of `bank_bytes`: sqrt-capacity rule anchored at the
  // 64-bit access of an 8 KB array, energy proportional to the bits moved.
  double sram_access_pj(int64_t bank_bytes, int width_bits, bool write) const;
};

// Every entry a table must have, with its unit (the loader rejects missing and unknown keys).
const std::map<std::string, std::string>& energy_entry_units();

EnergyTable load_energy_table(const std::string& path);  // throws spikechip::Error (file + key)
EnergyTable energy_table_from_json(const nlohmann::json& j, const std::string& origin);
nlohmann::json energy_table_to_json(const EnergyTable& t);

// Stillmaker & Baas 2017 energy factor E(node, vdd) = a*vdd^2 + b*vdd + c, linearly interpolated
// between the published nodes (45, 32, 20, 14 nm) by feature size; scale = E(to)/E(from).
double stillmaker_energy(double node_nm, double vdd);
double stillmaker_scale(double from_nm, double from_vdd, double to_nm, double to_vdd);
// The same table at another node: every dynamic and static entry scaled by stillmaker_scale;
// the paper-compatible constants (paper_*) are not scaled (they are the paper's fixed numbers).
EnergyTable scale_energy_table(const EnergyTable& t, double to_nm, double to_vdd);

struct SramShape {
  int64_t bank_bytes = 0;
  int width_bits = 0;
  auto operator<=>(const SramShape&) const = default;
};

// What the DRAM devices of one model (arch/dram_timing.hpp, a dram.model value) did in a run: the
// bits they moved, their bursts by direction and activates, and, over the run's latency, their
// channels' refresh windows and channel-cycles (background power). Priced by the device's
// DramEnergy when it has one (apply_energy).
struct DramActions {
  uint64_t bits = 0, read_bursts = 0, write_bursts = 0, activates = 0, refreshes = 0, channel_cycles = 0;
  DramActions& operator+=(const DramActions& o);
  bool empty() const { return !(bits | read_bursts | write_bursts | activates | refreshes | channel_cycles); }
  nlohmann::json to_json() const;
};
// `total` shared in proportion to `weights` (e.g. each layer's DRAM bits), every count rounded down
// and its remainder given to the largest weight, so that the shares sum exactly to `total`. All
// weights zero: everything to the first.
std::vector<DramActions> split_dram_actions(const DramActions& total, const std::vector<uint64_t>& weights);

struct EventCounts {
  uint64_t adds16 = 0;            // membrane += weight (16-bit accumulate)
  uint64_t adds32 = 0;
  uint64_t mults8 = 0;            // encoding-layer multiplies
  uint64_t dense_macs = 0;        // int8 x binary multiply-accumulates of a dense MAC-array core
  std::map<SramShape, uint64_t> weight_reads;  // weight SRAM word reads by bank shape
  uint64_t membrane_reads = 0;    // words of the chip's membrane bank geometry
  uint64_t membrane_writes = 0;
  uint64_t neuron_updates = 0;    // LIF logic per neuron per step (membrane access counted above)
  uint64_t sdsa_ops = 0;          // SDSA AND/increment or masked-add lane ops
  uint64_t router_traversals = 0; // flit copies through a router crossbar
  uint64_t link_bits = 0;         // on-chip link bits
  uint64_t chip_link_bits = 0;
  uint64_t dram_bits = 0;         // weight reloads (time multiplexing)
  std::map<std::string, DramActions> dram_actions;  // by dram model: the DRAM devices among them
  uint64_t core_cycles = 0;       // powered cores x cycles (static power)
  // paper-compatible mode (BICLab formula): first-layer MACs and synaptic ACs (SOPs)
  uint64_t paper_macs = 0;
  uint64_t paper_acs = 0;

  EventCounts& operator+=(const EventCounts& o);
  nlohmann::json to_json() const;
};

struct EnergyBreakdown {
  std::map<std::string, double> components_pj;  // hardware mode, by component
  double total_pj = 0;                          // sum of components
  double paper_pj = 0;                          // E_MAC * macs + E_AC * acs
  nlohmann::json to_json() const;
};

EnergyBreakdown apply_energy(const EventCounts& c, const EnergyTable& t, const ChipConfig& chip);

}  // namespace spikechip::arch
