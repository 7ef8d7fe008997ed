#pragma once
// NumPy .npz archives (np.savez, np.savez_compressed): a zip file of .npy members. Reads the
// central directory (zip64 records included, as NumPy writes them), stored or deflated members,
// each CRC-checked; no encryption, no other compression methods.
#include <string>
#include <vector>

#include "base/npy.hpp"

namespace spikechip::model {

// The arrays of an archive: member names without their ".npy". Throws spikechip::Error naming
// `origin` on a malformed archive.
std::vector<std::string> npz_names(const std::vector<uint8_t>& file, const std::string& origin);

// One array, by name (with or without ".npy"); an empty name takes the archive's only array.
// The error for a missing name lists the names the archive holds.
NpyArray npz_array(const std::vector<uint8_t>& file, const std::string& name, const std::string& origin);

}  // namespace spikechip::model
