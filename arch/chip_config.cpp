#include "arch/chip_config.hpp"

#include <filesystem>

#include "arch/core/core_registry.hpp"
#include "arch/noc/network.hpp"
#include "arch/noc/routing.hpp"
#include "base/error.hpp"
#include "base/strict_json.hpp"
#include "spikechip/source_dir.hpp"

namespace spikechip::arch {

namespace fs = std::filesystem;

namespace {
constexpr int64_t kMaxSram = int64_t(1) << 34;  // 16 GiB: beyond any on-chip SRAM, catches unit slips

void read_mesh(const StrictJson& j, MeshConfig& m) {
  j.only_keys({"width", "height"});
  j.opt_int("width", m.width, 1, 256);
  j.opt_int("height", m.height, 1, 256);
}

void read_chips(const StrictJson& j, ChipLinkConfig& c) {
  j.only_keys({"chips_x", "chips_y", "latency_cycles", "bits_per_cycle"});
  j.opt_int("chips_x", c.chips_x, 1, 64);
  j.opt_int("chips_y", c.chips_y, 1, 64);
  j.opt_int("latency_cycles", c.latency_cycles, 0, 1000000);
  j.opt_int("bits_per_cycle", c.bits_per_cycle, 1, 4096);
}

void read_router(const StrictJson& j, RouterConfig& r) {
  j.only_keys({"buffer_depth", "vcs", "flit_bits", "pipeline_stages", "link_latency", "routing",
               "multicast", "arbitration", "model"});
  j.opt_int("buffer_depth", r.buffer_depth, 1, 1024);
  j.opt_int("vcs", r.vcs, 1, 16);
  j.opt_int("flit_bits", r.flit_bits, 16, 1024);
  j.opt_int("pipeline_stages", r.pipeline_stages, 1, 16);
  j.opt_int("link_latency", r.link_latency, 1, 1000);
  if (j.has("routing")) r.routing = j.at("routing").as_enum(noc::routing_names());
  if (j.has("multicast")) r.multicast = j.at("multicast").as_bool();
  if (j.has("arbitration")) r.arbitration = j.at("arbitration").as_enum({"round_robin", "fixed_priority"});
  if (j.has("model")) r.model = j.at("model").as_enum(noc::router_model_names());
}

void read_core(const StrictJson& j, CoreConfig& c) {
  j.only_keys({"adder_lanes", "membrane_sram_bytes", "membrane_banks", "membrane_word_bits",
               "weight_sram_bytes", "weight_banks", "weight_word_bits", "neuron_updates_per_cycle",
               "sdsa_lanes", "input_queue_depth", "output_queue_depth", "mac_lanes", "queue_sram_bytes", "type"});
  j.opt_int("adder_lanes", c.adder_lanes, 1, 4096);
  j.opt_int("membrane_sram_bytes", c.membrane_sram_bytes, 1024, kMaxSram);
  j.opt_int("membrane_banks", c.membrane_banks, 1, 256);
  // Membranes are int32 by the semantics contract; a narrower word would silently truncate.
  j.opt_int("membrane_word_bits", c.membrane_word_bits, 32, 32);
  j.opt_int("weight_sram_bytes", c.weight_sram_bytes, 1024, kMaxSram);
  j.opt_int("weight_banks", c.weight_banks, 1, 256);
  j.opt_int("weight_word_bits", c.weight_word_bits, 8, 4096);
  if (c.weight_word_bits % 8 != 0)
    j.at("weight_word_bits").fail(std::to_string(c.weight_word_bits) + " is not a multiple of 8 (weights are int8)");
  j.opt_int("neuron_updates_per_cycle", c.neuron_updates_per_cycle, 1, 4096);
  j.opt_int("sdsa_lanes", c.sdsa_lanes, 1, 4096);
  j.opt_int("input_queue_depth", c.input_queue_depth, 1, 1 << 24);
  j.opt_int("output_queue_depth", c.output_queue_depth, 1, 1 << 24);
  j.opt_int("mac_lanes", c.mac_lanes, 1, 4096);
  j.opt_int("queue_sram_bytes", c.queue_sram_bytes, 64, kMaxSram);
  if (j.has("type")) {  // the core models' name table (arch/core/core_registry.hpp)
    c.type = j.at("type").as_string();
    if (!find_core_model(c.type)) {
      std::string names;
      for (const char* n : core_model_names()) names += (names.empty() ? "" : ", ") + std::string(n);
      j.at("type").fail("'" + c.type + "' is not a core model; known: " + names);
    }
  }
  if (c.membrane_sram_bytes % c.membrane_banks != 0)
    j.at("membrane_banks").fail("membrane_sram_bytes " + std::to_string(c.membrane_sram_bytes) +
                                " is not divisible into " + std::to_string(c.membrane_banks) + " banks");
  if (c.weight_sram_bytes % c.weight_banks != 0)
    j.at("weight_banks").fail("weight_sram_bytes " + std::to_string(c.weight_sram_bytes) +
                              " is not divisible into " + std::to_string(c.weight_banks) + " banks");
}

void read_host(const StrictJson& j, HostConfig& h) {
  j.only_keys({"ports", "bits_per_cycle"});
  j.opt_int("ports", h.ports, 1, 4096);
  j.opt_int("bits_per_cycle", h.bits_per_cycle, 1, 4096);
}

void read_dram(const StrictJson& j, DramConfig& d) {
  j.only_keys({"bytes_per_cycle", "latency_cycles"});
  j.opt_int("bytes_per_cycle", d.bytes_per_cycle, 1, 1 << 20);
  j.opt_int("latency_cycles", d.latency_cycles, 0, 1000000);
}

void read_tech(const StrictJson& j, TechConfig& t) {
  j.only_keys({"node", "energy_table"});
  if (j.has("node")) t.node = j.at("node").as_string();
  if (j.has("energy_table")) t.energy_table = j.at("energy_table").as_string();
  if (t.energy_table.empty()) j.at("energy_table").fail("must not be empty");
}
}  // namespace

ChipConfig chip_config_from_json(const nlohmann::json& json, const std::string& origin) {
  StrictJson j(json, origin);
  j.only_keys({"name", "description", "clock_hz", "mesh", "chips", "router", "core", "host", "dram",
               "tech", "watchdog_cycles"});
  ChipConfig c;
  c.name = j.at("name").as_string();
  if (c.name.empty()) j.at("name").fail("must not be empty");
  if (j.has("description")) c.description = j.at("description").as_string();
  if (j.has("clock_hz")) c.clock_hz = j.at("clock_hz").as_double(1e3, 1e12);
  if (j.has("mesh")) read_mesh(j.at("mesh"), c.mesh);
  if (j.has("chips")) read_chips(j.at("chips"), c.chips);
  if (j.has("router")) read_router(j.at("router"), c.router);
  if (j.has("core")) read_core(j.at("core"), c.core);
  if (j.has("host")) read_host(j.at("host"), c.host);
  if (j.has("dram")) read_dram(j.at("dram"), c.dram);
  if (j.has("tech")) read_tech(j.at("tech"), c.tech);
  j.opt_int("watchdog_cycles", c.watchdog_cycles, 1, int64_t(1) << 40);
  if (int64_t(c.global_width()) * c.global_height() > 1 << 20)
    j.at("chips").fail("the global mesh has " + std::to_string(int64_t(c.global_width()) * c.global_height()) +
                       " tiles; at most 1048576 are supported");
  if (c.host.ports > c.global_height())
    j.at("host").at("ports").fail(std::to_string(c.host.ports) + " ports do not fit the " +
                                  std::to_string(c.global_height()) +
                                  " rows of the west edge (one port per row at most): lower host.ports");
  // After router and core: an entry's size follows the flit width.
  if (queue_sram_needed(c) > c.core.queue_sram_bytes)
    StrictJson(json, origin, "/core/queue_sram_bytes")
        .fail(std::to_string(c.core.queue_sram_bytes) + " bytes cannot hold the queues: input_queue_depth " +
              std::to_string(c.core.input_queue_depth) + " + output_queue_depth " +
              std::to_string(c.core.output_queue_depth) + " packets of up to " + std::to_string(1 + kMaxPayloadFlits) +
              " flits x " + std::to_string(c.router.flit_bits) + " bits (" + std::to_string(queue_entry_bytes(c)) +
              " B each) need " + std::to_string(queue_sram_needed(c)) +
              " bytes; raise core.queue_sram_bytes or lower the queue depths");
  c.source_path = origin;
  return c;
}

int64_t queue_entry_bytes(const ChipConfig& c) {
  return int64_t(1 + kMaxPayloadFlits) * ((c.router.flit_bits + 7) / 8);
}

int64_t queue_sram_needed(const ChipConfig& c) {
  return (int64_t(c.core.input_queue_depth) + c.core.output_queue_depth) * queue_entry_bytes(c);
}

nlohmann::json chip_config_to_json(const ChipConfig& c) {
  nlohmann::json j;
  j["name"] = c.name;
  j["description"] = c.description;
  j["clock_hz"] = c.clock_hz;
  j["mesh"] = {{"width", c.mesh.width}, {"height", c.mesh.height}};
  j["chips"] = {{"chips_x", c.chips.chips_x}, {"chips_y", c.chips.chips_y},
                {"latency_cycles", c.chips.latency_cycles}, {"bits_per_cycle", c.chips.bits_per_cycle}};
  j["router"] = {{"buffer_depth", c.router.buffer_depth}, {"vcs", c.router.vcs},
                 {"flit_bits", c.router.flit_bits}, {"pipeline_stages", c.router.pipeline_stages},
                 {"link_latency", c.router.link_latency}, {"routing", c.router.routing},
                 {"multicast", c.router.multicast}, {"arbitration", c.router.arbitration},
                 {"model", c.router.model}};
  const CoreConfig& k = c.core;
  j["core"] = {{"adder_lanes", k.adder_lanes}, {"membrane_sram_bytes", k.membrane_sram_bytes},
               {"membrane_banks", k.membrane_banks}, {"membrane_word_bits", k.membrane_word_bits},
               {"weight_sram_bytes", k.weight_sram_bytes}, {"weight_banks", k.weight_banks},
               {"weight_word_bits", k.weight_word_bits},
               {"neuron_updates_per_cycle", k.neuron_updates_per_cycle}, {"sdsa_lanes", k.sdsa_lanes},
               {"input_queue_depth", k.input_queue_depth}, {"output_queue_depth", k.output_queue_depth},
               {"mac_lanes", k.mac_lanes}, {"queue_sram_bytes", k.queue_sram_bytes}, {"type", k.type}};
  j["host"] = {{"ports", c.host.ports}, {"bits_per_cycle", c.host.bits_per_cycle}};
  j["dram"] = {{"bytes_per_cycle", c.dram.bytes_per_cycle}, {"latency_cycles", c.dram.latency_cycles}};
  j["tech"] = {{"node", c.tech.node}, {"energy_table", c.tech.energy_table}};
  j["watchdog_cycles"] = c.watchdog_cycles;
  return j;
}

std::string resolve_energy_table(const ChipConfig& c) {
  fs::path p(c.tech.energy_table);
  std::vector<fs::path> tried;
  if (p.is_absolute()) {
    tried.push_back(p);
  } else {
    if (!c.source_path.empty()) tried.push_back(fs::path(c.source_path).parent_path() / p);
    tried.push_back(fs::path(SPIKECHIP_SOURCE_DIR) / p);
  }
  std::error_code ec;  // a name the OS rejects (too long, ...) is "not found", never an exception
  for (const auto& t : tried)
    if (fs::is_regular_file(t, ec)) {
      const fs::path canonical = fs::weakly_canonical(t, ec);
      return ec ? t.string() : canonical.string();
    }
  std::string list;
  for (const auto& t : tried) list += (list.empty() ? "" : ", ") + excerpt(t.string(), 120);
  throw Error((c.source_path.empty() ? excerpt(c.name) : c.source_path) + ": /tech/energy_table: file '" +
              excerpt(c.tech.energy_table) + "' not found (tried " + list +
              "); point it at an energy table such as arch/energy/45nm.json");
}

ChipConfig load_chip_config(const std::string& path) {
  nlohmann::json j = read_json_file(path, "chip config");
  ChipConfig c = chip_config_from_json(j, path);
  resolve_energy_table(c);  // fail now, not at the end of a long simulation
  return c;
}

}  // namespace spikechip::arch
