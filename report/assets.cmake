# Embeds report/assets/* into the library as string constants (generated header
# spikechip/report_assets.hpp) so a report can be written without the source tree at run time.
# Included from the top-level CMakeLists.txt after spikechip_report is defined.
file(GLOB SPIKECHIP_REPORT_ASSETS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/report/assets/*)
set(SPIKECHIP_REPORT_ASSETS_HPP ${PROJECT_BINARY_DIR}/generated/spikechip/report_assets.hpp)
add_custom_command(
  OUTPUT ${SPIKECHIP_REPORT_ASSETS_HPP}
  COMMAND ${CMAKE_COMMAND} -DASSET_DIR=${PROJECT_SOURCE_DIR}/report/assets
          -DOUT=${SPIKECHIP_REPORT_ASSETS_HPP} -P ${PROJECT_SOURCE_DIR}/report/embed_assets.cmake
  DEPENDS ${SPIKECHIP_REPORT_ASSETS} ${PROJECT_SOURCE_DIR}/report/embed_assets.cmake
  COMMENT "Embedding report assets"
  VERBATIM)
target_sources(spikechip_report PRIVATE ${SPIKECHIP_REPORT_ASSETS_HPP})
