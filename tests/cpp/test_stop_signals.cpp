// Stop signals through the real binary (apps/stop_signals.hpp, session 35): `run` stopped with
// SIGTERM (kill, timeout, a Slurm time limit) writes a partial report naming the signal and exits 3
// as with Ctrl-C (it used to die without a report, although docs/exploration.md said otherwise); a
// SIGINT ignored by whoever started the run (a background job) stays ignored; a sweep stopped with
// Ctrl-C stops its running point, writes the results so far as a partial sweep and exits 3 (it used
// to die without sweep.json), and the same command finishes it.
// No sleeps decide anything: a signal is sent once /proc/PID/status shows the handler installed.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "tiny_graph.hpp"

namespace spikechip {
namespace {

using nlohmann::json;
using testing::fresh_dir;
using testing::kChip;
using testing::kModel;
using testing::q;
using testing::slurp;
using testing::spit;

// The hex mask of a /proc/PID/status line ("SigCgt", "SigIgn"); 0 when the process is gone.
unsigned long long signal_mask(pid_t pid, const std::string& field) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(field + ":", 0) == 0) return std::stoull(line.substr(field.size() + 1), nullptr, 16);
  return 0;
}
bool has(unsigned long long mask, int sig) { return (mask >> (sig - 1)) & 1; }

