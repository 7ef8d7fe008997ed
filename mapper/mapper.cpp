// The mapper's driver (docs/mapper.md): map_model runs clusters (mapper/clusters.cpp) ->
// partition (partition.cpp) -> phases when time-multiplexed (phases.cpp) -> routes (routes.cpp)
// -> place and route (place_and_route.cpp), sizes the chip count, names the first layer that
// does not fit, and stamps the mapping with the model's and chip's structure hashes.
#include "mapper/mapper.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include <fmt/format.h>

#include "arch/memory_controllers.hpp"
#include "arch/noc/routing.hpp"
#include "base/error.hpp"
#include "base/json_text.hpp"
#include "mapper/internal.hpp"

namespace spikechip::mapper {

using model::Graph;
using model::Node;
using detail::ceil_div;
using detail::cluster_label;
using detail::fmt_bytes;
using detail::phase_spills;

namespace {
// FNV-1a: stable across platforms and library versions (std::hash is not).
uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : s) {
    h ^= ch;
    h *= 1099511628211ull;
  }
  return h;
}
std::string hex64(uint64_t v) { return fmt::format("{:016x}", v); }

// The layers' structure, what structure_hash hashes after the timesteps.
std::string structure_text(const Graph& g) {
  std::ostringstream os;
  for (const Node& n : g.nodes) {
    os << n.name << ',' << model::op_name(n.op) << ',' << n.shape.c << 'x' << n.shape.h << 'x' << n.shape.w;
    for (int i : n.inputs) os << ',' << i;
    os << ',' << n.kh << n.kw << ',' << n.sy << n.sx << ',' << n.py << n.px << ',' << n.groups << ','
       << n.heads << ',' << n.count << ';';
  }
  return os.str();
}
std::string structure_hash_at(const std::string& text, int timesteps) {
  return hex64(fnv1a(std::to_string(timesteps) + ";" + text));
}
}  // namespace

std::string structure_hash(const Graph& g) { return structure_hash_at(structure_text(g), g.timesteps); }

std::string mapping_model_mismatch(const Mapping& m, const Graph& g) {
  const std::string text = structure_text(g);
  if (m.model_hash == structure_hash_at(text, g.timesteps)) return "";
  for (int t = 1; t <= model::kMaxRunTimesteps; ++t)
    if (t != g.timesteps && m.model_hash == structure_hash_at(text, t))
      return fmt::format(
          "the mapping was made for this model at T = {} and this run has T = {}: make one for T = {} ('spikechip map "
          "-T {} ...', in Python spikechip.map(..., T={})) or run at T = {}",
          t, g.timesteps, g.timesteps, g.timesteps, g.timesteps, t);
  return "the mapping was made for model '" + m.model_name + "' (another structure); re-run 'spikechip map'";
}

std::string chip_hash(const arch::ChipConfig& c) {
  nlohmann::json j = chip_config_to_json(c);
  j.erase("description");
  // Off-chip memory timing changes how long a time-multiplexed run takes, never the mapping.
  j.erase("dram");
  j.erase("memory_controllers");
  // The core model changes timing and energy on the same SRAMs, never the mapping.
  j["core"].erase("type");
  return hex64(fnv1a(json_text(j)));
}

void check_precision(const Graph& g, const arch::ChipConfig& chip) {
  auto refuse = [&](const char* what, int model_bits, const char* key, int chip_bits, const char* flag) {
    throw Error(fmt::format("mapper: model '{}' has {}-bit {} (graph.json precision) but the chip's cores take at most {} "
                            "(core.{}): map it on a chip with --set core.{}={} or export the model with {} {}",
                            g.name, model_bits, what, chip_bits, key, key, model_bits, flag, chip_bits));
  };
  const int wb = model::max_weight_bits(g);  // the widest layer (a per-layer width may exceed the model's)
  if (wb > chip.core.weight_bits) refuse("weights", wb, "weight_bits", chip.core.weight_bits, "--weight-bits");
  if (g.membrane_bits > chip.core.membrane_bits)
    refuse("membranes", g.membrane_bits, "membrane_bits", chip.core.membrane_bits, "--membrane-bits");
}

