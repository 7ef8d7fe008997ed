// Strict JSON parsing shared by every reader: a SAX handler around nlohmann's DOM builder tracks the
// JSON path and the nesting depth, so a too-deep tree, a number overflow or a syntax error becomes one
// bounded error line naming the file and where in it.
#include "base/strict_json.hpp"

#include "base/file_util.hpp"

#include <vector>

namespace spikechip {

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when the byte there does not start one.
size_t utf8_length(std::string_view s, size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  const size_t n = b >= 0xf5 ? 0 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc2 ? 2 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
  return n;
}

// Builds the DOM with nlohmann's own builder while keeping the path to the value being parsed and
// refusing to go deeper than kMaxJsonDepth.
template <class J>
class BoundedSax {
 public:
  using number_integer_t = typename J::number_integer_t;
  using number_unsigned_t = typename J::number_unsigned_t;
  using number_float_t = typename J::number_float_t;
  using string_t = typename J::string_t;
  using binary_t = typename J::binary_t;

  explicit BoundedSax(J& root) : dom_(root, true) {}

  bool null() { return value() && dom_.null(); }
  bool boolean(bool v) { return value() && dom_.boolean(v); }
  bool number_integer(number_integer_t v) { return value() && dom_.number_integer(v); }
  bool number_unsigned(number_unsigned_t v) { return value() && dom_.number_unsigned(v); }
  bool number_float(number_float_t v, const string_t& s) { return value() && dom_.number_float(v, s); }
  bool string(string_t& v) { return value() && dom_.string(v); }
  bool binary(binary_t& v) { return value() && dom_.binary(v); }
  bool start_object(std::size_t n) { return open(false) && dom_.start_object(n); }
  bool key(string_t& k) {
    frames_.back().key = k;
    return dom_.key(k);
  }
  bool end_object() {
    frames_.pop_back();
    return dom_.end_object();
  }
  bool start_array(std::size_t n) { return open(true) && dom_.start_array(n); }
  bool end_array() {
    frames_.pop_back();
    return dom_.end_array();
  }
  template <class Exception>
  bool parse_error(std::size_t, const std::string& last_token, const Exception& e) {
    value();  // the offending value (if any) would have taken the next index
    error_id_ = e.id;
    error_ = e.what();
    token_ = last_token;
    return false;
  }

  bool too_deep() const { return too_deep_; }
  int error_id() const { return error_id_; }
  const std::string& error() const { return error_; }
  const std::string& token() const { return token_; }
  // JSON pointer of the value being parsed ("" at the top level), its middle elided when long.
  std::string path() const {
    std::string p;
    for (const auto& f : frames_)
      p += "/" + (f.array ? std::to_string(f.index) : excerpt(f.key, 40));
    if (p.size() > 120) p = p.substr(0, 50) + "/..." + p.substr(p.size() - 50);
    return p;
  }

 private:
  struct Frame {
    bool array;
    int64_t index = -1;  // arrays: index of the current element
    std::string key;     // objects: the current member
  };
  // A value (scalar or container) starts: it takes the next index of an enclosing array.
  bool value() {
    if (!frames_.empty() && frames_.back().array) ++frames_.back().index;
    return true;
  }
  bool open(bool array) {
    value();
    if (int(frames_.size()) >= kMaxJsonDepth) {
      too_deep_ = true;
      return false;
    }
    frames_.push_back(Frame{array, -1, {}});
    return true;
  }

  nlohmann::detail::json_sax_dom_parser<J> dom_;
  std::vector<Frame> frames_;
  bool too_deep_ = false;
  int error_id_ = 0;
  std::string error_, token_;
};

template <class J>
J parse_strict(std::string_view text, const std::string& origin, const std::string& what) {
  J result;
  BoundedSax<J> sax(result);
  if (J::sax_parse(text.begin(), text.end(), &sax)) return result;
  const std::string path = sax.path();
  const std::string at = origin + ": " + (path.empty() ? "" : path + ": ");
  if (sax.too_deep())
    throw Error(at + "nested deeper than " + std::to_string(kMaxJsonDepth) + " arrays/objects; no " + what +
                " is that deep: check the file");
  if (sax.error_id() == 406)  // out_of_range.406: a number literal beyond the range of a double
    throw Error(at + "number " + excerpt(sax.token(), 40) + " is out of the range of a double (about 1.8e308); write a " +
                "finite number in range");
  // A syntax error: keep nlohmann's position and reason, but quote the offending token only briefly.
  std::string msg = sax.error();
  if (auto p = msg.find("] "); p != std::string::npos) msg = msg.substr(p + 2);  // drop "[json.exception...]"
  const std::string last = "last read: '" + sax.token() + "'";
  if (auto p = msg.find(last); p != std::string::npos)
    msg.replace(p, last.size(), "last read: '" + excerpt(sax.token(), 40) + "'");
  throw Error(origin + ": not valid JSON (" + what + "): " + excerpt(msg, 240));
}

std::string read_text(const std::string& path, const std::string& what) {
  const auto bytes = read_file_bytes(path, what);  // a pipe or a device too (`--chip <(...)`), bounded
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace

std::string excerpt(std::string_view s, size_t max_chars) {
  std::string out;
  size_t chars = 0, i = 0;
  for (; i < s.size() && chars < max_chars; ++chars) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b >= 0x20 && b < 0x7f) {
      out += char(b);
      ++i;
    } else if (size_t n = b >= 0x80 ? utf8_length(s, i) : 0; n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      static const char* hex = "0123456789abcdef";
      out += b == '\n' ? "\\n" : b == '\r' ? "\\r" : b == '\t' ? "\\t" : std::string{'\\', 'x', hex[b >> 4], hex[b & 15]};
      ++i;
    }
  }
  if (i < s.size()) out += "...";
  return out;
}

std::string describe_json(const nlohmann::json& j) {
  return std::string(j.type_name()) + " " +
         excerpt(json_text(j), 40);
}

nlohmann::json parse_json_text(std::string_view text, const std::string& origin, const std::string& what) {
  return parse_strict<nlohmann::json>(text, origin, what);
}

nlohmann::ordered_json parse_ordered_json_text(std::string_view text, const std::string& origin,
                                               const std::string& what) {
  return parse_strict<nlohmann::ordered_json>(text, origin, what);
}

nlohmann::json read_json_file(const std::string& path, const std::string& what) {
  return parse_json_text(read_text(path, what), path, what);
}

nlohmann::ordered_json read_ordered_json_file(const std::string& path, const std::string& what) {
  return parse_ordered_json_text(read_text(path, what), path, what);
}

}  // namespace spikechip