// Waits (up to 60 s) until `pid` catches `sig`: for `run` that is once the chip starts.
bool wait_until_caught(pid_t pid, int sig) {
  for (int i = 0; i < 12000; ++i) {
    if (has(signal_mask(pid, "SigCgt"), sig)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

// fork + exec of the binary with `args`, stdout and stderr to files in `d`; `ignore_sigint` starts
// it as a shell starts a background job.
pid_t start(const std::vector<std::string>& args, const std::string& d, bool ignore_sigint = false) {
  const std::string bin = testing::spikechip_binary();
  std::vector<char*> argv{const_cast<char*>(bin.c_str())};
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const std::string out = d + "/stdout", err = d + "/stderr";
  const pid_t pid = fork();
  if (pid == 0) {
    const int fo = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), fe = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fo, 1), dup2(fe, 2);
    // As a terminal's foreground command starts (ctest itself may run as a background job, whose
    // SIGINT is ignored and inherited), or as a background job.
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) std::signal(sig, SIG_DFL);
    if (ignore_sigint) std::signal(SIGINT, SIG_IGN);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

int exit_code(pid_t pid) {
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

TEST(StopSignals, RunStoppedBySigtermWritesAPartialReport) {
  const std::string d = fresh_dir("term");
  const pid_t pid = start({"run", "--model", kModel, "--chip", kChip, "--input", testing::write_1024_inputs(d), "-o", d + "/out"}, d);
  ASSERT_TRUE(wait_until_caught(pid, SIGTERM)) << slurp(d + "/stderr");
  kill(pid, SIGTERM);
  ASSERT_EQ(exit_code(pid), 3) << slurp(d + "/stderr");
  const std::string err = slurp(d + "/stderr"), out = slurp(d + "/stdout");
  EXPECT_NE(err.find("spikechip: SIGTERM received: stopping the chip and writing a partial report; send it again to quit at once"),
            std::string::npos)
      << err;
  EXPECT_NE(out.find("status: partial (interrupted (SIGTERM))"), std::string::npos) << out;
  const json r = json::parse(slurp(d + "/out/report.json"));
  EXPECT_EQ(r["status"], "partial");
  EXPECT_EQ(r["partial_reason"], "interrupted (SIGTERM)");
  EXPECT_LT(r["run"]["inputs"].get<int>(), 1024) << r["run"].dump();
}

TEST(StopSignals, SigintIgnoredByWhoStartedTheRunStaysIgnored) {
  const std::string d = fresh_dir("ign");
  const pid_t pid =
      start({"run", "--model", kModel, "--chip", kChip, "--input", testing::write_1024_inputs(d), "-o", d + "/out", "-q"}, d, true);
  ASSERT_TRUE(wait_until_caught(pid, SIGTERM)) << slurp(d + "/stderr");  // the handlers are in place
  EXPECT_FALSE(has(signal_mask(pid, "SigCgt"), SIGINT));
  EXPECT_TRUE(has(signal_mask(pid, "SigIgn"), SIGINT));
  kill(pid, SIGINT);
  ASSERT_EQ(exit_code(pid), 0) << slurp(d + "/stderr");
  const json r = json::parse(slurp(d + "/out/report.json"));
  EXPECT_EQ(r["status"], "complete");
  EXPECT_EQ(r["run"]["verified"], true);
}

TEST(StopSignals, SweepStoppedByCtrlCWritesTheResultsSoFar) {
  const std::string d = fresh_dir("sweep");
  spit(d + "/sweep.json", json{{"job", "run"}, {"model", kModel}, {"chip", kChip}, {"inputs", testing::write_1024_inputs(d)},
                               {"list", json::array({{{"core.adder_lanes", 16}}, {{"core.adder_lanes", 8}}})}}
                              .dump());
  const std::string out = d + "/out";
  const pid_t sweep = start({"sweep", d + "/sweep.json", "-o", out}, d);
  // The first point, once it is `spikechip run` simulating (its handlers installed).
  const pid_t point = testing::wait_for_run_point(sweep);
  ASSERT_GT(point, 0) << "the sweep started no point";
  ASSERT_TRUE(wait_until_caught(point, SIGTERM));
  // Its own process group: a terminal's Ctrl-C (to the sweep's group) does not reach it.
  EXPECT_EQ(getpgid(point), point);
  ASSERT_TRUE(has(signal_mask(sweep, "SigCgt"), SIGINT));
  kill(sweep, SIGINT);
  ASSERT_EQ(exit_code(sweep), 3) << slurp(d + "/stderr");
  const std::string o = slurp(d + "/stdout"), e = slurp(d + "/stderr");
  EXPECT_NE(o.find("sweep stopped early (interrupted (SIGINT)): the same command runs the points not finished"),
            std::string::npos)
      << o;
  EXPECT_NE(e.find("SIGINT received: stopping the running points and writing the results so far"), std::string::npos) << e;
  EXPECT_EQ(e.find("error"), std::string::npos) << e;
  json sw = json::parse(slurp(out + "/sweep.json"));
  EXPECT_EQ(sw["status"], "partial") << sw.dump();
  ASSERT_EQ(sw["points"].size(), 1u);  // the second point never started
  EXPECT_EQ(sw["points"][0]["status"], "failed") << sw.dump();
  EXPECT_EQ(sw["points"][0]["error"].get<std::string>().rfind(
                "interrupted: the point's run stopped early (interrupted (SIGTERM), partial report)", 0),
            0u)
      << sw.dump();
  // The same command finishes it: the interrupted point and the one never started.
  const testing::CmdResult again = testing::run_spikechip("sweep " + q(d + "/sweep.json") + " -o " + q(out));
  ASSERT_EQ(again.code, 0) << again.err;
  sw = json::parse(slurp(out + "/sweep.json"));
  EXPECT_EQ(sw["status"], "complete");
  for (const auto& p : sw["points"]) EXPECT_EQ(p["status"], "ok") << sw.dump();
}

// A Slurm array task (`sweep --point N`) stopped by SIGTERM (a time limit, scancel): it used to die
// without result.json, its point killed with it; now the point is stopped and recorded as
// interrupted (the collect step leaves it to be run again) and the task exits 3.
TEST(StopSignals, SlurmTaskStoppedRecordsItsPointInterrupted) {
  const std::string d = fresh_dir("task");
  spit(d + "/sweep.json", json{{"job", "run"}, {"model", kModel}, {"chip", kChip}, {"inputs", testing::write_1024_inputs(d)},
                               {"list", json::array({{{"core.adder_lanes", 16}}})}}
                              .dump());
  const std::string out = d + "/out";
  const pid_t task = start({"sweep", d + "/sweep.json", "--point", "0", "-o", out}, d);
  const pid_t point = testing::wait_for_run_point(task);
  ASSERT_GT(point, 0) << "the task started no point";
  ASSERT_TRUE(wait_until_caught(point, SIGTERM));
  kill(task, SIGTERM);
  ASSERT_EQ(exit_code(task), 3) << slurp(d + "/stderr");
  const json r = json::parse(slurp(out + "/points/0000/result.json"));
  EXPECT_EQ(r["status"], "failed") << r.dump();
  EXPECT_EQ(r["error"].get<std::string>().rfind(
                "interrupted: the point's run stopped early (interrupted (SIGTERM), partial report)", 0),
            0u)
      << r.dump();
  EXPECT_NE(slurp(d + "/stdout").find("point 0: failed (interrupted"), std::string::npos) << slurp(d + "/stdout");
}

}  // namespace
}  // namespace spikechip
