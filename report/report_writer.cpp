#include "report/report_writer.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <set>
#include <vector>

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include "report/compare.hpp"
#include "report/critical_path_report.hpp"
#include "report/csv.hpp"
#include "report/stats_txt.hpp"
#include "base/error.hpp"
#include "base/file_util.hpp"
#include "base/json_text.hpp"
#include "spikechip/report_assets.hpp"

namespace spikechip::report {
namespace fs = std::filesystem;

const std::vector<std::string>& energy_component_order() {
  static const std::vector<std::string> order = {"adders",  "weight_sram", "membrane_sram", "neuron_units",
                                                 "sdsa",    "encoder_macs", "routers",      "links",
                                                 "chip_links", "dram",    "dram_background", "static"};
  return order;
}

using nlohmann::json;

namespace {

// Missing sections are allowed (a partial run may stop before producing them) and give
// header-only CSVs; a section of the wrong type is a malformed report.
const json& section(const json& report, const char* key, json::value_t type) {
  static const json empty_array = json::array();
  static const json empty_object = json::object();
  auto it = report.find(key);
  if (it == report.end() || it->is_null())
    return type == json::value_t::array ? empty_array : empty_object;
  if (it->type() != type)
    throw Error(fmt::format("run report: /{} must be a JSON {}; regenerate the report with spikechip run",
                            key, type == json::value_t::array ? "array" : "object"));
  return *it;
}

const json& row_object(const json& item, const char* key, std::size_t i) {
  if (!item.is_object())
    throw Error(fmt::format("run report: /{}/{} must be a JSON object", key, i));
  return item;
}

std::string cell(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() ? std::string() : json_cell(*it);
}

std::string at_cell(const json& obj, const char* key, std::size_t i) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_array() || i >= it->size()) return {};
  return json_cell((*it)[i]);
}

std::string layers_csv(const json& report) {
  const json& layers = section(report, "layers", json::value_t::array);
  static const char* kCols[] = {"cores", "spikes", "firing_rate", "sops", "macs", "sdsa_ops", "energy_pJ",
                                "paper_energy_pJ", "start_cycles", "end_cycles", "busy_cycles"};
  std::vector<std::string> header = {"index", "name", "op", "shape_C", "shape_H", "shape_W"};
  header.insert(header.end(), std::begin(kCols), std::end(kCols));
  CsvWriter w(header);
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const json& l = row_object(layers[i], "layers", i);
    std::vector<std::string> r = {std::to_string(i), cell(l, "name"), cell(l, "op"), at_cell(l, "shape", 0),
                                  at_cell(l, "shape", 1), at_cell(l, "shape", 2)};
    for (const char* c : kCols) r.push_back(cell(l, c));
    w.row(r);
  }
  return w.text();
}

