#include "report/trace_writer.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "report/report_writer.hpp"
#include "base/error.hpp"
#include "base/json_text.hpp"

namespace spikechip::report {

using json = nlohmann::json;

namespace {

const char* const kDirs[] = {"N", "E", "S", "W"};

// One busy interval on one (pid, tid) track, in cycles [start, end).
struct Interval {
  uint64_t start = 0, end = 0;
  int pid = 0, tid = 0;
  int node = -1, timestep = -1;  // -1: a link interval
  uint64_t flits = 0;
  bool operator<(const Interval& o) const {
    return std::tie(start, pid, tid, end, node, timestep) < std::tie(o.start, o.pid, o.tid, o.end, o.node, o.timestep);
  }
};

TraceUnit unit_of(const model::Graph& g, int node, bool synapse) {
  const model::Node& n = g.nodes[size_t(node)];
  if (synapse) {
    // Pixels (the Input's values) are multiply-accumulated by the encoder's MAC lanes.
    const bool pixels = !n.inputs.empty() && g.nodes[size_t(n.inputs[0])].op == model::Op::Input;
    return pixels ? TraceUnit::Encoder : TraceUnit::SynapseEngine;
  }
  return n.op == model::Op::SDSA ? TraceUnit::Sdsa : TraceUnit::NeuronUnit;
}

// Every interval overlapping the window, cut to it, sorted by start.
std::vector<Interval> collect(const model::Graph& g, const mapper::Mapping& m, const arch::ChipRunResult& r,
                              const TraceOptions& o) {
  std::vector<Interval> v;
  auto add = [&](Interval iv) {
    if (iv.end <= iv.start || iv.end <= o.window_start || iv.start >= o.window_end) return;
    iv.start = std::max(iv.start, o.window_start), iv.end = std::min(iv.end, o.window_end);
    v.push_back(iv);
  };
  for (const auto& e : r.timeline)
    add({e.start, e.end, e.core, int(unit_of(g, e.node, false)), e.node, e.timestep, 0});
  for (const auto& e : r.synapse_timeline)
    add({e.start, e.end, e.core, int(unit_of(g, e.node, true)), e.node, e.timestep, 0});
  const int net_pid = m.mesh_w * m.mesh_h;
  for (const auto& l : r.link_activity) add({l.start, l.end, net_pid, l.node * 4 + l.port, -1, -1, l.flits});
  std::sort(v.begin(), v.end());
  return v;
}

std::string core_label(const mapper::Mapping& m, int core) {
  return fmt::format("core {} ({},{})", core, core % std::max(1, m.mesh_w), core / std::max(1, m.mesh_w));
}

std::string link_label(const mapper::Mapping& m, int node, int port) {
  return fmt::format("link ({},{}) {}", node % std::max(1, m.mesh_w), node / std::max(1, m.mesh_w), kDirs[port & 3]);
}

json window_json(const TraceOptions& o) {
  json w = {o.window_start, nullptr};
  if (o.window_end != std::numeric_limits<uint64_t>::max()) w[1] = o.window_end;
  return w;
}

}  // namespace

json TraceSummary::to_json() const {
  return {{"path", path}, {"format", format}, {"events", events}, {"dropped", dropped}, {"truncated", truncated}};
}

void parse_trace_window(const std::string& text, TraceOptions& o) {
  const auto bad = [&] {
    return UsageError("--trace-window must be A:B in cycles with A < B (B may be empty: to the end), got '" + text + "'");
  };
  const auto c = text.find(':');
  if (c == std::string::npos) throw bad();
  auto num = [&](const std::string& s, uint64_t dflt) -> uint64_t {
    if (s.empty()) return dflt;
    if (s.find_first_not_of("0123456789") != std::string::npos || s.size() > 19) throw bad();
    return std::stoull(s);
  };
  o.window_start = num(text.substr(0, c), 0);
  o.window_end = num(text.substr(c + 1), std::numeric_limits<uint64_t>::max());
  if (o.window_start >= o.window_end) throw bad();
}

const char* trace_unit_name(TraceUnit u) {
  switch (u) {
    case TraceUnit::SynapseEngine: return "synapse engine";
    case TraceUnit::Encoder: return "encoder (MAC lanes)";
    case TraceUnit::NeuronUnit: return "neuron unit (LIF / finalise / Add / Mean)";
    case TraceUnit::Sdsa: return "SDSA unit";
  }
  return "?";
}

std::string render_trace_json(const model::Graph& g, const mapper::Mapping& m, const arch::ChipRunResult& r,
                              const TraceOptions& o, TraceSummary* summary) {
  const std::vector<Interval> all = collect(g, m, r, o);
  const double us_per_cycle = 1e6 / o.clock_hz;
  const int net_pid = m.mesh_w * m.mesh_h;
  std::vector<std::pair<uint64_t, int>> marks;  // (cycle, timestep) of the timestep ends in the window
  for (size_t t = 0; t < r.timestep_end_cycles.size(); ++t) {
    const uint64_t c = r.timestep_end_cycles[t];
    if (c >= o.window_start && c < o.window_end) marks.push_back({c, int(t)});
  }
  const size_t total = all.size() + marks.size();
  const size_t keep_iv = std::min(all.size(), o.max_events);
  const size_t keep_marks = std::min(marks.size(), o.max_events - keep_iv);
  json ev = json::array();
  std::set<int> pids;
  std::set<std::pair<int, int>> tids;
  for (size_t i = 0; i < keep_iv; ++i) {
    const Interval& iv = all[i];
    pids.insert(iv.pid), tids.insert({iv.pid, iv.tid});
    json e = {{"ph", "X"}, {"pid", iv.pid}, {"tid", iv.tid}, {"ts", double(iv.start) * us_per_cycle},
              {"dur", double(iv.end - iv.start) * us_per_cycle}};
    if (iv.node >= 0) {
      e["name"] = g.nodes[size_t(iv.node)].name;
      e["cat"] = iv.tid == int(TraceUnit::SynapseEngine) || iv.tid == int(TraceUnit::Encoder) ? "synapse" : "node";
      e["args"] = {{"timestep", iv.timestep}, {"op", model::op_name(g.nodes[size_t(iv.node)].op)},
                   {"start_cycles", iv.start}, {"end_cycles", iv.end}};
    } else {
      e["name"] = "flits";
      e["cat"] = "link";
      e["args"] = {{"flits", iv.flits}, {"start_cycles", iv.start}, {"end_cycles", iv.end}};
    }
    ev.push_back(std::move(e));
  }
  for (size_t i = 0; i < keep_marks; ++i)
    ev.push_back({{"ph", "i"}, {"s", "g"}, {"pid", 0}, {"tid", 0}, {"cat", "timestep"},
                  {"name", fmt::format("timestep {} done", marks[i].second)},
                  {"ts", double(marks[i].first) * us_per_cycle}, {"args", {{"cycle", marks[i].first}}}});
  // Names for the tracks that appear (metadata events are not counted against max_events).
  json meta = json::array();
  for (int pid : pids) {
    const std::string name = pid == net_pid ? std::string("network links") : core_label(m, pid);
    meta.push_back({{"ph", "M"}, {"name", "process_name"}, {"pid", pid}, {"tid", 0}, {"args", {{"name", name}}}});
    meta.push_back({{"ph", "M"}, {"name", "process_sort_index"}, {"pid", pid}, {"tid", 0}, {"args", {{"sort_index", pid}}}});
  }
  for (const auto& [pid, tid] : tids) {
    const std::string name = pid == net_pid ? link_label(m, tid / 4, tid % 4) : trace_unit_name(TraceUnit(tid));
    meta.push_back({{"ph", "M"}, {"name", "thread_name"}, {"pid", pid}, {"tid", tid}, {"args", {{"name", name}}}});
  }
  TraceSummary s;
  s.format = "chrome-trace-event-json";
  s.events = keep_iv + keep_marks;
  s.dropped = total - s.events;
  s.truncated = s.dropped > 0 || r.activity_truncated || r.timeline_truncated;
  for (auto& e : ev) meta.push_back(std::move(e));
  json doc = {{"displayTimeUnit", "ns"},
              {"otherData",
               {{"generator", "spikechip run --trace-json"},
                {"time_unit", "ts and dur are simulated microseconds (cycles / clock_hz * 1e6); args carry cycles"},
                {"clock_hz", o.clock_hz},
                {"window_cycles", window_json(o)},
                {"pid", fmt::format("global core id (y * {} + x); {} = the network's links", m.mesh_w, net_pid)},
                {"tid", "core unit: 0 synapse engine, 1 encoder, 2 neuron unit, 3 SDSA; links: node * 4 + port (N E S W)"},
                {"max_events", o.max_events},
                {"events", s.events},
                {"dropped_events", s.dropped},
                {"truncated", s.truncated},
                {"chip_activity_truncated", r.activity_truncated || r.timeline_truncated}}},
              {"traceEvents", std::move(meta)}};
  if (summary) *summary = s;
  return json_text(doc) + "\n";
}

std::string render_vcd(const model::Graph& g, const mapper::Mapping& m, const arch::ChipRunResult& r,
                       const TraceOptions& o, TraceSummary* summary) {
  const std::vector<Interval> all = collect(g, m, r, o);
  const uint64_t ps = std::max<uint64_t>(1, uint64_t(std::llround(1e12 / o.clock_hz)));
  // Signals: one busy bit per core that worked in the window (its units' intervals merged), one
  // activity bit per link that carried flits, and the timestep-done pulse + counter.
  std::map<std::pair<int, int>, std::vector<std::pair<uint64_t, uint64_t>>> busy;  // (kind 0 core / 1 link, id)
  const int net_pid = m.mesh_w * m.mesh_h;
  for (const Interval& iv : all) busy[iv.pid == net_pid ? std::make_pair(1, iv.tid) : std::make_pair(0, iv.pid)].push_back({iv.start, iv.end});
  struct Change {
    uint64_t cycle;
    int sig;
    uint64_t value;
    bool operator<(const Change& c) const { return std::tie(cycle, sig, value) < std::tie(c.cycle, c.sig, c.value); }
  };
  std::vector<Change> changes;
  std::vector<std::string> names;
  std::vector<int> widths;
  for (auto& [key, ivs] : busy) {
    const int sig = int(names.size());
    names.push_back(key.first == 0 ? fmt::format("core_{}_{}_busy", key.second % m.mesh_w, key.second / m.mesh_w)
                                   : fmt::format("link_{}_{}_{}_flits", (key.second / 4) % m.mesh_w,
                                                 (key.second / 4) / m.mesh_w, kDirs[key.second % 4]));
    widths.push_back(1);
    std::sort(ivs.begin(), ivs.end());
    uint64_t a = ivs[0].first, b = ivs[0].second;  // the current union interval
    auto emit = [&] {
      changes.push_back({a, sig, 1});
      if (b < o.window_end) changes.push_back({b, sig, 0});
    };
    for (size_t i = 1; i < ivs.size(); ++i) {
      if (ivs[i].first <= b) b = std::max(b, ivs[i].second);
      else emit(), a = ivs[i].first, b = ivs[i].second;
    }
    emit();
  }
  const int sig_done = int(names.size()), sig_step = sig_done + 1;
  names.push_back("timestep_done"), widths.push_back(1);
  names.push_back("timesteps_completed"), widths.push_back(32);
  for (size_t t = 0; t < r.timestep_end_cycles.size(); ++t) {
    const uint64_t c = r.timestep_end_cycles[t];
    if (c < o.window_start || c >= o.window_end) continue;
    changes.push_back({c, sig_done, 1});
    if (c + 1 < o.window_end) changes.push_back({c + 1, sig_done, 0});
    changes.push_back({c, sig_step, t + 1});
  }
  std::sort(changes.begin(), changes.end());
  const size_t total = changes.size();
  if (changes.size() > o.max_events) changes.resize(o.max_events);
  TraceSummary s;
  s.format = "vcd";
  s.events = changes.size();
  s.dropped = total - changes.size();
  s.truncated = s.dropped > 0 || r.activity_truncated || r.timeline_truncated;

  // Identifiers: printable ASCII 33..126, base 94.
  auto ident = [](int i) {
    std::string id;
    do id += char(33 + i % 94), i /= 94;
    while (i > 0);
    return id;
  };
  std::string out;
  out += "$date\n  (simulated run; no wall-clock date, for byte-identical output)\n$end\n";
  out += fmt::format("$version\n  spikechip run --vcd, model {}\n$end\n", g.name);
  out += fmt::format(
      "$comment\n  1 clock cycle = {} ps ({} Hz). Window cycles [{}, {}). max_events {}, value changes {}, dropped {}, "
      "truncated {}.\n$end\n",
      ps, o.clock_hz, o.window_start,
      o.window_end == std::numeric_limits<uint64_t>::max() ? std::string("end") : std::to_string(o.window_end), o.max_events,
      s.events, s.dropped, s.truncated ? "yes" : "no");
  out += "$timescale 1 ps $end\n$scope module chip $end\n";
  for (size_t i = 0; i < names.size(); ++i)
    out += fmt::format("$var wire {} {} {} $end\n", widths[i], ident(int(i)), names[i]);
  out += "$upscope $end\n$enddefinitions $end\n";
  auto value = [&](int sig, uint64_t v) {
    if (widths[size_t(sig)] == 1) return fmt::format("{}{}\n", v, ident(sig));
    std::string bits;
    for (int b = widths[size_t(sig)] - 1; b >= 0; --b)
      if (!bits.empty() || (v >> b) & 1 || b == 0) bits += char('0' + ((v >> b) & 1));
    return fmt::format("b{} {}\n", bits, ident(sig));
  };
  // Initial values at the window start: everything idle; the counter at the timesteps done before.
  uint64_t done_before = 0;
  for (uint64_t c : r.timestep_end_cycles) done_before += c < o.window_start;
  out += fmt::format("#{}\n$dumpvars\n", o.window_start * ps);
  size_t i = 0;
  std::vector<uint64_t> init(names.size(), 0);
  init[size_t(sig_step)] = done_before;
  for (; i < changes.size() && changes[i].cycle == o.window_start; ++i) init[size_t(changes[i].sig)] = changes[i].value;
  for (size_t k = 0; k < names.size(); ++k) out += value(int(k), init[k]);
  out += "$end\n";
  uint64_t cur = o.window_start;
  for (; i < changes.size(); ++i) {
    if (changes[i].cycle != cur) cur = changes[i].cycle, out += fmt::format("#{}\n", cur * ps);
    out += value(changes[i].sig, changes[i].value);
  }
  if (s.dropped) out += fmt::format("$comment\n  truncated: {} later value changes dropped (max_events {})\n$end\n", s.dropped, o.max_events);
  if (summary) *summary = s;
  return out;
}

namespace {
using Renderer = std::string (*)(const model::Graph&, const mapper::Mapping&, const arch::ChipRunResult&,
                                 const TraceOptions&, TraceSummary*);
TraceSummary write_rendered(Renderer render, const std::string& path, const model::Graph& g, const mapper::Mapping& m,
                            const arch::ChipRunResult& r, const TraceOptions& o) {
  TraceSummary s;
  write_file_atomic(path, render(g, m, r, o, &s));
  s.path = path;
  return s;
}
}  // namespace

TraceSummary write_trace_json(const std::string& path, const model::Graph& g, const mapper::Mapping& m,
                              const arch::ChipRunResult& r, const TraceOptions& o) {
  return write_rendered(render_trace_json, path, g, m, r, o);
}

TraceSummary write_vcd(const std::string& path, const model::Graph& g, const mapper::Mapping& m,
                       const arch::ChipRunResult& r, const TraceOptions& o) {
  return write_rendered(render_vcd, path, g, m, r, o);
}

json write_run_traces(const std::string& json_path, const std::string& vcd_path, const model::Graph& g,
                      const mapper::Mapping& m, const arch::ChipRunResult& r, const TraceOptions& o) {
  json out = json::array();
  if (!json_path.empty()) out.push_back(write_trace_json(json_path, g, m, r, o).to_json());
  if (!vcd_path.empty()) out.push_back(write_vcd(vcd_path, g, m, r, o).to_json());
  for (auto& t : out) t["window_cycles"] = window_json(o), t["max_events"] = o.max_events;
  return out;
}

}  // namespace spikechip::report
