// Event traces: .evt/.csv/.npy readers agree, binning follows docs/traces.md, bad traces rejected.
#include <gtest/gtest.h>

#include "base/file_util.hpp"
#include "base/npy.hpp"
#include "tiny_graph.hpp"
#include "traces/events.hpp"

using namespace spikechip;
using namespace spikechip::traces;
using spikechip::testing::expect_error;
using spikechip::testing::fresh_dir;
using spikechip::testing::spit;

namespace {
EventTrace sample() {
  EventTrace tr;
  tr.width = 4;
  tr.height = 3;
  tr.origin = "mem";
  tr.events = {{0, 0, 100, 1}, {3, 2, 100, 0}, {1, 1, 150, 1}, {1, 1, 199, 1}, {2, 0, 200, 0}, {0, 2, 2147483647u, 1}};
  tr.events.pop_back();  // keep the span small; the max timestamp is tested separately
  return tr;
}
}  // namespace

TEST(Events, EvtLayoutIsTheDocumentedOne) {
  const auto b = serialize_evt(sample());
  ASSERT_EQ(b.size(), 16u + 8u * 5u);
  EXPECT_EQ(std::string(b.begin(), b.begin() + 8), "SCEVT001");
  EXPECT_EQ(load_le16(b.data() + 8), 4);
  EXPECT_EQ(load_le16(b.data() + 10), 3);
  EXPECT_EQ(load_le32(b.data() + 12), 5u);
  // Record 1: x=3, y=2, t=100, OFF -> packed = 100.
  EXPECT_EQ(load_le16(b.data() + 24), 3);
  EXPECT_EQ(load_le16(b.data() + 26), 2);
  EXPECT_EQ(load_le32(b.data() + 28), 100u);
  // Record 0: ON sets bit 31.
  EXPECT_EQ(load_le32(b.data() + 20), 100u | 0x80000000u);
  EXPECT_EQ(parse_evt(b, "x.evt").events, sample().events);
}

TEST(Events, ThreeFormatsAgree) {
  const std::string dir = fresh_dir("ev");
  const EventTrace tr = sample();
  write_evt(dir + "/t.evt", tr);
  std::string csv = "x,y,t_us,p\n";
  std::vector<int64_t> v;
  for (const auto& e : tr.events) {
    csv += std::to_string(e.x) + "," + std::to_string(e.y) + "," + std::to_string(e.t_us) + "," + std::to_string(e.p) + "\r\n";
    for (int64_t k : {int64_t(e.x), int64_t(e.y), int64_t(e.t_us), int64_t(e.p)}) v.push_back(k);
  }
  spit(dir + "/t.csv", csv + "\n");
  NpyArray a{"<i8", {int64_t(tr.events.size()), 4}, {}};
  a.bytes.resize(v.size() * 8);
  std::memcpy(a.bytes.data(), v.data(), a.bytes.size());
  write_npy(dir + "/t.npy", a);
  for (const char* f : {"/t.evt", "/t.csv", "/t.npy"}) {
    const EventTrace r = read_events(dir + f, 4, 3);
    EXPECT_EQ(r.events, tr.events) << f;
    EXPECT_EQ(r.width, 4);
    EXPECT_EQ(r.height, 3);
  }
}

TEST(Events, BinningFollowsTheFormula) {
  // t0 = 100, t1 = 200, span 101, T = 2: frame = (t - 100) * 2 / 101 -> 100,150 -> 0; 199,200 -> 1.
  const auto f = bin_events(sample(), 2);
  ASSERT_EQ(f.size(), 2u * 2 * 3 * 4);
  auto at = [&](int t, int p, int y, int x) { return int(f[size_t(((t * 2 + p) * 3 + y) * 4 + x)]); };
  EXPECT_EQ(at(0, 1, 0, 0), 1);
  EXPECT_EQ(at(0, 0, 2, 3), 1);
  EXPECT_EQ(at(0, 1, 1, 1), 1);  // t = 150 -> 100 / 101 = 0
  EXPECT_EQ(at(1, 1, 1, 1), 1);  // t = 199 -> 198/101 = 1
  EXPECT_EQ(at(1, 0, 0, 2), 1);
  int total = 0;
  for (uint8_t c : f) total += c;
  EXPECT_EQ(total, 5);
}

TEST(Events, CountsSaturateAt255) {
  EventTrace tr;
  tr.width = tr.height = 1;
  tr.origin = "mem";
  for (int i = 0; i < 300; ++i) tr.events.push_back({0, 0, uint32_t(i), 1});
  const auto f = bin_events(tr, 1);
  EXPECT_EQ(f[0], 0);
  EXPECT_EQ(f[1], 255);
}

TEST(Events, SingleTimestampGoesToFrameZero) {
  EventTrace tr;
  tr.width = tr.height = 1;
  tr.origin = "mem";
  tr.events = {{0, 0, 7, 0}, {0, 0, 7, 0}};
  const auto f = bin_events(tr, 4);
  EXPECT_EQ(f[0], 2);
}

TEST(Events, RejectsBadTraces) {
  auto b = serialize_evt(sample());
  auto trunc = b;
  trunc.resize(trunc.size() - 4);
  expect_error([&] { parse_evt(trunc, "x.evt"); }, {"x.evt", "truncated", "5 events"});
  auto trail = b;
  trail.push_back(0);
  expect_error([&] { parse_evt(trail, "x.evt"); }, {"x.evt", "1 trailing bytes"});
  auto magic = b;
  magic[0] = 'X';
  expect_error([&] { parse_evt(magic, "x.evt"); }, {"x.evt", "SCEVT001"});
  auto oob = b;
  oob[16] = 9;  // event 0: x = 9 >= width 4
  expect_error([&] { parse_evt(oob, "x.evt"); }, {"x.evt", "event 0", "x = 9 outside width 4"});
  EventTrace back = sample();
  std::swap(back.events[1], back.events[3]);
  expect_error([&] { validate_events(back); }, {"mem", "event 2", "timestamp 150 us goes back in time"});
  expect_error([&] { bin_events(EventTrace{4, 3, {}, "empty.evt"}, 2); }, {"empty.evt", "no events"});

  const std::string dir = fresh_dir("bad");
  spit(dir + "/h.csv", "x,y,t,p\n1,1,1,1\n");
  expect_error([&] { read_events(dir + "/h.csv", 4, 3); }, {"h.csv:1", "x,y,t_us,p"});
  spit(dir + "/v.csv", "x,y,t_us,p\n1,1,1,2\n");
  expect_error([&] { read_events(dir + "/v.csv", 4, 3); }, {"v.csv:2", "polarity 2"});
  spit(dir + "/n.csv", "x,y,t_us,p\n1,1,abc,0\n");
  expect_error([&] { read_events(dir + "/n.csv", 4, 3); }, {"n.csv:2", "4 non-negative integers"});
  write_evt(dir + "/s.evt", sample());
  expect_error([&] { read_events(dir + "/s.evt", 8, 8); }, {"s.evt", "4x3", "expects 8x8"});
  expect_error([&] { read_events(dir + "/s.bin", 8, 8); }, {"s.bin", "unknown event trace extension"});
}