std::string cores_csv(const json& report) {
  const json& cores = section(report, "cores", json::value_t::array);
  // Stall causes are a small open set: the schema's four first, then any others a newer
  // simulator adds, so a new cause appears as a column instead of vanishing.
  std::vector<std::string> stalls = {"waiting_input", "bank_conflict", "waiting_eot", "waiting_dram", "waiting_phase"};
  std::set<std::string> extra;
  for (std::size_t i = 0; i < cores.size(); ++i) {
    auto it = row_object(cores[i], "cores", i).find("stall_cycles");
    if (it != cores[i].end() && it->is_object())
      for (auto& [k, v] : it->items())
        if (std::find(stalls.begin(), stalls.end(), k) == stalls.end()) extra.insert(k);
  }
  stalls.insert(stalls.end(), extra.begin(), extra.end());
  static const char* kTail[] = {"idle_cycles", "utilisation", "sops", "weight_sram_reads", "membrane_sram_reads",
                                "membrane_sram_writes", "membrane_sram_used_bytes", "weight_sram_used_bytes"};
  std::vector<std::string> header = {"id", "x", "y", "chip", "nodes", "busy_cycles"};
  for (auto& s : stalls) header.push_back("stall_" + s + "_cycles");
  header.insert(header.end(), std::begin(kTail), std::end(kTail));
  CsvWriter w(header);
  // Every core of the mesh (report.json's `cores` lists the used ones): an unused core is a row of
  // zeros with no nodes, so the file has mesh width x height rows in id order.
  std::map<long long, const json*> by_id;
  for (const json& c : cores)
    if (c.contains("id") && c["id"].is_number_integer()) by_id[c["id"].get<long long>()] = &c;
  const json& chip = section(report, "chip", json::value_t::object);
  const json mesh = chip.value("mesh", json()), nchips = chip.value("chips", json::array({1, 1}));
  long long mw = 0, mh = 0, cx = 1, cy = 1;
  if (mesh.is_array() && mesh.size() == 2 && mesh[0].is_number_integer() && mesh[1].is_number_integer())
    mw = mesh[0].get<long long>(), mh = mesh[1].get<long long>();
  if (nchips.is_array() && nchips.size() == 2 && nchips[0].is_number_integer() && nchips[1].is_number_integer())
    cx = std::max(1LL, nchips[0].get<long long>()), cy = std::max(1LL, nchips[1].get<long long>());
  auto used_row = [&](const json& c) {
    std::vector<std::string> r = {cell(c, "id"), cell(c, "x"), cell(c, "y"), cell(c, "chip"),
                                  cell(c, "nodes"), cell(c, "busy_cycles")};
    const json st = c.value("stall_cycles", json::object());
    for (auto& s : stalls) r.push_back(st.is_object() ? cell(st, s.c_str()) : std::string());
    for (const char* k : kTail) r.push_back(cell(c, k));
    w.row(r);
  };
  const bool whole_mesh = mw > 0 && mh > 0 && mw * mh <= (1LL << 20) && (by_id.empty() || by_id.rbegin()->first < mw * mh);
  if (!whole_mesh) {
    for (const json& c : cores) used_row(c);
    return w.text();
  }
  const long long chip_w = std::max(1LL, mw / cx), chip_h = std::max(1LL, mh / cy);
  // An unused core's units are idle all run: the cycles a used core's busy + stalls + idle cover.
  std::string unused_idle = "0";
  if (!by_id.empty()) {
    const json& c = *by_id.begin()->second;
    if (c.value("idle_cycles", json()).is_number() && c.value("busy_cycles", json()).is_number()) {
      double all = c["idle_cycles"].get<double>() + c["busy_cycles"].get<double>();
      const json st = c.value("stall_cycles", json::object());
      for (const auto& [k, v] : st.items())
        if (v.is_number()) all += v.get<double>();
      unused_idle = format_number(all);
    }
  }
  for (long long id = 0; id < mw * mh; ++id) {
    if (auto it = by_id.find(id); it != by_id.end()) {
      used_row(*it->second);
      continue;
    }
    const long long x = id % mw, y = id / mw;
    std::vector<std::string> r = {std::to_string(id), std::to_string(x), std::to_string(y),
                                  std::to_string((y / chip_h) * (mw / chip_w) + x / chip_w), "", "0"};
    r.insert(r.end(), stalls.size(), "0");
    for (const char* k : kTail) r.push_back(std::string(k) == "idle_cycles" ? unused_idle : "0");
    w.row(r);
  }
  return w.text();
}

std::string links_csv(const json& report) {
  const json& links = section(report, "links", json::value_t::array);
  CsvWriter w({"from_x", "from_y", "to_x", "to_y", "dir", "chip_link", "flits", "utilisation"});
  for (std::size_t i = 0; i < links.size(); ++i) {
    const json& l = row_object(links[i], "links", i);
    w.row({at_cell(l, "from", 0), at_cell(l, "from", 1), at_cell(l, "to", 0), at_cell(l, "to", 1), cell(l, "dir"),
           cell(l, "chip_link"), cell(l, "flits"), cell(l, "utilisation")});
  }
  return w.text();
}