Mapping map_model(const Graph& g, const arch::ChipConfig& chip_in, const MapOptions& opt) {
  if (!(opt.default_rate >= 0 && opt.default_rate <= 1))
    throw UsageError(fmt::format("mapper: --rate {} is out of range 0..1", opt.default_rate));
  check_precision(g, chip_in);
  check_phase_partitioner(opt.phases);
  arch::ChipConfig chip = chip_in;
  // Groups get the weight SRAM the prefetch buffer leaves (core.weight_prefetch_fraction).
  chip.core.weight_sram_bytes = arch::weight_sram_usable(chip_in);
  Mapping m;
  // A residual stream whose cluster has a group too big for a core, or (time-multiplexed) whose
  // cycle of clusters exceeds the chip, is cut at its Adds (docs/mapper.md, "Cut streams"); a
  // model that fits as it is keeps its clusters.
  std::vector<int> cuts;
  const std::vector<int> cuttable = cuttable_adds(g);
  auto cut_within = [&](const std::vector<int>& cluster_ids) {
    const size_t before = cuts.size();
    for (int ci : cluster_ids)
      for (int node : m.clusters[size_t(ci)].nodes)
        if (std::binary_search(cuttable.begin(), cuttable.end(), node) &&
            std::find(cuts.begin(), cuts.end(), node) == cuts.end())
          cuts.push_back(node);
    std::sort(cuts.begin(), cuts.end());
    return cuts.size() > before;
  };
  for (;;) {
    m.clusters = build_clusters(g, cuts);
    std::vector<int> misfits;
    for (const Cluster& c : m.clusters)
      if (!fits_one_core(c, chip.core)) misfits.push_back(c.id);
    if (!misfits.empty() && cut_within(misfits)) continue;
    break;
  }
  m.groups = partition(g, m.clusters, chip, opt);
  const int64_t need = int64_t(m.groups.size());
  const int per_chip = chip.mesh.width * chip.mesh.height;
  int nchips = opt.chips;
  if (opt.chips == -1) nchips = std::max<int>(chip.chips.chips_x * chip.chips.chips_y, ceil_div(need, per_chip));
  if (nchips > 0) {
    int cx = int(std::ceil(std::sqrt(double(nchips))));
    chip.chips.chips_x = cx, chip.chips.chips_y = ceil_div(nchips, cx);
    if (int64_t(chip.global_width()) * chip.global_height() > (1 << 20))
      throw Error(fmt::format("mapper: {} chips of {} cores exceed the 1048576-core limit", nchips, per_chip));
  }
  m.phases.assign(1, Phase{int(need), 0, 0});
  if (need > chip.num_cores() && opt.time_multiplex) {
    std::vector<int> too_big;
    while (!assign_phases(g, m, chip.num_cores(), &too_big, opt, &chip)) {
      if (!cut_within(too_big)) {
        assign_phases(g, m, chip.num_cores(), nullptr, opt, &chip);  // throws, naming the cycle and the ways out
        break;
      }
      m.clusters = build_clusters(g, cuts);
      m.groups = partition(g, m.clusters, chip, opt);
    }
  } else if (need > chip.num_cores()) {
    // Name the first layer (in graph order) that no longer finds free cores.
    int64_t used = 0;
    const Cluster* culprit = nullptr;
    int64_t culprit_groups = 0, culprit_mem = 0, culprit_w = 0;
    for (const Cluster& c : m.clusters) {
      int64_t n = int64_t(c.n_channel_chunks) * c.n_tiles_y * c.n_tiles_x * c.fan_in_slices;
      if (!culprit && used + n > chip.num_cores()) {
        culprit = &c, culprit_groups = n;
        for (const Group& gr : m.groups)
          if (gr.cluster == c.id) culprit_mem += gr.membrane_bytes, culprit_w += gr.weight_bytes;
      }
      used += n;
    }
    int64_t mem_total = 0, w_total = 0;
    for (const Group& gr : m.groups) mem_total += gr.membrane_bytes, w_total += gr.weight_bytes;
    int64_t cap = int64_t(chip.num_cores());
    throw Error(fmt::format(
        "mapper: model '{}' does not fit chip '{}': it needs {} cores ({} groups) but the chip has {} "
        "(short by {} cores). Layer {} is the first that finds no free core: it needs {} cores "
        "({} membrane, {} weights incl. replication). In total the model needs {} membrane SRAM and {} "
        "weight SRAM, the chip has {} and {} (short by {} / {}). To fix: a larger mesh, larger "
        "core.membrane_sram_bytes / core.weight_sram_bytes, or more chips (--chips auto would use {}), or --time-multiplex (layers take turns on the cores, weights reloaded from DRAM)",
        g.name, chip.name, need, need, cap, need - cap, culprit ? cluster_label(g, *culprit) : "?", culprit_groups,
        fmt_bytes(culprit_mem), fmt_bytes(culprit_w), fmt_bytes(mem_total), fmt_bytes(w_total),
        fmt_bytes(cap * chip.core.membrane_sram_bytes), fmt_bytes(cap * chip.core.weight_sram_bytes),
        fmt_bytes(std::max<int64_t>(0, mem_total - cap * chip.core.membrane_sram_bytes)),
        fmt_bytes(std::max<int64_t>(0, w_total - cap * chip.core.weight_sram_bytes)), ceil_div(need, per_chip)));
  }
  m.model_name = g.name;
  m.model_hash = structure_hash(g);
  m.chip_name = chip.name;
  arch::ChipConfig hashed = chip;  // the config as given (with its fraction), on the mesh used
  hashed.core.weight_sram_bytes = chip_in.core.weight_sram_bytes;
  m.chip_hash = chip_hash(hashed);
  m.mesh_w = chip.global_width(), m.mesh_h = chip.global_height();
  m.chip_w = chip.mesh.width, m.chip_h = chip.mesh.height;
  m.membrane_sram_bytes = chip.core.membrane_sram_bytes;
  m.weight_sram_bytes = chip.core.weight_sram_bytes;
  for (const Node& n : g.nodes) m.node_names.push_back(n.name);
  m.options = {{"placement", opt.placement}, {"seed", opt.seed},          {"default_rate", opt.default_rate},
               {"unicast", opt.unicast},     {"split", opt.split},        {"chips_x", chip.chips.chips_x},
               {"chips_y", chip.chips.chips_y}, {"measured_rates", opt.rates.size()},
               {"anneal_moves_per_group", opt.anneal_moves_per_group}, {"time_multiplex", opt.time_multiplex}};
  if (opt.phases != "greedy") m.options["phases"] = opt.phases;  // older files: greedy
  m.routes = build_routes(g, m.clusters, m.groups, opt);
  phase_spills(m, g.timesteps);
  m.timesteps = g.timesteps;
  for (const auto& mc : chip.memory_controllers)
    m.memory_routers.push_back(arch::memory_controller_router(mc, m.mesh_w, m.mesh_h));
  place_and_route(m, opt.placement, opt.seed, opt.unicast, opt.anneal_moves_per_group,
                  arch::noc::routing_function(chip.router.routing));
  return m;
}
}  // namespace spikechip::mapper
