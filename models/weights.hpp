#pragma once
// The integer weights of a Conv2d / Linear node (models/graph.hpp, Node::weight): int16 values
// (docs/model-format.md: up to 16 bits), held one byte each when every value fits int8, which is
// every model of 8 bits or fewer. A 55.4M model's folded weights take 137 MB instead of 273 MB.
// Reads give int16_t values whatever the storage; any write access (non-const operator[] or
// begin/end, resize, push_back, assign) first widens the storage, so hand-built and edited graphs
// behave as a std::vector<int16_t>. compact() narrows again; load_model and
// build_meta_spikeformer call it.
#include <algorithm>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <utility>
#include <vector>

namespace spikechip::model {

class Weights {
 public:
  // Read-only iteration over the values as int16_t (a random-access iterator by index).
  class const_iterator {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = int16_t;
    using difference_type = std::ptrdiff_t;
    using pointer = const int16_t*;
    using reference = int16_t;
    const_iterator() = default;
    const_iterator(const Weights* w, std::ptrdiff_t i) : w_(w), i_(i) {}
    int16_t operator*() const { return (*w_)[size_t(i_)]; }
    int16_t operator[](std::ptrdiff_t k) const { return (*w_)[size_t(i_ + k)]; }
    const_iterator& operator++() { return ++i_, *this; }
    const_iterator operator++(int) { const_iterator t = *this; ++i_; return t; }
    const_iterator& operator--() { return --i_, *this; }
    const_iterator operator--(int) { const_iterator t = *this; --i_; return t; }
    const_iterator& operator+=(std::ptrdiff_t k) { return i_ += k, *this; }
    const_iterator& operator-=(std::ptrdiff_t k) { return i_ -= k, *this; }
    friend const_iterator operator+(const_iterator a, std::ptrdiff_t k) { return a += k; }
    friend const_iterator operator+(std::ptrdiff_t k, const_iterator a) { return a += k; }
    friend const_iterator operator-(const_iterator a, std::ptrdiff_t k) { return a -= k; }
    friend std::ptrdiff_t operator-(const const_iterator& a, const const_iterator& b) { return a.i_ - b.i_; }
    friend bool operator==(const const_iterator& a, const const_iterator& b) { return a.i_ == b.i_; }
    friend auto operator<=>(const const_iterator& a, const const_iterator& b) { return a.i_ <=> b.i_; }

   private:
    const Weights* w_ = nullptr;
    std::ptrdiff_t i_ = 0;
  };
  using value_type = int16_t;
  using iterator = int16_t*;
  using size_type = size_t;

  Weights() = default;
  Weights(std::initializer_list<int16_t> v) : wide_(v) {}
  Weights& operator=(std::initializer_list<int16_t> v) {
    drop_narrow();
    wide_.assign(v);
    return *this;
  }

  size_t size() const { return narrow_ ? small_.size() : wide_.size(); }
  bool empty() const { return size() == 0; }
  bool is_narrow() const { return narrow_; }

  int16_t operator[](size_t i) const { return narrow_ ? int16_t(small_[i]) : wide_[i]; }
  int16_t& operator[](size_t i) { return widen()[i]; }
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, std::ptrdiff_t(size())}; }
  const_iterator cbegin() const { return begin(); }
  const_iterator cend() const { return end(); }
  int16_t* begin() { return widen().data(); }
  int16_t* end() { return widen().data() + wide_.size(); }

  void resize(size_t n) { widen().resize(n); }
  void assign(size_t n, int16_t v) {
    drop_narrow();
    wide_.assign(n, v);
  }
  template <class It>
  void assign(It first, It last) {
    drop_narrow();
    wide_.assign(first, last);
  }
  void push_back(int16_t v) { widen().push_back(v); }
  // The values as a vector to fill or edit in place (widens).
  std::vector<int16_t>& wide() { return widen(); }
  std::vector<int16_t> to_vector() const { return std::vector<int16_t>(begin(), end()); }
  // Takes int8 values as they are (e.g. an I8 tensor just read), without a widened copy.
  void assign_narrow(std::vector<int8_t> v) {
    wide_ = {};
    small_ = std::move(v);
    narrow_ = true;
  }
  // One byte per value when every value fits int8; returns whether the storage is narrow.
  bool compact() {
    if (narrow_) return true;
    if (!std::all_of(wide_.begin(), wide_.end(), [](int16_t w) { return w >= -128 && w <= 127; })) return false;
    assign_narrow(std::vector<int8_t>(wide_.begin(), wide_.end()));
    return true;
  }

  friend bool operator==(const Weights& a, const Weights& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
  }

 private:
  std::vector<int16_t>& widen() {
    if (narrow_) {
      wide_.assign(small_.begin(), small_.end());
      small_ = {};
      narrow_ = false;
    }
    return wide_;
  }
  void drop_narrow() {
    small_ = {};
    narrow_ = false;
  }
  std::vector<int16_t> wide_;
  std::vector<int8_t> small_;
  bool narrow_ = false;
};

}  // namespace spikechip::model
