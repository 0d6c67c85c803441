# The generator of the regional fallback chains that core/fallback.c
# compiles in.  Included from src/CMakeLists.txt before respawn_core.

# The regional fallback chains are generated at build time from CLDR's
# territory containment (Debian's unicode-cldr-core), as the country table
# is from iso-codes.  The hubs end every chain; the preference list orders
# the countries within a sub-region and a region (empty: the generator's
# default, see docs/internals/fallback.md).
set(CLDR_SUPPLEMENTAL_XML
  "/usr/share/unicode/cldr/common/supplemental/supplementalData.xml"
  CACHE FILEPATH "CLDR supplementalData.xml (territory containment)")
set(RESPAWN_FALLBACK_HUBS "gb,us" CACHE STRING
  "Global hub countries that end every fallback chain")
set(RESPAWN_FALLBACK_NEIGHBOURS "3" CACHE STRING
  "Regional fallback countries before the hubs")
set(RESPAWN_FALLBACK_PREFERENCE "" CACHE STRING
  "Comma-separated country preference within a region (empty: default)")

add_executable(gen_fallback ${PROJECT_SOURCE_DIR}/tools/gen_fallback.c)
target_include_directories(gen_fallback PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(gen_fallback PRIVATE PkgConfig::JANSSON)

set(GEN_FALLBACK_ARGS -H ${RESPAWN_FALLBACK_HUBS}
  -n ${RESPAWN_FALLBACK_NEIGHBOURS})
if(RESPAWN_FALLBACK_PREFERENCE)
  list(APPEND GEN_FALLBACK_ARGS -p ${RESPAWN_FALLBACK_PREFERENCE})
endif()
add_custom_command(
  OUTPUT ${GEN_DIR}/fallback.inc
  COMMAND ${CMAKE_COMMAND} -E make_directory ${GEN_DIR}
  COMMAND gen_fallback ${GEN_FALLBACK_ARGS} ${ISO_CODES_JSON}
    ${CLDR_SUPPLEMENTAL_XML} ${GEN_DIR}/fallback.inc
  DEPENDS gen_fallback ${ISO_CODES_JSON} ${CLDR_SUPPLEMENTAL_XML}
  COMMENT "Generating the regional fallback chains"
  VERBATIM)
add_custom_target(respawn_gen_fallback DEPENDS ${GEN_DIR}/fallback.inc)
