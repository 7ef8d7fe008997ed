// Issue 19: spike shares (arch/chip_engine.hpp SpikeShare, docs/architecture.md "Spike shares").
// The spike conv slots of one layer that receive the same packets keep their spikes once and add
// them once for all their channels. Checked here: how the slots are grouped (every spike conv slot
// in exactly one share; members of one node, phase and box, channels side by side, fed by the same
// routes); that a run on the shipped model with shares of several members is bit-exact against
// the golden executor with the golden's SOPs per layer and timestep, also with the wide shares'
// scatter in bands of a few output rows; and that a member whose receipts differ from its share's
// is an error, not a silently wrong sum; a packet's record of the shares it joined. The kernels'
// part (finalising a slice from a wider accumulator, taps x runs = SOPs) is tested here too.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>

#include "arch/chip_engine.hpp"
#include "chip_test_util.hpp"
#include "mapper/mapper.hpp"
#include "models/executor.hpp"
#include "naive_conv.hpp"

namespace spikechip {
namespace {

using Shipped = testing::ShippedModel;

// The golden executor's run of the shipped model's first sample, with its spikes.
model::RunResult golden_run(const Shipped& s) {
  model::GoldenExecutor gold(s.g);
  model::RunOptions ro;
  ro.record_spikes = true;
  return gold.run(s.input(), s.g.timesteps, ro);
}

// The chip's run is complete, bit-exact against the golden's and with its SOPs per layer and step.
void expect_golden(const Shipped& s, const arch::ChipRunResult& cr, const model::RunResult& gr, const std::string& what) {
  ASSERT_TRUE(cr.complete) << what;
  EXPECT_EQ(arch::compare_with_golden(s.g, cr, gr), "") << what;
  for (size_t i = 0; i < s.g.nodes.size(); ++i)
    for (int t = 0; t < s.g.timesteps; ++t)
      EXPECT_EQ(cr.stats[i][t].sops, gr.stats[i][t].sops) << what << ": " << s.g.nodes[i].name << " t=" << t;
}

// The routes feeding a slot's port, from the engine's per-route reader records.
std::vector<int> feeding_routes(const arch::detail::ChipEngine& E, const arch::detail::GroupState& G, const arch::detail::Slot& s) {
  std::vector<int> r;
  for (size_t rid = 0; rid < E.route_readers.size(); ++rid)
    for (const auto& x : E.route_readers[rid])
      if (x.port == &G.ports[size_t(s.ports.at(0))]) r.push_back(int(rid));
  return r;
}

TEST(SpikeShares, SlotsOfOneLayerBoxAndRoutesFormOneShare) {
  const Shipped s;
  const arch::ChipConfig chip = testing::chip_preset("tiny");
  const mapper::Mapping m = mapper::map_model(s.g, chip, mapper::MapOptions{});
  arch::detail::ChipEngine E(s.g, chip, m);
  std::map<int, std::vector<std::pair<const arch::detail::GroupState*, const arch::detail::Slot*>>> members;
  size_t spike_convs = 0;
  for (const auto& G : E.groups)
    for (const auto& sl : G.slots) {
      const bool spike_conv = (sl.op == model::Op::Conv2d || sl.op == model::Op::Linear) && !sl.pixel_in;
      EXPECT_EQ(sl.share >= 0, spike_conv) << s.g.nodes[size_t(sl.node)].name << " group " << G.id;
      if (!spike_conv) continue;
      ++spike_convs;
      members[sl.share].push_back({&G, &sl});
    }
  ASSERT_EQ(members.size(), E.shares.size());
  size_t shared = 0;
  for (const auto& [id, ms] : members) {
    const arch::detail::SpikeShare& S = E.shares[size_t(id)];
    EXPECT_EQ(S.members, int(ms.size()));
    std::set<int> offsets;
    int channels = 0;
    const auto& [G0, s0] = ms.front();
    for (const auto& [G, sl] : ms) {
      EXPECT_EQ(sl->node, s0->node);
      EXPECT_EQ(G->phase, G0->phase);
      EXPECT_TRUE(G->slice.y0 == G0->slice.y0 && G->slice.y1 == G0->slice.y1 && G->slice.x0 == G0->slice.x0 &&
                  G->slice.x1 == G0->slice.x1);
      EXPECT_EQ(feeding_routes(E, *G, *sl), feeding_routes(E, *G0, *s0));
      offsets.insert(sl->share_off);
      channels += G->slice.channels();
    }
    // Side by side: distinct offsets, their channels adding up to the share's.
    EXPECT_EQ(offsets.size(), ms.size());
    EXPECT_EQ(channels, S.slice.channels());
    for (const auto& [G, sl] : ms) EXPECT_LE(sl->share_off + G->slice.channels(), S.slice.channels());
    if (ms.size() > 1) ++shared;
  }
  EXPECT_GT(spike_convs, E.shares.size());  // some slots share
  EXPECT_GT(shared, 0u);
}

TEST(SpikeShares, RunIsBitExactWithTheGoldensSops) {
  const Shipped s;
  const arch::ChipConfig chip = testing::chip_preset("tiny");
  const mapper::Mapping m = mapper::map_model(s.g, chip, mapper::MapOptions{});
  arch::Chip c(s.g, chip, m);
  expect_golden(s, c.run(s.input(), s.g.timesteps), golden_run(s), "tiny");
}

// Wide shares scatter band of output rows by band (ChipEngine::share_band_bytes, 512 KiB, more
// than any accumulator of this model): with bands of a few rows, the same spikes and SOPs.
TEST(SpikeShares, BandsOfOutputRowsGiveTheSameSums) {
  const Shipped s;
  const arch::ChipConfig chip = testing::chip_preset("tiny");
  const mapper::Mapping m = mapper::map_model(s.g, chip, mapper::MapOptions{});
  const model::RunResult gr = golden_run(s);
  for (int64_t bytes : {int64_t(1), int64_t(4096)}) {
    arch::detail::ChipEngine E(s.g, chip, m);
    E.share_band_bytes = bytes;  // one output row per band, or a few
    arch::ChipRunOptions opt;
    opt.record_spikes = true;
    E.begin(s.input(), s.g.timesteps, opt);
    while (!E.done()) E.step();
    expect_golden(s, E.finish(), gr, "bands of " + std::to_string(bytes) + " bytes");
  }
}

TEST(SpikeShares, AMemberThatReceivedOtherPacketsIsAnError) {
  const Shipped s;
  const arch::ChipConfig chip = testing::chip_preset("tiny");
  const mapper::Mapping m = mapper::map_model(s.g, chip, mapper::MapOptions{});
  arch::detail::ChipEngine E(s.g, chip, m);
  E.begin(s.input(), s.g.timesteps, arch::ChipRunOptions{});
  arch::detail::Slot* victim = nullptr;
  for (auto& G : E.groups)
    for (auto& sl : G.slots)
      if (!victim && sl.share >= 0 && E.shares[size_t(sl.share)].members > 1) victim = &sl;
  ASSERT_NE(victim, nullptr);
  victim->recv[0].digest = 12345;  // as if it had received one packet its share does not hold
  try {
    while (!E.done()) E.step();
    FAIL() << "the run finished";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("its share"), std::string::npos) << e.what();
  }
}

// A packet's record of the shares holding its spikes: the first two in place, more (a route read by
// more nodes) and taps beyond 32 bits in the overflow list, every one found; cleared for reuse.
TEST(SpikeShares, PacketRecordsEveryShareItJoined) {
  arch::detail::PacketData d;
  EXPECT_EQ(d.taps_for(0), -1);
  const int64_t big = int64_t(1) << 40;
  d.add_share(7, 12), d.add_share(3, 0), d.add_share(9, 5), d.add_share(4, big);
  EXPECT_EQ(d.taps_for(7), 12);
  EXPECT_EQ(d.taps_for(3), 0);
  EXPECT_EQ(d.taps_for(9), 5);
  EXPECT_EQ(d.taps_for(4), big);
  EXPECT_EQ(d.taps_for(5), -1);
  EXPECT_EQ(d.more_shares.size(), 2u);
  d.clear_shares();
  EXPECT_EQ(d.taps_for(7), -1);
  EXPECT_EQ(d.taps_for(4), -1);
  d.add_share(1, big);  // too wide to keep in place
  EXPECT_EQ(d.taps_for(1), big);
  EXPECT_EQ(d.more_shares.size(), 1u);
}

TEST(SpikeShares, SliceFinalisesFromAWiderAccumulator) {
  std::mt19937_64 rng(28);
  const model::Node n = model::random_conv({5, 40, 6, 6, 3, 1, 1, 1}, rng, 1);
  const model::ConvPlan p = model::make_conv_plan(n, {5, 6, 6}, 1);
  const model::Slice wide{4, 30, 1, 5, 0, 6}, s{11, 23, 1, 5, 0, 6};  // s: 12 of wide's 26 channels, from its 7th
  std::vector<int32_t> acc(size_t(wide.size()));
  for (auto& v : acc) v = int32_t(rng() % 2001) - 1000;
  // The slice's own accumulator: its channels of each position of the wide one.
  std::vector<int32_t> own;
  for (int64_t pos = 0; pos < int64_t(wide.y1 - wide.y0) * (wide.x1 - wide.x0); ++pos)
    for (int c = s.c0; c < s.c1; ++c) own.push_back(acc[size_t(pos * wide.channels() + (c - wide.c0))]);
  const size_t out_size = size_t(p.cout) * p.hout * p.wout;
  std::vector<int32_t> a(out_size, 7), b(out_size, 7);
  EXPECT_EQ(model::conv_finalize(p, own.data(), s, a.data()),
            model::conv_finalize(p, acc.data() + (s.c0 - wide.c0), s, b.data(), wide.channels()));
  EXPECT_EQ(a, b);
}

TEST(SpikeShares, TapsTimesRunsAreTheSops) {
  std::mt19937_64 rng(29);
  // A 3x3 stride-2 conv (taps vary with the position) and a 1x1 one (over the whole map every
  // spike has one tap: counted without decoding), on whole maps and on boxes.
  for (const model::ConvCase cc : {model::ConvCase{6, 24, 9, 9, 3, 2, 1, 1}, model::ConvCase{6, 24, 9, 9, 1, 1, 0, 1}}) {
    const model::Node n = model::random_conv(cc, rng, 1);
    const model::ConvPlan p = model::make_conv_plan(n, {6, 9, 9}, 1);
    std::vector<int32_t> spikes;
    for (int i = 0; i < 6 * 9 * 9; ++i)
      if (rng() % 3 == 0) spikes.push_back(i);
    for (const model::Slice sl : {p.full(), model::Slice{3, 11, 1, 4, 2, 5}}) {
      const model::SpikeSopCounter c(p, sl);
      ASSERT_FALSE(c.per_tap());
      const int64_t n_sp = int64_t(spikes.size());
      EXPECT_EQ(c.taps(spikes.data(), n_sp) * c.runs(), c.count(spikes.data(), n_sp));
      EXPECT_EQ(c.count(spikes.data(), n_sp), model::count_spike_sops(p, spikes.data(), n_sp, sl)) << cc.k;
    }
  }
}

}  // namespace
}  // namespace spikechip
