#pragma once
// Minimal NumPy .npy (format 1.0/2.0/3.0) reader and writer for the integer arrays spikechip
// exchanges with Python: inputs (u8), event traces (i8 [N,4]) and debug dumps.
#include <cstdint>
#include <string>
#include <vector>

namespace spikechip {

struct NpyArray {
  std::string descr;           // NumPy dtype string as written, e.g. "|u1", "<i8", "<i4", "<f4"
  std::vector<int64_t> shape;  // C order
  std::vector<uint8_t> bytes;  // raw little-endian data, prod(shape) * itemsize bytes

  int64_t numel() const;
  size_t itemsize() const;     // from descr
};

// Throws spikechip::Error naming `path` on a bad magic, header, Fortran order, truncation or
// trailing bytes.
NpyArray read_npy(const std::string& path);
NpyArray parse_npy(const std::vector<uint8_t>& file, const std::string& origin);
// Version 1.0 file, deterministic bytes; atomic write.
std::vector<uint8_t> serialize_npy(const NpyArray& a);
void write_npy(const std::string& path, const NpyArray& a);

}  // namespace spikechip
