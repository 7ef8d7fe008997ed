#include "base/npy.hpp"

#include <cctype>
#include <cstring>

#include "base/file_util.hpp"
#include "base/shape.hpp"
#include "base/error.hpp"
#include "base/strict_json.hpp"

namespace spikechip {

namespace {
constexpr char kMagic[] = "\x93NUMPY";

// The header is a Python dict literal written by numpy: {'descr': '<i8', 'fortran_order': False,
// 'shape': (3, 4), }. A tiny dedicated parser (not a general Python parser) for those three keys.
struct HeaderParser {
  const std::string& s;
  const std::string& origin;
  size_t i = 0;
  void ws() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(origin + ": malformed .npy header (" + what + "): " + excerpt(s));
  }
  void expect(char c) {
    ws();
    if (i >= s.size() || s[i] != c) fail(std::string("expected '") + c + "'");
    ++i;
  }
  bool peek(char c) {
    ws();
    return i < s.size() && s[i] == c;
  }
  std::string str() {
    ws();
    if (i >= s.size() || (s[i] != '\'' && s[i] != '"')) fail("expected a string");
    const char q = s[i++];
    const size_t b = i;
    while (i < s.size() && s[i] != q) ++i;
    if (i >= s.size()) fail("unterminated string");
    return s.substr(b, i++ - b);
  }
  std::string word() {
    ws();
    const size_t b = i;
    while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_')) ++i;
    if (b == i) fail("expected a value");
    return s.substr(b, i - b);
  }
};
}  // namespace

int64_t NpyArray::numel() const { return shape_numel(shape); }

size_t NpyArray::itemsize() const {
  if (descr.size() < 3) return 0;
  size_t n = 0;
  for (size_t k = 2; k < descr.size(); ++k) {
    if (!std::isdigit(static_cast<unsigned char>(descr[k])) || n > (size_t(1) << 32)) return 0;  // (no wrap)
    n = n * 10 + size_t(descr[k] - '0');
  }
  return n;
}

NpyArray parse_npy(const std::vector<uint8_t>& f, const std::string& origin) {
  if (f.size() < 10 || std::memcmp(f.data(), kMagic, 6) != 0)
    throw Error(origin + ": not a .npy file (missing the \\x93NUMPY magic)");
  const int major = f[6];
  size_t hlen, hstart;
  if (major == 1) {
    hlen = load_le16(f.data() + 8);
    hstart = 10;
  } else if (major == 2 || major == 3) {
    if (f.size() < 12) throw Error(origin + ": truncated .npy header");
    hlen = load_le32(f.data() + 8);
    hstart = 12;
  } else {
    throw Error(origin + ": unsupported .npy format version " + std::to_string(major));
  }
  if (hstart + hlen > f.size()) throw Error(origin + ": truncated .npy header");
  const std::string h(f.begin() + int64_t(hstart), f.begin() + int64_t(hstart + hlen));
  HeaderParser p{h, origin};
  NpyArray a;
  bool have_descr = false, have_order = false, have_shape = false;
  p.expect('{');
  while (!p.peek('}')) {
    const std::string key = p.str();
    p.expect(':');
    if (key == "descr") {
      if (p.peek('[')) throw Error(origin + ": structured .npy dtypes are not supported (need a plain integer array)");
      a.descr = p.str();
      have_descr = true;
    } else if (key == "fortran_order") {
      if (p.word() != "False")
        throw Error(origin + ": Fortran-order .npy arrays are not supported (save with np.ascontiguousarray)");
      have_order = true;
    } else if (key == "shape") {
      p.expect('(');
      while (!p.peek(')')) {
        const std::string w = p.word();
        int64_t v = 0;
        for (char c : w) {
          if (!std::isdigit(static_cast<unsigned char>(c)) || v > (int64_t(1) << 40)) p.fail("bad shape");
          v = v * 10 + (c - '0');
        }
        a.shape.push_back(v);
        if (p.peek(',')) p.expect(',');
      }
      p.expect(')');
      have_shape = true;
    } else {
      p.fail("unknown key '" + key + "'");
    }
    if (p.peek(',')) p.expect(',');
  }
  if (!have_descr || !have_order || !have_shape) p.fail("needs descr, fortran_order and shape");
  // Single-byte types are written with '|'; multi-byte ones must be little-endian ('<').
  const size_t item = a.itemsize();
  if (item == 0 || (a.descr[0] != '<' && a.descr[0] != '|') || (a.descr[0] == '|' && item != 1))
    throw Error(origin + ": unsupported .npy dtype '" + excerpt(a.descr) + "' (need little-endian, e.g. |u1 or <i8)");
  const size_t data = hstart + hlen;
  // The data's size, its product checked (each dimension is at most ~2^40, their product need not
  // fit: it wrapped, to 0 for two dimensions of 2^40, and such a file was accepted without data).
  // As NumPy's check: (2^40, 2^40, 0) is refused in any order.
  uint64_t need = 0;
  if (!shape_bytes(a.shape, item, &need))
    throw Error(origin + ": the .npy shape needs more than 2^64 bytes of data (the file has " +
                std::to_string(f.size() - data) + "); check the shape in its header");
  if (f.size() - data < need)
    throw Error(origin + ": truncated .npy data (" + std::to_string(f.size() - data) + " bytes, shape needs " +
                std::to_string(need) + ")");
  if (f.size() - data > need)
    throw Error(origin + ": " + std::to_string(f.size() - data - need) + " trailing bytes after the .npy data");
  a.bytes.assign(f.begin() + int64_t(data), f.end());
  return a;
}

NpyArray read_npy(const std::string& path) { return parse_npy(read_file_bytes(path), path); }

std::vector<uint8_t> serialize_npy(const NpyArray& a) {
  if (uint64_t(a.numel()) * a.itemsize() != a.bytes.size())
    throw Error("npy: " + std::to_string(a.bytes.size()) + " bytes do not match dtype " + a.descr + " and shape");
  std::string shape = "(";
  for (size_t k = 0; k < a.shape.size(); ++k) shape += std::to_string(a.shape[k]) + ", ";
  if (a.shape.size() > 1) shape.resize(shape.size() - 2);  // numpy writes (3,) but (3, 4)
  else if (a.shape.size() == 1) shape.resize(shape.size() - 1);
  shape += ")";
  std::string h = "{'descr': '" + a.descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // numpy pads with spaces so that the data starts on a 64-byte boundary, then a newline.
  const size_t total = 10 + h.size() + 1;
  h.append((64 - total % 64) % 64, ' ');
  h.push_back('\n');
  std::vector<uint8_t> out(kMagic, kMagic + 6);
  out.push_back(1);
  out.push_back(0);
  store_le16(out, uint16_t(h.size()));
  out.insert(out.end(), h.begin(), h.end());
  out.insert(out.end(), a.bytes.begin(), a.bytes.end());
  return out;
}

void write_npy(const std::string& path, const NpyArray& a) { write_file_atomic(path, serialize_npy(a)); }

}  // namespace spikechip
