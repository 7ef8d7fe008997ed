#pragma once
// The AVX-512 kernels' target attribute and the run-time test that picks them (models/kernels.cpp,
// models/gather_kernel.cpp). Each such kernel has a portable twin, used when the CPU lacks these
// instructions and compared with it by the tests. x86-64 only.
#if defined(__x86_64__)

#define SPIKECHIP_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))

namespace spikechip::model {

inline bool cpu_has_avx512() {
  static const bool yes = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl");
  return yes;
}

}  // namespace spikechip::model

#endif
