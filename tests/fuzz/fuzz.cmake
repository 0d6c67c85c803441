# What the fuzz targets of respawn (tests/fuzz) and of the lab (lab/)
# share: the RESPAWN_FUZZ option, the sanitizers, instrumented copies of
# the libraries under test, and one function that makes a target.
# Included from the top-level CMakeLists.txt after src/, before lab/.
#
# With RESPAWN_FUZZ=ON (clang only) each target is a libFuzzer binary
# under AddressSanitizer and UndefinedBehaviorSanitizer, and everything it
# tests is compiled with coverage instrumentation so the fuzzer can steer:
# the target's own sources, and a copy of each respawn library it links
# (respawn_base_fuzz for respawn_base, and so on), built from the same
# source list so the two cannot drift apart.  Its corpus replays once as
# a test (-runs=0).
#
# In every other build a target is linked with a replay main() instead
# (tests/fuzz/replay.c, or the lab's tests/fuzz_driver.c), which runs
# each file of its corpus once, and the corpus is a regression test like
# any other, under the sanitizer build in particular.
option(RESPAWN_FUZZ "Build libFuzzer fuzz targets (needs clang)" OFF)

if(RESPAWN_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "RESPAWN_FUZZ needs clang: -DCMAKE_C_COMPILER=clang")
  endif()
  # The project's warning list is written for gcc; clang does not know
  # -Wno-format-truncation, which -Werror would otherwise turn fatal, and
  # warns of the SQL schema's string literals joined on purpose.
  set(RESPAWN_FUZZ_FLAGS -fsanitize=address,undefined
    -fno-sanitize-recover=all -fno-omit-frame-pointer -U_FORTIFY_SOURCE
    -Wno-unknown-warning-option -Wno-string-concatenation)
  # Every target, so scripts/fuzz builds them and nothing else.
  add_custom_target(respawn_fuzz_all)
  # Imported targets are seen only below the directory that finds them:
  # the copies, made in tests/fuzz and lab/, link what src/ found.
  find_package(Threads REQUIRED)
endif()

# respawn_fuzz_library(LIB): with RESPAWN_FUZZ, define LIB_fuzz, a copy of
# the static library LIB compiled from the same C sources with coverage
# instrumentation and the sanitizers.  It has LIB's include directories,
# definitions and build dependencies, and links what LIB links, with each
# respawn library replaced by its own instrumented copy (made here too).
function(respawn_fuzz_library lib)
  if(TARGET ${lib}_fuzz)
    return()
  endif()
  get_target_property(dir ${lib} SOURCE_DIR)
  get_target_property(sources ${lib} SOURCES)
  set(copy_sources)
  foreach(src ${sources})
    # Generated headers listed as sources come in through the includes.
    if(src MATCHES "\\.c$")
      cmake_path(ABSOLUTE_PATH src BASE_DIRECTORY ${dir})
      # Made at build time in LIB's directory (its target a dependency
      # of LIB's, copied below): generated here too.
      if(src MATCHES "^${PROJECT_BINARY_DIR}/")
        set_source_files_properties(${src} PROPERTIES GENERATED TRUE)
      endif()
      list(APPEND copy_sources ${src})
    endif()
  endforeach()
  add_library(${lib}_fuzz STATIC ${copy_sources})
  foreach(prop INCLUDE_DIRECTORIES INTERFACE_INCLUDE_DIRECTORIES
      COMPILE_DEFINITIONS INTERFACE_COMPILE_DEFINITIONS)
    get_target_property(v ${lib} ${prop})
    if(v)
      set_property(TARGET ${lib}_fuzz PROPERTY ${prop} "${v}")
    endif()
  endforeach()
  foreach(prop LINK_LIBRARIES INTERFACE_LINK_LIBRARIES)
    get_target_property(v ${lib} ${prop})
    if(NOT v)
      continue()
    endif()
    set(mapped)
    foreach(item ${v})
      # respawn_x, or $<LINK_ONLY:respawn_x>: the instrumented copy.
      if(item MATCHES "^(\\$<LINK_ONLY:)?(respawn_[a-z_]+)(>?)$")
        respawn_fuzz_library(${CMAKE_MATCH_2})
        set(item "${CMAKE_MATCH_1}${CMAKE_MATCH_2}_fuzz${CMAKE_MATCH_3}")
      endif()
      list(APPEND mapped "${item}")
    endforeach()
    set_property(TARGET ${lib}_fuzz PROPERTY ${prop} "${mapped}")
  endforeach()
  get_target_property(deps ${lib} MANUALLY_ADDED_DEPENDENCIES)
  if(deps)
    add_dependencies(${lib}_fuzz ${deps})
  endif()
  target_compile_options(${lib}_fuzz PRIVATE
    -fsanitize=fuzzer-no-link ${RESPAWN_FUZZ_FLAGS})
