#pragma once
// Architecture exploration (docs/exploration.md): a sweep file names a base model, chip and
// mapping options and the parameters to vary; every design point runs as its own process
// (SystemC is process-global), results go to one SQLite store owned by the parent.
#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "arch/chip_config.hpp"

namespace spikechip::explore {

// One design point: its parameter values (every varied path, effective value), the complete chip
// JSON it runs on and the mapper options.
struct SweepPoint {
  int id = 0;
  nlohmann::ordered_json params;  // path -> value, in the sweep's parameter order
  nlohmann::json chip;            // full chip config; tech.energy_table made absolute
  nlohmann::json map;             // mapper options (placement, seed, split, rate, unicast, chips)
  // What the point's command takes beside the chip (docs/exploration.md, "Parameters"): job "run"
  // its model, inputs and timesteps (T 0: the model's own); job "map" its model; job "noc" the
  // synthetic-traffic options (traffic, rate, packet_size, warmup, measure, fanout, seed).
  std::string model, inputs;
  int T = 0;
  nlohmann::json noc;
  std::string key;                // canonical text of everything that defines the point
  std::string sim_key;            // the same without tech.* (points sharing it share one simulation)
  int sim_point = -1;             // lowest id with the same sim_key (itself when it runs)
  double area_proxy_mm2 = 0;
};

struct SweepSpec {
  std::string path;               // the sweep file
  std::string name;
  std::string job = "map";        // "map": spikechip map; "run": spikechip run; "noc": spikechip noc
  std::string model, chip, inputs;  // absolute paths (the base; a point may vary model and inputs)
  double timeout_s = 3600;
  std::vector<std::string> parameters;  // varied paths, in order (grid, zip, list)
  std::vector<SweepPoint> points;
  std::string spec_hash;          // of all point keys (the store refuses a different sweep)
};

// Parses and validates a sweep file, expands it and validates every point's chip config.
// Throws spikechip::Error naming the file, the JSON path / parameter path and what to do.
SweepSpec load_sweep(const std::string& path);
SweepSpec parse_sweep(const nlohmann::ordered_json& j, const std::string& origin, const std::string& base_dir);

// Area proxy of a point: the chip's area model, arch::chip_area (arch/area.hpp), in mm².
double area_proxy_mm2(const arch::ChipConfig& c);

// The metric columns of a job, in CSV order.
const std::vector<std::string>& job_metrics(const std::string& job);

// A failed point's error starts with one of these when the failure was not the design point's and a
// re-run need not repeat it; such a point is run again when the sweep is resumed. kInterrupted: it
// was stopped (SIGINT / SIGTERM, a partial report); kNotWritten: the disk refused its outputs
// (full, not writable: the point exited kWriteErrorExit, spikechip::WriteError).
inline constexpr const char* kInterrupted = "interrupted";
inline constexpr const char* kNotWritten = "output not written";

struct PointResult {
  int id = -1;
  std::string status;       // "ok" | "failed"
  std::string error;        // last line of stderr, or signal / timeout
  nlohmann::json metrics;   // object, or null when failed
  int sim_point = -1;
  double wall_s = 0;
  nlohmann::json to_json() const;
  static PointResult from_json(const nlohmann::json& j, const std::string& origin);
};

// ---- the store: DIR/results.sqlite (WAL), written only by the parent -------------------------
class SweepStore {
 public:
  // Opens or creates; refuses a store made for another sweep (different spec hash) unless empty,
  // and a directory another sweep process holds (DIR/.sweep.lock, released when this closes): two
  // sweeps in one directory would run the same points into the same point directories.
  SweepStore(const std::string& dir, const SweepSpec& spec);
  ~SweepStore();
  SweepStore(const SweepStore&) = delete;
  SweepStore& operator=(const SweepStore&) = delete;
  void record(const PointResult& r, const std::string& key);  // one transaction
  std::map<int, PointResult> load() const;                     // recorded points (key matches)
 private:
  void exec(const std::string& sql) const;
  struct DirLock {  // flock on DIR/.sweep.lock; -1 when the file could not be made (the store's
    int fd = -1;    // own open then says why)
    ~DirLock();
  } lock_;
  struct sqlite3* db_ = nullptr;
  std::string path_;
  const SweepSpec& spec_;
};

// ---- running one point -----------------------------------------------------------------------
std::string point_dir(const std::string& out_dir, int id);
// argv of the point's child process (binary first).
std::vector<std::string> point_command(const SweepSpec& s, const SweepPoint& p, const std::string& out_dir,
                                       const std::string& binary);
// Writes <point>/chip.json and starts the child with stdout/stderr in <point>/stdout.log, stderr.log.
int spawn_point(const SweepSpec& s, const SweepPoint& p, const std::string& out_dir, const std::string& binary);
// Result of a finished child from its wait status and its output files.
PointResult finish_point(const SweepSpec& s, const SweepPoint& p, const std::string& out_dir, int wait_status,
                         bool timed_out, double wall_s);
// Failed for a reason that is not the point's (its error starts with kInterrupted or kNotWritten):
// run again on resume, with or without --retry-failed.
bool rerun_on_resume(const PointResult& r);
// Blocking: spawn, wait (killing it after the timeout), finish. Used by MPI workers and --point.
// Once `*stop` is set (a stop signal to the caller), the point gets one SIGTERM.
PointResult run_point_blocking(const SweepSpec& s, const SweepPoint& p, const std::string& out_dir,
                               const std::string& binary, const std::atomic<bool>* stop = nullptr);
// The metrics of a point that shares the simulation of `primary` (only tech.* differ): the
// primary's metrics with the energy re-applied from its report's event counts.
PointResult derive_point(const SweepSpec& s, const SweepPoint& p, const PointResult& primary,
                         const std::string& out_dir);

// Energy of a saved run report under another energy table (and chip config, default the report's).
// Returns {"energy_pJ" (per inference), "energy_per_sop_pJ", "components_pJ" (per inference)}.
nlohmann::json reapply_energy(const nlohmann::json& report, const std::string& report_origin,
                              const std::string& table_path, const std::optional<nlohmann::json>& chip_json);

// ---- scheduling shared by the local, MPI and Slurm back ends ---------------------------------
class SweepDriver {
 public:
  SweepDriver(const SweepSpec& s, SweepStore& store, std::string out_dir, bool retry_failed);
  std::optional<int> next();                  // a point to run now, or none (all handed out)
  void complete(const PointResult& r);        // records it and any points derived from it
  bool finished() const { return remaining_ == 0; }
  int done() const { return done_; }
  int failed() const { return failed_; }
  int total() const { return int(spec_.points.size()); }
  int skipped() const { return skipped_; }
  const std::vector<int>& to_run() const { return queue_; }  // primaries still to run (order)
 private:
  void record(const PointResult& r);
  const SweepSpec& spec_;
  SweepStore& store_;
  std::string out_;
  std::vector<int> queue_;
  size_t next_ = 0;
  std::map<int, std::vector<int>> derived_;   // primary -> dependants waiting for it
  int remaining_ = 0, done_ = 0, failed_ = 0, skipped_ = 0;
};

// results.csv, sweep.json (schema spikechip.sweep/1) and sweep.html from the store.
// Returns the number of points not finished: not yet recorded, or recorded as interrupted or with
// their outputs refused (rerun_on_resume); 0 = complete (sweep.json "status").
int write_sweep_outputs(const SweepSpec& s, const SweepStore& store, const std::string& out_dir,
                        const std::string& command);
std::string render_results_csv(const SweepSpec& s, const std::map<int, PointResult>& results);

// Path of this executable (children are spawned from it).
std::string self_binary();

}  // namespace spikechip::explore
