// The sweep results store: DIR/results.sqlite. One writer (the sweep's parent process / MPI rank
// 0 / the collect step); every point is one transaction, so a killed sweep leaves only whole
// points behind (WAL journal: the last committed transaction survives SIGKILL).
#include <fcntl.h>
#include <filesystem>
#include <sys/file.h>
#include <unistd.h>

#include <fmt/format.h>
#include <sqlite3.h>

#include "explore/sweep.hpp"
#include "base/error.hpp"
#include "base/json_text.hpp"
#include "base/strict_json.hpp"

namespace spikechip::explore {
namespace fs = std::filesystem;
using nlohmann::json;

nlohmann::json PointResult::to_json() const {
  return {{"id", id}, {"status", status}, {"error", error.empty() ? json(nullptr) : json(error)},
          {"metrics", metrics}, {"sim_point", sim_point}, {"wall_s", wall_s}};
}

PointResult PointResult::from_json(const nlohmann::json& j, const std::string& origin) {
  StrictJson r(j, origin);
  r.only_keys({"id", "status", "error", "metrics", "sim_point", "wall_s"});
  PointResult p;
  p.id = int(r.at("id").as_int(0, INT32_MAX));
  p.status = r.at("status").as_enum({"ok", "failed"});
  if (!r.at("error").raw().is_null()) p.error = r.at("error").as_string();
  p.metrics = r.at("metrics").raw();
  if (p.status == "ok") r.at("metrics").expect_object();
  p.sim_point = int(r.at("sim_point").as_int(-1, INT32_MAX));
  p.wall_s = r.at("wall_s").as_double(0, 1e12);
  return p;
}

namespace {

// SQLite's result codes for a disk that refuses the store (full, read-only, an I/O error): a
// spikechip::WriteError, so the sweep exits kWriteErrorExit and says how to resume.
bool refused_by_disk(int rc) {
  const int primary = rc & 0xff;
  return primary == SQLITE_FULL || primary == SQLITE_IOERR || primary == SQLITE_READONLY || primary == SQLITE_CANTOPEN;
}
constexpr const char* kResume =
    "; free space on its disk (or give another -o), then rerun the same command: the points recorded so far are kept";

}  // namespace

SweepStore::DirLock::~DirLock() {
  if (fd >= 0) ::close(fd);
}

SweepStore::SweepStore(const std::string& dir, const SweepSpec& spec) : spec_(spec) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  // One sweep process per directory: a second one (the same command started twice, a local sweep
  // beside a Slurm collect) would start the points the first is running, in the same directories.
  const std::string lock_path = (fs::path(dir) / ".sweep.lock").string();
  lock_.fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (lock_.fd >= 0) {
    if (::flock(lock_.fd, LOCK_EX | LOCK_NB) != 0) {
      char pid[32] = {};
      [[maybe_unused]] const ssize_t n = ::pread(lock_.fd, pid, sizeof pid - 1, 0);
      std::string holder;  // its leading digits only: the file is anyone's to write
      for (const char* c = pid; *c >= '0' && *c <= '9'; ++c) holder.push_back(*c);
      throw Error(fmt::format("{}: another spikechip sweep{} is using this directory; wait for it to end, or give "
                              "another -o",
                              dir, holder.empty() ? "" : " (process " + holder + ")"));
    }
    // Its process id, for the other sweep's message only (a failed write changes nothing else).
    const std::string me = std::to_string(::getpid()) + "\n";
    [[maybe_unused]] const bool written =
        ::ftruncate(lock_.fd, 0) == 0 && ::pwrite(lock_.fd, me.data(), me.size(), 0) == ssize_t(me.size());
  }
  path_ = (fs::path(dir) / "results.sqlite").string();
  // Made here with 0666 under the umask, as every output (SQLite would make it 0644, and its
  // journals take the database's bits): a group's shared sweep directory stays writable by the group.
  if (const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666); fd >= 0) ::close(fd);
  if (const int rc = sqlite3_open(path_.c_str(), &db_); rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    msg = path_ + ": cannot open the sweep store (" + msg + "); check that -o names a writable directory";
    if (refused_by_disk(rc)) throw WriteError(msg);
    throw Error(msg);
  }
  sqlite3_busy_timeout(db_, 10000);
  // Setting up holds no results yet, so it runs unsynced: creating a store (the switch to WAL and
  // the schema) otherwise costs ~7 fsyncs, serial time in front of every sweep (docs/performance.md).
  exec("PRAGMA synchronous=OFF");
  exec("PRAGMA journal_mode=WAL");
  exec("BEGIN");
  exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  exec("CREATE TABLE IF NOT EXISTS points (id INTEGER PRIMARY KEY, point_key TEXT NOT NULL, params TEXT NOT NULL,"
       " status TEXT NOT NULL, error TEXT, metrics TEXT, sim_point INTEGER NOT NULL, wall_s REAL NOT NULL)");
  exec(fmt::format("INSERT OR REPLACE INTO meta VALUES ('sweep_file', {}), ('spec_hash', '{}')",
                   json_text(json(spec.path)), spec.spec_hash));
  exec("COMMIT");
  // NORMAL in WAL mode: a killed process loses nothing committed (only a power cut could drop the
  // last points, which a re-run simply repeats); FULL would fsync on every point.
  exec("PRAGMA synchronous=NORMAL");
}

