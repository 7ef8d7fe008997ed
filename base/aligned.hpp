#pragma once
// An allocator of cache-line-aligned memory, for accumulators that AVX-512 kernels load and store
// in 64-byte vectors: malloc's 16-byte alignment (large blocks sit 16 bytes past a page) made
// every such store straddle two cache lines, and the golden executor's speed depend on where its
// buffers happened to land (docs/performance.md, session 17).
#include <cstddef>
#include <new>

namespace spikechip {

template <class T, std::size_t Align = 64>
struct AlignedAllocator {
  using value_type = T;
  template <class U>
  struct rebind {
    using other = AlignedAllocator<U, Align>;
  };
  AlignedAllocator() = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U, Align>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(Align))); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, std::align_val_t(Align)); }
  template <class U>
  bool operator==(const AlignedAllocator<U, Align>&) const noexcept { return true; }
};

}  // namespace spikechip