std::string inputs_csv(const json& report) {
  const json& inputs = section(report, "inputs", json::value_t::array);
  const json& chip = section(report, "chip", json::value_t::object);
  const double clock_hz = chip.value("clock_hz", 0.0);
  std::size_t steps = 0;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    auto it = row_object(inputs[i], "inputs", i).find("timestep_end_cycles");
    if (it != inputs[i].end() && it->is_array()) steps = std::max(steps, it->size());
  }
  std::vector<std::string> header = {"index", "origin", "label", "prediction", "correct",
                                     "latency_cycles", "latency_s", "energy_pJ"};
  for (std::size_t t = 0; t < steps; ++t) header.push_back(fmt::format("t{}_end_cycles", t));
  CsvWriter w(header);
  for (const json& in : inputs) {
    std::string correct;  // empty when the input has no label (-1)
    const json label = in.value("label", json());
    if (label.is_number_integer() && label.get<long long>() >= 0 && in.contains("prediction"))
      correct = in["prediction"] == label ? "true" : "false";
    std::string latency_s;
    if (clock_hz > 0 && in.contains("latency_cycles") && in["latency_cycles"].is_number())
      latency_s = format_number(in["latency_cycles"].get<double>() / clock_hz);
    std::vector<std::string> r = {cell(in, "index"), cell(in, "origin"), cell(in, "label"), cell(in, "prediction"),
                                  correct, cell(in, "latency_cycles"), latency_s, cell(in, "energy_pJ")};
    for (std::size_t t = 0; t < steps; ++t) r.push_back(at_cell(in, "timestep_end_cycles", t));
    w.row(r);
  }
  return w.text();
}

std::string energy_csv(const json& report) {
  const json& e = section(report, "energy_by_component_pJ", json::value_t::object);
  std::vector<std::string> order;
  for (auto& k : energy_component_order())
    if (e.contains(k)) order.push_back(k);
  for (auto& [k, v] : e.items())
    if (std::find(order.begin(), order.end(), k) == order.end()) order.push_back(k);
  double total = 0;
  for (auto& k : order) {
    if (!e[k].is_number())
      throw Error(fmt::format("run report: /energy_by_component_pJ/{} must be a number", k));
    total += e[k].get<double>();
  }
  CsvWriter w({"component", "energy_pJ", "fraction"});
  for (auto& k : order)
    w.row({k, json_cell(e[k]), total > 0 ? format_number(e[k].get<double>() / total) : std::string()});
  return w.text();
}

// Time-multiplexed runs only (report/dram_figures.hpp): one row of the off-chip figures.
const std::vector<std::string> kDramColumns = {"bytes_per_inference", "weight_bytes", "spill_write_bytes",
                                               "spill_read_bytes", "peak_bytes_per_s", "bandwidth_utilisation",
                                               "weight_stall_cycles", "phase_wait_cycles", "weight_stall_share"};

// Runs on a DRAM device model add these (docs/energy.md "DRAM device energy").
const std::vector<std::string> kDramDeviceColumns = {"device_read_bursts", "device_write_bursts", "device_activates",
                                                     "device_refreshes", "device_row_hit_rate"};

std::string dram_csv(const json& report) {
  const json& d = section(report, "dram", json::value_t::object);
  std::vector<std::string> cols = kDramColumns;
  if (d.contains(kDramDeviceColumns[0])) cols.insert(cols.end(), kDramDeviceColumns.begin(), kDramDeviceColumns.end());
  CsvWriter w(cols);
  std::vector<std::string> cells;
  for (const auto& k : cols) {
    if (!d.contains(k) || !d[k].is_number())
      throw Error(fmt::format("run report: /dram/{} must be a number", k));
    cells.push_back(json_cell(d[k]));
  }
  w.row(cells);
  return w.text();
}

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

// One pass over the template, so text inserted for one placeholder is never scanned for another.
std::string fill_template(std::string_view tpl, const std::map<std::string, std::string>& values) {
  std::string out;
  std::size_t pos = 0;
  while (true) {
    std::size_t open = tpl.find("{{", pos);
    if (open == std::string_view::npos) break;
    std::size_t close = tpl.find("}}", open);
    if (close == std::string_view::npos) break;
    auto it = values.find(std::string(tpl.substr(open + 2, close - open - 2)));
    out.append(tpl.substr(pos, open - pos));
    if (it != values.end()) out += it->second;
    else out.append(tpl.substr(open, close + 2 - open));
    pos = close + 2;
  }
  out.append(tpl.substr(pos));
  return out;
}