endfunction()

# respawn_fuzz_target(NAME SOURCES src... LIBS lib... [CORPUS dir]
#   [REPLAY main.c] [TEST test-name] [FILES])
# Makes the executable NAME from SOURCES (the target's file and any file
# of the code under test built into it), linked with LIBS: the respawn
# libraries and the system ones.  With RESPAWN_FUZZ it is a libFuzzer
# binary linked with the instrumented copies of the respawn libraries;
# otherwise it is linked with REPLAY.  Either way TEST replays CORPUS:
# the directory itself, or with FILES each file in it named (for a replay
# main() that takes files only).
function(respawn_fuzz_target name)
  cmake_parse_arguments(PARSE_ARGV 1 F "FILES" "CORPUS;REPLAY;TEST"
    "SOURCES;LIBS")
  set(libs)
  foreach(lib ${F_LIBS})
    if(RESPAWN_FUZZ AND lib MATCHES "^respawn_[a-z_]+$")
      respawn_fuzz_library(${lib})
      set(lib ${lib}_fuzz)
    endif()
    list(APPEND libs ${lib})
  endforeach()
  if(F_FILES)
    file(GLOB inputs CONFIGURE_DEPENDS ${F_CORPUS}/*)
  else()
    set(inputs ${F_CORPUS})
  endif()
  if(RESPAWN_FUZZ)
    add_executable(${name} ${F_SOURCES})
    target_compile_options(${name} PRIVATE
      -fsanitize=fuzzer ${RESPAWN_FUZZ_FLAGS})
    target_link_options(${name} PRIVATE
      -fsanitize=fuzzer ${RESPAWN_FUZZ_FLAGS})
    add_dependencies(respawn_fuzz_all ${name})
    set_property(GLOBAL APPEND PROPERTY RESPAWN_FUZZ_MANIFEST
      "${name}\t$<TARGET_FILE:${name}>\t${F_CORPUS}")
    # -runs=0 runs the corpus once and exits instead of fuzzing.
    add_test(NAME ${F_TEST} COMMAND ${name} -runs=0 ${F_CORPUS})
  else()
    add_executable(${name} ${F_SOURCES} ${F_REPLAY})
    add_test(NAME ${F_TEST} COMMAND ${name} ${inputs})
  endif()
  target_link_libraries(${name} PRIVATE ${libs})
  set_tests_properties(${F_TEST} PROPERTIES TIMEOUT 120)
endfunction()

# respawn_fuzz_manifest(): with RESPAWN_FUZZ, write fuzz-targets.txt in the
# build directory, a line per target: its name, its binary and its corpus,
# separated by tabs (scripts/fuzz runs them all).  Called once every
# target is defined.
function(respawn_fuzz_manifest)
  if(NOT RESPAWN_FUZZ)
    return()
  endif()
  get_property(lines GLOBAL PROPERTY RESPAWN_FUZZ_MANIFEST)
  list(JOIN lines "\n" content)
  file(GENERATE OUTPUT ${CMAKE_BINARY_DIR}/fuzz-targets.txt
    CONTENT "${content}\n")
endfunction()
