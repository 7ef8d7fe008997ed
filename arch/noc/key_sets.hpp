#pragma once
// The packet model's multicast destination sets, interned: every packet with the same destination
// list shares one sorted array of column-major keys (routing.hpp column_key), which the model's
// forks slice (packet_network.hpp). A chip sends each route's packets to the same few sets (52
// distinct sets of 338 keys in all for 186 k multicast packets at 15.1M T=1; 306 sets, 2,530 keys
// for 1.86 M packets at 55.4M T=4, docs/performance.md "Session 26"), so the arrays stay in the
// cache where a copy per packet was a cache miss at every hop of a multicast copy, and a packet's
// keys are sorted once per set instead of once per packet.
//
// A set is held while a packet uses it (acquire / release) and kept afterwards for the next
// packet with the same list; sets no packet uses are dropped once the table holds more than
// keep_keys keys (default 2^20, 4 MB), so traffic with ever new sets (random multicast) does not grow it without bound.
// Plain C++, used by PacketNet only.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace spikechip::arch::noc {

class KeySets {
 public:
  explicit KeySets(size_t keep_keys = size_t(1) << 20) : keep_keys_(keep_keys) {}

  // The id of the set of `dests` (a list of >= 2 distinct nodes), interned if new with keys
  // key(d) sorted, and one more packet holding it.
  template <class KeyOf>
  uint32_t acquire(const std::vector<int>& dests, KeyOf&& key) {
    auto it = index_.find(dests);
    if (it == index_.end()) {
      uint32_t id;
      if (!free_.empty()) id = free_.back(), free_.pop_back();
      else id = uint32_t(sets_.size()), sets_.emplace_back();
      Set& s = sets_[id];
      s.keys.clear();
      for (const int d : dests) s.keys.push_back(key(d));
      std::sort(s.keys.begin(), s.keys.end());
      s.refs = 0;
      s.at = index_.emplace(dests, id).first;
      held_keys_ += s.keys.size();
      it = s.at;
    }
    ++sets_[it->second].refs;
    return it->second;
  }
  // One packet fewer holds set `id`.
  void release(uint32_t id) {
    Set& s = sets_[id];
    if (--s.refs == 0 && held_keys_ > keep_keys_) {
      held_keys_ -= s.keys.size();
      index_.erase(s.at);
      free_.push_back(id);
    }
  }
  // The sorted keys of set `id` (valid while a packet holds it; they stay put when sets are added).
  const uint32_t* keys(uint32_t id) const { return sets_[id].keys.data(); }
  size_t size(uint32_t id) const { return sets_[id].keys.size(); }
  size_t held_keys() const { return held_keys_; }  // keys of all sets in the table

 private:
  struct Hash {
    size_t operator()(const std::vector<int>& v) const {
      uint64_t h = 1469598103934665603ull;  // FNV-1a over the node numbers
      for (const int x : v) h = (h ^ uint32_t(x)) * 1099511628211ull;
      return size_t(h);
    }
  };
  using Index = std::unordered_map<std::vector<int>, uint32_t, Hash>;
  struct Set {
    std::vector<uint32_t> keys;
    uint32_t refs = 0;
    Index::iterator at;
  };
  Index index_;
  std::vector<Set> sets_;
  std::vector<uint32_t> free_;
  size_t keep_keys_, held_keys_ = 0;
};

}  // namespace spikechip::arch::noc
