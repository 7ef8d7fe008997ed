// Sweep file parsing and expansion (docs/exploration.md).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include <fmt/format.h>

#include "arch/area.hpp"
#include "arch/chip_config.hpp"
#include "arch/noc/traffic.hpp"
#include "explore/sweep.hpp"
#include "mapper/mapper.hpp"
#include "mapper/placement.hpp"
#include "base/error.hpp"
#include "base/json_text.hpp"
#include "base/strict_json.hpp"
#include "spikechip/source_dir.hpp"

namespace spikechip::explore {
namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

namespace {

constexpr size_t kMaxPoints = 100000;

// Mapper options a sweep may set or vary as map.<key>, with their defaults (cmd_map's defaults).
json default_map_options() {
  return {{"placement", "anneal"}, {"seed", 1}, {"split", "min-cores"}, {"rate", 0.2}, {"unicast", false},
          {"chips", nullptr}};
}

// Mapper options without a default in the points' keys: set only when a sweep sets them, so the
// keys (and stored results) of sweeps that do not are unchanged.
const std::vector<std::string> kOptionalMapOptions = {"time_multiplex", "phases"};
bool optional_map_option(const std::string& key) {
  return std::find(kOptionalMapOptions.begin(), kOptionalMapOptions.end(), key) != kOptionalMapOptions.end();
}
// "map.chips, map.placement, ..., map.phases": every option a sweep may set.
std::string known_map_options() {
  std::string out;
  const json defaults = default_map_options();  // named: items() does not keep a temporary alive
  for (const auto& [k, v] : defaults.items()) out += (out.empty() ? "map." : ", map.") + k;
  for (const auto& k : kOptionalMapOptions) out += ", map." + k;
  return out;
}

void check_map_option(const StrictJson& v, const std::string& key) {
  if (key == "placement") v.as_enum(mapper::placement_names());
  else if (key == "time_multiplex") v.as_bool();
  else if (key == "phases") v.as_enum(mapper::phase_partitioner_names());
  else if (key == "seed") v.as_int(0, INT64_MAX);
  else if (key == "split") v.as_enum({"min-cores", "channels-first"});
  else if (key == "rate") v.as_double(0, 1);
  else if (key == "unicast") v.as_bool();
  else if (key == "chips") {
    if (v.raw().is_null()) return;
    if (v.raw().is_string()) v.as_enum({"auto"});
    else v.as_int(1, 4096);
  } else {
    v.fail("unknown mapper option 'map." + excerpt(key) + "' (known: " + known_map_options() + ")");
  }
}

// Synthetic-traffic options of a "noc" job, set or varied as noc.<key>, with their defaults
// (spikechip noc's defaults; the mesh and router come from the chip config).
json default_noc_options() {
  return {{"traffic", "uniform"}, {"rate", 0.1}, {"packet_size", 4}, {"warmup", 1000}, {"measure", 10000},
          {"fanout", 1}, {"seed", 1}};
}

void check_noc_option(const StrictJson& v, const std::string& key) {
  if (key == "traffic") v.as_enum(arch::noc::traffic_pattern_names());
  else if (key == "rate") v.as_double(0, 1);
  else if (key == "packet_size") v.as_int(1, 1024);
  else if (key == "warmup") v.as_int(0, 1000000000);
  else if (key == "measure") v.as_int(1, 1000000000);
  else if (key == "fanout") v.as_int(1, 4096);
  else if (key == "seed") v.as_int(0, INT64_MAX);
  else
    v.fail("unknown traffic option 'noc." + excerpt(key) + "' (known: noc.traffic, noc.rate, noc.packet_size, "
           "noc.warmup, noc.measure, noc.fanout, noc.seed)");
}

// What a run takes beside the chip and the mapper options, varied by these names (job "run";
// "model" and "T" also for job "map", whose mapping is for a model at some timesteps).
bool is_run_param(const std::string& p) { return p == "T" || p == "model" || p == "inputs"; }

// Absolute path of a file named in the sweep: relative to the sweep file, then the working
// directory, then the source tree.
std::string resolve_file(const std::string& p, const std::string& base_dir, const std::string& what,
                         const std::string& where, bool directory = false, bool either = false) {
  std::vector<fs::path> tried;
  std::error_code ec;  // a name the OS rejects (too long, ...) is "not found", never an exception
  if (fs::path(p).is_absolute()) tried.push_back(p);
  else tried = {fs::path(base_dir) / p, fs::current_path(ec) / p, fs::path(SPIKECHIP_SOURCE_DIR) / p};
  for (const auto& t : tried)
    if (directory ? fs::is_directory(t, ec) : fs::is_regular_file(t, ec) || (either && fs::is_directory(t, ec))) {
      const fs::path c = fs::weakly_canonical(t, ec);
      return ec ? t.string() : c.string();
    }
  std::string list;
  for (const auto& t : tried) list += (list.empty() ? "" : ", ") + excerpt(t.string(), 120);
  throw Error(fmt::format("{}: {} '{}' not found (tried {}); check the path", where, what, excerpt(p), list));
}

// A file as resolve_file finds it, or, when none is there and `p` is one of `names` (a preset's or a
// shipped energy table's name, as the command line takes them: `--chip tiny`), what `find` makes
// of the name.
std::string resolve_named_file(const std::string& p, const std::string& base_dir, const std::string& what,
                               const std::string& where, const std::vector<std::string>& names,
                               const std::function<std::string(const std::string&)>& find) {
  try {
    return resolve_file(p, base_dir, what, where);
  } catch (const Error& e) {
    if (std::find(names.begin(), names.end(), p) != names.end()) return find(p);
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    throw Error(std::string(e.what()) + ", or name one of: " + list);
  }
}

std::string pointer_of(const std::string& dotted) {
  std::string p = "/";
  for (char ch : dotted) p += ch == '.' ? '/' : ch;
  return p;
}

uint64_t fnv1a(const std::string& s, uint64_t h = 1469598103934665603ull) {
  for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
  return h;
}

struct Axis {  // one combination = a set of (path, value) assignments
  std::vector<std::vector<std::pair<std::string, json>>> combos{{}};
};

}  // namespace

double area_proxy_mm2(const arch::ChipConfig& c) { return arch::chip_area(c).total_mm2; }

const std::vector<std::string>& job_metrics(const std::string& job) {
  static const std::vector<std::string> map_m = {"cores_used", "cores_total", "traffic_hops", "link_traversals",
                                                 "packets_per_step", "max_link_load", "weight_replication",
                                                 "membrane_util_max", "weight_util_max", "area_proxy_mm2"};
  static const std::vector<std::string> run_m = {"latency_cycles", "energy_pJ", "area_proxy_mm2", "energy_per_sop_pJ",
                                                 "paper_energy_pJ", "sops", "packets", "flits", "cores_used",
                                                 "verified"};
  static const std::vector<std::string> noc_m = {"latency_avg_cycles", "latency_p99_cycles", "offered_flits_per_node_cycle",
                                                 "accepted_flits_per_node_cycle", "drained", "area_proxy_mm2"};
  return job == "run" ? run_m : job == "noc" ? noc_m : map_m;
}

SweepSpec load_sweep(const std::string& path) {
  const ordered_json j = read_ordered_json_file(path, "sweep");
  SweepSpec s = parse_sweep(j, path, fs::absolute(path).parent_path().string());
  s.path = fs::absolute(path).string();
  return s;
}

SweepSpec parse_sweep(const ordered_json& oj, const std::string& origin, const std::string& base_dir) {
  const json j = oj;  // sorted copy for the strict reader; `oj` keeps the file's key order
  StrictJson root(j, origin);
  root.only_keys({"name", "description", "job", "model", "chip", "inputs", "T", "map", "noc", "timeout_s", "grid", "zip", "list"});
  SweepSpec s;
  s.path = origin;
  s.name = root.has("name") ? root.at("name").as_string() : fs::path(origin).stem().string();
  if (root.has("job")) s.job = root.at("job").as_enum({"map", "run", "noc"});
  if (s.job == "noc") {
    if (root.has("model")) root.at("model").fail("a \"job\": \"noc\" sweep runs synthetic traffic on the chip's network; it has no model");
  } else {
    s.model = resolve_file(root.at("model").as_string(), base_dir, "model directory", root.at("model").where(), true);
  }
  const std::string chip_file = resolve_named_file(root.at("chip").as_string(), base_dir, "chip config",
                                                   root.at("chip").where(), arch::preset_names(), arch::find_chip_file);
  if (s.job == "run")
    s.inputs = resolve_file(root.at("inputs").as_string(), base_dir, "inputs", root.at("inputs").where(), false, true);
  else if (root.has("inputs"))
    root.at("inputs").fail("only a \"job\": \"run\" sweep takes inputs");
  int base_T = 0;
  if (root.has("T")) {
    if (s.job == "noc") root.at("T").fail("a \"job\": \"noc\" sweep takes no timesteps (jobs \"run\" and \"map\" do)");
    base_T = int(root.at("T").as_int(1, model::kMaxRunTimesteps));
  }
  if (s.job == "noc" && root.has("map")) root.at("map").fail("a \"job\": \"noc\" sweep does not map a model");
  if (s.job != "noc" && root.has("noc")) root.at("noc").fail("traffic options apply to \"job\": \"noc\" sweeps only");
  if (root.has("timeout_s")) s.timeout_s = root.at("timeout_s").as_double(0.1, 1e7);

  // Base chip: every key present, so a varied path that is not in this JSON does not exist.
  const arch::ChipConfig base_cfg = arch::load_chip_config(chip_file);
  const json base_chip = arch::chip_config_to_json(base_cfg);
  const std::string base_table = arch::resolve_energy_table(base_cfg);
  json base_map = default_map_options();
  // spikechip run measures every LIF's firing rate with the golden executor before it maps.
  auto no_rate = [&](const std::string& key, const StrictJson& at) {
    if (s.job == "run" && key == "rate")
      at.fail("map.rate applies to \"job\": \"map\" sweeps only (spikechip run places with the firing rates it "
              "measures on the inputs)");
  };
  if (root.has("map")) {
    StrictJson m = root.at("map");
    m.expect_object();
    for (auto it = j["map"].begin(); it != j["map"].end(); ++it) {
      check_map_option(m.at(it.key()), it.key());
      no_rate(it.key(), m.at(it.key()));
      base_map[it.key()] = it.value();
    }
  }
  json base_noc = s.job == "noc" ? default_noc_options() : json();
  if (root.has("noc")) {
    StrictJson n = root.at("noc");
    n.expect_object();
    for (auto it = j["noc"].begin(); it != j["noc"].end(); ++it) {
      check_noc_option(n.at(it.key()), it.key());
      base_noc[it.key()] = it.value();
    }
  }

  // Where a parameter path lives; unknown paths are errors naming them.
  auto check_path = [&](const std::string& p, const StrictJson& at) {
    if (p.rfind("map.", 0) == 0) {
      if (s.job == "noc") at.fail("'" + excerpt(p) + "': a \"job\": \"noc\" sweep does not map a model");
      // The values are checked point by point below; here only that the option exists.
      if (!base_map.contains(p.substr(4)) && !optional_map_option(p.substr(4))) check_map_option(at, p.substr(4));
      no_rate(p.substr(4), at);
      return;
    }
    if (p.rfind("noc.", 0) == 0) {
      if (s.job != "noc") at.fail("'" + excerpt(p) + "': traffic options can be varied in \"job\": \"noc\" sweeps only");
      if (!base_noc.contains(p.substr(4))) check_noc_option(at, p.substr(4));
      return;
    }
    if (is_run_param(p)) {
      if (s.job == "noc" || (s.job == "map" && p == "inputs"))
        at.fail("'" + p + "' can be varied in \"job\": \"run\" sweeps" + (p == "inputs" ? "" : " and \"job\": \"map\" sweeps") + " only");
      return;
    }
    const bool plain = std::all_of(p.begin(), p.end(), [](char ch) { return std::isalnum(uint8_t(ch)) || ch == '_' || ch == '.'; });
    // A key written only when set (core.weight_bits, ...) is absent from the base chip's JSON but
    // still a key of the table.
    const auto keys = arch::chip_config_keys();
    // The list `memory_controllers` is a key too (its items' keys are rows "memory_controllers[].edge", ...).
    const bool in_table = p == "memory_controllers" ||
                          std::any_of(keys.begin(), keys.end(), [&](const arch::ConfigKeyInfo& k) { return k.path == p; });
    if (p.empty() || !plain || p.find("..") != std::string::npos ||
        (!in_table && !base_chip.contains(json::json_pointer(pointer_of(p)))))
      at.fail("'" + excerpt(p) + "' is not a chip-config path (docs/chip-config.md, e.g. core.adder_lanes, mesh.width, "
              "tech.energy_table) nor a mapper option (map.placement, map.seed, ...)");
    const json::json_pointer ptr(pointer_of(p));
    if (!in_table && base_chip.at(ptr).is_object())
      at.fail("'" + p + "' is a section of the chip config; vary one of its keys (e.g. " + p + "." +
              base_chip.at(ptr).begin().key() + ")");
  };
  std::set<std::string> seen;
  auto add_param = [&](const std::string& p, const StrictJson& at, bool allow_repeat) {
    if (seen.count(p)) {
      if (allow_repeat) return;
      at.fail("'" + excerpt(p) + "' is varied twice (it may appear in only one of grid, zip, list)");
    }
    check_path(p, at);
    seen.insert(p);
    s.parameters.push_back(p);
  };

  std::vector<Axis> axes;
  if (root.has("grid")) {
    StrictJson g = root.at("grid");
    g.expect_object();
    for (auto it = oj["grid"].begin(); it != oj["grid"].end(); ++it) {
      StrictJson vals = g.at(it.key());
      vals.expect_array();
      if (vals.size() == 0) vals.fail("needs at least one value");
      add_param(it.key(), vals, false);
      Axis a;
      a.combos.clear();
      for (const auto& v : vals.raw()) a.combos.push_back({{it.key(), v}});
      axes.push_back(std::move(a));
    }
  }
  if (root.has("zip")) {
    StrictJson z = root.at("zip");
    z.expect_object();
    Axis a;
    size_t n = 0;
    for (auto it = oj["zip"].begin(); it != oj["zip"].end(); ++it) {
      StrictJson vals = z.at(it.key());
      vals.expect_array();
      if (n == 0) n = vals.size();
      if (vals.size() == 0 || vals.size() != n)
        vals.fail(fmt::format("has {} values; every zip list must have the same, non-zero length ({})", vals.size(), n));
      add_param(it.key(), vals, false);
    }
    a.combos.assign(n, {});
    for (auto it = oj["zip"].begin(); it != oj["zip"].end(); ++it)
      for (size_t i = 0; i < n; ++i) a.combos[i].push_back({it.key(), json(it.value()[i])});
    if (n) axes.push_back(std::move(a));
  }
  if (root.has("list")) {
    StrictJson l = root.at("list");
    l.expect_array();
    if (l.size() == 0) l.fail("needs at least one point");
    std::set<std::string> before = seen;
    Axis a;
    a.combos.clear();
    for (size_t i = 0; i < l.size(); ++i) {
      StrictJson e = l.at(i);
      e.expect_object();
      std::vector<std::pair<std::string, json>> combo;
      for (auto it = oj["list"][i].begin(); it != oj["list"][i].end(); ++it) {
        if (before.count(it.key())) e.at(it.key()).fail("'" + excerpt(it.key()) + "' is varied in grid/zip too");
        add_param(it.key(), e.at(it.key()), true);
        combo.push_back({it.key(), json(it.value())});
      }
      a.combos.push_back(std::move(combo));
    }
    axes.push_back(std::move(a));
  }

  // Cartesian product of the axes, the first axis outermost (the last one varies fastest).
  std::vector<std::vector<std::pair<std::string, json>>> combos{{}};
  for (const Axis& a : axes) {
    std::vector<std::vector<std::pair<std::string, json>>> next;
    if (combos.size() * a.combos.size() > kMaxPoints)
      root.fail(fmt::format("the sweep expands to more than {} points; split it", kMaxPoints));
    for (const auto& c : combos)
      for (const auto& d : a.combos) {
        auto e = c;
        e.insert(e.end(), d.begin(), d.end());
        next.push_back(std::move(e));
      }
    combos = std::move(next);
  }

  std::map<std::string, int> first_of_sim;
  uint64_t h = fnv1a(s.job + "\n" + s.model + "\n" + s.inputs);
  for (size_t i = 0; i < combos.size(); ++i) {
    SweepPoint p;
    p.id = int(i);
    p.chip = base_chip;
    p.map = base_map;
    p.noc = base_noc;
    p.model = s.model, p.inputs = s.inputs, p.T = base_T;
    json run_params = {{"model", j.contains("model") ? j["model"] : json()}, {"inputs", j.contains("inputs") ? j["inputs"] : json()},
                       {"T", base_T > 0 ? json(base_T) : json()}};
    std::string table = base_table;
    const std::string at_point = fmt::format("{}: point {}", origin, i);
    for (const auto& [path, v] : combos[i]) {
      if (path.rfind("map.", 0) == 0) {
        p.map[path.substr(4)] = v;
      } else if (path.rfind("noc.", 0) == 0) {
        p.noc[path.substr(4)] = v;
        check_noc_option(StrictJson(v, at_point, "/" + path), path.substr(4));
      } else if (is_run_param(path)) {
        run_params[path] = v;
        const StrictJson sv(v, at_point, "/" + path);
        if (path == "T") p.T = int(sv.as_int(1, model::kMaxRunTimesteps));
        else if (path == "model") p.model = resolve_file(sv.as_string(), base_dir, "model directory", at_point + ": model", true);
        else p.inputs = resolve_file(sv.as_string(), base_dir, "inputs", at_point + ": inputs", false, true);
      } else {
        p.chip[json::json_pointer(pointer_of(path))] = v;
        if (path == "tech.energy_table") {
          if (!v.is_string()) throw Error(fmt::format("{}: point {}: tech.energy_table must be a string path", origin, i));
          table = resolve_named_file(v.get<std::string>(), base_dir, "energy table",
                                     fmt::format("{}: point {}: tech.energy_table", origin, i), arch::energy_table_names(),
                                     arch::find_energy_table);
        }
      }
    }
    // Effective value of every parameter (the base value where this point does not set it).
    for (const auto& path : s.parameters)
      p.params[path] = path.rfind("map.", 0) == 0   ? p.map[path.substr(4)]
                       : path.rfind("noc.", 0) == 0 ? p.noc[path.substr(4)]
                       : is_run_param(path)         ? run_params[path]
                                                    : p.chip[json::json_pointer(pointer_of(path))];
    for (auto it = p.map.begin(); it != p.map.end(); ++it)
      check_map_option(StrictJson(*it, fmt::format("{}: point {} ({})", origin, i, excerpt(json_text(p.params), 160)), "/map/" + excerpt(it.key())),
                       it.key());
    if (p.map.contains("phases") && !p.map.value("time_multiplex", false))
      throw Error(fmt::format("{}: point {} ({}): map.phases chooses how --time-multiplex cuts phases; set "
                              "\"map\": {{\"time_multiplex\": true}} too",
                              origin, i, excerpt(json_text(p.params), 160)));
    p.chip["tech"]["energy_table"] = table;
    const std::string where = fmt::format("{}: point {} ({})", origin, i, excerpt(json_text(p.params), 160));
    arch::ChipConfig cfg;
    try {
      cfg = arch::chip_config_from_json(p.chip, "chip");
    } catch (const Error& e) {
      throw Error(where + ": " + e.what() + "; change the values in the sweep file");
    }
    p.area_proxy_mm2 = area_proxy_mm2(cfg);
    // What the point's command takes beside the chip and the mapper options; left out when it is
    // the sweep's base (so the keys of sweeps that vary none of it stay as they were).
    json extra = json::object();
    if (p.model != s.model) extra["model"] = p.model;
    if (p.inputs != s.inputs) extra["inputs"] = p.inputs;
    if (p.T > 0) extra["T"] = p.T;
    if (s.job == "noc") extra["noc"] = p.noc;
    json key = {{"job", s.job}, {"chip", p.chip}, {"map", p.map}};
    if (!extra.empty()) key["run"] = extra;
    p.key = json_text(key);
    key["chip"].erase("tech");
    p.sim_key = json_text(key);
    auto [it, fresh] = first_of_sim.emplace(p.sim_key, p.id);
    p.sim_point = fresh ? p.id : it->second;
    h = fnv1a(p.key, h);
    s.points.push_back(std::move(p));
  }
  s.spec_hash = fmt::format("{:016x}", h);
  return s;
}

}  // namespace spikechip::explore
