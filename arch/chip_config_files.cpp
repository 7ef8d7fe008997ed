// Finding chip configs and energy tables as people name them (docs/chip-config.md, "Naming a
// chip"): preset names (`--chip tiny`), a file's "base" (another config it starts from),
// `--set key=value` overrides and energy tables by name or path. The keys themselves are checked by
// the table in arch/chip_config.cpp.
#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "arch/chip_config.hpp"
#include "base/error.hpp"
#include "base/strict_json.hpp"
#include "spikechip/source_dir.hpp"

namespace spikechip::arch {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

const fs::path& presets_dir() {
  static const fs::path p = fs::path(SPIKECHIP_SOURCE_DIR) / "arch" / "presets";
  return p;
}
const fs::path& tables_dir() {
  static const fs::path p = fs::path(SPIKECHIP_SOURCE_DIR) / "arch" / "energy";
  return p;
}

// A bare name ("tiny", "45nm"): no directory part and no .json extension.
bool is_bare_name(const std::string& s) {
  return !s.empty() && s.find('/') == std::string::npos && fs::path(s).extension() != ".json";
}

std::vector<std::string> stems_in(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".json") out.push_back(e.path().stem().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// The file's JSON with its "base" chain resolved: the base's (validated) JSON, the file's keys
// merged over it section by section. `chain` holds the files being read (cycle detection).
json merged_json(const std::string& path, std::vector<std::string>& chain) {
  json j = read_json_file(path, "chip config");
  if (!j.is_object() || !j.contains("base")) return j;
  StrictJson b(j, path, "/base");
  const std::string name = StrictJson(j.at("base"), path, "/base").as_string();
  std::string base_path;
  const fs::path rel = fs::path(path).parent_path() / name;
  std::error_code ec;
  if (fs::path(name).is_absolute() && fs::is_regular_file(name, ec)) base_path = name;
  else if (!fs::path(name).is_absolute() && fs::is_regular_file(rel, ec)) base_path = rel.string();
  else if (is_bare_name(name) && fs::is_regular_file(presets_dir() / (name + ".json"), ec))
    base_path = (presets_dir() / (name + ".json")).string();
  else
    b.fail(fmt::format("'{}' is neither a preset (presets: {}) nor a chip config file (tried {})", name,
                       join(preset_names()), rel.string()));
  const std::string canon = fs::weakly_canonical(base_path).string();
  if (std::find(chain.begin(), chain.end(), canon) != chain.end() || chain.size() > 16)
    b.fail("'" + name + "' leads back to a file already being read (a cycle of \"base\" keys)");
  chain.push_back(canon);
  json base = merged_json(base_path, chain);
  chain.pop_back();
  const ChipConfig base_cfg = chip_config_from_json(base, base_path);  // a base must be valid on its own
  // An energy table the base names relative to itself stays the base's table.
  const bool own_table = j.contains("tech") && j["tech"].is_object() && j["tech"].contains("energy_table");
  if (!own_table) {
    const std::string t = base_cfg.tech.energy_table;
    const fs::path from_base = fs::path(base_path).parent_path() / t;
    if (!is_bare_name(t) && !fs::path(t).is_absolute() && fs::is_regular_file(from_base, ec) &&
        fs::weakly_canonical(from_base).parent_path() != fs::weakly_canonical(tables_dir()))
      base["tech"]["energy_table"] = fs::weakly_canonical(from_base).string();
  }
  j.erase("base");
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.value().is_object() && base.contains(it.key()) && base[it.key()].is_object())
      base[it.key()].update(it.value());
    else
      base[it.key()] = it.value();
  }
  return base;
}

}  // namespace

std::vector<std::string> preset_names() { return stems_in(presets_dir()); }
std::vector<std::string> energy_table_names() { return stems_in(tables_dir()); }

std::string find_chip_file(const std::string& s) {
  std::error_code ec;
  if (fs::is_regular_file(s, ec) || !is_bare_name(s)) return s;  // a path: read_json_file names a missing one
  const fs::path p = presets_dir() / (s + ".json");
  if (fs::is_regular_file(p, ec)) return p.string();
  throw Error(fmt::format("{}: no such chip config file or preset (presets: {}); give a preset name or the path of a "
                          "chip config JSON (docs/chip-config.md)",
                          s, join(preset_names())));
}

json chip_config_json(const std::string& name_or_path, const std::vector<std::string>& overrides) {
  const std::string path = find_chip_file(name_or_path);
  std::error_code ec;  // /dev/stdin of a pipe has no canonical name ("pipe:[N]"): it stands for itself
  const fs::path canon = fs::weakly_canonical(path, ec);
  std::vector<std::string> chain = {ec ? path : canon.string()};
  json j = merged_json(path, chain);
  if (!overrides.empty() && !j.is_object()) StrictJson(j, path).expect_object();
  for (const auto& text : overrides) {
    const auto [ptr, v] = parse_chip_override(text);
    j[json::json_pointer(ptr)] = v;
  }
  return j;
}

ChipConfig load_chip_config(const std::string& name_or_path, const std::vector<std::string>& overrides) {
  const std::string path = find_chip_file(name_or_path);
  std::string origin = path;
  for (const auto& o : overrides) origin += (o == overrides.front() ? " with --set " : ", --set ") + o;
  ChipConfig c = chip_config_from_json(chip_config_json(path, overrides), origin);
  c.source_path = path;      // the energy table is found relative to the file
  resolve_energy_table(c);  // fail now, not at the end of a long simulation
  return c;
}

std::string find_energy_table(const std::string& t) {
  std::error_code ec;
  if (fs::is_regular_file(t, ec)) return t;
  if (is_bare_name(t) && fs::is_regular_file(tables_dir() / (t + ".json"), ec))
    return fs::weakly_canonical(tables_dir() / (t + ".json")).string();
  throw Error(fmt::format("{}: no such energy table file or name (shipped tables: {})", t, join(energy_table_names())));
}

std::string resolve_energy_table(const ChipConfig& c) {
  const std::string& t = c.tech.energy_table;
  fs::path p(t);
  std::vector<fs::path> tried;
  if (p.is_absolute()) {
    tried.push_back(p);
  } else {
    if (!c.source_path.empty()) tried.push_back(fs::path(c.source_path).parent_path() / p);
    tried.push_back(fs::path(SPIKECHIP_SOURCE_DIR) / p);
    // A table by name, or (a preset copied elsewhere) the shipped table of the same file name.
    tried.push_back(tables_dir() / (is_bare_name(t) ? t + ".json" : p.filename().string()));
  }
  std::error_code ec;  // a name the OS rejects (too long, ...) is "not found", never an exception
  for (const auto& f : tried)
    if (fs::is_regular_file(f, ec)) {
      const fs::path canonical = fs::weakly_canonical(f, ec);
      return ec ? f.string() : canonical.string();
    }
  std::string list;
  for (const auto& f : tried) list += (list.empty() ? "" : ", ") + excerpt(f.string(), 120);
  throw Error((c.source_path.empty() ? excerpt(c.name) : c.source_path) + ": /tech/energy_table: file '" + excerpt(t) +
              "' not found (tried " + list + "); name a shipped table (" + join(energy_table_names()) +
              ") or the path of an energy table such as arch/energy/45nm.json");
}

}  // namespace spikechip::arch
