// Paths that are not regular files, through the real binary (SPIKECHIP_BINARY): outputs to a
// device, a FIFO, /dev/stdout or a symbolic link; inputs from a pipe or /dev/zero (session 36).
// Every single-file output used to be a temporary renamed over its path: `-o /dev/null`, run as
// root, replaced the machine's /dev/null by a regular file, `-o /dev/stdout` its symbolic link,
// and a link to a file by a file. A JSON input from a pipe was read (a `--chip <(...)`), but
// /dev/zero was read until memory ran out.
#include <gtest/gtest.h>

#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "tiny_graph.hpp"

namespace spikechip {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::CmdResult;
using testing::fresh_dir;
using testing::kChip;
using testing::kModel;
using testing::map_to;
using testing::q;
using testing::slurp;
using testing::spit;

// The mapping written to a regular file: what every other kind of output must receive.
std::string reference_mapping(const std::string& dir) {
  const CmdResult r = testing::run_spikechip(map_to(dir + "/reference.json"));
  EXPECT_EQ(r.code, 0) << r.err;
  const std::string s = slurp(dir + "/reference.json");
  EXPECT_GT(s.size(), 100u);
  return s;
}

mode_t lstat_type(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0 ? (st.st_mode & S_IFMT) : 0;
}

// A character device like /dev/null (1, 3), made beside the test rather than at /dev/null: the
// code before this test replaced the node by a regular file. Needs root (mknod); skipped without.
TEST(SpecialFiles, AnOutputToADeviceIsWrittenIntoIt) {
  const std::string d = fresh_dir("device"), null = d + "/null";
  if (::mknod(null.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) GTEST_SKIP() << "mknod needs root";
  const CmdResult r = testing::run_spikechip(map_to(null));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(lstat_type(null), mode_t(S_IFCHR)) << "the device node was replaced";
  for (const auto& e : fs::directory_iterator(d))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
}

// `-o /dev/stdout` names the process's own standard output (here a file): the mapping goes there,
// and /dev/stdout stays the symbolic link it is (restored if the code under test replaced it).
TEST(SpecialFiles, AnOutputToDevStdoutGoesToTheStandardOutput) {
  if (lstat_type("/dev/stdout") != S_IFLNK) GTEST_SKIP() << "/dev/stdout is not a symbolic link here";
  const std::string d = fresh_dir("stdout");
  const std::string want = reference_mapping(d);
  const CmdResult r = testing::run_spikechip(map_to("/dev/stdout"));
  const bool replaced = lstat_type("/dev/stdout") != S_IFLNK;
  if (replaced) {  // repair the machine before failing
    std::error_code ec;
    fs::remove("/dev/stdout", ec);
    fs::create_symlink("/proc/self/fd/1", "/dev/stdout", ec);
  }
  EXPECT_FALSE(replaced) << "/dev/stdout was replaced by a file";
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find(want), std::string::npos) << r.out.substr(0, 400);
}

// A path under /dev that is not there: refused before the work (exit 1), nothing made in /dev.
// Before, the mapping was made and then `/dev/NAME.tmp.PID` renamed to /dev/NAME (as root).
TEST(SpecialFiles, AnOutputToAMissingDeviceIsRefusedFirst) {
  const std::string missing = "/dev/spikechip-test-no-such-device";
  ASSERT_FALSE(fs::exists(missing));
  const CmdResult r = testing::run_spikechip(map_to(missing));
  const bool made = fs::exists(missing);
  if (made) fs::remove(missing);  // repair the machine before failing
  EXPECT_FALSE(made);
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "spikechip: error: " + missing + ": no such device; spikechip makes no file under /dev or /proc: "
                   "give one that exists (/dev/null, /dev/stdout) or a path elsewhere\n");
  EXPECT_TRUE(r.out.empty()) << r.out;
}

// A FIFO (`-o >(gzip > m.json.gz)` is one): the reader gets the whole mapping, the FIFO stays.
TEST(SpecialFiles, AnOutputToAFifoReachesItsReader) {
  const std::string d = fresh_dir("fifo"), fifo = d + "/fifo";
  const std::string want = reference_mapping(d);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  ASSERT_EQ(::link(fifo.c_str(), (d + "/same").c_str()), 0);  // the FIFO, even if `fifo` is replaced
  std::string got;
  std::thread reader([&] { got = slurp(fifo); });  // opening blocks until the writer opens
  const CmdResult r = testing::run_spikechip(map_to(fifo));
  // A reader still waiting (the binary did not write into the FIFO) gets an end of file; one that
  // has its data keeps it (opening fails once it has closed).
  const int fd = ::open((d + "/same").c_str(), O_WRONLY | O_NONBLOCK);
  if (fd >= 0) ::close(fd);
  reader.join();
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(got, want);
  EXPECT_EQ(lstat_type(fifo), mode_t(S_IFIFO));
}

// A symbolic link to a file stays a link: the file it names gets the output; a link to a file not
// yet there makes the file.
TEST(SpecialFiles, AnOutputThroughASymbolicLinkKeepsTheLink) {
  const std::string d = fresh_dir("link");
  const std::string want = reference_mapping(d);
  fs::create_directories(d + "/real");
  spit(d + "/real/m.json", "old");
  fs::create_symlink("real/m.json", d + "/link.json");
  fs::create_symlink("real/new.json", d + "/dangling.json");
  for (const char* name : {"link.json", "dangling.json"}) {
    const CmdResult r = testing::run_spikechip(map_to(d + "/" + name));
    EXPECT_EQ(r.code, 0) << name << ": " << r.err;
    EXPECT_EQ(lstat_type(d + "/" + name), mode_t(S_IFLNK)) << name;
  }
  EXPECT_EQ(slurp(d + "/real/m.json"), want);
  EXPECT_EQ(slurp(d + "/real/new.json"), want);
}

