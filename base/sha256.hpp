#pragma once
// SHA-256 (FIPS 180-4) of a byte string or file, hex encoded: report.json names the exact model,
// chip and mapping files a run used.
#include <cstdint>
#include <string>

namespace spikechip {
std::string sha256_hex(const std::string& bytes);
std::string sha256_file(const std::string& path);  // throws spikechip::Error if unreadable
}  // namespace spikechip