SweepStore::~SweepStore() { sqlite3_close(db_); }

void SweepStore::exec(const std::string& sql) const {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : "unknown";
    sqlite3_free(err);
    if (refused_by_disk(rc)) throw WriteError(path_ + ": sweep store: " + msg + kResume);
    throw Error(path_ + ": sweep store: " + msg + " (in: " + sql.substr(0, 80) + ")");
  }
}

void SweepStore::record(const PointResult& r, const std::string& key) {
  sqlite3_stmt* st = nullptr;
  const char* sql = "INSERT OR REPLACE INTO points VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
  if (sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) != SQLITE_OK)
    throw Error(path_ + ": sweep store: " + sqlite3_errmsg(db_));
  const std::string params = json_text(spec_.points.at(size_t(r.id)).params), metrics = json_text(r.metrics);
  sqlite3_bind_int(st, 1, r.id);
  sqlite3_bind_text(st, 2, key.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 3, params.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 4, r.status.c_str(), -1, SQLITE_TRANSIENT);
  if (r.error.empty()) sqlite3_bind_null(st, 5);
  else sqlite3_bind_text(st, 5, r.error.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 6, metrics.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int(st, 7, r.sim_point);
  sqlite3_bind_double(st, 8, r.wall_s);
  const int rc = sqlite3_step(st);  // a single statement is its own atomic transaction
  sqlite3_finalize(st);
  if (rc == SQLITE_DONE) return;
  const std::string what = path_ + ": sweep store: cannot record point " + std::to_string(r.id) + ": " + sqlite3_errmsg(db_);
  if (refused_by_disk(rc)) throw WriteError(what + kResume);
  throw Error(what);
}

std::map<int, PointResult> SweepStore::load() const {
  std::map<int, PointResult> out;
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT id, point_key, status, error, metrics, sim_point, wall_s FROM points ORDER BY id",
                         -1, &st, nullptr) != SQLITE_OK)
    throw Error(path_ + ": sweep store: " + sqlite3_errmsg(db_));
  while (sqlite3_step(st) == SQLITE_ROW) {
    PointResult r;
    r.id = sqlite3_column_int(st, 0);
    const std::string key = reinterpret_cast<const char*>(sqlite3_column_text(st, 1));
    // A point whose definition changed since it was recorded (edited sweep file) is not a result.
    if (r.id < 0 || size_t(r.id) >= spec_.points.size() || spec_.points[size_t(r.id)].key != key) continue;
    r.status = reinterpret_cast<const char*>(sqlite3_column_text(st, 2));
    if (sqlite3_column_type(st, 3) != SQLITE_NULL) r.error = reinterpret_cast<const char*>(sqlite3_column_text(st, 3));
    r.metrics = json::parse(reinterpret_cast<const char*>(sqlite3_column_text(st, 4)));
    r.sim_point = sqlite3_column_int(st, 5);
    r.wall_s = sqlite3_column_double(st, 6);
    out[r.id] = std::move(r);
  }
  sqlite3_finalize(st);
  return out;
}

}  // namespace spikechip::explore