// A chip config from a pipe (`--chip <(jq ...)`, here /dev/stdin) is read like a file.
TEST(SpecialFiles, AChipConfigFromAPipe) {
  const std::string d = fresh_dir("pipe");
  const std::string want = reference_mapping(d);
  const std::string bin = testing::spikechip_binary();
  const std::string cmd = "echo '{\"base\": \"tiny\"}' | '" + bin + "' map --model " + q(kModel) +
                          " --chip /dev/stdin -o " + q(d + "/piped.json") + " 2>" + q(d + "/err");
  const int st = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << slurp(d + "/err");
  const json got = json::parse(slurp(d + "/piped.json")), ref = json::parse(want);
  EXPECT_EQ(got["groups"], ref["groups"]);
  EXPECT_EQ(got["routes"], ref["routes"]);
}

// An image through a FIFO runs as the file does: the binary reader asked the FIFO its size, got 0,
// read nothing and called a good input "not a binary PGM/PPM".
TEST(SpecialFiles, AnInputThroughAFifo) {
  const std::string d = fresh_dir("fifo_in"), fifo = d + "/fifo.pgm";
  const std::string image = slurp(testing::write_pgm(d));
  const std::string args = "run --model " + q(kModel) + " --chip " + q(kChip) + " --input ";
  const CmdResult want = testing::run_spikechip(args + q(testing::write_pgm(d)) + " -o " + q(d + "/a"));
  ASSERT_EQ(want.code, 0) << want.err;
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::signal(SIGPIPE, SIG_IGN);  // a reader that closes early must fail the test, not kill it
  std::thread writer([&] { spit(fifo, image); });  // opening blocks until the reader opens
  const CmdResult r = testing::run_spikechip(args + q(fifo) + " -o " + q(d + "/b"));
  if (r.code != 0) {  // unblock the writer if the binary never opened the FIFO
    int fd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
    if (fd >= 0) ::close(fd);
  }
  writer.join();
  ASSERT_EQ(r.code, 0) << r.err;
  const json a = json::parse(slurp(d + "/a/report.json")), b = json::parse(slurp(d + "/b/report.json"));
  EXPECT_EQ(a["summary"], b["summary"]);
}

// /dev/zero never ends: refused after kMaxStreamBytes (1 GiB) with one line, where the reader
// before grew until memory ran out (a bad_alloc, or the kernel's OOM killer).
TEST(SpecialFiles, AnEndlessInputIsRefused) {
  if (!fs::exists("/dev/zero")) GTEST_SKIP();
  const CmdResult r = testing::run_spikechip("map --model " + q(kModel) + " --chip /dev/zero -o " +
                                             q(fresh_dir("zero") + "/m.json"));
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(r.err, "spikechip: error: /dev/zero: not a file but a pipe or a device, and longer than 1 GiB, the most "
                   "spikechip reads from one; write it to a file and give the file\n");
}

// An input without an extension (`--input <(cat x.npy)` is /dev/fd/N) has no type to read it as.
TEST(SpecialFiles, AnInputWithoutAnExtensionSaysWhatToDo) {
  const std::string d = fresh_dir("noext");
  spit(d + "/image", "P5\n28 28\n255\n" + std::string(28 * 28, '\x10'));
  const CmdResult r = testing::run_spikechip("run --model " + q(kModel) + " --chip " + q(kChip) + " --input " +
                                             q(d + "/image") + " -o " + q(d + "/out"));
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("/image: no file name extension to tell the input's type by; give a file named .png"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(d + "/out"));
}

// An output directory (`report`, `compare`, `sweep` -o) that is a file or a device: exit 1 and one
// line before any work, as `run -o` was; `report` and `sweep` failed late, exit 4 ("check that the
// directory is writable and its disk has free space").
TEST(SpecialFiles, AnOutputDirectoryThatIsAFileOrADevice) {
  const std::string d = fresh_dir("dirs");
  const CmdResult run = testing::run_spikechip("run --model " + q(kModel) + " --chip " + q(kChip) + " --input " +
                                               q(testing::write_pgm(d)) + " -o " + q(d + "/r"));
  ASSERT_EQ(run.code, 0) << run.err;
  spit(d + "/afile", "mine");
  spit(d + "/sweep.json", R"({"job": "map", "model": ")" + kModel + R"(", "chip": ")" + kChip + R"("})");
  const std::string report = q(d + "/r/report.json");
  for (const std::string& out : {d + "/afile", std::string("/dev/null")}) {
    for (const std::string& args : {"report " + report + " -o " + q(out), "compare " + report + " " + report + " -o " + q(out),
                                    "sweep " + q(d + "/sweep.json") + " -o " + q(out)}) {
      const CmdResult r = testing::run_spikechip(args);
      EXPECT_EQ(r.code, 1) << args << ": " << r.err;
      EXPECT_EQ(r.err, "spikechip: error: " + out + ": is a file, not a directory; choose another path or move the file\n")
          << args;
      EXPECT_TRUE(r.out.empty()) << args << ": " << r.out;
    }
  }
  EXPECT_EQ(slurp(d + "/afile"), "mine");
  EXPECT_EQ(lstat_type("/dev/null"), mode_t(S_IFCHR));
}

}  // namespace
}  // namespace spikechip
