# The billing model and the release policy (pure: time comes in as an
# argument), added to respawn_core.  Included from the top-level
# CMakeLists.txt right after respawn_core is defined.
target_sources(respawn_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/billing.c)
