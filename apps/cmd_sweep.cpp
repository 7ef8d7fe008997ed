// `spikechip sweep FILE -j N -o DIR [--backend local|mpi|slurm] [--retry-failed]` and the Slurm
// pieces `--point I` / `--collect` (docs/exploration.md).
#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "apps/cli.hpp"
#include "apps/stop_signals.hpp"
#include "apps/sweep_backends.hpp"
#include "base/error.hpp"
#include "base/file_util.hpp"
#include "base/json_text.hpp"
#include "base/strict_json.hpp"

namespace spikechip::cli {
namespace fs = std::filesystem;
using nlohmann::json;

void print_progress(const explore::SweepDriver& d, int running, double elapsed, int done_at_start, bool final) {
  if (quiet()) return;
  const int finished = d.done() + d.failed();
  const int this_run = finished - done_at_start;
  std::string eta = "?";
  if (this_run > 0) {
    const int left = int(elapsed / this_run * (d.total() - finished) + 0.5);
    eta = fmt::format("{}:{:02d}", left / 60, left % 60);
  }
  std::cerr << fmt::format("\rsweep: {}/{} done, {} failed, {} running, ETA {}   ", finished, d.total(), d.failed(),
                           running, eta)
            << (final ? "\n" : "") << std::flush;
}

int finish_sweep(const SweepRun& r, explore::SweepStore& store, const explore::SweepDriver& d) {
  const int missing = explore::write_sweep_outputs(*r.spec, store, r.out_dir, r.command);
  std::cout << fmt::format("sweep '{}': {} points, {} ok, {} failed{}; {} of them from earlier runs\n"
                           "results: {}/results.csv, {}/sweep.html\n",
                           r.spec->name, d.total(), d.done(), d.failed(),
                           missing ? fmt::format(", {} not finished (the same command runs them)", missing) : "", d.skipped(), r.out_dir, r.out_dir);
  return missing ? 1 : 0;
}

namespace {

struct SweepArgs {
  std::string file, out, backend = "local";
  int jobs = 1;
  int point = -1;
  bool collect = false, retry_failed = false, dry_run = false;
  std::vector<std::string> argv;
};


int run_local(const SweepRun& r, int jobs) {
  explore::SweepStore store(r.out_dir, *r.spec);
  explore::SweepDriver d(*r.spec, store, r.out_dir, r.retry_failed);
  const std::string bin = explore::self_binary();
  struct Running {
    int id;
    std::chrono::steady_clock::time_point t0;
    bool killed = false;
  };
  std::map<pid_t, Running> running;
  const auto t_start = std::chrono::steady_clock::now();
  const int done_at_start = d.done() + d.failed();
  auto elapsed = [&](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  };
  // SIGCHLD stays blocked and is taken with sigtimedwait: the loop wakes as soon as a point ends
  // (a fixed polling sleep would dominate short points) and still checks timeouts periodically.
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, nullptr);
  // Ctrl-C / SIGTERM: no new point starts, the running ones are told to stop (SIGTERM: a run
  // writes its partial report, recorded as interrupted and run again on resume), and the results
  // so far are written as a partial sweep. The points are in their own process group
  // (spawn_point), so a terminal's Ctrl-C reaches only the sweep, which passes it on once.
  catch_stop_signals("stopping the running points and writing the results so far");
  bool told = false;
  for (;;) {
    if (stop_requested() && !told) {
      for (auto& [p, run] : running) kill(p, SIGTERM);
      told = true;
    }
    while (!stop_requested() && int(running.size()) < jobs) {
      auto id = d.next();
      if (!id) break;
      const auto& p = r.spec->points[size_t(*id)];
      running[explore::spawn_point(*r.spec, p, r.out_dir, bin)] = {*id, std::chrono::steady_clock::now()};
    }
    if (running.empty()) break;
    int st = 0;
    const pid_t pid = waitpid(-1, &st, WNOHANG);
    if (pid > 0 && running.count(pid)) {
      const Running run = running[pid];
      running.erase(pid);
      d.complete(explore::finish_point(*r.spec, r.spec->points[size_t(run.id)], r.out_dir, st, run.killed,
                                       elapsed(run.t0)));
    } else {
      for (auto& [p, run] : running)
        if (!run.killed && elapsed(run.t0) > r.spec->timeout_s) {
          kill(p, SIGKILL);
          run.killed = true;
        }
      const timespec tick{0, 100'000'000};
      sigtimedwait(&chld, nullptr, &tick);
    }
    print_progress(d, int(running.size()), elapsed(t_start), done_at_start, false);
  }
  print_progress(d, 0, elapsed(t_start), done_at_start, true);
  const int code = finish_sweep(r, store, d);
  if (!stop_requested()) return code;
  std::cout << fmt::format("sweep stopped early ({}): the same command runs the points not finished\n", stop_reason());
  return kRunPartialExit;
}

// Slurm task: runs one point, writes <point>/result.json (the collect step records it).
int run_one_point(const SweepRun& r, int id) {
  if (id < 0 || size_t(id) >= r.spec->points.size())
    throw UsageError(fmt::format("--point {}: the sweep has points 0..{}", id, r.spec->points.size() - 1));
  const auto& p = r.spec->points[size_t(id)];
  // A Slurm time limit or scancel (SIGTERM): the point is stopped and recorded as interrupted, so
  // that the collect step runs it again; the task exits 3.
  catch_stop_signals("stopping the point and recording it as interrupted");
  explore::PointResult res =
      explore::run_point_blocking(*r.spec, p, r.out_dir, explore::self_binary(), &stop_requested());
  json j = res.to_json();
  j["key"] = p.key;
  const std::string path = explore::point_dir(r.out_dir, id) + "/result.json";
  write_file_atomic(path, json_text(j, 1) + "\n");
  std::cout << fmt::format("point {}: {}{}\n", id, res.status, res.error.empty() ? "" : " (" + res.error + ")");
  return stop_requested() ? kRunPartialExit : 0;
}

int collect(const SweepRun& r) {
  explore::SweepStore store(r.out_dir, *r.spec);
  explore::SweepDriver d(*r.spec, store, r.out_dir, r.retry_failed);
  for (int id : d.to_run()) {
    const std::string path = explore::point_dir(r.out_dir, id) + "/result.json";
    if (std::error_code ec; !fs::exists(path, ec)) continue;
    json j = read_json_file(path, "point result");
    // A result left by an earlier version of the point (edited sweep file) is not this point's.
    if (!j.is_object() || !j.contains("key") || j["key"] != r.spec->points[size_t(id)].key) continue;
    j.erase("key");
    explore::PointResult res = explore::PointResult::from_json(j, path);
    if (res.id != id) throw Error(path + ": /id: " + std::to_string(res.id) + " is not point " + std::to_string(id));
    d.complete(res);
  }
  return finish_sweep(r, store, d);
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string capture(const std::string& cmd) {
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) throw Error("cannot run: " + cmd);
  std::string out;
  char buf[256];
  while (fgets(buf, sizeof buf, f)) out += buf;
  const int st = pclose(f);
  if (st != 0) throw Error(fmt::format("'{}' failed (status {}): {}", cmd, st, out));
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// Submits a job array of the points still to run and a collect job that depends on it.
int submit_slurm(const SweepRun& r, int jobs) {
  std::vector<int> ids;
  {
    explore::SweepStore store(r.out_dir, *r.spec);
    explore::SweepDriver d(*r.spec, store, r.out_dir, r.retry_failed);
    ids = d.to_run();
  }
  const std::string bin = explore::self_binary(), file = fs::absolute(r.spec->path).string(),
                    out = fs::absolute(r.out_dir).string(), sdir = out + "/slurm";
  fs::create_directories(sdir);
  const std::string collect_cmd = fmt::format("{} sweep {} --collect -o {}", shell_quote(bin), shell_quote(file),
                                              shell_quote(out));
  std::string dep;
  if (!ids.empty()) {
    std::string list;
    for (int id : ids) list += (list.empty() ? "" : ",") + std::to_string(id);
    const std::string script = sdir + "/array.sh";
    write_file_atomic(script, "#!/bin/sh\n# spikechip sweep: one Slurm array task per design point (docs/exploration.md)\n" +
                                  fmt::format("exec {} sweep {} --point \"$SLURM_ARRAY_TASK_ID\" -o {}\n",
                                              shell_quote(bin), shell_quote(file), shell_quote(out)));
    const std::string job = capture(fmt::format(
        "sbatch --parsable --job-name=spikechip-sweep --array={}{} --output={} {}", list,
        jobs > 0 ? "%" + std::to_string(jobs) : "", shell_quote(sdir + "/point-%a.out"), shell_quote(script)));
    std::cout << fmt::format("submitted Slurm array job {} ({} points)\n", job, ids.size());
    dep = "--dependency=afterany:" + job.substr(0, job.find(';')) + " ";
  }
  const std::string cjob = capture(fmt::format("sbatch --parsable --job-name=spikechip-sweep-collect {}--output={} "
                                               "--wrap {}",
                                               dep, shell_quote(sdir + "/collect.out"), shell_quote(collect_cmd)));
  std::cout << fmt::format("submitted collect job {}; results will be in {}/results.csv\n", cjob, out);
  return 0;
}

// --dry-run: every point with its parameters and the command it would run; nothing is run or
// written (the file is still fully validated, every point's chip config included).
void print_dry_run(const explore::SweepSpec& spec, const std::string& out) {
  int sims = 0;
  for (const auto& p : spec.points) sims += p.sim_point == p.id ? 1 : 0;
  std::cout << fmt::format("sweep '{}': job {}, {} point(s), {} simulation(s){}; parameters: {}\n", spec.name, spec.job,
                           spec.points.size(), sims,
                           sims < int(spec.points.size()) ? " (points differing only in tech.* share one)" : "",
                           spec.parameters.empty() ? "none" : fmt::format("{}", fmt::join(spec.parameters, ", ")));
  const std::string dir = out.empty() ? "DIR" : out;
  for (const auto& p : spec.points) {
    std::cout << fmt::format("point {}: {}", p.id, json_text(p.params));
    if (p.sim_point != p.id) std::cout << fmt::format(" (shares the simulation of point {})\n", p.sim_point);
    else {
      std::string cmd;
      for (const auto& a : explore::point_command(spec, p, dir, "spikechip")) cmd += " " + shell_quote(a);
      std::cout << "\n " << cmd << "\n";
    }
  }
}

void run_sweep_cmd(const SweepArgs& a) {
  if (a.jobs < 1) throw UsageError("-j must be at least 1");
  if (a.collect && a.point >= 0) throw UsageError("--point and --collect are separate steps; give one");
  const explore::SweepSpec spec = explore::load_sweep(a.file);
  if (a.dry_run) return print_dry_run(spec, a.out);
  if (a.out.empty()) throw UsageError("-o DIR is required (except with --dry-run)");
  check_output_dir(a.out);  // a file there (or /dev/null) is the user's to fix: exit 1, before the store
  SweepRun r{&spec, a.out, "", a.retry_failed};
  for (const auto& s : a.argv) r.command += (r.command.empty() ? "" : " ") + s;
  int rc = 0;
  if (a.point >= 0) rc = run_one_point(r, a.point);
  else if (a.collect) rc = collect(r);
  else if (a.backend == "local") rc = run_local(r, a.jobs);
  else if (a.backend == "slurm") rc = submit_slurm(r, a.jobs);
  else {
    int argc = 0;
    char** argv = nullptr;
    rc = run_sweep_mpi(r, &argc, &argv);
  }
  if (rc == kRunPartialExit) {  // stopped by a signal: run_local has said so
    set_exit_code(kRunPartialExit);
    return;
  }
  if (rc != 0) throw Error(fmt::format("sweep '{}' is not complete; run the same command again to finish it", spec.name));
}

RegisterCommand reg(60, [](CLI::App& app) {
  auto a = std::make_shared<SweepArgs>();
  CLI::App* c = app.add_subcommand("sweep", "Architecture exploration: run a sweep file's design points "
                                            "(docs/exploration.md)");
  c->add_option("file", a->file, "sweep file (JSON)")->required();
  c->add_option("-o,--output", a->out, "results directory (store, results.csv, sweep.html, points/); required except with --dry-run");
  c->add_option("-j,--jobs", a->jobs, "points run at once (local), or the Slurm array throttle");
  c->add_option("--backend", a->backend, "local | mpi (under mpirun) | slurm (sbatch job array)")
      ->check(CLI::IsMember({"local", "mpi", "slurm"}));
  c->add_flag("--retry-failed", a->retry_failed, "run again the points recorded as failed");
  c->add_option("--point", a->point, "run only point I and write its result.json (a Slurm array task)");
  c->add_flag("--collect", a->collect, "merge the points' result.json files into the store and write the results");
  c->add_flag("--dry-run", a->dry_run, "validate the file and list its points and their commands; run nothing");
  c->callback([a, &app] {
    a->argv = {"spikechip", "sweep", a->file, "-o", a->out};
    (void)app;
    run_sweep_cmd(*a);
  });
});

}  // namespace
}  // namespace spikechip::cli
