# `respawn demo`, added to respawn_core.  Included from the top-level
# CMakeLists.txt right after respawn_core is defined.
target_sources(respawn_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/cmd_demo.c)
