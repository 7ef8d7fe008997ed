// Running sweep points as child processes, deriving tech-only points, scheduling, outputs.
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>

#include "arch/energy.hpp"
#include "explore/sweep.hpp"
#include "report/csv.hpp"
#include "report/report_writer.hpp"
#include "base/error.hpp"
#include "base/file_util.hpp"
#include "base/json_text.hpp"
#include "base/strict_json.hpp"

namespace spikechip::explore {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string last_line(const std::string& path) {
  std::ifstream f(path);
  std::string line, last;
  while (std::getline(f, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    // A progress line redrawn with '\r' keeps only its last state.
    if (auto cr = line.rfind('\r'); cr != std::string::npos) line = line.substr(cr + 1);
    if (!line.empty()) last = line;
  }
  return last;
}

json read_json(const std::string& path) { return read_json_file(path, "point output"); }

json pick(const json& obj, const char* key) { return obj.is_object() && obj.contains(key) ? obj[key] : json(nullptr); }

// The metrics sweep.html charts (one sensitivity plot per parameter and metric, so only the
// telling ones; results.csv and sweep.json's points keep them all).
std::vector<std::string> plot_metrics(const std::string& job) {
  if (job == "run") return {"latency_cycles", "energy_pJ", "area_proxy_mm2", "energy_per_sop_pJ"};
  if (job == "noc") return {"latency_avg_cycles", "latency_p99_cycles", "accepted_flits_per_node_cycle"};
  return {"cores_used", "traffic_hops", "max_link_load", "area_proxy_mm2"};
}

}  // namespace

std::string self_binary() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw Error("cannot find the spikechip executable (/proc/self/exe): " + ec.message());
  return p.string();
}

std::string point_dir(const std::string& out_dir, int id) {
  return (fs::path(out_dir) / "points" / fmt::format("{:04d}", id)).string();
}

std::vector<std::string> point_command(const SweepSpec& s, const SweepPoint& p, const std::string& out_dir,
                                       const std::string& binary) {
  const std::string d = point_dir(out_dir, p.id);
  const json& m = p.map;
  // The mapper options both `map` and `run` take (apps/cli.hpp, MapFlags).
  auto map_flags = [&](std::vector<std::string>& a) {
    a.insert(a.end(), {"--placement", m["placement"].get<std::string>(), "--seed", json_text(m["seed"]), "--split",
                       m["split"].get<std::string>()});
    if (m["unicast"].get<bool>()) a.push_back("--unicast");
    if (m.value("time_multiplex", false)) a.push_back("--time-multiplex");
    if (m.contains("phases")) a.insert(a.end(), {"--phases", m["phases"].get<std::string>()});
    if (!m["chips"].is_null()) a.insert(a.end(), {"--chips", m["chips"].is_string() ? m["chips"].get<std::string>()
                                                                                   : json_text(m["chips"])});
  };
  if (s.job == "run") {
    // One golden thread per point: the sweep's parallelism is its processes (-j N).
    std::vector<std::string> a = {binary, "run", "--model", p.model, "--chip", d + "/chip.json", "--input", p.inputs,
                                  "-o", d, "--quiet", "--threads", "1"};
    if (p.T > 0) a.insert(a.end(), {"-T", std::to_string(p.T)});
    map_flags(a);
    return a;
  }
  if (s.job == "noc") {
    const json& n = p.noc;
    return {binary, "noc", "--chip", d + "/chip.json", "--traffic", n["traffic"].get<std::string>(), "--rate",
            report::format_number(n["rate"].get<double>()), "--packet-size", json_text(n["packet_size"]),
            "--warmup", json_text(n["warmup"]), "--measure", json_text(n["measure"]), "--multicast-fanout",
            json_text(n["fanout"]), "--seed", json_text(n["seed"]), "-o", d + "/noc.json"};
  }
  std::vector<std::string> a = {binary, "map", "--model", p.model, "--chip", d + "/chip.json", "-o", d + "/mapping.json",
                                "--summary-json", d + "/summary.json"};
  if (p.T > 0) a.insert(a.end(), {"-T", std::to_string(p.T)});
  map_flags(a);
  a.insert(a.end(), {"--rate", report::format_number(m["rate"].get<double>())});
  return a;
}

