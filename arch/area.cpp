// The chip's area model (arch/area.hpp; formula and sources in docs/architecture.md, "Area").
#include "arch/area.hpp"

#include <string>

namespace spikechip::arch {

namespace {
// 45 nm constants in µm².
constexpr double kSramBit = 0.5, kAdderLane = 180, kNeuronUnit = 400, kSdsaLane = 60, kMacLane = 600, kFlopBit = 4.5,
                 kCrossbarBit = 1.0;
constexpr int kRouterPorts = 5;  // N, E, S, W, local
}  // namespace

const std::vector<AreaConstant>& area_constants() {
  static const std::vector<AreaConstant> k = {
      {"sram_bit", kSramBit,
       "6T bit cell 0.346 µm² (Intel 45 nm, Mistry et al., IEDM 2007) x 1.45 array overhead (decoders, sense "
       "amplifiers; an assumption)"},
      {"adder_lane", kAdderLane,
       "16-bit ripple adder + accumulator mux: 16 full adders (NanGate 45 nm FA_X1, 4.3 µm²) + muxes and "
       "wiring, estimate"},
      {"neuron_unit", kNeuronUnit, "one LIF update per cycle: 32-bit add, compare, reset mux; NanGate 45 nm cells, estimate"},
      {"sdsa_lane", kSdsaLane, "SDSA AND + counter increment lane; NanGate 45 nm cells, estimate"},
      {"mac_lane", kMacLane, "8x8-bit multiplier + 32-bit accumulator; NanGate 45 nm cells, estimate"},
      {"flop_bit", kFlopBit, "router buffer bit: NanGate 45 nm DFF_X1 (4.5 µm²)"},
      {"crossbar_bit", kCrossbarBit, "5x5 crossbar, per flit bit and port pair (25 pairs); mux cells, estimate"},
  };
  return k;
}

AreaBreakdown chip_area(const ChipConfig& c) {
  AreaBreakdown a;
  try {
    size_t pos = 0;
    const double n = std::stod(c.tech.node, &pos);
    if (n > 0) a.node_nm = n;
  } catch (const std::exception&) {
  }
  a.scale = (a.node_nm / 45.0) * (a.node_nm / 45.0);
  const auto& k = c.core;
  const auto& r = c.router;
  // The order of the sums is the one of the original sweep proxy, so totals are bit-identical.
  const double sram = double(k.membrane_sram_bytes + k.weight_sram_bytes + k.queue_sram_bytes) * 8 * kSramBit;
  const double logic = k.adder_lanes * kAdderLane + k.neuron_updates_per_cycle * kNeuronUnit +
                       k.sdsa_lanes * kSdsaLane + k.mac_lanes * kMacLane;
  const double router = double(kRouterPorts) * r.vcs * r.buffer_depth * r.flit_bits * kFlopBit +
                        25.0 * r.flit_bits * kCrossbarBit;
  a.per_core_um2 = {{"membrane_sram", double(k.membrane_sram_bytes) * 8 * kSramBit * a.scale},
                    {"weight_sram", double(k.weight_sram_bytes) * 8 * kSramBit * a.scale},
                    {"queue_sram", double(k.queue_sram_bytes) * 8 * kSramBit * a.scale},
                    {"adders", k.adder_lanes * kAdderLane * a.scale},
                    {"neuron_units", k.neuron_updates_per_cycle * kNeuronUnit * a.scale},
                    {"sdsa", k.sdsa_lanes * kSdsaLane * a.scale},
                    {"encoder_macs", k.mac_lanes * kMacLane * a.scale},
                    {"router", router * a.scale}};
  a.core_um2 = (sram + logic + router) * a.scale;
  a.cores = c.num_cores();
  a.total_mm2 = double(a.cores) * (sram + logic + router) * a.scale / 1e6;
  return a;
}

}  // namespace spikechip::arch
