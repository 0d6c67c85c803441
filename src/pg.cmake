# The PostgreSQL backend of the state store (fleet mode), added to
# respawn_core.  Included from the top-level CMakeLists.txt right after
# respawn_core is defined; libpq is linked there already.
target_sources(respawn_core PRIVATE ${CMAKE_CURRENT_LIST_DIR}/store_pg.c)