int spawn_point(const SweepSpec& s, const SweepPoint& p, const std::string& out_dir, const std::string& binary) {
  const std::string d = point_dir(out_dir, p.id);
  fs::create_directories(d);
  for (const char* stale : {"report.json", "summary.json", "mapping.json", "result.json", "noc.json"}) fs::remove(fs::path(d) / stale);
  write_file_atomic(d + "/chip.json", json_text(p.chip, 2) + "\n");
  const std::vector<std::string> args = point_command(s, p, out_dir, binary);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const std::string out = d + "/stdout.log", err = d + "/stderr.log";
  const pid_t parent = getpid();
  // The stop signals stay blocked across the fork: until the exec, the child holds a copy of the
  // sweep's handlers (apps/stop_signals.hpp), which would take the SIGTERM meant to stop it.
  sigset_t stop, before;
  sigemptyset(&stop);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&stop, sig);
  pthread_sigmask(SIG_BLOCK, &stop, &before);
  // fork + exec rather than posix_spawn: the child must die with the sweep (PR_SET_PDEATHSIG), or
  // a killed sweep would leave orphans writing into point directories a resumed sweep reuses.
  const pid_t pid = fork();
  if (pid != 0) pthread_sigmask(SIG_SETMASK, &before, nullptr);
  if (pid < 0) throw Error(std::string("cannot start a sweep point process: ") + std::strerror(errno));
  if (pid == 0) {  // only async-signal-safe calls from here
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {  // a signal ignored by whoever started the sweep stays ignored
      struct sigaction cur {};
      if (sigaction(sig, nullptr, &cur) == 0 && cur.sa_handler != SIG_IGN) signal(sig, SIG_DFL);
    }
    sigset_t none;  // the sweep parent blocks SIGCHLD to wait for it; the point must not inherit that
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    // Its own process group: a terminal's Ctrl-C reaches the sweep alone, which stops its points
    // with one SIGTERM (apps/cmd_sweep.cpp); a second signal to the point would kill it at once.
    setpgid(0, 0);
    int fo = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    int fe = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0) _exit(126);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

PointResult finish_point(const SweepSpec& s, const SweepPoint& p, const std::string& out_dir, int st,
                         bool timed_out, double wall_s) {
  const std::string d = point_dir(out_dir, p.id);
  PointResult r;
  r.id = p.id;
  r.sim_point = p.id;
  r.wall_s = wall_s;
  r.status = "failed";
  const std::string tail = last_line(d + "/stderr.log");
  auto with_tail = [&](std::string what) { return tail.empty() ? what : what + ": " + tail; };
  if (timed_out) {
    r.error = with_tail(fmt::format("timeout after {} s (sweep timeout_s)", report::format_number(s.timeout_s)));
    return r;
  }
  if (WIFSIGNALED(st)) {
    const int sig = WTERMSIG(st);
    const bool stopped = sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT;
    r.error = with_tail(fmt::format("{}: signal {} ({})", stopped ? kInterrupted : "crashed", sig, strsignal(sig)));
    return r;
  }
  // `spikechip run` exits 3 when it stopped early (SIGINT, --time-limit) and wrote a partial report.
  if (WIFEXITED(st) && WEXITSTATUS(st) == 3 && s.job != "map") {
    // Its report says why (its last stderr line is the notice of the signal, or a progress line).
    std::string why = "exit status 3";
    try {
      why = excerpt(report::json_cell(pick(read_json(d + "/report.json"), "partial_reason")));
    } catch (const Error&) {
    }
    r.error = fmt::format("{}: the point's run stopped early ({}, partial report); it is run again on resume",
                          kInterrupted, why);
    return r;
  }
  // The disk refused an output (spikechip::WriteError), nothing the design point decides.
  if (WIFEXITED(st) && WEXITSTATUS(st) == kWriteErrorExit) {
    r.error = with_tail(fmt::format("{}: the disk refused the point's outputs (exit status {}); it is run again on "
                                    "resume",
                                    kNotWritten, kWriteErrorExit));
    return r;
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    r.error = tail.empty() ? fmt::format("exit status {} (see {}/stdout.log)", WEXITSTATUS(st), d) : tail;
    return r;
  }
  try {
    json m = json::object();
    if (s.job == "map") {
      const json sum = read_json(d + "/summary.json");
      for (const auto& k : job_metrics("map"))
        if (k != "area_proxy_mm2") m[k] = pick(sum, k.c_str());
    } else if (s.job == "noc") {
      const json rep = read_json(d + "/noc.json");
      m["latency_avg_cycles"] = pick(pick(rep, "latency_cycles"), "average");
      m["latency_p99_cycles"] = pick(pick(rep, "latency_cycles"), "p99");
      m["offered_flits_per_node_cycle"] = pick(rep, "offered_flits_per_node_cycle");
      m["accepted_flits_per_node_cycle"] = pick(rep, "accepted_flits_per_node_cycle");
      m["drained"] = pick(rep, "drained");
    } else {
      const json rep = read_json(d + "/report.json");
      // Only a complete, verified report is a result: a run stopped early (SIGINT, --time-limit)
      // writes a partial one with the latency and energy of the inputs it finished.
      if (pick(rep, "status") != "complete") {
        r.error = fmt::format("{}: its report is partial ({} of the inputs, {}); the point is run again on resume",
                              kInterrupted, report::json_cell(pick(pick(rep, "run"), "inputs")),
                              excerpt(report::json_cell(pick(rep, "partial_reason"))));
        return r;
      }
      if (pick(pick(rep, "run"), "verified") != true) {
        r.error = "the point's report is not verified bit-exact against the golden model (see its report.json)";
        return r;
      }
      const json sum = pick(rep, "summary");
      for (const char* k : {"latency_cycles", "energy_pJ", "energy_per_sop_pJ", "paper_energy_pJ", "sops", "packets", "flits"})
        m[k] = pick(sum, k);
      m["cores_used"] = pick(pick(rep, "mapping"), "cores_used");
      m["verified"] = pick(pick(rep, "run"), "verified");
    }
    m["area_proxy_mm2"] = p.area_proxy_mm2;
    r.metrics = m;
    r.status = "ok";
  } catch (const Error& e) {
    r.error = std::string("the point exited 0 but its output is unusable: ") + e.what();
  }
  return r;
}

