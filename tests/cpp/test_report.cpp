// Report outputs: CSV quoting and numbers, byte-for-byte determinism, the partial banner,
// atomic writes, and that data embedded in the HTML cannot break out of its <script> block.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <map>
#include <set>
#include <fstream>
#include <sstream>
#include <sys/file.h>
#include <sys/resource.h>
#include <thread>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "report/compare.hpp"
#include "report/csv.hpp"
#include "report/report_writer.hpp"
#include "base/error.hpp"
#include "spikechip/source_dir.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace spikechip::report;

namespace {

// A tiny run report by hand: 2 layers on a 2x1 mesh, one input; enough to pin the CSV columns.
json tiny_report(const std::string& status = "complete") {
  return json{
      {"schema", "spikechip.run-report/1"},
      {"status", status},
      {"chip", {{"name", "t2"}, {"clock_hz", 2e8}, {"mesh", {2, 1}}, {"chips", {1, 1}}}},
      {"model", {{"name", "m, \"quoted\""}}},
      {"run", {{"timesteps", 2}, {"inputs", 1}, {"verified", true}}},
      {"summary", {{"latency_cycles", 100}, {"latency_s", 5e-7}, {"energy_pJ", 3.5}, {"sops", 7}}},
      {"inputs", {{{"index", 0}, {"origin", "img.png"}, {"label", 3}, {"prediction", 3}, {"latency_cycles", 100},
                   {"timestep_end_cycles", {40, 100}}, {"energy_pJ", 3.5}}}},
      {"energy_by_component_pJ", {{"static", 0.5}, {"adders", 3.0}}},
      {"layers", {{{"name", "conv,1"}, {"op", "Conv2d"}, {"shape", {4, 2, 2}}, {"cores", 1}, {"spikes", 0},
                   {"firing_rate", 0.0}, {"sops", 7}, {"macs", 0}, {"sdsa_ops", 0}, {"energy_pJ", 0.1},
                   {"paper_energy_pJ", 6.3}, {"start_cycles", 0}, {"end_cycles", 60}, {"busy_cycles", 55}},
                  {{"name", "lif"}, {"op", "LIF"}, {"shape", {4, 2, 2}}, {"cores", 1}, {"spikes", 5},
                   {"firing_rate", 0.3125}, {"sops", 0}, {"macs", 0}, {"sdsa_ops", 0}, {"energy_pJ", 1e-7},
                   {"paper_energy_pJ", 0}, {"start_cycles", 20}, {"end_cycles", 100}, {"busy_cycles", 30}}}},
      {"cores", {{{"id", 0}, {"x", 0}, {"y", 0}, {"chip", 0}, {"nodes", {"conv,1", "lif"}}, {"busy_cycles", 85},
                  {"stall_cycles", {{"waiting_input", 5}, {"bank_conflict", 1}, {"waiting_eot", 2}, {"waiting_dram", 0},
                                    {"credit", 9}}},
                  {"idle_cycles", 207}, {"utilisation", 0.85}, {"sops", 7}}}},
      {"links", {{{"from", {0, 0}}, {"to", {1, 0}}, {"dir", "E"}, {"chip_link", false}, {"flits", 12},
                  {"utilisation", 0.12}}}},
  };
}

std::string read(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

fs::path fresh_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("spikechip_test_report_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(d);
  return d;
}

}  // namespace

TEST(Csv, QuotesOnlyWhenNeeded) {
  EXPECT_EQ(csv_quote("plain"), "plain");
  EXPECT_EQ(csv_quote("a,b"), "\"a,b\"");
  EXPECT_EQ(csv_quote("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_quote("two\nlines"), "\"two\nlines\"");
  CsvWriter w({"a", "b"});
  w.row({"1", "x,y"});
  EXPECT_EQ(w.text(), "a,b\n1,\"x,y\"\n");
  EXPECT_THROW(w.row({"only one"}), std::logic_error);
}

TEST(Csv, NumbersRoundTripAndAreStable) {
  EXPECT_EQ(format_number(0.1), "0.1");
  EXPECT_EQ(format_number(3.0), "3");
  EXPECT_EQ(format_number(-0.0), "0");
  EXPECT_EQ(format_number(1e-7), "1e-07");
  EXPECT_EQ(format_number(std::numeric_limits<double>::quiet_NaN()), "");
  for (double v : {0.1, 1.0 / 3.0, 6.02214076e23, 5e-324, 123456789.123})
    EXPECT_EQ(std::strtod(format_number(v).c_str(), nullptr), v) << format_number(v);  // stod rejects denormals
  EXPECT_EQ(json_cell(json(9007199254740993LL)), "9007199254740993");  // no double detour for integers
  EXPECT_EQ(json_cell(json::array({"a", 2, true})), "a;2;true");
}

TEST(RunOutputs, CsvContents) {
  auto files = render_run_outputs(tiny_report());
  EXPECT_EQ(files["layers.csv"],
            "index,name,op,shape_C,shape_H,shape_W,cores,spikes,firing_rate,sops,macs,sdsa_ops,energy_pJ,"
            "paper_energy_pJ,start_cycles,end_cycles,busy_cycles\n"
            "0,\"conv,1\",Conv2d,4,2,2,1,0,0,7,0,0,0.1,6.3,0,60,55\n"
            "1,lif,LIF,4,2,2,1,5,0.3125,0,0,0,1e-07,0,20,100,30\n");
  // The unknown stall cause "credit" becomes a column after the five known ones (this report has no
  // waiting_phase: an empty cell).
  EXPECT_EQ(files["cores.csv"],
            "id,x,y,chip,nodes,busy_cycles,stall_waiting_input_cycles,stall_bank_conflict_cycles,"
            "stall_waiting_eot_cycles,stall_waiting_dram_cycles,stall_waiting_phase_cycles,stall_credit_cycles,idle_cycles,utilisation,sops,"
            "weight_sram_reads,membrane_sram_reads,membrane_sram_writes,membrane_sram_used_bytes,weight_sram_used_bytes\n"
            "0,0,0,0,\"conv,1;lif\",85,5,1,2,0,,9,207,0.85,7,,,,,\n"
            // Every core of the 2x1 mesh: the unused core 1 is idle all run (core 0's 85 + 17 + 207
            // cycles), zeros elsewhere, no nodes.
            "1,1,0,0,,0,0,0,0,0,0,0,309,0,0,0,0,0,0,0\n");
  EXPECT_EQ(files["links.csv"], "from_x,from_y,to_x,to_y,dir,chip_link,flits,utilisation\n0,0,1,0,E,false,12,0.12\n");
  EXPECT_EQ(files["inputs.csv"],
            "index,origin,label,prediction,correct,latency_cycles,latency_s,energy_pJ,t0_end_cycles,t1_end_cycles\n"
            "0,img.png,3,3,true,100,5e-07,3.5,40,100\n");
  // Schema order, not alphabetical; fractions of the total.
  EXPECT_EQ(files["energy.csv"], "component,energy_pJ,fraction\nadders,3,0.8571428571428571\nstatic,0.5,0.14285714285714285\n");
}

TEST(RunOutputs, MissingSectionsGiveHeaderOnlyAndWrongTypesAreErrors) {
  json r = {{"status", "partial"}};
  auto files = render_run_outputs(r);
  EXPECT_EQ(files["links.csv"], "from_x,from_y,to_x,to_y,dir,chip_link,flits,utilisation\n");
  r["layers"] = "oops";
  try {
    render_run_outputs(r);
    FAIL() << "expected spikechip::Error";
  } catch (const spikechip::Error& e) {
    EXPECT_NE(std::string(e.what()).find("/layers"), std::string::npos) << e.what();
  }
}

TEST(RunOutputs, TwoWritesGiveIdenticalBytes) {
  fs::path a = fresh_dir("det_a"), b = fresh_dir("det_b");
  write_run_outputs(tiny_report(), a.string());
  write_run_outputs(tiny_report(), b.string());
  int n = 0;
  for (auto& e : fs::directory_iterator(a)) {
    ++n;
    EXPECT_EQ(read(e.path()), read(b / e.path().filename())) << e.path().filename();
  }
  EXPECT_EQ(n, 10);  // report.json, report.html, 6 CSVs + timesteps.csv, stats.txt; no temporaries left
  EXPECT_EQ(json::parse(read(a / "report.json")), tiny_report());
  fs::remove_all(a);
  fs::remove_all(b);
}

TEST(RunOutputs, PartialBanner) {
  json r = tiny_report("partial");
  r["partial_reason"] = "interrupted <Ctrl-C>";
  const std::string html = render_run_html(r);
  EXPECT_NE(html.find("PARTIAL RESULTS"), std::string::npos);
  EXPECT_NE(html.find("interrupted &lt;Ctrl-C&gt;"), std::string::npos);  // escaped in HTML text
  EXPECT_EQ(render_run_html(tiny_report()).find("PARTIAL RESULTS"), std::string::npos);
  fs::path d = fresh_dir("partial");
  write_run_outputs(r, d.string());
  EXPECT_EQ(json::parse(read(d / "report.json"))["status"], "partial");
  fs::remove_all(d);
}

TEST(RunOutputs, UnwritableDirectoryIsAClearErrorAndLeavesNoReportJson) {
  fs::path d = fresh_dir("ro");
  fs::create_directories(d);
  write_run_outputs(tiny_report(), d.string());  // a stale complete report from an earlier run
  ASSERT_TRUE(fs::exists(d / "report.json"));
  fs::permissions(d, fs::perms::owner_read | fs::perms::owner_exec);
  if (::access(d.c_str(), W_OK) == 0) {  // root ignores permissions: make the target a file instead
    fs::permissions(d, fs::perms::owner_all);
    fs::remove_all(d);
    std::ofstream(d) << "not a directory";
  }
  try {
    write_run_outputs(tiny_report(), (d / "sub").string());
    FAIL() << "expected spikechip::Error";
  } catch (const spikechip::Error& e) {
    EXPECT_NE(std::string(e.what()).find(d.string()), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(d / "sub" / "report.json"));
  fs::permissions(d, fs::perms::owner_all);
  fs::remove_all(d);
}

TEST(RunOutputs, FailedWriteRemovesStaleReportJsonAndPartialFiles) {
  fs::path d = fresh_dir("stale");
  write_run_outputs(tiny_report(), d.string());
  // report.html as a directory makes its rename fail after the CSVs are already in place.
  fs::remove(d / "report.html");
  fs::create_directories(d / "report.html" / "blocker");
  EXPECT_THROW(write_run_outputs(tiny_report(), d.string()), spikechip::Error);
  EXPECT_FALSE(fs::exists(d / "report.json"));
  for (auto& e : fs::directory_iterator(d))
    EXPECT_NE(e.path().filename().string().rfind(".", 0), 0u) << "temporary left: " << e.path();
  fs::remove_all(d);
}

// A disk that refuses a file half-way (full; here a file-size limit, which fails the write the same
// way, with EFBIG) while an earlier run's report is in the directory: that report stays as it was.
// Before session 34, its report.json was removed before the new files were written, so a full
// disk took an earlier complete run's report.json with it.
TEST(RunOutputs, AWriteTheDiskRefusesLeavesTheEarlierRunAsItWas) {
  fs::path d = fresh_dir("refused");
  json earlier = tiny_report();
  earlier["summary"]["latency_cycles"] = 99;  // not the report written next
  write_run_outputs(earlier, d.string());
  std::map<std::string, std::string> before;
  for (auto& e : fs::directory_iterator(d)) before[e.path().filename().string()] = read(e.path());
  const std::map<std::string, std::string> next = render_run_outputs(tiny_report());
  constexpr rlim_t kLimit = 64 * 1024;
  ASSERT_LT(next.at("layers.csv").size(), kLimit);
  ASSERT_GT(next.at("report.html").size(), kLimit);  // the page (with its chart library) is refused
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  auto* const was = std::signal(SIGXFSZ, SIG_IGN);  // a failed write, not a kill, as the CLI sets it
  rlimit lim = old;
  lim.rlim_cur = kLimit;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &lim), 0);
  std::string message;
  bool write_error = false;
  try {
    write_run_outputs(tiny_report(), d.string());
  } catch (const spikechip::WriteError& e) {
    write_error = true;
    message = e.what();
  } catch (const spikechip::Error& e) {
    message = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, was);
  EXPECT_TRUE(write_error) << message;
  EXPECT_NE(message.find((d / "report.html").string() + ": write failed (File too large)"), std::string::npos) << message;
  std::map<std::string, std::string> after;
  for (auto& e : fs::directory_iterator(d)) after[e.path().filename().string()] = read(e.path());
  EXPECT_EQ(after.size(), before.size());  // no temporaries left either
  for (const auto& [name, bytes] : before) EXPECT_TRUE(after[name] == bytes) << name << " changed";
  fs::remove_all(d);
}

TEST(Html, EmbeddedJsonCannotCloseTheScriptBlock) {
  json r = tiny_report();
  r["model"]["name"] = "</script><script>alert(1)</script><!-- & \u2028";
  const std::string html = render_run_html(r);
  const std::string data_open = "<script type=\"application/json\" id=\"report-data\">";
  auto start = html.find(data_open);
  ASSERT_NE(start, std::string::npos);
  start += data_open.size();
  auto end = html.find("</script>", start);
  ASSERT_NE(end, std::string::npos);
  const std::string block = html.substr(start, end - start);
  EXPECT_EQ(block.find('<'), std::string::npos);
  EXPECT_EQ(json::parse(block), r);  // and the data survives intact
  // The title is HTML-escaped, not raw.
  EXPECT_EQ(html.find("<title>spikechip run: </script>"), std::string::npos);
  EXPECT_EQ(script_safe_json(json("a</b>&")), "\"a\\u003c/b\\u003e\\u0026\"");
}

// The page's energy component order (report/assets/report.js) is the C++ one (energy.csv, compare).
TEST(Html, ComponentOrderIsTheCppOne) {
  std::ifstream f(std::string(SPIKECHIP_SOURCE_DIR) + "/report/assets/report.js");
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string js = ss.str(), key = "var COMPONENT_ORDER = ";
  const size_t a = js.find(key), b = js.find("];", a);
  ASSERT_NE(a, std::string::npos);
  ASSERT_NE(b, std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(js.substr(a + key.size(), b + 1 - a - key.size())).get<std::vector<std::string>>(),
            spikechip::report::energy_component_order());
}

TEST(Html, SweepPageValidatesInput) {
  EXPECT_THROW(render_sweep_html(json{{"points", 3}}), spikechip::Error);
  json s = {{"parameters", {"lanes"}}, {"metrics", {"energy_pJ"}},
            {"points", {{{"id", 0}, {"params", {{"lanes", 4}}}, {"status", "ok"}, {"metrics", {{"energy_pJ", 1.0}}}}}}};
  const std::string html = render_sweep_html(s);
  EXPECT_NE(html.find("data-kind=\"sweep\""), std::string::npos);
  EXPECT_NE(html.find("var Charts"), std::string::npos);  // the embedded library, not a link to it
  EXPECT_EQ(html.find("<script src"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
}

// stats.txt: one `name value # description (unit)` line per figure; timesteps.csv; the host.* lines
// (wall times) last.
// Two runs writing into one directory at once could interleave their renames and leave one run's
// CSVs beside the other's report.json (session 36). The replacement now holds an exclusive flock
// on the directory: while another holder has it, nothing of the new run is put in place.
TEST(RunOutputs, AWriterWaitsForTheDirectoryLock) {
  fs::path d = fresh_dir("locked");
  json earlier = tiny_report();
  earlier["summary"]["latency_cycles"] = 99;
  write_run_outputs(earlier, d.string());
  const std::string before = read(d / "report.json");
  const int fd = ::open(d.c_str(), O_RDONLY | O_DIRECTORY);  // another run, in the middle of its renames
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  std::atomic<bool> done{false};
  std::thread writer([&] {
    write_run_outputs(tiny_report(), d.string());
    done = true;
  });
  for (int i = 0; i < 50 && !done; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(done) << "the writer did not wait for the directory's lock";
  EXPECT_EQ(read(d / "report.json"), before);  // the earlier run, whole
  ::close(fd);                                  // the other run is done: the writer goes on
  writer.join();
  EXPECT_EQ(json::parse(read(d / "report.json"))["summary"], tiny_report()["summary"]);
}

TEST(RunOutputs, StatsTxtAndTimesteps) {
  json r = tiny_report();
  r["run"]["wall_s"] = 1.5;
  r["timesteps"] = {{{"timestep", 0}, {"end_cycles", 40}, {"cycles", 40}, {"spikes", 2}, {"sops", 3}, {"macs", 0}, {"sdsa_ops", 0},
                     {"packets", 5}, {"flits", 12}, {"energy_pJ", 1.5}},
                    {{"timestep", 1}, {"end_cycles", 100}, {"cycles", 60}, {"spikes", 3}, {"sops", 4}, {"macs", 0}, {"sdsa_ops", 0},
                     {"packets", 6}, {"flits", 14}, {"energy_pJ", 2}}};
  r["dram"]["models"] = "lpddr4-3200 x\n# y";  // a hand-edited string value stays one token
  auto files = render_run_outputs(r);
  EXPECT_EQ(files["timesteps.csv"], "timestep,end_cycles,cycles,spikes,sops,macs,sdsa_ops,packets,flits,energy_pJ\n"
                                    "0,40,40,2,3,0,0,5,12,1.5\n1,100,60,3,4,0,0,6,14,2\n");
  const std::string st = files["stats.txt"];
  EXPECT_NE(st.find("\nsummary.latency_cycles 100 # latency of one inference, input in to result at the host (cycles)\n"),
            std::string::npos) << st;
  EXPECT_NE(st.find("\nenergy.adders_pJ 3 # energy of component adders (pJ)\n"), std::string::npos);
  EXPECT_NE(st.find("\ntimestep.1.cycles 60 # cycles since the previous timestep ended (the last: until the result is at "
                    "the host) (cycles)\n"), std::string::npos) << st;
  EXPECT_NE(st.find("\ntimestep.0.packets 5 # network packets sent for this timestep\n"), std::string::npos) << st;
  EXPECT_NE(st.find("\ntimestep.1.energy_pJ 2 #"), std::string::npos) << st;
  EXPECT_NE(st.find("\nlayer.conv_1.busy_cycles 55 #"), std::string::npos);  // "conv,1" -> conv_1
  EXPECT_NE(st.find("\nrun.verified 1 #"), std::string::npos);
  EXPECT_NE(st.find("\ndram.models lpddr4-3200_x___y # off-chip memory: models\n"), std::string::npos) << st;
  // Every non-comment line is `name value # description`, names unique; host.* come last.
  std::istringstream in(st);
  std::string line, last;
  std::set<std::string> names;
  while (std::getline(in, line)) {
    if (line.rfind("#", 0) == 0) continue;
    const auto sp = line.find(' '), hash = line.find(" # ");
    ASSERT_NE(sp, std::string::npos) << line;
    ASSERT_NE(hash, std::string::npos) << line;
    EXPECT_GT(hash, sp) << line;
    EXPECT_TRUE(names.insert(line.substr(0, sp)).second) << "duplicate " << line;
    last = line;
  }
  EXPECT_EQ(last.rfind("host.wall_s 1.5 #", 0), 0u) << last;
}

// spikechip compare: deltas B - A and (B - A) / A, chip-config changes, per layer; different models
// are an error unless --summary-only.
TEST(Compare, DeltasAndModelCheck) {
  json a = tiny_report(), b = tiny_report();
  a["chip"]["config"] = {{"core", {{"adder_lanes", 16}}}};
  b["chip"]["config"] = {{"core", {{"adder_lanes", 4}}}};
  b["summary"]["latency_cycles"] = 150;
  b["energy_by_component_pJ"]["adders"] = 6.0;
  b["layers"][0]["busy_cycles"] = 110;
  const json c = compare_reports(a, b, {});
  EXPECT_EQ(c["schema"], "spikechip.compare/1");
  EXPECT_EQ(c["chip_config_changes"], json::parse(R"([{"name":"core.adder_lanes","a":16,"b":4,"delta":-12,"rel":-0.75}])"));
  const json lat = c["summary"][0];
  EXPECT_EQ(lat["name"], "latency_cycles");
  EXPECT_DOUBLE_EQ(lat["delta"].get<double>(), 50);
  EXPECT_DOUBLE_EQ(lat["rel"].get<double>(), 0.5);
  EXPECT_EQ(c["energy_by_component_pJ"][0]["name"], "adders");
  EXPECT_DOUBLE_EQ(c["energy_by_component_pJ"][0]["rel"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(c["layers"][0]["busy_cycles"]["rel"].get<double>(), 1.0);
  const std::string text = compare_text(c);
  EXPECT_NE(text.find("core.adder_lanes"), std::string::npos) << text;
  EXPECT_NE(text.find("+50.00 %"), std::string::npos) << text;
  EXPECT_NE(render_compare_html(c).find("data-kind=\"compare\""), std::string::npos);
  // Another model: a clear error, or the summary only.
  b["layers"][1]["name"] = "other";
  try {
    compare_reports(a, b, {});
    FAIL() << "expected an error";
  } catch (const spikechip::Error& e) {
    EXPECT_NE(std::string(e.what()).find("different models"), std::string::npos) << e.what();
  }
  CompareOptions so;
  so.summary_only = true;
  EXPECT_FALSE(compare_reports(a, b, so).contains("layers"));
}
