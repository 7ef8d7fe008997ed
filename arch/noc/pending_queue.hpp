// Packets handed to Network::inject() and not yet released to their source router: released in
// (cycle, injection order), as a priority queue on (cycle, sequence) would. Cycles close ahead
// go to a calendar ring of buckets (the traffic generator and the cores inject at most a few tens
// of cycles ahead), the rest to a heap. A heap pop per packet cost ~2.5-3 % of `spikechip noc`'s
// time at 8x8 / 0.2 (docs/performance.md, "Session 10, noc10") and was a frequent mispredicted
// branch (its comparisons are data-dependent); a bucket append and a bucket scan are neither.
#pragma once

#include <cstdint>
#include <functional>
#include <queue>
#include <tuple>
#include <vector>

namespace spikechip::arch::noc {

class PendingQueue {
 public:
  void push(uint64_t cycle, uint32_t rec) {
    // A cycle already behind the ring's window (not expected: inject() asks for cycle >= now)
    // or beyond it goes to the heap; release() takes the heap's items of a cycle before the
    // bucket's, which keeps injection order (they were pushed before the cycle entered the window).
    if (cycle >= base_ && cycle - base_ < kRing) {
      ring_[cycle & (kRing - 1)].push_back(rec);
      ++in_ring_;
    } else {
      heap_.push({cycle, seq_++, rec});
    }
  }
  bool empty() const { return in_ring_ == 0 && heap_.empty(); }
  // The earliest cycle with a packet (the queue must not be empty).
  uint64_t next_cycle() const {
    uint64_t next = heap_.empty() ? ~uint64_t(0) : std::get<0>(heap_.top());
    if (in_ring_ > 0)
      for (uint64_t c = base_; c < next; ++c)
        if (!ring_[c & (kRing - 1)].empty()) return c;
    return next;
  }
  // Calls f(rec) for every packet of a cycle <= t, in (cycle, injection) order. f must not push.
  template <class F>
  void release(uint64_t t, F&& f) {
    while (base_ <= t) {
      if (in_ring_ == 0) {  // nothing in the window: jump (an idle network skips cycles)
        pop_heap_through(t, f);
        base_ = t + 1;
        return;
      }
      pop_heap_through(base_, f);
      auto& b = ring_[base_ & (kRing - 1)];
      for (const uint32_t rec : b) f(rec);
      in_ring_ -= b.size();
      b.clear();
      ++base_;
    }
    pop_heap_through(t, f);
  }

 private:
  static constexpr uint64_t kRing = 256;  // a power of two
  template <class F>
  void pop_heap_through(uint64_t t, F& f) {
    while (!heap_.empty() && std::get<0>(heap_.top()) <= t) {
      const uint32_t rec = std::get<2>(heap_.top());
      heap_.pop();
      f(rec);
    }
  }
  using Item = std::tuple<uint64_t, uint64_t, uint32_t>;  // (cycle, sequence, packet record)
  std::priority_queue<Item, std::vector<Item>, std::greater<>> heap_;
  uint64_t seq_ = 0;
  std::vector<std::vector<uint32_t>> ring_ = std::vector<std::vector<uint32_t>>(kRing);
  uint64_t base_ = 0;    // the ring holds cycles base_ .. base_ + kRing - 1; earlier ones are released
  size_t in_ring_ = 0;
};

}  // namespace spikechip::arch::noc