PointResult run_point_blocking(const SweepSpec& s, const SweepPoint& p, const std::string& out_dir,
                               const std::string& binary, const std::atomic<bool>* stop) {
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = spawn_point(s, p, out_dir, binary);
  int st = 0;
  bool timed_out = false, told = false;
  for (;;) {
    if (stop && stop->load() && !told) {
      kill(pid, SIGTERM);
      told = true;
    }
    const pid_t w = waitpid(pid, &st, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) throw Error(std::string("waitpid: ") + std::strerror(errno));
    const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!timed_out && el > s.timeout_s) {
      kill(pid, SIGKILL);
      timed_out = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return finish_point(s, p, out_dir, st, timed_out, wall);
}

// ---- energy re-application -------------------------------------------------------------------

namespace {
arch::EventCounts event_counts_from_json(const json& j, const std::string& origin) {
  StrictJson e(j, origin, "/events");
  e.expect_object();
  arch::EventCounts c;
  auto u = [&](const char* k, uint64_t& out) {
    if (e.has(k)) out = uint64_t(e.at(k).as_int(0, INT64_MAX));
  };
  u("adds16", c.adds16), u("adds32", c.adds32), u("mults8", c.mults8), u("dense_macs", c.dense_macs), u("membrane_reads", c.membrane_reads);
  u("membrane_writes", c.membrane_writes), u("neuron_updates", c.neuron_updates), u("sdsa_ops", c.sdsa_ops);
  u("router_traversals", c.router_traversals), u("link_bits", c.link_bits), u("chip_link_bits", c.chip_link_bits);
  u("dram_bits", c.dram_bits), u("core_cycles", c.core_cycles), u("paper_macs", c.paper_macs), u("paper_acs", c.paper_acs);
  if (e.has("weight_reads")) {
    StrictJson w = e.at("weight_reads");
    w.expect_array();
    for (size_t i = 0; i < w.size(); ++i) {
      StrictJson x = w.at(i);
      arch::SramShape sh{x.at("bank_bytes").as_int(1, INT64_MAX), int(x.at("width_bits").as_int(1, 1 << 20))};
      c.weight_reads[sh] += uint64_t(x.at("count").as_int(0, INT64_MAX));
    }
  }
  if (e.has("dram_actions")) {  // by dram model (arch::DramActions::to_json)
    StrictJson d = e.at("dram_actions");
    d.expect_object();
    for (auto it = d.raw().begin(); it != d.raw().end(); ++it) {
      StrictJson x = d.at(it.key());
      x.expect_object();
      arch::DramActions& a = c.dram_actions[it.key()];
      auto f = [&](const char* k, uint64_t& out) { out = uint64_t(x.at(k).as_int(0, INT64_MAX)); };
      f("bits", a.bits), f("read_bursts", a.read_bursts), f("write_bursts", a.write_bursts);
      f("activates", a.activates), f("refreshes", a.refreshes), f("channel_cycles", a.channel_cycles);
    }
  }
  return c;
}
}  // namespace

json reapply_energy(const json& report, const std::string& origin, const std::string& table_path,
                    const std::optional<json>& chip_json) {
  StrictJson rep(report, origin);
  const json& ev = rep.at("events").raw();
  // The run report's counts are totals over all inputs; energy_pJ is per inference.
  const int64_t inputs = rep.at("run").at("inputs").as_int(1, INT64_MAX);
  const arch::EventCounts counts = event_counts_from_json(ev, origin);
  const json cj = chip_json ? *chip_json : rep.at("chip").at("config").raw();
  const arch::ChipConfig chip = arch::chip_config_from_json(cj, chip_json ? "chip" : origin + ": /chip/config");
  const arch::EnergyTable table = arch::load_energy_table(table_path);
  const arch::EnergyBreakdown b = arch::apply_energy(counts, table, chip);
  json comp = json::object();
  for (const auto& [k, v] : b.components_pj) comp[k] = v / double(inputs);
  const double e = b.total_pj / double(inputs);
  // spikechip run divides the total energy by its synaptic op count (SOPs + SDSA ops); that count
  // is recovered from the report's own energy / energy-per-op pair.
  const json sum = pick(report, "summary"), e0 = pick(sum, "energy_pJ"), s0 = pick(sum, "energy_per_sop_pJ");
  json per_sop = nullptr;
  if (e0.is_number() && s0.is_number() && s0.get<double>() > 0)
    per_sop = b.total_pj / (e0.get<double>() * double(inputs) / s0.get<double>());
  return {{"energy_pJ", e}, {"paper_energy_pJ", b.paper_pj / double(inputs)}, {"components_pJ", comp},
          {"energy_per_sop_pJ", per_sop}, {"energy_table", table_path}};
}

PointResult derive_point(const SweepSpec& s, const SweepPoint& p, const PointResult& primary, const std::string& out_dir) {
  PointResult r;
  r.id = p.id;
  r.sim_point = primary.id;
  r.wall_s = 0;
  if (primary.status != "ok") {
    r.status = "failed";
    r.error = fmt::format("shares the simulation of point {}, which failed: {}", primary.id, primary.error);
    return r;
  }
  // The point's own chip.json documents it (and lets anyone re-run it in full).
  fs::create_directories(point_dir(out_dir, p.id));
  write_file_atomic(point_dir(out_dir, p.id) + "/chip.json", json_text(p.chip, 2) + "\n");
  r.metrics = primary.metrics;
  r.metrics["area_proxy_mm2"] = p.area_proxy_mm2;
  r.status = "ok";
  if (s.job == "run") {
    const auto t0 = std::chrono::steady_clock::now();
    const std::string rep_path = point_dir(out_dir, primary.id) + "/report.json";
    try {
      const json e = reapply_energy(read_json(rep_path), rep_path, p.chip["tech"]["energy_table"].get<std::string>(), p.chip);
      r.metrics["energy_pJ"] = e["energy_pJ"];
      r.metrics["energy_per_sop_pJ"] = e["energy_per_sop_pJ"];
      const std::string d = point_dir(out_dir, p.id);
      fs::create_directories(d);
      write_file_atomic(d + "/energy.json", json_text(e, 2) + "\n");
    } catch (const WriteError& err) {
      r.status = "failed";
      r.metrics = nullptr;
      r.error = fmt::format("{}: {}", kNotWritten, err.what());
    } catch (const Error& err) {
      r.status = "failed";
      r.metrics = nullptr;
      r.error = std::string("re-applying the energy table: ") + err.what();
    }
    r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  return r;
}

// ---- scheduling ------------------------------------------------------------------------------

bool rerun_on_resume(const PointResult& r) {
  return r.status != "ok" && (r.error.rfind(kInterrupted, 0) == 0 || r.error.rfind(kNotWritten, 0) == 0);
}

SweepDriver::SweepDriver(const SweepSpec& s, SweepStore& store, std::string out_dir, bool retry_failed)
    : spec_(s), store_(store), out_(std::move(out_dir)) {
  std::map<int, PointResult> have = store.load();
  // Recorded and not to be run again: ok, or failed for a reason a re-run would repeat. An
  // interrupted point, or one whose outputs the disk refused, is always retried; a point that
  // shares a simulation is redone with it.
  auto final_one = [&](int id) {
    auto it = have.find(id);
    return it != have.end() && (it->second.status == "ok" || (!retry_failed && !rerun_on_resume(it->second)));
  };
  auto final_ = [&](int id) {
    const int sim = s.points[size_t(id)].sim_point;
    return final_one(id) && (sim == id || final_one(sim));
  };
  for (const SweepPoint& p : s.points) {
    if (final_(p.id)) {
      ++skipped_;
      have[p.id].status == "ok" ? ++done_ : ++failed_;
      continue;
    }
    ++remaining_;
    if (p.sim_point == p.id) {
      queue_.push_back(p.id);
    } else if (auto prim = have.find(p.sim_point); prim != have.end() && final_(p.sim_point)) {
      record(derive_point(s, p, prim->second, out_));  // its simulation ran in an earlier sweep
    } else {
      derived_[p.sim_point].push_back(p.id);
    }
  }
}

std::optional<int> SweepDriver::next() {
  if (next_ >= queue_.size()) return std::nullopt;
  return queue_[next_++];
}

void SweepDriver::record(const PointResult& r) {
  store_.record(r, spec_.points.at(size_t(r.id)).key);
  --remaining_;
  r.status == "ok" ? ++done_ : ++failed_;
}

void SweepDriver::complete(const PointResult& r) {
  record(r);
  auto it = derived_.find(r.id);
  if (it == derived_.end()) return;
  for (int d : it->second) record(derive_point(spec_, spec_.points[size_t(d)], r, out_));
  derived_.erase(it);
}

// ---- outputs ---------------------------------------------------------------------------------

std::string render_results_csv(const SweepSpec& s, const std::map<int, PointResult>& results) {
  std::vector<std::string> header = {"point", "status"};
  header.insert(header.end(), s.parameters.begin(), s.parameters.end());
  const auto& metrics = job_metrics(s.job);
  header.insert(header.end(), metrics.begin(), metrics.end());
  header.insert(header.end(), {"sim_point", "error", "wall_s"});  // timing last
  report::CsvWriter w(header);
  for (const SweepPoint& p : s.points) {
    std::vector<std::string> row = {std::to_string(p.id)};
    auto it = results.find(p.id);
    row.push_back(it == results.end() ? "pending" : it->second.status);
    for (const auto& k : s.parameters) row.push_back(report::json_cell(p.params[k]));
    for (const auto& m : metrics)
      row.push_back(it == results.end() ? "" : report::json_cell(pick(it->second.metrics, m.c_str())));
    row.push_back(it == results.end() ? "" : std::to_string(it->second.sim_point));
    row.push_back(it == results.end() ? "" : it->second.error);
    row.push_back(it == results.end() ? "" : report::format_number(it->second.wall_s));
    w.row(row);
  }
  return w.text();
}

int write_sweep_outputs(const SweepSpec& s, const SweepStore& store, const std::string& out_dir,
                        const std::string& command) {
  const auto results = store.load();
  json points = json::array();
  int missing = 0;
  for (const SweepPoint& p : s.points) {
    auto it = results.find(p.id);
    if (it == results.end()) {
      ++missing;
      continue;
    }
    const PointResult& r = it->second;
    json params = json::object();
    for (const auto& k : s.parameters) params[k] = p.params[k];
    points.push_back({{"id", p.id}, {"params", params}, {"status", r.status},
                      {"error", r.error.empty() ? json(nullptr) : json(r.error)}, {"metrics", r.metrics}});
    if (rerun_on_resume(r)) ++missing;  // interrupted, or its outputs refused: not a result yet
  }
  json sweep = {{"schema", "spikechip.sweep/1"}, {"name", s.name}, {"command", command},
                {"status", missing ? "partial" : "complete"}, {"parameters", s.parameters},
                {"metrics", plot_metrics(s.job)}, {"points", points}};
  fs::create_directories(out_dir);
  write_file_atomic((fs::path(out_dir) / "results.csv").string(), render_results_csv(s, results));
  write_file_atomic((fs::path(out_dir) / "sweep.json").string(), json_text(sweep, 1) + "\n");
  report::write_sweep_html(sweep, (fs::path(out_dir) / "sweep.html").string());
  return missing;
}

}  // namespace spikechip::explore