std::string render_page(const std::string& kind, const std::string& title, const std::string& banner,
                        const json& data) {
  return fill_template(assets::kAsset_template_html,
                       {{"TITLE", html_escape(title)},
                        {"KIND", kind},
                        {"STYLE", std::string(assets::kAsset_report_css)},
                        {"SCRIPT", std::string(assets::kAsset_charts_js)},
                        {"PAGE_SCRIPT", std::string(assets::kAsset_report_js)},
                        {"BANNER", banner},
                        {"DATA", script_safe_json(data)}});
}

// An exclusive flock(2) on a directory (the lock is on its open file description: another process,
// or another open in this one, waits), released when it goes out of scope. A directory that cannot
// be opened or locked (a file system without flock) is written without it.
class DirectoryLock {
 public:
  explicit DirectoryLock(const fs::path& dir) : fd_(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
    if (fd_ >= 0)
      while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
      }
  }
  ~DirectoryLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

 private:
  int fd_;
};

}  // namespace

std::string script_safe_json(const json& j) {
  const std::string s = json_text(j);
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '<': out += "\\u003c"; break;
      case '>': out += "\\u003e"; break;
      case '&': out += "\\u0026"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string render_run_html(const json& report) {
  if (!report.is_object()) throw Error("run report: the top level must be a JSON object");
  const json& model = section(report, "model", json::value_t::object);
  const json& chip = section(report, "chip", json::value_t::object);
  std::string title = fmt::format("spikechip run: {} on {}", model.value("name", std::string("?")),
                                  chip.value("name", std::string("?")));
  std::string banner;
  // Anything but an explicit "complete" is shown as partial: a report must prove completeness.
  if (report.value("status", std::string()) != "complete") {
    banner = fmt::format(
        "<div class=\"banner partial\" id=\"partial-banner\"><b>PARTIAL RESULTS</b> &mdash; {}. Figures "
        "cover only the part of the run that finished.</div>",
        html_escape(report.value("partial_reason", std::string("the run did not finish"))));
  }
  return render_page("run", title, banner, report);
}

std::string render_sweep_html(const json& sweep) {
  if (!sweep.is_object() || !sweep.contains("points") || !sweep["points"].is_array())
    throw Error("sweep report: expected a JSON object with a \"points\" array (see docs/reports.md)");
  for (std::size_t i = 0; i < sweep["points"].size(); ++i)
    if (!sweep["points"][i].is_object())
      throw Error(fmt::format("sweep report: /points/{} must be a JSON object", i));
  std::string title = fmt::format("spikechip sweep: {}", sweep.value("name", std::string("design space")));
  std::string banner;
  if (sweep.value("status", std::string("complete")) != "complete")
    banner = "<div class=\"banner partial\" id=\"partial-banner\"><b>PARTIAL RESULTS</b> &mdash; the sweep "
             "did not finish: points not listed, or failed as interrupted, have no result yet; the same "
             "<code>spikechip sweep</code> command runs them.</div>";
  return render_page("sweep", title, banner, sweep);
}

std::string render_compare_html(const json& cmp) {
  return render_page("compare", fmt::format("spikechip compare: {} vs {}", cmp.value("a", std::string("A")),
                                            cmp.value("b", std::string("B"))),
                     "", cmp);
}

std::map<std::string, std::string> render_run_outputs(const json& report) {
  if (!report.is_object()) throw Error("run report: the top level must be a JSON object");
  std::map<std::string, std::string> files;
  files["layers.csv"] = layers_csv(report);
  files["cores.csv"] = cores_csv(report);
  files["links.csv"] = links_csv(report);
  files["inputs.csv"] = inputs_csv(report);
  files["energy.csv"] = energy_csv(report);
  files["timesteps.csv"] = render_timesteps_csv(report);
  files["stats.txt"] = render_stats_txt(report);
  files["critical_path.csv"] = critical_path_csv(report);
  if (report.contains("dram") && report["dram"].is_object() && report["dram"].contains("bandwidth_utilisation"))
    files["dram.csv"] = dram_csv(report);
  files["report.html"] = render_run_html(report);
  files["report.json"] = json_text(report, 2) + "\n";
  return files;
}

void write_run_outputs(const json& report, const std::string& out_dir) {
  auto files = render_run_outputs(report);  // every validation error happens before any disk write
  const fs::path dir(out_dir);
  std::vector<std::string> order;
  for (auto& [name, bytes] : files)
    if (name != "report.json") order.push_back(name);
  order.push_back("report.json");  // the completeness marker goes last
  std::vector<fs::path> temps;
  std::vector<fs::path> placed;
  auto cleanup = [&] {
    std::error_code ec;
    for (auto& p : temps) fs::remove(p, ec);
    for (auto& p : placed) fs::remove(p, ec);
  };
  const std::string failed = fmt::format("writing the run report to '{}' failed", out_dir);
  const char* remedy = "; check that the directory is writable and its disk has free space, then rerun";
  try {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec || !fs::is_directory(dir))
      throw Error(fmt::format("cannot create output directory '{}': {}", out_dir,
                              ec ? ec.message() : "a file of that name exists"));
    // Every file is written and flushed beside its name before an earlier run's files are
    // touched: a disk that fills up (the likely failure) leaves that run as it was.
    for (auto& name : order) {
      const fs::path tmp = temp_path_beside((dir / name).string());
      write_file_synced(tmp.string(), files[name].data(), files[name].size(), (dir / name).string());
      temps.push_back(tmp);
    }
    // Two runs writing into one directory at once (a script's mistake) must not leave one run's
    // CSVs beside the other's report.json: the replacement below holds an exclusive lock on the
    // directory, so each run's files land together and the last one wins whole.
    const DirectoryLock lock(dir);
    // A stale report.json next to new CSVs would look like a complete, consistent run.
    fs::remove(dir / "report.json", ec);
    if (ec) throw Error(fmt::format("cannot replace '{}': {}", (dir / "report.json").string(), ec.message()));
    // dram.csv belongs to time-multiplexed runs only: not left over from an earlier one.
    if (!files.count("dram.csv")) fs::remove(dir / "dram.csv", ec);
    for (std::size_t i = 0; i < order.size(); ++i) {
      fs::rename(temps[i], dir / order[i], ec);
      if (ec) throw Error(fmt::format("cannot rename '{}' into place: {}", temps[i].string(), ec.message()));
      placed.push_back(dir / order[i]);
    }
    temps.clear();
  } catch (const WriteError& e) {  // names the file, the OS reason and the remedy
    cleanup();
    throw WriteError(fmt::format("{}: {}", failed, e.what()));
  } catch (const Error& e) {
    cleanup();
    throw WriteError(fmt::format("{}: {}{}", failed, e.what(), remedy));
  } catch (const fs::filesystem_error& e) {
    cleanup();
    throw WriteError(fmt::format("{}: {}{}", failed, e.what(), remedy));
  }
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  // base/file_util's atomic write (temporary + fsync + rename), into a directory made if missing,
  // with the report writers' message.
  const fs::path p(path);
  std::error_code ec;
  fs::create_directories(p.has_parent_path() ? p.parent_path() : fs::path("."), ec);
  try {
    spikechip::write_file_atomic(path, bytes);
  } catch (const WriteError&) {  // already names the file, the OS reason and what to check
    throw;
  } catch (const Error& e) {
    throw Error(fmt::format("writing '{}' failed: {}; check that the directory is writable", path, e.what()));
  }
}

void write_sweep_html(const json& sweep, const std::string& path) {
  write_file_atomic(path, render_sweep_html(sweep));
}

}  // namespace spikechip::report
