#pragma once
// Helpers of the name-table registries (routing functions, traffic patterns, placements,
// docs/extending.md): each is a list of pointers to constant entries with a `name` member.
#include <string>
#include <vector>

namespace spikechip {

// The entry called `name`, or nullptr.
template <class T>
const T* find_by_name(const std::vector<const T*>& table, const std::string& name) {
  for (const T* e : table)
    if (name == e->name) return e;
  return nullptr;
}

template <class T>
std::vector<std::string> names_of(const std::vector<const T*>& table) {
  std::vector<std::string> v;
  for (const T* e : table) v.push_back(e->name);
  return v;
}

// "a, b, c" (last_separator ", ") or "a, b or c" (last_separator " or ").
inline std::string join_names(const std::vector<std::string>& names, const char* last_separator = ", ") {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) s += (i == 0 ? "" : i + 1 == names.size() ? last_separator : ", ") + names[i];
  return s;
}

}  // namespace spikechip
