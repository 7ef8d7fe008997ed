#pragma once
// The packet model's event calendar (packet_network.hpp): a hierarchical timing wheel. Events of
// the current and the next span of 64 cycles sit in one bucket per cycle (level 0, 128 buckets),
// events of the 64 spans after those in one bucket per span (level 1), events of the next 64
// blocks of 64 spans (4,096 cycles) in one bucket per block (level 2), later ones in a heap; as
// the calendar reaches a span, that span's level-1 bucket is spread over level 0, the level-2
// blocks now wholly within level 1's reach are placed again, and the heap's events that come
// within level 2's reach move there. A cycle's events are handed out together, unsorted (the
// caller sorts them by its own total order, so insertion order changes nothing).
//
// Why levels (docs/performance.md "Session 24"): with one ring of 4,096 one-cycle buckets,
// the bucket an event a few cycles ahead goes to had last been touched 4,096 cycles earlier, and
// loading its header was a quarter of arrive()'s samples (perf annotate); 128 buckets stay cached,
// and 62 % of the events are due within 8 cycles. The later ones (a waiting core, a busy
// serialised link: 36 % of the placements at 55.4M T=4) are written twice, into a span's
// bucket first. The network's share of a 15.1M run fell from 24.5 to 22.4 %, peak RSS by 15 MB at
// 55.4M T=4 (no 4,096 buckets keeping their capacity). Level 2 (session 25): the heap's pops (a
// sift through cold lines each; 13.6 M events at 55.4M T=4) were a quarter of advance_to's
// samples; with it that run is 5-9 % faster. Its buckets are freed when handed down (kept, their
// capacity added 98 MB to that run's peak RSS).
//
// E: an event with a `uint64_t cycle` and `operator>` (a strict total order, for the heap).
#include <array>
#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

namespace spikechip::arch::noc {

template <class E>
class EventCalendar {
 public:
  bool empty() const { return pending_ == 0; }
  uint64_t size() const { return pending_; }

  // e.cycle >= the cycle handed out last (nothing is scheduled for the cycle being handled).
  void push(const E& e) {
    ++pending_;
    place(e);
  }

  // The cycle of the earliest event; !empty().
  uint64_t first_cycle() const {
    if (bits0_[0] | bits0_[1]) {
      // Level 0 holds the cycles [span(base_) * 64, + 128): the first non-empty bucket from
      // base_'s on, wrapping once.
      const uint64_t start = base_ & (kN0 - 1);
      for (uint64_t k = 0; k <= 2; ++k) {
        const uint64_t w = ((start >> 6) + k) & 1;
        uint64_t bits = bits0_[w];
        if (k == 0) bits &= ~uint64_t(0) << (start & 63);
        else if (k == 2) bits &= (uint64_t(1) << (start & 63)) - 1;
        if (bits) return base_ + ((w * 64 + uint64_t(__builtin_ctzll(bits)) - start) & (kN0 - 1));
      }
    }
    if (bits1_) {
      // Level 1 holds the spans [span(base_) + 2, + 64): the first non-empty one from there on.
      const uint64_t start = (span(base_) + 2) & (kN1 - 1);
      const uint64_t rot = start ? (bits1_ >> start | bits1_ << (kN1 - start)) : bits1_;
      return min1_[(start + uint64_t(__builtin_ctzll(rot))) & (kN1 - 1)];
    }
    if (bits2_) {
      // Level 2 holds the blocks (down(base_), + 64]: the first non-empty one from there on.
      const uint64_t start = (down(base_) + 1) & (kN2 - 1);
      const uint64_t rot = start ? (bits2_ >> start | bits2_ << (kN2 - start)) : bits2_;
      return min2_[(start + uint64_t(__builtin_ctzll(rot))) & (kN2 - 1)];
    }
    return far_.top().cycle;
  }

