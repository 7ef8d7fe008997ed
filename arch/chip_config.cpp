// The chip configuration's key table and its strict reader / writer (docs/chip-config.md). Each key
// is one row of kKeys: its path, type (from the struct member), range, unit and meaning. The reader,
// the writer, `--set` validation and `spikechip config describe` all walk that table, so a key is
// declared exactly once. Cross-key rules (bank divisibility, queue SRAM, host ports) follow it.
#include "arch/chip_config.hpp"

#include <cmath>
#include <map>
#include <set>
#include <variant>

#include <fmt/format.h>

#include "arch/core/core_registry.hpp"
#include "arch/dram_timing.hpp"
#include "arch/memory_controllers.hpp"
#include "arch/noc/network.hpp"
#include "arch/noc/routing.hpp"
#include "base/json_text.hpp"
#include "base/registry.hpp"
#include "base/error.hpp"
#include "base/strict_json.hpp"

namespace spikechip::arch {

namespace {
using json = nlohmann::json;
using Ref = std::variant<int*, int64_t*, double*, bool*, std::string*>;

constexpr double kMaxSram = double(int64_t(1) << 34);  // 16 GiB: beyond any on-chip SRAM, catches unit slips

struct Row {
  const char* path;
  Ref (*ref)(ChipConfig&);
  const char* unit = "-";
  double lo = 0, hi = 0;                // integer / number range
  std::vector<const char*> choices{};   // enum values (a string member with choices)
  const char* meaning = "";
  bool required = false;                // no default (only `name`)
  bool nonempty = false;                // strings
  int multiple_of = 0;                  // integers
  bool omit_default = false;            // written only when set (keys added after outputs were fixed)
};

// KEY(section, member): the dotted path and the member it fills, written once.
#define KEY(sec, mem) .path = #sec "." #mem, .ref = [](ChipConfig& c) -> Ref { return &c.sec.mem; }
#define TOP(mem) .path = #mem, .ref = [](ChipConfig& c) -> Ref { return &c.mem; }

// The core-model registry's names (arch/core/list.hpp), as the table's choices.
std::vector<const char*> core_choices() {
  std::vector<const char*> out;
  for (const std::string& n : core_model_names()) out.push_back(find_core_model(n)->name);
  return out;
}

// The router models (arch/noc/network.hpp, RouterModel), as the table's choices.
std::vector<const char*> router_model_choices() {
  std::vector<const char*> out;
  for (const std::string& n : noc::router_model_names()) out.push_back(n.c_str());
  return out;
}

// The DRAM models (arch/dram_timing.hpp), as the table's choices.
std::vector<const char*> dram_model_choices() {
  static const std::vector<std::string> names = dram_model_names();
  std::vector<const char*> out;
  for (const std::string& n : names) out.push_back(n.c_str());
  return out;
}

// The routing registry's names (arch/noc/routing/list.hpp), as the table's choices.
std::vector<const char*> routing_choices() {
  std::vector<const char*> out;
  for (const noc::RoutingFunction* f : noc::routing_functions()) out.push_back(f->name);
  return out;
}

const std::vector<Row>& rows() {
  static const std::vector<Row> kKeys = {
      {TOP(name), .meaning = "chip name (reports, mapping file)", .required = true, .nonempty = true},
      {TOP(description), .meaning = "free text"},
      {TOP(clock_hz), .unit = "Hz", .lo = 1e3, .hi = 1e12, .meaning = "one clock per chip"},
      {KEY(mesh, width), .unit = "tiles", .lo = 1, .hi = 256, .meaning = "tiles per chip in x"},
      {KEY(mesh, height), .unit = "tiles", .lo = 1, .hi = 256, .meaning = "tiles per chip in y"},
      {KEY(chips, chips_x), .unit = "chips", .lo = 1, .hi = 64,
       .meaning = "identical chips in a grid, in x; global mesh = (chips_x*width) x (chips_y*height), at most "
                  "2^20 tiles"},
      {KEY(chips, chips_y), .unit = "chips", .lo = 1, .hi = 64, .meaning = "identical chips in a grid, in y"},
      {KEY(chips, latency_cycles), .unit = "cycles", .lo = 0, .hi = 1e6,
       .meaning = "extra cycles to cross a chip-to-chip link"},
      {KEY(chips, bits_per_cycle), .unit = "bits/cycle", .lo = 1, .hi = 4096,
       .meaning = "serial chip-to-chip link width (a flit of F bits takes ceil(F/bits) cycles)"},
      {KEY(router, buffer_depth), .unit = "flits", .lo = 1, .hi = 1024, .meaning = "per input VC buffer"},
      {KEY(router, vcs), .lo = 1, .hi = 16, .meaning = "virtual channels per input port"},
      {KEY(router, flit_bits), .unit = "bits", .lo = 16, .hi = 1024, .meaning = "flit width"},
      {KEY(router, pipeline_stages), .unit = "cycles", .lo = 1, .hi = 16,
       .meaning = "head-flit arrival to switch traversal"},
      {KEY(router, link_latency), .unit = "cycles", .lo = 1, .hi = 1000, .meaning = "per link between neighbouring routers"},
      {KEY(router, routing), .choices = routing_choices(), .meaning = "routing algorithm (arch/noc/routing.hpp)"},
      {KEY(router, multicast), .meaning = "fork packets at routers (false: one unicast per destination)"},
      {KEY(router, arbitration), .choices = {"round_robin", "fixed_priority"}, .meaning = "output-port arbitration"},
      {KEY(router, model), .choices = router_model_choices(),
       .meaning = "router stages and allocators (docs/architecture.md, Router stages): BookSim2's input-queued router with iSLIP, the speculative single-cycle allocator, or `packet`: a packet-level model (links reserved per packet, no buffers or VCs) for fast sweeps, opt-in"},
      {KEY(core, adder_lanes), .unit = "adds/cycle", .lo = 1, .hi = 4096, .meaning = "synaptic additions per cycle (P)"},
      {KEY(core, membrane_sram_bytes), .unit = "bytes", .lo = 1024, .hi = kMaxSram,
       .meaning = "membrane SRAM per core; divisible by membrane_banks"},
      {KEY(core, membrane_banks), .lo = 1, .hi = 256, .meaning = "membrane SRAM banks"},
      {KEY(core, membrane_word_bits), .unit = "bits", .lo = 16, .hi = 32,
       .meaning = "membrane SRAM word (one membrane per word; at least membrane_bits); access energy scales with it",
       .multiple_of = 8},
      {KEY(core, weight_sram_bytes), .unit = "bytes", .lo = 1024, .hi = kMaxSram,
       .meaning = "weight SRAM per core; divisible by weight_banks"},
      {KEY(core, weight_banks), .lo = 1, .hi = 256, .meaning = "weight SRAM banks"},
      {KEY(core, weight_word_bits), .unit = "bits", .lo = 8, .hi = 4096,
       .meaning = "weight SRAM word; weights read per access = floor(bits / the layer's weight width), packed", .multiple_of = 8},
      {KEY(core, weight_prefetch_fraction), .lo = 0, .hi = 0.9,
       .meaning = "fraction of the weight SRAM reserved to prefetch the next phase's weights while a time-multiplexed "
                  "phase computes (double buffering, docs/architecture.md); groups are mapped into the rest",
       .omit_default = true},
      {KEY(core, neuron_updates_per_cycle), .unit = "LIF/cycle", .lo = 1, .hi = 4096, .meaning = "LIF updates per cycle"},
      {KEY(core, sdsa_lanes), .unit = "ops/cycle", .lo = 1, .hi = 4096, .meaning = "SDSA AND/increment or row-add lanes"},
      {KEY(core, input_queue_depth), .unit = "packets", .lo = 1, .hi = 1 << 24,
       .meaning = "received packets whose synapse work is not finished; a full queue refuses flits (backpressure "
                  "into the router)"},
      {KEY(core, output_queue_depth), .unit = "packets", .lo = 1, .hi = 1 << 24,
       .meaning = "packets formed and not yet injected"},
      {KEY(core, mac_lanes), .unit = "MAC/cycle", .lo = 1, .hi = 4096, .meaning = "encoding-layer multiply-accumulates"},
      {KEY(core, weight_bits), .unit = "bits", .lo = 4, .hi = 16, .meaning = "widest weights the cores take (4, 6, 8, 12 or 16; at most weight_word_bits); a model with a wider layer is refused at map time", .multiple_of = 2, .omit_default = true},
      {KEY(core, membrane_bits), .unit = "bits", .lo = 16, .hi = 32, .meaning = "widest membranes the cores take (16, 24 or 32); a model with wider precision.membrane_bits is refused at map time", .multiple_of = 8, .omit_default = true},
      {KEY(core, queue_sram_bytes), .unit = "bytes", .lo = 64, .hi = kMaxSram,
       .meaning = "SRAM holding both queues; must hold (input_queue_depth + output_queue_depth) entries of one "
                  "whole packet each"},
      {KEY(core, type), .choices = core_choices(),
       .meaning = "core model (arch/core/core_registry.hpp): event = the event-driven neuro-core, dense = the dense "
                  "MAC-array core"},
      {KEY(host, ports), .lo = 1, .hi = 4096,
       .meaning = "host input ports on the west edge, at most the global mesh height: port i enters at the router "
                  "of column 0, row i * height / ports (port 0 at core 0, where results return)"},
      {KEY(host, bits_per_cycle), .unit = "bits/cycle", .lo = 1, .hi = 4096,
       .meaning = "width of each host port's link: a flit takes ceil(flit_bits / bits_per_cycle) cycles"},
      {KEY(dram, bytes_per_cycle), .unit = "bytes/cycle", .lo = 1, .hi = 1 << 20,
       .meaning = "off-chip memory channel behind the host port (time-multiplexed mappings only): weight reloads "
                  "and spilled values move at this rate; default = one LPDDR4 x16 channel at 3200 MT/s = 6.4 GB/s "
                  "at 200 MHz. Not part of the mapping's chip hash"},
      {KEY(dram, latency_cycles), .unit = "cycles", .lo = 0, .hi = 1e6,
       .meaning = "before the first byte of each read burst (a phase's weights, its spilled values); ~100 ns at "
                  "200 MHz"},
      {KEY(dram, model), .choices = dram_model_choices(),
       .meaning = "off-chip memory timing: channel = the fixed channel of bytes_per_cycle and latency_cycles; a "
                  "device = banks, row-buffer hits and misses, refresh from its JEDEC figures (docs/architecture.md, "
                  "\"Off-chip memory timing\"), bandwidth and latency following from them",
       .omit_default = true},
      {KEY(dram, channels), .unit = "channels", .lo = 1, .hi = 64,
       .meaning = "channels of a device model (addresses interleaved per row); the channel model has one",
       .omit_default = true},
      {KEY(tech, node), .meaning = "technology label (scales the area model: docs/architecture.md, \"Area\")"},
      {KEY(tech, energy_table),
       .meaning = "energy table: a name (45nm, 28nm, 22nm = arch/energy/NAME.json) or a path, relative to the chip "
                  "file's directory, then the source tree",
       .nonempty = true},
      {TOP(watchdog_cycles), .unit = "cycles", .lo = 1, .hi = double(int64_t(1) << 40),
       .meaning = "stop with a diagnostic when nothing moves this long"},
  };
  return kKeys;
}
#undef KEY
#undef TOP

std::string section_of(const Row& r) {
  const std::string p = r.path;
  const auto dot = p.find('.');
  return dot == std::string::npos ? "" : p.substr(0, dot);
}
std::string leaf_of(const Row& r) {
  const std::string p = r.path;
  const auto dot = p.find('.');
  return dot == std::string::npos ? p : p.substr(dot + 1);
}
std::string pointer_of(const Row& r) {
  std::string p = std::string("/") + r.path;
  for (auto& ch : p) ch = ch == '.' ? '/' : ch;
  return p;
}

std::string type_of(const Row& r) {
  ChipConfig c;
  const Ref ref = r.ref(c);
  if (std::holds_alternative<int*>(ref) || std::holds_alternative<int64_t*>(ref)) return "integer";
  if (std::holds_alternative<double*>(ref)) return "number";
  if (std::holds_alternative<bool*>(ref)) return "bool";
  return r.choices.empty() ? "string" : "enum";
}

std::string num_text(double v) {
  if (v >= double(1 << 20) && std::exp2(std::round(std::log2(v))) == v) return fmt::format("2^{}", int(std::log2(v)));
  if (v >= 1e6 && std::pow(10, std::round(std::log10(v))) == v) return fmt::format("1e{}", int(std::log10(v)));
  return json_text(json(v == std::floor(v) && std::abs(v) < 1e15 ? json(int64_t(v)) : json(v)));
}

std::string range_of(const Row& r) {
  const std::string t = type_of(r);
  if (t == "integer" || t == "number") {
    std::string s = r.lo == r.hi ? num_text(r.lo) : num_text(r.lo) + ".." + num_text(r.hi);
    if (r.multiple_of) s += fmt::format(", multiple of {}", r.multiple_of);
    return s;
  }
  if (t == "bool") return "true, false";
  if (t == "enum") {
    std::string s;
    for (const char* v : r.choices) s += (s.empty() ? "" : ", ") + std::string(v);
    return s;
  }
  return r.nonempty ? "non-empty" : "any";
}

json value_of(const Row& r, const ChipConfig& c) {
  return std::visit([](auto* p) { return json(*p); }, r.ref(const_cast<ChipConfig&>(c)));
}

// Reads one key's value into the config, validating it exactly as the table says.
void read_value(const Row& r, const StrictJson& v, ChipConfig& c) {
  std::visit(
      [&](auto* p) {
        using T = std::remove_pointer_t<decltype(p)>;
        if constexpr (std::is_same_v<T, int> || std::is_same_v<T, int64_t>) {
          *p = T(v.as_int(int64_t(r.lo), int64_t(r.hi)));
          if (r.multiple_of && *p % r.multiple_of != 0)
            v.fail(fmt::format("{} is not a multiple of {}", *p, r.multiple_of));
        } else if constexpr (std::is_same_v<T, double>) {
          *p = v.as_double(r.lo, r.hi);
        } else if constexpr (std::is_same_v<T, bool>) {
          *p = v.as_bool();
        } else {
          if (!r.choices.empty()) {
            const std::string s = v.as_string();
            std::string list;
            for (const char* ch : r.choices) {
              if (s == ch) {
                *p = s;
                return;
              }
              list += (list.empty() ? "" : ", ") + std::string(ch);
            }
            v.fail("'" + s + "' is not one of: " + list);
          }
          *p = v.as_string();
          if (r.nonempty && p->empty()) v.fail("must not be empty");
        }
      },
      r.ref(c));
}

// Cross-key rules, after every key is read.
void check_combination(const json& json_in, const std::string& origin, const ChipConfig& c) {
  if (c.core.membrane_sram_bytes % c.core.membrane_banks != 0)
    StrictJson(json_in, origin, "/core/membrane_banks")
        .fail("membrane_sram_bytes " + std::to_string(c.core.membrane_sram_bytes) + " is not divisible into " +
              std::to_string(c.core.membrane_banks) + " banks");
  if (c.core.weight_sram_bytes % c.core.weight_banks != 0)
    StrictJson(json_in, origin, "/core/weight_banks")
        .fail("weight_sram_bytes " + std::to_string(c.core.weight_sram_bytes) + " is not divisible into " +
              std::to_string(c.core.weight_banks) + " banks");
  if (c.core.membrane_word_bits < c.core.membrane_bits)
    StrictJson(json_in, origin, "/core/membrane_word_bits")
        .fail(std::to_string(c.core.membrane_word_bits) + "-bit words cannot hold the " + std::to_string(c.core.membrane_bits) +
              "-bit membranes of core.membrane_bits: raise it or lower core.membrane_bits");
  if (c.core.weight_bits == 10 || c.core.weight_bits == 14 || c.core.weight_bits > c.core.weight_word_bits)
    StrictJson(json_in, origin, "/core/weight_bits")
        .fail(std::to_string(c.core.weight_bits) + " is not a weight width the cores can take (4, 6, 8, 12 or 16, "
              "and at most core.weight_word_bits = " + std::to_string(c.core.weight_word_bits) + ")");
  if (int64_t(c.global_width()) * c.global_height() > 1 << 20)
    StrictJson(json_in, origin, "/chips")
        .fail("the global mesh has " + std::to_string(int64_t(c.global_width()) * c.global_height()) +
              " tiles; at most 1048576 are supported");
  if (c.host.ports > c.global_height())
    StrictJson(json_in, origin, "/host/ports")
        .fail(std::to_string(c.host.ports) + " ports do not fit the " + std::to_string(c.global_height()) +
              " rows of the west edge (one port per row at most): lower host.ports");
  if (c.dram.model == "channel" && c.dram.channels != 1)
    StrictJson(json_in, origin, "/dram/channels")
        .fail(std::to_string(c.dram.channels) +
              " channels need a device model: set dram.model (spikechip config describe lists them) or drop "
              "dram.channels");
  // After router and core: an entry's size follows the flit width.
  if (queue_sram_needed(c) > c.core.queue_sram_bytes)
    StrictJson(json_in, origin, "/core/queue_sram_bytes")
        .fail(std::to_string(c.core.queue_sram_bytes) + " bytes cannot hold the queues: input_queue_depth " +
              std::to_string(c.core.input_queue_depth) + " + output_queue_depth " +
              std::to_string(c.core.output_queue_depth) + " packets of up to " + std::to_string(1 + kMaxPayloadFlits) +
              " flits x " + std::to_string(c.router.flit_bits) + " bits (" + std::to_string(queue_entry_bytes(c)) +
              " B each) need " + std::to_string(queue_sram_needed(c)) +
              " bytes; raise core.queue_sram_bytes or lower the queue depths");
}

}  // namespace

std::vector<ConfigKeyInfo> chip_config_keys() {
  std::vector<ConfigKeyInfo> out;
  const ChipConfig d;
  for (const Row& r : rows())
    out.push_back({r.path, type_of(r), r.unit, range_of(r), r.required ? json(nullptr) : value_of(r, d), r.meaning, r.omit_default});
  for (ConfigKeyInfo& k : memory_controller_keys()) out.push_back(std::move(k));
  return out;
}

std::string chip_config_keys_markdown() {
  std::string s = "| key | type | unit | range | default | meaning |\n|---|---|---|---|---|---|\n";
  for (const auto& k : chip_config_keys()) {
    std::string def = k.default_value.is_null() ? "required" : json_text(k.default_value);
    if (k.default_value.is_number_float()) def = num_text(k.default_value.get<double>());
    std::string range = k.range;
    if (k.type == "enum") {  // values as code: `xy`, `yx`
      range.clear();
      for (size_t i = 0, j; i <= k.range.size(); i = j + 2) {
        j = std::min(k.range.find(", ", i), k.range.size());
        range += (range.empty() ? "`" : ", `") + k.range.substr(i, j - i) + "`";
      }
    }
    s += fmt::format("| `{}` | {} | {} | {} | {} | {} |\n", k.path, k.type, k.unit, range, def, k.meaning);
  }
  return s;
}

ChipConfig chip_config_from_json(const json& j_in, const std::string& origin) {
  StrictJson root(j_in, origin);
  // The allowed keys of the top level and of every section, from the table.
  std::map<std::string, std::set<std::string>> allowed;
  for (const Row& r : rows()) {
    const std::string sec = section_of(r);
    allowed[""].insert(sec.empty() ? leaf_of(r) : sec);
    if (!sec.empty()) allowed[sec].insert(leaf_of(r));
  }
  auto check_keys = [&](const StrictJson& j, const std::set<std::string>& ok) {
    j.expect_object();
    for (auto it = j.raw().begin(); it != j.raw().end(); ++it)
      if (!ok.count(it.key())) {
        std::string list;
        for (const auto& k : ok) list += (list.empty() ? "" : ", ") + k;
        StrictJson(j_in, origin, j.path() + "/" + excerpt(it.key())).fail("unknown key (allowed here: " + list + ")");
      }
  };
  allowed[""].insert("memory_controllers");  // a list: arch/memory_controllers.hpp
  check_keys(root, allowed[""]);
  for (const auto& [sec, keys] : allowed)
    if (!sec.empty() && root.has(sec)) check_keys(root.at(sec), keys);
  ChipConfig c;
  for (const Row& r : rows()) {
    const std::string sec = section_of(r), leaf = leaf_of(r);
    static const json kEmpty = json::object();
    const StrictJson parent = sec.empty() ? root : (root.has(sec) ? root.at(sec) : StrictJson(kEmpty, origin, "/" + sec));
    if (!parent.has(leaf)) {
      if (r.required) parent.at(leaf);  // "missing key"
      continue;
    }
    read_value(r, parent.at(leaf), c);
  }
  if (root.has("memory_controllers")) read_memory_controllers(root.at("memory_controllers"), c);
  check_combination(j_in, origin, c);
  c.source_path = origin;
  return c;
}

int64_t weight_prefetch_bytes(const ChipConfig& c) {
  return int64_t(std::floor(c.core.weight_prefetch_fraction * double(c.core.weight_sram_bytes)));
}

int64_t queue_entry_bytes(const ChipConfig& c) {
  return int64_t(1 + kMaxPayloadFlits) * ((c.router.flit_bits + 7) / 8);
}

int64_t queue_sram_needed(const ChipConfig& c) {
  return (int64_t(c.core.input_queue_depth) + c.core.output_queue_depth) * queue_entry_bytes(c);
}

nlohmann::json chip_config_to_json(const ChipConfig& c) {
  json j = json::object();
  static const ChipConfig d;
  for (const Row& r : rows())
    if (!r.omit_default || value_of(r, c) != value_of(r, d)) j[json::json_pointer(pointer_of(r))] = value_of(r, c);
  if (!c.memory_controllers.empty()) j["memory_controllers"] = memory_controllers_to_json(c.memory_controllers);
  return j;
}

std::pair<std::string, json> parse_chip_override(const std::string& text) {
  const auto eq = text.find('=');
  const std::string where = "--set " + text;
  if (eq == std::string::npos || eq == 0)
    throw UsageError(where + ": expected KEY=VALUE, e.g. --set core.adder_lanes=32 (spikechip config describe "
                             "lists the keys)");
  const std::string key = text.substr(0, eq), val = text.substr(eq + 1);
  const Row* row = nullptr;
  for (const Row& r : rows())
    if (key == r.path) row = &r;
  if (!row) {
    std::string near;
    for (const Row& r : rows()) {
      const std::string p = r.path;
      if (p.find(key) != std::string::npos || key.find(p) != std::string::npos ||
          (p.rfind('.') != std::string::npos && key.size() > 3 && p.find(key.substr(key.rfind('.') + 1, 5)) != std::string::npos))
        near += (near.empty() ? "" : ", ") + p;
    }
    throw UsageError(where + ": unknown key '" + key + "'" + (near.empty() ? "" : " (did you mean " + near + "?)") +
                     "; spikechip config describe lists every key");
  }
  json v;
  const std::string t = type_of(*row);
  if (t == "string" || t == "enum") {
    v = val.size() >= 2 && val.front() == '"' && val.back() == '"' ? json::parse(val, nullptr, false) : json(val);
    if (v.is_discarded()) v = val;
  } else {
    v = json::parse(val, nullptr, false);
    if (v.is_discarded()) v = val;  // reported below as the wrong type, naming the key
  }
  ChipConfig scratch;
  try {
    read_value(*row, StrictJson(v, where, pointer_of(*row)), scratch);
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  return {pointer_of(*row), v};
}

}  // namespace spikechip::arch
