// The run pipeline (pipeline/run_pipeline.hpp): both engines give the same report (everything but
// wall times), several event-loop runs in threads of one process give the same report as one run,
// a given mapping is used as is, a stop gives a partial result, and the engine names are a table.
// SystemC runs one simulation per process: ctest runs each test in its own process; run as one
// binary, the tests after the first SystemC run check that a second one is a named error instead.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "base/error.hpp"
#include "chip_test_util.hpp"
#include "pipeline/run_pipeline.hpp"
#include "sim/systemc_run.hpp"

namespace spikechip {
namespace {

using testing::chip_preset;
using testing::random_image;
using testing::small_meta_spikeformer;

// The report without the figures that measure the host (wall seconds and rates per wall second).
nlohmann::json without_wall_times(nlohmann::json r) {
  for (const char* k : {"wall_s", "chip_wall_s", "golden_wall_s", "cycles_per_wall_s", "sops_per_wall_s"})
    r["run"].erase(k);
  return r;
}

// Whether this process's SystemC kernel has run (then the SystemC engine refuses to run again).
bool kernel_used() {
  try {
    sim::require_unused_kernel();
    return false;
  } catch (const Error&) {
    return true;
  }
}

struct Fixture {
  model::Graph g = small_meta_spikeformer(2);
  arch::ChipConfig chip = chip_preset("tiny");
  std::vector<std::vector<uint8_t>> images;
  pipeline::Inputs in;
  Fixture() {
    for (uint64_t seed : {3u, 4u}) images.push_back(random_image(g.input().shape, seed));
    for (size_t i = 0; i < images.size(); ++i) {
      in.views.push_back(model::InputView{images[i].data(), 1, g.input().shape});
      in.origins.push_back("image " + std::to_string(i));
      in.labels.push_back(int(i));
    }
  }
  pipeline::Options options(pipeline::Engine e) const {
    pipeline::Options o;
    o.T = 2, o.engine = e, o.golden_threads = 1, o.command = "test";
    return o;
  }
};

TEST(Pipeline, EnginesGiveTheSameVerifiedReport) {
  Fixture f;
  const pipeline::Result a = pipeline::run(f.g, f.chip, f.in, f.options(pipeline::Engine::SystemC));
  const pipeline::Result b = pipeline::run(f.g, f.chip, f.in, f.options(pipeline::Engine::EventLoop));
  ASSERT_TRUE(a.verified) << a.mismatch;
  ASSERT_TRUE(b.verified) << b.mismatch;
  EXPECT_EQ(a.report["status"], "complete");
  EXPECT_EQ(a.report["inputs"].size(), 2u);
  EXPECT_GT(a.report["summary"]["latency_cycles"].get<double>(), 0);
  EXPECT_EQ(without_wall_times(a.report).dump(), without_wall_times(b.report).dump());
}

TEST(Pipeline, EventLoopRunsInThreadsMatchOneRun) {
  Fixture f;
  const std::string one = without_wall_times(pipeline::run(f.g, f.chip, f.in, f.options(pipeline::Engine::EventLoop)).report).dump();
  std::vector<std::string> got(3);
  std::vector<std::thread> th;
  for (size_t i = 0; i < got.size(); ++i)
    th.emplace_back([&, i] {
      got[i] = without_wall_times(pipeline::run(f.g, f.chip, f.in, f.options(pipeline::Engine::EventLoop)).report).dump();
    });
  for (auto& t : th) t.join();
  for (const auto& s : got) EXPECT_EQ(s, one);
}

TEST(Pipeline, GivenMappingIsUsedAndStopGivesPartial) {
  Fixture f;
  mapper::MapOptions mo;
  mo.placement = "naive";
  const mapper::Mapping m = pipeline::map_for_inputs(f.g, f.chip, f.in.views, 2, mo);
  pipeline::Options o = f.options(pipeline::Engine::EventLoop);
  o.mapping = &m;
  const pipeline::Result r = pipeline::run(f.g, f.chip, f.in, o);
  EXPECT_EQ(r.report["mapping"]["placement"], "naive");
  EXPECT_EQ(mapper::mapping_to_json(r.mapping).dump(), mapper::mapping_to_json(m).dump());
  EXPECT_TRUE(r.verified);

  std::atomic<bool> stop{true};  // set before the chip starts (the golden runs are not asked to stop)
  o.verify = false, o.stop = &stop, o.stop_reason = [] { return std::string("asked to"); };
  const pipeline::Result p = pipeline::run(f.g, f.chip, f.in, o);
  EXPECT_TRUE(p.run.partial);
  EXPECT_EQ(p.report["status"], "partial");
  EXPECT_EQ(p.report["partial_reason"], "asked to");
  EXPECT_FALSE(p.verified);
}

// The golden runs beside the chip (Options::golden_alongside): the same verified report as all of
// them before it, with the inputs that place the mapping run first (6 inputs: 4 before, 2 beside)
// and with a given mapping (all beside); a stop from outside ends both with a partial result.
TEST(Pipeline, GoldenBesideTheChipGivesTheSameReport) {
  Fixture f;
  for (uint64_t seed : {5u, 6u, 7u, 8u}) f.images.push_back(random_image(f.g.input().shape, seed));
  f.in = {};
  for (size_t i = 0; i < f.images.size(); ++i) {
    f.in.views.push_back(model::InputView{f.images[i].data(), 1, f.g.input().shape});
    f.in.origins.push_back("image " + std::to_string(i));
    f.in.labels.push_back(-1);
  }
  pipeline::Options o = f.options(pipeline::Engine::EventLoop);
  o.golden_alongside = false;
  const pipeline::Result seq = pipeline::run(f.g, f.chip, f.in, o);
  ASSERT_TRUE(seq.verified) << seq.mismatch;
  o.golden_alongside = true, o.golden_threads = 2;
  for (const pipeline::Engine e : {pipeline::Engine::EventLoop, pipeline::Engine::SystemC}) {
    o.engine = e;
    if (e == pipeline::Engine::SystemC && kernel_used()) {  // the whole binary in one process
      EXPECT_THROW(pipeline::run(f.g, f.chip, f.in, o), Error);
      continue;
    }
    const pipeline::Result beside = pipeline::run(f.g, f.chip, f.in, o);
    ASSERT_TRUE(beside.verified) << beside.mismatch;
    EXPECT_EQ(beside.golden.size(), f.images.size());
    EXPECT_EQ(without_wall_times(beside.report).dump(), without_wall_times(seq.report).dump());
  }
  o.engine = pipeline::Engine::EventLoop;
  o.mapping = &seq.mapping;
  const pipeline::Result given = pipeline::run(f.g, f.chip, f.in, o);
  ASSERT_TRUE(given.verified) << given.mismatch;
  EXPECT_EQ(without_wall_times(given.report)["summary"], without_wall_times(seq.report)["summary"]);

  std::atomic<bool> stop{true};
  o.stop = &stop;
  const pipeline::Result p = pipeline::run(f.g, f.chip, f.in, o);
  EXPECT_TRUE(p.run.partial);
  EXPECT_FALSE(p.verified);
}

// A second SystemC simulation in one process is refused with a named error before any work (it
// ended in SystemC's "insert module failed: simulation running" report, an internal error).
TEST(Pipeline, SecondSystemCRunInAProcessIsANamedError) {
  Fixture f;
  const pipeline::Options o = f.options(pipeline::Engine::SystemC);
  if (!kernel_used()) {
    const pipeline::Result first = pipeline::run(f.g, f.chip, f.in, o);
    ASSERT_TRUE(first.verified) << first.mismatch;
  }
  ASSERT_TRUE(kernel_used());
  try {
    (void)pipeline::run(f.g, f.chip, f.in, o);
    FAIL() << "a second SystemC run in one process was not refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("one simulation per process"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--engine event"), std::string::npos) << e.what();
  }
  // The event-loop engine still runs in this process.
  EXPECT_TRUE(pipeline::run(f.g, f.chip, f.in, f.options(pipeline::Engine::EventLoop)).verified);
}

TEST(Pipeline, EngineNamesAreOneTable) {
  for (const auto& e : pipeline::engines()) EXPECT_EQ(pipeline::engine_from_name(e.name), e.engine);
  EXPECT_STREQ(pipeline::engine_name(pipeline::Engine::EventLoop), "event");
  EXPECT_THROW(pipeline::engine_from_name("verilator"), UsageError);
}

}  // namespace
}  // namespace spikechip
