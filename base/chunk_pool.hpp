#pragma once
// A pool of records addressed by 32-bit index, stored in chunks of 2^Shift records that never
// move: growing adds a chunk instead of copying every record into an array twice the size, so the
// pool's peak memory is what it holds (a std::vector that doubles keeps its old and new arrays
// resident together: the packet model's peak at 55.4M T=4, docs/performance.md "Session 24"), and
// an index is a shift and a mask (a std::deque's chunks of a few records cost a division per
// access). Freed slots are reused last in, first out. Records are default-constructed once, when
// their chunk is made, and reused as they are (a freed trivially copyable one holds the free list).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

namespace spikechip {

template <class T, unsigned Shift = 16>
class ChunkPool {
 public:
  static constexpr uint32_t kChunk = uint32_t(1) << Shift;

  // A free slot's index: a recycled one, else a new one (a new chunk when the last is full).
  uint32_t take() {
    if (free_count_ > 0) {
      --free_count_;
      if constexpr (kIntrusive) {
        const uint32_t i = free_head_;
        std::memcpy(&free_head_, &(*this)[i], sizeof free_head_);
        // The next take reads the new head's record (and its taker writes it): fetched from now
        // on, or a run of takes chases a list of cold records one miss at a time (a fifth of
        // the packet model's arrive() at 15.1M, docs/performance.md "Session 25").
        if (free_count_ > 0) __builtin_prefetch(&(*this)[free_head_], 1);
        return i;
      } else {
        const uint32_t i = free_.back();
        free_.pop_back();
        return i;
      }
    }
    if (size_ == chunks_.size() * size_t(kChunk)) chunks_.push_back(std::make_unique<T[]>(kChunk));
    return uint32_t(size_++);
  }
  void give(uint32_t i) {
    ++free_count_;
    if constexpr (kIntrusive) {
      std::memcpy(static_cast<void*>(&(*this)[i]), &free_head_, sizeof free_head_);  // (trivially copyable)
      free_head_ = i;
    } else {
      free_.push_back(i);
    }
  }

  T& operator[](uint32_t i) { return chunks_[i >> Shift][i & (kChunk - 1)]; }
  const T& operator[](uint32_t i) const { return chunks_[i >> Shift][i & (kChunk - 1)]; }

  size_t slots() const { return size_; }  // ever taken (the high-water mark), in use or free
  size_t in_use() const { return size_ - free_count_; }

 private:
  // A trivially copyable record holds the next free slot's index while it is free (a list through
  // the pool: no vector of free indices, which doubled as the pool grew); others keep a vector.
  static constexpr bool kIntrusive = std::is_trivially_copyable_v<T> && sizeof(T) >= sizeof(uint32_t);
  std::vector<std::unique_ptr<T[]>> chunks_;
  size_t size_ = 0;
  size_t free_count_ = 0;
  uint32_t free_head_ = 0;
  std::vector<uint32_t> free_;
};

}  // namespace spikechip