  // Moves to the earliest event's cycle c (first_cycle(), given) and swaps its events into `out`
  // (cleared first).
  void pop(uint64_t c, std::vector<E>& out) {
    const uint64_t s0 = span(base_), s1 = span(c), d0 = down(base_);
    base_ = c;
    if (s1 != s0) {
      // Every event before c has been handed out, so the level-0 buckets of span s0 are empty and,
      // when c is further, all of level 0; level 1's spans below s1 are empty too. Spans s1 and
      // s1 + 1 come down from level 1 (where they were, being >= s0 + 2); then the level-2 blocks
      // that level 1 now reaches to their end (down(c): span + 2 >= the block's first span) are
      // placed again, into levels 0 and 1, and the heap's events within level 2's new reach move
      // up. (Level 1 first: a level-2 event may go to a level-1 bucket that held span s1.)
      for (uint64_t s = s1; s <= s1 + 1; ++s)
        if (s >= s0 + 2 && s < s0 + 2 + kN1) spread(s);
      const uint64_t d1 = down(c);
      for (uint64_t d = d0 + 1; d <= d1 && bits2_; ++d) {
        if (d > d0 + kN2) break;  // (the ring holds no block past d0 + 64)
        const uint64_t b = d & (kN2 - 1);
        if (!(bits2_ >> b & 1)) continue;
        bits2_ &= ~(uint64_t(1) << b);
        std::vector<E> q;  // (the bucket is left without capacity, and q's is freed: see the top)
        q.swap(l2_[b]);
        for (const E& e : q) place(e);
      }
      while (!far_.empty() && block(far_.top().cycle) <= d1 + kN2) {
        const E e = far_.top();
        far_.pop();
        place(e);
      }
    }
    const uint64_t b = c & (kN0 - 1);
    out.clear();
    out.swap(l0_[b]);
    bits0_[b >> 6] &= ~(uint64_t(1) << (b & 63));
    pending_ -= out.size();
  }

  // Every pending event, in no particular order (for diagnostics).
  template <class F>
  void for_each(F&& f) const {
    for (const auto& q : l0_)
      for (const E& e : q) f(e);
    for (const auto& q : l1_)
      for (const E& e : q) f(e);
    for (const auto& q : l2_)
      for (const E& e : q) f(e);
    for (auto q = far_; !q.empty(); q.pop()) f(q.top());
  }

 private:
  static constexpr unsigned kSpanBits = 6;
  static constexpr uint64_t kN0 = uint64_t(2) << kSpanBits;  // two spans of one-cycle buckets
  static constexpr uint64_t kN1 = 64;                        // spans in level 1 (one word of bits)
  static constexpr uint64_t kN2 = 64;                        // blocks of 64 spans in level 2
  static uint64_t span(uint64_t cycle) { return cycle >> kSpanBits; }
  static uint64_t block(uint64_t cycle) { return span(cycle) >> 6; }
  // The last block level 2 has handed down at base cycle c: the blocks whose spans all lie below
  // level 1's end (span(c) + 2 + 64), i.e. whose first span is <= span(c) + 2.
  static uint64_t down(uint64_t c) { return (span(c) + 2) >> 6; }

  // (Levels 1 and 2 repeat their few lines here and in first_cycle() rather than share a ring
  // type: shared, place() was no longer inlined into PacketNet::arrive and the network took ~5 %
  // more samples at 15.1M, session 25's review.)
  void place(const E& e) {
    const uint64_t s = span(e.cycle), s0 = span(base_);
    if (s <= s0 + 1) {
      const uint64_t b = e.cycle & (kN0 - 1);
      l0_[b].push_back(e);
      bits0_[b >> 6] |= uint64_t(1) << (b & 63);
    } else if (s < s0 + 2 + kN1) {
      const uint64_t b = s & (kN1 - 1);
      std::vector<E>& q = l1_[b];
      if (q.empty() || e.cycle < min1_[b]) min1_[b] = e.cycle;
      q.push_back(e);
      bits1_ |= uint64_t(1) << b;
    } else if (const uint64_t d = block(e.cycle); d <= down(base_) + kN2) {
      // (d > down(base_): its spans reach past level 1, so its block has not been handed down.)
      const uint64_t b = d & (kN2 - 1);
      std::vector<E>& q = l2_[b];
      if (q.empty() || e.cycle < min2_[b]) min2_[b] = e.cycle;
      q.push_back(e);
      bits2_ |= uint64_t(1) << b;
    } else {
      far_.push(e);
    }
  }
  // Level 1's bucket of span s into level 0 (s is span(base_) or the next).
  void spread(uint64_t s) {
    const uint64_t b = s & (kN1 - 1);
    if (!(bits1_ >> b & 1)) return;
    for (const E& e : l1_[b]) {
      const uint64_t k = e.cycle & (kN0 - 1);
      l0_[k].push_back(e);
      bits0_[k >> 6] |= uint64_t(1) << (k & 63);
    }
    l1_[b].clear();
    bits1_ &= ~(uint64_t(1) << b);
  }

  uint64_t base_ = 0;  // the cycle handed out last
  uint64_t pending_ = 0;
  std::array<std::vector<E>, kN0> l0_;
  uint64_t bits0_[2] = {};
  std::array<std::vector<E>, kN1> l1_;
  std::array<uint64_t, kN1> min1_{};
  uint64_t bits1_ = 0;
  std::array<std::vector<E>, kN2> l2_;
  std::array<uint64_t, kN2> min2_{};
  uint64_t bits2_ = 0;
  std::priority_queue<E, std::vector<E>, std::greater<>> far_;
};

}  // namespace spikechip::arch::noc
