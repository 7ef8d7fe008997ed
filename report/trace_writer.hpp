#pragma once
// Optional run traces of one chip run (docs/reports.md, "Run traces"): Chrome/Perfetto
// trace-event JSON of the per-core units' busy intervals, and a VCD of a few signals (per-core
// busy, per-link flit activity, timestep markers). Both are cut to a cycle window and a maximum
// event count; a cut is recorded in the file and returned to the caller (for report.json).
// Inputs: a ChipRunResult recorded with ChipRunOptions::record_activity (the node-unit timeline
// alone still gives a trace, without synapse-engine and link activity).
#include <cstdint>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

#include "arch/chip.hpp"
#include "mapper/mapper.hpp"
#include "models/graph.hpp"

namespace spikechip::report {

struct TraceOptions {
  uint64_t window_start = 0;                                   // cycles, inclusive
  uint64_t window_end = std::numeric_limits<uint64_t>::max();  // cycles, exclusive
  size_t max_events = 200000;                                  // JSON events / VCD value changes
  double clock_hz = 1e9;
};

struct TraceSummary {
  std::string path, format;
  size_t events = 0;       // written (X events for JSON, value changes for VCD)
  size_t dropped = 0;      // inside the window but over max_events
  bool truncated = false;  // dropped > 0, or the chip's own activity record was cut
  nlohmann::json to_json() const;
};

// "A:B" (cycles, A < B, B may be empty for "to the end") -> window; throws UsageError naming
// the option on anything else.
void parse_trace_window(const std::string& text, TraceOptions& o);

// The unit ("thread") each interval runs on inside a core.
enum class TraceUnit : int { SynapseEngine = 0, Encoder = 1, NeuronUnit = 2, Sdsa = 3 };
const char* trace_unit_name(TraceUnit u);

// Trace-event JSON text: pid = global core id (pid = mesh size for the network's links), tid =
// TraceUnit (link index for the network), ts/dur in simulated microseconds (args carry cycles).
std::string render_trace_json(const model::Graph& g, const mapper::Mapping& m, const arch::ChipRunResult& r,
                              const TraceOptions& o, TraceSummary* summary = nullptr);
// VCD text: timescale 1 ps, times = cycle * round(1e12 / clock_hz).
std::string render_vcd(const model::Graph& g, const mapper::Mapping& m, const arch::ChipRunResult& r,
                       const TraceOptions& o, TraceSummary* summary = nullptr);

// Render and write via a temporary file renamed into place (no half-written trace on error).
TraceSummary write_trace_json(const std::string& path, const model::Graph& g, const mapper::Mapping& m,
                              const arch::ChipRunResult& r, const TraceOptions& o);
TraceSummary write_vcd(const std::string& path, const model::Graph& g, const mapper::Mapping& m,
                       const arch::ChipRunResult& r, const TraceOptions& o);

// `spikechip run --trace-json/--vcd`: writes the requested files (empty path: skipped) and
// returns report.json's "traces" array: {path, format, events, dropped, truncated,
// window_cycles [A, B or null], max_events} per file.
nlohmann::json write_run_traces(const std::string& json_path, const std::string& vcd_path, const model::Graph& g,
                                const mapper::Mapping& m, const arch::ChipRunResult& r, const TraceOptions& o);

}  // namespace spikechip::report
