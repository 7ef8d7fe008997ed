#pragma once
// Many first-in first-out queues of records (one per router, say) sharing one pool of blocks of
// K records: a queue is a list of blocks, written at its tail block and read at its head block,
// so consecutive records of a queue sit side by side. Where a list of single records from a
// shared pool put each queued record in whatever slot was freed last (cold: a cache miss to queue
// a record and another to read it back), a queue here takes or frees a block once per K records
// and walks its records in address order. An empty queue holds no block, so idle queues cost
// nothing; a busy one holds at most two partly used blocks beyond its records.
//
// (The packet model's ejection queues, arch/noc/packet_network.hpp: up to 2.15 M packets wait at
// once at 55.4M T=4, docs/performance.md "Session 26".)
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "base/chunk_pool.hpp"

namespace spikechip {

template <class T, unsigned K = 16>
class ChunkFifos {
  static_assert(std::is_trivially_copyable_v<T>, "records are copied in and out of blocks as they are");

 public:
  static constexpr uint32_t kNone = ~uint32_t(0);

  explicit ChunkFifos(size_t queues = 0) : q_(queues) {}
  void resize(size_t queues) { q_.resize(queues); }

  bool empty(size_t q) const { return q_[q].head == kNone; }
  void push(size_t q, const T& v) {
    Q& s = q_[q];
    if (s.head == kNone || s.tpos == K) [[unlikely]] add_block(s);
    blocks_[s.tail].rec[s.tpos++] = v;
  }
  // The oldest record of queue q (not empty).
  const T& front(size_t q) const { return blocks_[q_[q].head].rec[q_[q].hpos]; }
  // Removes the oldest record of queue q (not empty).
  void pop(size_t q) {
    Q& s = q_[q];
    ++s.hpos;
    if (s.head == s.tail) {
      if (s.hpos == s.tpos) blocks_.give(s.head), s.head = s.tail = kNone;
    } else if (s.hpos == K) {
      const uint32_t next = blocks_[s.head].next;
      blocks_.give(s.head);
      s.head = next, s.hpos = 0;
    }
  }
  // fn(record) for queue q's records, oldest first.
  template <class Fn>
  void for_each(size_t q, Fn&& fn) const {
    const Q& s = q_[q];
    for (uint32_t b = s.head; b != kNone; b = blocks_[b].next)
      for (uint32_t i = b == s.head ? s.hpos : 0, e = b == s.tail ? s.tpos : K; i < e; ++i) fn(blocks_[b].rec[i]);
  }
  size_t blocks_in_use() const { return blocks_.in_use(); }

 private:
  struct Block {
    T rec[K];
    uint32_t next;
  };
  struct Q {
    uint32_t head = kNone, tail = kNone;  // blocks
    uint32_t hpos = 0, tpos = 0;          // the head's next record to read, the tail's next to write
  };
  // A new tail block for s (its first): out of line, so that push() stays small where it is
  // inlined (the packet model's arrive(), whose calendar calls GCC then stopped inlining).
  [[gnu::noinline]] void add_block(Q& s) {
    const uint32_t b = blocks_.take();
    blocks_[b].next = kNone;
    if (s.head == kNone) s.head = b, s.hpos = 0;
    else blocks_[s.tail].next = b;
    s.tail = b, s.tpos = 0;
  }
  std::vector<Q> q_;
  ChunkPool<Block, 8> blocks_;
};

}  // namespace spikechip
