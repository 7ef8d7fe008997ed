#pragma once
// The packet model's multicast destination sets as sorted column-major keys (routing.hpp
// column_key), which the model's forks slice (packet_network.hpp), interned when they recur:
// every packet with a recurring destination list shares one array. A chip sends each route's
// packets to the same few sets (52 distinct sets of 338 keys in all for 186 k multicast packets
// at 15.1M T=1; 306 sets, 2,530 keys for 1.86 M packets at 55.4M T=4, docs/performance.md
// "Session 26"), so the arrays stay in the cache where a copy per packet was a cache miss at every
// hop of a multicast copy, and a set is sorted once instead of once per packet.
//
// A list seen for the first time gets a private set, dropped when its packet lets it go (random
// multicast traffic, where lists rarely recur, then costs what a copy per packet did: interning
// each list made `spikechip noc --multicast-fanout 8` 30 % slower and 440 MB larger); a list seen
// before (a direct-mapped table of recent lists' hashes) is interned and kept after its packets
// for the next one, until the table holds more than keep_keys keys (default 2^20, 4 MB): then
// interned sets no packet holds are dropped too. A dropped set's slot and array are reused.
// Plain C++, used by PacketNet only.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace spikechip::arch::noc {

class KeySets {
 public:
  explicit KeySets(size_t keep_keys = size_t(1) << 20) : keep_keys_(keep_keys) {}

  // The id of a set of `dests` (a list of >= 2 distinct nodes) with keys key(d) sorted, held by
  // one more packet.
  template <class KeyOf>
  uint32_t acquire(const std::vector<int>& dests, KeyOf&& key) {
    auto it = index_.find(dests);
    if (it != index_.end()) {
      ++sets_[it->second].refs;
      return it->second;
    }
    const uint64_t h = hash(dests);
    uint64_t& seen = seen_[h & (kSeen - 1)];
    const bool recurs = seen == h;
    seen = h;
    uint32_t id;
    if (!free_.empty()) id = free_.back(), free_.pop_back();
    else id = uint32_t(sets_.size()), sets_.emplace_back();
    Set& s = sets_[id];
    s.keys.clear();  // (a reused slot keeps its array's capacity)
    for (const int d : dests) s.keys.push_back(key(d));
    std::sort(s.keys.begin(), s.keys.end());
    s.refs = 1;
    s.list = nullptr;
    if (recurs) {
      s.list = &index_.emplace(dests, id).first->first;
      held_keys_ += s.keys.size();
    }
    return id;
  }
  // One packet fewer holds set `id`.
  void release(uint32_t id) {
    Set& s = sets_[id];
    if (--s.refs > 0) return;
    if (s.list) {
      if (held_keys_ <= keep_keys_) return;  // kept for the next packet with its list
      held_keys_ -= s.keys.size();
      index_.erase(*s.list);
    }
    free_.push_back(id);
  }
  // The sorted keys of set `id` (valid while a packet holds it; they stay put meanwhile).
  const uint32_t* keys(uint32_t id) const { return sets_[id].keys.data(); }
  size_t size(uint32_t id) const { return sets_[id].keys.size(); }
  void prefetch(uint32_t id) const { __builtin_prefetch(&sets_[id].keys); }  // (a private set is cold)
  size_t held_keys() const { return held_keys_; }  // keys of the interned sets
  size_t interned() const { return index_.size(); }

 private:
  static constexpr size_t kSeen = 1024;
  static uint64_t hash(const std::vector<int>& v) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a over the node numbers
    for (const int x : v) h = (h ^ uint32_t(x)) * 1099511628211ull;
    return h | 1;  // (never 0, an empty slot of seen_)
  }
  struct Hash {
    size_t operator()(const std::vector<int>& v) const { return size_t(hash(v)); }
  };
  struct Set {
    std::vector<uint32_t> keys;
    const std::vector<int>* list = nullptr;  // an interned set's list: its key in index_ (which stays put)
    uint32_t refs = 0;
  };
  std::unordered_map<std::vector<int>, uint32_t, Hash> index_;
  std::vector<Set> sets_;  // (a set's keys stay put when it moves)
  std::vector<uint32_t> free_;
  std::array<uint64_t, kSeen> seen_{};  // hashes of recent lists (0: none)
  size_t keep_keys_, held_keys_ = 0;
};

}  // namespace spikechip::arch::noc
