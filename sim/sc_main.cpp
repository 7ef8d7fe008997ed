// libsystemc.so references sc_main (its own main() would call it), so every executable that
// links SystemC must define it. spikechip has its own main() and starts simulations from library
// code with sc_start(); nothing calls sc_main unless sc_core::sc_elab_and_sim is used by mistake.
// Compiled into each executable (an INTERFACE source of spikechip_lib, see CMakeLists.txt),
// because a static-library member is not pulled in to satisfy a shared library's reference.
// Weak, so a test that defines its own sc_main keeps it.
#include <cstdio>

// extern "C" as SystemC declares it (sysc/kernel/sc_externs.h).
extern "C" __attribute__((weak)) int sc_main(int, char**) {
  std::fputs("spikechip: internal error: sc_main called (use sc_start from library code)\n", stderr);
  return 1;
}
