// .npz reading (models/npz.hpp): zip central directory -> member bytes -> base/npy's parser.
#include "models/npz.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "base/error.hpp"
#include "base/file_util.hpp"

namespace spikechip::model {

namespace {

struct Member {
  std::string name;  // as stored, e.g. "x.npy"
  uint16_t flags = 0, method = 0;
  uint32_t crc = 0;
  uint64_t csize = 0, usize = 0, offset = 0;
};

[[noreturn]] void bad(const std::string& origin, const std::string& what) {
  throw Error(origin + ": not a readable .npz archive (" + what + "): write it with numpy.savez or numpy.savez_compressed");
}

std::vector<Member> central_directory(const std::vector<uint8_t>& f, const std::string& origin) {
  const size_t n = f.size();
  if (n < 22) bad(origin, "too short for a zip file");
  // End of central directory record: the last signature within the final 64 KiB + 22 bytes.
  size_t eocd = std::string::npos;
  for (size_t i = n - 22 + 1; i-- > (n > 65557 ? n - 65557 : 0);)
    if (load_le32(&f[i]) == 0x06054b50) {
      eocd = i;
      break;
    }
  if (eocd == std::string::npos) bad(origin, "no zip end-of-directory record");
  uint64_t entries = load_le16(&f[eocd + 10]), cd_size = load_le32(&f[eocd + 12]), cd_off = load_le32(&f[eocd + 16]);
  if (entries == 0xFFFF || cd_size == 0xFFFFFFFF || cd_off == 0xFFFFFFFF) {  // zip64
    if (eocd < 20 || load_le32(&f[eocd - 20]) != 0x07064b50) bad(origin, "zip64 locator missing");
    const uint64_t z = load_le64(&f[eocd - 12]);
    if (z > n || n - z < 56 || load_le32(&f[z]) != 0x06064b50) bad(origin, "zip64 end record missing");
    entries = load_le64(&f[z + 32]), cd_size = load_le64(&f[z + 40]), cd_off = load_le64(&f[z + 48]);
  }
  if (cd_off > n || cd_size > n - cd_off) bad(origin, "central directory outside the file");
  if (entries > cd_size / 46) bad(origin, "entry count does not fit the central directory");
  std::vector<Member> out;
  size_t p = size_t(cd_off);
  const size_t end = size_t(cd_off + cd_size);
  for (uint64_t e = 0; e < entries; ++e) {
    if (end - p < 46 || load_le32(&f[p]) != 0x02014b50) bad(origin, "bad central directory entry");
    Member m;
    m.flags = load_le16(&f[p + 8]), m.method = load_le16(&f[p + 10]), m.crc = load_le32(&f[p + 16]);
    m.csize = load_le32(&f[p + 20]), m.usize = load_le32(&f[p + 24]);
    const size_t nl = load_le16(&f[p + 28]), el = load_le16(&f[p + 30]), cl = load_le16(&f[p + 32]);
    m.offset = load_le32(&f[p + 42]);
    if (end - p - 46 < nl + el + cl) bad(origin, "central directory entry overruns");
    m.name.assign(reinterpret_cast<const char*>(&f[p + 46]), nl);
    // zip64 extra field (id 1): the 64-bit values of the fields stored as 0xFFFFFFFF, in order.
    for (size_t x = p + 46 + nl, xe = x + el; xe - x >= 4;) {
      const uint16_t id = load_le16(&f[x]), sz = load_le16(&f[x + 2]);
      if (xe - x - 4 < sz) bad(origin, "extra field overruns");
      if (id == 1) {
        size_t q = x + 4;
        for (uint64_t* v : {&m.usize, &m.csize, &m.offset}) {
          if (*v != 0xFFFFFFFF) continue;
          if (x + 4 + sz - q < 8) bad(origin, "short zip64 extra field");
          *v = load_le64(&f[q]), q += 8;
        }
      }
      x += 4 + size_t(sz);
    }
    out.push_back(std::move(m));
    p += 46 + nl + el + cl;
  }
  return out;
}

std::vector<uint8_t> member_bytes(const std::vector<uint8_t>& f, const Member& m, const std::string& origin) {
  const std::string where = origin + ":" + m.name;
  if (m.flags & 1) bad(where, "encrypted member");
  if (m.offset > f.size() || f.size() - m.offset < 30 || load_le32(&f[size_t(m.offset)]) != 0x04034b50)
    bad(where, "bad local header");
  const size_t data = size_t(m.offset) + 30 + load_le16(&f[size_t(m.offset) + 26]) + load_le16(&f[size_t(m.offset) + 28]);
  if (data > f.size() || f.size() - data < m.csize) bad(where, "member data outside the file");
  if (m.usize > (uint64_t(1) << 31)) bad(where, "member larger than 2 GiB");
  std::vector<uint8_t> out;
  if (m.method == 0) {
    if (m.csize != m.usize) bad(where, "stored member with two sizes");
    out.assign(f.begin() + int64_t(data), f.begin() + int64_t(data + m.csize));
  } else if (m.method == 8) {
    // Deflate expands at most ~1032:1: a larger claimed size is corrupt (and is never allocated).
    if (m.usize > m.csize * 1032 + 64) bad(where, "claimed size impossible for its compressed size");
    out.resize(size_t(m.usize));
    z_stream z{};
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK) bad(where, "zlib init failed");
    z.next_in = const_cast<Bytef*>(&f[data]);
    z.avail_in = uInt(m.csize);
    z.next_out = out.data();
    z.avail_out = uInt(out.size());
    const int rc = inflate(&z, Z_FINISH);
    const uint64_t got = z.total_out;
    inflateEnd(&z);
    if (rc != Z_STREAM_END || got != m.usize) bad(where, "deflate data corrupt or of another size");
  } else {
    bad(where, "compression method " + std::to_string(m.method) + " (only stored and deflate)");
  }
  if (uint32_t(crc32(0L, out.data(), uInt(out.size()))) != m.crc) bad(where, "CRC mismatch");
  return out;
}

std::string array_name(const std::string& member) {
  return member.size() > 4 && member.compare(member.size() - 4, 4, ".npy") == 0 ? member.substr(0, member.size() - 4)
                                                                                 : member;
}

std::string listed(const std::vector<Member>& ms) {
  std::string names;
  for (const Member& m : ms) names += (names.empty() ? "" : ", ") + array_name(m.name);
  return names;
}

}  // namespace

std::vector<std::string> npz_names(const std::vector<uint8_t>& file, const std::string& origin) {
  std::vector<std::string> names;
  for (const Member& m : central_directory(file, origin)) names.push_back(array_name(m.name));
  return names;
}

NpyArray npz_array(const std::vector<uint8_t>& file, const std::string& name, const std::string& origin) {
  const std::vector<Member> ms = central_directory(file, origin);
  if (ms.empty()) throw Error(origin + ": the .npz archive holds no arrays");
  const std::string want = array_name(name);
  const Member* pick = nullptr;
  if (want.empty()) {
    if (ms.size() != 1)
      throw Error(origin + ": the archive holds " + std::to_string(ms.size()) + " arrays (" + listed(ms) +
                  "): name one, as " + origin + ":NAME");
    pick = &ms[0];
  } else {
    for (const Member& m : ms)
      if (array_name(m.name) == want) {
        pick = &m;
        break;
      }
    if (!pick) throw Error(origin + ": no array '" + want + "' in the archive (it holds: " + listed(ms) + ")");
  }
  return parse_npy(member_bytes(file, *pick, origin), origin + ":" + array_name(pick->name));
}

}  // namespace spikechip::model
