// The permission bits and owner of the files a command writes (session 37), through the real
// binary (SPIKECHIP_BINARY). Outputs are temporaries renamed over their names; the temporaries
// were created 0644 whatever the user's umask, so a re-run turned a result the user had made
// private (`chmod 600`) into a world-readable file, and a group's shared directory (umask 002)
// got files its members could not rewrite, unlike every other tool's output.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

#include "tiny_graph.hpp"

namespace spikechip {
namespace {

namespace fs = std::filesystem;
using testing::CmdResult;
using testing::fresh_dir;
using testing::map_to;
using testing::q;
using testing::run_to;

struct stat stat_of(const std::string& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st;
}

// Permission bits in octal ("0644"), as a failure should show them.
std::string octal(mode_t m) {
  char b[16];
  std::snprintf(b, sizeof b, "0%03o", unsigned(m & 07777));
  return b;
}
std::string mode_of(const std::string& p) { return octal(stat_of(p).st_mode); }

// Sets the process's umask for the test's scope (the binary inherits it), then restores it.
struct Umask {
  mode_t old;
  explicit Umask(mode_t m) : old(::umask(m)) {}
  ~Umask() { ::umask(old); }
};

// A new file gets 0666 under the umask, as any tool's output: 0664 under umask 002 (0644 before).
TEST(OutputModes, ANewOutputFollowsTheUmask) {
  const std::string d = fresh_dir("umask");
  for (const mode_t mask : {mode_t(002), mode_t(022), mode_t(077)}) {
    const Umask u(mask);
    const std::string m = d + "/m" + std::to_string(mask) + ".json", r = d + "/run" + std::to_string(mask);
    CmdResult c = testing::run_spikechip(map_to(m));
    ASSERT_EQ(c.code, 0) << c.err;
    EXPECT_EQ(mode_of(m), octal(0666 & ~mask)) << "umask " << mask;
    c = testing::run_spikechip(run_to(r));
    ASSERT_EQ(c.code, 0) << c.err;
    for (const char* f : {"report.json", "report.html", "layers.csv", "stats.txt"})
      EXPECT_EQ(mode_of(r + "/" + f), octal(0666 & ~mask)) << f << ", umask " << mask;
  }
}

// A sweep's store: SQLite made results.sqlite 0644 whatever the umask, so a group sharing a sweep
// directory (umask 002: a Slurm collect by a colleague) could not add points to it.
TEST(OutputModes, ASweepStoreFollowsTheUmask) {
  const std::string d = fresh_dir("sweep");
  const Umask u(002);
  const CmdResult c = testing::run_spikechip("sweep " + q(testing::kSrc + "/docs/examples/sweep-lanes-banks-run.json") +
                                             " -j 2 -o " + q(d + "/s"));
  ASSERT_EQ(c.code, 0) << c.err;
  for (const char* f : {"results.sqlite", "sweep.json", "results.csv", "points/0000/report.json", "points/0000/chip.json"})
    EXPECT_EQ(mode_of(d + "/s/" + f), "0664") << f;
}

// A file replaced keeps the bits its user gave it: a single output, one through a symbolic link
// (the file it names keeps its bits) and a run directory's files.
TEST(OutputModes, AReplacedOutputKeepsItsMode) {
  const std::string d = fresh_dir("keep");
  const Umask u(022);
  const std::string m = d + "/m.json", r = d + "/run", link = d + "/link.json";
  ASSERT_EQ(testing::run_spikechip(map_to(m)).code, 0);
  ASSERT_EQ(testing::run_spikechip(run_to(r)).code, 0);
  fs::create_symlink("m.json", link);
  ASSERT_EQ(::chmod(m.c_str(), 0600), 0);
  ASSERT_EQ(::chmod((r + "/report.json").c_str(), 0640), 0);
  ASSERT_EQ(::chmod((r + "/layers.csv").c_str(), 0664), 0);
  CmdResult c = testing::run_spikechip(map_to(m));
  EXPECT_EQ(c.code, 0) << c.err;
  EXPECT_EQ(mode_of(m), "0600") << "a private result became readable by all";
  c = testing::run_spikechip(run_to(r));
  EXPECT_EQ(c.code, 0) << c.err;
  EXPECT_EQ(mode_of(r + "/report.json"), "0640");
  EXPECT_EQ(mode_of(r + "/layers.csv"), "0664");
  EXPECT_EQ(mode_of(r + "/stats.txt"), "0644");  // left as the first run made it
  ASSERT_EQ(::chmod(m.c_str(), 0604), 0);
  c = testing::run_spikechip(map_to(link));
  EXPECT_EQ(c.code, 0) << c.err;
  struct stat l {};
  ASSERT_EQ(::lstat(link.c_str(), &l), 0);
  EXPECT_TRUE(S_ISLNK(l.st_mode));
  EXPECT_EQ(mode_of(m), "0604");
}

// Run by root (the documented set-up), a re-run kept the file but made it root's: a file another
// user owns stays theirs, with its group. Needs root (chown); skipped without.
TEST(OutputModes, AReplacedOutputKeepsItsOwner) {
  if (::geteuid() != 0) GTEST_SKIP() << "changing a file's owner needs root";
  const std::string d = fresh_dir("owner");
  const std::string m = d + "/m.json", r = d + "/run";
  ASSERT_EQ(testing::run_spikechip(map_to(m)).code, 0);
  ASSERT_EQ(testing::run_spikechip(run_to(r)).code, 0);
  const uid_t uid = 65534;
  const gid_t gid = 65534;
  ASSERT_EQ(::chown(m.c_str(), uid, gid), 0);
  ASSERT_EQ(::chown((r + "/report.json").c_str(), uid, gid), 0);
  EXPECT_EQ(testing::run_spikechip(map_to(m)).code, 0);
  EXPECT_EQ(testing::run_spikechip(run_to(r)).code, 0);
  for (const std::string& f : {m, r + "/report.json"}) {
    const struct stat st = stat_of(f);
    EXPECT_EQ(st.st_uid, uid) << f;
    EXPECT_EQ(st.st_gid, gid) << f;
  }
  EXPECT_EQ(stat_of(r + "/stats.txt").st_uid, 0u);  // a file root made stays root's
}

}  // namespace
}  // namespace spikechip
