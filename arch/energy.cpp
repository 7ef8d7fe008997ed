#include "arch/energy.hpp"

#include <cmath>
#include <fstream>

#include "arch/dram_timing.hpp"
#include "base/error.hpp"
#include "base/strict_json.hpp"

namespace spikechip::arch {

const std::map<std::string, std::string>& energy_entry_units() {
  static const std::map<std::string, std::string> units = {
      {"add_16bit", "pJ"},
      {"add_32bit", "pJ"},
      {"mult_8bit", "pJ"},
      {"mac_8bit", "pJ"},
      {"sram_64bit_8kb", "pJ"},
      {"sram_write_factor", "1"},
      {"neuron_update_logic", "pJ"},
      {"sdsa_op", "pJ"},
      {"router_flit", "pJ"},
      {"link_bit", "pJ/bit"},
      {"chip_link_bit", "pJ/bit"},
      {"dram_bit", "pJ/bit"},
      {"static_per_core", "mW"},
      {"paper_mac", "pJ"},
      {"paper_ac", "pJ"},
  };
  return units;
}

double EnergyTable::at(const std::string& key) const {
  auto it = entries.find(key);
  if (it == entries.end()) throw Error(source_path + ": energy table has no entry '" + key + "'");
  return it->second.value;
}

double EnergyTable::sram_access_pj(int64_t bank_bytes, int width_bits, bool write) const {
  if (bank_bytes <= 0 || width_bits <= 0)
    throw Error("energy: SRAM access with bank " + std::to_string(bank_bytes) + " bytes, width " +
                std::to_string(width_bits) + " bits");
  const double e = at("sram_64bit_8kb") * std::sqrt(double(bank_bytes) / 8192.0) * (double(width_bits) / 64.0);
  return write ? e * at("sram_write_factor") : e;
}

EnergyTable energy_table_from_json(const nlohmann::json& json, const std::string& origin) {
  StrictJson j(json, origin);
  j.only_keys({"node", "vdd", "description", "entries"});
  EnergyTable t;
  t.source_path = origin;
  t.node = j.at("node").as_string();
  t.vdd = j.at("vdd").as_double(1e-3, 100);
  if (j.has("description")) t.description = j.at("description").as_string();
  const StrictJson entries = j.at("entries");
  entries.expect_object();
  const auto& units = energy_entry_units();
  for (auto it = entries.raw().begin(); it != entries.raw().end(); ++it) {
    auto u = units.find(it.key());
    if (u == units.end()) {
      std::string list;
      for (const auto& [k, unit] : units) list += (list.empty() ? "" : ", ") + k;
      StrictJson(it.value(), origin, "/entries/" + excerpt(it.key())).fail("unknown energy entry (known: " + list + ")");
    }
    const StrictJson e = entries.at(it.key());
    if (!e.raw().is_object()) e.fail("must be an object {value, unit, source, tag}, got " + describe_json(e.raw()));
    e.only_keys({"value", "unit", "source", "tag"});
    const double value = e.at("value").as_double(0, 1e12);
    if (!e.has("unit") || e.raw()["unit"] != u->second) e.at("unit").fail("must be \"" + u->second + "\"");
    const std::string source = e.at("source").as_string();
    if (source.empty()) e.at("source").fail("must not be empty (every constant must name its source)");
    t.entries[it.key()] = EnergyEntry{value, u->second, source, e.at("tag").as_string()};
  }
  for (auto& [k, u] : units)
    if (!t.entries.count(k)) StrictJson(json, origin, "/entries/" + k).fail("missing entry (every entry is needed)");
  return t;
}

EnergyTable load_energy_table(const std::string& path) {
  return energy_table_from_json(read_json_file(path, "energy table"), path);
}

nlohmann::json energy_table_to_json(const EnergyTable& t) {
  nlohmann::json j;
  j["node"] = t.node;
  j["vdd"] = t.vdd;
  j["description"] = t.description;
  auto& e = j["entries"] = nlohmann::json::object();
  for (auto& [k, v] : t.entries) e[k] = {{"value", v.value}, {"unit", v.unit}, {"source", v.source}, {"tag", v.tag}};
  return j;
}

double stillmaker_energy(double node_nm, double vdd) {
  // Published fits (Stillmaker & Baas, Integration 58, 2017), as used by Accelergy's techscaling.
  struct Fit { double nm, a, b, c; };
  static const Fit fits[] = {{45, 1.103, -0.362, 0.2767}, {32, 0.9559, -0.7823, 0.471},
                             {20, 0.373, -0.1582, 0.04104}, {14, 0.2363, -0.09675, 0.02239}};
  auto e = [&](const Fit& f) { return f.a * vdd * vdd + f.b * vdd + f.c; };
  if (node_nm > 45 || node_nm < 14)
    throw Error("energy scaling: node " + std::to_string(node_nm) + " nm outside the published 14..45 nm range");
  for (int i = 0; i + 1 < 4; ++i) {
    const Fit& hi = fits[i];
    const Fit& lo = fits[i + 1];
    if (node_nm <= hi.nm && node_nm >= lo.nm) {
      // weight of the *smaller* node grows as node_nm approaches it (the direction Accelergy's
      // snapshot gets wrong, see energy-constants.md 2b)
      const double w = (hi.nm - node_nm) / (hi.nm - lo.nm);
      return (1 - w) * e(hi) + w * e(lo);
    }
  }
  return e(fits[3]);
}

double stillmaker_scale(double from_nm, double from_vdd, double to_nm, double to_vdd) {
  return stillmaker_energy(to_nm, to_vdd) / stillmaker_energy(from_nm, from_vdd);
}

EnergyTable scale_energy_table(const EnergyTable& t, double to_nm, double to_vdd) {
  const double from_nm = std::stod(t.node);
  const double s = stillmaker_scale(from_nm, t.vdd, to_nm, to_vdd);
  EnergyTable out = t;
  char nm[32];
  std::snprintf(nm, sizeof nm, "%gnm", to_nm);
  out.node = nm;
  out.vdd = to_vdd;
  for (auto& [k, e] : out.entries) {
    if (k.rfind("paper_", 0) == 0 || e.unit == "1") continue;
    e.value *= s;
    char buf[160];
    std::snprintf(buf, sizeof buf, " x %.4f (Stillmaker & Baas 2017, %s %.2f V -> %s %.2f V)", s, t.node.c_str(), t.vdd,
                  nm, to_vdd);
    e.source += buf;
    e.tag += "[D]";
  }
  return out;
}

EventCounts& EventCounts::operator+=(const EventCounts& o) {
  adds16 += o.adds16;
  adds32 += o.adds32;
  mults8 += o.mults8;
  dense_macs += o.dense_macs;
  for (auto& [k, v] : o.weight_reads) weight_reads[k] += v;
  membrane_reads += o.membrane_reads;
  membrane_writes += o.membrane_writes;
  neuron_updates += o.neuron_updates;
  sdsa_ops += o.sdsa_ops;
  router_traversals += o.router_traversals;
  link_bits += o.link_bits;
  chip_link_bits += o.chip_link_bits;
  dram_bits += o.dram_bits;
  for (auto& [k, v] : o.dram_actions) dram_actions[k] += v;
  core_cycles += o.core_cycles;
  paper_macs += o.paper_macs;
  paper_acs += o.paper_acs;
  return *this;
}

DramActions& DramActions::operator+=(const DramActions& o) {
  bits += o.bits, read_bursts += o.read_bursts, write_bursts += o.write_bursts;
  activates += o.activates, refreshes += o.refreshes, channel_cycles += o.channel_cycles;
  return *this;
}

nlohmann::json DramActions::to_json() const {
  return {{"bits", bits}, {"read_bursts", read_bursts}, {"write_bursts", write_bursts},
          {"activates", activates}, {"refreshes", refreshes}, {"channel_cycles", channel_cycles}};
}

std::vector<DramActions> split_dram_actions(const DramActions& total, const std::vector<uint64_t>& weights) {
  std::vector<DramActions> out(weights.size());
  if (out.empty()) return out;
  unsigned __int128 sum = 0;
  size_t big = 0;
  for (size_t k = 0; k < weights.size(); ++k) {
    sum += weights[k];
    if (weights[k] > weights[big]) big = k;
  }
  auto split = [&](uint64_t DramActions::*f) {
    uint64_t given = 0;
    if (sum > 0)
      for (size_t k = 0; k < weights.size(); ++k)
        given += out[k].*f = uint64_t((unsigned __int128)(total.*f) * weights[k] / sum);
    out[big].*f += total.*f - given;
  };
  for (auto f : {&DramActions::bits, &DramActions::read_bursts, &DramActions::write_bursts, &DramActions::activates,
                 &DramActions::refreshes, &DramActions::channel_cycles})
    split(f);
  return out;
}

nlohmann::json EventCounts::to_json() const {
  nlohmann::json wr = nlohmann::json::array();
  for (auto& [k, v] : weight_reads) wr.push_back({{"bank_bytes", k.bank_bytes}, {"width_bits", k.width_bits}, {"count", v}});
  nlohmann::json out = {{"adds16", adds16},           {"adds32", adds32},
          {"mults8", mults8},           {"dense_macs", dense_macs}, {"weight_reads", wr},
          {"membrane_reads", membrane_reads}, {"membrane_writes", membrane_writes},
          {"neuron_updates", neuron_updates}, {"sdsa_ops", sdsa_ops},
          {"router_traversals", router_traversals}, {"link_bits", link_bits},
          {"chip_link_bits", chip_link_bits}, {"dram_bits", dram_bits},
          {"core_cycles", core_cycles},   {"paper_macs", paper_macs},
          {"paper_acs", paper_acs}};
  if (!dram_actions.empty()) {  // only runs that used a DRAM device model (other reports keep their bytes)
    nlohmann::json d = nlohmann::json::object();
    for (auto& [k, v] : dram_actions) d[k] = v.to_json();
    out["dram_actions"] = d;
  }
  return out;
}

nlohmann::json EnergyBreakdown::to_json() const {
  nlohmann::json c = nlohmann::json::object();
  for (auto& [k, v] : components_pj) c[k] = v;
  return {{"components_pj", c}, {"total_pj", total_pj}, {"paper_pj", paper_pj}};
}

EnergyBreakdown apply_energy(const EventCounts& c, const EnergyTable& t, const ChipConfig& chip) {
  EnergyBreakdown b;
  auto& m = b.components_pj;
  m["adders"] = double(c.adds16) * t.at("add_16bit") + double(c.adds32) * t.at("add_32bit");
  m["multipliers"] = double(c.mults8) * t.at("mult_8bit");
  m["mac"] = double(c.dense_macs) * t.at("mac_8bit");
  double w = 0;
  for (auto& [shape, n] : c.weight_reads) w += double(n) * t.sram_access_pj(shape.bank_bytes, shape.width_bits, false);
  m["weight_sram"] = w;
  const int banks = std::max(1, chip.core.membrane_banks);
  const int64_t mem_bank = chip.core.membrane_sram_bytes / banks;
  const int mem_bits = chip.core.membrane_word_bits;
  m["membrane_sram"] = double(c.membrane_reads) * t.sram_access_pj(mem_bank, mem_bits, false) +
                       double(c.membrane_writes) * t.sram_access_pj(mem_bank, mem_bits, true);
  m["neuron_logic"] = double(c.neuron_updates) * t.at("neuron_update_logic");
  m["sdsa"] = double(c.sdsa_ops) * t.at("sdsa_op");
  m["routers"] = double(c.router_traversals) * t.at("router_flit");
  m["links"] = double(c.link_bits) * t.at("link_bit");
  m["chip_links"] = double(c.chip_link_bits) * t.at("chip_link_bit");
  if (!(chip.clock_hz > 0)) throw Error("energy: chip clock_hz must be > 0 for static power");
  // DRAM: the traffic of a device with sourced energy (DramEnergy) by its actions, split into the
  // accesses (activates, bursts) and the background (refresh, standby over the run); all other
  // traffic (the `channel` model, a device without figures, a TLM memory) by the bit at dram_bit.
  double dram = 0, background = 0, device_bits = 0;
  bool priced = false;
  for (auto& [model, a] : c.dram_actions) {
    const DramDevice* d = find_dram_device(model);
    if (!d || !d->energy.sourced()) continue;
    const DramEnergy& e = d->energy;
    dram += double(a.activates) * e.act_pre_pj + double(a.read_bursts) * e.read_burst_pj +
            double(a.write_bursts) * e.write_burst_pj;
    background += double(a.refreshes) * e.refresh_pj + double(a.channel_cycles) * e.background_mw * 1e9 / chip.clock_hz;
    device_bits += double(a.bits);
    priced = true;
  }
  m["dram"] = dram + (double(c.dram_bits) - device_bits) * t.at("dram_bit");
  if (priced) m["dram_background"] = background;
  // mW * cycle time: 1e-3 W / f Hz = 1e-3/f J = 1e9/f pJ per core-cycle per mW
  m["static"] = double(c.core_cycles) * t.at("static_per_core") * 1e9 / chip.clock_hz;
  for (auto& [k, v] : m) b.total_pj += v;
  b.paper_pj = double(c.paper_macs) * t.at("paper_mac") + double(c.paper_acs) * t.at("paper_ac");
  return b;
}

}  // namespace spikechip::arch
