# `respawn demo` (the command, the processes it starts and stops, and what
# it asks respawn-lab), added to respawn_core.  Included from the
# top-level CMakeLists.txt right after respawn_core is defined.
target_sources(respawn_core PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/cmd_demo.c
  ${CMAKE_CURRENT_LIST_DIR}/demo_lab.c
  ${CMAKE_CURRENT_LIST_DIR}/demo_proc.c)
