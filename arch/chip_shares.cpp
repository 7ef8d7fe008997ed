// Spike shares (arch/chip_engine.hpp SpikeShare, docs/architecture.md "Spike shares"): the spike
// conv slots that receive the same packets, grouped once after set-up, and the adds of a share's
// received spikes into its accumulator.
#include <algorithm>
#include <map>

#include "arch/chip_engine.hpp"
#include "models/fast_div.hpp"

namespace spikechip::arch::detail {

void ChipEngine::build_shares() {
  // The routes feeding each port, in route order: slots fed by the same routes receive the same
  // packets (a route's packets go to all its destinations in the source's phase; a later phase's
  // destinations all get the one copy read back for that phase).
  std::map<const Port*, std::vector<int>> feeds;
  for (size_t rid = 0; rid < route_readers.size(); ++rid)
    for (const DataDest& x : route_readers[rid]) feeds[x.port].push_back(int(rid));
  // (node, phase, box, the group for a fan-in split's slot (its own share) or -1, feeding routes)
  using Key = std::tuple<int, int, int, int, int, int, int, std::vector<int>>;
  std::map<Key, std::vector<std::pair<int, int>>> by_key;
  for (const auto& [gi, si] : share_slots) {
    const GroupState& G = groups[size_t(gi)];
    const Slot& s = G.slots[size_t(si)];
    const int port = s.ports.empty() ? -1 : s.ports[0];
    std::vector<int> routes;
    if (port >= 0)
      if (auto it = feeds.find(&G.ports[size_t(port)]); it != feeds.end()) routes = it->second;
    const model::Slice& b = G.slice;
    by_key[Key{s.node, G.phase, b.y0, b.y1, b.x0, b.x1, G.fan_in_partial || G.fan_in_acc ? gi : -1, std::move(routes)}]
        .push_back({gi, si});
  }
  shares.clear();
  for (auto& [key, members] : by_key) {
    // Channel slices side by side form a share; a gap or an overlap starts another.
    std::sort(members.begin(), members.end(), [&](const auto& a, const auto& b) {
      return groups[size_t(a.first)].slice.c0 < groups[size_t(b.first)].slice.c0;
    });
    for (size_t i = 0; i < members.size();) {
      size_t j = i + 1;
      while (j < members.size() && groups[size_t(members[j].first)].slice.c0 == groups[size_t(members[j - 1].first)].slice.c1)
        ++j;
      const GroupState& G0 = groups[size_t(members[i].first)];
      const Slot& s0 = G0.slots[size_t(members[i].second)];
      model::Slice u = G0.slice;
      u.c1 = groups[size_t(members[j - 1].first)].slice.c1;
      SpikeShare S;
      S.plan = s0.plan, S.slice = u;
      const auto [it, fresh] = slice_plans.try_emplace({s0.node, u.c0, u.c1});
      if (fresh) it->second = model::slice_plan(*s0.plan, u);
      if (it->second.cout > 0) S.plan = &it->second, S.slice = u.at_channel_zero();
      else slice_plans.erase(it);  // (all the layer's channels, or a plan slice_plan does not cut)
      S.box = model::SpikeSopCounter(*S.plan, S.slice);
      S.members = int(j - i);
      for (size_t k = i; k < j; ++k) {
        GroupState& G = groups[size_t(members[k].first)];
        Slot& s = G.slots[size_t(members[k].second)];
        s.share = int(shares.size());
        s.share_off = G.slice.c0 - u.c0;
      }
      shares.push_back(std::move(S));
      i = j;
    }
  }
}

void ChipEngine::share_add(SpikeShare& S, SpikeShare::Step& st) {
  const model::ConvPlan& p = *S.plan;
  const int64_t n = int64_t(st.spikes.size());
  const size_t size = size_t(S.slice.size());
  // The gather form when it suits the share's channels (few: models/gather_kernel.cpp), the
  // golden's scatter otherwise; the same sums.
  if (p.wide) {
    if (st.acc64.empty()) st.acc64.assign(size, 0);
    st.sops_added += model::scatter_spikes(p, st.spikes.data(), n, st.acc64.data(), S.slice);
  } else {
    if (st.acc32.empty()) st.acc32.assign(size, 0);
    if (model::gather_suits(p, n, S.slice)) {
      st.sops_added += model::gather_spikes(p, st.spikes.data(), n, st.acc32.data(), S.slice);
    } else {
      // The scatter adds the spikes of one input position that follow each other together (the
      // accumulator rows loaded once for up to four: models/kernels.cpp); the list comes in
      // packet order, so it is bucketed by position first, as the golden executor does. Like the
      // golden, an accumulator larger than L2 is added band of output rows by band, each band
      // from the spikes of the input rows that reach it (one range of the bucketed list).
      if (p.groups != 1 || n < 2) {
        st.sops_added += model::scatter_spikes(p, st.spikes.data(), n, st.acc32.data(), S.slice);
      } else {
        const int32_t* list = by_position(p, st.spikes);
        const model::Slice& sl = S.slice;
        const int64_t row = int64_t(sl.channels()) * (sl.x1 - sl.x0);  // accumulator values per output row
        const int band = int(std::max<int64_t>(1, share_band_bytes / (4 * row)));
        auto start = [&](int iy) {  // the first spike of input row iy (by_position's fill is bucket ends)
          const int64_t q = int64_t(std::clamp(iy, 0, p.hin)) * p.win;
          return q == 0 ? 0 : position_fill[size_t(q - 1)];
        };
        for (int y0 = sl.y0; y0 < sl.y1; y0 += band) {
          model::Slice b = sl;
          b.y0 = y0, b.y1 = std::min(sl.y1, y0 + band);
          const int32_t lo = start(b.y0 * p.sy - p.py), hi = start((b.y1 - 1) * p.sy - p.py + p.kh);
          st.sops_added += model::scatter_spikes(p, list + lo, hi - lo, st.acc32.data() + (y0 - sl.y0) * row, b);
        }
      }
    }
  }
  st.spikes.clear();
}

const int32_t* ChipEngine::by_position(const model::ConvPlan& p, const std::vector<int32_t>& spikes) {
  const model::ChwIndex chw(p.hin, p.win);
  const size_t hw = size_t(chw.hw);
  position_fill.assign(hw + 1, 0);
  for (int32_t f : spikes) ++position_fill[size_t(chw.pos(f)) + 1];
  for (size_t q = 0; q < hw; ++q) position_fill[q + 1] += position_fill[q];
  position_sorted.resize(spikes.size());
  for (int32_t f : spikes) position_sorted[size_t(position_fill[size_t(chw.pos(f))]++)] = f;
  return position_sorted.data();
}

}  // namespace spikechip::arch::detail
