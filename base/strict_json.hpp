#pragma once
// The one way every JSON input is read. Parsing (parse_json_text / read_json_file) limits nesting to
// kMaxJsonDepth and rejects numbers outside the range of a double, naming the file and JSON path;
// StrictJson then walks the tree so that every access knows its JSON pointer path, and a wrong
// type, an out-of-range value or an unknown key becomes one message "FILE: /a/b: what is wrong".
// Error lines quote untrusted text only as a short escaped excerpt (excerpt()), never whole.
#include <cstdint>
#include <initializer_list>
#include <set>
#include <string>
#include <vector>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "base/json_text.hpp"

namespace spikechip {

// Deepest nesting of arrays and objects accepted in any JSON input (the deepest file spikechip writes,
// a mapping, nests 6 levels); deeper text is rejected before it can exhaust the stack.
inline constexpr int kMaxJsonDepth = 128;
// Longest excerpt of untrusted text quoted in an error line.
inline constexpr size_t kExcerptChars = 80;

// `s` made safe and short for one error line: control and invalid UTF-8 bytes escaped (\r, \x1b),
// at most `max_chars` characters, then "..." when cut.
std::string excerpt(std::string_view s, size_t max_chars = kExcerptChars);
// "type excerpt-of-its-JSON-text", e.g. "array [1,1,1,1,...", for "must be X, got ..." errors.
std::string describe_json(const nlohmann::json& j);

class StrictJson {
 public:
  StrictJson(const nlohmann::json& j, std::string origin, std::string path = "")
      : j_(j), origin_(std::move(origin)), path_(std::move(path)) {}

  const nlohmann::json& raw() const { return j_; }
  const std::string& path() const { return path_; }
  std::string where() const { return origin_ + ": " + (path_.empty() ? "/" : path_); }
  [[noreturn]] void fail(const std::string& what) const { throw Error(where() + ": " + what); }

  void expect_object() const {
    if (!j_.is_object()) fail("must be an object, got " + std::string(j_.type_name()));
  }
  void expect_array() const {
    if (!j_.is_array()) fail("must be an array, got " + std::string(j_.type_name()));
  }
  // Rejects keys outside `allowed` (typos must not be silently ignored).
  void only_keys(std::initializer_list<const char*> allowed) const {
    expect_object();
    std::set<std::string> ok(allowed.begin(), allowed.end());
    for (auto it = j_.begin(); it != j_.end(); ++it)
      if (!ok.count(it.key())) {
        std::string list;
        for (const auto& k : ok) list += (list.empty() ? "" : ", ") + k;
        child_path(it.key()).fail("unknown key (allowed here: " + list + ")");
      }
  }
  bool has(const std::string& key) const { return j_.is_object() && j_.contains(key); }
  StrictJson at(const std::string& key) const {
    expect_object();
    if (!j_.contains(key)) throw Error(origin_ + ": " + path_ + "/" + excerpt(key) + ": missing (required key)");
    return StrictJson(j_.at(key), origin_, path_ + "/" + excerpt(key));
  }
  StrictJson at(size_t i) const {
    expect_array();
    if (i >= j_.size()) fail("index " + std::to_string(i) + " out of range");
    return StrictJson(j_.at(i), origin_, path_ + "/" + std::to_string(i));
  }
  // The member at `key`, or nullptr when absent (the object itself must be an object).
  const nlohmann::json* find(const std::string& key) const {
    expect_object();
    auto it = j_.find(key);
    return it == j_.end() ? nullptr : &*it;
  }
  size_t size() const { return j_.size(); }

  int64_t as_int(int64_t lo, int64_t hi) const {
    if (!j_.is_number_integer()) fail("must be an integer, got " + describe());
    int64_t v = j_.is_number_unsigned() && j_.get<uint64_t>() > uint64_t(INT64_MAX) ? INT64_MAX
                                                                                     : j_.get<int64_t>();
    if (v < lo || v > hi)
      fail(std::to_string(v) + " is out of range " + std::to_string(lo) + ".." + std::to_string(hi));
    return v;
  }
  double as_double(double lo, double hi) const {
    if (!j_.is_number()) fail("must be a number, got " + describe());
    double v = j_.get<double>();
    if (!(v >= lo && v <= hi)) fail(dump_num(v) + " is out of range " + dump_num(lo) + ".." + dump_num(hi));
    return v;
  }
  bool as_bool() const {
    if (!j_.is_boolean()) fail("must be true or false, got " + describe());
    return j_.get<bool>();
  }
  std::string as_string() const {
    if (!j_.is_string()) fail("must be a string, got " + describe());
    return j_.get<std::string>();
  }
  std::string as_enum(std::initializer_list<const char*> values) const {
    std::string v = as_string();
    std::string list;
    for (const char* s : values) {
      if (v == s) return v;
      list += (list.empty() ? "" : ", ") + std::string(s);
    }
    fail("'" + excerpt(v) + "' is not one of: " + list);
  }
  std::string as_enum(const std::vector<std::string>& values) const {  // a registry's name table
    std::string v = as_string();
    std::string list;
    for (const std::string& s : values) {
      if (v == s) return v;
      list += (list.empty() ? "" : ", ") + s;
    }
    fail("'" + excerpt(v) + "' is not one of: " + list);
  }

  // Optional members: keep the default when absent.
  template <class T>
  void opt_int(const std::string& key, T& out, int64_t lo, int64_t hi) const {
    if (has(key)) out = T(at(key).as_int(lo, hi));
  }

 private:
  StrictJson child_path(const std::string& key) const {
    return StrictJson(j_.at(key), origin_, path_ + "/" + excerpt(key));
  }
  std::string describe() const { return describe_json(j_); }
  static std::string dump_num(double v) { return json_text(nlohmann::json(v)); }

  const nlohmann::json& j_;
  std::string origin_;
  std::string path_;
};

// Parses JSON text strictly (see the top of this file). `origin` names the text in errors (a file
// path, "request header"), `what` says what it should be ("chip config"). Every failure is one
// spikechip::Error "origin: [/json/path: ]what is wrong; what to do".
nlohmann::json parse_json_text(std::string_view text, const std::string& origin, const std::string& what);
nlohmann::ordered_json parse_ordered_json_text(std::string_view text, const std::string& origin,
                                               const std::string& what);
// The same for a whole file; a file that cannot be read is an Error naming it and the OS reason.
nlohmann::json read_json_file(const std::string& path, const std::string& what);
nlohmann::ordered_json read_ordered_json_file(const std::string& path, const std::string& what);

// Runs `use` on a document read from `files` (a report, a sweep JSON) that code then reads field
// by field: a field that is missing or of another type than the writer gives it (nlohmann's
// type / out-of-range errors) becomes one Error naming the file(s), never an internal error.
template <class F>
decltype(auto) reading_json_of(const std::string& files, const std::string& what, F&& use) {
  try {
    return use();
  } catch (const nlohmann::json::exception& e) {
    throw Error(files + ": not a " + what + " this spikechip can read: " + excerpt(e.what(), 120) +
                " (a field is missing or has another type than spikechip writes; write it again with spikechip)");
  } catch (const WriteError&) {  // the disk refused an output: not a fault of the document read
    throw;
  } catch (const Error& e) {  // the reader's own checks ("run report: /layers must be ...") get the file name
    if (std::string_view(e.what()).find(files) != std::string_view::npos) throw;
    throw Error(files + ": " + e.what());
  }
}

}  // namespace spikechip
